import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RDSClient } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as checkDatabasePromotion } from '../../functions/check-database-promotion.js';
import { resetClients } from '../../functions/lib/clients.js';
import { TIME_FACTOR_ENV } from '../../functions/lib/env.js';
import { pollInstance, type SharedPollDeps } from '../../functions/lib/shared-poll.js';
import type { UnitStepInput } from '../../functions/lib/types.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';
import { stepInput } from '../fixtures/db-fixtures.js';

/**
 * The shared database poll (functions/lib/shared-poll.ts, docs/design/fleet.md) against the emulator's RDS and
 * DynamoDB: many units' polls cost one DescribeDBInstances per interval, a unit sees its own instance's change
 * within one interval whatever the others do, and a lost table or lease holder only costs the unit its own read.
 */
const REGION = 'us-west-2';
const TABLE = 'lifeboat-test-lock';
const UNITS = 40;
const INTERVAL = 3;
let emulator: Emulator;
let deps: Omit<SharedPollDeps, 'now'>;
let runCount = 0;

beforeAll(async () => {
  emulator = await startEmulator({ timeFactor: 0.001 });
  const rds = new RDSClient({ ...emulator.clientConfig(REGION), maxAttempts: 1 });
  const dynamodb = new DynamoDBClient({ ...emulator.clientConfig(REGION), maxAttempts: 1 });
  await dynamodb.send(
    new CreateTableCommand({
      TableName: TABLE,
      KeySchema: [{ AttributeName: 'planName', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'planName', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  for (let i = 0; i < UNITS; i += 1) {
    emulator.seed.dbInstance({ region: REGION, id: `db-${i}-replica`, status: 'modifying' });
  }
  deps = { rds, dynamodb, tableName: TABLE };
});
afterAll(() => emulator?.close());

const ids = Array.from({ length: UNITS }, (_, i) => `db-${i}-replica`);
const describes = () => emulator.calls.filter((c) => c.action === 'DescribeDBInstances').length;
function newRun() {
  runCount += 1;
  return { planName: 'orders-dr', runId: `run-${runCount}`, region: REGION };
}

describe('pollInstance', () => {
  it('40 units polling every interval at the same instant: one DescribeDBInstances per interval from the third on', async () => {
    // Prepare
    const key = newRun();
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const round = async (seconds: number) => {
      const before = describes();
      const results = await Promise.all(
        ids.map((id) =>
          pollInstance({ ...deps, now: () => new Date(t0 + seconds * 1000) }, key, id, INTERVAL),
        ),
      );
      return { calls: describes() - before, results };
    };
    // Act: the worst case, every poll at the same instant. The first round registers the instances (the lease
    // holder describes only those registered before it); in the second, the polls that lose the lease find a
    // snapshot without their instance and read their own; from the third on, the snapshot holds every instance.
    const first = await round(0);
    const second = await round(INTERVAL + 0.5);
    const third = await round(2 * INTERVAL + 1);
    const fourth = await round(3 * INTERVAL + 1.5);
    // Assess
    expect(first.calls).toBeLessThanOrEqual(UNITS + 1);
    expect(second.calls).toBeLessThanOrEqual(UNITS + 1);
    expect(third.calls).toBe(1);
    expect(fourth.calls).toBe(1);
    expect(fourth.results.map((r) => r.instance.DBInstanceIdentifier)).toEqual(ids);
    expect(fourth.results.filter((r) => r.source === 'lease')).toHaveLength(1);
    expect(fourth.results.filter((r) => r.source === 'snapshot')).toHaveLength(UNITS - 1);
    expect(fourth.results.every((r) => r.instance.DBInstanceStatus === 'modifying')).toBe(true);
  });

  it('a unit whose instance is done sees it within one interval; a slow one does not hold it up', async () => {
    // Prepare: every instance registered and in the snapshot.
    const key = newRun();
    const t0 = Date.parse('2026-01-02T00:00:00Z');
    const at = (s: number) => ({ ...deps, now: () => new Date(t0 + s * 1000) });
    await Promise.all(ids.map((id) => pollInstance(at(0), key, id, INTERVAL)));
    await Promise.all(ids.map((id) => pollInstance(at(INTERVAL + 0.5), key, id, INTERVAL)));
    emulator.rds.setStatus(REGION, 'db-3-replica', 'available');
    // Act: within the interval the snapshot is reused; past it, the next poll refreshes it for everyone.
    const stale = await pollInstance(at(INTERVAL + 1), key, 'db-3-replica', INTERVAL);
    const refreshed = await pollInstance(at(2 * INTERVAL + 1), key, 'db-9-replica', INTERVAL);
    const seen = await pollInstance(at(2 * INTERVAL + 1.5), key, 'db-3-replica', INTERVAL);
    // Assess
    expect(stale).toMatchObject({ source: 'snapshot', instance: { DBInstanceStatus: 'modifying' } });
    expect(refreshed).toMatchObject({ source: 'lease', instance: { DBInstanceStatus: 'modifying' } });
    expect(seen).toMatchObject({ source: 'snapshot', instance: { DBInstanceStatus: 'available' } });
    emulator.rds.setStatus(REGION, 'db-3-replica', 'modifying');
  });

  it('a lease holder that never writes: the others read their own instance, and the next interval takes the lease again', async () => {
    // Prepare: a lease taken by a poll that then died (its DescribeDBInstances throttled away).
    const key = newRun();
    const t0 = Date.parse('2026-01-03T00:00:00Z');
    const at = (s: number) => ({ ...deps, now: () => new Date(t0 + s * 1000) });
    const fault = emulator.faults.add({
      match: { service: 'rds', action: 'DescribeDBInstances' },
      failCalls: [1],
      failWith: 'throttle',
    });
    const died = await pollInstance(at(0), key, 'db-1-replica', INTERVAL).catch((e: Error) => e);
    fault.remove();
    // Act
    const meanwhile = await pollInstance(at(1), key, 'db-2-replica', INTERVAL);
    const later = await pollInstance(at(INTERVAL + 1), key, 'db-2-replica', INTERVAL);
    // Assess
    expect(died).toMatchObject({ name: 'TransientAwsError' });
    expect(meanwhile.source).toBe('own');
    expect(later.source).toBe('lease');
  });

  it('without the table, every poll reads its own instance, as before', async () => {
    const result = await pollInstance(
      { ...deps, tableName: 'no-such-table' },
      newRun(),
      'db-5-replica',
      INTERVAL,
    );
    expect(result).toMatchObject({ source: 'own', instance: { DBInstanceIdentifier: 'db-5-replica' } });
  });

  it('an instance that does not exist is ResourceMissingError, as the unit’s own read says', async () => {
    await expect(pollInstance(deps, newRun(), 'gone-replica', INTERVAL)).rejects.toMatchObject({
      name: 'ResourceMissingError',
    });
  });
});

/** The fixture's unit with another replica instance. */
function withReplica(unit: UnitStepInput['unit'], replicaInstanceId: string): UnitStepInput['unit'] {
  return { ...unit, database: { ...unit.database, replicaInstanceId } } as UnitStepInput['unit'];
}

describe('CheckDatabasePromotion with the lock table', () => {
  const saved = { ...process.env };
  afterAll(() => {
    for (const name of ['LOCK_TABLE_NAME', 'LIFEBOAT_AWS_ENDPOINT', TIME_FACTOR_ENV]) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
    resetClients();
  });

  it('40 units checking at once share one DescribeDBInstances per interval, and each sees its own instance done', async () => {
    // Prepare: the step's environment as the stack gives it (LOCK_TABLE_NAME), at real time (the 2 s snapshot
    // interval: a round of 40 handler calls on a loaded machine must fit in it), against the emulator.
    Object.assign(process.env, emulator.env(), {
      LOCK_TABLE_NAME: TABLE,
      LIFEBOAT_AWS_ENDPOINT: emulator.endpoint,
      [TIME_FACTOR_ENV]: '1',
    });
    resetClients();
    const base = stepInput();
    const run = { ...base.run, runId: 'run-handler' };
    const check = (id: string, attempt: number) =>
      checkDatabasePromotion({
        run,
        unit: withReplica(base.unit, id),
        attempt,
      });
    // Rounds start 2.2 s apart: each finds the snapshot one interval old, as units polling every 2 s would.
    const round = async (attempt: number) => {
      const started = Date.now();
      const before = describes();
      const results = await Promise.all(ids.map((id) => check(id, attempt)));
      const calls = describes() - before;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + 2200 - Date.now())));
      return { calls, results };
    };
    // Act: two rounds register every instance; from the third, one lease holder describes them all.
    await round(0);
    await round(1);
    const third = await round(2);
    emulator.rds.setStatus(REGION, 'db-7-replica', 'available');
    const fourth = await round(3);
    const fifth = await round(4);
    // Assess: a poll that read the snapshot just before the lease holder wrote it sees the change at its next poll.
    expect(third.calls).toBe(1);
    expect(fourth.calls).toBe(1);
    expect(fifth.calls).toBe(1);
    expect(third.results.every((r) => !r.done && r.status === 'modifying')).toBe(true);
    const done = (results: typeof fifth.results) =>
      results.filter((r) => r.done).map((r) => r.detail.instance);
    expect(done(fourth.results).every((id) => id === 'db-7-replica')).toBe(true);
    expect(done(fifth.results)).toEqual(['db-7-replica']);
    emulator.rds.setStatus(REGION, 'db-7-replica', 'modifying');
  }, 30_000);

  it('falls back to its own DescribeDBInstances when the table does not answer', async () => {
    // Prepare
    Object.assign(process.env, { LOCK_TABLE_NAME: 'no-such-table' });
    const base = stepInput();
    const before = describes();
    // Act
    const result = await checkDatabasePromotion({
      run: { ...base.run, runId: 'run-no-table' },
      unit: withReplica(base.unit, 'db-2-replica'),
      attempt: 0,
    });
    // Assess
    expect(result).toMatchObject({ done: false, status: 'modifying', detail: { instance: 'db-2-replica' } });
    expect(describes() - before).toBe(1);
  });
});
