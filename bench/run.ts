import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadPlanFile } from '../infra/lifeboat-app.js';
import type { SynthesizedOrchestrator } from '../local/runner.js';
import { loadOrSynthesize } from '../local/synthesize.js';
import { measureBundles } from './bundles.js';
import { scenario, synthesizePlan } from './child.js';
import { drillCached, drillUncached } from './drill.js';
import { describeMachine } from './machine.js';
import { documentedRateLimits } from './rate-limits.js';
import { type BenchResults, renderMarkdown, type ScaleRow, type Target } from './render.js';
import { scalePlan } from './scale-world.js';
import type { OneUnitResult, ScaleResult } from './scenario.js';
import {
  dnsLagSweep,
  fixedScheduleTimeline,
  lifeboatDnsTimeline,
  lifeboatPromotionTimeline,
  promotionLagSweep,
  promotionSeconds,
} from './schedules.js';
import { median, round } from './stats.js';
import { measureSwitchover, type SwitchoverEngine, switchoverTarget } from './switchover.js';

/**
 * `npm run bench` (`tsx bench/run.ts`): measures lifeboat on the local proving ground and writes
 * bench/results.md and bench/results.json. The figures are reported as they are, met or not; see the header of
 * results.md for what each one means and how it was reduced to fit a 2-core machine.
 */

const USAGE = `usage: tsx bench/run.ts [--reps N] [--scale-reps N] [--scale100-reps N] [--drill-runs N] [--uncached-drill-runs N]
  [--import-runs N] [--switchover-runs N] [--switchover-engines postgres,mariadb] [--scale-factor F]
  [--scale-units 1,10,100,500]
  [--skip drill,scale,bundles,overhead,switchover] [--only SECTION] [--out DIR] [--render-only]
  --render-only: no runs; recomputes the targets of DIR/results.json and writes DIR/results.md again
  --only SECTION: runs that section alone (e.g. --only switchover) and puts it into DIR/results.json, keeping the
    other sections' figures, then writes DIR/results.md again`;

const SECTIONS = ['bundles', 'overhead', 'scale', 'drill', 'switchover'] as const;

const PLAN_PATH = 'examples/plan.json';
/** Time factor of the one-unit runs (the drill's default): an 85 s promotion takes 1.7 s. */
const ONE_UNIT_FACTOR = 0.02;
/**
 * Time factor of the scale runs: 1, AWS's own time. Every unit's handlers, the emulator and the engine share one Node
 * process here, where a deployed run gives each step its own Lambda environment. At f = 0.1 that compute counted ten
 * times against AWS's durations, and the SDK's real-time timeouts and retry back-off were ten times longer than the
 * state machine's scaled retries: the 500-unit runs starved (event loop 100% busy) and failed on client timeouts with
 * nothing throttled. At f = 1 the rate limits, the SDK's back-off and the state machine's retries keep AWS's
 * proportions; the compute still runs on one process (bench/results.md, section 2).
 */
const SCALE_FACTOR = 1;
/** The slow secret promotion of the critical-path comparison (emulated seconds on StopReplicationToReplica). */
const SLOW_SECRET_SECONDS = 40;
/** The scale plan's Map concurrency: the run's size, the most the plan schema allows (functions/lib/plan.ts). */
const PLAN_MAX_CONCURRENCY = 500;
const SCALE_UNITS = [1, 10, 100, 500] as const;
/** Issue 14's targets at the largest size. */
const SCALE_TARGET_RATIO = 1.5;
const DETECTION_TARGET_SECONDS = 5;

/**
 * Steps a single unit's failover passes through one after another, outside the poll loops (the longer promotion
 * branch is the database's; verification is longer than rotation). The polls' first import happens while AWS is
 * still working, so it is not counted.
 */
const CRITICAL_PATH_STEPS: readonly string[] = [
  'loadPlan',
  'preflight',
  'acquireLock',
  'promoteDatabase',
  'updateDns',
  'verifyConnectivity',
  'summarizeUnit',
  'report',
  'releaseLock',
];

function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      reps: { type: 'string', default: '3' },
      'scale-reps': { type: 'string', default: '2' },
      'scale100-reps': { type: 'string', default: '2' },
      'drill-runs': { type: 'string', default: '3' },
      'uncached-drill-runs': { type: 'string', default: '1' },
      'import-runs': { type: 'string', default: '5' },
      'switchover-runs': { type: 'string', default: '3' },
      'switchover-engines': { type: 'string', default: 'postgres,mariadb' },
      'scale-factor': { type: 'string', default: String(SCALE_FACTOR) },
      'scale-units': { type: 'string', default: SCALE_UNITS.join(',') },
      skip: { type: 'string', default: '' },
      only: { type: 'string' },
      out: { type: 'string', default: 'bench' },
      help: { type: 'boolean', default: false },
      'render-only': { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (values['render-only']) {
    const out = resolve(String(values.out));
    // JSON has no NaN: a ratio without a complete run was written as null.
    const results = JSON.parse(readFileSync(resolve(out, 'results.json'), 'utf8'), (key, value) =>
      key === 'ratioToOneUnit' && value === null ? Number.NaN : value,
    ) as BenchResults;
    results.targets = targets(results);
    writeFileSync(resolve(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(resolve(out, 'results.md'), renderMarkdown(results));
    return;
  }
  const count = (name: keyof typeof values) => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${String(name)}: expected a whole number >= 1`);
    return n;
  };
  const reps = count('reps');
  const scaleReps = count('scale-reps');
  const scale100Reps = count('scale100-reps');
  const drillRuns = count('drill-runs');
  const uncachedDrillRuns = count('uncached-drill-runs');
  const importRuns = count('import-runs');
  const switchoverRuns = count('switchover-runs');
  const switchoverEngines = String(values['switchover-engines']).split(',').filter(Boolean);
  const scaleFactor = Number(values['scale-factor']);
  if (!(scaleFactor > 0 && scaleFactor <= 1))
    throw new Error('--scale-factor: expected a number above 0, at most 1');
  const scaleUnits = String(values['scale-units'])
    .split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n >= 1 && n <= 500);
  if (!scaleUnits.includes(1)) throw new Error('--scale-units: must include 1 (the baseline of the ratios)');
  for (const engine of switchoverEngines) {
    if (engine !== 'postgres' && engine !== 'mariadb')
      throw new Error(`--switchover-engines: ${engine} is not postgres or mariadb`);
  }
  const only = values.only;
  if (only !== undefined && !(SECTIONS as readonly string[]).includes(only)) {
    throw new Error(`--only: ${only} is not one of ${SECTIONS.join(', ')}`);
  }
  const skip = new Set(
    only !== undefined ? SECTIONS.filter((x) => x !== only) : String(values.skip).split(',').filter(Boolean),
  );
  const started = Date.now();
  const machine = describeMachine();
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores, load ${machine.loadAverage.start.toFixed(2)}`);

  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const examplePlan = loadPlanFile(PLAN_PATH);
  log(`synthesizing ${PLAN_PATH} (cached in bench/.cache)`);
  const example = await synthesizePlan(examplePlan, 'example');
  const orchestrator = JSON.parse(readFileSync(example.orchestratorPath, 'utf8')) as SynthesizedOrchestrator;

  const results: BenchResults = {
    machine,
    settings: {
      plan: PLAN_PATH,
      oneUnitTimeFactor: ONE_UNIT_FACTOR,
      scaleTimeFactor: scaleFactor,
      slowSecretSeconds: SLOW_SECRET_SECONDS,
      reps,
      scaleReps,
      scale100Reps,
      drillRuns,
      uncachedDrillRuns,
      importRuns,
      planMaxConcurrency: PLAN_MAX_CONCURRENCY,
    },
    targets: [],
  };

  // 3. Bundles first: the overhead's cold estimate uses their import times.
  if (!skip.has('bundles')) {
    log(`bundles: size and cold import (${importRuns} fresh processes each)`);
    results.bundles = await measureBundles(orchestrator, importRuns, {
      AWS_REGION: examplePlan.recoveryRegion,
    });
  }

  // 1. One unit: overhead, detection lag, critical path (parallel vs the seed's sequential order).
  if (!skip.has('overhead')) {
    const parallel: OneUnitResult[] = [];
    const sequential: OneUnitResult[] = [];
    for (let i = 0; i < reps; i += 1) {
      for (const order of ['parallel', 'sequential'] as const) {
        log(
          `one unit, ${order} promotions, warm, secret promotion ${SLOW_SECRET_SECONDS} s: run ${i + 1}/${reps}`,
        );
        const r = await scenario<OneUnitResult>({
          kind: 'one-unit',
          orchestratorPath: example.orchestratorPath,
          timeFactor: ONE_UNIT_FACTOR,
          order,
          secretLatencySeconds: SLOW_SECRET_SECONDS,
          warmup: true,
        });
        if (r.status !== 'SUCCEEDED')
          throw new Error(`one-unit ${order} run ${r.status}: ${JSON.stringify(r.error)}`);
        (order === 'parallel' ? parallel : sequential).push(r);
      }
    }
    const first = parallel[0] as OneUnitResult;
    const phases = {
      startSeconds: first.emulated.promotionPhases.start,
      modifyingSeconds: first.emulated.promotionPhases.modifying,
      rebootingSeconds: first.emulated.promotionPhases.rebooting,
    };
    const dbSeconds = promotionSeconds(phases);
    const dnsSeconds = first.emulated.route53Change;
    const pollStepSeconds = median(parallel.map((r) => r.pollIterationComputeMs)) / 1000;
    const lifeboatDb = lifeboatPromotionTimeline(phases, pollStepSeconds);
    const lifeboatDns = lifeboatDnsTimeline(dnsSeconds, pollStepSeconds);
    const drfDb = fixedScheduleTimeline(dbSeconds, pollStepSeconds);
    const drfDns = fixedScheduleTimeline(dnsSeconds, pollStepSeconds);
    const warmComputeMs = median(parallel.map((r) => r.computeOutsideLoopsMs));
    const onPath = (results.bundles ?? []).filter((b) => CRITICAL_PATH_STEPS.includes(b.step));
    const importOnPath = results.bundles ? onPath.reduce((a, b) => a + b.medianImportMs, 0) : Number.NaN;
    const importOnPathMin = results.bundles
      ? onPath.reduce((a, b) => a + Math.min(...b.importMs), 0)
      : Number.NaN;
    const overhead = (lags: number, computeMs: number) => round(computeMs / 1000 + lags, 2);
    results.overhead = {
      emulated: { phases, databaseSeconds: dbSeconds, dnsSeconds },
      pollStepSeconds: round(pollStepSeconds, 3),
      warmComputeMs: parallel.map((r) => round(r.computeOutsideLoopsMs, 0)),
      warmComputeAllMs: parallel.map((r) => round(r.computeMs, 0)),
      loopsMs: parallel.map((r) => ({
        database: round(r.loopsMs.database, 0),
        dns: round(r.loopsMs.dns, 0),
      })),
      coldComputeEstimateMs: round(warmComputeMs + importOnPath, 0),
      importOnPathMs: round(importOnPath, 0),
      importOnPathMinMs: round(importOnPathMin, 0),
      detection: {
        database: {
          lifeboatScheduleLag: round(lifeboatDb.lagSeconds, 2),
          lifeboatPolls: lifeboatDb.polls.length,
          lifeboatMeasuredLag: parallel.map((r) => round(r.database.measuredLagSeconds, 2)),
          drfLag: round(drfDb.lagSeconds, 2),
          drfPolls: drfDb.polls.length,
        },
        dns: {
          lifeboatScheduleLag: round(lifeboatDns.lagSeconds, 2),
          lifeboatPolls: lifeboatDns.polls.length,
          lifeboatMeasuredLag: parallel.map((r) => round(r.dns.measuredLagSeconds, 2)),
          drfLag: round(drfDns.lagSeconds, 2),
          drfPolls: drfDns.polls.length,
        },
      },
      sweeps: {
        database: promotionLagSweep(phases, pollStepSeconds),
        dns: dnsLagSweep(pollStepSeconds),
      },
      totals: {
        lifeboatWarm: overhead(lifeboatDb.lagSeconds + lifeboatDns.lagSeconds, warmComputeMs),
        lifeboatCold: overhead(lifeboatDb.lagSeconds + lifeboatDns.lagSeconds, warmComputeMs + importOnPath),
        drfWarm: overhead(drfDb.lagSeconds + drfDns.lagSeconds, warmComputeMs),
      },
      transitions: parallel.map((r) => r.transitions),
      invocations: parallel.map((r) => r.invocations),
      wallMs: parallel.map((r) => r.wallMs),
      stepMs: Object.fromEntries(
        Object.entries(first.steps).map(([step, t]) => [step, { count: t.count, totalMs: t.totalMs }]),
      ),
      eventLoopUtilization: parallel.map((r) => round(r.eventLoopUtilization, 2)),
    };
    const p = parallel.map((r) => r.promotionPhaseMs);
    const q = sequential.map((r) => r.promotionPhaseMs);
    results.criticalPath = {
      secretSeconds: SLOW_SECRET_SECONDS,
      databaseSeconds: dbSeconds,
      timeFactor: ONE_UNIT_FACTOR,
      parallelPhaseMs: p.map((x) => round(x, 0)),
      sequentialPhaseMs: q.map((x) => round(x, 0)),
      secretStepMs: parallel.map((r) => round(r.secretStepMs, 0)),
      // Each pair ran one after the other: the ratio of the pair, then the median of the ratios.
      ratios: p.map((x, i) => round((q[i] ?? Number.NaN) / x, 3)),
      differencesEmulatedSeconds: p.map((x, i) =>
        round(((q[i] ?? Number.NaN) - x) / 1000 / ONE_UNIT_FACTOR, 1),
      ),
    };
  }

  // 2. Scale: 1, 10, 100, 500 units in the reduced world, with the documented rate limits as token buckets.
  if (!skip.has('scale')) {
    const scaleLoadStart = loadavg()[0] ?? 0;
    const plan = scalePlan(examplePlan, 500, PLAN_MAX_CONCURRENCY);
    log('scale: synthesizing the 500-unit plan (cached in bench/.cache)');
    const synthesized = await synthesizePlan(plan, 'scale-500');
    const rows: ScaleRow[] = [];
    const runsOf = new Map<number, ScaleResult[]>();
    for (let i = 0; i < Math.max(scaleReps, scale100Reps); i += 1) {
      for (const units of scaleUnits) {
        const of = units >= 100 ? scale100Reps : scaleReps;
        if (i >= of) continue;
        log(`scale: ${units} unit(s), run ${i + 1}/${of}`);
        const r = await scenario<ScaleResult>({
          kind: 'scale',
          orchestratorPath: synthesized.orchestratorPath,
          units,
          timeFactor: scaleFactor,
          rateLimits: true,
          warmup: true,
        });
        runsOf.set(units, [...(runsOf.get(units) ?? []), r]);
      }
    }
    const baseline = median(
      (runsOf.get(1) ?? []).filter((r) => r.status === 'SUCCEEDED').map((r) => r.wallMs),
    );
    for (const units of scaleUnits)
      rows.push(scaleRow(units, runsOf.get(units) ?? [], baseline, PLAN_MAX_CONCURRENCY));
    results.scale = {
      timeFactor: scaleFactor,
      rows,
      limits: documentedRateLimits(examplePlan.recoveryRegion).map((l) => ({
        name: l.name,
        capacity: l.capacity,
        refillPerSecond: l.refillPerSecond,
        source: l.source,
      })),
      synthesisSeconds: round(synthesized.seconds, 1),
      loadAverage: { start: round(scaleLoadStart, 2), end: round(loadavg()[0] ?? 0, 2) },
    };
  }

  // 4. The drill end to end.
  if (!skip.has('drill')) {
    log(`drill: ${drillRuns} cached run(s) of npm run drill`);
    await loadOrSynthesize(PLAN_PATH, log);
    const cached = await drillCached(drillRuns);
    log(`drill: ${uncachedDrillRuns} uncached run(s) in a fresh copy of the sources`);
    const uncached = await drillUncached(uncachedDrillRuns);
    results.drill = { cached, uncached };
  }

  // 5. The switchover's write-unavailability window beside the failover's recovery time, on real database pairs.
  if (!skip.has('switchover')) {
    results.switchover = await measureSwitchover({
      orchestratorPath: example.orchestratorPath,
      engines: switchoverEngines as SwitchoverEngine[],
      runs: switchoverRuns,
      timeFactor: ONE_UNIT_FACTOR,
      log,
    });
  }

  machine.loadAverage.end = loadavg()[0] ?? 0;
  const out = resolve(String(values.out));
  if (only !== undefined) {
    // One section measured now, the others kept as the last full run wrote them (machine and settings included).
    const previous = JSON.parse(readFileSync(resolve(out, 'results.json'), 'utf8'), (key, value) =>
      key === 'ratioToOneUnit' && value === null ? Number.NaN : value,
    ) as BenchResults;
    const measured = results[only as keyof BenchResults];
    Object.assign(results, previous, { [only]: measured });
    results.remeasured = {
      ...(previous.remeasured ?? {}),
      [only]: `${new Date().toISOString()}, commit ${machine.gitCommit}${machine.gitDirty ? ' with uncommitted changes' : ''}, load average ${(loadavg()[0] ?? 0).toFixed(2)} at its end`,
    };
    // The scale section's own settings are this run's.
    if (only === 'scale' && results.scale) {
      results.settings = {
        ...results.settings,
        scaleTimeFactor: results.scale.timeFactor,
        scaleReps,
        scale100Reps,
      };
    }
  } else {
    results.benchSeconds = round((Date.now() - started) / 1000, 0);
  }
  results.targets = targets(results);
  writeFileSync(resolve(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(resolve(out, 'results.md'), renderMarkdown(results));
  log(`wrote ${out}/results.md and results.json in ${results.benchSeconds} s`);
  for (const t of results.targets) log(`${t.met}: ${t.target} — ${t.figure}`);
}

function perUnitByAction(runs: readonly ScaleResult[], units: number): Record<string, number> {
  const actions = new Set(runs.flatMap((r) => Object.keys(r.callsByAction ?? {})));
  return Object.fromEntries(
    [...actions]
      .sort()
      .map((a) => [a, round(median(runs.map((r) => (r.callsByAction?.[a] ?? 0) / units)), 2)]),
  );
}

function scaleRow(
  units: number,
  runs: ScaleResult[],
  baselineMs: number,
  concurrency: number,
  whatIf = false,
): ScaleRow {
  const wall = runs.map((r) => r.wallMs);
  const complete = runs.map(
    (r) => r.status === 'SUCCEEDED' && r.unitsFailed === 0 && r.unitsSucceeded === units,
  );
  const throttled = runs.map((r) => Object.values(r.throttledCalls).reduce((a, b) => a + b, 0));
  const stepErrors = runs.map((r) => Object.values(r.stepErrors).reduce((a, b) => a + b, 0));
  const byAction: Record<string, number> = {};
  for (const r of runs) {
    for (const [k, v] of Object.entries(r.throttledCalls)) byAction[k] = (byAction[k] ?? 0) + v;
  }
  return {
    units,
    maxConcurrency: concurrency,
    whatIf,
    runs: runs.length,
    wallMs: wall.map((x) => round(x, 0)),
    complete,
    ratios: wall.map((x) => round(x / baselineMs, 2)),
    // Only runs in which every unit failed over count: a run that stopped early is fast for the wrong reason.
    ratioToOneUnit: round(median(wall.filter((_, i) => complete[i])) / baselineMs, 2),
    statuses: runs.map((r) => r.status),
    errors: runs.flatMap((r) => (r.error ? [`${r.error.name}: ${r.error.cause.slice(0, 160)}`] : [])),
    unitsFailed: runs.map((r) => r.unitsFailed),
    failures: runs.flatMap((r) => r.failures).slice(0, 5),
    throttledCalls: throttled,
    throttledByAction: byAction,
    // Per unit, the median over the runs (an older results.json has no callsByAction).
    callsPerUnitByAction: perUnitByAction(runs, units),
    stepErrors,
    stepErrorsByKind: runs.reduce<Record<string, number>>((acc, r) => {
      for (const [k, v] of Object.entries(r.stepErrors)) acc[k] = (acc[k] ?? 0) + v;
      return acc;
    }, {}),
    totalCalls: runs.map((r) => r.totalCalls),
    transitions: runs.map((r) => r.transitions),
    invocations: runs.map((r) => r.invocations),
    // NaN (no unit verified) arrives from the child's JSON as null.
    unitRecoveryMedianSeconds: runs
      .map((r) => r.unitRecoverySeconds.median)
      .filter((x): x is number => typeof x === 'number' && Number.isFinite(x))
      .map((x) => round(x, 1)),
    unitRecoveryMaxSeconds: runs
      .map((r) => r.unitRecoverySeconds.max)
      .filter((x): x is number => typeof x === 'number' && Number.isFinite(x))
      .map((x) => round(x, 1)),
    eventLoopUtilization: runs.map((r) => round(r.eventLoopUtilization, 2)),
    callsPerUnit: runs.map((r) => round(r.totalCalls / units, 1)),
    detectionLag: {
      promotion: lagFigures(runs.flatMap((r) => r.detectionLagSeconds?.promotion ?? [])),
      dns: lagFigures(runs.flatMap((r) => r.detectionLagSeconds?.dns ?? [])),
      dnsQueue: lagFigures(runs.flatMap((r) => r.detectionLagSeconds?.dnsQueue ?? [])),
    },
  };
}

/** Max and 95th percentile (nearest rank) of the units' detection lags, emulated seconds. */
function lagFigures(lags: number[]): { max: number; p95: number; n: number } {
  const sorted = [...lags].sort((a, b) => a - b);
  const p95 = sorted[Math.max(0, Math.ceil(0.95 * sorted.length) - 1)] ?? Number.NaN;
  return { max: round(sorted[sorted.length - 1] ?? Number.NaN, 2), p95: round(p95, 2), n: sorted.length };
}

function topThrottled(row: ScaleRow): string {
  const [action, n] = Object.entries(row.throttledByAction).sort((a, b) => b[1] - a[1])[0] ?? ['none', 0];
  return `${action} (${n} throttled)`;
}

function topStepError(row: ScaleRow): string {
  const [kind, n] = Object.entries(row.stepErrorsByKind).sort((a, b) => b[1] - a[1])[0] ?? ['none', 0];
  return `${kind} (${n} step retries)`;
}

function targets(r: BenchResults): Target[] {
  const list: Target[] = [];
  const o = r.overhead;
  if (o) {
    const warm = o.totals.lifeboatWarm;
    const cold = o.totals.lifeboatCold;
    list.push({
      target: 'orchestration overhead (total minus emulated AWS latencies) < 2 s for one unit',
      met: warm < 2 && cold < 2 ? 'met' : warm < 2 ? 'met warm, not met cold' : 'not met',
      figure: `${warm} s with warm functions (compute outside the poll loops ${(median(o.warmComputeMs) / 1000).toFixed(2)} s + detection lags ${(o.detection.database.lifeboatScheduleLag + o.detection.dns.lifeboatScheduleLag).toFixed(2)} s); ${cold} s with cold functions (+ ${(o.importOnPathMs / 1000).toFixed(2)} s of bundle imports on the path, ${(o.importOnPathMinMs / 1000).toFixed(2)} s with each bundle's fastest import)`,
      why: 'compute is real local time (handlers, emulator round trips, the aws-local-stepfunctions engine); a deployed run adds Step Functions transition and AWS API latencies that the emulator does not have, and Lambda INIT beyond the module import',
    });
    const worstDb = o.sweeps.database.lifeboat.max;
    const worstDns = o.sweeps.dns.lifeboat.max;
    const here = Math.max(o.detection.database.lifeboatScheduleLag, o.detection.dns.lifeboatScheduleLag);
    list.push({
      target: 'detection lag < 5 s per asynchronous operation',
      met: here < 5 && worstDb < 5 && worstDns < 5 ? 'met' : 'not met',
      figure: `database ${o.detection.database.lifeboatScheduleLag} s, DNS ${o.detection.dns.lifeboatScheduleLag} s at the emulated durations; worst over the sweeps ${round(worstDb, 2)} s (promotion) and ${round(worstDns, 2)} s (DNS); DR Orchestrator Framework schedule: ${o.detection.database.drfLag} s and ${o.detection.dns.drfLag} s, worst ${round(o.sweeps.database.drf.max, 1)} s and ${round(o.sweeps.dns.drf.max, 1)} s`,
      why: 'from the poll schedule (each poll asks for 2-4 s near the expected completion); the lag measured in the run is shown beside it',
    });
  }
  const c = r.criticalPath;
  if (c) {
    const pMed = median(c.parallelPhaseMs) / 1000 / c.timeFactor;
    const diff = median(c.differencesEmulatedSeconds);
    const met = diff >= 0.75 * c.secretSeconds && pMed < c.secretSeconds + c.databaseSeconds;
    list.push({
      target: 'secret and database promotion in parallel: critical path max(secret, database), not the sum',
      met: met ? 'met' : 'not met',
      figure: `promotion phase ${round(pMed, 1)} emulated s in parallel vs ${round(median(c.sequentialPhaseMs) / 1000 / c.timeFactor, 1)} s in the seed's sequential order (secret ${c.secretSeconds} s, database ${c.databaseSeconds} s: max ${Math.max(c.secretSeconds, c.databaseSeconds)}, sum ${c.secretSeconds + c.databaseSeconds}); the sequential order costs ${round(diff, 1)} s more (median of pairs)`,
      why: 'phases measured in real ms and divided by the time factor, so local compute in the phase counts 1/f times; the difference between the orders is what the secret promotion adds',
    });
  }
  const s = r.scale;
  if (s) {
    const largest = Math.max(...s.rows.map((x) => x.units));
    const row = s.rows.find((x) => x.units === largest && !x.whatIf);
    if (row) {
      const failed = row.complete.some((ok) => !ok);
      list.push({
        target: `${largest} units within ${SCALE_TARGET_RATIO}x the time of 1 unit, no unit failed`,
        met:
          row.ratioToOneUnit <= SCALE_TARGET_RATIO && !failed
            ? 'met'
            : failed
              ? 'not met (failures)'
              : 'not met',
        figure: `${Number.isNaN(row.ratioToOneUnit) ? 'no complete run' : `${row.ratioToOneUnit}x`} at MaxConcurrency ${row.maxConcurrency} (runs: ${row.ratios.map((x, i) => `${x}x${row.complete[i] ? '' : ' FAILED'}`).join(', ')}); units failed ${row.unitsFailed.join(', ')}; ${median(row.throttledCalls)} throttled calls, ${median(row.callsPerUnit)} API calls per unit (medians); by size: ${s.rows.map((x) => `${x.units}: ${Number.isNaN(x.ratioToOneUnit) ? 'incomplete' : `${x.ratioToOneUnit}x`}, ${median(x.callsPerUnit)} calls/unit, ${median(x.throttledCalls)} throttled`).join('; ')}`,
        why: `every unit runs at once (MaxConcurrency is the run's size); the promotion polls share one DescribeDBInstances per interval and the DNS changes go as one batch per zone (docs/design/fleet.md)${failed ? `; units failed, most often ${topStepError(row)}, most throttled ${topThrottled(row)}` : ''}; the wall time is real time on this 2-core machine, where ${largest} units' handlers share one Node process (event loop ${round(median(row.eventLoopUtilization) * 100, 0)}% busy)`,
      });
      const lag = row.detectionLag;
      const worst = Math.max(lag.promotion.max, lag.dns.max);
      list.push({
        target: `detection lag < ${DETECTION_TARGET_SECONDS} s per asynchronous operation for every unit at ${largest} units`,
        met: worst < DETECTION_TARGET_SECONDS ? 'met' : 'not met',
        figure: s.rows
          .map(
            (x) =>
              `${x.units}: promotion max ${x.detectionLag.promotion.max} s / p95 ${x.detectionLag.promotion.p95} s, DNS max ${x.detectionLag.dns.max} s / p95 ${x.detectionLag.dns.p95} s`,
          )
          .join('; '),
        why: "emulated seconds from the operation's completion in the emulator (the PromoteReadReplica call's arrival + the emulated promotion; the change's SubmittedAt + the emulated PENDING period) to the end of the poll step that returned it done; local compute between polls counts 1/f times. The wait of a record change for its zone's earlier batch is not detection: it is reported beside it (section 2)",
      });
    }
  }
  if (r.bundles) {
    const slowest = [...r.bundles].sort((a, b) => b.medianImportMs - a.medianImportMs)[0];
    // Issue 14: at most 300 KiB minified, except the steps that log in to a database (their drivers).
    const limitKiB = 300;
    const drivers = new Set<string>([
      'verifyConnectivity',
      'attachRotation',
      'preflight',
      'fenceWrites',
      'checkCatchUp',
    ]);
    const held = r.bundles.filter((b) => !drivers.has(b.step));
    const over = held.filter((b) => b.bytes > limitKiB * 1024);
    const kib = (b: { bytes: number }) => `${(b.bytes / 1024).toFixed(0)} KiB`;
    list.push({
      target: `every Lambda bundle but the database steps' at most ${limitKiB} KiB minified, cold import time reported`,
      met: over.length === 0 ? 'met' : `not met (${over.length} of ${held.length})`,
      figure: `within: ${
        held
          .filter((b) => !over.includes(b))
          .map((b) => `${b.step} ${kib(b)}`)
          .join(', ') || 'none'
      }; over: ${over.map((b) => `${b.step} ${kib(b)}`).join(', ') || 'none'}; slowest import ${slowest?.step} ${slowest?.medianImportMs.toFixed(0)} ms (median)`,
      why: "no bundle carries the SDK's credential chain any more (the role's credentials come from the environment: docs/aws/lambda-credentials.md); what is left of one SDK v3 client with its runtime is about 200 KiB minified and RDS's client about 100 KiB more, so a step that calls one service fits and a step that calls two or more does not (docs/design/packaging.md, \"Bundle size\")",
    });
  }
  if (r.switchover) list.push(switchoverTarget(r.switchover));
  const d = r.drill;
  if (d) {
    const cached = median(d.cached.map((x) => x.wallSeconds));
    const uncached = median(d.uncached.map((x) => x.wallSeconds));
    list.push({
      target: '`npm run drill` end to end < 30 s on a 2-core machine, databases included',
      met: cached < 30 && uncached < 30 ? 'met' : cached < 30 ? 'met cached, not met uncached' : 'not met',
      figure: `${round(cached, 1)} s with the synthesis cached (median of ${d.cached.length}), ${round(uncached, 1)} s on a first run that synthesizes and bundles`,
      why: 'the first run synthesizes the CDK app with esbuild bundling of every function; later runs reuse .drill/cdk.out',
    });
  }
  return list;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
