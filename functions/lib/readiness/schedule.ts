import { schedulerExpressionProblem } from '../schedule-expression.js';

/**
 * The readiness schedule (plan `readiness.schedule`): an EventBridge Scheduler `rate()` expression, or `off`.
 * Only `rate()`: the readiness alarm counts failed evaluations in periods of the schedule's length
 * (docs/design/readiness.md), which a cron() or at() expression does not have.
 */
export const READINESS_OFF = 'off';
export const DEFAULT_READINESS_SCHEDULE = 'rate(5 minutes)';
export const DEFAULT_ALARM_AFTER_FAILED_EVALUATIONS = 3;

/**
 * How far back an alarm may look (PutMetricAlarm, `Period`): period x evaluation periods at most one day when the
 * period is under an hour, at most seven days otherwise (docs/design/readiness.md, "The alarm").
 */
export function alarmWindowProblem(periodSeconds: number, evaluationPeriods: number): string | undefined {
  const limit = periodSeconds < 3600 ? 86_400 : 604_800;
  if (periodSeconds * evaluationPeriods <= limit) return undefined;
  return `${evaluationPeriods} evaluations every ${periodSeconds} s look back ${periodSeconds * evaluationPeriods} s; a CloudWatch alarm with a period ${periodSeconds < 3600 ? 'under an hour looks back at most one day' : 'of an hour or more looks back at most seven days'} (at most ${Math.floor(limit / periodSeconds)} evaluations)`;
}

const UNIT_SECONDS: Record<string, number> = { minute: 60, hour: 3600, day: 86_400 };

/** Seconds between two evaluations of a valid `rate()` expression. */
export function rateSeconds(expression: string): number {
  const match = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  if (!match) throw new TypeError(`expected a rate() expression, got ${expression}`);
  return Number(match[1]) * (UNIT_SECONDS[match[2] as string] as number);
}

/** Why `expression` cannot be the readiness schedule, or undefined. */
export function readinessScheduleProblem(expression: string): string | undefined {
  if (expression === READINESS_OFF) return undefined;
  const problem = schedulerExpressionProblem(expression);
  if (problem) return problem;
  if (!expression.startsWith('rate(')) {
    return `expected rate(value unit) or "off", got ${expression}: the readiness alarm counts evaluations in periods of the schedule's length`;
  }
  if (rateSeconds(expression) > 86_400) {
    return `rate(): at least once a day (${expression} is less often): the readiness alarm's period is the schedule's, and a CloudWatch period is at most one day`;
  }
  return undefined;
}
