import {
  AddTagsToResourceCommand,
  CreateDBInstanceCommand,
  CreateDBInstanceReadReplicaCommand,
  type DBInstance,
  DBInstanceAlreadyExistsFault,
  DBInstanceNotFoundFault,
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
  PromoteReadReplicaCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ReplicateSecretToRegionsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import {
  conformance,
  type DivergenceTable,
  pollUntil,
  rejection,
  type Target,
  transitions,
  unique,
} from './harness.js';

/**
 * The AWS behaviour re-protect relies on (functions/lib/reprotect/reprotect.ts): renaming an instance
 * (docs/aws/rds-rename.md), a cross-Region read replica of a promoted cross-Region replica (docs/aws/rds-read-replicas.md),
 * and replicating a secret over a standalone secret of the same name (docs/aws/secrets-manager-replication.md,
 * "Replicating back after a failover").
 */

const OLD = 'us-east-1';
const CURRENT = 'us-west-2';

/** What moto 5 does instead of what AWS documents (asserted by each test's moto branch). */
const MOTO_DIVERGENCES: DivergenceTable = {
  'ModifyDBInstance NewDBInstanceIdentifier with ApplyImmediately: renaming, then only the new name, available, tags kept':
    'moto renames at once: the answer already carries the new name and the status stays available',
  'a promoted cross-Region replica can be the source of a cross-Region read replica back in the old Region':
    'moto keeps ReadReplicaSourceDBInstanceIdentifier on a promoted cross-Region replica and answers the new replica available at once',
  'ModifyDBInstance to a name that is taken is DBInstanceAlreadyExists':
    'moto accepts the rename to a name another instance has',
};

const rds = (target: Target, region: string) => new RDSClient(target.config(region));
const sm = (target: Target, region: string) => new SecretsManagerClient(target.config(region));

async function describeOne(client: RDSClient, id: string): Promise<DBInstance> {
  const instance = (await client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })))
    .DBInstances?.[0];
  if (!instance) throw new Error(`no instance ${id}`);
  return instance;
}

async function primary(target: Target, region: string): Promise<{ id: string; arn: string }> {
  const client = rds(target, region);
  const id = unique('old');
  const out = await client.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: id,
      Engine: 'postgres',
      DBInstanceClass: 'db.t4g.medium',
      MasterUsername: 'postgres',
      MasterUserPassword: 'not-a-real-password-1',
      AllocatedStorage: 20,
      BackupRetentionPeriod: 7,
    }),
  );
  await pollUntil(
    target,
    () => describeOne(client, id),
    (i) => i.DBInstanceStatus === 'available',
  );
  return { id, arn: out.DBInstance?.DBInstanceArn as string };
}

conformance(
  'Re-protect: RDS rename, replica of a promoted replica, secret replicated back',
  MOTO_DIVERGENCES,
  (suite) => {
    describe('RDS', () => {
      it('ModifyDBInstance NewDBInstanceIdentifier with ApplyImmediately: renaming, then only the new name, available, tags kept', async () => {
        // Prepare
        const target = suite.target();
        const client = rds(target, OLD);
        const { id, arn } = await primary(target, OLD);
        await client.send(
          new AddTagsToResourceCommand({
            ResourceName: arn,
            Tags: [{ Key: 'lifeboat:retired-from', Value: id }],
          }),
        );
        const before = await describeOne(client, id);
        const newId = unique('retired');

        // Act
        const answer = await client.send(
          new ModifyDBInstanceCommand({
            DBInstanceIdentifier: id,
            NewDBInstanceIdentifier: newId,
            ApplyImmediately: true,
          }),
        );
        const seen = await pollUntil(
          target,
          async () =>
            client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: newId })).then(
              (out) => out.DBInstances?.[0]?.DBInstanceStatus ?? 'none',
              (error: Error) =>
                error instanceof DBInstanceNotFoundFault ? 'not-yet' : Promise.reject(error),
            ),
          (status) => status === 'available',
        );
        const renamed = await describeOne(client, newId);
        const oldName = await rejection(
          client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id })),
        );

        // Assess
        expect(oldName).toBeInstanceOf(DBInstanceNotFoundFault);
        expect(renamed.DbiResourceId).toBe(before.DbiResourceId);
        expect(renamed.TagList).toEqual(
          expect.arrayContaining([{ Key: 'lifeboat:retired-from', Value: id }]),
        );
        expect(renamed.Endpoint?.Address?.startsWith(`${newId}.`)).toBe(true);
        await suite.behaves(
          'ModifyDBInstance NewDBInstanceIdentifier with ApplyImmediately: renaming, then only the new name, available, tags kept',
          {
            aws: async () => {
              expect(answer.DBInstance?.DBInstanceIdentifier).toBe(id);
              expect(answer.DBInstance?.PendingModifiedValues?.DBInstanceIdentifier).toBe(newId);
              expect(answer.DBInstance?.DBInstanceStatus).toBe('renaming');
              // Not found under the new name while renaming, then rebooting (a poll may miss a phase).
              expect(['not-yet', 'rebooting', 'available']).toEqual(
                expect.arrayContaining(transitions(seen)),
              );
            },
            moto: async () => {
              expect(answer.DBInstance?.DBInstanceIdentifier).toBe(newId);
              expect(transitions(seen)).toEqual(['available']);
            },
          },
        );
      });

      it('ModifyDBInstance to a name that is taken is DBInstanceAlreadyExists', async () => {
        // Prepare
        const target = suite.target();
        const a = await primary(target, OLD);
        const b = await primary(target, OLD);

        // Act
        const rename = rds(target, OLD).send(
          new ModifyDBInstanceCommand({
            DBInstanceIdentifier: a.id,
            NewDBInstanceIdentifier: b.id,
            ApplyImmediately: true,
          }),
        );

        // Assess
        await suite.behaves('ModifyDBInstance to a name that is taken is DBInstanceAlreadyExists', {
          aws: async () => expect(await rejection(rename)).toBeInstanceOf(DBInstanceAlreadyExistsFault),
          moto: async () => expect((await rename).DBInstance?.DBInstanceIdentifier).toBe(b.id),
        });
      });

      it('a promoted cross-Region replica can be the source of a cross-Region read replica back in the old Region', async () => {
        // Prepare: a primary in the old Region, its replica in the current one, promoted (a failover).
        const target = suite.target();
        const old = await primary(target, OLD);
        const current = rds(target, CURRENT);
        const replicaId = unique('current');
        const made = await current.send(
          new CreateDBInstanceReadReplicaCommand({
            DBInstanceIdentifier: replicaId,
            SourceDBInstanceIdentifier: old.arn,
          }),
        );
        await pollUntil(
          target,
          () => describeOne(current, replicaId),
          (i) => i.DBInstanceStatus === 'available',
        );
        await current.send(
          new PromoteReadReplicaCommand({ DBInstanceIdentifier: replicaId, BackupRetentionPeriod: 7 }),
        );
        await suite.behaves(
          'a promoted cross-Region replica can be the source of a cross-Region read replica back in the old Region',
          {
            aws: async () => {
              await pollUntil(
                target,
                () => describeOne(current, replicaId),
                (i) => i.DBInstanceStatus === 'available' && !i.ReadReplicaSourceDBInstanceIdentifier,
              );
            },
            moto: async () => {
              expect((await describeOne(current, replicaId)).ReadReplicaSourceDBInstanceIdentifier).toBe(
                old.arn,
              );
            },
          },
        );
        const back = rds(target, OLD);
        const newReplicaId = unique('back');

        // Act
        const answer = await back.send(
          new CreateDBInstanceReadReplicaCommand({
            DBInstanceIdentifier: newReplicaId,
            SourceDBInstanceIdentifier: made.DBInstance?.DBInstanceArn,
          }),
        );
        const seen = await pollUntil(
          target,
          () => describeOne(back, newReplicaId),
          (i) => i.DBInstanceStatus === 'available',
        );
        const replica = seen[seen.length - 1] as DBInstance;

        // Assess
        expect(replica.ReadReplicaSourceDBInstanceIdentifier).toBe(made.DBInstance?.DBInstanceArn);
        expect((await describeOne(current, replicaId)).ReadReplicaDBInstanceIdentifiers).toContain(
          replica.DBInstanceArn,
        );
        if (suite.name === 'emulator') {
          expect(answer.DBInstance?.DBInstanceStatus).toBe('creating');
          expect(transitions(seen.map((i) => i.DBInstanceStatus))).toEqual(['creating', 'available']);
          expect(replica.StatusInfos?.find((s) => s.StatusType === 'read replication')?.Status).toBe(
            'replicating',
          );
        }
      });
    });

    describe('Secrets Manager', () => {
      /** The world after a failover: a standalone secret of the same name in each Region, with different values. */
      async function twoStandalone(target: Target): Promise<string> {
        const name = unique('orders/db');
        await sm(target, OLD).send(new CreateSecretCommand({ Name: name, SecretString: '{"v":"stale"}' }));
        await sm(target, CURRENT).send(
          new CreateSecretCommand({ Name: name, SecretString: '{"v":"current"}' }),
        );
        return name;
      }

      it('ReplicateSecretToRegions with ForceOverwriteReplicaSecret over a standalone secret of the same name: a replica of the current value', async () => {
        // Prepare
        const target = suite.target();
        const name = await twoStandalone(target);

        // Act
        const answer = await sm(target, CURRENT).send(
          new ReplicateSecretToRegionsCommand({
            SecretId: name,
            AddReplicaRegions: [{ Region: OLD }],
            ForceOverwriteReplicaSecret: true,
          }),
        );
        await pollUntil(
          target,
          () => sm(target, CURRENT).send(new DescribeSecretCommand({ SecretId: name })),
          (d) => d.ReplicationStatus?.find((r) => r.Region === OLD)?.Status === 'InSync',
        );
        const replica = await sm(target, OLD).send(new DescribeSecretCommand({ SecretId: name }));
        const value = await sm(target, OLD).send(new GetSecretValueCommand({ SecretId: name }));

        // Assess
        expect(answer.ReplicationStatus?.map((r) => r.Region)).toEqual([OLD]);
        expect(replica.PrimaryRegion).toBe(CURRENT);
        expect(value.SecretString).toBe('{"v":"current"}');
      });

      it('ReplicateSecretToRegions without ForceOverwriteReplicaSecret over a secret of the same name: Failed, the secret untouched', async () => {
        // Prepare
        const target = suite.target();
        const name = await twoStandalone(target);

        // Act
        await sm(target, CURRENT).send(
          new ReplicateSecretToRegionsCommand({ SecretId: name, AddReplicaRegions: [{ Region: OLD }] }),
        );
        const seen = await pollUntil(
          target,
          () => sm(target, CURRENT).send(new DescribeSecretCommand({ SecretId: name })),
          (d) => d.ReplicationStatus?.find((r) => r.Region === OLD)?.Status !== 'InProgress',
        );
        const status = seen[seen.length - 1]?.ReplicationStatus?.find((r) => r.Region === OLD)?.Status;

        // Assess
        expect(status).toBe('Failed');
        const stale = await sm(target, OLD).send(new GetSecretValueCommand({ SecretId: name }));
        expect(stale.SecretString).toBe('{"v":"stale"}');
      });
    });
  },
);
