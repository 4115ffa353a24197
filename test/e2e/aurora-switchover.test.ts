import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuroraUnitPlan } from '../../functions/lib/plan.js';
import { isAuroraUnit } from '../../functions/lib/plan-names.js';
import type { RunReport } from '../../functions/lib/report/index.js';
import { loadPlanFile } from '../../infra/lifeboat-app.js';
import { type ProvingGround, startProvingGround } from '../../local/proving-ground.js';
import { type RunResult, runExecution, type SynthesizedOrchestrator } from '../../local/runner.js';
import { loadOrSynthesize } from '../../local/synthesize.js';

/**
 * The planned switchover of examples/plan-aurora.json's global database unit on the proving ground
 * (`--mode switchover`): an application commits numbered rows on the Aurora primary's server throughout; lifeboat's
 * SwitchoverGlobalCluster makes the emulator fence that server, wait until the secondary has replayed everything and
 * promote it (docs/design/aurora-drill.md, "The real databases"). Every acknowledged row is on the new writer: zero
 * data loss. Only the Aurora unit switches over (`units`); the instance unit's switchover is test/e2e/switchover.test.ts.
 */

const PLAN_PATH = 'examples/plan-aurora.json';
const PASSWORD = `marker-${Math.random().toString(36).slice(2)}-never-logged`;

describe('an Aurora global database switchover with an application writing throughout', () => {
  let orchestrator: SynthesizedOrchestrator;
  let world: ProvingGround;
  let run: RunResult;
  let ledger: AuroraUnitPlan;
  const acknowledged: string[] = [];

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
    let writing = true;
    let n = 0;
    const writer = (async () => {
      while (writing) {
        let client: pg.Client | undefined;
        try {
          client = new pg.Client({
            ...world.cluster.clientConfig(ledger.database.primaryClusterId),
            connectionTimeoutMillis: 2000,
          });
          client.on('error', () => undefined);
          await client.connect();
          while (writing) {
            const item = `app-${++n}`;
            await client.query('INSERT INTO orders (item) VALUES ($1)', [item]);
            acknowledged.push(item);
            await new Promise((r) => setTimeout(r, 5));
          }
        } catch {
          await new Promise((r) => setTimeout(r, 20)); // fenced or rebuilt: try again, as an application would
        } finally {
          await client?.end().catch(() => undefined);
        }
      }
    })();
    try {
      run = await runExecution(orchestrator, {
        input: { mode: 'switchover', units: [ledger.name], trigger: 'cli', reason: 'Aurora switchover e2e' },
        executionName: 'e2e-aurora-switchover',
        timeFactor: 0.02,
        environment: world.environment(),
      });
    } finally {
      writing = false;
      await writer;
    }
  }, 600_000);

  afterAll(async () => {
    await world?.close();
  });

  it('switches the global database over', () => {
    expect(run.error, JSON.stringify(run.error)).toBeUndefined();
    expect(run.status).toBe('SUCCEEDED');
    const report = run.output as RunReport;
    expect(report.units.map((u) => [u.unit, u.status])).toEqual([['ledger', 'succeeded']]);
  });

  it('loses no acknowledged write: every row the application was told was committed is on the new writer', async () => {
    expect(acknowledged.length).toBeGreaterThan(0);
    const rows = await world.query(
      ledger.database.replicaClusterId,
      "SELECT item FROM orders WHERE item LIKE 'app-%'",
    );
    const onNewWriter = new Set(rows.map((r) => r.item));
    expect(acknowledged.filter((item) => !onNewWriter.has(item))).toEqual([]);
    const [state] = await world.query(ledger.database.replicaClusterId, 'SELECT pg_is_in_recovery() AS r');
    expect(state?.r).toBe(false);
  });
});
