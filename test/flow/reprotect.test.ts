import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../functions/lib/errors.js';
import { STATE_NAMES as N } from '../../statemachine/failover.js';
import { callsOf, lambdaError, poll, runFlow, type Stub, statesCalled } from '../helpers/flow-harness.js';

const REPROTECT = { mode: 'reprotect', trigger: 'cli' };

/** Passes: the rename, then the replica creating, then replicating (a pass always carries its warnings). */
const passes: Stub = (_input, call) =>
  call.attempt < 3
    ? {
        ...poll(false, {
          status: call.attempt === 1 ? 'old primary renaming' : 'replica creating',
          waitSeconds: 10,
        }),
        warnings: [],
      }
    : {
        ...poll(true, {
          status: 'secret InSync, replica replicating',
          detail: {
            oldPrimaryNowNamed: 'orders-db-old-55aa9497',
            replica: 'orders-db',
            replication: 'replicating',
          },
        }),
        warnings: ['database.replica-lag: replica lag of orders-db unknown'],
      };

describe('re-protect, step by step', () => {
  it('runs one converging pass after another under the lock, and nothing of a failover', async () => {
    // Act
    const run = await runFlow({ input: REPROTECT, stubs: { [N.reprotectUnit]: passes } });

    // Assess
    expect(run.error).toBeUndefined();
    expect(run.status).toBe('succeeded');
    expect(statesCalled(run).slice(0, 3)).toEqual([N.loadPlan, N.preflight, N.acquireLock]);
    expect(statesCalled(run, 'orders')).toEqual([N.reprotectUnit, N.reprotectUnit, N.reprotectUnit]);
    expect(callsOf(run, N.reprotectUnit).map((c) => c.input.attempt)).toEqual([1, 2, 3]);
    for (const failoverStep of [N.promoteSecret, N.promoteDatabase, N.updateDns, N.attachRotation]) {
      expect(callsOf(run, failoverStep)).toHaveLength(0);
    }
    const unit = run.report?.units[0];
    expect(unit?.status).toBe('succeeded');
    expect(unit?.steps.map((s) => s.step)).toEqual(['reprotect']);
    expect(unit?.steps[0]?.detail).toMatchObject({ oldPrimaryNowNamed: 'orders-db-old-55aa9497' });
    expect(unit?.steps[0]?.warnings).toEqual(['database.replica-lag: replica lag of orders-db unknown']);
    expect(run.lock.holderOf('orders-dr')).toBeUndefined();
  });

  it('reports the unit failed at re-protect when a pass refuses, and releases the lock', async () => {
    // Prepare
    const refuses: Stub = () => {
      throw lambdaError('ConfigurationError', new ConfigurationError('the old primary is "stopped"').message);
    };

    // Act
    const run = await runFlow({ input: REPROTECT, stubs: { [N.reprotectUnit]: refuses } });

    // Assess
    expect(run.status).toBe('failed');
    expect(run.report?.units[0]?.failure).toMatchObject({ step: 'reprotect', error: 'ConfigurationError' });
    expect(run.lock.holderOf('orders-dr')).toBeUndefined();
  });
});
