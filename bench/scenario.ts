import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { GetChangeCommand, Route53Client } from '@aws-sdk/client-route-53';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { instanceDatabase, isAuroraUnit } from '../functions/lib/plan-names.js';
import type { RunReport } from '../functions/lib/report/index.js';
import type { CallLogEntry, Emulator } from '../local/emulator/index.js';
import { startProvingGround } from '../local/proving-ground.js';
import { runExecution, type StepEvent, type SynthesizedOrchestrator } from '../local/runner.js';
import type { StepFunctionName } from '../statemachine/steps.js';
import { applyRateLimits, type BucketStats, documentedRateLimits } from './rate-limits.js';
import { startScaleWorld } from './scale-world.js';

/**
 * One measured execution, in a fresh process (`node --import tsx bench/scenario.ts '<config json>'`): the bundled
 * handlers cache their SDK clients, with the emulator's endpoint, for the life of the process, so every world gets
 * its own process. Prints `BENCH_RESULT <json>` as its last line.
 */

export interface OneUnitConfig {
  kind: 'one-unit';
  /** The synthesized orchestrator of a one-unit plan (orchestrator.json). */
  orchestratorPath: string;
  timeFactor: number;
  /** `sequential`: PromoteDatabase starts only when PromoteSecret has ended (the seed's order). */
  order: 'parallel' | 'sequential';
  /** Emulated seconds added to every StopReplicationToReplica call (a slow secret promotion). */
  secretLatencySeconds: number;
  /** Run a dry run first, so that the failover finds every handler loaded and every client made (warm Lambdas). */
  warmup: boolean;
}

export interface ScaleConfig {
  kind: 'scale';
  /** The synthesized orchestrator of the scale plan (orchestrator.json). */
  orchestratorPath: string;
  /** The first `units` units of the plan are selected by the execution input. */
  units: number;
  timeFactor: number;
  rateLimits: boolean;
  /** Overrides the Map's MaxConcurrency in the definition (a what-if beyond the plan schema's bound). */
  maxConcurrencyOverride?: number;
  /** Import every bundle before the run, so that the run measures orchestration, not module loading. */
  warmup: boolean;
}

export type ScenarioConfig = OneUnitConfig | ScaleConfig;

export interface PollRecord {
  unit: string;
  startMs: number;
  endMs: number;
  status: string;
  done: boolean;
  waitSeconds: number;
}

export interface StepTotals {
  count: number;
  errors: number;
  totalMs: number;
}

export interface AsyncOpMeasure {
  /** Arrival of the call that started it (ms after the execution started). */
  callMs: number;
  /** Its true completion in the emulator: call + the emulated duration x timeFactor. */
  completeMs: number;
  /** Arrival of the poll call that saw it done. */
  detectedMs: number;
  /** (detected - complete) / timeFactor, in emulated seconds (local compute between polls is inflated by 1/f). */
  measuredLagSeconds: number;
  /** Sum of the polls' requested waits, emulated seconds. */
  waitedSeconds: number;
  polls: PollRecord[];
}

export interface OneUnitResult {
  kind: 'one-unit';
  config: OneUnitConfig;
  status: string;
  error?: { name: string; cause: string };
  wallMs: number;
  transitions: number;
  invocations: number;
  /** Handler time per step (cold or warm as configured). */
  steps: Partial<Record<StepFunctionName, StepTotals>>;
  database: AsyncOpMeasure;
  dns: AsyncOpMeasure;
  /** Pauses between a ConnectivityNotReady error and the retry, real ms. */
  verifyRetryPausesMs: number;
  /** wall - scaled poll waits - verify retry pauses: handler + engine time on the critical path, real ms. */
  computeMs: number;
  /**
   * wall - the two poll loops (from the step that started the operation to the poll that saw it done) - verify retry
   * pauses: the compute that is NOT hidden behind an AWS operation, real ms. In a deployed run each loop lasts the
   * operation plus its detection lag, and the polls' own compute runs while AWS is still working.
   */
  computeOutsideLoopsMs: number;
  /** Real ms of each loop, as above. */
  loopsMs: { database: number; dns: number };
  /** Per poll iteration: (next poll start - this poll start) - its scaled wait, real ms (median). */
  pollIterationComputeMs: number;
  /** First promote step start to the DNS step start, real ms. */
  promotionPhaseMs: number;
  secretStepMs: number;
  /** Emulated durations of the world (seconds). */
  emulated: {
    promotionPhases: { start: number; modifying: number; rebooting: number };
    route53Change: number;
  };
  eventLoopUtilization: number;
  warmupMs?: number;
  unitOutcome: string;
}

export interface ScaleResult {
  kind: 'scale';
  config: ScaleConfig;
  status: string;
  error?: { name: string; cause: string };
  wallMs: number;
  transitions: number;
  invocations: number;
  unitsSucceeded: number;
  unitsFailed: number;
  failures: string[];
  /** Calls answered with a throttling error, by service:action. */
  throttledCalls: Record<string, number>;
  /** Every call the emulator answered, by service:action (the lock table and report bucket included). */
  callsByAction: Record<string, number>;
  totalCalls: number;
  /** Step errors seen by the state machine (each one retried or caught), by step:error. */
  stepErrors: Record<string, number>;
  buckets: BucketStats[];
  unitRecoverySeconds: { median: number; max: number };
  eventLoopUtilization: number;
  worldSeconds: number;
  /**
   * Per unit, emulated seconds from the operation's completion in the emulator to the end of the poll step that
   * returned it done (the runner's step event: when the state machine knows). The promotion completes at the arrival
   * of the PromoteReadReplica call that started it + the emulated promotion (start, modifying, rebooting) x f; the
   * record change at its change's SubmittedAt (GetChange after the run, for the change id the unit's last poll saw) +
   * the emulated PENDING period x f. Both are the earliest the emulator can complete them (its timers fire no
   * earlier), so a lag is never below the truth. `dnsQueue`: from UpdateDns's end to the SubmittedAt of the batch
   * that carried the unit's record (the wait for its zone: Route 53 takes one change at a time), not detection.
   */
  detectionLagSeconds: { promotion: number[]; dns: number[]; dnsQueue: number[] };
}

type Handler = (event: unknown, context?: unknown) => Promise<unknown>;

async function bundledHandler(
  orchestrator: SynthesizedOrchestrator,
  step: StepFunctionName,
): Promise<Handler> {
  const bundle = orchestrator.steps.find((s) => s.step === step)?.bundle;
  if (!bundle) throw new Error(`no bundle for ${step}`);
  const module = (await import(pathToFileURL(resolve(bundle)).href)) as { handler: Handler };
  return module.handler;
}

/** Imports every bundle; some read their environment at import (as a Lambda's INIT does), so it is set first. */
async function importAll(
  orchestrator: SynthesizedOrchestrator,
  environment: Record<string, string>,
): Promise<void> {
  Object.assign(process.env, environment);
  for (const step of orchestrator.steps) {
    Object.assign(process.env, step.environment);
    await bundledHandler(orchestrator, step.step);
  }
}

function readOrchestrator(path: string): SynthesizedOrchestrator {
  return JSON.parse(readFileSync(path, 'utf8')) as SynthesizedOrchestrator;
}

function unitOf(event: unknown): string {
  return String((event as { unit?: { name?: unknown } } | null)?.unit?.name ?? '-');
}

function callMs(call: CallLogEntry, t0: number): number {
  return Date.parse(call.time) - t0;
}

function stepTotals(events: StepEvent[]): Partial<Record<StepFunctionName, StepTotals>> {
  const totals: Partial<Record<StepFunctionName, StepTotals>> = {};
  for (const e of events) {
    if (e.phase === 'start') continue;
    const t = totals[e.step] ?? { count: 0, errors: 0, totalMs: 0 };
    totals[e.step] = t;
    t.count += 1;
    if (e.phase === 'error') t.errors += 1;
    t.totalMs += e.durationMs ?? 0;
  }
  return totals;
}

function asyncOp(
  calls: readonly CallLogEntry[],
  t0: number,
  start: (c: CallLogEntry) => boolean,
  poll: (c: CallLogEntry) => boolean,
  durationMs: number,
  timeFactor: number,
  polls: PollRecord[],
): AsyncOpMeasure {
  const started = calls.find((c) => start(c) && c.applied);
  const done = polls.find((p) => p.done);
  // The poll's own API call: the first matching call inside the done poll's handler window (ms resolution).
  const seen = done
    ? calls.find((c) => poll(c) && c.status === 200 && callMs(c, t0) >= done.startMs - 1)
    : undefined;
  if (!started || !seen) throw new Error('the call log lacks the operation or the poll that saw it done');
  const call = callMs(started, t0);
  const completeMs = call + durationMs * timeFactor;
  const detectedMs = callMs(seen, t0);
  return {
    callMs: call,
    completeMs,
    detectedMs,
    measuredLagSeconds: (detectedMs - completeMs) / 1000 / timeFactor,
    waitedSeconds: polls.filter((p) => !p.done).reduce((a, p) => a + p.waitSeconds, 0),
    polls,
  };
}

async function oneUnit(config: OneUnitConfig): Promise<OneUnitResult> {
  const orchestrator = readOrchestrator(config.orchestratorPath);
  const plan = orchestrator.plan;
  const world = await startProvingGround({ plan, timeFactor: config.timeFactor });
  try {
    await world.provision(orchestrator);
    const environment = world.environment();
    let warmupMs: number | undefined;
    if (config.warmup) {
      // A dry run calls every step but the lock's and makes the clients they use; then every bundle is imported.
      const w = await runExecution(orchestrator, {
        input: { mode: 'dry-run', trigger: 'cli', reason: 'bench warm-up' },
        executionName: 'bench-warmup',
        timeFactor: config.timeFactor,
        environment,
      });
      if (w.status !== 'SUCCEEDED')
        throw new Error(`warm-up dry run ${w.status}: ${JSON.stringify(w.error)}`);
      await importAll(orchestrator, environment);
      warmupMs = w.wallMs;
      world.emulator.clearCalls();
    }
    if (config.secretLatencySeconds > 0) {
      world.emulator.faults.add({
        match: { service: 'secretsmanager', action: 'StopReplicationToReplica' },
        latencyMs: config.secretLatencySeconds * 1000,
      });
    }
    const events: StepEvent[] = [];
    const dbPolls: PollRecord[] = [];
    const dnsPolls: PollRecord[] = [];
    const secretEnded = new Map<string, () => void>();
    const secretDone = new Map<string, Promise<void>>();
    const secretPromise = (unit: string) => {
      let p = secretDone.get(unit);
      if (!p) {
        p = new Promise<void>((r) => secretEnded.set(unit, r));
        secretDone.set(unit, p);
      }
      return p;
    };
    let t0 = 0;
    const recordPoll =
      (step: StepFunctionName, into: PollRecord[]): Handler =>
      async (event, context) => {
        const handler = await bundledHandler(orchestrator, step);
        const start = Date.now() - t0;
        const result = (await handler(event, context)) as {
          status: string;
          done: boolean;
          waitSeconds: number;
        };
        into.push({
          unit: unitOf(event),
          startMs: start,
          endMs: Date.now() - t0,
          status: result.status,
          done: result.done,
          waitSeconds: result.waitSeconds,
        });
        return result;
      };
    const replaceSteps: Partial<Record<StepFunctionName, Handler>> = {
      checkDatabasePromotion: recordPoll('checkDatabasePromotion', dbPolls),
      checkDnsChange: recordPoll('checkDnsChange', dnsPolls),
    };
    if (config.order === 'sequential') {
      replaceSteps.promoteDatabase = async (event, context) => {
        const handler = await bundledHandler(orchestrator, 'promoteDatabase');
        await secretPromise(unitOf(event));
        return handler(event, context);
      };
    }
    const elu0 = performance.eventLoopUtilization();
    t0 = Date.now();
    const run = await runExecution(orchestrator, {
      input: { trigger: 'cli', reason: 'bench' },
      executionName: `bench-${config.order}`,
      timeFactor: config.timeFactor,
      environment,
      replaceSteps,
      onStep: (event) => {
        events.push(event);
        if (event.step === 'promoteSecret' && event.phase !== 'start') {
          secretPromise(event.unit ?? '-');
          secretEnded.get(event.unit ?? '-')?.();
        }
      },
    });
    const elu = performance.eventLoopUtilization(elu0);
    const calls = world.emulator.calls;
    const unit = plan.units[0];
    if (!unit) throw new Error('the plan has no unit');
    const timings = world.emulator.timings;
    const f = config.timeFactor;
    const database = asyncOp(
      calls,
      t0,
      (c) => c.action === 'PromoteReadReplica',
      (c) =>
        c.action === 'DescribeDBInstances' &&
        c.resource === instanceDatabase(unit, 'the bench').replicaInstanceId,
      timings.promoteStartMs + timings.promoteModifyingMs + timings.promoteRebootingMs,
      f,
      dbPolls,
    );
    const dns = asyncOp(
      calls,
      t0,
      (c) => c.action === 'ChangeResourceRecordSets',
      (c) => c.action === 'GetChange',
      timings.route53ChangeMs,
      f,
      dnsPolls,
    );
    let verifyRetryPausesMs = 0;
    events.forEach((e, i) => {
      if (e.step !== 'verifyConnectivity' || e.phase !== 'error') return;
      const next = events.slice(i + 1).find((n) => n.step === 'verifyConnectivity' && n.phase === 'start');
      if (next) verifyRetryPausesMs += next.atMs - e.atMs;
    });
    const scaledWaitsMs = (database.waitedSeconds + dns.waitedSeconds) * 1000 * f;
    const iterations: number[] = [];
    for (const polls of [dbPolls, dnsPolls]) {
      for (let i = 0; i + 1 < polls.length; i += 1) {
        const a = polls[i] as PollRecord;
        const b = polls[i + 1] as PollRecord;
        iterations.push(b.startMs - a.startMs - a.waitSeconds * 1000 * f);
      }
    }
    iterations.sort((a, b) => a - b);
    const startOf = (step: StepFunctionName) =>
      events.find((e) => e.step === step && e.phase === 'start')?.atMs;
    const endOf = (step: StepFunctionName) => events.find((e) => e.step === step && e.phase === 'end')?.atMs;
    const doneAt = (polls: PollRecord[]) => polls.find((p) => p.done)?.endMs ?? Number.NaN;
    const loopDb = doneAt(dbPolls) - (endOf('promoteDatabase') ?? Number.NaN);
    const loopDns = doneAt(dnsPolls) - (endOf('updateDns') ?? Number.NaN);
    const firstPromote = Math.min(
      startOf('promoteSecret') ?? Number.NaN,
      startOf('promoteDatabase') ?? Number.NaN,
    );
    const report = run.output as RunReport | undefined;
    return {
      kind: 'one-unit',
      config,
      status: run.status,
      ...(run.error ? { error: run.error } : {}),
      wallMs: run.wallMs,
      transitions: run.transitions,
      invocations: run.invocations,
      steps: stepTotals(events),
      database,
      dns,
      verifyRetryPausesMs,
      computeMs: run.wallMs - scaledWaitsMs - verifyRetryPausesMs,
      computeOutsideLoopsMs: run.wallMs - loopDb - loopDns - verifyRetryPausesMs,
      loopsMs: { database: loopDb, dns: loopDns },
      pollIterationComputeMs: iterations[Math.floor(iterations.length / 2)] ?? Number.NaN,
      promotionPhaseMs: (startOf('updateDns') ?? Number.NaN) - firstPromote,
      secretStepMs:
        events.find((e) => e.step === 'promoteSecret' && e.phase !== 'start')?.durationMs ?? Number.NaN,
      emulated: {
        promotionPhases: {
          start: timings.promoteStartMs / 1000,
          modifying: timings.promoteModifyingMs / 1000,
          rebooting: timings.promoteRebootingMs / 1000,
        },
        route53Change: timings.route53ChangeMs / 1000,
      },
      eventLoopUtilization: elu.utilization,
      ...(warmupMs !== undefined ? { warmupMs } : {}),
      unitOutcome: report?.units?.[0]?.status ?? 'unknown',
    };
  } finally {
    await world.close();
  }
}

async function storedReport(
  emulator: Emulator,
  orchestrator: SynthesizedOrchestrator,
  runId: string,
): Promise<RunReport | undefined> {
  const bucket = orchestrator.steps.find((s) => s.step === 'report')?.environment.REPORT_BUCKET_NAME;
  if (!bucket) return undefined;
  const s3 = new S3Client({
    ...emulator.clientConfig(orchestrator.plan.recoveryRegion),
    forcePathStyle: true,
  });
  try {
    const object = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: `reports/${orchestrator.plan.name}/${runId}.json` }),
    );
    return JSON.parse((await object.Body?.transformToString()) ?? '') as RunReport;
  } catch {
    return undefined;
  } finally {
    s3.destroy();
  }
}

function patchMaxConcurrency(definition: unknown, value: number): void {
  const visit = (states: Record<string, Record<string, unknown>>) => {
    for (const state of Object.values(states)) {
      if (state.Type === 'Map') state.MaxConcurrency = value;
      for (const branch of (state.Branches as { States: Record<string, Record<string, unknown>> }[]) ?? [])
        visit(branch.States);
      const processor = (state.ItemProcessor ?? state.Iterator) as
        | { States: Record<string, Record<string, unknown>> }
        | undefined;
      if (processor) visit(processor.States);
    }
  };
  visit((definition as { States: Record<string, Record<string, unknown>> }).States);
}

async function scale(config: ScaleConfig): Promise<ScaleResult> {
  const orchestrator = readOrchestrator(config.orchestratorPath);
  if (config.maxConcurrencyOverride !== undefined) {
    patchMaxConcurrency(orchestrator.definition, config.maxConcurrencyOverride);
  }
  const plan = orchestrator.plan;
  const tw = Date.now();
  const world = await startScaleWorld(plan, config.timeFactor);
  try {
    await world.provision(orchestrator);
    const worldSeconds = (Date.now() - tw) / 1000;
    if (config.warmup) await importAll(orchestrator, world.environment());
    const buckets = config.rateLimits
      ? applyRateLimits(world.emulator.faults, documentedRateLimits(plan.recoveryRegion), config.timeFactor)
      : () => [];
    const events: StepEvent[] = [];
    // Per unit: the end of the poll that returned done, and of UpdateDns (absolute ms).
    const promotionSeen = new Map<string, number>();
    const dnsSeen = new Map<string, number>();
    const dnsHandedOver = new Map<string, number>();
    const runId = `bench-scale-${config.units}`;
    const elu0 = performance.eventLoopUtilization();
    const t0 = Date.now();
    const run = await runExecution(orchestrator, {
      input: {
        trigger: 'cli',
        reason: 'bench scale',
        units: plan.units.slice(0, config.units).map((u) => u.name),
      },
      executionName: runId,
      timeFactor: config.timeFactor,
      environment: world.environment(),
      onStep: (event) => {
        if (event.phase === 'error') events.push(event);
        if (event.phase !== 'end' || !event.unit) return;
        const at = t0 + event.atMs;
        if (event.step === 'checkDatabasePromotion' && event.poll?.done) promotionSeen.set(event.unit, at);
        if (event.step === 'checkDnsChange' && event.poll?.done) dnsSeen.set(event.unit, at);
        if (event.step === 'updateDns') dnsHandedOver.set(event.unit, at);
      },
      timeoutMs: 15 * 60_000,
    });
    const elu = performance.eventLoopUtilization(elu0);
    const report =
      (await storedReport(world.emulator, orchestrator, runId)) ?? (run.output as RunReport | undefined);
    const units = report?.units ?? [];
    const throttledCalls: Record<string, number> = {};
    const callsByAction: Record<string, number> = {};
    for (const c of world.emulator.calls) {
      const key = `${c.service}:${c.action}`;
      callsByAction[key] = (callsByAction[key] ?? 0) + 1;
      if (c.fault !== 'throttle') continue;
      throttledCalls[key] = (throttledCalls[key] ?? 0) + 1;
    }
    const stepErrors: Record<string, number> = {};
    for (const e of events) {
      const key = `${e.step}:${e.result ?? 'Error'}`;
      stepErrors[key] = (stepErrors[key] ?? 0) + 1;
    }
    const detectionLagSeconds = await detectionLags(world.emulator, orchestrator, units, config.timeFactor, {
      promotionSeen,
      dnsSeen,
      dnsHandedOver,
    });
    const recovery = units
      .map((u) => u.recoveryTimeSeconds)
      .filter((s): s is number => typeof s === 'number')
      .sort((a, b) => a - b);
    return {
      kind: 'scale',
      config,
      status: run.status,
      ...(run.error ? { error: run.error } : {}),
      wallMs: run.wallMs,
      transitions: run.transitions,
      invocations: run.invocations,
      unitsSucceeded: units.filter((u) => u.status === 'succeeded').length,
      unitsFailed: units.filter((u) => u.status !== 'succeeded').length,
      failures: units
        .filter((u) => u.status !== 'succeeded')
        .map((u) => `${u.unit}: ${u.failure?.step ?? '?'} ${u.failure?.error ?? u.status}`)
        .slice(0, 10),
      throttledCalls,
      callsByAction,
      totalCalls: world.emulator.calls.length,
      stepErrors,
      buckets: buckets(),
      unitRecoverySeconds: {
        median: recovery[Math.floor(recovery.length / 2)] ?? Number.NaN,
        max: recovery[recovery.length - 1] ?? Number.NaN,
      },
      eventLoopUtilization: elu.utilization,
      worldSeconds,
      detectionLagSeconds,
    };
  } finally {
    await world.close();
  }
}

/**
 * The units' detection lags (ScaleResult.detectionLagSeconds). The report's own timestamps do not measure it: a
 * poll's `observedAt` is taken before its read, and PromoteDatabase's end comes after its PromoteReadReplica call
 * (by a throttled retry's seconds at 100 units), so "step end + duration" put the completion late and the
 * detection early, and lags came out negative.
 */
async function detectionLags(
  emulator: Emulator,
  orchestrator: SynthesizedOrchestrator,
  units: RunReport['units'],
  timeFactor: number,
  seen: {
    promotionSeen: Map<string, number>;
    dnsSeen: Map<string, number>;
    dnsHandedOver: Map<string, number>;
  },
): Promise<ScaleResult['detectionLagSeconds']> {
  const timings = emulator.timings;
  const promotionMs = timings.promoteStartMs + timings.promoteModifyingMs + timings.promoteRebootingMs;
  const emulatedSeconds = (realMs: number) => realMs / 1000 / timeFactor;
  const byUnit = new Map(orchestrator.plan.units.map((u) => [u.name, u]));
  // The first PromoteReadReplica that took effect on each replica.
  const promoted = new Map<string, number>();
  for (const c of emulator.calls) {
    if (c.action !== 'PromoteReadReplica' || !c.applied || !c.resource || promoted.has(c.resource)) continue;
    promoted.set(c.resource, Date.parse(c.time));
  }
  // Each change's SubmittedAt, asked once the run is over (the rate limits no longer matter).
  emulator.faults.clear();
  const route53 = new Route53Client(emulator.clientConfig('us-east-1'));
  const submitted = new Map<string, number>();
  const changeOf = (u: RunReport['units'][number]) =>
    u.steps.find((x) => x.step === 'waitForDnsInSync')?.detail.changeId;
  try {
    for (const id of new Set(units.map(changeOf))) {
      if (typeof id !== 'string' || !id) continue;
      const out = await route53.send(new GetChangeCommand({ Id: id }));
      const at = out.ChangeInfo?.SubmittedAt?.getTime();
      if (at !== undefined) submitted.set(id, at);
    }
  } finally {
    route53.destroy();
  }
  const promotion: number[] = [];
  const dns: number[] = [];
  const dnsQueue: number[] = [];
  for (const u of units) {
    const plan = byUnit.get(u.unit);
    const started =
      plan && !isAuroraUnit(plan)
        ? promoted.get(instanceDatabase(plan, 'the bench').replicaInstanceId)
        : undefined;
    const promotionSeen = seen.promotionSeen.get(u.unit);
    if (started !== undefined && promotionSeen !== undefined)
      promotion.push(emulatedSeconds(promotionSeen - (started + promotionMs * timeFactor)));
    const id = changeOf(u);
    const sent = typeof id === 'string' ? submitted.get(id) : undefined;
    const dnsSeen = seen.dnsSeen.get(u.unit);
    if (sent !== undefined && dnsSeen !== undefined)
      dns.push(emulatedSeconds(dnsSeen - (sent + timings.route53ChangeMs * timeFactor)));
    const handedOver = seen.dnsHandedOver.get(u.unit);
    if (sent !== undefined && handedOver !== undefined)
      dnsQueue.push(Math.max(0, emulatedSeconds(sent - handedOver)));
  }
  return { promotion, dns, dnsQueue };
}

export async function runScenario(config: ScenarioConfig): Promise<OneUnitResult | ScaleResult> {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return config.kind === 'one-unit' ? oneUnit(config) : scale(config);
}

const invokedDirectly =
  process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname);
if (invokedDirectly) {
  const config = JSON.parse(process.argv[2] ?? '{}') as ScenarioConfig;
  runScenario(config).then(
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
