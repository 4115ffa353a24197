import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { RDSClient } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAuroraPromotion } from '../../functions/lib/aurora/check.js';
import { checkAuroraReadiness } from '../../functions/lib/aurora/preflight.js';
import { type AuroraStepInput, promoteAurora } from '../../functions/lib/aurora/promote.js';
import { ConfigurationError } from '../../functions/lib/errors.js';
import type { AuroraUnitPlan, Mode } from '../../functions/lib/plan.js';
import { promotedTarget } from '../../functions/lib/promoted-target.js';
import type { RunContext } from '../../functions/lib/types.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';

/**
 * The Aurora promotion steps against the emulator (local/emulator/services/rds-aurora.ts, conformance in
 * test/conformance/aurora.test.ts): the call each unit kind and mode makes, idempotence across a re-run, the bounded
 * poll's "done", and the record target (docs/design/aurora.md).
 */

const PRIMARY = 'us-east-1';
const RECOVERY = 'us-west-2';
const ACCOUNT = '123456789012';

let emulator: Emulator;
let rds: RDSClient;
let n = 0;

beforeAll(async () => {
  emulator = await startEmulator({
    timeFactor: 0.001,
    timings: { promoteStartMs: 10_000, promoteModifyingMs: 30_000, promoteRebootingMs: 10_000 },
  });
  rds = new RDSClient(emulator.clientConfig(RECOVERY));
});
afterAll(async () => {
  rds?.destroy();
  await emulator?.close();
});

function run(mode: Mode, runId: string): RunContext {
  return {
    runId,
    executionArn: `arn:aws:states:${RECOVERY}:${ACCOUNT}:execution:lifeboat:${runId}`,
    planName: 'orders-dr',
    mode,
    trigger: 'cli',
    startedAt: new Date().toISOString(),
    account: ACCOUNT,
    primaryRegion: PRIMARY,
    recoveryRegion: RECOVERY,
    targetRtoSeconds: 900,
  };
}

function unitOf(database: AuroraUnitPlan['database'], target?: 'global-writer-endpoint'): AuroraUnitPlan {
  return {
    name: 'orders',
    secret: { id: 'orders/db' },
    database,
    dns: {
      hostedZoneId: 'Z0LIFEBOAT00EXAMPLE',
      recordName: 'orders-db.internal.example.com',
      ttl: 5,
      strategy: 'cname',
      ...(target ? { target } : {}),
    },
    rotation: {
      lambdaArn: `arn:aws:lambda:${RECOVERY}:${ACCOUNT}:function:rot`,
      schedule: 30,
      rewriteRegionFields: false,
    },
    verify: { query: 'SELECT 1', requireTls: true, timeoutSeconds: 10 },
  };
}

/** A global database with its primary in PRIMARY and a secondary in RECOVERY, fresh names each time. */
function seedGlobal(engineVersions?: [string, string]): AuroraUnitPlan {
  n += 1;
  const id = `orders-global-${n}`;
  emulator.seed.globalCluster({ id, engine: 'aurora-postgresql' });
  emulator.seed.dbCluster({
    region: PRIMARY,
    id: `orders-east-${n}`,
    engine: 'aurora-postgresql',
    globalClusterId: id,
    ...(engineVersions ? { engineVersion: engineVersions[0] } : {}),
  });
  emulator.seed.dbCluster({
    region: RECOVERY,
    id: `orders-west-${n}`,
    engine: 'aurora-postgresql',
    globalClusterId: id,
    ...(engineVersions ? { engineVersion: engineVersions[1] } : {}),
  });
  return unitOf({
    engine: 'aurora-postgresql',
    globalClusterId: id,
    primaryClusterId: `orders-east-${n}`,
    replicaClusterId: `orders-west-${n}`,
    maxReplicaLagSeconds: 300,
  });
}

function mutations(resource?: string) {
  return emulator.calls.filter(
    (c) => c.mutating && c.service === 'rds' && (!resource || c.resource === resource),
  );
}

async function pollUntilDone(input: AuroraStepInput): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const poll = await checkAuroraPromotion({ rds }, { ...input, attempt });
    if (poll.done) return attempt;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('the promotion did not finish within 200 polls');
}

describe('Aurora global database unit', () => {
  it('failover: FailoverGlobalCluster with AllowDataLoss on the target ARN; a re-run while it runs calls nothing; done once the target is the writer', async () => {
    const unit = seedGlobal();
    const input = { run: run('failover', 'r-failover'), unit };
    const before = mutations().length;
    const first = await promoteAurora({ rds }, input);
    expect(first.outcome).toBe('changed');
    expect(first.detail).toMatchObject({
      call: 'FailoverGlobalCluster',
      allowDataLoss: true,
      targetDbClusterIdentifier: expect.stringMatching(/:cluster:orders-west-\d+$/),
    });
    // The step crashed after its call and runs again: the operation is under way toward our target.
    const again = await promoteAurora({ rds }, input);
    expect(again.outcome).toBe('already-done');
    expect(mutations().length - before).toBe(1);
    expect(mutations()[mutations().length - 1]?.action).toBe('FailoverGlobalCluster');
    await pollUntilDone(input);
    const done = await checkAuroraPromotion({ rds }, { ...input, attempt: 0 });
    expect(done).toMatchObject({ done: true, status: 'available' });
    expect(done.detail.writer).toMatch(/:cluster:orders-west-\d+$/);
    // And a run after it is done converges too.
    expect((await promoteAurora({ rds }, input)).outcome).toBe('already-done');
    expect(mutations().length - before).toBe(1);
  });

  it("switchover: SwitchoverGlobalCluster (Aurora's zero-loss switchover), the old primary a secondary after", async () => {
    const unit = seedGlobal();
    const input = { run: run('switchover', 'r-switchover'), unit };
    const result = await promoteAurora({ rds }, input);
    expect(result.detail).toMatchObject({ call: 'SwitchoverGlobalCluster', allowDataLoss: false });
    await pollUntilDone(input);
    const target = await promotedTarget(rds, unit);
    expect(target.notPromoted).toBeUndefined();
    expect(target.endpoint).toMatch(new RegExp(`^${unit.database.replicaClusterId}\\.cluster-`));
  });

  it('dry run plans the call and changes nothing', async () => {
    const unit = seedGlobal();
    const before = mutations().length;
    const result = await promoteAurora({ rds }, { run: run('dry-run', 'r-dry'), unit });
    expect(result).toMatchObject({ outcome: 'planned', detail: { call: 'FailoverGlobalCluster' } });
    expect(mutations().length).toBe(before);
  });

  it('refuses a replica cluster that is not a member of the global cluster, before any change', async () => {
    const unit = seedGlobal();
    const other = seedGlobal();
    const wrong = {
      ...unit,
      database: { ...unit.database, replicaClusterId: other.database.replicaClusterId },
    };
    const before = mutations().length;
    await expect(promoteAurora({ rds }, { run: run('failover', 'r-wrong'), unit: wrong })).rejects.toThrow(
      /is not a member of global cluster orders-global-\d+ .*nothing was changed/,
    );
    await expect(
      promoteAurora({ rds }, { run: run('failover', 'r-wrong'), unit: wrong }),
    ).rejects.toBeInstanceOf(ConfigurationError);
    expect(mutations().length).toBe(before);
  });

  it('the record target: the promoted cluster endpoint, or the global writer endpoint left as it is', async () => {
    const unit = seedGlobal();
    const before = await promotedTarget(rds, unit);
    expect(before.notPromoted).toMatch(/still a secondary of global cluster/);
    const global = await promotedTarget(rds, {
      ...unit,
      dns: { ...unit.dns, target: 'global-writer-endpoint' },
    });
    expect(global).toMatchObject({ recordFollowsItself: true });
    expect(global.endpoint).toMatch(new RegExp(`^${unit.database.globalClusterId}\\.global-`));
  });
});

describe('Aurora cross-Region replica cluster unit (Aurora MySQL)', () => {
  it('PromoteReadReplicaDBCluster, once; done when available with no replication source', async () => {
    n += 1;
    const source = emulator.seed.dbCluster({ region: PRIMARY, id: `shop-east-${n}`, engine: 'aurora-mysql' });
    emulator.seed.dbCluster({
      region: RECOVERY,
      id: `shop-west-${n}`,
      engine: 'aurora-mysql',
      replicationSourceArn: source.arn,
    });
    const unit = unitOf({
      engine: 'aurora-mysql',
      primaryClusterId: `shop-east-${n}`,
      replicaClusterId: `shop-west-${n}`,
      maxReplicaLagSeconds: 300,
    });
    const input = { run: run('failover', 'r-replica'), unit };
    const first = await promoteAurora({ rds }, input);
    expect(first).toMatchObject({ outcome: 'changed', detail: { call: 'PromoteReadReplicaDBCluster' } });
    // A retry while the cluster is promoting (the first answer lost) calls nothing.
    expect(await promoteAurora({ rds }, input)).toMatchObject({
      outcome: 'already-done',
      detail: { call: null },
    });
    await pollUntilDone(input);
    expect((await promoteAurora({ rds }, input)).outcome).toBe('already-done');
    expect(mutations(`shop-west-${n}`).map((c) => c.action)).toEqual(['PromoteReadReplicaDBCluster']);
  });

  it("refuses a replica cluster of another source, naming the plan's primary", async () => {
    n += 1;
    const source = emulator.seed.dbCluster({
      region: PRIMARY,
      id: `other-east-${n}`,
      engine: 'aurora-mysql',
    });
    emulator.seed.dbCluster({
      region: RECOVERY,
      id: `shop2-west-${n}`,
      engine: 'aurora-mysql',
      replicationSourceArn: source.arn,
    });
    const unit = unitOf({
      engine: 'aurora-mysql',
      primaryClusterId: 'shop-east-x',
      replicaClusterId: `shop2-west-${n}`,
      maxReplicaLagSeconds: 300,
    });
    await expect(promoteAurora({ rds }, { run: run('failover', 'r-src'), unit })).rejects.toThrow(
      /is a read replica of .*other-east-\d+, not of the plan's primary .*:cluster:shop-east-x/,
    );
  });
});

describe('Aurora preflight', () => {
  const deps = () => ({
    rds,
    cloudwatch: new CloudWatchClient(emulator.clientConfig(RECOVERY)),
    primaryRds: () => new RDSClient(emulator.clientConfig(PRIMARY)),
  });
  const errors = (checks: { ok: boolean; severity: string; message: string }[]) =>
    checks.filter((c) => !c.ok && c.severity === 'error').map((c) => c.message);

  it('a healthy global database has no error; the lag unknown is a warning', async () => {
    const unit = seedGlobal();
    const checks = await checkAuroraReadiness(deps(), { run: run('failover', 'p-ok'), unit });
    expect(errors(checks)).toEqual([]);
    expect(checks.find((c) => c.check === 'database.replica-lag')).toMatchObject({
      ok: false,
      severity: 'warning',
      message: expect.stringMatching(/no AuroraGlobalDBReplicationLag datapoint/),
    });
  });

  it('names the configuration errors: wrong engine, replica not a member, primary not a member, missing cluster', async () => {
    const unit = seedGlobal();
    const other = seedGlobal();
    const wrong: AuroraUnitPlan = {
      ...unit,
      database: {
        ...unit.database,
        engine: 'aurora-mysql',
        primaryClusterId: other.database.primaryClusterId,
        replicaClusterId: other.database.replicaClusterId,
      },
    };
    expect(
      errors(await checkAuroraReadiness(deps(), { run: run('failover', 'p-bad'), unit: wrong })),
    ).toEqual([
      expect.stringMatching(/runs engine aurora-postgresql, the plan says aurora-mysql/),
      expect.stringMatching(
        /is not a member of global cluster orders-global-\d+ \(database.replicaClusterId\)/,
      ),
    ]);
    const primaryElsewhere: AuroraUnitPlan = {
      ...unit,
      database: { ...unit.database, primaryClusterId: other.database.primaryClusterId },
    };
    expect(
      errors(await checkAuroraReadiness(deps(), { run: run('failover', 'p-bad'), unit: primaryElsewhere })),
    ).toEqual([expect.stringMatching(/is not a member of global cluster .*\(database.primaryClusterId\)/)]);
    const missing: AuroraUnitPlan = { ...unit, database: { ...unit.database, replicaClusterId: 'nope' } };
    expect(
      errors(await checkAuroraReadiness(deps(), { run: run('failover', 'p-bad'), unit: missing })),
    ).toEqual([expect.stringMatching(/DB cluster nope does not exist/)]);
  });

  it('a switchover across different engine versions is refused, naming both', async () => {
    const unit = seedGlobal(['16.4', '16.2']);
    const checks = await checkAuroraReadiness(deps(), { run: run('switchover', 'p-sw'), unit });
    expect(errors(checks)).toEqual([
      expect.stringMatching(
        /a switchover needs the same engine version: orders-east-\d+ runs 16.4, orders-west-\d+ runs 16.2/,
      ),
    ]);
    // A failover does not compare them: Aurora's failover allows it.
    expect(errors(await checkAuroraReadiness(deps(), { run: run('failover', 'p-fo'), unit }))).toEqual([]);
  });
  it('reads AuroraGlobalDBReplicationLag in milliseconds and compares it in seconds with maxReplicaLagSeconds', async () => {
    const unit = seedGlobal();
    const limited: AuroraUnitPlan = { ...unit, database: { ...unit.database, maxReplicaLagSeconds: 60 } };
    emulator.seed.metric({
      region: RECOVERY,
      namespace: 'AWS/RDS',
      metricName: 'AuroraGlobalDBReplicationLag',
      dimensions: { DBClusterIdentifier: unit.database.replicaClusterId },
      datapoints: [{ timestamp: new Date(Date.now() - 30_000), value: 90_000 }],
    });
    const lag = (await checkAuroraReadiness(deps(), { run: run('failover', 'p-lag'), unit: limited })).find(
      (c) => c.check === 'database.replica-lag',
    );
    expect(lag).toMatchObject({ ok: false, severity: 'warning', figures: { replicaLagSeconds: 90 } });
    expect(lag?.message).toMatch(/lags 90 s behind its primary, over database.maxReplicaLagSeconds 60/);
  });
});
