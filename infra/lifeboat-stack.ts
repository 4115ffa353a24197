import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { type FailoverPlan, partitionOf } from '../functions/lib/plan.js';
import { DnsFlip } from './constructs/dns-flip.js';
import { DrillSchedule } from './constructs/drill-schedule.js';
import { LockRecovery } from './constructs/lock-recovery.js';
import { LockTable } from './constructs/lock-table.js';
import { NotificationTopic } from './constructs/notification-topic.js';
import { Observability } from './constructs/observability.js';
import { defaultExecutionTimeout, Orchestrator } from './constructs/orchestrator.js';
import { ReportStore } from './constructs/report-store.js';
import { RETAINED } from './constructs/retention.js';
import { Triggers } from './constructs/triggers.js';
import { VerifyNetwork } from './constructs/verify-network.js';
import { acknowledge } from './nag.js';
import { reportPrefix } from './permissions.js';

export interface LifeboatStackProps extends StackProps {
  /** The validated plan. The stack's account and Region are the plan's account and recovery Region. */
  readonly plan: FailoverPlan;
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
 * lifeboat in the recovery Region: the orchestrator (step functions and state machine), its lock, report store and
 * topic, the alarm trigger, the drill schedule and the observability. It depends on nothing in the primary Region.
 */
export class LifeboatStack extends Stack {
  readonly orchestrator: Orchestrator;
  readonly lockTable: LockTable;
  readonly lockRecovery: LockRecovery;
  readonly reports: ReportStore;
  readonly notifications: NotificationTopic;
  readonly startFailures: sqs.Queue;
  readonly triggers?: Triggers;
  readonly drillSchedule?: DrillSchedule;
  readonly observability: Observability;
  readonly dnsFlip: DnsFlip;
  readonly verifyNetwork?: VerifyNetwork;

  constructor(scope: Construct, id: string, props: LifeboatStackProps) {
    const { plan } = props;
    super(scope, id, {
      description: `lifeboat: fails over plan ${plan.name} from ${plan.primaryRegion} to ${plan.recoveryRegion}`,
      ...props,
      env: { account: plan.account, region: plan.recoveryRegion },
    });

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
    this.observability = new Observability(this, 'Observability', {
      plan,
      stateMachine,
      topic,
      functions,
      startFailures: this.startFailures,
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
  }
}
