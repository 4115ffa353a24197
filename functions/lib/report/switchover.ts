import type { StepResult } from '../types.js';
import { seconds } from './format.js';
import type { PollRecord, UnitResults, UnitSwitchoverReport } from './model.js';

/**
 * A switchover unit's figures (docs/design/switchover.md, "Report"): the write-unavailability window, from the fence to
 * the database verified through the CNAME, and the data-loss figure. Zero is reported only when proven: the catch-up
 * poll saw the replica's applied position cover the primary's position read after the fence, before the promotion.
 */
export function switchoverReport(
  results: UnitResults,
  verifiedAt: string | null,
  aurora = false,
): UnitSwitchoverReport {
  if (aurora) return auroraSwitchoverReport(results, verifiedAt);
  const fence: StepResult | undefined = results.fencePrimary;
  const catchUp: PollRecord | undefined = results.waitForCatchUp;
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  const fencedAt = text(fence?.detail?.fencedAt);
  const positionKind = text(fence?.detail?.positionKind ?? catchUp?.detail?.positionKind);
  const fencePosition = text(fence?.detail?.fencePosition ?? catchUp?.detail?.fencePosition);
  const replicaPosition = text(catchUp?.detail?.replicaPosition);
  const proven = catchUp?.done === true && catchUp.detail?.caughtUp === true && fencePosition !== null;
  const comparison =
    positionKind === 'pg-lsn'
      ? `replica replay LSN ${replicaPosition} >= primary LSN ${fencePosition} read after the fence`
      : positionKind === 'mysql-gtid'
        ? `GTID_SUBSET(primary gtid_executed ${fencePosition} after the fence, replica gtid_executed) = 1`
        : `replica gtid_slave_pos ${replicaPosition} covers primary gtid_binlog_pos ${fencePosition} read after the fence`;
  const stoppedBeforePromotion =
    results.unfencePrimary !== undefined || results.unfencePrimaryFailure !== undefined;
  // The catch-up was done, so the un-fence (or the refusal to) followed a failed promotion (statemachine/failover.ts).
  const atPromotion = stoppedBeforePromotion && catchUp?.done === true;
  const unfenceFailure = results.unfencePrimaryFailure;
  const afterPromotionFailure = !atPromotion
    ? null
    : unfenceFailure
      ? unfenceFailure.Error === 'FenceKeptError'
        ? `the primary stays fenced: ${causeMessage(unfenceFailure.Cause)}`
        : `the un-fence failed (${unfenceFailure.Error ?? 'unknown error'}): the primary stays fenced`
      : 'unfenced: replica not promoted';
  return {
    fencedAt,
    verifiedAt,
    writeUnavailableSeconds:
      fencedAt && verifiedAt ? seconds(Date.parse(verifiedAt) - Date.parse(fencedAt)) : null,
    positionKind,
    fencePosition,
    replicaPosition,
    dataLossTransactions: proven ? 0 : null,
    proof: proven ? `${comparison}, observed ${catchUp?.observedAt}, before the promotion` : null,
    unfenced: stoppedBeforePromotion
      ? results.unfencePrimary !== undefined && !results.unfencePrimaryFailure
      : null,
    afterPromotionFailure,
  };
}

/**
 * An Aurora unit's switchover is SwitchoverGlobalCluster: Aurora synchronizes the secondary before it swaps the roles
 * (RPO 0 by AWS's design, docs/aws/aurora-global-database.md). lifeboat has no fence and no positions of its own, so it
 * reports no proof and no data-loss figure, and the window from its call to the unit verified.
 */
function auroraSwitchoverReport(results: UnitResults, verifiedAt: string | null): UnitSwitchoverReport {
  const promote = results.promoteDatabase;
  const call = promote?.detail?.call;
  // A re-run finds the switchover under way or done (call null): the first run's call is not in this run's results.
  const startedAt = call === 'SwitchoverGlobalCluster' ? (promote?.startedAt ?? null) : null;
  return {
    fencedAt: null,
    verifiedAt,
    writeUnavailableSeconds:
      startedAt && verifiedAt ? seconds(Date.parse(verifiedAt) - Date.parse(startedAt)) : null,
    positionKind: null,
    fencePosition: null,
    replicaPosition: null,
    dataLossTransactions: null,
    proof: null,
    unfenced: null,
    afterPromotionFailure: null,
    managedBy: 'aurora',
    switchoverStartedAt: startedAt,
  };
}

/** A Lambda failure's Cause is JSON with `errorMessage`; anything else is shown as it is. */
function causeMessage(cause: unknown): string {
  if (typeof cause !== 'string') return 'no cause recorded';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: the cause as given
  }
  return cause;
}

/**
 * A drill of a switchover, in words (docs/design/switchover.md, "Dry run and drill"): what ran on the copies and what
 * did not. The catch-up compared the copy with the primary's position read when the fence was checked; writes went
 * on after it, and nothing was fenced, so no data-loss figure is given.
 */
export function switchoverRehearsal(results: UnitResults): string {
  const fence = results.fencePrimary;
  const catchUp = results.waitForCatchUp;
  const lift = results.liftFence;
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  const parts: string[] = [];
  if (!fence) {
    parts.push(
      'the fence check on the production primary did not pass (see the failure): nothing was fenced',
    );
  } else {
    parts.push(
      `the fence's login and privileges checked on the production primary, not applied (${text(fence.detail?.checked) ?? 'checked'})`,
    );
  }
  if (catchUp?.done) {
    parts.push(
      `the copy caught up to the primary's position ${text(fence?.detail?.fencePosition) ?? '?'} read at that check (copy at ${text(catchUp.detail?.replicaPosition) ?? '?'})`,
    );
  } else if (fence) {
    parts.push('the catch-up on the copy did not finish');
  }
  if (lift)
    parts.push(
      `lift-fence ${lift.outcome === 'already-done' ? 'a no-op on the promoted copy (nothing fenced)' : lift.outcome}`,
    );
  return `switchover rehearsed on the drill copy: ${parts.join('; ')}; not rehearsed: fencing production writes, the write-unavailability window, the data-loss proof`;
}
