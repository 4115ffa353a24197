import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLIP_METRIC_NAME } from '../../functions/lib/dns/flip.js';
import type { FailoverPlan, UnitPlan } from '../../functions/lib/plan.js';
import { instanceDatabase } from '../../functions/lib/plan-names.js';
import type { RunReport } from '../../functions/lib/report/index.js';
import { loadPlanFile } from '../../infra/lifeboat-app.js';
import type { CallLogEntry, FaultHandle } from '../../local/emulator/types.js';
import type { RunResult, StepEvent } from '../../local/runner.js';
import { resolveVia } from '../../local/verify-facts.js';
import { applied, type EvidenceWorld, readReport, startWorld, stepStatuses, unitFacts } from './support.js';

/**
 * Issue 9, item 7: with Route 53's control plane down (it is served from us-east-1, the plan's primary Region;
 * docs/aws/route53-control-plane.md) and the primary Region down, a `health-check` unit fails over: lifeboat forces
 * its failover pair from the recovery Region (docs/design/dns-flip.md) and the DNS server answers the promoted
 * replica; a `cname` unit of the same run stops at DNS, as before. (A drill never forces the flip: its unit is a
 * simple CNAME copy, and forceDnsFlip refuses a drill: test/unit/dns-flip.test.ts.)
 */

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

const HEALTH_CHECK_PLAN = 'examples/plan-health-check.json';

/** The health-check example's unit as `h1`, and a cname copy of it as `c1`, in one plan. */
function mixedPlan(): FailoverPlan {
  const base = loadPlanFile(HEALTH_CHECK_PLAN);
  const template = base.units[0] as UnitPlan;
  const unit = (name: string, strategy: 'cname' | 'health-check'): UnitPlan => ({
    ...structuredClone(template),
    name,
    secret: { id: `${name}/db` },
    database: {
      ...instanceDatabase(template, 'this test'),
      primaryInstanceId: `${name}-db`,
      replicaInstanceId: `${name}-db-replica`,
    },
    dns: { ...template.dns, recordName: `${name}-db.internal.example.com`, strategy },
  });
  return { ...base, units: [unit('h1', 'health-check'), unit('c1', 'cname')] };
}

const flipPuts = (calls: readonly CallLogEntry[]) =>
  applied(calls, 'PutMetricData').filter((c) => c.resource === 'Lifeboat');

describe("a health-check unit with Route 53's control plane down", () => {
  let w: EvidenceWorld;
  let down: FaultHandle[] = [];
  let run: RunResult;
  let calls: CallLogEntry[];
  let report: RunReport | undefined;
  let answer: { cname?: string; addresses: string[] };
  let rerun: RunResult;
  let rerunCalls: CallLogEntry[];

  beforeAll(async () => {
    const t0 = Date.now();
    const mark = (what: string) =>
      console.log(`[dns-flip evidence] ${what} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    w = await startWorld(mixedPlan());
    mark('world started');
    let from = w.world.emulator.calls.length;
    // Prepare: us-east-1 is down, and with it Route 53's control plane.
    down = [w.world.emulator.faults.regionDown(w.plan.primaryRegion), w.world.emulator.faults.route53Down()];
    from = w.world.emulator.calls.length;
    // Act
    const steps: string[] = [];
    const onStep = (e: StepEvent) =>
      steps.push(`${(e.atMs / 1000).toFixed(1)}s ${e.unit ?? '-'} ${e.step} ${e.phase} ${e.result ?? ''}`);
    run = await w.run(
      'us-east-1-down',
      { trigger: 'cli', reason: 'us-east-1 down with Route 53' },
      { onStep, timeoutMs: 300_000 },
    );
    if (run.status !== 'FAILED') console.log(steps.join('\n'));
    calls = w.world.emulator.calls.slice(from);
    report = await readReport(w.world, run, 'us-east-1-down');
    mark(`failover ${run.status}`);
    answer = await resolveVia(w.world.dns.endpoint, 'h1-db.internal.example.com');
    from = w.world.emulator.calls.length;
    rerun = await w.run('us-east-1-still-down', { units: ['h1'], trigger: 'cli' }, { timeoutMs: 300_000 });
    rerunCalls = w.world.emulator.calls.slice(from);
    mark(`re-run ${rerun.status}`);
  }, 900_000);

  afterAll(async () => {
    for (const fault of down) fault.remove();
    await w?.close();
  });

  it('fails the health-check unit over: the DNS server answers the promoted replica', async () => {
    // Act
    const facts = await unitFacts(w.world, ['h1']);
    const h1 = w.world.units.get('h1');

    // Assess
    expect(report?.units.find((u) => u.unit === 'h1')?.status).toBe('succeeded');
    expect(stepStatuses(report, 'h1')).toMatchObject({
      promoteSecret: 'changed',
      promoteDatabase: 'changed',
      updateDns: 'changed',
      verifyConnectivity: 'changed',
    });
    expect(answer.cname).toBe(h1?.replicaEndpoint);
    expect(answer.addresses).toEqual([h1?.replica.address]);
    expect(facts.filter((f) => !f.ok)).toEqual([]);
  });

  it('forced the flip with one PutMetricData in the recovery Region, and no Route 53 call took effect', () => {
    // Assess
    const puts = flipPuts(calls).filter((c) => c.region === w.plan.recoveryRegion);
    // The report's RecoveryTimeSeconds is in the same namespace: one flip, one report metric.
    expect(puts).toHaveLength(2);
    expect(calls.filter((c) => c.service === 'route53' && c.applied)).toEqual([]);
    expect(calls.filter((c) => c.service === 'route53').every((c) => c.fault === 'unavailable')).toBe(true);
    expect(calls.filter((c) => c.region === w.plan.primaryRegion && c.fault === undefined)).toEqual([]);
    expect(
      calls
        .filter((c) => c.service === 'cloudwatch' && c.action === 'DescribeAlarms')
        .every((c) => c.applied),
    ).toBe(true);
    expect(FLIP_METRIC_NAME).toBe('DnsFailoverForced');
  });

  it('stops the cname unit of the same run at DNS, as before, and says why', () => {
    // Assess
    expect(run.status).toBe('FAILED');
    const c1 = report?.units.find((u) => u.unit === 'c1');
    expect(c1?.status).toBe('failed');
    expect(c1?.stoppedAt).toBe('updateDns');
    expect(c1?.failure?.error).toBe('TransientAwsError');
    expect(c1?.failure?.cause).toContain('ServiceUnavailable');
    expect(applied(calls, 'ChangeResourceRecordSets')).toEqual([]);
  });

  it('a re-run finds the flip forced and publishes nothing that could contradict it', () => {
    // Assess
    expect(rerun.status, JSON.stringify(rerun.error)).toBe('SUCCEEDED');
    expect(stepStatuses(rerun.output as RunReport, 'h1')).toMatchObject({
      promoteSecret: 'already-done',
      promoteDatabase: 'already-done',
      updateDns: 'already-done',
    });
    // Only the report's own metric: no DnsFailoverForced datapoint.
    expect(flipPuts(rerunCalls)).toHaveLength(1);
    expect(w.promotions.get('h1-db-replica')).toBe(1);
  });
});
