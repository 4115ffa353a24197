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
  ResourceBusyError,
  ResourceMissingError,
  toLifeboatError,
} from './errors.js';
import { logger } from './observability.js';
import type { InstanceUnitPlan } from './plan.js';
import { instanceUnit, primaryInstanceArn } from './plan-names.js';
import { timedStep } from './step.js';
import type { DetailValue, PollResult, StepResult, UnitStepInput } from './types.js';
import './sdk/rds.js';

/**
 * The RDS steps: promote the cross-Region read replica in the recovery Region and poll until it is a standalone,
 * writable instance. Every RDS call goes to the recovery Region (the client given); nothing here calls the primary
 * Region, which may be down. The read-only preflight checks of the replica are in database.ts, which re-exports this
 * module: they read CloudWatch's ReplicaLag, and the steps that only promote or poll (PromoteDatabase,
 * CheckDatabasePromotion) import this module so that their bundles do not carry a CloudWatch client
 * (docs/design/packaging.md, "Bundle size").
 */

export interface DatabaseDeps {
  readonly rds: RDSClient;
  /** Clock, for tests. @default () => new Date() */
  readonly now?: () => Date;
}

export interface PollInput extends UnitStepInput {
  attempt: number;
}

export interface PromotionPollDeps extends DatabaseDeps {
  /**
   * Reads the replica (PromoteDatabase, CheckDatabasePromotion). The step gives the shared poll
   * (functions/lib/shared-poll.ts, docs/design/fleet.md "Polls by instance, not by unit") when it has the lock table;
   * its own DescribeDBInstances otherwise.
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
export function sameArn(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

export function replicaSource(instance: DBInstance): string | undefined {
  const source = instance.ReadReplicaSourceDBInstanceIdentifier;
  return source === undefined || source === '' ? undefined : source;
}

export function statusOf(instance: DBInstance): string {
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
export async function promoteDatabase(deps: PromotionPollDeps, input: UnitStepInput): Promise<StepResult> {
  const { run } = input;
  // Aurora units are promoted by functions/lib/aurora/promote.ts (the handler dispatches on the unit's kind).
  const unit = instanceUnit(input.unit, 'promoteDatabase');
  return timedStep(
    'promoteDatabase',
    unit.name,
    async () => {
      const replicaId = unit.database.replicaInstanceId;
      // The run's shared snapshot when the step has it (docs/design/fleet.md, "Polls by instance, not by unit"): at
      // 500 units, a describe per attempt took the RDS tokens the promotions needed. A snapshot up to two intervals
      // old is safe: RDS refuses PromoteReadReplica on an instance promoted meanwhile (InvalidDBInstanceState, retried
      // below as ResourceBusyError), and the retry reads it promoted. A dry run describes its own.
      const read =
        run.mode === 'dry-run' || !deps.readReplica
          ? (id: string) => describeInstance(deps.rds, id)
          : deps.readReplica;
      const instance = await read(replicaId);
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
