import createVault from 'node-vault';
import { VaultAuthError, VaultRequestError } from '../errors.js';

/**
 * The Vault calls the Vault sync makes, through node-vault (docs/design/vault-sync.md, "Client library"), and nothing
 * else: the token's own lookup, the AWS IAM login, and KV v2 LIST, metadata and data reads (docs/vault/kv-v2.md).
 *
 * Errors never carry what node-vault or axios threw: an axios error holds the request's headers, the
 * `X-Vault-Token` among them. They carry the method, the path, the HTTP status and Vault's own `errors` strings,
 * which name no value.
 */

export interface VersionState {
  readonly createdTime: string;
  /** Empty when the version is not deleted (or its deletion is scheduled in the future, see `deletedAt`). */
  readonly deletionTime: string;
  readonly destroyed: boolean;
}

export interface SecretMetadata {
  /** 0 when the secret has metadata but no version. */
  readonly currentVersion: number;
  readonly createdTime: string;
  readonly versions: Readonly<Record<string, VersionState>>;
}

export interface TokenInfo {
  /** Seconds the token has left; 0 for a token that never expires (a root token). */
  readonly ttlSeconds: number;
}

export interface VaultKv {
  lookupSelf(): Promise<TokenInfo>;
  /** Keys directly under `folder` (relative, folders end in `/`); [] when Vault has nothing there (404). */
  list(mount: string, folder: string): Promise<string[]>;
  /** undefined when there is no such secret (404). */
  readMetadata(mount: string, path: string): Promise<SecretMetadata | undefined>;
  /** The data of one version; undefined when that version is deleted, destroyed or missing (404). */
  readVersion(mount: string, path: string, version: number): Promise<Record<string, unknown> | undefined>;
}

export interface VaultConnection {
  /** e.g. `https://vault.example.com:8200` */
  readonly address: string;
  /** Vault Enterprise / HCP namespace (X-Vault-Namespace). */
  readonly namespace?: string;
  /** Per request. @default 10000 */
  readonly timeoutMs?: number;
}

/** The fields of an AWS IAM login (POST auth/<mount>/login, docs/vault/kv-v2.md "AWS IAM login"). */
export interface AwsIamLoginRequest {
  readonly role: string;
  readonly iam_http_request_method: 'POST';
  readonly iam_request_url: string;
  readonly iam_request_body: string;
  readonly iam_request_headers: string;
}

type NodeVault = ReturnType<typeof createVault>;

function client(connection: VaultConnection, token?: string): NodeVault {
  return createVault({
    apiVersion: 'v1',
    endpoint: connection.address,
    ...(token !== undefined ? { token } : {}),
    ...(connection.namespace ? { namespace: connection.namespace } : {}),
    // node-vault logs request bodies through `debug` when DEBUG names it: never, here.
    debug: () => undefined,
    // LIST as `GET ...?list=1`, which Vault documents as the same request (docs/vault/kv-v2.md, "LIST"): a proxy in
    // between may drop an unknown verb, and so does Node's HTTP parser in the local KV v2 server.
    noCustomHTTPVerbs: true,
    requestOptions: { timeout: connection.timeoutMs ?? 10_000 },
  });
}

/** Logs in with the AWS IAM auth method and returns the client token (never logged). */
export async function loginWithAwsIam(
  connection: VaultConnection,
  mount: string,
  request: AwsIamLoginRequest,
): Promise<string> {
  const vault = client(connection);
  let response: { auth?: { client_token?: string } };
  try {
    response = await vault.awsIamLogin({ ...request, mount_point: mount });
  } catch (error) {
    const e = vaultError(error, 'POST', `auth/${mount}/login`);
    if (e instanceof VaultRequestError && (e.status === 400 || e.status === 403)) {
      throw new VaultAuthError(
        `Vault refused the AWS IAM login for role "${request.role}" at auth/${mount}/login (${e.status}: ${e.vaultErrors.join('; ') || 'no detail'}): is the role bound to this function's IAM role, and Vault's server id header the one it expects?`,
      );
    }
    throw e;
  }
  const token = response.auth?.client_token;
  if (typeof token !== 'string' || token === '') {
    throw new VaultRequestError(
      `Vault answered the AWS IAM login at auth/${mount}/login without a client token`,
      200,
      [],
    );
  }
  return token;
}

export function vaultKv(connection: VaultConnection, token: string): VaultKv {
  const vault = client(connection, token);
  const call = async <T>(method: string, path: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      throw vaultError(error, method, path);
    }
  };
  return {
    async lookupSelf() {
      const body = await call('GET', 'auth/token/lookup-self', () => vault.tokenLookupSelf());
      const ttl = Number(body?.data?.ttl ?? 0);
      return { ttlSeconds: Number.isFinite(ttl) ? ttl : 0 };
    },
    async list(mount, folder) {
      const path = `${mount}/metadata/${folder}`;
      try {
        const body = await call('LIST', path, () => vault.list(path));
        const keys = body?.data?.keys;
        return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : [];
      } catch (error) {
        // LIST answers 404 for a folder with nothing in it (docs/vault/kv-v2.md, "LIST").
        if (error instanceof VaultRequestError && error.status === 404) return [];
        throw error;
      }
    },
    async readMetadata(mount, path) {
      const full = `${mount}/metadata/${path}`;
      try {
        const body = await call('GET', full, () => vault.read(full));
        return parseMetadata(body?.data, full);
      } catch (error) {
        if (error instanceof VaultRequestError && error.status === 404) return undefined;
        throw error;
      }
    },
    async readVersion(mount, path, version) {
      const full = `${mount}/data/${path}`;
      try {
        const body = await call('GET', full, () => vault.read(`${full}?version=${version}`));
        const data = body?.data?.data;
        if (data === null || data === undefined) return undefined;
        if (typeof data !== 'object' || Array.isArray(data)) {
          throw new VaultRequestError(
            `Vault answered GET ${full} version ${version} with data that is not an object`,
            200,
            [],
          );
        }
        return data as Record<string, unknown>;
      } catch (error) {
        // A deleted or destroyed version answers 404 (with its metadata in the body), as a missing one does.
        if (error instanceof VaultRequestError && error.status === 404) return undefined;
        throw error;
      }
    },
  };
}

function parseMetadata(data: unknown, path: string): SecretMetadata {
  const d = (data ?? {}) as Record<string, unknown>;
  const current = Number(d.current_version);
  if (!Number.isInteger(current) || current < 0) {
    throw new VaultRequestError(`Vault answered GET ${path} without a current_version`, 200, []);
  }
  const versions: Record<string, VersionState> = {};
  for (const [n, v] of Object.entries((d.versions ?? {}) as Record<string, Record<string, unknown>>)) {
    versions[n] = {
      createdTime: String(v?.created_time ?? ''),
      deletionTime: String(v?.deletion_time ?? ''),
      destroyed: v?.destroyed === true,
    };
  }
  return { currentVersion: current, createdTime: String(d.created_time ?? ''), versions };
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** What node-vault threw, as one of ours, without the request (and its token). */
function vaultError(error: unknown, method: string, path: string): VaultRequestError {
  const e = error as {
    response?: { statusCode?: number; body?: { errors?: unknown } };
    code?: string;
    message?: string;
  };
  const status = e?.response?.statusCode;
  if (typeof status === 'number') {
    const raw: unknown = e.response?.body?.errors;
    const errors = Array.isArray(raw) ? raw.filter((x): x is string => typeof x === 'string') : [];
    return new VaultRequestError(
      `Vault answered ${method} ${path} with ${status}${errors.length ? ` (${errors.join('; ')})` : ''}`,
      status,
      errors,
    );
  }
  const code = typeof e?.code === 'string' ? e.code : undefined;
  return new VaultRequestError(
    `Vault did not answer ${method} ${path}: ${code ?? 'request failed'}`,
    undefined,
    [],
    code !== undefined && NETWORK_CODES.has(code),
  );
}
