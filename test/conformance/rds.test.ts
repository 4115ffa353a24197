import {
  AddTagsToResourceCommand,
  CreateDBInstanceCommand,
  CreateDBInstanceReadReplicaCommand,
  type DBInstance,
  DBInstanceAlreadyExistsFault,
  DBInstanceNotFoundFault,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  InvalidDBInstanceStateFault,
  ListTagsForResourceCommand,
  PromoteReadReplicaCommand,
  RDSClient,
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
  'CreateDBInstance answers creating, then the instance becomes available':
    'moto creates instances at once: the CreateDBInstance answer is already available',
  'CreateDBInstanceReadReplica needs automated backups on the source':
    'moto creates a read replica of a source whose BackupRetentionPeriod is 0',
  'PromoteReadReplica on an instance that is not a read replica is refused':
    'moto accepts it and answers the instance unchanged',
  'PromoteReadReplica is asynchronous: available, modifying, rebooting, then available without a source':
    'moto answers available at once and never gets to modifying or rebooting; a cross-Region replica even keeps its ReadReplicaSourceDBInstanceIdentifier (moto keeps it in the source Region)',
  'DeleteDBInstance needs SkipFinalSnapshot or a FinalDBSnapshotIdentifier':
    'moto deletes the instance without either',
  'DeleteDBInstance: the instance is deleting, then gone':
    'moto deletes at once: the answer says deleting and the next DescribeDBInstances finds nothing',
};

function rdsIn(target: Target, region: string): RDSClient {
  return new RDSClient(target.config(region));
}

function instanceOf(out: { DBInstances?: DBInstance[] }): DBInstance {
  const instance = out.DBInstances?.[0];
  if (!instance) throw new Error('no instance in the answer');
  return instance;
}

async function describeOne(client: RDSClient, id: string): Promise<DBInstance> {
  return instanceOf(await client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })));
}

async function createPrimary(
  target: Target,
  backupRetentionPeriod = 7,
): Promise<{ id: string; arn: string }> {
  const client = rdsIn(target, PRIMARY);
  const id = unique('orders');
  const out = await client.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: id,
      Engine: 'postgres',
      DBInstanceClass: 'db.t4g.medium',
      MasterUsername: 'postgres',
      MasterUserPassword: 'not-a-real-password-1',
      AllocatedStorage: 20,
      BackupRetentionPeriod: backupRetentionPeriod,
    }),
  );
  await pollUntil(
    target,
    () => describeOne(client, id),
    (i) => i.DBInstanceStatus === 'available',
  );
  return { id, arn: out.DBInstance?.DBInstanceArn as string };
}

async function createReplica(
  target: Target,
): Promise<{ source: { id: string; arn: string }; id: string; arn: string }> {
  const source = await createPrimary(target);
  const client = rdsIn(target, RECOVERY);
  const id = unique('orders-replica');
  const out = await client.send(
    new CreateDBInstanceReadReplicaCommand({
      DBInstanceIdentifier: id,
      SourceDBInstanceIdentifier: source.arn,
    }),
  );
  await pollUntil(
    target,
    () => describeOne(client, id),
    (i) => i.DBInstanceStatus === 'available',
  );
  return { source, id, arn: out.DBInstance?.DBInstanceArn as string };
}

conformance('RDS', MOTO_DIVERGENCES, (suite) => {
  describe('instances', () => {
    it('DescribeDBInstances of a missing instance is DBInstanceNotFound (404)', async () => {
      // Prepare
      const client = rdsIn(suite.target(), RECOVERY);

      // Act
      const error = await rejection(
        client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: unique('nope') })),
      );

      // Assess
      expect(error).toBeInstanceOf(DBInstanceNotFoundFault);
      expect((error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(404);
    });

    it('CreateDBInstance answers creating, then the instance becomes available', async () => {
      // Prepare
      const target = suite.target();
      const client = rdsIn(target, PRIMARY);
      const id = unique('fresh');

      // Act
      const created = await client.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: id,
          Engine: 'postgres',
          DBInstanceClass: 'db.t4g.medium',
          MasterUsername: 'postgres',
          MasterUserPassword: 'not-a-real-password-1',
          AllocatedStorage: 20,
        }),
      );
      const seen = await pollUntil(
        target,
        () => describeOne(client, id),
        (i) => i.DBInstanceStatus === 'available',
      );
      const endpoint = seen[seen.length - 1]?.Endpoint;

      // Assess
      expect(endpoint?.Address).toMatch(
        new RegExp(`^${id}\\.[a-z0-9]+\\.${PRIMARY}\\.rds\\.amazonaws\\.com$`),
      );
      expect(endpoint?.Port).toBe(5432);
      expect(seen[seen.length - 1]?.MasterUserSecret).toBeUndefined();
      await suite.behaves('CreateDBInstance answers creating, then the instance becomes available', {
        aws: async () => {
          expect(created.DBInstance?.DBInstanceStatus).toBe('creating');
          expect(transitions(seen.map((i) => i.DBInstanceStatus))).toEqual(['creating', 'available']);
        },
        moto: async () => expect(created.DBInstance?.DBInstanceStatus).toBe('available'),
      });
    });

    it('CreateDBInstance of an existing identifier is DBInstanceAlreadyExists', async () => {
      // Prepare
      const target = suite.target();
      const { id } = await createPrimary(target);

      // Act
      const error = await rejection(
        rdsIn(target, PRIMARY).send(
          new CreateDBInstanceCommand({
            DBInstanceIdentifier: id,
            Engine: 'postgres',
            DBInstanceClass: 'db.t4g.medium',
            MasterUsername: 'postgres',
            MasterUserPassword: 'not-a-real-password-1',
            AllocatedStorage: 20,
          }),
        ),
      );

      // Assess
      expect(error).toBeInstanceOf(DBInstanceAlreadyExistsFault);
    });

    it('DescribeDBInstances filters by db-instance-id (identifier or ARN)', async () => {
      // Prepare
      const target = suite.target();
      const a = await createPrimary(target);
      const b = await createPrimary(target);
      await createPrimary(target);

      // Act
      const out = await rdsIn(target, PRIMARY).send(
        new DescribeDBInstancesCommand({ Filters: [{ Name: 'db-instance-id', Values: [a.id, b.arn] }] }),
      );

      // Assess
      expect(out.DBInstances?.map((i) => i.DBInstanceIdentifier).sort()).toEqual([a.id, b.id].sort());
    });

    it('AddTagsToResource and ListTagsForResource', async () => {
      // Prepare
      const target = suite.target();
      const { arn } = await createPrimary(target);
      const client = rdsIn(target, PRIMARY);

      // Act
      await client.send(
        new AddTagsToResourceCommand({ ResourceName: arn, Tags: [{ Key: 'team', Value: 'sre' }] }),
      );
      const tags = await client.send(new ListTagsForResourceCommand({ ResourceName: arn }));

      // Assess
      expect(tags.TagList).toEqual([{ Key: 'team', Value: 'sre' }]);
    });

    it('DeleteDBInstance needs SkipFinalSnapshot or a FinalDBSnapshotIdentifier', async () => {
      // Prepare
      const target = suite.target();
      const { id } = await createPrimary(target);

      // Act
      const attempt = rdsIn(target, PRIMARY).send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id }));

      // Assess
      await suite.behaves('DeleteDBInstance needs SkipFinalSnapshot or a FinalDBSnapshotIdentifier', {
        aws: async () => {
          const error = await rejection(attempt);
          expect(error.name).toBe('InvalidParameterCombination');
          expect((error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(400);
        },
        moto: async () => expect((await attempt).DBInstance?.DBInstanceIdentifier).toBe(id),
      });
    });

    it('DeleteDBInstance: the instance is deleting, then gone', async () => {
      // Prepare
      const target = suite.target();
      const { id } = await createPrimary(target);
      const client = rdsIn(target, PRIMARY);

      // Act
      const deleted = await client.send(
        new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true }),
      );
      const statuses = await pollUntil(
        target,
        () =>
          describeOne(client, id).then(
            (i) => i.DBInstanceStatus,
            (e: Error) => e.name,
          ),
        (s) => s === 'DBInstanceNotFoundFault',
      );

      // Assess
      expect(deleted.DBInstance?.DBInstanceStatus).toBe('deleting');
      await suite.behaves('DeleteDBInstance: the instance is deleting, then gone', {
        aws: async () => expect(transitions(statuses)).toEqual(['deleting', 'DBInstanceNotFoundFault']),
        moto: async () => expect(statuses).toEqual(['DBInstanceNotFoundFault']),
      });
    });
  });

  describe('cross-Region read replicas', () => {
    it('a cross-Region read replica names its source ARN, and the source lists the replica ARN', async () => {
      // Prepare
      const target = suite.target();

      // Act
      const { source, id, arn } = await createReplica(target);
      const replica = await describeOne(rdsIn(target, RECOVERY), id);
      const primary = await describeOne(rdsIn(target, PRIMARY), source.id);

      // Assess
      expect(replica.ReadReplicaSourceDBInstanceIdentifier).toBe(source.arn);
      expect(replica.DBInstanceArn).toBe(arn);
      expect(replica.Engine).toBe('postgres');
      expect(primary.ReadReplicaDBInstanceIdentifiers).toEqual([arn]);
    });

    it('CreateDBInstanceReadReplica needs automated backups on the source', async () => {
      // Prepare
      const target = suite.target();
      const source = await createPrimary(target, 0);

      // Act
      const attempt = rdsIn(target, RECOVERY).send(
        new CreateDBInstanceReadReplicaCommand({
          DBInstanceIdentifier: unique('no-backups'),
          SourceDBInstanceIdentifier: source.arn,
        }),
      );

      // Assess
      await suite.behaves('CreateDBInstanceReadReplica needs automated backups on the source', {
        aws: async () => expect(await rejection(attempt)).toBeInstanceOf(InvalidDBInstanceStateFault),
        moto: async () =>
          expect((await attempt).DBInstance?.ReadReplicaSourceDBInstanceIdentifier).toBe(source.arn),
      });
    });

    it('PromoteReadReplica on an instance that is not a read replica is refused', async () => {
      // Prepare
      const target = suite.target();
      const { id } = await createPrimary(target);

      // Act
      const attempt = rdsIn(target, PRIMARY).send(
        new PromoteReadReplicaCommand({ DBInstanceIdentifier: id }),
      );

      // Assess
      await suite.behaves('PromoteReadReplica on an instance that is not a read replica is refused', {
        aws: async () => {
          const error = await rejection(attempt);
          expect(error).toBeInstanceOf(InvalidDBInstanceStateFault);
          expect((error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(400);
        },
        moto: async () => expect((await attempt).DBInstance?.DBInstanceIdentifier).toBe(id),
      });
    });

    it('PromoteReadReplica is asynchronous: available, modifying, rebooting, then available without a source', async () => {
      // Prepare
      const target = suite.target();
      const { id, source } = await createReplica(target);
      const client = rdsIn(target, RECOVERY);

      // Act
      const answer = await client.send(new PromoteReadReplicaCommand({ DBInstanceIdentifier: id }));

      // Assess
      expect(answer.DBInstance?.DBInstanceStatus).toBe('available');
      await suite.behaves(
        'PromoteReadReplica is asynchronous: available, modifying, rebooting, then available without a source',
        {
          aws: async () => {
            const seen = await pollUntil(
              target,
              () => describeOne(client, id),
              (i) =>
                i.DBInstanceStatus === 'available' && i.ReadReplicaSourceDBInstanceIdentifier === undefined,
            );
            // "The status change is not immediate": the answer and the first reads still show a replica.
            expect(answer.DBInstance?.ReadReplicaSourceDBInstanceIdentifier).toBe(source.arn);
            const phases = transitions(
              seen.map(
                (i) => `${i.DBInstanceStatus}${i.ReadReplicaSourceDBInstanceIdentifier ? ' (replica)' : ''}`,
              ),
            );
            expect(phases).toEqual([
              'available (replica)',
              'modifying (replica)',
              'rebooting (replica)',
              'available',
            ]);
            const formerSource = await describeOne(rdsIn(target, PRIMARY), source.id);
            expect(formerSource.ReadReplicaDBInstanceIdentifiers ?? []).toEqual([]);
          },
          moto: async () => {
            await new Promise((r) => setTimeout(r, 10 * target.pollMs));
            const later = await describeOne(client, id);
            expect(later.DBInstanceStatus).toBe('available');
            expect(later.ReadReplicaSourceDBInstanceIdentifier).toBe(source.arn);
          },
        },
      );
    });

    it.skipIf(
      needsEmulator(
        suite.name,
        'PromoteReadReplica is refused while the replica is backing-up',
        'no API puts an instance in backing-up',
      ),
    )('PromoteReadReplica is refused while the replica is backing-up', async () => {
      // Prepare
      const target = suite.target();
      const { id } = await createReplica(target);
      target.emulator?.rds.setStatus(RECOVERY, id, 'backing-up');

      // Act
      const error = await rejection(
        rdsIn(target, RECOVERY).send(new PromoteReadReplicaCommand({ DBInstanceIdentifier: id })),
      );

      // Assess
      expect(error).toBeInstanceOf(InvalidDBInstanceStateFault);
      expect(
        (await describeOne(rdsIn(target, RECOVERY), id)).ReadReplicaSourceDBInstanceIdentifier,
      ).toBeDefined();
    });
  });
});
