import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDnsReadiness } from '../../functions/lib/dns/update.js';
import { worthListing, zoneRecordReader } from '../../functions/lib/dns/zone-records.js';
import { parsePlan, type UnitPlan } from '../../functions/lib/plan.js';
import { instanceDatabase } from '../../functions/lib/plan-names.js';
import { PREFLIGHT_UNIT_CONCURRENCY, runPreflight } from '../../functions/lib/preflight.js';
import type { PreflightCheck, RunContext } from '../../functions/lib/types.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';

/**
 * The preflight reads the units' records from one listing of their zone (functions/lib/dns/zone-records.ts,
 * docs/design/fleet.md "Preflight"), against the emulator's Route 53 (pages of at most 300 record sets), and their
 * replicas and lags with a few calls for the whole fleet (functions/lib/preflight-fleet.ts).
 */

const ACCOUNT = '123456789012';
const PRIMARY = 'us-east-1';
const RECOVERY = 'us-west-2';

let emulator: Emulator;
let route53: Route53Client;
let zones = 0;
let rotationSeeded = false;

beforeAll(async () => {
  emulator = await startEmulator({ timeFactor: 0.05, accountId: ACCOUNT });
  route53 = new Route53Client({ ...emulator.clientConfig('us-east-1'), maxAttempts: 1 });
});
afterAll(() => emulator?.close());

const run: RunContext = {
  runId: 'run-1',
  executionArn: `arn:aws:states:${RECOVERY}:${ACCOUNT}:execution:lifeboat-fleet:run-1`,
  planName: 'fleet',
  mode: 'failover',
  trigger: 'cli',
  startedAt: '2030-05-01T10:00:00.000Z',
  account: ACCOUNT,
  primaryRegion: PRIMARY,
  recoveryRegion: RECOVERY,
  targetRtoSeconds: 900,
};

function plan(zoneId: string, zoneName: string, names: string[]): UnitPlan[] {
  return parsePlan({
    name: 'fleet',
    account: ACCOUNT,
    primaryRegion: PRIMARY,
    recoveryRegion: RECOVERY,
    targetRtoSeconds: 900,
    units: names.map((name) => ({
      name,
      secret: { id: `${name}/db` },
      database: { engine: 'postgres', primaryInstanceId: `${name}-db`, replicaInstanceId: `${name}-db-r` },
      dns: { hostedZoneId: zoneId, recordName: `${name}.${zoneName}`, ttl: 5 },
      rotation: { lambdaArn: `arn:aws:lambda:${RECOVERY}:${ACCOUNT}:function:fleet-rotation`, schedule: 30 },
    })),
  }).units;
}

/** A zone with `cnames` CNAMEs named u001, u002, ... and the extra records given. */
function newZone(cnames: number, extra: { name: string; type: string; values: string[] }[] = []) {
  zones += 1;
  const name = `fleet${zones}.example.internal`;
  const records = [
    ...Array.from({ length: cnames }, (_, i) => `u${String(i + 1).padStart(3, '0')}`).map((unit) => ({
      name: `${unit}.${name}`,
      type: 'CNAME',
      ttl: 5,
      values: [`${unit}-db.primary.example.com`],
    })),
    ...extra.map((r) => ({ ...r, name: `${r.name}.${name}` })),
  ];
  const { id } = emulator.seed.hostedZone({ name, records });
  return { id, name };
}

const listCalls = () => emulator.calls.filter((c) => c.action === 'ListResourceRecordSets');

async function checkAll(units: UnitPlan[], withReader = true): Promise<PreflightCheck[]> {
  const zoneRecords = zoneRecordReader(
    () => route53,
    units.map((u) => u.dns.hostedZoneId),
  );
  const all = await Promise.all(
    units.map((unit) =>
      checkDnsReadiness({ route53, ...(withReader ? { zoneRecords } : {}) } as never, { run, unit }),
    ),
  );
  return all.flat();
}

const recordFinding = (checks: PreflightCheck[], unit: string) =>
  checks.find((c) => c.unit === unit && c.check === 'dns.record');

describe('zoneRecordReader', () => {
  it('lists a shared zone once for its units, page by page (300 a page), and finds each unit its record', async () => {
    // Prepare: 650 CNAMEs (+ SOA and NS): three pages; five units, one of them on the last page.
    const zone = newZone(650);
    const units = plan(zone.id, zone.name, ['u001', 'u299', 'u301', 'u600', 'u650']);
    emulator.clearCalls();

    // Act
    const checks = await checkAll(units);

    // Assess
    expect(listCalls()).toHaveLength(3);
    for (const u of units) {
      expect(recordFinding(checks, u.name)).toMatchObject({ ok: true });
      expect(recordFinding(checks, u.name)?.message).toContain(`${u.name}-db.primary.example.com`);
    }
  });

  it('reads each unit its own record when listing the zone would cost more calls than the units', async () => {
    // Prepare: 700 record sets are three pages; two units are two calls of their own.
    const zone = newZone(700);
    const units = plan(zone.id, zone.name, ['u001', 'u700']);
    emulator.clearCalls();

    // Act
    const checks = await checkAll(units);

    // Assess
    expect(worthListing(702, 2)).toBe(false);
    expect(listCalls()).toHaveLength(2);
    expect(listCalls().every((c) => c.status === 200)).toBe(true);
    expect(checks.filter((c) => c.check === 'dns.record').map((c) => c.ok)).toEqual([true, true]);
  });

  it("keeps each unit's own finding: a missing record and an A record where a CNAME belongs", async () => {
    // Prepare: u001 and u002 are CNAMEs; u003 has no record; u004 is an A record.
    const zone = newZone(2, [{ name: 'u004', type: 'A', values: ['10.0.0.4'] }]);
    const units = plan(zone.id, zone.name, ['u001', 'u002', 'u003', 'u004']);
    emulator.clearCalls();

    // Act
    const checks = await checkAll(units);

    // Assess: one listing for the four, and the two bad units each have their own error.
    expect(listCalls()).toHaveLength(1);
    expect(recordFinding(checks, 'u001')).toMatchObject({ ok: true });
    expect(recordFinding(checks, 'u002')).toMatchObject({ ok: true });
    expect(recordFinding(checks, 'u003')).toMatchObject({ ok: false, severity: 'error' });
    expect(recordFinding(checks, 'u003')?.message).toContain('has no record in zone');
    expect(recordFinding(checks, 'u004')).toMatchObject({ ok: false, severity: 'error' });
    expect(recordFinding(checks, 'u004')?.message).toContain('is a A record, not a CNAME');
  });

  it('gives every unit its own warning when the listing is throttled, and lists again on the next ask', async () => {
    // Prepare
    const zone = newZone(3);
    const units = plan(zone.id, zone.name, ['u001', 'u002', 'u003']);
    const fault = emulator.faults.add({
      match: { service: 'route53', action: 'ListResourceRecordSets' },
      always: 'throttle',
    });
    emulator.clearCalls();

    // Act
    const checks = await checkAll(units);
    fault.remove();
    const again = await checkAll(units);

    // Assess
    for (const u of units) {
      expect(recordFinding(checks, u.name)).toMatchObject({ ok: false, severity: 'warning' });
      expect(recordFinding(again, u.name)).toMatchObject({ ok: true });
    }
  });
});

/** Seeds each unit's secret and replica (lagging `lag(unit)` s, 0 by default), and the shared rotation function. */
function seedUnits(units: UnitPlan[], lag: (unit: UnitPlan) => number = () => 0): void {
  if (!rotationSeeded) emulator.seed.lambdaFunction({ region: RECOVERY, name: 'fleet-rotation' });
  rotationSeeded = true;
  for (const u of units) {
    const primary = emulator.seed.dbInstance({
      region: PRIMARY,
      id: instanceDatabase(u, 'the test').primaryInstanceId,
      engine: 'postgres',
      port: 5432,
      address: '127.0.0.9',
      masterUsername: 'app',
      dbName: 'app',
    });
    emulator.seed.dbInstance({
      region: RECOVERY,
      id: instanceDatabase(u, 'the test').replicaInstanceId,
      engine: 'postgres',
      port: 5432,
      address: '127.0.0.9',
      masterUsername: 'app',
      dbName: 'app',
      replicaOf: primary.arn,
      replicaLagSeconds: lag(u),
    });
    emulator.seed.secret({
      region: PRIMARY,
      name: u.secret.id,
      value: {
        engine: 'postgres',
        host: u.dns.recordName,
        port: 5432,
        username: 'app',
        password: 'not-a-real-one',
        dbname: 'app',
      },
      replicaRegions: [RECOVERY],
    });
  }
}

function preflightDeps() {
  const config = emulator.clientConfig(RECOVERY);
  return {
    secretsManager: new SecretsManagerClient(config),
    lambda: new LambdaClient(config),
    rds: new RDSClient(config),
    route53,
    cloudwatch: new CloudWatchClient(config),
  };
}

describe('preflight of units that share a zone', () => {
  it('reads their records with one ListResourceRecordSets, not one a unit', async () => {
    // Prepare: four units of one zone, each with its secret, replica and the shared rotation function.
    const zone = newZone(4);
    const units = plan(zone.id, zone.name, ['u001', 'u002', 'u003', 'u004']);
    seedUnits(units);
    emulator.clearCalls();

    // Act
    const report = await runPreflight(preflightDeps(), { run, units });

    // Assess
    expect(listCalls()).toHaveLength(1);
    for (const u of units) expect(recordFinding(report.checks, u.name)).toMatchObject({ ok: true });
  });

  it(`checks at most ${PREFLIGHT_UNIT_CONCURRENCY} units at once, and every unit`, async () => {
    // Prepare: 60 units; each DescribeSecret (one a unit) answers after 2 emulated s, so the units overlap.
    const zone = newZone(60);
    const names = Array.from({ length: 60 }, (_, i) => `u${String(i + 1).padStart(3, '0')}`);
    const units = plan(zone.id, zone.name, names).map((u) => ({
      ...u,
      secret: { id: `${u.name}/bound` },
      database: {
        ...instanceDatabase(u, 'the test'),
        primaryInstanceId: `${u.name}-b`,
        replicaInstanceId: `${u.name}-b-r`,
      },
    })) as UnitPlan[];
    seedUnits(units);
    const latency = emulator.faults.add({
      match: { service: 'secretsmanager', action: 'DescribeSecret' },
      latencyMs: 2000,
    });
    const deps = preflightDeps();
    let inFlight = 0;
    let most = 0;
    const send = deps.secretsManager.send.bind(deps.secretsManager);
    deps.secretsManager.send = (async (command: { constructor: { name: string } }) => {
      const counted = command.constructor.name === 'DescribeSecretCommand';
      if (counted) most = Math.max(most, ++inFlight);
      try {
        return await send(command as never);
      } finally {
        if (counted) inFlight -= 1;
      }
    }) as never;

    // Act
    const report = await runPreflight(deps, { run, units });
    latency.remove();

    // Assess
    expect(most).toBeLessThanOrEqual(PREFLIGHT_UNIT_CONCURRENCY);
    expect(most).toBeGreaterThan(1);
    expect(new Set(report.checks.map((c) => c.unit)).size).toBe(60);
  });
});

describe("preflight of a fleet's replicas", () => {
  const rdsReads = () =>
    emulator.calls.filter((c) => c.action === 'DescribeDBInstances' && c.region === RECOVERY);
  const lagReads = () => emulator.calls.filter((c) => c.action === 'GetMetricData');
  const finding = (checks: PreflightCheck[], unit: string, check: string) =>
    checks.find((c) => c.unit === unit && c.check === check);
  const fleet = (n: number, tag: string) => {
    const zone = newZone(n);
    const names = Array.from({ length: n }, (_, i) => `u${String(i + 1).padStart(3, '0')}`);
    return plan(zone.id, zone.name, names).map((u) => ({
      ...u,
      secret: { id: `${u.name}/${tag}` },
      database: {
        ...instanceDatabase(u, 'the test'),
        primaryInstanceId: `${u.name}-${tag}`,
        replicaInstanceId: `${u.name}-${tag}-r`,
      },
    })) as UnitPlan[];
  };

  it('describes 120 replicas with 2 DescribeDBInstances and reads their lags with 1 GetMetricData, each unit finding its own', async () => {
    // Prepare: each replica lags a different number of seconds (its position), unit 7 over its limit (300 s by default).
    const units = fleet(120, 'f');
    seedUnits(units, (u) => (u.name === 'u007' ? 900 : Number(u.name.slice(1))));
    emulator.clearCalls();

    // Act
    const report = await runPreflight(preflightDeps(), { run, units });

    // Assess: 100 identifiers a describe, 500 queries a GetMetricData; no unit read its own.
    expect(rdsReads()).toHaveLength(2);
    expect(lagReads()).toHaveLength(1);
    for (const u of units) {
      expect(finding(report.checks, u.name, 'database.replica-exists')).toMatchObject({ ok: true });
      expect(finding(report.checks, u.name, 'database.replica-source')).toMatchObject({ ok: true });
      const lag = finding(report.checks, u.name, 'database.replica-lag');
      const seconds = u.name === 'u007' ? 900 : Number(u.name.slice(1));
      expect(lag?.figures).toEqual({ replicaLagSeconds: seconds });
      expect(lag?.ok).toBe(u.name !== 'u007');
    }
  });

  it('a replica that does not exist is found missing by its own describe, as a unit alone is', async () => {
    // Prepare: 10 units, the replica of u004 never created.
    const units = fleet(10, 'm');
    seedUnits(units.filter((u) => u.name !== 'u004'));
    const missing = units.find((u) => u.name === 'u004') as UnitPlan;
    emulator.seed.secret({
      region: PRIMARY,
      name: missing.secret.id,
      value: {
        engine: 'postgres',
        host: missing.dns.recordName,
        port: 5432,
        username: 'app',
        password: 'x',
        dbname: 'app',
      },
      replicaRegions: [RECOVERY],
    });
    emulator.clearCalls();

    // Act
    const report = await runPreflight(preflightDeps(), { run, units });

    // Assess: the fleet's describe, then u004's own (RDS's DBInstanceNotFound).
    expect(rdsReads()).toHaveLength(2);
    expect(rdsReads()[1]).toMatchObject({ status: 404, resource: 'u004-m-r' });
    expect(finding(report.checks, 'u004', 'database.replica-exists')).toMatchObject({
      ok: false,
      severity: 'error',
    });
    for (const u of units.filter((x) => x.name !== 'u004')) {
      expect(finding(report.checks, u.name, 'database.replica-source')).toMatchObject({ ok: true });
    }
  });

  it('a fleet read that fails leaves each unit to read its own, with the same findings', async () => {
    // Prepare: the fleet's describe and lag read throttled on all three SDK attempts.
    const units = fleet(6, 't');
    seedUnits(units, () => 3);
    const describe = emulator.faults.add({
      match: { service: 'rds', action: 'DescribeDBInstances' },
      failCalls: [1, 2, 3],
      failWith: 'throttle',
    });
    const lags = emulator.faults.add({
      match: { service: 'cloudwatch', action: 'GetMetricData' },
      failCalls: [1, 2, 3],
      failWith: 'throttle',
    });
    emulator.clearCalls();

    // Act
    const report = await runPreflight(preflightDeps(), { run, units });
    describe.remove();
    lags.remove();

    // Assess: the fleet's reads, refused on their three attempts (a filtered describe names no instance), then one
    // read a unit.
    expect(rdsReads()).toHaveLength(3 + units.length);
    expect(
      rdsReads()
        .slice(0, 3)
        .map((c) => [c.resource, c.fault]),
    ).toEqual(Array(3).fill([null, 'throttle']));
    expect(
      rdsReads()
        .slice(3)
        .map((c) => c.resource),
    ).toEqual(units.map((u) => instanceDatabase(u, 'the test').replicaInstanceId));
    expect(lagReads()).toHaveLength(3 + units.length);
    for (const u of units) {
      expect(finding(report.checks, u.name, 'database.replica-source')).toMatchObject({ ok: true });
      expect(finding(report.checks, u.name, 'database.replica-lag')?.figures).toEqual({
        replicaLagSeconds: 3,
      });
    }
  });
});
