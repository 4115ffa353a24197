import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  type DescribeExecutionOutput,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import type { SNSClient } from '@aws-sdk/client-sns';
import { cleanUpDrillCopies, type DrillCleanupResult, type DrillDeps } from './drill.js';
import { awsErrorName, InputInvalidError, ResourceBusyError, toLifeboatError } from './errors.js';
import { ENDED_EXECUTION_STATUSES, releaseLock } from './lock.js';
import { logger } from './observability.js';
import type { UnitPlan } from './plan.js';
import {
  buildRunReport,
  type CleanupRecord,
  deliverReport,
  type ReportEvent,
  type RunReport,
  type StateFailure,
  type UnitRunRecord,
} from './report/index.js';
import { isMapRunResults, readRunUnits, s3Store, withMapRunOutcomes } from './run-objects.js';
import type { LoadedRun, PreflightReport, RunContext } from './types.js';
import './sdk/sfn.js';

/**
 * The ended-run handler (docs/design/lock.md, "Runs that end without their Catch"). An execution that times out or
 * is stopped runs no more states: not its report, not its lock release, not a drill's cleanup. EventBridge delivers
 * its "Step Functions Execution Status Change" event (TIMED_OUT, ABORTED, FAILED) here, and this does what the run
 * could not: reads the execution (DescribeExecution, GetExecutionHistory), deletes a drill's copies, writes the
 * report unless the run wrote one, and releases the lock if that execution still holds it.
 * docs/aws/step-functions-execution-events.md has the event and the API facts this relies on.
 */

export const STATUS_CHANGE_SOURCE = 'aws.states';
export const STATUS_CHANGE_DETAIL_TYPE = 'Step Functions Execution Status Change';
/** The statuses the rule sends here: the ones whose execution may have skipped its report and lock release. */
export const ENDED_RUN_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;
export type EndedRunStatus = (typeof ENDED_RUN_STATUSES)[number];

/**
 * The definition's state names this reads in the history (statemachine/failover.ts, STATE_NAMES; a test holds them
 * equal: functions do not import the definition).
 */
export const HISTORY_STATES = {
  loadPlan: 'Load plan',
  preflight: 'Run preflight checks',
  failOverUnits: 'Fail over each unit',
  report: 'Write failover report',
} as const;

/** Errors the report names when DescribeExecution gives none. */
export const ENDED_RUN_ERRORS: Record<EndedRunStatus, string> = {
  TIMED_OUT: 'ExecutionTimedOut',
  ABORTED: 'ExecutionAborted',
  FAILED: 'ExecutionFailed',
};

/** Most history pages read (1,000 events each): a parent's history is short, its units run as child executions. */
const MAX_HISTORY_PAGES = 25;

export interface StatusChangeDetail {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: string;
  startDate?: number;
  stopDate?: number | null;
  input?: string | null;
  output?: string | null;
}

export interface StatusChangeEvent {
  source: string;
  'detail-type': string;
  detail: StatusChangeDetail;
}

export interface EndedRunConfig {
  /** The state machine whose executions this closes; any other is refused. */
  stateMachineArn: string;
  lockTableName: string;
  reportBucket?: string | undefined;
  reportTopicArn?: string | undefined;
}

export interface EndedRunDeps {
  sfn: SFNClient;
  dynamodb: DynamoDBClient;
  s3: S3Client;
  sns: SNSClient;
  cloudwatch?: CloudWatchClient;
  /** Clients for a drill's copies, in the run's Regions. */
  drill: (run: RunContext) => DrillDeps;
  /** Waits between cleanup passes. */
  sleep: (ms: number) => Promise<void>;
  /** Epoch ms after which no further cleanup pass starts (the function's own timeout, less a margin). */
  deadline: () => number;
  now?: () => Date;
}

export interface UnitCleanup {
  unit: string;
  status: 'clean' | 'incomplete';
  passes: number;
  last: DrillCleanupResult | undefined;
}

export interface EndedRunOutcome {
  executionArn: string;
  status: string;
  /** `skipped`: the execution is running again (redriven); nothing was done. */
  action: 'closed' | 'skipped';
  /** Who wrote the run's report: the run itself, this handler, or nobody (skipped). */
  report: 'by-the-run' | 'written' | 'none';
  lockReleased: boolean;
  /** The last state the execution entered. */
  lastState: string | null;
  drillCleanup?: UnitCleanup[];
}

/** What the parent execution's history says about how far the run got. */
export interface RunTrace {
  loaded: LoadedRun | undefined;
  preflight: PreflightReport | undefined;
  unitsEntered: boolean;
  /** The Map's output when it ended: each unit's outcome. */
  unitOutcomes: unknown[] | undefined;
  /** The Map's reference to its results in S3, when it wrote them there (read into unitOutcomes). */
  mapRun?: unknown;
  reportWritten: boolean;
  lastState: string | null;
}

export function checkStatusChangeEvent(event: unknown, stateMachineArn: string): StatusChangeEvent {
  const problems: string[] = [];
  const e = (event ?? {}) as Partial<StatusChangeEvent>;
  if (e.source !== STATUS_CHANGE_SOURCE)
    problems.push(`source: expected ${STATUS_CHANGE_SOURCE}, got ${String(e.source)}`);
  if (e['detail-type'] !== STATUS_CHANGE_DETAIL_TYPE) {
    problems.push(`detail-type: expected "${STATUS_CHANGE_DETAIL_TYPE}", got ${String(e['detail-type'])}`);
  }
  const d = (e.detail ?? {}) as Partial<StatusChangeDetail>;
  for (const key of ['executionArn', 'stateMachineArn', 'name', 'status'] as const) {
    if (typeof d[key] !== 'string' || d[key] === '') problems.push(`detail.${key}: required`);
  }
  if (typeof d.status === 'string' && !(ENDED_RUN_STATUSES as readonly string[]).includes(d.status)) {
    problems.push(`detail.status: expected one of ${ENDED_RUN_STATUSES.join(', ')}, got ${d.status}`);
  }
  if (typeof d.stateMachineArn === 'string' && d.stateMachineArn !== stateMachineArn) {
    problems.push(
      `detail.stateMachineArn: ${d.stateMachineArn} is not this plan's state machine ${stateMachineArn}`,
    );
  }
  if (problems.length) {
    throw new InputInvalidError(
      `not a status change of this plan's ended executions: ${problems.join('; ')}`,
      problems,
    );
  }
  return e as StatusChangeEvent;
}

export async function closeEndedRun(
  deps: EndedRunDeps,
  config: EndedRunConfig,
  input: unknown,
): Promise<EndedRunOutcome> {
  const event = checkStatusChangeEvent(input, config.stateMachineArn);
  const { executionArn } = event.detail;
  const now = deps.now ?? (() => new Date());

  // The event may be late, or the execution redriven since: only an execution that is not running is closed.
  const execution = await describe(deps.sfn, executionArn);
  const status = execution.status ?? event.detail.status;
  if (!ENDED_EXECUTION_STATUSES.has(status)) {
    logger.info('ended-run event for an execution running again: nothing to do', { executionArn, status });
    return { executionArn, status, action: 'skipped', report: 'none', lockReleased: false, lastState: null };
  }
  const trace = await traceRun(deps.sfn, executionArn);
  await readRunObjects(deps, config.reportBucket, trace);
  const run = trace.loaded?.run;

  let drillCleanup: UnitCleanup[] | undefined;
  let report: EndedRunOutcome['report'] = 'by-the-run';
  if (!trace.reportWritten) {
    // The run wrote no report, so it did not reach its cleanup either: its copies are deleted here (a drill that
    // wrote its report cleaned up inside its units).
    if (run?.mode === 'drill' && trace.unitsEntered) {
      drillCleanup = await cleanUpDrill(deps, run, trace.loaded?.units ?? []);
    }
    const runReport = endedRunReport(event, execution, trace, drillCleanup, now());
    const delivered = await deliverReport(
      { s3: deps.s3, sns: deps.sns, ...(deps.cloudwatch ? { cloudwatch: deps.cloudwatch } : {}) },
      runReport,
      { bucket: config.reportBucket, topicArn: config.reportTopicArn },
    );
    logger.info('ended run reported', {
      executionArn,
      status,
      summary: delivered.summary,
      delivery: delivered.delivery,
    });
    report = 'written';
  }

  // Conditional on this run holding it: a failover that took over a stopped drill keeps its lock. A dry run never
  // takes one. The run id is the execution's name, so a run whose history could not be read is still released.
  const planName = run?.planName ?? planOf(config.stateMachineArn);
  const { released } =
    run?.mode === 'dry-run'
      ? { released: false }
      : await releaseLock({ dynamodb: deps.dynamodb }, config.lockTableName, {
          runId: run?.runId ?? event.detail.name,
          planName,
        });
  const outcome: EndedRunOutcome = {
    executionArn,
    status,
    action: 'closed',
    report,
    lockReleased: released,
    lastState: trace.lastState,
    ...(drillCleanup ? { drillCleanup } : {}),
  };
  logger.info('ended run closed', { ...outcome });
  const left = (drillCleanup ?? []).filter((u) => u.status === 'incomplete');
  if (left.length) {
    // Lambda's asynchronous retries come back (each pass is idempotent); after them, the event goes to the
    // function's failure destination and the report lists what is left.
    throw new ResourceBusyError(
      `drill copies of run ${run?.runId} are not all deleted yet: ${left
        .map(
          (u) =>
            `${u.unit}: ${(u.last?.remaining ?? []).map((r) => `${r.kind} ${r.id} (${r.status})`).join(', ') || 'pending'}`,
        )
        .join('; ')}`,
    );
  }
  return outcome;
}

async function describe(sfn: SFNClient, executionArn: string): Promise<DescribeExecutionOutput> {
  try {
    return await sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (error) {
    throw toLifeboatError(error, `DescribeExecution of ${executionArn}`);
  }
}

/** Reads the parent execution's history, oldest first, for how far the run got. */
export async function traceRun(sfn: SFNClient, executionArn: string): Promise<RunTrace> {
  const trace: RunTrace = {
    loaded: undefined,
    preflight: undefined,
    unitsEntered: false,
    unitOutcomes: undefined,
    reportWritten: false,
    lastState: null,
  };
  let nextToken: string | undefined;
  let pages = 0;
  do {
    let page: { events?: HistoryEvent[]; nextToken?: string };
    try {
      page = await sfn.send(
        new GetExecutionHistoryCommand({
          executionArn,
          maxResults: 1000,
          includeExecutionData: true,
          ...(nextToken ? { nextToken } : {}),
        }),
      );
    } catch (error) {
      throw toLifeboatError(error, `GetExecutionHistory of ${executionArn}`);
    }
    for (const event of page.events ?? []) readEvent(trace, event);
    nextToken = page.nextToken;
    pages += 1;
  } while (nextToken && pages < MAX_HISTORY_PAGES);
  return trace;
}

function readEvent(trace: RunTrace, event: HistoryEvent): void {
  const entered = event.stateEnteredEventDetails?.name;
  if (entered) {
    trace.lastState = entered;
    if (entered === HISTORY_STATES.failOverUnits) trace.unitsEntered = true;
  }
  const exited = event.stateExitedEventDetails;
  if (!exited?.name) return;
  const output = parseJson(exited.output);
  if (exited.name === HISTORY_STATES.loadPlan && isLoadedRun(output)) trace.loaded = output;
  if (exited.name === HISTORY_STATES.preflight) {
    const preflight = (output as { preflight?: PreflightReport } | undefined)?.preflight;
    if (preflight && typeof preflight === 'object') trace.preflight = preflight;
  }
  if (exited.name === HISTORY_STATES.failOverUnits) {
    const units = (output as { units?: unknown } | undefined)?.units;
    if (Array.isArray(units)) trace.unitOutcomes = units;
    // The Map wrote the outcomes to S3 and its output says where (functions/lib/run-objects.ts).
    const mapRun = (output as { mapRun?: unknown } | undefined)?.mapRun;
    if (mapRun !== undefined) trace.mapRun = mapRun;
  }
  // The report step's output replaces the state: a report there means the run wrote it (a caught failure of the
  // step leaves the state as it was, with `reportFailure`).
  if (exited.name === HISTORY_STATES.report && isReport(output)) trace.reportWritten = true;
}

/** Cleanup passes per unit, side by side, until each is done or the deadline comes. */
async function cleanUpDrill(deps: EndedRunDeps, run: RunContext, units: UnitPlan[]): Promise<UnitCleanup[]> {
  const drill = deps.drill(run);
  return Promise.all(
    units.map(async (unit): Promise<UnitCleanup> => {
      let last: DrillCleanupResult | undefined;
      let passes = 0;
      for (;;) {
        passes += 1;
        try {
          last = await cleanUpDrillCopies(drill, { run, unit, attempt: passes });
        } catch (error) {
          logger.warn('drill cleanup pass failed', {
            unit: unit.name,
            error: awsErrorName(error) ?? String(error),
          });
        }
        if (last?.done) break;
        const wait = (last?.waitSeconds || 10) * 1000;
        if (Date.now() + wait >= deps.deadline()) break;
        await deps.sleep(wait);
      }
      const clean = last?.done === true && last.remaining.length === 0;
      return { unit: unit.name, status: clean ? 'clean' : 'incomplete', passes, last };
    }),
  );
}

/** The report of a run that could not write its own: where it stopped, and (for a drill) its copies' cleanup. */
export function endedRunReport(
  event: StatusChangeEvent,
  execution: DescribeExecutionOutput,
  trace: RunTrace,
  drillCleanup: UnitCleanup[] | undefined,
  now: Date,
): RunReport {
  const status = (execution.status ?? event.detail.status) as EndedRunStatus;
  const verb = status === 'TIMED_OUT' ? 'timed out' : status === 'ABORTED' ? 'was stopped' : 'failed';
  const at = trace.lastState ? ` at state "${trace.lastState}"` : '';
  const why = execution.cause ? `: ${execution.cause}` : '';
  // A timeout is the execution's own (its States.Timeout is also an approval that ran out: the report tells them
  // apart by name); a stop or failure keeps the error it was given (e.g. DrillPreemptedByFailover).
  const given = status === 'TIMED_OUT' ? undefined : execution.error;
  const failure: StateFailure = {
    Error: given || ENDED_RUN_ERRORS[status] || 'ExecutionEnded',
    Cause: `the execution ${verb}${at} and wrote no report of its own${why}`,
  };
  const loaded = trace.loaded;
  const startTime = (execution.startDate ?? new Date(event.detail.startDate ?? now.getTime())).toISOString();
  if (!loaded) {
    return buildRunReport(
      {
        planName: planOf(event.detail.stateMachineArn),
        execution: { id: event.detail.executionArn, name: event.detail.name, startTime },
        units: [],
        failure,
      },
      now,
    );
  }
  const cleanups = new Map((drillCleanup ?? []).map((c) => [c.unit, c]));
  const unitRecord = (unit: UnitPlan): UnitRunRecord => {
    const cleanup = cleanups.get(unit.name)?.last;
    return {
      unit: unit.name,
      engine: unit.database.engine,
      dns: { recordName: unit.dns.recordName, ttl: unit.dns.ttl, strategy: unit.dns.strategy },
      status: 'failed',
      results: cleanup ? { cleanUpDrill: cleanupRecord(cleanup, cleanups.get(unit.name)?.passes ?? 1) } : {},
      failure: {
        Error: failure.Error,
        Cause: `the unit's child execution stopped with the run; what it reached is in the Map Run "units" of ${event.detail.executionArn}`,
      },
    };
  };
  const reportEvent: ReportEvent = {
    run: loaded.run,
    ...(trace.preflight ? { preflight: trace.preflight } : {}),
    plannedUnits: loaded.plannedUnits ?? loaded.units.map((u) => u.name),
    // The Map's own outcomes when it ended; otherwise every unit that ran is reported stopped with the run.
    units:
      (trace.unitOutcomes as UnitRunRecord[] | undefined) ??
      (trace.unitsEntered ? loaded.units.map(unitRecord) : []),
    failure,
  };
  return buildRunReport(reportEvent, now);
}

function cleanupRecord(result: DrillCleanupResult, passes: number): CleanupRecord {
  return {
    done: result.done,
    status: result.status,
    observedAt: result.observedAt,
    detail: result.detail,
    attempts: passes,
    resources: result.resources,
    remaining: result.remaining,
  };
}

/** `lifeboat-<plan>` is the state machine's name (infra/constructs/orchestrator.ts). */
function planOf(stateMachineArn: string): string {
  const name = stateMachineArn.split(':').at(-1) ?? '';
  return name.startsWith('lifeboat-') ? name.slice('lifeboat-'.length) : name;
}

function parseJson(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isLoadedRun(value: unknown): value is LoadedRun {
  const v = value as Partial<LoadedRun> | undefined;
  return typeof v?.run?.runId === 'string' && (Array.isArray(v.units) || typeof v?.unitsKey === 'string');
}

/**
 * LoadPlan's output names where it wrote the units instead of carrying them, and the Map's output where it wrote the
 * outcomes (functions/lib/run-objects.ts): both are read from the report bucket. Unreadable, the units are left
 * empty (nothing to clean up is known) and the outcomes unknown (every unit reported stopped with the run).
 */
async function readRunObjects(
  deps: EndedRunDeps,
  bucket: string | undefined,
  trace: RunTrace,
): Promise<void> {
  const store = s3Store(deps.s3);
  const loaded = trace.loaded;
  if (loaded && !Array.isArray(loaded.units)) {
    loaded.units = [];
    if (bucket && loaded.unitsKey) {
      try {
        loaded.units = await readRunUnits(store, bucket, loaded.unitsKey);
      } catch (error) {
        logger.warn('the run units could not be read', { key: loaded.unitsKey, error: String(error) });
      }
    }
  }
  if (isMapRunResults(trace.mapRun)) {
    const event = await withMapRunOutcomes(store, { mapRun: trace.mapRun, units: [] as unknown[] });
    trace.unitOutcomes = event.units;
  }
}

function isReport(value: unknown): value is RunReport {
  const v = value as Partial<RunReport> | undefined;
  return v?.reportVersion === 1 && typeof v.runId === 'string';
}
