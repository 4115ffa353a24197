import { describe, expect, it } from 'vitest';
import { loadPlanFile } from '../../infra/lifeboat-app.js';
import { runIdFor } from '../../local/drill-command.js';
import { DrillProgress } from '../../local/drill-progress.js';
import type { StepEvent, SynthesizedOrchestrator } from '../../local/runner.js';
import { rebindPlan } from '../../local/synthesize.js';

/**
 * What `npm run drill` prints while it runs (local/drill-progress.ts), how it names its runs, and how an `--endpoint`
 * run reuses the synthesis of the plan file (local/synthesize.ts, rebindPlan). No server: events and objects only.
 */

function start(step: StepEvent['step'], atMs: number, unit = 'orders'): StepEvent {
  return { phase: 'start', step, unit, atMs };
}

function end(step: StepEvent['step'], atMs: number, result: string, poll?: StepEvent['poll']): StepEvent {
  return { phase: 'end', step, unit: 'orders', atMs, durationMs: 10, result, ...(poll ? { poll } : {}) };
}

describe('the drill progress', () => {
  it('collapses polls as lifeboat watch does: a start, one line per status change, one end with the count', () => {
    // Prepare
    const statuses = ['modifying', 'modifying', 'modifying', 'rebooting', 'rebooting', 'rebooting'];
    const events: StepEvent[] = [start('promoteDatabase', 0), end('promoteDatabase', 100, 'changed')];
    statuses.forEach((status, i) => {
      events.push(start('checkDatabasePromotion', 200 + i * 100));
      events.push(end('checkDatabasePromotion', 250 + i * 100, status, { status, done: false }));
    });
    events.push(start('checkDatabasePromotion', 900));
    events.push(end('checkDatabasePromotion', 950, 'available (done)', { status: 'available', done: true }));
    const progress = new DrillProgress();

    // Act
    const lines = events.map((e) => progress.line(e)).filter((l): l is string => l !== undefined);

    // Assess
    expect(lines).toEqual([
      '  0.00s  orders     >  promoteDatabase',
      '  0.10s  orders     ok promoteDatabase changed (0.01s)',
      '  0.20s  orders     >  checkDatabasePromotion',
      '  0.25s  orders     .. checkDatabasePromotion modifying (poll 1)',
      '  0.55s  orders     .. checkDatabasePromotion rebooting (poll 4)',
      '  0.95s  orders     ok checkDatabasePromotion available after 7 polls (0.71s)',
    ]);
  });

  it('says "1 poll", counts each unit apart, and shows every failed poll', () => {
    // Prepare
    const progress = new DrillProgress();
    const other = (e: StepEvent): StepEvent => ({ ...e, unit: 'billing' });

    // Act
    const lines = [
      progress.line(start('checkDnsChange', 0)),
      progress.line(other(start('checkDnsChange', 0))),
      progress.line({ ...end('checkDnsChange', 50, 'x'), phase: 'error', result: 'TransientAwsError' }),
      progress.line({
        ...other(end('checkDnsChange', 60, 'PENDING', { status: 'PENDING', done: false })),
        durationMs: 60,
      }),
      progress.line(start('checkDnsChange', 70)),
      progress.line(end('checkDnsChange', 80, 'INSYNC (done)', { status: 'INSYNC', done: true })),
      progress.line(other(start('checkDnsChange', 90))),
      progress.line(other(end('checkDnsChange', 100, 'INSYNC (done)', { status: 'INSYNC', done: true }))),
    ];

    // Assess
    expect(lines).toEqual([
      '  0.00s  orders     >  checkDnsChange',
      '  0.00s  billing    >  checkDnsChange',
      '  0.05s  orders     !! checkDnsChange TransientAwsError (0.01s)',
      '  0.06s  billing    .. checkDnsChange PENDING (poll 1)',
      '  0.07s  orders     >  checkDnsChange',
      '  0.08s  orders     ok checkDnsChange INSYNC after 1 poll (0.01s)',
      undefined,
      '  0.10s  billing    ok checkDnsChange INSYNC after 2 polls (0.10s)',
    ]);
  });

  it('prints a step without a result without a double space', () => {
    // Act
    const line = new DrillProgress().line({ phase: 'end', step: 'loadPlan', atMs: 1280, durationMs: 520 });

    // Assess
    expect(line).toBe('  1.28s  -          ok loadPlan (0.52s)');
  });
});

describe('run ids of local runs', () => {
  it('say what ran: a failover is never named like a drill', () => {
    // Prepare
    const at = new Date('2030-05-01T10:00:00.000Z');

    // Act
    const ids = ['failover', 'dry-run', 'drill', 'endpoint-failover', 'replicator'].map((k) =>
      runIdFor(k, at),
    );

    // Assess
    expect(ids).toEqual([
      'failover-20300501100000',
      'dry-run-20300501100000',
      'drill-20300501100000',
      'endpoint-failover-20300501100000',
      'replicator-20300501100000',
    ]);
  });
});

describe('rebindPlan (an --endpoint run on the synthesis of the plan file)', () => {
  const plan = loadPlanFile('examples/plan.json');
  const unit = plan.units[0];
  if (!unit) throw new Error('examples/plan.json has no unit');
  const synthesized = (): SynthesizedOrchestrator => ({
    plan: structuredClone(plan),
    stackName: 'Lifeboat-orders-dr',
    definition: {
      StartAt: 'Take the deployed plan',
      States: {
        'Take the deployed plan': { Type: 'Pass', Result: { plan: structuredClone(plan) }, End: true },
      },
    } as unknown as SynthesizedOrchestrator['definition'],
    steps: [],
    resources: [],
  });
  const served = structuredClone(plan);
  const servedUnit = served.units[0];
  if (!servedUnit) throw new Error('no unit');
  servedUnit.dns.hostedZoneId = 'Z9SERVERISSUED00001';

  it("runs the server's zone id: in the plan and in the definition's deployed plan", () => {
    // Act
    const bound = rebindPlan(synthesized(), served);

    // Assess
    expect(bound.plan.units[0]?.dns.hostedZoneId).toBe('Z9SERVERISSUED00001');
    const deployed = (
      bound.definition as unknown as { States: Record<string, { Result: { plan: unknown } }> }
    ).States['Take the deployed plan']?.Result.plan;
    expect(deployed).toEqual(served);
    expect(JSON.stringify(bound)).not.toContain(unit.dns.hostedZoneId);
  });

  it('refuses a plan that differs in more than server-issued identifiers', () => {
    // Prepare
    const other = structuredClone(served);
    other.targetRtoSeconds += 60;

    // Act / Assess
    expect(() => rebindPlan(synthesized(), other)).toThrow(/differ in more than/);
  });

  it('refuses when the old zone id is used outside the deployed plan (the synthesis would differ)', () => {
    // Prepare
    const orchestrator = synthesized();
    orchestrator.steps.push({
      step: 'updateDns',
      logicalId: 'UpdateDns',
      arn: 'arn:aws:lambda:us-west-2:123456789012:function:UpdateDns',
      bundle: '/nowhere/index.mjs',
      environment: { ZONE: unit.dns.hostedZoneId },
    });

    // Act / Assess
    expect(() => rebindPlan(orchestrator, served)).toThrow(/outside its deployed plan/);
  });
});
