import { describe, expect, it } from 'vitest';
import { CatchUpTimeoutError, FenceFailedError } from '../../functions/lib/errors.js';
import {
  type RunReport,
  renderReportHtml,
  renderReportMarkdown,
  renderReportText,
} from '../../functions/lib/report/index.js';
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

const SWITCHOVER = { mode: 'switchover', trigger: 'cli' };
const FENCED_AT = '2030-05-01T10:00:00.000Z';

/** The fence step's result: the primary's position read after the fence. */
const fence: Stub = (input) =>
  stepResult('fencePrimary', input, {
    startedAt: '2030-05-01T09:59:59.000Z',
    endedAt: FENCED_AT,
    detail: { fencePosition: '0/3000060', positionKind: 'pg-lsn', fencedAt: FENCED_AT },
  });
const caughtUp: Stub = () =>
  poll(true, {
    status: 'caught-up',
    detail: {
      fencePosition: '0/3000060',
      replicaPosition: '0/3000060',
      positionKind: 'pg-lsn',
      caughtUp: true,
    },
  });
const verified: Stub = (input) =>
  stepResult('verifyConnectivity', input, {
    startedAt: '2030-05-01T10:00:04.000Z',
    endedAt: '2030-05-01T10:00:06.500Z',
  });
const lifted: Stub = (input) => stepResult('liftFence', input);
const unfenced: Stub = (input) => stepResult('unfencePrimary', input);

function stubs(extra: Record<string, Stub> = {}): Record<string, Stub> {
  return {
    [N.fencePrimary]: fence,
    [N.checkCatchUp]: caughtUp,
    [N.liftFence]: lifted,
    [N.unfencePrimary]: unfenced,
    [N.verifyConnectivity]: verified,
    ...extra,
  };
}

describe('a switchover, step by step', () => {
  it('fences, waits for the catch-up, then runs the failover steps with the fence lifted before DNS, under the lock', async () => {
    // Act
    const run = await runFlow({ input: SWITCHOVER, stubs: stubs() });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(statesCalled(run).slice(0, 3)).toEqual([N.loadPlan, N.preflight, N.acquireLock]);
    const unit = statesCalled(run, 'orders');
    expect(unit.slice(0, 2)).toEqual([N.fencePrimary, N.checkCatchUp]);
    const promoted = Math.max(unit.indexOf(N.promoteDatabase), unit.indexOf(N.promoteSecret));
    expect(promoted).toBeGreaterThan(unit.indexOf(N.checkCatchUp));
    expect(unit.indexOf(N.liftFence)).toBeGreaterThan(unit.indexOf(N.checkDatabasePromotion));
    expect(unit.indexOf(N.updateDns)).toBeGreaterThan(unit.indexOf(N.liftFence));
    expect(unit).not.toContain(N.unfencePrimary);
    expect(callsOf(run, N.fencePrimary)[0]?.input.action).toBe('fence');
    expect(callsOf(run, N.liftFence)[0]?.input.action).toBe('lift');
    // The catch-up poll reads the fence's position from the fence's result.
    expect(callsOf(run, N.checkCatchUp)[0]?.input.fence).toMatchObject({ fencePosition: '0/3000060' });
  });

  it('reports the write-unavailability window from the fence to verified and 0 transactions lost, with the compared positions', async () => {
    // Act
    const run = await runFlow({ input: SWITCHOVER, stubs: stubs() });

    // Assess
    const switchover = run.report?.units[0]?.switchover;
    expect(switchover).toMatchObject({
      fencedAt: FENCED_AT,
      verifiedAt: '2030-05-01T10:00:06.500Z',
      writeUnavailableSeconds: 6.5,
      fencePosition: '0/3000060',
      replicaPosition: '0/3000060',
      dataLossTransactions: 0,
      unfenced: null,
    });
    expect(switchover?.proof).toContain('replay LSN 0/3000060 >= primary LSN 0/3000060');
    const text = renderReportText(run.report as RunReport);
    expect(text).toContain('switchover: writes unavailable 6.5s');
    expect(text).toContain('data lost: 0 transactions, proven: replica replay LSN 0/3000060');
    // The HTML and Markdown reports carry the same proof, in the units table's data-loss cell.
    const html = renderReportHtml(run.report as RunReport);
    expect(html).toContain('<title>lifeboat switchover of ');
    expect(html).toContain('data lost: 0 transactions, proven: replica replay LSN 0/3000060');
    expect(renderReportMarkdown(run.report as RunReport)).toContain('writes unavailable 6.5s');
    // The one-line summary names a switchover, its window and the proof, never "Failover of".
    expect(run.report?.summary).toMatch(
      /^Switchover of \S+ succeeded: 1 of 1 units switched over and verified in .*; writes unavailable for at most 6\.5s; 0 transactions lost, proven for every unit\.$/,
    );
  });

  it('un-fences the primary and promotes nothing when the replica does not catch up within the bound', async () => {
    // Prepare
    const behind: Stub = (_input, call) => {
      if (call.attempt < 3) return poll(false, { status: 'behind', waitSeconds: 1 });
      throw lambdaError('CatchUpTimeoutError', new CatchUpTimeoutError('replica behind after 300 s').message);
    };

    // Act
    const run = await runFlow({ input: SWITCHOVER, stubs: stubs({ [N.checkCatchUp]: behind }) });

    // Assess
    expect(run.status).toBe('failed');
    const unit = statesCalled(run, 'orders');
    expect(unit).toEqual([N.fencePrimary, N.checkCatchUp, N.checkCatchUp, N.checkCatchUp, N.unfencePrimary]);
    for (const mutating of [N.promoteSecret, N.promoteDatabase, N.updateDns, N.attachRotation]) {
      expect(callsOf(run, mutating)).toHaveLength(0);
    }
    expect(callsOf(run, N.unfencePrimary)[0]?.input.action).toBe('unfence');
    const report = run.report?.units[0];
    expect(report?.failure).toMatchObject({ step: 'waitForCatchUp', error: 'CatchUpTimeoutError' });
    expect(report?.switchover).toMatchObject({ dataLossTransactions: null, unfenced: true });
    // The lock is released.
    expect(run.lock.holderOf('orders-dr')).toBeUndefined();
  });

  it('un-fences when the fence itself fails, and keeps an un-fence failure beside the unit failure', async () => {
    // Prepare
    const fenceFails: Stub = () => {
      throw lambdaError('FenceFailedError', new FenceFailedError('ended sessions still open').message);
    };
    const unfenceFails: Stub = () => {
      throw lambdaError('FenceFailedError', 'could not reach the primary');
    };

    // Act
    const run = await runFlow({
      input: SWITCHOVER,
      stubs: stubs({ [N.fencePrimary]: fenceFails, [N.unfencePrimary]: unfenceFails }),
    });

    // Assess
    expect(statesCalled(run, 'orders')).toEqual([N.fencePrimary, N.unfencePrimary]);
    const report = run.report?.units[0];
    expect(report?.failure).toMatchObject({ step: 'fencePrimary', error: 'FenceFailedError' });
    expect(report?.failure?.cause).toContain('ended sessions still open');
    expect(report?.switchover?.unfenced).toBe(false);
  });

  it('leaves the old primary fenced once something was promoted: a failure after promotion does not un-fence', async () => {
    // Prepare
    const dnsFails: Stub = () => {
      throw lambdaError('AwsCallFailedError', 'InvalidChangeBatch');
    };

    // Act
    const run = await runFlow({ input: SWITCHOVER, stubs: stubs({ [N.updateDns]: dnsFails }) });

    // Assess
    expect(run.status).toBe('failed');
    expect(callsOf(run, N.promoteDatabase)).toHaveLength(1);
    expect(callsOf(run, N.unfencePrimary)).toHaveLength(0);
  });

  it('runs no switchover step in a failover', async () => {
    // Act
    const run = await runFlow({ input: { mode: 'failover' }, stubs: stubs() });

    // Assess
    expect(run.status).toBe('succeeded');
    for (const state of [N.fencePrimary, N.checkCatchUp, N.liftFence, N.unfencePrimary]) {
      expect(callsOf(run, state)).toHaveLength(0);
    }
  });
});
