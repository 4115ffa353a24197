/**
 * lifeboat's own step functions, with unmodified SDK clients pointed at the emulator: proves that the emulator
 * speaks every call the failover path makes, in the shapes the steps read, with the primary Region down. (The state
 * machine and the real databases are the end-to-end suite's business.)
 */
import { readFileSync } from 'node:fs';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDatabasePromotion, promoteDatabase } from '../../functions/lib/database.js';
import { checkDnsChange, updateDns } from '../../functions/lib/dns/update.js';
import { loadRun } from '../../functions/lib/load-plan.js';
import { acquireLock, releaseLock } from '../../functions/lib/lock.js';
import { instanceDatabase } from '../../functions/lib/plan-names.js';
import { runPreflight } from '../../functions/lib/preflight.js';
import { promoteReplicaSecret } from '../../functions/lib/secret/promote.js';
import { attachRotation } from '../../functions/lib/secret/rotation.js';
import type { LoadedRun, StepResult } from '../../functions/lib/types.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';

const PASSWORD = 'emulator-steps-marker-Zq81x';
const LOCK_TABLE = 'lifeboat-locks';

function loaded(runId: string): LoadedRun {
  const plan = JSON.parse(
    readFileSync(new URL('../../examples/plan.json', import.meta.url), 'utf8'),
  ) as unknown;
  return loadRun({
    plan,
    input: {},
    execution: {
      id: `arn:aws:states:us-west-2:123456789012:execution:lifeboat:${runId}`,
      name: runId,
      startTime: new Date().toISOString(),
    },
  });
}

describe('lifeboat steps against the emulator', () => {
  let emulator: Emulator;
  let replicaEndpoint: string;

  beforeAll(async () => {
    emulator = await startEmulator({
      timeFactor: 0.001,
      timings: {
        promoteStartMs: 20_000,
        promoteModifyingMs: 60_000,
        promoteRebootingMs: 40_000,
        route53ChangeMs: 50_000,
      },
    });
    const { run, units } = loaded('seed');
    const unit = units[0];
    if (!unit) throw new Error('examples/plan.json has no unit');
    emulator.seed.secret({
      region: run.primaryRegion,
      name: unit.secret.id,
      value: {
        engine: 'postgres',
        host: unit.dns.recordName,
        port: 5432,
        username: 'app',
        password: PASSWORD,
        dbname: 'orders',
      },
      replicaRegions: [run.recoveryRegion],
    });
    const primary = emulator.seed.dbInstance({
      region: run.primaryRegion,
      id: instanceDatabase(unit, 'this test').primaryInstanceId,
      address: '127.0.0.2',
    });
    replicaEndpoint = emulator.seed.dbInstance({
      region: run.recoveryRegion,
      id: instanceDatabase(unit, 'this test').replicaInstanceId,
      replicaOf: primary.arn,
      address: '127.0.0.3',
      backupRetentionPeriod: 7,
      replicaLagSeconds: 1,
    }).endpointAddress;
    emulator.seed.hostedZone({
      id: unit.dns.hostedZoneId,
      name: 'internal.example.com',
      records: [
        { name: unit.dns.recordName, type: 'CNAME', ttl: unit.dns.ttl, values: [primary.endpointAddress] },
      ],
    });
    emulator.seed.lambdaFunction({ region: run.recoveryRegion, name: 'orders-db-rotation' });
    await emulator.seed.dynamoTable({
      region: run.recoveryRegion,
      name: LOCK_TABLE,
      partitionKey: 'planName',
    });
  });

  afterAll(async () => {
    await emulator?.close();
  });

  function deps(region: string) {
    const config = emulator.clientConfig(region);
    return {
      secretsManager: new SecretsManagerClient(config),
      rds: new RDSClient(config),
      route53: new Route53Client(config),
      lambda: new LambdaClient(config),
      cloudwatch: new CloudWatchClient(config),
      dynamodb: new DynamoDBClient(config),
    };
  }

  /** The failover path of one unit, as the state machine runs it (polls without the Wait states). */
  async function failover(runId: string): Promise<StepResult[]> {
    const { run, units } = loaded(runId);
    const unit = units[0];
    if (!unit) throw new Error('no unit');
    const d = deps(run.recoveryRegion);
    const results: StepResult[] = [];
    const preflight = await runPreflight(d, { run, units });
    expect(preflight.checks.filter((c) => !c.ok && c.severity === 'error')).toEqual([]);
    await acquireLock(d, LOCK_TABLE, run);
    results.push(
      ...(await Promise.all([promoteReplicaSecret(d, { run, unit }), promoteDatabase(d, { run, unit })])),
    );
    for (let attempt = 0; ; attempt++) {
      const poll = await checkDatabasePromotion(d, { run, unit, attempt });
      if (poll.done) break;
      if (attempt > 500) throw new Error('promotion did not finish');
      await new Promise((r) => setTimeout(r, 5));
    }
    const dns = await updateDns(d, { run, unit });
    results.push(dns);
    const changeId = (dns.detail.changeId as string | null) ?? null;
    for (let attempt = 0; ; attempt++) {
      const poll = await checkDnsChange(d, { run, unit, changeId, attempt });
      if (poll.done) break;
      if (attempt > 500) throw new Error('DNS change did not sync');
      await new Promise((r) => setTimeout(r, 5));
    }
    results.push(await attachRotation(d, { run, unit }));
    await releaseLock(d, LOCK_TABLE, run);
    return results;
  }

  it('fails over with the primary Region down, and a second run changes nothing but its lock', async () => {
    // Prepare
    const { run, units } = loaded('check');
    const unit = units[0];
    emulator.faults.regionDown(run.primaryRegion);
    emulator.clearCalls();

    // Act
    const first = await failover('run-1');
    const firstCalls = emulator.calls;
    emulator.clearCalls();
    const second = await failover('run-2');
    const secondCalls = emulator.calls;

    // Assess
    expect(first.map((r) => `${r.step}:${r.outcome}`)).toEqual([
      'promoteSecret:changed',
      'promoteDatabase:changed',
      'updateDns:changed',
      'attachRotation:changed',
    ]);
    expect(second.map((r) => r.outcome)).toEqual([
      'already-done',
      'already-done',
      'already-done',
      'already-done',
    ]);
    // Zero calls to the failed Region; Route 53 is global.
    expect(firstCalls.filter((c) => c.region === run.primaryRegion)).toEqual([]);
    expect(new Set(firstCalls.map((c) => c.region))).toEqual(new Set([run.recoveryRegion, 'global']));
    // The second run changes nothing but its own lock. Its one other write is Route 53's UPSERT
    // of the values already there: a change id to wait for before verify (docs/design/verify-budget.md).
    expect(
      secondCalls
        .filter((c) => c.mutating && c.service !== 'dynamodb')
        .map((c) => `${c.service}:${c.action}`),
    ).toEqual(['route53:ChangeResourceRecordSets']);
    // The world after the failover.
    expect(emulator.dns.lookup(unit?.dns.recordName as string, 'CNAME')).toEqual([
      { type: 'CNAME', value: replicaEndpoint, ttl: unit?.dns.ttl },
    ]);
    expect(emulator.dns.lookup(replicaEndpoint, 'A')).toEqual([{ type: 'A', value: '127.0.0.3', ttl: 5 }]);
    const sm = new SecretsManagerClient(emulator.clientConfig(run.recoveryRegion));
    const secret = await sm.send(new DescribeSecretCommand({ SecretId: unit?.secret.id }));
    expect(secret.PrimaryRegion).toBeUndefined();
    expect(secret.RotationEnabled).toBe(true);
    expect(secret.RotationLambdaARN).toBe(unit?.rotation.lambdaArn);
    expect(Object.values(secret.VersionIdsToStages ?? {})).toEqual([['AWSCURRENT']]);
    const value = await sm.send(new GetSecretValueCommand({ SecretId: unit?.secret.id }));
    expect(value.SecretString).toContain(PASSWORD);
    expect(JSON.stringify([first, second])).not.toContain(PASSWORD);
  });
});
