import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { DBInstance, RDSClient } from '@aws-sdk/client-rds';
import { describeInstance } from './database-promotion.js';
import { timeFactor } from './env.js';
import { awsErrorName, toLifeboatError } from './errors.js';
import { logger } from './observability.js';
import { describeInstances } from './rds-fleet.js';
import './sdk/dynamodb.js';

/**
 * The units' database polls share one DescribeDBInstances per interval (docs/design/fleet.md, "Polls by instance, not
 * by unit"). Each unit keeps its own poll schedule; its poll reads a snapshot item of the run in the lock table. When
 * the snapshot is older than one interval, the poll that takes the lease (a conditional update) describes every
 * registered instance at once and writes the snapshot; the others use the snapshot, at most one interval old, or
 * describe their own instance when there is none yet. Nothing depends on the table: any error there, and the poll
 * describes its own instance as before.
 */

export interface SharedPollDeps {
  readonly rds: RDSClient;
  readonly dynamodb: DynamoDBClient;
  /** The lock table (partition key `planName`, TTL attribute `expiresAt`: infra/constructs/lock-table.ts). */
  readonly tableName: string;
  /** Clock, for tests. @default () => new Date() */
  readonly now?: () => Date;
}

export interface SharedPollKey {
  readonly planName: string;
  readonly runId: string;
  readonly region: string;
}

export type PollSource = 'snapshot' | 'lease' | 'own';

/** The snapshot item's key: beside the plan's lock item, never the same (a plan name has no `#`). */
export function snapshotKey(key: SharedPollKey): string {
  return `poll#${key.planName}#${key.runId}#rds#${key.region}`;
}

/** How long a snapshot item is kept after its last write (the lock table's TTL): a day, well past any run. */
const SNAPSHOT_TTL_SECONDS = 24 * 60 * 60;

/** The fields of DBInstance the promotion poll reads: a snapshot of 500 instances stays far below 400 KB. */
function trimmed(instance: DBInstance): DBInstance {
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

interface Snapshot {
  ids: Set<string>;
  instances: Record<string, DBInstance>;
  polledAt: number;
}

function parse(item: Record<string, AttributeValue> | undefined): Snapshot | undefined {
  if (!item) return undefined;
  let instances: Record<string, DBInstance> = {};
  try {
    instances = item.snapshot?.S ? (JSON.parse(item.snapshot.S) as Record<string, DBInstance>) : {};
  } catch {
    instances = {};
  }
  return {
    ids: new Set(item.ids?.SS ?? []),
    instances,
    polledAt: Number(item.polledAt?.N ?? 0),
  };
}

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
  const Key = { planName: { S: snapshotKey(key) } };
  const expiresAt = { N: String(Math.floor(now / 1000) + SNAPSHOT_TTL_SECONDS) };
  const own = async () => ({
    instance: await describeInstance(deps.rds, instanceId),
    source: 'own' as const,
  });
  let snapshot: Snapshot | undefined;
  try {
    snapshot = parse(
      (await deps.dynamodb.send(new GetItemCommand({ TableName: deps.tableName, Key, ConsistentRead: true })))
        .Item,
    );
    const fresh = snapshot?.instances[instanceId];
    if (snapshot && fresh && snapshot.polledAt >= now - intervalMs)
      return { instance: fresh, source: 'snapshot' };
    // Take the lease (and register this instance) when nobody holds it, or its holder's time is up.
    const leased = await deps.dynamodb.send(
      new UpdateItemCommand({
        TableName: deps.tableName,
        Key,
        UpdateExpression: 'SET leaseUntil = :until, expiresAt = :expires ADD ids :id',
        ConditionExpression: 'attribute_not_exists(leaseUntil) OR leaseUntil < :now',
        ExpressionAttributeValues: {
          ':until': { N: String(now + intervalMs) },
          ':now': { N: String(now) },
          ':id': { SS: [instanceId] },
          ':expires': expiresAt,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    const ids = [...new Set([...(leased.Attributes?.ids?.SS ?? []), instanceId])];
    const found = await describeInstances(deps.rds, ids).catch((error: unknown) => {
      // Throttled or failing: the lease runs out after one interval and another poll takes it.
      throw toLifeboatError(error, `DescribeDBInstances of ${ids.length} instances (shared poll)`);
    });
    const instances = Object.fromEntries([...found].map(([id, instance]) => [id, trimmed(instance)]));
    await deps.dynamodb.send(
      new UpdateItemCommand({
        TableName: deps.tableName,
        Key,
        // SNAPSHOT is one of DynamoDB's reserved words.
        UpdateExpression: 'SET #snapshot = :snapshot, polledAt = :now',
        ExpressionAttributeNames: { '#snapshot': 'snapshot' },
        ExpressionAttributeValues: {
          ':snapshot': { S: JSON.stringify(instances) },
          ':now': { N: String(now) },
        },
      }),
    );
    const mine = found.get(instanceId);
    return mine ? { instance: mine, source: 'lease' } : await own();
  } catch (error) {
    if (awsErrorName(error) === 'ConditionalCheckFailedException') {
      // Another poll holds the lease: its snapshot, if it is not older than two intervals, else this unit's own read.
      const recent = snapshot?.instances[instanceId];
      if (snapshot && recent && snapshot.polledAt >= now - 2 * intervalMs) {
        return { instance: recent, source: 'snapshot' };
      }
      await register(deps, Key, instanceId, expiresAt);
      return own();
    }
    if (isFromRds(error)) throw error;
    logger.warn('shared poll unavailable, reading the instance alone', {
      instance: instanceId,
      error: awsErrorName(error) ?? String(error),
    });
    return own();
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
 * The interval of the promotion poll's snapshot: the shortest wait of WaitForDatabasePromotion
 * (functions/lib/database.ts, promotionPollSeconds), so that the snapshot is never older than the unit's own last wait.
 */
export const PROMOTION_SNAPSHOT_SECONDS = 2;

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
