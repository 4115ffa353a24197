import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { VAULT_SYNC_CONFIG_ENV } from '../../functions/lib/secret-feeds/vault-sync-config.js';
import {
  VAULT_SYNC_DESCRIPTION_SUFFIX,
  VaultSync,
  type VaultSyncProps,
} from '../../infra/constructs/vault-sync.js';

const ACCOUNT = '123456789012';
const CREDENTIAL = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:lifeboat/vault-credential-AbC123`;
const KEY_WEST = `arn:aws:kms:us-west-2:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;
const SYNCED = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:vault/apps/prod/*`;

type Statement = {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: unknown;
};

function make(props: Partial<VaultSyncProps> = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'S', { env: { account: ACCOUNT, region: 'us-east-1' } });
  const sync = new VaultSync(stack, 'Vault', {
    name: 'prod',
    vaultAddress: 'https://vault.example.com:8200',
    prefix: 'apps/prod',
    namePrefix: 'vault/apps/prod/',
    credentialSecret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'Credential', CREDENTIAL),
    ...props,
  });
  return { app, stack, sync, t: Template.fromStack(stack) };
}

function roleStatements(t: Template): Statement[] {
  return Object.values(t.findResources('AWS::IAM::Policy')).flatMap(
    (p) =>
      flat(
        (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
          .Statement,
      ) as Statement[],
  );
}

const actions = (s: Statement | undefined) => [s?.Action ?? []].flat();

/** A value with the stack's tokens written out: the partition is `aws`, any other reference `<ref>`. */
function flat(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(flat);
  if (value && typeof value === 'object') {
    const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    if (join)
      return join[1]
        .map((part) =>
          typeof part === 'string'
            ? part
            : (part as { Ref?: string }).Ref === 'AWS::Partition'
              ? 'aws'
              : '<ref>',
        )
        .join(join[0]);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, flat(v)]));
  }
  return value;
}

function thrown(act: () => unknown): string {
  try {
    act();
  } catch (error) {
    return (error as Error).message;
  }
  return '(nothing thrown)';
}

describe('VaultSync construct', () => {
  it('schedules the function every 30 minutes with retries and a dead-letter queue, one run at a time, its configuration in the environment', () => {
    const { t } = make();
    t.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(30 minutes)',
      State: 'ENABLED',
      Target: Match.objectLike({
        Arn: Match.anyValue(),
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 1800 },
        DeadLetterConfig: { Arn: Match.anyValue() },
      }),
    });
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 1,
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
    const fns = Object.values(t.findResources('AWS::Lambda::Function')).map(
      (f) =>
        (
          f as {
            Properties: {
              Description: string;
              ReservedConcurrentExecutions?: number;
              Environment: { Variables: Record<string, string> };
            };
          }
        ).Properties,
    );
    const fn = fns.find((f) => f.Description.endsWith(VAULT_SYNC_DESCRIPTION_SUFFIX));
    expect(fn?.ReservedConcurrentExecutions).toBe(1);
    const config = JSON.parse(flat(fn?.Environment.Variables[VAULT_SYNC_CONFIG_ENV]) as string);
    expect(config).toMatchObject({
      vaultAddress: 'https://vault.example.com:8200',
      mount: 'secret',
      prefix: 'apps/prod',
      namePrefix: 'vault/apps/prod/',
      credentialSecretArn: CREDENTIAL,
      removed: 'keep',
      intervalSeconds: 1800,
    });
    t.resourceCountIs('AWS::SNS::Topic', 1);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Threshold: 1 });
    // Kept on destroy like lifeboat's other queues, not after a rolled-back first deploy (infra/constructs/retention.ts).
    t.hasResource('AWS::SQS::Queue', { DeletionPolicy: 'RetainExceptOnCreate' });
    expect(Object.keys(t.findResources('AWS::SQS::Queue', { DeletionPolicy: 'Retain' }))).toEqual([]);
  });

  it('grants reading only the credential, writing only tagged secrets under the name prefix, and denies everything else explicitly', () => {
    const { t } = make();
    const all = roleStatements(t);
    const allows = all.filter((s) => s.Effect === 'Allow');
    const bySid = (sid: string) => all.find((s) => s.Sid === sid);
    const reads = allows.filter((s) => actions(s).includes('secretsmanager:GetSecretValue'));
    expect(reads.map((s) => s.Resource)).toEqual([CREDENTIAL]);
    expect(bySid('WriteSyncedSecrets')?.Resource).toBe(SYNCED);
    expect(bySid('WriteSyncedSecrets')?.Condition).toEqual({
      StringEquals: { 'secretsmanager:ResourceTag/lifeboat:feed': 'vault-sync' },
    });
    expect(bySid('CreateSyncedSecrets')?.Condition).toEqual({
      StringEquals: { 'aws:RequestTag/lifeboat:feed': 'vault-sync' },
    });
    // keep: no delete allowed, and delete denied outright.
    expect(allows.some((s) => actions(s).includes('secretsmanager:DeleteSecret'))).toBe(false);
    expect(actions(bySid('DenyWhatTheSyncNeverDoes'))).toContain('secretsmanager:DeleteSecret');
    expect(bySid('DenyOutsideScope')).toMatchObject({ Effect: 'Deny', NotResource: [SYNCED, CREDENTIAL] });
    expect(actions(bySid('DenyOutsideScope'))).not.toContain('secretsmanager:ListSecrets');
    expect(actions(bySid('DenyOutsideScope'))).toContain('secretsmanager:PutSecretValue');
    expect(bySid('DenyReadingValuesButTheCredential')).toMatchObject({
      Effect: 'Deny',
      NotResource: CREDENTIAL,
    });
    expect(bySid('DenyWritingSecretsItDidNotCreate')).toMatchObject({
      Effect: 'Deny',
      Resource: '*',
      Condition: { StringNotEquals: { 'secretsmanager:ResourceTag/lifeboat:feed': 'vault-sync' } },
    });
    expect(bySid('DenyCreatingUntagged')?.Effect).toBe('Deny');
    expect(bySid('DenyDeletingWithoutRecovery')?.Condition).toEqual({
      Bool: { 'secretsmanager:ForceDeleteWithoutRecovery': 'true' },
    });
    expect(
      all.some((s) => s.Effect === 'Allow' && JSON.stringify(s.Action).includes('secretsmanager:*')),
    ).toBe(false);
  });

  it('removed: delete allows DeleteSecret on its own tagged secrets with the recovery window; replicas and a key are granted', () => {
    const { stack: _s, t } = make({
      removed: 'delete',
      recoveryWindowDays: 7,
      replicaRegions: [{ region: 'us-west-2', kmsKeyArn: KEY_WEST }],
    });
    const all = roleStatements(t);
    const bySid = (sid: string) => all.find((s) => s.Sid === sid);
    expect(actions(bySid('WriteSyncedSecrets'))).toContain('secretsmanager:DeleteSecret');
    expect(actions(bySid('DenyWhatTheSyncNeverDoes'))).not.toContain('secretsmanager:DeleteSecret');
    expect(bySid('ReplicateCreatedSecrets')?.Resource).toBe(SYNCED);
    const fn = Object.values(t.findResources('AWS::Lambda::Function')).find((f) =>
      JSON.stringify(f).includes(VAULT_SYNC_DESCRIPTION_SUFFIX),
    ) as { Properties: { Environment: { Variables: Record<string, string> } } };
    expect(
      JSON.parse(flat(fn.Properties.Environment.Variables[VAULT_SYNC_CONFIG_ENV]) as string),
    ).toMatchObject({
      removed: 'delete',
      recoveryWindowDays: 7,
      replicaRegions: [{ region: 'us-west-2', kmsKeyId: KEY_WEST }],
    });
  });

  it('a customer managed key is granted through Secrets Manager only; `every` sets the schedule and the record interval', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'K', { env: { account: ACCOUNT, region: 'us-east-1' } });
    new VaultSync(stack, 'Vault', {
      name: 'prod',
      vaultAddress: 'https://vault.example.com',
      prefix: 'apps/prod',
      namePrefix: 'vault/apps/prod/',
      credentialSecret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'Credential', CREDENTIAL),
      kmsKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }),
      every: Duration.hours(1),
    });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 hour)' });
    const enc = roleStatements(t).find((s) => s.Sid === 'EncryptSyncedSecrets');
    expect(enc?.Condition).toEqual({
      StringLike: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' },
    });
    expect(JSON.stringify(t.toJSON())).toContain('\\"intervalSeconds\\":3600');
  });

  it('bad props are refused together, each naming its prop', () => {
    const message = thrown(() =>
      make({
        name: '1bad',
        prefix: 'apps/../sys',
        namePrefix: 'vault/apps',
        every: Duration.minutes(1),
        replicaRegions: [{ region: 'us-east-1' }],
        recoveryWindowDays: 7,
      }),
    );
    expect(message).toContain('VaultSync props are invalid');
    expect(message).toContain('name: expected letters');
    expect(message).toContain('every: expected whole minutes between 5 minutes and 1 day, got 1 minute');
    expect(message).toContain("replicaRegions[0].region: us-east-1 is this stack's own Region");
    expect(message).toContain('recoveryWindowDays: only meaningful with removed: "delete"');
    expect(message).toContain('prefix: prefix: "apps/../sys" has a segment ".."');
    expect(message).toContain('namePrefix: expected letters, digits and /_+=.@- ending with "/"');
  });

  it('is cdk-nag clean, each finding acknowledged with a reason', () => {
    const { app } = make({
      removed: 'delete',
      replicaRegions: [{ region: 'us-west-2', kmsKeyArn: KEY_WEST }],
    });
    const report = new AwsSolutionsChecks().validateScope(app);
    const left = report.violations.map(
      (v) =>
        `${v.ruleName} at ${v.violatingResources.map((r) => `${r.constructPath} ${JSON.stringify(r.locations ?? '')}`).join(', ')}`,
    );
    expect(left).toEqual([]);
  });
});
