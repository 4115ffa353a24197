import { RDSClient } from '@aws-sdk/client-rds';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promoteDatabase } from '../../functions/lib/database.js';
import { FenceKeptError } from '../../functions/lib/errors.js';
import { parsePlan } from '../../functions/lib/plan.js';
import type { SwitchoverDeps } from '../../functions/lib/switchover/switchover.js';
import { type UnpromotedInput, unfenceIfUnpromoted } from '../../functions/lib/switchover/unpromoted.js';
import type { RunContext, StepResult, UnitStepInput } from '../../functions/lib/types.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';

/**
 * A switchover whose promotion failed (docs/design/switchover.md, "Stopping at the promotion"), against the emulated
 * RDS: the real promoteDatabase fails, and the primary is un-fenced only when the replica is proven still a replica
 * and PromoteReadReplica was refused; an accepted call, a lost answer or a replica that cannot be read keeps the fence.
 */

const P = 'eu-west-1';
const R = 'eu-central-1';
const ACCOUNT = '123456789012';
let emulator: Emulator;
let deps: SwitchoverDeps;

function unitOf(name: string) {
  const plan = parsePlan({
    name: 'orders-dr',
    account: ACCOUNT,
    primaryRegion: P,
    recoveryRegion: R,
    targetRtoSeconds: 900,
    units: [
      {
        name,
        secret: { id: `${name}/db` },
        database: {
          engine: 'postgres',
          primaryInstanceId: `${name}-db`,
          replicaInstanceId: `${name}-db-replica`,
        },
        dns: { hostedZoneId: 'Z0123456789ABC', recordName: `${name}.db.example.com`, ttl: 5 },
        rotation: { lambdaArn: `arn:aws:lambda:${R}:${ACCOUNT}:function:rotate`, schedule: 30 },
      },
    ],
  });
  return plan.units[0] as UnitStepInput['unit'];
}

const run: RunContext = {
  runId: 'switchover-1',
  executionArn: `arn:aws:states:${R}:${ACCOUNT}:execution:lifeboat-orders-dr:switchover-1`,
  planName: 'orders-dr',
  mode: 'switchover',
  trigger: 'cli',
  startedAt: '2030-05-01T10:00:00.000Z',
  account: ACCOUNT,
  primaryRegion: P,
  recoveryRegion: R,
  targetRtoSeconds: 900,
  catchUpTimeoutSeconds: 300,
};

/** A world with a primary and its cross-Region replica, `available`. */
function world(name: string) {
  const unit = unitOf(name);
  const primary = emulator.seed.dbInstance({ region: P, id: `${name}-db` });
  emulator.seed.dbInstance({ region: R, id: `${name}-db-replica`, replicaOf: primary.arn });
  return unit;
}

/** The un-fence as the test sees it: recorded, never a database session. */
function recorder() {
  const calls: string[] = [];
  const unfence = async (_deps: SwitchoverDeps, input: UnitStepInput): Promise<StepResult> => {
    calls.push(input.unit.name);
    const now = new Date().toISOString();
    return {
      step: 'unfencePrimary',
      unit: input.unit.name,
      outcome: 'changed',
      startedAt: now,
      endedAt: now,
      durationMs: 0,
      detail: { instance: `${input.unit.name}-db` },
      warnings: [],
    };
  };
  return { calls, unfence };
}

/** Runs the real promoteDatabase and returns what the state machine would hand the un-fence. */
async function promote(unit: UnitStepInput['unit']): Promise<UnpromotedInput['results']> {
  try {
    const result = await promoteDatabase({ rds: deps.rds }, { run, unit });
    return { promoteDatabase: result };
  } catch (error) {
    return { promoteDatabaseFailure: { Error: (error as Error).name } };
  }
}

beforeAll(async () => {
  emulator = await startEmulator({ timeFactor: 0.05 });
  const config = { ...emulator.clientConfig(R), maxAttempts: 1 };
  deps = {
    rds: new RDSClient(config),
    primaryRds: new RDSClient({ ...emulator.clientConfig(P), maxAttempts: 1 }),
    secretsManager: new SecretsManagerClient(config),
  };
});

afterAll(async () => {
  await emulator?.close();
});

describe('un-fencing after a failed switchover promotion', () => {
  it('un-fences when RDS refused PromoteReadReplica and the replica is still an available replica', async () => {
    // Prepare: RDS refuses the promotion while the replica is busy; the busy state then passes.
    const unit = world('refused');
    emulator.rds.setStatus(R, 'refused-db-replica', 'backing-up');
    const results = await promote(unit);
    emulator.rds.setStatus(R, 'refused-db-replica', 'available');
    const { calls, unfence } = recorder();

    // Act
    const result = await unfenceIfUnpromoted(deps, { run, unit, results }, unfence);

    // Assess
    expect(results).toEqual({ promoteDatabaseFailure: { Error: 'ResourceBusyError' } });
    expect(calls).toEqual(['refused']);
    expect(result.detail).toMatchObject({
      unfenced: 'replica not promoted',
      replicaStatus: 'available',
      replicaSource: expect.stringContaining('refused-db'),
    });
  });

  it('keeps the fence when PromoteReadReplica was accepted, though the replica still looks like one', async () => {
    // Prepare: the answer came back; RDS keeps the status `available` with the source for a while after it.
    const unit = world('accepted');
    const results = await promote(unit);
    const { calls, unfence } = recorder();

    // Act
    const kept = await unfenceIfUnpromoted(deps, { run, unit, results }, unfence).catch((e: unknown) => e);

    // Assess
    expect(results?.promoteDatabase?.outcome).toBe('changed');
    expect(kept).toBeInstanceOf(FenceKeptError);
    expect((kept as Error).message).toContain('PromoteReadReplica was accepted');
    expect(calls).toEqual([]);
  });

  it('keeps the fence when the promotion answer was lost: the call may have been applied', async () => {
    // Prepare: the call takes effect and the connection drops before the answer.
    const unit = world('lost');
    const fault = emulator.faults.add({
      match: { service: 'rds', action: 'PromoteReadReplica' },
      always: 'lose-response',
    });
    const results = await promote(unit);
    fault.remove();
    const { calls, unfence } = recorder();

    // Act
    const kept = await unfenceIfUnpromoted(deps, { run, unit, results }, unfence).catch((e: unknown) => e);

    // Assess
    expect(results?.promoteDatabaseFailure?.Error).toBe('TransientAwsError');
    expect(kept).toBeInstanceOf(FenceKeptError);
    expect((kept as Error).message).toContain('may hide an accepted PromoteReadReplica');
    expect(calls).toEqual([]);
  });

  it('keeps the fence when the replica cannot be read, or names no source any more', async () => {
    // Prepare: a refused promotion, then the replica is gone from the answer; another whose replica was promoted.
    const gone = unitOf('gone');
    const refused = { promoteDatabaseFailure: { Error: 'ResourceBusyError' } };
    const promotedUnit = unitOf('promoted');
    emulator.seed.dbInstance({ region: R, id: 'promoted-db-replica' });
    const { calls, unfence } = recorder();

    // Act
    const unreadable = await unfenceIfUnpromoted(deps, { run, unit: gone, results: refused }, unfence).catch(
      (e: unknown) => e,
    );
    const promoted = await unfenceIfUnpromoted(
      deps,
      { run, unit: promotedUnit, results: refused },
      unfence,
    ).catch((e: unknown) => e);

    // Assess
    expect(unreadable).toBeInstanceOf(FenceKeptError);
    expect((unreadable as Error).message).toContain('the replica could not be described');
    expect(promoted).toBeInstanceOf(FenceKeptError);
    expect((promoted as Error).message).toContain('names no source');
    expect(calls).toEqual([]);
  });

  it('keeps the fence when the database branch left neither a result nor a failure', async () => {
    const unit = world('silent');
    const { calls, unfence } = recorder();
    const kept = await unfenceIfUnpromoted(deps, { run, unit, results: {} }, unfence).catch(
      (e: unknown) => e,
    );
    expect(kept).toBeInstanceOf(FenceKeptError);
    expect(calls).toEqual([]);
  });
});
