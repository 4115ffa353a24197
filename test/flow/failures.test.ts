import { describe, expect, it } from 'vitest';
import {
  AwsCallFailedError,
  PreflightFailedError,
  RotationBlockedError,
  RUN_FAILURE_ERRORS,
} from '../../functions/lib/errors.js';
import { STATE_NAMES as N } from '../../statemachine/failover.js';
import { fakeLockTable } from '../helpers/fake-lock-table.js';
import {
  callsOf,
  failing,
  lambdaError,
  MUTATING_STATES,
  planWith,
  poll,
  runFlow,
  type Stub,
  statesCalled,
  stepResult,
  transient,
} from '../helpers/flow-harness.js';

describe('a run that stops before the units', () => {
  it('reports a preflight failure, releases nothing it does not hold, fails, and changes nothing', async () => {
    // Prepare
    const problems = [
      'orders: secret orders/db is not a replica in us-west-2',
      'orders: rotation Lambda orders-rotation does not allow secretsmanager.amazonaws.com to invoke it',
    ];

    // Act
    const run = await runFlow({
      stubs: {
        [N.preflight]: () => {
          throw new PreflightFailedError(
            `preflight found 2 problems:\n  - ${problems.join('\n  - ')}`,
            problems,
          );
        },
      },
    });

    // Assess
    expect(statesCalled(run)).toEqual([N.loadPlan, N.preflight, N.report, N.releaseLock]);
    for (const state of [...MUTATING_STATES, N.acquireLock]) expect(callsOf(run, state)).toHaveLength(0);
    expect(run.status).toBe('failed');
    expect(run.error?.name).toBe('PreflightFailedError');
    expect(run.reportInput).toMatchObject({
      units: [],
      plannedUnits: ['orders'],
      failure: { Error: 'PreflightFailedError' },
    });
    expect(run.report).toMatchObject({
      outcome: 'failed',
      error: 'PreflightFailedError',
      failure: { stage: 'preflight', error: 'PreflightFailedError' },
      units: [{ unit: 'orders', status: 'not-started' }],
    });
    expect(run.report?.failure?.cause).toContain('rotation Lambda orders-rotation');
    expect(run.report?.summary).toMatch(/Nothing was changed/);
  });

  it('fails at once with FailoverInProgressError when another execution holds the lock, leaving its lock alone', async () => {
    // Prepare
    const lock = fakeLockTable();
    lock.holdFor('orders-dr', 'other-run');

    // Act
    const run = await runFlow({ lock });

    // Assess
    expect(run.status).toBe('failed');
    expect(run.error?.name).toBe('FailoverInProgressError');
    expect(run.error?.cause).toContain('other-run');
    for (const state of MUTATING_STATES) expect(callsOf(run, state)).toHaveLength(0);
    expect(callsOf(run, N.acquireLock)).toHaveLength(1);
    expect(lock.holderOf('orders-dr')).toBe('other-run');
    expect(run.report?.failure).toMatchObject({ stage: 'lock', error: 'FailoverInProgressError' });
  });

  it('lets exactly one of two executions of the same plan started together run', async () => {
    // Prepare
    const lock = fakeLockTable();
    const slowPromotion: Stub = async (input) => {
      await new Promise((r) => setTimeout(r, 50));
      return stepResult('promoteDatabase', input);
    };

    // Act
    const [a, b] = await Promise.all([
      runFlow({ lock, runId: 'run-a', stubs: { [N.promoteDatabase]: slowPromotion } }),
      runFlow({ lock, runId: 'run-b', stubs: { [N.promoteDatabase]: slowPromotion } }),
    ]);

    // Assess
    const outcomes = [a, b].map((r) => r.error?.name ?? r.status).sort();
    expect(outcomes).toEqual(['FailoverInProgressError', 'succeeded']);
    const loser = a.status === 'failed' ? a : b;
    for (const state of MUTATING_STATES) expect(callsOf(loser, state)).toHaveLength(0);
    expect(lock.holderOf('orders-dr')).toBeUndefined();
  });

  it('reports an input error with the run it could not start, and has no lock to release', async () => {
    // Act
    const run = await runFlow({ input: { mode: 'sideways' } });

    // Assess
    expect(statesCalled(run)).toEqual([N.loadPlan, N.report]);
    expect(run.status).toBe('failed');
    expect(run.error?.name).toBe('InputInvalidError');
    expect(run.report).toMatchObject({
      planName: 'orders-dr',
      runId: 'run-1',
      failure: { stage: 'load plan', error: 'InputInvalidError' },
    });
    expect(run.report?.failure?.cause).toContain('input.mode');
    expect(run.report).not.toHaveProperty('run');
  });

  it('reports an approval-less acquire failure that is not ours as failed, and still releases', async () => {
    // Act
    const run = await runFlow({
      stubs: {
        [N.acquireLock]: failing(
          100,
          () => new AwsCallFailedError('AccessDeniedException'),
          () => null,
        ),
      },
    });

    // Assess
    expect(statesCalled(run)).toEqual([N.loadPlan, N.preflight, N.acquireLock, N.report, N.releaseLock]);
    expect(run.error?.name).toBe('AwsCallFailedError');
  });
});

describe('a unit that fails', () => {
  it('does not stop the other units; the report says where it stopped and why', async () => {
    // Prepare
    const plan = planWith(3);
    const blockedRotation: Stub = (input) => {
      if ((input.unit as { name: string }).name === 'billing') {
        throw new RotationBlockedError('AWSPENDING is on version v2, not AWSCURRENT');
      }
      return stepResult('attachRotation', input);
    };

    // Act
    const run = await runFlow({ plan, stubs: { [N.attachRotation]: blockedRotation } });

    // Assess
    expect(run.status).toBe('failed');
    expect(run.error?.name).toBe(RUN_FAILURE_ERRORS.unitsFailed);
    expect(callsOf(run, N.verifyConnectivity)).toHaveLength(3);
    const billing = run.report?.units.find((u) => u.unit === 'billing');
    expect(billing).toMatchObject({
      status: 'failed',
      stoppedAt: 'attachRotation',
      failure: {
        step: 'attachRotation',
        error: 'RotationBlockedError',
        cause: 'AWSPENDING is on version v2, not AWSCURRENT',
      },
    });
    // Verification ran before the rotation: a rotation that fails does not hide the verified database.
    expect(billing?.steps.map((s) => [s.step, s.status])).toEqual([
      ['promoteSecret', 'changed'],
      ['promoteDatabase', 'changed'],
      ['waitForDatabasePromotion', 'done'],
      ['updateDns', 'changed'],
      ['waitForDnsInSync', 'done'],
      ['settleRotation', 'changed'],
      ['verifyConnectivity', 'changed'],
      ['attachRotation', 'failed'],
    ]);
    expect(billing?.verifiedAt).toEqual(expect.any(String));
    expect(billing?.recoveryTimeSeconds).toEqual(expect.any(Number));
    expect(run.report?.summary).toContain(
      'billing (database verified, then RotationBlockedError at attachRotation)',
    );
    expect(run.report?.units.filter((u) => u.status === 'succeeded').map((u) => u.unit)).toEqual([
      'orders',
      'catalog',
    ]);
    // Every database was verified: the recovery time is measured, though the run failed.
    expect(run.report?.recoveryTimeSeconds).toEqual(expect.any(Number));
    expect(run.report?.outcome).toBe('failed');
    expect(run.lock.holderOf('orders-dr')).toBeUndefined();
  });

  it('keeps the database promotion when the secret promotion fails beside it, and stops before DNS', async () => {
    // Act
    const run = await runFlow({
      stubs: {
        [N.promoteSecret]: failing(
          100,
          () => new AwsCallFailedError('StopReplicationToReplica: AccessDenied'),
          () => null,
        ),
      },
    });

    // Assess
    expect(callsOf(run, N.checkDatabasePromotion)).toHaveLength(1);
    expect(callsOf(run, N.updateDns)).toHaveLength(0);
    expect(run.report?.units[0]).toMatchObject({
      stoppedAt: 'promoteSecret',
      failure: { error: 'AwsCallFailedError' },
    });
    expect(run.report?.units[0]?.steps[2]).toMatchObject({
      step: 'waitForDatabasePromotion',
      status: 'done',
    });
  });

  it('converges when re-run after a mid-way failure: done steps report already-done, the rest complete', async () => {
    // Prepare: the first run fails at the DNS change of every unit; the database and the secret are promoted.
    const plan = planWith(2);
    const lock = fakeLockTable();
    const first = await runFlow({
      plan,
      lock,
      stubs: {
        [N.updateDns]: failing(
          100,
          () => lambdaError('AwsCallFailedError', 'InvalidChangeBatch'),
          () => null,
        ),
      },
    });
    const alreadyDone =
      (step: 'promoteSecret' | 'promoteDatabase'): Stub =>
      (input) =>
        stepResult(step, input, { outcome: 'already-done' });

    // Act
    const second = await runFlow({
      plan,
      lock,
      runId: 'run-2',
      stubs: {
        [N.promoteSecret]: alreadyDone('promoteSecret'),
        [N.promoteDatabase]: alreadyDone('promoteDatabase'),
        [N.checkDatabasePromotion]: () => poll(true),
      },
    });

    // Assess
    expect(first.status).toBe('failed');
    expect(first.report?.units.map((u) => u.stoppedAt)).toEqual(['updateDns', 'updateDns']);
    expect(second.status).toBe('succeeded');
    expect(second.output?.units.map((u) => u.steps.slice(0, 2).map((s) => s.status))).toEqual([
      ['already-done', 'already-done'],
      ['already-done', 'already-done'],
    ]);
    expect(second.output?.units.every((u) => u.status === 'succeeded')).toBe(true);
    expect(lock.holderOf('orders-dr')).toBeUndefined();
  });

  it('hands the report step every unit outcome with the results it reached', async () => {
    // Prepare
    const plan = planWith(2);

    // Act
    const run = await runFlow({
      plan,
      stubs: {
        [N.verifyConnectivity]: (input) => {
          if ((input.unit as { name: string }).name === 'billing')
            throw lambdaError('VerificationFailedError', 'read-only');
          return stepResult('verifyConnectivity', input);
        },
      },
    });

    // Assess
    const units = run.reportInput?.units ?? [];
    expect(units.map((u) => [u.unit, u.engine, u.status])).toEqual([
      ['orders', 'postgres', 'succeeded'],
      ['billing', 'mysql', 'failed'],
    ]);
    expect(Object.keys(units[0]?.results ?? {}).sort()).toEqual([
      'attachRotation',
      'promoteDatabase',
      'promoteSecret',
      'settleRotation',
      'updateDns',
      'verifyConnectivity',
      'waitForDatabasePromotion',
      'waitForDnsInSync',
    ]);
    expect(units[1]?.failure).toEqual({ Error: 'VerificationFailedError', Cause: 'read-only' });
    // A unit whose verification failed never attaches rotation (its testSecret would need the database too).
    expect(Object.keys(units[1]?.results ?? {})).not.toContain('attachRotation');
    expect(callsOf(run, N.attachRotation).map((c) => (c.input.unit as { name: string }).name)).toEqual([
      'orders',
    ]);
    expect(units[1]?.dns).toEqual({
      recordName: 'billing-db.internal.example.com',
      ttl: 5,
      strategy: 'cname',
    });
    expect(run.reportInput?.run).toMatchObject({ runId: 'run-1' });
    expect(run.reportInput?.preflight).toMatchObject({ ok: true });
  });
});

describe('the end of a run', () => {
  it('still releases the lock and fails with ReportFailedError when the report step itself fails', async () => {
    // Act
    const run = await runFlow({
      stubs: {
        [N.report]: failing(
          100,
          () => lambdaError('TypeError', 'boom'),
          () => null,
        ),
      },
    });

    // Assess
    expect(callsOf(run, N.report)).toHaveLength(1);
    expect(callsOf(run, N.releaseLock)).toHaveLength(1);
    expect(run.lock.holderOf('orders-dr')).toBeUndefined();
    expect(run.status).toBe('failed');
    expect(run.error).toEqual({ name: RUN_FAILURE_ERRORS.reportFailed, cause: 'boom' });
  });

  it('retries a throttled lock release, and a failed release does not hide the outcome', async () => {
    // Act
    const retried = await runFlow({
      stubs: { [N.releaseLock]: failing(2, transient, () => ({ released: true })) },
    });
    const failed = await runFlow({
      stubs: {
        [N.releaseLock]: failing(
          100,
          () => new AwsCallFailedError('AccessDenied'),
          () => null,
        ),
      },
    });

    // Assess
    expect(callsOf(retried, N.releaseLock)).toHaveLength(3);
    expect(retried.status).toBe('succeeded');
    expect(failed.status).toBe('succeeded');
    expect(failed.output).toMatchObject({
      outcome: 'succeeded',
      lockReleaseFailure: { Error: 'AwsCallFailedError' },
    });
  });
});
