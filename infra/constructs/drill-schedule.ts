import { Duration, TimeZone } from 'aws-cdk-lib';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { schedulerExpressionProblem, timeZoneProblem } from '../../functions/lib/schedule-expression.js';
import { PropsProblems } from './props.js';

export interface DrillScheduleProps {
  readonly stateMachine: sfn.IStateMachine;
  /**
   * EventBridge Scheduler expression: `cron(min hour day-of-month month day-of-week year)`, `rate(n unit)` or
   * `at(yyyy-mm-ddThh:mm:ss)` (a one-time drill).
   */
  readonly expression: string;
  /** IANA time zone the cron is read in, e.g. `Europe/Paris`. @default "UTC" */
  readonly timezone?: string;
  /** How late a drill may still start. @default 1 hour */
  readonly maxEventAge?: Duration;
  /** How often Scheduler retries StartExecution. @default 20 */
  readonly retryAttempts?: number;
  /** Where starts go that failed for good. @default none */
  readonly deadLetterQueue?: sqs.IQueue;
}

/** A time zone Node's ICU knows, spelt as the tz database spells it, is one Scheduler knows: both use the IANA database. */
export function isTimeZone(name: string): boolean {
  return timeZoneProblem(name) === undefined;
}

/** Game days on a clock: an EventBridge Scheduler schedule that starts `{"mode": "drill", "trigger": "schedule"}`. */
export class DrillSchedule extends Construct {
  readonly schedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: DrillScheduleProps) {
    super(scope, id);
    const problems = new PropsProblems('DrillSchedule');
    // The plan schema runs the same checks (docs/aws/schedule-expressions.md): lifeboat plan and cdk synth agree.
    const expressionProblem = schedulerExpressionProblem(props.expression);
    if (expressionProblem) problems.add('expression', expressionProblem);
    const timezone = props.timezone ?? 'UTC';
    const timezoneProblem = timeZoneProblem(timezone);
    if (timezoneProblem) problems.add('timezone', timezoneProblem);
    problems.duration('maxEventAge', props.maxEventAge, Duration.minutes(1), Duration.hours(24));
    problems.integer('retryAttempts', props.retryAttempts, 0, 185);
    problems.check();

    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: 'lifeboat: scheduled failover drill (touches no production resource)',
      schedule: scheduler.ScheduleExpression.expression(props.expression, TimeZone.of(timezone)),
      target: new schedulerTargets.StepFunctionsStartExecution(props.stateMachine, {
        input: scheduler.ScheduleTargetInput.fromObject({ mode: 'drill', trigger: 'schedule' }),
        maxEventAge: props.maxEventAge ?? Duration.hours(1),
        retryAttempts: props.retryAttempts ?? 20,
        ...(props.deadLetterQueue ? { deadLetterQueue: props.deadLetterQueue } : {}),
      }),
    });
  }
}
