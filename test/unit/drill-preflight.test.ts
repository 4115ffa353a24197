import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetFunctionCommand, GetPolicyCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { type DBInstance, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePlan, type UnitPlan } from '../../functions/lib/plan.js';
import { runPreflight } from '../../functions/lib/preflight.js';
import type { RunContext } from '../../functions/lib/types.js';

const ACCOUNT = '123456789012';
const PRIMARY = 'us-east-1';
const RECOVERY = 'us-west-2';
const PRIMARY_ARN = `arn:aws:rds:${PRIMARY}:${ACCOUNT}:db:orders-db`;
const RECORD = 'orders-db.internal.example.com';
const ROTATION = `arn:aws:lambda:${RECOVERY}:${ACCOUNT}:function:orders-rotation`;

const unit = parsePlan({
  name: 'orders-dr',
  account: ACCOUNT,
  primaryRegion: PRIMARY,
  recoveryRegion: RECOVERY,
  targetRtoSeconds: 900,
  units: [
    {
      name: 'orders',
      secret: { id: 'orders/db' },
      database: {
        engine: 'postgres',
        primaryInstanceId: 'orders-db',
        replicaInstanceId: 'orders-db-replica',
      },
      dns: { hostedZoneId: 'Z0LIFEBOAT00EXAMPLE', recordName: RECORD, ttl: 5 },
      rotation: { lambdaArn: ROTATION, schedule: 30 },
    },
  ],
}).units[0] as UnitPlan;

const run = (mode: RunContext['mode']): RunContext => ({
  runId: 'run-1',
  executionArn: `arn:aws:states:${RECOVERY}:${ACCOUNT}:execution:lifeboat-orders-dr:run-1`,
  planName: 'orders-dr',
  mode,
  trigger: 'schedule',
  startedAt: '2030-05-01T10:00:00.000Z',
  account: ACCOUNT,
  primaryRegion: PRIMARY,
  recoveryRegion: RECOVERY,
  targetRtoSeconds: 900,
});

const sm = mockClient(SecretsManagerClient);
const lambda = mockClient(LambdaClient);
const rds = mockClient(RDSClient);
const cloudwatch = mockClient(CloudWatchClient);
const route53 = mockClient(Route53Client);
const deps = {
  secretsManager: new SecretsManagerClient({ region: RECOVERY }),
  lambda: new LambdaClient({ region: RECOVERY }),
  rds: new RDSClient({ region: RECOVERY }),
  cloudwatch: new CloudWatchClient({ region: RECOVERY }),
  route53: new Route53Client({ region: RECOVERY }),
};

afterEach(() => {
  for (const m of [sm, lambda, rds, cloudwatch, route53]) m.reset();
});

/** A healthy production replica whose replica secret, as its replica side answers, reports no replication status. */
function healthy(replica: Partial<DBInstance> = {}, lag: number[] = [3]) {
  sm.on(DescribeSecretCommand).resolves({
    ARN: `arn:aws:secretsmanager:${RECOVERY}:${ACCOUNT}:secret:orders/db-AbCdEf`,
    PrimaryRegion: PRIMARY,
    VersionIdsToStages: { v1: ['AWSCURRENT'] },
  });
  sm.on(GetSecretValueCommand).resolves({
    SecretString: JSON.stringify({
      engine: 'postgres',
      host: RECORD,
      port: 5432,
      username: 'app',
      password: 'x',
      dbname: 'orders',
    }),
  });
  lambda.on(GetFunctionCommand).resolves({ Configuration: { State: 'Active' } });
  lambda.on(GetPolicyCommand).resolves({
    Policy: JSON.stringify({
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'secretsmanager.amazonaws.com' },
          Action: 'lambda:InvokeFunction',
        },
      ],
    }),
  });
  rds.on(DescribeDBInstancesCommand).resolves({
    DBInstances: [
      {
        DBInstanceIdentifier: 'orders-db-replica',
        DBInstanceStatus: 'available',
        Engine: 'postgres',
        ReadReplicaSourceDBInstanceIdentifier: PRIMARY_ARN,
        BackupRetentionPeriod: 7,
        Endpoint: { Address: 'orders-db-replica.rds.amazonaws.com', Port: 5432 },
        ...replica,
      },
    ],
  });
  cloudwatch.on(GetMetricDataCommand).resolves({
    MetricDataResults: [{ Id: 'replicaLag', Values: lag, Timestamps: lag.map(() => new Date()) }],
  });
  route53.on(GetHostedZoneCommand).resolves({
    HostedZone: { Id: 'Z0LIFEBOAT00EXAMPLE', Name: 'internal.example.com.', CallerReference: 'x' },
  });
  route53.on(ListResourceRecordSetsCommand).resolves({
    ResourceRecordSets: [
      {
        Name: `${RECORD}.`,
        Type: 'CNAME',
        TTL: 5,
        ResourceRecords: [{ Value: 'orders-db.rds.amazonaws.com' }],
      },
    ],
    IsTruncated: false,
    MaxItems: 20,
  });
}

describe('preflight in drill mode', () => {
  it('passes a healthy plan without a warning: the replica side holds a current version, though it reports no status', async () => {
    // Prepare
    healthy();

    // Act
    const report = await runPreflight(deps, { run: run('drill'), units: [unit] });

    // Assess
    expect(report.errors).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.warnings).toEqual([]);
    expect(report.checks.find((c) => c.check === 'secret.replication-status')).toMatchObject({ ok: true });
  });

  it('stops on a replica secret that reports no status and holds no current version', async () => {
    // Prepare
    healthy();
    sm.on(DescribeSecretCommand).resolves({
      ARN: `arn:aws:secretsmanager:${RECOVERY}:${ACCOUNT}:secret:orders/db-AbCdEf`,
      PrimaryRegion: PRIMARY,
      VersionIdsToStages: {},
    });

    // Act
    const report = await runPreflight(deps, { run: run('drill'), units: [unit] });

    // Assess
    expect(report.ok).toBe(false);
    expect(
      report.errors.some((e) => e.includes('secret.replication-status') && e.includes('no AWSCURRENT')),
    ).toBe(true);
  });

  it("keeps the production replica's backup advice a warning: a drill promotes a copy, never that replica", async () => {
    // Prepare
    healthy({ BackupRetentionPeriod: 0 });

    // Act
    const report = await runPreflight(deps, { run: run('drill'), units: [unit] });

    // Assess
    expect(report.ok).toBe(true);
    expect(report.warnings.some((w) => w.includes('database.replica-backups'))).toBe(true);
  });

  it('blocks on what only warns a failover: lag unknown, replica busy', async () => {
    // Prepare
    healthy({ DBInstanceStatus: 'backing-up' }, []);

    // Act
    const drill = await runPreflight(deps, { run: run('drill'), units: [unit] });
    const failover = await runPreflight(deps, { run: run('failover'), units: [unit] });

    // Assess
    expect(drill.ok).toBe(false);
    expect(drill.errors.map((e) => e.split(': ')[1])).toEqual(
      expect.arrayContaining(['database.status', 'database.replica-lag']),
    );
    expect(failover.ok).toBe(true);
    expect(failover.errors).toEqual([]);
  });

  it('refuses a plan that is already failed over, saying so', async () => {
    // Prepare
    healthy({ ReadReplicaSourceDBInstanceIdentifier: undefined });

    // Act
    const report = await runPreflight(deps, { run: run('drill'), units: [unit] });

    // Assess
    expect(report.ok).toBe(false);
    const error = report.errors.find((e) => e.includes('database.replica-source'));
    expect(error).toContain('the plan looks failed over already, so the drill cannot run');
  });

  it('still blocks a drill on a secret replication status that is reported and not InSync', async () => {
    // Prepare
    healthy();
    sm.on(DescribeSecretCommand).resolves({
      ARN: `arn:aws:secretsmanager:${RECOVERY}:${ACCOUNT}:secret:orders/db-AbCdEf`,
      PrimaryRegion: PRIMARY,
      ReplicationStatus: [{ Region: RECOVERY, Status: 'Failed', StatusMessage: 'KMS key disabled' }],
      VersionIdsToStages: { v1: ['AWSCURRENT'] },
    });

    // Act
    const report = await runPreflight(deps, { run: run('drill'), units: [unit] });

    // Assess
    expect(report.ok).toBe(false);
    expect(report.errors.some((e) => e.includes('secret.replication-status') && e.includes('Failed'))).toBe(
      true,
    );
  });
});
