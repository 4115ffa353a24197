import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  ENDED_RUN_STATUSES,
  STATUS_CHANGE_DETAIL_TYPE,
  STATUS_CHANGE_SOURCE,
} from '../../functions/lib/ended-run.js';
import { lockLifetimeSeconds } from '../../functions/lib/lock.js';
import type { FailoverPlan } from '../../functions/lib/plan.js';
import { acknowledge, acknowledgeWildcards, wildcardFindings } from '../nag.js';
import { stepGrants } from '../permissions/index.js';
import { PropsProblems } from './props.js';
import { StepFunction } from './step-function.js';

/** The closer's function description ends with this; the local runner finds its bundle by it. */
export const CLOSER_DESCRIPTION_SUFFIX = ': closeEndedRun handler';
export const CLOSER_ENTRY = 'functions/close-ended-run.ts';

/** The rule's pattern: this state machine's executions that ended without succeeding (docs/aws/step-functions-execution-events.md). */
export function endedRunPattern(stateMachineArn: string): events.EventPattern {
  return {
    source: [STATUS_CHANGE_SOURCE],
    detailType: [STATUS_CHANGE_DETAIL_TYPE],
    detail: { status: [...ENDED_RUN_STATUSES], stateMachineArn: [stateMachineArn] },
  };
}

/** `lifeboat-<plan>`'s ARN, and the pattern of its own executions (not its Map Run children: `lifeboat-<plan>/units`). */
export function stateMachineArns(scope: Construct, plan: Pick<FailoverPlan, 'name'>) {
  const stack = Stack.of(scope);
  const name = `lifeboat-${plan.name}`;
  return {
    stateMachine: `arn:${stack.partition}:states:${stack.region}:${stack.account}:stateMachine:${name}`,
    executions: `arn:${stack.partition}:states:${stack.region}:${stack.account}:execution:${name}:*`,
  };
}

export interface LockRecoveryProps {
  readonly plan: FailoverPlan;
  readonly stateMachine: sfn.IStateMachine;
  /** How long Step Functions lets an execution run (the state machine's timeout). */
  readonly executionTimeout: Duration;
  /** The AcquireLock step's function: it checks (and for a drill, stops) the holder's execution. */
  readonly acquireLock: StepFunction;
  readonly lockTable: dynamodb.ITable;
  readonly reportBucket: s3.IBucket;
  readonly reportTopic: sns.ITopic;
  readonly reportTopicKey?: kms.IKey;
  readonly logRetention?: logs.RetentionDays;
}

/**
 * What keeps the one-at-a-time lock from blocking when a run ends without its Catch (docs/design/lock.md):
 *
 * - AcquireLock may read the holder's execution (DescribeExecution) and stop a drill's (StopExecution), on this state
 *   machine's executions only; its lock lives as long as an execution may run, and an hour more;
 * - an EventBridge rule on this state machine's TIMED_OUT, ABORTED and FAILED executions invokes the ended-run
 *   handler (functions/close-ended-run.ts), which writes the report, deletes a stopped drill's copies and releases
 *   the lock if the ended execution still holds it. Events the rule cannot deliver, and invocations that fail after
 *   Lambda's retries, land in `failures`.
 */
export class LockRecovery extends Construct {
  readonly rule: events.Rule;
  readonly closer: StepFunction;
  readonly failures: sqs.Queue;

  constructor(scope: Construct, id: string, props: LockRecoveryProps) {
    super(scope, id);
    const problems = new PropsProblems('LockRecovery');
    problems.duration('executionTimeout', props.executionTimeout, Duration.minutes(5), Duration.days(365));
    problems.check();
    const { plan } = props;
    const arns = stateMachineArns(this, plan);

    // The holder check of AcquireLock, and the lock's lifetime.
    props.acquireLock.function.addEnvironment(
      'LOCK_LIFETIME_SECONDS',
      String(lockLifetimeSeconds(props.executionTimeout.toSeconds())),
    );
    const checkHolder = new iam.PolicyStatement({
      sid: 'CheckLockHolder',
      actions: ['states:DescribeExecution', 'states:StopExecution'],
      resources: [arns.executions],
    });
    props.acquireLock.role.addToPolicy(checkHolder);
    const executionsReason =
      "execution names are made at run time; the grant is held to this state machine's own executions (execution:lifeboat-<plan>:*)";
    acknowledgeWildcards(props.acquireLock.role, checkHolder, executionsReason);

    this.failures = new sqs.Queue(this, 'Failures', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    acknowledge(
      this.failures,
      'AwsSolutions-SQS3',
      'this queue is itself the dead-letter queue of the ended-run rule target and of the handler',
    );

    this.closer = new StepFunction(this, 'Closer', {
      entry: CLOSER_ENTRY,
      description: `lifeboat ${plan.name}${CLOSER_DESCRIPTION_SUFFIX}`,
      // Cleanup passes of a stopped drill wait for busy copies (functions/lib/ended-run.ts).
      timeout: Duration.minutes(15),
      environment: {
        STATE_MACHINE_ARN: arns.stateMachine,
        LOCK_TABLE_NAME: props.lockTable.tableName,
        REPORT_BUCKET_NAME: props.reportBucket.bucketName,
        REPORT_TOPIC_ARN: props.reportTopic.topicArn,
      },
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });
    const role = this.closer.role;
    const readRuns = new iam.PolicyStatement({
      sid: 'ReadEndedRuns',
      actions: ['states:DescribeExecution', 'states:GetExecutionHistory'],
      resources: [arns.executions],
    });
    role.addToPolicy(readRuns);
    acknowledgeWildcards(this.closer, readRuns, executionsReason);
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReleaseEndedRunLock',
        actions: ['dynamodb:DeleteItem'],
        resources: [props.lockTable.tableArn],
        conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [plan.name] } },
      }),
    );
    // The report step's and the drill cleanup's own grants: the same calls on the same resources.
    const grants = stepGrants(plan, {
      lockTableArn: props.lockTable.tableArn,
      reportBucketArn: props.reportBucket.bucketArn,
      reportTopicArn: props.reportTopic.topicArn,
      ...(props.reportTopicKey ? { reportTopicKeyArn: props.reportTopicKey.keyArn } : {}),
    });
    // And the run's units, which LoadPlan wrote to the report bucket (functions/lib/ended-run.ts, readRunObjects).
    const readUnits = grants.preflight.filter((g) => g.statement.sid === 'ReadRunUnits');
    for (const grant of [...grants.report, ...grants.cleanUpDrill, ...readUnits]) {
      role.addToPolicy(grant.statement);
      if (grant.wildcardReason) acknowledgeWildcards(this.closer, grant.statement, grant.wildcardReason);
      else if (wildcardFindings(this.closer, grant.statement).length) {
        throw new Error(`closer: statement ${grant.statement.sid} has a wildcard and no reason for it`);
      }
    }
    // EventBridge invokes asynchronously: Lambda retries a failed invocation twice, then sends it here.
    this.closer.function.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new destinations.SqsDestination(this.failures),
    });

    this.rule = new events.Rule(this, 'EndedRunRule', {
      description: `lifeboat ${plan.name}: an execution timed out, was stopped or failed; report it and free its lock`,
      eventPattern: endedRunPattern(props.stateMachine.stateMachineArn),
    });
    this.rule.addTarget(
      new targets.LambdaFunction(this.closer.function, {
        deadLetterQueue: this.failures,
        retryAttempts: 20,
        maxEventAge: Duration.hours(24),
      }),
    );
  }
}
