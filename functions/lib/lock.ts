import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  awsErrorName,
  FailoverInProgressError,
  InputInvalidError,
  ResourceBusyError,
  toLifeboatError,
} from './errors.js';
import type { RunContext } from './types.js';

/**
 * One failover of a plan at a time: a DynamoDB item per plan (partition key `planName`), written only when absent,
 * expired, or already ours (a retried acquire by the same run is fine). The item carries `expiresAt` for the table's
 * TTL as a safety net; since DynamoDB deletes expired items lazily (typically within a few days, per "Expiring items
 * by using DynamoDB Time to Live"), an expired lock is also treated as free by the condition itself.
 */

/** A lock left behind (a run that died without releasing) stops blocking after a day. */
export const LOCK_EXPIRY_SECONDS = 24 * 60 * 60;

export interface LockDeps {
  dynamodb: DynamoDBClient;
}

export interface AcquiredLock {
  lockedAt: string;
  holder: string;
}

export interface LockHolder {
  holder: string;
  executionArn?: string;
  acquiredAt?: string;
  expiresAt?: number;
}

type LockRun = Pick<RunContext, 'runId' | 'planName' | 'executionArn' | 'mode'>;

export async function acquireLock(
  deps: LockDeps,
  tableName: string,
  run: LockRun,
  now: Date = new Date(),
): Promise<AcquiredLock> {
  checkRun(run as Partial<LockRun> | undefined, 'acquire');
  const lockedAt = now.toISOString();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  try {
    await deps.dynamodb.send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          planName: { S: run.planName },
          holder: { S: run.runId },
          executionArn: { S: run.executionArn },
          mode: { S: run.mode },
          acquiredAt: { S: lockedAt },
          expiresAt: { N: String(nowSeconds + LOCK_EXPIRY_SECONDS) },
        },
        ConditionExpression: 'attribute_not_exists(planName) OR holder = :runId OR expiresAt < :now',
        ExpressionAttributeValues: { ':runId': { S: run.runId }, ':now': { N: String(nowSeconds) } },
        // The holder comes back with the refusal, in the same call (when the service supports it).
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { lockedAt, holder: run.runId };
  } catch (error) {
    if (awsErrorName(error) !== 'ConditionalCheckFailedException') {
      throw toLifeboatError(error, `PutItem of the lock of plan ${run.planName} in ${tableName}`);
    }
    const returned = (error as { Item?: Record<string, AttributeValue> }).Item;
    const holder = returned ? toHolder(returned) : await readLock(deps, tableName, run.planName);
    if (!holder) {
      // Released between our write and our read: the next try will take it.
      throw new ResourceBusyError(`the lock of plan ${run.planName} changed hands while it was being taken`, {
        cause: error,
      });
    }
    throw new FailoverInProgressError(
      `plan ${run.planName} is already being failed over by run ${holder.holder}` +
        `${holder.executionArn ? ` (execution ${holder.executionArn})` : ''}` +
        `${holder.acquiredAt ? ` since ${holder.acquiredAt}` : ''}. ` +
        `If that execution has ended without releasing its lock, delete the item planName=${run.planName} ` +
        `from table ${tableName}; it expires by itself ${holder.expiresAt ? `at ${new Date(holder.expiresAt * 1000).toISOString()}` : 'within a day'}.`,
      { cause: error },
    );
  }
}

/**
 * Deletes the lock only if this run holds it: never another execution's (e.g. after FailoverInProgressError), and a
 * lock already gone is fine. Without a run (LoadPlan refused it) there is nothing to release.
 */
export async function releaseLock(
  deps: LockDeps,
  tableName: string,
  run: Pick<RunContext, 'runId' | 'planName'> | null | undefined,
): Promise<{ released: boolean }> {
  if (!run) return { released: false };
  checkRun(run, 'release');
  try {
    await deps.dynamodb.send(
      new DeleteItemCommand({
        TableName: tableName,
        Key: { planName: { S: run.planName } },
        ConditionExpression: 'holder = :runId',
        ExpressionAttributeValues: { ':runId': { S: run.runId } },
      }),
    );
    return { released: true };
  } catch (error) {
    if (awsErrorName(error) === 'ConditionalCheckFailedException') return { released: false };
    throw toLifeboatError(error, `DeleteItem of the lock of plan ${run.planName} in ${tableName}`);
  }
}

/** The current holder, read consistently; undefined when there is no lock. */
export async function readLock(
  deps: LockDeps,
  tableName: string,
  planName: string,
): Promise<LockHolder | undefined> {
  try {
    const out = await deps.dynamodb.send(
      new GetItemCommand({ TableName: tableName, Key: { planName: { S: planName } }, ConsistentRead: true }),
    );
    return out.Item ? toHolder(out.Item) : undefined;
  } catch (error) {
    throw toLifeboatError(error, `GetItem of the lock of plan ${planName} in ${tableName}`);
  }
}

function toHolder(item: Record<string, AttributeValue>): LockHolder | undefined {
  const holder = item.holder?.S;
  if (!holder) return undefined;
  const expiresAt = item.expiresAt?.N !== undefined ? Number(item.expiresAt.N) : undefined;
  return {
    holder,
    ...(item.executionArn?.S ? { executionArn: item.executionArn.S } : {}),
    ...(item.acquiredAt?.S ? { acquiredAt: item.acquiredAt.S } : {}),
    ...(expiresAt !== undefined && Number.isFinite(expiresAt) ? { expiresAt } : {}),
  };
}

function checkRun(run: Partial<LockRun> | undefined, what: 'acquire' | 'release'): asserts run is LockRun {
  const required: (keyof LockRun)[] =
    what === 'acquire' ? ['runId', 'planName', 'executionArn', 'mode'] : ['runId', 'planName'];
  const missing = required.filter((k) => typeof run?.[k] !== 'string' || run[k] === '');
  if (missing.length) {
    throw new InputInvalidError(
      `cannot ${what} the lock: ${missing.map((k) => `run.${k}`).join(', ')} missing`,
      missing.map((k) => `run.${k}: required`),
    );
  }
}
