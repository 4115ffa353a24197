import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  GET_CALLER_IDENTITY_BODY,
  NodeSha256,
  SERVER_ID_HEADER,
} from '../../functions/lib/secret-feeds/vault-aws-login.js';

/**
 * A local HTTP server that follows HashiCorp Vault's HTTP API for what lifeboat's Vault sync uses
 * (docs/vault/kv-v2.md): token auth through `X-Vault-Token` (the root token, child tokens with a TTL,
 * lookup-self, revoke-self), the AWS IAM auth method's login (the signed GetCallerIdentity request checked against
 * known credentials, as STS would), and KV v2 engines: write, read a version, LIST (as `GET ?list=true`: Node's
 * HTTP parser has no LIST verb), metadata, soft delete, undelete, destroy, delete metadata, with Vault's error
 * shapes. No ACL policies: every valid token may do everything. Every request is in `calls` (method, path, never a
 * body or a token).
 */

export interface Kv2ServerOptions {
  /** @default "root" (Vault's dev mode takes the same with -dev-root-token-id) */
  readonly rootToken?: string;
  /** KV v2 mounts. @default ["secret"], as Vault's dev mode mounts */
  readonly mounts?: readonly string[];
  /** The AWS IAM auth method at `auth/aws`. */
  readonly awsAuth?: {
    /** Credentials STS would know: access key id → secret key and the caller's ARN. */
    readonly principals: Readonly<Record<string, { secretAccessKey: string; arn: string }>>;
    /** Vault roles: name → the IAM principal ARNs bound to it (bound_iam_principal_arn). */
    readonly roles: Readonly<Record<string, readonly string[]>>;
    /** Required X-Vault-AWS-IAM-Server-ID, signed (iam_server_id_header_value). */
    readonly serverId?: string;
    /** TTL of the tokens it issues, seconds. @default 3600 */
    readonly tokenTtlSeconds?: number;
  };
  readonly now?: () => Date;
}

export interface Kv2Call {
  readonly method: string;
  /** Path after /v1/, without the query, e.g. `secret/metadata/apps/db`. */
  readonly path: string;
  readonly query: string;
  readonly status: number;
}

export interface Kv2Server {
  readonly endpoint: string;
  readonly port: number;
  readonly rootToken: string;
  readonly calls: readonly Kv2Call[];
  clearCalls(): void;
  close(): Promise<void>;
}

interface Version {
  data: Record<string, unknown> | null;
  created: string;
  deletionTime: string;
  destroyed: boolean;
}

interface Entry {
  created: string;
  updated: string;
  current: number;
  versions: Map<number, Version>;
  maxVersions: number;
  casRequired: boolean;
}

interface Token {
  id: string;
  accessor: string;
  policies: string[];
  /** Epoch ms; undefined = never. */
  expires?: number;
  created: number;
  ttl: number;
}

class VaultError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
    readonly data?: unknown,
  ) {
    super(errors.join('; '));
  }
}

const PERMISSION_DENIED = () => new VaultError(403, ['permission denied']);

export async function startKv2Server(options: Kv2ServerOptions = {}): Promise<Kv2Server> {
  const now = options.now ?? (() => new Date());
  const rootToken = options.rootToken ?? 'root';
  const tokens = new Map<string, Token>();
  tokens.set(rootToken, {
    id: rootToken,
    accessor: randomUUID(),
    policies: ['root'],
    created: now().getTime(),
    ttl: 0,
  });
  const mounts = new Map<string, Map<string, Entry>>();
  for (const m of options.mounts ?? ['secret']) mounts.set(m, new Map());
  const calls: Kv2Call[] = [];

  const authenticate = (req: IncomingMessage): Token => {
    const id = req.headers['x-vault-token'];
    const token = typeof id === 'string' ? tokens.get(id) : undefined;
    if (!token) throw PERMISSION_DENIED();
    if (token.expires !== undefined && token.expires <= now().getTime()) {
      tokens.delete(token.id);
      throw PERMISSION_DENIED();
    }
    return token;
  };

  const issue = (policies: string[], ttlSeconds: number): Token => {
    const t: Token = {
      id: `hvs.${randomUUID().replace(/-/g, '')}`,
      accessor: randomUUID(),
      policies,
      created: now().getTime(),
      ttl: ttlSeconds,
      ...(ttlSeconds > 0 ? { expires: now().getTime() + ttlSeconds * 1000 } : {}),
    };
    tokens.set(t.id, t);
    return t;
  };

  const route = async (
    method: string,
    path: string,
    query: URLSearchParams,
    body: unknown,
    req: IncomingMessage,
  ) => {
    if (path === 'sys/health' && method === 'GET') {
      return {
        initialized: true,
        sealed: false,
        standby: false,
        version: '1.17.0-lifeboat-local',
        cluster_name: 'lifeboat-local',
      };
    }
    if (path === 'auth/aws/login' && (method === 'POST' || method === 'PUT')) {
      return awsLogin(body as Record<string, unknown>);
    }
    const token = authenticate(req);
    if (path === 'auth/token/lookup-self' && method === 'GET') {
      const left =
        token.expires === undefined ? 0 : Math.max(0, Math.round((token.expires - now().getTime()) / 1000));
      return envelope({
        accessor: token.accessor,
        creation_time: Math.floor(token.created / 1000),
        creation_ttl: token.ttl,
        expire_time: token.expires === undefined ? null : new Date(token.expires).toISOString(),
        policies: token.policies,
        ttl: left,
        renewable: token.ttl > 0,
        id: token.id,
      });
    }
    if (path === 'auth/token/create' && (method === 'POST' || method === 'PUT')) {
      const b = (body ?? {}) as { policies?: string[]; ttl?: string | number };
      const t = issue(Array.isArray(b.policies) ? b.policies : ['default'], duration(b.ttl));
      return {
        ...envelope(null),
        auth: {
          client_token: t.id,
          accessor: t.accessor,
          policies: t.policies,
          token_policies: t.policies,
          lease_duration: t.ttl,
          renewable: t.ttl > 0,
        },
      };
    }
    if (path === 'auth/token/revoke-self' && (method === 'POST' || method === 'PUT')) {
      tokens.delete(token.id);
      return undefined;
    }
    if (path.startsWith('sys/mounts/') && (method === 'POST' || method === 'PUT')) {
      const b = (body ?? {}) as { type?: string; options?: { version?: string } };
      const name = path.slice('sys/mounts/'.length).replace(/\/$/, '');
      if (!(b.type === 'kv-v2' || (b.type === 'kv' && String(b.options?.version) === '2'))) {
        throw new VaultError(400, ['only KV version 2 engines are served here']);
      }
      if (mounts.has(name)) throw new VaultError(400, [`path is already in use at ${name}/`]);
      mounts.set(name, new Map());
      return undefined;
    }
    return kv(method, path, query, body);
  };

  const kv = (method: string, path: string, query: URLSearchParams, body: unknown) => {
    const [mountName, op, ...rest] = path.split('/');
    const mount = mounts.get(mountName ?? '');
    const key = rest.join('/');
    if (!mount || !op) throw new VaultError(404, [`no handler for route "${path}". route entry not found.`]);
    const b = (body ?? {}) as Record<string, unknown>;
    const list = method === 'LIST' || (method === 'GET' && ['true', '1'].includes(query.get('list') ?? ''));
    switch (`${op}:${list ? 'LIST' : method}`) {
      case 'metadata:LIST': {
        const folder = key === '' || key.endsWith('/') ? key : `${key}/`;
        const keys = new Set<string>();
        for (const name of mount.keys()) {
          if (!name.startsWith(folder)) continue;
          const tail = name.slice(folder.length);
          const slash = tail.indexOf('/');
          keys.add(slash === -1 ? tail : tail.slice(0, slash + 1));
        }
        if (!keys.size) throw new VaultError(404, []);
        return envelope({ keys: [...keys].sort() });
      }
      case 'metadata:GET': {
        const e = mount.get(key);
        if (!e) throw new VaultError(404, []);
        return envelope(metadataOf(e));
      }
      case 'metadata:DELETE':
        mount.delete(key);
        return undefined;
      case 'data:GET': {
        const e = mount.get(key);
        if (!e) throw new VaultError(404, []);
        const n =
          query.has('version') && query.get('version') !== '0' ? Number(query.get('version')) : e.current;
        const v = e.versions.get(n);
        if (!v) throw new VaultError(404, []);
        const meta = versionMeta(n, v);
        // A deleted or destroyed version answers 404 with its metadata and no data, as Vault does.
        if (v.destroyed || (v.deletionTime && new Date(v.deletionTime) <= now())) {
          throw new VaultError(404, [], { data: null, metadata: meta });
        }
        return envelope({ data: v.data, metadata: meta });
      }
      case 'data:POST':
      case 'data:PUT': {
        if (!b.data || typeof b.data !== 'object' || Array.isArray(b.data)) {
          throw new VaultError(400, ['no data provided']);
        }
        const at = now().toISOString();
        let e = mount.get(key);
        const cas = (b.options as { cas?: number } | undefined)?.cas;
        if (cas !== undefined && cas !== (e?.current ?? 0)) {
          throw new VaultError(400, ['check-and-set parameter did not match the current version']);
        }
        if (!e) {
          e = {
            created: at,
            updated: at,
            current: 0,
            versions: new Map(),
            maxVersions: 0,
            casRequired: false,
          };
          mount.set(key, e);
        }
        e.current += 1;
        e.updated = at;
        e.versions.set(e.current, {
          data: b.data as Record<string, unknown>,
          created: at,
          deletionTime: '',
          destroyed: false,
        });
        return envelope(versionMeta(e.current, e.versions.get(e.current) as Version));
      }
      case 'data:DELETE': {
        const e = mount.get(key);
        const v = e?.versions.get(e.current);
        if (v && !v.deletionTime) v.deletionTime = now().toISOString();
        return undefined;
      }
      case 'delete:POST':
      case 'delete:PUT':
      case 'undelete:POST':
      case 'undelete:PUT':
      case 'destroy:POST':
      case 'destroy:PUT': {
        const versions = b.versions;
        if (!Array.isArray(versions) || versions.length === 0)
          throw new VaultError(400, ['no version number provided']);
        const e = mount.get(key);
        for (const n of versions.map(Number)) {
          const v = e?.versions.get(n);
          if (!v) continue;
          if (op === 'delete' && !v.deletionTime && !v.destroyed) v.deletionTime = now().toISOString();
          if (op === 'undelete' && !v.destroyed) v.deletionTime = '';
          if (op === 'destroy') {
            v.destroyed = true;
            v.data = null;
          }
        }
        return undefined;
      }
      default:
        throw new VaultError(405, ['unsupported operation']);
    }
  };

  const metadataOf = (e: Entry) => ({
    cas_required: e.casRequired,
    created_time: e.created,
    current_version: e.current,
    custom_metadata: null,
    delete_version_after: '0s',
    max_versions: e.maxVersions,
    oldest_version: 0,
    updated_time: e.updated,
    versions: Object.fromEntries(
      [...e.versions.entries()].map(([n, v]) => [
        String(n),
        { created_time: v.created, deletion_time: v.deletionTime, destroyed: v.destroyed },
      ]),
    ),
  });

  const awsLogin = async (b: Record<string, unknown>) => {
    const aws = options.awsAuth;
    if (!aws) throw new VaultError(404, ['no handler for route "auth/aws/login". route entry not found.']);
    const role = typeof b.role === 'string' ? b.role : '';
    const bound = aws.roles[role];
    if (!bound) throw new VaultError(400, [`entry for role ${role} not found`]);
    if (b.iam_http_request_method !== 'POST')
      throw new VaultError(400, ['invalid iam_http_request_method; only POST is supported']);
    const decode = (field: string) => {
      const v = b[field];
      if (typeof v !== 'string') throw new VaultError(400, [`missing ${field}`]);
      return Buffer.from(v, 'base64').toString('utf8');
    };
    const url = new URL(decode('iam_request_url'));
    const bodyText = decode('iam_request_body');
    if (bodyText !== GET_CALLER_IDENTITY_BODY)
      throw new VaultError(400, ['iam_request_body is not a GetCallerIdentity request']);
    const rawHeaders = JSON.parse(decode('iam_request_headers')) as Record<string, string | string[]>;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(rawHeaders))
      headers[k.toLowerCase()] = Array.isArray(v) ? String(v[0]) : String(v);
    const auth = headers.authorization ?? '';
    const m =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/sts\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
        auth,
      );
    if (!m)
      throw new VaultError(400, ['error making upstream request: the request is not SigV4-signed for sts']);
    const [, accessKeyId, , region, signedHeaders, signature] = m as unknown as string[];
    if (aws.serverId !== undefined) {
      if (
        headers[SERVER_ID_HEADER] !== aws.serverId ||
        !(signedHeaders as string).split(';').includes(SERVER_ID_HEADER)
      ) {
        throw new VaultError(400, ['expected X-Vault-AWS-IAM-Server-ID header value, signed']);
      }
    }
    const principal = aws.principals[accessKeyId as string];
    const amzDate = headers['x-amz-date'] ?? '';
    const signingDate = parseAmzDate(amzDate);
    if (!principal || !signingDate || Math.abs(signingDate.getTime() - now().getTime()) > 15 * 60_000) {
      // What STS answers (InvalidClientTokenId, SignatureDoesNotMatch, expired) reaches the client as a 400.
      throw new VaultError(400, ['error making upstream request: received error code 403 from STS']);
    }
    const toSign: Record<string, string> = {};
    for (const h of (signedHeaders as string).split(';')) toSign[h] = headers[h] ?? '';
    const signer = new SignatureV4({
      service: 'sts',
      region: region as string,
      credentials: {
        accessKeyId: accessKeyId as string,
        secretAccessKey: principal.secretAccessKey,
        ...(headers['x-amz-security-token'] ? { sessionToken: headers['x-amz-security-token'] } : {}),
      },
      sha256: NodeSha256,
    });
    const expected = await signer.sign(
      {
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        path: url.pathname,
        query: {},
        headers: toSign,
        body: bodyText,
      },
      { signingDate },
    );
    if (!String(expected.headers.authorization ?? '').endsWith(`Signature=${signature}`)) {
      throw new VaultError(400, ['error making upstream request: received error code 403 from STS']);
    }
    if (!bound.includes(principal.arn)) {
      throw new VaultError(403, [`IAM Principal "${principal.arn}" does not belong to the role "${role}"`]);
    }
    const t = issue(['default', role], aws.tokenTtlSeconds ?? 3600);
    return {
      ...envelope(null),
      auth: {
        client_token: t.id,
        accessor: t.accessor,
        policies: t.policies,
        token_policies: t.policies,
        lease_duration: t.ttl,
        renewable: true,
        metadata: { role, canonical_arn: principal.arn },
      },
    };
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://vault.local');
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/^\/v1\//, '');
    let status = 200;
    let payload: unknown;
    try {
      if (!url.pathname.startsWith('/v1/')) throw new VaultError(404, []);
      const text = await readBody(req);
      let body: unknown;
      if (text) {
        try {
          body = JSON.parse(text);
        } catch {
          throw new VaultError(400, ['failed to parse JSON input']);
        }
      }
      payload = await route(method, path, url.searchParams, body, req);
      if (payload === undefined) status = 204;
    } catch (error) {
      const e = error instanceof VaultError ? error : new VaultError(500, ['internal error']);
      status = e.status;
      payload = { errors: e.errors, ...(e.data !== undefined ? { data: e.data } : {}) };
    }
    calls.push({ method, path, query: url.search, status });
    if (status === 204) {
      res.writeHead(204).end();
      return;
    }
    const out = JSON.stringify(payload);
    res
      .writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) })
      .end(out);
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    rootToken,
    get calls() {
      return [...calls];
    },
    clearCalls() {
      calls.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function envelope(data: unknown) {
  return {
    request_id: randomUUID(),
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: null,
    auth: null,
    mount_type: 'kv',
  };
}

function versionMeta(n: number, v: Version) {
  return {
    created_time: v.created,
    custom_metadata: null,
    deletion_time: v.deletionTime,
    destroyed: v.destroyed,
    version: n,
  };
}

/** Vault's TTL strings: a number of seconds, or `<n>s`, `<n>m`, `<n>h`. */
function duration(ttl: string | number | undefined): number {
  if (ttl === undefined || ttl === '') return 0;
  if (typeof ttl === 'number') return ttl;
  const m = /^(\d+)([smh]?)$/.exec(ttl);
  if (!m) throw new VaultError(400, [`invalid ttl "${ttl}"`]);
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600 }[m[2] as '' | 's' | 'm' | 'h'];
}

function parseAmzDate(text: string): Date | undefined {
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, se));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
