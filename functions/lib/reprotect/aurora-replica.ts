import {
  AddTagsToResourceCommand,
  CreateDBClusterCommand,
  type CreateDBClusterCommandInput,
  CreateDBInstanceCommand,
  type CreateDBInstanceCommandInput,
  type DBCluster,
  type DBInstance,
  ModifyDBClusterCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import {
  CLUSTER_DEAD_ENDS,
  describeCluster,
  INVALID_CLUSTER_STATE,
  replicationSource,
  sameArn,
} from '../aurora/cluster.js';
import { findCluster, instanceClassOf, networkOf, tagOf } from '../aurora/drill.js';
import { DEAD_END_STATUSES } from '../database.js';
import {
  awsErrorName,
  ConfigurationError,
  ResourceBusyError,
  ResourceMissingError,
  toLifeboatError,
} from '../errors.js';
import { logger } from '../observability.js';
import type { AuroraUnitPlan } from '../plan.js';
import { partitionOf, recoverySecretId } from '../plan-names.js';
import type { DetailValue, PreflightCheck, RunContext, UnitStepInput } from '../types.js';
import {
  convergeSecret,
  findInstance,
  OLD_PRIMARY_TAG,
  owner,
  REPROTECT_TAG,
  RETIRED_TAG,
  type ReprotectDeps,
  type ReprotectPass,
  type ReprotectPollInput,
  retiredName,
  retiredTags,
} from './reprotect.js';
import '../sdk/rds.js';

/**
 * Re-protect of a cross-Region read replica cluster unit (Aurora MySQL, no global cluster; docs/design/aurora.md,
 * "Re-protect of a replica cluster unit"), the same way as an instance unit's (reprotect.ts):
 *
 * - the secret is replicated back (`convergeSecret`);
 * - the old primary cluster, in the old Region, may hold writes that never replicated: it is tagged and renamed to
 *   `<id>-old-<8 hex>` (ModifyDBCluster NewDBClusterIdentifier with ApplyImmediately), never deleted;
 * - a new read replica cluster of the promoted cluster is made in the old Region under the old primary's id
 *   (CreateDBCluster with ReplicationSourceIdentifier, the old cluster's network, a KMS key of the old Region when
 *   encrypted), then, once it is `available`, its one instance (`<id>-rp-<8 hex>`: the old primary's instances keep
 *   their names through the rename, so the old names are taken).
 *
 * `readReplicaClusterReturn` reads everything and says what is due; a pass makes that call, preflight and the dry run only report it.
 * Each pass decides from what it reads: a crash anywhere converges (the tagged rename is found under its new name, the
 * replica cluster and instance by their tags), and what lifeboat did not make is refused, never adopted or deleted.
 */

/** Seconds between passes: a replica cluster copies the whole volume across Regions (many minutes); a rename minutes. */
const SLOW_POLL_SECONDS = 30;
const SHORT_POLL_SECONDS = 10;
/** The instance class kept on the replica cluster for its instance (read from the old primary when it is made). */
export const REPROTECT_INSTANCE_CLASS_TAG = 'lifeboat:instance-class';

const CLUSTER_EXISTS = new Set(['DBClusterAlreadyExistsFault', 'DBClusterAlreadyExists']);
const INSTANCE_EXISTS = new Set(['DBInstanceAlreadyExistsFault', 'DBInstanceAlreadyExists']);

type ReplicaClusterUnit = AuroraUnitPlan;

/** The names one re-protect uses: the same on every re-run (they hash the promoted cluster's resource id). */
export interface ReplicaClusterReprotectNames {
  /** The promoted cluster's ARN: the new replica cluster's ReplicationSourceIdentifier. */
  readonly sourceArn: string;
  /** The old primary's new name. */
  readonly retiredId: string;
  /** The new replica cluster's one instance. */
  readonly instanceId: string;
}

export function replicaClusterReprotectNames(
  run: RunContext,
  unit: ReplicaClusterUnit,
  promoted: DBCluster,
): ReplicaClusterReprotectNames {
  const db = unit.database;
  const sourceArn =
    promoted.DBClusterArn ??
    `arn:${partitionOf(run.recoveryRegion)}:rds:${run.recoveryRegion}:${run.account}:cluster:${db.replicaClusterId.toLowerCase()}`;
  const retiredId = retiredName(db.primaryClusterId, promoted.DbClusterResourceId ?? sourceArn);
  return {
    sourceArn,
    retiredId,
    instanceId: `${reprotectInstancePrefix(db.primaryClusterId)}${retiredId.slice(-8)}`,
  };
}

/** `<cluster id>-rp-`, within RDS's 63 characters with the 8 hex after it, with no double hyphen (IAM names it too). */
export function reprotectInstancePrefix(primaryClusterId: string): string {
  const head = primaryClusterId
    .toLowerCase()
    .slice(0, 63 - 12)
    .replace(/-+$/, '');
  return `${head}-rp-`;
}

/** What is due next, as read (nothing is changed by reading). */
export type ReplicaClusterStep =
  | { kind: 'wait'; status: string; waitSeconds: number }
  | { kind: 'rename'; cluster: DBCluster }
  | { kind: 'create-cluster'; params: CreateDBClusterCommandInput }
  | { kind: 'create-instance'; params: CreateDBInstanceCommandInput }
  | { kind: 'ready' };

export interface ReplicaClusterReturn {
  readonly promoted: DBCluster;
  readonly names: ReplicaClusterReprotectNames;
  /** The old primary under its new name, once renamed. */
  readonly retired: DBCluster | undefined;
  /** The new replica cluster (ours), once made. */
  readonly replica: DBCluster | undefined;
  readonly replicaInstance: DBInstance | undefined;
  readonly step: ReplicaClusterStep;
  readonly warnings: string[];
}

/** The promoted cluster: standalone (promoted) and not in a status Aurora does not leave. */
export async function promotedCluster(
  deps: ReprotectDeps,
  run: RunContext,
  unit: ReplicaClusterUnit,
): Promise<DBCluster> {
  const id = unit.database.replicaClusterId;
  const promoted = await describeCluster(deps.current.rds, id);
  const source = replicationSource(promoted);
  if (source) {
    throw new ConfigurationError(
      `DB cluster ${id} in ${run.recoveryRegion} is still a read replica cluster of ${source}: re-protect runs after a failover promoted it; nothing was changed`,
    );
  }
  const status = promoted.Status ?? 'unknown';
  if (CLUSTER_DEAD_ENDS.has(status)) {
    throw new ConfigurationError(
      `the promoted cluster ${id} in ${run.recoveryRegion} is "${status}": no replica cluster can be made of it`,
    );
  }
  return promoted;
}

/**
 * Reads the old Region and says what is due. Throws a ConfigurationError, before anything is changed, on what
 * lifeboat did not make in the way (a cluster under the old primary's id that replicates from elsewhere, or from the
 * promoted cluster without lifeboat's tag; an instance of that name that is not ours), a taken rename target, a
 * status that does not pass on its own, and an encrypted promoted cluster with no KMS key of the old Region known.
 */
export async function readReplicaClusterReturn(
  deps: ReprotectDeps,
  run: RunContext,
  unit: ReplicaClusterUnit,
): Promise<ReplicaClusterReturn> {
  const db = unit.database;
  const oldRegion = run.primaryRegion;
  const rds = deps.old.rds;
  const promoted = await promotedCluster(deps, run, unit);
  const names = replicaClusterReprotectNames(run, unit, promoted);
  const [atOriginal, atRetired] = await Promise.all([
    findCluster(rds, db.primaryClusterId),
    findCluster(rds, names.retiredId),
  ]);
  const warnings: string[] = [];
  const seen = { promoted, names, retired: atRetired, warnings };
  const result = (
    step: ReplicaClusterStep,
    replica?: DBCluster,
    replicaInstance?: DBInstance,
  ): ReplicaClusterReturn => ({ ...seen, replica, replicaInstance, step });
  const wait = (status: string, waitSeconds = SHORT_POLL_SECONDS): ReplicaClusterStep => ({
    kind: 'wait',
    status,
    waitSeconds,
  });

  if (atOriginal) {
    const source = replicationSource(atOriginal);
    if (source && sameArn(source, names.sourceArn)) {
      if (tagOf(atOriginal.TagList, REPROTECT_TAG) !== owner(run, unit)) {
        throw new ConfigurationError(
          `DB cluster ${db.primaryClusterId} in ${oldRegion} is a read replica cluster of ${db.replicaClusterId} but was not made by lifeboat (no ${REPROTECT_TAG}=${owner(run, unit)} tag); lifeboat neither adopts nor deletes it`,
        );
      }
      const [step, instance] = await replicaStep(deps, run, unit, atOriginal, atRetired, names);
      return result(step, atOriginal, instance);
    }
    if (source) {
      throw new ConfigurationError(
        `DB cluster ${db.primaryClusterId} in ${oldRegion} is a read replica cluster of ${source}, not the old primary and not a replica of ${names.sourceArn}; nothing was changed`,
      );
    }
    // The old primary, under its id. Renamed (never deleted) so that the new replica cluster can take the id.
    if (atRetired) {
      throw new ConfigurationError(
        `cannot rename the old primary cluster ${db.primaryClusterId} in ${oldRegion} to ${names.retiredId}: a cluster has that name already`,
      );
    }
    const status = atOriginal.Status ?? 'unknown';
    const pending = atOriginal.PendingModifiedValues?.DBClusterIdentifier?.toLowerCase();
    if (status === 'renaming' || pending === names.retiredId) {
      return result(wait(`old primary cluster renaming to ${names.retiredId}`));
    }
    if (CLUSTER_DEAD_ENDS.has(status)) {
      throw new ConfigurationError(
        `the old primary cluster ${db.primaryClusterId} in ${oldRegion} is "${status}": Aurora cannot rename it from this status (a stopped cluster must be started first); lifeboat never deletes it`,
      );
    }
    if (status !== 'available') return result(wait(`old primary cluster ${status}`));
    return result({ kind: 'rename', cluster: atOriginal });
  }

  // The id is free: the old primary was renamed (or is gone). The replica cluster is made under the old primary's id.
  if (!atRetired) {
    warnings.push(
      `the old primary cluster ${db.primaryClusterId} is not in ${oldRegion} under its id nor as ${names.retiredId}: nothing was renamed (deleted by someone, or lost with the Region)`,
    );
  }
  const instanceClass = atRetired
    ? await instanceClassOf(rds, atRetired)
    : await instanceClassOf(deps.current.rds, promoted);
  return result({
    kind: 'create-cluster',
    params: replicaClusterParameters(run, unit, promoted, names, atRetired, instanceClass),
  });
}

/** The replica cluster (ours) exists: its instance next, then ready once both are available and replicating. */
async function replicaStep(
  deps: ReprotectDeps,
  run: RunContext,
  unit: ReplicaClusterUnit,
  replica: DBCluster,
  retired: DBCluster | undefined,
  names: ReplicaClusterReprotectNames,
): Promise<[ReplicaClusterStep, DBInstance | undefined]> {
  const db = unit.database;
  const status = replica.Status ?? 'unknown';
  if (CLUSTER_DEAD_ENDS.has(status)) {
    throw new ConfigurationError(
      `the new replica cluster ${db.primaryClusterId} in ${run.primaryRegion} is "${status}", a status Aurora does not leave on its own (see its Recent events)`,
    );
  }
  if (status !== 'available') {
    return [
      {
        kind: 'wait',
        status: `replica cluster ${status}`,
        waitSeconds: status === 'creating' ? SLOW_POLL_SECONDS : SHORT_POLL_SECONDS,
      },
      undefined,
    ];
  }
  const instance = await findInstance(deps.old.rds, names.instanceId, run.primaryRegion);
  if (!instance) {
    // The class the old primary's writer had, kept on the cluster when it was made; else the old primary's now.
    const instanceClass =
      tagOf(replica.TagList, REPROTECT_INSTANCE_CLASS_TAG) ??
      (retired ? await instanceClassOf(deps.old.rds, retired) : 'db.r6g.large');
    return [
      {
        kind: 'create-instance',
        params: {
          DBInstanceIdentifier: names.instanceId,
          DBClusterIdentifier: db.primaryClusterId,
          Engine: replica.Engine ?? db.engine,
          DBInstanceClass: instanceClass,
          Tags: ownTags(run, unit, retired ? names.retiredId : 'none'),
        },
      },
      undefined,
    ];
  }
  if (
    tagOf(instance.TagList, REPROTECT_TAG) !== owner(run, unit) ||
    instance.DBClusterIdentifier?.toLowerCase() !== db.primaryClusterId.toLowerCase()
  ) {
    throw new ConfigurationError(
      `DB instance ${names.instanceId} in ${run.primaryRegion} was not made by lifeboat for ${db.primaryClusterId} (no ${REPROTECT_TAG}=${owner(run, unit)} tag, or another cluster); lifeboat neither adopts nor deletes it`,
    );
  }
  const instanceStatus = instance.DBInstanceStatus ?? 'unknown';
  if (DEAD_END_STATUSES.has(instanceStatus)) {
    throw new ConfigurationError(
      `the new replica cluster's instance ${names.instanceId} in ${run.primaryRegion} is "${instanceStatus}", a status RDS does not leave on its own`,
    );
  }
  if (instanceStatus !== 'available') {
    return [
      { kind: 'wait', status: `replica instance ${instanceStatus}`, waitSeconds: SLOW_POLL_SECONDS },
      instance,
    ];
  }
  // Replication runs once the instance is available; the cluster still names the promoted cluster as its source.
  return [{ kind: 'ready' }, instance];
}

function ownTags(run: RunContext, unit: ReplicaClusterUnit, oldPrimaryNowNamed: string) {
  return [
    { Key: REPROTECT_TAG, Value: owner(run, unit) },
    { Key: OLD_PRIMARY_TAG, Value: oldPrimaryNowNamed },
    { Key: 'lifeboat:plan', Value: run.planName },
    { Key: 'lifeboat:unit', Value: unit.name },
  ];
}

/**
 * CreateDBCluster of the new replica cluster (API reference, CreateDBCluster; docs/aws/aurora-global-database.md,
 * "Re-protect of a replica cluster"): `ReplicationSourceIdentifier` = the promoted cluster's ARN (in another Region:
 * the SDK adds the PreSignedUrl signed there, @aws-sdk/middleware-sdk-rds), the promoted cluster's engine version, the
 * old primary's subnet group and security groups (its VPC in the old Region), and when the promoted cluster is
 * encrypted the old primary's KMS key (a cross-Region replica of an encrypted cluster needs a key of its own Region).
 * Without a key of the old Region to use, it is refused rather than guessed.
 */
export function replicaClusterParameters(
  run: RunContext,
  unit: ReplicaClusterUnit,
  promoted: DBCluster,
  names: ReplicaClusterReprotectNames,
  template: DBCluster | undefined,
  instanceClass: string,
): CreateDBClusterCommandInput {
  const db = unit.database;
  // The old primary's key only for an encrypted source: a replica of an unencrypted cluster is unencrypted.
  const { KmsKeyId, ...placement } = template ? networkOf(template) : { KmsKeyId: undefined };
  const network = promoted.StorageEncrypted && KmsKeyId ? { ...placement, KmsKeyId } : placement;
  if (promoted.StorageEncrypted && !('KmsKeyId' in network && network.KmsKeyId)) {
    throw new ConfigurationError(
      `the promoted cluster ${db.replicaClusterId} is encrypted and no KMS key of ${run.primaryRegion} is known (the old primary cluster is gone or was not encrypted): create the replica cluster by hand with a key of that Region, tagged ${REPROTECT_TAG}=${owner(run, unit)}, then re-run`,
    );
  }
  return {
    DBClusterIdentifier: db.primaryClusterId,
    Engine: promoted.Engine ?? db.engine,
    ...(promoted.EngineVersion ? { EngineVersion: promoted.EngineVersion } : {}),
    ReplicationSourceIdentifier: names.sourceArn,
    ...network,
    ...(promoted.StorageEncrypted ? { StorageEncrypted: true } : {}),
    ...(template?.Port ? { Port: template.Port } : {}),
    Tags: [
      ...ownTags(run, unit, template ? names.retiredId : 'none'),
      { Key: REPROTECT_INSTANCE_CLASS_TAG, Value: instanceClass },
    ],
  };
}

/** Tags the old primary cluster with what it was, then renames it, at once. Both calls are idempotent on a re-run. */
async function retireOldPrimaryCluster(
  rds: RDSClient,
  run: RunContext,
  unit: ReplicaClusterUnit,
  cluster: DBCluster,
  retiredId: string,
): Promise<void> {
  const id = unit.database.primaryClusterId;
  const arn =
    cluster.DBClusterArn ??
    `arn:${partitionOf(run.primaryRegion)}:rds:${run.primaryRegion}:${run.account}:cluster:${id.toLowerCase()}`;
  try {
    await rds.send(
      new AddTagsToResourceCommand({
        ResourceName: arn,
        Tags: retiredTags(run, unit, id),
      }),
    );
    // ApplyImmediately: without it the rename waits for the maintenance window (docs/aws/aurora-global-database.md,
    // "Renaming a DB cluster").
    await rds.send(
      new ModifyDBClusterCommand({
        DBClusterIdentifier: id,
        NewDBClusterIdentifier: retiredId,
        ApplyImmediately: true,
      }),
    );
  } catch (error) {
    const name = awsErrorName(error) ?? '';
    if (INVALID_CLUSTER_STATE.has(name)) {
      throw new ResourceBusyError(`renaming the old primary cluster ${id} refused for now (${name})`, {
        cause: error,
      });
    }
    if (CLUSTER_EXISTS.has(name)) {
      throw new ConfigurationError(
        `cannot rename the old primary cluster ${id} to ${retiredId}: the name is taken`,
        { cause: error },
      );
    }
    throw toLifeboatError(
      error,
      `renaming the old primary cluster ${id} to ${retiredId} in ${run.primaryRegion}`,
    );
  }
  logger.info('old primary cluster retired', { unit: unit.name, from: id, to: retiredId, runId: run.runId });
}

/** Makes the call `step` says is due; answers the pass's status and wait. */
async function act(
  deps: ReprotectDeps,
  run: RunContext,
  unit: ReplicaClusterUnit,
  seen: ReplicaClusterReturn,
  calls: string[],
): Promise<{ status: string; waitSeconds: number; ready: boolean }> {
  const step = seen.step;
  const rds = deps.old.rds;
  switch (step.kind) {
    case 'wait':
      return { status: step.status, waitSeconds: step.waitSeconds, ready: false };
    case 'ready':
      return { status: 'replica cluster replicating', waitSeconds: 0, ready: true };
    case 'rename':
      await retireOldPrimaryCluster(rds, run, unit, step.cluster, seen.names.retiredId);
      calls.push('AddTagsToResource', 'ModifyDBCluster');
      return {
        status: `old primary cluster renaming to ${seen.names.retiredId}`,
        waitSeconds: SHORT_POLL_SECONDS,
        ready: false,
      };
    case 'create-cluster':
      try {
        await rds.send(new CreateDBClusterCommand(step.params));
      } catch (error) {
        // A retried call whose first attempt went through: the next pass finds the cluster and checks its tag.
        if (CLUSTER_EXISTS.has(awsErrorName(error) ?? '')) {
          return { status: 'replica cluster being created', waitSeconds: SHORT_POLL_SECONDS, ready: false };
        }
        throw toLifeboatError(
          error,
          `CreateDBCluster ${step.params.DBClusterIdentifier} in ${run.primaryRegion} from ${step.params.ReplicationSourceIdentifier}`,
        );
      }
      calls.push('CreateDBCluster');
      return { status: 'replica cluster creating', waitSeconds: SLOW_POLL_SECONDS, ready: false };
    case 'create-instance':
      try {
        await rds.send(new CreateDBInstanceCommand(step.params));
      } catch (error) {
        if (INSTANCE_EXISTS.has(awsErrorName(error) ?? '')) {
          return { status: 'replica instance being created', waitSeconds: SHORT_POLL_SECONDS, ready: false };
        }
        throw toLifeboatError(
          error,
          `CreateDBInstance ${step.params.DBInstanceIdentifier} in ${run.primaryRegion}`,
        );
      }
      calls.push('CreateDBInstance');
      return { status: 'replica instance creating', waitSeconds: SLOW_POLL_SECONDS, ready: false };
  }
}

/** Where the old primary is and what was made, for the report. */
export function replicaClusterDetail(
  unit: ReplicaClusterUnit,
  seen: ReplicaClusterReturn,
): Record<string, DetailValue> {
  const retiredByTag = tagOf(seen.replica?.TagList, OLD_PRIMARY_TAG);
  const nowNamed = seen.retired
    ? seen.names.retiredId
    : seen.step.kind === 'wait' && seen.step.status.startsWith('old primary cluster renaming')
      ? seen.names.retiredId
      : retiredByTag && retiredByTag !== 'none'
        ? retiredByTag
        : null;
  return {
    oldPrimary: unit.database.primaryClusterId,
    oldPrimaryNowNamed: nowNamed,
    oldPrimaryStatus: seen.retired?.Status ?? null,
    oldPrimaryArn: seen.retired?.DBClusterArn ?? null,
    replica: unit.database.primaryClusterId,
    replicaStatus: seen.replica?.Status ?? null,
    replicaSource: seen.names.sourceArn,
    replicaInstance: seen.names.instanceId,
    replicaInstanceStatus: seen.replicaInstance?.DBInstanceStatus ?? null,
    replicaEndpoint: seen.replica?.Endpoint ?? null,
  };
}

/** One re-protect pass of a replica cluster unit (aurora.ts sends it here). */
export async function reprotectReplicaCluster(
  deps: ReprotectDeps,
  input: ReprotectPollInput & { unit: ReplicaClusterUnit },
): Promise<ReprotectPass> {
  const { run, unit, attempt } = input;
  const observedAt = (deps.now ?? (() => new Date()))().toISOString();
  const calls: string[] = [];
  // Checked before the secret: a promoted cluster that is not (still a replica) changes nothing at all.
  await promotedCluster(deps, run, unit);
  const secret = await convergeSecret(deps, run, unit, calls);
  const seen = await readReplicaClusterReturn(deps, run, unit);
  const database = await act(deps, run, unit, seen, calls);
  const done = secret.status === 'InSync' && database.ready;
  const status = `secret ${secret.status}, ${database.status}`;
  logger.info('re-protect pass (Aurora replica cluster)', { unit: unit.name, attempt, status, done, calls });
  return {
    done,
    status,
    waitSeconds: done ? 0 : database.waitSeconds,
    observedAt,
    detail: {
      currentRegion: run.recoveryRegion,
      oldRegion: run.primaryRegion,
      currentPrimary: unit.database.replicaClusterId,
      secret: recoverySecretId(unit),
      secretReplicationStatus: secret.status,
      ...replicaClusterDetail(unit, seen),
      calls: calls.join(', ') || null,
      attempt,
    },
    warnings: seen.warnings,
  };
}

/** The call a step makes, for the dry run and preflight: its name and parameters (never a secret value). */
export function plannedCall(
  seen: ReplicaClusterReturn,
  unit: ReplicaClusterUnit,
): { call: string | null; parameters: Record<string, DetailValue>; note: string }[] {
  const step = seen.step;
  const db = unit.database;
  const tail = 'the passes then wait for it, and make the next piece';
  switch (step.kind) {
    case 'wait':
      return [{ call: null, parameters: { DBClusterIdentifier: db.primaryClusterId }, note: step.status }];
    case 'ready':
      return [
        {
          call: null,
          parameters: { DBClusterIdentifier: db.primaryClusterId },
          note: 'the replica cluster is replicating: nothing to do',
        },
      ];
    case 'rename':
      return [
        {
          call: 'AddTagsToResource',
          parameters: { ResourceName: step.cluster.DBClusterArn ?? db.primaryClusterId },
          note: `tags the old primary cluster ${RETIRED_TAG}`,
        },
        {
          call: 'ModifyDBCluster',
          parameters: {
            DBClusterIdentifier: db.primaryClusterId,
            NewDBClusterIdentifier: seen.names.retiredId,
            ApplyImmediately: true,
          },
          note: 'renames the old primary cluster, never deletes it',
        },
        {
          call: 'CreateDBCluster',
          parameters: {
            DBClusterIdentifier: db.primaryClusterId,
            ReplicationSourceIdentifier: seen.names.sourceArn,
          },
          note: `once the rename is done; ${tail}`,
        },
        {
          call: 'CreateDBInstance',
          parameters: {
            DBInstanceIdentifier: seen.names.instanceId,
            DBClusterIdentifier: db.primaryClusterId,
          },
          note: 'once the replica cluster is available',
        },
      ];
    case 'create-cluster':
      return [
        {
          call: 'CreateDBCluster',
          parameters: {
            DBClusterIdentifier: db.primaryClusterId,
            ReplicationSourceIdentifier: seen.names.sourceArn,
            ...(step.params.KmsKeyId ? { KmsKeyId: step.params.KmsKeyId } : {}),
          },
          note: tail,
        },
        {
          call: 'CreateDBInstance',
          parameters: {
            DBInstanceIdentifier: seen.names.instanceId,
            DBClusterIdentifier: db.primaryClusterId,
          },
          note: 'once the replica cluster is available',
        },
      ];
    case 'create-instance':
      return [
        {
          call: 'CreateDBInstance',
          parameters: {
            DBInstanceIdentifier: seen.names.instanceId,
            DBClusterIdentifier: db.primaryClusterId,
            DBInstanceClass: step.params.DBInstanceClass ?? null,
          },
          note: tail,
        },
      ];
  }
}

/**
 * Re-protect's preflight of a replica cluster unit (mode reprotect): the promoted cluster is standalone, the old Region
 * answers, and what is in the old Region lets the next step run. Read-only.
 */
export async function checkReplicaClusterReprotectReadiness(
  deps: ReprotectDeps,
  input: UnitStepInput & { unit: ReplicaClusterUnit },
): Promise<PreflightCheck[]> {
  const { run, unit } = input;
  const checks: PreflightCheck[] = [];
  const add = (check: string, ok: boolean, severity: 'error' | 'warning', message: string) =>
    checks.push({ unit: unit.name, check: `reprotect.${check}`, ok, severity, message });
  try {
    await promotedCluster(deps, run, unit);
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
    `${unit.database.replicaClusterId} is a standalone cluster in ${run.recoveryRegion}`,
  );
  let seen: ReplicaClusterReturn;
  try {
    seen = await readReplicaClusterReturn(deps, run, unit);
  } catch (error) {
    if (error instanceof ConfigurationError) {
      add('old-region', true, 'error', `RDS in ${run.primaryRegion} answers`);
      add('old-primary', false, 'error', error.message);
      return checks;
    }
    const name = awsErrorName(error) ?? (error instanceof Error ? error.name : 'Error');
    add(
      'old-region',
      false,
      'error',
      `RDS in ${run.primaryRegion} did not answer (${name}): re-protect needs the old Region back`,
    );
    return checks;
  }
  add('old-region', true, 'error', `RDS in ${run.primaryRegion} answers`);
  const next = plannedCall(seen, unit)
    .map((p) => p.call)
    .filter((c): c is string => c !== null);
  add(
    'old-primary',
    true,
    'error',
    next.length
      ? `next: ${next.join(', ')} (the old primary cluster ${unit.database.primaryClusterId} is renamed ${seen.names.retiredId}, never deleted)`
      : `${plannedCall(seen, unit)[0]?.note ?? 'nothing to do'}`,
  );
  for (const w of seen.warnings) add('old-primary-missing', false, 'warning', w);
  return checks;
}
