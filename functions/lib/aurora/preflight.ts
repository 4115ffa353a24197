import { type CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { DBCluster, GlobalCluster, RDSClient } from '@aws-sdk/client-rds';
import { awsErrorName, isTransientAwsError, ResourceMissingError, toLifeboatError } from '../errors.js';
import { exercised } from '../exercised.js';
import type { AuroraUnitPlan } from '../plan.js';
import type { PreflightCheck, RunContext } from '../types.js';
import {
  CLUSTER_DEAD_ENDS,
  describeCluster,
  describeGlobal,
  memberOf,
  primaryClusterArn,
  replicationSource,
  sameArn,
  writerOf,
} from './cluster.js';
import '../sdk/cloudwatch.js';
import { unitFindings } from '../preflight-findings.js';

/**
 * Preflight of an Aurora unit (docs/design/aurora.md, "Preflight"), read-only. `error`: a configuration problem (a
 * missing cluster or global cluster, the replica not a member of the global cluster or not a replica of the plan's
 * primary, the wrong engine, a status it cannot be promoted from, engine versions a switchover refuses). `warning`:
 * what a disaster causes (lag high or unknown, an operation under way, already promoted by an earlier run).
 */

export interface AuroraReadinessDeps {
  readonly rds: RDSClient;
  readonly cloudwatch: CloudWatchClient;
  /** RDS in the primary Region, for a switchover's engine-version comparison (the primary is up then). */
  readonly primaryRds?: () => RDSClient;
  readonly now?: () => Date;
}

const LAG_WINDOW_MS = 5 * 60 * 1000;

export async function checkAuroraReadiness(
  deps: AuroraReadinessDeps,
  input: { run: RunContext; unit: AuroraUnitPlan },
): Promise<PreflightCheck[]> {
  const { run, unit } = input;
  const db = unit.database;
  const { checks, add } = unitFindings(unit.name);

  let replica: DBCluster;
  let global: GlobalCluster | undefined;
  try {
    [replica, global] = await Promise.all([
      describeCluster(deps.rds, db.replicaClusterId),
      db.globalClusterId === undefined
        ? Promise.resolve(undefined)
        : describeGlobal(deps.rds, db.globalClusterId),
    ]);
  } catch (error) {
    if (error instanceof ResourceMissingError) {
      add('database.exists', false, 'error', `${error.message} (units "${unit.name}" database)`);
      return checks;
    }
    throw error;
  }
  add('database.exists', true, 'error', `DB cluster ${db.replicaClusterId} exists`);
  if (replica.Engine !== db.engine) {
    add(
      'database.engine',
      false,
      'error',
      `DB cluster ${db.replicaClusterId} runs engine ${replica.Engine ?? 'unknown'}, the plan says ${db.engine} (database.engine)`,
    );
  } else add('database.engine', true, 'error', `DB cluster ${db.replicaClusterId} runs ${replica.Engine}`);

  const status = replica.Status ?? 'unknown';
  if (CLUSTER_DEAD_ENDS.has(status)) {
    add(
      'database.status',
      false,
      'error',
      `DB cluster ${db.replicaClusterId} is "${status}": it cannot be promoted`,
    );
  } else if (status !== 'available') {
    add(
      'database.status',
      false,
      'warning',
      `DB cluster ${db.replicaClusterId} is "${status}", not available yet`,
    );
  } else add('database.status', true, 'warning', `DB cluster ${db.replicaClusterId} is available`);

  if (global) globalChecks(run, unit, replica, global, add);
  else {
    const source = replicationSource(replica);
    const expected = primaryClusterArn(run, unit);
    if (source === undefined) {
      add(
        'database.replica-source',
        false,
        'warning',
        `DB cluster ${db.replicaClusterId} is not a read replica: already promoted (an earlier run?)`,
      );
    } else if (!sameArn(source, expected)) {
      add(
        'database.replica-source',
        false,
        'error',
        `DB cluster ${db.replicaClusterId} is a read replica of ${source}, not of ${expected} (database.primaryClusterId)`,
      );
    } else
      add(
        'database.replica-source',
        true,
        'error',
        `DB cluster ${db.replicaClusterId} replicates from ${source}`,
      );
  }

  if (global && exercised(run) === 'switchover' && deps.primaryRds) {
    checks.push(await engineVersionCheck(deps.primaryRds(), unit, replica));
  }
  checks.push(await lagCheck(deps, unit, global !== undefined, run.primaryRegion));
  return checks;
}

function globalChecks(
  run: RunContext,
  unit: AuroraUnitPlan,
  replica: DBCluster,
  global: GlobalCluster,
  add: (check: string, ok: boolean, severity: 'error' | 'warning', message: string) => void,
): void {
  const db = unit.database;
  const gid = db.globalClusterId;
  const member = memberOf(global, replica.DBClusterArn);
  if (!member) {
    add(
      'database.global-member',
      false,
      'error',
      `DB cluster ${db.replicaClusterId} is not a member of global cluster ${gid} (database.replicaClusterId)`,
    );
    return;
  }
  add('database.global-member', true, 'error', `DB cluster ${db.replicaClusterId} is a secondary of ${gid}`);
  const primaryArn = primaryClusterArn(run, unit);
  const primary = memberOf(global, primaryArn);
  if (!primary && !member.IsWriter) {
    add(
      'database.global-primary',
      false,
      'error',
      `${primaryArn} is not a member of global cluster ${gid} (database.primaryClusterId); its writer is ${writerOf(global)?.DBClusterArn ?? 'none'}`,
    );
  }
  if (member.IsWriter) {
    add(
      'database.global-writer',
      false,
      'warning',
      `DB cluster ${db.replicaClusterId} is already the writer of ${gid}: already failed over (an earlier run?)`,
    );
  }
  const state = global.FailoverState;
  if (state?.Status) {
    add(
      'database.global-operation',
      false,
      'warning',
      `global cluster ${gid} is ${state.Status} from ${state.FromDbClusterArn ?? '?'} to ${state.ToDbClusterArn ?? '?'}`,
    );
  }
  if (member.SynchronizationStatus && member.SynchronizationStatus !== 'connected') {
    add(
      'database.global-sync',
      false,
      'warning',
      `DB cluster ${db.replicaClusterId} is ${member.SynchronizationStatus} with the primary`,
    );
  }
}

/**
 * A managed switchover needs the primary and the target on the same engine version (docs/aws/aurora-global-database.md,
 * "Engine versions"): compared exactly, naming both; patch-level exceptions are left to Aurora.
 */
async function engineVersionCheck(
  primaryRds: RDSClient,
  unit: AuroraUnitPlan,
  replica: DBCluster,
): Promise<PreflightCheck> {
  const db = unit.database;
  const result = (ok: boolean, message: string): PreflightCheck => ({
    unit: unit.name,
    check: 'database.engine-version',
    ok,
    severity: 'error',
    message,
  });
  let primary: DBCluster;
  try {
    primary = await describeCluster(primaryRds, db.primaryClusterId);
  } catch (error) {
    if (error instanceof ResourceMissingError)
      return result(false, `${error.message} (database.primaryClusterId)`);
    throw error;
  }
  if (primary.EngineVersion !== replica.EngineVersion) {
    return result(
      false,
      `a switchover needs the same engine version: ${db.primaryClusterId} runs ${primary.EngineVersion ?? 'unknown'}, ${db.replicaClusterId} runs ${replica.EngineVersion ?? 'unknown'}`,
    );
  }
  return result(true, `both clusters run ${primary.EngineVersion}`);
}

/**
 * The secondary's lag (docs/aws/aurora-global-database.md, "Lag"): AuroraGlobalDBReplicationLag, in milliseconds,
 * for a global database; AuroraBinlogReplicaLag, in seconds, for a replica cluster. Unknown or over the plan's
 * limit is a warning, as for instances: a disaster can cause either.
 */
async function lagCheck(
  deps: AuroraReadinessDeps,
  unit: AuroraUnitPlan,
  isGlobal: boolean,
  primaryRegion: string,
): Promise<PreflightCheck> {
  const id = unit.database.replicaClusterId;
  const max = unit.database.maxReplicaLagSeconds;
  const metric = isGlobal ? 'AuroraGlobalDBReplicationLag' : 'AuroraBinlogReplicaLag';
  const result = (ok: boolean, message: string, lagSeconds: number | null = null): PreflightCheck => ({
    unit: unit.name,
    check: 'database.replica-lag',
    ok,
    severity: 'warning',
    message,
    figures: { replicaLagSeconds: lagSeconds },
  });
  const now = (deps.now ?? (() => new Date()))();
  let value: number | undefined;
  try {
    // The metric's dimension set is not stated in the stored pages (docs/aws/aurora-global-database.md, "Lag"): the
    // cluster alone, and the cluster with the primary's Region (SourceRegion), are both asked; the newest answer wins.
    const query = (queryId: string, dimensions: { Name: string; Value: string }[]) => ({
      Id: queryId,
      ReturnData: true,
      MetricStat: {
        Metric: { Namespace: 'AWS/RDS', MetricName: metric, Dimensions: dimensions },
        Period: 60,
        Stat: 'Maximum',
      },
    });
    const byCluster = [{ Name: 'DBClusterIdentifier', Value: id }];
    const out = await deps.cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: new Date(now.getTime() - LAG_WINDOW_MS),
        EndTime: now,
        ScanBy: 'TimestampDescending',
        MetricDataQueries: [
          query('lag', byCluster),
          ...(isGlobal
            ? [query('lagBySource', [...byCluster, { Name: 'SourceRegion', Value: primaryRegion }])]
            : []),
        ],
      }),
    );
    let newest = 0;
    for (const r of out.MetricDataResults ?? []) {
      const t = r.Timestamps?.[0]?.getTime() ?? 0;
      if (r.Values?.[0] !== undefined && (value === undefined || t > newest)) {
        value = r.Values[0];
        newest = t;
      }
    }
  } catch (error) {
    if (isTransientAwsError(error)) throw toLifeboatError(error, `GetMetricData ${metric} for ${id}`);
    return result(false, `lag of ${id} unknown: GetMetricData failed (${awsErrorName(error) ?? 'Error'})`);
  }
  if (value === undefined)
    return result(false, `lag of ${id} unknown: no ${metric} datapoint in the last 5 minutes`);
  const seconds = isGlobal ? value / 1000 : value;
  if (seconds < 0) return result(false, `replication to ${id} is not running (${metric} ${value})`, seconds);
  if (seconds > max) {
    return result(
      false,
      `${id} lags ${seconds} s behind its primary, over database.maxReplicaLagSeconds ${max}`,
      seconds,
    );
  }
  return result(true, `${id} lags ${seconds} s (limit ${max})`, seconds);
}
