import { CloudWatchClient, GetMetricDataCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetFunctionCommand, GetPolicyCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetHostedZoneCommand, ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { DescribeStateMachineCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type PlanDocument, parsePlan } from '../../functions/lib/plan.js';
import {
  metricBatches,
  PUT_METRIC_DATA_MAX_METRICS,
  type ReadinessEvaluation,
  readinessKey,
  readinessMetrics,
  summarize,
  unitReadiness,
} from '../../functions/lib/readiness/evaluate.js';
import { parseWarmTargets, runReadiness } from '../../functions/lib/readiness/run.js';
import { answersWarmPing, isWarmPing, WARM_PING } from '../../functions/lib/readiness/warm.js';
import type { PreflightCheck } from '../../functions/lib/types.js';

const ACCOUNT = '123456789012';
const PRIMARY = 'us-east-1';
const RECOVERY = 'us-west-2';
const MACHINE = `arn:aws:states:${RECOVERY}:${ACCOUNT}:stateMachine:lifeboat-orders-dr`;

const unitDoc = (name: string) => ({
  name,
  secret: { id: `${name}/db` },
  database: { engine: 'postgres', primaryInstanceId: `${name}-db`, replicaInstanceId: `${name}-db-replica` },
  dns: { hostedZoneId: 'Z0LIFEBOAT00EXAMPLE', recordName: `${name}-db.internal.example.com`, ttl: 5 },
  rotation: { lambdaArn: `arn:aws:lambda:${RECOVERY}:${ACCOUNT}:function:${name}-rotation`, schedule: 30 },
});
const planDoc = (units: string[]): PlanDocument =>
  ({
    name: 'orders-dr',
    account: ACCOUNT,
    primaryRegion: PRIMARY,
    recoveryRegion: RECOVERY,
    targetRtoSeconds: 900,
    units: units.map(unitDoc),
  }) as PlanDocument;

const check = (
  name: string,
  ok: boolean,
  severity: PreflightCheck['severity'] = 'error',
): PreflightCheck => ({
  unit: 'orders',
  check: name,
  ok,
  severity,
  message: `${name} ${ok ? 'fine' : 'wrong'}`,
});

describe('a unit is ready when no check would stop a healthy failover', () => {
  it('every check passing: ready, per check too, with the figures preflight read', () => {
    // Act
    const r = unitReadiness('orders', [check('secret.exists', true), check('dns.record', true)], {
      replicaLagSeconds: 4,
      secretReplicationStatus: 'InSync',
    });
    // Assess
    expect(r.ready).toBe(true);
    expect(Object.values(r.checks).map((c) => c.ready)).toEqual([true, true, true, true]);
    expect(r.replicaLagSeconds).toBe(4);
    expect(r.secretReplicationStatus).toBe('InSync');
  });

  it('a lag over the limit (a warning a failover goes on with) makes the database check, and the unit, not ready', () => {
    // Act
    const r = unitReadiness('orders', [check('database.replica-lag', false, 'warning')], {
      replicaLagSeconds: 900,
    });
    // Assess
    expect(r.ready).toBe(false);
    expect(r.checks.database).toEqual({
      ready: false,
      problems: [
        { check: 'database.replica-lag', severity: 'warning', message: 'database.replica-lag wrong' },
      ],
    });
    expect(r.checks.secret.ready).toBe(true);
  });

  it('a rotation function that cannot be reached, and a record not as expected, are their own checks', () => {
    // Act
    const r = unitReadiness('orders', [check('rotation.lambda', false), check('dns.record', false)], {});
    // Assess
    expect(r.checks.rotation.ready).toBe(false);
    expect(r.checks.dns.ready).toBe(false);
    expect(r.checks.secret.ready).toBe(true);
    expect(r.checks.database.ready).toBe(true);
  });

  it('advice stays advice: backups off, the TTL against the RTO; an unreported status is not guessed', () => {
    // Act
    const r = unitReadiness(
      'orders',
      [check('database.replica-backups', false, 'warning'), check('dns.ttl', false, 'warning')],
      { secretReplicationStatus: 'unknown' },
    );
    // Assess
    expect(r.ready).toBe(true);
    expect(r.secretReplicationStatus).toBeNull();
  });

  it('a replica secret that reports no status and holds no current version is not ready', () => {
    // Act
    const r = unitReadiness('orders', [check('secret.replication-status', false, 'warning')], {
      secretReplicationStatus: 'unknown',
    });
    // Assess
    expect(r.ready).toBe(false);
  });
});

function evaluation(units: number, overrides: Partial<ReadinessEvaluation> = {}): ReadinessEvaluation {
  const ready = unitReadiness('x', [], { replicaLagSeconds: 2, secretReplicationStatus: 'InProgress' });
  return {
    ...summarize(
      { name: 'orders-dr' },
      Array.from({ length: units }, (_, i) => ({ ...ready, unit: `u${i}` })),
      [{ name: 'preflight', answered: true }],
      new Date('2030-05-01T10:00:00Z'),
      new Date('2030-05-01T10:00:03Z'),
    ),
    ...overrides,
  };
}

describe('readiness metrics', () => {
  it('7 per unit and 2 per plan, in namespace Lifeboat, with Plan, Unit and Check dimensions', () => {
    // Act
    const data = readinessMetrics(evaluation(1));
    // Assess
    const shape = data.map(
      (d) => `${d.MetricName} ${d.Dimensions?.map((x) => `${x.Name}=${x.Value}`).join(',')} ${d.Value}`,
    );
    expect(shape).toEqual([
      'Ready Plan=orders-dr 1',
      'Ready Plan=orders-dr,Check=functions 1',
      'Ready Plan=orders-dr,Unit=u0 1',
      'Ready Plan=orders-dr,Unit=u0,Check=secret 1',
      'Ready Plan=orders-dr,Unit=u0,Check=rotation 1',
      'Ready Plan=orders-dr,Unit=u0,Check=database 1',
      'Ready Plan=orders-dr,Unit=u0,Check=dns 1',
      'ReplicaLagSeconds Plan=orders-dr,Unit=u0 2',
      'SecretReplicationStatus Plan=orders-dr,Unit=u0 0.5',
    ]);
    expect(data.every((d) => d.Timestamp?.toISOString() === '2030-05-01T10:00:00.000Z')).toBe(true);
  });

  it('a check that could not run and a lag or status that is unknown publish no datapoint (not a guessed 0)', () => {
    // Prepare
    const e = evaluation(1);
    const unit = e.units[0];
    if (!unit) throw new Error('no unit');
    unit.checks.dns = { ready: null, problems: [] };
    unit.replicaLagSeconds = null;
    unit.secretReplicationStatus = null;
    // Act
    const names = readinessMetrics(e).map((d) => `${d.MetricName}/${d.Dimensions?.at(-1)?.Value}`);
    // Assess
    expect(names).not.toContain('Ready/dns');
    expect(names.filter((n) => n.startsWith('ReplicaLag') || n.startsWith('SecretReplication'))).toEqual([]);
  });

  it('a function that did not answer its ping makes the plan not ready, and its own check 0', () => {
    // Act
    const e = summarize(
      { name: 'orders-dr' },
      [],
      [
        { name: 'preflight', answered: true },
        {
          name: 'verifyConnectivity',
          answered: false,
          error: 'ResourceNotReadyException',
          wasNotReady: true,
        },
      ],
      new Date(0),
      new Date(5),
    );
    // Assess
    expect(e.ready).toBe(false);
    expect(e.functions).toEqual({
      pinged: 2,
      notAnswering: [
        {
          name: 'verifyConnectivity',
          answered: false,
          error: 'ResourceNotReadyException',
          wasNotReady: true,
        },
      ],
    });
    expect(
      readinessMetrics(e)
        .slice(0, 2)
        .map((d) => d.Value),
    ).toEqual([0, 0]);
  });

  it('are sent in batches of at most 1,000 metrics: a 150-unit plan in two calls', () => {
    // Act
    const batches = metricBatches(readinessMetrics(evaluation(150)));
    // Assess
    expect(PUT_METRIC_DATA_MAX_METRICS).toBe(1000);
    expect(batches.map((b) => b.length)).toEqual([1000, 150 * 7 + 2 - 1000]);
  });
});

describe('the warm ping', () => {
  it('is answered without running the handler; any other event runs it', async () => {
    // Prepare
    const seen: unknown[] = [];
    const handler = answersWarmPing(async (event: unknown) => {
      seen.push(event);
      return 'ran';
    });
    // Act
    const ping = await handler(WARM_PING);
    const other = await handler({ lifeboatWarmPing: true, run: {} });
    // Assess
    expect(ping).toEqual({ lifeboatWarmPing: 'ok' });
    expect(other).toBe('ran');
    expect(seen).toEqual([{ lifeboatWarmPing: true, run: {} }]);
    expect(isWarmPing(null)).toBe(false);
  });

  it('warm targets are read from name=function pairs, and a bad pair is named', () => {
    // Assess
    expect(parseWarmTargets('preflight=fn-a,report=fn-b', 'V')).toEqual([
      { name: 'preflight', functionName: 'fn-a' },
      { name: 'report', functionName: 'fn-b' },
    ]);
    expect(parseWarmTargets('', 'V')).toEqual([]);
    expect(() => parseWarmTargets('preflight', 'V')).toThrow(/V: expected name=function pairs.*"preflight"/);
  });
});

describe('one readiness evaluation (runReadiness)', () => {
  const sfn = mockClient(SFNClient);
  const s3 = mockClient(S3Client);
  const sm = mockClient(SecretsManagerClient);
  const lambda = mockClient(LambdaClient);
  const rds = mockClient(RDSClient);
  const cloudwatch = mockClient(CloudWatchClient);
  const route53 = mockClient(Route53Client);
  const deps = {
    sfn: new SFNClient({ region: RECOVERY }),
    s3: new S3Client({ region: RECOVERY }),
    secretsManager: new SecretsManagerClient({ region: RECOVERY }),
    lambda: new LambdaClient({ region: RECOVERY }),
    rds: new RDSClient({ region: RECOVERY }),
    cloudwatch: new CloudWatchClient({ region: RECOVERY }),
    route53: new Route53Client({ region: RECOVERY }),
    now: () => new Date('2030-05-01T10:00:00Z'),
  };

  function world(units: string[], lag: (unit: string) => number): void {
    const plan = parsePlan(planDoc(units));
    sfn.on(DescribeStateMachineCommand).resolves({
      definition: JSON.stringify({
        StartAt: 'Take the plan',
        States: { 'Take the plan': { Type: 'Pass', Result: { plan }, Next: 'Load plan' } },
      }),
    });
    sm.on(DescribeSecretCommand).callsFake((input: { SecretId: string }) => ({
      ARN: `arn:aws:secretsmanager:${RECOVERY}:${ACCOUNT}:secret:${input.SecretId}-AbCdEf`,
      PrimaryRegion: PRIMARY,
      ReplicationStatus: [{ Region: RECOVERY, Status: 'InSync' }],
      VersionIdsToStages: { v1: ['AWSCURRENT'] },
    }));
    sm.on(GetSecretValueCommand).callsFake((input: { SecretId: string }) => {
      const name = input.SecretId.split('/')[0]?.split(':').at(-1) ?? '';
      return {
        SecretString: JSON.stringify({
          engine: 'postgres',
          host: `${name}-db.internal.example.com`,
          port: 5432,
          username: 'app',
          password: 'Pa55-MARKER-readiness',
          dbname: name,
        }),
      };
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
    rds.on(DescribeDBInstancesCommand).callsFake((input: { DBInstanceIdentifier: string }) => {
      const name = input.DBInstanceIdentifier.replace(/-db-replica$/, '');
      return {
        DBInstances: [
          {
            DBInstanceIdentifier: input.DBInstanceIdentifier,
            DBInstanceStatus: 'available',
            Engine: 'postgres',
            ReadReplicaSourceDBInstanceIdentifier: `arn:aws:rds:${PRIMARY}:${ACCOUNT}:db:${name}-db`,
            BackupRetentionPeriod: 7,
            Endpoint: { Address: `${input.DBInstanceIdentifier}.rds.amazonaws.com`, Port: 5432 },
          },
        ],
      };
    });
    cloudwatch
      .on(GetMetricDataCommand)
      .callsFake(
        (input: {
          MetricDataQueries?: { MetricStat?: { Metric?: { Dimensions?: { Value?: string }[] } } }[];
        }) => {
          const replica = input.MetricDataQueries?.[0]?.MetricStat?.Metric?.Dimensions?.[0]?.Value ?? '';
          const name = replica.replace(/-db-replica$/, '');
          return { MetricDataResults: [{ Id: 'replicaLag', Values: [lag(name)], Timestamps: [deps.now()] }] };
        },
      );
    cloudwatch.on(PutMetricDataCommand).resolves({});
    route53.on(GetHostedZoneCommand).resolves({
      HostedZone: { Id: 'Z0LIFEBOAT00EXAMPLE', Name: 'internal.example.com.', CallerReference: 'x' },
    });
    route53.on(ListResourceRecordSetsCommand).callsFake((input: { StartRecordName?: string }) => ({
      ResourceRecordSets: [
        {
          Name: `${input.StartRecordName?.replace(/\.$/, '')}.`,
          Type: 'CNAME',
          TTL: 5,
          ResourceRecords: [{ Value: 'primary.rds.amazonaws.com' }],
        },
      ],
      IsTruncated: false,
      MaxItems: 20,
    }));
    s3.on(PutObjectCommand).resolves({});
  }

  beforeEach(() => {
    for (const m of [sfn, s3, sm, lambda, rds, cloudwatch, route53]) m.reset();
  });
  afterEach(() => {
    for (const m of [sfn, s3, sm, lambda, rds, cloudwatch, route53]) m.reset();
  });

  it('reads the deployed plan, judges each unit, pings every function, publishes the metrics and keeps the evaluation', async () => {
    // Prepare
    world(['orders', 'billing'], (unit) => (unit === 'billing' ? 900 : 3));
    lambda.on(InvokeCommand).callsFake((input: { FunctionName: string }) => {
      if (input.FunctionName === 'fn-verify') {
        throw Object.assign(new Error('function is inactive'), {
          name: 'ResourceNotReadyException',
          $fault: 'server',
          $metadata: { httpStatusCode: 502 },
        });
      }
      return {
        StatusCode: 200,
        Payload: new TextEncoder().encode(JSON.stringify({ lifeboatWarmPing: 'ok' })) as never,
      };
    });

    // Act
    const outcome = await runReadiness(deps, {
      stateMachineArn: MACHINE,
      reportBucket: 'reports-bucket',
      warmTargets: [
        { name: 'preflight', functionName: 'fn-preflight' },
        { name: 'verifyConnectivity', functionName: 'fn-verify' },
      ],
    });

    // Assess
    const { evaluation: e } = outcome;
    expect(sfn.commandCalls(DescribeStateMachineCommand)[0]?.args[0].input).toEqual({
      stateMachineArn: MACHINE,
    });
    expect(e.units.map((u) => [u.unit, u.ready, u.replicaLagSeconds])).toEqual([
      ['orders', true, 3],
      ['billing', false, 900],
    ]);
    expect(e.units[1]?.checks.database.problems.map((p) => p.check)).toEqual(['database.replica-lag']);
    expect(e.ready).toBe(false);
    expect(e.functions.notAnswering).toEqual([
      { name: 'verifyConnectivity', answered: false, error: 'ResourceNotReadyException', wasNotReady: true },
    ]);
    // Every function got exactly the ping.
    const pings = lambda.commandCalls(InvokeCommand).map((c) => c.args[0].input);
    expect(
      pings.map((p) => [p.FunctionName, p.InvocationType, new TextDecoder().decode(p.Payload as Uint8Array)]),
    ).toEqual([
      ['fn-preflight', 'RequestResponse', '{"lifeboatWarmPing":true}'],
      ['fn-verify', 'RequestResponse', '{"lifeboatWarmPing":true}'],
    ]);
    // One PutMetricData call with 2 + 7 x 2 metrics.
    const puts = cloudwatch.commandCalls(PutMetricDataCommand).map((c) => c.args[0].input);
    expect(puts).toHaveLength(1);
    expect(puts[0]?.Namespace).toBe('Lifeboat');
    expect(puts[0]?.MetricData).toHaveLength(16);
    expect(outcome).toMatchObject({ metrics: 16, putMetricDataCalls: 1 });
    // The evaluation in S3, with no secret material.
    const put = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put?.Bucket).toBe('reports-bucket');
    expect(put?.Key).toBe(readinessKey('orders-dr'));
    expect(put?.Key).toBe('reports/orders-dr/readiness/latest.json');
    expect(JSON.parse(String(put?.Body))).toEqual(JSON.parse(JSON.stringify(e)));
    expect(String(put?.Body)).not.toContain('Pa55-MARKER');
  });

  it("a unit whose service keeps failing transiently is not ready with the reason; the other units' results stand", async () => {
    // Prepare
    world(['orders', 'billing'], () => 3);
    rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'billing-db-replica' }).rejects(
      Object.assign(new Error('Rate exceeded'), {
        name: 'ThrottlingException',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: new TextEncoder().encode(JSON.stringify({ lifeboatWarmPing: 'ok' })) as never,
    });

    // Act
    const { evaluation: e } = await runReadiness(deps, {
      stateMachineArn: MACHINE,
      reportBucket: 'reports-bucket',
      warmTargets: [],
    });

    // Assess
    expect(e.units[0]?.ready).toBe(true);
    expect(e.units[1]?.ready).toBe(false);
    expect(e.units[1]?.error).toMatch(/^could not evaluate: TransientAwsError: .*billing/);
    expect(Object.values(e.units[1]?.checks ?? {}).map((c) => c.ready)).toEqual([null, null, null, null]);
    // No datapoint for checks that did not run; the unit and plan are 0.
    const data = cloudwatch.commandCalls(PutMetricDataCommand)[0]?.args[0].input.MetricData ?? [];
    const billing = data.filter((d) => d.Dimensions?.some((x) => x.Value === 'billing'));
    expect(billing.map((d) => `${d.MetricName} ${d.Value}`)).toEqual(['Ready 0']);
  });
});
