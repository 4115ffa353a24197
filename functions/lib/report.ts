import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
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

export interface UnitResults {
  promoteSecret?: StepResult;
  promoteDatabase?: StepResult;
  waitForDatabasePromotion?: PollRecord;
  updateDns?: StepResult;
  waitForDnsInSync?: PollRecord;
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
  /** Run start to this unit verified. */
  recoveryTimeSeconds: number | null;
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
  units: UnitReport[];
  /** Where the report went; set by the report step after delivery. */
  delivery?: ReportDelivery;
  /** Set on the execution output when it had to leave parts out to fit; the S3 copy is whole. */
  outputTrimmed?: string;
}

export interface ReportDelivery {
  s3: { status: 'stored' | 'skipped' | 'failed'; keys?: string[]; error?: string };
  sns: { status: 'published' | 'skipped' | 'failed'; messageId?: string; error?: string };
}

/* ---------------------------------------------------------------------------------------------- */
/* Building                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

interface StepSpec {
  step: StepName;
  key: keyof UnitResults;
  title: string;
  /** For a poll: the step whose end starts the wait. */
  after?: keyof UnitResults;
}

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
  { step: 'attachRotation', key: 'attachRotation', title: 'Attach secret rotation' },
  { step: 'verifyConnectivity', key: 'verifyConnectivity', title: 'Verify connectivity' },
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

  const everyUnitVerified =
    units.length > 0 && units.every((u) => u.status === 'succeeded' && u.recoveryTimeSeconds !== null);
  const recoveryTimeSeconds =
    outcome === 'succeeded' && everyUnitVerified && mode !== 'dry-run'
      ? Math.max(...units.map((u) => u.recoveryTimeSeconds ?? 0))
      : null;
  const targetRtoSeconds = run?.targetRtoSeconds ?? null;
  const rtoMet =
    recoveryTimeSeconds !== null && targetRtoSeconds !== null
      ? recoveryTimeSeconds <= targetRtoSeconds
      : null;

  const planName = run?.planName ?? event.planName ?? 'unknown-plan';
  const runId = run?.runId ?? event.execution?.name ?? 'unknown-run';
  const error = runFailure
    ? runFailure.error
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
    units,
  };
  report.summary = summarize(report);
  return report;
}

function unitReport(record: UnitRunRecord, runStart: number, mode: Mode | null): UnitReport {
  const results: UnitResults = record.results ?? {};
  const steps = UNIT_STEPS.map((spec) => stepReport(spec, results));
  const failed = record.status !== 'succeeded';
  const stoppedAt = failed ? (steps.find((s) => s.status === 'not-reached')?.step ?? null) : null;
  if (failed && stoppedAt) {
    const at = steps.find((s) => s.step === stoppedAt);
    if (at) at.status = 'failed';
  }
  const failure = failed
    ? {
        step: stoppedAt,
        ...(record.failure
          ? describeFailure(record.failure)
          : { error: 'UnknownError', cause: 'the unit failed without a recorded error' }),
      }
    : null;
  const verify = results.verifyConnectivity;
  const verifiedAt =
    !failed && verify && mode !== 'dry-run' && verify.outcome !== 'planned' ? verify.endedAt : null;
  const dnsChange = results.updateDns;
  const inSync = results.waitForDnsInSync;
  const ttl = typeof record.dns?.ttl === 'number' ? record.dns.ttl : null;
  const inSyncAt = inSync?.done ? inSync.observedAt : null;
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
  return {
    unit: record.unit,
    engine: record.engine ?? null,
    status: failed ? 'failed' : 'succeeded',
    steps,
    stoppedAt,
    failure,
    dns,
    verifiedAt,
    recoveryTimeSeconds: verifiedAt ? seconds(Date.parse(verifiedAt) - runStart) : null,
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
      warnings: [],
      detail: { status: value.status, ...flatDetail(value.detail) },
    };
  }
  return {
    ...base,
    status: value.outcome,
    startedAt: value.startedAt ?? null,
    endedAt: value.endedAt ?? null,
    durationMs: typeof value.durationMs === 'number' ? value.durationMs : null,
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
  const subject = report.mode === 'dry-run' ? 'Dry run' : 'Failover';
  if (report.failure) {
    const changed = BEFORE_ANY_CHANGE.has(report.failure.stage) ? ' Nothing was changed.' : '';
    return `${subject} of ${report.planName} stopped at ${report.failure.stage}: ${report.failure.error}: ${oneLine(report.failure.cause)}.${changed}`;
  }
  if (report.outcome === 'failed') {
    const failed = report.units
      .filter((u) => u.status === 'failed')
      .map((u) => `${u.unit} (${u.failure?.error ?? 'failed'} at ${u.stoppedAt ?? 'an unknown step'})`);
    return `${subject} of ${report.planName}: ${total - ok} of ${total} units did not fail over: ${failed.join(', ')}.`;
  }
  if (report.mode === 'dry-run')
    return `Dry run of ${report.planName}: ${total} units planned, nothing was changed.`;
  const rto =
    report.recoveryTimeSeconds !== null
      ? ` in ${formatDuration(report.recoveryTimeSeconds * 1000)}${report.targetRtoSeconds !== null ? ` (target ${formatDuration(report.targetRtoSeconds * 1000)}: ${report.rtoMet ? 'met' : 'NOT met'})` : ''}`
      : '';
  return `Failover of ${report.planName} succeeded: ${ok} of ${total} units recovered and verified${rto}.`;
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
  if (report.recoveryTimeSeconds !== null) {
    lines.push(
      `recovery time ${formatDuration(report.recoveryTimeSeconds * 1000)}` +
        (report.targetRtoSeconds !== null
          ? ` against a target RTO of ${formatDuration(report.targetRtoSeconds * 1000)}: ${report.rtoMet ? 'met' : 'NOT met'}`
          : ''),
    );
  } else if (report.targetRtoSeconds !== null) {
    lines.push(
      `recovery time: not measured (not every unit was verified); target RTO ${formatDuration(report.targetRtoSeconds * 1000)}`,
    );
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
        ? `, verified ${formatDuration(unit.recoveryTimeSeconds * 1000)} after the run started`
        : '';
    lines.push(head + rt);
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
  const what = report.mode === 'dry-run' ? 'dry run' : 'failover';
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
  deps: { s3: S3Client; sns: SNSClient },
  report: RunReport,
  to: ReportDestinations,
): Promise<RunReport> {
  const delivery: ReportDelivery = { s3: { status: 'skipped' }, sns: { status: 'skipped' } };
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
const SKELETON_CAUSE_CHARS = 200;
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
  return {
    unit: record.unit,
    engine: record.engine,
    ...(record.dns ? { dns: record.dns } : {}),
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
  if ('attempts' in v) {
    // A poll record: what the timeline needs.
    for (const key of ['done', 'status', 'observedAt', 'attempts'] as const) out[key] = v[key];
    if (level === 'lean') out.detail = trimDetail(v.detail);
    return out;
  }
  for (const key of ['outcome', 'startedAt', 'endedAt', 'durationMs'] as const) {
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
  for (const list of RESOURCE_LISTS) {
    if (Array.isArray(v[list])) out[list] = (v[list] as unknown[]).map((r) => resourceId(r, level));
  }
  return out;
}

function trimDetail(detail: unknown): Record<string, DetailValue> {
  const out: Record<string, DetailValue> = {};
  for (const [key, value] of Object.entries(flatDetail(detail))) {
    out[key] = typeof value === 'string' ? cut(value, LEAN_STRING_CHARS) : value;
  }
  return out;
}

/** A drill resource down to what says which one it was. */
function resourceId(resource: unknown, level: Trimmed): unknown {
  if (!resource || typeof resource !== 'object') return resource;
  const r = resource as Record<string, unknown>;
  if (level === 'lean') return r;
  const out: Record<string, unknown> = {};
  for (const key of ['kind', 'id', 'region', 'status'] as const) if (key in r) out[key] = r[key];
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
