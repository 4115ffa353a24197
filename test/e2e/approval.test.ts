import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as lifeboat } from '../../cli/lifeboat.js';
import { clientsFor, resetClients } from '../../functions/lib/clients.js';
import { type ReadinessOutcome, runReadiness } from '../../functions/lib/readiness/run.js';
import { type RunReport, renderReportText } from '../../functions/lib/report/index.js';
import { loadPlanFile } from '../../infra/plan-file.js';
import { checkFacts } from '../../local/drill-command.js';
import { EMULATOR_USER } from '../../local/emulator/services/sts.js';
import { type ProvingGround, startProvingGround } from '../../local/proving-ground.js';
import { type RunResult, runExecution, type SynthesizedOrchestrator } from '../../local/runner.js';
import { loadOrSynthesize } from '../../local/synthesize.js';

/**
 * The operator's console on the proving ground (issue 12): a plan that holds alarm-started failovers for approval
 * (`approval.onAlarm`), its synthesized state machine and bundles, the emulated Step Functions and STS APIs. An
 * alarm-started run waits at "Ask for approval" with nothing changed; `lifeboat reject` ends one with its reason in the
 * report; `lifeboat approve` releases another, which fails over with every fact holding and reports who approved;
 * `lifeboat status` shows that failover and the free lock.
 */

const TIME_FACTOR = 0.02;
const PRODUCTION_SERVICES = new Set(['secretsmanager', 'rds', 'route53']);
const CALLER = `arn:aws:iam::123456789012:user/${EMULATOR_USER}`;

describe('approve and reject on the proving ground', () => {
  let dir: string;
  let planPath: string;
  let orchestrator: SynthesizedOrchestrator;
  let world: ProvingGround;

  beforeAll(async () => {
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-approval-'));
    planPath = join(dir, 'plan-approval.json');
    const document = JSON.parse(readFileSync('examples/plan.json', 'utf8')) as Record<string, unknown>;
    writeFileSync(
      planPath,
      JSON.stringify({ ...document, approval: { onAlarm: true, timeoutSeconds: 600 } }),
    );
    const plan = loadPlanFile(planPath);
    [orchestrator, world] = await Promise.all([
      loadOrSynthesize(planPath),
      startProvingGround({ plan, timeFactor: TIME_FACTOR }),
    ]);
    await world.provision(orchestrator);
    // What the deploy made: the state machine, whose definition carries the plan (the readiness function reads it).
    world.emulator.stepFunctions.registerStateMachine({
      stateMachineArn: `arn:aws:states:${plan.recoveryRegion}:${plan.account}:stateMachine:lifeboat-${plan.name}`,
      name: `lifeboat-${plan.name}`,
      definition: JSON.stringify(orchestrator.definition),
      creationDate: Date.now(),
    });
  }, 900_000);

  afterAll(async () => {
    await world?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Starts an alarm-started run in the background, registered with the emulated Step Functions API. */
  function alarmRun(name: string): { arn: string; done: Promise<RunResult> } {
    const done = runExecution(orchestrator, {
      input: { mode: 'failover', trigger: 'alarm', reason: 'orders-db-primary-down' },
      executionName: name,
      timeFactor: TIME_FACTOR,
      environment: world.environment(),
      stepFunctions: world.emulator.stepFunctions,
      timeoutMs: 240_000,
    });
    const { plan } = orchestrator;
    return {
      arn: `arn:aws:states:${plan.recoveryRegion}:${plan.account}:execution:lifeboat-${plan.name}:${name}`,
      done,
    };
  }

  /** Waits until the execution's history shows the approval request submitted. */
  async function waitingAt(arn: string): Promise<void> {
    for (let i = 0; i < 600; i++) {
      const history = world.emulator.stepFunctions.execution(arn)?.history ?? [];
      if (history.some((e) => e.type === 'TaskSubmitted')) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${arn} never reached the approval gate`);
  }

  /** The lifeboat command in-process, against the emulator, as an operator runs it. */
  async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await lifeboat([...argv, '--endpoint', world.emulator.endpoint], {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      stdin: { isTTY: false },
      env: { ...process.env, ...world.environment() },
    });
    return { code, out, err };
  }

  const reportBucket = () =>
    orchestrator.steps.find((s) => s.step === 'report')?.environment.REPORT_BUCKET_NAME ?? '';

  /** One readiness evaluation against the world, as the scheduled function runs it (its pings are unit-tested). */
  async function evaluateReadiness(): Promise<ReadinessOutcome> {
    Object.assign(process.env, world.environment());
    resetClients();
    const { plan } = orchestrator;
    return runReadiness(clientsFor(plan.recoveryRegion), {
      stateMachineArn: `arn:aws:states:${plan.recoveryRegion}:${plan.account}:stateMachine:lifeboat-${plan.name}`,
      reportBucket: reportBucket(),
      warmTargets: [],
    });
  }

  it('readiness before any run: the plan read from the deployed state machine, every check of the unit ready', async () => {
    // Act
    const { evaluation, metrics } = await evaluateReadiness();
    const status = await cli(['status', '--plan', planPath, '--bucket', reportBucket()]);

    // Assess
    expect(evaluation.units.map((u) => [u.unit, u.ready, u.checks])).toEqual([
      [
        'orders',
        true,
        {
          secret: { ready: true, problems: [] },
          rotation: { ready: true, problems: [] },
          database: { ready: true, problems: [] },
          dns: { ready: true, problems: [] },
        },
      ],
    ]);
    expect(evaluation.ready).toBe(true);
    // 7 per unit and 2 per plan, less the secret's replication status, which the replica side does not report here
    // (docs/design/readiness.md, "Metrics": no datapoint rather than a guess).
    expect(evaluation.units[0]?.secretReplicationStatus).toBeNull();
    expect(metrics).toBe(8);
    expect(status.code, status.err).toBe(0);
    expect(status.out).toContain('readiness: READY');
    expect(status.out).toMatch(/orders\s+ok\s+ok\s+ok\s+ok/);
    expect(mutations()).toEqual([]);
  }, 120_000);

  const mutations = () =>
    world.emulator.calls.filter((c) => c.mutating && c.applied && PRODUCTION_SERVICES.has(c.service));

  it('an alarm-started run waits for approval with nothing changed; reject ends it, the reason in the report', async () => {
    // Prepare
    const { arn, done } = alarmRun('alarm-rejected');
    await waitingAt(arn);
    expect(mutations()).toEqual([]);

    // Act
    const rejected = await cli(['reject', arn, '--yes', '--reason', 'the primary is back']);
    const result = await done;

    // Assess
    expect(rejected.err).not.toContain('lifeboat reject:');
    expect(rejected.code).toBe(0);
    expect(result.status).toBe('FAILED');
    expect(mutations()).toEqual([]);
    const report = (await cli(['report', arn, '--json'])).out;
    const parsed = JSON.parse(report) as RunReport;
    expect(parsed.failure).toMatchObject({ stage: 'approval', error: 'ApprovalRejectedError' });
    expect(parsed.approval).toEqual({
      decision: 'rejected',
      by: CALLER,
      at: expect.any(String),
      reason: 'the primary is back',
    });
    expect(renderReportText(parsed)).toContain(`approval: REJECTED by ${CALLER} at `);
  }, 300_000);

  it('approve releases a waiting run: it fails over, every fact holds, and the report shows who approved', async () => {
    // Prepare
    const { arn, done } = alarmRun('alarm-approved');
    await waitingAt(arn);
    const asked = world.emulator.stepFunctions
      .execution(arn)
      ?.history.find((e) => e.type === 'TaskScheduled');
    expect(JSON.stringify(asked)).toContain('taskToken');
    expect(mutations()).toEqual([]);

    // Act
    const approved = await cli(['approve', arn, '--yes']);
    const result = await done;

    // Assess
    expect(approved.code, approved.err).toBe(0);
    expect(approved.out).toContain(`approved by ${CALLER}`);
    expect(approved.out + approved.err).not.toMatch(/local-task-token-/);
    expect(result.error, JSON.stringify(result.error)).toBeUndefined();
    expect(result.status).toBe('SUCCEEDED');
    const report = result.output as RunReport;
    expect(report.trigger).toBe('alarm');
    expect(report.approval).toEqual({ decision: 'approved', by: CALLER, at: expect.any(String) });
    expect(renderReportText(report)).toContain(`approval: approved by ${CALLER} at `);
    const facts = await checkFacts(world);
    expect(facts.filter((f) => !f.ok)).toEqual([]);

    // And lifeboat status shows it, with the lock free.
    const lockTable =
      orchestrator.steps.find((s) => s.step === 'acquireLock')?.environment.LOCK_TABLE_NAME ?? '';
    const status = await cli(['status', '--plan', planPath, '--lock-table', lockTable]);
    expect(status.err).toBe('');
    expect(status.out).toContain(`last failover: alarm-approved SUCCEEDED`);
    expect(status.out).toContain(`approved by ${CALLER}`);
    expect(status.out).toContain('lock:          free');
  }, 300_000);

  it('readiness after the failover: not ready, and status says why (the replica and the secret are promoted)', async () => {
    // Act
    const { evaluation } = await evaluateReadiness();
    const status = await cli(['status', '--plan', planPath, '--bucket', reportBucket()]);

    // Assess
    expect(evaluation.ready).toBe(false);
    const orders = evaluation.units[0];
    expect(orders?.checks.database.problems.map((p) => p.check)).toContain('database.replica-source');
    expect(orders?.checks.secret.problems.map((p) => p.check)).toContain('secret.replica');
    expect(status.code).toBe(1);
    expect(status.out).toContain('readiness: NOT READY');
    expect(status.out).toContain('database.replica-source:');
  }, 120_000);
});
