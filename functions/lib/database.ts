import {
  type CloudWatchClient,
  GetMetricDataCommand,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import type { DBInstance } from '@aws-sdk/client-rds';
import {
  type DatabaseDeps,
  DEAD_END_STATUSES,
  describeInstance,
  replicaSource,
  sameArn,
  statusOf,
} from './database-promotion.js';
import { awsErrorName, isTransientAwsError, ResourceMissingError, toLifeboatError } from './errors.js';
import type { InstanceUnitPlan } from './plan.js';
import { instanceUnit, primaryInstanceArn } from './plan-names.js';
import { unitFindings } from './preflight-findings.js';
import type { PreflightCheck, UnitStepInput } from './types.js';
import './sdk/cloudwatch.js';

/**
 * The RDS side of a unit: the read-only preflight checks of the replica here (they read CloudWatch's ReplicaLag), and,
 * re-exported, the promotion and its poll (functions/lib/database-promotion.ts). A step that only promotes or polls
 * imports database-promotion.ts itself: through this module its bundle would carry the CloudWatch client
 * (docs/design/packaging.md, "Bundle size").
 */
export * from './database-promotion.js';

export interface DatabaseReadinessDeps extends DatabaseDeps {
  readonly cloudwatch: CloudWatchClient;
  /** The replica's lag as preflight read it for the whole fleet; undefined when it has none (then it is read here). */
  readonly knownReplicaLag?: (instanceId: string) => { readonly lag: number | undefined } | undefined;
}

/* ---------------------------------------------------------------------------------------------- */
/* Preflight                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

const LAG_WINDOW_MS = 5 * 60 * 1000;
/** GetMetricData takes at most 500 queries a call (docs/aws/cloudwatch-metrics.md). */
export const LAG_QUERIES_PER_CALL = 500;

function replicaLagQuery(id: string, instanceId: string): MetricDataQuery {
  return {
    Id: id,
    ReturnData: true,
    MetricStat: {
      Metric: {
        Namespace: 'AWS/RDS',
        MetricName: 'ReplicaLag',
        Dimensions: [{ Name: 'DBInstanceIdentifier', Value: instanceId }],
      },
      Period: 60,
      Stat: 'Maximum',
    },
  };
}

/** The newest value of a query's results, wherever it sits (TimestampDescending puts it first; a server may not). */
function newestValue(values: readonly number[], timestamps: readonly Date[]): number | undefined {
  if (values.length === 0) return undefined;
  let newest = 0;
  for (let i = 1; i < values.length; i++) {
    const t = timestamps[i]?.getTime() ?? 0;
    if (t > (timestamps[newest]?.getTime() ?? 0)) newest = i;
  }
  return values[newest];
}

/** The most recent `AWS/RDS ReplicaLag` (seconds) of the last five minutes, or undefined when there is none. */
export async function latestReplicaLag(
  cloudwatch: CloudWatchClient,
  instanceId: string,
  now: Date,
): Promise<number | undefined> {
  const out = await cloudwatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(now.getTime() - LAG_WINDOW_MS),
      EndTime: now,
      ScanBy: 'TimestampDescending',
      MetricDataQueries: [replicaLagQuery('replicaLag', instanceId)],
    }),
  );
  const result = out.MetricDataResults?.find((r) => r.Id === 'replicaLag') ?? out.MetricDataResults?.[0];
  return newestValue(result?.Values ?? [], result?.Timestamps ?? []);
}

/**
 * latestReplicaLag of many instances, 500 queries a GetMetricData (docs/design/fleet.md, "Preflight"): a fleet's
 * preflight asked for each unit's lag alone, 500 calls against CloudWatch's 50 a second. Follows NextToken (a page may
 * hold part of a query's values); an instance without a datapoint maps to undefined. Errors are thrown as the SDK
 * gives them.
 */
export async function latestReplicaLags(
  cloudwatch: CloudWatchClient,
  instanceIds: readonly string[],
  now: Date,
): Promise<Map<string, number | undefined>> {
  const unique = [...new Set(instanceIds)];
  const lags = new Map<string, number | undefined>();
  for (let start = 0; start < unique.length; start += LAG_QUERIES_PER_CALL) {
    const chunk = unique.slice(start, start + LAG_QUERIES_PER_CALL);
    // Query ids must start with a lower-case letter; the instance is found again by its position.
    const values = chunk.map(() => ({ values: [] as number[], timestamps: [] as Date[] }));
    let token: string | undefined;
    do {
      const out = await cloudwatch.send(
        new GetMetricDataCommand({
          StartTime: new Date(now.getTime() - LAG_WINDOW_MS),
          EndTime: now,
          ScanBy: 'TimestampDescending',
          MetricDataQueries: chunk.map((id, i) => replicaLagQuery(`lag${i}`, id)),
          ...(token ? { NextToken: token } : {}),
        }),
      );
      for (const result of out.MetricDataResults ?? []) {
        const at = values[Number(/^lag(\d+)$/.exec(result.Id ?? '')?.[1] ?? -1)];
        if (!at) continue;
        at.values.push(...(result.Values ?? []));
        at.timestamps.push(...(result.Timestamps ?? []));
      }
      token = out.NextToken;
    } while (token);
    chunk.forEach((id, i) => {
      lags.set(id, newestValue(values[i]?.values ?? [], values[i]?.timestamps ?? []));
    });
  }
  return lags;
}

/**
 * Read-only checks of the unit's replica for preflight. `error`: a configuration problem (missing, wrong source,
 * wrong engine, RDS-managed password, a status it cannot be promoted from). `warning`: what a disaster causes (lag
 * high or unknown, replication stopped, the replica busy for a while, already promoted by an earlier run).
 */
export async function checkDatabaseReadiness(
  deps: DatabaseReadinessDeps,
  input: UnitStepInput,
): Promise<PreflightCheck[]> {
  const { run } = input;
  const unit = instanceUnit(input.unit, 'checkDatabaseReadiness');
  const replicaId = unit.database.replicaInstanceId;
  const { checks, add } = unitFindings(unit.name);

  let instance: DBInstance;
  try {
    instance = await describeInstance(deps.rds, replicaId);
  } catch (error) {
    if (error instanceof ResourceMissingError) {
      add(
        'database.replica-exists',
        false,
        'error',
        `read replica ${replicaId} (database.replicaInstanceId) does not exist in ${run.recoveryRegion}`,
      );
      return checks;
    }
    throw error;
  }
  add('database.replica-exists', true, 'error', `read replica ${replicaId} exists in ${run.recoveryRegion}`);

  const status = statusOf(instance);
  const figures = { replicaStatus: status };
  if (status === 'available') add('database.status', true, 'warning', `${replicaId} is available`, figures);
  else if (DEAD_END_STATUSES.has(status)) {
    add(
      'database.status',
      false,
      'error',
      `${replicaId} is "${status}": it cannot be promoted from this status`,
      figures,
    );
  } else {
    add(
      'database.status',
      false,
      'warning',
      `${replicaId} is "${status}", not available: promotion waits until RDS accepts it`,
      figures,
    );
  }

  if (instance.Engine !== unit.database.engine) {
    add(
      'database.engine',
      false,
      'error',
      `${replicaId} runs engine ${instance.Engine ?? 'unknown'}, the plan says ${unit.database.engine} (database.engine)`,
    );
  } else add('database.engine', true, 'error', `${replicaId} runs ${instance.Engine}`);

  // docs/aws/secrets-manager-replication.md, "Credentials that RDS manages": an instance whose master password RDS manages cannot have read replicas, and RDS rotates
  // that password in its own secret, which lifeboat neither promotes nor re-attaches. The plan's secret must be the
  // user's own secret; a managed password on the replica is a configuration problem, so an error.
  const managed = instance.MasterUserSecret?.SecretArn;
  if (managed) {
    add(
      'database.master-password',
      false,
      'error',
      `${replicaId} has an RDS-managed master password (${managed}); lifeboat needs the plan's own secret ` +
        `(secret.id ${unit.secret.id}) to hold the credentials`,
    );
  } else
    add(
      'database.master-password',
      true,
      'error',
      `${replicaId} does not use an RDS-managed master password`,
    );

  const source = replicaSource(instance);
  const expected = primaryInstanceArn(run, unit);
  if (source === undefined) {
    add(
      'database.replica-source',
      false,
      'warning',
      `${replicaId} is not a read replica (already promoted?): PromoteDatabase will find nothing to do`,
    );
    return checks;
  }
  if (!sameArn(source, expected)) {
    add(
      'database.replica-source',
      false,
      'error',
      `${replicaId} is a read replica of ${source}, not of ${expected} (database.primaryInstanceId)`,
    );
  } else add('database.replica-source', true, 'error', `${replicaId} is a read replica of ${expected}`);

  if ((instance.BackupRetentionPeriod ?? 0) === 0) {
    add(
      'database.replica-backups',
      false,
      'warning',
      `${replicaId} has automated backups off: promotion takes a backup first and lasts longer ` +
        '(enable backups on the replica beforehand)',
    );
  } else {
    add(
      'database.replica-backups',
      true,
      'warning',
      `${replicaId} keeps backups ${instance.BackupRetentionPeriod} days`,
    );
  }

  checks.push(await replicaLagCheck(deps, unit, (deps.now ?? (() => new Date()))()));
  return checks;
}

async function replicaLagCheck(
  deps: DatabaseReadinessDeps,
  unit: InstanceUnitPlan,
  now: Date,
): Promise<PreflightCheck> {
  const replicaId = unit.database.replicaInstanceId;
  const max = unit.database.maxReplicaLagSeconds;
  const result = (ok: boolean, message: string, lagSeconds: number | null = null): PreflightCheck => ({
    unit: unit.name,
    check: 'database.replica-lag',
    ok,
    severity: 'warning',
    message,
    figures: { replicaLagSeconds: lagSeconds },
  });
  let lag: number | undefined;
  try {
    // The fleet's lags read together before the units' checks, when preflight could (functions/lib/preflight.ts).
    const known = deps.knownReplicaLag?.(replicaId);
    lag = known ? known.lag : await latestReplicaLag(deps.cloudwatch, replicaId, now);
  } catch (error) {
    // A transient failure is worth a retry of preflight; anything else leaves the lag unknown, which a disaster
    // can cause too (a warning, not a reason to block a failover).
    if (isTransientAwsError(error)) throw toLifeboatError(error, `GetMetricData ReplicaLag for ${replicaId}`);
    const name = awsErrorName(error) ?? 'Error';
    return result(false, `replica lag of ${replicaId} unknown: GetMetricData failed (${name})`);
  }
  if (lag === undefined) {
    return result(
      false,
      `replica lag of ${replicaId} unknown: no ReplicaLag datapoint in the last 5 minutes`,
    );
  }
  if (lag < 0) {
    return result(false, `replication to ${replicaId} is not running (ReplicaLag -1)`, lag);
  }
  if (lag > max) {
    return result(
      false,
      `${replicaId} lags ${lag} s behind its primary, over database.maxReplicaLagSeconds ${max}`,
      lag,
    );
  }
  return result(true, `${replicaId} lags ${lag} s (limit ${max})`, lag);
}
