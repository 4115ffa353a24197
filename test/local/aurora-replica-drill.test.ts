import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAuroraPromotion } from '../../functions/lib/aurora/check.js';
import { replicaClusterDrillNames } from '../../functions/lib/aurora/drill-replica.js';
import { promoteAurora } from '../../functions/lib/aurora/promote.js';
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
import { mariadbMissing } from '../../local/databases/mariadb-cluster.js';
import { WorldDatabases } from '../../local/databases/world-databases.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';

/**
 * The drill copy of a cross-Region replica cluster unit (docs/design/aurora-drill.md, "Cross-Region replica cluster
 * units") against the emulator on real MariaDB, through the drill steps: PrepareDrill makes a new read replica cluster
 * of production's primary in the recovery Region (a real replica of the primary's server), CheckDrillCopies its
 * instance; PromoteDatabase on the drill unit promotes the copy with PromoteReadReplicaDBCluster and its server takes
 * writes, while production's primary and replica cluster see no call that changes them and the replica still
 * replicates; CleanUpDrill deletes the instance, then the cluster. A re-run reuses what this run tagged and refuses
 * what it did not. One world; AWS times x 0.005.
 */

const ACCOUNT = '123456789012';
const PRIMARY = 'us-east-1';
const RECOVERY = 'us-west-2';
const unit = parsePlan({
  name: 'sessions-dr',
  account: ACCOUNT,
  primaryRegion: PRIMARY,
  recoveryRegion: RECOVERY,
  targetRtoSeconds: 900,
  units: [
    {
      name: 'sessions',
      secret: { id: 'sessions/db' },
      database: {
        engine: 'aurora-mysql',
        primaryClusterId: 'sessions-aurora',
        replicaClusterId: 'sessions-aurora-dr',
      },
      dns: { hostedZoneId: 'Z0SESSIONS0EXAMPLE', recordName: 'sessions-db.internal.example.com', ttl: 5 },
      rotation: {
        lambdaArn: `arn:aws:lambda:${RECOVERY}:${ACCOUNT}:function:sessions-rotation`,
        schedule: 30,
      },
    },
  ],
}).units[0] as AuroraUnitPlan;
const PRODUCTION = ['sessions-aurora', 'sessions-aurora-dr', 'sessions-aurora-1', 'sessions-aurora-dr-1'];

function runOf(runId: string): RunContext {
  return {
    runId,
    executionArn: `arn:aws:states:${RECOVERY}:${ACCOUNT}:execution:lifeboat-sessions-dr:${runId}`,
    planName: 'sessions-dr',
    mode: 'drill',
    trigger: 'cli',
    startedAt: '2030-05-15T10:00:00.000Z',
    account: ACCOUNT,
    primaryRegion: PRIMARY,
    recoveryRegion: RECOVERY,
    targetRtoSeconds: 900,
  };
}

const missing = mariadbMissing();
if (missing) console.warn(`Aurora replica cluster drill: ${missing}; skipping`);

describe.skipIf(missing !== undefined)(
  'the drill copy of an Aurora MySQL replica cluster unit, on real MariaDB',
  () => {
    let databases: WorldDatabases;
    let emulator: Emulator;
    let primary: RDSClient;
    let recovery: RDSClient;
    let deps: DrillDeps;

    const readOnly = async (id: string) =>
      Number((await databases.query(id, 'SELECT @@global.read_only AS r'))[0]?.r) === 1;
    const until = async <T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean) => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const value = await probe();
        if (ok(value)) return value;
        if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const cluster = async (client: RDSClient, id: string) =>
      (await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters?.[0];

    beforeAll(async () => {
      databases = await WorldDatabases.create();
      emulator = await startEmulator({
        timeFactor: 0.005,
        seed: 18,
        databaseBackend: databases.backend((region, id) => emulator.rds.endpointName(region, id)),
      });
      primary = new RDSClient({ ...emulator.clientConfig(PRIMARY), maxAttempts: 1 });
      recovery = new RDSClient({ ...emulator.clientConfig(RECOVERY), maxAttempts: 1 });
      // Production: a primary cluster and its cross-Region read replica cluster on real servers, one instance each.
      const servers = await databases.startPair({
        name: 'sessions',
        family: 'mysql',
        primaryId: 'sessions-aurora',
        replicaId: 'sessions-aurora-dr',
        database: 'sessions',
        addresses: { primary: '127.0.0.2', replica: '127.0.0.3' },
        password: `marker-${Math.random().toString(36).slice(2)}`,
        rows: 3,
        tlsNames: {
          primary: [emulator.rds.clusterEndpointNames(PRIMARY, 'sessions-aurora').endpoint],
          replica: [emulator.rds.clusterEndpointNames(RECOVERY, 'sessions-aurora-dr').endpoint],
        },
      });
      const source = emulator.seed.dbCluster({
        region: PRIMARY,
        id: 'sessions-aurora',
        engine: 'aurora-mysql',
        address: servers.primary.address,
        port: servers.primary.port,
      });
      emulator.seed.dbCluster({
        region: RECOVERY,
        id: 'sessions-aurora-dr',
        engine: 'aurora-mysql',
        replicationSourceArn: source.arn,
        address: servers.replica.address,
        port: servers.replica.port,
      });
      for (const [id, client] of [
        ['sessions-aurora', primary],
        ['sessions-aurora-dr', recovery],
      ] as const) {
        await client.send(
          new CreateDBInstanceCommand({
            DBInstanceIdentifier: `${id}-1`,
            DBClusterIdentifier: id,
            Engine: 'aurora-mysql',
            DBInstanceClass: 'db.r6g.xlarge',
          }),
        );
      }
      emulator.seed.secret({
        region: PRIMARY,
        name: 'sessions/db',
        value: {
          engine: 'mysql',
          host: 'sessions-db.internal.example.com',
          port: 3306,
          username: 'admin',
          password: 'x',
        },
        replicaRegions: [RECOVERY],
      });
      emulator.seed.hostedZone({ id: 'Z0SESSIONS0EXAMPLE', name: 'internal.example.com' });
      deps = {
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
    }, 180_000);

    afterAll(async () => {
      primary?.destroy();
      recovery?.destroy();
      await emulator?.close();
      await databases?.stopAll();
    });

    it('PrepareDrill, CheckDrillCopies, the promotion and CleanUpDrill run on a new replica cluster; production is never changed', async () => {
      // Prepare
      const run = runOf('drill-2030-05-15-1000');
      const copy = replicaClusterDrillNames(drillNames(run.runId, unit.name).instanceId);
      emulator.clearCalls();

      // Act
      const prepared = await prepareDrillCopies(deps, { run, unit });
      // A re-run of PrepareDrill (the Lambda's answer lost) reuses the copy this run tagged.
      const again = await prepareDrillCopies(deps, { run, unit });
      const polls = await until(
        'drill copies',
        () => checkDrillCopies(deps, { run, unit: prepared.drillUnit, attempt: 1 }),
        (p) => p.done,
      );
      const copyView = await cluster(recovery, copy.clusterId);
      const instanceView = (
        await recovery.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: copy.instanceId }))
      ).DBInstances?.[0];
      const replicatingBefore = await readOnly(copy.clusterId);
      const auroraInput = { run, unit: prepared.drillUnit as AuroraUnitPlan };
      const promoted = await promoteAurora({ rds: recovery }, auroraInput);
      await until(
        'drill copy promoted',
        () => checkAuroraPromotion({ rds: recovery }, { ...auroraInput, attempt: 1 }),
        (p) => p.done,
      );
      await until(
        'drill copy writable',
        () => readOnly(copy.clusterId),
        (r) => !r,
      );
      await databases.query(copy.clusterId, 'INSERT INTO orders (item) VALUES (?)', ['drill-write']);
      const productionCalls = emulator.calls.filter(
        (c) => c.mutating && PRODUCTION.includes(c.resource ?? ''),
      );
      const primaryAfter = await cluster(primary, 'sessions-aurora');
      const replicaAfter = await cluster(recovery, 'sessions-aurora-dr');
      // Production's replica still replicates from its primary.
      await databases.query('sessions-aurora', 'INSERT INTO orders (item) VALUES (?)', ['production-write']);
      await until(
        'production replica caught up',
        async () =>
          databases.query('sessions-aurora-dr', "SELECT 1 FROM orders WHERE item = 'production-write'"),
        (rows) => rows.length === 1,
      );
      const cleaned = await until(
        'drill clean-up',
        () => cleanUpDrillCopies(deps, { run, unit: prepared.drillUnit, attempt: 1 }),
        (c) => c.done && c.remaining.length === 0 && c.resources.every((r) => r.status === 'absent'),
      );

      // Assess
      expect(prepared.drillUnit.database).toEqual({
        ...unit.database,
        primaryClusterId: 'sessions-aurora',
        replicaClusterId: copy.clusterId,
      });
      expect(prepared.drillUnit.dns).toMatchObject({ strategy: 'cname', target: 'cluster-endpoint' });
      expect(prepared.outcome).toBe('changed');
      expect(prepared.resources.map((r) => `${r.kind} ${r.status}`).sort()).toEqual([
        'db-cluster created',
        'dns-records created',
        'primary-secret created',
        'replica-secret created',
      ]);
      expect(again.outcome).toBe('already-done');
      expect(again.resources.find((r) => r.kind === 'db-cluster')?.status).toBe('reused');
      expect(polls.status).toBe('ready/InSync');
      expect(polls.detail.endpoint).toBe(copyView?.Endpoint);
      expect(copyView?.ReplicationSourceIdentifier).toBe(
        `arn:aws:rds:${PRIMARY}:${ACCOUNT}:cluster:sessions-aurora`,
      );
      expect(copyView?.TagList).toEqual(
        expect.arrayContaining([
          { Key: 'lifeboat:drill', Value: run.runId },
          { Key: 'lifeboat:plan', Value: 'sessions-dr' },
          { Key: 'lifeboat:unit', Value: 'sessions' },
        ]),
      );
      expect(instanceView?.DBInstanceClass).toBe('db.r6g.xlarge');
      expect(instanceView?.DBClusterIdentifier).toBe(copy.clusterId);
      expect(replicatingBefore).toBe(true);
      expect(promoted.outcome).toBe('changed');
      expect(promoted.detail.call).toBe('PromoteReadReplicaDBCluster');
      expect(promoted.detail.dbClusterIdentifier).toBe(copy.clusterId);
      expect(productionCalls).toEqual([]);
      expect(primaryAfter?.Status).toBe('available');
      expect(replicaAfter?.ReplicationSourceIdentifier).toBe(
        `arn:aws:rds:${PRIMARY}:${ACCOUNT}:cluster:sessions-aurora`,
      );
      expect(await readOnly('sessions-aurora-dr')).toBe(true);
      expect(await readOnly('sessions-aurora')).toBe(false);
      expect(
        await databases.query('sessions-aurora', "SELECT 1 FROM orders WHERE item = 'drill-write'"),
      ).toEqual([]);
      expect(cleaned.resources.map((r) => r.kind).sort()).toEqual([
        'db-cluster',
        'db-instance',
        'dns-records',
        'primary-secret',
        'replica-secret',
      ]);
      const deletes = emulator.calls.filter(
        (c) => c.action === 'DeleteDBCluster' || c.action === 'DeleteDBInstance',
      );
      expect(deletes.map((c) => `${c.action} ${c.resource}`)).toEqual([
        `DeleteDBInstance ${copy.instanceId}`,
        `DeleteDBCluster ${copy.clusterId}`,
      ]);
      expect(await cluster(recovery, 'sessions-aurora-dr')).toBeDefined();
    });

    it('clean-up of a copy the drill never promoted promotes it first (Aurora MySQL keeps a replica cluster’s last instance), then deletes it', async () => {
      // Prepare: a drill stopped once its copies were ready, before PromoteDatabase.
      const run = runOf('drill-2030-05-29-1000');
      const copy = replicaClusterDrillNames(drillNames(run.runId, unit.name).instanceId);
      const prepared = await prepareDrillCopies(deps, { run, unit });
      await until(
        'drill copies',
        () => checkDrillCopies(deps, { run, unit: prepared.drillUnit, attempt: 1 }),
        (p) => p.done,
      );
      emulator.clearCalls();

      // Act
      const cleaned = await until(
        'drill clean-up',
        () => cleanUpDrillCopies(deps, { run, unit: prepared.drillUnit, attempt: 1 }),
        (c) => c.done && c.remaining.length === 0 && c.resources.every((r) => r.status === 'absent'),
      );

      // Assess
      const rdsChanges = emulator.calls
        .filter((c) => c.mutating && c.service === 'rds')
        .map((c) => `${c.action} ${c.resource}`);
      expect(rdsChanges).toEqual([
        `PromoteReadReplicaDBCluster ${copy.clusterId}`,
        `DeleteDBInstance ${copy.instanceId}`,
        `DeleteDBCluster ${copy.clusterId}`,
      ]);
      expect(cleaned.done).toBe(true);
      expect((await cluster(recovery, 'sessions-aurora-dr'))?.ReplicationSourceIdentifier).toBe(
        `arn:aws:rds:${PRIMARY}:${ACCOUNT}:cluster:sessions-aurora`,
      );
      expect(await readOnly('sessions-aurora-dr')).toBe(true);
    });

    it('refuses a replica cluster of the drill’s name that this run did not tag, before changing anything, and clean-up leaves it', async () => {
      // Prepare: a cluster under the drill's name, tagged by another run.
      const run = runOf('drill-2030-05-22-1000');
      const copy = replicaClusterDrillNames(drillNames(run.runId, unit.name).instanceId);
      await recovery.send(
        new CreateDBClusterCommand({
          DBClusterIdentifier: copy.clusterId,
          Engine: 'aurora-mysql',
          Tags: [{ Key: 'lifeboat:drill', Value: 'drill-2030-05-08-1000' }],
        }),
      );
      emulator.clearCalls();

      // Act
      const refused = await prepareDrillCopies(deps, { run, unit }).catch((error: unknown) => error);
      const madeByPrepare = emulator.calls.filter((c) => c.mutating);
      const cleanup = await cleanUpDrillCopies(deps, { run, unit, attempt: 1 });

      // Assess
      expect(refused).toBeInstanceOf(ConfigurationError);
      expect((refused as Error).message).toMatch(
        new RegExp(
          `${copy.clusterId} in ${RECOVERY} already exists and is not tagged lifeboat:drill=${run.runId}`,
        ),
      );
      expect(madeByPrepare).toEqual([]);
      expect(cleanup.resources.find((r) => r.id === copy.clusterId)?.status).toBe('refused');
      expect(emulator.calls.filter((c) => c.mutating)).toEqual([]);
      expect((await cluster(recovery, copy.clusterId))?.Status).not.toBe('deleting');
    });
  },
);
