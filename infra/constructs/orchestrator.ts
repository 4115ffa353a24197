import { Arn, Aws, Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { type AwsService, stepTimeoutSeconds } from '../../functions/lib/clients.js';
import type { FailoverPlan } from '../../functions/lib/plan.js';
import { sharedPollWaitSeconds } from '../../functions/lib/shared-poll.js';
import { jsonBytes, MAX_UNITS_PER_RUN, STATE_DATA_LIMIT_BYTES } from '../../functions/lib/state-limits.js';
import { buildFailoverDefinition } from '../../statemachine/failover.js';
import {
  connectivityBudgetSeconds,
  HANDLER_ENTRIES,
  POLL_LOOPS,
  STEP_FUNCTIONS,
  type StepFunctionName,
} from '../../statemachine/steps.js';
import { acknowledge, acknowledgePolicyWildcards, acknowledgeWildcards, wildcardFindings } from '../nag.js';
import { stepGrants } from '../permissions/index.js';
import { PropsProblems } from './props.js';
import { RETAINED, stackInstanceId } from './retention.js';
import { StepFunction, type StepFunctionVpcPlacement } from './step-function.js';

export interface OrchestratorProps {
  /** The validated plan; it is baked into the definition, so a console start with `{}` fails it over. */
  readonly plan: FailoverPlan;
  /** The one-at-a-time lock (partition key `planName`). */
  readonly lockTable: dynamodb.ITable;
  /** Where the report step keeps reports (`reports/<plan>/`). */
  readonly reportBucket: s3.IBucket;
  /** Where the report step publishes. */
  readonly reportTopic: sns.ITopic;
  /** The topic's KMS key, when the stack made the topic. @default the topic is not encrypted by this stack */
  readonly reportTopicKey?: kms.IKey;
  /** Topic on which the approval gate announces its task token. @default no approval gate */
  readonly approvalTopic?: sns.ITopic;
  /** Where the verify step (and AttachRotation, which logs in to settle a rotation) runs to reach the databases. @default outside any VPC */
  readonly verifyPlacement?: StepFunctionVpcPlacement;
  /**
   * Longest an execution may run before Step Functions stops it. It is a backstop only: a timed-out execution
   * skips its report and leaves the lock behind, so the definition's own bounds (poll loops, retries) must end a
   * stuck run first.
   * @default sized from the plan: the approval wait (when alarms need approval) plus, for each wave of
   * `maxConcurrency` units, the larger of twice the target RTO and the worst case of the definition's bounded
   * loops plus half an hour.
   */
  readonly timeout?: Duration;
  /** Retention of the state machine's and the functions' logs. @default one year */
  readonly logRetention?: logs.RetentionDays;
  /** Handler file of each step. @default HANDLER_ENTRIES from statemachine/steps.ts */
  readonly handlerEntries?: Readonly<Record<StepFunctionName, string>>;
}

/**
 * The state machine's log level. The levels log these event types
 * (https://docs.aws.amazon.com/step-functions/latest/dg/cloudwatch-log-level.html): ERROR logs failures only, never
 * TaskScheduled (docs/design/execution-logs.md).
 */
export const EXECUTION_LOG_LEVEL = sfn.LogLevel.ERROR;

/** The RDS CA bundle on Lambda's Node.js runtimes, which since Node.js 20 are not loaded unless asked for. */
export const LAMBDA_RUNTIME_CA_BUNDLE = '/var/runtime/ca-cert.pem';

/** Default execution timeout for a plan; see `OrchestratorProps.timeout`. */
export function defaultExecutionTimeout(plan: FailoverPlan): Duration {
  const waves = Math.ceil(plan.units.length / plan.maxConcurrency);
  const loops = Object.values(POLL_LOOPS).reduce(
    (sum, loop) => sum + loop.maxAttempts * loop.maxWaitSeconds,
    0,
  );
  const perWave = Math.max(2 * plan.targetRtoSeconds, loops + connectivityBudgetSeconds(plan) + 1800);
  const approval = plan.approval.onAlarm ? plan.approval.timeoutSeconds : 0;
  return Duration.seconds(approval + waves * perWave);
}

/**
 * Lambda timeout of the verify step. With T = `verify.timeoutSeconds`, DNS gets T/2, connecting T and the queries
 * share one more T (functions/lib/verify/connectivity.ts; a dry run's probes the same, functions/lib/verify/dry-run.ts): 2.5 T at
 * worst, plus the secret and RDS reads within their SDK budgets (docs/design/timeouts.md).
 */
export function verifyFunctionTimeout(plan: FailoverPlan): Duration {
  const longest = Math.max(...plan.units.map((u) => u.verify.timeoutSeconds));
  return Duration.seconds(3 * longest + stepTimeoutSeconds(['secretsManager', 'rds']));
}

/** A step's Lambda timeout: outlasts one hung call to each service it calls (docs/design/timeouts.md). */
const calling = (...services: AwsService[]) => Duration.seconds(stepTimeoutSeconds(services));

/**
 * A step that reads the shared promotion snapshot (functions/lib/shared-poll.ts) may also wait for its lease holder's
 * write, up to two intervals (4.4 s), before its own describe (docs/design/fleet.md, "Polls by instance, not by unit").
 */
const sharingThePoll = () =>
  Duration.seconds(stepTimeoutSeconds(['rds', 'dynamodb']) + Math.ceil(sharedPollWaitSeconds()));

/**
 * The failover itself: one Lambda per step (each with only its own permissions) and the Standard state machine
 * that runs them, named after the plan it fails over.
 */
/** Steps that log in to a database: they run in the verify function's subnets and security group when there is one. */
const DATABASE_STEPS: ReadonlySet<StepFunctionName> = new Set([
  'verifyConnectivity',
  'attachRotation',
  'fenceWrites',
  'checkCatchUp',
]);

export class Orchestrator extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;
  readonly functions: Readonly<Record<StepFunctionName, StepFunction>>;

  constructor(scope: Construct, id: string, props: OrchestratorProps) {
    super(scope, id);
    const { plan } = props;
    const problems = new PropsProblems('Orchestrator');
    // Standard workflows run for up to a year.
    problems.duration('timeout', props.timeout, Duration.minutes(5), Duration.days(365));
    const entries = props.handlerEntries ?? HANDLER_ENTRIES;
    for (const name of STEP_FUNCTIONS) {
      if (!entries[name]) problems.add(`handlerEntries.${name}`, 'is missing');
    }
    const planBytes = jsonBytes({ plan });
    if (plan.units.length > MAX_UNITS_PER_RUN || planBytes > STATE_DATA_LIMIT_BYTES) {
      // The plan is baked into the definition and is its first state's output, within the 256 KiB state limit
      // (functions/lib/state-limits.ts, MAX_UNITS_PER_RUN); the units' outcomes no longer are (they go to S3).
      problems.add(
        'plan.units',
        `has ${plan.units.length} units taking ${planBytes} bytes as the first state's data; one state machine takes at most ${MAX_UNITS_PER_RUN} units within ${STATE_DATA_LIMIT_BYTES} bytes (Step Functions' 256 KiB state limit): split the plan into several plans`,
      );
    }
    if (plan.approval.onAlarm && !props.approvalTopic) {
      problems.add('approvalTopic', 'is required: the plan holds alarm-started failovers for approval');
    }
    problems.check();

    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const environment: Partial<Record<StepFunctionName, Record<string, string>>> = {
      acquireLock: { LOCK_TABLE_NAME: props.lockTable.tableName },
      releaseLock: { LOCK_TABLE_NAME: props.lockTable.tableName },
      // The shared promotion poll's snapshot lives in the lock table (functions/lib/shared-poll.ts).
      // PromoteDatabase reads its replica from the same snapshot (functions/promote-database.ts).
      promoteDatabase: { LOCK_TABLE_NAME: props.lockTable.tableName },
      checkDatabasePromotion: { LOCK_TABLE_NAME: props.lockTable.tableName },
      // The zone's change batch and the shared GetChange (functions/lib/dns/shared.ts).
      updateDns: { LOCK_TABLE_NAME: props.lockTable.tableName },
      checkDnsChange: { LOCK_TABLE_NAME: props.lockTable.tableName },
      report: {
        REPORT_BUCKET_NAME: props.reportBucket.bucketName,
        REPORT_TOPIC_ARN: props.reportTopic.topicArn,
      },
      // Lambda's Node.js 20+ runtimes no longer load the Amazon CA certificates (RDS's among them) by default;
      // this file holds them (https://docs.aws.amazon.com/lambda/latest/dg/lambda-nodejs.html#nodejs-certificate-loading).
      verifyConnectivity: { NODE_EXTRA_CA_CERTS: LAMBDA_RUNTIME_CA_BUNDLE },
      // SettleRotation logs in to the promoted database with TLS, as VerifyConnectivity does.
      attachRotation: { NODE_EXTRA_CA_CERTS: LAMBDA_RUNTIME_CA_BUNDLE },
      // The switchover's steps log in to the primary and the replica with TLS too (functions/lib/switchover/).
      fenceWrites: { NODE_EXTRA_CA_CERTS: LAMBDA_RUNTIME_CA_BUNDLE },
      checkCatchUp: { NODE_EXTRA_CA_CERTS: LAMBDA_RUNTIME_CA_BUNDLE },
    };
    const timeouts: Partial<Record<StepFunctionName, Duration>> = {
      // Every unit's checks run concurrently, each concern within its deadline (45 s, functions/lib/preflight.ts),
      // but a 500-unit plan under throttling takes a while.
      preflight: Duration.minutes(2),
      // Each step outlasts one call that never answers per service it calls (functions/lib/clients.ts): a hang
      // is then a TransientAwsError the state machine retries, not a Lambda timeout it does not.
      // The holder check reads (and for a drill, stops) the holder's execution: docs/design/lock.md.
      // LoadPlan writes the run's units for the units Map (functions/lib/run-objects.ts).
      loadPlan: calling('s3'),
      acquireLock: calling('dynamodb', 'sfn'),
      releaseLock: calling('dynamodb'),
      promoteSecret: calling('secretsManager'),
      promoteDatabase: sharingThePoll(),
      checkDatabasePromotion: sharingThePoll(),
      updateDns: calling('rds', 'route53', 'dynamodb'),
      checkDnsChange: calling('route53', 'dynamodb'),
      // Two logins of SettleRotation (an interrupted rotation's pending and current credentials), each within the
      // verify step's bound, beside its Secrets Manager, RDS and Lambda calls.
      attachRotation: Duration.seconds(
        stepTimeoutSeconds(['secretsManager', 'lambda', 'rds']) + 2 * verifyFunctionTimeout(plan).toSeconds(),
      ),
      // A failed delivery does not stop the others: CloudWatch, then S3, then SNS.
      report: calling('cloudwatch', 's3', 'sns'),
      verifyConnectivity: verifyFunctionTimeout(plan),
      // Several reads and creates in two Regions; the SDK retries each throttled call.
      prepareDrill: calling('rds', 'secretsManager', 'route53'),
      checkDrillCopies: calling('rds', 'secretsManager'),
      cleanUpDrill: calling('rds', 'secretsManager', 'route53'),
      // Reads and changes in two Regions (the current one and the old one), and CloudWatch for the replica's lag.
      reprotectUnit: calling('rds', 'secretsManager', 'cloudwatch'),
      // One login (the verify step's bound) beside the secret and endpoint reads; the fence waits up to 10 s for ended
      // sessions to go (functions/lib/switchover/engines.ts).
      fenceWrites: Duration.seconds(
        stepTimeoutSeconds(['secretsManager', 'rds']) + verifyFunctionTimeout(plan).toSeconds() + 10,
      ),
      checkCatchUp: Duration.seconds(
        stepTimeoutSeconds(['secretsManager', 'rds']) + verifyFunctionTimeout(plan).toSeconds(),
      ),
    };

    const functions = {} as Record<StepFunctionName, StepFunction>;
    for (const name of STEP_FUNCTIONS) {
      functions[name] = new StepFunction(this, pascal(name), {
        entry: entries[name],
        description: `lifeboat ${plan.name}: ${name} step`,
        logRetention,
        ...(environment[name] ? { environment: environment[name] } : {}),
        ...(timeouts[name] ? { timeout: timeouts[name] } : {}),
        // AttachRotation reaches the database too (SettleRotation): same subnets and security group as verify.
        // The switchover's steps (and a switchover's preflight) reach the primary too: docs/design/switchover.md.
        ...(DATABASE_STEPS.has(name) && props.verifyPlacement ? { vpcPlacement: props.verifyPlacement } : {}),
      });
    }
    this.functions = functions;

    const grants = stepGrants(plan, {
      lockTableArn: props.lockTable.tableArn,
      reportBucketArn: props.reportBucket.bucketArn,
      reportTopicArn: props.reportTopic.topicArn,
      ...(props.reportTopicKey ? { reportTopicKeyArn: props.reportTopicKey.keyArn } : {}),
    });
    for (const name of STEP_FUNCTIONS) {
      const fn = functions[name];
      for (const grant of grants[name]) {
        fn.role.addToPolicy(grant.statement);
        if (grant.wildcardReason) acknowledgeWildcards(fn, grant.statement, grant.wildcardReason);
        else if (wildcardFindings(fn, grant.statement).length) {
          throw new Error(`${name}: statement ${grant.statement.sid} has a wildcard and no reason for it`);
        }
      }
    }

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      // The vendedlogs prefix keeps the CloudWatch Logs resource policy small
      // (https://docs.aws.amazon.com/step-functions/latest/dg/bp-cwl.html). The group outlives its stack, so its
      // name ends in the stack's own id: the next stack (after a destroy or a failed first deploy) makes its own
      // group instead of failing on "already exists" (docs/aws/cloudformation-retained-names.md).
      logGroupName: `/aws/vendedlogs/states/lifeboat-${plan.name}-${stackInstanceId()}`,
      retention: logRetention,
      removalPolicy: RETAINED,
    });

    const lambdas = {} as Record<StepFunctionName, lambda.IFunction>;
    for (const name of STEP_FUNCTIONS) lambdas[name] = functions[name].function;
    const definition = buildFailoverDefinition(this, {
      plan,
      functions: lambdas,
      runBucket: props.reportBucket,
      ...(props.approvalTopic ? { approvalTopic: props.approvalTopic } : {}),
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: `lifeboat-${plan.name}`,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: props.timeout ?? defaultExecutionTimeout(plan),
      tracingEnabled: true,
      logs: {
        destination: this.logGroup,
        // ERROR, not ALL: only ALL logs TaskScheduled, whose parameters carry the approval gate's task token, and
        // a token in a log group is an approval anyone who reads the logs can send. The failure events keep their
        // data (state data holds identifiers, statuses and timings, never secret material); a run's full path is
        // in its execution history and its report (docs/design/execution-logs.md).
        level: EXECUTION_LOG_LEVEL,
        includeExecutionData: true,
      },
      comment: `Fails over plan ${plan.name} from ${plan.primaryRegion} to ${plan.recoveryRegion}`,
    });

    if (props.approvalTopic && props.reportTopicKey && props.approvalTopic === props.reportTopic) {
      // The approval gate publishes its task token to the encrypted topic.
      this.stateMachine.addToRolePolicy(
        new iam.PolicyStatement({
          sid: 'EncryptApprovalRequests',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [props.reportTopicKey.keyArn],
        }),
      );
    }
    this.acknowledgeStateMachineWildcards(lambdas);
    this.acknowledgeUnitsReader(props.reportBucket);
    this.acknowledgeDistributedMapPolicy();
    acknowledge(
      this.stateMachine,
      'AwsSolutions-SF1',
      "the ALL level logs TaskScheduled, whose parameters hold the approval gate's task token: ERROR logs every failure with its data, and each run's full event history stays in Step Functions and its report in S3 (docs/design/execution-logs.md)",
    );
  }

  /**
   * The Distributed Map runs each unit as a child execution of this state machine: CDK grants the role
   * StartExecution on the state machine itself, Describe/StopExecution on its executions and RedriveExecution on the
   * units' Map Run (aws-stepfunctions StateGraph.bind; "IAM policies for using Distributed Map states", Step Functions
   * Developer Guide). Execution names are made at run time, so the execution ARNs end in `*`.
   */
  private acknowledgeDistributedMapPolicy(): void {
    const policy = this.stateMachine.node.tryFindChild('DistributedMapPolicy');
    if (!(policy instanceof iam.Policy)) {
      throw new Error('the units Map is a Distributed Map: expected CDK to grant its DistributedMapPolicy');
    }
    acknowledgePolicyWildcards(
      policy,
      "a Distributed Map's child executions get their names at run time; the grant is held to this state machine's own executions (execution:<name>:*) and its units Map Run",
    );
  }

  /**
   * The units Map's ItemReader reads the run's units.json, whose key holds the run id and is known only at run time:
   * CDK's S3JsonItemReader grants s3:GetObject on every object of the bucket (aws-stepfunctions S3FileItemReader
   * providePolicyStatements), the same statement rebuilt here so that cdk-nag's finding is named exactly.
   */
  private acknowledgeUnitsReader(bucket: s3.IBucket): void {
    acknowledgeWildcards(
      this.stateMachine,
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [
          Arn.format({
            region: '',
            account: '',
            partition: Aws.PARTITION,
            service: 's3',
            resource: bucket.bucketName,
            resourceName: '*',
          }),
        ],
      }),
      "the units Map's ItemReader reads runs/<plan>/<run id>/units.json, a key made at run time, from lifeboat's own report bucket; CDK's S3JsonItemReader grants GetObject on that bucket's objects",
    );
  }

  private acknowledgeStateMachineWildcards(lambdas: Record<StepFunctionName, lambda.IFunction>): void {
    for (const fn of Object.values(lambdas)) {
      acknowledgeWildcards(
        this.stateMachine,
        new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [`${fn.functionArn}:*`] }),
        "CDK's LambdaInvoke grant covers the step function's versions and aliases (`:*`); it names one function",
      );
    }
    acknowledge(
      this.stateMachine,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray trace segments and CloudWatch Logs log delivery (logs:CreateLogDelivery and friends) support no resource-level permissions',
    );
  }
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
