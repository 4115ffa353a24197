import { type CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  type DBInstance,
  DescribeDBInstancesCommand,
  PromoteReadReplicaCommand,
  type PromoteReadReplicaCommandInput,
  type RDSClient,
} from '@aws-sdk/client-rds';
import {
  awsErrorName,
  ConfigurationError,
  isTransientAwsError,
  ResourceBusyError,
  ResourceMissingError,
  toLifeboatError,
} from './errors.js';
import { logger } from './observability.js';
import type { InstanceUnitPlan } from './plan.js';
import { instanceUnit, primaryInstanceArn } from './plan-names.js';
import { timedStep } from './step.js';
import type { DetailValue, PollResult, PreflightCheck, StepResult, UnitStepInput } from './types.js';
import './sdk/cloudwatch.js';
import './sdk/rds.js';
import { unitFindings } from './preflight-findings.js';

/**
 * The RDS steps: promote the cross-Region read replica in the recovery Region, poll until it is a standalone,
 * writable instance, and the read-only preflight checks of the replica. Every RDS call goes to the recovery Region
 * (the client given); nothing here calls the primary Region, which may be down.
 */

export interface DatabaseDeps {
  readonly rds: RDSClient;
  /** Clock, for tests. @default () => new Date() */
  readonly now?: () => Date;
}

export interface DatabaseReadinessDeps extends DatabaseDeps {
  readonly cloudwatch: CloudWatchClient;
}

export interface PollInput extends UnitStepInput {
  attempt: number;
}

export interface PromotionPollDeps extends DatabaseDeps {
  /**
   * Reads the replica. The step gives the shared poll (functions/lib/shared-poll.ts, docs/design/fleet.md "Polls by
   * instance, not by unit") when it has the lock table; its own DescribeDBInstances otherwise.
   */
  readonly readReplica?: (instanceId: string) => Promise<DBInstance>;
}

// SDK v3 names the errors after their shapes (`DBInstanceNotFoundFault`); the wire codes and other
// AWS-compatible servers use the short form (`DBInstanceNotFound`). Accept both.
const NOT_FOUND = new Set(['DBInstanceNotFoundFault', 'DBInstanceNotFound']);
const INVALID_STATE = new Set(['InvalidDBInstanceStateFault', 'InvalidDBInstanceState']);

/**
 * Statuses from which an instance does not get back to `available` without a person acting (RDS User Guide,
 * "Viewing DB instance status"). A step that meets one stops at once with a clear error instead of polling until the
 * state machine's timeout. Every other status is treated as passing (backing-up, modifying, rebooting, upgrading,
 * configuring-*, storage-optimization, ...): RDS itself moves the instance on.
 */
export const DEAD_END_STATUSES: ReadonlySet<string> = new Set([
  'failed',
  'inaccessible-encryption-credentials',
  'inaccessible-encryption-credentials-recoverable',
  'incompatible-credentials',
  'incompatible-network',
  'incompatible-option-group',
  'incompatible-parameters',
  'incompatible-restore',
  'insufficient-capacity',
  'restore-error',
  'storage-full',
  'delete-precheck',
  'deleting',
  'stopping',
  'stopped',
]);

/* ---------------------------------------------------------------------------------------------- */
/* Input checks shared by the RDS and Route 53 handlers                                            */
/* ---------------------------------------------------------------------------------------------- */

// The step-input checks live in step-input.ts (no SDK client): the poll handlers import them from there
// (docs/design/packaging.md, "Bundle size").
export { assertAttempt, assertUnitStepInput } from './step-input.js';

/* ---------------------------------------------------------------------------------------------- */
/* Reading the instance                                                                            */
/* ---------------------------------------------------------------------------------------------- */

/** DescribeDBInstances for one identifier; a missing instance is ResourceMissingError. */
export async function describeInstance(rds: RDSClient, instanceId: string): Promise<DBInstance> {
  let instances: DBInstance[] | undefined;
  try {
    const out = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: instanceId }));
    instances = out.DBInstances;
  } catch (error) {
    if (NOT_FOUND.has(awsErrorName(error) ?? '')) {
      throw new ResourceMissingError(`DB instance ${instanceId} does not exist in this Region`, {
        cause: error,
      });
    }
    throw toLifeboatError(error, `DescribeDBInstances on ${instanceId}`);
  }
  const instance = instances?.[0];
  if (!instance) throw new ResourceMissingError(`DB instance ${instanceId} does not exist in this Region`);
  return instance;
}

/** RDS stores identifiers in lower case, and a plan may not; ARNs are compared without case. */
function sameArn(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function replicaSource(instance: DBInstance): string | undefined {
  const source = instance.ReadReplicaSourceDBInstanceIdentifier;
  return source === undefined || source === '' ? undefined : source;
}

function statusOf(instance: DBInstance): string {
  return instance.DBInstanceStatus ?? 'unknown';
}

function wrongSourceError(unit: InstanceUnitPlan, source: string, expected: string): ConfigurationError {
  return new ConfigurationError(
    `DB instance ${unit.database.replicaInstanceId} is a read replica of ${source}, not of the plan's primary ` +
      `${expected} (units "${unit.name}" database.primaryInstanceId); nothing was changed`,
  );
}

function deadEndError(unit: InstanceUnitPlan, status: string, doing: string): ConfigurationError {
  return new ConfigurationError(
    `DB instance ${unit.database.replicaInstanceId} is "${status}", a status RDS does not leave on its own; ` +
      `${doing} cannot complete (see the instance's Recent events in the RDS console)`,
  );
}

/* ---------------------------------------------------------------------------------------------- */
/* PromoteDatabase                                                                                 */
/* ---------------------------------------------------------------------------------------------- */

/**
 * The PromoteReadReplica parameters. Backups: AWS recommends enabling automated backups on the replica before
 * promoting it, because a replica without them takes a backup during promotion, which makes promotion longer
 * (PromoteReadReplica API reference; RDS User Guide "Promoting a read replica"). The API's own default is
 * `BackupRetentionPeriod: 1`. lifeboat passes the replica's current retention when it is set, so the promoted primary
 * keeps the operator's retention and no extra backup is forced; when the replica has backups off it leaves the
 * parameter out: the new primary then gets the API default (backups on, a backup during promotion). A primary without
 * backups after a disaster is the worse risk; preflight warns about the slower promotion instead.
 */
export function promoteParameters(
  unit: InstanceUnitPlan,
  instance: DBInstance,
): PromoteReadReplicaCommandInput {
  const retention = instance.BackupRetentionPeriod;
  return {
    DBInstanceIdentifier: unit.database.replicaInstanceId,
    ...(retention !== undefined && retention > 0 ? { BackupRetentionPeriod: retention } : {}),
  };
}

function instanceDetail(instance: DBInstance): Record<string, DetailValue> {
  return {
    instance: instance.DBInstanceIdentifier ?? null,
    status: statusOf(instance),
    replicaSource: replicaSource(instance) ?? null,
    endpoint: instance.Endpoint?.Address ?? null,
    port: instance.Endpoint?.Port ?? null,
  };
}

/**
 * Promotes the unit's cross-Region read replica to a standalone instance (PromoteDatabase step).
 *
 * - standalone already (no `ReadReplicaSourceDBInstanceIdentifier`): `already-done`, no mutating call;
 * - a replica of anything but the plan's primary: ConfigurationError, nothing changed;
 * - a status RDS does not leave on its own (failed, storage-full, ...): ConfigurationError;
 * - otherwise PromoteReadReplica. RDS refuses it while the replica is busy (`backing-up`, `modifying`, ...) with
 *   InvalidDBInstanceState: that is ResourceBusyError, which the state machine retries.
 *
 * A re-run after a crash whose PromoteReadReplica was accepted but whose response was lost finds the replica still
 * naming its source and `available` (the status change is not immediate) or `modifying`/`rebooting`. The API has no
 * field that tells that promotion apart from another modification, so lifeboat does not guess: it calls
 * PromoteReadReplica again. RDS refuses it while the instance is busy (ResourceBusyError, retried by the state
 * machine); once the promotion ends the instance is standalone and the retry returns `already-done`; if the busy
 * state was something else, the retry promotes. Either way the run converges without a second promotion. The
 * state machine's retry budget for ResourceBusyError on this step must therefore cover a promotion (minutes).
 */
export async function promoteDatabase(deps: DatabaseDeps, input: UnitStepInput): Promise<StepResult> {
  const { run } = input;
  // Aurora units are promoted by functions/lib/aurora/promote.ts (the handler dispatches on the unit's kind).
  const unit = instanceUnit(input.unit, 'promoteDatabase');
  return timedStep(
    'promoteDatabase',
    unit.name,
    async () => {
      const replicaId = unit.database.replicaInstanceId;
      const instance = await describeInstance(deps.rds, replicaId);
      const source = replicaSource(instance);
      const status = statusOf(instance);
      if (source === undefined) {
        logger.info('replica already promoted', { unit: unit.name, instance: replicaId, status });
        return { outcome: 'already-done', detail: { ...instanceDetail(instance), call: null } };
      }
      const expected = primaryInstanceArn(run, unit);
      if (!sameArn(source, expected)) throw wrongSourceError(unit, source, expected);
      if (DEAD_END_STATUSES.has(status)) throw deadEndError(unit, status, 'promotion');

      const params = promoteParameters(unit, instance);
      const planned = {
        call: 'PromoteReadReplica',
        dbInstanceIdentifier: params.DBInstanceIdentifier ?? replicaId,
        backupRetentionPeriod: params.BackupRetentionPeriod ?? null,
      };
      if (run.mode === 'dry-run') {
        const warnings =
          status === 'available'
            ? []
            : [
                `replica is "${status}": RDS refuses PromoteReadReplica until it is available; the step would retry`,
              ];
        return { outcome: 'planned', detail: { ...instanceDetail(instance), ...planned }, warnings };
      }

      let promoted: DBInstance | undefined;
      try {
        promoted = (await deps.rds.send(new PromoteReadReplicaCommand(params))).DBInstance;
      } catch (error) {
        const name = awsErrorName(error) ?? '';
        if (INVALID_STATE.has(name)) {
          throw new ResourceBusyError(
            `PromoteReadReplica on ${replicaId} refused while the replica is "${status}" (${name}); ` +
              'RDS accepts it once the replica is available again',
            { cause: error },
          );
        }
        if (NOT_FOUND.has(name)) {
          throw new ResourceMissingError(`DB instance ${replicaId} does not exist in this Region`, {
            cause: error,
          });
        }
        throw toLifeboatError(error, `PromoteReadReplica on ${replicaId}`);
      }
      logger.info('replica promotion started', { unit: unit.name, instance: replicaId, runId: run.runId });
      return {
        outcome: 'changed',
        detail: {
          ...instanceDetail(promoted ?? instance),
          ...planned,
          previousReplicaSource: source,
        },
      };
    },
    deps.now,
  );
}

/* ---------------------------------------------------------------------------------------------- */
/* WaitForDatabasePromotion                                                                        */
/* ---------------------------------------------------------------------------------------------- */

/**
 * Seconds until the next poll. Detection lag (time from `available` to the poll that sees it) is at most one wait, so
 * the waits stay in seconds, never minutes (docs/design.md, "Targets": under 5 s):
 * - `available` but still naming its source: PromoteReadReplica was accepted, the status flips within seconds: 2 s;
 * - `rebooting`: the last phase, `available` follows soon: 2 s;
 * - `modifying`, `backing-up` (the backup a replica without backups takes while promoting) and other passing
 *   statuses: the bulk of the minutes a promotion takes; 4 s keeps the lag under 5 s with a quarter of the calls
 *   a 1 s poll would make (DescribeDBInstances is throttled per account, and a plan may poll 100 units at once).
 */
export function promotionPollSeconds(status: string, hasSource: boolean): number {
  if (status === 'available' && hasSource) return 2;
  if (status === 'rebooting') return 2;
  return 4;
}

/** One poll of the promotion (WaitForDatabasePromotion loop): done once `available` with no replica source. */
export async function checkDatabasePromotion(deps: PromotionPollDeps, input: PollInput): Promise<PollResult> {
  const { run, attempt } = input;
  const unit = instanceUnit(input.unit, 'checkDatabasePromotion');
  const observedAt = (deps.now ?? (() => new Date()))().toISOString();
  if (run.mode === 'dry-run') {
    return { done: true, status: 'planned', waitSeconds: 0, observedAt, detail: { attempt, dryRun: true } };
  }
  const replicaId = unit.database.replicaInstanceId;
  const instance = await (deps.readReplica ?? ((id) => describeInstance(deps.rds, id)))(replicaId);
  const status = statusOf(instance);
  const source = replicaSource(instance);
  if (DEAD_END_STATUSES.has(status)) throw deadEndError(unit, status, 'promotion');
  // The status does not change at once after PromoteReadReplica: an `available` instance that still names its
  // source has not started promoting yet. Only both conditions together mean a writable standalone instance.
  const done = status === 'available' && source === undefined;
  const waitSeconds = done ? 0 : promotionPollSeconds(status, source !== undefined);
  logger.info('database promotion polled', { unit: unit.name, status, done, attempt });
  return { done, status, waitSeconds, observedAt, detail: { ...instanceDetail(instance), attempt } };
}

/* ---------------------------------------------------------------------------------------------- */
/* Preflight                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

const LAG_WINDOW_MS = 5 * 60 * 1000;

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
      MetricDataQueries: [
        {
          Id: 'replicaLag',
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
        },
      ],
    }),
  );
  const result = out.MetricDataResults?.find((r) => r.Id === 'replicaLag') ?? out.MetricDataResults?.[0];
  const values = result?.Values ?? [];
  const timestamps = result?.Timestamps ?? [];
  if (values.length === 0) return undefined;
  // TimestampDescending puts the newest first; sort anyway, in case a server ignores ScanBy.
  let newest = 0;
  for (let i = 1; i < values.length; i++) {
    const t = timestamps[i]?.getTime() ?? 0;
    if (t > (timestamps[newest]?.getTime() ?? 0)) newest = i;
  }
  return values[newest];
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
    lag = await latestReplicaLag(deps.cloudwatch, replicaId, now);
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
