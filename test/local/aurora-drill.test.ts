import {
  CreateDBInstanceCommand,
  DescribeGlobalClustersCommand,
  FailoverGlobalClusterCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AuroraDrillContext,
  type AuroraDrillResource,
  advanceAuroraDrillCopies,
  auroraDrillNames,
  cleanUpAuroraDrillCopies,
} from '../../functions/lib/aurora/drill.js';
import {
  checkDrillCopies,
  cleanUpDrillCopies,
  type DrillDeps,
  drillNames,
  prepareDrillCopies,
} from '../../functions/lib/drill.js';
import { ConfigurationError } from '../../functions/lib/errors.js';
import { type AuroraUnitPlan, parsePlan } from '../../functions/lib/plan.js';
import type { RunContext } from '../../functions/lib/types.js';
import { WorldDatabases } from '../../local/databases/world-databases.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';

/**
 * The drill copy of an Aurora global database unit (docs/design/aurora-drill.md) against the emulator on real
 * PostgreSQL: a clone of production's primary, a drill global cluster from it and a drill secondary in the recovery
 * Region are made pass by pass; a FailoverGlobalCluster on the drill global cluster makes the drill secondary's server
 * writable while production's writer, secondary and global cluster are untouched; clean-up takes every copy apart and
 * refuses what this run did not make. One world; AWS times x 0.005.
 */

const ACCOUNT = '123456789012';
const PRIMARY = 'us-east-1';
const RECOVERY = 'us-west-2';
const RUN_ID = 'drill-2030-05-01-1000';
const unit = parsePlan({
  name: 'ledger-dr',
  account: ACCOUNT,
  primaryRegion: PRIMARY,
  recoveryRegion: RECOVERY,
  targetRtoSeconds: 900,
  units: [
    {
      name: 'ledger',
      secret: { id: 'ledger/db' },
      database: {
        engine: 'aurora-postgresql',
        globalClusterId: 'ledger-global',
        primaryClusterId: 'ledger-aurora',
        replicaClusterId: 'ledger-aurora-dr',
      },
      dns: { hostedZoneId: 'Z0LEDGER00EXAMPLE', recordName: 'ledger-db.internal.example.com', ttl: 5 },
      rotation: { lambdaArn: `arn:aws:lambda:${RECOVERY}:${ACCOUNT}:function:ledger-rotation`, schedule: 30 },
    },
  ],
}).units[0] as AuroraUnitPlan;
const ctx: AuroraDrillContext = {
  runId: RUN_ID,
  primaryRegion: PRIMARY,
  recoveryRegion: RECOVERY,
  drillTag: 'lifeboat:drill',
  tags: [
    { Key: 'lifeboat:drill', Value: RUN_ID },
    { Key: 'lifeboat:unit', Value: 'ledger' },
  ],
};
const names = auroraDrillNames('lifeboat-drill-0a1b2c3d-ledger');
const PRODUCTION = [
  'ledger-global',
  'ledger-aurora',
  'ledger-aurora-dr',
  'ledger-aurora-1',
  'ledger-aurora-dr-1',
];

describe('the drill copy of an Aurora global database, on real PostgreSQL', () => {
  let databases: WorldDatabases;
  let emulator: Emulator;
  let primary: RDSClient;
  let recovery: RDSClient;
  const passes: { status: string; resources: AuroraDrillResource[] }[] = [];
  let endpoint: string | null = null;

  const inRecovery = async (id: string) =>
    (await databases.query(id, 'SELECT pg_is_in_recovery() AS r'))[0]?.r === true;
  const writerOf = async (globalId: string) =>
    (
      await recovery.send(new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: globalId }))
    ).GlobalClusters?.[0]?.GlobalClusterMembers?.find((m) => m.IsWriter)?.DBClusterArn;
  const until = async <T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const value = await probe();
      if (ok(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  beforeAll(async () => {
    databases = await WorldDatabases.create();
    emulator = await startEmulator({
      timeFactor: 0.005,
      seed: 16,
      databaseBackend: databases.backend((region, id) => emulator.rds.endpointName(region, id)),
    });
    primary = new RDSClient({ ...emulator.clientConfig(PRIMARY), maxAttempts: 1 });
    recovery = new RDSClient({ ...emulator.clientConfig(RECOVERY), maxAttempts: 1 });
    // Production: a global database on a real primary and secondary, each with one instance.
    emulator.seed.globalCluster({ id: 'ledger-global', engine: 'aurora-postgresql' });
    const servers = await databases.startPair({
      name: 'ledger',
      family: 'postgres',
      primaryId: 'ledger-aurora',
      replicaId: 'ledger-aurora-dr',
      database: 'postgres',
      addresses: { primary: '127.0.0.2', replica: '127.0.0.3' },
      password: `marker-${Math.random().toString(36).slice(2)}`,
      rows: 3,
      tlsNames: {
        primary: [emulator.rds.clusterEndpointNames(PRIMARY, 'ledger-aurora').endpoint],
        replica: [emulator.rds.clusterEndpointNames(RECOVERY, 'ledger-aurora-dr').endpoint],
      },
    });
    for (const [region, id, server, client] of [
      [PRIMARY, 'ledger-aurora', servers.primary, primary],
      [RECOVERY, 'ledger-aurora-dr', servers.replica, recovery],
    ] as const) {
      emulator.seed.dbCluster({
        region,
        id,
        engine: 'aurora-postgresql',
        globalClusterId: 'ledger-global',
        address: server.address,
        port: server.port,
      });
      await client.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: `${id}-1`,
          DBClusterIdentifier: id,
          Engine: 'aurora-postgresql',
          DBInstanceClass: 'db.r6g.xlarge',
        }),
      );
    }
    emulator.clearCalls();
    // The drill's wait loop: one pass after another until the copies are ready.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const pass = await advanceAuroraDrillCopies({ primary, recovery }, ctx, unit.database, names);
      passes.push({ status: pass.status, resources: pass.resources });
      if (pass.done) {
        endpoint = pass.secondaryEndpoint;
        break;
      }
      if (Date.now() > deadline) throw new Error(`drill copies not ready: ${pass.status}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }, 120_000);

  afterAll(async () => {
    primary?.destroy();
    recovery?.destroy();
    await emulator?.close();
    await databases?.stopAll();
  });

  it('makes the clone, its instance, the global cluster, the secondary and its instance, in that order, once each', () => {
    const made = passes.flatMap((p) => p.resources.filter((r) => r.status === 'created').map((r) => r.id));
    expect(made).toEqual([
      names.primaryClusterId,
      names.primaryInstanceId,
      names.globalClusterId,
      names.secondaryClusterId,
      names.secondaryInstanceId,
    ]);
    expect(passes.at(-1)?.status).toBe('ready');
    expect(endpoint).toMatch(new RegExp(`^${names.secondaryClusterId}\\.cluster-`));
  });

  it('copies production with its instance class and never changes a production resource', () => {
    const calls = emulator.calls.filter((c) => c.mutating);
    expect(calls.map((c) => c.action)).toEqual([
      'RestoreDBClusterToPointInTime',
      'CreateDBInstance',
      'CreateGlobalCluster',
      'CreateDBCluster',
      'CreateDBInstance',
    ]);
    for (const c of calls) expect(PRODUCTION).not.toContain(c.resource);
  });

  it('the drill secondary is a real replica of the clone, and a failover of the drill global cluster makes it writable', async () => {
    expect(await inRecovery(names.secondaryClusterId)).toBe(true);
    expect(
      Number((await databases.query(names.secondaryClusterId, 'SELECT count(*) AS n FROM orders'))[0]?.n),
    ).toBe(4);
    const secondaryArn = `arn:aws:rds:${RECOVERY}:${ACCOUNT}:cluster:${names.secondaryClusterId}`;
    await recovery.send(
      new FailoverGlobalClusterCommand({
        GlobalClusterIdentifier: names.globalClusterId,
        TargetDbClusterIdentifier: secondaryArn,
        AllowDataLoss: true,
      }),
    );
    await until(
      'drill failover',
      () => writerOf(names.globalClusterId),
      (w) => w === secondaryArn,
    );
    await until(
      'drill secondary writable',
      () => inRecovery(names.secondaryClusterId),
      (r) => !r,
    );
    await databases.query(names.secondaryClusterId, 'INSERT INTO orders (item) VALUES (?)', ['drill-write']);
    // Production: the same writer, its server still the writer, the secondary still replicating, no drill row.
    expect(await writerOf('ledger-global')).toBe(`arn:aws:rds:${PRIMARY}:${ACCOUNT}:cluster:ledger-aurora`);
    expect(await inRecovery('ledger-aurora')).toBe(false);
    expect(await inRecovery('ledger-aurora-dr')).toBe(true);
    expect(await databases.query('ledger-aurora', "SELECT 1 FROM orders WHERE item = 'drill-write'")).toEqual(
      [],
    );
  });

  it('clean-up takes every copy apart over a few passes and leaves production alone', async () => {
    emulator.clearCalls();
    const seen: AuroraDrillResource[][] = [];
    await until(
      'clean-up',
      async () => {
        const pass = await cleanUpAuroraDrillCopies({ primary, recovery }, ctx, names);
        seen.push(pass);
        return pass;
      },
      (pass) => pass.every((r) => r.status === 'absent'),
    );
    expect(seen.flat().some((r) => r.status === 'refused')).toBe(false);
    const actions = new Set(emulator.calls.filter((c) => c.mutating).map((c) => c.action));
    expect([...actions].sort()).toEqual([
      'DeleteDBCluster',
      'DeleteDBInstance',
      'DeleteGlobalCluster',
      'RemoveFromGlobalCluster',
    ]);
    for (const c of emulator.calls.filter((call) => call.mutating))
      expect(PRODUCTION).not.toContain(c.resource);
    // Each DeleteDBCluster removes its server in the background, as a deleting cluster goes away: wait for both.
    await until(
      'drill servers removed',
      async () =>
        databases.postgres.has(names.secondaryClusterId) || databases.postgres.has(names.primaryClusterId),
      (h) => !h,
    );
    expect(await writerOf('ledger-global')).toBe(`arn:aws:rds:${PRIMARY}:${ACCOUNT}:cluster:ledger-aurora`);
  });

  it('through the drill steps: PrepareDrill and CheckDrillCopies make the copies and the drill unit, CleanUpDrill removes them', async () => {
    // Prepare: production's secret and CNAME, as a plan's world has them.
    emulator.seed.secret({
      region: PRIMARY,
      name: 'ledger/db',
      value: {
        engine: 'postgres',
        host: 'ledger-db.internal.example.com',
        port: 5432,
        username: 'postgres',
        password: 'x',
      },
      replicaRegions: [RECOVERY],
    });
    emulator.seed.hostedZone({ id: 'Z0LEDGER00EXAMPLE', name: 'internal.example.com' });
    const runId = 'drill-2030-05-15-1000';
    const run: RunContext = {
      runId,
      executionArn: `arn:aws:states:${RECOVERY}:${ACCOUNT}:execution:lifeboat-ledger-dr:${runId}`,
      planName: 'ledger-dr',
      mode: 'drill',
      trigger: 'cli',
      startedAt: '2030-05-15T10:00:00.000Z',
      account: ACCOUNT,
      primaryRegion: PRIMARY,
      recoveryRegion: RECOVERY,
      targetRtoSeconds: 900,
    };
    const deps: DrillDeps = {
      primary: {
        rds: primary,
        secretsManager: new SecretsManagerClient({ ...emulator.clientConfig(PRIMARY), maxAttempts: 1 }),
      },
      recovery: {
        rds: recovery,
        secretsManager: new SecretsManagerClient({ ...emulator.clientConfig(RECOVERY), maxAttempts: 1 }),
        route53: new Route53Client({ ...emulator.clientConfig(RECOVERY), maxAttempts: 1 }),
      },
    };
    const clusters = auroraDrillNames(drillNames(runId, 'ledger').instanceId);

    // Act
    const prepared = await prepareDrillCopies(deps, { run, unit });
    const polls = await until(
      'drill copies',
      () => checkDrillCopies(deps, { run, unit: prepared.drillUnit, attempt: 1 }),
      (p) => p.done,
    );
    const drillWriter = await writerOf(clusters.globalClusterId);
    const cleaned = await until(
      'drill clean-up',
      () => cleanUpDrillCopies(deps, { run, unit: prepared.drillUnit, attempt: 1 }),
      (c) => c.done && c.remaining.length === 0 && c.resources.every((r) => r.status === 'absent'),
    );

    // Assess
    expect(prepared.drillUnit.database).toMatchObject({
      engine: 'aurora-postgresql',
      globalClusterId: clusters.globalClusterId,
      primaryClusterId: clusters.primaryClusterId,
      replicaClusterId: clusters.secondaryClusterId,
    });
    expect(prepared.drillUnit.dns).toMatchObject({ strategy: 'cname', target: 'cluster-endpoint' });
    expect(prepared.resources.map((r) => r.kind).sort()).toEqual([
      'db-cluster',
      'dns-records',
      'primary-secret',
      'replica-secret',
    ]);
    expect(polls.status).toBe('ready/InSync');
    expect(drillWriter).toBe(`arn:aws:rds:${PRIMARY}:${ACCOUNT}:cluster:${clusters.primaryClusterId}`);
    expect(cleaned.resources.map((r) => r.kind).sort()).toEqual([
      'db-cluster',
      'db-cluster',
      'db-instance',
      'db-instance',
      'dns-records',
      'global-cluster',
      'primary-secret',
      'replica-secret',
    ]);
    expect(await writerOf('ledger-global')).toBe(`arn:aws:rds:${PRIMARY}:${ACCOUNT}:cluster:ledger-aurora`);
  });

  it('refuses a copy this run did not make, before changing anything', async () => {
    const otherRun = 'drill-2030-05-08-1000';
    const other = { ...ctx, runId: otherRun, tags: [{ Key: 'lifeboat:drill', Value: otherRun }] };
    emulator.clearCalls();
    // A clone of the same name tagged by another run.
    await advanceAuroraDrillCopies({ primary, recovery }, other, unit.database, names);
    emulator.clearCalls();
    await expect(
      advanceAuroraDrillCopies({ primary, recovery }, ctx, unit.database, names),
    ).rejects.toBeInstanceOf(ConfigurationError);
    const cleanup = await cleanUpAuroraDrillCopies({ primary, recovery }, ctx, names);
    expect(cleanup.find((r) => r.id === names.primaryClusterId)?.status).toBe('refused');
    expect(emulator.calls.filter((c) => c.mutating)).toEqual([]);
  });
});

describe('drill cluster names', () => {
  it('stay RDS identifiers (at most 63 characters, no trailing hyphen) and differ per cluster, for the longest unit name', () => {
    const base = drillNames(RUN_ID, `ledger-${'x'.repeat(40)}-eu`).instanceId;
    const n = auroraDrillNames(base);
    const ids = Object.values(n);
    expect(new Set(ids).size).toBe(5);
    for (const id of ids) {
      expect(id.length).toBeLessThanOrEqual(63);
      expect(id).toMatch(/^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$/);
    }
  });
});
