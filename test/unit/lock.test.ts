import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resetClients } from '../../functions/lib/clients.js';
import {
  AwsCallFailedError,
  FailoverInProgressError,
  InputInvalidError,
  ResourceBusyError,
  TransientAwsError,
} from '../../functions/lib/errors.js';
import { acquireLock, LOCK_EXPIRY_SECONDS, readLock, releaseLock } from '../../functions/lib/lock.js';
import type { RunContext } from '../../functions/lib/types.js';
import { fakeLockTable } from '../helpers/fake-lock-table.js';

const TABLE = 'lifeboat-locks';
const NOW = new Date('2030-05-01T10:00:00.000Z');
const NOW_S = Math.floor(NOW.getTime() / 1000);
const run: RunContext = {
  runId: 'run-1',
  executionArn: 'arn:aws:states:us-west-2:123456789012:execution:lifeboat-orders-dr:run-1',
  planName: 'orders-dr',
  mode: 'failover',
  trigger: 'console',
  startedAt: NOW.toISOString(),
  account: '123456789012',
  primaryRegion: 'us-east-1',
  recoveryRegion: 'us-west-2',
  targetRtoSeconds: 900,
};
const otherItem = {
  planName: { S: 'orders-dr' },
  holder: { S: 'run-0' },
  executionArn: { S: 'arn:aws:states:us-west-2:123456789012:execution:lifeboat-orders-dr:run-0' },
  acquiredAt: { S: '2030-05-01T09:58:00.000Z' },
  expiresAt: { N: String(NOW_S + 3600) },
};
const conditionFailed = (item?: Record<string, unknown>) =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: { httpStatusCode: 400 },
    ...(item ? { Item: item as never } : {}),
  });

const dynamo = mockClient(DynamoDBClient);
const deps = { dynamodb: new DynamoDBClient({ region: 'us-west-2' }) };

afterEach(() => {
  dynamo.reset();
});

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('acquireLock', () => {
  it('writes the lock only if absent, expired or already ours, with holder, execution and a one-day expiry', async () => {
    // Prepare
    dynamo.on(PutItemCommand).resolves({});

    // Act
    const lock = await acquireLock(deps, TABLE, run, NOW);

    // Assess
    expect(lock).toEqual({ lockedAt: NOW.toISOString(), holder: 'run-1' });
    const [call] = dynamo.commandCalls(PutItemCommand);
    expect(call?.args[0].input).toEqual({
      TableName: TABLE,
      Item: {
        planName: { S: 'orders-dr' },
        holder: { S: 'run-1' },
        executionArn: { S: run.executionArn },
        mode: { S: 'failover' },
        acquiredAt: { S: NOW.toISOString() },
        expiresAt: { N: String(NOW_S + LOCK_EXPIRY_SECONDS) },
      },
      ConditionExpression: 'attribute_not_exists(planName) OR holder = :runId OR expiresAt < :now',
      ExpressionAttributeValues: { ':runId': { S: 'run-1' }, ':now': { N: String(NOW_S) } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    expect(LOCK_EXPIRY_SECONDS).toBe(86_400);
  });

  it('names the other execution from the item returned with the refusal, without another call', async () => {
    // Prepare
    dynamo.on(PutItemCommand).rejects(conditionFailed(otherItem));

    // Act
    const error = await caught(acquireLock(deps, TABLE, run, NOW));

    // Assess
    expect(error).toBeInstanceOf(FailoverInProgressError);
    expect(error.message).toContain('run run-0');
    expect(error.message).toContain('execution:lifeboat-orders-dr:run-0');
    expect(error.message).toContain('since 2030-05-01T09:58:00.000Z');
    expect(error.message).toContain(`delete the item planName=orders-dr from table ${TABLE}`);
    expect(error.cause).toBeInstanceOf(ConditionalCheckFailedException);
    expect(dynamo.commandCalls(GetItemCommand)).toHaveLength(0);
  });

  it('reads the holder consistently when the refusal does not carry it', async () => {
    // Prepare
    dynamo.on(PutItemCommand).rejects(conditionFailed());
    dynamo.on(GetItemCommand).resolves({ Item: otherItem });

    // Act
    const error = await caught(acquireLock(deps, TABLE, run, NOW));

    // Assess
    expect(error).toBeInstanceOf(FailoverInProgressError);
    expect(error.message).toContain('run run-0');
    expect(dynamo.commandCalls(GetItemCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { planName: { S: 'orders-dr' } },
      ConsistentRead: true,
    });
  });

  it('asks for a retry (ResourceBusyError) when the lock vanished between the refusal and the read', async () => {
    // Prepare
    dynamo.on(PutItemCommand).rejects(conditionFailed());
    dynamo.on(GetItemCommand).resolves({});

    // Act
    const error = await caught(acquireLock(deps, TABLE, run, NOW));

    // Assess
    expect(error).toBeInstanceOf(ResourceBusyError);
  });

  it('sorts DynamoDB failures: throttling is transient, access denied is not', async () => {
    // Prepare
    dynamo
      .on(PutItemCommand)
      .rejectsOnce(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }))
      .rejectsOnce(
        Object.assign(new Error('not authorized'), { name: 'AccessDeniedException', $fault: 'client' }),
      );

    // Act
    const throttled = await caught(acquireLock(deps, TABLE, run, NOW));
    const denied = await caught(acquireLock(deps, TABLE, run, NOW));

    // Assess
    expect(throttled).toBeInstanceOf(TransientAwsError);
    expect(denied).toBeInstanceOf(AwsCallFailedError);
    expect(denied.message).toContain('PutItem of the lock of plan orders-dr');
  });

  it('refuses a run without an id or plan, naming the field', async () => {
    // Act
    const error = await caught(acquireLock(deps, TABLE, { ...run, runId: '' }, NOW));

    // Assess
    expect(error).toBeInstanceOf(InputInvalidError);
    expect(error.message).toContain('run.runId');
    expect(dynamo.commandCalls(PutItemCommand)).toHaveLength(0);
  });
});

describe('the lock against a table that honours the conditions', () => {
  it('lets the same run take it again (a retried acquire), refuses another run, and frees an expired lock', async () => {
    // Prepare
    const table = fakeLockTable();
    const fake = { dynamodb: table.client };

    // Act
    await acquireLock(fake, TABLE, run, NOW);
    const again = await acquireLock(fake, TABLE, run, NOW);
    const refused = await caught(acquireLock(fake, TABLE, { ...run, runId: 'run-2' }, NOW));
    const muchLater = new Date(NOW.getTime() + (LOCK_EXPIRY_SECONDS + 1) * 1000);
    const afterExpiry = await acquireLock(fake, TABLE, { ...run, runId: 'run-3' }, muchLater);

    // Assess
    expect(again.holder).toBe('run-1');
    expect(refused).toBeInstanceOf(FailoverInProgressError);
    expect(refused.message).toContain('run run-1');
    expect(afterExpiry.holder).toBe('run-3');
    expect(table.holderOf('orders-dr')).toBe('run-3');
  });

  it('releases only its own lock', async () => {
    // Prepare
    const table = fakeLockTable();
    const fake = { dynamodb: table.client };
    table.holdFor('orders-dr', 'run-0');

    // Act
    const notOurs = await releaseLock(fake, TABLE, run);
    const held = await readLock(fake, TABLE, 'orders-dr');

    // Assess
    expect(notOurs).toEqual({ released: false });
    expect(held?.holder).toBe('run-0');
  });
});

describe('releaseLock', () => {
  it('deletes the lock on condition that this run holds it', async () => {
    // Prepare
    dynamo.on(DeleteItemCommand).resolves({});

    // Act
    const result = await releaseLock(deps, TABLE, run);

    // Assess
    expect(result).toEqual({ released: true });
    expect(dynamo.commandCalls(DeleteItemCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { planName: { S: 'orders-dr' } },
      ConditionExpression: 'holder = :runId',
      ExpressionAttributeValues: { ':runId': { S: 'run-1' } },
    });
  });

  it("reports released: false, without error, when the lock is another run's or already gone", async () => {
    // Prepare
    dynamo.on(DeleteItemCommand).rejects(conditionFailed());

    // Act
    const result = await releaseLock(deps, TABLE, run);

    // Assess
    expect(result).toEqual({ released: false });
  });

  it.each([null, undefined])('has nothing to release without a run (%s)', async (none) => {
    // Act
    const result = await releaseLock(deps, TABLE, none);

    // Assess
    expect(result).toEqual({ released: false });
    expect(dynamo.calls()).toHaveLength(0);
  });

  it('lets a throttled delete be retried', async () => {
    // Prepare
    dynamo
      .on(DeleteItemCommand)
      .rejects(new ProvisionedThroughputExceededException({ message: 'slow', $metadata: {} }));

    // Act
    const error = await caught(releaseLock(deps, TABLE, run));

    // Assess
    expect(error).toBeInstanceOf(TransientAwsError);
  });
});

describe('lock handlers', () => {
  beforeEach(() => {
    vi.stubEnv('LOCK_TABLE_NAME', TABLE);
    vi.stubEnv('AWS_REGION', 'us-west-2');
    resetClients();
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    resetClients();
  });

  it('acquire and release through the table named by LOCK_TABLE_NAME', async () => {
    // Prepare
    dynamo.on(PutItemCommand).resolves({});
    dynamo.on(DeleteItemCommand).resolves({});
    const { handler: acquire } = await import('../../functions/acquire-lock.js');
    const { handler: release } = await import('../../functions/release-lock.js');

    // Act
    const lock = await acquire({ run });
    const released = await release({ run });
    const nothing = await release({});

    // Assess
    expect(lock.holder).toBe('run-1');
    expect(released).toEqual({ released: true });
    expect(nothing).toEqual({ released: false });
    expect(dynamo.commandCalls(PutItemCommand)[0]?.args[0].input.TableName).toBe(TABLE);
    expect(dynamo.commandCalls(DeleteItemCommand)).toHaveLength(1);
  });

  it('refuses an event without a run, naming the fields', async () => {
    // Prepare
    const { handler: acquire } = await import('../../functions/acquire-lock.js');

    // Act
    const error = await caught(acquire({} as never));

    // Assess
    expect(error).toBeInstanceOf(InputInvalidError);
    expect(error.message).toBe(
      'cannot acquire the lock: run.runId, run.planName, run.executionArn, run.mode missing',
    );
    expect(dynamo.calls()).toHaveLength(0);
  });
});
