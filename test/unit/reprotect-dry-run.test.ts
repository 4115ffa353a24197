import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DescribeDBInstancesCommand, PromoteReadReplicaCommand, RDSClient } from '@aws-sdk/client-rds';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  SecretsManagerClient,
  StopReplicationToReplicaCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../functions/lib/errors.js';
import { parsePlan, type UnitPlan } from '../../functions/lib/plan.js';
import {
  type ReprotectDeps,
  type ReprotectPass,
  reprotectUnit,
  retiredName,
} from '../../functions/lib/reprotect/reprotect.js';
import type { RunContext } from '../../functions/lib/types.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';

/**
 * A dry run of a re-protect (docs/design/reprotect.md, "Dry run") against the emulated RDS and Secrets Manager: after
 * a failover it plans, in order, the very calls the passes then make, and makes none itself.
 */

const P = 'eu-west-1';
const R = 'eu-central-1';
const ACCOUNT = '123456789012';
let emulator: Emulator;
let deps: ReprotectDeps;

const base: Omit<RunContext, 'mode'> = {
  runId: 'reprotect-dry-1',
  executionArn: `arn:aws:states:${R}:${ACCOUNT}:execution:lifeboat-orders-dr:reprotect-dry-1`,
  planName: 'orders-dr',
  trigger: 'cli',
  startedAt: '2030-05-01T10:00:00.000Z',
  account: ACCOUNT,
  primaryRegion: P,
  recoveryRegion: R,
  targetRtoSeconds: 900,
};
const dryRun: RunContext = { ...base, mode: 'dry-run', of: 'reprotect' };
const reprotect: RunContext = { ...base, mode: 'reprotect' };

function unitOf(name: string): UnitPlan {
  return parsePlan({
    name: 'orders-dr',
    account: ACCOUNT,
    primaryRegion: P,
    recoveryRegion: R,
    targetRtoSeconds: 900,
    units: [
      {
        name,
        secret: { id: `${name}/db` },
        database: {
          engine: 'postgres',
          primaryInstanceId: `${name}-db`,
          replicaInstanceId: `${name}-db-replica`,
        },
        dns: { hostedZoneId: 'Z0123456789ABC', recordName: `${name}.db.example.com`, ttl: 5 },
        rotation: { lambdaArn: `arn:aws:lambda:${R}:${ACCOUNT}:function:rotate`, schedule: 30 },
      },
    ],
  }).units[0] as UnitPlan;
}

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

/** The world after a failover: the replica and the secret's replica promoted, the old primary still there. */
async function failedOver(unit: UnitPlan, failover = true): Promise<void> {
  const seeded = emulator.seed.dbInstance({ region: P, id: `${unit.name}-db` });
  emulator.seed.dbInstance({ region: R, id: `${unit.name}-db-replica`, replicaOf: seeded.arn });
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
  if (!failover) return;
  await r.secretsManager.send(new StopReplicationToReplicaCommand({ SecretId: unit.secret.id }));
  await r.rds.send(new PromoteReadReplicaCommand({ DBInstanceIdentifier: `${unit.name}-db-replica` }));
  await until('the promotion', async () => {
    const i = (
      await r.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: `${unit.name}-db-replica` }))
    ).DBInstances?.[0];
    return i?.DBInstanceStatus === 'available' && !i.ReadReplicaSourceDBInstanceIdentifier ? i : undefined;
  });
}

const mutating = () => emulator.calls.filter((c) => c.mutating && c.service !== 'cloudwatch');
const plannedCalls = (pass: ReprotectPass) =>
  Object.entries(pass.detail)
    .filter(([k]) => /^planned\.\d+\.call$/.test(k))
    .map(([, v]) => v);

beforeAll(async () => {
  emulator = await startEmulator({
    timeFactor: 0.001,
    timings: {
      secretReplicationMs: 30_000,
      promoteStartMs: 20_000,
      createInstanceMs: 60_000,
      renameInstanceMs: 40_000,
    },
  });
  deps = { current: clients(R), old: clients(P) };
});
afterAll(() => emulator?.close());

describe('a dry run of a re-protect', () => {
  it('plans the secret replicated back over the stale one, the rename, and the replica, then the passes make exactly those', async () => {
    // Prepare
    const unit = unitOf('orders');
    await failedOver(unit);
    const promoted = (
      await deps.current.rds.send(
        new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'orders-db-replica' }),
      )
    ).DBInstances?.[0];
    const retired = retiredName('orders-db', promoted?.DbiResourceId ?? '');
    emulator.clearCalls();

    // Act
    const planned = await reprotectUnit(deps, { run: dryRun, unit, attempt: 1 });
    const changedByDryRun = mutating();
    const made: string[] = [];
    for (let attempt = 1; attempt <= 200; attempt += 1) {
      const pass = await reprotectUnit(deps, { run: reprotect, unit, attempt });
      made.push(
        ...String(pass.detail.calls ?? '')
          .split(', ')
          .filter(Boolean),
      );
      if (pass.done) break;
      await new Promise((r) => setTimeout(r, 10));
    }

    // Assess
    expect(changedByDryRun).toEqual([]);
    expect(planned).toMatchObject({ done: true, status: 'planned' });
    expect(plannedCalls(planned)).toEqual([
      'ReplicateSecretToRegions',
      'AddTagsToResource',
      'ModifyDBInstance',
      'CreateDBInstanceReadReplica',
    ]);
    expect(planned.detail).toMatchObject({
      'planned.1.ForceOverwriteReplicaSecret': true,
      'planned.1.AddReplicaRegions.Region': P,
      'planned.3.DBInstanceIdentifier': 'orders-db',
      'planned.3.NewDBInstanceIdentifier': retired,
      'planned.4.DBInstanceIdentifier': 'orders-db',
      'planned.4.SourceDBInstanceIdentifier': promoted?.DBInstanceArn,
      'planned.4.KmsKeyId': null,
    });
    expect(String(planned.detail['planned.1.note'])).toContain('overwrites the stale secret');
    // One piece of truth: the passes then make the calls the dry run listed.
    expect(made.sort()).toEqual((plannedCalls(planned) as string[]).sort());
  });

  it('refuses, as a pass does, a unit that was never failed over, and changes nothing', async () => {
    // Prepare
    const unit = unitOf('billing');
    await failedOver(unit, false);
    emulator.clearCalls();

    // Act
    const refused = await reprotectUnit(deps, { run: dryRun, unit, attempt: 1 }).catch((e: unknown) => e);

    // Assess
    expect(refused).toBeInstanceOf(ConfigurationError);
    expect(mutating()).toEqual([]);
  });

  it('is still refused in any other mode than reprotect and its dry run', async () => {
    const unit = unitOf('catalog');
    const refused = await reprotectUnit(deps, { run: { ...base, mode: 'dry-run' }, unit, attempt: 1 }).catch(
      (e: unknown) => e,
    );
    expect((refused as Error).name).toBe('InputInvalidError');
  });
});
