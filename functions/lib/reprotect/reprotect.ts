import { createHash } from 'node:crypto';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  AddTagsToResourceCommand,
  CreateDBInstanceReadReplicaCommand,
  type CreateDBInstanceReadReplicaCommandInput,
  type DBInstance,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import {
  DescribeSecretCommand,
  type DescribeSecretResponse,
  ReplicateSecretToRegionsCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { clientsFor } from '../clients.js';
import { checkDatabaseReadiness, DEAD_END_STATUSES, describeInstance } from '../database.js';
import {
  awsErrorName,
  ConfigurationError,
  InputInvalidError,
  ResourceBusyError,
  ResourceMissingError,
  toLifeboatError,
} from '../errors.js';
import { logger } from '../observability.js';
import { partitionOf, recoverySecretId, type UnitPlan } from '../plan.js';
import type { DetailValue, PollResult, PreflightCheck, RunContext, UnitStepInput } from '../types.js';
import { reverseRun, reverseUnit } from './reverse-plan.js';
import '../sdk/rds.js';
import '../sdk/secrets-manager.js';
import '../sdk/cloudwatch.js';
import { exercised } from '../exercised.js';
import { instanceDatabase, isAuroraUnit } from '../plan-names.js';
import { checkAuroraReprotectReadiness, reprotectAurora } from './aurora.js';
import { planReprotect } from './dry-run.js';

/**
 * Re-protect (docs/design/reprotect.md): after a failover, once the old Region is back, the stack in the Region that now
 * holds the primary (the plan's recovery Region, "current" here) makes the unit safe again, towards the old Region
 * ("old"):
 *
 * - the promoted secret is replicated back to the old Region, overwriting the stale secret of the same name there
 *   (ReplicateSecretToRegions with ForceOverwriteReplicaSecret: docs/aws/secrets-manager-replication.md);
 * - the old primary is tagged and renamed, never deleted: it may hold writes that never reached the replica;
 * - a cross-Region read replica of the current primary is made in the old Region under the old primary's name, so that
 *   the reversed plan (reverse-plan.ts) names the instances as they were, and a failback puts the CNAME back on the
 *   original endpoint name.
 *
 * One function does one pass: it reads everything, makes the next call(s) that are due, and says whether the unit is
 * re-protected; the state machine calls it again (bounded) until it is. Each pass decides from what it reads, never from
 * what an earlier pass did, so a crash anywhere and a re-run converge, and a pass after success changes nothing.
 */

/** Tag on the retired old primary: `<plan>/<unit>`, what it was the primary of. */
export const RETIRED_TAG = 'lifeboat:retired-primary';
/** Tag on the retired old primary: the name it had. */
export const RETIRED_FROM_TAG = 'lifeboat:retired-from';
/** Tag on the retired old primary: the run that retired it. */
export const RETIRED_BY_TAG = 'lifeboat:retired-by';

/** The tags a renamed old primary (instance or cluster) carries: whose it is, its name before, the run that renamed it. */
export function retiredTags(run: RunContext, unit: UnitPlan, id: string): { Key: string; Value: string }[] {
  return [
    { Key: RETIRED_TAG, Value: owner(run, unit) },
    { Key: RETIRED_FROM_TAG, Value: id },
    { Key: RETIRED_BY_TAG, Value: run.runId.slice(0, 256) },
  ];
}
/** Tag on the replica re-protect makes: `<plan>/<unit>`; the only instances it waits on. */
export const REPROTECT_TAG = 'lifeboat:reprotect-replica';
/** Tag on that replica: where the old primary went (its new identifier, or `none`). */
export const OLD_PRIMARY_TAG = 'lifeboat:old-primary';

export interface RegionClients {
  readonly rds: RDSClient;
  readonly secretsManager: SecretsManagerClient;
  readonly cloudwatch: CloudWatchClient;
}

export interface ReprotectDeps {
  /** The Region that holds the primary now (the plan's recovery Region): the stack's own. */
  readonly current: RegionClients;
  /** The old Region (the plan's primary Region), back after the disaster. */
  readonly old: RegionClients;
  readonly now?: () => Date;
}

export function reprotectDeps(run: Pick<RunContext, 'primaryRegion' | 'recoveryRegion'>): ReprotectDeps {
  const current = clientsFor(run.recoveryRegion);
  const old = clientsFor(run.primaryRegion);
  return {
    current: { rds: current.rds, secretsManager: current.secretsManager, cloudwatch: current.cloudwatch },
    old: { rds: old.rds, secretsManager: old.secretsManager, cloudwatch: old.cloudwatch },
  };
}

export interface ReprotectPollInput extends UnitStepInput {
  attempt: number;
}

const DB_NOT_FOUND = new Set(['DBInstanceNotFoundFault', 'DBInstanceNotFound']);
const DB_EXISTS = new Set(['DBInstanceAlreadyExistsFault', 'DBInstanceAlreadyExists']);
const DB_INVALID_STATE = new Set(['InvalidDBInstanceStateFault', 'InvalidDBInstanceState']);
export const DEFAULT_SECRET_KEY = 'alias/aws/secretsmanager';
/** Seconds between passes: a cross-Region replica takes many minutes (a snapshot crosses Regions); a rename minutes. */
const SLOW_POLL_SECONDS = 30;
const SHORT_POLL_SECONDS = 10;

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The name the old primary is renamed to: `<its name>-old-<8 hex>`, the hex from the current primary's DbiResourceId.
 * The same for every re-run of one re-protect (the current primary does not change), and new for the next round trip
 * (a new failover promotes another instance), so an earlier retired primary never blocks a later one. Within RDS's 63
 * characters, with no trailing or double hyphen.
 */
export function retiredName(primaryInstanceId: string, currentPrimaryResourceId: string): string {
  const head = primaryInstanceId
    .toLowerCase()
    .slice(0, 63 - 13)
    .replace(/-+$/, '');
  return `${head}-old-${sha(currentPrimaryResourceId).slice(0, 8)}`;
}

export const owner = (run: RunContext, unit: UnitPlan) => `${run.planName}/${unit.name}`;

function tagValue(instance: DBInstance | undefined, key: string): string | undefined {
  return instance?.TagList?.find((t) => t.Key === key)?.Value;
}

export function sameArn(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export function instanceArn(region: string, account: string, id: string): string {
  return `arn:${partitionOf(region)}:rds:${region}:${account}:db:${id.toLowerCase()}`;
}

export async function findInstance(
  rds: RDSClient,
  id: string,
  region: string,
): Promise<DBInstance | undefined> {
  try {
    return (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances?.[0];
  } catch (error) {
    if (DB_NOT_FOUND.has(awsErrorName(error) ?? '')) return undefined;
    throw toLifeboatError(error, `DescribeDBInstances on ${id} in ${region}`);
  }
}

export async function findSecret(
  sm: SecretsManagerClient,
  id: string,
  region: string,
): Promise<DescribeSecretResponse | undefined> {
  try {
    return await sm.send(new DescribeSecretCommand({ SecretId: id }));
  } catch (error) {
    if (awsErrorName(error) === 'ResourceNotFoundException') return undefined;
    throw toLifeboatError(error, `DescribeSecret on ${id} in ${region}`);
  }
}

function assertReprotect(run: RunContext, step: string): void {
  if (run.mode !== 'reprotect') {
    throw new InputInvalidError(
      `${step}: run.mode is "${run.mode}"; re-protect runs only in mode reprotect`,
      ['run.mode'],
    );
  }
}

/** The current primary: the promoted replica, standalone. Still a replica means no failover happened. */
export async function currentPrimary(
  deps: ReprotectDeps,
  run: RunContext,
  unit: UnitPlan,
): Promise<DBInstance> {
  const id = instanceDatabase(unit, 're-protect').replicaInstanceId;
  const instance = await describeInstance(deps.current.rds, id);
  if (instance.ReadReplicaSourceDBInstanceIdentifier) {
    throw new ConfigurationError(
      `DB instance ${id} in ${run.recoveryRegion} is still a read replica of ${instance.ReadReplicaSourceDBInstanceIdentifier}: re-protect runs after a failover (or a switchover) has promoted it; nothing was changed`,
    );
  }
  return instance;
}

/* ---------------------------------------------------------------------------------------------- */
/* One pass                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

export interface ReprotectPass extends PollResult {
  warnings: string[];
}

/**
 * One re-protect pass for a unit. Done once the secret's replica in the old Region is InSync and the new replica there
 * is `available`, replicating from the current primary, and passes preflight's replica checks (run as the reversed plan
 * sees it: the same code, the Regions swapped).
 */
export async function reprotectUnit(deps: ReprotectDeps, input: ReprotectPollInput): Promise<ReprotectPass> {
  // A dry run of a re-protect (`of: "reprotect"`) reads the same and plans its calls (dry-run.ts).
  const dryRun = input.run.mode === 'dry-run' && exercised(input.run) === 'reprotect';
  if (!dryRun) assertReprotect(input.run, 'reprotectUnit');
  try {
    return await (dryRun ? planReprotect(deps, input) : reprotectPass(deps, input));
  } catch (error) {
    // Anything not already ours is sorted (transient or not) with its cause kept, so the state machine can match it.
    throw toLifeboatError(error, `reprotectUnit for unit ${input.unit.name}`);
  }
}

async function reprotectPass(deps: ReprotectDeps, input: ReprotectPollInput): Promise<ReprotectPass> {
  const { run, unit, attempt } = input;
  // An Aurora unit creates nothing: it waits for the old primary cluster to rejoin (aurora.ts).
  if (isAuroraUnit(unit)) return reprotectAurora(deps, { ...input, unit });
  const observedAt = (deps.now ?? (() => new Date()))().toISOString();
  const calls: string[] = [];
  const warnings: string[] = [];
  const primary = await currentPrimary(deps, run, unit);
  const primaryStatus = primary.DBInstanceStatus ?? 'unknown';
  if (DEAD_END_STATUSES.has(primaryStatus)) {
    throw new ConfigurationError(
      `the current primary ${instanceDatabase(unit, 're-protect').replicaInstanceId} is "${primaryStatus}": no replica can be made of it`,
    );
  }
  const secret = await convergeSecret(deps, run, unit, calls);
  const database = await convergeDatabase(deps, run, unit, primary, calls, warnings);
  const done = secret.status === 'InSync' && database.ready;
  const status = `secret ${secret.status}, ${database.status}`;
  logger.info('re-protect pass', { unit: unit.name, attempt, status, done, calls });
  return {
    done,
    status,
    waitSeconds: done ? 0 : database.waitSeconds,
    observedAt,
    detail: {
      currentRegion: run.recoveryRegion,
      oldRegion: run.primaryRegion,
      currentPrimary: instanceDatabase(unit, 're-protect').replicaInstanceId,
      secret: recoverySecretId(unit),
      secretReplicationStatus: secret.status,
      ...database.detail,
      calls: calls.join(', ') || null,
      attempt,
    },
    warnings,
  };
}

/* ---------------------------------------------------------------------------------------------- */
/* The secret                                                                                      */
/* ---------------------------------------------------------------------------------------------- */

/**
 * The promoted secret, replicated back to the old Region. The stale secret of the same name there (the pre-failover
 * primary, standalone since the failover stopped replication) is overwritten by the replica: that is what
 * ForceOverwriteReplicaSecret is for (docs/aws/secrets-manager-replication.md, "Replicating back after a failover").
 * The replica is encrypted with the key the stale secret used in that Region, when it was not the default key.
 * Aurora units share it (aurora.ts).
 */
export async function convergeSecret(
  deps: ReprotectDeps,
  run: RunContext,
  unit: UnitPlan,
  calls: string[],
): Promise<{ status: string }> {
  const id = recoverySecretId(unit);
  const current = await findSecret(deps.current.secretsManager, id, run.recoveryRegion);
  if (!current || current.DeletedDate) {
    throw new ResourceMissingError(`secret ${id} does not exist in ${run.recoveryRegion} (secret.id)`);
  }
  if (current.PrimaryRegion && current.PrimaryRegion !== run.recoveryRegion) {
    throw new ConfigurationError(
      `secret ${id} in ${run.recoveryRegion} is still a replica of ${current.PrimaryRegion}: re-protect runs after the failover promoted it; nothing was changed`,
    );
  }
  const link = current.ReplicationStatus?.find((r) => r.Region === run.primaryRegion);
  if (link?.Status === 'Failed') {
    throw new ConfigurationError(
      `replication of secret ${id} to ${run.primaryRegion} failed${link.StatusMessage ? `: ${link.StatusMessage}` : ''}; remove the replica Region (RemoveRegionsFromReplication) after finding the cause, then re-run`,
    );
  }
  if (link) return { status: link.Status ?? 'InProgress' };
  const name = current.Name ?? id;
  const stale = await findSecret(deps.old.secretsManager, name, run.primaryRegion);
  if (stale?.PrimaryRegion && stale.PrimaryRegion !== run.recoveryRegion) {
    throw new ConfigurationError(
      `secret ${name} in ${run.primaryRegion} is a replica of ${stale.PrimaryRegion}, not the plan's: lifeboat does not overwrite it`,
    );
  }
  const key = stale?.KmsKeyId && stale.KmsKeyId !== DEFAULT_SECRET_KEY ? stale.KmsKeyId : undefined;
  try {
    await deps.current.secretsManager.send(
      new ReplicateSecretToRegionsCommand({
        SecretId: current.ARN ?? id,
        AddReplicaRegions: [{ Region: run.primaryRegion, ...(key ? { KmsKeyId: key } : {}) }],
        ForceOverwriteReplicaSecret: true,
      }),
    );
  } catch (error) {
    throw toLifeboatError(error, `ReplicateSecretToRegions ${name} to ${run.primaryRegion}`);
  }
  calls.push('ReplicateSecretToRegions');
  return { status: 'InProgress' };
}

/* ---------------------------------------------------------------------------------------------- */
/* The old primary and the new replica                                                             */
/* ---------------------------------------------------------------------------------------------- */

interface DatabaseState {
  ready: boolean;
  status: string;
  waitSeconds: number;
  detail: Record<string, DetailValue>;
}

/** What the report says of the old primary: where it is, and what RDS tells of how far its log reached. */
function oldPrimaryDetail(
  originalId: string,
  retired: DBInstance | undefined,
  retiredId: string | undefined,
): Record<string, DetailValue> {
  return {
    oldPrimary: originalId,
    oldPrimaryNowNamed: retiredId ?? null,
    oldPrimaryStatus: retired?.DBInstanceStatus ?? null,
    // The latest time RDS can restore the old primary to: its log reached at least this far. Writes after the
    // failover's start may be in it; the rows themselves are read on the database (docs/design/reprotect.md).
    oldPrimaryLatestRestorableTime: retired?.LatestRestorableTime?.toISOString() ?? null,
  };
}

async function convergeDatabase(
  deps: ReprotectDeps,
  run: RunContext,
  unit: UnitPlan,
  primary: DBInstance,
  calls: string[],
  warnings: string[],
): Promise<DatabaseState> {
  const rds = deps.old.rds;
  const oldRegion = run.primaryRegion;
  const originalId = instanceDatabase(unit, 're-protect').primaryInstanceId;
  const currentArn =
    primary.DBInstanceArn ??
    instanceArn(run.recoveryRegion, run.account, instanceDatabase(unit, 're-protect').replicaInstanceId);
  const retiredId = retiredName(originalId, primary.DbiResourceId ?? currentArn);
  const [atOriginal, atRetired] = await Promise.all([
    findInstance(rds, originalId, oldRegion),
    findInstance(rds, retiredId, oldRegion),
  ]);
  const wait = (status: string, waitSeconds: number, extra: Record<string, DetailValue> = {}) => ({
    ready: false,
    status,
    waitSeconds,
    detail: { ...oldPrimaryDetail(originalId, atRetired, atRetired ? retiredId : undefined), ...extra },
  });

  if (atOriginal) {
    const source = atOriginal.ReadReplicaSourceDBInstanceIdentifier;
    if (source && sameArn(source, currentArn)) {
      if (tagValue(atOriginal, REPROTECT_TAG) !== owner(run, unit)) {
        throw new ConfigurationError(
          `DB instance ${originalId} in ${oldRegion} is a replica of the current primary but was not made by lifeboat (no ${REPROTECT_TAG}=${owner(run, unit)} tag); lifeboat neither adopts nor deletes it`,
        );
      }
      return replicaState(deps, run, unit, atOriginal, atRetired, retiredId, warnings);
    }
    if (source) {
      throw new ConfigurationError(
        `DB instance ${originalId} in ${oldRegion} is a read replica of ${source}, not the old primary and not a replica of ${currentArn}; nothing was changed`,
      );
    }
    // The old primary, under its name. Renamed (never deleted) so that the new replica can take the name.
    if (atRetired) {
      throw new ConfigurationError(
        `cannot rename the old primary ${originalId} in ${oldRegion} to ${retiredId}: an instance has that name already`,
      );
    }
    const status = atOriginal.DBInstanceStatus ?? 'unknown';
    const pendingName = atOriginal.PendingModifiedValues?.DBInstanceIdentifier;
    if (status === 'renaming' || pendingName?.toLowerCase() === retiredId) {
      return wait(`old primary renaming to ${retiredId}`, SHORT_POLL_SECONDS, {
        oldPrimaryNowNamed: retiredId,
      });
    }
    if (DEAD_END_STATUSES.has(status)) {
      throw new ConfigurationError(
        `the old primary ${originalId} in ${oldRegion} is "${status}": RDS cannot rename it from this status (a stopped instance must be started first); lifeboat never deletes it`,
      );
    }
    if (status !== 'available') return wait(`old primary ${status}`, SHORT_POLL_SECONDS);
    await retireOldPrimary(rds, run, unit, atOriginal, retiredId);
    calls.push('AddTagsToResource', 'ModifyDBInstance');
    return wait(`old primary renaming to ${retiredId}`, SHORT_POLL_SECONDS, {
      oldPrimaryNowNamed: retiredId,
    });
  }

  // The name is free: the old primary was renamed (or is gone). Make the replica under the old primary's name.
  if (!atRetired) {
    warnings.push(
      `the old primary ${originalId} is not in ${oldRegion} under its name nor as ${retiredId}: nothing was renamed (deleted by someone, or lost with the Region)`,
    );
  }
  const template = atRetired;
  const params = replicaParameters(run, unit, primary, currentArn, template, atRetired ? retiredId : 'none');
  try {
    await rds.send(new CreateDBInstanceReadReplicaCommand(params));
  } catch (error) {
    const name = awsErrorName(error) ?? '';
    // A retried call whose first attempt went through: the next pass finds the replica and checks its tag.
    if (DB_EXISTS.has(name)) return wait('replica being created', SHORT_POLL_SECONDS);
    if (DB_INVALID_STATE.has(name)) {
      throw new ResourceBusyError(
        `CreateDBInstanceReadReplica ${originalId} in ${oldRegion} from ${currentArn} refused for now (${name}): the source must be available with automated backups on`,
        { cause: error },
      );
    }
    throw toLifeboatError(
      error,
      `CreateDBInstanceReadReplica ${originalId} in ${oldRegion} from ${currentArn}`,
    );
  }
  calls.push('CreateDBInstanceReadReplica');
  return wait('replica creating', SLOW_POLL_SECONDS, { replica: originalId, replicaStatus: 'creating' });
}

/** Tags the old primary with what it was, then renames it, at once. Both calls are idempotent on a re-run. */
async function retireOldPrimary(
  rds: RDSClient,
  run: RunContext,
  unit: UnitPlan,
  instance: DBInstance,
  retiredId: string,
): Promise<void> {
  const id = instanceDatabase(unit, 're-protect').primaryInstanceId;
  const arn = instance.DBInstanceArn ?? instanceArn(run.primaryRegion, run.account, id);
  try {
    await rds.send(
      new AddTagsToResourceCommand({
        ResourceName: arn,
        Tags: retiredTags(run, unit, id),
      }),
    );
    await rds.send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: id,
        NewDBInstanceIdentifier: retiredId,
        ApplyImmediately: true,
      }),
    );
  } catch (error) {
    const name = awsErrorName(error) ?? '';
    if (DB_INVALID_STATE.has(name)) {
      throw new ResourceBusyError(`renaming the old primary ${id} refused for now (${name})`, {
        cause: error,
      });
    }
    if (DB_EXISTS.has(name)) {
      throw new ConfigurationError(`cannot rename the old primary ${id} to ${retiredId}: the name is taken`, {
        cause: error,
      });
    }
    throw toLifeboatError(error, `renaming the old primary ${id} to ${retiredId} in ${run.primaryRegion}`);
  }
  logger.info('old primary retired', { unit: unit.name, from: id, to: retiredId, runId: run.runId });
}

/**
 * The new replica, made like the old primary was (class, subnet group, security groups, port), encrypted with the old
 * primary's key when the current primary is encrypted: a cross-Region encrypted replica needs a key of its own Region
 * (CreateDBInstanceReadReplica, KmsKeyId). Without a key of the old Region to use, it is refused rather than guessed.
 */
export function replicaParameters(
  run: RunContext,
  unit: UnitPlan,
  primary: DBInstance,
  sourceArn: string,
  template: DBInstance | undefined,
  oldPrimaryNowNamed: string,
): CreateDBInstanceReadReplicaCommandInput {
  const groups = (template?.VpcSecurityGroups ?? [])
    .map((g) => g.VpcSecurityGroupId)
    .filter((id): id is string => Boolean(id));
  let kmsKeyId: string | undefined;
  if (primary.StorageEncrypted) {
    kmsKeyId = template?.StorageEncrypted ? template.KmsKeyId : undefined;
    if (!kmsKeyId) {
      throw new ConfigurationError(
        `the current primary ${instanceDatabase(unit, 're-protect').replicaInstanceId} is encrypted and no KMS key of ${run.primaryRegion} is known (the old primary is gone or was not encrypted): create the replica by hand with a key of that Region, tagged ${REPROTECT_TAG}=${owner(run, unit)}, then re-run`,
      );
    }
  }
  const port = template?.Endpoint?.Port ?? primary.Endpoint?.Port;
  return {
    DBInstanceIdentifier: instanceDatabase(unit, 're-protect').primaryInstanceId,
    // An ARN in another Region: the SDK signs the PreSignedUrl for the Region the ARN names (@aws-sdk/middleware-sdk-rds).
    SourceDBInstanceIdentifier: sourceArn,
    DBInstanceClass: template?.DBInstanceClass ?? primary.DBInstanceClass,
    ...(template?.DBSubnetGroup?.DBSubnetGroupName
      ? { DBSubnetGroupName: template.DBSubnetGroup.DBSubnetGroupName }
      : {}),
    ...(groups.length ? { VpcSecurityGroupIds: groups } : {}),
    ...(kmsKeyId ? { KmsKeyId: kmsKeyId } : {}),
    ...(port ? { Port: port } : {}),
    ...(template?.PubliclyAccessible !== undefined
      ? { PubliclyAccessible: template.PubliclyAccessible }
      : {}),
    ...(template?.MultiAZ !== undefined ? { MultiAZ: template.MultiAZ } : {}),
    Tags: [
      { Key: REPROTECT_TAG, Value: owner(run, unit) },
      { Key: OLD_PRIMARY_TAG, Value: oldPrimaryNowNamed },
      { Key: 'lifeboat:plan', Value: run.planName },
      { Key: 'lifeboat:unit', Value: unit.name },
    ],
  };
}

/** The replica exists: ready once available and replicating, with preflight's replica checks passing. */
async function replicaState(
  deps: ReprotectDeps,
  run: RunContext,
  unit: UnitPlan,
  replica: DBInstance,
  retired: DBInstance | undefined,
  retiredId: string,
  warnings: string[],
): Promise<DatabaseState> {
  const status = replica.DBInstanceStatus ?? 'unknown';
  const nowNamed = tagValue(replica, OLD_PRIMARY_TAG);
  const detail: Record<string, DetailValue> = {
    ...oldPrimaryDetail(
      instanceDatabase(unit, 're-protect').primaryInstanceId,
      retired,
      retired ? retiredId : undefined,
    ),
    ...(nowNamed && nowNamed !== 'none' ? { oldPrimaryNowNamed: nowNamed } : {}),
    replica: instanceDatabase(unit, 're-protect').primaryInstanceId,
    replicaStatus: status,
    replicaEndpoint: replica.Endpoint?.Address ?? null,
  };
  if (DEAD_END_STATUSES.has(status)) {
    throw new ConfigurationError(
      `the new replica ${instanceDatabase(unit, 're-protect').primaryInstanceId} in ${run.primaryRegion} is "${status}", a status RDS does not leave on its own (see its Recent events)`,
    );
  }
  const replicating =
    replica.StatusInfos?.find((s) => s.StatusType === 'read replication')?.Status ?? 'unknown';
  if (status !== 'available' || replicating !== 'replicating') {
    return {
      ready: false,
      status: `replica ${status}/${replicating}`,
      waitSeconds: status === 'creating' ? SLOW_POLL_SECONDS : SHORT_POLL_SECONDS,
      detail: { ...detail, replication: replicating },
    };
  }
  // The same checks preflight runs on a replica, as the reversed plan sees this one (docs/design/reprotect.md).
  const checks = await checkDatabaseReadiness(
    { rds: deps.old.rds, cloudwatch: deps.old.cloudwatch, ...(deps.now ? { now: deps.now } : {}) },
    { run: reverseRun(run), unit: reverseUnit(unit, run) },
  );
  const errors = checks.filter((c) => !c.ok && c.severity === 'error');
  if (errors.length) {
    throw new ConfigurationError(
      `the new replica ${instanceDatabase(unit, 're-protect').primaryInstanceId} fails preflight's checks: ${errors.map((c) => c.message).join('; ')}`,
    );
  }
  for (const c of checks) if (!c.ok) warnings.push(`${c.check}: ${c.message}`);
  const lag = checks.find((c) => c.check === 'database.replica-lag')?.figures?.replicaLagSeconds ?? null;
  return {
    ready: true,
    status: 'replica replicating',
    waitSeconds: 0,
    detail: { ...detail, replication: replicating, replicaLagSeconds: lag },
  };
}

/* ---------------------------------------------------------------------------------------------- */
/* Preflight                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

/**
 * Re-protect's own preflight checks (mode reprotect only; none otherwise): the current primary is promoted; the old
 * Region answers; the old primary's state lets it be renamed; the name it gets is free. Read-only.
 */
export async function checkReprotectReadiness(
  deps: ReprotectDeps,
  input: UnitStepInput,
): Promise<PreflightCheck[]> {
  const { run, unit } = input;
  if (exercised(run) !== 'reprotect') return [];
  if (isAuroraUnit(unit)) return checkAuroraReprotectReadiness(deps, { ...input, unit });
  const checks: PreflightCheck[] = [];
  const add = (check: string, ok: boolean, severity: 'error' | 'warning', message: string) =>
    checks.push({ unit: unit.name, check: `reprotect.${check}`, ok, severity, message });
  let primary: DBInstance;
  try {
    primary = await currentPrimary(deps, run, unit);
  } catch (error) {
    if (error instanceof ConfigurationError || error instanceof ResourceMissingError) {
      add('current-primary', false, 'error', error.message);
      return checks;
    }
    throw error;
  }
  add(
    'current-primary',
    true,
    'error',
    `${instanceDatabase(unit, 're-protect').replicaInstanceId} is the primary in ${run.recoveryRegion}`,
  );
  const oldRegion = run.primaryRegion;
  const originalId = instanceDatabase(unit, 're-protect').primaryInstanceId;
  const retiredId = retiredName(
    originalId,
    primary.DbiResourceId ??
      instanceArn(run.recoveryRegion, run.account, instanceDatabase(unit, 're-protect').replicaInstanceId),
  );
  let atOriginal: DBInstance | undefined;
  let atRetired: DBInstance | undefined;
  try {
    [atOriginal, atRetired] = await Promise.all([
      findInstance(deps.old.rds, originalId, oldRegion),
      findInstance(deps.old.rds, retiredId, oldRegion),
    ]);
  } catch (error) {
    const name = awsErrorName(error) ?? (error instanceof Error ? error.name : 'Error');
    add(
      'old-region',
      false,
      'error',
      `RDS in ${oldRegion} did not answer (${name}): re-protect needs the old Region back`,
    );
    return checks;
  }
  add('old-region', true, 'error', `RDS in ${oldRegion} answers`);
  const source = atOriginal?.ReadReplicaSourceDBInstanceIdentifier;
  if (!atOriginal) {
    add(
      'old-primary',
      !!atRetired,
      'warning',
      atRetired
        ? `the old primary is already renamed ${retiredId}`
        : `the old primary ${originalId} is not in ${oldRegion}: nothing to rename`,
    );
  } else if (source) {
    const ours = tagValue(atOriginal, REPROTECT_TAG) === owner(run, unit);
    add(
      'old-primary',
      ours,
      'error',
      ours
        ? `${originalId} is already lifeboat's replica of the current primary`
        : `${originalId} in ${oldRegion} is a read replica of ${source} that lifeboat did not make; nothing will be changed`,
    );
  } else {
    const status = atOriginal.DBInstanceStatus ?? 'unknown';
    const stuck = DEAD_END_STATUSES.has(status);
    add(
      'old-primary',
      !stuck,
      'error',
      stuck
        ? `the old primary ${originalId} is "${status}": RDS cannot rename it so (start it first); lifeboat never deletes it`
        : `the old primary ${originalId} is "${status}"; it will be renamed ${retiredId}, not deleted`,
    );
    add(
      'identifiers',
      !atRetired,
      'error',
      atRetired
        ? `${retiredId} is taken in ${oldRegion}: the old primary cannot be renamed to it`
        : `${retiredId} is free`,
    );
  }
  return checks;
}
