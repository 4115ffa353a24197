import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PlanInvalidError } from '../../functions/lib/errors.js';
import { parsePlan } from '../../functions/lib/plan.js';

const example = () => JSON.parse(readFileSync('examples/plan.json', 'utf8')) as Record<string, unknown>;
const issues = (document: unknown): string[] => {
  try {
    parsePlan(document);
  } catch (error) {
    if (error instanceof PlanInvalidError) return [...error.issues];
    throw error;
  }
  return [];
};

describe('plan readiness', () => {
  it('defaults to an evaluation every 5 minutes, the alarm after 3 failed ones', () => {
    // Assess
    expect(parsePlan(example()).readiness).toEqual({
      schedule: 'rate(5 minutes)',
      alarmAfterFailedEvaluations: 3,
    });
  });

  it('takes another rate(), or "off"', () => {
    // Assess
    expect(parsePlan({ ...example(), readiness: { schedule: 'rate(1 hour)' } }).readiness).toEqual({
      schedule: 'rate(1 hour)',
      alarmAfterFailedEvaluations: 3,
    });
    expect(parsePlan({ ...example(), readiness: { schedule: 'off' } }).readiness.schedule).toBe('off');
  });

  it('refuses cron() and at() (the alarm counts periods of the schedule), and a bad rate() as Scheduler would', () => {
    // Assess
    expect(issues({ ...example(), readiness: { schedule: 'cron(0/5 * * * ? *)' } })).toEqual([
      `readiness.schedule: expected rate(value unit) or "off", got cron(0/5 * * * ? *): the readiness alarm counts evaluations in periods of the schedule's length`,
    ]);
    expect(issues({ ...example(), readiness: { schedule: 'rate(5 minute)' } })).toEqual([
      'readiness.schedule: rate(): write rate(5 minutes)',
    ]);
    expect(issues({ ...example(), readiness: { schedule: 'rate(2 days)' } })[0]).toMatch(
      /^readiness\.schedule: rate\(\): at least once a day/,
    );
  });

  it('refuses an alarm that would look back further than CloudWatch allows', () => {
    // Assess
    expect(
      issues({ ...example(), readiness: { schedule: 'rate(5 minutes)', alarmAfterFailedEvaluations: 289 } }),
    ).toEqual([
      'readiness.alarmAfterFailedEvaluations: 289 evaluations every 300 s look back 86700 s; a CloudWatch alarm with a period under an hour looks back at most one day (at most 288 evaluations)',
    ]);
    expect(
      parsePlan({ ...example(), readiness: { schedule: 'rate(1 hour)', alarmAfterFailedEvaluations: 168 } })
        .readiness.alarmAfterFailedEvaluations,
    ).toBe(168);
    expect(issues({ ...example(), readiness: { schedule: 'off', alarmAfterFailedEvaluations: 0 } })).toEqual([
      'readiness.alarmAfterFailedEvaluations: Too small: expected number to be >=1',
    ]);
  });

  it('names an unknown field with the one meant', () => {
    // Assess
    expect(issues({ ...example(), readiness: { shedule: 'off' } })).toEqual([
      'readiness: unknown field "shedule" (did you mean "schedule"?)',
    ]);
  });
});
