import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { type FailoverPlan, partitionOf, type UnitPlan } from '../../functions/lib/plan.js';
import { instanceDatabase, isAuroraUnit } from '../../functions/lib/plan-names.js';
import {
  READINESS_NAMESPACE,
  READY_METRIC,
  REPLICA_LAG_METRIC,
} from '../../functions/lib/readiness/evaluate.js';
import { METRIC_NAMESPACE, RECOVERY_TIME_METRIC, RUN_METRIC_UNIT } from '../../functions/lib/report/index.js';
import { PropsProblems } from './props.js';

export interface ObservabilityProps {
  readonly plan: FailoverPlan;
  readonly stateMachine: sfn.StateMachine;
  /** Every alarm notifies this topic. */
  readonly topic: sns.ITopic;
  /** The step functions, for the errors widget. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** Alarm/schedule events that could not start an execution. @default none */
  readonly startFailures?: sqs.IQueue;
  /** Period of the execution alarms. @default 1 minute */
  readonly period?: Duration;
  /** Continuous readiness (infra/constructs/readiness.ts): its alarm, and how often it evaluates. @default readiness off */
  readonly readiness?: { readonly alarm: cloudwatch.IAlarm; readonly period: Duration };
  /** The S3 console page of the latest report, for the dashboard's links. @default no link */
  readonly latestReportUrl?: string;
}

/** Units per ReplicaLag graph: more lines than this on one graph cannot be read. */
const UNITS_PER_GRAPH = 25;

/** The state machine's page in the Step Functions console: its executions, newest first, each a link. */
export function executionsConsoleUrl(region: string, stateMachineArn: string): string {
  const partition = partitionOf(region);
  const host =
    partition === 'aws-cn'
      ? 'console.amazonaws.cn'
      : partition === 'aws-us-gov'
        ? 'console.amazonaws-us-gov.com'
        : 'console.aws.amazon.com';
  return `https://${region}.${host}/states/home?region=${region}#/statemachines/view/${stateMachineArn}`;
}

/**
 * Alarms on failed, timed-out, aborted and throttled executions (AWS Solutions Constructs' defaults for a state
 * machine) to the topic, and a dashboard: the executions, their duration against the target RTO, and each unit's
 * readiness — the read replica's ReplicaLag in the recovery Region against the plan's limit.
 */
export class Observability extends Construct {
  readonly alarms: Readonly<Record<string, cloudwatch.Alarm>>;
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const problems = new PropsProblems('Observability');
    problems.duration('period', props.period, Duration.minutes(1), Duration.days(1));
    problems.check();

    const { plan, stateMachine } = props;
    const period = props.period ?? Duration.minutes(1);
    const notify = new actions.SnsAction(props.topic);
    const alarm = (name: string, metric: cloudwatch.Metric, description: string) => {
      const created = new cloudwatch.Alarm(this, name, {
        alarmName: `lifeboat-${plan.name}-${name}`,
        alarmDescription: description,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(notify);
      return created;
    };
    const alarms: Record<string, cloudwatch.Alarm> = {
      ExecutionsFailed: alarm(
        'ExecutionsFailed',
        stateMachine.metricFailed({ period, statistic: 'Sum' }),
        `A failover of plan ${plan.name} failed: read its report and the execution's event history`,
      ),
      ExecutionsTimedOut: alarm(
        'ExecutionsTimedOut',
        stateMachine.metricTimedOut({ period, statistic: 'Sum' }),
        `A failover of plan ${plan.name} ran past the state machine's timeout`,
      ),
      ExecutionsAborted: alarm(
        'ExecutionsAborted',
        stateMachine.metricAborted({ period, statistic: 'Sum' }),
        `A failover of plan ${plan.name} was stopped before it finished`,
      ),
      ExecutionThrottled: alarm(
        'ExecutionThrottled',
        stateMachine.metricThrottled({ period, statistic: 'Sum' }),
        `Step Functions throttled the state machine of plan ${plan.name}`,
      ),
    };
    if (props.startFailures) {
      alarms.StartFailed = alarm(
        'StartFailed',
        props.startFailures.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
        `An alarm or schedule could not start the state machine of plan ${plan.name}: see the dead-letter queue`,
      );
    }
    this.alarms = alarms;

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `lifeboat-${plan.name}`,
      defaultInterval: Duration.days(7),
    });
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: [
          `# lifeboat ${plan.name}`,
          `Fails over ${plan.units.length} unit(s) from **${plan.primaryRegion}** to **${plan.recoveryRegion}**; target RTO ${plan.targetRtoSeconds} s.`,
        ].join('\n\n'),
        width: 24,
        height: 2,
      }),
    );
    // The last runs: CloudWatch has no widget that lists executions without a custom Lambda, so links to the console's
    // lists (newest first), the latest report, and the commands that show them in a terminal.
    const region = plan.recoveryRegion;
    const runs = executionsConsoleUrl(region, stateMachine.stateMachineArn);
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: [
          '## Last runs',
          `[Executions of lifeboat-${plan.name}, newest first](${runs}): each opens its graph, events and report`,
          ...(props.latestReportUrl
            ? [`[Latest report (reports/${plan.name}/latest.json)](${props.latestReportUrl})`]
            : []),
          '`lifeboat status` shows readiness, the last drill and failover and the lock; `lifeboat approve <execution>` releases a run that waits for approval.',
        ].join('\n\n'),
        width: 12,
        height: 4,
      }),
      new cloudwatch.GraphWidget({
        title: 'Drill recovery time against the target RTO (s)',
        width: 12,
        height: 4,
        left: [
          new cloudwatch.Metric({
            namespace: METRIC_NAMESPACE,
            metricName: RECOVERY_TIME_METRIC,
            dimensionsMap: { Plan: plan.name, Unit: RUN_METRIC_UNIT, Mode: 'drill' },
            statistic: 'Maximum',
            period: Duration.days(1),
            label: 'drill recovery time',
          }),
        ],
        leftAnnotations: [{ value: plan.targetRtoSeconds, label: 'target RTO' }],
        leftYAxis: { min: 0 },
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Executions',
        width: 12,
        left: [
          stateMachine.metricStarted({ statistic: 'Sum' }),
          stateMachine.metricSucceeded({ statistic: 'Sum' }),
          stateMachine.metricFailed({ statistic: 'Sum' }),
          stateMachine.metricTimedOut({ statistic: 'Sum' }),
          stateMachine.metricAborted({ statistic: 'Sum' }),
          stateMachine.metricThrottled({ statistic: 'Sum' }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Execution time against the target RTO (ms)',
        width: 12,
        left: [stateMachine.metricTime({ statistic: 'Maximum' })],
        leftAnnotations: [{ value: plan.targetRtoSeconds * 1000, label: 'target RTO' }],
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        width: 24,
        height: 3,
        alarms: Object.values(alarms),
      }),
    );
    if (props.readiness) {
      const readinessPeriod = props.readiness.period;
      const ready = (dimensionsMap: Record<string, string>, label: string) =>
        new cloudwatch.Metric({
          namespace: READINESS_NAMESPACE,
          metricName: READY_METRIC,
          dimensionsMap,
          statistic: 'Minimum',
          period: readinessPeriod,
          label,
        });
      this.dashboard.addWidgets(
        new cloudwatch.SingleValueWidget({
          title: 'Ready for a failover (1 = yes)',
          width: 6,
          height: 4,
          metrics: [ready({ Plan: plan.name }, plan.name)],
        }),
        new cloudwatch.AlarmWidget({
          title: 'Readiness alarm',
          width: 18,
          height: 4,
          alarm: props.readiness.alarm,
        }),
      );
      for (let i = 0; i < plan.units.length; i += UNITS_PER_GRAPH) {
        const units = plan.units.slice(i, i + UNITS_PER_GRAPH);
        const range = plan.units.length > UNITS_PER_GRAPH ? `, units ${i + 1}-${i + units.length}` : '';
        this.dashboard.addWidgets(
          new cloudwatch.GraphWidget({
            title: `Readiness per unit (1 ready, 0 not)${range}`,
            width: 12,
            left: units.map((unit) => ready({ Plan: plan.name, Unit: unit.name }, unit.name)),
            leftYAxis: { min: 0, max: 1 },
          }),
          new cloudwatch.GraphWidget({
            title: `Replica lag at each readiness evaluation (s)${range}`,
            width: 12,
            left: units.map(
              (unit) =>
                new cloudwatch.Metric({
                  namespace: READINESS_NAMESPACE,
                  metricName: REPLICA_LAG_METRIC,
                  dimensionsMap: { Plan: plan.name, Unit: unit.name },
                  statistic: 'Maximum',
                  period: readinessPeriod,
                  label: unit.name,
                }),
            ),
            leftAnnotations: [
              {
                value: Math.min(...units.map((u) => u.database.maxReplicaLagSeconds)),
                label: 'not ready above',
              },
            ],
          }),
        );
      }
    }
    for (let i = 0; i < plan.units.length; i += UNITS_PER_GRAPH) {
      const units = plan.units.slice(i, i + UNITS_PER_GRAPH);
      const limit = Math.min(...units.map((u) => u.database.maxReplicaLagSeconds));
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title:
            plan.units.length > UNITS_PER_GRAPH
              ? `Readiness: replica lag (s), units ${i + 1}-${i + units.length}`
              : 'Readiness: replica lag (s)',
          width: 24,
          left: units.map((unit) => replicaLagMetric(unit, plan.recoveryRegion)),
          leftAnnotations: [{ value: limit, label: 'preflight warns above' }],
        }),
      );
    }
    const fns = Object.entries(props.functions);
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Step errors',
        width: 12,
        left: fns.map(([name, fn]) => fn.metricErrors({ statistic: 'Sum', label: name })),
      }),
      new cloudwatch.GraphWidget({
        title: 'Step duration, p99 (ms)',
        width: 12,
        left: fns.map(([name, fn]) => fn.metricDuration({ statistic: 'p99', label: name })),
      }),
    );
  }
}

/**
 * A unit's replica lag in seconds, as preflight reads it: an instance's ReplicaLag; an Aurora global database's
 * AuroraGlobalDBReplicationLag (milliseconds, divided here); a replica cluster's AuroraBinlogReplicaLag
 * (functions/lib/aurora/preflight.ts, docs/aws/aurora-global-database.md "Lag").
 */
function replicaLagMetric(unit: UnitPlan, region: string): cloudwatch.IMetric {
  const common = { namespace: 'AWS/RDS', region, statistic: 'Maximum', period: Duration.minutes(1) };
  if (!isAuroraUnit(unit)) {
    const id = instanceDatabase(unit, 'the replica lag graph').replicaInstanceId;
    return new cloudwatch.Metric({
      ...common,
      metricName: 'ReplicaLag',
      dimensionsMap: { DBInstanceIdentifier: id },
      label: `${unit.name} (${id})`,
    });
  }
  const id = unit.database.replicaClusterId;
  const label = `${unit.name} (${id})`;
  if (unit.database.globalClusterId === undefined) {
    return new cloudwatch.Metric({
      ...common,
      metricName: 'AuroraBinlogReplicaLag',
      dimensionsMap: { DBClusterIdentifier: id },
      label,
    });
  }
  return new cloudwatch.MathExpression({
    expression: 'lag / 1000',
    usingMetrics: {
      lag: new cloudwatch.Metric({
        ...common,
        metricName: 'AuroraGlobalDBReplicationLag',
        dimensionsMap: { DBClusterIdentifier: id },
      }),
    },
    period: Duration.minutes(1),
    label,
  });
}
