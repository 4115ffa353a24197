/**
 * Conformance of the local KV v2 server (local/vault/kv2-server.ts) with HashiCorp Vault, through the client library
 * the Vault sync uses (node-vault, wrapped by functions/lib/secret-feeds/vault-client.ts). Every case runs against
 * the local server, and unchanged against a real Vault or OpenBao binary when LIFEBOAT_VAULT_BINARY names one
 * (started here in dev mode with a known root token: `<binary> server -dev -dev-root-token-id=...`). The AWS IAM
 * login runs against the local server only: a real Vault would have to reach STS with real AWS credentials.
 * docs/vault/kv-v2.md holds the behaviours and their sources.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import createVault from 'node-vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VaultRequestError } from '../../functions/lib/errors.js';
import { awsIamLoginRequest } from '../../functions/lib/secret-feeds/vault-aws-login.js';
import { loginWithAwsIam, vaultKv } from '../../functions/lib/secret-feeds/vault-client.js';
import { startKv2Server } from '../../local/vault/kv2-server.js';

interface VaultTarget {
  readonly name: string;
  readonly endpoint: string;
  readonly rootToken: string;
  close(): Promise<void>;
}

const BINARY = process.env.LIFEBOAT_VAULT_BINARY;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function realVault(binary: string): Promise<VaultTarget> {
  const port = await freePort();
  const rootToken = `root-${randomUUID()}`;
  const child: ChildProcess = spawn(
    binary,
    ['server', '-dev', `-dev-root-token-id=${rootToken}`, `-dev-listen-address=127.0.0.1:${port}`],
    { stdio: 'ignore' },
  );
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${endpoint}/v1/sys/health`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`${binary} did not start a dev server on ${endpoint} within 30 s`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    name: binary,
    endpoint,
    rootToken,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The cases, written once against a target. */
function kvConformance(target: () => VaultTarget) {
  const root = () =>
    createVault({
      endpoint: target().endpoint,
      token: target().rootToken,
      noCustomHTTPVerbs: true,
      debug: () => undefined,
    });
  const kv = () => vaultKv({ address: target().endpoint }, target().rootToken);
  const prefix = () => `conformance-${randomUUID().slice(0, 8)}`;

  it('writes versions; metadata names the current version and each version; a version is read by number', async () => {
    const p = prefix();
    await root().write(`secret/data/${p}/db`, { data: { password: 'one' } });
    const second = await root().write(`secret/data/${p}/db`, { data: { password: 'two' } });
    expect(second.data.version).toBe(2);
    const meta = await kv().readMetadata('secret', `${p}/db`);
    expect(meta?.currentVersion).toBe(2);
    expect(Object.keys(meta?.versions ?? {}).sort()).toEqual(['1', '2']);
    expect(meta?.versions['1']).toMatchObject({ deletionTime: '', destroyed: false });
    expect(meta?.createdTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await kv().readVersion('secret', `${p}/db`, 1)).toEqual({ password: 'one' });
    expect(await kv().readVersion('secret', `${p}/db`, 2)).toEqual({ password: 'two' });
  });

  it('LIST names the keys of one folder, sorted, folders with a trailing "/"; an empty or missing folder is a 404', async () => {
    const p = prefix();
    for (const path of ['b', 'a', 'apps/x', 'apps/deep/y'])
      await root().write(`secret/data/${p}/${path}`, { data: { k: 'v' } });
    expect(await kv().list('secret', `${p}/`)).toEqual(['a', 'apps/', 'b']);
    expect(await kv().list('secret', `${p}/apps/`)).toEqual(['deep/', 'x']);
    expect(await kv().list('secret', `${p}/nothing/`)).toEqual([]);
    const raw = await root()
      .list(`secret/metadata/${p}/nothing/`)
      .then(
        () => undefined,
        (e: { response: { statusCode: number } }) => e.response.statusCode,
      );
    expect(raw).toBe(404);
  });

  it('a soft-deleted current version keeps current_version, gains a deletion_time and reads as 404; undelete brings it back', async () => {
    const p = prefix();
    await root().write(`secret/data/${p}/db`, { data: { password: 'one' } });
    await root().delete(`secret/data/${p}/db`);
    const meta = await kv().readMetadata('secret', `${p}/db`);
    expect(meta?.currentVersion).toBe(1);
    expect(meta?.versions['1']?.deletionTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(await kv().readVersion('secret', `${p}/db`, 1)).toBeUndefined();
    const status = await root()
      .read(`secret/data/${p}/db?version=1`)
      .then(
        () => 200,
        (e: { response: { statusCode: number } }) => e.response.statusCode,
      );
    expect(status).toBe(404);
    await root().write(`secret/undelete/${p}/db`, { versions: [1] });
    expect(await kv().readVersion('secret', `${p}/db`, 1)).toEqual({ password: 'one' });
  });

  it('a destroyed version is marked destroyed and reads as 404; the secret stays listed', async () => {
    const p = prefix();
    await root().write(`secret/data/${p}/db`, { data: { password: 'one' } });
    await root().write(`secret/destroy/${p}/db`, { versions: [1] });
    const meta = await kv().readMetadata('secret', `${p}/db`);
    expect(meta?.versions['1']?.destroyed).toBe(true);
    expect(await kv().readVersion('secret', `${p}/db`, 1)).toBeUndefined();
    expect(await kv().list('secret', `${p}/`)).toEqual(['db']);
  });

  it('deleting the metadata removes every version: metadata is a 404 and LIST no longer names it', async () => {
    const p = prefix();
    await root().write(`secret/data/${p}/db`, { data: { password: 'one' } });
    await root().write(`secret/data/${p}/other`, { data: { password: 'two' } });
    await root().delete(`secret/metadata/${p}/db`);
    expect(await kv().readMetadata('secret', `${p}/db`)).toBeUndefined();
    expect(await kv().list('secret', `${p}/`)).toEqual(['other']);
  });

  it('an unknown token is refused with 403 {"errors":["permission denied"]}', async () => {
    const error = await vaultKv({ address: target().endpoint }, 'hvs.not-a-token')
      .lookupSelf()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VaultRequestError);
    expect((error as VaultRequestError).status).toBe(403);
    expect((error as VaultRequestError).vaultErrors.join(' ')).toContain('permission denied');
    expect((error as VaultRequestError).message).not.toContain('hvs.not-a-token');
  });

  it('a token past its TTL is refused like an unknown one; lookup-self shows a live token its TTL', async () => {
    const created = await root().write('auth/token/create', { ttl: '2s', policies: ['default'] });
    const token = created.auth.client_token as string;
    const info = await vaultKv({ address: target().endpoint }, token).lookupSelf();
    expect(info.ttlSeconds).toBeGreaterThan(0);
    expect(info.ttlSeconds).toBeLessThanOrEqual(2);
    expect((await kv().lookupSelf()).ttlSeconds).toBe(0);
    await new Promise((r) => setTimeout(r, 3_200));
    const error = await vaultKv({ address: target().endpoint }, token)
      .lookupSelf()
      .catch((e: unknown) => e);
    expect((error as VaultRequestError).status).toBe(403);
  });
}

describe('Vault KV v2 conformance: local server', () => {
  let server: Awaited<ReturnType<typeof startKv2Server>>;
  const principal = {
    accessKeyId: 'AKIAVAULTSYNCLOCAL01',
    secretAccessKey: 'local-secret-key',
    arn: 'arn:aws:iam::111122223333:role/vault-sync',
  };
  beforeAll(async () => {
    server = await startKv2Server({
      awsAuth: {
        principals: {
          [principal.accessKeyId]: { secretAccessKey: principal.secretAccessKey, arn: principal.arn },
        },
        roles: { 'vault-sync': [principal.arn], other: ['arn:aws:iam::111122223333:role/someone-else'] },
        serverId: 'vault.example.com',
      },
    });
  });
  afterAll(async () => server?.close());
  kvConformance(() => ({
    name: 'local',
    endpoint: server.endpoint,
    rootToken: server.rootToken,
    close: async () => undefined,
  }));

  const login = (role: string, secretAccessKey: string, serverId?: string) =>
    awsIamLoginRequest({
      role,
      credentials: { accessKeyId: principal.accessKeyId, secretAccessKey },
      ...(serverId ? { serverId } : {}),
    }).then((request) => loginWithAwsIam({ address: server.endpoint }, 'aws', request));

  it('AWS IAM login: a GetCallerIdentity request signed by the SDK signer gives a token that reads KV', async () => {
    const token = await login('vault-sync', principal.secretAccessKey, 'vault.example.com');
    expect(token).toMatch(/^hvs\./);
    expect((await vaultKv({ address: server.endpoint }, token).lookupSelf()).ttlSeconds).toBeGreaterThan(0);
  });

  it('AWS IAM login: a wrong signature, a missing server id header or a role not bound to the caller is refused', async () => {
    await expect(login('vault-sync', 'wrong-key', 'vault.example.com')).rejects.toMatchObject({
      name: 'VaultAuthError',
    });
    await expect(login('vault-sync', principal.secretAccessKey)).rejects.toMatchObject({
      name: 'VaultAuthError',
    });
    await expect(login('other', principal.secretAccessKey, 'vault.example.com')).rejects.toThrow(
      /does not belong to the role "other"/,
    );
  });
});

describe.skipIf(!BINARY)(
  `Vault KV v2 conformance: real binary (${BINARY ?? 'LIFEBOAT_VAULT_BINARY is not set: name a vault or bao binary to run these against it'})`,
  () => {
    let target: VaultTarget;
    beforeAll(async () => {
      target = await realVault(BINARY as string);
    });
    afterAll(async () => target?.close());
    kvConformance(() => target);
  },
);
