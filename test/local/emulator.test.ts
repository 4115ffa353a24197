import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { GetPolicyCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateDBInstanceReadReplicaCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ModifyDBClusterCommand,
  PromoteReadReplicaCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import {
  ChangeResourceRecordSetsCommand,
  GetHostedZoneCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InternalServiceError,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { afterEach, describe, expect, it } from 'vitest';
import { isTransientAwsError } from '../../functions/lib/errors.js';
import type { DatabaseBackend as PostgresBackendShape } from '../../local/databases/backend.js';
import type { DnsLookup } from '../../local/dns/server.js';
import {
  type DatabaseBackend,
  type DatabaseEndpoint,
  type Emulator,
  type EmulatorOptions,
  startEmulator,
} from '../../local/emulator/index.js';

const PRIMARY = 'us-east-1';
const RECOVERY = 'us-west-2';
const FAST = {
  secretReplicationMs: 20_000,
  promoteStartMs: 10_000,
  promoteModifyingMs: 30_000,
  promoteRebootingMs: 30_000,
  createInstanceMs: 10_000,
  deleteInstanceMs: 10_000,
  route53ChangeMs: 40_000,
} as const;

const running: Emulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});

async function emulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const started = await startEmulator({ timeFactor: 0.001, timings: FAST, ...options });
  running.push(started);
  return started;
}

function sm(e: Emulator, region: string) {
  return new SecretsManagerClient({ ...e.clientConfig(region), maxAttempts: 1 });
}
function rds(e: Emulator, region: string) {
  return new RDSClient({ ...e.clientConfig(region), maxAttempts: 1 });
}
function route53(e: Emulator) {
  return new Route53Client({ ...e.clientConfig(RECOVERY), maxAttempts: 1 });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  read: () => Promise<T> | T,
  done: (v: T) => boolean,
  timeoutMs = 5_000,
): Promise<T[]> {
  const seen: T[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    seen.push(value);
    if (done(value)) return seen;
    if (Date.now() > deadline) throw new Error(`timed out; last ${JSON.stringify(value)}`);
    await sleep(3);
  }
}

async function failure(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a failure');
}

/** An in-memory DatabaseBackend that records what the emulator asked of it. */
function fakeBackend(options: { promoteMs?: number; failPromote?: boolean } = {}) {
  const calls: string[] = [];
  let next = 10;
  const backend: DatabaseBackend = {
    async createReplica(sourceId, replicaId, region): Promise<DatabaseEndpoint> {
      calls.push(`createReplica ${sourceId} ${replicaId} ${region}`);
      next += 1;
      return { address: `127.0.0.${next}`, port: 5432 };
    },
    async promote(instanceId) {
      calls.push(`promote ${instanceId}`);
      await sleep(options.promoteMs ?? 0);
      if (options.failPromote) throw new Error('pg_promote failed');
      calls.push(`promoted ${instanceId}`);
    },
    async remove(instanceId) {
      calls.push(`remove ${instanceId}`);
    },
    async rename(fromId, toId) {
      calls.push(`rename ${fromId} ${toId}`);
    },
  };
  return { backend, calls };
}

describe('startEmulator', () => {
  it('rejects bad options with a TypeError naming the option', async () => {
    // Prepare
    const bad: EmulatorOptions[] = [
      { timeFactor: -1 },
      { port: 70_000 },
      { timings: { route53ChangeMs: -5 } },
      { accountId: '12' },
    ];

    // Act
    const errors = await Promise.all(bad.map((options) => failure(startEmulator(options))));

    // Assess
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringContaining('timeFactor'),
      expect.stringContaining('port'),
      expect.stringContaining('timings.route53ChangeMs'),
      expect.stringContaining('accountId'),
    ]);
    for (const error of errors) expect(error).toBeInstanceOf(TypeError);
  });

  it('fits the proving ground: the PostgreSQL backend is a DatabaseBackend, dns.lookup is a DnsLookup', async () => {
    // Prepare
    const e = await emulator();
    const fromPostgres: (b: PostgresBackendShape) => DatabaseBackend = (b) => b;
    const toPostgres: (b: DatabaseBackend) => PostgresBackendShape = (b) => b;

    // Act
    const lookup: DnsLookup = e.dns.lookup;
    const backend = toPostgres(fromPostgres(fakeBackend().backend));

    // Assess
    expect(lookup('nothing.example.com', 'A')).toEqual([]);
    expect(typeof backend.promote).toBe('function');
  });

  it('answers an unsigned request with 403 MissingAuthenticationTokenException', async () => {
    // Prepare
    const e = await emulator();

    // Act
    const res = await fetch(`${e.endpoint}/`, { method: 'POST', body: '{}' });

    // Assess
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
  });
});

describe('call log', () => {
  it('records service, Region (global for Route 53), action, resource, mutating and the answer', async () => {
    // Prepare
    const e = await emulator();
    const zone = e.seed.hostedZone({ name: 'internal.example.com' });

    // Act
    await sm(e, RECOVERY).send(new CreateSecretCommand({ Name: 'orders/db', SecretString: 'x' }));
    await failure(sm(e, RECOVERY).send(new DescribeSecretCommand({ SecretId: 'missing' })));
    await route53(e).send(new GetHostedZoneCommand({ Id: zone.id }));

    // Assess
    expect(e.calls).toEqual([
      expect.objectContaining({
        seq: 1,
        service: 'secretsmanager',
        region: RECOVERY,
        action: 'CreateSecret',
        resource: 'orders/db',
        mutating: true,
        status: 200,
        applied: true,
      }),
      expect.objectContaining({
        seq: 2,
        action: 'DescribeSecret',
        resource: 'missing',
        mutating: false,
        status: 400,
        errorCode: 'ResourceNotFoundException',
        applied: false,
      }),
      expect.objectContaining({
        seq: 3,
        service: 'route53',
        region: 'global',
        action: 'GetHostedZone',
        resource: zone.id,
        mutating: false,
      }),
    ]);
    e.clearCalls();
    expect(e.calls).toEqual([]);
  });
});

describe('faults', () => {
  it('throttles with the service’s own code and status', async () => {
    // Prepare
    const e = await emulator();
    e.seed.dbInstance({ region: RECOVERY, id: 'orders-db-replica' });
    const handle = e.faults.add({
      match: { service: 'rds', action: 'DescribeDBInstances' },
      throttleRate: 1,
    });

    // Act
    const rdsError = await failure(
      rds(e, RECOVERY).send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-db-replica' })),
    );
    e.faults.add({ match: { service: 'secretsmanager' }, throttleRate: 1 });
    const smError = await failure(sm(e, RECOVERY).send(new DescribeSecretCommand({ SecretId: 'x' })));

    // Assess
    expect(rdsError.name).toBe('Throttling');
    expect((rdsError.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(400);
    expect(isTransientAwsError(rdsError)).toBe(true);
    expect(smError.name).toBe('ThrottlingException');
    expect(handle.matched).toBe(1);
    expect(e.calls.map((c) => c.fault)).toEqual(['throttle', 'throttle']);
  });

  it('fails exactly the Nth matching call, with the service’s 500', async () => {
    // Prepare
    const e = await emulator();
    e.seed.secret({ region: RECOVERY, name: 'orders/db', value: 'x' });
    e.faults.add({ match: { action: 'GetSecretValue' }, failCalls: [2] });
    const client = sm(e, RECOVERY);

    // Act
    const results = [];
    for (let i = 0; i < 3; i++) {
      results.push(
        await client.send(new GetSecretValueCommand({ SecretId: 'orders/db' })).then(
          () => 'ok',
          (err: Error) => err,
        ),
      );
    }

    // Assess
    expect(results[0]).toBe('ok');
    expect(results[1]).toBeInstanceOf(InternalServiceError);
    expect((results[1] as unknown as { $fault: string }).$fault).toBe('server');
    expect(results[2]).toBe('ok');
  });

  it('rates follow the seed: the same seed fails the same calls', async () => {
    // Prepare
    const pattern = async (seed: number) => {
      const e = await emulator({ seed });
      e.seed.secret({ region: RECOVERY, name: 'orders/db', value: 'x' });
      e.faults.add({ match: { service: 'secretsmanager' }, throttleRate: 0.5 });
      const client = sm(e, RECOVERY);
      const out: boolean[] = [];
      for (let i = 0; i < 24; i++) {
        out.push(
          await client.send(new DescribeSecretCommand({ SecretId: 'orders/db' })).then(
            () => true,
            () => false,
          ),
        );
      }
      return out;
    };

    // Act
    const [a, b, c] = [await pattern(42), await pattern(42), await pattern(43)];

    // Assess
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.filter((ok) => !ok).length).toBeGreaterThan(4);
    expect(a.filter((ok) => ok).length).toBeGreaterThan(4);
  });

  it('lose-response: the call takes effect and the connection is destroyed; a retry with the same token is harmless', async () => {
    // Prepare
    const e = await emulator();
    e.seed.secret({ region: RECOVERY, name: 'orders/db', value: 'v1' });
    e.faults.add({ match: { action: 'PutSecretValue' }, failCalls: [1], failWith: 'lose-response' });
    const client = sm(e, RECOVERY);
    const token = 'lifeboat-0123456789abcdef0123456789abcdef';

    // Act
    const lost = await failure(
      client.send(
        new PutSecretValueCommand({ SecretId: 'orders/db', SecretString: 'v2', ClientRequestToken: token }),
      ),
    );
    const current = await client.send(new GetSecretValueCommand({ SecretId: 'orders/db' }));
    const retried = await client.send(
      new PutSecretValueCommand({ SecretId: 'orders/db', SecretString: 'v2', ClientRequestToken: token }),
    );

    // Assess
    expect((lost.$metadata as { httpStatusCode?: number }).httpStatusCode).toBeUndefined();
    expect(isTransientAwsError(lost)).toBe(true);
    expect(current.VersionId).toBe(token);
    expect(retried.VersionId).toBe(token);
    expect(e.calls[0]).toEqual(
      expect.objectContaining({ action: 'PutSecretValue', status: 0, fault: 'lose-response', applied: true }),
    );
  });

  it('a Region down refuses its calls; Route 53 is global and has its own switch', async () => {
    // Prepare
    const e = await emulator();
    e.seed.secret({ region: PRIMARY, name: 'orders/db', value: 'x', replicaRegions: [RECOVERY] });
    const zone = e.seed.hostedZone({ name: 'internal.example.com' });
    const down = e.faults.regionDown(PRIMARY);

    // Act
    const primaryError = await failure(
      sm(e, PRIMARY).send(new DescribeSecretCommand({ SecretId: 'orders/db' })),
    );
    const recovery = await sm(e, RECOVERY).send(new DescribeSecretCommand({ SecretId: 'orders/db' }));
    const zoneOk = await route53(e).send(new GetHostedZoneCommand({ Id: zone.id }));
    e.faults.route53Down();
    const route53Error = await failure(route53(e).send(new GetHostedZoneCommand({ Id: zone.id })));
    down.remove();
    e.faults.regionDown(PRIMARY, 'unavailable');
    const unavailable = await failure(
      sm(e, PRIMARY).send(new DescribeSecretCommand({ SecretId: 'orders/db' })),
    );

    // Assess
    expect((primaryError.$metadata as { httpStatusCode?: number }).httpStatusCode).toBeUndefined();
    expect((primaryError as { code?: string }).code).toBe('ECONNRESET');
    expect(isTransientAwsError(primaryError)).toBe(true);
    expect(recovery.PrimaryRegion).toBe(PRIMARY);
    expect(zoneOk.HostedZone?.Id).toBe(`/hostedzone/${zone.id}`);
    expect((route53Error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(503);
    expect(unavailable.name).toBe('ServiceUnavailable');
    expect(e.calls[0]).toEqual(
      expect.objectContaining({ region: PRIMARY, status: 0, fault: 'connection-reset', applied: false }),
    );
  });

  it('adds latency scaled by the time factor, and answers a configured error', async () => {
    // Prepare
    const e = await emulator({ timeFactor: 0.001 });
    e.seed.secret({ region: RECOVERY, name: 'orders/db', value: 'x' });
    e.faults.add({ match: { action: 'DescribeSecret' }, latencyMs: 150_000 });
    e.faults.add({
      match: { action: 'GetSecretValue' },
      failCalls: [1],
      failWith: { code: 'DecryptionFailure', status: 400 },
    });

    // Act
    const started = Date.now();
    await sm(e, RECOVERY).send(new DescribeSecretCommand({ SecretId: 'orders/db' }));
    const elapsed = Date.now() - started;
    const error = await failure(sm(e, RECOVERY).send(new GetSecretValueCommand({ SecretId: 'orders/db' })));

    // Assess
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(error.name).toBe('DecryptionFailure');
  });

  it('answers 503 ServiceUnavailable at the unavailable rate', async () => {
    // Prepare
    const e = await emulator();
    e.faults.add({ match: { service: 'secretsmanager' }, unavailableRate: 1 });

    // Act
    const error = await failure(sm(e, RECOVERY).send(new DescribeSecretCommand({ SecretId: 'x' })));

    // Assess
    expect(error.name).toBe('ServiceUnavailable');
    expect((error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(503);
    expect(isTransientAwsError(error)).toBe(true);
    expect(e.calls[0]?.fault).toBe('unavailable');
  });

  it('applies to the proxied services too, and logs their own error codes', async () => {
    // Prepare
    const e = await emulator();
    await e.seed.dynamoTable({ region: RECOVERY, name: 'lifeboat-locks', partitionKey: 'planName' });
    const client = new DynamoDBClient({ ...e.clientConfig(RECOVERY), maxAttempts: 1 });
    const put = () =>
      client.send(
        new PutItemCommand({
          TableName: 'lifeboat-locks',
          Item: { planName: { S: 'orders' } },
          ConditionExpression: 'attribute_not_exists(planName)',
        }),
      );
    e.faults.add({
      match: { service: 'dynamodb', action: 'PutItem' },
      failCalls: [1],
      failWith: 'lose-response',
    });
    e.faults.add({ match: { service: 'dynamodb', action: 'GetItem' }, failCalls: [1], failWith: 'throttle' });

    // Act
    const lost = await failure(put());
    const retried = await failure(put());
    const throttled = await failure(
      client.send(new GetItemCommand({ TableName: 'lifeboat-locks', Key: { planName: { S: 'orders' } } })),
    );
    const item = await client.send(
      new GetItemCommand({ TableName: 'lifeboat-locks', Key: { planName: { S: 'orders' } } }),
    );

    // Assess
    expect(isTransientAwsError(lost)).toBe(true);
    expect(retried.name).toBe('ConditionalCheckFailedException');
    expect(throttled).toBeInstanceOf(ProvisionedThroughputExceededException);
    expect(item.Item?.planName?.S).toBe('orders');
    expect(e.calls.map((c) => [c.action, c.status, c.errorCode ?? null, c.applied])).toEqual([
      ['PutItem', 0, 'ConnectionReset', true],
      ['PutItem', 400, 'ConditionalCheckFailedException', false],
      ['GetItem', 400, 'ProvisionedThroughputExceededException', false],
      ['GetItem', 200, null, true],
    ]);
  });

  it('rejects a rule with a bad rate, naming the field', async () => {
    // Prepare
    const e = await emulator();

    // Act
    const act = () => e.faults.add({ throttleRate: 2 });

    // Assess
    expect(act).toThrow(/throttleRate/);
  });
});

describe('Secrets Manager specifics', () => {
  it('RotateImmediately=true leaves the AWSPENDING version the rotation function would create; the next RotateSecret is refused', async () => {
    // Prepare
    const e = await emulator();
    const secret = e.seed.secret({ region: RECOVERY, name: 'orders/db', value: '{"password":"p"}' });
    const fn = e.seed.lambdaFunction({ region: RECOVERY, name: 'orders-db-rotation' });
    const client = sm(e, RECOVERY);

    // Act
    const started = await client.send(
      new RotateSecretCommand({ SecretId: 'orders/db', RotationLambdaARN: fn.arn }),
    );
    const described = await client.send(new DescribeSecretCommand({ SecretId: 'orders/db' }));
    const again = await failure(
      client.send(new RotateSecretCommand({ SecretId: 'orders/db', RotationLambdaARN: fn.arn })),
    );

    // Assess
    expect(described.VersionIdsToStages).toEqual({
      [secret.versionId]: ['AWSCURRENT'],
      [started.VersionId as string]: ['AWSPENDING'],
    });
    expect(again.name).toBe('InvalidRequestException');
  });

  it('seeded replicas are InSync at once and carry the value', async () => {
    // Prepare
    const e = await emulator();

    // Act
    const seeded = e.seed.secret({
      region: PRIMARY,
      name: 'orders/db',
      value: { host: 'orders-db.internal.example.com' },
      replicaRegions: [RECOVERY],
    });
    const primary = await sm(e, PRIMARY).send(new DescribeSecretCommand({ SecretId: 'orders/db' }));
    const replica = await sm(e, RECOVERY).send(
      new GetSecretValueCommand({ SecretId: seeded.replicaArns[RECOVERY] }),
    );

    // Assess
    expect(primary.ReplicationStatus?.[0]?.Status).toBe('InSync');
    expect(JSON.parse(replica.SecretString as string)).toEqual({ host: 'orders-db.internal.example.com' });
  });
});

describe('RDS with a database backend', () => {
  it('CreateDBInstanceReadReplica makes a real replica; its endpoint name resolves to the backend’s address', async () => {
    // Prepare
    const { backend, calls } = fakeBackend();
    const e = await emulator({ databaseBackend: backend });
    const primary = e.seed.dbInstance({ region: PRIMARY, id: 'orders-db', address: '127.0.0.2' });

    // Act
    await rds(e, RECOVERY).send(
      new CreateDBInstanceReadReplicaCommand({
        DBInstanceIdentifier: 'orders-db-drill',
        SourceDBInstanceIdentifier: primary.arn,
      }),
    );
    const [replica] =
      (
        await until(
          () =>
            rds(e, RECOVERY).send(
              new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-db-drill' }),
            ),
          (out) => out.DBInstances?.[0]?.DBInstanceStatus === 'available',
        )
      ).slice(-1)[0]?.DBInstances ?? [];

    // Assess
    expect(calls).toEqual([`createReplica orders-db orders-db-drill ${RECOVERY}`]);
    expect(e.dns.lookup(replica?.Endpoint?.Address as string, 'A')).toEqual([
      { type: 'A', value: '127.0.0.11', ttl: 5 },
    ]);
    expect(e.dns.lookup(primary.endpointAddress, 'A')).toEqual([{ type: 'A', value: '127.0.0.2', ttl: 5 }]);
  });

  it('PromoteReadReplica promotes the real database once, and is available only after it', async () => {
    // Prepare
    const { backend, calls } = fakeBackend({ promoteMs: 300 });
    // The start delay (200 ms) leaves room for the retried call before the status changes.
    const e = await emulator({ databaseBackend: backend, timings: { ...FAST, promoteStartMs: 200_000 } });
    const primary = e.seed.dbInstance({ region: PRIMARY, id: 'orders-db' });
    e.seed.dbInstance({ region: RECOVERY, id: 'orders-db-replica', replicaOf: primary.arn });
    const client = rds(e, RECOVERY);

    // Act
    await client.send(new PromoteReadReplicaCommand({ DBInstanceIdentifier: 'orders-db-replica' }));
    await client.send(new PromoteReadReplicaCommand({ DBInstanceIdentifier: 'orders-db-replica' }));
    const seen = await until(
      async () => {
        const out = await client.send(
          new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-db-replica' }),
        );
        const i = out.DBInstances?.[0];
        return {
          status: i?.DBInstanceStatus,
          replica: i?.ReadReplicaSourceDBInstanceIdentifier !== undefined,
          at: Date.now(),
        };
      },
      (i) => i.status === 'available' && !i.replica,
    );

    // Assess
    expect(calls).toEqual(['promote orders-db-replica', 'promoted orders-db-replica']);
    // The modifying phase (30 ms) lasts until the real promotion ends (300 ms).
    const modifyingFrom = seen.findIndex((i) => i.status === 'modifying');
    const modifyingUntil = seen.findIndex((i, n) => n > modifyingFrom && i.status !== 'modifying');
    expect(modifyingFrom).toBeGreaterThan(0);
    expect((seen[modifyingUntil]?.at ?? 0) - (seen[modifyingFrom]?.at ?? 0)).toBeGreaterThanOrEqual(150);
  });

  it('a PromoteReadReplica retried while the promotion is modifying is refused with InvalidDBInstanceState', async () => {
    // Prepare
    const { backend, calls } = fakeBackend({ promoteMs: 200 });
    const e = await emulator({ databaseBackend: backend });
    const primary = e.seed.dbInstance({ region: PRIMARY, id: 'orders-db' });
    e.seed.dbInstance({ region: RECOVERY, id: 'orders-db-replica', replicaOf: primary.arn });
    const client = rds(e, RECOVERY);
    await client.send(new PromoteReadReplicaCommand({ DBInstanceIdentifier: 'orders-db-replica' }));
    await until(
      async () =>
        (await client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-db-replica' })))
          .DBInstances?.[0]?.DBInstanceStatus,
      (s) => s === 'modifying',
    );

    // Act
    const retried = await failure(
      client.send(new PromoteReadReplicaCommand({ DBInstanceIdentifier: 'orders-db-replica' })),
    );

    // Assess
    expect(retried.name).toBe('InvalidDBInstanceStateFault');
    expect(calls).toEqual(['promote orders-db-replica']);
  });

  it('a failed real promotion leaves the instance failed and reports it', async () => {
    // Prepare
    const { backend } = fakeBackend({ failPromote: true });
    const reported: string[] = [];
    const e = await emulator({
      databaseBackend: backend,
      onBackgroundError: (_error, what) => reported.push(what),
    });
    const primary = e.seed.dbInstance({ region: PRIMARY, id: 'orders-db' });
    e.seed.dbInstance({ region: RECOVERY, id: 'orders-db-replica', replicaOf: primary.arn });
    const client = rds(e, RECOVERY);

    // Act
    await client.send(new PromoteReadReplicaCommand({ DBInstanceIdentifier: 'orders-db-replica' }));
    await until(
      async () =>
        (await client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-db-replica' })))
          .DBInstances?.[0]?.DBInstanceStatus,
      (s) => s === 'failed',
    );

    // Assess
    expect(reported).toEqual([expect.stringContaining('promote of orders-db-replica')]);
  });

  it('DeleteDBInstance removes the real database', async () => {
    // Prepare
    const { backend, calls } = fakeBackend();
    const e = await emulator({ databaseBackend: backend });
    e.seed.dbInstance({ region: RECOVERY, id: 'orders-db-drill' });

    // Act
    await rds(e, RECOVERY).send(
      new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'orders-db-drill', SkipFinalSnapshot: true }),
    );
    await until(
      () => calls.length,
      (n) => n > 0,
    );

    // Assess
    expect(calls).toEqual(['remove orders-db-drill']);
  });
});

describe('Aurora with a database backend', () => {
  it('ModifyDBCluster renames a backed cluster: its server follows the new id, and the new endpoints resolve to it', async () => {
    // Prepare
    const { backend, calls } = fakeBackend();
    const e = await emulator({ databaseBackend: backend });
    const seeded = e.seed.dbCluster({
      region: PRIMARY,
      id: 'billing-east',
      engine: 'aurora-mysql',
      address: '127.0.0.7',
    });
    const client = rds(e, PRIMARY);

    // Act
    const answer = await client.send(
      new ModifyDBClusterCommand({
        DBClusterIdentifier: 'billing-east',
        NewDBClusterIdentifier: 'billing-east-old-0a1b2c3d',
        ApplyImmediately: true,
      }),
    );
    const seen = await until(
      () =>
        client
          .send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'billing-east-old-0a1b2c3d' }))
          .then((out) => out.DBClusters?.[0])
          .catch(() => undefined),
      (c) => c?.Status === 'available',
    );

    // Assess
    expect(answer.DBCluster).toMatchObject({
      Status: 'renaming',
      PendingModifiedValues: { DBClusterIdentifier: 'billing-east-old-0a1b2c3d' },
    });
    expect(calls).toEqual(['rename billing-east billing-east-old-0a1b2c3d']);
    const renamed = seen.at(-1);
    expect(e.dns.lookup(renamed?.Endpoint as string, 'A')).toEqual([
      { type: 'A', value: '127.0.0.7', ttl: 5 },
    ]);
    expect(e.dns.lookup(seeded.endpoint, 'A')).toEqual([]);
  });
});

describe('Route 53 DNS view', () => {
  it('serves seeded records at once and a change once it is INSYNC', async () => {
    // Prepare
    const e = await emulator();
    e.seed.hostedZone({
      id: 'Z0LIFEBOAT00EXAMPLE',
      name: 'internal.example.com',
      records: [
        { name: 'orders-db.internal.example.com', type: 'CNAME', ttl: 5, values: ['primary.example.com'] },
      ],
    });

    // Act
    const before = e.dns.lookup('Orders-DB.internal.example.com.', 'CNAME');
    const change = await route53(e).send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: 'Z0LIFEBOAT00EXAMPLE',
        ChangeBatch: {
          Changes: [
            {
              Action: 'UPSERT',
              ResourceRecordSet: {
                Name: 'orders-db.internal.example.com',
                Type: 'CNAME',
                TTL: 5,
                ResourceRecords: [{ Value: 'replica.example.com' }],
              },
            },
          ],
        },
      }),
    );
    const whilePending = e.dns.lookup('orders-db.internal.example.com', 'CNAME');
    const after = await until(
      () => e.dns.lookup('orders-db.internal.example.com', 'CNAME'),
      (r) => r[0]?.value === 'replica.example.com',
    );

    // Assess
    expect(change.ChangeInfo?.Status).toBe('PENDING');
    expect(before).toEqual([{ type: 'CNAME', value: 'primary.example.com', ttl: 5 }]);
    expect(whilePending).toEqual(before);
    expect(after.length).toBeGreaterThan(1);
  });

  it('answers wildcards and the PRIMARY of a failover pair', async () => {
    // Prepare
    const e = await emulator();
    e.seed.hostedZone({
      name: 'internal.example.com',
      records: [
        { name: '*.apps.internal.example.com', type: 'A', values: ['10.0.0.9'] },
        {
          name: 'db.internal.example.com',
          type: 'CNAME',
          values: ['a.example.com'],
          setIdentifier: 'primary',
          failover: 'PRIMARY',
          healthCheckId: 'hc-1',
        },
        {
          name: 'db.internal.example.com',
          type: 'CNAME',
          values: ['b.example.com'],
          setIdentifier: 'secondary',
          failover: 'SECONDARY',
        },
      ],
    });

    // Act
    const wildcard = e.dns.lookup('web.apps.internal.example.com', 'A');
    const failover = e.dns.lookup('db.internal.example.com', 'CNAME');

    // Assess
    expect(wildcard.map((r) => r.value)).toEqual(['10.0.0.9']);
    expect(failover.map((r) => r.value)).toEqual(['a.example.com']);
  });
});

describe('seeded Lambda, CloudWatch and SNS', () => {
  it('a seeded rotation function has a policy for Secrets Manager', async () => {
    // Prepare
    const e = await emulator();
    const fn = e.seed.lambdaFunction({ region: RECOVERY, name: 'orders-db-rotation' });

    // Act
    const out = await new LambdaClient(e.clientConfig(RECOVERY)).send(
      new GetPolicyCommand({ FunctionName: fn.arn }),
    );

    // Assess
    expect(JSON.parse(out.Policy as string).Statement[0]).toEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'secretsmanager.amazonaws.com' },
        Action: 'lambda:InvokeFunction',
      }),
    );
  });

  it('ReplicaLag is published every minute for a replica with a seeded lag, until it is promoted', async () => {
    // Prepare
    const e = await emulator();
    const primary = e.seed.dbInstance({ region: PRIMARY, id: 'orders-db' });
    e.seed.dbInstance({
      region: RECOVERY,
      id: 'orders-db-replica',
      replicaOf: primary.arn,
      replicaLagSeconds: 3,
    });
    const now = Date.now();
    const query = () =>
      new CloudWatchClient(e.clientConfig(RECOVERY)).send(
        new GetMetricDataCommand({
          StartTime: new Date(now - 5 * 60_000),
          EndTime: new Date(now),
          MetricDataQueries: [
            {
              Id: 'lag',
              MetricStat: {
                Metric: {
                  Namespace: 'AWS/RDS',
                  MetricName: 'ReplicaLag',
                  Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'orders-db-replica' }],
                },
                Period: 60,
                Stat: 'Maximum',
              },
            },
          ],
        }),
      );

    // Act
    const before = await query();
    await rds(e, RECOVERY).send(new PromoteReadReplicaCommand({ DBInstanceIdentifier: 'orders-db-replica' }));
    await until(
      async () =>
        (
          await rds(e, RECOVERY).send(
            new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-db-replica' }),
          )
        ).DBInstances?.[0]?.ReadReplicaSourceDBInstanceIdentifier,
      (s) => s === undefined,
    );
    const after = await query();

    // Assess
    const values = before.MetricDataResults?.[0]?.Values ?? [];
    expect(values.length).toBeGreaterThanOrEqual(4);
    expect(new Set(values)).toEqual(new Set([3]));
    const stamps = before.MetricDataResults?.[0]?.Timestamps?.map((t) => t.getTime()) ?? [];
    expect(stamps).toEqual([...stamps].sort((a, b) => b - a));
    expect(after.MetricDataResults?.[0]?.Values).toEqual([]);
  });

  it('published messages are readable', async () => {
    // Prepare
    const e = await emulator();
    const topic = e.seed.snsTopic({ region: RECOVERY, name: 'lifeboat-reports' });

    // Act
    await new SNSClient(e.clientConfig(RECOVERY)).send(
      new PublishCommand({ TopicArn: topic.arn, Subject: 'report', Message: '{"ok":true}' }),
    );

    // Assess
    expect(e.sns.messages).toEqual([
      expect.objectContaining({
        region: RECOVERY,
        topicArn: topic.arn,
        subject: 'report',
        message: '{"ok":true}',
      }),
    ]);
  });
});
