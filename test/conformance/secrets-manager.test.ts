import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidParameterException,
  InvalidRequestException,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  RemoveRegionsFromReplicationCommand,
  ReplicateSecretToRegionsCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  RotateSecretCommand,
  SecretsManagerClient,
  StopReplicationToReplicaCommand,
  TagResourceCommand,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
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

const PRIMARY = 'us-east-1';
const RECOVERY = 'us-west-2';
const REPLICA_READ_ONLY = 'Operation not permitted on a replica secret';

/** What moto 5 does instead of what AWS documents (asserted by each test's moto branch). */
const MOTO_DIVERGENCES: DivergenceTable = {
  'replication status is InProgress, then InSync':
    'moto creates replicas at once: ReplicationStatus is InSync already in the CreateSecret answer',
  'a replica answers PrimaryRegion and no ReplicationStatus of its own':
    "moto's replica also answers the primary's ReplicationStatus list",
  'StopReplicationToReplica in the replica Region makes it standalone':
    'moto does not implement StopReplicationToReplica: it answers HTTP 500 with an HTML page',
  'StopReplicationToReplica on a primary is refused':
    'moto does not implement StopReplicationToReplica: it answers HTTP 500 with an HTML page',
  'a new version reaches the replica once InSync':
    'moto replicas share the primary secret object: a new version is on the replica at once, always InSync',
  'RotateSecret with RotateImmediately=false only configures rotation':
    'moto looks the function up in its own Lambda (ResourceNotFoundException when absent) and, if found, runs it in Docker; with RotateImmediately=false it also leaves an AWSPENDING version',
  'RotateSecret fails while AWSPENDING sits on another version than AWSCURRENT':
    "moto's check is inverted (it refuses when AWSPENDING is on the AWSCURRENT version), so it goes on to look the function up and answers ResourceNotFoundException",
  'RotateSecret needs a function that lets Secrets Manager invoke it':
    'moto answers ResourceNotFoundException "Resource not found for ARN" for a function its Lambda does not have',
};

function clients(target: Target) {
  return {
    primary: new SecretsManagerClient(target.config(PRIMARY)),
    recovery: new SecretsManagerClient(target.config(RECOVERY)),
  };
}

async function replicatedSecret(target: Target, value = '{"v":1}') {
  const { primary, recovery } = clients(target);
  const name = unique('app/db');
  const created = await primary.send(
    new CreateSecretCommand({ Name: name, SecretString: value, AddReplicaRegions: [{ Region: RECOVERY }] }),
  );
  await pollUntil(
    target,
    () => primary.send(new DescribeSecretCommand({ SecretId: name })),
    (d) => d.ReplicationStatus?.[0]?.Status === 'InSync',
  );
  return {
    name,
    arn: created.ARN as string,
    replicaArn: (created.ARN as string).replace(PRIMARY, RECOVERY),
    primary,
    recovery,
  };
}

conformance('Secrets Manager', MOTO_DIVERGENCES, (suite) => {
  describe('multi-Region replication', () => {
    it('replication status is InProgress, then InSync', async () => {
      // Prepare
      const target = suite.target();
      const { primary } = clients(target);
      const name = unique('app/db');

      // Act
      const created = await primary.send(
        new CreateSecretCommand({
          Name: name,
          SecretString: '{"v":1}',
          AddReplicaRegions: [{ Region: RECOVERY }],
        }),
      );
      const statuses = await pollUntil(
        target,
        async () =>
          (await primary.send(new DescribeSecretCommand({ SecretId: name }))).ReplicationStatus?.[0]?.Status,
        (s) => s === 'InSync',
      );

      // Assess
      await suite.behaves('replication status is InProgress, then InSync', {
        aws: async () => {
          expect(created.ReplicationStatus).toEqual([
            expect.objectContaining({ Region: RECOVERY, Status: 'InProgress' }),
          ]);
          expect(transitions(statuses)).toEqual(['InProgress', 'InSync']);
        },
        moto: async () => {
          expect(created.ReplicationStatus?.[0]?.Status).toBe('InSync');
          expect(statuses).toEqual(['InSync']);
        },
      });
    });

    it('a replica has the same name and ARN suffix in its Region and the same value', async () => {
      // Prepare
      const { name, arn, recovery } = await replicatedSecret(suite.target(), '{"marker":"replica-value"}');

      // Act
      const replica = await recovery.send(new DescribeSecretCommand({ SecretId: name }));
      const value = await recovery.send(new GetSecretValueCommand({ SecretId: name }));

      // Assess
      expect(replica.ARN).toBe(arn.replace(`:${PRIMARY}:`, `:${RECOVERY}:`));
      expect(arn).toMatch(
        new RegExp(`^arn:aws:secretsmanager:${PRIMARY}:\\d{12}:secret:${name}-[A-Za-z0-9]{6}$`),
      );
      expect(value.SecretString).toBe('{"marker":"replica-value"}');
    });

    it('a replica answers PrimaryRegion and no ReplicationStatus of its own', async () => {
      // Prepare
      const { name, recovery } = await replicatedSecret(suite.target());

      // Act
      const replica = await recovery.send(new DescribeSecretCommand({ SecretId: name }));

      // Assess
      expect(replica.PrimaryRegion).toBe(PRIMARY);
      await suite.behaves('a replica answers PrimaryRegion and no ReplicationStatus of its own', {
        aws: async () => expect(replica.ReplicationStatus).toBeUndefined(),
        moto: async () => expect(replica.ReplicationStatus?.[0]?.Region).toBe(RECOVERY),
      });
    });

    it('a replica is read-only: PutSecretValue, UpdateSecret and RotateSecret are refused', async () => {
      // Prepare
      const { replicaArn, recovery } = await replicatedSecret(suite.target());

      // Act
      const errors = [
        await rejection(
          recovery.send(new PutSecretValueCommand({ SecretId: replicaArn, SecretString: 'x' })),
        ),
        await rejection(recovery.send(new UpdateSecretCommand({ SecretId: replicaArn, SecretString: 'x' }))),
        await rejection(
          recovery.send(
            new RotateSecretCommand({
              SecretId: replicaArn,
              RotationLambdaARN: `arn:aws:lambda:${RECOVERY}:123456789012:function:rotate`,
              RotateImmediately: false,
            }),
          ),
        ),
      ];

      // Assess
      for (const error of errors) {
        expect(error).toBeInstanceOf(InvalidParameterException);
        expect(error.message).toContain(REPLICA_READ_ONLY);
        expect((error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(400);
      }
    });

    it('a new version reaches the replica once InSync', async () => {
      // Prepare
      const { name, primary, recovery } = await replicatedSecret(suite.target(), 'old');

      // Act
      await primary.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'new' }));
      const seenRightAfter = (await recovery.send(new GetSecretValueCommand({ SecretId: name })))
        .SecretString;
      const statusRightAfter = (await primary.send(new DescribeSecretCommand({ SecretId: name })))
        .ReplicationStatus?.[0]?.Status;
      await pollUntil(
        suite.target(),
        () => primary.send(new DescribeSecretCommand({ SecretId: name })),
        (d) => d.ReplicationStatus?.[0]?.Status === 'InSync',
      );
      const seenWhenInSync = (await recovery.send(new GetSecretValueCommand({ SecretId: name })))
        .SecretString;

      // Assess
      expect(seenWhenInSync).toBe('new');
      await suite.behaves('a new version reaches the replica once InSync', {
        aws: async () => {
          expect(seenRightAfter).toBe('old');
          expect(statusRightAfter).toBe('InProgress');
        },
        moto: async () => {
          expect(seenRightAfter).toBe('new');
          expect(statusRightAfter).toBe('InSync');
        },
      });
    });

    it('StopReplicationToReplica in the replica Region makes it standalone', async () => {
      // Prepare
      const { name, replicaArn, primary, recovery } = await replicatedSecret(suite.target());

      // Act
      const stop = recovery.send(new StopReplicationToReplicaCommand({ SecretId: replicaArn }));

      // Assess
      await suite.behaves('StopReplicationToReplica in the replica Region makes it standalone', {
        aws: async () => {
          expect((await stop).ARN).toBe(replicaArn);
          const promoted = await recovery.send(new DescribeSecretCommand({ SecretId: name }));
          expect(promoted.PrimaryRegion).toBeUndefined();
          const former = await primary.send(new DescribeSecretCommand({ SecretId: name }));
          expect(former.ReplicationStatus ?? []).toEqual([]);
          // Standalone now: writable in the recovery Region.
          const put = await recovery.send(
            new PutSecretValueCommand({ SecretId: name, SecretString: 'after' }),
          );
          expect(put.VersionStages).toEqual(['AWSCURRENT']);
        },
        moto: async () => {
          const error = await rejection(stop);
          expect((error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(500);
        },
      });
    });

    it('StopReplicationToReplica on a primary is refused', async () => {
      // Prepare
      const { name, primary } = await replicatedSecret(suite.target());

      // Act
      const error = await rejection(primary.send(new StopReplicationToReplicaCommand({ SecretId: name })));

      // Assess
      await suite.behaves('StopReplicationToReplica on a primary is refused', {
        aws: async () => {
          expect(error).toBeInstanceOf(InvalidRequestException);
          const still = await primary.send(new DescribeSecretCommand({ SecretId: name }));
          expect(still.ReplicationStatus?.map((r) => r.Region)).toEqual([RECOVERY]);
        },
        moto: async () => expect((error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(500),
      });
    });

    it('ReplicateSecretToRegions fails a replica whose name is taken, unless ForceOverwriteReplicaSecret', async () => {
      // Prepare
      const target = suite.target();
      const { primary, recovery } = clients(target);
      const name = unique('app/taken');
      await primary.send(new CreateSecretCommand({ Name: name, SecretString: 'primary-value' }));
      await recovery.send(new CreateSecretCommand({ Name: name, SecretString: 'local-value' }));
      const status = () => primary.send(new DescribeSecretCommand({ SecretId: name }));

      // Act
      await primary.send(
        new ReplicateSecretToRegionsCommand({ SecretId: name, AddReplicaRegions: [{ Region: RECOVERY }] }),
      );
      const failed = await pollUntil(
        target,
        status,
        (d) => d.ReplicationStatus?.[0]?.Status !== 'InProgress',
      );
      await primary.send(
        new RemoveRegionsFromReplicationCommand({ SecretId: name, RemoveReplicaRegions: [RECOVERY] }),
      );
      const untouched = await recovery.send(new GetSecretValueCommand({ SecretId: name }));
      await primary.send(
        new ReplicateSecretToRegionsCommand({
          SecretId: name,
          AddReplicaRegions: [{ Region: RECOVERY }],
          ForceOverwriteReplicaSecret: true,
        }),
      );
      await pollUntil(target, status, (d) => d.ReplicationStatus?.[0]?.Status === 'InSync');
      const overwritten = await recovery.send(new GetSecretValueCommand({ SecretId: name }));
      const replica = await recovery.send(new DescribeSecretCommand({ SecretId: name }));

      // Assess
      expect(failed[failed.length - 1]?.ReplicationStatus?.[0]?.Status).toBe('Failed');
      expect(untouched.SecretString).toBe('local-value');
      expect(overwritten.SecretString).toBe('primary-value');
      expect(replica.PrimaryRegion).toBe(PRIMARY);
    });

    it('a primary with replicas cannot be deleted; RemoveRegionsFromReplication deletes the replica', async () => {
      // Prepare
      const { name, primary, recovery } = await replicatedSecret(suite.target());

      // Act
      const refused = await rejection(
        primary.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true })),
      );
      const removed = await primary.send(
        new RemoveRegionsFromReplicationCommand({ SecretId: name, RemoveReplicaRegions: [RECOVERY] }),
      );
      const replicaGone = await rejection(recovery.send(new DescribeSecretCommand({ SecretId: name })));
      const deleted = await primary.send(
        new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }),
      );

      // Assess
      expect(refused).toBeInstanceOf(InvalidParameterException);
      expect(removed.ReplicationStatus ?? []).toEqual([]);
      expect(replicaGone).toBeInstanceOf(ResourceNotFoundException);
      expect(deleted.Name).toBe(name);
    });
  });

  describe('versions and staging labels', () => {
    it('PutSecretValue moves AWSCURRENT and gives AWSPREVIOUS to the version that had it', async () => {
      // Prepare
      const { primary } = clients(suite.target());
      const name = unique('app/stages');
      const first = await primary.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));

      // Act
      const second = await primary.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'v2' }));
      const pending = await primary.send(
        new PutSecretValueCommand({ SecretId: name, SecretString: 'v3', VersionStages: ['AWSPENDING'] }),
      );
      const described = await primary.send(new DescribeSecretCommand({ SecretId: name }));
      const current = await primary.send(new GetSecretValueCommand({ SecretId: name }));
      const pendingValue = await primary.send(
        new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPENDING' }),
      );

      // Assess
      expect(described.VersionIdsToStages).toEqual({
        [first.VersionId as string]: ['AWSPREVIOUS'],
        [second.VersionId as string]: ['AWSCURRENT'],
        [pending.VersionId as string]: ['AWSPENDING'],
      });
      expect(current.SecretString).toBe('v2');
      expect(pendingValue.SecretString).toBe('v3');
    });

    it('UpdateSecretVersionStage needs RemoveFromVersionId to move a label that is attached elsewhere', async () => {
      // Prepare
      const { primary } = clients(suite.target());
      const name = unique('app/move');
      const first = await primary.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));
      const pending = await primary.send(
        new PutSecretValueCommand({ SecretId: name, SecretString: 'v2', VersionStages: ['AWSPENDING'] }),
      );

      // Act
      const refused = await rejection(
        primary.send(
          new UpdateSecretVersionStageCommand({
            SecretId: name,
            VersionStage: 'AWSCURRENT',
            MoveToVersionId: pending.VersionId,
          }),
        ),
      );
      await primary.send(
        new UpdateSecretVersionStageCommand({
          SecretId: name,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: pending.VersionId,
          RemoveFromVersionId: first.VersionId,
        }),
      );
      const described = await primary.send(new DescribeSecretCommand({ SecretId: name }));

      // Assess
      expect(refused).toBeInstanceOf(InvalidParameterException);
      expect(described.VersionIdsToStages?.[pending.VersionId as string]).toEqual(
        expect.arrayContaining(['AWSCURRENT', 'AWSPENDING']),
      );
      expect(described.VersionIdsToStages?.[first.VersionId as string]).toEqual(['AWSPREVIOUS']);
    });

    it('GetSecretValue of a missing stage or secret is ResourceNotFoundException', async () => {
      // Prepare
      const { primary } = clients(suite.target());
      const name = unique('app/missing');
      await primary.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));

      // Act
      const noStage = await rejection(
        primary.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPENDING' })),
      );
      const noSecret = await rejection(primary.send(new GetSecretValueCommand({ SecretId: unique('nope') })));

      // Assess
      expect(noStage).toBeInstanceOf(ResourceNotFoundException);
      expect(noSecret).toBeInstanceOf(ResourceNotFoundException);
    });

    it('PutSecretValue with the same ClientRequestToken: same value is ignored, another value is refused', async () => {
      // Prepare
      const { primary } = clients(suite.target());
      const name = unique('app/token');
      await primary.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));
      const token = 'lifeboat-0123456789abcdef0123456789abcdef';

      // Act
      const first = await primary.send(
        new PutSecretValueCommand({ SecretId: name, SecretString: 'v2', ClientRequestToken: token }),
      );
      const again = await primary.send(
        new PutSecretValueCommand({ SecretId: name, SecretString: 'v2', ClientRequestToken: token }),
      );
      const conflict = await rejection(
        primary.send(
          new PutSecretValueCommand({ SecretId: name, SecretString: 'v3', ClientRequestToken: token }),
        ),
      );
      const versions = await primary.send(new ListSecretVersionIdsCommand({ SecretId: name }));

      // Assess
      expect(first.VersionId).toBe(token);
      expect(again.VersionId).toBe(token);
      expect(conflict).toBeInstanceOf(ResourceExistsException);
      expect(versions.Versions).toHaveLength(2);
    });
  });

  describe('rotation', () => {
    /** A rotation function Secrets Manager may invoke: seeded in the emulator; on moto an ARN moto does not know. */
    function rotationFunction(target: Target, allowSecretsManager = true): string {
      return (
        target.emulator?.seed.lambdaFunction({
          region: RECOVERY,
          name: unique('rotate'),
          allowSecretsManager,
        }).arn ?? `arn:aws:lambda:${RECOVERY}:123456789012:function:${unique('absent')}`
      );
    }

    it('RotateSecret with RotateImmediately=false only configures rotation', async () => {
      // Prepare
      const target = suite.target();
      const { recovery } = clients(target);
      const name = unique('app/rotate');
      const created = await recovery.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));
      const arn = rotationFunction(target);

      // Act
      const rotate = recovery.send(
        new RotateSecretCommand({
          SecretId: name,
          RotationLambdaARN: arn,
          RotationRules: { AutomaticallyAfterDays: 30 },
          RotateImmediately: false,
        }),
      );

      // Assess
      await suite.behaves('RotateSecret with RotateImmediately=false only configures rotation', {
        aws: async () => {
          await rotate;
          const described = await recovery.send(new DescribeSecretCommand({ SecretId: name }));
          expect(described.RotationEnabled).toBe(true);
          expect(described.RotationLambdaARN).toBe(arn);
          expect(described.RotationRules?.AutomaticallyAfterDays).toBe(30);
          expect(described.NextRotationDate).toBeInstanceOf(Date);
          // No rotation ran: the versions are as they were.
          expect(described.VersionIdsToStages).toEqual({ [created.VersionId as string]: ['AWSCURRENT'] });
        },
        moto: async () => {
          const error = await rejection(rotate);
          expect(error).toBeInstanceOf(ResourceNotFoundException);
          expect(error.message).toContain('Resource not found for ARN');
        },
      });
    });

    it('RotateSecret needs a function that lets Secrets Manager invoke it', async () => {
      // Prepare
      const target = suite.target();
      const { recovery } = clients(target);
      const name = unique('app/rotate-denied');
      await recovery.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));
      const absent = `arn:aws:lambda:${RECOVERY}:123456789012:function:${unique('absent')}`;

      // Act
      const error = await rejection(
        recovery.send(
          new RotateSecretCommand({ SecretId: name, RotationLambdaARN: absent, RotateImmediately: false }),
        ),
      );

      // Assess
      await suite.behaves('RotateSecret needs a function that lets Secrets Manager invoke it', {
        aws: async () => {
          expect(error.name).toBe('AccessDeniedException');
          const notAllowed = rotationFunction(target, false);
          const denied = await rejection(
            recovery.send(
              new RotateSecretCommand({
                SecretId: name,
                RotationLambdaARN: notAllowed,
                RotateImmediately: false,
              }),
            ),
          );
          expect(denied.name).toBe('AccessDeniedException');
          const described = await recovery.send(new DescribeSecretCommand({ SecretId: name }));
          expect(described.RotationEnabled).toBeUndefined();
        },
        moto: async () => expect(error).toBeInstanceOf(ResourceNotFoundException),
      });
    });

    it('RotateSecret fails while AWSPENDING sits on another version than AWSCURRENT', async () => {
      // Prepare
      const target = suite.target();
      const { recovery } = clients(target);
      const name = unique('app/interrupted');
      await recovery.send(new CreateSecretCommand({ Name: name, SecretString: 'v1' }));
      await recovery.send(
        new PutSecretValueCommand({
          SecretId: name,
          SecretString: 'half-rotated',
          VersionStages: ['AWSPENDING'],
        }),
      );

      // Act
      const error = await rejection(
        recovery.send(
          new RotateSecretCommand({
            SecretId: name,
            RotationLambdaARN: rotationFunction(target),
            RotateImmediately: false,
          }),
        ),
      );

      // Assess
      await suite.behaves('RotateSecret fails while AWSPENDING sits on another version than AWSCURRENT', {
        aws: async () => expect(error).toBeInstanceOf(InvalidRequestException),
        moto: async () => expect(error).toBeInstanceOf(ResourceNotFoundException),
      });
    });
  });

  describe('metadata', () => {
    it('TagResource and ListSecrets filters by name prefix and tag key', async () => {
      // Prepare
      const { primary } = clients(suite.target());
      const prefix = unique('team-a');
      await primary.send(new CreateSecretCommand({ Name: `${prefix}/one`, SecretString: '1' }));
      await primary.send(new CreateSecretCommand({ Name: `${prefix}/two`, SecretString: '2' }));
      const tagKey = unique('owner');
      await primary.send(
        new TagResourceCommand({ SecretId: `${prefix}/two`, Tags: [{ Key: tagKey, Value: 'sre' }] }),
      );

      // Act
      const byName = await primary.send(
        new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [prefix] }] }),
      );
      const byTag = await primary.send(
        new ListSecretsCommand({ Filters: [{ Key: 'tag-key', Values: [tagKey] }] }),
      );
      const described = await primary.send(new DescribeSecretCommand({ SecretId: `${prefix}/two` }));

      // Assess
      expect(byName.SecretList?.map((s) => s.Name).sort()).toEqual([`${prefix}/one`, `${prefix}/two`]);
      expect(byTag.SecretList?.map((s) => s.Name)).toEqual([`${prefix}/two`]);
      expect(described.Tags).toEqual([{ Key: tagKey, Value: 'sre' }]);
    });

    it('ListSecrets pages with NextToken, lists tags, and shows a secret scheduled for deletion only with IncludePlannedDeletion (the Vault sync reads it so)', async () => {
      // Prepare
      const { primary } = clients(suite.target());
      const prefix = unique('vault/paged');
      for (let i = 0; i < 5; i++) {
        await primary.send(
          new CreateSecretCommand({
            Name: `${prefix}/s${i}`,
            SecretString: String(i),
            Tags: [{ Key: 'lifeboat:feed', Value: 'vault-sync' }],
          }),
        );
      }
      await primary.send(new DeleteSecretCommand({ SecretId: `${prefix}/s4`, RecoveryWindowInDays: 7 }));

      // Act
      const list = async (includeDeleted: boolean) => {
        const names: string[] = [];
        const pages: number[] = [];
        let token: string | undefined;
        do {
          const page = await primary.send(
            new ListSecretsCommand({
              Filters: [{ Key: 'name', Values: [`${prefix}/`] }],
              MaxResults: 2,
              IncludePlannedDeletion: includeDeleted,
              ...(token ? { NextToken: token } : {}),
            }),
          );
          pages.push(page.SecretList?.length ?? 0);
          for (const s of page.SecretList ?? []) {
            names.push(s.Name ?? '');
            expect(s.Tags).toEqual([{ Key: 'lifeboat:feed', Value: 'vault-sync' }]);
            if (s.Name === `${prefix}/s4`) expect(s.DeletedDate).toBeInstanceOf(Date);
          }
          token = page.NextToken;
        } while (token);
        return { names: names.sort(), pages };
      };
      const live = await list(false);
      const all = await list(true);

      // Assess
      expect(live.names).toEqual([0, 1, 2, 3].map((i) => `${prefix}/s${i}`));
      expect(live.pages.every((n) => n <= 2)).toBe(true);
      expect(all.names).toEqual([0, 1, 2, 3, 4].map((i) => `${prefix}/s${i}`));
    });

    it('CreateSecret of an existing name is ResourceExistsException', async () => {
      // Prepare
      const { primary } = clients(suite.target());
      const name = unique('app/dup');
      await primary.send(new CreateSecretCommand({ Name: name, SecretString: '1' }));

      // Act
      const error = await rejection(primary.send(new CreateSecretCommand({ Name: name, SecretString: '2' })));

      // Assess
      expect(error).toBeInstanceOf(ResourceExistsException);
    });
  });
});
