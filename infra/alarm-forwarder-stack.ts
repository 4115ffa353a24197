import { Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type { Construct } from 'constructs';
import { type FailoverPlan, partitionOf } from '../functions/lib/plan.js';
import { alarmsByRegion } from './arns.js';
import { alarmStateChangePattern } from './constructs/triggers.js';

export interface AlarmForwarderStackProps extends StackProps {
  readonly plan: FailoverPlan;
}

/** The recovery Region's default event bus, where lifeboat's alarm rule listens. */
export function recoveryEventBusArn(plan: Pick<FailoverPlan, 'account' | 'recoveryRegion'>): string {
  return `arn:${partitionOf(plan.recoveryRegion)}:events:${plan.recoveryRegion}:${plan.account}:event-bus/default`;
}

/**
 * A small stack in the primary Region: it forwards the ALARM state changes of the plan's primary-Region alarms to
 * the recovery Region's default event bus (EventBridge cross-Region routing,
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-region.html), where the Triggers rule starts
 * the failover. It only matters before the disaster; the failover itself never calls the primary Region.
 */
export class AlarmForwarderStack extends Stack {
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: AlarmForwarderStackProps) {
    const { plan } = props;
    super(scope, id, {
      description: `lifeboat: forwards plan ${plan.name}'s alarms from ${plan.primaryRegion} to ${plan.recoveryRegion}`,
      ...props,
      env: { account: plan.account, region: plan.primaryRegion },
    });
    const alarms = alarmsByRegion(plan).primary;
    if (alarms.length === 0) {
      throw new TypeError(
        `AlarmForwarderStack props are invalid:\n  - plan.alarms: none is in ${plan.primaryRegion}`,
      );
    }
    this.rule = new events.Rule(this, 'ForwardAlarms', {
      description: `lifeboat: forward plan ${plan.name}'s alarms to ${plan.recoveryRegion}`,
      eventPattern: alarmStateChangePattern(alarms),
    });
    // The target creates its own role allowed events:PutEvents on that one bus; same account, so the bus needs no
    // resource policy.
    this.rule.addTarget(
      new targets.EventBus(events.EventBus.fromEventBusArn(this, 'RecoveryBus', recoveryEventBusArn(plan))),
    );
  }
}
