import {
  DescribeDBClustersCommand,
  DescribeGlobalClustersCommand,
  PromoteReadReplicaDBClusterCommand,
  RDSClient,
  SwitchoverGlobalClusterCommand,
} from '@aws-sdk/client-rds';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mariadbMissing } from '../../local/databases/mariadb-cluster.js';
import { WorldDatabases } from '../../local/databases/world-databases.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';

/**
 * Real MariaDB behind emulated Aurora MySQL clusters (docs/design/aurora-drill.md, "The real databases"; MySQL runs on
 * MariaDB here, docs/design/local-mariadb.md): a global switchover fences the old writer (read_only, sessions killed),
 * waits for the target to apply every GTID, promotes it, and rebuilds the old writer as its replica, with no
 * acknowledged row lost; a cross-Region read replica cluster is promoted for real by PromoteReadReplicaDBCluster.
 * One world; AWS times x 0.005.
 */

const PRIMARY_REGION = 'us-east-1';
const RECOVERY_REGION = 'us-west-2';
const missing = mariadbMissing();
if (missing) console.warn(`Aurora MySQL world: ${missing}; skipping`);

describe.skipIf(missing !== undefined)('Aurora MySQL clusters on real MariaDB servers', () => {
  let databases: WorldDatabases;
  let emulator: Emulator;
  let rds: RDSClient;
  const arn: Record<string, string> = {};

  const readOnly = async (id: string) =>
    Number((await databases.query(id, 'SELECT @@global.read_only AS r'))[0]?.r) === 1;
  const until = async <T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const value = await probe();
      if (ok(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const names = (region: string, id: string) => [emulator.rds.clusterEndpointNames(region, id).endpoint];

  beforeAll(async () => {
    databases = await WorldDatabases.create();
    emulator = await startEmulator({
      timeFactor: 0.005,
      seed: 17,
      databaseBackend: databases.backend((region, id) => emulator.rds.endpointName(region, id)),
    });
    rds = new RDSClient({ ...emulator.clientConfig(RECOVERY_REGION), maxAttempts: 1 });
    emulator.seed.globalCluster({ id: 'catalog-global', engine: 'aurora-mysql' });
    const [global, replicaPair] = await Promise.all([
      databases.startPair({
        name: 'catalog',
        family: 'mysql',
        primaryId: 'catalog-aurora',
        replicaId: 'catalog-aurora-dr',
        database: 'catalog',
        addresses: { primary: '127.0.0.2', replica: '127.0.0.3' },
        password: `marker-${Math.random().toString(36).slice(2)}`,
        rows: 3,
        tlsNames: {
          primary: names(PRIMARY_REGION, 'catalog-aurora'),
          replica: names(RECOVERY_REGION, 'catalog-aurora-dr'),
        },
      }),
      databases.startPair({
        name: 'sessions',
        family: 'mysql',
        primaryId: 'sessions-aurora',
        replicaId: 'sessions-aurora-dr',
        database: 'sessions',
        addresses: { primary: '127.0.0.4', replica: '127.0.0.5' },
        password: `marker-${Math.random().toString(36).slice(2)}`,
        rows: 3,
        tlsNames: {
          primary: names(PRIMARY_REGION, 'sessions-aurora'),
          replica: names(RECOVERY_REGION, 'sessions-aurora-dr'),
        },
      }),
    ]);
    for (const [region, id, server] of [
      [PRIMARY_REGION, 'catalog-aurora', global.primary],
      [RECOVERY_REGION, 'catalog-aurora-dr', global.replica],
    ] as const) {
      arn[id] = emulator.seed.dbCluster({
        region,
        id,
        engine: 'aurora-mysql',
        globalClusterId: 'catalog-global',
        address: server.address,
        port: server.port,
      }).arn;
    }
    const source = emulator.seed.dbCluster({
      region: PRIMARY_REGION,
      id: 'sessions-aurora',
      engine: 'aurora-mysql',
      address: replicaPair.primary.address,
      port: replicaPair.primary.port,
    });
    emulator.seed.dbCluster({
      region: RECOVERY_REGION,
      id: 'sessions-aurora-dr',
      engine: 'aurora-mysql',
      replicationSourceArn: source.arn,
      address: replicaPair.replica.address,
      port: replicaPair.replica.port,
    });
  }, 180_000);

  afterAll(async () => {
    rds?.destroy();
    await emulator?.close();
    await databases?.stopAll();
  });

  it('a switchover loses no acknowledged write and rebuilds the old writer as a replica of the new', async () => {
    const acknowledged: string[] = [];
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        let conn: mysql.Connection | undefined;
        try {
          conn = await mysql.createConnection({
            ...databases.mariadb.clientConfig('catalog-aurora'),
            connectTimeout: 2000,
          });
          conn.on('error', () => undefined);
          while (writing) {
            const item = `switchover-${++n}`;
            await conn.query('INSERT INTO orders (item) VALUES (?)', [item]);
            acknowledged.push(item);
          }
        } catch {
          await new Promise((r) => setTimeout(r, 10));
        } finally {
          await conn?.end().catch(() => undefined);
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
        GlobalClusterIdentifier: 'catalog-global',
        TargetDbClusterIdentifier: arn['catalog-aurora-dr'],
      }),
    );
    await until(
      'switchover done',
      async () =>
        (await rds.send(new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: 'catalog-global' })))
          .GlobalClusters?.[0],
      (g) =>
        g?.FailoverState === undefined &&
        g?.GlobalClusterMembers?.find((m) => m.DBClusterArn === arn['catalog-aurora-dr'])?.IsWriter === true,
    );
    await until(
      'old writer rejoined',
      () => readOnly('catalog-aurora').catch(() => false),
      (r) => r,
    );
    writing = false;
    await writer;
    expect(databases.mariadb.get('catalog-aurora').sourceId).toBe('catalog-aurora-dr');
    const onNewWriter = new Set(
      (
        await databases.query('catalog-aurora-dr', "SELECT item FROM orders WHERE item LIKE 'switchover-%'")
      ).map((r) => r.item),
    );
    expect(acknowledged.length).toBeGreaterThanOrEqual(20);
    expect(acknowledged.filter((item) => !onNewWriter.has(item))).toEqual([]);
    expect(await readOnly('catalog-aurora-dr')).toBe(false);
    await databases.query('catalog-aurora-dr', 'INSERT INTO orders (item) VALUES (?)', ['after-switchover']);
    await databases.waitForRows('catalog-aurora', onNewWriter.size + 5);
  });

  it('PromoteReadReplicaDBCluster promotes the replica cluster server for real', async () => {
    expect(await readOnly('sessions-aurora-dr')).toBe(true);
    await rds.send(new PromoteReadReplicaDBClusterCommand({ DBClusterIdentifier: 'sessions-aurora-dr' }));
    await until(
      'promoted',
      async () =>
        (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'sessions-aurora-dr' })))
          .DBClusters?.[0],
      (c) => c?.Status === 'available' && c.ReplicationSourceIdentifier === undefined,
    );
    expect(await readOnly('sessions-aurora-dr')).toBe(false);
    await databases.query('sessions-aurora-dr', 'INSERT INTO orders (item) VALUES (?)', ['after-promotion']);
  });
});
