import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { PropsProblems } from './props.js';

/**
 * How long an alarm event may wait for delivery and still start a failover, and how often delivery is retried, on
 * the way to the state machine and on the way from the primary Region. A failover started hours after the alarm,
 * when the primary may have recovered, does harm.
 */
export const ALARM_EVENT_MAX_AGE = Duration.minutes(15);
export const ALARM_EVENT_RETRY_ATTEMPTS = 20;

/** The event CloudWatch sends when an alarm changes state, narrowed to the given alarms entering ALARM. */
export function alarmStateChangePattern(alarmArns: readonly string[]): events.EventPattern {
  return {
    source: ['aws.cloudwatch'],
    detailType: ['CloudWatch Alarm State Change'],
    resources: [...alarmArns],
    detail: { state: { value: ['ALARM'] } },
  };
}

export interface TriggersProps {
  readonly stateMachine: sfn.IStateMachine;
  /**
   * ARNs of the alarms whose ALARM state starts a failover, in either Region: events of recovery-Region alarms
   * arrive on this Region's default bus directly, those of primary-Region alarms through the AlarmForwarderStack.
   */
  readonly alarmArns: readonly string[];
  /**
   * How old an alarm event may be and still start a failover. A failover started hours after the alarm, when the
   * primary may have recovered, does harm. @default 15 minutes
   */
  readonly maxEventAge?: Duration;
  /** How often EventBridge retries StartExecution. @default 20 */
  readonly retryAttempts?: number;
  /** Where events go that could not start an execution. @default none */
  readonly deadLetterQueue?: sqs.IQueue;
}

/**
 * Alarm-started failovers: an EventBridge rule on "CloudWatch Alarm State Change" to ALARM for the plan's alarms
 * starts the state machine with `{"mode": "failover", "trigger": "alarm", "reason": <alarm name>}`. The optional
 * approval gate lives in the definition (it sees `trigger: "alarm"`).
 */
export class Triggers extends Construct {
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: TriggersProps) {
    super(scope, id);
    const problems = new PropsProblems('Triggers');
    if (props.alarmArns.length === 0) problems.add('alarmArns', 'must name at least one alarm');
    // EventBridge accepts 60 s to 24 h and 0 to 185 retries.
    problems.duration('maxEventAge', props.maxEventAge, Duration.minutes(1), Duration.hours(24));
    problems.integer('retryAttempts', props.retryAttempts, 0, 185);
    problems.check();

    this.rule = new events.Rule(this, 'AlarmRule', {
      description: 'lifeboat: a plan alarm entered ALARM; start a failover',
      eventPattern: alarmStateChangePattern(props.alarmArns),
    });
    this.rule.addTarget(
      new targets.SfnStateMachine(props.stateMachine, {
        input: events.RuleTargetInput.fromObject({
          mode: 'failover',
          trigger: 'alarm',
          reason: events.EventField.fromPath('$.detail.alarmName'),
        }),
        maxEventAge: props.maxEventAge ?? ALARM_EVENT_MAX_AGE,
        retryAttempts: props.retryAttempts ?? ALARM_EVENT_RETRY_ATTEMPTS,
        ...(props.deadLetterQueue ? { deadLetterQueue: props.deadLetterQueue } : {}),
      }),
    );
  }
}
