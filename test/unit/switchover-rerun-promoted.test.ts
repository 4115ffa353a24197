import { type DBInstance, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { FenceKeptError } from '../../functions/lib/errors.js';
import { checkCatchUp, type SwitchoverDeps, unfence } from '../../functions/lib/switchover/switchover.js';
import {
  PRIMARY_ARN,
  PRIMARY_ENDPOINT,
  PRIMARY_ID,
  REPLICA_ENDPOINT,
  REPLICA_ID,
  stepInput,
} from '../fixtures/db-fixtures.js';
import { secretValue } from '../fixtures/secret.js';

/**
 * A switchover re-run after its promotion (docs/design/switchover.md, "Crash and re-run"): the fence's position, read
 * again after the promotion, will never be replayed by the promoted replica. The catch-up sees the replica promoted and
 * lets the run finish the switchover, and the primary is never un-fenced while RDS describes the replica promoted.
 */

const smMock = mockClient(SecretsManagerClient);
const rdsMock = mockClient(RDSClient);
afterEach(() => {
  smMock.reset();
  rdsMock.reset();
});

const primary: DBInstance = {
  DBInstanceIdentifier: PRIMARY_ID,
  DBInstanceArn: PRIMARY_ARN,
  DBInstanceStatus: 'available',
  Engine: 'postgres',
  Endpoint: { Address: PRIMARY_ENDPOINT, Port: 5432 },
};
const promotedReplica: DBInstance = {
  DBInstanceIdentifier: REPLICA_ID,
  DBInstanceStatus: 'available',
  Engine: 'postgres',
  Endpoint: { Address: REPLICA_ENDPOINT, Port: 5432 },
};

function world(replica: DBInstance | 'missing') {
  smMock.on(GetSecretValueCommand).resolves({ SecretString: secretValue() });
  rdsMock
    .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: PRIMARY_ID })
    .resolves({ DBInstances: [primary] });
  if (replica === 'missing') {
    rdsMock
      .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: REPLICA_ID })
      .rejects(Object.assign(new Error('not found'), { name: 'DBInstanceNotFoundFault' }));
  } else {
    rdsMock
      .on(DescribeDBInstancesCommand, { DBInstanceIdentifier: REPLICA_ID })
      .resolves({ DBInstances: [replica] });
  }
  const queries: string[] = [];
  const connects: string[] = [];
  const deps: SwitchoverDeps = {
    secretsManager: smMock as unknown as SecretsManagerClient,
    rds: rdsMock as unknown as RDSClient,
    primaryRds: rdsMock as unknown as RDSClient,
    resolver: () => ({
      resolveCname: async () => [],
      resolve4: async () => ['10.1.0.10'],
      resolve6: async () => [],
    }),
    connectors: {
      postgres: async (options) => {
        connects.push(options.address);
        return {
          tlsSubject: null,
          query: async (sql: string) => {
            queries.push(sql);
            return [{ in_recovery: false, settings: 'default_transaction_read_only=on', db: 'app' }];
          },
          close: async () => {},
          abort: () => {},
        };
      },
      mysql: async () => {
        throw new Error('not this engine');
      },
    },
    trustStore: () => undefined,
  };
  return { deps, queries, connects };
}

const base = stepInput();
const run = { ...base.run, mode: 'switchover' as const, catchUpTimeoutSeconds: 300 };
const fence = {
  fencePosition: '0/9000000',
  positionKind: 'pg-lsn' as const,
  fencedAt: new Date().toISOString(),
};

describe('a switchover re-run after the promotion', () => {
  it('the catch-up sees the replica promoted: done, without comparing, and without a data-loss proof', async () => {
    // Prepare
    const { deps, queries } = world(promotedReplica);

    // Act
    const result = await checkCatchUp(deps, { ...base, run, attempt: 1, fence });

    // Assess
    expect(result).toMatchObject({ done: true, status: 'already-promoted' });
    expect(result.detail).toMatchObject({ caughtUp: false, alreadyPromoted: true, replicaPosition: null });
    expect(queries).toEqual([]);
  });

  it('never un-fences the primary while RDS describes the replica promoted', async () => {
    // Prepare
    const { deps, connects } = world(promotedReplica);

    // Act
    const kept = await unfence(deps, { ...base, run }, 'primary').catch((e: unknown) => e);

    // Assess
    expect(kept).toBeInstanceOf(FenceKeptError);
    expect((kept as Error).message).toContain('never two writers');
    expect(connects).toEqual([]);
  });

  it('un-fences as before when the replica is still a replica, or cannot be described', async () => {
    for (const replica of [
      { ...promotedReplica, ReadReplicaSourceDBInstanceIdentifier: PRIMARY_ARN },
      'missing',
    ] as const) {
      // Prepare
      const { deps, queries } = world(replica);

      // Act
      const result = await unfence(deps, { ...base, run }, 'primary');

      // Assess
      expect(result.outcome).toBe('changed');
      expect(queries.some((q) => q.includes('RESET default_transaction_read_only'))).toBe(true);
    }
  });
});
