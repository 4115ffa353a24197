import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { DBInstance } from '@aws-sdk/client-rds';
import { timeFactor } from './env.js';
import { awsErrorName } from './errors.js';
import { logger } from './observability.js';
import type { UnitPlan } from './plan.js';
import { instanceDatabase, isAuroraUnit } from './plan-names.js';
import type { PromotedTarget } from './promoted-target.js';
import './sdk/dynamodb.js';

/**
 * The run's promotion snapshot in the lock table (docs/design/fleet.md, "Polls by instance, not by unit"): what the
 * shared poll (functions/lib/shared-poll.ts) writes and the units read. All items are small, so that a unit's read
 * costs one read unit whatever the size of the fleet (DynamoDB charges a read by the whole item's size):
 * - `poll#<plan>#<run>#rds#<region>`, the meta item: the lease (`leaseUntil`) and when the last lease holder finished
 *   writing (`polledAt`);
 * - `poll#<plan>#<run>#rds#<region>#ids`: the set of instance ids the units registered (`ids`), which only the lease
 *   holder reads. It is not in the meta item because a projection does not lower a read's cost: DynamoDB charges the
 *   whole item (docs/aws/dynamodb-batch-operations.md), and 500 ids are 15-35 KB, 4-9 read units a poll;
 * - `poll#<plan>#<run>#rds#<region>#db#<instance>`, one per described instance: its trimmed DBInstance (`instance`,
 *   JSON) and when it was described (`polledAt`). A unit judges an instance item by its own `polledAt`, never by the
 *   meta item's: a write the lease holder could not finish leaves that instance's older item, which then reads as old.
 * Every item carries the table's TTL (`expiresAt`), a day after its last write.
 */

export interface SnapshotKey {
  readonly planName: string;
  readonly runId: string;
  readonly region: string;
}

/** The meta item's key: beside the plan's lock item, never the same (a plan name has no `#`). */
export function snapshotKey(key: SnapshotKey): string {
  return `poll#${key.planName}#${key.runId}#rds#${key.region}`;
}

/** The key of the registered ids' item. */
export function idsItemKey(key: SnapshotKey): string {
  return `${snapshotKey(key)}#ids`;
}

/** The key of one instance's item. */
export function instanceItemKey(key: SnapshotKey, instanceId: string): string {
  return `${snapshotKey(key)}#db#${instanceId}`;
}

/** How long the items are kept after their last write (the lock table's TTL): a day, well past any run. */
const SNAPSHOT_TTL_SECONDS = 24 * 60 * 60;
/** BatchWriteItem takes at most 25 puts a call (docs/aws/dynamodb-batch-operations.md). */
export const BATCH_WRITE_MAX = 25;
/** Rounds of one chunk's unprocessed items before they are left for the next interval. */
const WRITE_ROUNDS = 4;
/** Chunks written at once by the lease holder: 500 instances are 20 calls, in 4 waves. */
const WRITE_CONCURRENCY = 5;

export const itemKey = (planName: string): Record<string, AttributeValue> => ({ planName: { S: planName } });

export function expiresAt(now: number): AttributeValue {
  return { N: String(Math.floor(now / 1000) + SNAPSHOT_TTL_SECONDS) };
}

/**
 * The interval of the promotion poll's snapshot: the shortest wait of WaitForDatabasePromotion
 * (functions/lib/database.ts, promotionPollSeconds), so that the snapshot is never older than the unit's own last wait.
 */
export const PROMOTION_SNAPSHOT_SECONDS = 2;

/** The fields of DBInstance the promotion poll and UpdateDns read: an instance's item stays far below 1 KB. */
export function trimmed(instance: DBInstance): DBInstance {
  return {
    DBInstanceIdentifier: instance.DBInstanceIdentifier,
    DBInstanceArn: instance.DBInstanceArn,
    DBInstanceStatus: instance.DBInstanceStatus,
    Engine: instance.Engine,
    ...(instance.ReadReplicaSourceDBInstanceIdentifier
      ? { ReadReplicaSourceDBInstanceIdentifier: instance.ReadReplicaSourceDBInstanceIdentifier }
      : {}),
    ...(instance.Endpoint
      ? { Endpoint: { Address: instance.Endpoint.Address, Port: instance.Endpoint.Port } }
      : {}),
    ...(instance.BackupRetentionPeriod !== undefined
      ? { BackupRetentionPeriod: instance.BackupRetentionPeriod }
      : {}),
  };
}

/** What a unit reads: the meta item's lease, and its own instance's item. */
export interface UnitView {
  /** The meta item's `leaseUntil` (ms), when there is one. */
  readonly leaseUntil: number | undefined;
  /** The unit's instance as described at `polledAt` (ms), when its item exists and parses. */
  readonly instance: { readonly value: DBInstance; readonly polledAt: number } | undefined;
}

/**
 * One consistent BatchGetItem of the meta item and the instance's item, projected to the small attributes. A key left
 * unprocessed (throttled) reads as absent: the caller then takes the lease or describes on its own. Throws what
 * DynamoDB throws.
 */
export async function readUnitView(
  dynamodb: DynamoDBClient,
  tableName: string,
  key: SnapshotKey,
  instanceId: string,
): Promise<UnitView> {
  const meta = snapshotKey(key);
  const own = instanceItemKey(key, instanceId);
  const out = await dynamodb.send(
    new BatchGetItemCommand({
      RequestItems: {
        [tableName]: {
          Keys: [itemKey(meta), itemKey(own)],
          ConsistentRead: true,
          // One projection for both keys: the meta item has no `instance`, the instance item no `leaseUntil`. It saves
          // bytes, not read units (a read is charged by the whole item).
          ProjectionExpression: 'planName, polledAt, leaseUntil, #instance',
          ExpressionAttributeNames: { '#instance': 'instance' },
        },
      },
    }),
  );
  const items = out.Responses?.[tableName] ?? [];
  const metaItem = items.find((item) => item.planName?.S === meta);
  const ownItem = items.find((item) => item.planName?.S === own);
  return {
    leaseUntil: metaItem?.leaseUntil?.N === undefined ? undefined : Number(metaItem.leaseUntil.N),
    instance: parseInstance(ownItem),
  };
}

function parseInstance(item: Record<string, AttributeValue> | undefined): UnitView['instance'] | undefined {
  const json = item?.instance?.S;
  const polledAt = Number(item?.polledAt?.N ?? Number.NaN);
  if (!json || !Number.isFinite(polledAt)) return undefined;
  try {
    return { value: JSON.parse(json) as DBInstance, polledAt };
  } catch {
    return undefined;
  }
}

/**
 * Writes one item per described instance with BatchWriteItem, 25 a call, retrying each call's `UnprocessedItems` a few
 * times with a short back-off (docs/aws/dynamodb-batch-operations.md). Never throws: what is still unwritten keeps its
 * older item (its own `polledAt` says how old), and its unit describes on its own until the next interval. Returns how
 * many instances were written.
 */
export async function writeInstanceItems(
  dynamodb: DynamoDBClient,
  tableName: string,
  key: SnapshotKey,
  instances: ReadonlyMap<string, DBInstance>,
  now: number,
  backoffMs = 25,
): Promise<number> {
  const puts: WriteRequest[] = [...instances].map(([id, instance]) => ({
    PutRequest: {
      Item: {
        ...itemKey(instanceItemKey(key, id)),
        instance: { S: JSON.stringify(trimmed(instance)) },
        polledAt: { N: String(now) },
        expiresAt: expiresAt(now),
      },
    },
  }));
  const chunks: WriteRequest[][] = [];
  for (let start = 0; start < puts.length; start += BATCH_WRITE_MAX) {
    chunks.push(puts.slice(start, start + BATCH_WRITE_MAX));
  }
  let left = 0;
  for (let wave = 0; wave < chunks.length; wave += WRITE_CONCURRENCY) {
    const counts = await Promise.all(
      chunks
        .slice(wave, wave + WRITE_CONCURRENCY)
        .map((chunk) => writeChunk(dynamodb, tableName, chunk, backoffMs)),
    );
    left += counts.reduce((sum, n) => sum + n, 0);
  }
  if (left > 0) {
    logger.warn('promotion snapshot not all written; those units read their own instance', {
      unwritten: left,
      written: puts.length - left,
    });
  }
  return puts.length - left;
}

/** One chunk and its retries; answers how many of its puts are still unwritten. */
async function writeChunk(
  dynamodb: DynamoDBClient,
  tableName: string,
  chunk: WriteRequest[],
  backoffMs: number,
): Promise<number> {
  let requests = chunk;
  for (let round = 0; requests.length > 0 && round < WRITE_ROUNDS; round += 1) {
    if (round > 0) await new Promise((resolve) => setTimeout(resolve, backoffMs * 2 ** (round - 1)));
    try {
      const out = await dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: requests } }));
      requests = out.UnprocessedItems?.[tableName] ?? [];
    } catch (error) {
      // The whole call refused (every item throttled, or the table gone): the next interval writes them again.
      logger.warn('promotion snapshot write failed', {
        items: requests.length,
        error: awsErrorName(error) ?? String(error),
      });
      return requests.length;
    }
  }
  return requests.length;
}

/** Dependencies of UpdateDns's read of the snapshot. */
export interface SnapshotReaderDeps {
  readonly dynamodb: DynamoDBClient;
  /** The lock table (infra/constructs/lock-table.ts). */
  readonly tableName: string;
  readonly key: SnapshotKey;
  /** How old an instance's item may be. @default PROMOTION_SNAPSHOT_SECONDS scaled by timeFactor() */
  readonly intervalSeconds?: number;
  /** Clock, for tests. @default () => new Date() */
  readonly now?: () => Date;
}

/**
 * UpdateDns's promoted instance from the snapshot, when the unit's instance item is at most one interval old and shows
 * the promotion done (available, no replica source) with an endpoint; else undefined, and the caller describes the
 * instance as before (functions/lib/promoted-target.ts). Never throws: correctness never depends on the table. Aurora
 * units are not in the snapshot: undefined.
 */
export async function snapshotTarget(
  deps: SnapshotReaderDeps,
  unit: UnitPlan,
): Promise<PromotedTarget | undefined> {
  if (isAuroraUnit(unit)) return undefined;
  const id = instanceDatabase(unit, 'updateDns').replicaInstanceId;
  const now = (deps.now ?? (() => new Date()))().getTime();
  const intervalMs = (deps.intervalSeconds ?? PROMOTION_SNAPSHOT_SECONDS * timeFactor()) * 1000;
  let view: UnitView;
  try {
    view = await readUnitView(deps.dynamodb, deps.tableName, deps.key, id);
  } catch (error) {
    logger.warn('promotion snapshot unavailable, describing the instance', {
      instance: id,
      error: awsErrorName(error) ?? String(error),
    });
    return undefined;
  }
  const instance = view.instance;
  if (!instance || instance.polledAt < now - intervalMs) return undefined;
  const { value } = instance;
  const address = value.Endpoint?.Address;
  // Only a promotion that is over counts: available and no source together (functions/lib/database-promotion.ts).
  if (value.DBInstanceStatus !== 'available' || value.ReadReplicaSourceDBInstanceIdentifier || !address) {
    return undefined;
  }
  return {
    what: `DB instance ${id}`,
    endpoint: address,
    port: value.Endpoint?.Port,
    status: value.DBInstanceStatus,
    notPromoted: undefined,
    recordFollowsItself: false,
  };
}
