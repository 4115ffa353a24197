import { type ExecutionError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import {
  type DrillCleanupResult,
  type DrillResource,
  drillNames,
  type PrepareDrillResult,
} from '../../functions/lib/drill.js';
import { TransientAwsError } from '../../functions/lib/errors.js';
import { loadRun } from '../../functions/lib/load-plan.js';
import { acquireLock, releaseLock } from '../../functions/lib/lock.js';
import type { PlanDocument } from '../../functions/lib/plan.js';
import { instanceDatabase, isAuroraUnit } from '../../functions/lib/plan-names.js';
import {
  buildRunReport,
  type ReportEvent,
  type RunReport,
  reportForExecutionOutput,
  type SummarizeUnitEvent,
  summarizeUnitOutcome,
} from '../../functions/lib/report/index.js';
import { withMapRunOutcomes, writeRunUnits } from '../../functions/lib/run-objects.js';
import { jsonBytes } from '../../functions/lib/state-limits.js';
import type {
  PollResult,
  PreflightReport,
  RunContext,
  StepName,
  StepResult,
  UnitStepInput,
} from '../../functions/lib/types.js';
import { emulateMapIo, type MapIoStore } from '../../local/distributed-map-io.js';
import { STATE_NAMES } from '../../statemachine/failover.js';
import { fakeLockTable } from './fake-lock-table.js';
import { allStates, RUN_BUCKET, type SynthOptions, synthDefinition } from './synth-definition.js';

/* A plan with any number of units, valid against the schema. */
export function planWith(units: number, overrides: Partial<PlanDocument> = {}): PlanDocument {
  const names = ['orders', 'billing', 'catalog', 'payments', 'search', 'users'];
  return {
    name: 'orders-dr',
    account: '123456789012',
    primaryRegion: 'us-east-1',
    recoveryRegion: 'us-west-2',
    targetRtoSeconds: 900,
    maxConcurrency: 10,
    units: Array.from({ length: units }, (_, i) => {
      const name = names[i] ?? `unit-${i}`;
      return {
        name,
        secret: { id: `${name}/db` },
        database: {
          engine: i % 2 === 0 ? ('postgres' as const) : ('mysql' as const),
          primaryInstanceId: `${name}-db`,
          replicaInstanceId: `${name}-db-replica`,
        },
        dns: { hostedZoneId: 'Z0LIFEBOAT00EXAMPLE', recordName: `${name}-db.internal.example.com`, ttl: 5 },
        rotation: {
          lambdaArn: `arn:aws:lambda:us-west-2:123456789012:function:${name}-rotation`,
          schedule: 30,
        },
      };
    }),
    ...overrides,
  };
}

export const RUN_ID = 'run-1';
export const EXECUTION_ARN = `arn:aws:states:us-west-2:123456789012:execution:lifeboat-orders-dr:${RUN_ID}`;

export interface Call {
  state: string;
  input: Record<string, unknown>;
  /** Order of the call across the whole execution. */
  seq: number;
  /** 1 for the first call of this state for this unit, 2 for its first retry or next poll, … */
  attempt: number;
}

export type Stub = (input: Record<string, unknown>, call: Call) => unknown;

export interface FlowRun {
  status: 'succeeded' | 'failed';
  output?: RunReport;
  /** When failed: the error name and cause the execution failed with. */
  error?: { name: string; cause: string };
  calls: Call[];
  /** What the report step received (the real buildRunReport runs on it). */
  reportInput?: ReportEvent;
  /** The report it returned, also when the execution then failed. */
  report?: RunReport;
  lock: ReturnType<typeof fakeLockTable>;
  definition: StateMachineDefinition;
  /** Every state entered, nested ones included, in order. */
  entered: string[];
  /** The report bucket's objects by key: the run's units and the Map Run's result files and manifest. */
  objects: Map<string, string>;
  /** The parent execution's own states as they were entered and left, with the size of their input or output. */
  parentStates: { name: string; event: 'StateEntered' | 'StateExited'; bytes: number }[];
  /** What the report step received: the parent's state at the end, before the outcomes are read from S3. */
  reportState?: Record<string, unknown>;
}

/** The report bucket of a flow run, in memory: the Distributed Map reads and writes it as it would S3. */
export function memoryBucket(
  objects = new Map<string, string>(),
): MapIoStore & { objects: Map<string, string> } {
  return {
    objects,
    async get(bucket, key) {
      const body = objects.get(`${bucket}/${key}`);
      if (body === undefined) throw Object.assign(new Error(`NoSuchKey: ${key}`), { name: 'NoSuchKey' });
      return body;
    },
    async put(bucket, key, body) {
      objects.set(`${bucket}/${key}`, body);
    },
  };
}

export interface FlowOptions extends SynthOptions {
  plan?: PlanDocument;
  input?: unknown;
  /** Replace the default behaviour of a Task, by state name. */
  stubs?: Partial<Record<string, Stub>>;
  /** Share a lock table between runs (e.g. a re-run, or two executions at once). */
  lock?: ReturnType<typeof fakeLockTable>;
  runId?: string;
  /** `$$.Task.Token` for the approval gate. */
  taskToken?: string;
}

const N = STATE_NAMES;

/** Mutating steps: none may run before the lock in failover mode, none may run when preflight fails. */
export const MUTATING_STATES = [
  N.promoteSecret,
  N.promoteDatabase,
  N.updateDns,
  N.settleRotation,
  N.attachRotation,
] as const;

const STEP_OF_STATE: Record<string, StepName> = {
  [N.promoteSecret]: 'promoteSecret',
  [N.promoteDatabase]: 'promoteDatabase',
  [N.updateDns]: 'updateDns',
  [N.settleRotation]: 'settleRotation',
  [N.attachRotation]: 'attachRotation',
  [N.verifyConnectivity]: 'verifyConnectivity',
};

export function stepResult(
  step: StepName,
  input: Record<string, unknown>,
  extra: Partial<StepResult> = {},
): StepResult {
  const { run, unit } = input as unknown as UnitStepInput;
  const now = new Date().toISOString();
  const planned = run.mode === 'dry-run';
  return {
    step,
    unit: unit.name,
    outcome: planned ? 'planned' : 'changed',
    startedAt: now,
    endedAt: now,
    durationMs: 0,
    detail:
      step === 'updateDns'
        ? {
            changeId: planned ? null : `C-${unit.name}`,
            target: `${isAuroraUnit(unit) ? unit.database.replicaClusterId : instanceDatabase(unit, 'this test').replicaInstanceId}.rds.example.com`,
          }
        : {},
    warnings: [],
    ...extra,
  };
}

/** What Prepare drill copies returns: the drill unit (names from drillNames) and the copies it made. */
export function prepareDrillResult(
  input: Record<string, unknown>,
  extra: Partial<PrepareDrillResult> = {},
): PrepareDrillResult {
  const { run, unit } = input as unknown as UnitStepInput;
  const names = drillNames(run.runId, unit.name);
  const record = `${names.instanceId}.internal.example.com`;
  const resources: DrillResource[] = [
    { kind: 'db-instance', id: names.instanceId, region: run.recoveryRegion, status: 'created' },
    { kind: 'dns-records', id: record, region: 'global', status: 'created' },
    { kind: 'primary-secret', id: names.secretName, region: run.primaryRegion, status: 'created' },
    { kind: 'replica-secret', id: names.secretName, region: run.recoveryRegion, status: 'created' },
  ];
  return {
    ...stepResult('prepareDrill', input),
    detail: { drillInstance: names.instanceId, drillSecret: names.secretName, drillRecord: record },
    drillUnit: {
      ...unit,
      secret: { id: names.secretName },
      database: { ...instanceDatabase(unit, 'this test'), replicaInstanceId: names.instanceId },
      dns: { ...unit.dns, recordName: record, strategy: 'cname' },
    },
    resources,
    ...extra,
  };
}

/** What one cleanup pass returns: by default every copy deleted. */
export function cleanupResult(
  input: Record<string, unknown>,
  extra: Partial<DrillCleanupResult> = {},
): DrillCleanupResult {
  const { run, unit } = input as unknown as UnitStepInput;
  const names = drillNames(run.runId, unit.name);
  const resources: DrillResource[] = [
    { kind: 'db-instance', id: names.instanceId, region: run.recoveryRegion, status: 'deleted' },
    {
      kind: 'dns-records',
      id: `${names.instanceId}.internal.example.com`,
      region: 'global',
      status: 'deleted',
    },
    { kind: 'primary-secret', id: names.secretName, region: run.primaryRegion, status: 'deleted' },
    { kind: 'replica-secret', id: names.secretName, region: run.recoveryRegion, status: 'deleted' },
  ];
  return {
    ...poll(true, { status: 'clean', waitSeconds: 0 }),
    resources,
    remaining: [],
    ...extra,
  };
}

export function poll(done: boolean, extra: Partial<PollResult> = {}): PollResult {
  return {
    done,
    status: done ? 'available' : 'modifying',
    waitSeconds: 5,
    observedAt: new Date().toISOString(),
    detail: {},
    ...extra,
  };
}

export function preflightReport(extra: Partial<PreflightReport> = {}): PreflightReport {
  return {
    ok: true,
    checkedAt: new Date().toISOString(),
    durationMs: 3,
    checks: [],
    errors: [],
    warnings: [],
    readiness: {},
    ...extra,
  };
}

/** An error as a Lambda reports it: Step Functions matches `name`. */
export function lambdaError(name: string, message = `${name} in a stub`): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/**
 * Runs the synthesized definition in aws-local-stepfunctions with every Task bound to a recording stub (by state
 * name), Waits and retry pauses at 0 ms. LoadPlan, the lock steps and the report run the real domain code (the lock
 * against an in-memory table), so the flow tests also prove those shapes fit the definition.
 */
export async function runFlow(options: FlowOptions = {}): Promise<FlowRun> {
  const plan = options.plan ?? planWith(1);
  const { definition } = synthDefinition(plan, options);
  const lock = options.lock ?? fakeLockTable();
  const runId = options.runId ?? RUN_ID;
  const calls: Call[] = [];
  const attempts = new Map<string, number>();
  let seq = 0;
  let reportInput: ReportEvent | undefined;
  let reportState: Record<string, unknown> | undefined;
  let report: RunReport | undefined;
  const bucket = memoryBucket();

  const defaults: Record<string, Stub> = {
    // As functions/load-plan.ts: the units go to the report bucket for the Map's ItemReader.
    [N.loadPlan]: async (input) => {
      const loaded = loadRun(input as never);
      await writeRunUnits(bucket, RUN_BUCKET, loaded.unitsKey as string, loaded.units);
      const { units: _written, ...rest } = loaded;
      return rest as never;
    },
    [N.preflight]: () => preflightReport(),
    [N.acquireLock]: (input) =>
      acquireLock({ dynamodb: lock.client }, 'lifeboat-locks', input.run as RunContext),
    [N.releaseLock]: (input) =>
      releaseLock({ dynamodb: lock.client }, 'lifeboat-locks', input.run as RunContext | undefined),
    [N.checkDatabasePromotion]: () =>
      poll(true, { detail: { endpoint: 'orders-db-replica.rds.example.com', port: 5432 } }),
    [N.checkDnsChange]: () => poll(true, { status: 'INSYNC' }),
    [N.prepareDrill]: (input) => prepareDrillResult(input),
    [N.checkDrillCopies]: () => poll(true, { status: 'available/InSync' }),
    [N.cleanUpDrill]: (input) => cleanupResult(input),
    [N.summarizeUnit]: (input) => {
      const event = input as unknown as SummarizeUnitEvent;
      return summarizeUnitOutcome(event.outcome, event.budgetBytes);
    },
    // As functions/report.ts: the outcomes are read from the Map Run's result files first.
    [N.report]: async (input) => {
      reportState = structuredClone(input);
      const event = await withMapRunOutcomes(bucket, input as ReportEvent);
      reportInput = structuredClone(event);
      report = buildRunReport(event, new Date());
      // As functions/report.ts returns it: the execution output, trimmed when it would not fit.
      return reportForExecutionOutput(report);
    },
    ...Object.fromEntries(
      Object.entries(STEP_OF_STATE).map(([state, step]) => [
        state,
        (input: Record<string, unknown>) => stepResult(step, input),
      ]),
    ),
  };

  const taskStates = [...allStates(definition)].filter(([, s]) => s.Type === 'Task').map(([name]) => name);
  const waitStates = [...allStates(definition)].filter(([, s]) => s.Type === 'Wait').map(([name]) => name);
  const handlers: Record<string, (input: unknown) => Promise<never>> = {};
  for (const state of taskStates) {
    handlers[state] = async (raw: unknown) => {
      const input = structuredClone(raw) as Record<string, unknown>;
      const unitName = (input.unit as { name?: string } | undefined)?.name ?? '';
      const key = `${state}/${unitName}`;
      const attempt = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, attempt);
      const call: Call = { state, input, seq: seq++, attempt };
      calls.push(call);
      const stub = options.stubs?.[state] ?? defaults[state];
      if (!stub) throw new Error(`no stub for Task state "${state}"`);
      return JSON.parse(JSON.stringify((await stub(input, call)) ?? null)) as never;
    };
  }

  // aws-local-stepfunctions does not execute ItemReader and ResultWriter: the proving ground's rewrite does.
  const runnable = structuredClone(definition);
  const mapIo = emulateMapIo(runnable.States as Record<string, unknown>, {
    store: bucket,
    stateMachineArn: EXECUTION_ARN.replace(/:execution:([^:]+):.*$/, ':stateMachine:$1'),
  });
  Object.assign(handlers, mapIo.handlers);
  const machine = new StateMachine(runnable, { validationOptions: { checkArn: false, checkPaths: false } });
  const execution = machine.run((options.input ?? {}) as never, {
    context: {
      Execution: { Id: EXECUTION_ARN.replace(RUN_ID, runId), Name: runId },
      ...(options.taskToken ? { Task: { Token: options.taskToken } } : {}),
    },
    overrides: {
      taskResourceLocalHandlers: handlers,
      waitTimeOverrides: Object.fromEntries(waitStates.map((w) => [w, 0])),
      retryIntervalOverrides: Object.fromEntries(taskStates.map((t) => [t, 0])),
    },
  });
  const entered: string[] = [];
  const parentStates: FlowRun['parentStates'] = [];
  const draining = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'StateEntered') entered.push(event.state.name);
      // The parent's own states (a Map's children carry `index`): what its history and state data hold.
      if ('index' in event && event.index !== undefined) continue;
      if (event.type === 'StateEntered' || event.type === 'StateExited') {
        // The emulated Map's reader, Map and writer are shown as the one Map state (its input, its output).
        const shown = mapIo.historyName.get(event.state.name);
        if (shown && shown.shows !== (event.type === 'StateEntered' ? 'entered' : 'exited')) continue;
        const data = event.type === 'StateEntered' ? event.state.input : event.state.output;
        const name = shown?.map ?? event.state.name;
        parentStates.push({ name, event: event.type, bytes: jsonBytes(data ?? null) });
      }
    }
  })();
  const drained = () => Promise.race([draining, new Promise((r) => setTimeout(r, 250))]);
  try {
    const output = (await execution.result) as unknown as RunReport;
    await drained();
    return {
      status: 'succeeded',
      output,
      calls,
      reportInput,
      report,
      lock,
      definition,
      entered,
      objects: bucket.objects,
      parentStates,
      reportState,
    };
  } catch (error) {
    await drained();
    const cause = (error as ExecutionError & { cause?: { name?: string; message?: string } }).cause;
    return {
      status: 'failed',
      error: {
        name: cause?.name ?? (error as Error).name,
        cause: cause?.message ?? (error as Error).message,
      },
      calls,
      reportInput,
      report,
      lock,
      definition,
      entered,
      objects: bucket.objects,
      parentStates,
      reportState,
    };
  }
}

/** States called, in order, optionally for one unit only. */
export function statesCalled(run: FlowRun, unit?: string): string[] {
  return run.calls
    .filter((c) => unit === undefined || (c.input.unit as { name?: string } | undefined)?.name === unit)
    .map((c) => c.state);
}

export function callsOf(run: FlowRun, state: string, unit?: string): Call[] {
  return run.calls.filter(
    (c) =>
      c.state === state &&
      (unit === undefined || (c.input.unit as { name?: string } | undefined)?.name === unit),
  );
}

/** A stub that fails `times` times with `error`, then does `then`. */
export function failing(times: number, error: () => Error, then: Stub): Stub {
  return (input, call) => {
    if (call.attempt <= times) throw error();
    return then(input, call);
  };
}

export const transient = () => new TransientAwsError('Throttling: Rate exceeded (stub)');
