import { type ApprovalRecord, asApprovalRecord, parseRejection } from '../approval.js';
import { RUN_FAILURE_ERRORS } from '../errors.js';
import { type Exercised, exercised } from '../exercised.js';
import type { Mode } from '../plan.js';
import type { DetailValue, RunContext, StepName, StepResult } from '../types.js';
import { countOf, describeResources, formatDuration, oneLine, runSubject, seconds } from './format.js';
import type {
  DnsReport,
  DrillReport,
  PlannedCall,
  ReportEvent,
  RunReport,
  StateFailure,
  StepReport,
  UnitDrillReport,
  UnitReport,
  UnitResults,
  UnitRunRecord,
} from './model.js';
import { scrubSecrets, scrubText } from './scrub.js';
import { switchoverRehearsal, switchoverReport } from './switchover.js';

/* Building                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

interface StepSpec {
  step: StepName;
  key: Exclude<keyof UnitResults, 'cleanUpDrillFailure' | 'unfencePrimaryFailure' | 'promoteDatabaseFailure'>;
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

/** A switchover's steps: the fence and the catch-up, then a failover's, with the fence lifted after promotion. */
const SWITCHOVER_STEPS: readonly StepSpec[] = [
  { step: 'fencePrimary', key: 'fencePrimary', title: 'Fence writes on the primary' },
  {
    step: 'waitForCatchUp',
    key: 'waitForCatchUp',
    title: 'Wait for replica catch-up',
    after: 'fencePrimary',
  },
  ...UNIT_STEPS.slice(0, 3),
  { step: 'liftFence', key: 'liftFence', title: 'Lift the fence on the promoted database' },
  ...UNIT_STEPS.slice(3),
];
const UNFENCE_STEP: StepSpec = {
  step: 'unfencePrimary',
  key: 'unfencePrimary',
  title: 'Un-fence the primary',
};

/** Re-protect's one step: passes until the old Region holds a replica again (statemachine/failover.ts). */
const REPROTECT_STEPS: readonly StepSpec[] = [{ step: 'reprotect', key: 'reprotect', title: 'Re-protect' }];

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
  const shape = run ? exercised(run) : null;
  const units: UnitReport[] = records.map((record) => unitReport(record, runStart, mode, shape));
  for (const unit of units) carryReplicaLag(unit, event.preflight);
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

/** The replica lag preflight measured for the unit (functions/lib/database.ts, replicaLagCheck), when it kept one. */
function carryReplicaLag(unit: UnitReport, preflight: ReportEvent['preflight']): void {
  const lag = preflight?.readiness?.[unit.unit]?.replicaLagSeconds;
  if (typeof lag === 'number' && Number.isFinite(lag) && typeof preflight?.checkedAt === 'string') {
    unit.replicaLag = { seconds: lag, measuredAt: preflight.checkedAt };
  }
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
      // A poll that only plans (a dry run's catch-up, its re-protect pass) is `done`, with the planned status kept.
      const plannedPoll = step.status === 'done' && step.detail.status === 'planned';
      if (step.status !== 'planned' && step.status !== 'already-done' && !plannedPoll) continue;
      const numbered = numberedCalls(step);
      if (numbered.length) {
        for (const c of numbered) calls.push({ unit: unit.unit, step: step.step, title: step.title, ...c });
        continue;
      }
      if (plannedPoll && typeof step.detail.call !== 'string') continue;
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

/**
 * A step that would make several calls (a re-protect pass) lists them in its detail as `planned.<n>.call` and
 * `planned.<n>.<Parameter>`, n from 1, in the order it would make them.
 */
function numberedCalls(step: StepReport): Omit<PlannedCall, 'unit' | 'step' | 'title'>[] {
  const byNumber = new Map<
    number,
    { call: string | null; parameters: Record<string, DetailValue>; note?: string }
  >();
  for (const [key, value] of Object.entries(step.detail)) {
    const m = /^planned\.(\d+)\.(.+)$/.exec(key);
    if (!m) continue;
    const n = Number(m[1]);
    const entry = byNumber.get(n) ?? { call: null, parameters: {} };
    if (m[2] === 'call') entry.call = typeof value === 'string' ? value : null;
    else if (m[2] === 'note') entry.note = String(value);
    else entry.parameters[m[2] as string] = value;
    byNumber.set(n, entry);
  }
  return [...byNumber.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, e]) => ({ call: e.call, parameters: e.parameters, ...(e.note ? { note: e.note } : {}) }));
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

/**
 * `shape`: what the run exercises (functions/lib/exercised.ts): a dry run or a drill of a switchover shows the
 * switchover's steps, a dry run of a re-protect its one step.
 */
function unitReport(
  record: UnitRunRecord,
  runStart: number,
  mode: Mode | null,
  shape: Exercised | null,
): UnitReport {
  const results: UnitResults = record.results ?? {};
  const drill = mode === 'drill';
  // An Aurora unit's switchover is SwitchoverGlobalCluster on the failover's steps, with no lifeboat fence, catch-up
  // or lift (docs/design/aurora.md, "Promotion"): listing those as not-reached would name the fence as where it stopped.
  const aurora = record.engine?.startsWith('aurora-') === true;
  const core =
    shape === 'reprotect'
      ? REPROTECT_STEPS
      : shape === 'switchover' && !aurora
        ? [
            ...SWITCHOVER_STEPS,
            // Shown only when the switchover stopped before promotion and un-fenced (or tried to).
            ...(results.unfencePrimary || results.unfencePrimaryFailure ? [UNFENCE_STEP] : []),
          ]
        : UNIT_STEPS;
  const specs = drill ? [...DRILL_BEFORE, ...core, ...DRILL_AFTER] : core;
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
          // The UPSERT is sent also when the record already held the target (functions/lib/dns/update.ts, updateDns).
          ...(dnsChange?.outcome === 'already-done' ? { alreadyInPlace: true } : {}),
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
    ...(mode === 'switchover' ? { switchover: switchoverReport(results, verifiedAt, aurora) } : {}),
    ...(drill && shape === 'switchover' ? { switchoverRehearsal: switchoverRehearsal(results) } : {}),
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
      warnings: 'warnings' in value && Array.isArray(value.warnings) ? value.warnings.map(String) : [],
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

export function flatDetail(detail: unknown): Record<string, DetailValue> {
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
  const subject = runSubject(report.mode);
  const rto =
    report.recoveryTimeSeconds !== null
      ? ` in ${formatDuration(report.recoveryTimeSeconds * 1000)}${report.targetRtoSeconds !== null ? ` (target ${formatDuration(report.targetRtoSeconds * 1000)}: ${report.rtoMet ? 'met' : 'NOT met'})` : ''}`
      : '';
  const drill = `${report.drill ? drillSentence(report.drill) : ''}${report.mode === 'drill' && report.run?.of === 'switchover' ? REHEARSAL_SENTENCE : ''}`;
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
    const what = { failover: 'a failover', switchover: 'a switchover', reprotect: 'a re-protect' }[
      report.run?.of ?? 'failover'
    ];
    return `Dry run of ${report.planName}: ${countOf(total, 'unit')} planned, ${countOf(calls, 'call')} ${what} would make${probeSentence(report)}; nothing was changed.`;
  }
  // A unit whose verify step did not run (planned: `npm run drill -- --endpoint`) is recovered, not verified.
  const unverified = report.units.filter(
    (u) =>
      u.status === 'succeeded' &&
      u.steps.some((st) => st.step === 'verifyConnectivity' && st.status === 'planned'),
  );
  if (unverified.length) {
    return `${subject} of ${report.planName} succeeded: ${ok} of ${total} units recovered${report.mode === 'drill' ? ' on drill copies' : ''}, ${ok - unverified.length} verified; connectivity of ${unverified.map((u) => u.unit).join(', ')} was not verified.${drill}`;
  }
  if (report.mode === 'drill') {
    return `Drill of ${report.planName} succeeded: ${ok} of ${total} units recovered and verified on drill copies${rto}; production was not touched.${drill}`;
  }
  if (report.mode === 'switchover') {
    const proven = report.units.filter((u) => u.switchover?.dataLossTransactions === 0).length;
    // Aurora units switched over by Aurora itself: no lifeboat proof, and no claim of one (report/switchover.ts).
    const managed = report.units.filter((u) => u.switchover?.managedBy === 'aurora').length;
    const windows = report.units
      .map((u) => u.switchover?.writeUnavailableSeconds)
      .filter((w): w is number => typeof w === 'number');
    const window = windows.length
      ? `; writes unavailable for at most ${formatDuration(Math.max(...windows) * 1000)}`
      : '';
    const fenced = total - managed;
    const provenPart =
      fenced === 0
        ? ''
        : proven === fenced
          ? `0 transactions lost, proven for every ${managed ? 'instance ' : ''}unit`
          : `0 transactions lost proven for ${proven} of ${fenced} ${managed ? 'instance ' : ''}units`;
    const managedPart = managed
      ? `${countOf(managed, 'Aurora unit')} switched over by Aurora's SwitchoverGlobalCluster (no data loss by Aurora's design; not measured by lifeboat)`
      : '';
    const loss = [provenPart, managedPart].filter(Boolean).join('; ');
    return `Switchover of ${report.planName} succeeded: ${ok} of ${total} units switched over and verified${rto}${window}; ${loss}.`;
  }
  if (report.mode === 'reprotect') {
    // An Aurora global unit gets no new replica: Aurora brings the old primary cluster back (docs/design/aurora.md).
    const aurora = report.units.filter((u) => u.engine?.startsWith('aurora-') === true).length;
    const instanceWay =
      'a read replica and the secret replicated in the old Region; the old primary kept, renamed';
    const auroraWay = 'the secret replicated to the old Region; the old primary cluster back as a secondary';
    const how =
      aurora === 0
        ? instanceWay
        : aurora === total
          ? auroraWay
          : `instance units: ${instanceWay}; Aurora units: ${auroraWay}`;
    return `Re-protect of ${report.planName} succeeded: ${ok} of ${total} units protected again (${how}).`;
  }
  return `Failover of ${report.planName} succeeded: ${ok} of ${total} units recovered and verified${rto}.`;
}

/** A drill of a switchover says what it did not prove (docs/design/switchover.md, "Dry run and drill"). */
const REHEARSAL_SENTENCE =
  ' A switchover was rehearsed on the copies: the production primary was never fenced, so there is no write-unavailability window and no data-loss figure.';

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
