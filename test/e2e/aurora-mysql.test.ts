import { DescribeGlobalClustersCommand, RDSClient } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuroraUnitPlan, FailoverPlan } from '../../functions/lib/plan.js';
import type { RunReport } from '../../functions/lib/report/index.js';
import { loadPlanFile } from '../../infra/lifeboat-app.js';
import { mariadbMissing } from '../../local/databases/mariadb-cluster.js';
import type { Fact } from '../../local/drill-command.js';
import type { CallLogEntry } from '../../local/emulator/types.js';
import { type ProvingGround, startProvingGround } from '../../local/proving-ground.js';
import { type RunResult, runExecution, type SynthesizedOrchestrator } from '../../local/runner.js';
import { prepareSwitchoverWriters } from '../../local/switchover-writer.js';
import { loadOrSynthesize } from '../../local/synthesize.js';
import { applied, unitFacts, withPlan } from '../evidence/support.js';

/**
 * Aurora MySQL global database units end to end on real MariaDB servers (docs/design/aurora-drill.md, "The real
 * databases"; MySQL runs on MariaDB here, docs/design/local-mariadb.md). One world: examples/plan-aurora-mysql.json's
 * unit `catalog`, and a second global database unit `inventory` built from it here (same settings, its own clusters),
 * both through the orchestrator synthesized for the example plan.
 * - `catalog` fails over (FailoverGlobalCluster, AllowDataLoss): the secondary's server promoted for real, the CNAME
 *   on its cluster endpoint, verify writes there over TLS, every fact holds, and the old writer rejoins as a replica.
 * - `inventory` switches over (`mode: "switchover"`, SwitchoverGlobalCluster) while an application writes numbered
 *   rows through the CNAME throughout (local/switchover-writer.ts): every acknowledged row is on the new writer, the
 *   old writer acknowledged nothing once the promotion was done, and writes resume through the CNAME.
 */

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

const PLAN_PATH = 'examples/plan-aurora-mysql.json';
const PASSWORD = `marker-${Math.random().toString(36).slice(2)}-never-logged`;
const missing = mariadbMissing();
if (missing) console.warn(`Aurora MySQL e2e: ${missing}; skipping`);

/** The example plan and a second global database unit of the same shape. */
function twoUnitPlan(): FailoverPlan {
  const plan = loadPlanFile(PLAN_PATH);
  const template = plan.units[0] as AuroraUnitPlan;
  const inventory: AuroraUnitPlan = {
    ...structuredClone(template),
    name: 'inventory',
    secret: { id: 'inventory/db' },
    database: {
      ...template.database,
      globalClusterId: 'inventory-global',
      primaryClusterId: 'inventory-aurora',
      replicaClusterId: 'inventory-aurora-dr',
    },
    dns: { ...template.dns, recordName: 'inventory-db.internal.example.com' },
    verify: { ...template.verify, database: 'inventory' },
  };
  return { ...plan, units: [template, inventory] };
}

describe.skipIf(missing !== undefined)('Aurora MySQL global database units on real MariaDB', () => {
  let orchestrator: SynthesizedOrchestrator;
  let world: ProvingGround;
  let rds: RDSClient;
  let failover: RunResult;
  let failoverCalls: CallLogEntry[];
  let failoverFacts: Fact[];
  let switchover: RunResult;
  let switchoverCalls: CallLogEntry[];
  let switchoverFacts: Fact[];
  let writerFacts: Fact[];

  const readOnly = async (id: string) =>
    Number((await world.query(id, 'SELECT @@global.read_only AS r'))[0]?.r) === 1;
  const writerOf = async (globalId: string) =>
    (
      await rds.send(new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: globalId }))
    ).GlobalClusters?.[0]?.GlobalClusterMembers?.find((m) => m.IsWriter)?.DBClusterArn;
  const execute = async (name: string, input: Record<string, unknown>) => {
    const from = world.emulator.calls.length;
    const result = await runExecution(orchestrator, {
      input,
      executionName: name,
      timeFactor: 0.02,
      environment: world.environment(),
    });
    return { result, calls: world.emulator.calls.slice(from) };
  };

  beforeAll(async () => {
    const plan = twoUnitPlan();
    const [synthesized, started] = await Promise.allSettled([
      loadOrSynthesize(PLAN_PATH),
      startProvingGround({ plan, timeFactor: 0.02, password: PASSWORD }),
    ]);
    if (started.status === 'fulfilled') world = started.value;
    if (synthesized.status === 'rejected') throw synthesized.reason;
    if (started.status === 'rejected') throw started.reason;
    orchestrator = withPlan(synthesized.value, plan);
    await world.provision(orchestrator);
    rds = new RDSClient({ ...world.emulator.clientConfig(plan.recoveryRegion), maxAttempts: 1 });

    // Act: the failover of one unit, then the switchover of the other with an application writing throughout
    ({ result: failover, calls: failoverCalls } = await execute('e2e-aurora-mysql-failover', {
      mode: 'failover',
      units: ['catalog'],
      trigger: 'cli',
      reason: 'Aurora MySQL e2e: failover',
    }));
    failoverFacts = await unitFacts(world, ['catalog']);
    const writers = await prepareSwitchoverWriters(world, { units: ['inventory'] });
    try {
      ({ result: switchover, calls: switchoverCalls } = await execute('e2e-aurora-mysql-switchover', {
        mode: 'switchover',
        units: ['inventory'],
        trigger: 'cli',
        reason: 'Aurora MySQL e2e: switchover',
      }));
      writerFacts = (await writers.after?.(switchover.output as RunReport | undefined)) ?? [];
    } finally {
      await writers.close?.();
    }
    switchoverFacts = await unitFacts(world, ['inventory']);
  }, 600_000);

  afterAll(async () => {
    rds?.destroy();
    await world?.close();
  });

  it('fails over the catalog unit with one FailoverGlobalCluster, every fact holding on MariaDB and DNS', async () => {
    expect(failover.error, JSON.stringify(failover.error)).toBeUndefined();
    expect(failover.status).toBe('SUCCEEDED');
    const report = failover.output as RunReport;
    expect(report.units.map((u) => [u.unit, u.engine, u.status])).toEqual([
      ['catalog', 'aurora-mysql', 'succeeded'],
    ]);
    expect(report.units[0]?.steps.find((s) => s.step === 'verifyConnectivity')?.detail).toMatchObject({
      tls: true,
      writable: true,
    });
    expect(failoverFacts.filter((f) => !f.ok)).toEqual([]);
    expect(failoverFacts).toHaveLength(5);
    expect(applied(failoverCalls, 'FailoverGlobalCluster')).toHaveLength(1);
    expect(applied(failoverCalls, 'SwitchoverGlobalCluster')).toEqual([]);
    expect(await writerOf('catalog-global')).toMatch(/:cluster:catalog-aurora-dr$/);
    expect(await readOnly('catalog-aurora-dr')).toBe(false);
  });

  it('the old catalog writer rejoins as a read-only replica of the new one', async () => {
    const deadline = Date.now() + 30_000;
    while (
      !(
        world.mariadb.get('catalog-aurora').sourceId === 'catalog-aurora-dr' &&
        (await readOnly('catalog-aurora'))
      ) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(world.mariadb.get('catalog-aurora').sourceId).toBe('catalog-aurora-dr');
    expect(await readOnly('catalog-aurora')).toBe(true);
  });

  it('switches the inventory unit over with SwitchoverGlobalCluster, losing no acknowledged write', async () => {
    expect(switchover.error, JSON.stringify(switchover.error)).toBeUndefined();
    expect(switchover.status).toBe('SUCCEEDED');
    const report = switchover.output as RunReport;
    expect(report.units.map((u) => [u.unit, u.status])).toEqual([['inventory', 'succeeded']]);
    // Aurora fences its old writer itself: lifeboat's fence and catch-up are not in an Aurora unit's path
    const steps = Object.fromEntries((report.units[0]?.steps ?? []).map((s) => [s.step, s.status]));
    expect(steps.fencePrimary ?? 'not-reached').toBe('not-reached');
    expect(applied(switchoverCalls, 'SwitchoverGlobalCluster')).toHaveLength(1);
    expect(applied(switchoverCalls, 'FailoverGlobalCluster')).toEqual([]);
    expect(await writerOf('inventory-global')).toMatch(/:cluster:inventory-aurora-dr$/);
    // The application: every acknowledged row on the new writer, none on the old after the promotion, resumed
    expect(writerFacts.map((f) => f.fact)).toEqual([
      'inventory: every acknowledged row is on the new primary',
      'inventory: the old writer acknowledged no row after the switchover',
      'inventory: writes resumed on the new primary through the CNAME',
    ]);
    expect(writerFacts.filter((f) => !f.ok)).toEqual([]);
    expect(switchoverFacts.filter((f) => !f.ok)).toEqual([]);
    expect(switchoverFacts).toHaveLength(5);
    // The old writer is a read-only secondary replicating from the new one (Aurora keeps the topology)
    expect(world.mariadb.get('inventory-aurora').sourceId).toBe('inventory-aurora-dr');
  });
});
