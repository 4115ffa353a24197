import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { fencePrimary } from '../../functions/lib/switchover/switchover.js';
import { PRIMARY_ARN, PRIMARY_ENDPOINT, PRIMARY_ID, stepInput } from '../fixtures/db-fixtures.js';
import { MARKER_PASSWORD, secretValue } from '../fixtures/secret.js';

/**
 * A switchover's preflight reads the primary through RDS's API only (it runs outside the database network, as in a
 * failover); the fence step's login is the first time the primary database is reached (docs/design/switchover.md,
 * "Preflight"). When that login fails, nothing is fenced and the error says what to do instead.
 */

const smMock = mockClient(SecretsManagerClient);
const rdsMock = mockClient(RDSClient);

afterEach(() => {
  smMock.reset();
  rdsMock.reset();
});

describe('the fence step reaching the primary', () => {
  it('fails before fencing anything when the primary cannot be reached, and advises a failover', async () => {
    // Prepare
    smMock.on(GetSecretValueCommand).resolves({ SecretString: secretValue() });
    rdsMock.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        {
          DBInstanceIdentifier: PRIMARY_ID,
          DBInstanceArn: PRIMARY_ARN,
          DBInstanceStatus: 'available',
          Engine: 'postgres',
          Endpoint: { Address: PRIMARY_ENDPOINT, Port: 5432 },
        },
      ],
    });
    const connects: string[] = [];
    const refused = Object.assign(new Error(`connect ECONNREFUSED 10.1.0.10:5432`), { code: 'ECONNREFUSED' });
    const base = stepInput();
    const input = { ...base, run: { ...base.run, mode: 'switchover' as const } };
    // Act
    const error = await fencePrimary(
      {
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
            throw refused;
          },
          mysql: async () => {
            throw new Error('not this engine');
          },
        },
        trustStore: () => undefined,
      },
      input,
    ).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    // Assess
    expect(connects).toEqual(['10.1.0.10']);
    expect(error).toBeInstanceOf(Error);
    expect(error?.message).toContain(`connecting to primary ${PRIMARY_ID}`);
    expect(error?.message).toContain('nothing was fenced');
    expect(error?.message).toContain('run a failover instead');
    expect(JSON.stringify({ message: error?.message, error })).not.toContain(MARKER_PASSWORD);
  });
});
