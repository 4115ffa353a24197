import {
  CreateDBClusterCommand,
  DeleteDBClusterCommand,
  DescribeDBClustersCommand,
  DescribeGlobalClustersCommand,
  FailoverGlobalClusterCommand,
  type GlobalCluster,
  RDSClient,
  RemoveFromGlobalClusterCommand,
  SwitchoverGlobalClusterCommand,
} from '@aws-sdk/client-rds';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorldDatabases } from '../../local/databases/world-databases.js';
import { type RunningDnsServer, startDnsServer } from '../../local/dns/server.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';
import { resolveVia } from '../../local/verify-facts.js';

/**
 * Real PostgreSQL behind an emulated Aurora global database (docs/design/aurora-drill.md, "The real databases"): the
 * clusters' endpoints and the global writer endpoint resolve through the DNS server to the real servers; a drill copy
 * (a new secondary, detached and deleted) is a real replica that becomes writable and then goes; a switchover loses
 * no acknowledged row and leaves the old primary a replica of the new; a failover promotes the target's server.
 * One world for the file; AWS times x 0.005.
 */

const PRIMARY_REGION = 'us-east-1';
const RECOVERY_REGION = 'us-west-2';
const GLOBAL = 'orders-global';
const PRIMARY = 'orders-aurora';
const SECONDARY = 'orders-aurora-dr';
const DRILL = 'orders-aurora-drill';
const PASSWORD = `marker-${Math.random().toString(36).slice(2)}`;

describe('an Aurora global database on real PostgreSQL servers', () => {
  let databases: WorldDatabases;
  let emulator: Emulator;
  let dns: RunningDnsServer;
  let rds: RDSClient;
  const arn: Record<string, string> = {};
  const endpoint: Record<string, string> = {};
  let globalEndpoint: string;
  const address: Record<string, string> = {};

  const describeGlobal = async (): Promise<GlobalCluster> =>
    (await rds.send(new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: GLOBAL })))
      .GlobalClusters?.[0] as GlobalCluster;
  const clusterStatus = async (id: string, region = RECOVERY_REGION) => {
    const client = new RDSClient({ ...emulator.clientConfig(region), maxAttempts: 1 });
    try {
      const answer = await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }));
      return answer.DBClusters?.[0]?.Status;
    } catch (error) {
      if ((error as Error).name === 'DBClusterNotFoundFault') return 'gone';
      throw error;
    } finally {
      client.destroy();
    }
  };
  const until = async <T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const value = await probe();
      if (ok(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const inRecovery = async (id: string) =>
    (await databases.query(id, 'SELECT pg_is_in_recovery() AS r'))[0]?.r === true;
  const resolved = async (name: string) => (await resolveVia(dns.endpoint, name)).addresses;

  beforeAll(async () => {
    databases = await WorldDatabases.create();
    emulator = await startEmulator({
      timeFactor: 0.005,
      seed: 15,
      databaseBackend: databases.backend((region, id) => emulator.rds.endpointName(region, id)),
    });
    dns = await startDnsServer({ lookup: (name, type) => emulator.dns.lookup(name, type) });
    rds = new RDSClient({ ...emulator.clientConfig(RECOVERY_REGION), maxAttempts: 1 });
    // The global cluster first: its writer endpoint is in every member's certificate.
    const global = emulator.seed.globalCluster({ id: GLOBAL, engine: 'aurora-postgresql' });
    globalEndpoint = global.endpoint;
    const names = (region: string, id: string) => {
      const n = emulator.rds.clusterEndpointNames(region, id);
      return [n.endpoint, n.readerEndpoint, globalEndpoint];
    };
    const servers = await databases.startPair({
      name: 'orders',
      family: 'postgres',
      primaryId: PRIMARY,
      replicaId: SECONDARY,
      database: 'postgres',
      addresses: { primary: '127.0.0.2', replica: '127.0.0.3' },
      password: PASSWORD,
      rows: 3,
      tlsNames: { primary: names(PRIMARY_REGION, PRIMARY), replica: names(RECOVERY_REGION, SECONDARY) },
    });
    address[PRIMARY] = servers.primary.address;
    address[SECONDARY] = servers.replica.address;
    for (const [region, id, server] of [
      [PRIMARY_REGION, PRIMARY, servers.primary],
      [RECOVERY_REGION, SECONDARY, servers.replica],
    ] as const) {
      const seeded = emulator.seed.dbCluster({
        region,
        id,
        engine: 'aurora-postgresql',
        globalClusterId: GLOBAL,
        address: server.address,
        port: server.port,
        masterUsername: server.username,
        databaseName: server.database,
      });
      arn[id] = seeded.arn;
      endpoint[id] = seeded.endpoint;
    }
  }, 120_000);

  afterAll(async () => {
    rds?.destroy();
    await dns?.close();
    await emulator?.close();
    await databases?.stopAll();
  });

  it('resolves the cluster endpoints and the global writer endpoint to the real servers', async () => {
    expect(await resolved(endpoint[PRIMARY] as string)).toEqual([address[PRIMARY]]);
    expect(await resolved(endpoint[SECONDARY] as string)).toEqual([address[SECONDARY]]);
    expect(await resolved(globalEndpoint)).toEqual([address[PRIMARY]]);
    expect(await inRecovery(SECONDARY)).toBe(true);
    expect(await inRecovery(PRIMARY)).toBe(false);
  });

  it('a drill copy: a new secondary is a real replica, detached it is writable, deleted its server is gone', async () => {
    await rds.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: DRILL,
        Engine: 'aurora-postgresql',
        GlobalClusterIdentifier: GLOBAL,
        Tags: [{ Key: 'lifeboat:drill', Value: 'orders' }],
      }),
    );
    await until(
      'drill copy created',
      () => clusterStatus(DRILL),
      (s) => s === 'available',
    );
    expect(await inRecovery(DRILL)).toBe(true);
    expect(Number((await databases.query(DRILL, 'SELECT count(*) AS n FROM orders'))[0]?.n)).toBe(4);
    const drillEndpoint = emulator.rds.clusterEndpointNames(RECOVERY_REGION, DRILL).endpoint;
    const drillAddress = databases.postgres.get(DRILL).address;
    expect(await resolved(drillEndpoint)).toEqual([drillAddress]);

    const drillArn = `arn:aws:rds:${RECOVERY_REGION}:${emulator.accountId}:cluster:${DRILL}`;
    await rds.send(
      new RemoveFromGlobalClusterCommand({ GlobalClusterIdentifier: GLOBAL, DbClusterIdentifier: drillArn }),
    );
    await until(
      'drill copy detached',
      () => clusterStatus(DRILL),
      (s) => s === 'available',
    );
    expect(await inRecovery(DRILL)).toBe(false);
    await databases.query(DRILL, 'INSERT INTO orders (item) VALUES (?)', ['drill-write']);
    expect(await databases.query(PRIMARY, "SELECT 1 FROM orders WHERE item = 'drill-write'")).toEqual([]);

    await rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: DRILL, SkipFinalSnapshot: true }));
    await until(
      'drill copy deleted',
      () => clusterStatus(DRILL),
      (s) => s === 'gone',
    );
    await until(
      'drill server removed',
      async () => databases.postgres.has(DRILL),
      (has) => !has,
    );
    expect(await resolved(drillEndpoint)).toEqual([]);
  });

  it('the production members were not touched by the drill', async () => {
    const global = await describeGlobal();
    expect(global.GlobalClusterMembers?.map((m) => [m.DBClusterArn, m.IsWriter])).toEqual([
      [arn[PRIMARY], true],
      [arn[SECONDARY], false],
    ]);
    expect(await inRecovery(PRIMARY)).toBe(false);
    expect(await inRecovery(SECONDARY)).toBe(true);
  });

  it('a switchover loses no acknowledged write and leaves the old primary a replica of the new', async () => {
    // A writer on the primary's server until the switchover ends; only committed inserts count as acknowledged.
    const acknowledged: string[] = [];
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        let client: pg.Client | undefined;
        try {
          client = new pg.Client({
            ...databases.postgres.clientConfig(PRIMARY),
            connectionTimeoutMillis: 2000,
          });
          client.on('error', () => undefined);
          await client.connect();
          while (writing) {
            const item = `switchover-${++n}`;
            await client.query('INSERT INTO orders (item) VALUES ($1)', [item]);
            acknowledged.push(item);
          }
        } catch {
          await new Promise((r) => setTimeout(r, 10)); // fenced or rebuilt: try again, as an application would
        } finally {
          await client?.end().catch(() => undefined);
        }
      }
    })();
    await until(
      'writes flowing',
      async () => acknowledged.length,
      (count) => count >= 20,
    );
    await rds.send(
      new SwitchoverGlobalClusterCommand({
        GlobalClusterIdentifier: GLOBAL,
        TargetDbClusterIdentifier: arn[SECONDARY],
      }),
    );
    await until(
      'switchover done',
      describeGlobal,
      (g) =>
        g.FailoverState === undefined &&
        g.GlobalClusterMembers?.find((m) => m.DBClusterArn === arn[SECONDARY])?.IsWriter === true,
    );
    // Rebuilt from the new writer on its own address: a replica once it answers again.
    await until(
      'old primary rejoined',
      () => inRecovery(PRIMARY).catch(() => false),
      (r) => r,
    );
    expect(databases.postgres.get(PRIMARY).sourceId).toBe(SECONDARY);
    writing = false;
    await writer;
    expect(acknowledged.length).toBeGreaterThanOrEqual(20);
    const onNewWriter = new Set(
      (await databases.query(SECONDARY, "SELECT item FROM orders WHERE item LIKE 'switchover-%'")).map(
        (r) => r.item,
      ),
    );
    expect(acknowledged.filter((item) => !onNewWriter.has(item))).toEqual([]);
    expect(await inRecovery(SECONDARY)).toBe(false);
    await databases.query(SECONDARY, 'INSERT INTO orders (item) VALUES (?)', ['after-switchover']);
    expect(await inRecovery(PRIMARY)).toBe(true);
    await databases.waitForRows(PRIMARY, onNewWriter.size + 5);
    expect(await resolved(globalEndpoint)).toEqual([address[SECONDARY]]);
    expect(await resolved(endpoint[PRIMARY] as string)).toEqual([address[PRIMARY]]);
  });

  it('a failover (AllowDataLoss) promotes the target server and the other member rejoins', async () => {
    await rds.send(
      new FailoverGlobalClusterCommand({
        GlobalClusterIdentifier: GLOBAL,
        TargetDbClusterIdentifier: arn[PRIMARY],
        AllowDataLoss: true,
      }),
    );
    await until(
      'failover done',
      describeGlobal,
      (g) =>
        g.FailoverState === undefined &&
        g.GlobalClusterMembers?.find((m) => m.DBClusterArn === arn[PRIMARY])?.IsWriter === true,
    );
    expect(await inRecovery(PRIMARY)).toBe(false);
    await databases.query(PRIMARY, 'INSERT INTO orders (item) VALUES (?)', ['after-failover']);
    await until(
      'old writer rejoined',
      () => inRecovery(SECONDARY).catch(() => false),
      (r) => r,
    );
    expect(databases.postgres.get(SECONDARY).sourceId).toBe(PRIMARY);
    expect(await inRecovery(SECONDARY)).toBe(true);
    expect(await resolved(globalEndpoint)).toEqual([address[PRIMARY]]);
  });
});
