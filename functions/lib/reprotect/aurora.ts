import {
  type DBCluster,
  type DBClusterSnapshot,
  DescribeDBClusterSnapshotsCommand,
  type GlobalCluster,
  type GlobalClusterMember,
  type RDSClient,
} from '@aws-sdk/client-rds';
import {
  CLUSTER_DEAD_ENDS,
  describeCluster,
  describeGlobal,
  memberOf,
  primaryClusterArn,
  sameArn,
  writerOf,
} from '../aurora/cluster.js';
import { awsErrorName, ConfigurationError, ResourceMissingError, toLifeboatError } from '../errors.js';
import { logger } from '../observability.js';
import type { AuroraUnitPlan } from '../plan.js';
import { recoverySecretId } from '../plan-names.js';
import type { DetailValue, PreflightCheck, RunContext, UnitStepInput } from '../types.js';
import { checkReplicaClusterReprotectReadiness, reprotectReplicaCluster } from './aurora-replica.js';
import {
  convergeSecret,
  type ReprotectDeps,
  type ReprotectPass,
  type ReprotectPollInput,
} from './reprotect.js';
import '../sdk/rds.js';

/**
 * Re-protect of an Aurora unit (docs/design/aurora.md, "Re-protect"). A global database unit creates nothing: after a
 * switchover the old primary is a secondary at once, and after a failover Aurora adds it back as a secondary by itself
 * once its Region has recovered, after a snapshot of what it held (docs/aws/aurora-global-database.md, "What happens to
 * the old primary"). A pass replicates the secret back as for instance units, then waits (the state machine calls
 * again, bounded) until the old primary cluster is a member with `IsWriter: false`, synchronized and `available`, and
 * reports the data-loss snapshot when Aurora made one. An old primary that is not a member fails the unit before
 * anything is changed, with what is missing and the manual step. Nothing is ever deleted.
 *
 * A cross-Region replica cluster unit (Aurora MySQL, binlog replication) is re-protected like an instance unit: its old
 * primary cluster renamed, a new replica cluster made under its id (aurora-replica.ts).
 */

/** The name prefix of the snapshot Aurora takes of the old primary's volume after a global failover. */
export const FAILOVER_SNAPSHOT_PREFIX = 'rds:unplanned-global-failover-';
/** Seconds between passes while Aurora rebuilds the old primary: minutes to hours (docs/aws/aurora-global-database.md). */
const RESYNC_POLL_SECONDS = 30;
const OPERATION_POLL_SECONDS = 10;

/** What a pass (and preflight, and the dry run) reads of a global unit, in order, before anything is changed. */
export interface GlobalReturn {
  readonly promoted: DBCluster;
  readonly global: GlobalCluster;
  readonly oldArn: string;
  /** The old primary as a member of the global cluster; undefined when it is not one. */
  readonly member: GlobalClusterMember | undefined;
  /** An operation toward the promoted cluster still under way (its FailoverState status). */
  readonly operation: string | undefined;
}

type GlobalUnit = AuroraUnitPlan & { database: { globalClusterId: string } };

/**
 * The global cluster as re-protect needs it: the promoted cluster its writer (or an operation toward it under way),
 * and where the old primary is. Read-only; a promoted cluster that is not the writer is a ConfigurationError.
 */
export async function readGlobalReturn(
  rds: RDSClient,
  run: RunContext,
  unit: GlobalUnit,
): Promise<GlobalReturn> {
  const db = unit.database;
  const [promoted, global] = await Promise.all([
    describeCluster(rds, db.replicaClusterId),
    describeGlobal(rds, db.globalClusterId),
  ]);
  const promotedMember = memberOf(global, promoted.DBClusterArn);
  if (!promotedMember) {
    throw new ConfigurationError(
      `DB cluster ${db.replicaClusterId} in ${run.recoveryRegion} is not a member of global cluster ${db.globalClusterId}: re-protect of a global unit needs it to be that global cluster's primary; nothing was changed`,
    );
  }
  const state = global.FailoverState;
  let operation: string | undefined;
  if (state?.Status) {
    if (!sameArn(state.ToDbClusterArn, promoted.DBClusterArn)) {
      throw new ConfigurationError(
        `global cluster ${db.globalClusterId} is ${state.Status} toward ${state.ToDbClusterArn ?? 'another cluster'}, not ${db.replicaClusterId}; nothing was changed`,
      );
    }
    operation = state.Status;
  } else if (promotedMember.IsWriter !== true) {
    throw new ConfigurationError(
      `DB cluster ${db.replicaClusterId} is not the writer of global cluster ${db.globalClusterId} (the writer is ${writerOf(global)?.DBClusterArn ?? 'none'}): re-protect runs after a failover or switchover made it the primary; nothing was changed`,
    );
  }
  const oldArn = primaryClusterArn(run, unit);
  return { promoted, global, oldArn, member: memberOf(global, oldArn), operation };
}

/**
 * The error for an old primary that is not a member: what is missing, and the manual step. `found` says what the old
 * Region shows of the cluster, when it answered.
 */
export function missingOldPrimary(run: RunContext, unit: GlobalUnit, found: string): ResourceMissingError {
  const db = unit.database;
  return new ResourceMissingError(
    `the old primary cluster ${db.primaryClusterId} (${primaryClusterArn(run, unit)}) is not a member of global cluster ${db.globalClusterId} (${found}). After a failover Aurora adds it back as a secondary by itself once ${run.primaryRegion} has recovered: re-run re-protect then. If the Region is back and it stays out, add a secondary by hand: aws rds create-db-cluster --region ${run.primaryRegion} --db-cluster-identifier <new id> --engine ${db.engine} --engine-version <the primary's version> --global-cluster-identifier ${db.globalClusterId}, then aws rds create-db-instance --region ${run.primaryRegion} --db-cluster-identifier <new id> --db-instance-identifier <new id>-1 --db-instance-class <class> --engine ${db.engine}, and name <new id> as primaryClusterId in the plan. Nothing was changed; lifeboat never deletes the old cluster (it may hold writes that never replicated)`,
  );
}

/** What the old Region shows of the old primary cluster, for the error above (never throws). */
async function oldClusterSeen(deps: ReprotectDeps, run: RunContext, unit: GlobalUnit): Promise<string> {
  try {
    const cluster = await describeCluster(deps.old.rds, unit.database.primaryClusterId);
    const joined = cluster.GlobalClusterIdentifier
      ? `in global cluster ${cluster.GlobalClusterIdentifier}`
      : 'standalone';
    return `${run.primaryRegion} shows it ${cluster.Status ?? 'unknown'}, ${joined}`;
  } catch (error) {
    if (error instanceof ResourceMissingError) return `${run.primaryRegion} has no cluster of that name`;
    const name = awsErrorName(error) ?? (error instanceof Error ? error.name : 'Error');
    return `RDS in ${run.primaryRegion} did not answer: ${name}`;
  }
}

/**
 * The snapshots Aurora took of the old primary after a global failover (`rds:unplanned-global-failover-...`, in the
 * old Region), newest first. A refused or failed listing is a warning, not a failure: the snapshot is reported, never
 * needed.
 */
export async function failoverSnapshots(
  rds: RDSClient,
  clusterId: string,
  warnings: string[],
): Promise<DBClusterSnapshot[]> {
  try {
    const out = await rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: clusterId }));
    return (out.DBClusterSnapshots ?? [])
      .filter((s) => s.DBClusterSnapshotIdentifier?.startsWith(FAILOVER_SNAPSHOT_PREFIX))
      .sort((a, b) => (b.SnapshotCreateTime?.getTime() ?? 0) - (a.SnapshotCreateTime?.getTime() ?? 0));
  } catch (error) {
    const name = awsErrorName(error) ?? (error instanceof Error ? error.name : 'Error');
    warnings.push(
      `could not list the snapshots of ${clusterId} (DescribeDBClusterSnapshots: ${name}): look for ${FAILOVER_SNAPSHOT_PREFIX}${clusterId}-* in the old Region yourself`,
    );
    return [];
  }
}

/** One re-protect pass of an Aurora unit (reprotect.ts sends Aurora units here). */
export async function reprotectAurora(
  deps: ReprotectDeps,
  input: ReprotectPollInput & { unit: AuroraUnitPlan },
): Promise<ReprotectPass> {
  const { run, attempt } = input;
  // A cross-Region replica cluster unit: a new replica cluster in the old Region (aurora-replica.ts).
  if (input.unit.database.globalClusterId === undefined) return reprotectReplicaCluster(deps, input);
  const unit = input.unit as GlobalUnit;
  const db = unit.database;
  const observedAt = (deps.now ?? (() => new Date()))().toISOString();
  const calls: string[] = [];
  const warnings: string[] = [];
  const seen = await readGlobalReturn(deps.current.rds, run, unit);
  const base: Record<string, DetailValue> = {
    currentRegion: run.recoveryRegion,
    oldRegion: run.primaryRegion,
    globalClusterIdentifier: db.globalClusterId,
    currentPrimary: db.replicaClusterId,
    oldPrimary: db.primaryClusterId,
    secret: recoverySecretId(unit),
    attempt,
  };
  if (seen.operation) {
    // The failover or switchover toward the promoted cluster has not finished: nothing to do yet.
    return {
      done: false,
      status: `global cluster ${seen.operation}`,
      waitSeconds: OPERATION_POLL_SECONDS,
      observedAt,
      detail: { ...base, calls: null },
      warnings,
    };
  }
  // Checked before the secret: with the old primary not back, re-protect changes nothing at all.
  if (!seen.member) throw missingOldPrimary(run, unit, await oldClusterSeen(deps, run, unit));
  const secret = await convergeSecret(deps, run, unit, calls);
  const old = await describeCluster(deps.old.rds, db.primaryClusterId);
  const oldStatus = old.Status ?? 'unknown';
  if (CLUSTER_DEAD_ENDS.has(oldStatus)) {
    throw new ConfigurationError(
      `the old primary cluster ${db.primaryClusterId} in ${run.primaryRegion} is "${oldStatus}", a status Aurora does not leave on its own; lifeboat never deletes it`,
    );
  }
  const sync = seen.member.SynchronizationStatus;
  if (sync === undefined) {
    warnings.push(
      `global cluster ${db.globalClusterId} reports no SynchronizationStatus for ${db.primaryClusterId}: taken as connected`,
    );
  }
  const [snapshot] = await failoverSnapshots(deps.old.rds, db.primaryClusterId, warnings);
  if (snapshot?.DBClusterSnapshotIdentifier) {
    warnings.push(
      `Aurora kept what the old primary held at the failover in snapshot ${snapshot.DBClusterSnapshotIdentifier} (${run.primaryRegion}): a system snapshot, deleted with the old cluster's backup retention; copy it to keep it (aws rds copy-db-cluster-snapshot --region ${run.primaryRegion} --source-db-cluster-snapshot-identifier ${snapshot.DBClusterSnapshotArn ?? snapshot.DBClusterSnapshotIdentifier} --target-db-cluster-snapshot-identifier <name>)`,
    );
  }
  const rejoined = seen.member.IsWriter !== true && (sync ?? 'connected') === 'connected';
  const ready = rejoined && oldStatus === 'available';
  const done = secret.status === 'InSync' && ready;
  const status = `secret ${secret.status}, old primary ${ready ? 'secondary' : `${sync ?? 'unknown'}/${oldStatus}`}`;
  logger.info('re-protect pass (Aurora)', { unit: unit.name, attempt, status, done, calls });
  return {
    done,
    status,
    waitSeconds: done ? 0 : RESYNC_POLL_SECONDS,
    observedAt,
    detail: {
      ...base,
      secretReplicationStatus: secret.status,
      oldPrimaryArn: old.DBClusterArn ?? seen.oldArn,
      oldPrimaryStatus: oldStatus,
      oldPrimaryIsWriter: seen.member.IsWriter === true,
      oldPrimarySynchronization: sync ?? null,
      dataLossSnapshot: snapshot?.DBClusterSnapshotIdentifier ?? null,
      dataLossSnapshotTime: snapshot?.SnapshotCreateTime?.toISOString() ?? null,
      calls: calls.join(', ') || null,
    },
    warnings,
  };
}

/**
 * Re-protect's preflight of an Aurora unit (mode reprotect): the promoted cluster is the global cluster's writer, the
 * old Region answers, and the old primary is back as a member. A replica cluster unit: aurora-replica.ts. Read-only.
 */
export async function checkAuroraReprotectReadiness(
  deps: ReprotectDeps,
  input: UnitStepInput & { unit: AuroraUnitPlan },
): Promise<PreflightCheck[]> {
  const { run } = input;
  const checks: PreflightCheck[] = [];
  const add = (check: string, ok: boolean, severity: 'error' | 'warning', message: string) =>
    checks.push({ unit: input.unit.name, check: `reprotect.${check}`, ok, severity, message });
  if (input.unit.database.globalClusterId === undefined) {
    return checkReplicaClusterReprotectReadiness(deps, input);
  }
  const unit = input.unit as GlobalUnit;
  let seen: GlobalReturn;
  try {
    seen = await readGlobalReturn(deps.current.rds, run, unit);
  } catch (error) {
    if (error instanceof ConfigurationError || error instanceof ResourceMissingError) {
      add('current-primary', false, 'error', error.message);
      return checks;
    }
    throw toLifeboatError(error, `re-protect preflight of unit ${unit.name}`);
  }
  add(
    'current-primary',
    true,
    'error',
    seen.operation
      ? `${unit.database.replicaClusterId}: the operation toward it is ${seen.operation}`
      : `${unit.database.replicaClusterId} is the writer of global cluster ${unit.database.globalClusterId}`,
  );
  try {
    await describeCluster(deps.old.rds, unit.database.primaryClusterId);
    add('old-region', true, 'error', `RDS in ${run.primaryRegion} answers`);
  } catch (error) {
    if (!(error instanceof ResourceMissingError)) {
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
  }
  if (seen.operation) return checks;
  add(
    'old-primary',
    seen.member !== undefined,
    'error',
    seen.member
      ? `${unit.database.primaryClusterId} is a member of ${unit.database.globalClusterId} (${seen.member.SynchronizationStatus ?? 'no synchronization status'}); nothing will be created or deleted`
      : missingOldPrimary(run, unit, await oldClusterSeen(deps, run, unit)).message,
  );
  return checks;
}
