import { createHash } from 'node:crypto';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  type ListSecretsCommandOutput,
  PutSecretValueCommand,
  RestoreSecretCommand,
  type SecretListEntry,
  type SecretsManagerClient,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import {
  awsErrorName,
  ConfigurationError,
  LifeboatError,
  SecretFeedError,
  toLifeboatError,
  VaultAuthError,
  VaultRequestError,
} from '../errors.js';
import { FEED_TAG, feedTags, type SyncStatus } from './feed-record.js';
import type { SecretMetadata, VaultKv } from './vault-client.js';
import {
  type Mapping,
  mapping,
  parseCredential,
  relOfTag,
  type VaultCredential,
  type VaultSyncConfig,
} from './vault-sync-config.js';
import '../sdk/secrets-manager.js';
import '../sdk/sns.js';

/**
 * One run of the Vault pull sync (docs/design/vault-sync.md): HashiCorp Vault KV v2 under a prefix → Secrets Manager
 * secrets under a name prefix, in the Region the function runs in.
 *
 * 1. Read the Vault credential (Secrets Manager) and list the AWS secrets under the name prefix (every page).
 * 2. Check the token (lookup-self): an expired or revoked one stops the run here, nothing changed.
 * 3. List Vault recursively and read each secret's metadata; read data only for a version the AWS secret's
 *    `lifeboat:vault-version` tag does not already hold. Every Vault read is done before the first AWS write.
 * 4. Create or update, with a ClientRequestToken derived from the path, the metadata's creation time and the version
 *    (a retried run writes nothing twice); apply the `removed` policy to secrets the sync created whose Vault secret
 *    disappeared or whose current version is deleted or destroyed. A secret the sync did not create (no
 *    `lifeboat:feed` = `vault-sync` tag) is never written or deleted, nor is a replica.
 * 5. Record the last sync (ok or failed) on each secret it owns, in the feeds' shared tags (functions/lib/
 *    secret-feeds/feed-record.ts), so that preflight warns about a stale or failed feed; failures go to SNS.
 *
 * No value is logged, put in an error, a report or a message: values exist only between the data read and the write.
 */

/** The Vault path a synced secret comes from, `<mount>/<prefix>/<rel>`: with FEED_TAG, what marks it as ours. */
export const VAULT_PATH_TAG = 'lifeboat:vault-path';
/** The Vault version the AWS secret holds. */
export const VAULT_VERSION_TAG = 'lifeboat:vault-version';
/** The Vault secret's metadata creation time: a secret deleted and written again starts at version 1 again. */
export const VAULT_CREATED_TAG = 'lifeboat:vault-created';

export const FEED = 'vault-sync' as const;

export type SyncAction = 'created' | 'updated' | 'unchanged' | 'removed' | 'kept' | 'failed' | 'refused';

export interface SyncEntry {
  readonly action: SyncAction;
  /** `<mount>/<path>` in Vault (as named by Vault's LIST or by the AWS secret's tag). */
  readonly vaultPath: string;
  readonly secretName: string;
  /** The Vault version the AWS secret holds now. */
  readonly version?: number;
  /** The version it held before (updated), or the tag's text when it was not a number. */
  readonly previousVersion?: string;
  /** Why (removed, kept, failed, refused). Never a value. */
  readonly detail?: string;
}

export interface VaultSyncReport {
  readonly feed: typeof FEED;
  readonly region: string;
  readonly source: string;
  readonly namePrefix: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly status: SyncStatus;
  readonly entries: readonly SyncEntry[];
  readonly counts: Readonly<Record<SyncAction, number>>;
}

export interface VaultSyncDeps {
  readonly region: string;
  readonly secretsManager: SecretsManagerClient;
  readonly sns?: SNSClient;
  /** A Vault client authenticated with `credential` (for AWS IAM: after the login). */
  connect(credential: VaultCredential): Promise<VaultKv>;
  readonly now?: () => Date;
  /** Vault and Secrets Manager calls in flight at once. @default 8 */
  readonly concurrency?: number;
}

interface AwsSecret {
  readonly entry: SecretListEntry;
  readonly tags: ReadonlyMap<string, string>;
  /** Created by this sync (the feed tag and a Vault path tag). */
  readonly owned: boolean;
  readonly replicaOf?: string;
}

type Plan =
  | {
      kind: 'create' | 'update';
      m: Mapping;
      meta: SecretMetadata;
      version: number;
      aws?: AwsSecret;
      previous?: string;
    }
  | { kind: 'unchanged'; m: Mapping; version: number; aws: AwsSecret }
  | { kind: 'gone'; m: Mapping; aws: AwsSecret; why: string }
  | { kind: 'refused'; vaultPath: string; secretName: string; why: string; aws?: AwsSecret };

const AWSCURRENT = 'AWSCURRENT';
/** Secrets Manager pages hold at most 100 entries. */
const LIST_PAGE = 100;
/** A bound on one run's Vault tree, so that a loop of folders or a huge mount cannot run the function out. */
export const MAX_VAULT_SECRETS = 5_000;

export async function runVaultSync(config: VaultSyncConfig, deps: VaultSyncDeps): Promise<VaultSyncReport> {
  const now = deps.now ?? (() => new Date());
  const started = now();
  const sm = deps.secretsManager;
  const limit = deps.concurrency ?? 8;
  let awsSecrets: AwsSecret[] = [];
  try {
    const credential = await readCredential(sm, config.credentialSecretArn, deps.region);
    awsSecrets = await listAwsSecrets(sm, config, deps.region);
    const vault = await deps.connect(credential);
    await checkToken(vault, config);
    const plans = await planSync(config, vault, awsSecrets, deps.region, started, limit);
    // Every value this run writes is read before the first write: a Vault that fails half-way changes nothing.
    const values = new Map<Plan, string>();
    const readFailures = new Map<Plan, string>();
    await mapLimit(
      plans.filter((p) => p.kind === 'create' || p.kind === 'update'),
      limit,
      async (p) => {
        if (p.kind !== 'create' && p.kind !== 'update') return;
        let data: Record<string, unknown> | undefined;
        try {
          data = await readData(vault, config, p.m, p.version);
        } catch (error) {
          readFailures.set(p, await denial(error, vault, config, `version ${p.version}`));
          return;
        }
        if (data === undefined)
          readFailures.set(
            p,
            `version ${p.version} was deleted or destroyed while this run read it; the next run applies the "${config.removed}" policy`,
          );
        else values.set(p, JSON.stringify(data));
      },
    );
    const entries = await mapLimit(plans, limit, (p) =>
      apply(p, { config, sm, region: deps.region, values, readFailures, at: started }),
    );
    const status: SyncStatus = entries.some((e) => e.action === 'failed' || e.action === 'refused')
      ? 'failed'
      : 'ok';
    const report = finish(config, deps.region, started, now(), status, entries);
    if (status === 'failed') await notify(deps.sns, config, report, undefined);
    return report;
  } catch (error) {
    const e = error instanceof LifeboatError ? error : toLifeboatError(error, 'Vault sync');
    // The run stopped before writing anything: every secret it owns records the failed attempt (tags only).
    const entries: SyncEntry[] = [];
    const ours = awsSecrets.filter(
      (s) => s.owned && !s.replicaOf && 'rel' in relOfTag(config, s.tags.get(VAULT_PATH_TAG) ?? ''),
    );
    for (const aws of ours) {
      await recordStatus(sm, aws, config, started, 'failed').catch(() => undefined);
      entries.push({
        action: 'failed',
        vaultPath: aws.tags.get(VAULT_PATH_TAG) ?? '?',
        secretName: aws.entry.Name ?? '?',
        detail: e.message,
      });
    }
    const report = finish(config, deps.region, started, now(), 'failed', entries);
    await notify(deps.sns, config, report, e).catch(() => undefined);
    throw e;
  }
}

/** Thrown when a run ends with failed or refused secrets (after the others were synced and recorded). */
export function failureOf(report: VaultSyncReport): SecretFeedError | undefined {
  const failures = report.entries
    .filter((e) => e.action === 'failed' || e.action === 'refused')
    .map((e) => `${e.vaultPath} -> ${e.secretName}: ${e.action}: ${e.detail ?? ''}`);
  return failures.length
    ? new SecretFeedError(
        `Vault sync of ${report.source}: ${failures.length} secret(s) not synced: ${failures.join('; ')}`,
        failures,
      )
    : undefined;
}

async function readCredential(
  sm: SecretsManagerClient,
  secretId: string,
  region: string,
): Promise<VaultCredential> {
  let value: string | undefined;
  try {
    value = (await sm.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
  } catch (error) {
    throw toLifeboatError(error, `GetSecretValue of the Vault credential ${secretId} in ${region}`);
  }
  return parseCredential(value, secretId);
}

async function checkToken(vault: VaultKv, config: VaultSyncConfig): Promise<void> {
  try {
    await vault.lookupSelf();
  } catch (error) {
    if (error instanceof VaultRequestError && (error.status === 403 || error.status === 401)) {
      throw new VaultAuthError(
        `Vault at ${config.vaultAddress} refused the credential in ${config.credentialSecretArn} (${error.status}: ${error.vaultErrors.join('; ') || 'permission denied'}): the token is expired, revoked or unknown. Nothing was changed; put a valid read-only token in that secret`,
      );
    }
    throw error;
  }
}

/**
 * A 403 on one path: the token is asked about itself first. Refused too → it expired or was revoked mid-run
 * (VaultAuthError, the run stops before any write); valid → its policy does not cover that path, which is that
 * secret's failure alone. Anything else is thrown as it is.
 */
async function denial(
  error: unknown,
  vault: VaultKv,
  config: VaultSyncConfig,
  what: string,
): Promise<string> {
  if (!(error instanceof VaultRequestError) || error.status !== 403) throw error;
  await checkToken(vault, config);
  return `Vault denied reading ${what} (403 ${error.vaultErrors.join('; ') || 'permission denied'}): the token's policy does not cover this path; left as it is`;
}

async function listAwsSecrets(
  sm: SecretsManagerClient,
  config: VaultSyncConfig,
  region: string,
): Promise<AwsSecret[]> {
  const out: AwsSecret[] = [];
  let token: string | undefined;
  do {
    let page: ListSecretsCommandOutput;
    try {
      page = await sm.send(
        new ListSecretsCommand({
          // `name` matches by prefix (docs/aws/secrets-manager-list-secrets.md): only this sync's names.
          Filters: [{ Key: 'name', Values: [config.namePrefix] }],
          IncludePlannedDeletion: true,
          MaxResults: LIST_PAGE,
          ...(token ? { NextToken: token } : {}),
        }),
      );
    } catch (error) {
      throw toLifeboatError(error, `ListSecrets under ${config.namePrefix} in ${region}`);
    }
    for (const entry of page.SecretList ?? []) {
      // The filter is a prefix match, checked again: a server that matched loosely must not widen the scope.
      if (!entry.Name?.startsWith(config.namePrefix)) continue;
      const tags = new Map((entry.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
      const replicaOf =
        entry.PrimaryRegion && entry.PrimaryRegion !== region ? entry.PrimaryRegion : undefined;
      out.push({
        entry,
        tags,
        owned: tags.get(FEED_TAG) === FEED && tags.has(VAULT_PATH_TAG),
        ...(replicaOf ? { replicaOf } : {}),
      });
    }
    token = page.NextToken;
  } while (token);
  return out;
}

/** Every secret under the prefix: folders (keys ending in `/`) are listed in turn. */
async function listVault(
  vault: VaultKv,
  config: VaultSyncConfig,
  limit: number,
): Promise<{ rels: string[]; refused: { key: string; why: string }[] }> {
  const rels: string[] = [];
  const refused: { key: string; why: string }[] = [];
  let folders = [''];
  while (folders.length) {
    const next: string[] = [];
    const listed = await mapLimit(folders, limit, async (folder) => ({
      folder,
      keys: await vault.list(config.mount, `${config.prefix}/${folder}`),
    }));
    for (const { folder, keys } of listed) {
      for (const key of keys) {
        const isFolder = key.endsWith('/');
        const rel = `${folder}${isFolder ? key.slice(0, -1) : key}`;
        const m = mapping(config, rel);
        if ('problem' in m) {
          refused.push({ key: `${config.mount}/${config.prefix}/${folder}${key}`, why: m.problem });
          continue;
        }
        if (isFolder) next.push(`${rel}/`);
        else rels.push(rel);
        if (rels.length > MAX_VAULT_SECRETS) {
          throw new ConfigurationError(
            `more than ${MAX_VAULT_SECRETS} secrets under ${config.mount}/${config.prefix}/: narrow the prefix or split it into several syncs`,
          );
        }
      }
    }
    folders = next;
  }
  return { rels, refused };
}

async function planSync(
  config: VaultSyncConfig,
  vault: VaultKv,
  awsSecrets: readonly AwsSecret[],
  region: string,
  at: Date,
  limit: number,
): Promise<Plan[]> {
  const { rels, refused } = await listVault(vault, config, limit);
  if (rels.length === 0 && config.removed === 'delete') {
    const owned = awsSecrets.filter(
      (s) => s.owned && 'rel' in relOfTag(config, s.tags.get(VAULT_PATH_TAG) ?? ''),
    );
    if (owned.some((s) => s.entry.DeletedDate === undefined)) {
      // An empty prefix is more likely a wrong prefix, a restored-empty Vault or a policy that hides it than every
      // secret deleted at once: removing them all is left to a person.
      throw new ConfigurationError(
        `Vault lists nothing under ${config.mount}/${config.prefix}/, yet ${owned.length} secret(s) under ${config.namePrefix} came from there: the sync removes none of them in one sweep; check the prefix and the token's policy, or delete them by hand`,
      );
    }
  }
  const byName = new Map(awsSecrets.map((s) => [s.entry.Name ?? '', s]));
  const plans: Plan[] = refused.map((r) => ({
    kind: 'refused',
    vaultPath: r.key,
    secretName: '-',
    why: r.why,
  }));
  const metas = await mapLimit(rels, limit, async (rel) => {
    const m = (mapping(config, rel) as { mapping: Mapping }).mapping;
    try {
      return { m, meta: await vault.readMetadata(config.mount, m.vaultPath), denied: undefined };
    } catch (error) {
      // Never "gone" for a 403: that would remove a secret the token merely may not read.
      return { m, denied: await denial(error, vault, config, `its metadata`) };
    }
  });
  const seen = new Set<string>();
  for (const item of metas) {
    const { m } = item;
    seen.add(m.secretName);
    const aws = byName.get(m.secretName);
    if (item.denied !== undefined) {
      plans.push({
        kind: 'refused',
        vaultPath: m.fullPath,
        secretName: m.secretName,
        ...(aws ? { aws } : {}),
        why: item.denied,
      });
      continue;
    }
    const { meta } = item as { meta: SecretMetadata | undefined };
    const live = meta ? liveVersion(meta, at) : { why: 'its metadata is gone' };
    if (aws?.replicaOf) {
      plans.push({
        kind: 'refused',
        vaultPath: m.fullPath,
        secretName: m.secretName,
        aws,
        why: `${m.secretName} in ${region} is a replica of a secret in ${aws.replicaOf}: a replica cannot be written; run the sync in ${aws.replicaOf}`,
      });
      continue;
    }
    if (aws && !aws.owned) {
      plans.push({
        kind: 'refused',
        vaultPath: m.fullPath,
        secretName: m.secretName,
        aws,
        why: `${m.secretName} exists and was not created by the Vault sync (no ${FEED_TAG}=${FEED} and ${VAULT_PATH_TAG} tags): left as it is`,
      });
      continue;
    }
    if (aws && aws.tags.get(VAULT_PATH_TAG) !== m.fullPath) {
      plans.push({
        kind: 'refused',
        vaultPath: m.fullPath,
        secretName: m.secretName,
        aws,
        why: `${m.secretName} is tagged as the copy of ${aws.tags.get(VAULT_PATH_TAG)}, not of ${m.fullPath}: left as it is`,
      });
      continue;
    }
    if ('why' in live) {
      if (aws) plans.push({ kind: 'gone', m, aws, why: live.why });
      continue;
    }
    if (!aws) {
      plans.push({ kind: 'create', m, meta: meta as SecretMetadata, version: live.version });
      continue;
    }
    const tagged = aws.tags.get(VAULT_VERSION_TAG);
    const same =
      tagged === String(live.version) &&
      aws.tags.get(VAULT_CREATED_TAG) === (meta as SecretMetadata).createdTime &&
      aws.entry.DeletedDate === undefined;
    plans.push(
      same
        ? { kind: 'unchanged', m, version: live.version, aws }
        : {
            kind: 'update',
            m,
            meta: meta as SecretMetadata,
            version: live.version,
            aws,
            previous: tagged ?? '(no version tag)',
          },
    );
  }
  // Secrets the sync created whose Vault secret is no longer listed.
  for (const aws of awsSecrets) {
    const name = aws.entry.Name ?? '';
    if (seen.has(name) || !aws.owned) continue;
    const pathTag = aws.tags.get(VAULT_PATH_TAG) ?? '';
    const rel = relOfTag(config, pathTag);
    if ('problem' in rel) {
      // Another sync's secret under an overlapping name prefix, or a hand-edited tag: never removed by this one.
      plans.push({
        kind: 'refused',
        vaultPath: pathTag,
        secretName: name,
        aws,
        why: `${name}: ${rel.problem}; left as it is`,
      });
      continue;
    }
    const m = mapping(config, rel.rel);
    if ('problem' in m || m.mapping.secretName !== name) {
      plans.push({
        kind: 'refused',
        vaultPath: pathTag,
        secretName: name,
        aws,
        why: `${name} is not the name this sync gives ${pathTag}; left as it is`,
      });
      continue;
    }
    if (aws.replicaOf) {
      plans.push({
        kind: 'refused',
        vaultPath: pathTag,
        secretName: name,
        aws,
        why: `${name} is a replica of a secret in ${aws.replicaOf}: left as it is`,
      });
      continue;
    }
    plans.push({ kind: 'gone', m: m.mapping, aws, why: 'it is no longer in Vault' });
  }
  return plans;
}

/** The version to sync, or why there is none (deleted or destroyed current version, or no version at all). */
export function liveVersion(meta: SecretMetadata, at: Date): { version: number } | { why: string } {
  const n = meta.currentVersion;
  if (n === 0) return { why: 'it has no version in Vault' };
  const v = meta.versions[String(n)];
  if (!v) return { why: `its current version ${n} has no metadata` };
  if (v.destroyed) return { why: `its current version ${n} was destroyed in Vault` };
  // A deletion_time in the future is one scheduled by delete_version_after: the version is still readable.
  if (v.deletionTime && new Date(v.deletionTime).getTime() <= at.getTime()) {
    return { why: `its current version ${n} was deleted in Vault (${v.deletionTime})` };
  }
  return { version: n };
}

async function readData(vault: VaultKv, config: VaultSyncConfig, m: Mapping, version: number) {
  return vault.readVersion(config.mount, m.vaultPath, version);
}

/**
 * The ClientRequestToken of Vault version `version` of `m`: the same for every run, so a retried or overlapping run
 * finds its version there already and PutSecretValue does nothing (docs/design/vault-sync.md, "Idempotence").
 */
export function requestToken(m: Mapping, meta: SecretMetadata, version: number): string {
  const h = createHash('sha256').update(`${m.fullPath}\n${meta.createdTime}\n${version}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

interface ApplyContext {
  readonly config: VaultSyncConfig;
  readonly sm: SecretsManagerClient;
  readonly region: string;
  readonly values: ReadonlyMap<Plan, string>;
  readonly readFailures: ReadonlyMap<Plan, string>;
  readonly at: Date;
}

async function apply(p: Plan, ctx: ApplyContext): Promise<SyncEntry> {
  const { config, sm, region, at } = ctx;
  if (p.kind === 'refused') {
    // A secret the sync owns for this very path that it could not sync this time: its record says so.
    if (p.aws?.owned && !p.aws.replicaOf && p.aws.tags.get(VAULT_PATH_TAG) === p.vaultPath) {
      await recordStatus(sm, p.aws, config, at, 'failed').catch(() => undefined);
    }
    return { action: 'refused', vaultPath: p.vaultPath, secretName: p.secretName, detail: p.why };
  }
  const base = { vaultPath: p.m.fullPath, secretName: p.m.secretName };
  try {
    switch (p.kind) {
      case 'unchanged':
        await recordStatus(sm, p.aws, config, at, 'ok');
        return { ...base, action: 'unchanged', version: p.version };
      case 'gone':
        return await removeGone(p, ctx);
      case 'create':
      case 'update': {
        const failure = ctx.readFailures.get(p);
        const value = ctx.values.get(p);
        if (failure !== undefined || value === undefined) {
          if (p.aws) await recordStatus(sm, p.aws, config, at, 'failed');
          return { ...base, action: 'failed', version: p.version, detail: failure ?? 'no value read' };
        }
        const token = requestToken(p.m, p.meta, p.version);
        const tags = [
          { Key: VAULT_PATH_TAG, Value: p.m.fullPath },
          { Key: VAULT_VERSION_TAG, Value: String(p.version) },
          { Key: VAULT_CREATED_TAG, Value: p.meta.createdTime },
          ...feedTags({ feed: FEED, lastSync: at, status: 'ok', intervalSeconds: config.intervalSeconds }),
        ];
        let aws = p.aws;
        if (p.kind === 'create') {
          if (await create(sm, config, region, p.m, value, token, tags)) {
            return { ...base, action: 'created', version: p.version };
          }
          // ListSecrets lags up to five minutes (docs/aws/secrets-manager-list-secrets.md): the secret is there.
          aws = await describeExisting(sm, p.m, region);
        }
        if (!aws) throw new ConfigurationError(`${p.m.secretName}: nothing to update`);
        if (aws.entry.DeletedDate !== undefined) {
          // The sync scheduled it for deletion when Vault lost it; Vault has it again.
          await call(
            () => sm.send(new RestoreSecretCommand({ SecretId: aws.entry.ARN })),
            `RestoreSecret ${p.m.secretName} in ${region}`,
          );
        }
        const target = aws;
        const before = target.tags.get(VAULT_VERSION_TAG);
        await put(sm, target, p.m, value, token, region);
        await call(
          () => sm.send(new TagResourceCommand({ SecretId: target.entry.ARN, Tags: tags })),
          `TagResource ${p.m.secretName} in ${region}`,
        );
        if (p.kind === 'create' && before === String(p.version)) {
          // Written by an earlier run that the lagging list did not show yet: the same version, nothing new.
          return {
            ...base,
            action: 'unchanged',
            version: p.version,
            detail: 'not listed yet by ListSecrets; already current',
          };
        }
        return {
          ...base,
          action: 'updated',
          version: p.version,
          previousVersion: p.previous ?? before ?? '(no version tag)',
        };
      }
    }
  } catch (error) {
    const e = error instanceof LifeboatError ? error : toLifeboatError(error, p.m.secretName);
    if (p.kind !== 'create' && p.aws)
      await recordStatus(sm, p.aws, config, at, 'failed').catch(() => undefined);
    return { ...base, action: 'failed', detail: e.message };
  }
}

async function create(
  sm: SecretsManagerClient,
  config: VaultSyncConfig,
  region: string,
  m: Mapping,
  value: string,
  token: string,
  tags: { Key: string; Value: string }[],
): Promise<boolean> {
  try {
    await sm.send(
      new CreateSecretCommand({
        Name: m.secretName,
        ClientRequestToken: token,
        SecretString: value,
        Description: `Copy of Vault ${m.fullPath}, kept current by lifeboat's Vault sync`,
        // The ownership tags come with the secret: a created secret is never left without them.
        Tags: tags,
        ...(config.kmsKeyId ? { KmsKeyId: config.kmsKeyId } : {}),
        ...(config.replicaRegions.length
          ? {
              AddReplicaRegions: config.replicaRegions.map((r) => ({
                Region: r.region,
                ...(r.kmsKeyId ? { KmsKeyId: r.kmsKeyId } : {}),
              })),
            }
          : {}),
      }),
    );
    return true;
  } catch (error) {
    if (awsErrorName(error) === 'ResourceExistsException') return false;
    throw toLifeboatError(error, `CreateSecret ${m.secretName} in ${region}`);
  }
}

/**
 * A secret CreateSecret found already there: written as an existing one only when it is the sync's own copy of this
 * path and not a replica; otherwise refused, nothing overwritten.
 */
async function describeExisting(sm: SecretsManagerClient, m: Mapping, region: string): Promise<AwsSecret> {
  const d = await call(
    () => sm.send(new DescribeSecretCommand({ SecretId: m.secretName })),
    `DescribeSecret ${m.secretName} in ${region}`,
  );
  const tags = new Map((d.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  const replicaOf = d.PrimaryRegion && d.PrimaryRegion !== region ? d.PrimaryRegion : undefined;
  if (
    replicaOf ||
    tags.get(FEED_TAG) !== FEED ||
    tags.get(VAULT_PATH_TAG) !== m.fullPath ||
    d.DeletedDate !== undefined
  ) {
    throw new ConfigurationError(
      `CreateSecret ${m.secretName} in ${region}: a secret of that name exists that is not this sync's copy of ${m.fullPath}${replicaOf ? ` (a replica of one in ${replicaOf})` : ''}; nothing was overwritten`,
    );
  }
  return {
    entry: { ARN: d.ARN, Name: d.Name, Tags: d.Tags, SecretVersionsToStages: d.VersionIdsToStages },
    tags,
    owned: true,
  };
}

async function put(
  sm: SecretsManagerClient,
  aws: AwsSecret,
  m: Mapping,
  value: string,
  token: string,
  region: string,
): Promise<void> {
  let stages: string[] | undefined;
  try {
    stages = (
      await sm.send(
        new PutSecretValueCommand({
          SecretId: aws.entry.ARN,
          ClientRequestToken: token,
          SecretString: value,
        }),
      )
    ).VersionStages;
  } catch (error) {
    if (awsErrorName(error) === 'ResourceExistsException') {
      throw new ConfigurationError(
        `${m.secretName} in ${region} already has version ${token} with another value (written by hand?); left as it is`,
      );
    }
    throw toLifeboatError(error, `PutSecretValue ${m.secretName} in ${region}`);
  }
  if (!(stages ?? []).includes(AWSCURRENT)) {
    // The version was there already without AWSCURRENT (its label was moved away since): move it back.
    const holder = Object.entries(aws.entry.SecretVersionsToStages ?? {}).find(([, s]) =>
      s.includes(AWSCURRENT),
    )?.[0];
    await call(
      () =>
        sm.send(
          new UpdateSecretVersionStageCommand({
            SecretId: aws.entry.ARN,
            VersionStage: AWSCURRENT,
            MoveToVersionId: token,
            ...(holder && holder !== token ? { RemoveFromVersionId: holder } : {}),
          }),
        ),
      `UpdateSecretVersionStage ${m.secretName} in ${region}`,
    );
  }
}

async function removeGone(p: Extract<Plan, { kind: 'gone' }>, ctx: ApplyContext): Promise<SyncEntry> {
  const { config, sm, region, at } = ctx;
  const base = { vaultPath: p.m.fullPath, secretName: p.m.secretName, ...versionOf(p.aws) };
  if (p.aws.entry.DeletedDate !== undefined) {
    // Removed by an earlier run: nothing to do, and not counted as removed again.
    return { ...base, action: 'unchanged', detail: `${p.why}; scheduled for deletion already` };
  }
  if (config.removed === 'keep') {
    await recordStatus(sm, p.aws, config, at, 'ok');
    return { ...base, action: 'kept', detail: `${p.why}; policy keep: the secret keeps its last value` };
  }
  // ListSecrets does not say whether a primary has replicas; DescribeSecret does (ReplicationStatus).
  const described = await call(
    () => sm.send(new DescribeSecretCommand({ SecretId: p.aws.entry.ARN })),
    `DescribeSecret ${p.m.secretName} in ${region}`,
  );
  if ((described.ReplicationStatus ?? []).length > 0) {
    // A replicated secret is a failover copy: removing its replicas deletes them at once, without a recovery window.
    await recordStatus(sm, p.aws, config, at, 'ok');
    return {
      ...base,
      action: 'kept',
      detail: `${p.why}; policy delete, but it is replicated to other Regions: remove it by hand (RemoveRegionsFromReplication, then DeleteSecret)`,
    };
  }
  await call(
    () =>
      sm.send(
        new DeleteSecretCommand({
          SecretId: p.aws.entry.ARN,
          RecoveryWindowInDays: config.recoveryWindowDays,
        }),
      ),
    `DeleteSecret ${p.m.secretName} in ${region}`,
  );
  return {
    ...base,
    action: 'removed',
    detail: `${p.why}; policy delete: scheduled for deletion in ${config.recoveryWindowDays} days (RestoreSecret undoes it)`,
  };
}

function versionOf(aws: AwsSecret): { version?: number } {
  const n = Number(aws.tags.get(VAULT_VERSION_TAG));
  return Number.isInteger(n) && n > 0 ? { version: n } : {};
}

async function recordStatus(
  sm: SecretsManagerClient,
  aws: AwsSecret,
  config: VaultSyncConfig,
  at: Date,
  status: SyncStatus,
): Promise<void> {
  if (aws.replicaOf || aws.entry.DeletedDate !== undefined) return;
  await call(
    () =>
      sm.send(
        new TagResourceCommand({
          SecretId: aws.entry.ARN,
          Tags: feedTags({ feed: FEED, lastSync: at, status, intervalSeconds: config.intervalSeconds }),
        }),
      ),
    `TagResource (last-sync record) ${aws.entry.Name}`,
  );
}

async function call<T>(run: () => Promise<T>, what: string): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw toLifeboatError(error, what);
  }
}

function finish(
  config: VaultSyncConfig,
  region: string,
  started: Date,
  ended: Date,
  status: SyncStatus,
  entries: SyncEntry[],
): VaultSyncReport {
  const counts = { created: 0, updated: 0, unchanged: 0, removed: 0, kept: 0, failed: 0, refused: 0 };
  for (const e of entries) counts[e.action]++;
  return {
    feed: FEED,
    region,
    source: `${config.vaultAddress.replace(/\/$/, '')} ${config.mount}/${config.prefix}/`,
    namePrefix: config.namePrefix,
    startedAt: started.toISOString(),
    endedAt: ended.toISOString(),
    status,
    entries,
    counts,
  };
}

/** A failure report to the topic: paths, names, versions and reasons, never a value. */
async function notify(
  sns: SNSClient | undefined,
  config: VaultSyncConfig,
  report: VaultSyncReport,
  error: LifeboatError | undefined,
): Promise<void> {
  if (!sns || !config.topicArn) return;
  const failed = report.entries.filter((e) => e.action === 'failed' || e.action === 'refused');
  const message = {
    feed: FEED,
    region: report.region,
    source: report.source,
    namePrefix: report.namePrefix,
    at: report.startedAt,
    ...(error ? { error: { name: error.name, message: error.message } } : {}),
    counts: report.counts,
    failed,
  };
  try {
    await sns.send(
      new PublishCommand({
        TopicArn: config.topicArn,
        Subject: `lifeboat Vault sync failed (${report.region})`.slice(0, 100),
        Message: JSON.stringify(message, null, 2),
      }),
    );
  } catch (e) {
    throw toLifeboatError(e, `Publish to ${config.topicArn}`);
  }
}

/** `fn` over `items`, at most `limit` at once, results in order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(workers);
  return out;
}
