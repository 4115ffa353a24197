import { describe, expect, it } from 'vitest';
import { type RunReport, renderReportText } from '../../functions/lib/report/index.js';
import { STATE_NAMES as N } from '../../statemachine/failover.js';
import {
  callsOf,
  lambdaError,
  poll,
  runFlow,
  type Stub,
  statesCalled,
  stepResult,
} from '../helpers/flow-harness.js';

/**
 * `{"mode": "drill", "of": "switchover"}` (docs/design/switchover.md, "Dry run and drill"): the drill makes its copies,
 * then the switchover's path on them: the fence checked on the production primary (never applied), the catch-up on
 * the copy, the promotions, the lift, the drill record, verify, cleanup. The report says what was rehearsed and what
 * was not, never a data-loss figure.
 */

const INPUT = { mode: 'drill', of: 'switchover', trigger: 'cli' };
const fenceChecked: Stub = (input) =>
  stepResult('fencePrimary', input, {
    outcome: 'planned',
    detail: {
      call: 'SQL on the primary',
      applied: false,
      checked: 'writable primary; owns the database (ALTER DATABASE); member of pg_signal_backend',
      fencePosition: '0/3000060',
      positionKind: 'pg-lsn',
      fencedAt: new Date().toISOString(),
    },
  });
const caughtUp: Stub = () =>
  poll(true, {
    status: 'caught-up',
    detail: {
      fencePosition: '0/3000060',
      replicaPosition: '0/3000100',
      positionKind: 'pg-lsn',
      caughtUp: true,
    },
  });
const liftNoOp: Stub = (input) => stepResult('liftFence', input, { outcome: 'already-done' });

describe('a drill of a switchover', () => {
  it('runs the switchover path on the copies, under the lock, the fence checked on production and never applied', async () => {
    // Act
    const run = await runFlow({
      input: INPUT,
      stubs: { [N.fencePrimary]: fenceChecked, [N.checkCatchUp]: caughtUp, [N.liftFence]: liftNoOp },
    });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(callsOf(run, N.acquireLock)).toHaveLength(1);
    const unit = statesCalled(run, 'orders');
    expect(unit.slice(0, 4)).toEqual([N.prepareDrill, N.checkDrillCopies, N.fencePrimary, N.checkCatchUp]);
    expect(unit.indexOf(N.liftFence)).toBeGreaterThan(unit.indexOf(N.checkDatabasePromotion));
    expect(unit.indexOf(N.updateDns)).toBeGreaterThan(unit.indexOf(N.liftFence));
    expect(unit.at(-1)).toBe(N.cleanUpDrill);
    // The fence and the catch-up run on the drill unit: the copy is the replica, production's primary the primary.
    const fenceInput = callsOf(run, N.fencePrimary)[0]?.input as {
      unit: { database: Record<string, string> };
    };
    expect(fenceInput.unit.database.primaryInstanceId).toBe('orders-db');
    expect(fenceInput.unit.database.replicaInstanceId).not.toBe('orders-db-replica');
    const report = run.report as RunReport;
    const u = report.units[0];
    expect(u?.switchover).toBeUndefined();
    expect(u?.switchoverRehearsal).toContain('not applied');
    expect(u?.switchoverRehearsal).toContain("the copy caught up to the primary's position 0/3000060");
    expect(u?.switchoverRehearsal).toContain('lift-fence a no-op');
    expect(u?.switchoverRehearsal).toContain('not rehearsed: fencing production writes');
    expect(report.summary).toContain('the production primary was never fenced');
    expect(report.summary).not.toContain('transactions lost');
    expect(renderReportText(report)).toContain('switchover rehearsed on the drill copy');
  });

  it('stops at a fence check that fails, runs no un-fence, and still cleans up the copies', async () => {
    // Prepare
    const refused: Stub = () => {
      throw lambdaError('FenceFailedError', 'primary orders-db is in recovery (a standby)');
    };

    // Act
    const run = await runFlow({ input: INPUT, stubs: { [N.fencePrimary]: refused } });

    // Assess
    expect(run.status).toBe('failed');
    const unit = statesCalled(run, 'orders');
    expect(unit).toEqual([N.prepareDrill, N.checkDrillCopies, N.fencePrimary, N.cleanUpDrill]);
    expect(run.report?.units[0]?.switchoverRehearsal).toContain(
      'the fence check on the production primary did not pass',
    );
  });

  it('runs a plain drill without the switchover steps', async () => {
    const run = await runFlow({ input: { mode: 'drill' } });
    expect(run.status).toBe('succeeded');
    expect(callsOf(run, N.fencePrimary)).toHaveLength(0);
    expect(run.report?.units[0]?.switchoverRehearsal).toBeUndefined();
  });
});
