import type { DBInstance } from '@aws-sdk/client-rds';
import { describeInstance } from '../database.js';
import { FenceKeptError, LifeboatError } from '../errors.js';
import { logger } from '../observability.js';
import { instanceDatabase } from '../plan-names.js';
import type { StepResult, UnitStepInput } from '../types.js';
import { type SwitchoverDeps, unfence } from './switchover.js';

/**
 * After a failed promotion in a switchover (docs/design/switchover.md, "Stopping at the promotion"): un-fence the
 * primary only when the replica is proven unpromoted, else keep the fence (never two writers).
 */

/** What the state machine hands this step: the unit's results so far (`$.results`). */
export interface UnpromotedInput extends UnitStepInput {
  results?: {
    promoteDatabase?: { outcome?: string };
    /** The database branch's own failure, kept beside the unit's (statemachine/failover.ts). */
    promoteDatabaseFailure?: { Error?: string };
  };
}

/**
 * Failures of the database promotion that mean PromoteReadReplica was refused or never sent: RDS answered with an
 * error (busy, missing, refused), or lifeboat refused before the call (wrong source, dead-end status). Anything else
 * (a Lambda or task timeout, a 5xx, a lost response) may hide an accepted call.
 */
const REFUSED_BEFORE_PROMOTION: ReadonlySet<string> = new Set([
  'ResourceBusyError',
  'ResourceMissingError',
  'ConfigurationError',
  'AwsCallFailedError',
]);

/** Why the replica cannot be proven unpromoted, or null when it is proven (still a replica, at rest). */
export function whyNotProvenUnpromoted(input: UnpromotedInput, replica: DBInstance | null): string | null {
  const database = input.results?.promoteDatabase;
  if (database) {
    return `PromoteReadReplica was ${database.outcome === 'already-done' ? 'already done' : 'accepted'}: the promotion may be under way or done`;
  }
  const failure = input.results?.promoteDatabaseFailure?.Error;
  if (!failure) {
    return 'the database promotion left no result and no failure of its own: whether PromoteReadReplica was sent is unknown';
  }
  if (!REFUSED_BEFORE_PROMOTION.has(failure)) {
    return `the database promotion failed with ${failure}, which may hide an accepted PromoteReadReplica`;
  }
  if (!replica) return 'the replica could not be described';
  const status = replica.DBInstanceStatus ?? 'unknown';
  if (!replica.ReadReplicaSourceDBInstanceIdentifier) {
    return `the replica names no source (status "${status}"): it is promoted or promoting`;
  }
  // Only a replica at rest is proven: `modifying`, `rebooting` and the like may be a promotion in progress
  // (functions/lib/database.ts, promoteDatabase).
  if (status !== 'available') return `the replica is "${status}", which may be a promotion in progress`;
  return null;
}

/**
 * Describes the replica; un-fences the primary when it is proven a replica still (StepResult with
 * `unfenced: "replica not promoted"`), else throws FenceKeptError saying why the fence stays.
 */
export async function unfenceIfUnpromoted(
  deps: SwitchoverDeps,
  input: UnpromotedInput,
  unfencePrimary: (deps: SwitchoverDeps, input: UnitStepInput) => Promise<StepResult> = (d, i) =>
    unfence(d, i, 'primary'),
): Promise<StepResult> {
  const { run, unit } = input;
  const replicaId = instanceDatabase(unit, 'the switchover un-fence').replicaInstanceId;
  let replica: DBInstance | null = null;
  let unreadable: string | null = null;
  if (run.mode !== 'dry-run') {
    try {
      replica = await describeInstance(deps.rds, replicaId);
    } catch (error) {
      // Throttling is retried by the state machine; any other answer leaves the question open.
      if (error instanceof LifeboatError && error.retryable) throw error;
      unreadable = error instanceof Error ? error.message : String(error);
    }
  }
  const why = run.mode === 'dry-run' ? null : whyNotProvenUnpromoted(input, replica);
  if (why !== null) {
    logger.warn('primary stays fenced after a failed promotion', {
      unit: unit.name,
      replica: replicaId,
      why,
    });
    throw new FenceKeptError(
      `the primary stays fenced (never two writers): ${why}${unreadable ? ` (${unreadable})` : ''}; ` +
        're-run the switchover to finish it, or un-fence by hand once the replica is known unpromoted',
    );
  }
  const result = await unfencePrimary(deps, input);
  return {
    ...result,
    detail: {
      ...result.detail,
      unfenced: 'replica not promoted',
      replica: replicaId,
      replicaStatus: replica?.DBInstanceStatus ?? null,
      replicaSource: replica?.ReadReplicaSourceDBInstanceIdentifier ?? null,
    },
  };
}
