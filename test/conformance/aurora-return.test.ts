/**
 * The old primary's return after an Aurora global failover (docs/aws/aurora-global-database.md, "What happens to the
 * old primary"), as the unmodified SDK v3 client sees it. A failover with AllowDataLoss while the old primary's Region
 * is out leaves it out of the global cluster; when the Region recovers, Aurora snapshots its volume at the point of
 * failure (`rds:unplanned-global-failover-<cluster>-<time>`, listed by DescribeDBClusterSnapshots) and adds it back as
 * a secondary, `pending-resync` while it is rebuilt, then `connected`. moto 5 has no FailoverGlobalCluster and no
 * Region outage to recover from: that test runs on the emulator only; the snapshot listing runs on both.
 */
import {
  CreateDBClusterCommand,
  CreateGlobalClusterCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeGlobalClustersCommand,
  FailoverGlobalClusterCommand,
  type GlobalCluster,
  RDSClient,
} from '@aws-sdk/client-rds';
import { describe, expect, it } from 'vitest';
import {
  conformance,
  type DivergenceTable,
  needsEmulator,
  pollUntil,
  type Target,
  transitions,
  unique,
} from './harness.js';

const PRIMARY = 'us-east-1';
const RECOVERY = 'us-west-2';

/** What moto 5 does instead of what AWS documents (asserted by each test's moto branch). */
const MOTO_DIVERGENCES: DivergenceTable = {};

function rdsIn(target: Target, region: string): RDSClient {
  return new RDSClient(target.config(region));
}

async function createCluster(
  target: Target,
  region: string,
  globalClusterIdentifier?: string,
): Promise<{ id: string; arn: string }> {
  const client = rdsIn(target, region);
  const id = unique('orders-aurora');
  const out = await client.send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: id,
      Engine: 'aurora-postgresql',
      EngineVersion: '16.4',
      ...(globalClusterIdentifier === undefined
        ? { MasterUsername: 'postgres', MasterUserPassword: 'not-a-real-password-1' }
        : { GlobalClusterIdentifier: globalClusterIdentifier }),
    }),
  );
  await pollUntil(
    target,
    async () =>
      (await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters?.[0]?.Status,
    (status) => status === 'available',
  );
  return { id, arn: out.DBCluster?.DBClusterArn as string };
}

async function describeGlobal(client: RDSClient, id: string): Promise<GlobalCluster> {
  const out = await client.send(new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: id }));
  const global = out.GlobalClusters?.find((g) => g.GlobalClusterIdentifier === id);
  if (!global) throw new Error(`no global cluster ${id} in the answer`);
  return global;
}

conformance('RDS Aurora: the old primary returns', MOTO_DIVERGENCES, (suite) => {
  describe('DescribeDBClusterSnapshots', () => {
    it('a cluster never failed over has no failover snapshot; a cluster that does not exist answers an empty list', async () => {
      // Prepare
      const target = suite.target();
      const cluster = await createCluster(target, PRIMARY);
      const client = rdsIn(target, PRIMARY);

      // Act
      const own = await client.send(
        new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: cluster.id }),
      );
      const missing = await client.send(
        new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: unique('no-such-cluster') }),
      );

      // Assess: what there is belongs to the cluster, and none is a failover's (moto lists an automated snapshot
      // rds:<cluster>-<YYYY-MM-DD-HH-MM> from the creation; the emulator models no automated backups).
      for (const snapshot of own.DBClusterSnapshots ?? []) {
        expect(snapshot.DBClusterIdentifier).toBe(cluster.id);
        expect(snapshot.DBClusterSnapshotIdentifier).not.toMatch(/^rds:unplanned-global-failover-/);
      }
      expect(missing.DBClusterSnapshots ?? []).toEqual([]);
    });
  });

  describe("a failover during the old primary's Region outage", () => {
    it('leaves the old primary out; when the Region recovers it is snapshotted and rejoins as a secondary', async () => {
      const test = 'the old primary rejoins after its Region recovers';
      if (needsEmulator(suite.name, test, 'moto has no FailoverGlobalCluster and no Region outage')) return;
      // Prepare
      const target = suite.target();
      const emulator = target.emulator;
      if (!emulator) throw new Error('the emulator target has no emulator');
      const primary = await createCluster(target, PRIMARY);
      const id = unique('orders-global');
      const recovery = rdsIn(target, RECOVERY);
      await rdsIn(target, PRIMARY).send(
        new CreateGlobalClusterCommand({
          GlobalClusterIdentifier: id,
          SourceDBClusterIdentifier: primary.arn,
        }),
      );
      const secondary = await createCluster(target, RECOVERY, id);
      emulator.rds.regionOutage(PRIMARY);
      const outage = emulator.faults.regionDown(PRIMARY);

      // Act 1: the failover while the Region is out.
      await recovery.send(
        new FailoverGlobalClusterCommand({
          GlobalClusterIdentifier: id,
          TargetDbClusterIdentifier: secondary.arn,
          AllowDataLoss: true,
        }),
      );
      const during = await pollUntil(
        target,
        () => describeGlobal(recovery, id),
        (g) => g.FailoverState === undefined,
      );

      // Act 2: the Region recovers.
      outage.remove();
      emulator.rds.regionRecovers(PRIMARY);
      const back = await pollUntil(
        target,
        () => describeGlobal(recovery, id),
        (g) =>
          g.GlobalClusterMembers?.find((m) => m.DBClusterArn === primary.arn)?.SynchronizationStatus ===
          'connected',
      );
      const snapshots = await rdsIn(target, PRIMARY).send(
        new DescribeDBClusterSnapshotsCommand({ DBClusterIdentifier: primary.id }),
      );

      // Assess
      const afterFailover = during.at(-1) as GlobalCluster;
      expect(afterFailover.GlobalClusterMembers?.map((m) => [m.DBClusterArn, m.IsWriter])).toEqual([
        [secondary.arn, true],
      ]);
      const member = (g: GlobalCluster) =>
        g.GlobalClusterMembers?.find((m) => m.DBClusterArn === primary.arn);
      expect(transitions(back.map((g) => member(g)?.SynchronizationStatus ?? 'absent'))).toEqual([
        'pending-resync',
        'connected',
      ]);
      expect(back.every((g) => member(g)?.IsWriter === false)).toBe(true);
      const last = back.at(-1) as GlobalCluster;
      expect(last.GlobalClusterMembers?.find((m) => m.IsWriter)?.DBClusterArn).toBe(secondary.arn);
      expect(snapshots.DBClusterSnapshots).toHaveLength(1);
      const [snapshot] = snapshots.DBClusterSnapshots ?? [];
      expect(snapshot?.DBClusterSnapshotIdentifier).toMatch(
        new RegExp(`^rds:unplanned-global-failover-${primary.id}-\\d{4}-\\d{2}-\\d{2}-\\d{2}-\\d{2}$`),
      );
      expect(snapshot).toMatchObject({
        DBClusterIdentifier: primary.id,
        Status: 'available',
        Engine: 'aurora-postgresql',
      });
      expect(snapshot?.DBClusterSnapshotArn).toBe(
        `${primary.arn.replace(/:cluster:.*$/, ':cluster-snapshot:')}${snapshot?.DBClusterSnapshotIdentifier}`,
      );
      const cluster = (
        await rdsIn(target, PRIMARY).send(new DescribeDBClustersCommand({ DBClusterIdentifier: primary.id }))
      ).DBClusters?.[0];
      expect(cluster?.GlobalClusterIdentifier).toBe(id);
    });
  });
});
