/**
 * The "last sync" record of a secret that a feed keeps current (the replicator, the Vault sync), written as tags on the
 * secret it writes, and read by preflight (functions/lib/secret-feeds/readiness.ts). Shared by every feed:
 * docs/design/secret-feeds.md, "The last-sync record".
 *
 * Tags, because the record then travels with the secret: preflight already reads the secret with DescribeSecret, in
 * the recovery Region, and needs no table, metric or Region of the feed's own. Tag values allow letters, digits,
 * spaces and `_ . : / = + - @`, at most 256 characters (docs/aws/secrets-manager-replication.md, "Tags").
 */

/** Which feed writes the secret: `replicator` or `vault-sync`. Its presence marks the secret as fed. */
export const FEED_TAG = 'lifeboat:feed';
/** When the feed last tried to write the secret: an ISO 8601 time in UTC, e.g. `2025-03-01T10:00:00.000Z`. */
export const LAST_SYNC_TAG = 'lifeboat:last-sync';
/** `ok` or `failed` (that attempt). */
export const LAST_SYNC_STATUS_TAG = 'lifeboat:last-sync-status';
/** Seconds within which the next sync is due (the feed's schedule); absent when the feed has none. */
export const SYNC_INTERVAL_TAG = 'lifeboat:sync-interval-seconds';

export const FEED_TAG_KEYS = [FEED_TAG, LAST_SYNC_TAG, LAST_SYNC_STATUS_TAG, SYNC_INTERVAL_TAG] as const;

export type FeedName = 'replicator' | 'vault-sync';
export type SyncStatus = 'ok' | 'failed';

export interface FeedRecord {
  readonly feed: FeedName;
  readonly lastSync: Date;
  readonly status: SyncStatus;
  /** Seconds within which the next sync is due; undefined when the feed has no schedule (an event-driven one). */
  readonly intervalSeconds?: number;
}

export interface Tag {
  Key?: string | undefined;
  Value?: string | undefined;
}

/** The tags that record `record` (TagResource's `Tags`). */
export function feedTags(record: FeedRecord): { Key: string; Value: string }[] {
  const tags = [
    { Key: FEED_TAG, Value: record.feed },
    { Key: LAST_SYNC_TAG, Value: record.lastSync.toISOString() },
    { Key: LAST_SYNC_STATUS_TAG, Value: record.status },
  ];
  if (record.intervalSeconds !== undefined) {
    tags.push({ Key: SYNC_INTERVAL_TAG, Value: String(Math.round(record.intervalSeconds)) });
  }
  return tags;
}

/**
 * The record in a secret's tags: `undefined` when the secret is not fed (no `lifeboat:feed` tag); `problem` when it is
 * fed but the record cannot be read (a hand-edited tag), so that preflight can say so rather than trust it.
 */
export function readFeedRecord(
  tags: readonly Tag[] | undefined,
): { record: FeedRecord } | { problem: string } | undefined {
  const value = (key: string) => tags?.find((t) => t.Key === key)?.Value;
  const feed = value(FEED_TAG);
  if (feed === undefined) return undefined;
  if (feed !== 'replicator' && feed !== 'vault-sync') {
    return { problem: `tag ${FEED_TAG} is "${feed}", expected replicator or vault-sync` };
  }
  const time = value(LAST_SYNC_TAG);
  const lastSync = time === undefined ? undefined : new Date(time);
  if (lastSync === undefined || Number.isNaN(lastSync.getTime()) || !/^\d{4}-\d\d-\d\dT/.test(time ?? '')) {
    return {
      problem: `fed by the ${feed}, but tag ${LAST_SYNC_TAG} is ${time === undefined ? 'missing' : `"${time}", not an ISO time`}`,
    };
  }
  const status = value(LAST_SYNC_STATUS_TAG);
  if (status !== 'ok' && status !== 'failed') {
    return {
      problem: `fed by the ${feed}, but tag ${LAST_SYNC_STATUS_TAG} is ${status === undefined ? 'missing' : `"${status}", expected ok or failed`}`,
    };
  }
  const interval = value(SYNC_INTERVAL_TAG);
  const intervalSeconds = interval === undefined ? undefined : Number(interval);
  if (intervalSeconds !== undefined && !(Number.isInteger(intervalSeconds) && intervalSeconds > 0)) {
    return {
      problem: `fed by the ${feed}, but tag ${SYNC_INTERVAL_TAG} is "${interval}", expected whole seconds`,
    };
  }
  return {
    record: { feed, lastSync, status, ...(intervalSeconds !== undefined ? { intervalSeconds } : {}) },
  };
}

/**
 * How late a sync may be before the record counts as stale: one interval and a grace of a tenth of it (at least five
 * minutes), for a run that starts late or takes a while.
 */
export function staleAfterSeconds(intervalSeconds: number): number {
  return intervalSeconds + Math.max(300, Math.round(intervalSeconds / 10));
}

/** Why the record says the secret may not be current, or undefined when it is fine. */
export function feedRecordProblem(record: FeedRecord, now: Date): string | undefined {
  const at = record.lastSync.toISOString();
  if (record.status === 'failed') return `the last sync by the ${record.feed} failed (${at})`;
  if (record.intervalSeconds === undefined) return undefined;
  const ageSeconds = (now.getTime() - record.lastSync.getTime()) / 1000;
  if (ageSeconds > staleAfterSeconds(record.intervalSeconds)) {
    return `the last sync by the ${record.feed} was ${formatAge(ageSeconds)} ago (${at}), longer than its schedule of every ${formatAge(record.intervalSeconds)}`;
  }
  return undefined;
}

function formatAge(seconds: number): string {
  if (seconds >= 2 * 86_400) return `${Math.round(seconds / 86_400)} days`;
  if (seconds >= 2 * 3_600) return `${Math.round(seconds / 3_600)} hours`;
  if (seconds >= 120) return `${Math.round(seconds / 60)} minutes`;
  return `${Math.round(seconds)} seconds`;
}
