import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  cdkPattern,
  cloudTrailPattern,
  labelUpdatedPattern,
} from '../../functions/lib/secret-feeds/event.js';
import { FAILURE_METRIC } from '../../functions/lib/secret-feeds/replicator.js';
import {
  parseReplicatorConfig,
  type ReplicationSource,
  type ReplicatorConfig,
  secretArnParts,
  targetAccount,
} from '../../functions/lib/secret-feeds/targets.js';
import { acknowledge } from '../nag.js';
import { RETAINED } from './retention.js';
import { StepFunction } from './step-function.js';

export const REPLICATOR_ENTRY = 'functions/replicate-secret.ts';
/** The replicator's function description ends with this; the proving ground finds its bundle by it. */
export const REPLICATOR_DESCRIPTION_SUFFIX = ': replicateSecret handler';

export interface SecretReplicatorProps {
  /** Names this replicator (the metric's dimension, descriptions). Letters, digits, hyphens. */
  readonly name: string;
  /**
   * Source secrets (full ARNs, in this stack's Region and account) and their targets
   * (functions/lib/secret-feeds/targets.ts, `SourceSchema`). Validated here: every problem in one error.
   */
  readonly sources: readonly ReplicationSource[];
  /** Topic that hears of every target that could not be updated. @default none (the metric and its alarm only) */
  readonly failureTopic?: sns.ITopic;
  /** @default "lifeboat/SecretFeeds" */
  readonly metricNamespace?: string;
  /** @default one year */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The event-driven replicator (docs/design/secret-feeds.md, "Replicator"): two EventBridge rules on Secrets Manager's
 * events for the source secrets (CloudTrail's PutSecretValue, UpdateSecret, UpdateSecretVersionStage and
 * RotationSucceeded; the native Secret Label Updated), one function that runs one at a time, a dead-letter queue for
 * events the rules could not deliver and invocations that failed after Lambda's retries, and an alarm on the failure
 * metric. The role reads the sources only, writes the targets only, and assumes only the targets' roles.
 */
export class SecretReplicator extends Construct {
  readonly function: StepFunction;
  readonly rules: readonly events.Rule[];
  readonly deadLetterQueue: sqs.Queue;
  readonly failureAlarm: cloudwatch.Alarm;
  readonly config: ReplicatorConfig;

  constructor(scope: Construct, id: string, props: SecretReplicatorProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const problems: string[] = [];
    if (!/^[A-Za-z][A-Za-z0-9-]{0,39}$/.test(props.name ?? '')) {
      problems.push('name: expected letters, digits and hyphens, starting with a letter');
    }
    let config: ReplicatorConfig | undefined;
    try {
      config = parseReplicatorConfig(
        {
          name: props.name,
          sources: props.sources,
          ...(props.failureTopic ? { failureTopicArn: props.failureTopic.topicArn } : {}),
          ...(props.metricNamespace ? { metricNamespace: props.metricNamespace } : {}),
        },
        'SecretReplicator props',
      );
    } catch (error) {
      problems.push(...(error as Error).message.split('\n  - ').slice(1));
    }
    for (const [i, s] of (props.sources ?? []).entries()) {
      const parts = secretArnParts(s.secretArn);
      if (parts && !Token.isUnresolved(stack.region) && parts.region !== stack.region) {
        problems.push(
          `sources[${i}].secretArn: must be in this stack's Region ${stack.region} (the rules see its events there), not ${parts.region}`,
        );
      }
    }
    if (problems.length || !config) {
      throw new TypeError(`SecretReplicator props are invalid:\n  - ${problems.join('\n  - ')}`);
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
      'this queue is itself the dead-letter queue of the replicator rules and function',
    );

    this.function = new StepFunction(this, 'Function', {
      entry: REPLICATOR_ENTRY,
      description: `lifeboat ${props.name}${REPLICATOR_DESCRIPTION_SUFFIX}`,
      timeout: Duration.minutes(2),
      environment: { REPLICATOR_CONFIG: JSON.stringify(config) },
      serviceName: 'lifeboat-replicator',
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });
    const fn = this.function.function;
    // One at a time: two deliveries never race to set AWSCURRENT on a target (functions/lib/secret-feeds/replicator.ts).
    (fn.node.defaultChild as { reservedConcurrentExecutions?: number }).reservedConcurrentExecutions = 1;
    fn.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });
    this.grant(config, props);

    const sourceArns = config.sources.map((s) => s.secretArn);
    const target = new targets.LambdaFunction(fn, {
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 20,
      maxEventAge: Duration.hours(24),
    });
    const cloudTrail = new events.Rule(this, 'CloudTrailRule', {
      description: `lifeboat ${props.name}: a source secret's value may have changed (CloudTrail)`,
      eventPattern: cdkPattern(cloudTrailPattern()) as events.EventPattern,
    });
    const native = new events.Rule(this, 'LabelRule', {
      description: `lifeboat ${props.name}: AWSCURRENT moved on a source secret`,
      eventPattern: cdkPattern(labelUpdatedPattern(sourceArns)) as events.EventPattern,
    });
    cloudTrail.addTarget(target);
    native.addTarget(target);
    this.rules = [cloudTrail, native];

    this.failureAlarm = new cloudwatch.Alarm(this, 'FailureAlarm', {
      alarmDescription: `lifeboat ${props.name}: a replicator target was not updated`,
      metric: new cloudwatch.Metric({
        namespace: config.metricNamespace,
        metricName: FAILURE_METRIC,
        dimensionsMap: { Replicator: props.name },
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /** Read the sources; write and tag the same-account targets; assume the other accounts' roles; publish; put the metric. */
  private grant(config: ReplicatorConfig, props: SecretReplicatorProps): void {
    const role = this.function.role;
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadSources',
        actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        resources: config.sources.map((s) => s.secretArn),
      }),
    );
    const localTargets: string[] = [];
    const roles = new Set<string>();
    const keys = new Set<string>();
    for (const s of config.sources) {
      const parts = secretArnParts(s.secretArn);
      for (const t of s.targets) {
        if (t.roleArn) {
          roles.add(t.roleArn);
          continue;
        }
        // A target's ARN ends in a random suffix Secrets Manager picks when it creates it: name-??????.
        localTargets.push(
          `arn:${parts?.partition ?? 'aws'}:secretsmanager:${t.region}:${targetAccount(t, parts?.account ?? Stack.of(this).account)}:secret:${t.secretName}-??????`,
        );
        keys.add(t.kmsKeyArn);
      }
    }
    if (localTargets.length) {
      const write = new iam.PolicyStatement({
        sid: 'WriteTargets',
        actions: [
          'secretsmanager:DescribeSecret',
          'secretsmanager:PutSecretValue',
          'secretsmanager:CreateSecret',
          'secretsmanager:UpdateSecretVersionStage',
          'secretsmanager:TagResource',
        ],
        resources: localTargets,
      });
      role.addToPolicy(write);
      acknowledge(
        this.function,
        `AwsSolutions-IAM5[Resource::${localTargets[0]}]`,
        'a target secret ARN ends in six random characters chosen when it is created: the name is fixed, the suffix is ??????',
      );
      for (const arn of localTargets.slice(1)) {
        acknowledge(
          this.function,
          `AwsSolutions-IAM5[Resource::${arn}]`,
          'a target secret ARN ends in six random characters chosen when it is created: the name is fixed, the suffix is ??????',
        );
      }
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'EncryptTargets',
          actions: ['kms:Encrypt', 'kms:GenerateDataKey'],
          resources: [...keys],
          conditions: { StringLike: { 'kms:ViaService': 'secretsmanager.*.amazonaws.com' } },
        }),
      );
    }
    if (roles.size) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'AssumeTargetRoles',
          actions: ['sts:AssumeRole'],
          resources: [...roles],
        }),
      );
    }
    if (props.failureTopic) props.failureTopic.grantPublish(role);
    const metric = new iam.PolicyStatement({
      sid: 'PutFailureMetric',
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      conditions: { StringEquals: { 'cloudwatch:namespace': config.metricNamespace } },
    });
    role.addToPolicy(metric);
    // Resource '*': PutMetricData has no resource; StepFunction acknowledges Resource::* on this function already (X-Ray).
  }
}
