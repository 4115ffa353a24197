import { jsonBytes, REPORT_OUTPUT_BUDGET_BYTES } from '../state-limits.js';
import type { DetailValue } from '../types.js';
import { describeFailure, flatDetail } from './build.js';
import { countOf, cut } from './format.js';
import type { RunReport, Trimmed, UnitResults, UnitRunRecord } from './model.js';

/* Fitting Step Functions' 256 KiB state limit (the figures are in state-limits.ts)                */
/* ---------------------------------------------------------------------------------------------- */

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
    out.warnings = warnings.length
      ? [`${countOf(warnings.length, 'warning')} left out to fit the state limit`]
      : [];
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
  const skeleton: RunReport = {
    ...withoutDetail,
    outputTrimmed: 'steps left out of the execution output; the full report is in S3',
    units: report.units.map((u) => ({
      ...u,
      steps: [],
      dns: null,
      failure: u.failure ? { ...u.failure, cause: cut(u.failure.cause, SKELETON_CAUSE_CHARS) } : null,
    })),
  };
  if (jsonBytes(skeleton) <= budgetBytes) return skeleton;
  // Hundreds of units (a drill's copies are about 1 KB a unit, and the run's list of them as much again): each
  // unit's status, times and failure, and of the drill what was left behind. docs/design/fleet.md.
  return {
    ...skeleton,
    outputTrimmed:
      "steps, each unit's drill and switchover details and the drill's cleaned-up list left out of the execution output; the full report is in S3",
    units: skeleton.units.map(({ drill: _drill, switchover: _switchover, replicaLag: _lag, ...u }) => u),
    ...(skeleton.drill ? { drill: { ...skeleton.drill, cleanedUp: [] } } : {}),
  };
}
