import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  DescribeDBInstancesCommand,
  ListTagsForResourceCommand,
  PromoteReadReplicaCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  SecretsManagerClient,
  StopReplicationToReplicaCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../functions/lib/errors.js';
import { parsePlan, type UnitPlan } from '../../functions/lib/plan.js';
import { instanceDatabase } from '../../functions/lib/plan-names.js';
import {
  checkReprotectReadiness,
  OLD_PRIMARY_TAG,
  REPROTECT_TAG,
  RETIRED_FROM_TAG,
  RETIRED_TAG,
  type ReprotectDeps,
  type ReprotectPass,
  reprotectUnit,
  retiredName,
} from '../../functions/lib/reprotect/reprotect.js';
import type { RunContext } from '../../functions/lib/types.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';

/**
 * Re-protect against the emulated RDS and Secrets Manager (no databases): after a failover, passes converge to a
 * renamed old primary, a replica of the promoted instance under the old primary's name, and the secret replicated back
 * over the stale one; a pass after that changes nothing; a lost response or a crash between calls converges without a
 * second replica; what lifeboat did not make is never touched.
 */

const P = 'eu-west-1';
const R = 'eu-central-1';
const ACCOUNT = '123456789012';
let emulator: Emulator;
let deps: ReprotectDeps;

function plan(unitName: string, primaryId: string, replicaId: string, secretName: string) {
  return parsePlan({
    name: 'orders-dr',
    account: ACCOUNT,
    primaryRegion: P,
    recoveryRegion: R,
    targetRtoSeconds: 900,
    units: [
      {
        name: unitName,
        secret: { id: secretName },
        database: { engine: 'postgres', primaryInstanceId: primaryId, replicaInstanceId: replicaId },
        dns: { hostedZoneId: 'Z0123456789ABC', recordName: `${unitName}.db.example.com`, ttl: 5 },
        rotation: { lambdaArn: `arn:aws:lambda:${R}:${ACCOUNT}:function:rotate`, schedule: 30 },
      },
    ],
  });
}

const run: RunContext = {
  runId: 'reprotect-1',
  executionArn: `arn:aws:states:${R}:${ACCOUNT}:execution:lifeboat-orders-dr:reprotect-1`,
  planName: 'orders-dr',
  mode: 'reprotect',
  trigger: 'cli',
  startedAt: '2030-05-01T10:00:00.000Z',
  account: ACCOUNT,
  primaryRegion: P,
  recoveryRegion: R,
  targetRtoSeconds: 900,
};

const clients = (region: string) => {
  const config = { ...emulator.clientConfig(region), maxAttempts: 1 };
  return {
    rds: new RDSClient(config),
    secretsManager: new SecretsManagerClient(config),
    cloudwatch: new CloudWatchClient(config),
  };
};

async function until<T>(what: string, read: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The world after a failover: the replica promoted, the secret's replica promoted, the old primary still there. */
async function failedOver(unit: UnitPlan): Promise<void> {
  const { primaryInstanceId: primaryId, replicaInstanceId: replicaId } = instanceDatabase(unit, 'this test');
  const seeded = emulator.seed.dbInstance({ region: P, id: primaryId, engine: 'postgres' });
  emulator.seed.dbInstance({ region: R, id: replicaId, engine: 'postgres', replicaOf: seeded.arn });
  const p = clients(P);
  const r = clients(R);
  await p.secretsManager.send(
    new CreateSecretCommand({
      Name: unit.secret.id,
      SecretString: '{"password":"not-logged"}',
      AddReplicaRegions: [{ Region: R }],
    }),
  );
  await until('the secret replica', async () => {
    const out = await r.secretsManager
      .send(new DescribeSecretCommand({ SecretId: unit.secret.id }))
      .catch(() => undefined);
    return out?.PrimaryRegion ? out : undefined;
  });
  await r.secretsManager.send(new StopReplicationToReplicaCommand({ SecretId: unit.secret.id }));
  await r.rds.send(new PromoteReadReplicaCommand({ DBInstanceIdentifier: replicaId }));
  await until('the promotion', async () => {
    const i = (await r.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: replicaId })))
      .DBInstances?.[0];
    return i?.DBInstanceStatus === 'available' && !i.ReadReplicaSourceDBInstanceIdentifier ? i : undefined;
  });
}

/** Passes until done (at most 200), each right after the other: the emulated durations are short. */
async function converge(unit: UnitPlan): Promise<ReprotectPass[]> {
  const passes: ReprotectPass[] = [];
  for (let attempt = 1; attempt <= 200; attempt += 1) {
    const pass = await reprotectUnit(deps, { run, unit, attempt });
    passes.push(pass);
    if (pass.done) return passes;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`not re-protected after 200 passes: ${passes.at(-1)?.status}`);
}

const mutating = () => emulator.calls.filter((c) => c.mutating && c.service !== 'cloudwatch');

beforeAll(async () => {
  emulator = await startEmulator({
    timeFactor: 0.001,
    timings: {
      secretReplicationMs: 30_000,
      promoteStartMs: 20_000,
      promoteModifyingMs: 30_000,
      promoteRebootingMs: 30_000,
      createInstanceMs: 60_000,
      renameInstanceMs: 40_000,
    },
  });
  deps = { current: clients(R), old: clients(P) };
});
afterAll(() => emulator?.close());

describe('retiredName', () => {
  it('is the old name with -old- and 8 hex of the promoted instance, within 63 characters', () => {
    expect(retiredName('orders-db', 'db-ABC')).toMatch(/^orders-db-old-[0-9a-f]{8}$/);
    expect(retiredName('orders-db', 'db-ABC')).toBe(retiredName('orders-db', 'db-ABC'));
    expect(retiredName('orders-db', 'db-ABC')).not.toBe(retiredName('orders-db', 'db-XYZ'));
    const long = retiredName(`a${'-b'.repeat(31)}`, 'db-ABC');
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).not.toMatch(/--/);
  });
});

describe('reprotectUnit', () => {
  it('renames the old primary, makes a replica of the promoted instance under its name, replicates the secret back', async () => {
    const unit = plan('orders', 'orders-db', 'orders-db-replica', 'orders/db').units[0] as UnitPlan;
    await failedOver(unit);
    const p = clients(P);
    const promoted = (
      await deps.current.rds.send(
        new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-db-replica' }),
      )
    ).DBInstances?.[0];
    const retired = retiredName('orders-db', promoted?.DbiResourceId ?? '');

    const passes = await converge(unit);
    const last = passes.at(-1) as ReprotectPass;
    expect(last.detail).toMatchObject({
      oldPrimary: 'orders-db',
      oldPrimaryNowNamed: retired,
      replica: 'orders-db',
      replicaStatus: 'available',
      replication: 'replicating',
      secretReplicationStatus: 'InSync',
    });
    const calls = passes.flatMap((x) =>
      String(x.detail.calls ?? '')
        .split(', ')
        .filter(Boolean),
    );
    expect(calls.sort()).toEqual(
      [
        'AddTagsToResource',
        'CreateDBInstanceReadReplica',
        'ModifyDBInstance',
        'ReplicateSecretToRegions',
      ].sort(),
    );

    const old = (await p.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: retired })))
      .DBInstances?.[0];
    expect(old?.ReadReplicaSourceDBInstanceIdentifier).toBeUndefined();
    const oldTags = (await p.rds.send(new ListTagsForResourceCommand({ ResourceName: old?.DBInstanceArn })))
      .TagList;
    expect(oldTags).toEqual(
      expect.arrayContaining([
        { Key: RETIRED_TAG, Value: 'orders-dr/orders' },
        { Key: RETIRED_FROM_TAG, Value: 'orders-db' },
      ]),
    );
    const replica = (await p.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-db' })))
      .DBInstances?.[0];
    expect(replica?.ReadReplicaSourceDBInstanceIdentifier).toBe(promoted?.DBInstanceArn);
    expect(replica?.TagList).toEqual(
      expect.arrayContaining([
        { Key: REPROTECT_TAG, Value: 'orders-dr/orders' },
        { Key: OLD_PRIMARY_TAG, Value: retired },
      ]),
    );
    const secret = await p.secretsManager.send(new DescribeSecretCommand({ SecretId: 'orders/db' }));
    expect(secret.PrimaryRegion).toBe(R);

    // A re-run after success: reads only.
    emulator.clearCalls();
    const again = await reprotectUnit(deps, { run, unit, attempt: 1 });
    expect(again.done).toBe(true);
    expect(again.detail.calls).toBeNull();
    expect(mutating()).toEqual([]);
  });

  it('converges after lost responses of the rename and the replica creation, with one replica', async () => {
    const unit = plan('carts', 'carts-db', 'carts-db-replica', 'carts/db').units[0] as UnitPlan;
    await failedOver(unit);
    const lost = emulator.faults.add({
      match: { service: 'rds', action: ['ModifyDBInstance', 'CreateDBInstanceReadReplica'] },
      failCalls: [1],
      failWith: 'lose-response',
    });
    const lostCreate = emulator.faults.add({
      match: { service: 'rds', action: 'CreateDBInstanceReadReplica' },
      failCalls: [1],
      failWith: 'lose-response',
    });
    const passes: string[] = [];
    let done = false;
    for (let attempt = 1; attempt <= 200 && !done; attempt += 1) {
      try {
        const pass = await reprotectUnit(deps, { run, unit, attempt });
        done = pass.done;
        passes.push(pass.status);
      } catch (error) {
        // The lost response: the state machine retries the step (TransientAwsError), a re-run here.
        passes.push(`error ${(error as Error).name}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    lost.remove();
    lostCreate.remove();
    expect(done).toBe(true);
    expect(passes.filter((s) => s.startsWith('error')).length).toBeGreaterThanOrEqual(1);
    const creates = emulator.calls.filter(
      (c) => c.action === 'CreateDBInstanceReadReplica' && c.resource === 'carts-db' && c.applied,
    );
    expect(creates).toHaveLength(1);
  });

  it('refuses a unit that was never failed over, and changes nothing', async () => {
    const unit = plan('stock', 'stock-db', 'stock-db-replica', 'stock/db').units[0] as UnitPlan;
    const seeded = emulator.seed.dbInstance({ region: P, id: 'stock-db', engine: 'postgres' });
    emulator.seed.dbInstance({
      region: R,
      id: 'stock-db-replica',
      engine: 'postgres',
      replicaOf: seeded.arn,
    });
    emulator.clearCalls();
    await expect(reprotectUnit(deps, { run, unit, attempt: 1 })).rejects.toThrow(ConfigurationError);
    await expect(reprotectUnit(deps, { run, unit, attempt: 1 })).rejects.toThrow(/still a read replica/);
    expect(mutating()).toEqual([]);
    const checks = await checkReprotectReadiness(deps, { run, unit });
    expect(checks).toEqual([
      expect.objectContaining({ check: 'reprotect.current-primary', ok: false, severity: 'error' }),
    ]);
  });

  it('never renames a stopped old primary or over a taken name; preflight says so first', async () => {
    const unit = plan('users', 'users-db', 'users-db-replica', 'users/db').units[0] as UnitPlan;
    await failedOver(unit);
    emulator.rds.setStatus(P, 'users-db', 'stopped');
    const checks = await checkReprotectReadiness(deps, { run, unit });
    expect(checks.find((c) => c.check === 'reprotect.old-primary')).toMatchObject({
      ok: false,
      severity: 'error',
    });
    emulator.clearCalls();
    await expect(reprotectUnit(deps, { run, unit, attempt: 1 })).rejects.toThrow(/"stopped"/);
    expect(mutating().filter((c) => c.service === 'rds')).toEqual([]);

    emulator.rds.setStatus(P, 'users-db', 'available');
    const promoted = (
      await deps.current.rds.send(
        new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'users-db-replica' }),
      )
    ).DBInstances?.[0];
    const retired = retiredName('users-db', promoted?.DbiResourceId ?? '');
    emulator.seed.dbInstance({ region: P, id: retired, engine: 'postgres' });
    const taken = await checkReprotectReadiness(deps, { run, unit });
    expect(taken.find((c) => c.check === 'reprotect.identifiers')).toMatchObject({ ok: false });
    await expect(reprotectUnit(deps, { run, unit, attempt: 2 })).rejects.toThrow(/has that name already/);
    expect(mutating().filter((c) => c.service === 'rds')).toEqual([]);
  });

  it('has no preflight checks outside mode reprotect', async () => {
    const unit = plan('orders', 'orders-db', 'orders-db-replica', 'orders/db').units[0] as UnitPlan;
    expect(await checkReprotectReadiness(deps, { run: { ...run, mode: 'failover' }, unit })).toEqual([]);
  });
});
