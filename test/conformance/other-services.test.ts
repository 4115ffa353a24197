import {
  CloudWatchClient,
  GetMetricDataCommand,
  InvalidParameterValueException,
  PutMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ResourceNotFoundException as TableNotFoundException,
  UpdateItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import {
  ResourceNotFoundException as FunctionNotFoundException,
  GetFunctionCommand,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import {
  CreateBucketCommand,
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateTopicCommand, NotFoundException, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { describe, expect, it } from 'vitest';
import { conformance, type DivergenceTable, rejection, type Target, unique } from './harness.js';

const REGION = 'us-west-2';

/** What moto 5 does instead of what AWS documents (asserted by each test's moto branch). */
const MOTO_DIVERGENCES: DivergenceTable = {
  // AWS answers InvalidParameterValue "The value AWS/ for parameter Namespace is invalid." (boto/boto3#1847).
  'PutMetricData to an AWS/ namespace is InvalidParameterValue': 'moto stores the datapoint',
  // AWS: "up to 25 item put or delete operations" a call (docs/aws/dynamodb-batch-operations.md).
  'BatchWriteItem of 26 puts is a ValidationException': 'moto writes all 26',
};

async function lockTable(target: Target): Promise<{ client: DynamoDBClient; table: string }> {
  const client = new DynamoDBClient(target.config(REGION));
  const table = unique('lifeboat-locks');
  await client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'planName', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'planName', KeyType: 'HASH' }],
    }),
  );
  return { client, table };
}

conformance('DynamoDB, S3, SNS, Lambda, CloudWatch', MOTO_DIVERGENCES, (suite) => {
  describe('DynamoDB', () => {
    it('a conditional PutItem succeeds once; the second is ConditionalCheckFailedException', async () => {
      // Prepare
      const { client, table } = await lockTable(suite.target());
      const put = (holder: string) =>
        client.send(
          new PutItemCommand({
            TableName: table,
            Item: { planName: { S: 'orders' }, holder: { S: holder } },
            ConditionExpression: 'attribute_not_exists(planName)',
          }),
        );

      // Act
      await put('run-1');
      const second = await rejection(put('run-2'));
      const item = await client.send(
        new GetItemCommand({ TableName: table, Key: { planName: { S: 'orders' } }, ConsistentRead: true }),
      );

      // Assess
      expect(second).toBeInstanceOf(ConditionalCheckFailedException);
      expect(item.Item?.holder?.S).toBe('run-1');
    });

    it('a conditional DeleteItem only deletes the holder it names', async () => {
      // Prepare
      const { client, table } = await lockTable(suite.target());
      await client.send(
        new PutItemCommand({ TableName: table, Item: { planName: { S: 'orders' }, holder: { S: 'run-1' } } }),
      );
      const release = (holder: string) =>
        client.send(
          new DeleteItemCommand({
            TableName: table,
            Key: { planName: { S: 'orders' } },
            ConditionExpression: 'holder = :holder',
            ExpressionAttributeValues: { ':holder': { S: holder } },
          }),
        );

      // Act
      const wrong = await rejection(release('run-2'));
      await release('run-1');
      const item = await client.send(
        new GetItemCommand({ TableName: table, Key: { planName: { S: 'orders' } } }),
      );

      // Assess
      expect(wrong).toBeInstanceOf(ConditionalCheckFailedException);
      expect(item.Item).toBeUndefined();
    });

    // The promotion snapshot's writes and reads (functions/lib/promotion-snapshot.ts, docs/aws/dynamodb-batch-operations.md).
    it('BatchWriteItem takes at most 25 puts: 26 are a ValidationException and nothing is written, 25 are all written', async () => {
      // Prepare
      const { client, table } = await lockTable(suite.target());
      const puts = (n: number, prefix: string): WriteRequest[] =>
        Array.from({ length: n }, (_, i) => ({
          PutRequest: { Item: { planName: { S: `${prefix}#db#${i}` }, polledAt: { N: '1' } } },
        }));

      // Act
      // The error, or undefined when the call succeeded.
      const tooMany = await client
        .send(new BatchWriteItemCommand({ RequestItems: { [table]: puts(26, 'over') } }))
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      const written = await client.send(
        new BatchWriteItemCommand({ RequestItems: { [table]: puts(25, 'ok') } }),
      );
      const first = await client.send(
        new GetItemCommand({ TableName: table, Key: { planName: { S: 'over#db#0' } }, ConsistentRead: true }),
      );
      const last = await client.send(
        new GetItemCommand({ TableName: table, Key: { planName: { S: 'ok#db#24' } }, ConsistentRead: true }),
      );

      // Assess
      expect(Object.keys(written.UnprocessedItems ?? {})).toEqual([]);
      expect(last.Item?.polledAt?.N).toBe('1');
      await suite.behaves('BatchWriteItem of 26 puts is a ValidationException', {
        aws: async () => {
          expect(tooMany).toMatchObject({ name: 'ValidationException' });
          expect(first.Item).toBeUndefined();
        },
        moto: async () => {
          expect(tooMany).toBeUndefined();
          expect(first.Item).toBeDefined();
        },
      });
    });

    it('BatchGetItem with one projection for two keys answers each item with the attributes it has', async () => {
      // Prepare: a meta item (lease, no instance) and an instance item (instance, no lease), as the snapshot's.
      const { client, table } = await lockTable(suite.target());
      await client.send(
        new PutItemCommand({
          TableName: table,
          Item: {
            planName: { S: 'meta' },
            leaseUntil: { N: '5' },
            polledAt: { N: '4' },
            ids: { SS: ['a', 'b'] },
          },
        }),
      );
      await client.send(
        new PutItemCommand({
          TableName: table,
          Item: {
            planName: { S: 'meta#db#a' },
            instance: { S: '{}' },
            polledAt: { N: '3' },
            expiresAt: { N: '9' },
          },
        }),
      );

      // Act
      const out = await client.send(
        new BatchGetItemCommand({
          RequestItems: {
            [table]: {
              Keys: ['meta', 'meta#db#a', 'meta#db#missing'].map((k) => ({ planName: { S: k } })),
              ConsistentRead: true,
              ProjectionExpression: 'planName, polledAt, leaseUntil, #instance',
              ExpressionAttributeNames: { '#instance': 'instance' },
            },
          },
        }),
      );

      // Assess
      const items = out.Responses?.[table] ?? [];
      const byKey = Object.fromEntries(items.map((item) => [item.planName?.S, Object.keys(item).sort()]));
      expect(byKey).toEqual({
        meta: ['leaseUntil', 'planName', 'polledAt'],
        'meta#db#a': ['instance', 'planName', 'polledAt'],
      });
    });

    it('UpdateItem ADD to a string set with ReturnValues ALL_NEW answers the whole set', async () => {
      // Prepare
      const { client, table } = await lockTable(suite.target());
      const add = (id: string) =>
        client.send(
          new UpdateItemCommand({
            TableName: table,
            Key: { planName: { S: 'meta#ids' } },
            UpdateExpression: 'ADD ids :id',
            ExpressionAttributeValues: { ':id': { SS: [id] } },
            ReturnValues: 'ALL_NEW',
          }),
        );

      // Act
      await add('db-1');
      await add('db-2');
      const third = await add('db-1');

      // Assess
      expect([...(third.Attributes?.ids?.SS ?? [])].sort()).toEqual(['db-1', 'db-2']);
    });

    it('tables are per Region', async () => {
      // Prepare
      const { table } = await lockTable(suite.target());
      const elsewhere = new DynamoDBClient(suite.target().config('eu-west-1'));

      // Act
      const error = await rejection(
        elsewhere.send(new GetItemCommand({ TableName: table, Key: { planName: { S: 'x' } } })),
      );

      // Assess
      expect(error).toBeInstanceOf(TableNotFoundException);
    });
  });

  describe('S3', () => {
    it('PutObject then GetObject; a missing key is NoSuchKey', async () => {
      // Prepare
      const client = new S3Client({ ...suite.target().config(REGION), forcePathStyle: true });
      const bucket = unique('lifeboat-reports');
      await client.send(
        new CreateBucketCommand({
          Bucket: bucket,
          CreateBucketConfiguration: { LocationConstraint: REGION },
        }),
      );

      // Act
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: 'runs/r1.json',
          Body: '{"ok":true}',
          ContentType: 'application/json',
        }),
      );
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'runs/r1.json' }));
      const missing = await rejection(
        client.send(new GetObjectCommand({ Bucket: bucket, Key: 'runs/none.json' })),
      );

      // Assess
      expect(await got.Body?.transformToString()).toBe('{"ok":true}');
      expect(got.ContentType).toBe('application/json');
      expect(missing).toBeInstanceOf(NoSuchKey);
    });
  });

  describe('SNS', () => {
    it('CreateTopic then Publish; publishing to a missing topic is NotFoundException', async () => {
      // Prepare
      const target = suite.target();
      const client = new SNSClient(target.config(REGION));
      const name = unique('lifeboat-reports');

      // Act
      const topic = await client.send(new CreateTopicCommand({ Name: name }));
      const again = await client.send(new CreateTopicCommand({ Name: name }));
      const published = await client.send(
        new PublishCommand({
          TopicArn: topic.TopicArn,
          Subject: 'failover',
          Message: '{"status":"verified"}',
        }),
      );
      const missing = await rejection(
        client.send(
          new PublishCommand({
            TopicArn: `arn:aws:sns:${REGION}:123456789012:${unique('none')}`,
            Message: 'x',
          }),
        ),
      );

      // Assess
      expect(topic.TopicArn).toMatch(new RegExp(`^arn:aws:sns:${REGION}:\\d{12}:${name}$`));
      expect(again.TopicArn).toBe(topic.TopicArn);
      expect(published.MessageId).toMatch(/^[0-9a-f-]{36}$/);
      expect(missing).toBeInstanceOf(NotFoundException);
      const messages = target.emulator?.sns.messages.filter((m) => m.topicArn === topic.TopicArn);
      if (messages) expect(messages.map((m) => m.message)).toEqual(['{"status":"verified"}']);
    });
  });

  describe('Lambda', () => {
    it('GetFunction of a missing function is ResourceNotFoundException (404)', async () => {
      // Prepare
      const client = new LambdaClient(suite.target().config(REGION));

      // Act
      const error = await rejection(
        client.send(
          new GetFunctionCommand({
            FunctionName: `arn:aws:lambda:${REGION}:123456789012:function:${unique('none')}`,
          }),
        ),
      );

      // Assess
      expect(error).toBeInstanceOf(FunctionNotFoundException);
      expect((error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(404);
    });
  });

  describe('CloudWatch', () => {
    it('PutMetricData then GetMetricData returns the datapoint; an AWS/ namespace is refused', async () => {
      // Prepare
      const client = new CloudWatchClient(suite.target().config(REGION));
      const namespace = unique('Lifeboat');
      const at = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000);

      // Act
      await client.send(
        new PutMetricDataCommand({
          Namespace: namespace,
          MetricData: [{ MetricName: 'RecoverySeconds', Timestamp: at, Value: 42, Unit: 'Seconds' }],
        }),
      );
      const data = await client.send(
        new GetMetricDataCommand({
          StartTime: new Date(at.getTime() - 300_000),
          EndTime: new Date(at.getTime() + 300_000),
          MetricDataQueries: [
            {
              Id: 'recovery',
              MetricStat: {
                Metric: { Namespace: namespace, MetricName: 'RecoverySeconds' },
                Period: 60,
                Stat: 'Maximum',
              },
            },
          ],
        }),
      );
      const reserved = client.send(
        new PutMetricDataCommand({
          Namespace: 'AWS/RDS',
          MetricData: [{ MetricName: 'ReplicaLag', Value: 1 }],
        }),
      );

      // Assess
      const result = data.MetricDataResults?.[0];
      expect(result?.Id).toBe('recovery');
      expect(result?.Values).toEqual([42]);
      expect(result?.Timestamps?.[0]?.getTime()).toBe(at.getTime());
      await suite.behaves('PutMetricData to an AWS/ namespace is InvalidParameterValue', {
        aws: async () => expect(await rejection(reserved)).toBeInstanceOf(InvalidParameterValueException),
        moto: async () => expect((await reserved).$metadata.httpStatusCode).toBe(200),
      });
    });
  });
});
