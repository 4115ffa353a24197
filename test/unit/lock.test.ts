import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandInput,
  SFNClient,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
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
import {
  acquireLock,
  DRILL_PREEMPTED_ERROR,
  LOCK_EXPIRY_SECONDS,
  LOCK_MARGIN_SECONDS,
  lockLifetimeSeconds,
  readLock,
  releaseLock,
} from '../../functions/lib/lock.js';
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
const sfnMock = mockClient(SFNClient);

afterEach(() => {
  dynamo.reset();
  sfnMock.reset();
});

/** Step Functions as the lock sees it: the status of each execution ARN; unknown ARNs do not exist. */
function executions(statuses: Record<string, string>) {
  const sfn = new SFNClient({ region: 'us-west-2', credentials: { accessKeyId: 't', secretAccessKey: 't' } });
  sfnMock.on(DescribeExecutionCommand).callsFake((input: DescribeExecutionCommandInput) => {
    const status = statuses[input.executionArn ?? ''];
    if (!status) {
      throw Object.assign(new Error('Execution Does Not Exist'), {
        name: 'ExecutionDoesNotExist',
        $fault: 'client',
      });
    }
    return { executionArn: input.executionArn, status };
  });
  sfnMock.on(StopExecutionCommand).callsFake((input: { executionArn?: string }) => {
    statuses[input.executionArn ?? ''] = 'ABORTED';
    return { stopDate: new Date() };
  });
  return sfn;
}
const arnOf = (runId: string) => `arn:aws:states:us-west-2:123456789012:execution:lb:${runId}`;

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

/** holdFor's items expire an hour from the real clock: take them at the real time. */
const LIVE = new Date();

describe('a lock whose holder has ended is stale, and taken over (issue 9, item 6b)', () => {
  it.each(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'])(
    'takes over from a holder whose execution is %s, on condition that it is still that holder',
    async (status) => {
      // Prepare
      const table = fakeLockTable();
      table.holdFor('orders-dr', 'run-0', arnOf('run-0'), 'failover');
      const sfn = executions({ [arnOf('run-0')]: status });

      // Act
      const lock = await acquireLock({ dynamodb: table.client, sfn }, TABLE, run, LIVE);

      // Assess
      expect(lock.tookOverFrom).toEqual({
        holder: 'run-0',
        executionArn: arnOf('run-0'),
        status,
        stopped: false,
      });
      expect(table.holderOf('orders-dr')).toBe('run-1');
      const takeover = table.mock.commandCalls(PutItemCommand)[1]?.args[0].input;
      expect(takeover?.ConditionExpression).toBe('holder = :oldHolder');
      expect(takeover?.ExpressionAttributeValues).toEqual({ ':oldHolder': { S: 'run-0' } });
      expect(sfnMock.commandCalls(StopExecutionCommand)).toHaveLength(0);
    },
  );

  it.each(['RUNNING', 'PENDING_REDRIVE'])('refuses while the holder is %s', async (status) => {
    // Prepare
    const table = fakeLockTable();
    table.holdFor('orders-dr', 'run-0', arnOf('run-0'), 'failover');
    const sfn = executions({ [arnOf('run-0')]: status });

    // Act
    const error = await caught(acquireLock({ dynamodb: table.client, sfn }, TABLE, run, LIVE));

    // Assess
    expect(error).toBeInstanceOf(FailoverInProgressError);
    expect(error.message).toContain(`its execution is ${status}`);
    expect(table.holderOf('orders-dr')).toBe('run-0');
  });

  it('refuses when the holder cannot be checked: an unknown execution, or no status read', async () => {
    // Prepare
    const table = fakeLockTable();
    table.holdFor('orders-dr', 'run-0', arnOf('run-0'), 'failover');
    const sfn = executions({});

    // Act
    const unknown = await caught(acquireLock({ dynamodb: table.client, sfn }, TABLE, run, LIVE));
    const noClient = await caught(acquireLock({ dynamodb: table.client }, TABLE, run, LIVE));

    // Assess
    expect(unknown).toBeInstanceOf(FailoverInProgressError);
    expect(unknown.message).toContain('status could not be read (ExecutionDoesNotExist)');
    expect(noClient).toBeInstanceOf(FailoverInProgressError);
    expect(noClient.message).toContain('cannot be checked');
    expect(table.holderOf('orders-dr')).toBe('run-0');
  });

  it('two runs taking one stale lock at once: exactly one wins, the other is refused by the winner', async () => {
    // Prepare
    const table = fakeLockTable();
    table.holdFor('orders-dr', 'run-0', arnOf('run-0'), 'failover');
    const statuses = {
      [arnOf('run-0')]: 'TIMED_OUT',
      [arnOf('run-a')]: 'RUNNING',
      [arnOf('run-b')]: 'RUNNING',
    };
    const sfn = executions(statuses);
    const take = (runId: string) =>
      acquireLock(
        { dynamodb: table.client, sfn },
        TABLE,
        { ...run, runId, executionArn: arnOf(runId) },
        LIVE,
      ).then(
        (lock) => ({ runId, lock }),
        (error: Error) => ({ runId, error }),
      );

    // Act
    const results = await Promise.all([take('run-a'), take('run-b')]);

    // Assess
    const winners = results.filter((r) => 'lock' in r);
    const losers = results.filter((r) => 'error' in r);
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(1);
    const winner = winners[0]?.runId as string;
    expect(table.holderOf('orders-dr')).toBe(winner);
    const loser = losers[0] as { error: Error };
    expect(loser.error).toBeInstanceOf(FailoverInProgressError);
    expect(loser.error.message).toContain(`run ${winner}`);
  });

  it('gives up to the state machine retry (ResourceBusyError) after losing every round', async () => {
    // Prepare: the stale holder keeps changing between our read and our takeover
    let n = 0;
    dynamo.on(PutItemCommand).callsFake(() => {
      n += 1;
      throw conditionFailed({ ...otherItem, holder: { S: `run-0${n}` }, mode: { S: 'failover' } });
    });
    const sfn = new SFNClient({
      region: 'us-west-2',
      credentials: { accessKeyId: 't', secretAccessKey: 't' },
    });
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'FAILED' });

    // Act
    const error = await caught(acquireLock({ ...deps, sfn }, TABLE, run, LIVE));

    // Assess
    expect(error).toBeInstanceOf(ResourceBusyError);
    expect(dynamo.commandCalls(PutItemCommand)).toHaveLength(6);
  });
});

describe('a failover takes over a running drill (issue 9, item 6c)', () => {
  it("stops the drill's execution, naming this run, then takes the lock", async () => {
    // Prepare
    const table = fakeLockTable();
    table.holdFor('orders-dr', 'drill-1', arnOf('drill-1'), 'drill');
    const sfn = executions({ [arnOf('drill-1')]: 'RUNNING' });

    // Act
    const lock = await acquireLock({ dynamodb: table.client, sfn }, TABLE, run, LIVE);

    // Assess
    expect(lock.tookOverFrom).toEqual({
      holder: 'drill-1',
      executionArn: arnOf('drill-1'),
      status: 'RUNNING',
      stopped: true,
    });
    const stop = sfnMock.commandCalls(StopExecutionCommand)[0]?.args[0].input;
    expect(stop?.executionArn).toBe(arnOf('drill-1'));
    expect(stop?.error).toBe(DRILL_PREEMPTED_ERROR);
    expect(stop?.cause).toContain(`failover run run-1 (execution ${run.executionArn})`);
    expect(table.holderOf('orders-dr')).toBe('run-1');
  });

  it.each([
    { taker: 'drill', holder: 'failover' },
    { taker: 'drill', holder: 'drill' },
    { taker: 'failover', holder: 'failover' },
  ] as const)('a $taker never takes a running $holder lock', async ({ taker, holder }) => {
    // Prepare
    const table = fakeLockTable();
    table.holdFor('orders-dr', 'run-0', arnOf('run-0'), holder);
    const sfn = executions({ [arnOf('run-0')]: 'RUNNING' });

    // Act
    const error = await caught(
      acquireLock({ dynamodb: table.client, sfn }, TABLE, { ...run, mode: taker }, LIVE),
    );

    // Assess
    expect(error).toBeInstanceOf(FailoverInProgressError);
    expect(error.message).toContain(`run run-0 (${holder})`);
    if (taker === 'drill' && holder === 'failover') {
      expect(error.message).toContain('never takes over a failover');
    }
    expect(sfnMock.commandCalls(StopExecutionCommand)).toHaveLength(0);
    expect(table.holderOf('orders-dr')).toBe('run-0');
  });

  it('goes on when the drill ended just before the stop (StopExecution refused, the drill no longer running)', async () => {
    // Prepare
    const table = fakeLockTable();
    table.holdFor('orders-dr', 'drill-1', arnOf('drill-1'), 'drill');
    const sfn = new SFNClient({
      region: 'us-west-2',
      credentials: { accessKeyId: 't', secretAccessKey: 't' },
    });
    sfnMock
      .on(DescribeExecutionCommand)
      .resolvesOnce({ status: 'RUNNING' })
      .resolves({ status: 'SUCCEEDED' });
    sfnMock
      .on(StopExecutionCommand)
      .rejects(Object.assign(new Error('not running'), { name: 'ValidationException', $fault: 'client' }));

    // Act
    const lock = await acquireLock({ dynamodb: table.client, sfn }, TABLE, run, LIVE);

    // Assess
    expect(lock.tookOverFrom?.stopped).toBe(false);
    expect(table.holderOf('orders-dr')).toBe('run-1');
  });
});

describe("the lock's lifetime (issue 9, item 6d)", () => {
  it('expires the given lifetime after it is taken, and the lifetime outlasts the execution timeout', async () => {
    // Prepare
    dynamo.on(PutItemCommand).resolves({});
    const timeout = 50 * 3600;

    // Act
    await acquireLock(deps, TABLE, run, NOW, { lifetimeSeconds: lockLifetimeSeconds(timeout) });

    // Assess
    const item = dynamo.commandCalls(PutItemCommand)[0]?.args[0].input.Item;
    expect(Number(item?.expiresAt?.N)).toBe(NOW_S + timeout + LOCK_MARGIN_SECONDS);
    expect(lockLifetimeSeconds(timeout)).toBeGreaterThan(timeout);
  });

  it('refuses a lifetime that is not a positive whole number, before any call', async () => {
    // Act
    const error = await caught(acquireLock(deps, TABLE, run, NOW, { lifetimeSeconds: Number.NaN }));

    // Assess
    expect(error).toBeInstanceOf(InputInvalidError);
    expect(dynamo.calls()).toHaveLength(0);
  });
});
