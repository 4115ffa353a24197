import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PlanInvalidError } from '../../functions/lib/errors.js';
import { parsePlan } from '../../functions/lib/plan.js';

/**
 * The plan schema as a new user meets it (issue 9, item 10): schedules in AWS's grammars, IANA time zones, Regions
 * from the SDK's partition data reported on their own field, and "did you mean" for unknown fields at their path.
 */

// biome-ignore lint/suspicious/noExplicitAny: a plan document the tests change freely, field by field
type Doc = Record<string, any>;
const example = (): Doc =>
  JSON.parse(readFileSync(new URL('../../examples/plan.json', import.meta.url), 'utf8')) as Doc;

function issuesOf(change: (plan: Doc) => void): string[] {
  const plan = example();
  change(plan);
  try {
    parsePlan(plan);
  } catch (error) {
    expect(error).toBeInstanceOf(PlanInvalidError);
    return (error as PlanInvalidError & { issues: string[] }).issues;
  }
  throw new Error('the plan was accepted');
}

describe('drill schedule', () => {
  it('refuses a time zone that is not an IANA name, with the one meant', () => {
    expect(issuesOf((p) => (p.drill.timezone = 'Paris'))).toEqual([
      'drill.timezone: "Paris" is not an IANA time zone such as Europe/Paris (did you mean "Europe/Paris"?)',
    ]);
  });

  it('refuses a cron without ? in day-of-month or day-of-week, as EventBridge Scheduler does', () => {
    expect(issuesOf((p) => (p.drill.schedule = 'cron(0 10 * * TUE *)'))).toEqual([
      'drill.schedule: cron(): one of day-of-month (*) and day-of-week (TUE) must be ?, e.g. cron(0 10 ? * TUE *)',
    ]);
  });

  it('accepts rate() and a one-time at() drill', () => {
    for (const schedule of ['rate(7 days)', 'at(2030-06-01T09:00:00)']) {
      const plan = example();
      plan.drill.schedule = schedule;
      expect(parsePlan(plan).drill?.schedule).toBe(schedule);
    }
  });
});

describe('rotation schedule', () => {
  it("refuses what Secrets Manager refuses: rotations closer than four hours, minutes, EventBridge's at()", () => {
    expect(issuesOf((p) => (p.units[0].rotation.schedule = 'rate(2 hours)'))).toEqual([
      'units[0].rotation.schedule: rate(): at least 4 hours',
    ]);
    expect(issuesOf((p) => (p.units[0].rotation.schedule = 'at(2030-01-01T00:00:00)'))[0]).toMatch(
      /^units\[0\]\.rotation\.schedule: expected rate\(n hours\|days\) or cron\(/,
    );
  });

  it('accepts days, rate() and cron()', () => {
    for (const schedule of [30, 'rate(12 hours)', 'rate(30 days)', 'cron(0 8 1 * ? *)']) {
      const plan = example();
      plan.units[0].rotation.schedule = schedule;
      expect(parsePlan(plan).units[0]?.rotation.schedule).toBe(schedule);
    }
  });
});

describe('verify timeout', () => {
  it("stays within what the rotation step can wait for inside Lambda's 15 minutes (cdk synth refused 103)", () => {
    expect(issuesOf((p) => (p.units[0].verify.timeoutSeconds = 91))).toEqual([
      'units[0].verify.timeoutSeconds: Too big: expected number to be <=90',
    ]);
  });
});

describe('Regions', () => {
  it('reports a misspelt recovery Region on recoveryRegion only, not on the ARNs that name the right one', () => {
    // The rotation Lambda's ARN says us-west-2: before, it was blamed ("must be in the recovery Region us-wset-2").
    expect(issuesOf((p) => (p.recoveryRegion = 'us-wset-2'))).toEqual([
      'recoveryRegion: "us-wset-2" is not an AWS Region (did you mean "us-west-2"?); expected a Region code such as us-west-2',
    ]);
  });

  it('reports a misspelt primary Region on primaryRegion only, not on the alarm in the real one', () => {
    expect(issuesOf((p) => (p.primaryRegion = 'us-eats-1'))).toEqual([
      'primaryRegion: "us-eats-1" is not an AWS Region (did you mean "us-east-1"?); expected a Region code such as us-west-2',
    ]);
  });

  it('still compares ARNs with well-spelt Regions', () => {
    expect(issuesOf((p) => (p.recoveryRegion = 'eu-west-1'))).toContain(
      'units[0].rotation.lambdaArn: must be in the recovery Region eu-west-1, not us-west-2',
    );
  });
});

describe('unknown fields', () => {
  it('names each unknown field, at the path of its object, with the field meant when one is close', () => {
    const issues = issuesOf((p) => {
      p.maxConcurency = 5;
      p.units[0].dns.recordname = 'x.example.com';
      p.units[0].dns.tll = 5;
      p.drill.scheduel = 'rate(1 day)';
      p.units[0].verify.colour = 'blue';
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        '(root): unknown field "maxConcurency" (did you mean "maxConcurrency"?)',
        'units[0].dns: unknown field "recordname" (did you mean "recordName"?)',
        'units[0].dns: unknown field "tll" (did you mean "ttl"?)',
        'drill: unknown field "scheduel" (did you mean "schedule"?)',
        'units[0].verify: unknown field "colour"',
      ]),
    );
    expect(issues).toHaveLength(5);
  });

  it('looks the known fields up through defaults and arrays (approval, alarms[1])', () => {
    const issues = issuesOf((p) => {
      p.approval.onAlarms = true;
      p.alarms.push({ arn: p.alarms[0].arn, ARN: 'x' });
    });
    expect([...issues].sort()).toEqual([
      'alarms[1]: unknown field "ARN" (did you mean "arn"?)',
      'approval: unknown field "onAlarms" (did you mean "onAlarm"?)',
    ]);
  });
});
