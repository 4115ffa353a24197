import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunReport, renderReportText } from '../../functions/lib/report/index.js';
import { loadPlanFile } from '../../infra/lifeboat-app.js';
import { checkFacts } from '../../local/drill-command.js';
import { type ProvingGround, startProvingGround } from '../../local/proving-ground.js';
import { type RunResult, runExecution, type SynthesizedOrchestrator } from '../../local/runner.js';
import { loadOrSynthesize } from '../../local/synthesize.js';

/**
 * End to end on the local proving ground: the synthesized state machine, the bundled handlers, the emulator, a real
 * PostgreSQL primary and streaming replica, and a real DNS server.
 */

const PLAN_PATH = 'examples/plan.json';
const PASSWORD = `marker-${Math.random().toString(36).slice(2)}-never-logged`;
const PRODUCTION_SERVICES = new Set(['secretsmanager', 'rds', 'route53']);

describe('a failover through the proving ground', () => {
  let orchestrator: SynthesizedOrchestrator;
  let world: ProvingGround;
  let first: RunResult;
  let logged = '';
  const originalWrite = process.stdout.write.bind(process.stdout);

  beforeAll(async () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
    [orchestrator, world] = await Promise.all([
      loadOrSynthesize(PLAN_PATH),
      startProvingGround({ plan: loadPlanFile(PLAN_PATH), timeFactor: 0.02, password: PASSWORD }),
    ]);
    await world.provision(orchestrator);
    // Capture every log line the step handlers write during the run.
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      logged += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      return (originalWrite as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stdout.write;
    first = await runExecution(orchestrator, {
      input: { Comment: 'Insert your JSON here' },
      executionName: 'e2e-failover-1',
      timeFactor: 0.02,
      environment: world.environment(),
    });
  }, 180_000);

  afterAll(async () => {
    process.stdout.write = originalWrite;
    await world?.close();
  });

  it('succeeds from the console default input and reports every unit verified', () => {
    // Assess
    expect(first.error, JSON.stringify(first.error)).toBeUndefined();
    expect(first.status).toBe('SUCCEEDED');
    const report = first.output as RunReport;
    expect(report.outcome).toBe('succeeded');
    expect(report.units.map((u) => [u.unit, u.status])).toEqual([['orders', 'succeeded']]);
    expect(report.recoveryTimeSeconds).toBeGreaterThan(0);
  });

  it('leaves a writable replica with the primary rows, the CNAME on it, the secret standalone and rotation attached', async () => {
    // Act
    const facts = await checkFacts(world);
    // Assess
    expect(facts.filter((f) => !f.ok)).toEqual([]);
    expect(facts.map((f) => f.fact)).toEqual([
      'orders: replica is writable',
      "orders: replica holds the primary's rows",
      'orders: CNAME resolves to the promoted instance',
      'orders: secret is standalone',
      'orders: rotation attached, not rotated',
    ]);
  });

  it('made each production change exactly once, and no call to the primary Region after loading', () => {
    // Assess
    const mutating = world.emulator.calls.filter((c) => c.mutating && PRODUCTION_SERVICES.has(c.service));
    const actions = mutating.filter((c) => c.applied).map((c) => c.action);
    expect(actions.filter((a) => a === 'StopReplicationToReplica')).toHaveLength(1);
    expect(actions.filter((a) => a === 'PromoteReadReplica')).toHaveLength(1);
    expect(actions.filter((a) => a === 'ChangeResourceRecordSets')).toHaveLength(1);
    expect(actions.filter((a) => a === 'RotateSecret')).toHaveLength(1);
    expect(world.emulator.calls.filter((c) => c.region === 'us-east-1')).toEqual([]);
  });

  it('never lets the password reach the output, the report, SNS, S3 or the logs', () => {
    // Assess
    expect(logged.length).toBeGreaterThan(0);
    expect(logged).not.toContain(PASSWORD);
    expect(JSON.stringify(first.output)).not.toContain(PASSWORD);
    for (const message of world.emulator.sns.messages) expect(message.message).not.toContain(PASSWORD);
  });

  it('changes nothing in production when run again', async () => {
    // Prepare
    world.emulator.clearCalls();
    // Act
    const second = await runExecution(orchestrator, {
      input: {},
      executionName: 'e2e-failover-2',
      timeFactor: 0.02,
      environment: world.environment(),
    });
    // Assess
    expect(second.status).toBe('SUCCEEDED');
    const report = second.output as RunReport;
    const outcomes = report.units[0]?.steps.map((s) => [s.step, s.status]);
    expect(outcomes).toEqual(
      expect.arrayContaining([
        ['promoteSecret', 'already-done'],
        ['promoteDatabase', 'already-done'],
        ['updateDns', 'already-done'],
        ['attachRotation', 'already-done'],
      ]),
    );
    // The identical UPSERT that gave the re-run a change id to wait for changed no value: the report says so.
    expect(report.units[0]?.dns?.alreadyInPlace).toBe(true);
    const text = renderReportText(report);
    expect(text).toContain(
      '  DNS orders-db.internal.example.com: already in place (its value did not change)',
    );
    expect(text).not.toContain('changed at');
    // The one write: Route 53's identical UPSERT (functions/lib/dns/update.ts, updateDns), which changes no value.
    const mutating = world.emulator.calls.filter((c) => c.mutating && PRODUCTION_SERVICES.has(c.service));
    expect(mutating.map((c) => c.action)).toEqual(['ChangeResourceRecordSets']);
  });
});
