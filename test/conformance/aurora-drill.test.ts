/**
 * The Aurora calls a drill's disposable copies need (docs/design/aurora-drill.md): a copy-on-write clone
 * (RestoreDBClusterToPointInTime), a DB instance inside a cluster (CreateDBInstance with DBClusterIdentifier) and the
 * refusal to delete a cluster that still has one, tags on a global cluster; the copy of a replica cluster unit (a
 * tagged cross-Region read replica cluster with one instance, which Aurora MySQL deletes only once the cluster is
 * promoted). Runs against the emulator and moto.
 */
import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  CreateGlobalClusterCommand,
  type DBCluster,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DeleteGlobalClusterCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
  InvalidDBClusterStateFault,
  PromoteReadReplicaDBClusterCommand,
  RDSClient,
  RestoreDBClusterToPointInTimeCommand,
} from '@aws-sdk/client-rds';
import { describe, expect, it } from 'vitest';
import { conformance, type DivergenceTable, pollUntil, rejection, type Target, unique } from './harness.js';

const REGION = 'us-east-1';
const RECOVERY = 'us-west-2';
const REPLICA_CLUSTER_TEST =
  'a tagged read replica cluster keeps its last instance until it is promoted, then is deleted instance first';

/** What moto 5 does instead of what AWS documents (asserted by each test's moto branch). */
const MOTO_DIVERGENCES: DivergenceTable = {
  'CreateGlobalCluster keeps its Tags and DescribeGlobalClusters answers them in TagList':
    'moto drops the Tags of CreateGlobalCluster: TagList is empty',
  [REPLICA_CLUSTER_TEST]:
    'moto refuses a read replica cluster without MasterUsername (InvalidParameterValue), so it has no cross-Region replica clusters to test',
};

function rdsIn(target: Target, region = REGION): RDSClient {
  return new RDSClient(target.config(region));
}

async function describeCluster(client: RDSClient, id: string): Promise<DBCluster> {
  const out = await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }));
  const cluster = out.DBClusters?.[0];
  if (!cluster) throw new Error(`no cluster ${id} in the answer`);
  return cluster;
}

async function availableCluster(target: Target): Promise<string> {
  const client = rdsIn(target);
  const id = unique('drill-source');
  await client.send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: id,
      Engine: 'aurora-postgresql',
      EngineVersion: '16.4',
      MasterUsername: 'postgres',
      MasterUserPassword: 'not-a-real-password-1',
    }),
  );
  await pollUntil(
    target,
    () => describeCluster(client, id),
    (c) => c.Status === 'available',
  );
  return id;
}

conformance('RDS Aurora drill copies', MOTO_DIVERGENCES, (suite) => {
  describe('clones', () => {
    it('RestoreDBClusterToPointInTime copy-on-write makes a standalone cluster of the source engine, tagged', async () => {
      // Prepare
      const target = suite.target();
      const client = rdsIn(target);
      const source = await availableCluster(target);
      const id = unique('drill-clone');

      // Act
      const restored = await client.send(
        new RestoreDBClusterToPointInTimeCommand({
          DBClusterIdentifier: id,
          SourceDBClusterIdentifier: source,
          RestoreType: 'copy-on-write',
          UseLatestRestorableTime: true,
          Tags: [{ Key: 'lifeboat:drill', Value: 'run-1' }],
        }),
      );
      const seen = await pollUntil(
        target,
        () => describeCluster(client, id),
        (c) => c.Status === 'available',
      );

      // Assess
      const last = seen.at(-1) as DBCluster;
      expect(restored.DBCluster?.DBClusterIdentifier).toBe(id);
      expect(last.Engine).toBe('aurora-postgresql');
      expect(last.EngineVersion).toBe('16.4');
      expect(last.GlobalClusterIdentifier).toBeUndefined();
      expect(last.ReplicationSourceIdentifier).toBeUndefined();
      expect(last.TagList).toEqual([{ Key: 'lifeboat:drill', Value: 'run-1' }]);
    });
  });

  describe('DB instances in a cluster', () => {
    it('CreateDBInstance with DBClusterIdentifier joins DBClusterMembers; the cluster cannot be deleted until it is gone', async () => {
      // Prepare
      const target = suite.target();
      const client = rdsIn(target);
      const cluster = await availableCluster(target);
      const instance = unique('drill-instance');

      // Act
      await client.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: instance,
          DBClusterIdentifier: cluster,
          Engine: 'aurora-postgresql',
          DBInstanceClass: 'db.r6g.large',
        }),
      );
      const withMember = await describeCluster(client, cluster);
      const described = await client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: instance }));
      const refused = await rejection(
        client.send(new DeleteDBClusterCommand({ DBClusterIdentifier: cluster, SkipFinalSnapshot: true })),
      );
      await client.send(
        new DeleteDBInstanceCommand({ DBInstanceIdentifier: instance, SkipFinalSnapshot: true }),
      );
      await pollUntil(
        target,
        async () => (await describeCluster(client, cluster)).DBClusterMembers ?? [],
        (members) => members.length === 0,
      );
      await client.send(
        new DeleteDBClusterCommand({ DBClusterIdentifier: cluster, SkipFinalSnapshot: true }),
      );

      // Assess
      expect(withMember.DBClusterMembers?.map((m) => m.DBInstanceIdentifier)).toEqual([instance]);
      expect(described.DBInstances?.[0]?.DBClusterIdentifier).toBe(cluster);
      expect(refused).toBeInstanceOf(InvalidDBClusterStateFault);
    });
  });

  describe('global clusters', () => {
    it('CreateGlobalCluster keeps its Tags and DescribeGlobalClusters answers them in TagList', async () => {
      // Prepare
      const target = suite.target();
      const client = rdsIn(target);
      const id = unique('drill-global');

      // Act
      await client.send(
        new CreateGlobalClusterCommand({
          GlobalClusterIdentifier: id,
          Engine: 'aurora-postgresql',
          EngineVersion: '16.4',
          Tags: [{ Key: 'lifeboat:drill', Value: 'run-1' }],
        }),
      );
      const out = await client.send(new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: id }));
      await client.send(new DeleteGlobalClusterCommand({ GlobalClusterIdentifier: id }));

      // Assess
      const global = out.GlobalClusters?.find((g) => g.GlobalClusterIdentifier === id);
      await suite.behaves(
        'CreateGlobalCluster keeps its Tags and DescribeGlobalClusters answers them in TagList',
        {
          aws: async () => expect(global?.TagList).toEqual([{ Key: 'lifeboat:drill', Value: 'run-1' }]),
          moto: async () => expect(global?.TagList ?? []).toEqual([]),
        },
      );
    });
  });

  describe('replica clusters', () => {
    it(REPLICA_CLUSTER_TEST, async () => {
      // Prepare: an Aurora MySQL source in one Region.
      const target = suite.target();
      const source = rdsIn(target);
      const recovery = rdsIn(target, RECOVERY);
      const sourceId = unique('drill-mysql-source');
      const created = await source.send(
        new CreateDBClusterCommand({
          DBClusterIdentifier: sourceId,
          Engine: 'aurora-mysql',
          EngineVersion: '8.0.mysql_aurora.3.07.1',
          MasterUsername: 'admin',
          MasterUserPassword: 'not-a-real-password-1',
        }),
      );
      await pollUntil(
        target,
        () => describeCluster(source, sourceId),
        (c) => c.Status === 'available',
      );
      const id = unique('drill-copy');
      const instance = unique('drill-copy-instance');
      const tags = [{ Key: 'lifeboat:drill', Value: 'run-1' }];

      await suite.behaves(REPLICA_CLUSTER_TEST, {
        aws: async () => {
          // Act
          await recovery.send(
            new CreateDBClusterCommand({
              DBClusterIdentifier: id,
              Engine: 'aurora-mysql',
              ReplicationSourceIdentifier: created.DBCluster?.DBClusterArn,
              Tags: tags,
            }),
          );
          const ready = await pollUntil(
            target,
            () => describeCluster(recovery, id),
            (c) => c.Status === 'available',
          );
          await recovery.send(
            new CreateDBInstanceCommand({
              DBInstanceIdentifier: instance,
              DBClusterIdentifier: id,
              Engine: 'aurora-mysql',
              DBInstanceClass: 'db.r6g.large',
              Tags: tags,
            }),
          );
          const refused = await rejection(
            recovery.send(
              new DeleteDBInstanceCommand({ DBInstanceIdentifier: instance, SkipFinalSnapshot: true }),
            ),
          );
          await recovery.send(new PromoteReadReplicaDBClusterCommand({ DBClusterIdentifier: id }));
          await pollUntil(
            target,
            () => describeCluster(recovery, id),
            (c) => c.Status === 'available' && c.ReplicationSourceIdentifier === undefined,
          );
          await recovery.send(
            new DeleteDBInstanceCommand({ DBInstanceIdentifier: instance, SkipFinalSnapshot: true }),
          );
          await pollUntil(
            target,
            async () => (await describeCluster(recovery, id)).DBClusterMembers ?? [],
            (members) => members.length === 0,
          );
          await recovery.send(
            new DeleteDBClusterCommand({ DBClusterIdentifier: id, SkipFinalSnapshot: true }),
          );

          // Assess
          const last = ready.at(-1) as DBCluster;
          expect(last.ReplicationSourceIdentifier).toBe(created.DBCluster?.DBClusterArn);
          expect(last.TagList).toEqual(tags);
          expect(refused).toBeInstanceOf(InvalidDBClusterStateFault);
          expect(refused.message).toMatch(/Promote the DB cluster/);
        },
        moto: async () => {
          const error = await rejection(
            recovery.send(
              new CreateDBClusterCommand({
                DBClusterIdentifier: id,
                Engine: 'aurora-mysql',
                ReplicationSourceIdentifier: created.DBCluster?.DBClusterArn,
                Tags: tags,
              }),
            ),
          );
          expect(error.name).toBe('InvalidParameterValue');
          expect(error.message).toMatch(/MasterUsername/);
        },
      });
    });
  });
});
