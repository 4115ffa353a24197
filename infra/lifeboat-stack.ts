import { Stack, type StackProps } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { FailoverPlan } from '../functions/lib/plan.js';
import type { DnsFlip } from './constructs/dns-flip.js';
import type { DrillSchedule } from './constructs/drill-schedule.js';
import type { LockRecovery } from './constructs/lock-recovery.js';
import type { LockTable } from './constructs/lock-table.js';
import type { NotificationTopic } from './constructs/notification-topic.js';
import type { Observability } from './constructs/observability.js';
import type { Orchestrator } from './constructs/orchestrator.js';
import type { ReportStore } from './constructs/report-store.js';
import type { Triggers } from './constructs/triggers.js';
import type { VerifyNetwork } from './constructs/verify-network.js';
import { Lifeboat } from './lifeboat.js';

export { consoleHost, objectConsoleUrl, stateMachineConsoleUrl } from './lifeboat.js';

export interface LifeboatStackProps extends StackProps {
  /** The validated plan. The stack's account and Region are the plan's account and recovery Region. */
  readonly plan: FailoverPlan;
  /** Retention of every log group. @default one year */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The app's stack of one plan (`Lifeboat-<plan>`, infra/lifeboat-app.ts): a stack in the plan's account and recovery
 * Region that holds nothing but the `Lifeboat` construct, the same construct a team puts in a stack of its own.
 */
export class LifeboatStack extends Stack {
  readonly lifeboat: Lifeboat;
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
    // CDK leaves a construct named "Default" out of logical ids and output names: the resources and outputs keep
    // the ids they had when this stack built them itself, so an update of a deployed stack replaces nothing.
    this.lifeboat = new Lifeboat(this, 'Default', {
      plan,
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
    });
    const l = this.lifeboat;
    this.orchestrator = l.orchestrator;
    this.lockTable = l.lockTable;
    this.lockRecovery = l.lockRecovery;
    this.reports = l.reports;
    this.notifications = l.notifications;
    this.startFailures = l.startFailures;
    if (l.triggers) this.triggers = l.triggers;
    if (l.drillSchedule) this.drillSchedule = l.drillSchedule;
    this.observability = l.observability;
    this.dnsFlip = l.dnsFlip;
    if (l.verifyNetwork) this.verifyNetwork = l.verifyNetwork;
  }
}
