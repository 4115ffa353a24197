/**
 * The Vault sync's branches (functions/lib/secret-feeds/vault-sync.ts): Vault is the local KV v2 server
 * (local/vault/kv2-server.ts, whose conformance with Vault is test/conformance/vault-kv2.test.ts), Secrets Manager a
 * small stateful fake behind aws-sdk-client-mock, so that each test can assert exactly which calls were made.
 */
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  SecretsManagerClient,
  type Tag,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import createVault from 'node-vault';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { VaultRequestError } from '../../functions/lib/errors.js';
import type { UnitPlan } from '../../functions/lib/plan.js';
import { readFeedRecord } from '../../functions/lib/secret-feeds/feed-record.js';
import { feedReadinessChecks } from '../../functions/lib/secret-feeds/readiness.js';
import { type VaultKv, vaultKv } from '../../functions/lib/secret-feeds/vault-client.js';
import {
  failureOf,
  requestToken,
  runVaultSync,
  VAULT_PATH_TAG,
  VAULT_VERSION_TAG,
  type VaultSyncReport,
} from '../../functions/lib/secret-feeds/vault-sync.js';
import {
  parseVaultSyncConfig,
  type VaultSyncConfigInput,
} from '../../functions/lib/secret-feeds/vault-sync-config.js';
import { type Kv2Server, startKv2Server } from '../../local/vault/kv2-server.js';

const REGION = 'us-east-1';
const ACCOUNT = '111122223333';
const CREDENTIAL_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:lifeboat/vault-credential-AbCdEf`;
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:vault-sync-failures`;
/** A value that must never appear in a report, an error or a message. */
const MARKER = 'Marker-Password-7f3a';

interface FakeSecret {
  arn: string;
  name: string;
  tags: Tag[];
  versions: Map<string, { value: string; stages: string[] }>;
  deleted?: Date;
  primaryRegion?: string;
  replicas?: string[];
}

/** Secrets Manager as the sync sees it: names, tags, versions with stages, deletion, replicas; paged ListSecrets. */
class FakeSecretsManager {
  readonly secrets = new Map<string, FakeSecret>();
  readonly client = new SecretsManagerClient({ region: REGION });
  readonly mock = mockClient(this.client);
  credential = '{"token":"root"}';
  pageSize = 100;
  /** Names ListSecrets does not show yet (it lags up to five minutes). */
  readonly lagging = new Set<string>();

  constructor() {
    const find = (id: string | undefined) => {
      const s = [...this.secrets.values()].find((x) => x.arn === id || x.name === id);
      if (!s)
        throw Object.assign(new Error("Secrets Manager can't find the specified secret."), {
          name: 'ResourceNotFoundException',
        });
      return s;
    };
    this.mock.on(GetSecretValueCommand).callsFake((input) => {
      if (input.SecretId !== CREDENTIAL_ARN) throw new Error(`unexpected GetSecretValue ${input.SecretId}`);
      return { SecretString: this.credential };
    });
    this.mock.on(ListSecretsCommand).callsFake((input) => {
      const prefix = input.Filters?.find((f: { Key?: string }) => f.Key === 'name')?.Values?.[0] ?? '';
      const all = [...this.secrets.values()].filter(
        (s) =>
          s.name.startsWith(prefix) &&
          !this.lagging.has(s.name) &&
          (input.IncludePlannedDeletion || s.deleted === undefined),
      );
      const start = Number(input.NextToken ?? 0);
      const max = Math.min(input.MaxResults ?? 100, this.pageSize);
      return {
        SecretList: all.slice(start, start + max).map((s) => ({
          ARN: s.arn,
          Name: s.name,
          Tags: s.tags.map((t) => ({ ...t })),
          ...(s.deleted ? { DeletedDate: s.deleted } : {}),
          ...(s.primaryRegion ? { PrimaryRegion: s.primaryRegion } : {}),
          SecretVersionsToStages: Object.fromEntries(
            [...s.versions].filter(([, v]) => v.stages.length).map(([id, v]) => [id, v.stages]),
          ),
        })),
        ...(start + max < all.length ? { NextToken: String(start + max) } : {}),
      };
    });
    this.mock.on(CreateSecretCommand).callsFake((input) => {
      if (this.secrets.has(input.Name))
        throw Object.assign(new Error('exists'), { name: 'ResourceExistsException' });
      const s: FakeSecret = {
        arn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${input.Name}-XyZ123`,
        name: input.Name,
        tags: [...(input.Tags ?? [])],
        versions: new Map([
          [input.ClientRequestToken, { value: input.SecretString, stages: ['AWSCURRENT'] }],
        ]),
        ...(input.AddReplicaRegions?.length
          ? { replicas: input.AddReplicaRegions.map((r: { Region: string }) => r.Region) }
          : {}),
      };
      this.secrets.set(s.name, s);
      return { ARN: s.arn, Name: s.name, VersionId: input.ClientRequestToken };
    });
    this.mock.on(PutSecretValueCommand).callsFake((input) => {
      const s = find(input.SecretId);
      if (s.primaryRegion && s.primaryRegion !== REGION)
        throw Object.assign(new Error('replica'), { name: 'InvalidRequestException' });
      const existing = s.versions.get(input.ClientRequestToken);
      if (existing) {
        if (existing.value !== input.SecretString)
          throw Object.assign(new Error('exists'), { name: 'ResourceExistsException' });
        return { ARN: s.arn, VersionId: input.ClientRequestToken, VersionStages: existing.stages };
      }
      for (const v of s.versions.values()) {
        v.stages = v.stages.flatMap((st) =>
          st === 'AWSCURRENT' ? ['AWSPREVIOUS'] : st === 'AWSPREVIOUS' ? [] : [st],
        );
      }
      s.versions.set(input.ClientRequestToken, { value: input.SecretString, stages: ['AWSCURRENT'] });
      return { ARN: s.arn, VersionId: input.ClientRequestToken, VersionStages: ['AWSCURRENT'] };
    });
    this.mock.on(UpdateSecretVersionStageCommand).callsFake((input) => {
      const s = find(input.SecretId);
      for (const v of s.versions.values()) v.stages = v.stages.filter((st) => st !== input.VersionStage);
      s.versions.get(input.MoveToVersionId)?.stages.push(input.VersionStage);
      return { ARN: s.arn };
    });
    this.mock.on(TagResourceCommand).callsFake((input) => {
      const s = find(input.SecretId);
      for (const t of input.Tags ?? []) {
        const old = s.tags.find((x) => x.Key === t.Key);
        if (old) old.Value = t.Value;
        else s.tags.push({ ...t });
      }
      return {};
    });
    this.mock.on(DescribeSecretCommand).callsFake((input) => {
      const s = find(input.SecretId);
      return {
        ARN: s.arn,
        Name: s.name,
        Tags: s.tags.map((t) => ({ ...t })),
        ...(s.primaryRegion ? { PrimaryRegion: s.primaryRegion } : {}),
        VersionIdsToStages: Object.fromEntries(
          [...s.versions].filter(([, v]) => v.stages.length).map(([id, v]) => [id, v.stages]),
        ),
        ...(s.replicas
          ? { ReplicationStatus: s.replicas.map((r) => ({ Region: r, Status: 'InSync' })) }
          : {}),
      };
    });
    this.mock.on(DeleteSecretCommand).callsFake((input) => {
      const s = find(input.SecretId);
      if (s.replicas?.length)
        throw Object.assign(new Error('has replicas'), { name: 'InvalidParameterException' });
      s.deleted = new Date();
      return { ARN: s.arn };
    });
    this.mock.on(RestoreSecretCommand).callsFake((input) => {
      const s = find(input.SecretId);
      delete s.deleted;
      return { ARN: s.arn };
    });
  }

  /** A secret made by hand (or by an earlier run), with these tags. */
  add(
    name: string,
    value: string,
    tags: Record<string, string>,
    extra: Partial<FakeSecret> = {},
  ): FakeSecret {
    const s: FakeSecret = {
      arn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-AbC123`,
      name,
      tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      versions: new Map([['hand-made-version-0000000000000001', { value, stages: ['AWSCURRENT'] }]]),
      ...extra,
    };
    this.secrets.set(name, s);
    return s;
  }

  value(name: string): string | undefined {
    const s = this.secrets.get(name);
    return [...(s?.versions.values() ?? [])].find((v) => v.stages.includes('AWSCURRENT'))?.value;
  }

  tag(name: string, key: string): string | undefined {
    return this.secrets.get(name)?.tags.find((t) => t.Key === key)?.Value;
  }

  /** Calls that write or delete (everything but reads and the last-sync tags). */
  writes(): string[] {
    return this.mock
      .calls()
      .map((c) => c.args[0])
      .filter((c) =>
        [
          CreateSecretCommand,
          PutSecretValueCommand,
          DeleteSecretCommand,
          RestoreSecretCommand,
          UpdateSecretVersionStageCommand,
        ].some((k) => c instanceof k),
      )
      .map(
        (c) =>
          `${c.constructor.name} ${(c.input as { SecretId?: string; Name?: string }).SecretId ?? (c.input as { Name?: string }).Name}`,
      );
  }
}

let vault: Kv2Server;
let sm: FakeSecretsManager;
let sns: ReturnType<typeof mockClient>;
const snsClient = new SNSClient({ region: REGION });

beforeAll(async () => {
  vault = await startKv2Server();
});
afterAll(async () => vault?.close());
beforeEach(() => {
  sm = new FakeSecretsManager();
  sns = mockClient(snsClient);
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  vault.clearCalls();
});
afterEach(() => {
  sm.mock.restore();
  sns.restore();
});

let prefixCounter = 0;
/** A fresh Vault folder per test: the server is shared. */
function freshPrefix(): string {
  prefixCounter += 1;
  return `apps${prefixCounter}`;
}

function root() {
  return createVault({
    endpoint: vault.endpoint,
    token: vault.rootToken,
    noCustomHTTPVerbs: true,
    debug: () => undefined,
  });
}

async function put(path: string, data: Record<string, unknown>) {
  return root().write(`secret/data/${path}`, { data });
}

function config(prefix: string, extra: Partial<VaultSyncConfigInput> = {}) {
  return parseVaultSyncConfig({
    vaultAddress: vault.endpoint,
    prefix,
    namePrefix: `vault/${prefix}/`,
    credentialSecretArn: CREDENTIAL_ARN,
    intervalSeconds: 1800,
    topicArn: TOPIC,
    ...extra,
  });
}

function run(prefix: string, extra: Partial<VaultSyncConfigInput> = {}, wrap?: (kv: VaultKv) => VaultKv) {
  return runVaultSync(config(prefix, extra), {
    region: REGION,
    secretsManager: sm.client,
    sns: snsClient,
    connect: async (credential) => {
      if (!('token' in credential)) throw new Error('token credentials only here');
      const kv = vaultKv({ address: vault.endpoint }, credential.token);
      return wrap ? wrap(kv) : kv;
    },
  });
}

function entry(report: VaultSyncReport, secretName: string) {
  return report.entries.find((e) => e.secretName === secretName);
}

function dataReads(prefix: string) {
  return vault.calls.filter((c) => c.method === 'GET' && c.path.startsWith(`secret/data/${prefix}/`));
}

function snsText(): string {
  return JSON.stringify(sns.commandCalls(PublishCommand).map((c) => c.args[0].input));
}

describe('Vault sync: create, update, unchanged', () => {
  it('creates a missing secret with the value of the current version, its ownership and last-sync tags, and replica Regions', async () => {
    const p = freshPrefix();
    await put(`${p}/orders/db`, { username: 'app', password: MARKER });
    const report = await run(p, { replicaRegions: [{ region: 'us-west-2', kmsKeyId: 'alias/lifeboat' }] });
    const name = `vault/${p}/orders/db`;
    expect(entry(report, name)).toMatchObject({
      action: 'created',
      version: 1,
      vaultPath: `secret/${p}/orders/db`,
    });
    expect(JSON.parse(sm.value(name) ?? '{}')).toEqual({ username: 'app', password: MARKER });
    expect(sm.tag(name, VAULT_PATH_TAG)).toBe(`secret/${p}/orders/db`);
    expect(sm.tag(name, VAULT_VERSION_TAG)).toBe('1');
    const record = readFeedRecord(sm.secrets.get(name)?.tags);
    expect(record && 'record' in record ? record.record : record).toMatchObject({
      feed: 'vault-sync',
      status: 'ok',
      intervalSeconds: 1800,
    });
    const create = sm.mock.commandCalls(CreateSecretCommand)[0]?.args[0].input;
    expect(create?.AddReplicaRegions).toEqual([{ Region: 'us-west-2', KmsKeyId: 'alias/lifeboat' }]);
    expect(create?.ClientRequestToken).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    expect(report.status).toBe('ok');
    expect(JSON.stringify(report)).not.toContain(MARKER);
  });

  it("an unchanged secret (the version tag equals Vault's current version) is not read from Vault: no data request, no write", async () => {
    const p = freshPrefix();
    await put(`${p}/db`, { password: MARKER });
    await run(p);
    sm.mock.resetHistory();
    vault.clearCalls();
    const report = await run(p);
    expect(entry(report, `vault/${p}/db`)).toMatchObject({ action: 'unchanged', version: 1 });
    expect(dataReads(p)).toEqual([]);
    expect(vault.calls.some((c) => c.path === `secret/metadata/${p}/db`)).toBe(true);
    expect(sm.writes()).toEqual([]);
    // Only the last-sync record moved.
    expect(
      sm.mock.commandCalls(TagResourceCommand).map((c) => c.args[0].input.Tags?.map((t) => t.Key).sort()),
    ).toEqual([
      ['lifeboat:feed', 'lifeboat:last-sync', 'lifeboat:last-sync-status', 'lifeboat:sync-interval-seconds'],
    ]);
  });

  it('updates a secret when Vault has a newer version: the new value, the version tag moved, no failure (the published sample lost every update to a scoping bug)', async () => {
    const p = freshPrefix();
    await put(`${p}/db`, { password: 'first' });
    await run(p);
    await put(`${p}/db`, { password: MARKER });
    const report = await run(p);
    const name = `vault/${p}/db`;
    expect(entry(report, name)).toMatchObject({ action: 'updated', version: 2, previousVersion: '1' });
    expect(JSON.parse(sm.value(name) ?? '{}')).toEqual({ password: MARKER });
    expect(sm.tag(name, VAULT_VERSION_TAG)).toBe('2');
    expect(report.status).toBe('ok');
    expect(failureOf(report)).toBeUndefined();
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
    // Exactly one data read, of exactly the version the metadata named.
    expect(dataReads(p).map((c) => c.query)).toEqual(['?version=1', '?version=2']);
  });

  it('a secret the sync created whose version tag is gone is synced again, not a crash (the published sample crashed on it)', async () => {
    const p = freshPrefix();
    await put(`${p}/db`, { password: MARKER });
    await run(p);
    const name = `vault/${p}/db`;
    const s = sm.secrets.get(name) as FakeSecret;
    s.tags = s.tags.filter((t) => t.Key !== VAULT_VERSION_TAG);
    const report = await run(p);
    expect(entry(report, name)).toMatchObject({
      action: 'updated',
      version: 1,
      previousVersion: '(no version tag)',
    });
    expect(sm.tag(name, VAULT_VERSION_TAG)).toBe('1');
    // Same path, same version: the same ClientRequestToken, so Secrets Manager kept the one version it had.
    expect(sm.secrets.get(name)?.versions.size).toBe(1);
    expect(report.status).toBe('ok');
  });

  it('a retried write is harmless: the token is derived from path, metadata creation time and version', async () => {
    const p = freshPrefix();
    await put(`${p}/db`, { password: MARKER });
    const meta = await vaultKv({ address: vault.endpoint }, vault.rootToken).readMetadata(
      'secret',
      `${p}/db`,
    );
    const m = { rel: 'db', vaultPath: `${p}/db`, fullPath: `secret/${p}/db`, secretName: `vault/${p}/db` };
    expect(requestToken(m, meta as never, 1)).toBe(requestToken(m, meta as never, 1));
    expect(requestToken(m, meta as never, 1)).not.toBe(requestToken(m, meta as never, 2));
    expect(
      requestToken(m, { ...(meta as object), createdTime: '2020-01-01T00:00:00Z' } as never, 1),
    ).not.toBe(requestToken(m, meta as never, 1));
  });

  it('ListSecrets lagging behind (up to five minutes) is harmless: a secret the last run created is found by CreateSecret, then written as the existing one', async () => {
    const p = freshPrefix();
    await put(`${p}/db`, { password: 'first' });
    await run(p);
    const name = `vault/${p}/db`;
    sm.lagging.add(name);
    const same = await run(p);
    expect(entry(same, name)).toMatchObject({ action: 'unchanged', version: 1 });
    await put(`${p}/db`, { password: MARKER });
    const newer = await run(p);
    expect(entry(newer, name)).toMatchObject({ action: 'updated', version: 2, previousVersion: '1' });
    expect(JSON.parse(sm.value(name) ?? '{}')).toEqual({ password: MARKER });
    expect(sm.secrets.get(name)?.versions.size).toBe(2);
    expect(newer.status).toBe('ok');
  });

  it('a secret that appears under the target name between the listing and CreateSecret, not made by the sync, is refused', async () => {
    const p = freshPrefix();
    await put(`${p}/db`, { password: MARKER });
    sm.add(`vault/${p}/db`, 'hand-made', {});
    sm.lagging.add(`vault/${p}/db`);
    const report = await run(p);
    expect(entry(report, `vault/${p}/db`)).toMatchObject({ action: 'failed' });
    expect(entry(report, `vault/${p}/db`)?.detail).toContain("is not this sync's copy");
    expect(sm.value(`vault/${p}/db`)).toBe('hand-made');
    expect(sm.mock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('a Vault secret deleted and written again (version 1 again) is updated: the creation time tells it apart', async () => {
    const p = freshPrefix();
    await put(`${p}/db`, { password: 'first' });
    await run(p);
    await root().delete(`secret/metadata/${p}/db`);
    await new Promise((r) => setTimeout(r, 5));
    await put(`${p}/db`, { password: MARKER });
    const report = await run(p);
    expect(entry(report, `vault/${p}/db`)).toMatchObject({
      action: 'updated',
      version: 1,
      previousVersion: '1',
    });
    expect(JSON.parse(sm.value(`vault/${p}/db`) ?? '{}')).toEqual({ password: MARKER });
  });
});

describe('Vault sync: removed secrets and the policy', () => {
  async function seeded() {
    const p = freshPrefix();
    await put(`${p}/gone`, { password: 'a' });
    await put(`${p}/deleted`, { password: 'b' });
    await put(`${p}/destroyed`, { password: 'c' });
    await put(`${p}/stays`, { password: 'd' });
    await run(p);
    await root().delete(`secret/metadata/${p}/gone`);
    await root().delete(`secret/data/${p}/deleted`);
    await root().write(`secret/destroy/${p}/destroyed`, { versions: [1] });
    sm.mock.resetHistory();
    vault.clearCalls();
    return p;
  }

  it('keep (the default): a disappeared secret and deleted or destroyed current versions keep their last value; nothing is deleted', async () => {
    const p = await seeded();
    const report = await run(p);
    for (const [rel, why] of [
      ['gone', 'no longer in Vault'],
      ['deleted', 'current version 1 was deleted'],
      ['destroyed', 'current version 1 was destroyed'],
    ]) {
      const e = entry(report, `vault/${p}/${rel}`);
      expect(e?.action).toBe('kept');
      expect(e?.detail).toContain(why);
    }
    expect(entry(report, `vault/${p}/stays`)?.action).toBe('unchanged');
    expect(sm.writes()).toEqual([]);
    expect(JSON.parse(sm.value(`vault/${p}/deleted`) ?? '{}')).toEqual({ password: 'b' });
    expect(dataReads(p)).toEqual([]);
    expect(report.status).toBe('ok');
  });

  it('delete: each is scheduled for deletion with the configured recovery window; the live one is left alone', async () => {
    const p = await seeded();
    const report = await run(p, { removed: 'delete', recoveryWindowDays: 7 });
    const deletes = sm.mock.commandCalls(DeleteSecretCommand).map((c) => c.args[0].input);
    expect(deletes.map((d) => d.SecretId?.split(':secret:')[1]?.replace(/-XyZ123$/, '')).sort()).toEqual(
      [`vault/${p}/deleted`, `vault/${p}/destroyed`, `vault/${p}/gone`].sort(),
    );
    expect(
      deletes.every((d) => d.RecoveryWindowInDays === 7 && d.ForceDeleteWithoutRecovery === undefined),
    ).toBe(true);
    expect(entry(report, `vault/${p}/gone`)).toMatchObject({ action: 'removed', version: 1 });
    expect(entry(report, `vault/${p}/stays`)?.action).toBe('unchanged');
    // A second run finds them scheduled already and deletes nothing again.
    sm.mock.resetHistory();
    const again = await run(p, { removed: 'delete', recoveryWindowDays: 7 });
    expect(sm.mock.commandCalls(DeleteSecretCommand)).toHaveLength(0);
    expect(entry(again, `vault/${p}/gone`)).toMatchObject({ action: 'unchanged' });
    expect(entry(again, `vault/${p}/gone`)?.detail).toContain('scheduled for deletion already');
  });

  it('delete never touches a secret the sync did not create, nor a replicated one, nor one whose Vault path tag is outside the prefix', async () => {
    const p = freshPrefix();
    await put(`${p}/replicated`, { password: 'r' });
    await put(`${p}/stays`, { password: 's' });
    await run(p, { replicaRegions: [{ region: 'us-west-2' }] });
    await root().delete(`secret/metadata/${p}/replicated`);
    sm.add(`vault/${p}/hand-made`, 'x', {});
    sm.add(`vault/${p}/other-sync`, 'y', {
      'lifeboat:feed': 'vault-sync',
      [VAULT_PATH_TAG]: `secret/elsewhere/other-sync`,
    });
    sm.mock.resetHistory();
    const report = await run(p, { removed: 'delete' });
    expect(sm.mock.commandCalls(DeleteSecretCommand)).toHaveLength(0);
    expect(entry(report, `vault/${p}/replicated`)).toMatchObject({ action: 'kept' });
    expect(entry(report, `vault/${p}/replicated`)?.detail).toContain('replicated to other Regions');
    expect(entry(report, `vault/${p}/hand-made`)).toBeUndefined();
    expect(entry(report, `vault/${p}/other-sync`)).toMatchObject({ action: 'refused' });
    expect(entry(report, `vault/${p}/other-sync`)?.detail).toContain(`outside secret/${p}/`);
  });

  it('delete never empties the whole name prefix in one sweep: Vault listing nothing under the prefix stops the run', async () => {
    const p = freshPrefix();
    await put(`${p}/a`, { password: 'a' });
    await put(`${p}/b`, { password: 'b' });
    await run(p, { removed: 'delete' });
    await root().delete(`secret/metadata/${p}/a`);
    await root().delete(`secret/metadata/${p}/b`);
    sm.mock.resetHistory();
    const error = await run(p, { removed: 'delete' }).then(
      () => new Error('expected the run to fail'),
      (e: unknown) => e as Error,
    );
    expect(error.name).toBe('ConfigurationError');
    expect(error.message).toContain(
      `Vault lists nothing under secret/${p}/, yet 2 secret(s) under vault/${p}/ came from there`,
    );
    expect(sm.mock.commandCalls(DeleteSecretCommand)).toHaveLength(0);
    expect(sm.tag(`vault/${p}/a`, 'lifeboat:last-sync-status')).toBe('failed');
  });

  it('a secret scheduled for deletion by the sync comes back (RestoreSecret) when Vault has it again', async () => {
    const p = freshPrefix();
    await put(`${p}/stays`, { password: 's' });
    await put(`${p}/db`, { password: 'first' });
    await run(p, { removed: 'delete' });
    await root().delete(`secret/metadata/${p}/db`);
    await run(p, { removed: 'delete' });
    expect(sm.secrets.get(`vault/${p}/db`)?.deleted).toBeInstanceOf(Date);
    await put(`${p}/db`, { password: MARKER });
    const report = await run(p, { removed: 'delete' });
    expect(entry(report, `vault/${p}/db`)).toMatchObject({ action: 'updated', version: 1 });
    expect(sm.secrets.get(`vault/${p}/db`)?.deleted).toBeUndefined();
    expect(sm.mock.commandCalls(RestoreSecretCommand)).toHaveLength(1);
  });
});

describe('Vault sync: scale', () => {
  it('lists recursively and follows every ListSecrets page: 230 secrets in nested folders, a second run finds all unchanged', async () => {
    const p = freshPrefix();
    const rels: string[] = [];
    for (let i = 0; i < 230; i++) rels.push(i % 3 === 0 ? `team${i % 4}/svc/s${i}` : `s${i}`);
    for (const rel of rels) await put(`${p}/${rel}`, { n: rel });
    sm.pageSize = 40;
    const first = await run(p);
    expect(first.counts.created).toBe(230);
    sm.mock.resetHistory();
    const second = await run(p);
    expect(second.counts.unchanged).toBe(230);
    expect(sm.mock.commandCalls(ListSecretsCommand).length).toBe(Math.ceil(230 / 40));
    expect(sm.writes()).toEqual([]);
    expect(second.status).toBe('ok');
  });
});

describe('Vault sync: bad input', () => {
  it('a Vault path outside the prefix (a LIST answer naming "..") is refused, nothing is written for it, and the run reports it', async () => {
    const p = freshPrefix();
    await put(`${p}/db`, { password: MARKER });
    await put(`other/db`, { password: 'not-ours' });
    vault.clearCalls();
    const report = await run(p, {}, (kv) => ({
      ...kv,
      list: async (mount, folder) => [
        ...(await kv.list(mount, folder)),
        ...(folder === `${p}/` ? ['../other/'] : []),
      ],
    }));
    const refused = report.entries.filter((e) => e.action === 'refused');
    expect(refused).toHaveLength(1);
    expect(refused[0]?.vaultPath).toBe(`secret/${p}/../other/`);
    expect(refused[0]?.detail).toContain('".."');
    expect(vault.calls.some((c) => c.path.includes('other'))).toBe(false);
    expect(entry(report, `vault/${p}/db`)?.action).toBe('created');
    expect([...sm.secrets.keys()]).toEqual([`vault/${p}/db`]);
    expect(report.status).toBe('failed');
    expect(failureOf(report)?.name).toBe('SecretFeedError');
    expect(snsText()).toContain('../other/');
    expect(snsText()).not.toContain(MARKER);
  });

  it("a path the token's policy does not cover (403 on its metadata) fails alone: never treated as gone, never deleted; the rest syncs", async () => {
    const p = freshPrefix();
    await put(`${p}/open`, { password: 'o' });
    await put(`${p}/closed`, { password: 'c' });
    await run(p, { removed: 'delete' });
    await put(`${p}/open`, { password: MARKER });
    sm.mock.resetHistory();
    const denied = Object.assign(
      new VaultRequestError('Vault answered GET ... with 403', 403, ['permission denied']),
    );
    const report = await run(p, { removed: 'delete' }, (kv) => ({
      ...kv,
      readMetadata: async (mount, path) => {
        if (path.endsWith('/closed')) throw denied;
        return kv.readMetadata(mount, path);
      },
    }));
    expect(entry(report, `vault/${p}/closed`)).toMatchObject({ action: 'refused' });
    expect(entry(report, `vault/${p}/closed`)?.detail).toContain(
      "the token's policy does not cover this path",
    );
    expect(entry(report, `vault/${p}/open`)).toMatchObject({ action: 'updated', version: 2 });
    expect(sm.mock.commandCalls(DeleteSecretCommand)).toHaveLength(0);
    expect(sm.tag(`vault/${p}/closed`, 'lifeboat:last-sync-status')).toBe('failed');
    expect(sm.tag(`vault/${p}/open`, 'lifeboat:last-sync-status')).toBe('ok');
  });

  it('a token that expires in the middle of a run (403 on a data read, and lookup-self refused then) stops it before any write', async () => {
    const p = freshPrefix();
    await put(`${p}/a`, { password: 'a' });
    await put(`${p}/b`, { password: 'b' });
    sm.mock.resetHistory();
    let expired = false;
    const denied = new VaultRequestError('Vault answered GET ... with 403', 403, ['permission denied']);
    const error = await run(p, {}, (kv) => ({
      ...kv,
      lookupSelf: async () => {
        if (expired) throw denied;
        return kv.lookupSelf();
      },
      readVersion: async (mount, path, version) => {
        if (path.endsWith('/b')) {
          expired = true;
          throw denied;
        }
        return kv.readVersion(mount, path, version);
      },
    })).then(
      () => new Error('expected the run to fail'),
      (e: unknown) => e as Error,
    );
    expect(error.name).toBe('VaultAuthError');
    expect(error.message).toContain('Nothing was changed');
    expect(sm.writes()).toEqual([]);
  });

  it('the configuration refuses a prefix that climbs out of the mount', () => {
    expect(() => config('apps/../../sys')).toThrow(/prefix: "apps\/..\/..\/sys" has a segment ".."/);
  });

  it('an expired token stops the run before anything is written, with a clear error; the owned secrets record the failed attempt', async () => {
    const p = freshPrefix();
    await put(`${p}/db`, { password: 'first' });
    await run(p);
    await put(`${p}/db`, { password: MARKER });
    const created = await root().write('auth/token/create', { ttl: '1s' });
    sm.credential = JSON.stringify({ token: created.auth.client_token });
    await new Promise((r) => setTimeout(r, 1_300));
    sm.mock.resetHistory();
    vault.clearCalls();
    const error = await run(p).then(
      () => new Error('expected the run to fail'),
      (e: unknown) => e as Error,
    );
    expect(error.name).toBe('VaultAuthError');
    expect(error.message).toContain(`refused the credential in ${CREDENTIAL_ARN} (403: permission denied)`);
    expect(error.message).toContain('expired, revoked or unknown. Nothing was changed');
    expect(error.message).not.toContain(created.auth.client_token);
    expect(sm.writes()).toEqual([]);
    expect(JSON.parse(sm.value(`vault/${p}/db`) ?? '{}')).toEqual({ password: 'first' });
    expect(vault.calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
      'GET auth/token/lookup-self 403',
    ]);
    expect(sm.tag(`vault/${p}/db`, 'lifeboat:last-sync-status')).toBe('failed');
    expect(snsText()).toContain('VaultAuthError');
    expect(snsText()).not.toContain(created.auth.client_token);
  });

  it('a target that is a replica secret is refused: never written, never tagged', async () => {
    const p = freshPrefix();
    await put(`${p}/db`, { password: MARKER });
    sm.add(
      `vault/${p}/db`,
      'replica value',
      { 'lifeboat:feed': 'vault-sync', [VAULT_PATH_TAG]: `secret/${p}/db` },
      { primaryRegion: 'us-west-2' },
    );
    const report = await run(p);
    expect(entry(report, `vault/${p}/db`)).toMatchObject({ action: 'refused' });
    expect(entry(report, `vault/${p}/db`)?.detail).toContain('is a replica of a secret in us-west-2');
    expect(sm.writes()).toEqual([]);
    expect(sm.mock.commandCalls(TagResourceCommand)).toHaveLength(0);
    expect(sm.value(`vault/${p}/db`)).toBe('replica value');
    expect(dataReads(p)).toEqual([]);
  });

  it('a secret of the target name that the sync did not create (no tags at all) is refused and left as it is', async () => {
    const p = freshPrefix();
    await put(`${p}/db`, { password: MARKER });
    sm.add(`vault/${p}/db`, 'hand-made', {});
    const report = await run(p, { removed: 'delete' });
    expect(entry(report, `vault/${p}/db`)).toMatchObject({ action: 'refused' });
    expect(entry(report, `vault/${p}/db`)?.detail).toContain('was not created by the Vault sync');
    expect(sm.writes()).toEqual([]);
    expect(sm.value(`vault/${p}/db`)).toBe('hand-made');
  });

  it('a credential secret that is not JSON is named without quoting it', async () => {
    const p = freshPrefix();
    sm.credential = `not json ${MARKER}`;
    const error = await run(p).then(
      () => new Error('expected the run to fail'),
      (e: unknown) => e as Error,
    );
    expect(error.name).toBe('ConfigurationError');
    expect(error.message).toContain(`the Vault credential secret ${CREDENTIAL_ARN} is not JSON`);
    expect(error.message).not.toContain(MARKER);
  });
});

describe('Vault sync: what preflight reads', () => {
  it("the last-sync record of a Vault-fed secret turns preflight's secret.feed check: ok after a sync, a warning after a failed one, and when stale", async () => {
    const p = freshPrefix();
    await put(`${p}/db`, { password: MARKER });
    await run(p);
    const name = `vault/${p}/db`;
    const unit = { name: 'orders', secret: { id: name } } as unknown as UnitPlan;
    const tags = () => sm.secrets.get(name)?.tags;
    expect(feedReadinessChecks(tags(), unit, new Date())).toMatchObject([{ check: 'secret.feed', ok: true }]);
    const later = new Date(Date.now() + 2 * 3600_000);
    const stale = feedReadinessChecks(tags(), unit, later);
    expect(stale).toMatchObject([{ ok: false, severity: 'warning' }]);
    expect(stale[0]?.message).toContain('longer than its schedule of every 30 minutes');
    sm.credential = JSON.stringify({ token: 'hvs.revoked' });
    await run(p).catch(() => undefined);
    const failed = feedReadinessChecks(tags(), unit, new Date());
    expect(failed).toMatchObject([{ ok: false, severity: 'warning' }]);
    expect(failed[0]?.message).toContain('the last sync by the vault-sync failed');
  });
});
