import { type AttributeValue, type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { DBInstance, RDSClient } from '@aws-sdk/client-rds';
import { describeInstance } from './database-promotion.js';
import { optionalEnv, timeFactor } from './env.js';
import { awsErrorName, toLifeboatError } from './errors.js';
import { logger } from './observability.js';
import {
  expiresAt as expiry,
  idsItemKey,
  itemKey,
  PROMOTION_SNAPSHOT_SECONDS,
  readUnitView,
  type SnapshotKey,
  snapshotKey,
  type UnitView,
  writeInstanceItems,
} from './promotion-snapshot.js';
import { describeInstances } from './rds-fleet.js';
import './sdk/dynamodb.js';

/**
 * The units' database polls share one DescribeDBInstances per interval (docs/design/fleet.md, "Polls by instance, not
 * by unit"). Each unit keeps its own poll schedule; its poll reads the run's snapshot in the lock table (the meta
 * item's lease and its own instance's item, functions/lib/promotion-snapshot.ts). When its instance's item is older
 * than one interval, the poll that takes the lease (a conditional update) describes every registered instance at once
 * and writes one item per instance; the others use their item, at most two intervals old, or register and wait for
 * the lease holder (pollInstance), describing their own instance only when their item has still not come. Nothing
 * depends on the table: any error there, and the poll describes its own instance as before.
 */

export interface SharedPollDeps {
  readonly rds: RDSClient;
  readonly dynamodb: DynamoDBClient;
  /** The lock table (partition key `planName`, TTL attribute `expiresAt`: infra/constructs/lock-table.ts). */
  readonly tableName: string;
  /** Clock, for tests. @default () => new Date() */
  readonly now?: () => Date;
  /** The wait for the lease holder's write, for tests (which move their clock instead). @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

export type SharedPollKey = SnapshotKey;

export type PollSource = 'snapshot' | 'lease' | 'own';

export { PROMOTION_SNAPSHOT_SECONDS, snapshotKey };

/**
 * How many intervals a unit waits for the lease holder to write its instance's item before it describes its own
 * (docs/design/fleet.md, "Polls by instance, not by unit"): two, so that a registration the current lease holder
 * missed is described by the next one, one interval later.
 */
export const WAIT_INTERVALS = 2;

/**
 * A waiting unit re-reads a tenth of an interval after the lease ends: the holder has written by then (its describe
 * and writes take well under a second), or its lease is free to take.
 */
const WAKE_MARGIN = 0.1;

/** The longest a poll waits for the lease holder, in seconds of an `intervalSeconds` interval: for step timeouts. */
export function sharedPollWaitSeconds(intervalSeconds = PROMOTION_SNAPSHOT_SECONDS): number {
  return WAIT_INTERVALS * intervalSeconds * (1 + WAKE_MARGIN);
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Polled = { instance: DBInstance; source: PollSource };

/**
 * The instance `instanceId` as of at most one poll interval ago (two when another unit holds the lease), and where it
 * came from. Throws what DescribeDBInstances throws for the unit's own instance (ResourceMissingError for one that
 * does not exist, TransientAwsError when RDS throttles).
 *
 * A unit that finds no fresh item of its own while another holds the lease registers its instance and waits for the
 * holder (up to WAIT_INTERVALS intervals, one small read each time the lease ends): at 500 units starting together,
 * an own describe each would be 500 DescribeDBInstances in the first interval, where the holders need 5.
 */
export async function pollInstance(
  deps: SharedPollDeps,
  key: SharedPollKey,
  instanceId: string,
  intervalSeconds: number,
): Promise<Polled> {
  const clock = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? realSleep;
  const intervalMs = intervalSeconds * 1000;
  const start = clock().getTime();
  const marginMs = Math.round(WAKE_MARGIN * intervalMs);
  const deadline = start + WAIT_INTERVALS * (intervalMs + marginMs);
  let registered = false;
  // The reads are bounded by their number too, whatever the clock says: a clock that stands still (a test's) must not
  // make the poll wait for ever.
  for (let read = 0; ; read += 1) {
    const now = clock().getTime();
    const last = now >= deadline || read >= 2 * WAIT_INTERVALS;
    // After a wait, the item the lease holder wrote is what the unit waited for, though its `polledAt` (the holder's
    // time before its describe) is a little over an interval old by the lease's end: taken, as a lease running takes
    // an item up to two intervals old; taking the lease again for it would cost one more describe of every instance.
    const freshSince = now - (registered ? 2 : 1) * intervalMs;
    const step = await pollOnce(deps, key, instanceId, { intervalMs, now, freshSince, last, registered });
    if ('instance' in step) return step;
    registered = true;
    // The lease's end, or one interval when it is not known (another poll took it just now).
    const leaseEnd =
      step.leaseUntil !== undefined && step.leaseUntil >= now ? step.leaseUntil : now + intervalMs;
    const wakeAt = Math.min(deadline, leaseEnd + marginMs);
    await sleep(Math.max(1, wakeAt - now));
  }
}

/**
 * One read of the snapshot: the unit's instance, or `{ leaseUntil }` when another unit holds the lease and the unit
 * should wait for it (never when `last`: then it describes its own).
 */
async function pollOnce(
  deps: SharedPollDeps,
  key: SharedPollKey,
  instanceId: string,
  at: {
    readonly intervalMs: number;
    readonly now: number;
    /** The oldest `polledAt` of the unit's item it takes without the lease. */
    readonly freshSince: number;
    /** The wait is over: no more waiting, the unit describes its own. */
    readonly last: boolean;
    /** The unit registered its instance on an earlier read. */
    readonly registered: boolean;
  },
): Promise<Polled | { leaseUntil: number | undefined }> {
  const { intervalMs, now, last, registered } = at;
  const Key = itemKey(snapshotKey(key));
  const IdsKey = itemKey(idsItemKey(key));
  const expiresAt = expiry(now);
  const own = async () => ({
    instance: await describeInstance(deps.rds, instanceId),
    source: 'own' as const,
  });
  // Another poll holds the lease: the instance's item if it is not older than two intervals, else the unit registers
  // and waits for the holder (or, its wait over, reads its own).
  const notHolder = async (view: UnitView | undefined, leaseUntil: number | undefined) => {
    const recent = view?.instance;
    if (recent && recent.polledAt >= now - 2 * intervalMs) {
      return { instance: recent.value, source: 'snapshot' as const };
    }
    if (!registered) await register(deps, IdsKey, instanceId, expiresAt);
    return last ? own() : { leaseUntil };
  };
  let view: UnitView | undefined;
  try {
    view = await readUnitView(deps.dynamodb, deps.tableName, key, instanceId);
    if (view.instance && view.instance.polledAt >= at.freshSince) {
      return { instance: view.instance.value, source: 'snapshot' };
    }
    // A lease still running: the conditional update would fail, so it is not sent.
    if (view.leaseUntil !== undefined && view.leaseUntil >= now)
      return await notHolder(view, view.leaseUntil);
    // Take the lease when nobody holds it, or its holder's time is up.
    await deps.dynamodb.send(
      new UpdateItemCommand({
        TableName: deps.tableName,
        Key,
        UpdateExpression: 'SET leaseUntil = :until, expiresAt = :expires',
        ConditionExpression: 'attribute_not_exists(leaseUntil) OR leaseUntil < :now',
        ExpressionAttributeValues: {
          ':until': { N: String(now + intervalMs) },
          ':now': { N: String(now) },
          ':expires': expiresAt,
        },
      }),
    );
    // The lease holder alone reads the registered ids: its own registration answers them.
    const registeredIds = await deps.dynamodb.send(
      new UpdateItemCommand({
        TableName: deps.tableName,
        Key: IdsKey,
        UpdateExpression: 'SET expiresAt = :expires ADD ids :id',
        ExpressionAttributeValues: { ':id': { SS: [instanceId] }, ':expires': expiresAt },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const ids = [...new Set([...(registeredIds.Attributes?.ids?.SS ?? []), instanceId])];
    const found = await describeInstances(deps.rds, ids).catch((error: unknown) => {
      // Throttled or failing: the lease runs out after one interval and another poll takes it.
      throw toLifeboatError(error, `DescribeDBInstances of ${ids.length} instances (shared poll)`);
    });
    // Never throws: an instance whose item is not written keeps its older one, and its unit reads its own.
    await writeInstanceItems(deps.dynamodb, deps.tableName, key, found, now);
    await markPolled(deps, Key, now);
    const mine = found.get(instanceId);
    return mine ? { instance: mine, source: 'lease' } : await own();
  } catch (error) {
    // Another poll took the lease between the read and the update: its end is at most one interval away.
    if (awsErrorName(error) === 'ConditionalCheckFailedException') return notHolder(view, undefined);
    if (isFromRds(error)) throw error;
    logger.warn('shared poll unavailable, reading the instance alone', {
      instance: instanceId,
      error: awsErrorName(error) ?? String(error),
    });
    return own();
  }
}

/** The meta item's `polledAt`: when the last lease holder finished writing (for the record; units judge by their item). */
async function markPolled(
  deps: SharedPollDeps,
  Key: Record<string, AttributeValue>,
  now: number,
): Promise<void> {
  try {
    await deps.dynamodb.send(
      new UpdateItemCommand({
        TableName: deps.tableName,
        Key,
        UpdateExpression: 'SET polledAt = :now',
        ExpressionAttributeValues: { ':now': { N: String(now) } },
      }),
    );
  } catch (error) {
    logger.warn('shared poll: polledAt not written', { error: awsErrorName(error) ?? String(error) });
  }
}

/** Adds the instance to the ids the next lease holder describes (best effort: a lost registration costs an own read). */
async function register(
  deps: SharedPollDeps,
  Key: Record<string, AttributeValue>,
  instanceId: string,
  expiresAt: AttributeValue,
): Promise<void> {
  try {
    await deps.dynamodb.send(
      new UpdateItemCommand({
        TableName: deps.tableName,
        Key,
        UpdateExpression: 'SET expiresAt = :expires ADD ids :id',
        ExpressionAttributeValues: { ':id': { SS: [instanceId] }, ':expires': expiresAt },
      }),
    );
  } catch {
    // The unit reads its own instance meanwhile.
  }
}

function isFromRds(error: unknown): boolean {
  const name = (error as { name?: unknown })?.name;
  return name === 'ResourceMissingError' || name === 'TransientAwsError' || name === 'AwsCallFailedError';
}

/**
 * The replica reader PromoteDatabase and CheckDatabasePromotion use when they have the lock table: the run's shared
 * snapshot of its Region's instances, one poll interval at most (scaled by the proving ground's time factor,
 * functions/lib/env.ts).
 */
export function sharedReplicaReader(
  deps: SharedPollDeps,
  key: SharedPollKey,
  intervalSeconds = PROMOTION_SNAPSHOT_SECONDS * timeFactor(),
): (instanceId: string) => Promise<DBInstance> {
  return async (instanceId) => {
    const { instance, source } = await pollInstance(deps, key, instanceId, intervalSeconds);
    logger.debug('replica read', { instance: instanceId, source });
    return instance;
  };
}

/**
 * The step's replica reader for its run, when the step has the lock table (LOCK_TABLE_NAME): the shared snapshot;
 * undefined without it, and the step describes its own instance. PromoteDatabase and CheckDatabasePromotion use it.
 * `clients.dynamodb` is read only when the table is there (the clients are made on first use).
 */
export function runReplicaReader(
  clients: { readonly rds: RDSClient; readonly dynamodb: DynamoDBClient },
  run: { readonly planName: string; readonly runId: string; readonly recoveryRegion: string },
): ((instanceId: string) => Promise<DBInstance>) | undefined {
  const tableName = optionalEnv('LOCK_TABLE_NAME');
  if (!tableName) return undefined;
  return sharedReplicaReader(
    { rds: clients.rds, dynamodb: clients.dynamodb, tableName },
    { planName: run.planName, runId: run.runId, region: run.recoveryRegion },
  );
}
