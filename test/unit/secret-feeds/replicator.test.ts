import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';

type Stub = ReturnType<typeof mockClient>;

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError, SecretFeedError } from '../../../functions/lib/errors.js';
import {
  FEED_TAG,
  LAST_SYNC_STATUS_TAG,
  LAST_SYNC_TAG,
  SYNC_INTERVAL_TAG,
} from '../../../functions/lib/secret-feeds/feed-record.js';
import {
  type ReplicatorDeps,
  replicate,
  type TemporaryCredentials,
} from '../../../functions/lib/secret-feeds/replicator.js';
import {
  parseReplicatorConfig,
  type ReplicatorConfigInput,
  secretArnParts,
  targetValue,
} from '../../../functions/lib/secret-feeds/targets.js';
import { awsError } from '../../fixtures/aws-error.js';
import {
  ACCOUNT,
  putSecretValueEvent,
  rotationSucceededEvent,
  SOURCE_ARN,
  updateSecretEvent,
  VERSION_ID,
} from '../../fixtures/secrets-manager-events.js';

const PASSWORD = 'pw-MARKER-replicator-9d2e-do-not-leak';
const SOURCE_VALUE = JSON.stringify({
  engine: 'postgres',
  host: 'orders.db.example.com',
  port: 5432,
  username: 'app',
  password: PASSWORD,
  dbname: 'orders',
  masterarn: `arn:aws:rds:us-west-2:${ACCOUNT}:db:orders-primary`,
});
const OTHER_ACCOUNT = '210987654321';
const ROLE_ARN = `arn:aws:iam::${OTHER_ACCOUNT}:role/lifeboat-replica-writer`;
const KEY_EAST = `arn:aws:kms:us-east-1:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;
const KEY_OTHER = `arn:aws:kms:us-east-1:${OTHER_ACCOUNT}:key/66666666-7777-8888-9999-000000000000`;
const TOPIC = `arn:aws:sns:us-west-2:${ACCOUNT}:replicator-failures`;
const NOW = new Date('2025-03-01T10:00:00.000Z');

function config(overrides: Partial<ReplicatorConfigInput> = {}) {
  return parseReplicatorConfig({
    name: 'orders',
    failureTopicArn: TOPIC,
    sources: [
      {
        secretArn: SOURCE_ARN,
        targets: [
          // Another Region, another name, ARNs moved to the target's Region.
          { region: 'us-east-1', secretName: 'orders/db-dr', kmsKeyArn: KEY_EAST, rewriteArns: true },
          // Another account through a role with an external id, host rewritten.
          {
            region: 'us-east-1',
            secretName: 'shared/orders-db',
            roleArn: ROLE_ARN,
            externalId: 'lifeboat-orders-7',
            kmsKeyArn: KEY_OTHER,
            setFields: { host: 'orders.db.partner.example.com' },
            rewriteArns: true,
          },
        ],
      },
    ],
    ...overrides,
  });
}

/** One mocked Secrets Manager client per Region and account, as the handler's factory makes them. */
interface World {
  source: Stub;
  east: Stub;
  other: Stub;
  sns: Stub;
  cloudwatch: Stub;
  deps: ReplicatorDeps;
  assumed: { roleArn: string; externalId: string }[];
  logs: string[];
}

const CREDENTIALS: TemporaryCredentials = {
  accessKeyId: 'ASIAOTHER',
  secretAccessKey: 's',
  sessionToken: 't',
};

function world(options: { assume?: () => Promise<TemporaryCredentials> } = {}): World {
  const clients = {
    source: new SecretsManagerClient({ region: 'us-west-2' }),
    east: new SecretsManagerClient({ region: 'us-east-1' }),
    other: new SecretsManagerClient({ region: 'us-east-1' }),
  };
  const sns = new SNSClient({ region: 'us-west-2' });
  const cloudwatch = new CloudWatchClient({ region: 'us-west-2' });
  const assumed: World['assumed'] = [];
  const logs: string[] = [];
  const w = {
    source: mockClient(clients.source),
    east: mockClient(clients.east),
    other: mockClient(clients.other),
    sns: mockClient(sns),
    cloudwatch: mockClient(cloudwatch),
    assumed,
    logs,
    deps: {
      secretsManager: (region: string, credentials?: TemporaryCredentials) => {
        if (credentials) return clients.other;
        return region === 'us-west-2' ? clients.source : clients.east;
      },
      assumeRole: async (roleArn: string, externalId: string) => {
        assumed.push({ roleArn, externalId });
        return options.assume ? options.assume() : CREDENTIALS;
      },
      sns,
      cloudwatch,
      now: () => NOW,
      log: (message: string, fields: Record<string, unknown>) =>
        logs.push(`${message} ${JSON.stringify(fields)}`),
    } satisfies ReplicatorDeps,
  };
  w.source
    .on(GetSecretValueCommand)
    .resolves({ ARN: SOURCE_ARN, VersionId: VERSION_ID, SecretString: SOURCE_VALUE });
  w.source.on(DescribeSecretCommand).resolves({
    ARN: SOURCE_ARN,
    Description: 'orders database credential',
    RotationEnabled: true,
    RotationRules: { AutomaticallyAfterDays: 30 },
  });
  for (const target of [w.east, w.other]) {
    target.on(PutSecretValueCommand).resolves({ VersionId: VERSION_ID, VersionStages: ['AWSCURRENT'] });
    target.on(TagResourceCommand).resolves({});
  }
  w.sns.on(PublishCommand).resolves({ MessageId: '1' });
  w.cloudwatch.on(PutMetricDataCommand).resolves({});
  return w;
}

const existing = (
  name: string,
  account = ACCOUNT,
  stages: Record<string, string[]> = { 'old-version-0000000000000000000000': ['AWSCURRENT'] },
) => ({
  ARN: `arn:aws:secretsmanager:us-east-1:${account}:secret:${name}-Zx9Yw8`,
  Name: name,
  VersionIdsToStages: stages,
});

function written(stub: Stub): Record<string, unknown> {
  const put = stub.commandCalls(PutSecretValueCommand)[0] ?? stub.commandCalls(CreateSecretCommand)[0];
  const input = put?.args[0].input as { SecretString?: string };
  return JSON.parse(input.SecretString ?? '{}') as Record<string, unknown>;
}

/** Everything the replicator said: logs, the SNS message, the error. */
function said(w: World, error?: unknown): string {
  const published = w.sns.commandCalls(PublishCommand).map((c) => JSON.stringify(c.args[0].input));
  return [
    ...w.logs,
    ...published,
    error instanceof Error ? `${error.message} ${JSON.stringify(error)}` : '',
  ].join('\n');
}

let w: World;
beforeEach(() => {
  w = world();
});
afterEach(() => {
  w.source.reset();
  w.east.reset();
  w.other.reset();
});

describe('replicate', () => {
  it('copies the source AWSCURRENT to every target with its version id as ClientRequestToken, rewritten per target', async () => {
    // Prepare
    w.east.on(DescribeSecretCommand).resolves(existing('orders/db-dr'));
    w.other.on(DescribeSecretCommand).resolves(existing('shared/orders-db', OTHER_ACCOUNT));
    // Act
    const report = await replicate(w.deps, config(), putSecretValueEvent());
    // Assess
    expect(w.source.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(w.source.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({
      SecretId: SOURCE_ARN,
      VersionStage: 'AWSCURRENT',
    });
    for (const target of [w.east, w.other]) {
      const put = target.commandCalls(PutSecretValueCommand);
      expect(put).toHaveLength(1);
      expect(put[0]?.args[0].input.ClientRequestToken).toBe(VERSION_ID);
      // PutSecretValue's default stage is AWSCURRENT: no VersionStages given, so the label moves to the new version.
      expect(put[0]?.args[0].input.VersionStages).toBeUndefined();
    }
    expect(written(w.east)).toMatchObject({
      host: 'orders.db.example.com',
      password: PASSWORD,
      masterarn: `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders-primary`,
    });
    expect(written(w.other)).toMatchObject({
      host: 'orders.db.partner.example.com',
      masterarn: `arn:aws:rds:us-east-1:${OTHER_ACCOUNT}:db:orders-primary`,
    });
    expect(w.assumed).toEqual([{ roleArn: ROLE_ARN, externalId: 'lifeboat-orders-7' }]);
    expect('targets' in report && report.targets.map((t) => [t.secretName, t.outcome, t.versionId])).toEqual([
      ['orders/db-dr', 'updated', VERSION_ID],
      ['shared/orders-db', 'updated', VERSION_ID],
    ]);
    expect(w.sns.commandCalls(PublishCommand)).toHaveLength(0);
    const metrics = w.cloudwatch.commandCalls(PutMetricDataCommand)[0]?.args[0].input.MetricData;
    expect(metrics?.map((m) => [m.MetricName, m.Value])).toEqual([
      ['ReplicationFailures', 0],
      ['TargetsReplicated', 2],
    ]);
  });

  it('records the last sync on each target as tags preflight reads, with the source rotation schedule', async () => {
    // Prepare
    w.east.on(DescribeSecretCommand).resolves(existing('orders/db-dr'));
    w.other.on(DescribeSecretCommand).resolves(existing('shared/orders-db', OTHER_ACCOUNT));
    // Act
    await replicate(w.deps, config(), rotationSucceededEvent());
    // Assess
    const tags = w.east.commandCalls(TagResourceCommand)[0]?.args[0].input.Tags;
    expect(tags).toEqual([
      { Key: FEED_TAG, Value: 'replicator' },
      { Key: LAST_SYNC_TAG, Value: NOW.toISOString() },
      { Key: LAST_SYNC_STATUS_TAG, Value: 'ok' },
      { Key: SYNC_INTERVAL_TAG, Value: String(30 * 86_400) },
    ]);
  });

  it('creates a missing target with the configured key and the source description', async () => {
    // Prepare
    w.east.on(DescribeSecretCommand).rejects(awsError('ResourceNotFoundException'));
    w.east.on(CreateSecretCommand).resolves({ ARN: existing('orders/db-dr').ARN, VersionId: VERSION_ID });
    w.other.on(DescribeSecretCommand).resolves(existing('shared/orders-db', OTHER_ACCOUNT));
    // Act
    const report = await replicate(w.deps, config(), putSecretValueEvent());
    // Assess
    const create = w.east.commandCalls(CreateSecretCommand)[0]?.args[0].input;
    expect(create).toMatchObject({
      Name: 'orders/db-dr',
      KmsKeyId: KEY_EAST,
      Description: 'orders database credential',
      ClientRequestToken: VERSION_ID,
    });
    expect(w.east.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect('targets' in report && report.targets[0]?.outcome).toBe('created');
  });

  it('creates a missing target when the source has no description (the published sample crashed here)', async () => {
    // Prepare
    w.source.on(DescribeSecretCommand).resolves({ ARN: SOURCE_ARN });
    w.east.on(DescribeSecretCommand).rejects(awsError('ResourceNotFoundException'));
    w.east.on(CreateSecretCommand).resolves({ ARN: existing('orders/db-dr').ARN, VersionId: VERSION_ID });
    w.other.on(DescribeSecretCommand).resolves(existing('shared/orders-db', OTHER_ACCOUNT));
    // Act
    const report = await replicate(w.deps, config(), putSecretValueEvent());
    // Assess
    const create = w.east.commandCalls(CreateSecretCommand)[0]?.args[0].input;
    expect(create).not.toHaveProperty('Description');
    expect(create?.KmsKeyId).toBe(KEY_EAST);
    expect('targets' in report && report.targets[0]?.outcome).toBe('created');
    // No rotation on the source: no interval in the record.
    const keys = w.east.commandCalls(TagResourceCommand)[0]?.args[0].input.Tags?.map((t) => t.Key);
    expect(keys).not.toContain(SYNC_INTERVAL_TAG);
  });

  it('a repeated event changes nothing: the target already has the version as AWSCURRENT', async () => {
    // Prepare
    const stages = { [VERSION_ID]: ['AWSCURRENT'], 'old-version-0000000000000000000000': ['AWSPREVIOUS'] };
    w.east.on(DescribeSecretCommand).resolves(existing('orders/db-dr', ACCOUNT, stages));
    w.other.on(DescribeSecretCommand).resolves(existing('shared/orders-db', OTHER_ACCOUNT, stages));
    // Act
    const report = await replicate(w.deps, config(), putSecretValueEvent());
    // Assess
    expect('targets' in report && report.targets.map((t) => t.outcome)).toEqual(['unchanged', 'unchanged']);
    expect(w.east.commandCalls(UpdateSecretVersionStageCommand)).toHaveLength(0);
  });

  it('moves AWSCURRENT back to the version when it exists without the label', async () => {
    // Prepare
    const stages = { [VERSION_ID]: ['AWSPREVIOUS'], 'newer-by-hand-00000000000000000000': ['AWSCURRENT'] };
    w.east.on(DescribeSecretCommand).resolves(existing('orders/db-dr', ACCOUNT, stages));
    w.east.on(PutSecretValueCommand).resolves({ VersionId: VERSION_ID, VersionStages: ['AWSPREVIOUS'] });
    w.east.on(UpdateSecretVersionStageCommand).resolves({});
    w.other.on(DescribeSecretCommand).resolves(existing('shared/orders-db', OTHER_ACCOUNT));
    // Act
    await replicate(w.deps, config(), putSecretValueEvent());
    // Assess
    expect(w.east.commandCalls(UpdateSecretVersionStageCommand)[0]?.args[0].input).toMatchObject({
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: VERSION_ID,
      RemoveFromVersionId: 'newer-by-hand-00000000000000000000',
    });
  });

  it('refuses a target that is a replica: nothing written, reported to SNS and the metric, the event retried', async () => {
    // Prepare
    w.east.on(DescribeSecretCommand).resolves({ ...existing('orders/db-dr'), PrimaryRegion: 'us-west-2' });
    w.other.on(DescribeSecretCommand).resolves(existing('shared/orders-db', OTHER_ACCOUNT));
    // Act
    const error = await replicate(w.deps, config(), putSecretValueEvent()).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(SecretFeedError);
    expect((error as Error).message).toMatch(
      /orders\/db-dr in us-east-1 .*is a replica of a secret in us-west-2/,
    );
    expect(w.east.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect(w.east.commandCalls(CreateSecretCommand)).toHaveLength(0);
    expect(w.east.commandCalls(TagResourceCommand)).toHaveLength(0);
    // The other target was still updated.
    expect(w.other.commandCalls(PutSecretValueCommand)).toHaveLength(1);
    const message = w.sns.commandCalls(PublishCommand)[0]?.args[0].input;
    expect(message?.TopicArn).toBe(TOPIC);
    expect(message?.Message).toMatch(/1 of 2 target/);
    const metrics = w.cloudwatch.commandCalls(PutMetricDataCommand)[0]?.args[0].input.MetricData;
    expect(metrics?.find((m) => m.MetricName === 'ReplicationFailures')?.Value).toBe(1);
  });

  it('same token with another value (ResourceExistsException) is reported, never overwritten, and marks the record failed', async () => {
    // Prepare
    w.east.on(DescribeSecretCommand).resolves(existing('orders/db-dr'));
    w.east.on(PutSecretValueCommand).rejects(awsError('ResourceExistsException'));
    w.other.on(DescribeSecretCommand).resolves(existing('shared/orders-db', OTHER_ACCOUNT));
    // Act
    const error = await replicate(w.deps, config(), putSecretValueEvent()).catch((e: unknown) => e);
    // Assess
    expect((error as Error).message).toMatch(/already has a version .* with a different value/);
    expect(w.east.commandCalls(UpdateSecretVersionStageCommand)).toHaveLength(0);
    const tags = w.east.commandCalls(TagResourceCommand)[0]?.args[0].input.Tags;
    expect(tags).toContainEqual({ Key: LAST_SYNC_STATUS_TAG, Value: 'failed' });
  });

  it('a missing or unusable target key: a clear error naming the key, nothing written', async () => {
    // Prepare
    w.east.on(DescribeSecretCommand).rejects(awsError('ResourceNotFoundException'));
    w.east.on(CreateSecretCommand).rejects(awsError('KMSInvalidStateException'));
    w.other.on(DescribeSecretCommand).resolves(existing('shared/orders-db', OTHER_ACCOUNT));
    // Act
    const error = await replicate(w.deps, config(), putSecretValueEvent()).catch((e: unknown) => e);
    // Assess
    expect((error as Error).message).toContain(`KMS key ${KEY_EAST}`);
    expect((error as Error).message).toContain('Nothing was written');
    expect(w.east.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('a role it cannot assume: that target fails naming the role, the others are written', async () => {
    // Prepare
    w = world({ assume: () => Promise.reject(awsError('AccessDenied', { status: 403 })) });
    w.east.on(DescribeSecretCommand).resolves(existing('orders/db-dr'));
    // Act
    const error = await replicate(w.deps, config(), putSecretValueEvent()).catch((e: unknown) => e);
    // Assess
    expect((error as Error).message).toMatch(new RegExp(`AssumeRole ${ROLE_ARN}.*AccessDenied`));
    expect(w.other.commandCalls(DescribeSecretCommand)).toHaveLength(0);
    expect(w.east.commandCalls(PutSecretValueCommand)).toHaveLength(1);
  });

  it('a source it cannot read fails every target of it, and writes nothing', async () => {
    // Prepare
    w.source.on(GetSecretValueCommand).rejects(awsError('AccessDeniedException'));
    // Act
    const error = await replicate(w.deps, config(), putSecretValueEvent()).catch((e: unknown) => e);
    // Assess
    expect((error as SecretFeedError).failures).toHaveLength(2);
    expect(w.east.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect(w.other.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  it('ignores an event about another secret, and one by name in another Region', async () => {
    // Act
    const other = await replicate(
      w.deps,
      config(),
      putSecretValueEvent(SOURCE_ARN.replace('mySecret', 'other')),
    );
    const byName = updateSecretEvent('mySecret');
    (byName.detail as Record<string, unknown>).responseElements = null;
    const elsewhere = await replicate(w.deps, config(), { ...byName, region: 'eu-west-1' });
    // Assess
    expect(other).toHaveProperty('ignored');
    expect(elsewhere).toHaveProperty('ignored');
    expect(w.source.calls()).toHaveLength(0);
  });

  it('a source named by its name in the event (UpdateSecret by name) is found', async () => {
    // Prepare
    w.east.on(DescribeSecretCommand).resolves(existing('orders/db-dr'));
    w.other.on(DescribeSecretCommand).resolves(existing('shared/orders-db', OTHER_ACCOUNT));
    const event = updateSecretEvent('mySecret');
    (event.detail as Record<string, unknown>).responseElements = null;
    // Act
    const report = await replicate(w.deps, config(), event);
    // Assess
    expect(report).toHaveProperty('targets');
  });

  it('never says the value: not in logs, SNS, errors or the report', async () => {
    // Prepare
    w.east.on(DescribeSecretCommand).resolves(existing('orders/db-dr'));
    w.east.on(PutSecretValueCommand).rejects(awsError('ResourceExistsException'));
    w.other.on(DescribeSecretCommand).resolves(existing('shared/orders-db', OTHER_ACCOUNT));
    // Act
    const error = await replicate(w.deps, config(), putSecretValueEvent()).catch((e: unknown) => e);
    // Assess
    expect(said(w, error)).not.toContain(PASSWORD);
    expect(said(w, error)).toContain('orders/db-dr');
  });
});

describe('the replicator configuration', () => {
  it('lists every problem at once: a role without external id, a key of another Region or account, the source as its own target, no key', () => {
    // Act
    const act = () =>
      parseReplicatorConfig({
        name: 'orders',
        sources: [
          {
            secretArn: SOURCE_ARN,
            targets: [
              { region: 'us-east-1', secretName: 'a', roleArn: ROLE_ARN, kmsKeyArn: KEY_OTHER },
              { region: 'eu-west-1', secretName: 'b', kmsKeyArn: KEY_EAST },
              { region: 'us-east-1', secretName: 'c', kmsKeyArn: KEY_OTHER },
              {
                region: 'us-west-2',
                secretName: 'mySecret',
                kmsKeyArn: KEY_EAST.replace('us-east-1', 'us-west-2'),
              },
            ],
          },
        ],
      });
    // Assess
    expect(act).toThrow(ConfigurationError);
    const message = (() => {
      try {
        act();
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })();
    expect(message).toContain('sources[0].targets[0].externalId: required with roleArn');
    expect(message).toContain(
      "sources[0].targets[1].kmsKeyArn: must be a key in the target's Region eu-west-1",
    );
    expect(message).toContain(
      `sources[0].targets[2].kmsKeyArn: must be a key of the target's account ${ACCOUNT}`,
    );
    expect(message).toContain('sources[0].targets[3]: is the source secret itself');
  });

  it('refuses a target without a key', () => {
    expect(() =>
      parseReplicatorConfig({
        name: 'x',
        sources: [{ secretArn: SOURCE_ARN, targets: [{ region: 'us-east-1', secretName: 'a' }] }],
      }),
    ).toThrow(/targets\[0\]\.kmsKeyArn/);
  });

  it('a rewrite of a value that is not a JSON object is refused without quoting it', () => {
    // Prepare
    const target = config().sources[0]?.targets[0];
    // Act
    const act = () =>
      targetValue(`not json ${PASSWORD}`, target as never, secretArnParts(SOURCE_ARN) as never);
    // Assess
    expect(act).toThrow(/not a JSON object/);
    expect(() => act()).not.toThrow(new RegExp(PASSWORD));
  });
});
