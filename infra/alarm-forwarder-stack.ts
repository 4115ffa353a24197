import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { type FailoverPlan, partitionOf } from '../functions/lib/plan.js';
import { alarmsByRegion } from './arns.js';
import { RETAINED } from './constructs/retention.js';
import {
  ALARM_EVENT_MAX_AGE,
  ALARM_EVENT_RETRY_ATTEMPTS,
  alarmStateChangePattern,
} from './constructs/triggers.js';
import { acknowledge } from './nag.js';

export interface AlarmForwarderStackProps extends StackProps {
  readonly plan: FailoverPlan;
}

/** The recovery Region's default event bus, where lifeboat's alarm rule listens. */
export function recoveryEventBusArn(plan: Pick<FailoverPlan, 'account' | 'recoveryRegion'>): string {
  return `arn:${partitionOf(plan.recoveryRegion)}:events:${plan.recoveryRegion}:${plan.account}:event-bus/default`;
}

/**
 * CDK's EventBus target takes a dead-letter queue but no retry policy (aws/aws-cdk#28735); EventBridge takes one for
 * any rule target (AWS::Events::Rule Target, RetryPolicy). This target adds it to what CDK's target binds.
 */
class EventBusWithRetries implements events.IRuleTarget {
  constructor(
    private readonly target: targets.EventBus,
    private readonly retry: { maxEventAge: Duration; retryAttempts: number },
  ) {}

  bind(rule: events.IRuleRef, id?: string): events.RuleTargetConfig {
    return {
      ...this.target.bind(rule, id),
      retryPolicy: {
        maximumEventAgeInSeconds: this.retry.maxEventAge.toSeconds(),
        maximumRetryAttempts: this.retry.retryAttempts,
      },
    };
  }
}

/**
 * A small stack in the primary Region: it forwards the ALARM state changes of the plan's primary-Region alarms to
 * the recovery Region's default event bus (EventBridge cross-Region routing,
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cross-region.html), where the Triggers rule starts
 * the failover. It only matters before the disaster; the failover itself never calls the primary Region.
 */
export class AlarmForwarderStack extends Stack {
  readonly rule: events.Rule;
  /** Alarm events that could not reach the recovery Region's bus, after the retries. */
  readonly forwardFailures: sqs.Queue;

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
    // An alarm event that could not be forwarded must not vanish: without a dead-letter queue EventBridge drops it
    // once the retries are spent (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
    this.forwardFailures = new sqs.Queue(this, 'ForwardFailures', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      removalPolicy: RETAINED,
    });
    acknowledge(
      this.forwardFailures,
      'AwsSolutions-SQS3',
      'this queue is itself the dead-letter queue of the alarm forwarding rule target',
    );
    this.rule = new events.Rule(this, 'ForwardAlarms', {
      description: `lifeboat: forward plan ${plan.name}'s alarms to ${plan.recoveryRegion}`,
      eventPattern: alarmStateChangePattern(alarms),
    });
    // The target creates its own role allowed events:PutEvents on that one bus; same account, so the bus needs no
    // resource policy. The retries match the recovery Region's alarm rule: a stale alarm must not start a failover.
    this.rule.addTarget(
      new EventBusWithRetries(
        new targets.EventBus(
          events.EventBus.fromEventBusArn(this, 'RecoveryBus', recoveryEventBusArn(plan)),
          {
            deadLetterQueue: this.forwardFailures,
          },
        ),
        { maxEventAge: ALARM_EVENT_MAX_AGE, retryAttempts: ALARM_EVENT_RETRY_ATTEMPTS },
      ),
    );
  }
}
