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
 * `{"mode": "dry-run", "of": ...}` (docs/design/switchover.md and docs/design/reprotect.md, "Dry run"): the run takes
 * the path of the mode it names, every step planning instead of acting, with no lock; the report lists the calls the
 * way a failover's dry run does. The stubs answer as the steps do in a dry run (functions/lib/switchover/switchover.ts,
 * functions/lib/reprotect/dry-run.ts).
 */

const FENCE_PLANNED: Stub = (input) =>
  stepResult('fencePrimary', input, {
    outcome: 'planned',
    detail: {
      call: 'SQL on the primary',
      fence:
        'ALTER DATABASE <db> SET default_transaction_read_only = on; pg_terminate_backend(other sessions)',
      applied: false,
      fencePosition: '0/3000060',
      positionKind: 'pg-lsn',
      fencedAt: new Date().toISOString(),
    },
  });
const CATCH_UP_PLANNED: Stub = () =>
  poll(true, {
    status: 'planned',
    waitSeconds: 0,
    detail: {
      call: "none: reads the replica's applied position every second",
      positionSource: 'pg_last_wal_replay_lsn()',
    },
  });
const LIFT_PLANNED: Stub = (input) =>
  stepResult('liftFence', input, {
    outcome: 'planned',
    detail: { call: 'SQL on the database', unfence: 'the fence, reversed' },
  });
const REPROTECT_PLANNED: Stub = () => ({
  ...poll(true, { status: 'planned', waitSeconds: 0 }),
  warnings: [],
  detail: {
    'planned.1.call': 'ReplicateSecretToRegions',
    'planned.1.ForceOverwriteReplicaSecret': true,
    'planned.2.call': 'AddTagsToResource',
    'planned.3.call': 'ModifyDBInstance',
    'planned.3.NewDBInstanceIdentifier': 'orders-db-old-0a1b2c3d',
    'planned.4.call': 'CreateDBInstanceReadReplica',
    'planned.4.KmsKeyId': 'arn:aws:kms:us-east-1:123456789012:key/old-region-key',
  },
});

describe('a dry run of a switchover', () => {
  it('plans the fence, the catch-up, the promotions, the lift, DNS and rotation, with no lock and nothing un-fenced', async () => {
    // Act
    const run = await runFlow({
      input: { mode: 'dry-run', of: 'switchover' },
      stubs: {
        [N.fencePrimary]: FENCE_PLANNED,
        [N.checkCatchUp]: CATCH_UP_PLANNED,
        [N.liftFence]: LIFT_PLANNED,
      },
    });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(callsOf(run, N.acquireLock)).toHaveLength(0);
    const unit = statesCalled(run, 'orders');
    expect(unit.slice(0, 2)).toEqual([N.fencePrimary, N.checkCatchUp]);
    expect(unit.indexOf(N.liftFence)).toBeGreaterThan(unit.indexOf(N.promoteDatabase));
    expect(unit.indexOf(N.updateDns)).toBeGreaterThan(unit.indexOf(N.liftFence));
    expect(unit).not.toContain(N.unfencePrimary);
    // The steps see the dry run, and which mode it shows; the catch-up bound is the switchover's.
    const fenceRun = callsOf(run, N.fencePrimary)[0]?.input.run as Record<string, unknown>;
    expect(fenceRun).toMatchObject({ mode: 'dry-run', of: 'switchover', catchUpTimeoutSeconds: 300 });
    const report = run.report as RunReport;
    expect(report.units[0]?.steps.map((s) => s.step)).toEqual([
      'fencePrimary',
      'waitForCatchUp',
      'promoteSecret',
      'promoteDatabase',
      'waitForDatabasePromotion',
      'liftFence',
      'updateDns',
      'waitForDnsInSync',
      'settleRotation',
      'verifyConnectivity',
      'attachRotation',
    ]);
    const calls = report.plannedCalls ?? [];
    expect(calls.map((c) => c.step)).toEqual(
      expect.arrayContaining(['fencePrimary', 'waitForCatchUp', 'promoteDatabase', 'liftFence', 'updateDns']),
    );
    expect(calls.find((c) => c.step === 'fencePrimary')?.parameters.fence).toContain(
      'default_transaction_read_only',
    );
    expect(calls.find((c) => c.step === 'waitForCatchUp')?.note).toBe('reads only');
    expect(report.summary).toMatch(/calls a switchover would make; nothing was changed\.$/);
    expect(report.units[0]?.switchover).toBeUndefined();
    expect(renderReportText(report)).toContain('SQL on the primary');
  });

  it('stops the unit on a fence check that fails and runs no un-fence: nothing was fenced', async () => {
    // Prepare
    const refused: Stub = () => {
      throw lambdaError(
        'FenceFailedError',
        "primary orders-db: the secret's user may not fence: ALTER DATABASE",
      );
    };

    // Act
    const run = await runFlow({
      input: { mode: 'dry-run', of: 'switchover' },
      stubs: { [N.fencePrimary]: refused },
    });

    // Assess
    expect(statesCalled(run, 'orders')).toEqual([N.fencePrimary]);
    expect(run.report?.units[0]?.failure).toMatchObject({ step: 'fencePrimary', error: 'FenceFailedError' });
  });
});

describe('a dry run of a re-protect', () => {
  it('lists every call a re-protect would make, in order, with no lock', async () => {
    // Act
    const run = await runFlow({
      input: { mode: 'dry-run', of: 'reprotect' },
      stubs: { [N.reprotectUnit]: REPROTECT_PLANNED },
    });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(callsOf(run, N.acquireLock)).toHaveLength(0);
    expect(statesCalled(run, 'orders')).toEqual([N.reprotectUnit]);
    const calls = run.report?.plannedCalls ?? [];
    expect(calls.map((c) => c.call)).toEqual([
      'ReplicateSecretToRegions',
      'AddTagsToResource',
      'ModifyDBInstance',
      'CreateDBInstanceReadReplica',
    ]);
    expect(calls[0]?.parameters).toEqual({ ForceOverwriteReplicaSecret: true });
    expect(calls[3]?.parameters.KmsKeyId).toContain('old-region-key');
    expect(run.report?.summary).toMatch(/4 calls a re-protect would make; nothing was changed\.$/);
  });
});

describe('the of input', () => {
  it.each([
    [{ mode: 'switchover', of: 'switchover' }, 'only a dry-run or a drill takes "of"'],
    [{ mode: 'failover', of: 'reprotect' }, 'only a dry-run or a drill takes "of"'],
    [{ mode: 'drill', of: 'reprotect' }, 'a re-protect has no such rehearsal'],
    [{ mode: 'dry-run', of: 'failback' }, 'input.of'],
  ])('refuses %j before anything runs', async (input, message) => {
    // Act
    const run = await runFlow({ input });

    // Assess
    expect(run.status).toBe('failed');
    expect(statesCalled(run)).toEqual([N.loadPlan, N.report]);
    expect(run.report?.failure?.error).toBe('InputInvalidError');
    expect(run.report?.failure?.cause).toContain(message);
  });
});
