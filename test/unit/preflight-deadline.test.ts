import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetFunctionCommand, GetPolicyCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TIMEOUT_SCALE_ENV } from '../../functions/lib/env.js';
import { TransientAwsError } from '../../functions/lib/errors.js';
import { parsePlan, type UnitPlan } from '../../functions/lib/plan.js';
import { coalescedReads, PREFLIGHT_CHECK_DEADLINE_MS, runPreflight } from '../../functions/lib/preflight.js';
import type { PreflightReport, RunContext } from '../../functions/lib/types.js';

/**
 * Issue 9, item 2: each concern of each unit has a deadline, so a service that accepts a call and never answers
 * cannot hold preflight until its Lambda timeout (which the state machine does not retry: the run would stop).
 */

const ACCOUNT = '123456789012';
const PRIMARY = 'us-east-1';
const RECOVERY = 'us-west-2';
const RECORD = 'orders-db.internal.example.com';

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
      rotation: { lambdaArn: `arn:aws:lambda:${RECOVERY}:${ACCOUNT}:function:orders-rotation`, schedule: 30 },
    },
  ],
}).units[0] as UnitPlan;

const run = (mode: RunContext['mode']): RunContext => ({
  runId: 'run-1',
  executionArn: `arn:aws:states:${RECOVERY}:${ACCOUNT}:execution:lifeboat-orders-dr:run-1`,
  planName: 'orders-dr',
  mode,
  trigger: 'cli',
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

/** A call that is accepted and never answered. */
const never = () => new Promise<never>(() => undefined);

function healthy(): void {
  sm.on(DescribeSecretCommand).resolves({
    ARN: `arn:aws:secretsmanager:${RECOVERY}:${ACCOUNT}:secret:orders/db-AbCdEf`,
    PrimaryRegion: PRIMARY,
    ReplicationStatus: [{ Region: RECOVERY, Status: 'InSync' }],
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
        ReadReplicaSourceDBInstanceIdentifier: `arn:aws:rds:${PRIMARY}:${ACCOUNT}:db:orders-db`,
        BackupRetentionPeriod: 7,
        Endpoint: { Address: 'orders-db-replica.rds.amazonaws.com', Port: 5432 },
      },
    ],
  });
  cloudwatch.on(GetMetricDataCommand).resolves({
    MetricDataResults: [{ Id: 'replicaLag', Values: [3], Timestamps: [new Date()] }],
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

/** Runs preflight under fake timers; resolves with the report and the fake milliseconds it took. */
async function timedPreflight(mode: RunContext['mode']): Promise<{ report: PreflightReport; ms: number }> {
  const started = Date.now();
  let settled = false;
  const pending = runPreflight(deps, { run: run(mode), units: [unit] }).finally(() => {
    settled = true;
  });
  pending.catch(() => undefined);
  // Step a second at a time so the test sees when it returned, not only that it did.
  for (let i = 0; i < 120 && !settled; i++) await vi.advanceTimersByTimeAsync(1000);
  const report = await pending;
  return { report, ms: Date.now() - started };
}

beforeEach(() => {
  vi.useFakeTimers();
  delete process.env[TIMEOUT_SCALE_ENV];
  healthy();
});

afterEach(() => {
  vi.useRealTimers();
  for (const m of [sm, lambda, rds, cloudwatch, route53]) m.reset();
});

describe('preflight deadline per check', () => {
  it('is 45 s as deployed: above one hung Route 53 call (43 s with its retries), well below the 2-minute Lambda timeout', () => {
    // Assess
    expect(PREFLIGHT_CHECK_DEADLINE_MS).toBe(45_000);
  });

  it('a Route 53 control plane that never answers is a warning in a failover: preflight passes at the deadline', async () => {
    // Prepare
    route53.on(GetHostedZoneCommand).callsFake(never);

    // Act
    const { report, ms } = await timedPreflight('failover');

    // Assess
    expect(ms).toBe(45_000);
    expect(report.ok).toBe(true);
    expect(report.errors).toEqual([]);
    expect(report.warnings).toEqual([
      'orders: dns.deadline: the Route 53 control plane did not answer within 45 s; could not check dns (a disaster can cause this: the failover goes on, and the step that needs it retries within a bounded time)',
    ]);
    // The other concerns finished and reported as usual.
    expect(report.checks.some((c) => c.check === 'database.replica-lag' && c.ok)).toBe(true);
  });

  it('the same hang stops a drill (which needs Route 53 for its own record)', async () => {
    // Prepare
    route53.on(ListResourceRecordSetsCommand).callsFake(never);

    // Act
    const { report } = await timedPreflight('drill');

    // Assess
    expect(report.ok).toBe(false);
    expect(report.errors.map((e) => e.split(': ')[1])).toContain('dns.deadline');
  });

  it("a recovery-Region service that never answers is transient: preflight throws at the deadline, for the state machine's retry", async () => {
    // Prepare
    sm.on(GetSecretValueCommand).callsFake(never);

    // Act
    const outcome = timedPreflight('failover');

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(TransientAwsError);
    await expect(outcome).rejects.toThrow(
      'preflight secret check of orders: Secrets Manager did not answer within 45 s',
    );
  });

  it('scales with LIFEBOAT_TIMEOUT_SCALE (the local proving ground), and refuses a bad value naming the variable', async () => {
    // Prepare
    route53.on(GetHostedZoneCommand).callsFake(never);
    process.env[TIMEOUT_SCALE_ENV] = '0.1';

    // Act
    const { report, ms } = await timedPreflight('failover');
    process.env[TIMEOUT_SCALE_ENV] = '2';
    const refused = runPreflight(deps, { run: run('failover'), units: [unit] });

    // Assess
    expect(ms).toBe(5_000);
    expect(report.warnings[0]).toContain('did not answer within 4.5 s');
    await expect(refused).rejects.toThrow(
      'environment variable LIFEBOAT_TIMEOUT_SCALE must be a number above 0 and at most 1, got "2"',
    );
    delete process.env[TIMEOUT_SCALE_ENV];
  });
});

describe('preflight reads shared by the units', () => {
  it('asks once for what the units share (the zone, the rotation function and its policy), each unit for its own', async () => {
    // Prepare: three units in one zone with one rotation function, as a fleet has them.
    const units = ['orders', 'billing', 'ledger'].map((name) => ({ ...unit, name }));

    // Act
    const pending = runPreflight(deps, { run: run('failover'), units });
    await vi.advanceTimersByTimeAsync(1000);
    const report = await pending;

    // Assess
    expect(report.errors).toEqual([]);
    expect(route53.commandCalls(GetHostedZoneCommand)).toHaveLength(1);
    expect(lambda.commandCalls(GetFunctionCommand)).toHaveLength(1);
    expect(lambda.commandCalls(GetPolicyCommand)).toHaveLength(1);
    // Every unit's checks ran on the answers: three units' findings, not one.
    expect(new Set(report.checks.map((c) => c.unit))).toEqual(new Set(['orders', 'billing', 'ledger']));
  });

  it('forgets a read that failed, so the next caller asks again; a call with options is never shared', async () => {
    // Prepare
    route53
      .on(GetHostedZoneCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }))
      .resolves({
        HostedZone: { Id: 'Z0LIFEBOAT00EXAMPLE', Name: 'internal.example.com.', CallerReference: 'x' },
      });
    const shared = coalescedReads(deps);
    const ask = () => shared.route53.send(new GetHostedZoneCommand({ Id: 'Z0LIFEBOAT00EXAMPLE' }));

    // Act
    const first = await ask().catch((error: Error) => error.name);
    const [second, third] = await Promise.all([ask(), ask()]);

    // Assess
    expect(first).toBe('Throttling');
    expect(second).toBe(third);
    expect(route53.commandCalls(GetHostedZoneCommand)).toHaveLength(2);
    await shared.lambda.send(new GetFunctionCommand({ FunctionName: 'f' }), { abortSignal: undefined });
    await shared.lambda.send(new GetFunctionCommand({ FunctionName: 'f' }), { abortSignal: undefined });
    expect(lambda.commandCalls(GetFunctionCommand)).toHaveLength(2);
  });
});
