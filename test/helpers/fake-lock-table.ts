import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DeleteItemCommandInput,
  DynamoDBClient,
  GetItemCommand,
  type GetItemCommandInput,
  PutItemCommand,
  type PutItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';

/** The condition expressions lock.ts writes; the fake refuses any other, so it cannot drift silently. */
const ACQUIRE_CONDITION = 'attribute_not_exists(planName) OR holder = :runId OR expiresAt < :now';
const RELEASE_CONDITION = 'holder = :runId';
/** A stale or preempted lock is taken over only from the holder that was judged (functions/lib/lock.ts). */
const TAKEOVER_CONDITION = 'holder = :oldHolder';

export type LockItem = Record<string, AttributeValue>;

/**
 * An in-memory lock table behind a real DynamoDBClient (aws-sdk-client-mock), honouring the two conditional writes
 * of functions/lib/lock.ts the way DynamoDB does: a failed condition throws ConditionalCheckFailedException (with
 * the old item when ReturnValuesOnConditionCheckFailure is ALL_OLD) and changes nothing.
 */
export function fakeLockTable() {
  const items = new Map<string, LockItem>();
  const client = new DynamoDBClient({
    region: 'us-west-2',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const mock = mockClient(client);
  const conditionFailed = (old: LockItem | undefined, returnOld: boolean) =>
    new ConditionalCheckFailedException({
      message: 'The conditional request failed',
      $metadata: { httpStatusCode: 400 },
      ...(returnOld && old ? { Item: old } : {}),
    });

  mock.on(PutItemCommand).callsFake((input: PutItemCommandInput) => {
    const item = input.Item ?? {};
    const key = item.planName?.S ?? '';
    const current = items.get(key);
    let free: boolean;
    if (input.ConditionExpression === ACQUIRE_CONDITION) {
      const runId = input.ExpressionAttributeValues?.[':runId']?.S;
      const now = Number(input.ExpressionAttributeValues?.[':now']?.N);
      free = !current || current.holder?.S === runId || Number(current.expiresAt?.N) < now;
    } else if (input.ConditionExpression === TAKEOVER_CONDITION) {
      // `holder = :oldHolder` on a missing item is false, as in DynamoDB.
      free = current?.holder?.S === input.ExpressionAttributeValues?.[':oldHolder']?.S;
    } else {
      throw new Error(`fake lock table: unexpected condition ${input.ConditionExpression}`);
    }
    if (!free) throw conditionFailed(current, input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD');
    items.set(key, item);
    return {};
  });
  mock.on(DeleteItemCommand).callsFake((input: DeleteItemCommandInput) => {
    if (input.ConditionExpression !== RELEASE_CONDITION) {
      throw new Error(`fake lock table: unexpected condition ${input.ConditionExpression}`);
    }
    const key = input.Key?.planName?.S ?? '';
    const current = items.get(key);
    if (!current || current.holder?.S !== input.ExpressionAttributeValues?.[':runId']?.S) {
      throw conditionFailed(current, false);
    }
    items.delete(key);
    return {};
  });
  mock.on(GetItemCommand).callsFake((input: GetItemCommandInput) => {
    const item = items.get(input.Key?.planName?.S ?? '');
    return item ? { Item: item } : {};
  });

  return {
    client,
    items,
    mock,
    /** Puts a lock held by another run, as if another execution were running. */
    holdFor(
      planName: string,
      runId: string,
      executionArn = `arn:aws:states:us-west-2:123456789012:execution:lb:${runId}`,
      mode?: string,
    ) {
      items.set(planName, {
        planName: { S: planName },
        holder: { S: runId },
        executionArn: { S: executionArn },
        ...(mode ? { mode: { S: mode } } : {}),
        acquiredAt: { S: '2030-01-01T00:00:00.000Z' },
        expiresAt: { N: String(Math.floor(Date.now() / 1000) + 3600) },
      });
    },
    holderOf(planName: string): string | undefined {
      return items.get(planName)?.holder?.S;
    },
  };
}
