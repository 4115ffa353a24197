import { DescribeGlobalClustersCommand, RDSClient } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuroraUnitPlan } from '../../functions/lib/plan.js';
import { isAuroraUnit } from '../../functions/lib/plan-names.js';
import type { RunReport } from '../../functions/lib/report/index.js';
import { loadPlanFile } from '../../infra/lifeboat-app.js';
import { checkFacts, type Fact } from '../../local/drill-command.js';
import { type ProvingGround, startProvingGround } from '../../local/proving-ground.js';
import { type RunResult, runExecution, type SynthesizedOrchestrator } from '../../local/runner.js';
import { loadOrSynthesize } from '../../local/synthesize.js';

/**
 * examples/plan-aurora.json end to end on the proving ground: an Aurora PostgreSQL global database unit and an RDS
 * PostgreSQL instance unit fail over together. The global cluster's endpoints are backed by real PostgreSQL servers
 * (docs/design/aurora-drill.md, "The real databases"): FailoverGlobalCluster promotes the secondary's server for real,
 * the CNAME follows to its cluster endpoint, verify writes there over TLS, and the old primary rejoins as a replica.
 */

const PLAN_PATH = 'examples/plan-aurora.json';
const PASSWORD = `marker-${Math.random().toString(36).slice(2)}-never-logged`;

describe('the Aurora plan (a global database and an instance unit) through the proving ground', () => {
  let orchestrator: SynthesizedOrchestrator;
  let world: ProvingGround;
  let run: RunResult;
  let facts: Fact[];
  let ledger: AuroraUnitPlan;

  const inRecovery = async (id: string) =>
    (await world.query(id, 'SELECT pg_is_in_recovery() AS r'))[0]?.r === true;

  beforeAll(async () => {
    const [synthesized, started] = await Promise.allSettled([
      loadOrSynthesize(PLAN_PATH),
      startProvingGround({ plan: loadPlanFile(PLAN_PATH), timeFactor: 0.02, password: PASSWORD }),
    ]);
    if (started.status === 'fulfilled') world = started.value;
    if (synthesized.status === 'rejected') throw synthesized.reason;
    if (started.status === 'rejected') throw started.reason;
    orchestrator = synthesized.value;
    const unit = world.plan.units.find(isAuroraUnit);
    if (!unit) throw new Error(`${PLAN_PATH} has no Aurora unit`);
    ledger = unit;
    await world.provision(orchestrator);
    run = await runExecution(orchestrator, {
      input: { mode: 'failover', trigger: 'cli', reason: 'Aurora e2e' },
      executionName: 'e2e-aurora',
      timeFactor: 0.02,
      environment: world.environment(),
    });
    facts = await checkFacts(world);
  }, 600_000);

  afterAll(async () => {
    await world?.close();
  });

  it('fails over both units, each verified writable over TLS at its promoted endpoint', () => {
    expect(run.error, JSON.stringify(run.error)).toBeUndefined();
    expect(run.status).toBe('SUCCEEDED');
    const report = run.output as RunReport;
    expect(report.outcome).toBe('succeeded');
    expect(report.units.map((u) => [u.unit, u.status])).toEqual([
      ['ledger', 'succeeded'],
      ['orders', 'succeeded'],
    ]);
    const verified = report.units
      .find((u) => u.unit === 'ledger')
      ?.steps.find((s) => s.step === 'verifyConnectivity');
    expect(verified?.detail).toMatchObject({ tls: true, writable: true });
    // The certificate names the cluster endpoint in its SAN (verify checked it); its CN is the endpoint's first label,
    // as the endpoint is longer than X.509's 64 characters (local/databases/tls.ts, commonName).
    const endpoint = world.units.get('ledger')?.replicaEndpoint ?? '';
    expect(endpoint.length).toBeGreaterThan(64);
    expect(verified?.detail?.tlsSubject).toBe(endpoint.split('.')[0]);
  });

  it('every fact holds on the real servers and DNS', () => {
    expect(facts.filter((f) => !f.ok)).toEqual([]);
    expect(facts.some((f) => f.fact.startsWith('ledger:'))).toBe(true);
  });

  it('made the secondary cluster the writer, promoted its server, and the old primary rejoined as a replica', async () => {
    const rds = new RDSClient({ ...world.emulator.clientConfig(world.plan.recoveryRegion), maxAttempts: 1 });
    try {
      const out = await rds.send(
        new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: ledger.database.globalClusterId }),
      );
      const writer = out.GlobalClusters?.[0]?.GlobalClusterMembers?.find((m) => m.IsWriter)?.DBClusterArn;
      expect(writer).toMatch(new RegExp(`:cluster:${ledger.database.replicaClusterId}$`));
    } finally {
      rds.destroy();
    }
    expect(await inRecovery(ledger.database.replicaClusterId)).toBe(false);
    const deadline = Date.now() + 30_000;
    while (
      !(await inRecovery(ledger.database.primaryClusterId).catch(() => false)) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await inRecovery(ledger.database.primaryClusterId)).toBe(true);
    expect(world.cluster.get(ledger.database.primaryClusterId).sourceId).toBe(
      ledger.database.replicaClusterId,
    );
  });
});
