import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
  FailoverGlobalClusterCommand,
  PromoteReadReplicaDBClusterCommand,
  RDSClient,
  SwitchoverGlobalClusterCommand,
} from '@aws-sdk/client-rds';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  SecretsManagerClient,
  StopReplicationToReplicaCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError, ResourceMissingError } from '../../functions/lib/errors.js';
import { type AuroraUnitPlan, parsePlan, type UnitPlan } from '../../functions/lib/plan.js';
import {
  readReplicaClusterReturn,
  replicaClusterParameters,
  replicaClusterReprotectNames,
} from '../../functions/lib/reprotect/aurora-replica.js';
import {
  checkReprotectReadiness,
  REPROTECT_TAG,
  RETIRED_FROM_TAG,
  RETIRED_TAG,
  type ReprotectDeps,
  type ReprotectPass,
  reprotectUnit,
} from '../../functions/lib/reprotect/reprotect.js';
import type { RunContext } from '../../functions/lib/types.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';

/**
 * Re-protect of Aurora units against the emulated RDS and Secrets Manager (docs/design/aurora.md, "Re-protect"): a
 * global unit after a failover fails while the old Region is out, with the manual step and nothing changed; once the
 * Region recovers, the passes replicate the secret back and wait until the old primary cluster is a connected
 * secondary, reporting Aurora's data-loss snapshot, and create nothing. After a switchover only the secret is left.
 * A replica cluster unit (Aurora MySQL, no global cluster) is re-protected like an instance unit: the old primary
 * cluster tagged and renamed, a new replica cluster of the promoted one made under its id, with its instance.
 */

const P = 'eu-west-1';
const R = 'eu-central-1';
const ACCOUNT = '123456789012';
let emulator: Emulator;
let deps: ReprotectDeps;
let n = 0;

const run: RunContext = {
  runId: 'reprotect-aurora-1',
  executionArn: `arn:aws:states:${R}:${ACCOUNT}:execution:lifeboat-orders-dr:reprotect-aurora-1`,
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

function auroraUnit(database: Record<string, unknown>, secret: string): UnitPlan {
  return parsePlan({
    name: 'orders-dr',
    account: ACCOUNT,
    primaryRegion: P,
    recoveryRegion: R,
    targetRtoSeconds: 900,
    units: [
      {
        name: 'orders',
        secret: { id: secret },
        database,
        dns: { hostedZoneId: 'Z0123456789ABC', recordName: 'orders.db.example.com', ttl: 5 },
        rotation: { lambdaArn: `arn:aws:lambda:${R}:${ACCOUNT}:function:rotate`, schedule: 30 },
      },
    ],
  }).units[0] as UnitPlan;
}

/** The secret's replica in R promoted (as PromoteSecret leaves it). */
async function promotedSecret(name: string): Promise<void> {
  const p = clients(P);
  const r = clients(R);
  await p.secretsManager.send(
    new CreateSecretCommand({
      Name: name,
      SecretString: '{"password":"not-logged"}',
      AddReplicaRegions: [{ Region: R }],
    }),
  );
  await until('the secret replica', async () => {
    const out = await r.secretsManager
      .send(new DescribeSecretCommand({ SecretId: name }))
      .catch(() => undefined);
    return out?.PrimaryRegion ? out : undefined;
  });
  await r.secretsManager.send(new StopReplicationToReplicaCommand({ SecretId: name }));
}

/** A global database east (P) → west (R), its secret promoted, and the writer moved to west by `how`. */
async function globalWorld(how: 'failover-during-outage' | 'switchover' | 'none') {
  n += 1;
  const ids = { global: `orders-global-${n}`, east: `orders-east-${n}`, west: `orders-west-${n}` };
  emulator.seed.globalCluster({ id: ids.global, engine: 'aurora-postgresql' });
  emulator.seed.dbCluster({
    region: P,
    id: ids.east,
    engine: 'aurora-postgresql',
    globalClusterId: ids.global,
  });
  const west = emulator.seed.dbCluster({
    region: R,
    id: ids.west,
    engine: 'aurora-postgresql',
    globalClusterId: ids.global,
  });
  const secret = `orders/aurora-${n}`;
  await promotedSecret(secret);
  const unit = auroraUnit(
    {
      engine: 'aurora-postgresql',
      globalClusterId: ids.global,
      primaryClusterId: ids.east,
      replicaClusterId: ids.west,
    },
    secret,
  );
  let outage: { remove(): void } | undefined;
  if (how === 'failover-during-outage') {
    emulator.rds.regionOutage(P);
    outage = emulator.faults.regionDown(P);
  }
  if (how !== 'none') {
    const r = clients(R).rds;
    await r.send(
      how === 'switchover'
        ? new SwitchoverGlobalClusterCommand({
            GlobalClusterIdentifier: ids.global,
            TargetDbClusterIdentifier: west.arn,
          })
        : new FailoverGlobalClusterCommand({
            GlobalClusterIdentifier: ids.global,
            TargetDbClusterIdentifier: west.arn,
            AllowDataLoss: true,
          }),
    );
    await until('the new writer', async () => {
      const g = (await r.send(new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: ids.global })))
        .GlobalClusters?.[0];
      return !g?.FailoverState && g?.GlobalClusterMembers?.find((m) => m.IsWriter)?.DBClusterArn === west.arn
        ? g
        : undefined;
    });
  }
  const recover = () => {
    outage?.remove();
    emulator.rds.regionRecovers(P);
  };
  return { ids, unit, secret, recover };
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

const mutatingSince = (seq: number) =>
  emulator.calls.filter((c) => c.seq > seq && c.mutating && c.service !== 'cloudwatch');
const lastSeq = () => emulator.calls.at(-1)?.seq ?? 0;

async function rejected(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a refusal');
}

beforeAll(async () => {
  emulator = await startEmulator({
    timeFactor: 0.001,
    timings: {
      secretReplicationMs: 30_000,
      promoteStartMs: 20_000,
      promoteModifyingMs: 30_000,
      // The returning old primary is pending-resync this long (services/rds-aurora.ts).
      createInstanceMs: 300_000,
      // A cluster is `renaming` for 1 s: the crash case's second pass must find the rename still under way, which a
      // shorter rename did not leave it time for on a loaded machine (a clean-clone CI run).
      renameInstanceMs: 1_000_000,
    },
  });
  deps = { current: clients(R), old: clients(P) };
});
afterAll(() => emulator?.close());

describe('re-protect of an Aurora global unit after a failover', () => {
  it('before the old Region recovers: fails with what is missing and the manual step, and changes nothing', async () => {
    // Prepare
    const { ids, unit, secret, recover } = await globalWorld('failover-during-outage');
    const mark = lastSeq();

    // Act
    const error = await rejected(reprotectUnit(deps, { run, unit, attempt: 1 }));
    const checks = await checkReprotectReadiness(deps, { run, unit });

    // Assess
    expect(error).toBeInstanceOf(ResourceMissingError);
    expect(error.message).toContain(`the old primary cluster ${ids.east}`);
    expect(error.message).toContain(`is not a member of global cluster ${ids.global}`);
    expect(error.message).toContain(`RDS in ${P} did not answer`);
    expect(error.message).toContain(`--global-cluster-identifier ${ids.global}`);
    expect(mutatingSince(mark)).toEqual([]);
    const current = await deps.current.secretsManager.send(new DescribeSecretCommand({ SecretId: secret }));
    expect(current.ReplicationStatus ?? []).toEqual([]);
    expect(checks.find((c) => c.check === 'reprotect.old-region')).toMatchObject({
      ok: false,
      severity: 'error',
    });
    recover();
  });

  it('once the Region recovers: waits while the old primary resyncs, reports the snapshot, creates nothing', async () => {
    // Prepare
    const { ids, unit, recover } = await globalWorld('failover-during-outage');
    recover();
    const mark = lastSeq();

    // Act
    const checks = await checkReprotectReadiness(deps, { run, unit });
    const passes = await converge(unit);
    const again = await reprotectUnit(deps, { run, unit, attempt: passes.length + 1 });

    // Assess
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(passes.length).toBeGreaterThan(1);
    expect(passes.some((p) => p.detail.oldPrimarySynchronization === 'pending-resync')).toBe(true);
    const last = passes.at(-1) as ReprotectPass;
    expect(last.detail).toMatchObject({
      oldPrimary: ids.east,
      oldPrimaryIsWriter: false,
      oldPrimarySynchronization: 'connected',
      oldPrimaryStatus: 'available',
      secretReplicationStatus: 'InSync',
    });
    expect(String(last.detail.dataLossSnapshot)).toMatch(
      new RegExp(`^rds:unplanned-global-failover-${ids.east}-\\d{4}-\\d{2}-\\d{2}-\\d{2}-\\d{2}$`),
    );
    expect(last.warnings.join('\n')).toMatch(/copy-db-cluster-snapshot/);
    // Only the secret was changed: Aurora brought the old primary back, lifeboat created and deleted nothing.
    expect(mutatingSince(mark).map((c) => c.action)).toEqual(['ReplicateSecretToRegions']);
    expect(again.done).toBe(true);
    expect(again.detail.calls).toBeNull();
  });

  it('a dry run plans the secret and no database call', async () => {
    // Prepare
    const { unit, recover } = await globalWorld('failover-during-outage');
    recover();
    const mark = lastSeq();

    // Act
    const pass = await reprotectUnit(deps, {
      run: { ...run, mode: 'dry-run', of: 'reprotect' },
      unit,
      attempt: 1,
    });

    // Assess
    expect(pass.detail['planned.1.call']).toBe('ReplicateSecretToRegions');
    expect(pass.detail['planned.2.call']).toBeNull();
    expect(String(pass.detail['planned.2.note'])).toMatch(/nothing is created or deleted/);
    expect(mutatingSince(mark)).toEqual([]);
  });
});

describe('re-protect of other Aurora units', () => {
  it('after a switchover the old primary is a secondary at once: only the secret is replicated back', async () => {
    const { unit } = await globalWorld('switchover');
    const mark = lastSeq();
    const passes = await converge(unit);
    const last = passes.at(-1) as ReprotectPass;
    expect(last.detail).toMatchObject({ oldPrimarySynchronization: 'connected', dataLossSnapshot: null });
    expect(mutatingSince(mark).map((c) => c.action)).toEqual(['ReplicateSecretToRegions']);
  });

  it('while the failover toward the promoted cluster is still under way: not yet, and nothing changed', async () => {
    // Prepare: an emulator of its own whose failover stays pending for 2 s.
    const slow = await startEmulator({ timeFactor: 0.001, timings: { promoteStartMs: 2_000_000 } });
    try {
      const config = (region: string) => ({ ...slow.clientConfig(region), maxAttempts: 1 });
      const at = (region: string) => ({
        rds: new RDSClient(config(region)),
        secretsManager: new SecretsManagerClient(config(region)),
        cloudwatch: new CloudWatchClient(config(region)),
      });
      slow.seed.globalCluster({ id: 'g', engine: 'aurora-postgresql' });
      slow.seed.dbCluster({ region: P, id: 'east', engine: 'aurora-postgresql', globalClusterId: 'g' });
      const west = slow.seed.dbCluster({
        region: R,
        id: 'west',
        engine: 'aurora-postgresql',
        globalClusterId: 'g',
      });
      await at(R).rds.send(
        new FailoverGlobalClusterCommand({
          GlobalClusterIdentifier: 'g',
          TargetDbClusterIdentifier: west.arn,
          AllowDataLoss: true,
        }),
      );
      const unit = auroraUnit(
        {
          engine: 'aurora-postgresql',
          globalClusterId: 'g',
          primaryClusterId: 'east',
          replicaClusterId: 'west',
        },
        'orders/slow',
      );
      const mark = slow.calls.at(-1)?.seq ?? 0;

      // Act
      const pass = await reprotectUnit({ current: at(R), old: at(P) }, { run, unit, attempt: 1 });

      // Assess
      expect(pass).toMatchObject({ done: false, status: 'global cluster pending' });
      expect(slow.calls.filter((c) => c.seq > mark && c.mutating)).toEqual([]);
    } finally {
      await slow.close();
    }
  });

  it('before any failover (the replica not the writer): a ConfigurationError, nothing changed', async () => {
    const { unit } = await globalWorld('none');
    const mark = lastSeq();
    const error = await rejected(reprotectUnit(deps, { run, unit, attempt: 1 }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toMatch(/is not the writer of global cluster .*: re-protect runs after a failover/);
    expect(mutatingSince(mark)).toEqual([]);
  });
});

/** A replica cluster unit east (P) → west (R), failed over: west promoted, its secret promoted. */
async function replicaClusterWorld() {
  n += 1;
  const ids = { east: `billing-east-${n}`, west: `billing-west-${n}` };
  const east = emulator.seed.dbCluster({ region: P, id: ids.east, engine: 'aurora-mysql' });
  await clients(P).rds.send(
    new CreateDBInstanceCommand({
      DBInstanceIdentifier: `${ids.east}-1`,
      DBClusterIdentifier: ids.east,
      Engine: 'aurora-mysql',
      DBInstanceClass: 'db.r6g.xlarge',
    }),
  );
  emulator.seed.dbCluster({
    region: R,
    id: ids.west,
    engine: 'aurora-mysql',
    replicationSourceArn: east.arn,
  });
  const r = clients(R).rds;
  await r.send(new PromoteReadReplicaDBClusterCommand({ DBClusterIdentifier: ids.west }));
  await until('the promoted cluster', async () => {
    const c = (await r.send(new DescribeDBClustersCommand({ DBClusterIdentifier: ids.west })))
      .DBClusters?.[0];
    return c?.Status === 'available' && !c.ReplicationSourceIdentifier ? c : undefined;
  });
  const secret = `billing/aurora-${n}`;
  await promotedSecret(secret);
  const unit = auroraUnit(
    { engine: 'aurora-mysql', primaryClusterId: ids.east, replicaClusterId: ids.west },
    secret,
  ) as AuroraUnitPlan;
  return { ids, unit, secret };
}

const clusterIn = async (region: string, id: string) =>
  (await clients(region).rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id })))
    .DBClusters?.[0];
const tag = (tags: { Key?: string; Value?: string }[] | undefined, key: string) =>
  tags?.find((t) => t.Key === key)?.Value;

describe('re-protect of an Aurora cross-Region replica cluster unit', () => {
  it('renames the old primary cluster (tagged, never deleted), makes a replica cluster of the promoted one under its id, then its instance', async () => {
    const { ids, unit } = await replicaClusterWorld();
    const passes = await converge(unit);
    const calls = passes.flatMap((p) => String(p.detail.calls ?? '').split(', ')).filter(Boolean);
    expect(calls).toEqual([
      'ReplicateSecretToRegions',
      'AddTagsToResource',
      'ModifyDBCluster',
      'CreateDBCluster',
      'CreateDBInstance',
    ]);
    const last = passes.at(-1) as ReprotectPass;
    const retiredId = String(last.detail.oldPrimaryNowNamed);
    expect(retiredId).toMatch(new RegExp(`^${ids.east}-old-[0-9a-f]{8}$`));
    // The old primary, renamed with its instance and tagged with what it was.
    const retired = await clusterIn(P, retiredId);
    expect(tag(retired?.TagList, RETIRED_TAG)).toBe('orders-dr/orders');
    expect(tag(retired?.TagList, RETIRED_FROM_TAG)).toBe(ids.east);
    expect(retired?.DBClusterMembers?.map((m) => m.DBInstanceIdentifier)).toEqual([`${ids.east}-1`]);
    // The new replica cluster under the old primary's id, replicating from the promoted cluster.
    const west = await clusterIn(R, ids.west);
    const replica = await clusterIn(P, ids.east);
    expect(replica?.ReplicationSourceIdentifier).toBe(west?.DBClusterArn);
    expect(west?.ReadReplicaIdentifiers).toEqual([replica?.DBClusterArn]);
    expect(tag(replica?.TagList, REPROTECT_TAG)).toBe('orders-dr/orders');
    const instanceId = String(last.detail.replicaInstance);
    expect(replica?.DBClusterMembers?.map((m) => m.DBInstanceIdentifier)).toEqual([instanceId]);
    const instance = (
      await clients(P).rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: instanceId }))
    ).DBInstances?.[0];
    // The class the old primary's writer had.
    expect(instance?.DBInstanceClass).toBe('db.r6g.xlarge');
    expect(last.detail).toMatchObject({
      oldPrimary: ids.east,
      replica: ids.east,
      replicaStatus: 'available',
      replicaInstanceStatus: 'available',
      secretReplicationStatus: 'InSync',
    });
    // A pass after success changes nothing.
    const mark = lastSeq();
    const again = await reprotectUnit(deps, { run, unit, attempt: passes.length + 1 });
    expect(again.done).toBe(true);
    expect(mutatingSince(mark)).toEqual([]);
  });

  it('a re-run after a crash converges: finds its rename under way, and the replica cluster it made', async () => {
    const { ids, unit } = await replicaClusterWorld();
    const first = await reprotectUnit(deps, { run, unit, attempt: 1 });
    expect(String(first.detail.calls)).toContain('ModifyDBCluster');
    // Crashed right after the rename call: the next pass sees the rename under way and makes no call.
    const mark = lastSeq();
    const second = await reprotectUnit(deps, { run, unit, attempt: 2 });
    expect(second.status).toMatch(/old primary cluster renaming to/);
    expect(mutatingSince(mark).filter((c) => c.service === 'rds')).toEqual([]);
    await until('the rename', async () =>
      (await clusterIn(P, ids.east).catch(() => undefined)) ? undefined : true,
    );
    // Crashed after CreateDBCluster went through but before the pass returned: made here, as that call would have.
    const seen = await readReplicaClusterReturn(deps, run, unit);
    expect(seen.step.kind).toBe('create-cluster');
    if (seen.step.kind !== 'create-cluster') throw new Error('unreachable');
    await clients(P).rds.send(new CreateDBClusterCommand(seen.step.params));
    const passes = await converge(unit);
    const calls = passes.flatMap((p) => String(p.detail.calls ?? '').split(', ')).filter(Boolean);
    expect(calls).not.toContain('CreateDBCluster');
    expect(calls).not.toContain('ModifyDBCluster');
    expect(calls).toContain('CreateDBInstance');
  });

  it.each(['ModifyDBCluster', 'CreateDBCluster', 'CreateDBInstance'])(
    '%s takes effect and its answer is lost: the passes after it converge, and it is applied once',
    async (action) => {
      const { unit } = await replicaClusterWorld();
      const mark = lastSeq();
      const fault = emulator.faults.add({
        match: { service: 'rds', action },
        failCalls: [1],
        failWith: 'lose-response',
      });
      const errors: string[] = [];
      let last: ReprotectPass | undefined;
      try {
        for (let attempt = 1; attempt <= 200 && !last?.done; attempt += 1) {
          try {
            last = await reprotectUnit(deps, { run, unit, attempt });
          } catch (error) {
            errors.push((error as Error).name);
          }
          await new Promise((r) => setTimeout(r, 10));
        }
      } finally {
        fault.remove();
      }
      expect(last?.done).toBe(true);
      expect(errors.length).toBe(1);
      const applied = emulator.calls.filter(
        (c) => c.seq > mark && c.action === action && c.applied !== false,
      );
      expect(applied.map((c) => c.fault ?? 'answered')).toEqual(['lose-response']);
    },
  );

  it('refuses a replica cluster under the old id that lifeboat did not make, before anything changes', async () => {
    const { ids, unit } = await replicaClusterWorld();
    // Someone made their own replica cluster of the promoted one, under the id the plan names as the old primary.
    const p = clients(P).rds;
    const west = await clusterIn(R, ids.west);
    const theirs = `${ids.east}-rr`;
    await p.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: theirs,
        Engine: 'aurora-mysql',
        ReplicationSourceIdentifier: west?.DBClusterArn,
      }),
    );
    const other = auroraUnit(
      { engine: 'aurora-mysql', primaryClusterId: theirs, replicaClusterId: ids.west },
      String(unit.secret.id),
    );
    const mark = lastSeq();
    const error = await rejected(reprotectUnit(deps, { run, unit: other, attempt: 1 }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toMatch(/was not made by lifeboat .*neither adopts nor deletes it/);
    expect(mutatingSince(mark).filter((c) => c.service === 'rds')).toEqual([]);
    const checks = await checkReprotectReadiness(deps, { run, unit: other });
    expect(checks).toContainEqual(expect.objectContaining({ check: 'reprotect.old-primary', ok: false }));
  });

  it('before the failover (the replica cluster still replicating): a ConfigurationError, nothing changed', async () => {
    n += 1;
    const east = emulator.seed.dbCluster({ region: P, id: `pay-east-${n}`, engine: 'aurora-mysql' });
    emulator.seed.dbCluster({
      region: R,
      id: `pay-west-${n}`,
      engine: 'aurora-mysql',
      replicationSourceArn: east.arn,
    });
    const unit = auroraUnit(
      { engine: 'aurora-mysql', primaryClusterId: `pay-east-${n}`, replicaClusterId: `pay-west-${n}` },
      `pay/aurora-${n}`,
    );
    const mark = lastSeq();
    const error = await rejected(reprotectUnit(deps, { run, unit, attempt: 1 }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toMatch(/still a read replica cluster of .*re-protect runs after a failover/);
    expect(mutatingSince(mark)).toEqual([]);
    const checks = await checkReprotectReadiness(deps, { run, unit });
    expect(checks).toEqual([expect.objectContaining({ check: 'reprotect.current-primary', ok: false })]);
  });

  it('preflight and a dry run name the calls the passes will make, and change nothing', async () => {
    const { ids, unit } = await replicaClusterWorld();
    const mark = lastSeq();
    const checks = await checkReprotectReadiness(deps, { run, unit });
    expect(checks.every((c) => c.ok)).toBe(true);
    expect(checks.find((c) => c.check === 'reprotect.old-primary')?.message).toMatch(
      /next: AddTagsToResource, ModifyDBCluster, CreateDBCluster, CreateDBInstance/,
    );
    const pass = await reprotectUnit(deps, {
      run: { ...run, mode: 'dry-run', of: 'reprotect' },
      unit,
      attempt: 1,
    });
    const planned = Object.entries(pass.detail)
      .filter(([k]) => /^planned\.\d+\.call$/.test(k))
      .map(([, v]) => v);
    expect(planned).toEqual([
      'ReplicateSecretToRegions',
      'AddTagsToResource',
      'ModifyDBCluster',
      'CreateDBCluster',
      'CreateDBInstance',
    ]);
    expect(Object.values(pass.detail)).toContain(ids.east);
    expect(mutatingSince(mark)).toEqual([]);
  });

  it('an encrypted promoted cluster with no KMS key of the old Region is refused, not guessed', async () => {
    const { unit } = await replicaClusterWorld();
    const promoted = {
      DBClusterArn: 'arn:aws:rds:eu-central-1:123456789012:cluster:x',
      StorageEncrypted: true,
    };
    const names = replicaClusterReprotectNames(run, unit, promoted);
    expect(() => replicaClusterParameters(run, unit, promoted, names, undefined, 'db.r6g.large')).toThrow(
      /encrypted and no KMS key of eu-west-1 is known/,
    );
    const params = replicaClusterParameters(
      run,
      unit,
      promoted,
      names,
      {
        StorageEncrypted: true,
        KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/old',
        DBSubnetGroup: 'db-private',
      },
      'db.r6g.large',
    );
    expect(params).toMatchObject({
      ReplicationSourceIdentifier: promoted.DBClusterArn,
      KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/old',
      StorageEncrypted: true,
      DBSubnetGroupName: 'db-private',
    });
    // An unencrypted promoted cluster gets an unencrypted replica, whatever the old primary was.
    const plain = replicaClusterParameters(
      run,
      unit,
      { ...promoted, StorageEncrypted: false },
      names,
      {
        StorageEncrypted: true,
        KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/old',
        DBSubnetGroup: 'db-private',
      },
      'db.r6g.large',
    );
    expect(plain).not.toHaveProperty('KmsKeyId');
    expect(plain).not.toHaveProperty('StorageEncrypted');
    expect(plain.DBSubnetGroupName).toBe('db-private');
  });
});
