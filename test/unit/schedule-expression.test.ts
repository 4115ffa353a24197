import { describe, expect, it } from 'vitest';
import {
  cronFieldsProblem,
  rotationExpressionProblem,
  schedulerExpressionProblem,
  timeZoneProblem,
} from '../../functions/lib/schedule-expression.js';

/** EventBridge Scheduler and Secrets Manager schedule grammars (issue 9, item 10; docs/aws/schedule-expressions.md). */

describe('schedulerExpressionProblem', () => {
  it.each([
    'cron(0 10 ? * TUE *)',
    'cron(0 10 ? * tue *)',
    'cron(15 10 ? * 6L 2022-2023)',
    'cron(0/15 * * * ? *)',
    'cron(*/5 8-17 ? * MON-FRI *)',
    'cron(0 18 ? * MON-FRI *)',
    'cron(0 8 1 * ? *)',
    'cron(0 10 L * ? *)',
    'cron(0 10 LW * ? *)',
    'cron(0 10 15W * ? *)',
    'cron(0 10 ? * 3#2 *)',
    'cron(0 10 ? JAN,JUL * 2199)',
    'cron(0,30 0-23/2 ? * SUN *)',
    'rate(1 minute)',
    'rate(5 minutes)',
    'rate(1 hour)',
    'rate(12 hours)',
    'rate(7 days)',
    'at(2030-02-28T10:00:00)',
    'at(2028-02-29T23:59:59)',
  ])('accepts %s', (expression) => {
    expect(schedulerExpressionProblem(expression)).toBeUndefined();
  });

  it.each([
    [
      'cron(0 10 * * TUE *)',
      'one of day-of-month (*) and day-of-week (TUE) must be ?, e.g. cron(0 10 ? * TUE *)',
    ],
    ['cron(0 10 * * * *)', 'must be ?, e.g. cron(0 10 * * ? *)'],
    ['cron(0 10 ? * ? *)', 'only one of day-of-month and day-of-week may be ?'],
    ['cron(0 10 ? * TUE)', 'cron() takes six fields'],
    ['cron(0 10 ? * TUE * *)', 'got 7'],
    ['cron(60 10 ? * TUE *)', 'minutes: 60 is out of range 0-59'],
    ['cron(0 24 ? * TUE *)', 'hours: 24 is out of range 0-23'],
    ['cron(0 10 32 * ? *)', 'day-of-month: 32 is out of range 1-31'],
    ['cron(0 10 0 * ? *)', 'day-of-month: 0 is out of range 1-31'],
    ['cron(0 10 ? 13 MON *)', 'month: 13 is out of range 1-12'],
    ['cron(0 10 ? * 8 *)', 'day-of-week: 8 is out of range 1-7'],
    ['cron(0 10 ? * 0 *)', 'day-of-week: 0 is out of range 1-7'],
    ['cron(0 10 ? * TUES *)', '"TUES" is not a value (1-7 or SUN-SAT) (did you mean "TUE"?)'],
    ['cron(0 10 ? JANUARY MON *)', 'month: "JANUARY" is not a value'],
    ['cron(0 10 ? * MON 1969)', 'year: 1969 is out of range 1970-2199'],
    ['cron(0 10 ? * MON 2200)', 'year: 2200 is out of range 1970-2199'],
    ['cron(0 ? ? * MON *)', 'hours: ? is only for day-of-month or day-of-week'],
    ['cron(0 10 ? * 3#6 *)', 'the week in "3#6" must be 1-5'],
    ['cron(0 10 ? * 3#2,4 *)', 'day-of-week'],
    ['cron(0 10 15W * 1 *)', 'must be ?'],
    ['cron(0 10 W * ? *)', 'day-of-month'],
    ['cron(0 L ? * MON *)', 'hours: L is only for day-of-month or day-of-week'],
    ['cron(5-1 10 ? * MON *)', 'minutes: the range "5-1" runs backwards'],
    ['cron(*/0 10 ? * MON *)', 'the increment in "*/0" must be a positive number'],
    ['cron(0/61 10 ? * MON *)', 'the increment in "0/61" is larger than 59'],
    ['cron(1,,2 10 ? * MON *)', 'has an empty list item'],
    ['cron(1-2-3 10 ? * MON *)', 'is not a value, range or increment'],
    ['rate(1 minutes)', 'write rate(1 minute)'],
    ['rate(5 minute)', 'write rate(5 minutes)'],
    ['rate(0 hours)', 'the value must be a positive number'],
    ['rate(2 weeks)', 'unit "weeks" is not one of minute(s), hour(s), day(s)'],
    ['rate(five minutes)', 'expected rate(value unit)'],
    ['at(2027-02-29T10:00:00)', 'is not a date and time'],
    ['at(2027-02-28 10:00)', 'expected at(yyyy-mm-ddThh:mm:ss)'],
    ['crom(0 10 ? * TUE *)', '(did you mean "cron"?)'],
    [
      'every tuesday',
      'expected cron(minutes hours day-of-month month day-of-week year), rate(value unit) or at(',
    ],
  ])('refuses %s: %s', (expression, message) => {
    expect(schedulerExpressionProblem(expression)).toContain(message);
  });

  it('reads the fields between the parentheses with any amount of space', () => {
    expect(cronFieldsProblem(' 0  10 ? * TUE * ')).toBeUndefined();
  });
});

describe('rotationExpressionProblem (Secrets Manager)', () => {
  it.each([
    'rate(4 hours)',
    'rate(12 hours)',
    'rate(1 day)',
    'rate(30 days)',
    'rate(1000 days)',
    'cron(0 8 1 * ? *)',
  ])('accepts %s', (expression) => {
    expect(rotationExpressionProblem(expression)).toBeUndefined();
  });

  it.each([
    ['rate(2 hours)', 'at least 4 hours'],
    ['rate(1001 days)', 'at most 1000 days'],
    ['rate(10 minutes)', 'unit "minutes" is not one of hour(s), day(s)'],
    ['at(2030-01-01T00:00:00)', 'expected rate(n hours|days) or cron('],
    ['cron(0 8 1 * MON *)', 'must be ?'],
  ])('refuses %s: %s', (expression, message) => {
    expect(rotationExpressionProblem(expression)).toContain(message);
  });
});

describe('timeZoneProblem', () => {
  it.each([
    'UTC',
    'Etc/UTC',
    'Europe/Paris',
    'America/New_York',
    'Asia/Kolkata',
    'Asia/Calcutta',
    'US/Eastern',
  ])('accepts %s', (zone) => {
    expect(timeZoneProblem(zone)).toBeUndefined();
  });

  it.each([
    ['Paris', '"Paris" is not an IANA time zone such as Europe/Paris (did you mean "Europe/Paris"?)'],
    ['Europe/Pari', '(did you mean "Europe/Paris"?)'],
    ['europe/paris', 'time zone "europe/paris" is spelt "Europe/Paris" in the tz database'],
    ['Mars/Olympus_Mons', '"Mars/Olympus_Mons" is not an IANA time zone such as Europe/Paris'],
    ['', 'is not an IANA time zone'],
  ])('refuses %s: %s', (zone, message) => {
    expect(timeZoneProblem(zone)).toContain(message);
  });
});
