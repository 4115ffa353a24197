import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type Mode, ModeSchema } from '../functions/lib/plan.js';
import { type RunReport, renderReportText, reportKeys } from '../functions/lib/report/index.js';
import type { StepResult, UnitStepInput } from '../functions/lib/types.js';
import { loadPlanFile } from '../infra/lifeboat-app.js';
import { Cleanup, exitOnInterrupt } from './cleanup.js';
import { DrillProgress } from './drill-progress.js';
import { seedRemoteWorld } from './endpoint-world.js';
import { type ProvingGround, startProvingGround } from './proving-ground.js';
import { startReplicatorScenario } from './replicator-scenario.js';
import { writeReportFiles } from './report-files.js';
import { runRoundTrip } from './round-trip-scenario.js';
import { type RunResult, runExecution, type StepEvent, type SynthesizedOrchestrator } from './runner.js';
import { prepareSwitchoverWriters } from './switchover-writer.js';
import { loadOrSynthesize, rebindPlan } from './synthesize.js';
import { runVaultSyncScenario } from './vault/vault-sync-scenario.js';
import { replicaDatabaseFacts, resolveVia } from './verify-facts.js';

/**
 * `npm run drill [-- --plan FILE --mode failover|dry-run|drill --time-factor F --keep --verbose]`: builds the
 * two-Region world on this machine, runs the synthesized state machine through it with the bundled handlers,
 * prints live progress and the report, then checks the facts on the real databases and DNS.
 * Exit 0 only when the run succeeded and every fact holds.
 */

const USAGE = `usage: npm run drill -- [options]
  --plan FILE          plan to fail over (default examples/plan.json)
  --mode MODE          failover (default), dry-run, drill or switchover (an application writes throughout)
  --of MODE            with --mode dry-run or drill: what it shows or rehearses: failover (default), switchover,
                       or reprotect (dry-run only)
  --time-factor F      emulated AWS time scale, 0 < F <= 1 (default 0.02: a 85 s promotion takes 1.7 s)
  --keep               leave the world running for inspection (Ctrl-C stops it)
  --endpoint URL       run against another AWS-compatible server (moto, LocalStack) instead of the local world:
                       no local databases or DNS, so connectivity is not verified (the report says so)
  --verbose            show the step functions' logs and the databases' logs
  --scenario NAME      run a scenario instead of the failover: vault-sync (the Vault pull sync against a local
                       KV v2 server: seed, sync, change, delete, sync again), or replicator (the event-driven
                       replicator on the plan's first secret: rotate it, show every target updated, then fail over),
                       or round-trip (failover, writes, re-protect, switchover back with the reversed plan, writes,
                       re-protect; twice on one world: docs/design/reprotect.md)
  --vault-removed P    vault-sync: keep or delete (default) secrets whose Vault secret is gone
  --vault-replicas     vault-sync: replicate the synced secrets to the plan's recovery Region
  --help               this text
exit codes: 0 verified, 1 the run failed or a fact does not hold, 2 bad usage or plan`;

export interface DrillOptions {
  planPath: string;
  mode: Mode;
  /** With mode dry-run or drill: what it shows or rehearses (functions/lib/exercised.ts). */
  of?: 'failover' | 'switchover' | 'reprotect';
  timeFactor: number;
  keep: boolean;
  verbose: boolean;
  /** Another AWS-compatible server instead of the local world. */
  endpoint?: string;
  /** A scenario instead of the failover (local/vault/vault-sync-scenario.ts, local/replicator-scenario.ts). */
  scenario?: 'vault-sync' | 'replicator' | 'round-trip';
  vaultRemoved?: 'keep' | 'delete';
  vaultReplicas?: boolean;
}

export function parseDrillArgs(argv: string[]): DrillOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      plan: { type: 'string', default: 'examples/plan.json' },
      mode: { type: 'string', default: 'failover' },
      of: { type: 'string' },
      'time-factor': { type: 'string', default: '0.02' },
      keep: { type: 'boolean', default: false },
      endpoint: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      scenario: { type: 'string' },
      'vault-removed': { type: 'string', default: 'delete' },
      'vault-replicas': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (
    values.scenario !== undefined &&
    values.scenario !== 'vault-sync' &&
    values.scenario !== 'replicator' &&
    values.scenario !== 'round-trip'
  ) {
    throw new UsageError(
      `--scenario: expected vault-sync, replicator or round-trip, got "${values.scenario}"`,
    );
  }
  if (values['vault-removed'] !== 'keep' && values['vault-removed'] !== 'delete') {
    throw new UsageError(`--vault-removed: expected keep or delete, got "${values['vault-removed']}"`);
  }
  if (values.scenario !== undefined && values.endpoint !== undefined) {
    throw new UsageError('--scenario runs on the local world only, not with --endpoint');
  }
  if (values.help) throw new UsageError(USAGE, 0);
  const mode = ModeSchema.safeParse(values.mode);
  if (!mode.success)
    throw new UsageError(`--mode: expected failover, dry-run, drill or switchover, got "${values.mode}"`);
  if (values.of !== undefined && !['failover', 'switchover', 'reprotect'].includes(values.of)) {
    throw new UsageError(`--of: expected failover, switchover or reprotect, got "${values.of}"`);
  }
  const timeFactor = Number(values['time-factor']);
  if (!Number.isFinite(timeFactor) || timeFactor <= 0 || timeFactor > 1) {
    throw new UsageError(`--time-factor: expected a number in (0, 1], got "${values['time-factor']}"`);
  }
  if (values.endpoint !== undefined && !/^https?:\/\/[^/]+/.test(values.endpoint)) {
    throw new UsageError(`--endpoint: expected an http(s) URL, got "${values.endpoint}"`);
  }
  if (values.endpoint !== undefined && values.keep)
    throw new UsageError('--keep has no meaning with --endpoint');
  return {
    planPath: values.plan,
    mode: mode.data,
    ...(values.of !== undefined ? { of: values.of as NonNullable<DrillOptions['of']> } : {}),
    timeFactor,
    keep: values.keep,
    verbose: values.verbose,
    ...(values.endpoint ? { endpoint: values.endpoint } : {}),
    ...(values.scenario === 'vault-sync'
      ? {
          scenario: 'vault-sync' as const,
          vaultRemoved: values['vault-removed'],
          vaultReplicas: values['vault-replicas'],
        }
      : {}),
    ...(values.scenario === 'replicator' ? { scenario: 'replicator' as const } : {}),
    ...(values.scenario === 'round-trip' ? { scenario: 'round-trip' as const } : {}),
  };
}

/** `--scenario vault-sync`: exit 0 when every fact holds (local/vault/vault-sync-scenario.ts). */
async function runScenario(options: DrillOptions, io: Io, cleanup: Cleanup): Promise<number> {
  const plan = loadPlanFile(options.planPath);
  quietLogs(options);
  const outcome = await runVaultSyncScenario(
    {
      timeFactor: options.timeFactor,
      region: plan.primaryRegion,
      ...(options.vaultReplicas ? { replicaRegion: plan.recoveryRegion } : {}),
      removed: options.vaultRemoved ?? 'delete',
      cleanup,
    },
    io.out,
  );
  io.out('');
  io.out('facts checked:');
  for (const f of outcome.facts) io.out(`  [${f.ok ? 'ok' : 'FAIL'}] ${f.fact}: ${f.detail}`);
  return outcome.facts.every((f) => f.ok) ? 0 : 1;
}

/** `--scenario round-trip`: exit 0 when every run succeeded and every fact holds (local/round-trip-scenario.ts). */
async function runRoundTripScenario(options: DrillOptions, io: Io, cleanup: Cleanup): Promise<number> {
  quietLogs(options);
  const started = Date.now();
  const outcome = await runRoundTrip(
    { planPath: options.planPath, timeFactor: options.timeFactor, verbose: options.verbose, cleanup },
    io.out,
  );
  io.out('');
  io.out('facts checked on the real databases, DNS and the emulated AWS:');
  for (const f of outcome.facts) io.out(`  [${f.ok ? 'ok' : 'FAIL'}] ${f.fact}: ${f.detail}`);
  io.out('');
  io.out(
    `${outcome.runs.length} executions (${outcome.runs.map((r) => `${r.mode} ${r.run.status}`).join(', ')}); wall time ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  const ok = outcome.runs.every((r) => r.run.status === 'SUCCEEDED') && outcome.facts.every((f) => f.ok);
  return ok && outcome.facts.length > 0 ? 0 : 1;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

export interface Fact {
  fact: string;
  ok: boolean;
  detail: string;
}

export interface DrillOutcome {
  run: RunResult;
  report: RunReport | undefined;
  facts: Fact[];
  /** Where the facts were checked, for their heading. */
  factsChecked: string;
  /** Seconds: world up, synthesis, execution, facts. */
  timings: Record<string, number>;
}

interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

/**
 * Runs one drill end to end and returns what happened; the world is closed unless `keep`. Used by `main` and by
 * the end-to-end tests.
 */
/** What `prepare` leaves for the drill: its facts, facts to check after the run, and what to close with the world. */
export interface Prepared {
  readonly facts: readonly Fact[];
  /** Facts after the run; the run's report says when things happened (a switchover's fence, its DNS change). */
  after?(report?: RunReport): Promise<Fact[]>;
  close?(): Promise<void>;
}

export async function runLocalDrill(
  options: DrillOptions & {
    password?: string;
    runId?: string;
    onWorld?: (world: ProvingGround) => void;
    /** Where every process and temporary directory is registered for Ctrl-C (see `main`). @default a private one */
    cleanup?: Cleanup;
    /**
     * Runs in the world after provisioning and before the execution (the replicator scenario); its facts come first,
     * `after`'s follow the failover's. @default none
     */
    prepare?: (world: ProvingGround, cleanup: Cleanup) => Promise<Prepared>;
  },
  io: Io,
): Promise<DrillOutcome & { world?: ProvingGround }> {
  const cleanup = options.cleanup ?? new Cleanup();
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  const plan = loadPlanFile(options.planPath);
  quietLogs(options);
  const [orchestrator, world] = await Promise.all([
    (async () => {
      const t = Date.now();
      const o = await loadOrSynthesize(options.planPath, io.out, cleanup);
      timings.synthesisSeconds = (Date.now() - t) / 1000;
      return o;
    })(),
    (async () => {
      const t = Date.now();
      const w = await startProvingGround({
        plan,
        timeFactor: options.timeFactor,
        ...(options.password ? { password: options.password } : {}),
        ...(options.verbose ? { onLog: (line: string) => io.err(`  . ${line}`) } : {}),
        onProblem: (line: string) => io.err(`  ! ${line}`),
        cleanup,
        onProgress: io.out,
      });
      timings.worldSeconds = (Date.now() - t) / 1000;
      return w;
    })(),
  ]);
  options.onWorld?.(world);
  let prepared: Prepared | undefined;
  try {
    await world.provision(orchestrator);
    for (const u of world.units.values()) {
      io.out(
        `world: ${u.unit.name}: primary ${u.primary.id} (${plan.primaryRegion}) at ${u.primary.address}:${u.primary.port}, ` +
          `replica ${u.replica.id} (${plan.recoveryRegion}) at ${u.replica.address}:${u.replica.port}, ${u.rows} rows; ` +
          `${u.unit.database.engine} on ${u.software}; ` +
          `${u.unit.dns.recordName} -> ${u.primaryEndpoint}`,
      );
    }
    // The emulator and DNS endpoints were printed when they started (local/proving-ground.ts).
    io.out(`world: time factor ${world.timeFactor}`);
    io.out('');
    prepared = options.prepare ? await options.prepare(world, cleanup) : undefined;
    if (prepared) io.out('');
    const runId = options.runId ?? runIdFor(options.scenario ?? options.mode);
    const t = Date.now();
    // Ctrl-C stops the execution first (the cleanup runs newest first), so that no step starts against servers
    // being stopped and nothing it would print about them reaches the terminal (docs/design/interrupt.md).
    const stopRun = new AbortController();
    const deregisterRun = cleanup.add('the execution', () => stopRun.abort());
    const run = await runExecution(orchestrator, {
      input: {
        mode: options.mode,
        ...(options.of ? { of: options.of } : {}),
        trigger: 'cli',
        reason: 'local proving ground',
      },
      executionName: runId,
      timeFactor: options.timeFactor,
      environment: world.environment(),
      onStep: printProgress(io, cleanup),
      signal: stopRun.signal,
    }).finally(deregisterRun);
    timings.executionSeconds = (Date.now() - t) / 1000;
    const report =
      (run.output as RunReport | undefined) ??
      (await fetchReport(
        { ...world.emulator.clientConfig(plan.recoveryRegion), forcePathStyle: true },
        orchestrator,
        runId,
      ));
    const tf = Date.now();
    const facts = [
      ...(prepared?.facts ?? []),
      ...(options.mode === 'failover' || options.mode === 'switchover' ? await checkFacts(world) : []),
      ...((await prepared?.after?.(report)) ?? []),
    ];
    timings.factsSeconds = (Date.now() - tf) / 1000;
    timings.totalSeconds = (Date.now() - t0) / 1000;
    const factsChecked = 'on the real databases and DNS';
    if (options.keep) return { run, report, facts, factsChecked, timings, world };
    return { run, report, facts, factsChecked, timings };
  } finally {
    // An interrupt closes the world through the cleanup (it is registered there); closing it here as well would race.
    if (!cleanup.closing) await prepared?.close?.();
    if (!options.keep && !cleanup.closing) await world.close();
  }
}

/** The same run against another AWS-compatible server (see local/endpoint-world.ts for what is and is not checked). */
export async function runAgainstEndpoint(
  options: DrillOptions & { endpoint: string },
  io: Io,
): Promise<DrillOutcome> {
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  quietLogs(options);
  const world = await seedRemoteWorld(loadPlanFile(options.planPath), options.endpoint);
  timings.worldSeconds = (Date.now() - t0) / 1000;
  // The server hands out its own zone ids and function ARNs: the plan that runs there carries them. They are bound
  // into the orchestrator synthesized for the plan file, so its cache entry serves every server (rebindPlan).
  const ts = Date.now();
  const orchestrator = rebindPlan(await loadOrSynthesize(options.planPath, io.out), world.plan);
  timings.synthesisSeconds = (Date.now() - ts) / 1000;
  await world.provision(orchestrator);
  io.out(`world: seeded on ${options.endpoint} (no local databases or DNS: connectivity is not verified)`);
  io.out('');
  const runId = runIdFor(`endpoint-${options.mode}`);
  const te = Date.now();
  const run = await runExecution(orchestrator, {
    input: {
      mode: options.mode,
      ...(options.of ? { of: options.of } : {}),
      trigger: 'cli',
      reason: `against ${options.endpoint}`,
    },
    executionName: runId,
    timeFactor: options.timeFactor,
    environment: world.environment(),
    onStep: printProgress(io),
    replaceSteps: {
      verifyConnectivity: async (event) => notVerified(event as UnitStepInput),
    },
  });
  timings.executionSeconds = (Date.now() - te) / 1000;
  // A failed execution has no output; the report step stored the report in the stack's bucket all the same.
  const report =
    (run.output as RunReport | undefined) ??
    (await fetchReport(world.s3Config(world.plan.recoveryRegion), orchestrator, runId));
  const tf = Date.now();
  const facts = options.mode === 'failover' ? await world.checkFacts() : [];
  timings.factsSeconds = (Date.now() - tf) / 1000;
  timings.totalSeconds = (Date.now() - t0) / 1000;
  return {
    run,
    report,
    facts,
    factsChecked: `through the API of ${options.endpoint} only (no database or DNS server answers there)`,
    timings,
  };
}

/** Log levels for the handlers run in this process, and the SDK's Node-version warning off (it repeats per client). */
function quietLogs(options: Pick<DrillOptions, 'verbose'>): void {
  process.env.POWERTOOLS_LOG_LEVEL ??= options.verbose ? 'INFO' : 'ERROR';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

/**
 * The execution name of a local run: what it is, then the time (`failover-20300501100000`, `dry-run-…`,
 * `drill-…`, `endpoint-failover-…`, `replicator-…`), so that a failover's report is never named like a drill's.
 */
export function runIdFor(kind: string, at: Date = new Date()): string {
  return `${kind}-${at
    .toISOString()
    .replace(/[-:.TZ]/g, '')
    .slice(0, 14)}`;
}

function printProgress(io: Io, cleanup?: Cleanup): (event: StepEvent) => void {
  const progress = new DrillProgress();
  return (event) => {
    // After Ctrl-C, a step that was running when the servers stopped fails: the interrupt's doing, not progress.
    if (cleanup?.closing) return;
    const line = progress.line(event);
    if (line !== undefined) io.out(line);
  };
}

/** The verify step's stand-in with `--endpoint`: no database answers there, and the result says so. */
function notVerified(event: UnitStepInput): StepResult {
  const now = new Date().toISOString();
  return {
    step: 'verifyConnectivity',
    unit: event.unit.name,
    outcome: 'planned',
    startedAt: now,
    endedAt: now,
    durationMs: 0,
    detail: { verified: false, reason: 'not checked: no database answers behind --endpoint' },
    warnings: ['connectivity was not verified: the run used --endpoint, where no database answers'],
  };
}

/** The run's report as the report step stored it in the stack's bucket (`REPORT_BUCKET_NAME` of that step). */
export async function fetchReport(
  s3Config: ConstructorParameters<typeof S3Client>[0] & {},
  orchestrator: SynthesizedOrchestrator,
  runId: string,
): Promise<RunReport | undefined> {
  const bucket = orchestrator.steps.find((s) => s.step === 'report')?.environment.REPORT_BUCKET_NAME;
  if (!bucket) return undefined;
  const s3 = new S3Client(s3Config);
  try {
    const key = reportKeys({ planName: orchestrator.plan.name, runId }).run;
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse((await object.Body?.transformToString()) ?? '') as RunReport;
  } catch {
    // No report stored (the run stopped before its report step): the caller says so.
    return undefined;
  } finally {
    s3.destroy();
  }
}

/** The facts a failover must leave behind, checked on the real servers and through the real DNS server. */
export async function checkFacts(world: ProvingGround): Promise<Fact[]> {
  const facts: Fact[] = [];
  const sm = new SecretsManagerClient(world.emulator.clientConfig(world.plan.recoveryRegion));
  try {
    for (const u of world.units.values()) {
      const name = u.unit.name;
      // The promoted replica accepts writes and holds the primary's rows.
      facts.push(...(await replicaDatabaseFacts(world, u)));
      // The CNAME resolves, through the real DNS server, to the promoted instance.
      const answer = await resolveVia(world.dns.endpoint, u.unit.dns.recordName);
      facts.push({
        fact: `${name}: CNAME resolves to the promoted instance`,
        ok: answer.cname === u.replicaEndpoint && answer.addresses.includes(u.replica.address),
        detail: `${u.unit.dns.recordName} -> ${answer.cname ?? '?'} -> ${answer.addresses.join(', ') || '?'}`,
      });
      // The secret is standalone in the recovery Region, with rotation attached and not run.
      const secret = await sm.send(new DescribeSecretCommand({ SecretId: u.unit.secret.id }));
      facts.push({
        fact: `${name}: secret is standalone`,
        ok: !secret.PrimaryRegion || secret.PrimaryRegion === world.plan.recoveryRegion,
        detail: `PrimaryRegion ${secret.PrimaryRegion ?? '(none)'}`,
      });
      const rules = secret.RotationRules;
      facts.push({
        fact: `${name}: rotation attached, not rotated`,
        ok:
          secret.RotationEnabled === true &&
          secret.RotationLambdaARN === u.unit.rotation.lambdaArn &&
          !Object.values(secret.VersionIdsToStages ?? {}).some((s) => s.includes('AWSPENDING')),
        detail: `RotationEnabled ${String(secret.RotationEnabled)}, ${secret.RotationLambdaARN ?? 'no Lambda'}, ${
          rules?.ScheduleExpression ?? `${rules?.AutomaticallyAfterDays ?? '?'} days`
        }`,
      });
    }
  } finally {
    sm.destroy();
  }
  return facts;
}

/**
 * What `--time-factor` did to the report's times. Only the emulated AWS durations and the waits are scaled, not the
 * handlers' own work nor the databases', so the time at AWS speed cannot be computed from the local one by a factor;
 * the report says it is scaled instead of guessing (npm run bench measures what can be measured).
 */
function scaledTime(timeFactor: number): string | undefined {
  if (timeFactor === 1) return undefined;
  return `--time-factor ${timeFactor}: emulated AWS durations, waits and retry pauses ran ${Math.round(1 / timeFactor)}x shorter`;
}

/** `--scenario replicator`: the replicator fed by the world's events, before the failover (local/replicator-scenario.ts). */
async function prepareReplicator(world: ProvingGround, cleanup: Cleanup, io: Io): Promise<Prepared> {
  const scenario = await startReplicatorScenario(world, { cleanup, out: io.out });
  return {
    facts: [...scenario.facts],
    after: () => scenario.afterFailover(),
    close: () => scenario.close(),
  };
}

export async function main(
  argv: string[],
  io: Io = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) },
): Promise<number> {
  let options: DrillOptions;
  try {
    options = parseDrillArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      (error.exitCode === 0 ? io.out : io.err)(error.message);
      return error.exitCode;
    }
    io.err(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  io.out(
    options.scenario
      ? `lifeboat local scenario ${options.scenario}: plan ${options.planPath}`
      : `lifeboat local ${options.mode}: plan ${options.planPath}`,
  );
  // Before the first spawn: Ctrl-C at any later moment finds every process and temporary directory registered.
  const cleanup = new Cleanup();
  const interrupt = exitOnInterrupt(cleanup, io.err);
  if (options.scenario === 'vault-sync' || options.scenario === 'round-trip') {
    try {
      const code =
        options.scenario === 'round-trip'
          ? await runRoundTripScenario(options, io, cleanup)
          : await runScenario(options, io, cleanup);
      if (interrupt.interrupted) return interrupt.done;
      await cleanup.run();
      interrupt.dispose();
      return code;
    } catch (error) {
      if (interrupt.interrupted) return interrupt.done;
      await cleanup.run();
      interrupt.dispose();
      const e = error as Error;
      io.err(`${e.name}: ${e.message}`);
      return e.name === 'PlanInvalidError' || e.name === 'TypeError' ? 2 : 1;
    }
  }
  let outcome: Awaited<ReturnType<typeof runLocalDrill>>;
  try {
    outcome = options.endpoint
      ? await runAgainstEndpoint({ ...options, endpoint: options.endpoint }, io)
      : await runLocalDrill(
          {
            ...options,
            cleanup,
            ...(options.scenario === 'replicator'
              ? { mode: 'failover' as const, prepare: (world, c) => prepareReplicator(world, c, io) }
              : options.mode === 'switchover'
                ? // An application writes through the CNAME throughout (local/switchover-writer.ts).
                  { prepare: (world) => prepareSwitchoverWriters(world) }
                : {}),
          },
          io,
        );
  } catch (error) {
    // What failed because the world was stopped under it is the interrupt's doing, not an error to report.
    if (interrupt.interrupted) return interrupt.done;
    // A failed start-up may leave a sibling running (the synthesis while the world failed, or the reverse).
    await cleanup.run();
    interrupt.dispose();
    const e = error as Error;
    io.err(`${e.name === 'PlanInvalidError' ? '' : `${e.name}: `}${e.message}`);
    return e.name === 'PlanInvalidError' || e.name === 'TypeError' ? 2 : 1;
  }
  if (interrupt.interrupted) return interrupt.done;
  const { run, report, facts, timings } = outcome;
  io.out('');
  if (report) {
    io.out(renderReportText(report, { scaledTime: scaledTime(options.timeFactor) }));
    const files = writeReportFiles(report);
    io.out(`report: ${files.html} (Markdown: ${files.markdown})`);
  } else {
    io.out(
      `no report to show: the run stopped before its report step (${run.error?.name ?? 'unknown'}: ${run.error?.cause ?? ''})`,
    );
  }
  if (facts.length) {
    io.out(`facts checked ${outcome.factsChecked}:`);
    for (const f of facts) io.out(`  [${f.ok ? 'ok' : 'FAIL'}] ${f.fact}: ${f.detail}`);
  }
  io.out('');
  io.out(
    `execution ${run.status}${run.error ? ` (${run.error.name})` : ''}: ${run.transitions} state transitions, ` +
      `${run.invocations} Lambda invocations; wall time ${timings.totalSeconds?.toFixed(1)} s ` +
      `(world ${timings.worldSeconds?.toFixed(1)} s, synthesis ${timings.synthesisSeconds?.toFixed(1)} s, ` +
      `execution ${timings.executionSeconds?.toFixed(1)} s, facts ${timings.factsSeconds?.toFixed(1)} s)`,
  );
  const verified = run.status === 'SUCCEEDED' && facts.every((f) => f.ok);
  if (outcome.world) {
    io.out(`--keep: the world is up (emulator ${outcome.world.emulator.endpoint}); Ctrl-C stops it`);
    await interrupt.done;
  }
  interrupt.dispose();
  return verified ? 0 : 1;
}

const invokedDirectly =
  process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
