import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { FailoverPlan } from '../../functions/lib/plan.js';
import { READINESS_NAMESPACE, READY_METRIC, readinessKey } from '../../functions/lib/readiness/evaluate.js';
import { READINESS_ENV } from '../../functions/lib/readiness/run.js';
import {
  READINESS_OFF,
  rateSeconds,
  readinessScheduleProblem,
} from '../../functions/lib/readiness/schedule.js';
import { acknowledgeWildcards, wildcardFindings } from '../nag.js';
import { stepGrants } from '../permissions/index.js';
import { stateMachineArns } from './lock-recovery.js';
import { PropsProblems } from './props.js';
import { StepFunction } from './step-function.js';

/** The readiness function's description ends with this; the local runner finds its bundle by it. */
export const READINESS_DESCRIPTION_SUFFIX = ': readiness evaluation';
export const READINESS_ENTRY = 'functions/evaluate-readiness.ts';

export interface ReadinessProps {
  readonly plan: FailoverPlan;
  readonly reportBucket: s3.Bucket;
  /** The readiness alarm notifies this topic (ALARM and back to OK). */
  readonly topic: sns.ITopic;
  readonly topicKey?: kms.IKey;
  /** Every function to keep active, by name (the step functions, the ended-run handler). */
  readonly warmTargets: Readonly<Record<string, lambda.IFunction>>;
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Continuous readiness (docs/design/readiness.md): an EventBridge Scheduler schedule (the plan's `readiness.schedule`,
 * default every 5 minutes) invokes the readiness function, which runs the failover's read-only preflight for every
 * unit, publishes `Lifeboat/Ready` per plan, unit and check (and the replica lag and the secret's replication status),
 * writes the evaluation to `reports/<plan>/readiness/latest.json` and pings every function so that none goes Inactive.
 * An alarm on the plan's `Ready` goes off after `readiness.alarmAfterFailedEvaluations` evaluations in a row that found
 * it not ready, or did not run.
 */
export class Readiness extends Construct {
  readonly evaluator: StepFunction;
  readonly schedule: scheduler.Schedule;
  readonly alarm: cloudwatch.Alarm;
  /** The plan-level `Ready` metric the alarm watches. */
  readonly readyMetric: cloudwatch.Metric;

  constructor(scope: Construct, id: string, props: ReadinessProps) {
    super(scope, id);
    const { plan } = props;
    const { schedule: expression, alarmAfterFailedEvaluations } = plan.readiness;
    const problems = new PropsProblems('Readiness');
    if (expression === READINESS_OFF)
      problems.add('plan.readiness.schedule', 'is "off": make no Readiness construct');
    else {
      const problem = readinessScheduleProblem(expression);
      if (problem) problems.add('plan.readiness.schedule', problem);
    }
    problems.check();
    const periodSeconds = rateSeconds(expression);
    const arns = stateMachineArns(this, plan);
    const targets = Object.entries(props.warmTargets);

    this.evaluator = new StepFunction(this, 'Evaluator', {
      entry: READINESS_ENTRY,
      description: `lifeboat ${plan.name}${READINESS_DESCRIPTION_SUFFIX}`,
      // Units are evaluated 10 at a time, each concern within preflight's 45 s deadline (functions/lib/preflight.ts).
      timeout: Duration.minutes(5),
      environment: {
        [READINESS_ENV.stateMachineArn]: arns.stateMachine,
        [READINESS_ENV.reportBucket]: props.reportBucket.bucketName,
        [READINESS_ENV.warmTargets]: targets.map(([name, fn]) => `${name}=${fn.functionName}`).join(','),
      },
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });
    const role = this.evaluator.role;
    const grant = (statement: iam.PolicyStatement, wildcardReason?: string) => {
      role.addToPolicy(statement);
      if (wildcardReason) acknowledgeWildcards(this.evaluator, statement, wildcardReason);
      else if (wildcardFindings(this.evaluator, statement).length) {
        throw new Error(`readiness: statement ${statement.sid} has a wildcard and no reason for it`);
      }
    };
    // The preflight step's own grants: the same read-only calls on the same resources.
    const preflight = stepGrants(plan, {
      lockTableArn: '',
      reportBucketArn: props.reportBucket.bucketArn,
      reportTopicArn: props.topic.topicArn,
      ...(props.topicKey ? { reportTopicKeyArn: props.topicKey.keyArn } : {}),
    }).preflight;
    for (const g of preflight) grant(g.statement, g.wildcardReason);
    grant(
      new iam.PolicyStatement({
        sid: 'ReadDeployedPlan',
        actions: ['states:DescribeStateMachine'],
        resources: [arns.stateMachine],
      }),
    );
    grant(
      new iam.PolicyStatement({
        sid: 'WriteReadiness',
        actions: ['s3:PutObject'],
        resources: [props.reportBucket.arnForObjects(readinessKey(plan.name))],
      }),
    );
    grant(
      new iam.PolicyStatement({
        sid: 'PublishReadiness',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html
        conditions: { StringEquals: { 'cloudwatch:namespace': READINESS_NAMESPACE } },
      }),
      `cloudwatch:PutMetricData supports no resource-level permissions; the grant is held to the ${READINESS_NAMESPACE} namespace`,
    );
    if (targets.length) {
      // Exactly the functions to keep active, unqualified: the ping invokes $LATEST.
      grant(
        new iam.PolicyStatement({
          sid: 'KeepFunctionsActive',
          actions: ['lambda:InvokeFunction'],
          resources: targets.map(([, fn]) => fn.functionArn),
        }),
      );
    }
    // One object rewritten every few minutes: keep its old versions a day, not the bucket's year.
    props.reportBucket.addLifecycleRule({
      id: 'ReadinessHistory',
      prefix: readinessKey(plan.name),
      noncurrentVersionExpiration: Duration.days(1),
    });

    // The schedule's own role: Scheduler may invoke the readiness function, in this account only.
    const schedulerRole = new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: `lifeboat ${plan.name}: the readiness schedule invokes the readiness function`,
    });
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: `lifeboat ${plan.name}: readiness evaluation (read-only)`,
      schedule: scheduler.ScheduleExpression.expression(expression),
      target: new schedulerTargets.LambdaInvoke(this.evaluator.function, {
        role: schedulerRole,
        // The next evaluation comes soon: a late or failed one is not retried (the alarm counts it as not ready).
        retryAttempts: 0,
        maxEventAge: Duration.seconds(Math.max(60, Math.min(periodSeconds, 86_400))),
      }),
    });
    acknowledgeWildcards(
      schedulerRole,
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [`${this.evaluator.function.functionArn}:*`],
      }),
      "CDK's Scheduler Lambda target grants lambda:InvokeFunction on the readiness function and its versions (`:*`); it names one function",
    );

    this.readyMetric = new cloudwatch.Metric({
      namespace: READINESS_NAMESPACE,
      metricName: READY_METRIC,
      dimensionsMap: { Plan: plan.name },
      statistic: 'Minimum',
      period: Duration.seconds(periodSeconds),
    });
    this.alarm = new cloudwatch.Alarm(this, 'NotReady', {
      alarmName: `lifeboat-${plan.name}-NotReady`,
      alarmDescription: `Plan ${plan.name} was not ready for a failover in ${alarmAfterFailedEvaluations} readiness evaluation(s) in a row (or they did not run): lifeboat status shows which unit and check`,
      metric: this.readyMetric,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: alarmAfterFailedEvaluations,
      datapointsToAlarm: alarmAfterFailedEvaluations,
      // An evaluation that did not run (the function failed, or was not invoked) is not a sign of readiness.
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    const notify = new actions.SnsAction(props.topic);
    this.alarm.addAlarmAction(notify);
    this.alarm.addOkAction(notify);
  }
}
