import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAMBDA_NOT_READY_ERROR_NAMES } from '../../functions/lib/errors.js';
import type { RunReport } from '../../functions/lib/report/index.js';
import type { CallLogEntry } from '../../local/emulator/types.js';
import type { InvokeFault } from '../../local/invoke-faults.js';
import type { RunResult, StepEvent } from '../../local/runner.js';
import { IDLE_FUNCTION_RETRY } from '../../statemachine/steps.js';
import {
  applied,
  type EvidenceWorld,
  MUTATING_STEPS,
  plannedUnits,
  productionMutations,
  STEP_ACTIONS,
  startWorld,
  stepStatuses,
  unitFacts,
} from './support.js';

/**
 * Idle functions (issue 9, item 1; docs/aws/lambda-inactive-functions.md). A DR tool's functions sit idle for weeks,
 * long enough for Lambda to make a VPC function Inactive: the first invocation of each fails with
 * `Lambda.ResourceNotReadyException` and starts a re-activation, during which every invocation is refused, and ENI
 * creation may be throttled or hit a limit. That first invocation is the real failover. Every Task retries these
 * (statemachine/steps.ts IDLE_FUNCTION_RETRY, 362 s without jitter) and the failover still succeeds.
 *
 * One world of three units: `u1` and `u2` fail over together with every function Inactive (the first invocation of
 * every step refused, then refused for a minute of emulated time while it re-activates); `u3` with the ENI creation
 * of three steps throttled or at its limit for their first invocations.
 */

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

/** A minute of re-activation: 1.2 s at the suite's time factor, a sixth of the retrier's budget. */
const ACTIVATION_SECONDS = 60;

interface HistoryEvent {
  type: string;
  state?: { name: string };
  Error?: string;
  retry?: { retrier: { ErrorEquals: string[] }; attempt: number };
}

interface Observed {
  result: RunResult;
  calls: CallLogEntry[];
  steps: StepEvent[];
  history: HistoryEvent[];
}

async function observe(
  w: EvidenceWorld,
  name: string,
  units: string[],
  invokeFaults: InvokeFault[],
): Promise<Observed> {
  const steps: StepEvent[] = [];
  const history: HistoryEvent[] = [];
  const from = w.world.emulator.calls.length;
  const result = await w.run(
    name,
    { units, trigger: 'cli', reason: 'idle functions' },
    {
      invokeFaults,
      // Every step waits out its function's re-activation, one after another: longer than a plain run.
      timeoutMs: 300_000,
      onStep: (e) => steps.push(e),
      onEvent: (e) => history.push(e as HistoryEvent),
    },
  );
  return { result, calls: w.world.emulator.calls.slice(from), steps, history };
}

/** One line for the evidence report: how the run went and what Lambda refused. */
function summary(name: string, o: Observed | undefined): string {
  if (!o) return `${name}: did not run`;
  const refusedSteps = new Set(o.result.refusals.map((r) => r.step));
  const errors = [...new Set(o.result.refusals.map((r) => r.error))].join(', ');
  const retried = o.history.filter((e) => e.type === 'StateRetried').length;
  return (
    `${name}: ${o.result.status} in ${(o.result.wallMs / 1000).toFixed(1)} s; ${o.result.refusals.length} ` +
    `invocations refused on ${refusedSteps.size} steps (${errors}), ${retried} retries in the history, ` +
    `${o.result.invocations} handler runs`
  );
}

let w: EvidenceWorld;

// Synthesis with bundling (when the code changed) and three PostgreSQL pairs: minutes on a busy machine.
beforeAll(async () => {
  w = await startWorld(plannedUnits(3));
}, 400_000);

afterAll(async () => {
  await w?.close();
});

describe('every function Inactive after weeks idle', () => {
  const units = ['u1', 'u2'];
  let o: Observed;

  beforeAll(async () => {
    o = await observe(w, 'idle-inactive', units, [
      { error: 'Lambda.ResourceNotReadyException', activationSeconds: ACTIVATION_SECONDS },
    ]);
  }, 400_000);

  afterAll(() => console.log(summary('every function Inactive', o)));

  it('fails both units over: the run succeeds and every fact holds', async () => {
    // Act
    const facts = await unitFacts(w.world, units);

    // Assess
    expect(o.result.status, JSON.stringify(o.result.error)).toBe('SUCCEEDED');
    const report = o.result.output as RunReport;
    expect(report.units.map((u) => [u.unit, u.status])).toEqual(units.map((u) => [u, 'succeeded']));
    for (const unit of units) {
      const statuses = stepStatuses(report, unit);
      for (const step of MUTATING_STEPS) expect(statuses[step], `${unit} ${step}`).toBe('changed');
    }
    expect(facts.filter((f) => !f.ok)).toEqual([]);
    expect(facts).toHaveLength(5 * units.length);
  });

  it('was refused on the first invocation of every step it ran, before the handler ran', () => {
    // Assess
    const ran = [...new Set(o.steps.filter((e) => e.phase === 'start').map((e) => e.step))];
    expect(ran).toEqual(
      expect.arrayContaining([
        'loadPlan',
        'preflight',
        'acquireLock',
        ...MUTATING_STEPS,
        'report',
        'releaseLock',
      ]),
    );
    for (const step of ran) {
      const first = o.steps.find((e) => e.step === step);
      expect(first, step).toMatchObject({ phase: 'error', result: 'Lambda.ResourceNotReadyException' });
    }
    // Refused also while re-activating, so most steps needed several retries.
    expect(o.result.refusals.length).toBeGreaterThan(2 * ran.length);
    expect(new Set(o.result.refusals.map((r) => r.step))).toEqual(new Set(ran));
  });

  it('shows the retries in the execution history: each by the idle-function retrier, within its budget', () => {
    // Assess
    const failed = o.history.filter((e) => e.type === 'StateFailed');
    const retried = o.history.filter((e) => e.type === 'StateRetried');
    expect(failed.filter((e) => e.Error === 'Lambda.ResourceNotReadyException')).toHaveLength(
      o.result.refusals.length,
    );
    expect(retried).toHaveLength(o.result.refusals.length);
    for (const event of retried) {
      expect(event.retry?.retrier.ErrorEquals).toEqual([...LAMBDA_NOT_READY_ERROR_NAMES]);
      expect(event.retry?.attempt).toBeLessThanOrEqual(IDLE_FUNCTION_RETRY.maxAttempts ?? 0);
    }
    // The Task states of the run, each retried at least once.
    const taskStates = new Set(retried.map((e) => e.state?.name));
    expect(taskStates.size).toBeGreaterThanOrEqual(12);
  });

  it('made each production change once, and nothing while the functions were refused', () => {
    // Assess
    for (const step of MUTATING_STEPS) {
      if (step === 'updateDns') continue;
      expect(applied(o.calls, STEP_ACTIONS[step]), step).toHaveLength(units.length);
    }
    // The units' record changes go out as one batch per zone for the units that are ready (functions/lib/dns/shared.ts):
    // at most one applied change per unit, fewer when a batch carried several; each record is checked by the facts.
    const batches = applied(o.calls, STEP_ACTIONS.updateDns).length;
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(batches).toBeLessThanOrEqual(units.length);
    for (const unit of units) expect(w.promotions.get(`${unit}-db-replica`)).toBe(1);
    expect(productionMutations(o.calls).filter((c) => c.applied)).toHaveLength(
      (MUTATING_STEPS.length - 1) * units.length + batches,
    );
  });
});

describe('ENI creation throttled and at its limit', () => {
  let o: Observed;

  beforeAll(async () => {
    o = await observe(
      w,
      'idle-eni',
      ['u3'],
      [
        {
          error: 'Lambda.EC2ThrottledException',
          steps: ['promoteDatabase', 'verifyConnectivity'],
          invocations: 3,
        },
        { error: 'Lambda.ENILimitReachedException', steps: ['updateDns'], invocations: 2 },
      ],
    );
  }, 400_000);

  afterAll(() => console.log(summary('ENI creation throttled and at its limit', o)));

  it('fails the unit over once the ENIs are created, and the facts hold', async () => {
    // Act
    const facts = await unitFacts(w.world, ['u3']);

    // Assess
    expect(o.result.status, JSON.stringify(o.result.error)).toBe('SUCCEEDED');
    expect(stepStatuses(o.result.output as RunReport, 'u3')).toMatchObject({
      promoteDatabase: 'changed',
      updateDns: 'changed',
      verifyConnectivity: 'changed',
    });
    expect(facts.filter((f) => !f.ok)).toEqual([]);
    expect(facts).toHaveLength(5);
  });

  it('retried exactly the refused invocations, by the idle-function retrier', () => {
    // Assess
    expect(o.result.refusals.map((r) => `${r.step} ${r.error}`)).toEqual(
      expect.arrayContaining([
        'promoteDatabase Lambda.EC2ThrottledException',
        'updateDns Lambda.ENILimitReachedException',
        'verifyConnectivity Lambda.EC2ThrottledException',
      ]),
    );
    expect(o.result.refusals).toHaveLength(3 + 2 + 3);
    const retried = o.history.filter((e) => e.type === 'StateRetried');
    expect(
      retried.filter((e) => e.retry?.retrier.ErrorEquals.includes('Lambda.EC2ThrottledException')),
    ).toHaveLength(8);
    expect(w.promotions.get('u3-db-replica')).toBe(1);
  });
});
