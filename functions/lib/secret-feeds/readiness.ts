import type { UnitPlan } from '../plan.js';
import type { PreflightCheck } from '../types.js';
import { feedRecordProblem, readFeedRecord, type Tag } from './feed-record.js';

/**
 * Preflight's readiness check of a secret that a feed keeps current (the replicator or the Vault sync), from the tags
 * of the DescribeSecret answer preflight already has (functions/lib/secret/preflight.ts, checkSecretReadiness): a warning when
 * the last-sync record (functions/lib/secret-feeds/feed-record.ts) says the last sync failed, is older than the feed's
 * schedule, or cannot be read. A warning in a failover: it promotes what is there, and a feed that stopped is what a
 * disaster may cause; the operator learns that the secret may be behind. A drill treats it as an error, like every
 * warning that is not informational (functions/lib/preflight.ts): a drill proves the way out is ready, and it is not.
 * A secret without the record is not fed: no check.
 */
export function feedReadinessChecks(
  tags: readonly Tag[] | undefined,
  unit: UnitPlan,
  now: Date,
): PreflightCheck[] {
  const read = readFeedRecord(tags);
  if (read === undefined) return [];
  const check = (ok: boolean, message: string): PreflightCheck[] => [
    { unit: unit.name, check: 'secret.feed', ok, severity: 'warning', message },
  ];
  if ('problem' in read)
    return check(false, `${unit.secret.id}: ${read.problem}; it may not hold the current value`);
  const problem = feedRecordProblem(read.record, now);
  if (problem) return check(false, `${unit.secret.id}: ${problem}; it may not hold the current value`);
  return check(
    true,
    `${unit.secret.id}: last synced by the ${read.record.feed} at ${read.record.lastSync.toISOString()}`,
  );
}
