import { Annotations, App, CfnOutput, Duration, Stack, Stage, Token } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type FailoverPlan, type PlanDocument, parsePlan, partitionOf } from '../functions/lib/plan.js';
import { READINESS_OFF, rateSeconds } from '../functions/lib/readiness/schedule.js';
import { AlarmForwarderStack } from './alarm-forwarder-stack.js';
import { alarmsByRegion } from './arns.js';
import { DnsFlip } from './constructs/dns-flip.js';
import { DrillSchedule } from './constructs/drill-schedule.js';
import { LockRecovery } from './constructs/lock-recovery.js';
import { LockTable } from './constructs/lock-table.js';
import { NotificationTopic } from './constructs/notification-topic.js';
import { Observability } from './constructs/observability.js';
import { defaultExecutionTimeout, Orchestrator } from './constructs/orchestrator.js';
import { PropsProblems } from './constructs/props.js';
import { Readiness } from './constructs/readiness.js';
import { ReportStore } from './constructs/report-store.js';
import { RETAINED } from './constructs/retention.js';
import { Triggers } from './constructs/triggers.js';
import { VerifyNetwork } from './constructs/verify-network.js';
import { acknowledge } from './nag.js';
import { reportPrefix } from './permissions/index.js';
import { loadPlanFile } from './plan-file.js';

export interface LifeboatProps {
  /**
   * The failover plan: a plan document (the shape of `examples/plan.json`, validated here with every problem named
   * by its field path) or the path of a plan file, JSON or YAML (`.yaml`/`.yml`), relative to the working directory
   * of the synthesis.
   */
  readonly plan: PlanDocument | string;
  /** Retention of every log group. @default one year */
  readonly logRetention?: logs.RetentionDays;
}

/** Console host of a partition. */
export function consoleHost(partition: string): string {
  if (partition === 'aws-cn') return 'console.amazonaws.cn';
  if (partition === 'aws-us-gov') return 'console.amazonaws-us-gov.com';
  return 'console.aws.amazon.com';
}

/** The state machine's page in the Step Functions console, where "Start execution" fails the plan over. */
export function stateMachineConsoleUrl(region: string, stateMachineArn: string): string {
  const host = consoleHost(partitionOf(region));
  return `https://${region}.${host}/states/home?region=${region}#/statemachines/view/${stateMachineArn}`;
}

/** The S3 console page of one object (S3's console is global: `s3.` in the commercial partition). */
export function objectConsoleUrl(region: string, bucketName: string, key: string): string {
  const partition = partitionOf(region);
  const host = partition === 'aws' ? `s3.${consoleHost(partition)}` : consoleHost(partition);
  return `https://${host}/s3/object/${bucketName}?region=${region}&prefix=${key}`;
}

/**
 * lifeboat for one plan, in the recovery Region: the orchestrator (one Lambda per step and the state machine
 * `lifeboat-<plan>`), its lock, report store and topic, the alarm trigger, the drill schedule, lock recovery and the
 * observability, with the stack outputs that name them. It depends on nothing in the primary Region.
 *
 * It goes into a stack of your own whose `env` is the plan's account and recovery Region:
 *
 * ```ts
 * const stack = new Stack(app, 'OrdersDr', { env: { account: '123456789012', region: 'us-west-2' } });
 * const dr = new Lifeboat(stack, 'Dr', { plan: 'plans/orders.yaml' });
 * dr.addAlarmForwarder(); // when some of the plan's alarms live in the primary Region
 * ```
 *
 * Alarms in the primary Region reach the recovery Region's event bus through a small stack in the primary Region:
 * `addAlarmForwarder()` adds it to the same app (a warning at synthesis says when a plan needs it and it is missing).
 */
export class Lifeboat extends Construct {
  /** The validated plan, defaults applied. */
  readonly plan: FailoverPlan;
  readonly orchestrator: Orchestrator;
  readonly lockTable: LockTable;
  readonly lockRecovery: LockRecovery;
  readonly reports: ReportStore;
  readonly notifications: NotificationTopic;
  /** Alarm or schedule events that could not start an execution. */
  readonly startFailures: sqs.Queue;
  readonly triggers?: Triggers;
  readonly drillSchedule?: DrillSchedule;
  /** Continuous readiness: the schedule, its function and alarm (absent when the plan's readiness.schedule is "off"). */
  readonly readiness?: Readiness;
  readonly observability: Observability;
  readonly dnsFlip: DnsFlip;
  readonly verifyNetwork?: VerifyNetwork;
  private forwarder?: AlarmForwarderStack;

  constructor(scope: Construct, id: string, props: LifeboatProps) {
    super(scope, id);
    const plan = typeof props.plan === 'string' ? loadPlanFile(props.plan) : parsePlan(props.plan);
    this.plan = plan;
    checkEnvironment(Stack.of(this), plan);

    this.notifications = new NotificationTopic(this, 'Notifications', {
      ...(plan.notificationTopicArn ? { existingTopicArn: plan.notificationTopicArn } : {}),
      displayName: `lifeboat ${plan.name}`,
    });
    this.lockTable = new LockTable(this, 'Lock');
    this.reports = new ReportStore(this, 'Reports');
    if (plan.vpc) {
      this.verifyNetwork = new VerifyNetwork(this, 'VerifyNetwork', {
        vpcId: plan.vpc.vpcId,
        subnetIds: plan.vpc.subnetIds,
        databaseSecurityGroupIds: plan.vpc.databaseSecurityGroupIds,
        engines: plan.units.map((u) => u.database.engine),
      });
    }
    const topic = this.notifications.topic;
    this.orchestrator = new Orchestrator(this, 'Orchestrator', {
      plan,
      lockTable: this.lockTable.table,
      reportBucket: this.reports.bucket,
      reportTopic: topic,
      ...(this.notifications.key ? { reportTopicKey: this.notifications.key } : {}),
      ...(plan.approval.onAlarm ? { approvalTopic: topic } : {}),
      ...(this.verifyNetwork ? { verifyPlacement: this.verifyNetwork } : {}),
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });
    const stateMachine = this.orchestrator.stateMachine;

    // An alarm or a schedule that could not start an execution must not vanish silently.
    this.startFailures = new sqs.Queue(this, 'StartFailures', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: RETAINED,
    });
    acknowledge(
      this.startFailures,
      'AwsSolutions-SQS3',
      'this queue is itself the dead-letter queue of the alarm rule and drill schedule targets',
    );

    if (plan.alarms.length) {
      this.triggers = new Triggers(this, 'Triggers', {
        stateMachine,
        alarmArns: plan.alarms.map((a) => a.arn),
        deadLetterQueue: this.startFailures,
      });
    }
    if (plan.drill) {
      this.drillSchedule = new DrillSchedule(this, 'DrillSchedule', {
        stateMachine,
        expression: plan.drill.schedule,
        timezone: plan.drill.timezone,
        deadLetterQueue: this.startFailures,
      });
    }
    // A run that times out or is stopped skips its report and lock release: docs/design/lock.md.
    this.lockRecovery = new LockRecovery(this, 'LockRecovery', {
      plan,
      stateMachine,
      executionTimeout: defaultExecutionTimeout(plan),
      acquireLock: this.orchestrator.functions.acquireLock,
      lockTable: this.lockTable.table,
      reportBucket: this.reports.bucket,
      reportTopic: topic,
      ...(this.notifications.key ? { reportTopicKey: this.notifications.key } : {}),
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });
    const functions = Object.fromEntries(
      Object.entries(this.orchestrator.functions).map(([name, fn]) => [name, fn.function]),
    );
    // Health-check units: the alarm and health check lifeboat forces the flip with; cname units: a synth warning.
    this.dnsFlip = new DnsFlip(this, 'DnsFlip', { plan });
    if (plan.readiness.schedule !== READINESS_OFF) {
      // docs/design/readiness.md: the preflight on a schedule, and every function kept active.
      this.readiness = new Readiness(this, 'Readiness', {
        plan,
        reportBucket: this.reports.bucket,
        topic,
        ...(this.notifications.key ? { topicKey: this.notifications.key } : {}),
        warmTargets: { ...functions, closeEndedRun: this.lockRecovery.closer.function },
        ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      });
    }
    const latestReportUrl = objectConsoleUrl(
      plan.recoveryRegion,
      this.reports.bucket.bucketName,
      `${reportPrefix(plan)}latest.json`,
    );
    this.observability = new Observability(this, 'Observability', {
      plan,
      stateMachine,
      topic,
      functions,
      startFailures: this.startFailures,
      latestReportUrl,
      ...(this.readiness
        ? {
            readiness: {
              alarm: this.readiness.alarm,
              period: Duration.seconds(rateSeconds(plan.readiness.schedule)),
            },
          }
        : {}),
    });

    new CfnOutput(this, 'StateMachineArn', {
      description: 'The failover state machine',
      value: stateMachine.stateMachineArn,
    });
    new CfnOutput(this, 'StateMachineConsoleUrl', {
      description: 'Start a failover here: "Start execution" with {} (failover) or {"mode": "dry-run"}',
      value: stateMachineConsoleUrl(plan.recoveryRegion, stateMachine.stateMachineArn),
    });
    new CfnOutput(this, 'LatestReportConsoleUrl', {
      description: 'The latest run report',
      value: objectConsoleUrl(
        plan.recoveryRegion,
        this.reports.bucket.bucketName,
        `${reportPrefix(plan)}latest.json`,
      ),
    });
    new CfnOutput(this, 'ReportBucketName', { value: this.reports.bucket.bucketName });
    new CfnOutput(this, 'LockTableName', { value: this.lockTable.table.tableName });
    new CfnOutput(this, 'ExecutionLogGroupName', {
      description: "The state machine's log (failures only; a run's full path is in its execution history)",
      value: this.orchestrator.logGroup.logGroupName,
    });
    new CfnOutput(this, 'NotificationTopicArn', {
      description: 'Subscribe here for reports, alarms and approval requests',
      value: topic.topicArn,
    });

    // Checked when the app synthesizes, so that addAlarmForwarder() may come after the constructor.
    this.node.addValidation({
      validate: () => {
        if (this.needsAlarmForwarder && !this.forwarder) {
          Annotations.of(this).addWarningV2(
            'lifeboat:alarmForwarderMissing',
            `plan ${plan.name} has alarms in ${plan.primaryRegion}: their ALARM events reach ${plan.recoveryRegion} only through the alarm forwarder stack (call addAlarmForwarder() on this Lifeboat)`,
          );
        }
        return [];
      },
    });
  }

  /** True when some of the plan's alarms live in the primary Region: they need the alarm forwarder stack. */
  get needsAlarmForwarder(): boolean {
    return alarmsByRegion(this.plan).primary.length > 0;
  }

  /** The alarm forwarder stack, once added. */
  get alarmForwarder(): AlarmForwarderStack | undefined {
    return this.forwarder;
  }

  /**
   * Adds the alarm forwarder: a small stack in the plan's primary Region (same account) that forwards the ALARM
   * state changes of the plan's primary-Region alarms to the recovery Region's event bus, where this Lifeboat's rule
   * starts the failover. It goes into the app (or stage) that holds this Lifeboat's stack; deploy it too (and
   * bootstrap the primary Region). Returns undefined, adding nothing, when no alarm lives in the primary Region.
   *
   * @param id the forwarder stack's id. @default `<this stack's name>-AlarmForwarder`
   */
  addAlarmForwarder(id?: string): AlarmForwarderStack | undefined {
    if (this.forwarder) return this.forwarder;
    if (!this.needsAlarmForwarder) return undefined;
    const stack = Stack.of(this);
    const stage = Stage.of(this) ?? App.of(this);
    if (!stage) throw new TypeError('Lifeboat.addAlarmForwarder: this Lifeboat is not in an app or a stage');
    this.forwarder = new AlarmForwarderStack(stage, id ?? `${stack.stackName}-AlarmForwarder`, {
      plan: this.plan,
    });
    return this.forwarder;
  }
}

/**
 * lifeboat runs in the recovery Region and its grants name the plan's account: the stack must be deployed exactly
 * there. An environment-agnostic stack (no `env`) could land anywhere, the primary Region included.
 */
function checkEnvironment(stack: Stack, plan: FailoverPlan): void {
  const problems = new PropsProblems('Lifeboat');
  const example = `new Stack(app, '${stack.node.id}', { env: { account: '${plan.account}', region: '${plan.recoveryRegion}' } })`;
  if (Token.isUnresolved(stack.region)) {
    problems.add(
      'stack env',
      `stack ${stack.node.path} has no Region: lifeboat must be deployed to plan ${plan.name}'s recovery Region ${plan.recoveryRegion}, so give the stack env.region (${example})`,
    );
  } else if (stack.region !== plan.recoveryRegion) {
    problems.add(
      'stack env',
      `stack ${stack.node.path} is in ${stack.region}, but lifeboat runs in plan ${plan.name}'s recovery Region ${plan.recoveryRegion}, never in the Region it fails over from (${example})`,
    );
  }
  if (Token.isUnresolved(stack.account)) {
    problems.add(
      'stack env',
      `stack ${stack.node.path} has no account: give it env.account ${plan.account}, the plan's account (${example})`,
    );
  } else if (stack.account !== plan.account) {
    problems.add(
      'stack env',
      `stack ${stack.node.path} is in account ${stack.account}, but plan ${plan.name} is for account ${plan.account}`,
    );
  }
  problems.check();
}
