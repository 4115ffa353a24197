import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FailoverPlan, UnitPlan } from '../functions/lib/plan.js';
import type { RunReport } from '../functions/lib/report/index.js';
import { startProvingGround } from '../local/proving-ground.js';
import { runExecution, type SynthesizedOrchestrator } from '../local/runner.js';
import { prepareSwitchoverWriters } from '../local/switchover-writer.js';
import { run } from './child.js';
import { median, round } from './stats.js';

/**
 * The switchover's write-unavailability window next to the failover's recovery time (issue 10, "Bench"), on real
 * database pairs of the proving ground: one world per run (a fresh process, as bench/scenario.ts explains), with two
 * units of one engine, `fo` and `so`. After a warm-up (a dry run, every bundle imported), `fo` fails over and `so`
 * switches over, one after the other, while an application writes to every unit through the CNAME
 * (local/switchover-writer.ts: an application account, one autocommitted row at a time, reconnecting after any error).
 *
 * Figures per run, real seconds at the time factor f (docs/design/switchover.md, "Report"):
 * - failover recovery time: the report's `recoveryTimeSeconds`, from the run's start to the unit verified;
 * - switchover window: the report's `writeUnavailableSeconds`, from the fence (sessions gone, position read) to the
 *   unit verified, the time the application cannot write;
 * - the window as the application saw it: its last acknowledged row on the old primary to its first on the new one;
 * - the switchover's own start-to-verified time and its data-loss figure (0, proven by the compared positions), and
 *   whether every row the application was told was committed is on the new primary.
 */

export type SwitchoverEngine = 'postgres' | 'mariadb';

export interface SwitchoverConfig {
  kind: 'switchover';
  /** The synthesized orchestrator of the example plan (orchestrator.json); the two-unit plan takes its place. */
  orchestratorPath: string;
  engine: SwitchoverEngine;
  timeFactor: number;
}

export interface SwitchoverRun {
  engine: SwitchoverEngine;
  failoverStatus: string;
  switchoverStatus: string;
  failoverRecoverySeconds: number | null;
  switchoverWindowSeconds: number | null;
  /** The application's last acknowledged row on the old primary to its first on the new primary. */
  applicationWindowSeconds: number | null;
  switchoverRecoverySeconds: number | null;
  dataLossTransactions: number | null;
  /** Every row acknowledged to the application is on the new primary (the writer's fact). */
  everyAcknowledgedRowKept: boolean;
  acknowledgedRows: number;
  refusedWrites: number;
  failoverWallMs: number;
  switchoverWallMs: number;
}

export interface SwitchoverBench {
  /** When and under what load this section was measured (`--only switchover` keeps the other sections' header). */
  measuredAt: string;
  loadAverage: { start: number; end: number };
  timeFactor: number;
  runsPerEngine: number;
  engines: SwitchoverEngine[];
  runs: SwitchoverRun[];
}

const FAILOVER_UNIT = 'fo';
const SWITCHOVER_UNIT = 'so';

/** The example plan with two units of `engine`, `fo` and `so`, each with its own secret, instances and record. */
export function switchoverPlan(base: FailoverPlan, engine: SwitchoverEngine): FailoverPlan {
  const template = base.units[0] as UnitPlan;
  const units = [FAILOVER_UNIT, SWITCHOVER_UNIT].map(
    (name): UnitPlan => ({
      ...structuredClone(template),
      name,
      secret: { id: `${name}/db` },
      database: {
        ...template.database,
        engine,
        primaryInstanceId: `${name}-db`,
        replicaInstanceId: `${name}-db-replica`,
      },
      dns: { ...template.dns, recordName: `${name}-db.internal.example.com` },
    }),
  );
  return { ...base, units };
}

/**
 * The orchestrator with another plan in the definition's first (Pass) state, which carries it; the other
 * plan-dependent parts of the definition (MaxConcurrency, the TTL's retry count) are the same for these two units.
 */
function withPlan(orchestrator: SynthesizedOrchestrator, plan: FailoverPlan): SynthesizedOrchestrator {
  const definition = structuredClone(orchestrator.definition) as unknown as {
    StartAt: string;
    States: Record<string, { Type: string; Result?: { plan?: unknown } }>;
  };
  const first = definition.States[definition.StartAt];
  if (first?.Type !== 'Pass' || first.Result?.plan === undefined) {
    throw new Error(`the definition's first state ${definition.StartAt} does not carry the plan`);
  }
  first.Result = { plan };
  return {
    ...orchestrator,
    plan,
    definition: definition as unknown as SynthesizedOrchestrator['definition'],
  };
}

/** Imports every bundle, as bench/scenario.ts does for warm runs; some read their environment at import. */
async function importAll(
  orchestrator: SynthesizedOrchestrator,
  environment: Record<string, string>,
): Promise<void> {
  Object.assign(process.env, environment);
  for (const step of orchestrator.steps) {
    Object.assign(process.env, step.environment);
    await import(pathToFileURL(resolve(step.bundle)).href);
  }
}

/** One world: warm-up, the failover of `fo`, the switchover of `so`, with the application writing throughout. */
export async function switchoverScenario(config: SwitchoverConfig): Promise<SwitchoverRun> {
  const base = JSON.parse(readFileSync(config.orchestratorPath, 'utf8')) as SynthesizedOrchestrator;
  const plan = switchoverPlan(base.plan, config.engine);
  const orchestrator = withPlan(base, plan);
  const world = await startProvingGround({ plan, timeFactor: config.timeFactor });
  let writers: Awaited<ReturnType<typeof prepareSwitchoverWriters>> | undefined;
  try {
    await world.provision(orchestrator);
    const environment = world.environment();
    const execute = (name: string, input: Record<string, unknown>) =>
      runExecution(orchestrator, { input, executionName: name, timeFactor: config.timeFactor, environment });
    // Warm functions, as the one-unit figures have them: a dry run makes the clients, then every bundle is loaded.
    const warm = await execute('bench-so-warmup', {
      mode: 'dry-run',
      trigger: 'cli',
      reason: 'bench warm-up',
    });
    if (warm.status !== 'SUCCEEDED')
      throw new Error(`warm-up dry run ${warm.status}: ${JSON.stringify(warm.error)}`);
    await importAll(orchestrator, environment);

    writers = await prepareSwitchoverWriters(world);
    const failover = await execute('bench-fo', { units: [FAILOVER_UNIT], trigger: 'cli', reason: 'bench' });
    const switchover = await execute('bench-so', {
      mode: 'switchover',
      units: [SWITCHOVER_UNIT],
      trigger: 'cli',
      reason: 'bench',
    });
    const foUnit = (failover.output as RunReport | undefined)?.units.find((u) => u.unit === FAILOVER_UNIT);
    const soReport = switchover.output as RunReport | undefined;
    const soUnit = soReport?.units.find((u) => u.unit === SWITCHOVER_UNIT);
    const facts = (await writers.after?.(soReport)) ?? [];
    const kept = facts.find(
      (f) => f.fact === `${SWITCHOVER_UNIT}: every acknowledged row is on the new primary`,
    );
    const writer = writers.writers.find((w) => w.unit.unit.name === SWITCHOVER_UNIT);
    const fencedAt = soUnit?.switchover?.fencedAt ? Date.parse(soUnit.switchover.fencedAt) : Number.NaN;
    const lastOld = Math.max(
      ...(writer?.acked ?? [])
        .filter((a) => a.address === writer?.unit.primary.address && a.at <= fencedAt)
        .map((a) => a.at),
    );
    const firstNew = Math.min(
      ...(writer?.acked ?? []).filter((a) => a.address === writer?.unit.replica.address).map((a) => a.at),
    );
    const appWindow = (firstNew - lastOld) / 1000;
    return {
      engine: config.engine,
      failoverStatus: failover.status,
      switchoverStatus: switchover.status,
      failoverRecoverySeconds: foUnit?.recoveryTimeSeconds ?? null,
      switchoverWindowSeconds: soUnit?.switchover?.writeUnavailableSeconds ?? null,
      applicationWindowSeconds: Number.isFinite(appWindow) ? round(appWindow, 3) : null,
      switchoverRecoverySeconds: soUnit?.recoveryTimeSeconds ?? null,
      dataLossTransactions: soUnit?.switchover?.dataLossTransactions ?? null,
      everyAcknowledgedRowKept: kept?.ok === true,
      acknowledgedRows: writer?.acked.length ?? 0,
      refusedWrites: writer?.refused.length ?? 0,
      failoverWallMs: round(failover.wallMs, 0),
      switchoverWallMs: round(switchover.wallMs, 0),
    };
  } finally {
    await writers?.close?.();
    await world.close();
  }
}

/** N runs per engine, each in a fresh process; engines interleaved so that a load change hits both alike. */
export async function measureSwitchover(options: {
  orchestratorPath: string;
  engines: SwitchoverEngine[];
  runs: number;
  timeFactor: number;
  log: (line: string) => void;
}): Promise<SwitchoverBench> {
  const runs: SwitchoverRun[] = [];
  const measuredAt = new Date().toISOString();
  const loadStart = loadavg()[0] ?? 0;
  for (let i = 0; i < options.runs; i += 1) {
    for (const engine of options.engines) {
      options.log(`switchover vs failover, ${engine}: run ${i + 1}/${options.runs}`);
      const config: SwitchoverConfig = {
        kind: 'switchover',
        orchestratorPath: options.orchestratorPath,
        engine,
        timeFactor: options.timeFactor,
      };
      const finished = await run(process.execPath, [
        '--import',
        'tsx',
        resolve('bench/switchover.ts'),
        JSON.stringify(config),
      ]);
      const line = finished.stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      if (finished.code !== 0 || !line) {
        throw new Error(
          `switchover ${engine} run failed (exit ${finished.code}):\n${finished.stderr.slice(-3000)}`,
        );
      }
      runs.push(JSON.parse(line.slice('BENCH_RESULT '.length)) as SwitchoverRun);
    }
  }
  return {
    measuredAt,
    loadAverage: { start: loadStart, end: loadavg()[0] ?? 0 },
    timeFactor: options.timeFactor,
    runsPerEngine: options.runs,
    engines: options.engines,
    runs,
  };
}

const figures = (runs: readonly SwitchoverRun[], pick: (r: SwitchoverRun) => number | null) =>
  runs.map(pick).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));

/** The bench's target line: a complete, lossless switchover whose window is shorter than the failover's RTO. */
export function switchoverTarget(b: SwitchoverBench): {
  target: string;
  met: string;
  figure: string;
  why: string;
} {
  const parts = b.engines.map((engine) => {
    const runs = b.runs.filter((r) => r.engine === engine);
    const window = median(figures(runs, (r) => r.switchoverWindowSeconds));
    const rto = median(figures(runs, (r) => r.failoverRecoverySeconds));
    return { engine, runs, window, rto };
  });
  const complete = b.runs.every(
    (r) =>
      r.failoverStatus === 'SUCCEEDED' &&
      r.switchoverStatus === 'SUCCEEDED' &&
      r.dataLossTransactions === 0 &&
      r.everyAcknowledgedRowKept,
  );
  return {
    target:
      'switchover: 0 transactions lost and every acknowledged row kept, its write-unavailability window (fence to verified) beside the failover recovery time',
    met: complete ? 'met' : 'not met',
    figure: parts
      .map(
        (p) =>
          `${p.engine}: window ${round(p.window, 2)} s vs failover RTO ${round(p.rto, 2)} s at f = ${b.timeFactor} (${round(p.window / b.timeFactor, 0)} vs ${round(p.rto / b.timeFactor, 0)} emulated s; medians of ${p.runs.length}); ${p.runs.filter((r) => r.dataLossTransactions === 0 && r.everyAcknowledgedRowKept).length}/${p.runs.length} runs with 0 lost and every acknowledged row on the new primary`,
      )
      .join('; '),
    why: 'the window holds the catch-up, the same promotions, DNS change and verification as a failover, and the fence lifted on the promoted database; the failover recovery time starts at the run (preflight and lock included). Emulated seconds are real seconds / f, so local compute counts 1/f times',
  };
}

const invokedDirectly =
  process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname);
if (invokedDirectly) {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const config = JSON.parse(process.argv[2] ?? '{}') as SwitchoverConfig;
  switchoverScenario(config).then(
    (result) => {
      process.stdout.write(`\nBENCH_RESULT ${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
