import { type AttributeValue, type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { DBInstance, RDSClient } from '@aws-sdk/client-rds';
import { describeInstance } from './database-promotion.js';
import { timeFactor } from './env.js';
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
 * and writes one item per instance; the others use their item, at most two intervals old, or describe their own
 * instance when there is none yet. Nothing depends on the table: any error there, and the poll describes its own
 * instance as before.
 */

export interface SharedPollDeps {
  readonly rds: RDSClient;
  readonly dynamodb: DynamoDBClient;
  /** The lock table (partition key `planName`, TTL attribute `expiresAt`: infra/constructs/lock-table.ts). */
  readonly tableName: string;
  /** Clock, for tests. @default () => new Date() */
  readonly now?: () => Date;
}

export type SharedPollKey = SnapshotKey;

export type PollSource = 'snapshot' | 'lease' | 'own';

export { PROMOTION_SNAPSHOT_SECONDS, snapshotKey };

/**
 * The instance `instanceId` as of at most one poll interval ago, and where it came from. Throws what
 * DescribeDBInstances throws for the unit's own instance (ResourceMissingError for one that does not exist,
 * TransientAwsError when RDS throttles).
 */
export async function pollInstance(
  deps: SharedPollDeps,
  key: SharedPollKey,
  instanceId: string,
  intervalSeconds: number,
): Promise<{ instance: DBInstance; source: PollSource }> {
  const now = (deps.now ?? (() => new Date()))().getTime();
  const intervalMs = intervalSeconds * 1000;
  const Key = itemKey(snapshotKey(key));
  const IdsKey = itemKey(idsItemKey(key));
  const expiresAt = expiry(now);
  const own = async () => ({
    instance: await describeInstance(deps.rds, instanceId),
    source: 'own' as const,
  });
  // Another poll holds the lease: the instance's item if it is not older than two intervals, else its own read.
  const notHolder = async (view: UnitView | undefined) => {
    const recent = view?.instance;
    if (recent && recent.polledAt >= now - 2 * intervalMs) {
      return { instance: recent.value, source: 'snapshot' as const };
    }
    await register(deps, IdsKey, instanceId, expiresAt);
    return own();
  };
  let view: UnitView | undefined;
  try {
    view = await readUnitView(deps.dynamodb, deps.tableName, key, instanceId);
    if (view.instance && view.instance.polledAt >= now - intervalMs) {
      return { instance: view.instance.value, source: 'snapshot' };
    }
    // A lease still running: the conditional update would fail, so it is not sent.
    if (view.leaseUntil !== undefined && view.leaseUntil >= now) return await notHolder(view);
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
    const registered = await deps.dynamodb.send(
      new UpdateItemCommand({
        TableName: deps.tableName,
        Key: IdsKey,
        UpdateExpression: 'SET expiresAt = :expires ADD ids :id',
        ExpressionAttributeValues: { ':id': { SS: [instanceId] }, ':expires': expiresAt },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const ids = [...new Set([...(registered.Attributes?.ids?.SS ?? []), instanceId])];
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
    if (awsErrorName(error) === 'ConditionalCheckFailedException') return notHolder(view);
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
 * The replica reader CheckDatabasePromotion uses when it has the lock table: the run's shared snapshot of its
 * Region's instances, one poll interval at most (scaled by the proving ground's time factor, functions/lib/env.ts).
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
