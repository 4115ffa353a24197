import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CreateDBInstanceCommand, DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  SecretsManagerClient,
  StopReplicationToReplicaCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAuroraPromotion } from '../../functions/lib/aurora/check.js';
import { type AuroraStepInput, promoteAurora } from '../../functions/lib/aurora/promote.js';
import { type PlanDocument, parsePlan } from '../../functions/lib/plan.js';
import {
  type ReprotectDeps,
  type ReprotectPollInput,
  reprotectUnit,
} from '../../functions/lib/reprotect/reprotect.js';
import { reversePlan } from '../../functions/lib/reprotect/reverse-plan.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';
import { STATE_NAMES as N } from '../../statemachine/failover.js';
import { fakeLockTable } from '../helpers/fake-lock-table.js';
import { planWith, runFlow, type Stub } from '../helpers/flow-harness.js';

/**
 * An Aurora global unit's way back through the synthesized state machine (docs/design/aurora.md, "Re-protect"): a
 * failover while the primary Region is out (FailoverGlobalCluster with AllowDataLoss; the old primary is left out of
 * the global cluster), a re-protect before the Region recovers that fails the unit with nothing changed, then the
 * Region recovers (Aurora snapshots the old primary and adds it back as a secondary) and the re-protect converges.
 * A cross-Region replica cluster unit (Aurora MySQL): a failover promotes the replica cluster, re-protect renames the
 * old primary cluster and makes a replica cluster of the promoted one under its id, and the reversed plan names it.
 * The promotion and re-protect steps run the real code against the emulator; the other steps are the harness's stubs.
 */

const PRIMARY = 'us-east-1';
const RECOVERY = 'us-west-2';

let emulator: Emulator;
let deps: ReprotectDeps;

const clients = (region: string) => {
  const config = { ...emulator.clientConfig(region), maxAttempts: 1 };
  return {
    rds: new RDSClient(config),
    secretsManager: new SecretsManagerClient(config),
    cloudwatch: new CloudWatchClient(config),
  };
};

beforeAll(async () => {
  emulator = await startEmulator({
    timeFactor: 0.001,
    timings: {
      secretReplicationMs: 30_000,
      promoteStartMs: 5_000,
      promoteModifyingMs: 20_000,
      // The returning old primary is pending-resync this long (services/rds-aurora.ts).
      createInstanceMs: 200_000,
    },
  });
  deps = { current: clients(RECOVERY), old: clients(PRIMARY) };
});
afterAll(async () => {
  await emulator?.close();
});

/** The secret's replica promoted in the recovery Region, as PromoteSecret leaves it (its step is stubbed here). */
async function promotedSecret(name: string): Promise<void> {
  const p = clients(PRIMARY).secretsManager;
  const r = clients(RECOVERY).secretsManager;
  await p.send(
    new CreateSecretCommand({
      Name: name,
      SecretString: '{"password":"not-logged"}',
      AddReplicaRegions: [{ Region: RECOVERY }],
    }),
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const out = await r.send(new DescribeSecretCommand({ SecretId: name })).catch(() => undefined);
    if (out?.PrimaryRegion) break;
    if (Date.now() > deadline) throw new Error('the secret replica never appeared');
    await new Promise((done) => setTimeout(done, 10));
  }
  await r.send(new StopReplicationToReplicaCommand({ SecretId: name }));
}

const stubs: Record<string, Stub> = {
  [N.promoteDatabase]: (input) =>
    promoteAurora({ rds: deps.current.rds }, input as unknown as AuroraStepInput),
  [N.checkDatabasePromotion]: (input) =>
    checkAuroraPromotion(
      { rds: deps.current.rds },
      input as unknown as AuroraStepInput & { attempt: number },
    ),
  // One pass per call, as functions/reprotect-unit.ts; a short pause stands for the state machine's Wait.
  [N.reprotectUnit]: async (input) => {
    await new Promise((done) => setTimeout(done, 5));
    return reprotectUnit(deps, input as unknown as ReprotectPollInput);
  },
};

const mutatingSince = (seq: number) =>
  emulator.calls.filter((c) => c.seq > seq && c.mutating && c.service !== 'cloudwatch');

describe('an Aurora global unit: failover, the Region recovers, re-protect', () => {
  it('fails the re-protect while the old Region is out, changing nothing, and converges once it recovers', async () => {
    // Prepare: a global database orders-east (primary Region) → orders-west, and its secret.
    emulator.seed.globalCluster({ id: 'orders-global', engine: 'aurora-postgresql' });
    emulator.seed.dbCluster({
      region: PRIMARY,
      id: 'orders-east',
      engine: 'aurora-postgresql',
      globalClusterId: 'orders-global',
    });
    emulator.seed.dbCluster({
      region: RECOVERY,
      id: 'orders-west',
      engine: 'aurora-postgresql',
      globalClusterId: 'orders-global',
    });
    await promotedSecret('orders/db');
    const plan = planWith(1);
    (plan.units[0] as unknown as Record<string, unknown>).database = {
      engine: 'aurora-postgresql',
      globalClusterId: 'orders-global',
      primaryClusterId: 'orders-east',
      replicaClusterId: 'orders-west',
    };
    const lock = fakeLockTable();

    // Act 1: the primary Region goes down; the failover runs.
    emulator.rds.regionOutage(PRIMARY);
    const outage = emulator.faults.regionDown(PRIMARY);
    const failover = await runFlow({ plan, stubs, lock, runId: 'aurora-failover' });

    // Act 2: re-protect before the Region recovers.
    const before = emulator.calls.at(-1)?.seq ?? 0;
    const early = await runFlow({
      plan: plan as PlanDocument,
      input: { mode: 'reprotect', trigger: 'cli' },
      stubs,
      lock,
      runId: 'aurora-reprotect-early',
    });
    const changedEarly = mutatingSince(before);

    // Act 3: the Region recovers; re-protect again.
    outage.remove();
    emulator.rds.regionRecovers(PRIMARY);
    const after = emulator.calls.at(-1)?.seq ?? 0;
    const reprotect = await runFlow({
      plan: plan as PlanDocument,
      input: { mode: 'reprotect', trigger: 'cli' },
      stubs,
      lock,
      runId: 'aurora-reprotect',
    });

    // Assess
    expect(failover.status).toBe('succeeded');
    expect(early.status).toBe('failed');
    expect(early.report?.units[0]?.failure).toMatchObject({
      step: 'reprotect',
      error: 'ResourceMissingError',
    });
    expect(early.report?.units[0]?.failure?.cause).toMatch(
      /old primary cluster orders-east .* is not a member of global cluster orders-global/,
    );
    expect(changedEarly).toEqual([]);
    expect(reprotect.error).toBeUndefined();
    expect(reprotect.status).toBe('succeeded');
    const step = reprotect.report?.units[0]?.steps.find((s) => s.step === 'reprotect');
    expect(step?.detail).toMatchObject({
      oldPrimary: 'orders-east',
      oldPrimarySynchronization: 'connected',
      secretReplicationStatus: 'InSync',
    });
    expect(String(step?.detail.dataLossSnapshot)).toMatch(/^rds:unplanned-global-failover-orders-east-/);
    expect(mutatingSince(after).map((c) => c.action)).toEqual(['ReplicateSecretToRegions']);
    expect(lock.holderOf('orders-dr')).toBeUndefined();
  });
});

describe('an Aurora replica cluster unit: failover, re-protect, the reversed plan', () => {
  it('re-protect renames the old primary cluster and makes the replica cluster the reversed plan names', async () => {
    // Prepare: billing-east (primary Region, one instance) → its read replica cluster billing-west, and its secret.
    const east = emulator.seed.dbCluster({ region: PRIMARY, id: 'billing-east', engine: 'aurora-mysql' });
    await clients(PRIMARY).rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: 'billing-east-1',
        DBClusterIdentifier: 'billing-east',
        Engine: 'aurora-mysql',
        DBInstanceClass: 'db.r6g.large',
      }),
    );
    emulator.seed.dbCluster({
      region: RECOVERY,
      id: 'billing-west',
      engine: 'aurora-mysql',
      replicationSourceArn: east.arn,
    });
    await promotedSecret('billing/db');
    const plan = planWith(1);
    (plan.units[0] as unknown as Record<string, unknown>).database = {
      engine: 'aurora-mysql',
      primaryClusterId: 'billing-east',
      replicaClusterId: 'billing-west',
    };
    (plan.units[0] as unknown as Record<string, unknown>).secret = { id: 'billing/db' };
    const lock = fakeLockTable();

    // Act
    const failover = await runFlow({ plan, stubs, lock, runId: 'aurora-replica-failover' });
    const reprotect = await runFlow({
      plan: plan as PlanDocument,
      input: { mode: 'reprotect', trigger: 'cli' },
      stubs,
      lock,
      runId: 'aurora-replica-reprotect',
    });
    const reversed = reversePlan(parsePlan(plan)).document;

    // Assess
    expect(failover.status).toBe('succeeded');
    expect(reprotect.error).toBeUndefined();
    expect(reprotect.status).toBe('succeeded');
    const step = reprotect.report?.units[0]?.steps.find((s) => s.step === 'reprotect');
    expect(step?.detail).toMatchObject({
      oldPrimary: 'billing-east',
      replica: 'billing-east',
      replicaStatus: 'available',
      secretReplicationStatus: 'InSync',
    });
    const retiredId = String(step?.detail.oldPrimaryNowNamed);
    expect(retiredId).toMatch(/^billing-east-old-[0-9a-f]{8}$/);
    const primary = clients(PRIMARY).rds;
    const replica = (
      await primary.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'billing-east' }))
    ).DBClusters?.[0];
    const retired = (await primary.send(new DescribeDBClustersCommand({ DBClusterIdentifier: retiredId })))
      .DBClusters?.[0];
    expect(replica?.ReplicationSourceIdentifier).toBe(
      `arn:aws:rds:${RECOVERY}:123456789012:cluster:billing-west`,
    );
    expect(retired?.DBClusterMembers?.map((m) => m.DBInstanceIdentifier)).toEqual(['billing-east-1']);
    // The reversed plan: the promoted cluster is the primary, the new replica cluster (under the old id) the replica.
    expect(reversed.primaryRegion).toBe(RECOVERY);
    expect(reversed.units[0]?.database).toMatchObject({
      engine: 'aurora-mysql',
      primaryClusterId: 'billing-west',
      replicaClusterId: 'billing-east',
    });
    expect(lock.holderOf('orders-dr')).toBeUndefined();
  });
});
