import { formatDuration } from './format.js';
import type { UnitReport } from './model.js';

/** A unit's facts in words, one wording for the text, HTML and Markdown reports. */

/** Data-loss exposure in words: the lag preflight measured just before the promotions. */
export function describeReplicaLag(unit: UnitReport): string {
  if (!unit.replicaLag) return 'not measured';
  const { seconds, measuredAt } = unit.replicaLag;
  if (seconds < 0) return `replication not running (ReplicaLag -1) at ${measuredAt}`;
  if (seconds === 0) return `none measured (replica lag 0 s at ${measuredAt})`;
  return `up to ${seconds} s of writes (replica lag at ${measuredAt})`;
}

/**
 * A switchover's window and data-loss proof in words (functions/lib/report/switchover.ts); null for other modes. One
 * wording for the text, HTML and Markdown reports.
 */
export function describeSwitchover(unit: UnitReport): string | null {
  const so = unit.switchover;
  if (!so) return null;
  if (so.managedBy === 'aurora') {
    const window =
      so.writeUnavailableSeconds !== null
        ? `writes unavailable at most ${formatDuration(so.writeUnavailableSeconds * 1000)} (SwitchoverGlobalCluster called ${so.switchoverStartedAt}, verified ${so.verifiedAt})`
        : so.verifiedAt
          ? `verified ${so.verifiedAt} (the switchover was started by an earlier run)`
          : 'not verified';
    return `Aurora's managed switchover: ${window}; no lifeboat fence, Aurora synchronizes the secondary before it promotes it (no data loss by Aurora's design, not measured by lifeboat)`;
  }
  const window =
    so.writeUnavailableSeconds !== null
      ? `writes unavailable ${formatDuration(so.writeUnavailableSeconds * 1000)} (fenced ${so.fencedAt}, verified ${so.verifiedAt})`
      : `fenced ${so.fencedAt ?? 'never'}, not verified`;
  if (so.afterPromotionFailure) {
    // The promotion failed after a proven catch-up: nothing was lost, and whether the primary was given back is the fact.
    const loss = so.dataLossTransactions === 0 ? `data lost: 0 transactions, proven: ${so.proof}; ` : '';
    return `${window}; ${loss}promotion failed, ${so.afterPromotionFailure}`;
  }
  const loss =
    so.dataLossTransactions === 0
      ? `data lost: 0 transactions, proven: ${so.proof}`
      : `data loss not proven${so.unfenced === null ? '' : so.unfenced ? '; nothing promoted, the primary was un-fenced' : '; nothing promoted, the un-fence FAILED: the primary is still fenced'}`;
  return `${window}; ${loss}`;
}

/** The units table's data-loss cell: a switchover's proof, else the exposure preflight measured. */
export function describeDataLoss(unit: UnitReport): string {
  if (unit.switchoverRehearsal) return unit.switchoverRehearsal;
  return describeSwitchover(unit) ?? describeReplicaLag(unit);
}

export function describeDns(unit: UnitReport): string {
  const d = unit.dns;
  if (!d?.recordName) return '-';
  const changed = d.alreadyInPlace
    ? 'already in place (value unchanged)'
    : d.changedAt
      ? `changed ${d.changedAt}`
      : 'not changed';
  const inSync = d.inSyncAt ? `, in sync ${d.inSyncAt}` : '';
  return `${d.recordName}: ${changed}${inSync}, TTL ${d.ttlSeconds ?? '?'} s`;
}
