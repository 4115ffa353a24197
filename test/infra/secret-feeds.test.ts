import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { parsePlan } from '../../functions/lib/plan.js';
import { cloudTrailPattern, labelUpdatedPattern } from '../../functions/lib/secret-feeds/event.js';
import { ReplicaKey, ReplicatedSecret } from '../../infra/constructs/replicated-secret.js';
import { REPLICATOR_DESCRIPTION_SUFFIX, SecretReplicator } from '../../infra/constructs/secret-replicator.js';
import { examplePlan } from './support.js';

const ACCOUNT = '123456789012';
const KEY_WEST = `arn:aws:kms:us-west-2:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;
const KEY_OTHER = `arn:aws:kms:us-west-2:210987654321:key/66666666-7777-8888-9999-000000000000`;
const SOURCE = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:orders/db-AbC123`;
const ROLE = 'arn:aws:iam::210987654321:role/lifeboat-replica-writer';

function stack(region = 'us-east-1') {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const s = new Stack(app, `S-${region}`, { env: { account: ACCOUNT, region } });
  return { app, stack: s };
}

type Statement = {
  Sid?: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
  Principal?: unknown;
};
/** The message of what `act` throws (a construct id can be used once, so it runs once). */
function thrown(act: () => unknown): string {
  try {
    act();
  } catch (error) {
    return (error as Error).message;
  }
  return '(nothing thrown)';
}

const statements = (t: Template, type: string) =>
  Object.values(t.findResources(type)).flatMap(
    (r) =>
      (
        (
          r as {
            Properties: {
              PolicyDocument?: { Statement: Statement[] };
              KeyPolicy?: { Statement: Statement[] };
            };
          }
        ).Properties.PolicyDocument ??
        (r as { Properties: { KeyPolicy: { Statement: Statement[] } } }).Properties.KeyPolicy
      ).Statement,
  );

describe('ReplicatedSecret', () => {
  it('replicates to each Region with that Region key, generates the RDS rotation JSON shape, and is kept on destroy', () => {
    // Prepare
    const { stack: s } = stack();
    // Act
    new ReplicatedSecret(s, 'Orders', {
      secretName: 'orders/db',
      replicaRegions: [{ region: 'us-west-2', kmsKeyArn: KEY_WEST }],
      generate: { engine: 'postgres', host: 'orders.db.example.com', username: 'app', dbname: 'orders' },
    });
    const t = Template.fromStack(s);
    // Assess
    t.hasResource('AWS::SecretsManager::Secret', {
      DeletionPolicy: 'Retain',
      Properties: {
        Name: 'orders/db',
        KmsKeyId: Match.anyValue(),
        ReplicaRegions: [{ Region: 'us-west-2', KmsKeyId: KEY_WEST }],
        GenerateSecretString: {
          SecretStringTemplate: JSON.stringify({
            engine: 'postgres',
            host: 'orders.db.example.com',
            port: 5432,
            username: 'app',
            dbname: 'orders',
          }),
          GenerateStringKey: 'password',
          ExcludeCharacters: '/@"\'\\ ',
          PasswordLength: 32,
        },
      },
    });
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const key = statements(t, 'AWS::KMS::Key').find((st) => st.Sid === 'SecretsManagerUseInThisAccount');
    expect(key?.Condition).toEqual({
      StringEquals: {
        'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com',
        'kms:CallerAccount': ACCOUNT,
      },
    });
  });

  it('names each replica by the primary ARN with the Region changed, and gives the plan fragment', () => {
    // Prepare
    const { stack: s } = stack();
    const secret = new ReplicatedSecret(s, 'Orders', {
      replicaRegions: [{ region: 'us-west-2', kmsKeyArn: KEY_WEST }],
    });
    // Act
    const fragment = secret.planSecret('us-west-2');
    const resolved = s.resolve(fragment.id) as { 'Fn::Join': [string, unknown[]] };
    // Assess
    expect(fragment.kmsKeyArn).toBe(KEY_WEST);
    expect(JSON.stringify(resolved)).toContain('us-west-2');
    expect(JSON.stringify(resolved)).toContain('Fn::Split');
    expect(() => secret.planSecret('eu-west-1')).toThrow(/not a replica Region \(us-west-2\)/);
    // The fragment fits the plan: a unit with it validates.
    const plan = examplePlan('plan.json');
    (plan.units[0] as { secret: unknown }).secret = {
      id: `arn:aws:secretsmanager:${plan.recoveryRegion}:${plan.account}:secret:orders/db-AbC123`,
      kmsKeyArn: `arn:aws:kms:${plan.recoveryRegion}:${plan.account}:key/11111111-2222-3333-4444-555555555555`,
    };
    expect(() => parsePlan(plan)).not.toThrow();
  });

  it('lists every bad prop at once: no key, a key of another Region, its own Region, a Region twice', () => {
    // Prepare
    const { stack: s } = stack();
    // Act
    const act = () =>
      new ReplicatedSecret(s, 'Bad', {
        replicaRegions: [
          { region: 'us-west-2', kmsKeyArn: '' },
          { region: 'eu-west-1', kmsKeyArn: KEY_WEST },
          { region: 'us-east-1', kmsKeyArn: KEY_WEST.replace('us-west-2', 'us-east-1') },
          { region: 'us-west-2', kmsKeyArn: KEY_WEST },
        ],
        generate: { engine: 'mysql', host: '', username: 'app', dbname: 'orders', port: 0 },
      });
    // Assess
    const message = thrown(act);
    expect(message).toMatch(/replicaRegions\[0\]\.kmsKeyArn: is required/);
    expect(message).toMatch(/replicaRegions\[1\]\.kmsKeyArn: must be a key in eu-west-1, not us-west-2/);
    expect(message).toMatch(/replicaRegions\[2\]\.region: is this stack's Region us-east-1/);
    expect(message).toMatch(/replicaRegions\[3\]\.region: us-west-2 is listed twice/);
    expect(message).toMatch(/generate\.host: is required/);
    expect(message).toMatch(/generate\.port: must be an integer between 1 and 65535/);
  });

  it('ReplicaKey makes the replica Region key with the statements Secrets Manager needs there', () => {
    // Prepare
    const { stack: s } = stack('us-west-2');
    // Act
    new ReplicaKey(s, 'Key');
    // Assess
    const key = statements(Template.fromStack(s), 'AWS::KMS::Key').find(
      (st) => st.Sid === 'SecretsManagerUseInThisAccount',
    );
    expect(key?.Condition).toMatchObject({
      StringEquals: { 'kms:ViaService': 'secretsmanager.us-west-2.amazonaws.com' },
    });
  });
});

function replicator(s: Stack, topic?: sns.ITopic) {
  return new SecretReplicator(s, 'Replicator', {
    name: 'orders',
    ...(topic ? { failureTopic: topic } : {}),
    sources: [
      {
        secretArn: SOURCE,
        targets: [
          { region: 'us-west-2', secretName: 'orders/db-dr', kmsKeyArn: KEY_WEST, rewriteArns: true },
          {
            region: 'us-west-2',
            secretName: 'shared/orders-db',
            roleArn: ROLE,
            externalId: 'lifeboat-7',
            kmsKeyArn: KEY_OTHER,
            rewriteArns: false,
          },
        ],
      },
    ],
  });
}

describe('SecretReplicator', () => {
  it('has the two rules with the documented patterns, both targeting the function with a dead-letter queue', () => {
    // Prepare
    const { stack: s } = stack();
    // Act
    replicator(s);
    const t = Template.fromStack(s);
    // Assess
    const rules = Object.values(t.findResources('AWS::Events::Rule')) as {
      Properties: { EventPattern: unknown; Targets: { DeadLetterConfig?: unknown; RetryPolicy?: unknown }[] };
    }[];
    expect(rules.map((r) => r.Properties.EventPattern)).toEqual(
      expect.arrayContaining([cloudTrailPattern(), labelUpdatedPattern([SOURCE])]),
    );
    for (const r of rules) {
      expect(r.Properties.Targets[0]?.DeadLetterConfig).toBeDefined();
      expect(r.Properties.Targets[0]?.RetryPolicy).toEqual({
        MaximumEventAgeInSeconds: 86_400,
        MaximumRetryAttempts: 20,
      });
    }
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: `lifeboat orders${REPLICATOR_DESCRIPTION_SUFFIX}`,
      ReservedConcurrentExecutions: 1,
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ReplicationFailures',
      Namespace: 'lifeboat/SecretFeeds',
    });
    // Kept on destroy like lifeboat's other queues, not after a rolled-back first deploy (infra/constructs/retention.ts).
    t.hasResource('AWS::SQS::Queue', { DeletionPolicy: 'RetainExceptOnCreate' });
    expect(Object.keys(t.findResources('AWS::SQS::Queue', { DeletionPolicy: 'Retain' }))).toEqual([]);
  });

  it('scopes IAM: reads the source only, writes its own-account targets by name, assumes only the target roles', () => {
    // Prepare
    const { stack: s } = stack();
    // Act
    replicator(s);
    const all = statements(Template.fromStack(s), 'AWS::IAM::Policy');
    const bySid = (sid: string) => all.find((st) => st.Sid === sid);
    // Assess
    expect(bySid('ReadSources')?.Resource).toBe(SOURCE);
    expect(bySid('WriteTargets')?.Resource).toBe(
      `arn:aws:secretsmanager:us-west-2:${ACCOUNT}:secret:orders/db-dr-??????`,
    );
    expect(bySid('WriteTargets')?.Action).not.toContain('secretsmanager:DeleteSecret');
    expect(bySid('AssumeTargetRoles')?.Resource).toBe(ROLE);
    expect(bySid('EncryptTargets')?.Resource).toBe(KEY_WEST);
    expect(all.some((st) => JSON.stringify(st.Action).includes('secretsmanager:*'))).toBe(false);
  });

  it('lists every bad prop at once (a role without external id, a key of the wrong Region, a source elsewhere)', () => {
    // Prepare
    const { stack: s } = stack();
    // Act
    const act = () =>
      new SecretReplicator(s, 'Bad', {
        name: 'orders',
        sources: [
          {
            secretArn: SOURCE.replace('us-east-1', 'eu-west-1'),
            targets: [
              {
                region: 'us-west-2',
                secretName: 'x',
                roleArn: ROLE,
                kmsKeyArn: KEY_WEST.replace('us-west-2', 'eu-west-1'),
                rewriteArns: false,
              },
            ],
          },
        ],
      });
    // Assess
    const message = thrown(act);
    expect(message).toMatch(/externalId: required with roleArn/);
    expect(message).toMatch(/kmsKeyArn: must be a key in the target's Region us-west-2/);
    expect(message).toMatch(/secretArn: must be in this stack's Region us-east-1/);
  });

  it('both constructs are cdk-nag clean, each finding acknowledged with a reason', () => {
    // Prepare
    const { app, stack: s } = stack();
    replicator(s, new sns.Topic(s, 'Failures', { enforceSSL: true, masterKey: undefined }));
    new ReplicatedSecret(s, 'Orders', { replicaRegions: [{ region: 'us-west-2', kmsKeyArn: KEY_WEST }] });
    // Act
    const report = new AwsSolutionsChecks().validateScope(app);
    // Assess
    const left = report.violations.map(
      (v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(left.filter((l) => !l.includes('/Failures/'))).toEqual([]);
  });
});
