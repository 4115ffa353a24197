import { DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAuroraPromotion } from '../../functions/lib/aurora/check.js';
import { replicaClusterDrillNames } from '../../functions/lib/aurora/drill-replica.js';
import { type AuroraStepInput, promoteAurora } from '../../functions/lib/aurora/promote.js';
import {
  checkDrillCopies,
  cleanUpDrillCopies,
  type DrillDeps,
  type DrillPollInput,
  drillNames,
  prepareDrillCopies,
} from '../../functions/lib/drill.js';
import type { PlanDocument } from '../../functions/lib/plan.js';
import type { UnitStepInput } from '../../functions/lib/types.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';
import { STATE_NAMES as N } from '../../statemachine/failover.js';
import { lambdaError, planWith, runFlow, type Stub, statesCalled } from '../helpers/flow-harness.js';

/**
 * Aurora units through the synthesized state machine (issue 15, docs/design/aurora.md): the promotion steps run the
 * real Aurora code against the emulator's clusters and global clusters; the other steps are the harness's stubs. A
 * global database unit fails over (FailoverGlobalCluster) or switches over (SwitchoverGlobalCluster, without
 * lifeboat's fence, catch-up or lift); a replica cluster unit is promoted (PromoteReadReplicaDBCluster); a promote step
 * that dies after its call converges on its retry without a second call; a drill of a replica cluster unit runs the real
 * drill steps (functions/lib/drill.ts) on a new replica cluster.
 */

const PRIMARY = 'us-east-1';
const RECOVERY = 'us-west-2';

let emulator: Emulator;
let rds: RDSClient;
let n = 0;

beforeAll(async () => {
  emulator = await startEmulator({
    timeFactor: 0.001,
    timings: { promoteStartMs: 5_000, promoteModifyingMs: 20_000, promoteRebootingMs: 5_000 },
  });
  rds = new RDSClient(emulator.clientConfig(RECOVERY));
});
afterAll(async () => {
  rds?.destroy();
  await emulator?.close();
});

/** A plan of a global database unit (orders) and an Aurora MySQL replica cluster unit (billing), seeded fresh. */
function auroraWorld() {
  n += 1;
  const ids = {
    global: `orders-global-${n}`,
    east: `orders-east-${n}`,
    west: `orders-west-${n}`,
    billingEast: `billing-east-${n}`,
    billingWest: `billing-west-${n}`,
  };
  emulator.seed.globalCluster({ id: ids.global, engine: 'aurora-postgresql' });
  emulator.seed.dbCluster({
    region: PRIMARY,
    id: ids.east,
    engine: 'aurora-postgresql',
    globalClusterId: ids.global,
  });
  emulator.seed.dbCluster({
    region: RECOVERY,
    id: ids.west,
    engine: 'aurora-postgresql',
    globalClusterId: ids.global,
  });
  const source = emulator.seed.dbCluster({ region: PRIMARY, id: ids.billingEast, engine: 'aurora-mysql' });
  emulator.seed.dbCluster({
    region: RECOVERY,
    id: ids.billingWest,
    engine: 'aurora-mysql',
    replicationSourceArn: source.arn,
  });
  const plan = planWith(2);
  const [orders, billing] = plan.units as unknown as [Record<string, unknown>, Record<string, unknown>];
  orders.database = {
    engine: 'aurora-postgresql',
    globalClusterId: ids.global,
    primaryClusterId: ids.east,
    replicaClusterId: ids.west,
  };
  billing.database = {
    engine: 'aurora-mysql',
    primaryClusterId: ids.billingEast,
    replicaClusterId: ids.billingWest,
  };
  return { plan, globalId: ids.global, ids };
}

/** The promotion steps as the handlers run them for an Aurora unit (functions/promote-database.ts and the check). */
function auroraStubs(extra: Record<string, Stub> = {}): Record<string, Stub> {
  return {
    [N.promoteDatabase]: (input) => promoteAurora({ rds }, input as unknown as AuroraStepInput),
    [N.checkDatabasePromotion]: (input) =>
      checkAuroraPromotion({ rds }, input as unknown as AuroraStepInput & { attempt: number }),
    ...extra,
  };
}

const rdsMutations = (resource: string) =>
  emulator.calls.filter((c) => c.service === 'rds' && c.mutating && c.resource?.includes(resource));

async function writerOf(globalId: string): Promise<string | undefined> {
  const { DescribeGlobalClustersCommand } = await import('@aws-sdk/client-rds');
  const out = await rds.send(new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: globalId }));
  return out.GlobalClusters?.[0]?.GlobalClusterMembers?.find((m) => m.IsWriter)?.DBClusterArn;
}

describe('Aurora units through the state machine', () => {
  it('a failover fails over the global database and promotes the replica cluster, each with one call', async () => {
    const { plan, globalId, ids } = auroraWorld();
    const run = await runFlow({ plan, stubs: auroraStubs(), runId: 'aurora-failover' });
    expect(run.error).toBeUndefined();
    expect(run.status).toBe('succeeded');
    expect(await writerOf(globalId)).toMatch(new RegExp(`:cluster:${ids.west}$`));
    expect(rdsMutations(globalId).map((c) => c.action)).toEqual(['FailoverGlobalCluster']);
    expect(rdsMutations(ids.billingWest).map((c) => c.action)).toEqual(['PromoteReadReplicaDBCluster']);
    expect(run.output?.units.map((u) => [u.unit, u.status])).toEqual([
      ['orders', 'succeeded'],
      ['billing', 'succeeded'],
    ]);
  });

  it("a switchover uses Aurora's SwitchoverGlobalCluster and skips lifeboat's fence, catch-up and lift", async () => {
    const { plan, globalId, ids } = auroraWorld();
    const unitsOnly = { ...plan, units: [plan.units[0]] } as PlanDocument;
    const run = await runFlow({
      plan: unitsOnly,
      input: { mode: 'switchover', trigger: 'cli' },
      stubs: auroraStubs(),
      runId: 'aurora-switchover',
    });
    expect(run.status).toBe('succeeded');
    const states = statesCalled(run, 'orders');
    expect(states).toEqual(
      expect.arrayContaining([N.promoteDatabase, N.checkDatabasePromotion, N.updateDns]),
    );
    expect(states).not.toEqual(expect.arrayContaining([N.fencePrimary]));
    expect(states.filter((s) => [N.fencePrimary, N.checkCatchUp, N.liftFence].includes(s as never))).toEqual(
      [],
    );
    expect(rdsMutations(globalId).map((c) => c.action)).toEqual(['SwitchoverGlobalCluster']);
    expect(await writerOf(globalId)).toMatch(new RegExp(`:cluster:${ids.west}$`));
  });

  it('a promote step that dies after its call is retried and converges without a second call', async () => {
    const { plan, globalId, ids } = auroraWorld();
    let deaths = 0;
    const stubs = auroraStubs({
      [N.promoteDatabase]: async (input) => {
        const result = await promoteAurora({ rds }, input as unknown as AuroraStepInput);
        // The first invocation made its call, then Lambda lost the answer (a transient Lambda error: retried).
        if (deaths++ === 0) throw lambdaError('Lambda.ServiceException');
        return result;
      },
    });
    const run = await runFlow({
      plan: { ...plan, units: [plan.units[0]] } as PlanDocument,
      stubs,
      runId: 'aurora-crash',
    });
    expect(run.status).toBe('succeeded');
    expect(deaths).toBe(2);
    expect(rdsMutations(globalId).map((c) => c.action)).toEqual(['FailoverGlobalCluster']);
    expect(await writerOf(globalId)).toMatch(new RegExp(`:cluster:${ids.west}$`));
  });

  it("a drill of a replica cluster unit promotes a new replica cluster of production's primary, cleans it up, and never changes production", async () => {
    // Prepare: the billing unit alone, with its production secret and zone.
    const { plan, ids } = auroraWorld();
    const billing = { ...plan, units: [plan.units[1]] } as PlanDocument;
    emulator.seed.secret({
      region: PRIMARY,
      name: 'billing/db',
      value: {
        engine: 'mysql',
        host: 'billing-db.internal.example.com',
        port: 3306,
        username: 'admin',
        password: 'x',
      },
      replicaRegions: [RECOVERY],
    });
    emulator.seed.hostedZone({ id: 'Z0LIFEBOAT00EXAMPLE', name: 'internal.example.com' });
    const client = <T>(make: new (config: object) => T, region: string) =>
      new make({ ...emulator.clientConfig(region), maxAttempts: 1 });
    const deps: DrillDeps = {
      primary: { rds: client(RDSClient, PRIMARY), secretsManager: client(SecretsManagerClient, PRIMARY) },
      recovery: {
        rds,
        secretsManager: client(SecretsManagerClient, RECOVERY),
        route53: client(Route53Client, RECOVERY),
      },
    };
    const runId = 'aurora-replica-drill';
    const copy = replicaClusterDrillNames(drillNames(runId, 'billing').instanceId);
    emulator.clearCalls();

    // Act
    const run = await runFlow({
      plan: billing,
      input: { mode: 'drill', trigger: 'cli' },
      runId,
      stubs: auroraStubs({
        [N.prepareDrill]: (input) => prepareDrillCopies(deps, input as unknown as UnitStepInput),
        [N.checkDrillCopies]: (input) => checkDrillCopies(deps, input as unknown as DrillPollInput),
        [N.cleanUpDrill]: (input) => cleanUpDrillCopies(deps, input as unknown as DrillPollInput),
      }),
    });

    // Assess
    expect(run.error).toBeUndefined();
    expect(run.status).toBe('succeeded');
    expect(rdsMutations(copy.clusterId).map((c) => c.action)).toEqual([
      'CreateDBCluster',
      'CreateDBInstance',
      'PromoteReadReplicaDBCluster',
      'DeleteDBInstance',
      'DeleteDBCluster',
    ]);
    expect(rdsMutations(ids.billingWest)).toEqual([]);
    expect(rdsMutations(ids.billingEast)).toEqual([]);
    const production = await rds.send(
      new DescribeDBClustersCommand({ DBClusterIdentifier: ids.billingWest }),
    );
    expect(production.DBClusters?.[0]?.ReplicationSourceIdentifier).toMatch(
      new RegExp(`:cluster:${ids.billingEast}$`),
    );
    for (const c of [
      deps.primary.rds,
      deps.primary.secretsManager,
      deps.recovery.secretsManager,
      deps.recovery.route53,
    ])
      c.destroy();
  });
});
