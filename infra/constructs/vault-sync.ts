import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FEED_TAG } from '../../functions/lib/secret-feeds/feed-record.js';
import { FEED } from '../../functions/lib/secret-feeds/vault-sync.js';
import {
  parseVaultSyncConfig,
  VAULT_SYNC_CONFIG_ENV,
  type VaultSyncConfig,
} from '../../functions/lib/secret-feeds/vault-sync-config.js';
import { acknowledge, acknowledgeWildcards } from '../nag.js';
import { NotificationTopic } from './notification-topic.js';
import { RETAINED } from './retention.js';
import { StepFunction } from './step-function.js';

export const VAULT_SYNC_ENTRY = 'functions/sync-vault.ts';
/** The sync's function description ends with this; the proving ground finds its bundle by it. */
export const VAULT_SYNC_DESCRIPTION_SUFFIX = ': syncVault handler';

export interface VaultSyncProps {
  /** Names this sync (descriptions, the alarm). Letters, digits, hyphens. */
  readonly name: string;
  /** Vault's address, e.g. `https://vault.example.com:8200`. The function must reach it (VPC, NAT, or public). */
  readonly vaultAddress: string;
  /** Vault Enterprise / HCP namespace. */
  readonly vaultNamespace?: string;
  /** Where the KV v2 engine is mounted. @default "secret" */
  readonly mount?: string;
  /** The folder under the mount that is synced, recursively, e.g. `apps/prod`. */
  readonly prefix: string;
  /** Secrets Manager names: Vault `<prefix>/<rel>` becomes `<namePrefix><rel>`. Ends with `/`. */
  readonly namePrefix: string;
  /**
   * The secret holding the read-only Vault credential: `{"token": "..."}` or `{"aws": {"role": "...", "mount"?,
   * "serverId"?, "stsRegion"?}}` (Vault's AWS IAM auth method with this function's role, `function.role`).
   */
  readonly credentialSecret: secretsmanager.ISecret;
  /** Key for the secrets the sync creates, in this Region. @default aws/secretsmanager */
  readonly kmsKey?: kms.IKey;
  /**
   * Replica Regions of the secrets the sync creates (each with a key of its Region, e.g. a ReplicaKey's ARN): the
   * Vault-sourced credentials are then ready for a failover like a ReplicatedSecret's. @default none
   */
  readonly replicaRegions?: readonly { readonly region: string; readonly kmsKeyArn?: string }[];
  /**
   * What happens to a synced secret whose Vault secret disappeared or whose current version was deleted or
   * destroyed: `keep` its last value, or `delete` it with a recovery window. @default "keep"
   */
  readonly removed?: 'keep' | 'delete';
  /** @default 30 days */
  readonly recoveryWindowDays?: number;
  /** How often it runs: `rate(...)` of this. @default 30 minutes */
  readonly every?: Duration;
  /** Topic that hears of every failed run and every secret not synced. @default a new encrypted topic */
  readonly failureTopic?: sns.ITopic;
  /** @default one year */
  readonly logRetention?: logs.RetentionDays;
}

/** Every Secrets Manager action that names a secret (the Service Authorization Reference; ListSecrets names none). */
const SECRET_ACTIONS = [
  'CancelRotateSecret',
  'CreateSecret',
  'DeleteResourcePolicy',
  'DeleteSecret',
  'DescribeSecret',
  'GetResourcePolicy',
  'GetSecretValue',
  'ListSecretVersionIds',
  'PutResourcePolicy',
  'PutSecretValue',
  'RemoveRegionsFromReplication',
  'ReplicateSecretToRegions',
  'RestoreSecret',
  'RotateSecret',
  'StopReplicationToReplica',
  'TagResource',
  'UntagResource',
  'UpdateSecret',
  'UpdateSecretVersionStage',
  'ValidateResourcePolicy',
].map((a) => `secretsmanager:${a}`);

/**
 * The Vault pull sync (docs/design/vault-sync.md): an EventBridge Scheduler schedule (every 30 minutes by default)
 * invokes one function that copies HashiCorp Vault KV v2 secrets under a prefix into Secrets Manager secrets under a
 * name prefix. Failed runs go to the topic, to a dead-letter queue after Lambda's retry, and to an alarm.
 *
 * The role may read one secret's value (the Vault credential), list secrets, and write only secrets under the name
 * prefix that carry the sync's tag; explicit Deny statements hold that even if someone attaches a broader policy:
 * no secrets outside the prefix, no value read but the credential, no write to a secret without the tag, no
 * creation without it, no deletion without a recovery window (none at all under `keep`), no resource policies,
 * rotation, untagging or replica removal.
 */
export class VaultSync extends Construct {
  readonly function: StepFunction;
  readonly schedule: scheduler.Schedule;
  readonly deadLetterQueue: sqs.Queue;
  readonly failureTopic: sns.ITopic;
  readonly failureAlarm: cloudwatch.Alarm;
  readonly config: VaultSyncConfig;

  constructor(scope: Construct, id: string, props: VaultSyncProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const problems: string[] = [];
    if (!/^[A-Za-z][A-Za-z0-9-]{0,39}$/.test(props.name ?? '')) {
      problems.push('name: expected letters, digits and hyphens, starting with a letter');
    }
    const every = props.every ?? Duration.minutes(30);
    const minutes = every.toMinutes({ integral: false });
    if (!Number.isInteger(minutes) || minutes < 5 || minutes > 24 * 60) {
      problems.push(
        `every: expected whole minutes between 5 minutes and 1 day, got ${every.toHumanString()}`,
      );
    }
    for (const [i, r] of (props.replicaRegions ?? []).entries()) {
      if (!Token.isUnresolved(stack.region) && r.region === stack.region) {
        problems.push(`replicaRegions[${i}].region: ${r.region} is this stack's own Region`);
      }
    }
    if (props.removed !== 'delete' && props.recoveryWindowDays !== undefined) {
      problems.push('recoveryWindowDays: only meaningful with removed: "delete"');
    }
    this.failureTopic =
      props.failureTopic ??
      new NotificationTopic(this, 'FailureTopic', { displayName: 'lifeboat Vault sync' }).topic;
    // ARNs that are tokens until deployment are checked as placeholders of their shape, then put back.
    const credentialArn = props.credentialSecret.secretArn;
    const topicArn = this.failureTopic.topicArn;
    const keyArn = props.kmsKey?.keyArn;
    const placeholder = (value: string, shape: string) => (Token.isUnresolved(value) ? shape : value);
    let config: VaultSyncConfig | undefined;
    try {
      const checked = parseVaultSyncConfig({
        vaultAddress: props.vaultAddress,
        ...(props.vaultNamespace ? { vaultNamespace: props.vaultNamespace } : {}),
        ...(props.mount ? { mount: props.mount } : {}),
        prefix: props.prefix,
        namePrefix: props.namePrefix,
        credentialSecretArn: placeholder(
          credentialArn,
          'arn:aws:secretsmanager:us-east-1:000000000000:secret:token',
        ),
        ...(keyArn ? { kmsKeyId: keyArn } : {}),
        replicaRegions: (props.replicaRegions ?? []).map((r) => ({
          region: r.region,
          ...(r.kmsKeyArn ? { kmsKeyId: r.kmsKeyArn } : {}),
        })),
        removed: props.removed ?? 'keep',
        ...(props.recoveryWindowDays !== undefined ? { recoveryWindowDays: props.recoveryWindowDays } : {}),
        intervalSeconds: Math.round(every.toSeconds({ integral: false })),
        topicArn: placeholder(topicArn, 'arn:aws:sns:us-east-1:000000000000:token'),
      });
      config = { ...checked, credentialSecretArn: credentialArn, topicArn };
    } catch (error) {
      problems.push(
        ...(error as Error).message.replace(/^Vault sync configuration is invalid: /, '').split('; '),
      );
    }
    if (problems.length || !config) {
      throw new TypeError(`VaultSync props are invalid:\n  - ${problems.join('\n  - ')}`);
    }
    this.config = config;

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: RETAINED,
    });
    acknowledge(
      this.deadLetterQueue,
      'AwsSolutions-SQS3',
      'this queue is itself the dead-letter queue of the Vault sync schedule and function',
    );

    this.function = new StepFunction(this, 'Function', {
      entry: VAULT_SYNC_ENTRY,
      description: `lifeboat ${props.name}${VAULT_SYNC_DESCRIPTION_SUFFIX}`,
      // A run lists and reads metadata for up to MAX_VAULT_SECRETS secrets, eight at a time.
      timeout: Duration.minutes(5),
      environment: { [VAULT_SYNC_CONFIG_ENV]: JSON.stringify(config) },
      serviceName: 'lifeboat-vault-sync',
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });
    const fn = this.function.function;
    // One run at a time: two runs would race on the same secrets (harmless by the tokens, but twice the calls).
    (fn.node.defaultChild as { reservedConcurrentExecutions?: number }).reservedConcurrentExecutions = 1;
    // One retry (a transient Vault or AWS failure); then the dead-letter queue. The next schedule is the next try.
    fn.configureAsyncInvoke({
      retryAttempts: 1,
      maxEventAge: Duration.minutes(Math.max(5, Math.min(minutes, 360))),
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });
    this.grant(config, props);

    // Its own role (not the stack-wide one Scheduler targets share): it may invoke this function and nothing else.
    const scheduleRole = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: `lifeboat ${props.name}: invokes the Vault sync function on its schedule`,
    });
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description:
        `lifeboat ${props.name}: Vault ${config.mount}/${config.prefix}/ -> Secrets Manager ${config.namePrefix}`.slice(
          0,
          512,
        ),
      schedule: scheduler.ScheduleExpression.rate(every),
      target: new schedulerTargets.LambdaInvoke(fn, {
        input: scheduler.ScheduleTargetInput.fromObject({ source: 'lifeboat.vault-sync.schedule' }),
        retryAttempts: 3,
        maxEventAge: Duration.minutes(Math.max(1, Math.min(minutes, 60))),
        deadLetterQueue: this.deadLetterQueue,
        role: scheduleRole,
      }),
    });
    acknowledge(
      scheduleRole,
      `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(fn.node.defaultChild as import('aws-cdk-lib').CfnElement)}.Arn>:*]`,
      'Scheduler invokes the function by its ARN and its versions (ARN:*), as the CDK target grants; this role invokes nothing else',
    );

    this.failureAlarm = new cloudwatch.Alarm(this, 'FailureAlarm', {
      alarmDescription: `lifeboat ${props.name}: a Vault sync run failed`,
      metric: fn.metricErrors({ period: Duration.minutes(Math.min(minutes, 60)), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private grant(config: VaultSyncConfig, props: VaultSyncProps): void {
    const stack = Stack.of(this);
    const role = this.function.role;
    // Secret ARNs end in a random suffix chosen at creation: `<namePrefix>*` covers the names and their suffixes.
    const synced = `arn:${stack.partition}:secretsmanager:${stack.region}:${stack.account}:secret:${config.namePrefix}*`;
    // A secret imported by name has a partial ARN; the real one ends in six random characters.
    const credential = props.credentialSecret.secretFullArn ?? `${props.credentialSecret.secretArn}-??????`;
    const ownTag = `secretsmanager:ResourceTag/${FEED_TAG}`;

    props.credentialSecret.grantRead(role);
    const allow = (statement: iam.PolicyStatement, reason: string) => {
      role.addToPolicy(statement);
      acknowledgeWildcards(this.function, statement, reason);
    };
    const prefixReason = `the sync writes only secrets under its name prefix ${config.namePrefix} (their ARNs end in a random suffix chosen at creation), and only those tagged ${FEED_TAG}=${FEED}`;
    allow(
      new iam.PolicyStatement({
        sid: 'ListSecrets',
        actions: ['secretsmanager:ListSecrets'],
        resources: ['*'],
      }),
      'ListSecrets names no resource (Service Authorization Reference); the sync filters by its name prefix',
    );
    allow(
      new iam.PolicyStatement({
        sid: 'CreateSyncedSecrets',
        actions: ['secretsmanager:CreateSecret', 'secretsmanager:TagResource'],
        resources: [synced],
        conditions: { StringEquals: { [`aws:RequestTag/${FEED_TAG}`]: FEED } },
      }),
      prefixReason,
    );
    const write = [
      'secretsmanager:DescribeSecret',
      'secretsmanager:PutSecretValue',
      'secretsmanager:UpdateSecretVersionStage',
      'secretsmanager:TagResource',
      'secretsmanager:RestoreSecret',
      ...(config.removed === 'delete' ? ['secretsmanager:DeleteSecret'] : []),
    ];
    allow(
      new iam.PolicyStatement({
        sid: 'WriteSyncedSecrets',
        actions: write,
        resources: [synced],
        conditions: { StringEquals: { [ownTag]: FEED } },
      }),
      prefixReason,
    );
    if (config.replicaRegions.length) {
      // CreateSecret with AddReplicaRegions is also authorized as ReplicateSecretToRegions.
      allow(
        new iam.PolicyStatement({
          sid: 'ReplicateCreatedSecrets',
          actions: ['secretsmanager:ReplicateSecretToRegions'],
          resources: [synced],
          conditions: { StringEquals: { [`aws:RequestTag/${FEED_TAG}`]: FEED } },
        }),
        prefixReason,
      );
    }
    if (props.kmsKey) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'EncryptSyncedSecrets',
          actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [props.kmsKey.keyArn],
          conditions: { StringLike: { 'kms:ViaService': `secretsmanager.${stack.region}.amazonaws.com` } },
        }),
      );
    }
    this.failureTopic.grantPublish(role);
    if (!props.failureTopic) {
      acknowledge(
        this.function,
        'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
        "publishing to the failure topic encrypts with the topic's own key (granted by grantPublish on that key only)",
      );
    }

    // Explicit denies: they hold whatever else is attached to this role.
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DenyOutsideScope',
        effect: iam.Effect.DENY,
        actions: SECRET_ACTIONS,
        notResources: [synced, credential],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DenyReadingValuesButTheCredential',
        effect: iam.Effect.DENY,
        actions: ['secretsmanager:GetSecretValue', 'secretsmanager:BatchGetSecretValue'],
        notResources: [credential],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DenyWritingSecretsItDidNotCreate',
        effect: iam.Effect.DENY,
        actions: [
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
          'secretsmanager:RestoreSecret',
          'secretsmanager:DeleteSecret',
        ],
        resources: ['*'],
        conditions: { StringNotEquals: { [ownTag]: FEED } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DenyCreatingUntagged',
        effect: iam.Effect.DENY,
        actions: ['secretsmanager:CreateSecret'],
        resources: ['*'],
        conditions: { StringNotEquals: { [`aws:RequestTag/${FEED_TAG}`]: FEED } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DenyWhatTheSyncNeverDoes',
        effect: iam.Effect.DENY,
        actions: [
          'secretsmanager:UntagResource',
          'secretsmanager:PutResourcePolicy',
          'secretsmanager:DeleteResourcePolicy',
          'secretsmanager:RotateSecret',
          'secretsmanager:CancelRotateSecret',
          'secretsmanager:UpdateSecret',
          'secretsmanager:RemoveRegionsFromReplication',
          'secretsmanager:StopReplicationToReplica',
          ...(config.removed === 'delete' ? [] : ['secretsmanager:DeleteSecret']),
        ],
        resources: ['*'],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DenyDeletingWithoutRecovery',
        effect: iam.Effect.DENY,
        actions: ['secretsmanager:DeleteSecret'],
        resources: ['*'],
        conditions: { Bool: { 'secretsmanager:ForceDeleteWithoutRecovery': 'true' } },
      }),
    );
  }
}
