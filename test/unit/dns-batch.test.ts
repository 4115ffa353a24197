import { type Change, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeZoneRecords, type RecordChange, recordProblems } from '../../functions/lib/dns/batch.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';

/**
 * One change batch per zone (functions/lib/dns/batch.ts, docs/design/fleet.md): against the emulator with Route 53's
 * per-zone serialization on, so a second change to a busy zone is PriorRequestNotComplete, as in AWS.
 */
let emulator: Emulator;
let route53: Route53Client;
let zoneCount = 0;

beforeAll(async () => {
  // 20 emulated seconds PENDING = 1 real s: the half sent next finds the zone busy even on a loaded machine.
  emulator = await startEmulator({ timeFactor: 0.05, route53SerializeChanges: true });
  route53 = new Route53Client({ ...emulator.clientConfig('us-east-1'), maxAttempts: 1 });
});
afterAll(() => emulator?.close());

function upsert(name: string, value: string): Change {
  return {
    Action: 'UPSERT',
    ResourceRecordSet: { Name: name, Type: 'CNAME', TTL: 60, ResourceRecords: [{ Value: value }] },
  };
}

/** A zone with a TXT record at `taken.<zone>`, where a CNAME is not allowed. */
function newZone() {
  zoneCount += 1;
  const name = `fleet${zoneCount}.example.internal`;
  const { id } = emulator.seed.hostedZone({
    name,
    records: [{ name: `taken.${name}`, type: 'TXT', values: ['"x"'] }],
  });
  return { id, name };
}

function units(zone: string, names: string[]): RecordChange[] {
  return names.map((n) => ({ key: n, change: upsert(`${n}.${zone}`, `${n}-replica.example.com`) }));
}

const changeCalls = () => emulator.calls.filter((c) => c.action === 'ChangeResourceRecordSets');

async function zoneRecords(id: string) {
  return (
    (await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: id }))).ResourceRecordSets ?? []
  );
}

async function cname(zoneId: string, name: string) {
  return (await zoneRecords(zoneId)).find((r) => r.Name === `${name}.` && r.Type === 'CNAME');
}

describe('changeZoneRecords', () => {
  it('sends the ready units of a zone in one batch: one call, one change id', async () => {
    // Prepare
    const zone = newZone();
    emulator.clearCalls();
    // Act
    const outcomes = await changeZoneRecords(
      route53,
      { ...zone, records: await zoneRecords(zone.id) },
      units(zone.name, ['u1', 'u2', 'u3', 'u4', 'u5']),
      'lifeboat run-1',
    );
    // Assess
    expect(changeCalls()).toHaveLength(1);
    expect(outcomes.map((o) => o.outcome)).toEqual(['changed', 'changed', 'changed', 'changed', 'changed']);
    expect(new Set(outcomes.map((o) => (o.outcome === 'changed' ? o.changeId : '')))).toHaveLength(1);
    expect((await cname(zone.id, `u3.${zone.name}`))?.ResourceRecords?.[0]?.Value).toBe(
      'u3-replica.example.com',
    );
  });

  it('rejects a record the check finds bad before sending, and sends the others in one batch', async () => {
    // Prepare
    const zone = newZone();
    emulator.clearCalls();
    const items = [
      ...units(zone.name, ['u1']),
      { key: 'bad', change: upsert(`taken.${zone.name}`, 'x.example.com') },
      { key: 'outside', change: upsert('db.other.example', 'x.example.com') },
      ...units(zone.name, ['u2']),
    ];
    // Act
    const outcomes = await changeZoneRecords(
      route53,
      { ...zone, records: await zoneRecords(zone.id) },
      items,
      'c',
    );
    // Assess
    expect(changeCalls()).toHaveLength(1);
    expect(outcomes).toMatchObject([
      { key: 'u1', outcome: 'changed' },
      { key: 'bad', outcome: 'rejected', reason: expect.stringContaining('already has TXT records') },
      { key: 'outside', outcome: 'rejected', reason: expect.stringContaining('is not in zone') },
      { key: 'u2', outcome: 'changed' },
    ]);
  });

  it('halves a batch Route 53 rejects: good records are changed or deferred, never rejected; the bad one ends alone and rejected', async () => {
    // Prepare: the check reads no records (a stale read), so only Route 53 sees the bad one.
    const zone = newZone();
    const stale = { ...zone, records: [] };
    const items = [
      ...units(zone.name, ['u1', 'u2']),
      { key: 'bad', change: upsert(`taken.${zone.name}`, 'x.example.com') },
      ...units(zone.name, ['u3']),
    ];
    // Act: the first pass changes [u1, u2]; [bad, u3] then finds the zone busy with it.
    const first = await changeZoneRecords(route53, stale, items, 'c');
    await new Promise((r) => setTimeout(r, 1_300)); // the first half is INSYNC (1 real s)
    const retry = items.filter((i) => first.find((o) => o.key === i.key)?.outcome === 'deferred');
    const second = await changeZoneRecords(route53, stale, retry, 'c');
    await new Promise((r) => setTimeout(r, 1_300));
    const again = retry.filter((i) => second.find((o) => o.key === i.key)?.outcome === 'deferred');
    const third = again.length ? await changeZoneRecords(route53, stale, again, 'c') : [];
    // Assess
    expect(first.map((o) => [o.key, o.outcome])).toEqual([
      ['u1', 'changed'],
      ['u2', 'changed'],
      ['bad', 'deferred'],
      ['u3', 'deferred'],
    ]);
    const final = new Map([...first, ...second, ...third].map((o) => [o.key, o.outcome]));
    expect(Object.fromEntries(final)).toEqual({
      u1: 'changed',
      u2: 'changed',
      bad: 'rejected',
      u3: 'changed',
    });
    expect(second.find((o) => o.key === 'bad')).toMatchObject({
      reason: expect.stringContaining('InvalidChangeBatch'),
    });
    expect(await cname(zone.id, `u3.${zone.name}`)).toBeDefined();
    expect(await cname(zone.id, `taken.${zone.name}`)).toBeUndefined();
  });

  it('throws what is not about the batch (a zone that does not exist): the step retries it', async () => {
    await expect(
      changeZoneRecords(
        route53,
        { id: 'ZNOPE', name: 'nope.example', records: [] },
        units('nope.example', ['u1']),
        'c',
      ),
    ).rejects.toMatchObject({ name: 'NoSuchHostedZone' });
  });
});

describe('recordProblems', () => {
  it('names the apex, a name outside the zone, another type at the name, and anything but a CNAME UPSERT', () => {
    const zone = 'z.example';
    const existing = [{ Name: 'a.z.example.', Type: 'A' as const }];
    expect(recordProblems(zone, existing, upsert('db.z.example', 'x'))).toEqual([]);
    expect(recordProblems(zone, existing, upsert('z.example.', 'x'))[0]).toMatch(/zone apex/);
    expect(recordProblems(zone, existing, upsert('db.y.example', 'x'))[0]).toMatch(/not in zone z\.example/);
    expect(recordProblems(zone, existing, upsert('A.z.example', 'x'))[0]).toMatch(/already has A records/);
    expect(
      recordProblems(zone, [], {
        Action: 'DELETE',
        ResourceRecordSet: { Name: 'db.z.example', Type: 'CNAME' },
      })[0],
    ).toMatch(/only CNAME UPSERTs/);
  });
});
