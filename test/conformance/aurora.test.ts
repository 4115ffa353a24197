/**
 * Aurora clusters, global clusters and their failover / switchover, as the unmodified SDK v3 client sees them
 * (docs/aws/aurora-global-database.md). Runs against the emulator and moto; moto 5 has clusters, global clusters
 * (create, describe, remove, delete) and PromoteReadReplicaDBCluster, but neither FailoverGlobalCluster nor
 * SwitchoverGlobalCluster: those tests assert moto's refusal, so the table says what it lacks.
 */
import {
  AddTagsToResourceCommand,
  CreateDBClusterCommand,
  CreateGlobalClusterCommand,
  type DBCluster,
  DBClusterNotFoundFault,
  DeleteGlobalClusterCommand,
  DescribeDBClustersCommand,
  DescribeGlobalClustersCommand,
  FailoverGlobalClusterCommand,
  type GlobalCluster,
  GlobalClusterNotFoundFault,
  InvalidDBClusterStateFault,
  InvalidGlobalClusterStateFault,
  ModifyDBClusterCommand,
  PromoteReadReplicaDBClusterCommand,
  RDSClient,
  RemoveFromGlobalClusterCommand,
  SwitchoverGlobalClusterCommand,
} from '@aws-sdk/client-rds';
import { describe, expect, it } from 'vitest';
import {
  conformance,
  type DivergenceTable,
  needsEmulator,
  pollUntil,
  rejection,
  type Target,
  transitions,
  unique,
} from './harness.js';

const PRIMARY = 'us-east-1';
const RECOVERY = 'us-west-2';

/** What moto 5 does instead of what AWS documents (asserted by each test's moto branch). */
const MOTO_DIVERGENCES: DivergenceTable = {
  'CreateDBCluster answers creating, then the cluster becomes available with its endpoints':
    'moto answers creating, but the first DescribeDBClusters already says available',
  'DescribeGlobalClusters lists the members, the writer with its readers, and the global writer endpoint':
    'moto marks no member as the writer (IsWriter false for the source cluster too) and lists no Readers',
  'DescribeGlobalClusters of a missing global cluster is GlobalClusterNotFoundFault (404)':
    'moto ignores GlobalClusterIdentifier and answers every global cluster it has',
  'RemoveFromGlobalCluster detaches a secondary: it leaves the members and is standalone':
    'moto answers RemoveFromGlobalCluster with an empty result and leaves the cluster a member',
  'the source lists the replica and the replica names its source':
    'moto refuses a read replica cluster without MasterUsername (InvalidParameterValue), so it has no cross-Region replica clusters to test',
  'PromoteReadReplicaDBCluster of a cluster that is not a read replica is InvalidDBClusterStateFault':
    'moto fails with an internal error (HTTP 500, an HTML page) instead of the fault',
  'PromoteReadReplicaDBCluster: promoting, then available without ReplicationSourceIdentifier':
    'moto refuses a read replica cluster without MasterUsername (InvalidParameterValue), so there is nothing to promote',
  'ModifyDBCluster with ApplyImmediately answers under the old name; the rename follows':
    'moto renames at once: the answer already names the new identifier',
  'ModifyDBCluster to a name that is taken is DBClusterAlreadyExistsFault':
    'moto accepts the rename onto a name that is taken',
  'a read replica cluster of a renamed source follows the new ARN':
    'moto refuses a read replica cluster without MasterUsername (InvalidParameterValue), so there is nothing to follow',
  'FailoverGlobalCluster with AllowDataLoss: FailoverState pending, failing-over, then the target is the writer and the old primary a secondary':
    'moto does not implement FailoverGlobalCluster (HTTP 500 with an HTML page)',
  'SwitchoverGlobalCluster: FailoverState pending, switching-over without data loss, then the roles are swapped':
    'moto does not implement SwitchoverGlobalCluster (HTTP 500 with an HTML page)',
  'A second FailoverGlobalCluster while one is in progress is InvalidGlobalClusterStateFault':
    'moto does not implement FailoverGlobalCluster (HTTP 500 with an HTML page)',
  'FailoverGlobalCluster with both AllowDataLoss and Switchover is InvalidParameterCombination':
    'moto does not implement FailoverGlobalCluster (HTTP 500 with an HTML page)',
  'FailoverGlobalCluster to the current writer is InvalidGlobalClusterStateFault':
    'moto does not implement FailoverGlobalCluster (HTTP 500 with an HTML page)',
  'FailoverGlobalCluster of a missing global cluster is GlobalClusterNotFoundFault':
    'moto does not implement FailoverGlobalCluster (HTTP 500 with an HTML page)',
  'SwitchoverGlobalCluster across different engine versions is InvalidGlobalClusterStateFault':
    'moto does not implement SwitchoverGlobalCluster (HTTP 500 with an HTML page)',
};

function rdsIn(target: Target, region: string): RDSClient {
  return new RDSClient(target.config(region));
}

async function describeCluster(client: RDSClient, id: string): Promise<DBCluster> {
  const out = await client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }));
  const cluster = out.DBClusters?.[0];
  if (!cluster) throw new Error(`no cluster ${id} in the answer`);
  return cluster;
}

async function describeGlobal(client: RDSClient, id: string): Promise<GlobalCluster> {
  const out = await client.send(new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: id }));
  const global = out.GlobalClusters?.find((g) => g.GlobalClusterIdentifier === id);
  if (!global) throw new Error(`no global cluster ${id} in the answer`);
  return global;
}

async function createCluster(
  target: Target,
  region: string,
  fields: {
    globalClusterIdentifier?: string;
    replicationSource?: string;
    engine?: string;
    engineVersion?: string;
  } = {},
): Promise<{ id: string; arn: string }> {
  const client = rdsIn(target, region);
  const id = unique('orders-aurora');
  const secondary = fields.globalClusterIdentifier !== undefined || fields.replicationSource !== undefined;
  const engine = fields.engine ?? 'aurora-postgresql';
  const out = await client.send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: id,
      Engine: engine,
      EngineVersion: fields.engineVersion ?? (engine === 'aurora-mysql' ? '8.0.mysql_aurora.3.07.1' : '16.4'),
      ...(secondary ? {} : { MasterUsername: 'postgres', MasterUserPassword: 'not-a-real-password-1' }),
      ...(fields.globalClusterIdentifier !== undefined
        ? { GlobalClusterIdentifier: fields.globalClusterIdentifier }
        : {}),
      ...(fields.replicationSource !== undefined
        ? { ReplicationSourceIdentifier: fields.replicationSource }
        : {}),
    }),
  );
  await pollUntil(
    target,
    () => describeCluster(client, id),
    (c) => c.Status === 'available',
  );
  return { id, arn: out.DBCluster?.DBClusterArn as string };
}

/** A global cluster from a new primary cluster, with one secondary cluster in the recovery Region. */
async function createGlobal(
  target: Target,
  secondaryVersion?: string,
): Promise<{ id: string; primary: { id: string; arn: string }; secondary: { id: string; arn: string } }> {
  const primary = await createCluster(target, PRIMARY);
  const id = unique('orders-global');
  await rdsIn(target, PRIMARY).send(
    new CreateGlobalClusterCommand({ GlobalClusterIdentifier: id, SourceDBClusterIdentifier: primary.arn }),
  );
  const secondary = await createCluster(target, RECOVERY, {
    globalClusterIdentifier: id,
    ...(secondaryVersion !== undefined ? { engineVersion: secondaryVersion } : {}),
  });
  return { id, primary, secondary };
}

function writerOf(global: GlobalCluster): string | undefined {
  return global.GlobalClusterMembers?.find((m) => m.IsWriter)?.DBClusterArn;
}

/** moto has no handler for the action: it answers HTTP 500 with an HTML page the SDK cannot parse. */
async function motoLacks(promise: Promise<unknown>): Promise<void> {
  const error = await rejection(promise);
  expect((error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(500);
  expect(error.message).toMatch(/XML parse error/);
}

/** Cross-Region read replica clusters are Aurora MySQL's (binlog replication; docs/aws/aurora-global-database.md). */
async function createReplicaPair(
  target: Target,
): Promise<{ source: { id: string; arn: string }; replica: { id: string; arn: string } }> {
  const source = await createCluster(target, PRIMARY, { engine: 'aurora-mysql' });
  const replica = await createCluster(target, RECOVERY, {
    engine: 'aurora-mysql',
    replicationSource: source.arn,
  });
  return { source, replica };
}

async function motoRefusesReplicaClusters(target: Target): Promise<void> {
  const error = await rejection(createReplicaPair(target));
  expect(error.name).toBe('InvalidParameterValue');
  expect(error.message).toMatch(/MasterUsername/);
}

conformance('RDS Aurora', MOTO_DIVERGENCES, (suite) => {
  describe('DB clusters', () => {
    it('DescribeDBClusters of a missing cluster is DBClusterNotFoundFault (404)', async () => {
      // Prepare
      const client = rdsIn(suite.target(), RECOVERY);

      // Act
      const error = await rejection(
        client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: unique('nope') })),
      );

      // Assess
      expect(error).toBeInstanceOf(DBClusterNotFoundFault);
      expect((error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(404);
    });

    it('CreateDBCluster answers creating, then the cluster becomes available with its endpoints', async () => {
      // Prepare
      const target = suite.target();
      const client = rdsIn(target, PRIMARY);
      const id = unique('fresh-aurora');

      // Act
      const created = await client.send(
        new CreateDBClusterCommand({
          DBClusterIdentifier: id,
          Engine: 'aurora-postgresql',
          MasterUsername: 'postgres',
          MasterUserPassword: 'not-a-real-password-1',
        }),
      );
      const seen = await pollUntil(
        target,
        () => describeCluster(client, id),
        (c) => c.Status === 'available',
      );

      // Assess
      const last = seen.at(-1) as DBCluster;
      expect(last.DBClusterArn).toBe(`arn:aws:rds:${PRIMARY}:123456789012:cluster:${id}`);
      expect(last.Engine).toBe('aurora-postgresql');
      expect(last.Endpoint).toMatch(
        new RegExp(`^${id}\\.cluster-[a-z0-9]+\\.${PRIMARY}\\.rds\\.amazonaws\\.com$`),
      );
      expect(last.ReaderEndpoint).toMatch(
        new RegExp(`^${id}\\.cluster-ro-[a-z0-9]+\\.${PRIMARY}\\.rds\\.amazonaws\\.com$`),
      );
      expect(last.Port).toBe(5432);
      await suite.behaves(
        'CreateDBCluster answers creating, then the cluster becomes available with its endpoints',
        {
          aws: async () => {
            expect(created.DBCluster?.Status).toBe('creating');
            expect(transitions(seen.map((c) => c.Status))).toEqual(['creating', 'available']);
          },
          moto: async () => {
            expect(created.DBCluster?.Status).toBe('creating');
            expect(seen.map((c) => c.Status)).toEqual(['available']);
          },
        },
      );
    });
  });

  describe('cross-Region read replica clusters', () => {
    it('the source lists the replica and the replica names its source', async () => {
      // Prepare
      const target = suite.target();

      // Act
      await suite.behaves('the source lists the replica and the replica names its source', {
        aws: async () => {
          const { source, replica } = await createReplicaPair(target);

          // Assess
          const replicaView = await describeCluster(rdsIn(target, RECOVERY), replica.id);
          const sourceView = await describeCluster(rdsIn(target, PRIMARY), source.id);
          expect(replicaView.ReplicationSourceIdentifier).toBe(source.arn);
          expect(sourceView.ReadReplicaIdentifiers).toEqual([replica.arn]);
        },
        moto: () => motoRefusesReplicaClusters(target),
      });
    });

    it('a read replica cluster of an Aurora PostgreSQL cluster is refused (binlog replication is Aurora MySQL only)', async () => {
      // Prepare
      const target = suite.target();
      if (
        needsEmulator(
          suite.name,
          'aurora-postgresql read replica cluster',
          'moto refuses every read replica cluster without MasterUsername',
        )
      )
        return;
      const source = await createCluster(target, PRIMARY);

      // Act
      const error = await rejection(createCluster(target, RECOVERY, { replicationSource: source.arn }));

      // Assess
      expect(error.name).toBe('InvalidParameterCombination');
      expect(error.message).toMatch(/aurora-mysql/);
    });

    it('PromoteReadReplicaDBCluster of a cluster that is not a read replica is InvalidDBClusterStateFault', async () => {
      // Prepare
      const target = suite.target();
      const standalone = await createCluster(target, RECOVERY);
      const client = rdsIn(target, RECOVERY);

      // Act
      const error = await rejection(
        client.send(new PromoteReadReplicaDBClusterCommand({ DBClusterIdentifier: standalone.id })),
      );

      // Assess
      await suite.behaves(
        'PromoteReadReplicaDBCluster of a cluster that is not a read replica is InvalidDBClusterStateFault',
        {
          aws: async () => {
            expect(error).toBeInstanceOf(InvalidDBClusterStateFault);
          },
          moto: async () => {
            expect((error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(500);
          },
        },
      );
    });

    it('PromoteReadReplicaDBCluster: promoting, then available without ReplicationSourceIdentifier', async () => {
      // Prepare
      const target = suite.target();
      const client = rdsIn(target, RECOVERY);

      await suite.behaves(
        'PromoteReadReplicaDBCluster: promoting, then available without ReplicationSourceIdentifier',
        {
          aws: async () => {
            const { source, replica } = await createReplicaPair(target);

            // Act
            const answer = await client.send(
              new PromoteReadReplicaDBClusterCommand({ DBClusterIdentifier: replica.id }),
            );
            const seen = await pollUntil(
              target,
              () => describeCluster(client, replica.id),
              (c) => c.Status === 'available' && c.ReplicationSourceIdentifier === undefined,
            );

            // Assess
            expect(answer.DBCluster?.Status).toBe('promoting');
            expect(transitions(seen.map((c) => c.Status))).toEqual(['promoting', 'available']);
            const sourceView = await describeCluster(rdsIn(target, PRIMARY), source.id);
            expect(sourceView.ReadReplicaIdentifiers ?? []).toEqual([]);
            // A second promotion of the now standalone cluster is refused.
            const again = await rejection(
              client.send(new PromoteReadReplicaDBClusterCommand({ DBClusterIdentifier: replica.id })),
            );
            expect(again).toBeInstanceOf(InvalidDBClusterStateFault);
          },
          moto: () => motoRefusesReplicaClusters(target),
        },
      );
    });
  });

  describe('renaming a DB cluster (ModifyDBCluster NewDBClusterIdentifier)', () => {
    /** Renames `id` to a new name with ApplyImmediately; answers the new name and every read until it is found. */
    async function rename(target: Target, region: string, id: string) {
      const client = rdsIn(target, region);
      const to = unique('renamed-aurora');
      const answer = await client.send(
        new ModifyDBClusterCommand({
          DBClusterIdentifier: id,
          NewDBClusterIdentifier: to,
          ApplyImmediately: true,
        }),
      );
      const seen = await pollUntil(
        target,
        () => describeCluster(client, to).catch(() => undefined),
        (c) => c?.Status === 'available',
      );
      return { to, answer, seen };
    }

    it('with ApplyImmediately: then found only under the new name, with its resource id, tags and new endpoint', async () => {
      // Prepare
      const target = suite.target();
      const client = rdsIn(target, PRIMARY);
      const cluster = await createCluster(target, PRIMARY);
      const before = await describeCluster(client, cluster.id);
      await client.send(
        new AddTagsToResourceCommand({
          ResourceName: cluster.arn,
          Tags: [{ Key: 'lifeboat:retired-primary', Value: 'orders-dr/orders' }],
        }),
      );

      // Act
      const { to, answer } = await rename(target, PRIMARY, cluster.id);

      // Assess
      await suite.behaves(
        'ModifyDBCluster with ApplyImmediately answers under the old name; the rename follows',
        {
          aws: async () => expect(answer.DBCluster?.DBClusterArn).toBe(cluster.arn),
          moto: async () => expect(answer.DBCluster?.DBClusterIdentifier).toBe(to),
        },
      );
      const after = await describeCluster(client, to);
      expect(after.DBClusterArn).toBe(`arn:aws:rds:${PRIMARY}:123456789012:cluster:${to}`);
      expect(after.DbClusterResourceId).toBe(before.DbClusterResourceId);
      expect(after.Endpoint?.startsWith(`${to}.cluster-`)).toBe(true);
      expect(after.TagList).toContainEqual({ Key: 'lifeboat:retired-primary', Value: 'orders-dr/orders' });
      const gone = await rejection(
        client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: cluster.id })),
      );
      expect(gone).toBeInstanceOf(DBClusterNotFoundFault);
    });

    it('to a name that is taken is DBClusterAlreadyExistsFault, and nothing changes', async () => {
      // Prepare
      const target = suite.target();
      const client = rdsIn(target, PRIMARY);
      const [a, b] = [await createCluster(target, PRIMARY), await createCluster(target, PRIMARY)];

      // Act
      const sent = client.send(
        new ModifyDBClusterCommand({
          DBClusterIdentifier: a.id,
          NewDBClusterIdentifier: b.id,
          ApplyImmediately: true,
        }),
      );

      // Assess
      await suite.behaves('ModifyDBCluster to a name that is taken is DBClusterAlreadyExistsFault', {
        aws: async () => {
          const error = await rejection(sent);
          expect(error.name).toMatch(/^DBClusterAlreadyExists(Fault)?$/);
          expect((await describeCluster(client, a.id)).Status).toBe('available');
        },
        moto: async () => {
          expect((await sent).DBCluster?.DBClusterIdentifier).toBe(b.id);
        },
      });
    });

    it('a read replica cluster of a renamed source follows the new ARN', async () => {
      // Prepare
      const target = suite.target();

      await suite.behaves('a read replica cluster of a renamed source follows the new ARN', {
        aws: async () => {
          const { source, replica } = await createReplicaPair(target);

          // Act
          const { to } = await rename(target, PRIMARY, source.id);

          // Assess
          const replicaView = await describeCluster(rdsIn(target, RECOVERY), replica.id);
          expect(replicaView.ReplicationSourceIdentifier).toBe(
            `arn:aws:rds:${PRIMARY}:123456789012:cluster:${to}`,
          );
          const sourceView = await describeCluster(rdsIn(target, PRIMARY), to);
          expect(sourceView.ReadReplicaIdentifiers).toEqual([replica.arn]);
        },
        moto: () => motoRefusesReplicaClusters(target),
      });
    });
  });

  describe('global clusters', () => {
    it('DescribeGlobalClusters lists the members, the writer with its readers, and the global writer endpoint', async () => {
      // Prepare
      const target = suite.target();

      // Act
      const { id, primary, secondary } = await createGlobal(target);
      const global = await describeGlobal(rdsIn(target, RECOVERY), id);

      // Assess
      expect(global.GlobalClusterArn).toBe(`arn:aws:rds::123456789012:global-cluster:${id}`);
      expect(global.Engine).toBe('aurora-postgresql');
      expect(global.Endpoint).toMatch(
        new RegExp(`^${id}\\.global-[a-z0-9]+\\.global\\.rds\\.amazonaws\\.com$`),
      );
      expect(global.FailoverState).toBeUndefined();
      const members = global.GlobalClusterMembers ?? [];
      expect(members[1]?.GlobalWriteForwardingStatus).toBe('disabled');
      await suite.behaves(
        'DescribeGlobalClusters lists the members, the writer with its readers, and the global writer endpoint',
        {
          aws: async () => {
            expect(members.map((m) => [m.DBClusterArn, m.IsWriter])).toEqual([
              [primary.arn, true],
              [secondary.arn, false],
            ]);
            expect(members[0]?.Readers).toEqual([secondary.arn]);
          },
          moto: async () => {
            expect(members.map((m) => [m.DBClusterArn, m.IsWriter])).toEqual([
              [primary.arn, false],
              [secondary.arn, false],
            ]);
            expect(members[0]?.Readers ?? []).toEqual([]);
          },
        },
      );
      const secondaryView = await describeCluster(rdsIn(target, RECOVERY), secondary.id);
      expect(secondaryView.GlobalClusterIdentifier).toBe(id);
    });

    it('DescribeGlobalClusters of a missing global cluster is GlobalClusterNotFoundFault (404)', async () => {
      // Prepare
      const client = rdsIn(suite.target(), PRIMARY);

      // Act
      const outcome = client.send(
        new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: unique('nope') }),
      );

      // Assess
      await suite.behaves(
        'DescribeGlobalClusters of a missing global cluster is GlobalClusterNotFoundFault (404)',
        {
          aws: async () => {
            const error = await rejection(outcome);
            expect(error).toBeInstanceOf(GlobalClusterNotFoundFault);
            expect((error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(404);
          },
          moto: async () => {
            const out = await outcome;
            expect(out.GlobalClusters?.length).toBeGreaterThan(0);
            expect(out.GlobalClusters?.some((g) => g.GlobalClusterIdentifier?.startsWith('nope'))).toBe(
              false,
            );
          },
        },
      );
    });

    it('DeleteGlobalCluster with members is InvalidGlobalClusterStateFault', async () => {
      // Prepare
      const target = suite.target();
      const { id } = await createGlobal(target);

      // Act
      const error = await rejection(
        rdsIn(target, PRIMARY).send(new DeleteGlobalClusterCommand({ GlobalClusterIdentifier: id })),
      );

      // Assess
      expect(error).toBeInstanceOf(InvalidGlobalClusterStateFault);
    });

    it('RemoveFromGlobalCluster detaches a secondary: it leaves the members and is standalone', async () => {
      // Prepare
      const target = suite.target();
      const { id, primary, secondary } = await createGlobal(target);

      // Act
      await rdsIn(target, RECOVERY).send(
        new RemoveFromGlobalClusterCommand({
          GlobalClusterIdentifier: id,
          DbClusterIdentifier: secondary.arn,
        }),
      );

      // Assess
      const global = await describeGlobal(rdsIn(target, PRIMARY), id);
      const detached = await describeCluster(rdsIn(target, RECOVERY), secondary.id);
      expect(detached.Status).toBe('available');
      await suite.behaves(
        'RemoveFromGlobalCluster detaches a secondary: it leaves the members and is standalone',
        {
          aws: async () => {
            expect((global.GlobalClusterMembers ?? []).map((m) => m.DBClusterArn)).toEqual([primary.arn]);
            expect(detached.GlobalClusterIdentifier).toBeUndefined();
          },
          moto: async () => {
            expect((global.GlobalClusterMembers ?? []).map((m) => m.DBClusterArn)).toEqual([
              primary.arn,
              secondary.arn,
            ]);
          },
        },
      );
    });
  });

  describe('failover and switchover', () => {
    it('FailoverGlobalCluster with AllowDataLoss: FailoverState pending, failing-over, then the target is the writer and the old primary a secondary', async () => {
      // Prepare
      const target = suite.target();
      const test =
        'FailoverGlobalCluster with AllowDataLoss: FailoverState pending, failing-over, then the target is the writer and the old primary a secondary';
      const { id, primary, secondary } = await createGlobal(target);
      const client = rdsIn(target, RECOVERY);
      const targetBefore = (await describeCluster(client, secondary.id)).Status;

      // Act
      const outcome = client.send(
        new FailoverGlobalClusterCommand({
          GlobalClusterIdentifier: id,
          TargetDbClusterIdentifier: secondary.arn,
          AllowDataLoss: true,
        }),
      );

      // Assess
      await suite.behaves(test, {
        aws: async () => {
          const answer = await outcome;
          expect(answer.GlobalCluster?.FailoverState).toEqual({
            Status: 'pending',
            FromDbClusterArn: primary.arn,
            ToDbClusterArn: secondary.arn,
            IsDataLossAllowed: true,
          });
          const seen = await pollUntil(
            target,
            async () => ({
              global: await describeGlobal(client, id),
              target: await describeCluster(client, secondary.id),
            }),
            (v) => v.global.FailoverState === undefined,
          );
          // The first state of each sequence is the one before the polls (the answer's, the cluster's before the
          // call): on a loaded machine the first poll may come after the short pending phase, and what is proven is
          // the order and that the middle phase is seen.
          const failoverStates = [
            answer.GlobalCluster?.FailoverState?.Status ?? 'none',
            ...seen.map((v) => v.global.FailoverState?.Status ?? 'none'),
          ];
          expect(transitions(failoverStates)).toEqual(['pending', 'failing-over', 'none']);
          // The promoted cluster is failing-over while it is promoted, then available.
          expect(transitions([targetBefore, ...seen.map((v) => v.target.Status)])).toEqual([
            'available',
            'failing-over',
            'available',
          ]);
          const last = (seen.at(-1) as { global: GlobalCluster }).global;
          expect(writerOf(last)).toBe(secondary.arn);
          expect(last.GlobalClusterMembers?.map((m) => m.DBClusterArn).sort()).toEqual(
            [primary.arn, secondary.arn].sort(),
          );
          expect((await describeCluster(client, secondary.id)).Status).toBe('available');
        },
        moto: () => motoLacks(outcome),
      });
    });

    it('SwitchoverGlobalCluster: FailoverState pending, switching-over without data loss, then the roles are swapped', async () => {
      // Prepare
      const target = suite.target();
      const test =
        'SwitchoverGlobalCluster: FailoverState pending, switching-over without data loss, then the roles are swapped';
      const { id, primary, secondary } = await createGlobal(target);
      const client = rdsIn(target, RECOVERY);

      // Act
      const outcome = client.send(
        new SwitchoverGlobalClusterCommand({
          GlobalClusterIdentifier: id,
          TargetDbClusterIdentifier: secondary.arn,
        }),
      );

      // Assess
      await suite.behaves(test, {
        aws: async () => {
          const answer = await outcome;
          expect(answer.GlobalCluster?.FailoverState?.IsDataLossAllowed).toBe(false);
          const seen = await pollUntil(
            target,
            () => describeGlobal(client, id),
            (g) => g.FailoverState === undefined,
          );
          // The answer's state first: the first poll may come after the short pending phase (as above).
          const states = [
            answer.GlobalCluster?.FailoverState?.Status ?? 'none',
            ...seen.map((g) => g.FailoverState?.Status ?? 'none'),
          ];
          expect(transitions(states)).toEqual(['pending', 'switching-over', 'none']);
          const members = (seen.at(-1) as GlobalCluster).GlobalClusterMembers ?? [];
          expect(members.find((m) => m.DBClusterArn === secondary.arn)?.IsWriter).toBe(true);
          expect(members.find((m) => m.DBClusterArn === primary.arn)?.IsWriter).toBe(false);
          expect(members.find((m) => m.IsWriter)?.Readers).toEqual([primary.arn]);
        },
        moto: () => motoLacks(outcome),
      });
    });

    it('A second FailoverGlobalCluster while one is in progress is InvalidGlobalClusterStateFault', async () => {
      // Prepare
      const target = suite.target();
      const test =
        'A second FailoverGlobalCluster while one is in progress is InvalidGlobalClusterStateFault';
      const { id, secondary } = await createGlobal(target);
      const client = rdsIn(target, RECOVERY);
      const request = new FailoverGlobalClusterCommand({
        GlobalClusterIdentifier: id,
        TargetDbClusterIdentifier: secondary.arn,
        AllowDataLoss: true,
      });
      const first = client.send(request);

      // Act
      await suite.behaves(test, {
        aws: async () => {
          await first;
          const error = await rejection(client.send(request));

          // Assess
          expect(error).toBeInstanceOf(InvalidGlobalClusterStateFault);
          await pollUntil(
            target,
            () => describeGlobal(client, id),
            (g) => g.FailoverState === undefined,
          );
        },
        moto: () => motoLacks(first),
      });
    });

    it('FailoverGlobalCluster with both AllowDataLoss and Switchover is InvalidParameterCombination', async () => {
      // Prepare
      const target = suite.target();
      const { id, secondary } = await createGlobal(target);

      // Act
      const outcome = rdsIn(target, RECOVERY).send(
        new FailoverGlobalClusterCommand({
          GlobalClusterIdentifier: id,
          TargetDbClusterIdentifier: secondary.arn,
          AllowDataLoss: true,
          Switchover: true,
        }),
      );

      // Assess
      await suite.behaves(
        'FailoverGlobalCluster with both AllowDataLoss and Switchover is InvalidParameterCombination',
        {
          aws: async () => {
            const error = await rejection(outcome);
            expect(error.name).toBe('InvalidParameterCombination');
            const global = await describeGlobal(rdsIn(target, RECOVERY), id);
            expect(global.FailoverState).toBeUndefined();
          },
          moto: () => motoLacks(outcome),
        },
      );
    });

    it('FailoverGlobalCluster to the current writer is InvalidGlobalClusterStateFault', async () => {
      // Prepare
      const target = suite.target();
      const { id, primary } = await createGlobal(target);

      // Act
      const outcome = rdsIn(target, RECOVERY).send(
        new FailoverGlobalClusterCommand({
          GlobalClusterIdentifier: id,
          TargetDbClusterIdentifier: primary.arn,
          AllowDataLoss: true,
        }),
      );

      // Assess
      await suite.behaves('FailoverGlobalCluster to the current writer is InvalidGlobalClusterStateFault', {
        aws: async () => {
          expect(await rejection(outcome)).toBeInstanceOf(InvalidGlobalClusterStateFault);
        },
        moto: () => motoLacks(outcome),
      });
    });

    it('FailoverGlobalCluster of a missing global cluster is GlobalClusterNotFoundFault', async () => {
      // Prepare
      const target = suite.target();
      const secondary = `arn:aws:rds:${RECOVERY}:123456789012:cluster:${unique('nope')}`;

      // Act
      const outcome = rdsIn(target, RECOVERY).send(
        new FailoverGlobalClusterCommand({
          GlobalClusterIdentifier: unique('nope-global'),
          TargetDbClusterIdentifier: secondary,
          AllowDataLoss: true,
        }),
      );

      // Assess
      await suite.behaves('FailoverGlobalCluster of a missing global cluster is GlobalClusterNotFoundFault', {
        aws: async () => {
          expect(await rejection(outcome)).toBeInstanceOf(GlobalClusterNotFoundFault);
        },
        moto: () => motoLacks(outcome),
      });
    });

    it('SwitchoverGlobalCluster across different engine versions is InvalidGlobalClusterStateFault', async () => {
      // Prepare
      const target = suite.target();
      const { id, secondary } = await createGlobal(target, '16.6');

      // Act
      const outcome = rdsIn(target, RECOVERY).send(
        new SwitchoverGlobalClusterCommand({
          GlobalClusterIdentifier: id,
          TargetDbClusterIdentifier: secondary.arn,
        }),
      );

      // Assess
      await suite.behaves(
        'SwitchoverGlobalCluster across different engine versions is InvalidGlobalClusterStateFault',
        {
          aws: async () => {
            expect(await rejection(outcome)).toBeInstanceOf(InvalidGlobalClusterStateFault);
          },
          moto: () => motoLacks(outcome),
        },
      );
    });
  });
});
