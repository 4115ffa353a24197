import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../functions/lib/report/index.js';
import type { CallLogEntry, FaultHandle } from '../../local/emulator/types.js';
import type { RunResult } from '../../local/runner.js';
import { resolveVia } from '../../local/verify-facts.js';
import { TRANSIENT_RETRY } from '../../statemachine/steps.js';
import {
  applied,
  type EvidenceWorld,
  faulted,
  plannedUnits,
  readReport,
  startWorld,
  stepStatuses,
  unitFacts,
} from './support.js';

/**
 * The primary Region down (issue 6; docs/design.md, "Targets": failover succeeds with zero calls to it), and Route 53's
 * control plane down (it is served from us-east-1, docs/aws/route53-control-plane.md): what a `cname` unit does then.
 * One world of two units: `u1` fails over with the primary Region down, `u2` with Route 53's control plane down.
 */

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

describe('the primary Region down', () => {
  let w: EvidenceWorld;
  let down: FaultHandle;
  let result: RunResult;
  let calls: CallLogEntry[];

  beforeAll(async () => {
    w = await startWorld(plannedUnits(2));
    // Prepare: every call signed for the primary Region is refused (the connection is reset before it is handled).
    down = w.world.emulator.faults.regionDown(w.plan.primaryRegion);
    const from = w.world.emulator.calls.length;
    result = await w.run('primary-down', { units: ['u1'], trigger: 'cli', reason: 'primary Region down' });
    calls = w.world.emulator.calls.slice(from);
  }, 180_000);

  afterAll(async () => {
    down?.remove();
    await w?.close();
  });

  it('fails over: the run succeeds and the facts hold', async () => {
    // Act
    const facts = await unitFacts(w.world, ['u1']);
    // Assess
    expect(result.status, JSON.stringify(result.error)).toBe('SUCCEEDED');
    expect((result.output as RunReport).units.map((u) => [u.unit, u.status])).toEqual([['u1', 'succeeded']]);
    expect(facts.filter((f) => !f.ok)).toEqual([]);
    expect(facts).toHaveLength(5);
  });

  it('made zero calls to the primary Region', () => {
    // Assess: not one call was even attempted there (a refused call would be logged, with its fault)
    expect(calls.length).toBeGreaterThan(20);
    expect(calls.filter((c) => c.region === w.plan.primaryRegion)).toEqual([]);
    expect(down.matched).toBe(0);
    expect(faulted(calls)).toEqual([]);
    // Route 53 is global (logged as `global`); everything else went to the recovery Region.
    expect(new Set(calls.map((c) => c.region))).toEqual(new Set([w.plan.recoveryRegion, 'global']));
  });

  describe("and Route 53's control plane down too", () => {
    let r53: FaultHandle;
    let failed: RunResult;
    let failedCalls: CallLogEntry[];
    let report: RunReport | undefined;
    let rerun: RunResult;
    let rerunCalls: CallLogEntry[];
    let cnameAfterFailure: string | undefined;

    beforeAll(async () => {
      // Prepare: Route 53 answers 503 to every call (as during a us-east-1 outage), and the primary Region is down.
      r53 = w.world.emulator.faults.route53Down();
      let from = w.world.emulator.calls.length;
      failed = await w.run('route53-down', { units: ['u2'], reason: 'us-east-1 down with Route 53' });
      failedCalls = w.world.emulator.calls.slice(from);
      report = await readReport(w.world, failed, 'route53-down');
      cnameAfterFailure = (await resolveVia(w.world.dns.endpoint, 'u2-db.internal.example.com')).cname;
      // Act: Route 53 is back; the operator starts the failover again.
      r53.remove();
      from = w.world.emulator.calls.length;
      rerun = await w.run('route53-back', { units: ['u2'], reason: 'Route 53 is back' });
      rerunCalls = w.world.emulator.calls.slice(from);
    }, 180_000);

    afterAll(() => r53?.remove());

    it('promotes, then fails at DNS after bounded retries, and reports where it stopped and why', () => {
      // Assess: the databases and the secret were promoted (preflight's Route 53 checks are warnings), the record not
      expect(failed.status).toBe('FAILED');
      expect(failed.error?.name).toBe('FailoverIncompleteError');
      const unit = report?.units.find((u) => u.unit === 'u2');
      expect(unit?.status).toBe('failed');
      expect(unit?.stoppedAt).toBe('updateDns');
      expect(unit?.failure?.error).toBe('TransientAwsError');
      expect(unit?.failure?.cause).toMatch(/ListResourceRecordSets|ChangeResourceRecordSets/);
      expect(unit?.failure?.cause).toContain('ServiceUnavailable');
      expect(stepStatuses(report, 'u2')).toMatchObject({
        promoteSecret: 'changed',
        promoteDatabase: 'changed',
        updateDns: 'failed',
        attachRotation: 'not-reached',
        verifyConnectivity: 'not-reached',
      });
      expect(
        report?.preflight?.warnings.some((w) => w.includes('Route 53 control plane did not answer')),
      ).toBe(true);
      expect(applied(failedCalls, 'ChangeResourceRecordSets')).toEqual([]);
      expect(cnameAfterFailure).toBe(w.world.units.get('u2')?.primaryEndpoint);
      // Bounded: the SDK's 3 attempts per invocation; the first invocation and the retries of the state machine's
      // transient policy (statemachine/steps.ts TRANSIENT_RETRY: about a minute in AWS).
      const route53 = failedCalls.filter((c) => c.service === 'route53');
      const atDns = route53.filter(
        (c) => c.action === 'ListResourceRecordSets' || c.action === 'ChangeResourceRecordSets',
      );
      expect(atDns.length).toBe(3 * (1 + (TRANSIENT_RETRY.maxAttempts ?? 0)));
      expect(route53.every((c) => c.fault === 'unavailable')).toBe(true);
      expect(failedCalls.filter((c) => c.region === w.plan.primaryRegion)).toEqual([]);
      console.log(
        `Route 53 down: run failed after ${(failed.wallMs / 1000).toFixed(1)} s (time factor 0.02), ` +
          `${route53.length} Route 53 calls refused (${atDns.length} at the DNS step); report: ${report?.summary}`,
      );
    });

    it('converges when Route 53 is back: the re-run moves the record and changes nothing else', async () => {
      // Act
      const facts = await unitFacts(w.world, ['u2']);
      // Assess
      expect(rerun.status, JSON.stringify(rerun.error)).toBe('SUCCEEDED');
      expect(stepStatuses(rerun.output as RunReport, 'u2')).toMatchObject({
        promoteSecret: 'already-done',
        promoteDatabase: 'already-done',
        updateDns: 'changed',
        attachRotation: 'changed',
      });
      expect(facts.filter((f) => !f.ok)).toEqual([]);
      expect(
        rerunCalls
          .filter(
            (c) =>
              c.mutating &&
              c.applied &&
              c.service !== 'dynamodb' &&
              c.service !== 's3' &&
              c.service !== 'sns' &&
              // the report's RecoveryTimeSeconds metric, published on every run
              c.service !== 'cloudwatch',
          )
          .map((c) => c.action)
          .sort(),
      ).toEqual(['ChangeResourceRecordSets', 'RotateSecret']);
      expect(rerunCalls.filter((c) => c.region === w.plan.primaryRegion)).toEqual([]);
      expect(w.promotions.get('u2-db-replica')).toBe(1);
    });
  });
});
