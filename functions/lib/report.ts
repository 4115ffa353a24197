import { type CloudWatchClient, type MetricDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { type ApprovalRecord, asApprovalRecord, describeApproval, parseRejection } from './approval.js';
import type { DrillResource } from './drill.js';
import { awsErrorName, RUN_FAILURE_ERRORS } from './errors.js';
import type { Engine, Mode } from './plan.js';
import { jsonBytes, REPORT_OUTPUT_BUDGET_BYTES } from './state-limits.js';
import type { DetailValue, PreflightReport, RunContext, StepName, StepOutcome, StepResult } from './types.js';

export {
  jsonBytes,
  MAX_UNIT_OUTCOME_BYTES,
  MAX_UNITS_PER_RUN,
  MIN_UNIT_OUTCOME_BYTES,
  PREFLIGHT_STATE_BUDGET_BYTES,
  REPORT_OUTPUT_BUDGET_BYTES,
  STATE_DATA_LIMIT_BYTES,
  UNIT_OUTCOMES_BUDGET_BYTES,
  unitOutcomeBudgetBytes,
} from './state-limits.js';

/* ---------------------------------------------------------------------------------------------- */
/* What the state machine hands the report step                                                    */
/* ---------------------------------------------------------------------------------------------- */

/** A caught error as Step Functions gives it: `Error` is the name, `Cause` the message (for a Lambda, a JSON string). */
export interface StateFailure {
  Error: string;
  Cause?: string;
}

/** The last poll of a Wait/Choice loop, as the definition keeps it. */
export interface PollRecord {
  done: boolean;
  status: string;
  observedAt: string;
  detail: Record<string, DetailValue>;
  attempts: number;
}

/** The drill's copies as PrepareDrill made them (statemachine/failover.ts, "Switch to the drill copies"). */
export interface PrepareDrillRecord extends Omit<StepResult, 'step' | 'unit'> {
  resources: DrillResource[];
}

/** The last cleanup pass (statemachine/failover.ts, "Drill cleanup complete"). */
export interface CleanupRecord extends PollRecord {
  resources: DrillResource[];
  remaining: DrillResource[];
}

export interface UnitResults {
  /** Drill only: the copies made, how long the replica took to be ready, and their cleanup. */
  prepareDrill?: PrepareDrillRecord;
  waitForDrillCopies?: PollRecord;
  cleanUpDrill?: CleanupRecord;
  /** Drill only: why the cleanup did not finish (a failed pass, or out of passes). */
  cleanUpDrillFailure?: StateFailure;
  promoteSecret?: StepResult;
  promoteDatabase?: StepResult;
  waitForDatabasePromotion?: PollRecord;
  updateDns?: StepResult;
  waitForDnsInSync?: PollRecord;
  settleRotation?: StepResult;
  attachRotation?: StepResult;
  verifyConnectivity?: StepResult;
}

/** One Map iteration's output (statemachine/failover.ts, "Record unit success" / "Record unit failure"). */
export interface UnitRunRecord {
  unit: string;
  engine: Engine;
  dns?: { recordName: string; ttl: number; strategy?: string };
  status: 'succeeded' | 'failed';
  results: UnitResults;
  failure?: StateFailure;
  /** Set when the record was trimmed to fit its share of the state (summarizeUnitOutcome). */
  trimmed?: Trimmed;
}

/**
 * The report step's event: the state as it stands when the run ends, so its fields depend on how far it got.
 * `run` is absent when LoadPlan refused the run (then `planName` and `execution` say which run it was).
 */
export interface ReportEvent {
  run?: RunContext | null;
  planName?: string;
  execution?: { id: string; name: string; startTime: string };
  preflight?: PreflightReport | null;
  /** The Map's outputs; empty when the run stopped before the units. */
  units?: UnitRunRecord[];
  /** Names of the units the run would have failed over, when it stopped before them. */
  plannedUnits?: string[];
  /** A failure outside the units (LoadPlan, preflight, approval, lock). */
  failure?: StateFailure;
  /** What `lifeboat approve` sent to the approval gate (functions/lib/approval.ts), when the run waited for one. */
  approval?: unknown;
}

/* ---------------------------------------------------------------------------------------------- */
/* The report                                                                                      */
/* ---------------------------------------------------------------------------------------------- */

export type StepStatus = StepOutcome | 'done' | 'failed' | 'not-reached';

export interface StepReport {
  step: StepName;
  title: string;
  status: StepStatus;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  /** Polls made, for the wait steps. */
  attempts?: number;
  warnings: string[];
  detail: Record<string, DetailValue>;
}

export interface DnsReport {
  recordName: string | null;
  ttlSeconds: number | null;
  /** When lifeboat's change was accepted (or found already in place). */
  changedAt: string | null;
  /** When Route 53 reported the change INSYNC on its name servers. */
  inSyncAt: string | null;
  /** Until when a client that cached the old answer may still use it: in sync + TTL. */
  clientsMayCacheUntil: string | null;
}

export interface UnitReport {
  unit: string;
  engine: Engine | null;
  status: 'succeeded' | 'failed' | 'not-started';
  steps: StepReport[];
  /** The step where a failed unit stopped. */
  stoppedAt: StepName | null;
  failure: { step: StepName | null; error: string; cause: string } | null;
  dns: DnsReport | null;
  verifiedAt: string | null;
  /** Failover: run start to this unit verified. Drill: start of the promotions to this unit verified. */
  recoveryTimeSeconds: number | null;
  /** Drill only: the copies, the time they took (not counted in the recovery time), and their cleanup. */
  drill?: UnitDrillReport;
}

export interface UnitDrillReport {
  /** When PrepareDrill started and when the copies were ready (replica available, secret InSync). */
  copiesStartedAt: string | null;
  copiesReadyAt: string | null;
  /** Time spent making the copies; not part of the recovery time. */
  copiesSeconds: number | null;
  /** Where the recovery time starts: the first of the two promotions. */
  promotionStartedAt: string | null;
  /** The copies PrepareDrill made (or found made by this run). */
  made: DrillResource[];
  /** `clean`: every copy deleted. `incomplete`: something left behind (`leftBehind`). */
  cleanup: 'clean' | 'incomplete';
  /** Each copy and what the last cleanup pass found. */
  cleanedUp: DrillResource[];
  leftBehind: DrillResource[];
  cleanupError: { error: string; cause: string } | null;
}

/** A call a failover would make (dry run): per unit and step, with its parameters (never a secret value). */
export interface PlannedCall {
  unit: string;
  step: StepName;
  title: string;
  /** The API call, or null when the step would find its effect already there (or only reads). */
  call: string | null;
  parameters: Record<string, DetailValue>;
  note?: string;
}

/** The run-level drill summary. */
export interface DrillReport {
  /** The longest time any unit's copies took (they are made side by side); not part of the recovery time. */
  copiesSeconds: number | null;
  cleanup: 'clean' | 'incomplete';
  /** Every copy deleted (ids). */
  cleanedUp: string[];
  /** Copies still there after the drill: delete them by hand (the report says what each is). */
  leftBehind: DrillResource[];
}

export interface RunReport {
  reportVersion: 1;
  planName: string;
  runId: string;
  executionArn: string | null;
  /** The run as LoadPlan made it; absent when the run was refused. The state machine releases the lock with it. */
  run?: RunContext;
  mode: Mode | null;
  trigger: RunContext['trigger'] | null;
  reason: string | null;
  outcome: 'succeeded' | 'failed';
  /** When failed: the error name the execution fails with. */
  error?: string;
  /** One line: what happened. */
  summary: string;
  startedAt: string;
  endedAt: string;
  durationSeconds: number;
  /** Run start to the last unit verified; null unless every unit was verified in a failover. */
  recoveryTimeSeconds: number | null;
  targetRtoSeconds: number | null;
  rtoMet: boolean | null;
  preflight: { ok: boolean; errors: string[]; warnings: string[]; durationMs: number } | null;
  /** A failure outside the units (the run stopped before or around them). */
  failure: { stage: string; error: string; cause: string } | null;
  /** Who approved or rejected an alarm-started run, and when (functions/lib/approval.ts); absent when none was asked. */
  approval?: ApprovalRecord;
  units: UnitReport[];
  /** Drill only: the copies and their cleanup. */
  drill?: DrillReport;
  /** Dry run only: the calls a failover would make, per unit and step. */
  plannedCalls?: PlannedCall[];
  /** Where the report went; set by the report step after delivery. */
  delivery?: ReportDelivery;
  /** Set on the execution output when it had to leave parts out to fit; the S3 copy is whole. */
  outputTrimmed?: string;
}

export interface ReportDelivery {
  s3: { status: 'stored' | 'skipped' | 'failed'; keys?: string[]; error?: string };
  sns: { status: 'published' | 'skipped' | 'failed'; messageId?: string; error?: string };
  /** The RecoveryTimeSeconds metric (CloudWatch PutMetricData). */
  metrics?: { status: 'published' | 'skipped' | 'failed'; count?: number; error?: string };
}

/* ---------------------------------------------------------------------------------------------- */
/* Building                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

interface StepSpec {
  step: StepName;
  key: Exclude<keyof UnitResults, 'cleanUpDrillFailure'>;
  title: string;
  /** For a poll: the step whose end starts the wait. */
  after?: StepSpec['key'];
}

const DRILL_BEFORE: readonly StepSpec[] = [
  { step: 'prepareDrill', key: 'prepareDrill', title: 'Prepare drill copies' },
  {
    step: 'waitForDrillCopies',
    key: 'waitForDrillCopies',
    title: 'Wait for drill copies',
    after: 'prepareDrill',
  },
];
const DRILL_AFTER: readonly StepSpec[] = [
  { step: 'cleanUpDrill', key: 'cleanUpDrill', title: 'Clean up drill copies' },
];

/** The steps of a unit in the order they run (the secret's promotion runs beside the database's). */
const UNIT_STEPS: readonly StepSpec[] = [
  { step: 'promoteSecret', key: 'promoteSecret', title: 'Promote replica secret' },
  { step: 'promoteDatabase', key: 'promoteDatabase', title: 'Promote database replica' },
  {
    step: 'waitForDatabasePromotion',
    key: 'waitForDatabasePromotion',
    title: 'Wait for database promotion',
    after: 'promoteDatabase',
  },
  { step: 'updateDns', key: 'updateDns', title: 'Point DNS at promoted database' },
  { step: 'waitForDnsInSync', key: 'waitForDnsInSync', title: 'Wait for DNS change', after: 'updateDns' },
  // Rotation is attached only after verification (statemachine/failover.ts).
  { step: 'settleRotation', key: 'settleRotation', title: 'Settle interrupted rotation' },
  { step: 'verifyConnectivity', key: 'verifyConnectivity', title: 'Verify connectivity' },
  { step: 'attachRotation', key: 'attachRotation', title: 'Attach secret rotation' },
];

const MAX_CAUSE_CHARS = 2000;

/**
 * Turns the end state of a run into its report. Pure: the clock is passed in. Everything copied from step details
 * goes through `scrubSecrets` — steps never put secret material there, and this makes sure a slip cannot reach SNS.
 */
export function buildRunReport(input: ReportEvent, now: Date): RunReport {
  const event = scrubSecrets(input) as ReportEvent;
  const run = event.run ?? undefined;
  const endedAt = now.toISOString();
  const startedAt = run?.startedAt ?? event.execution?.startTime ?? endedAt;
  const runStart = Date.parse(startedAt);
  const mode = run?.mode ?? null;

  const entries: unknown[] = Array.isArray(event.units) ? event.units : [];
  const records = entries.filter(isUnitRunRecord);
  // A child execution of the Distributed Map that failed outright (the unit's own states catch every error, so only
  // a runtime fault or a stopped child gets here) comes back as its error instead of an outcome.
  const lost = entries.filter((e) => !isUnitRunRecord(e)).map(lostChildFailure);
  const units: UnitReport[] = records.map((record) => unitReport(record, runStart, mode));
  const reached = new Set(units.map((u) => u.unit));
  const unitsRan = entries.length > 0;
  for (const name of event.plannedUnits ?? []) {
    if (reached.has(name)) continue;
    units.push(unitsRan ? outcomeMissing(name, lost) : notStarted(name));
  }

  const runFailure = event.failure ? describeFailure(event.failure) : null;
  const failedUnits = units.filter((u) => u.status === 'failed');
  const outcome: RunReport['outcome'] = runFailure || failedUnits.length > 0 ? 'failed' : 'succeeded';

  // Every unit verified (a drill whose cleanup left something behind still measured its recovery).
  const everyUnitVerified = units.length > 0 && units.every((u) => u.recoveryTimeSeconds !== null);
  const recoveryTimeSeconds =
    !runFailure && everyUnitVerified && mode !== 'dry-run'
      ? Math.max(...units.map((u) => u.recoveryTimeSeconds ?? 0))
      : null;
  const targetRtoSeconds = run?.targetRtoSeconds ?? null;
  const rtoMet =
    recoveryTimeSeconds !== null && targetRtoSeconds !== null
      ? recoveryTimeSeconds <= targetRtoSeconds
      : null;

  const planName = run?.planName ?? event.planName ?? 'unknown-plan';
  const runId = run?.runId ?? event.execution?.name ?? 'unknown-run';
  const onlyCleanupFailed =
    failedUnits.length > 0 && failedUnits.every((u) => u.stoppedAt === 'cleanUpDrill');
  const error = runFailure
    ? runFailure.error
    : onlyCleanupFailed
      ? RUN_FAILURE_ERRORS.drillCleanupIncomplete
      : failedUnits.length > 0
        ? RUN_FAILURE_ERRORS.unitsFailed
        : undefined;

  const report: RunReport = {
    reportVersion: 1,
    planName,
    runId,
    executionArn: run?.executionArn ?? event.execution?.id ?? null,
    ...(run ? { run } : {}),
    mode,
    trigger: run?.trigger ?? null,
    reason: run?.reason ?? null,
    outcome,
    ...(error ? { error } : {}),
    summary: '',
    startedAt,
    endedAt,
    durationSeconds: seconds(Date.parse(endedAt) - runStart),
    recoveryTimeSeconds,
    targetRtoSeconds,
    rtoMet,
    preflight: event.preflight
      ? {
          ok: Boolean(event.preflight.ok),
          errors: [...(event.preflight.errors ?? [])],
          warnings: [...(event.preflight.warnings ?? [])],
          durationMs: event.preflight.durationMs ?? 0,
        }
      : null,
    failure: runFailure
      ? {
          stage: failureStage(runFailure.error, run, event),
          error: runFailure.error,
          cause: runFailure.cause,
        }
      : null,
    ...approvalOf(event, runFailure),
    units,
    ...(mode === 'drill' ? { drill: drillSummary(units) } : {}),
    ...(mode === 'dry-run' ? { plannedCalls: plannedCalls(units) } : {}),
  };
  report.summary = summarize(report);
  return report;
}

/** The approval the run received (`$.approval`), or the rejection its failure records. */
function approvalOf(
  event: ReportEvent,
  failure: { error: string; cause: string } | null,
): { approval?: ApprovalRecord } {
  const approval =
    asApprovalRecord(event.approval) ??
    (failure?.error === 'ApprovalRejectedError' ? parseRejection(failure.cause) : undefined);
  return approval ? { approval } : {};
}

function drillSummary(units: readonly UnitReport[]): DrillReport {
  const drills = units.map((u) => u.drill).filter((d): d is UnitDrillReport => d !== undefined);
  const copies = drills.map((d) => d.copiesSeconds).filter((n): n is number => n !== null);
  const cleanedUp = drills.flatMap((d) =>
    d.cleanedUp
      .filter(
        (r) =>
          r.status === 'deleted' ||
          r.status === 'deleting' ||
          (r.status === 'absent' && d.made.some((m) => m.kind === r.kind)),
      )
      .map((r) => `${r.kind} ${r.id} (${r.region})`),
  );
  const leftBehind = drills.flatMap((d) => d.leftBehind);
  return {
    copiesSeconds: copies.length ? Math.max(...copies) : null,
    cleanup: drills.every((d) => d.cleanup === 'clean') ? 'clean' : 'incomplete',
    cleanedUp,
    leftBehind,
  };
}

/** The calls a dry run found a failover would make, from each step's `planned` result. */
function plannedCalls(units: readonly UnitReport[]): PlannedCall[] {
  const calls: PlannedCall[] = [];
  for (const unit of units) {
    for (const step of unit.steps) {
      if (step.status !== 'planned' && step.status !== 'already-done') continue;
      const call = typeof step.detail.call === 'string' && step.detail.call ? step.detail.call : null;
      const readOnly = call?.startsWith('none') ?? false;
      calls.push({
        unit: unit.unit,
        step: step.step,
        title: step.title,
        call: readOnly ? null : call,
        parameters: callParameters(step),
        ...(step.status === 'already-done'
          ? { note: 'already done: no call needed' }
          : readOnly
            ? { note: 'reads only' }
            : {}),
      });
    }
  }
  return calls;
}

/** The parameters a step's planned call would carry, named as the API names them, from its result's detail. */
function callParameters(step: StepReport): Record<string, DetailValue> {
  const d = step.detail;
  const pick = (map: Record<string, string>) => {
    const out: Record<string, DetailValue> = {};
    for (const [param, key] of Object.entries(map)) {
      const value = d[key];
      if (value !== undefined && value !== null) out[param] = value;
    }
    return out;
  };
  switch (step.step) {
    case 'promoteSecret':
      return pick({ SecretId: 'secretArn', Region: 'region' });
    case 'promoteDatabase':
      return pick({
        DBInstanceIdentifier: 'dbInstanceIdentifier',
        BackupRetentionPeriod: 'backupRetentionPeriod',
      });
    case 'updateDns':
      return pick({
        HostedZoneId: 'hostedZoneId',
        Action: 'action',
        Name: 'recordName',
        Type: 'type',
        TTL: 'ttl',
        Value: 'target',
        PreviousValue: 'previousTarget',
      });
    case 'attachRotation':
      return pick({
        SecretId: 'secretArn',
        RotationLambdaARN: 'rotationLambdaArn',
        RotationRules: 'schedule',
        RotateImmediately: 'rotateImmediately',
        RewrittenFields: 'rewrittenFields',
      });
    default: {
      const { call: _call, ...rest } = d;
      return rest;
    }
  }
}

function unitReport(record: UnitRunRecord, runStart: number, mode: Mode | null): UnitReport {
  const results: UnitResults = record.results ?? {};
  const drill = mode === 'drill';
  const specs = drill ? [...DRILL_BEFORE, ...UNIT_STEPS, ...DRILL_AFTER] : UNIT_STEPS;
  const steps = specs.map((spec) => stepReport(spec, results));
  const drillReport = drill ? unitDrillReport(results, steps) : undefined;
  const cleanupFailed = drillReport?.cleanup === 'incomplete';
  const failed = record.status !== 'succeeded' || cleanupFailed;
  const unitFailed = record.status !== 'succeeded';
  let stoppedAt = unitFailed ? (steps.find((s) => s.status === 'not-reached')?.step ?? null) : null;
  if (unitFailed && stoppedAt) {
    const at = steps.find((s) => s.step === stoppedAt);
    if (at) at.status = 'failed';
  }
  if (cleanupFailed) {
    const at = steps.find((s) => s.step === 'cleanUpDrill');
    if (at) at.status = 'failed';
    if (!unitFailed) stoppedAt = 'cleanUpDrill';
  }
  const failure = unitFailed
    ? {
        step: stoppedAt,
        ...(record.failure
          ? describeFailure(record.failure)
          : { error: 'UnknownError', cause: 'the unit failed without a recorded error' }),
      }
    : cleanupFailed && drillReport
      ? {
          step: 'cleanUpDrill' as const,
          ...(drillReport.cleanupError ?? {
            error: RUN_FAILURE_ERRORS.drillCleanupIncomplete,
            cause: `drill copies left behind: ${describeResources(drillReport.leftBehind)}`,
          }),
        }
      : null;
  // A verification result exists only when the check passed; a unit that failed later (attaching rotation) still
  // has a verified database, and the report says so (docs/aws/secrets-manager-rotation.md).
  const verify = results.verifyConnectivity;
  const verifiedAt =
    verify && mode !== 'dry-run' && verify.outcome !== 'planned' ? (verify.endedAt ?? null) : null;
  const dnsChange = results.updateDns;
  const inSync = results.waitForDnsInSync;
  const ttl = typeof record.dns?.ttl === 'number' ? record.dns.ttl : null;
  // A dry run's DNS poll is done at once without a change: nothing was in sync.
  const inSyncAt = inSync?.done && dnsChange?.outcome !== 'planned' ? inSync.observedAt : null;
  const dns: DnsReport | null =
    dnsChange || record.dns
      ? {
          recordName: record.dns?.recordName ?? null,
          ttlSeconds: ttl,
          changedAt: dnsChange && dnsChange.outcome !== 'planned' ? dnsChange.endedAt : null,
          inSyncAt,
          clientsMayCacheUntil:
            inSyncAt && ttl !== null ? new Date(Date.parse(inSyncAt) + ttl * 1000).toISOString() : null,
        }
      : null;
  // A drill's recovery time starts at the promotions: making the copies is not part of a real failover.
  const from = drill
    ? drillReport?.promotionStartedAt
      ? Date.parse(drillReport.promotionStartedAt)
      : null
    : runStart;
  return {
    unit: record.unit,
    engine: record.engine ?? null,
    status: failed ? 'failed' : 'succeeded',
    steps,
    stoppedAt,
    failure,
    dns,
    verifiedAt,
    recoveryTimeSeconds: verifiedAt && from !== null ? seconds(Date.parse(verifiedAt) - from) : null,
    ...(drillReport ? { drill: drillReport } : {}),
  };
}

function unitDrillReport(results: UnitResults, steps: StepReport[]): UnitDrillReport {
  const prepare = results.prepareDrill;
  const copies = results.waitForDrillCopies;
  const cleanup = results.cleanUpDrill;
  const cleanupFailure = results.cleanUpDrillFailure;
  const copiesStartedAt = prepare?.startedAt ?? null;
  const copiesReadyAt = copies?.done ? copies.observedAt : null;
  const promotions = [results.promoteSecret?.startedAt, results.promoteDatabase?.startedAt]
    .filter((t): t is string => typeof t === 'string')
    .sort();
  const cleanedUp = Array.isArray(cleanup?.resources) ? cleanup.resources : [];
  const leftBehind = Array.isArray(cleanup?.remaining) ? cleanup.remaining : [];
  const clean = cleanup?.done === true && leftBehind.length === 0 && !cleanupFailure;
  const cleanupStep = steps.find((s) => s.step === 'cleanUpDrill');
  if (cleanupStep && !cleanupStep.startedAt) {
    // The cleanup starts when the last step before it ended.
    const ends = steps.filter((s) => s !== cleanupStep && s.endedAt).map((s) => s.endedAt as string);
    cleanupStep.startedAt = ends.sort().at(-1) ?? null;
    if (cleanupStep.startedAt && cleanupStep.endedAt) {
      cleanupStep.durationMs = Math.max(
        0,
        Date.parse(cleanupStep.endedAt) - Date.parse(cleanupStep.startedAt),
      );
    }
  }
  return {
    copiesStartedAt,
    copiesReadyAt,
    copiesSeconds:
      copiesStartedAt && copiesReadyAt
        ? seconds(Date.parse(copiesReadyAt) - Date.parse(copiesStartedAt))
        : null,
    promotionStartedAt: promotions[0] ?? null,
    made: Array.isArray(prepare?.resources) ? prepare.resources : [],
    cleanup: clean ? 'clean' : 'incomplete',
    cleanedUp,
    leftBehind: clean
      ? []
      : leftBehind.length || cleanup?.done
        ? leftBehind
        : cleanedUp.filter((r) => r.status !== 'absent'),
    cleanupError: cleanupFailure
      ? describeFailure(cleanupFailure)
      : cleanup
        ? null
        : { error: 'DrillCleanupNotRun', cause: 'the cleanup left no record' },
  };
}

function describeResources(resources: readonly DrillResource[]): string {
  return resources.length
    ? resources
        .map((r) => `${r.kind} ${r.id} in ${r.region} (${r.status}${r.note ? `: ${r.note}` : ''})`)
        .join('; ')
    : 'none listed';
}

function stepReport(spec: StepSpec, results: UnitResults): StepReport {
  const value = results[spec.key];
  const base = { step: spec.step, title: spec.title };
  if (!value) {
    return {
      ...base,
      status: 'not-reached',
      startedAt: null,
      endedAt: null,
      durationMs: null,
      warnings: [],
      detail: {},
    };
  }
  if ('attempts' in value) {
    const previous = spec.after ? (results[spec.after] as StepResult | undefined) : undefined;
    const startedAt = previous?.endedAt ?? null;
    const endedAt = value.observedAt ?? null;
    return {
      ...base,
      status: value.done ? 'done' : 'failed',
      startedAt,
      endedAt,
      durationMs: startedAt && endedAt ? Math.max(0, Date.parse(endedAt) - Date.parse(startedAt)) : null,
      attempts: value.attempts,
      warnings: [],
      detail: { status: value.status, ...flatDetail(value.detail) },
    };
  }
  return {
    ...base,
    status: value.outcome,
    startedAt: value.startedAt ?? null,
    endedAt: value.endedAt ?? null,
    durationMs:
      typeof value.durationMs === 'number'
        ? value.durationMs
        : value.startedAt && value.endedAt
          ? Math.max(0, Date.parse(value.endedAt) - Date.parse(value.startedAt))
          : null,
    warnings: Array.isArray(value.warnings) ? value.warnings.map(String) : [],
    detail: flatDetail(value.detail),
  };
}

function isUnitRunRecord(entry: unknown): entry is UnitRunRecord {
  if (!entry || typeof entry !== 'object') return false;
  const e = entry as Partial<UnitRunRecord>;
  return typeof e.unit === 'string' && (e.status === 'succeeded' || e.status === 'failed');
}

function lostChildFailure(entry: unknown): { error: string; cause: string } {
  const e = (entry && typeof entry === 'object' ? entry : {}) as Partial<StateFailure>;
  return typeof e.Error === 'string'
    ? describeFailure({ Error: e.Error, ...(typeof e.Cause === 'string' ? { Cause: e.Cause } : {}) })
    : { error: 'UnitOutcomeMissing', cause: 'the unit ran but returned no outcome' };
}

/** A unit whose child execution ended without an outcome: it may have changed things, so it counts as failed. */
function outcomeMissing(unit: string, lost: { error: string; cause: string }[]): UnitReport {
  const known = lost.length
    ? ` (child executions that failed: ${lost.map((l) => `${l.error}: ${l.cause}`).join('; ')})`
    : '';
  return {
    ...notStarted(unit),
    status: 'failed',
    failure: {
      step: null,
      error: 'UnitOutcomeMissing',
      cause: oneLine(
        `the unit's child execution ended without an outcome; see its Map Run in the Step Functions console${known}`,
      ),
    },
  };
}

function notStarted(unit: string): UnitReport {
  return {
    unit,
    engine: null,
    status: 'not-started',
    steps: [],
    stoppedAt: null,
    failure: null,
    dns: null,
    verifiedAt: null,
    recoveryTimeSeconds: null,
  };
}

/** `{Error, Cause}` to a name and a readable message; a Lambda's Cause is `{"errorType","errorMessage","trace"}`. */
export function describeFailure(failure: StateFailure): { error: string; cause: string } {
  const error = typeof failure.Error === 'string' && failure.Error ? failure.Error : 'UnknownError';
  let cause = typeof failure.Cause === 'string' ? failure.Cause : '';
  if (cause.startsWith('{')) {
    try {
      const parsed = JSON.parse(cause) as { errorMessage?: unknown };
      if (typeof parsed.errorMessage === 'string') cause = parsed.errorMessage;
    } catch {
      // Not JSON after all: keep the text.
    }
  }
  cause = scrubText(cause);
  if (cause.length > MAX_CAUSE_CHARS) cause = `${cause.slice(0, MAX_CAUSE_CHARS)}… (truncated)`;
  return { error, cause };
}

/** Stages that come before any mutating step: a run stopped there changed nothing. */
const BEFORE_ANY_CHANGE = new Set(['load plan', 'preflight', 'approval', 'lock']);

function failureStage(error: string, run: RunContext | undefined, event: ReportEvent): string {
  if (!run) return 'load plan';
  if (!event.preflight) return 'preflight';
  if (error === 'FailoverInProgressError') return 'lock';
  if (error === 'States.Timeout' || error === 'ApprovalRejectedError') return 'approval';
  return 'the units';
}

function flatDetail(detail: unknown): Record<string, DetailValue> {
  const out: Record<string, DetailValue> = {};
  if (!detail || typeof detail !== 'object') return out;
  for (const [key, value] of Object.entries(detail)) {
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
      out[key] = value as DetailValue;
    } else {
      out[key] = JSON.stringify(value);
    }
  }
  return out;
}

function summarize(report: RunReport): string {
  const total = report.units.length;
  const ok = report.units.filter((u) => u.status === 'succeeded').length;
  const subject = report.mode === 'dry-run' ? 'Dry run' : report.mode === 'drill' ? 'Drill' : 'Failover';
  const rto =
    report.recoveryTimeSeconds !== null
      ? ` in ${formatDuration(report.recoveryTimeSeconds * 1000)}${report.targetRtoSeconds !== null ? ` (target ${formatDuration(report.targetRtoSeconds * 1000)}: ${report.rtoMet ? 'met' : 'NOT met'})` : ''}`
      : '';
  const drill = report.drill ? drillSentence(report.drill) : '';
  if (report.failure) {
    const changed = BEFORE_ANY_CHANGE.has(report.failure.stage) ? ' Nothing was changed.' : '';
    return `${subject} of ${report.planName} stopped at ${report.failure.stage}: ${report.failure.error}: ${oneLine(report.failure.cause)}.${changed}`;
  }
  if (report.outcome === 'failed') {
    const failed = report.units
      .filter((u) => u.status === 'failed')
      .map(
        (u) =>
          `${u.unit} (${u.verifiedAt ? 'database verified, then ' : ''}${u.failure?.error ?? 'failed'} at ${u.stoppedAt ?? 'an unknown step'})`,
      );
    if (report.error === RUN_FAILURE_ERRORS.drillCleanupIncomplete) {
      return `Drill of ${report.planName}: ${total} of ${total} units recovered and verified on drill copies${rto}, but the cleanup did not finish: ${failed.join(', ')}.${drill}`;
    }
    const verb = report.mode === 'drill' ? 'did not fail over their drill copies' : 'did not fail over';
    return `${subject} of ${report.planName}: ${total - ok} of ${total} units ${verb}: ${failed.join(', ')}.${drill}`;
  }
  if (report.mode === 'dry-run') {
    const calls = (report.plannedCalls ?? []).filter((c) => c.call !== null).length;
    return `Dry run of ${report.planName}: ${total} units planned, ${calls} calls a failover would make${probeSentence(report)}; nothing was changed.`;
  }
  if (report.mode === 'drill') {
    return `Drill of ${report.planName} succeeded: ${ok} of ${total} units recovered and verified on drill copies${rto}; production was not touched.${drill}`;
  }
  return `Failover of ${report.planName} succeeded: ${ok} of ${total} units recovered and verified${rto}.`;
}

function drillSentence(drill: DrillReport): string {
  const copies =
    drill.copiesSeconds !== null
      ? ` Making the copies took ${formatDuration(drill.copiesSeconds * 1000)} (not counted).`
      : '';
  const cleanup =
    drill.cleanup === 'clean'
      ? ` Cleanup: every drill copy deleted (${drill.cleanedUp.length}).`
      : ` Cleanup INCOMPLETE: ${drill.leftBehind.length} drill copies left behind: ${drill.leftBehind.map((r) => `${r.kind} ${r.id} in ${r.region}`).join(', ') || 'see the units'}.`;
  return `${copies}${cleanup}`;
}

/* ---------------------------------------------------------------------------------------------- */
/* Secret material never reaches a report                                                          */
/* ---------------------------------------------------------------------------------------------- */

/** Field names that could carry secret material (compared without case, `-` or `_`). */
export function isSensitiveKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return (
    k.includes('password') ||
    k.includes('passwd') ||
    k.includes('passphrase') ||
    k === 'pwd' ||
    k.includes('secretvalue') ||
    k.includes('secretstring') ||
    k.includes('secretbinary') ||
    k.includes('privatekey') ||
    k === 'credentials'
  );
}

/** A copy without any field named like secret material, at any depth. Strings are scrubbed too. */
export function scrubSecrets(value: unknown): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (Array.isArray(value)) return value.map(scrubSecrets);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      if (!isSensitiveKey(key)) out[key] = scrubSecrets(inner);
    }
    return out;
  }
  return value;
}

// `password=...`, `"password": "..."`, `PASSWORD: ...` inside a message (e.g. a serialized secret in an error).
const SECRET_ASSIGNMENT =
  /(["']?\b(?:password|passwd|pwd|secret_?value|secret_?string)\b["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&}]+)/gi;

function scrubText(text: string): string {
  return text.replace(SECRET_ASSIGNMENT, '$1[redacted]');
}

/* ---------------------------------------------------------------------------------------------- */
/* Plain text                                                                                      */
/* ---------------------------------------------------------------------------------------------- */

/** The detail keys of a dry run's network probe results (functions/lib/verify-dry-run.ts, PROBE_DETAIL_PREFIX). */
const PROBE_DETAIL_PREFIX = 'probe.';

/** `, 2 network probes failed (orders, billing)` when a dry run's probes found problems; `` otherwise. */
function probeSentence(report: RunReport): string {
  const units = report.units.filter((u) =>
    u.steps.some((s) => s.step === 'verifyConnectivity' && Number(s.detail.probesFailed ?? 0) > 0),
  );
  if (units.length === 0) return '';
  const count = units
    .flatMap((u) => u.steps.filter((s) => s.step === 'verifyConnectivity'))
    .reduce((sum, s) => sum + Number(s.detail.probesFailed ?? 0), 0);
  return `; ${count} network probe${count === 1 ? '' : 's'} failed (${units.map((u) => u.unit).join(', ')}: see Verify connectivity)`;
}

const BAR_WIDTH = 32;

/** The report as text: a header, the preflight, then per unit a table of steps with a timeline bar each. */
export function renderReportText(report: RunReport): string {
  const lines: string[] = [];
  const runStart = Date.parse(report.startedAt);
  const runEnd = Math.max(Date.parse(report.endedAt), runStart + 1);
  lines.push(`lifeboat report: plan ${report.planName}, run ${report.runId}`);
  lines.push(
    `${report.outcome === 'succeeded' ? 'SUCCEEDED' : `FAILED${report.error ? ` (${report.error})` : ''}`}: ${report.summary}`,
  );
  lines.push(
    `mode ${report.mode ?? '-'} | trigger ${report.trigger ?? '-'} | reason ${report.reason ?? '-'} | ` +
      `started ${report.startedAt} | ended ${report.endedAt} | took ${formatDuration(report.durationSeconds * 1000)}`,
  );
  if (report.approval) lines.push(`approval: ${describeApproval(report.approval)}`);
  if (report.recoveryTimeSeconds !== null) {
    lines.push(
      `recovery time ${formatDuration(report.recoveryTimeSeconds * 1000)}` +
        (report.targetRtoSeconds !== null
          ? ` against a target RTO of ${formatDuration(report.targetRtoSeconds * 1000)}: ${report.rtoMet ? 'met' : 'NOT met'}`
          : ''),
    );
  } else if (report.targetRtoSeconds !== null) {
    const why = report.mode === 'dry-run' ? 'a dry run changes nothing' : 'not every unit was verified';
    lines.push(
      `recovery time: not measured (${why}); target RTO ${formatDuration(report.targetRtoSeconds * 1000)}`,
    );
  }
  if (report.drill) {
    const d = report.drill;
    lines.push(
      'drill: disposable copies in the recovery Region; production was only read. Recovery time runs from the start of promotion to verified.',
    );
    if (d.copiesSeconds !== null) {
      lines.push(
        `  making the copies took ${formatDuration(d.copiesSeconds * 1000)} (not part of the recovery time)`,
      );
    }
    lines.push(
      d.cleanup === 'clean'
        ? `  cleanup: every copy deleted (${d.cleanedUp.length}): ${d.cleanedUp.join(', ') || '-'}`
        : `  cleanup INCOMPLETE, left behind: ${d.leftBehind.map((r) => `${r.kind} ${r.id} in ${r.region} (${r.status}${r.note ? `: ${r.note}` : ''})`).join(', ') || 'see the units'}`,
    );
  }
  if (report.plannedCalls) {
    lines.push('planned calls (dry run: nothing was changed):');
    for (const c of report.plannedCalls) {
      const params = Object.entries(c.parameters)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      lines.push(
        `  ${pad(c.unit, 12)} ${pad(c.title, 31)} ${c.call ?? '-'}${params ? ` ${params}` : ''}${c.note ? ` (${c.note})` : ''}`,
      );
    }
  }
  if (report.preflight) {
    lines.push(
      `preflight: ${report.preflight.ok ? 'passed' : 'FAILED'} (${report.preflight.errors.length} errors, ${report.preflight.warnings.length} warnings)`,
    );
    for (const e of report.preflight.errors) lines.push(`  x ${e}`);
    for (const w of report.preflight.warnings) lines.push(`  ! ${w}`);
  }
  if (report.failure) {
    lines.push(`stopped at ${report.failure.stage}: ${report.failure.error}: ${report.failure.cause}`);
  }
  for (const unit of report.units) {
    lines.push('');
    const head = `unit ${unit.unit}${unit.engine ? ` (${unit.engine})` : ''}: ${unit.status}`;
    const rt =
      unit.recoveryTimeSeconds !== null
        ? `, verified ${formatDuration(unit.recoveryTimeSeconds * 1000)} after ${unit.drill ? 'the promotions started' : 'the run started'}`
        : '';
    lines.push(head + rt);
    if (unit.drill) {
      const d = unit.drill;
      if (d.copiesSeconds !== null)
        lines.push(`  drill copies ready in ${formatDuration(d.copiesSeconds * 1000)} (not counted)`);
      lines.push(
        `  drill copies: ${d.cleanedUp.map((r) => `${r.kind} ${r.id} ${r.status}`).join(', ') || (d.made.length ? d.made.map((r) => `${r.kind} ${r.id} ${r.status}`).join(', ') : 'none made')}`,
      );
      if (d.cleanup === 'incomplete') {
        lines.push(
          `  cleanup INCOMPLETE${d.cleanupError ? ` (${d.cleanupError.error}: ${d.cleanupError.cause})` : ''}; left behind: ${describeResources(d.leftBehind)}`,
        );
      }
    }
    if (unit.failure) {
      lines.push(
        `  stopped at ${unit.stoppedAt ?? 'an unknown step'}: ${unit.failure.error}: ${unit.failure.cause}`,
      );
    }
    if (unit.steps.length > 0) {
      lines.push(`  ${pad('step', 31)} ${pad('result', 12)} ${pad('start', 9)} ${pad('took', 9)} timeline`);
      let lastEnd: string | null = null;
      for (const s of unit.steps) {
        const start = s.startedAt ? `+${formatDuration(Date.parse(s.startedAt) - runStart)}` : '-';
        const took = s.durationMs !== null ? formatDuration(s.durationMs) : '-';
        const attempts = s.attempts !== undefined ? ` (${s.attempts} polls)` : '';
        // A step that failed has no result of its own: mark where the unit had got to.
        const shown =
          s.status === 'failed' && !s.endedAt && lastEnd ? { ...s, startedAt: lastEnd, endedAt: lastEnd } : s;
        if (s.endedAt && (!lastEnd || s.endedAt > lastEnd)) lastEnd = s.endedAt;
        lines.push(
          `  ${pad(s.title, 31)} ${pad(s.status, 12)} ${pad(start, 9)} ${pad(took, 9)} ${timelineBar(shown, runStart, runEnd)}${attempts}`,
        );
        for (const w of s.warnings) lines.push(`      ! ${w}`);
        // A dry run's network probes (functions/lib/verify-dry-run.ts): every result, not only the failures.
        for (const [key, value] of Object.entries(s.detail)) {
          if (key.startsWith(PROBE_DETAIL_PREFIX))
            lines.push(`      probe ${key.slice(PROBE_DETAIL_PREFIX.length)}: ${value}`);
        }
      }
    }
    if (unit.dns?.recordName) {
      const d = unit.dns;
      const changed = d.changedAt ? `changed at ${d.changedAt}` : 'not changed';
      const insync = d.inSyncAt ? `, in sync at ${d.inSyncAt}` : '';
      const cache =
        d.clientsMayCacheUntil !== null
          ? `; clients that cached the old answer may use it until ${d.clientsMayCacheUntil}`
          : '';
      lines.push(`  DNS ${d.recordName}: ${changed}${insync}, TTL ${d.ttlSeconds ?? '?'} s${cache}`);
    }
  }
  return lines.join('\n');
}

function timelineBar(step: StepReport, runStart: number, runEnd: number): string {
  if (!step.startedAt || !step.endedAt) return `|${' '.repeat(BAR_WIDTH)}|`;
  const span = runEnd - runStart;
  const from = clamp(
    Math.floor(((Date.parse(step.startedAt) - runStart) / span) * BAR_WIDTH),
    0,
    BAR_WIDTH - 1,
  );
  const to = clamp(
    Math.ceil(((Date.parse(step.endedAt) - runStart) / span) * BAR_WIDTH),
    from + 1,
    BAR_WIDTH,
  );
  const mark = step.status === 'failed' ? 'x' : '#';
  return `|${' '.repeat(from)}${mark.repeat(to - from)}${' '.repeat(BAR_WIDTH - to)}|`;
}

/** `850ms`, `4.2s`, `3m 05s`, `1h 02m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(Math.max(n, lo), hi);
}

function seconds(ms: number): number {
  return Number.isFinite(ms) ? Math.max(0, Math.round(ms / 100) / 10) : 0;
}

/** A multi-line message (e.g. a list of problems) as one line for the summary, at most 400 characters. */
function oneLine(text: string): string {
  const flat = text
    .replace(/:\s*\n\s*-\s*/g, ': ')
    .replace(/\s*\n\s*-\s*/g, '; ')
    .replace(/\s*\n\s*/g, ' ')
    .replace(/[.\s]+$/, '');
  return flat.length > 400 ? `${flat.slice(0, 399)}…` : flat;
}

/* ---------------------------------------------------------------------------------------------- */
/* Delivery                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

/**
 * The recovery time as a CloudWatch metric, for every run that measured one (failover and drill; a dry run measures
 * none): `Lifeboat/RecoveryTimeSeconds` with dimensions Plan, Unit and Mode, one datum per verified unit and one for the
 * run with Unit `ALL` (unit names are lower case, so it never names a unit). Published with PutMetricData from the
 * report step rather than as EMF log lines: one call per run is no cost, the delivery result is known and reported
 * like the S3 and SNS ones, and it works the same against the proving ground's emulator, which has no log-to-metric
 * pipeline.
 */
export const METRIC_NAMESPACE = 'Lifeboat';
export const RECOVERY_TIME_METRIC = 'RecoveryTimeSeconds';
export const RUN_METRIC_UNIT = 'ALL';
/** PutMetricData takes at most 1,000 datums per call; lifeboat sends small batches. */
const METRIC_BATCH = 20;

export function recoveryTimeMetrics(report: RunReport): MetricDatum[] {
  if (!report.mode || report.mode === 'dry-run') return [];
  const datum = (unit: string, seconds: number, at: string | null): MetricDatum => ({
    MetricName: RECOVERY_TIME_METRIC,
    Dimensions: [
      { Name: 'Plan', Value: report.planName },
      { Name: 'Unit', Value: unit },
      { Name: 'Mode', Value: report.mode as string },
    ],
    Value: seconds,
    Unit: 'Seconds',
    Timestamp: new Date(at ?? report.endedAt),
  });
  const data = report.units
    .filter((u) => u.recoveryTimeSeconds !== null)
    .map((u) => datum(u.unit, u.recoveryTimeSeconds as number, u.verifiedAt));
  if (report.recoveryTimeSeconds !== null)
    data.push(datum(RUN_METRIC_UNIT, report.recoveryTimeSeconds, null));
  return data;
}

export interface ReportDestinations {
  /** `REPORT_BUCKET_NAME`; no S3 copy when absent. */
  bucket?: string;
  /** `REPORT_TOPIC_ARN`; no notification when absent. */
  topicArn?: string;
}

/** SNS's message limit is 256 KiB (262,144 bytes) including attributes; keep a margin. */
export const SNS_MESSAGE_LIMIT_BYTES = 250_000;
/** SNS subjects: ASCII, no line breaks, at most 100 characters. */
export const SNS_SUBJECT_LIMIT = 100;

export function reportKeys(report: Pick<RunReport, 'planName' | 'runId'>): { run: string; latest: string } {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
  return {
    run: `reports/${safe(report.planName)}/${safe(report.runId)}.json`,
    latest: `reports/${safe(report.planName)}/latest.json`,
  };
}

export function reportSubject(report: RunReport): string {
  const what = report.mode === 'dry-run' ? 'dry run' : report.mode === 'drill' ? 'drill' : 'failover';
  const text = `lifeboat ${what} of ${report.planName} ${report.outcome === 'succeeded' ? 'succeeded' : 'FAILED'} (${report.runId})`;
  // ASCII printable only (SNS rejects others in Subject).
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, SNS_SUBJECT_LIMIT);
}

/** Text for people, then the JSON for machines; the JSON is left out (pointing at S3) when it would not fit. */
export function reportMessage(report: RunReport, s3Location?: string): string {
  const text = renderReportText(report);
  // The location comes first: it survives any truncation below.
  const where = s3Location ? `Full report: ${s3Location}\n\n` : '';
  const withJson = `${where}${text}\n\n--- JSON ---\n${JSON.stringify(report)}`;
  if (Buffer.byteLength(withJson, 'utf8') <= SNS_MESSAGE_LIMIT_BYTES) return withJson;
  const textOnly = `${where}${text}\n\n(The JSON report is too large for a notification${s3Location ? '; it is in S3' : ''}.)`;
  if (Buffer.byteLength(textOnly, 'utf8') <= SNS_MESSAGE_LIMIT_BYTES) return textOnly;
  let cut = textOnly;
  while (Buffer.byteLength(cut, 'utf8') > SNS_MESSAGE_LIMIT_BYTES - 100)
    cut = cut.slice(0, Math.floor(cut.length * 0.9));
  return `${cut}\n… (truncated)`;
}

/**
 * Stores the report in S3 (the run's key and `latest.json`) and publishes it to SNS. A delivery problem never fails
 * the run's report step — the report is also the execution's output, and the lock must still be released — so it
 * is recorded in `delivery` (the SDK has already retried transient errors) and the caller logs it.
 */
export async function deliverReport(
  deps: { s3: S3Client; sns: SNSClient; cloudwatch?: CloudWatchClient },
  report: RunReport,
  to: ReportDestinations,
): Promise<RunReport> {
  const delivery: ReportDelivery = {
    s3: { status: 'skipped' },
    sns: { status: 'skipped' },
    metrics: { status: 'skipped' },
  };
  const metrics = recoveryTimeMetrics(report);
  if (deps.cloudwatch && metrics.length) {
    try {
      for (let i = 0; i < metrics.length; i += METRIC_BATCH) {
        await deps.cloudwatch.send(
          new PutMetricDataCommand({
            Namespace: METRIC_NAMESPACE,
            MetricData: metrics.slice(i, i + METRIC_BATCH),
          }),
        );
      }
      delivery.metrics = { status: 'published', count: metrics.length };
    } catch (error) {
      delivery.metrics = { status: 'failed', error: describeDeliveryError(error) };
    }
  }
  let location: string | undefined;
  if (to.bucket) {
    const keys = reportKeys(report);
    const body = JSON.stringify({ ...report, delivery: undefined }, null, 2);
    try {
      for (const key of [keys.run, keys.latest]) {
        await deps.s3.send(
          new PutObjectCommand({
            Bucket: to.bucket,
            Key: key,
            Body: body,
            ContentType: 'application/json',
            ServerSideEncryption: 'AES256',
          }),
        );
      }
      delivery.s3 = { status: 'stored', keys: [keys.run, keys.latest] };
      location = `s3://${to.bucket}/${keys.run}`;
    } catch (error) {
      delivery.s3 = { status: 'failed', error: describeDeliveryError(error) };
    }
  }
  if (to.topicArn) {
    try {
      const out = await deps.sns.send(
        new PublishCommand({
          TopicArn: to.topicArn,
          Subject: reportSubject(report),
          Message: reportMessage(report, location),
        }),
      );
      delivery.sns = { status: 'published', ...(out.MessageId ? { messageId: out.MessageId } : {}) };
    } catch (error) {
      delivery.sns = { status: 'failed', error: describeDeliveryError(error) };
    }
  }
  return { ...report, delivery };
}

function describeDeliveryError(error: unknown): string {
  const name = awsErrorName(error) ?? 'Error';
  const message = error instanceof Error ? error.message : String(error);
  return `${name}: ${scrubText(message)}`.slice(0, 500);
}

/* ---------------------------------------------------------------------------------------------- */
/* Fitting Step Functions' 256 KiB state limit (the figures are in state-limits.ts)                */
/* ---------------------------------------------------------------------------------------------- */

/** How much a unit's outcome was trimmed to fit its share; absent when nothing was. */
export type Trimmed = 'lean' | 'details' | 'warnings' | 'skeleton';

/** The event of the "Summarize unit outcome" step: the unit's record and its share of the state. */
export interface SummarizeUnitEvent {
  outcome: UnitRunRecord;
  budgetBytes: number;
}

const LEAN_STRING_CHARS = 160;
const LEAN_WARNING_CHARS = 300;
const LEAN_WARNINGS = 4;
const LEAN_CAUSE_CHARS = 1000;
/** 120, not more: with SettleRotation a drill unit has eleven steps whose times a skeleton keeps. */
const SKELETON_CAUSE_CHARS = 120;
const SKELETON_NAME_CHARS = 80;
/** Lists in a step's result that say what a drill made and removed: kept down to their ids at every level. */
const RESOURCE_LISTS = ['resources', 'cleaned', 'remaining'] as const;

/**
 * Shrinks a unit's record, in steps that lose less first, until it fits `budgetBytes`: drop fields the report does not
 * read, cut long strings, then drop the step details (keeping the call a dry run planned and the drill's resource
 * ids), then the warnings, and at last keep only each step's status and times. What was dropped stays in the child
 * execution's history and log; the record says how far it was trimmed.
 */
export function summarizeUnitOutcome(record: UnitRunRecord, budgetBytes: number): UnitRunRecord {
  if (jsonBytes(record) <= budgetBytes) return record;
  const levels: Trimmed[] = ['lean', 'details', 'warnings', 'skeleton'];
  let last: UnitRunRecord = record;
  for (const level of levels) {
    last = trimRecord(record, level);
    if (jsonBytes(last) <= budgetBytes) return last;
  }
  return last;
}

function trimRecord(record: UnitRunRecord, level: Trimmed): UnitRunRecord {
  const results: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record.results ?? {})) {
    results[key] = trimResult(value, level);
  }
  const causeChars = level === 'skeleton' ? SKELETON_CAUSE_CHARS : LEAN_CAUSE_CHARS;
  const skeleton = level === 'skeleton';
  return {
    unit: record.unit,
    engine: record.engine,
    ...(record.dns
      ? {
          dns: skeleton
            ? { ...record.dns, recordName: cut(record.dns.recordName, SKELETON_NAME_CHARS) }
            : record.dns,
        }
      : {}),
    status: record.status,
    results: results as UnitResults,
    ...(record.failure
      ? {
          failure: {
            Error: record.failure.Error,
            ...(record.failure.Cause !== undefined
              ? { Cause: cut(describeFailure(record.failure).cause, causeChars) }
              : {}),
          },
        }
      : {}),
    trimmed: level,
  };
}

function trimResult(value: unknown, level: Trimmed): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  const v = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const keepResources = () => {
    for (const list of RESOURCE_LISTS) {
      // What is left behind keeps its id at every level; in a skeleton the copies made are left out and the cleaned
      // ones keep only what they were and became.
      if (!Array.isArray(v[list]) || (level === 'skeleton' && list === 'resources' && 'outcome' in v))
        continue;
      const bare = level === 'skeleton' && list !== 'remaining';
      out[list] = (v[list] as unknown[]).map((r) => resourceId(r, bare ? 'bare' : level));
    }
  };
  if (typeof v.Error === 'string') {
    // A failure kept in the results (a drill cleanup that did not finish).
    const described = describeFailure({
      Error: v.Error,
      ...(typeof v.Cause === 'string' ? { Cause: v.Cause } : {}),
    });
    return {
      Error: v.Error,
      Cause: cut(described.cause, level === 'skeleton' ? SKELETON_CAUSE_CHARS : LEAN_CAUSE_CHARS),
    };
  }
  if ('attempts' in v) {
    // A poll record: what the timeline needs (a skeleton leaves out the last status).
    const keys =
      level === 'skeleton'
        ? (['done', 'observedAt', 'attempts'] as const)
        : (['done', 'status', 'observedAt', 'attempts'] as const);
    for (const key of keys) out[key] = v[key];
    if (level === 'lean') out.detail = trimDetail(v.detail);
    keepResources();
    return out;
  }
  // A skeleton leaves out durationMs: the report takes it from the two times.
  const kept =
    level === 'skeleton'
      ? (['outcome', 'startedAt', 'endedAt'] as const)
      : (['outcome', 'startedAt', 'endedAt', 'durationMs'] as const);
  for (const key of kept) {
    if (key in v) out[key] = v[key];
  }
  if (level === 'lean') out.detail = trimDetail(v.detail);
  else if (level === 'details' || level === 'warnings') {
    const detail = v.detail as Record<string, unknown> | undefined;
    out.detail =
      detail && typeof detail.call === 'string' ? { call: cut(detail.call, LEAN_STRING_CHARS) } : {};
  }
  const warnings = Array.isArray(v.warnings) ? v.warnings.map(String) : [];
  if (level === 'lean' || level === 'details') {
    out.warnings = warnings.slice(0, LEAN_WARNINGS).map((w) => cut(w, LEAN_WARNING_CHARS));
    if (warnings.length > LEAN_WARNINGS) {
      (out.warnings as string[]).push(`… and ${warnings.length - LEAN_WARNINGS} more warnings`);
    }
  } else if (level === 'warnings') {
    out.warnings = warnings.length ? [`${warnings.length} warnings left out to fit the state limit`] : [];
  }
  // A skeleton keeps neither: the report reads a missing detail as {} and missing warnings as none.
  keepResources();
  return out;
}

function trimDetail(detail: unknown): Record<string, DetailValue> {
  const out: Record<string, DetailValue> = {};
  for (const [key, value] of Object.entries(flatDetail(detail))) {
    out[key] = typeof value === 'string' ? cut(value, LEAN_STRING_CHARS) : value;
  }
  return out;
}

/** A drill resource down to what says which one it was (`bare`: only its kind and what became of it). */
function resourceId(resource: unknown, level: Trimmed | 'bare'): unknown {
  if (!resource || typeof resource !== 'object') return resource;
  const r = resource as Record<string, unknown>;
  if (level === 'lean') return r;
  const out: Record<string, unknown> = {};
  const keys =
    level === 'bare' ? (['kind', 'status'] as const) : (['kind', 'id', 'region', 'status'] as const);
  for (const key of keys) if (key in r) out[key] = r[key];
  return out;
}

function cut(text: string, chars: number): string {
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

/**
 * The report as the execution's output: whole when it fits REPORT_OUTPUT_BUDGET_BYTES, else without the steps'
 * details, then without the steps (each unit keeps its status, failure and recovery time). The full report is the
 * one stored in S3 and published.
 */
export function reportForExecutionOutput(
  report: RunReport,
  budgetBytes = REPORT_OUTPUT_BUDGET_BYTES,
): RunReport {
  if (jsonBytes(report) <= budgetBytes) return report;
  const withoutDetail: RunReport = {
    ...report,
    outputTrimmed: 'step details and warnings left out of the execution output; the full report is in S3',
    units: report.units.map((u) => ({
      ...u,
      steps: u.steps.map((s) => ({ ...s, detail: {}, warnings: [] })),
    })),
  };
  if (jsonBytes(withoutDetail) <= budgetBytes) return withoutDetail;
  return {
    ...withoutDetail,
    outputTrimmed: 'steps left out of the execution output; the full report is in S3',
    units: report.units.map((u) => ({
      ...u,
      steps: [],
      dns: null,
      failure: u.failure ? { ...u.failure, cause: cut(u.failure.cause, SKELETON_CAUSE_CHARS) } : null,
    })),
  };
}
