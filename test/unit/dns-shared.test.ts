import { CreateTableCommand, DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { RDSClient } from '@aws-sdk/client-rds';
import { ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeZoneRecords } from '../../functions/lib/dns/batch.js';
import { checkDnsChange, type ZoneBatchConfig } from '../../functions/lib/dns/change.js';
import { registerChange, sharedChangeStatus, zoneItemKey } from '../../functions/lib/dns/shared.js';
import { updateDns } from '../../functions/lib/dns/update.js';
import { instanceDatabase } from '../../functions/lib/plan-names.js';
import type { PollResult, StepResult, UnitStepInput } from '../../functions/lib/types.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';
import { stepInput } from '../fixtures/db-fixtures.js';

/**
 * UpdateDns and CheckDnsChange with the zone batch (functions/lib/dns/shared.ts, docs/design/fleet.md "DNS: one batch
 * per zone"), against the emulator's Route 53 with per-zone serialization on (a change to a zone with a PENDING one
 * is PriorRequestNotComplete, as in AWS) and its DynamoDB as the lock table.
 */
const REGION = 'us-west-2';
const TABLE = 'lifeboat-test-lock';
/** 20 emulated seconds PENDING = 1 real second. */
const TIME_FACTOR = 0.05;
/** One DNS poll (2 s) at the time factor, as the step computes it. */
const INTERVAL = 2 * TIME_FACTOR;
let emulator: Emulator;
let route53: Route53Client;
let rds: RDSClient;
let batch: ZoneBatchConfig;
let zoneCount = 0;
let runCount = 0;

beforeAll(async () => {
  emulator = await startEmulator({ timeFactor: TIME_FACTOR, route53SerializeChanges: true });
  route53 = new Route53Client({ ...emulator.clientConfig('us-east-1'), maxAttempts: 1 });
  rds = new RDSClient({ ...emulator.clientConfig(REGION), maxAttempts: 1 });
  const dynamodb = new DynamoDBClient({ ...emulator.clientConfig(REGION), maxAttempts: 1 });
  await dynamodb.send(
    new CreateTableCommand({
      TableName: TABLE,
      KeySchema: [{ AttributeName: 'planName', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'planName', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  batch = { dynamodb, tableName: TABLE, intervalSeconds: INTERVAL };
});
afterAll(() => emulator?.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const count = (action: string, since = 0) =>
  emulator.calls.filter((c) => c.action === action && c.seq > since).length;
const lastSeq = () => emulator.calls.at(-1)?.seq ?? 0;

/** A zone with `n` units' records (pointing at their old primaries) and a TXT record at `taken.<zone>`. */
function world(n: number, options: { bad?: number[] } = {}) {
  zoneCount += 1;
  runCount += 1;
  const zoneName = `fleet${zoneCount}.example.internal`;
  const bad = new Set(options.bad ?? []);
  const units = Array.from({ length: n }, (_, i) => `u${zoneCount}x${i}`);
  const { id } = emulator.seed.hostedZone({
    name: zoneName,
    records: [
      { name: `taken.${zoneName}`, type: 'TXT', values: ['"x"'] },
      ...units.map((u) => ({
        name: `${u}.${zoneName}`,
        type: 'CNAME',
        ttl: 30,
        values: [`${u}-old.example.com`],
      })),
    ],
  });
  const base = stepInput();
  const run = { ...base.run, runId: `run-${runCount}` };
  const inputs = units.map((u, i) => {
    emulator.seed.dbInstance({ region: REGION, id: `${u}-replica` });
    // A bad record: a CNAME where a TXT record is (Route 53 rejects it, and with it the whole batch it is in).
    const recordName = bad.has(i) ? `taken.${zoneName}` : `${u}.${zoneName}`;
    const input = {
      run,
      unit: {
        ...base.unit,
        name: u,
        database: { ...instanceDatabase(base.unit, 'this test'), replicaInstanceId: `${u}-replica` },
        dns: { ...base.unit.dns, hostedZoneId: id, recordName, ttl: 60, strategy: 'cname' },
      } as UnitStepInput['unit'],
    };
    return input;
  });
  return { zoneId: id, zoneName, inputs };
}

const deps = () => ({ rds, route53, batch });
const poll = (input: UnitStepInput, changeId: string | null, attempt: number) =>
  checkDnsChange(deps(), { ...input, changeId, attempt });

/** Polls every unit, INTERVAL apart, until each is done or failed; the last result (or error) of each. */
async function pollAll(
  inputs: readonly UnitStepInput[],
  updates: readonly StepResult[],
  maxRounds = 200,
): Promise<(PollResult | Error)[]> {
  const last: (PollResult | Error | undefined)[] = inputs.map(() => undefined);
  for (let attempt = 0; attempt < maxRounds; attempt += 1) {
    const open = inputs
      .map((input, i) => ({ input, i }))
      .filter(({ i }) => !(last[i] instanceof Error) && !(last[i] as PollResult | undefined)?.done);
    if (open.length === 0) break;
    await Promise.all(
      open.map(async ({ input, i }) => {
        const changeId = (updates[i]?.detail.changeId as string | null | undefined) ?? null;
        last[i] = await poll(input, changeId, attempt).catch((e: Error) => e);
      }),
    );
    await sleep(INTERVAL * 1000);
  }
  return last.map((r) => r ?? new Error('never polled'));
}

async function recordValue(zoneId: string, name: string): Promise<string | undefined> {
  const out = await route53.send(
    new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: name, MaxItems: 1 }),
  );
  return out.ResourceRecordSets?.[0]?.ResourceRecords?.[0]?.Value;
}

describe('UpdateDns and CheckDnsChange with the zone batch', () => {
  it('a unit alone keeps its path: its batch of one is sent at once, with the previous TTL and its change id', async () => {
    // Prepare
    const { inputs, zoneId, zoneName } = world(1);
    const [input] = inputs as [UnitStepInput];
    // Act
    const result = await updateDns(deps(), input);
    const polls = await pollAll(inputs, [result]);
    // A re-run is a new execution: a new run id.
    const again = await updateDns(deps(), {
      ...input,
      run: { ...input.run, runId: `${input.run.runId}-rerun` },
    });
    // Assess
    expect(result).toMatchObject({
      outcome: 'changed',
      detail: {
        previousTtl: 30,
        ttl: 60,
        batch: 'sent',
        batchSize: 1,
        changeId: expect.stringMatching(/^\/change\//),
      },
    });
    expect(polls[0]).toMatchObject({ done: true, status: 'INSYNC' });
    expect(await recordValue(zoneId, `${input.unit.name}.${zoneName}`)).toMatch(/^u\d+x0-replica\./);
    // A re-run finds the record in place: already-done, with a new change to wait for.
    expect(again).toMatchObject({ outcome: 'already-done', detail: { previousTtl: 60, batch: 'sent' } });
    expect(again.detail.changeId).not.toBe(result.detail.changeId);
  });

  it('30 units at once: a handful of batches instead of 30 queued changes, and one GetChange per change per poll', async () => {
    // Prepare
    const { inputs, zoneId, zoneName } = world(30);
    // Act: every unit's UpdateDns at the same moment, then their polls.
    const updates = await Promise.all(inputs.map((input) => updateDns(deps(), input)));
    const since = lastSeq();
    const pollsStarted = Date.now();
    const polls = await pollAll(inputs, updates);
    const pollMs = Date.now() - pollsStarted;
    // Assess: every record changed and in sync.
    expect(polls.every((p) => !(p instanceof Error) && p.done && p.status === 'INSYNC')).toBe(true);
    for (const input of inputs) {
      expect(await recordValue(zoneId, `${input.unit.name}.${zoneName}`)).toMatch(
        new RegExp(`^${input.unit.name}-replica\\.`),
      );
    }
    const changeIds = (results: readonly (PollResult | StepResult | Error)[]) =>
      new Set(results.map((r) => (r instanceof Error ? null : r.detail.changeId)).filter((id) => id != null));
    const accepted = changeIds([...updates, ...polls]);
    const sentInPolls = [...changeIds(polls)].filter((id) => !changeIds(updates).has(id));
    const rounds = Math.max(...polls.map((p) => Number((p as PollResult).detail.attempt) + 1));
    // The lease lasts one interval: a round of 30 polls that outlasts it (a loaded machine) lets a later poll of the
    // same round take it again, so the bound is per interval elapsed, or per round when rounds are the more.
    const intervals = Math.max(rounds, Math.ceil(pollMs / (INTERVAL * 1000)) + 1);
    // Batches, not a change per unit: the units registered while a change was PENDING go in the next batch.
    expect(accepted.size).toBeLessThanOrEqual(inputs.length / 3);
    // While the units poll, a zone gets at most one ChangeResourceRecordSets per poll interval (the lease), and each
    // change one GetChange per interval, whatever the number of units waiting for it.
    expect(count('ChangeResourceRecordSets', since)).toBeLessThanOrEqual(sentInPolls.length + intervals);
    expect(count('GetChange', since)).toBeLessThanOrEqual(accepted.size * intervals);
    expect(count('GetChange', since)).toBeLessThan(inputs.length * rounds);
  });

  it('30 units read no record of their own: the zone is read once per batch, and each unit gets its previous TTL from it', async () => {
    // Prepare: 30 records at TTL 30, each to be changed to TTL 60.
    const { inputs } = world(30);
    const since = lastSeq();
    // Act
    const updates = await Promise.all(inputs.map((input) => updateDns(deps(), input)));
    const polls = await pollAll(inputs, updates);
    // Assess: one ListResourceRecordSets per batch sent (the sender's read of the zone), not one a unit.
    const batches = emulator.calls.filter((c) => c.seq > since && c.action === 'ChangeResourceRecordSets');
    expect(count('ListResourceRecordSets', since)).toBeLessThanOrEqual(batches.length);
    expect(count('ListResourceRecordSets', since)).toBeLessThan(inputs.length);
    // Every unit reports what its record held before: in UpdateDns's detail when its batch went at once, else in the
    // DNS poll's detail (the verify budget and the report read either).
    inputs.forEach((input, i) => {
      const update = updates[i] as StepResult;
      const polled = polls[i] as PollResult;
      expect(polled).toMatchObject({ done: true, status: 'INSYNC' });
      const previousTtl = update.detail.previousTtl ?? polled.detail.previousTtl;
      const previousTarget = update.detail.previousTarget ?? polled.detail.previousTarget;
      expect({ unit: input.unit.name, previousTtl, previousTarget }).toEqual({
        unit: input.unit.name,
        previousTtl: 30,
        previousTarget: `${input.unit.name}-old.example.com`,
      });
      if (update.detail.batch === 'pending') expect(update.detail.previousTtl).toBeNull();
    });
  });

  it('a bad record is rejected alone: the others of its batch are changed', async () => {
    // Prepare: units 2 and 5 name a record where a TXT record is.
    const { inputs, zoneId, zoneName } = world(8, { bad: [2, 5] });
    // Act
    const updates = await Promise.all(inputs.map((input) => updateDns(deps(), input).catch((e: Error) => e)));
    const polls = await pollAll(
      inputs,
      updates.map((u) =>
        u instanceof Error ? ({ detail: { changeId: null } } as unknown as StepResult) : u,
      ),
    );
    // Assess
    const outcome = (i: number) => (updates[i] instanceof Error ? updates[i] : polls[i]);
    for (const i of [2, 5]) {
      expect(outcome(i)).toMatchObject({
        name: 'AwsCallFailedError',
        message: expect.stringContaining(`taken.${zoneName} already has TXT records`),
      });
    }
    for (const i of [0, 1, 3, 4, 6, 7]) {
      expect(polls[i]).toMatchObject({ done: true, status: 'INSYNC' });
      const input = inputs[i] as UnitStepInput;
      expect(await recordValue(zoneId, `${input.unit.name}.${zoneName}`)).toContain('-replica.');
    }
  });

  it('a batch sent whose outcomes were never written (its sender died) is sent again by the next poll, and converges', async () => {
    // Prepare: 5 units registered; a sender took the lease and Route 53 accepted the batch, then it died before it
    // wrote any outcome.
    const { inputs, zoneId, zoneName } = world(5);
    const key = { planName: 'orders-dr', runId: (inputs[0] as UnitStepInput).run.runId, zoneId };
    const shared = { route53, dynamodb: batch.dynamodb, tableName: TABLE };
    const items = inputs.map((input) => ({
      key: input.unit.name,
      change: {
        Action: 'UPSERT' as const,
        ResourceRecordSet: {
          Name: input.unit.dns.recordName,
          Type: 'CNAME' as const,
          TTL: 60,
          ResourceRecords: [{ Value: `${input.unit.name}-replica.example.com` }],
        },
      },
    }));
    for (const item of items) {
      await registerChange(shared, key, item.key, item.change, {
        previousTarget: null,
        previousTtl: null,
        alreadyThere: false,
      });
    }
    await batch.dynamodb.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: { planName: { S: zoneItemKey(key) } },
        UpdateExpression: 'SET leaseUntil = :until',
        ExpressionAttributeValues: { ':until': { N: String(Date.now() + INTERVAL * 1000) } },
      }),
    );
    const died = await changeZoneRecords(route53, { id: zoneId, name: zoneName, records: [] }, items, 'died');
    const since = lastSeq();
    // Act: the units poll (UpdateDns left them pending); once the lease runs out, one poll sends the changes again.
    const polls = await pollAll(
      inputs,
      inputs.map(() => ({ detail: { changeId: null } }) as unknown as StepResult),
    );
    // Assess: one batch again (UPSERTs of the same values, docs/aws/route53-changes.md), every unit in sync on it.
    expect(died.every((o) => o.outcome === 'changed')).toBe(true);
    expect(polls.every((p) => !(p instanceof Error) && p.done && p.status === 'INSYNC')).toBe(true);
    const resent = new Set(polls.map((p) => (p as PollResult).detail.changeId));
    expect(resent.size).toBe(1);
    expect(resent.has((died[0] as { changeId: string }).changeId)).toBe(false);
    expect(
      emulator.calls.filter(
        (c) => c.seq > since && c.action === 'ChangeResourceRecordSets' && c.status === 200,
      ).length,
    ).toBe(1);
    for (const input of inputs) {
      expect(await recordValue(zoneId, `${input.unit.name}.${zoneName}`)).toBe(
        `${input.unit.name}-replica.example.com`,
      );
    }
  });

  it('a sender whose batch fails (throttled) gives the lease back: the step’s retry sends at once', async () => {
    // Prepare
    const { inputs } = world(1);
    const [input] = inputs as [UnitStepInput];
    const fault = emulator.faults.add({
      match: { service: 'route53', action: 'ChangeResourceRecordSets' },
      failCalls: [1],
      failWith: 'throttle',
    });
    // A lease of 30 s: without giving it back, the retry would find it held and leave its change pending.
    const slow = { rds, route53, batch: { ...batch, intervalSeconds: 30 } };
    // Act
    const failed = await updateDns(slow, input).catch((e: Error) => e);
    fault.remove();
    const retried = await updateDns(slow, input);
    // Assess
    expect(failed).toMatchObject({ name: 'TransientAwsError' });
    expect(retried).toMatchObject({ outcome: 'changed', detail: { batch: 'sent', batchSize: 1 } });
  });

  it('a sender whose read of the zone fails (throttled) gives the lease back too: the retry reads and sends at once', async () => {
    // Prepare: UpdateDns reads no record of its own, so the zone read is the sender's first Route 53 call.
    const { inputs } = world(1);
    const [input] = inputs as [UnitStepInput];
    const fault = emulator.faults.add({
      match: { service: 'route53', action: 'ListResourceRecordSets' },
      always: 'throttle',
    });
    const slow = { rds, route53, batch: { ...batch, intervalSeconds: 30 } };
    // Act
    const failed = await updateDns(slow, input).catch((e: Error) => e);
    fault.remove();
    const retried = await updateDns(slow, input);
    // Assess
    expect(failed).toMatchObject({ name: 'TransientAwsError' });
    expect(retried).toMatchObject({
      outcome: 'changed',
      detail: { batch: 'sent', batchSize: 1, previousTtl: 30 },
    });
  });

  it('a sender slower than the poll interval keeps the zone: a unit that polls meanwhile sends no second batch, and its change goes in the next one', async () => {
    // Prepare: Route 53 answers ChangeResourceRecordSets after 40 emulated seconds (2 real seconds: twenty poll
    // intervals), as a throttled sender's SDK retries would; unit B counts the batches it sends itself.
    const { inputs, zoneId, zoneName } = world(2);
    const [a, b] = inputs as [UnitStepInput, UnitStepInput];
    const slowAnswer = emulator.faults.add({
      match: { service: 'route53', action: 'ChangeResourceRecordSets' },
      latencyMs: 40_000,
    });
    const route53B = new Route53Client({ ...emulator.clientConfig('us-east-1'), maxAttempts: 1 });
    const sentByB: number[] = [];
    route53B.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ChangeResourceRecordSetsCommand') sentByB.push(Date.now());
        return next(args);
      },
      { step: 'initialize' },
    );
    const depsB = { rds, route53: route53B, batch };
    const since = lastSeq();
    // Act: A takes the lease and sends; once A has read the zone and two intervals have passed (a lease of one
    // interval would have run out), B registers its change and polls every interval while A's answer is late.
    const sendingA = updateDns(deps(), a);
    while (count('ListResourceRecordSets', since) === 0) await sleep(10);
    await sleep(2 * INTERVAL * 1000);
    const updateB = await updateDns(depsB, b);
    // Until Route 53 answers A's batch (the emulator logs a call when it answers it).
    const whileA: PollResult[] = [];
    while (count('ChangeResourceRecordSets', since) === 0) {
      whileA.push(await checkDnsChange(depsB, { ...b, changeId: null, attempt: whileA.length }));
      await sleep(INTERVAL * 1000);
    }
    const answeredA = Date.now();
    const changedA = await sendingA;
    slowAnswer.remove();
    const sentWhileA = sentByB.filter((t) => t < answeredA).length;
    // Then B polls on: the lease is back, its change goes out in the zone's next batch.
    let polledB: PollResult | undefined;
    for (let attempt = 0; attempt < 200 && !polledB?.done; attempt += 1) {
      polledB = await checkDnsChange(depsB, { ...b, changeId: null, attempt });
      await sleep(INTERVAL * 1000);
    }
    // Assess: A's batch held the lease until its outcome was written; B sent nothing meanwhile.
    expect(changedA).toMatchObject({ outcome: 'changed', detail: { batch: 'sent', batchSize: 1 } });
    expect(sentWhileA).toBe(0);
    expect(updateB).toMatchObject({ detail: { batch: 'pending', changeId: null } });
    expect(whileA.length).toBeGreaterThan(0);
    expect(whileA.map((p) => p.detail.status)).toEqual(whileA.map(() => 'BATCH_PENDING'));
    // B's change went in a batch of its own after A's, and is in sync.
    expect(polledB).toMatchObject({ done: true, status: 'INSYNC', detail: { batch: 'sent', batchSize: 1 } });
    expect(polledB?.detail.changeId).not.toBe(changedA.detail.changeId);
    expect(await recordValue(zoneId, `${b.unit.name}.${zoneName}`)).toMatch(
      new RegExp(`^${b.unit.name}-replica\\.`),
    );
  });

  it('a retry of UpdateDns that finds its record changed by the zone’s batch still reports the change it made', async () => {
    // Prepare: the zone's lease held by another sender, so the first attempt leaves its change pending.
    const { inputs, zoneId, zoneName } = world(1);
    const [input] = inputs as [UnitStepInput];
    const lease = (until: number) =>
      batch.dynamodb.send(
        new UpdateItemCommand({
          TableName: TABLE,
          Key: {
            planName: { S: zoneItemKey({ planName: input.run.planName, runId: input.run.runId, zoneId }) },
          },
          UpdateExpression: 'SET leaseUntil = :until',
          ExpressionAttributeValues: { ':until': { N: String(until) } },
        }),
      );
    await lease(Date.now() + 60_000);
    const first = await updateDns(deps(), input);
    await lease(0);
    // A poll sends the zone's batch: the record now holds the target.
    await poll(input, null, 0);
    // Act: the step's retry (same run) reads the record already changed.
    const retried = await updateDns(deps(), input);
    // Assess: the change this run made, with the record as it was before it (TTL 30, the old target).
    expect(first).toMatchObject({ outcome: 'changed', detail: { batch: 'pending', changeId: null } });
    expect(await recordValue(zoneId, `${input.unit.name}.${zoneName}`)).toContain('-replica.');
    expect(retried).toMatchObject({
      outcome: 'changed',
      detail: { previousTtl: 30, previousTarget: `${input.unit.name}-old.example.com`, identical: false },
    });
  });

  it('without the table, GetChange is the unit’s own, as before', async () => {
    // Prepare
    const { inputs } = world(1);
    const [input] = inputs as [UnitStepInput];
    const result = await updateDns({ rds, route53 }, input);
    const since = lastSeq();
    // Act
    const status = await sharedChangeStatus(
      { route53, dynamodb: batch.dynamodb, tableName: 'no-such-table' },
      { planName: 'orders-dr', runId: 'x', zoneId: 'Z' },
      String(result.detail.changeId),
      INTERVAL,
    ).catch((e: Error) => e);
    const polled = await checkDnsChange(
      { route53, batch: { ...batch, tableName: 'no-such-table' } },
      { ...input, changeId: String(result.detail.changeId), attempt: 0 },
    );
    // Assess: the library throws the table's error; the step falls back to its own GetChange.
    expect(status).toBeInstanceOf(Error);
    expect(polled.status).toMatch(/PENDING|INSYNC/);
    expect(count('GetChange', since)).toBe(1);
    expect(result.detail.batch).toBeUndefined();
  });
});
