import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  BatchWriteItemCommand,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler as checkDatabasePromotion } from '../../functions/check-database-promotion.js';
import { resetClients } from '../../functions/lib/clients.js';
import { updateDns } from '../../functions/lib/dns/update.js';
import { TIME_FACTOR_ENV } from '../../functions/lib/env.js';
import { instanceDatabase } from '../../functions/lib/plan-names.js';
import {
  idsItemKey,
  instanceItemKey,
  type SnapshotKey,
  snapshotTarget,
} from '../../functions/lib/promotion-snapshot.js';
import { pollInstance, type SharedPollDeps, snapshotKey } from '../../functions/lib/shared-poll.js';
import type { UnitStepInput } from '../../functions/lib/types.js';
import { handler as promoteHandler } from '../../functions/promote-database.js';
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

/**
 * A simulated clock shared by the polls of one round, from `ms`: it stands still while any poll of the round is
 * working (its DynamoDB and RDS calls take no simulated time, however loaded the machine), and when every one is
 * waiting it moves to the earliest wake-up. The polls agree on the time, as Lambdas do.
 */
function simulatedRound(ms: number) {
  let time = ms;
  let active = 0;
  const sleeping: { at: number; resolve: () => void }[] = [];
  const advance = () => {
    if (active === 0 || sleeping.length < active) return;
    time = Math.max(time, Math.min(...sleeping.map((s) => s.at)));
    for (const s of sleeping.filter((s) => s.at <= time)) {
      sleeping.splice(sleeping.indexOf(s), 1);
      s.resolve();
    }
  };
  return {
    now: () => new Date(time),
    sleep: (wait: number) =>
      new Promise<void>((resolve) => {
        sleeping.push({ at: time + wait, resolve });
        advance();
      }),
    async run<T>(poll: () => Promise<T>): Promise<T> {
      active += 1;
      try {
        return await poll();
      } finally {
        active -= 1;
        advance();
      }
    },
  };
}

type Round = ReturnType<typeof simulatedRound>;

/** `at(s)`: the dependencies of the polls at `s` seconds from `t0`, all of them on one simulated clock. */
function roundsFrom(t0: number) {
  const rounds = new Map<number, Round>();
  return (seconds: number) => {
    const round = rounds.get(seconds) ?? simulatedRound(t0 + seconds * 1000);
    rounds.set(seconds, round);
    return { ...deps, now: round.now, sleep: round.sleep, round };
  };
}

/** pollInstance, within its round's simulated clock when it has one (roundsFrom). */
function poll(pollDeps: SharedPollDeps & { round?: Round }, key: SnapshotKey, id: string, interval: number) {
  const { round } = pollDeps;
  return round
    ? round.run(() => pollInstance(pollDeps, key, id, interval))
    : pollInstance(pollDeps, key, id, interval);
}

/**
 * One poll's clock, from `ms`: a wait for the lease holder moves it instead of passing, and yields a few real
 * milliseconds so that the other polls go on meanwhile (the lease holder's describe and writes among them).
 */
function clockAt(ms: number) {
  let time = ms;
  const waits: number[] = [];
  return {
    waits,
    now: () => new Date(time),
    sleep: async (wait: number) => {
      waits.push(wait);
      time += wait;
      // 3.3 s of the test's clock are 66 ms: the other polls' registrations and writes land meanwhile, as they would.
      await new Promise((resolve) => setTimeout(resolve, wait / 50));
    },
  };
}
const describes = () => emulator.calls.filter((c) => c.action === 'DescribeDBInstances').length;
function newRun() {
  runCount += 1;
  return { planName: 'orders-dr', runId: `run-${runCount}`, region: REGION };
}

describe('pollInstance', () => {
  it('40 units polling at once for the first time: at most ceil(n/100)+1 DescribeDBInstances across their first two intervals, then one per interval', async () => {
    // Prepare
    const key = newRun();
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const round = async (seconds: number) => {
      const before = describes();
      const at = roundsFrom(t0);
      const results = await Promise.all(ids.map((id) => poll(at(seconds), key, id, INTERVAL)));
      return { calls: describes() - before, results };
    };
    // Act: the worst case, every poll at the same instant. The first lease holder describes only the instances
    // registered before it; the others register and wait for the next holder instead of describing their own.
    const first = await round(0);
    const third = await round(3 * INTERVAL);
    const fourth = await round(4 * INTERVAL + 0.5);
    // Assess
    expect(first.calls).toBeGreaterThanOrEqual(1);
    expect(first.calls).toBeLessThanOrEqual(Math.ceil(UNITS / 100) + 1);
    expect(first.results.filter((r) => r.source === 'own')).toEqual([]);
    expect(first.results.map((r) => r.instance.DBInstanceIdentifier)).toEqual(ids);
    expect(third.calls).toBe(1);
    expect(fourth.calls).toBe(1);
    expect(fourth.results.map((r) => r.instance.DBInstanceIdentifier)).toEqual(ids);
    expect(fourth.results.filter((r) => r.source === 'lease')).toHaveLength(1);
    expect(fourth.results.filter((r) => r.source === 'snapshot')).toHaveLength(UNITS - 1);
    expect(fourth.results.every((r) => r.instance.DBInstanceStatus === 'modifying')).toBe(true);
  });

  it('a unit whose instance is done sees it within one interval; a slow one does not hold it up', async () => {
    // Prepare: every instance registered (the first round), then in the snapshot as one lease holder wrote it at
    // 10 intervals, when every earlier item and lease has run out.
    const key = newRun();
    const t0 = Date.parse('2026-01-02T00:00:00Z');
    const at = roundsFrom(t0);
    await Promise.all(ids.map((id) => poll(at(0), key, id, INTERVAL)));
    const holder = await poll(at(10 * INTERVAL), key, 'db-0-replica', INTERVAL);
    emulator.rds.setStatus(REGION, 'db-3-replica', 'available');
    try {
      // Act: within the interval the snapshot is reused; past it, the next poll refreshes it for everyone.
      const stale = await poll(at(10 * INTERVAL + 1), key, 'db-3-replica', INTERVAL);
      const refreshed = await poll(at(11 * INTERVAL + 1), key, 'db-9-replica', INTERVAL);
      const seen = await poll(at(11 * INTERVAL + 1.5), key, 'db-3-replica', INTERVAL);
      // Assess
      expect(holder.source).toBe('lease');
      expect(stale).toMatchObject({ source: 'snapshot', instance: { DBInstanceStatus: 'modifying' } });
      expect(refreshed).toMatchObject({ source: 'lease', instance: { DBInstanceStatus: 'modifying' } });
      expect(seen).toMatchObject({ source: 'snapshot', instance: { DBInstanceStatus: 'available' } });
    } finally {
      emulator.rds.setStatus(REGION, 'db-3-replica', 'modifying');
    }
  });

  it('a lease holder that dies: the others wait for its lease to end, and the first to find it free describes them all', async () => {
    // Prepare: a lease taken by a poll that then died (its DescribeDBInstances throttled away).
    const key = newRun();
    const t0 = Date.parse('2026-01-03T00:00:00Z');
    const fault = emulator.faults.add({
      match: { service: 'rds', action: 'DescribeDBInstances' },
      failCalls: [1],
      failWith: 'throttle',
    });
    const died = await poll({ ...deps, ...clockAt(t0) }, key, 'db-1-replica', INTERVAL).catch(
      (e: Error) => e,
    );
    fault.remove();
    const before = describes();
    // Act
    const clock = clockAt(t0 + 1000);
    const meanwhile = await poll({ ...deps, ...clock }, key, 'db-2-replica', INTERVAL);
    const other = await poll({ ...deps, ...clockAt(t0 + 4000) }, key, 'db-1-replica', INTERVAL);
    // Assess: one wait, to the dead lease's end (3 s) and a tenth of an interval; one describe of both instances.
    expect(died).toMatchObject({ name: 'TransientAwsError' });
    expect(clock.waits).toEqual([2300]);
    expect(meanwhile).toMatchObject({ source: 'lease', instance: { DBInstanceIdentifier: 'db-2-replica' } });
    expect(other).toMatchObject({ source: 'snapshot', instance: { DBInstanceIdentifier: 'db-1-replica' } });
    expect(describes() - before).toBe(1);
  });

  it('a unit whose item never comes (every lease holder dies) describes its own after two intervals', async () => {
    // Prepare: every time the unit waits, another poll takes the lease and dies before it writes.
    const key = newRun();
    const t0 = Date.parse('2026-01-09T00:00:00Z');
    const clock = clockAt(t0);
    const takeLeaseAndDie = async () => {
      await deps.dynamodb.send(
        new UpdateItemCommand({
          TableName: TABLE,
          Key: { planName: { S: snapshotKey(key) } },
          UpdateExpression: 'SET leaseUntil = :until',
          ExpressionAttributeValues: { ':until': { N: String(clock.now().getTime() + INTERVAL * 1000) } },
        }),
      );
    };
    await takeLeaseAndDie();
    const sleep = async (wait: number) => {
      await clock.sleep(wait);
      await takeLeaseAndDie();
    };
    const before = describes();
    // Act
    const result = await poll({ ...deps, now: clock.now, sleep }, key, 'db-6-replica', INTERVAL);
    // Assess: it waited two intervals (and their margins), then read its own instance, once.
    expect(result).toMatchObject({ source: 'own', instance: { DBInstanceIdentifier: 'db-6-replica' } });
    expect(clock.waits.reduce((sum, w) => sum + w, 0)).toBe(2 * (INTERVAL * 1000 + 300));
    expect(describes() - before).toBe(1);
    expect((await storedItem(idsItemKey(key))).ids?.SS).toEqual(['db-6-replica']);
  });

  it('without the table, every poll reads its own instance, as before', async () => {
    const result = await poll({ ...deps, tableName: 'no-such-table' }, newRun(), 'db-5-replica', INTERVAL);
    expect(result).toMatchObject({ source: 'own', instance: { DBInstanceIdentifier: 'db-5-replica' } });
  });

  it('an instance that does not exist is ResourceMissingError, as the unit’s own read says', async () => {
    await expect(poll(deps, newRun(), 'gone-replica', INTERVAL)).rejects.toMatchObject({
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
    // Act: in the first round (the polls register, and wait for the next lease holder instead of describing their
    // own) two lease holders describe; from then on, one describes them all.
    const first = await round(0);
    await round(1);
    const third = await round(2);
    emulator.rds.setStatus(REGION, 'db-7-replica', 'available');
    const fourth = await round(3);
    const fifth = await round(4);
    // Assess: a poll that read the snapshot just before the lease holder wrote it sees the change at its next poll.
    expect(first.calls).toBeLessThanOrEqual(Math.ceil(UNITS / 100) + 1);
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

/* ---------------------------------------------------------------------------------------------- */
/* The snapshot as one small item per instance (functions/lib/promotion-snapshot.ts)               */
/* ---------------------------------------------------------------------------------------------- */

interface Sent {
  readonly command: unknown;
  readonly output: unknown;
}

/**
 * The test's DynamoDB client, recording every command and its answer. `unprocessed` picks the puts of a
 * BatchWriteItem that DynamoDB answers as UnprocessedItems (throttled: not written), as AWS does under load; the
 * emulator's DynamoDB never does.
 */
function recording(unprocessed?: (put: WriteRequest) => boolean) {
  const sent: Sent[] = [];
  const real = deps.dynamodb;
  const client = Object.create(real) as DynamoDBClient;
  const send = async (command: Parameters<DynamoDBClient['send']>[0]) => {
    let output: unknown;
    if (command instanceof BatchWriteItemCommand && unprocessed) {
      const requests = command.input.RequestItems?.[TABLE] ?? [];
      const left = requests.filter(unprocessed);
      const kept = requests.filter((r) => !left.includes(r));
      const out = kept.length
        ? await real.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: kept } }))
        : {};
      output = { ...out, UnprocessedItems: left.length ? { [TABLE]: left } : {} };
    } else {
      output = await real.send(command);
    }
    sent.push({ command, output });
    return output;
  };
  client.send = send as unknown as DynamoDBClient['send'];
  return { client, sent };
}

/** An item's size as DynamoDB counts it, from above: names plus the values' JSON (docs/design/fleet.md). */
function itemBytes(item: Record<string, AttributeValue>): number {
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(JSON.stringify(value)),
    0,
  );
}

/** Every item the recorded commands read (GetItem, BatchGetItem). */
function itemsRead(sent: readonly Sent[]): Record<string, AttributeValue>[] {
  return sent.flatMap(({ command, output }) => {
    if (command instanceof GetItemCommand) {
      const item = (output as { Item?: Record<string, AttributeValue> }).Item;
      return item ? [item] : [];
    }
    if (command instanceof BatchGetItemCommand) {
      return (output as BatchGetItemCommandOutput).Responses?.[TABLE] ?? [];
    }
    return [];
  });
}

/** The keys of the items the recorded commands asked for (GetItem, BatchGetItem). */
function keysReadBy(sent: readonly Sent[]): string[] {
  return sent.flatMap(({ command }) => {
    if (command instanceof GetItemCommand) return [command.input.Key?.planName?.S ?? ''];
    if (command instanceof BatchGetItemCommand) {
      return (command.input.RequestItems?.[TABLE]?.Keys ?? []).map((k) => k.planName?.S ?? '');
    }
    return [];
  });
}

/** The puts of the recorded BatchWriteItem calls, by instance item key. */
function putsSent(sent: readonly Sent[]): string[] {
  return sent.flatMap(({ command }) =>
    command instanceof BatchWriteItemCommand
      ? (command.input.RequestItems?.[TABLE] ?? []).map((r) => r.PutRequest?.Item?.planName?.S ?? '')
      : [],
  );
}

async function storedItem(planName: string): Promise<Record<string, AttributeValue>> {
  const out = await deps.dynamodb.send(
    new GetItemCommand({ TableName: TABLE, Key: { planName: { S: planName } }, ConsistentRead: true }),
  );
  return out.Item ?? {};
}

describe('the promotion snapshot, one small item per instance', () => {
  it('a unit’s poll reads the meta item’s lease and its own instance’s item, in one BatchGetItem; the meta item holds no instance', async () => {
    // Prepare: every instance registered, and a lease holder's write of all 40.
    const key = newRun();
    const t0 = Date.parse('2026-01-04T00:00:00Z');
    const at = roundsFrom(t0);
    await Promise.all(ids.map((id) => poll(at(0), key, id, INTERVAL)));
    // The first round's items are at most 2.2 intervals old: at 4 intervals, a lease holder writes them anew.
    const holder = await poll(at(4 * INTERVAL), key, 'db-0-replica', INTERVAL);
    const { client, sent } = recording();
    // Act
    const result = await poll({ ...at(4 * INTERVAL + 0.5), dynamodb: client }, key, 'db-7-replica', INTERVAL);
    // Assess: one consistent read of two keys, never the registered ids.
    expect(holder.source).toBe('lease');
    expect(result).toMatchObject({ source: 'snapshot', instance: { DBInstanceIdentifier: 'db-7-replica' } });
    expect(sent).toHaveLength(1);
    const command = sent[0]?.command;
    expect(command).toBeInstanceOf(BatchGetItemCommand);
    const request = (command as BatchGetItemCommand).input.RequestItems?.[TABLE];
    expect(request?.Keys?.map((k) => k.planName?.S).sort()).toEqual(
      [snapshotKey(key), instanceItemKey(key, 'db-7-replica')].sort(),
    );
    expect(request?.ConsistentRead).toBe(true);
    expect(request?.ProjectionExpression).not.toMatch(/\bids\b/);
    expect(itemsRead(sent).flatMap((item) => Object.keys(item))).not.toContain('ids');
    // The items as stored: the meta item is the lease, its time and the TTL; the ids are an item of their own (a
    // read is charged by the whole item, projection or not); each instance has its own item.
    const meta = await storedItem(snapshotKey(key));
    expect(Object.keys(meta).sort()).toEqual(['expiresAt', 'leaseUntil', 'planName', 'polledAt']);
    expect((await storedItem(idsItemKey(key))).ids?.SS).toHaveLength(UNITS);
    const own = await storedItem(instanceItemKey(key, 'db-7-replica'));
    expect(Object.keys(own).sort()).toEqual(['expiresAt', 'instance', 'planName', 'polledAt']);
    expect(JSON.parse(own.instance?.S ?? '{}')).toMatchObject({ DBInstanceIdentifier: 'db-7-replica' });
    expect(Number(own.polledAt?.N)).toBe(t0 + 4 * INTERVAL * 1000);
  });

  it('at 500 registered instances, no item a unit reads is over 4 KB, and the lease holder writes them 25 a call', async () => {
    // Prepare: 500 instances, registered as the units' first polls register them.
    const key = newRun();
    const t0 = Date.parse('2026-01-05T00:00:00Z');
    const at = roundsFrom(t0);
    const fleet = Array.from({ length: 500 }, (_, i) => `fleet-${i}-replica-with-a-longer-identifier`);
    for (const id of fleet) emulator.seed.dbInstance({ region: REGION, id, status: 'modifying' });
    await deps.dynamodb.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: { planName: { S: idsItemKey(key) } },
        UpdateExpression: 'ADD ids :ids',
        ExpressionAttributeValues: { ':ids': { SS: fleet } },
      }),
    );
    const holder = recording();
    const before = describes();
    const leased = await poll({ ...at(0), dynamodb: holder.client }, key, fleet[0] ?? '', INTERVAL);
    const describedByHolder = describes() - before;
    // Act: every tenth unit polls within the interval.
    const sample = fleet.filter((_, i) => i % 10 === 0 || i === 499);
    const polls = await Promise.all(
      sample.map(async (id) => {
        const { client, sent } = recording();
        const result = await poll({ ...at(1), dynamodb: client }, key, id, INTERVAL);
        return { id, result, sent };
      }),
    );
    // Assess
    expect(leased.source).toBe('lease');
    expect(describedByHolder).toBe(5);
    const writes = holder.sent.filter((s) => s.command instanceof BatchWriteItemCommand);
    expect(writes).toHaveLength(20);
    expect(new Set(putsSent(holder.sent))).toEqual(new Set(fleet.map((id) => instanceItemKey(key, id))));
    // A read is charged by the whole stored item, whatever the projection returns: measure the items as stored.
    const keysRead = new Set<string>();
    for (const { id, result, sent } of polls) {
      expect(result).toMatchObject({ source: 'snapshot', instance: { DBInstanceIdentifier: id } });
      expect(sent).toHaveLength(1);
      expect(itemsRead(sent)).toHaveLength(2);
      for (const k of keysReadBy(sent)) keysRead.add(k);
    }
    expect(keysRead.size).toBe(sample.length + 1);
    for (const k of keysRead) expect(itemBytes(await storedItem(k))).toBeLessThanOrEqual(4096);
    // An instance's item is far below one read unit; the ids (the lease holder's read alone) are not.
    expect(itemBytes(await storedItem(instanceItemKey(key, fleet[499] ?? '')))).toBeLessThan(1024);
    expect(itemBytes(await storedItem(idsItemKey(key)))).toBeGreaterThan(4096);
  }, 30_000);

  it('unprocessed puts are sent again; those still left only cost their unit a wait and the next lease', async () => {
    // Prepare: every instance registered. DynamoDB answers db-4's put as unprocessed every time, and the puts of
    // db-5, db-15, db-25 and db-35 once.
    const key = newRun();
    const t0 = Date.parse('2026-01-06T00:00:00Z');
    const at = roundsFrom(t0);
    await Promise.all(ids.map((id) => poll(at(0), key, id, INTERVAL)));
    const once = new Set(['db-5-replica', 'db-15-replica', 'db-25-replica', 'db-35-replica']);
    const throttled = new Set<string>();
    const { client, sent } = recording((put) => {
      const name = put.PutRequest?.Item?.planName?.S ?? '';
      const id = name.slice(name.lastIndexOf('#') + 1);
      if (id === 'db-4-replica') return true;
      if (once.has(id) && !throttled.has(id)) {
        throttled.add(id);
        return true;
      }
      return false;
    });
    // Act: the lease holder writes (past two intervals of the first round's items); then every unit polls within
    // the interval.
    const holder = await poll({ ...at(5 * INTERVAL), dynamodb: client }, key, 'db-0-replica', INTERVAL);
    const before = describes();
    const polls = await Promise.all(ids.map((id) => poll(at(5 * INTERVAL + 0.5), key, id, INTERVAL)));
    // Assess: the holder is not failed by a put left; the unit whose put was left waits for the lease to end and
    // takes the next one, alone.
    expect(holder.source).toBe('lease');
    const puts = putsSent(sent);
    const count = (id: string) => puts.filter((p) => p === instanceItemKey(key, id)).length;
    for (const id of once) expect(count(id)).toBe(2);
    expect(count('db-4-replica')).toBe(4);
    expect(count('db-6-replica')).toBe(1);
    const bySource = (source: string) =>
      polls.filter((r) => r.source === source).map((r) => r.instance.DBInstanceIdentifier);
    expect(bySource('own')).toEqual([]);
    expect(bySource('lease')).toEqual(['db-4-replica']);
    expect(bySource('snapshot')).toHaveLength(UNITS - 1);
    expect(describes() - before).toBe(1);
  });

  it('a BatchWriteItem refused whole (throttled) is not the lease holder’s error; the others take the next lease', async () => {
    const key = newRun();
    const t0 = Date.parse('2026-01-07T00:00:00Z');
    const at = roundsFrom(t0);
    // Prepare: five instances registered, none written yet.
    await deps.dynamodb.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: { planName: { S: idsItemKey(key) } },
        UpdateExpression: 'ADD ids :ids',
        ExpressionAttributeValues: { ':ids': { SS: ids.slice(0, 5) } },
      }),
    );
    const fault = emulator.faults.add({
      match: { service: 'dynamodb', action: 'BatchWriteItem' },
      always: 'throttle',
    });
    // Act
    const holder = await poll(at(INTERVAL + 0.5), key, 'db-0-replica', INTERVAL).finally(() =>
      fault.remove(),
    );
    const other = await poll(at(INTERVAL + 1), key, 'db-1-replica', INTERVAL);
    // Assess
    expect(holder).toMatchObject({ source: 'lease', instance: { DBInstanceIdentifier: 'db-0-replica' } });
    // The other finds no item: it waits for the lease to end, then takes it (the emulator writes again).
    expect(other).toMatchObject({ source: 'lease', instance: { DBInstanceIdentifier: 'db-1-replica' } });
  });
});

describe('UpdateDns with the promotion snapshot', () => {
  const t0 = Date.parse('2026-01-08T00:00:00Z');
  let route53: Route53Client;
  let input: UnitStepInput;
  let endpoint: string;

  beforeAll(async () => {
    route53 = new Route53Client({ ...emulator.clientConfig('us-east-1'), maxAttempts: 1 });
    const { id: zoneId } = emulator.seed.hostedZone({
      name: 'snapshot.example.internal',
      records: [
        { name: 'app.snapshot.example.internal', type: 'CNAME', ttl: 30, values: ['old.example.com'] },
      ],
    });
    // A promoted instance: available, no replica source.
    emulator.seed.dbInstance({ region: REGION, id: 'promoted-replica' });
    const base = stepInput();
    input = {
      run: { ...base.run, runId: 'run-update-dns' },
      unit: {
        ...base.unit,
        database: { ...instanceDatabase(base.unit, 'this test'), replicaInstanceId: 'promoted-replica' },
        dns: {
          ...base.unit.dns,
          hostedZoneId: zoneId,
          recordName: 'app.snapshot.example.internal',
          strategy: 'cname',
        },
      } as UnitStepInput['unit'],
    };
    // The check step's last poll: the lease holder writes the instance's item at t0.
    const polled = await poll(
      { ...deps, ...clockAt(t0) },
      { planName: input.run.planName, runId: input.run.runId, region: REGION },
      'promoted-replica',
      INTERVAL,
    );
    endpoint = polled.instance.Endpoint?.Address ?? '';
  });

  const snapshot = (seconds: number, runId = input.run.runId) => ({
    dynamodb: deps.dynamodb,
    tableName: TABLE,
    key: { planName: input.run.planName, runId, region: REGION },
    intervalSeconds: INTERVAL,
    now: () => new Date(t0 + seconds * 1000),
  });

  it('takes the promoted endpoint from a fresh snapshot: no DescribeDBInstances', async () => {
    const before = describes();
    const result = await updateDns({ rds: deps.rds, route53, snapshot: snapshot(1) }, input);
    expect(endpoint).not.toBe('');
    expect(result).toMatchObject({ outcome: 'changed', detail: { target: endpoint } });
    expect(describes() - before).toBe(0);
  });

  it('describes the instance when its item is older than one interval, or missing', async () => {
    const before = describes();
    const stale = await updateDns({ rds: deps.rds, route53, snapshot: snapshot(INTERVAL + 1) }, input);
    const afterStale = describes();
    const missing = await updateDns({ rds: deps.rds, route53, snapshot: snapshot(1, 'no-such-run') }, input);
    expect(stale).toMatchObject({ detail: { target: endpoint } });
    expect(missing).toMatchObject({ detail: { target: endpoint } });
    expect(afterStale - before).toBe(1);
    expect(describes() - afterStale).toBe(1);
  });

  it('does not take a snapshot that shows the instance not promoted yet, nor a table that does not answer', async () => {
    // Prepare: the snapshot of an instance still modifying (db-2-replica, seeded above).
    const key = { planName: input.run.planName, runId: 'run-not-promoted', region: REGION };
    await poll({ ...deps, ...clockAt(t0) }, key, 'db-2-replica', INTERVAL);
    const unit = {
      ...input.unit,
      database: { ...instanceDatabase(input.unit, 'this test'), replicaInstanceId: 'db-2-replica' },
    } as UnitStepInput['unit'];
    // Act
    const notPromoted = await snapshotTarget({ ...snapshot(1, key.runId) }, unit);
    const noTable = await snapshotTarget({ ...snapshot(1), tableName: 'no-such-table' }, input.unit);
    const fresh = await snapshotTarget(snapshot(1), input.unit);
    // Assess
    expect(notPromoted).toBeUndefined();
    expect(noTable).toBeUndefined();
    expect(fresh).toMatchObject({ endpoint, notPromoted: undefined, status: 'available' });
  });
});

describe('PromoteDatabase with the lock table', () => {
  const saved = { ...process.env };
  const PROMOTING = 40;
  const replicas = Array.from({ length: PROMOTING }, (_, i) => `promo-${i}-replica`);
  const promotions = () => emulator.calls.filter((c) => c.action === 'PromoteReadReplica');
  let base: UnitStepInput;

  beforeAll(() => {
    // The fixture's primary (us-east-1) and its cross-Region replicas in the recovery Region; one replica of another
    // primary.
    base = stepInput();
    const primary = emulator.seed.dbInstance({ region: 'us-east-1', id: 'orders-db' });
    const other = emulator.seed.dbInstance({ region: 'us-east-1', id: 'other-db' });
    for (const id of replicas) {
      emulator.seed.dbInstance({ region: REGION, id, replicaOf: primary.arn, backupRetentionPeriod: 3 });
    }
    emulator.seed.dbInstance({ region: REGION, id: 'promo-wrong-replica', replicaOf: other.arn });
    // The step's environment as the stack gives it (LOCK_TABLE_NAME); the snapshot's interval at 1 s.
    Object.assign(process.env, emulator.env(), {
      LOCK_TABLE_NAME: TABLE,
      LIFEBOAT_AWS_ENDPOINT: emulator.endpoint,
      [TIME_FACTOR_ENV]: '0.5',
    });
    resetClients();
  });
  afterAll(() => {
    for (const name of ['LOCK_TABLE_NAME', 'LIFEBOAT_AWS_ENDPOINT', TIME_FACTOR_ENV]) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
    resetClients();
  });

  const run = () => ({ ...base.run, runId: 'run-promote' });
  const promote = (id: string) => promoteHandler({ run: run(), unit: withReplica(base.unit, id) });

  it('40 units promoting at once: at most ceil(40/100)+1 DescribeDBInstances and 40 PromoteReadReplica; a re-run after the promotion is already-done', async () => {
    // Prepare
    const describedBefore = describes();
    const promotedBefore = promotions().length;
    // Act
    const results = await Promise.all(replicas.map((id) => promote(id)));
    const described = describes() - describedBefore;
    // The promotions end within milliseconds (the emulator's time factor); the snapshot's items age past the 1 s
    // interval, so that the re-run's read takes the lease and describes them anew.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const rerun = await promote('promo-7-replica');
    // Assess
    expect(described).toBeLessThanOrEqual(Math.ceil(PROMOTING / 100) + 1);
    expect(promotions().length - promotedBefore).toBe(PROMOTING);
    expect(results.map((r) => r.outcome)).toEqual(replicas.map(() => 'changed'));
    // promoteParameters read the replica's retention from the snapshot.
    expect(results[0]).toMatchObject({
      detail: { backupRetentionPeriod: 3, previousReplicaSource: expect.any(String) },
    });
    expect(rerun).toMatchObject({ outcome: 'already-done', detail: { call: null, replicaSource: null } });
    expect(promotions().length - promotedBefore).toBe(PROMOTING);
  }, 30_000);

  it('a replica of another primary is still a ConfigurationError, with nothing changed', async () => {
    // Prepare
    const before = promotions().length;
    // Act
    const error = await promote('promo-wrong-replica').catch((e: Error) => e);
    // Assess
    expect(error).toMatchObject({
      name: 'ConfigurationError',
      message: expect.stringMatching(/nothing was changed/),
    });
    expect(promotions().length).toBe(before);
    const [wrong] =
      (await deps.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'promo-wrong-replica' })))
        .DBInstances ?? [];
    expect(wrong?.ReadReplicaSourceDBInstanceIdentifier).toMatch(/other-db$/);
  });
});
