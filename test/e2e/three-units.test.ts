import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../functions/lib/report/index.js';
import { loadPlanFile } from '../../infra/lifeboat-app.js';
import { mariadbMissing } from '../../local/databases/mariadb-cluster.js';
import { checkFacts } from '../../local/drill-command.js';
import { type ProvingGround, startProvingGround } from '../../local/proving-ground.js';
import { type RunResult, runExecution, type SynthesizedOrchestrator } from '../../local/runner.js';
import { loadOrSynthesize } from '../../local/synthesize.js';

/**
 * The three-unit plan (PostgreSQL, MySQL, MariaDB) end to end on the proving ground: a real PostgreSQL pair and two
 * real MariaDB pairs (the MySQL unit runs on MariaDB: docs/design/local-mariadb.md), every server serving TLS with a
 * certificate for its emulated RDS endpoint (the plan requires TLS), the secret of one unit named by its ARN.
 */

const PLAN_PATH = 'examples/plan-three-units.json';
const PASSWORD = `marker-${Math.random().toString(36).slice(2)}-never-logged`;
const missing = mariadbMissing();
if (missing) console.warn(`three-unit e2e: ${missing}; skipping`);

describe.skipIf(missing !== undefined)('the three-unit plan through the proving ground', () => {
  let orchestrator: SynthesizedOrchestrator;
  let world: ProvingGround;
  let run: RunResult;

  beforeAll(async () => {
    // Both settle before anything throws: a world that came up beside a failed synthesis is still closed (afterAll).
    const [synthesized, started] = await Promise.allSettled([
      loadOrSynthesize(PLAN_PATH),
      startProvingGround({ plan: loadPlanFile(PLAN_PATH), timeFactor: 0.02, password: PASSWORD }),
    ]);
    if (started.status === 'fulfilled') world = started.value;
    if (synthesized.status === 'rejected') throw synthesized.reason;
    if (started.status === 'rejected') throw started.reason;
    orchestrator = synthesized.value;
    await world.provision(orchestrator);
    run = await runExecution(orchestrator, {
      input: { mode: 'failover', trigger: 'cli', reason: 'three-unit e2e' },
      executionName: 'e2e-three-units',
      timeFactor: 0.02,
      environment: world.environment(),
    });
  }, 600_000); // a cold synthesis with bundling takes minutes on a loaded 2-core machine

  afterAll(async () => {
    await world?.close();
  });

  it('runs each unit on the real server of its engine family', () => {
    const software = Object.fromEntries([...world.units.values()].map((u) => [u.unit.name, u.software]));
    expect(software.orders).toMatch(/^PostgreSQL /);
    expect(software.catalog).toMatch(/^MariaDB 10\./);
    expect(software.sessions).toMatch(/^MariaDB 10\./);
    expect(
      world.mariadb
        .list()
        .map((s) => s.id)
        .sort(),
    ).toEqual(['catalog-db', 'catalog-db-dr', 'sessions-db', 'sessions-db-dr']);
  });

  it('fails over all three units, each verified over TLS, the MySQL-family ones by a written row', () => {
    expect(run.error, JSON.stringify(run.error)).toBeUndefined();
    expect(run.status).toBe('SUCCEEDED');
    const report = run.output as RunReport;
    expect(report.outcome).toBe('succeeded');
    expect(report.units.map((u) => [u.unit, u.status])).toEqual([
      ['orders', 'succeeded'],
      ['catalog', 'succeeded'],
      ['sessions', 'succeeded'],
    ]);
    const verified = Object.fromEntries(
      report.units.map((u) => [u.unit, u.steps.find((s) => s.step === 'verifyConnectivity')?.detail]),
    );
    expect(verified.orders).toMatchObject({ tls: true, writable: true, writeProbe: 'temp-table' });
    expect(verified.catalog).toMatchObject({ tls: true, writable: true, writeProbe: 'scratch-table' });
    expect(verified.sessions).toMatchObject({ tls: true, writable: true, writeProbe: 'scratch-table' });
    expect(String(verified.catalog?.serverVersion)).toMatch(/MariaDB/);
    for (const u of ['catalog', 'sessions'] as const) {
      expect(verified[u]?.tlsSubject).toBe(world.units.get(u)?.replicaEndpoint);
    }
  });

  it('every fact holds on the real servers and DNS', async () => {
    const facts = await checkFacts(world);
    expect(facts.filter((f) => !f.ok)).toEqual([]);
    expect(facts).toHaveLength(15);
    const catalog = facts.find((f) => f.fact === 'catalog: replica is writable');
    expect(catalog?.detail).toMatch(
      /@@global\.read_only = 0; INSERT accepted \(MySQL unit, served by MariaDB/,
    );
  });

  it('promoted the MariaDB replicas for real (replication gone, read_only off) and left no probe table', async () => {
    for (const id of ['catalog-db-dr', 'sessions-db-dr']) {
      const [state] = await world.query(
        id,
        "SELECT @@global.read_only AS ro, (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_RUNNING') AS slave",
      );
      expect(state).toMatchObject({ ro: 0, slave: 'OFF' });
      expect(await world.query(id, "SHOW TABLES LIKE 'lifeboat_verify_probe'")).toEqual([]);
      expect(world.mariadb.get(id).role).toBe('primary');
    }
    // The old primaries are untouched: still primaries, still writable (the emulator does not stop them).
    expect(world.mariadb.get('catalog-db').role).toBe('primary');
  });

  it('seeded the unit named by ARN with exactly that ARN in the recovery Region', () => {
    const orders = world.units.get('orders');
    expect(orders?.replicaSecretArn).toBe(orders?.unit.secret.id);
  });
});
