import { describe, expect, it } from 'vitest';
import { drillNames } from '../../functions/lib/drill.js';
import { POLL_TIMEOUT_ERRORS, RUN_FAILURE_ERRORS } from '../../functions/lib/errors.js';
import { parsePlan, type UnitPlan } from '../../functions/lib/plan.js';
import { instanceDatabase } from '../../functions/lib/plan-names.js';
import { STATE_NAMES as N } from '../../statemachine/failover.js';
import { POLL_LOOPS } from '../../statemachine/steps.js';
import { fakeLockTable } from '../helpers/fake-lock-table.js';
import {
  callsOf,
  cleanupResult,
  lambdaError,
  planWith,
  poll,
  prepareDrillResult,
  RUN_ID,
  runFlow,
  type Stub,
  statesCalled,
  stepResult,
} from '../helpers/flow-harness.js';

const DRILL = { mode: 'drill', trigger: 'schedule' };
const names = drillNames(RUN_ID, 'orders');

/** The failover steps a drill runs on the copies, and the drill's own steps around them. */
const FAILOVER_STEPS = [
  N.promoteSecret,
  N.promoteDatabase,
  N.checkDatabasePromotion,
  N.updateDns,
  N.checkDnsChange,
  N.settleRotation,
  N.verifyConnectivity,
  N.attachRotation,
];

/** Step results with times a second apart, so that the report's recovery time has something to measure. */
function timed(step: Parameters<typeof stepResult>[0], startSecond: number, endSecond: number): Stub {
  const base = Date.parse('2030-05-01T10:00:00.000Z');
  return (input) =>
    stepResult(step, input, {
      startedAt: new Date(base + startSecond * 1000).toISOString(),
      endedAt: new Date(base + endSecond * 1000).toISOString(),
      durationMs: (endSecond - startSecond) * 1000,
    });
}

describe('a drill, step by step', () => {
  it('makes the copies, waits for them, runs the same failover steps on them, then cleans up, under the lock', async () => {
    // Prepare
    const lock = fakeLockTable();
    let holderDuringUnit: string | undefined;
    const promote: Stub = (input) => {
      holderDuringUnit = lock.holderOf('orders-dr');
      return stepResult('promoteDatabase', input);
    };

    // Act
    const run = await runFlow({ input: DRILL, lock, stubs: { [N.promoteDatabase]: promote } });

    // Assess
    expect(run.status).toBe('succeeded');
    const all = statesCalled(run);
    expect(all.slice(0, 3)).toEqual([N.loadPlan, N.preflight, N.acquireLock]);
    expect(all.slice(-2)).toEqual([N.report, N.releaseLock]);
    const unit = statesCalled(run, 'orders');
    expect(unit[0]).toBe(N.prepareDrill);
    expect(unit[1]).toBe(N.checkDrillCopies);
    expect(new Set(unit.slice(2, -1))).toEqual(new Set(FAILOVER_STEPS));
    expect(unit.at(-1)).toBe(N.cleanUpDrill);
    expect(callsOf(run, N.summarizeUnit)).toHaveLength(1);
    expect(holderDuringUnit).toBe(RUN_ID);
    expect(lock.holderOf('orders-dr')).toBeUndefined();
  });

  it('hands the failover steps a unit whose secret, replica and record are the copies, never production', async () => {
    // Act
    const run = await runFlow({ input: DRILL });

    // Assess
    const production = parsePlan(planWith(1)).units[0] as UnitPlan;
    for (const state of [...FAILOVER_STEPS, N.checkDrillCopies]) {
      for (const call of callsOf(run, state)) {
        const unit = call.input.unit as UnitPlan;
        expect(unit.secret.id, state).toBe(names.secretName);
        expect(instanceDatabase(unit, 'this test').replicaInstanceId, state).toBe(names.instanceId);
        expect(unit.dns.recordName, state).toBe(`${names.instanceId}.internal.example.com`);
        expect(JSON.stringify(unit), state).not.toContain(
          instanceDatabase(production, 'this test').replicaInstanceId,
        );
        expect(JSON.stringify(unit), state).not.toContain(production.secret.id);
        expect(JSON.stringify(unit), state).not.toContain(production.dns.recordName);
      }
    }
    // Prepare gets the production unit (to copy it); cleanup gets the drill unit (it derives names from the run).
    expect(callsOf(run, N.prepareDrill)[0]?.input.unit).toEqual(production);
    expect(callsOf(run, N.cleanUpDrill)[0]?.input.unit).toMatchObject({
      name: 'orders',
      secret: { id: names.secretName },
    });
    expect(callsOf(run, N.cleanUpDrill)[0]?.input.attempt).toBe(1);
  });

  it('reports a drill: recovery time from the start of promotion to verified, the copies time apart, and the cleanup', async () => {
    // Prepare
    const stubs: Record<string, Stub> = {
      [N.prepareDrill]: (input) => {
        const base = Date.parse('2030-05-01T09:30:00.000Z');
        return prepareDrillResult(input, {
          startedAt: new Date(base).toISOString(),
          endedAt: new Date(base + 5000).toISOString(),
        });
      },
      [N.checkDrillCopies]: () => poll(true, { observedAt: '2030-05-01T09:59:00.000Z' }),
      [N.promoteSecret]: timed('promoteSecret', 0, 2),
      [N.promoteDatabase]: timed('promoteDatabase', 1, 3),
      [N.updateDns]: timed('updateDns', 60, 61),
      [N.verifyConnectivity]: timed('verifyConnectivity', 70, 95),
      [N.attachRotation]: timed('attachRotation', 95, 96),
    };

    // Act
    const run = await runFlow({ input: DRILL, stubs });

    // Assess
    const report = run.report;
    expect(report?.mode).toBe('drill');
    expect(report?.outcome).toBe('succeeded');
    const [unit] = report?.units ?? [];
    // 10:00:00 (first promotion) to 10:01:35 (verified): the 29 minutes of copying are not counted.
    expect(unit?.recoveryTimeSeconds).toBe(95);
    expect(report?.recoveryTimeSeconds).toBe(95);
    expect(report?.rtoMet).toBe(true);
    expect(unit?.drill?.copiesSeconds).toBe(29 * 60);
    expect(report?.drill?.copiesSeconds).toBe(29 * 60);
    expect(unit?.steps.map((s) => s.step)).toEqual([
      'prepareDrill',
      'waitForDrillCopies',
      'promoteSecret',
      'promoteDatabase',
      'waitForDatabasePromotion',
      'updateDns',
      'waitForDnsInSync',
      'settleRotation',
      'verifyConnectivity',
      'attachRotation',
      'cleanUpDrill',
    ]);
    expect(report?.drill?.cleanup).toBe('clean');
    expect(report?.drill?.cleanedUp).toHaveLength(4);
    expect(report?.summary).toMatch(
      /^Drill of orders-dr succeeded: 1 of 1 units recovered and verified on drill copies/,
    );
    expect(report?.summary).toContain('Making the copies took 29m 00s (not counted)');
    expect(report?.summary).toContain('every drill copy deleted (4)');
  });

  it('never runs the drill steps in a failover or a dry run', async () => {
    // Act
    const failover = await runFlow({ input: {} });
    const dryRun = await runFlow({ input: { mode: 'dry-run' } });

    // Assess
    for (const run of [failover, dryRun]) {
      for (const state of [N.prepareDrill, N.checkDrillCopies, N.cleanUpDrill]) {
        expect(callsOf(run, state)).toHaveLength(0);
      }
    }
  });
});

describe('cleanup always runs', () => {
  const failAt: [string, string][] = [
    [N.prepareDrill, 'AwsCallFailedError'],
    [N.checkDrillCopies, 'ConfigurationError'],
    [N.promoteSecret, 'AwsCallFailedError'],
    [N.promoteDatabase, 'ConfigurationError'],
    [N.checkDatabasePromotion, 'ConfigurationError'],
    [N.updateDns, 'AwsCallFailedError'],
    [N.checkDnsChange, 'ResourceMissingError'],
    [N.settleRotation, 'RotationBlockedError'],
    [N.verifyConnectivity, 'VerificationFailedError'],
    [N.attachRotation, 'RotationBlockedError'],
  ];

  it.each(failAt)(
    'cleans up after %s fails (%s), keeps that failure, and fails the run',
    async (state, error) => {
      // Act
      const run = await runFlow({
        plan: planWith(2),
        input: DRILL,
        stubs: {
          [state]: (input) => {
            if ((input.unit as UnitPlan).name === 'orders') throw lambdaError(error);
            return harnessDefault(state, input);
          },
        },
      });

      // Assess
      expect(run.status).toBe('failed');
      expect(run.error?.name).toBe(RUN_FAILURE_ERRORS.unitsFailed);
      const orders = statesCalled(run, 'orders');
      expect(orders.filter((s) => s === N.cleanUpDrill)).toHaveLength(1);
      expect(orders.indexOf(N.cleanUpDrill)).toBeGreaterThan(orders.indexOf(state));
      expect(orders.at(-1)).toBe(N.cleanUpDrill);
      // The other unit is not affected, and cleaned up too.
      expect(statesCalled(run, 'billing')).toContain(N.verifyConnectivity);
      expect(statesCalled(run, 'billing')).toContain(N.cleanUpDrill);
      const unit = run.report?.units.find((u) => u.unit === 'orders');
      expect(unit?.status).toBe('failed');
      expect(unit?.failure?.error).toBe(error);
      expect(unit?.drill?.cleanup).toBe('clean');
      expect(run.report?.drill?.cleanup).toBe('clean');
      expect(run.lock.holderOf('orders-dr')).toBeUndefined();
    },
  );

  it('cleans up when the copies are never ready, after the bounded polls', async () => {
    // Act
    const run = await runFlow({
      input: DRILL,
      stubs: { [N.checkDrillCopies]: () => poll(false, { status: 'creating/InProgress', waitSeconds: 30 }) },
    });

    // Assess
    expect(callsOf(run, N.checkDrillCopies)).toHaveLength(POLL_LOOPS.drillCopies.maxAttempts);
    expect(callsOf(run, N.promoteDatabase)).toHaveLength(0);
    expect(callsOf(run, N.cleanUpDrill)).toHaveLength(1);
    expect(run.report?.units[0]?.failure?.error).toBe(POLL_TIMEOUT_ERRORS.drillCopies);
    expect(run.report?.units[0]?.stoppedAt).toBe('waitForDrillCopies');
  });

  it('calls cleanup again while a copy is pending, then reports it clean', async () => {
    // Act
    const run = await runFlow({
      input: DRILL,
      stubs: {
        [N.cleanUpDrill]: (input, call) =>
          call.attempt < 3
            ? cleanupResult(input, { done: false, status: 'pending', waitSeconds: 10 })
            : cleanupResult(input),
      },
    });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(callsOf(run, N.cleanUpDrill).map((c) => c.input.attempt)).toEqual([1, 2, 3]);
    expect(run.report?.drill?.cleanup).toBe('clean');
  });

  it('fails a drill whose cleanup failed, naming what is left, but still reports the recovery time it measured', async () => {
    // Act
    const run = await runFlow({
      input: DRILL,
      stubs: {
        [N.cleanUpDrill]: () => Promise.reject(lambdaError('AwsCallFailedError', 'AccessDenied (stub)')),
      },
    });

    // Assess
    expect(run.status).toBe('failed');
    expect(run.error?.name).toBe(RUN_FAILURE_ERRORS.drillCleanupIncomplete);
    const [unit] = run.report?.units ?? [];
    expect(unit?.status).toBe('failed');
    expect(unit?.stoppedAt).toBe('cleanUpDrill');
    expect(unit?.failure).toMatchObject({ step: 'cleanUpDrill', error: 'AwsCallFailedError' });
    expect(unit?.recoveryTimeSeconds).not.toBeNull();
    expect(run.report?.recoveryTimeSeconds).not.toBeNull();
    expect(run.report?.drill?.cleanup).toBe('incomplete');
    expect(run.report?.summary).toContain('the cleanup did not finish');
    expect(run.lock.holderOf('orders-dr')).toBeUndefined();
  });

  it('keeps the unit failure when the cleanup fails too, and lists what was left behind', async () => {
    // Act
    const run = await runFlow({
      input: DRILL,
      stubs: {
        [N.promoteDatabase]: () => Promise.reject(lambdaError('ConfigurationError')),
        [N.cleanUpDrill]: (input) =>
          cleanupResult(input, {
            remaining: [
              {
                kind: 'db-instance',
                id: names.instanceId,
                region: 'us-west-2',
                status: 'refused',
                note: 'x',
              },
            ],
            status: 'refused-some',
          }),
      },
    });

    // Assess
    expect(run.error?.name).toBe(RUN_FAILURE_ERRORS.unitsFailed);
    const [unit] = run.report?.units ?? [];
    expect(unit?.failure?.error).toBe('ConfigurationError');
    expect(unit?.drill?.cleanup).toBe('incomplete');
    expect(run.report?.drill?.leftBehind.map((r) => r.id)).toEqual([names.instanceId]);
    expect(run.report?.summary).toContain('Cleanup INCOMPLETE');
  });
});

describe('a drill refuses to start', () => {
  it('while a failover holds the lock, making no copy', async () => {
    // Prepare
    const lock = fakeLockTable();
    lock.holdFor('orders-dr', 'failover-run');

    // Act
    const run = await runFlow({ input: DRILL, lock });

    // Assess
    expect(run.error?.name).toBe('FailoverInProgressError');
    expect(callsOf(run, N.prepareDrill)).toHaveLength(0);
    expect(callsOf(run, N.cleanUpDrill)).toHaveLength(0);
    expect(lock.holderOf('orders-dr')).toBe('failover-run');
    expect(run.report?.summary).toMatch(/^Drill of orders-dr stopped at lock: FailoverInProgressError/);
    expect(run.report?.summary).toContain('Nothing was changed');
  });

  it('when preflight finds the plan already failed over, making no copy', async () => {
    // Act
    const run = await runFlow({
      input: DRILL,
      stubs: {
        [N.preflight]: () => {
          throw lambdaError(
            'PreflightFailedError',
            'preflight found 1 problem(s); nothing was changed:\n  - orders: database.replica-source: orders-db-replica is not a read replica (a drill copies the live production replica: the plan looks failed over already, so the drill cannot run)',
          );
        },
      },
    });

    // Assess
    expect(run.error?.name).toBe('PreflightFailedError');
    expect(callsOf(run, N.acquireLock)).toHaveLength(0);
    expect(callsOf(run, N.prepareDrill)).toHaveLength(0);
    expect(run.report?.summary).toContain('the plan looks failed over already');
  });
});

/** The harness's default behaviour of a state, for stubs that fail only one unit. */
function harnessDefault(state: string, input: Record<string, unknown>): unknown {
  switch (state) {
    case N.prepareDrill:
      return prepareDrillResult(input);
    case N.checkDrillCopies:
    case N.checkDatabasePromotion:
      return poll(true);
    case N.checkDnsChange:
      return poll(true, { status: 'INSYNC' });
    case N.promoteSecret:
      return stepResult('promoteSecret', input);
    case N.promoteDatabase:
      return stepResult('promoteDatabase', input);
    case N.updateDns:
      return stepResult('updateDns', input);
    case N.settleRotation:
      return stepResult('settleRotation', input);
    case N.attachRotation:
      return stepResult('attachRotation', input);
    case N.verifyConnectivity:
      return stepResult('verifyConnectivity', input);
    default:
      throw new Error(`no default for ${state}`);
  }
}
