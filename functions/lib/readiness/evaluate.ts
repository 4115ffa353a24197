import type { MetricDatum } from '@aws-sdk/client-cloudwatch';
import type { FailoverPlan, UnitPlan } from '../plan.js';
import { informationalInDrill, type PreflightDeps, runPreflight } from '../preflight.js';
import type { DetailValue, PreflightCheck, RunContext } from '../types.js';
import type { WarmResult } from './warm.js';

/**
 * Continuous readiness (docs/design/readiness.md): the failover's own read-only preflight, run for every unit on a
 * schedule, summed up per unit and per check and published as metrics. Nothing here changes anything.
 */

/**
 * The checks a unit is judged by: preflight's concerns (functions/lib/preflight.ts), each named after what it proves.
 * `rotation` is "the rotation function is reachable", `dns` "the record is as expected".
 */
export const READINESS_CHECKS = ['secret', 'rotation', 'database', 'dns'] as const;
export type ReadinessCheckName = (typeof READINESS_CHECKS)[number];

/** A problem that makes a check not ready, as preflight words it. Messages hold names and statuses, never secrets. */
export interface ReadinessProblem {
  check: string;
  severity: PreflightCheck['severity'];
  message: string;
}

export interface CheckReadiness {
  /** null: the check could not run this time (e.g. the service did not answer): no datapoint is published. */
  ready: boolean | null;
  problems: ReadinessProblem[];
}

export interface UnitReadiness {
  unit: string;
  ready: boolean;
  checks: Record<ReadinessCheckName, CheckReadiness>;
  replicaLagSeconds: number | null;
  /** The replica secret's replication status as the recovery Region reports it (InSync, InProgress, Failed), if it does. */
  secretReplicationStatus: string | null;
  /** Why the unit could not be evaluated at all (a transient AWS error that outlasted the SDK's retries). */
  error?: string;
}

/**
 * One evaluation, as the readiness function writes it to `reports/<plan>/readiness/latest.json` and `lifeboat status`
 * reads it. Field names are part of that contract: add, do not rename.
 */
export interface ReadinessEvaluation {
  readinessVersion: 1;
  planName: string;
  evaluatedAt: string;
  durationMs: number;
  /** Every unit ready and every function answered its warm ping. */
  ready: boolean;
  units: UnitReadiness[];
  functions: { pinged: number; notAnswering: WarmResult[] };
}

export interface EvaluateOptions {
  /** Units evaluated at once (each runs its concerns concurrently). @default 10 */
  concurrency?: number;
  now?: () => Date;
}

/** Runs preflight for each unit on its own, so one unit's transient error leaves the others' results standing. */
export async function evaluateUnits(
  deps: PreflightDeps,
  plan: FailoverPlan,
  options: EvaluateOptions = {},
): Promise<UnitReadiness[]> {
  const now = options.now ?? (() => new Date());
  const run = readinessRun(plan, now());
  const results: UnitReadiness[] = new Array(plan.units.length);
  let next = 0;
  const worker = async () => {
    while (next < plan.units.length) {
      const index = next++;
      const unit = plan.units[index] as UnitPlan;
      results[index] = await evaluateUnit(deps, run, unit, now);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 10, plan.units.length) }, worker));
  return results;
}

async function evaluateUnit(
  deps: PreflightDeps,
  run: RunContext,
  unit: UnitPlan,
  now: () => Date,
): Promise<UnitReadiness> {
  try {
    const report = await runPreflight(deps, { run, units: [unit] }, now);
    return unitReadiness(unit.name, report.checks, report.readiness[unit.name] ?? {});
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const unknown = (): CheckReadiness => ({ ready: null, problems: [] });
    return {
      unit: unit.name,
      ready: false,
      checks: { secret: unknown(), rotation: unknown(), database: unknown(), dns: unknown() },
      replicaLagSeconds: null,
      secretReplicationStatus: null,
      error: `could not evaluate: ${message}`,
    };
  }
}

/**
 * A unit's readiness from its preflight checks. A check is not ready when any of its failed findings would stop a
 * healthy failover: every error, and every warning except the advice a drill also lets pass (informationalInDrill:
 * backups off, the record's TTL against the RTO; a status the replica side does not report is no warning). So a replica
 * that lags past its limit, or a secret not InSync, makes the unit not ready although a failover would go on.
 */
export function unitReadiness(
  unit: string,
  checks: readonly PreflightCheck[],
  figures: Record<string, DetailValue>,
): UnitReadiness {
  const byCheck = Object.fromEntries(
    READINESS_CHECKS.map((name) => [name, { ready: true, problems: [] } as CheckReadiness]),
  ) as Record<ReadinessCheckName, CheckReadiness>;
  for (const c of checks) {
    if (c.ok || informationalInDrill(c, figures)) continue;
    const concern = c.check.split('.')[0] as ReadinessCheckName;
    const entry = byCheck[concern];
    if (!entry) continue;
    entry.ready = false;
    entry.problems.push({ check: c.check, severity: c.severity, message: c.message });
  }
  const lag = figures.replicaLagSeconds;
  const status = figures.secretReplicationStatus;
  return {
    unit,
    ready: READINESS_CHECKS.every((name) => byCheck[name].ready === true),
    checks: byCheck,
    replicaLagSeconds: typeof lag === 'number' ? lag : null,
    secretReplicationStatus: typeof status === 'string' && status !== 'unknown' ? status : null,
  };
}

/** The run context preflight reads: a failover of the whole plan, started by the schedule (nothing is started). */
export function readinessRun(plan: FailoverPlan, at: Date): RunContext {
  return {
    runId: `readiness-${at.toISOString().replace(/[-:.]/g, '')}`,
    executionArn: '',
    planName: plan.name,
    mode: 'failover',
    trigger: 'schedule',
    startedAt: at.toISOString(),
    account: plan.account,
    primaryRegion: plan.primaryRegion,
    recoveryRegion: plan.recoveryRegion,
    targetRtoSeconds: plan.targetRtoSeconds,
  };
}

export function summarize(
  plan: Pick<FailoverPlan, 'name'>,
  units: UnitReadiness[],
  warm: readonly WarmResult[],
  startedAt: Date,
  endedAt: Date,
): ReadinessEvaluation {
  const notAnswering = warm.filter((w) => !w.answered);
  return {
    readinessVersion: 1,
    planName: plan.name,
    evaluatedAt: startedAt.toISOString(),
    durationMs: endedAt.getTime() - startedAt.getTime(),
    ready: units.every((u) => u.ready) && notAnswering.length === 0,
    units,
    functions: { pinged: warm.length, notAnswering },
  };
}

/* ---------------------------------------------------------------------------------------------- */
/* Metrics                                                                                          */
/* ---------------------------------------------------------------------------------------------- */

export const READINESS_NAMESPACE = 'Lifeboat';
export const READY_METRIC = 'Ready';
export const REPLICA_LAG_METRIC = 'ReplicaLagSeconds';
export const SECRET_REPLICATION_METRIC = 'SecretReplicationStatus';
/** The Check dimension of the plan-level datum that says every function answered its warm ping. */
export const FUNCTIONS_CHECK = 'functions';

/**
 * The secret's replication status as a number: InSync 1, InProgress 0.5, Failed 0. A status the recovery Region
 * does not report is not published (no datapoint), rather than guessed.
 */
export const SECRET_REPLICATION_VALUES: Readonly<Record<string, number>> = {
  InSync: 1,
  InProgress: 0.5,
  Failed: 0,
};

/** PutMetricData takes at most 1,000 metrics and 1 MB per call (docs/cost.md, "Readiness"). */
export const PUT_METRIC_DATA_MAX_METRICS = 1000;

/**
 * The metrics of one evaluation, in namespace `Lifeboat` (docs/design/readiness.md, "Metrics"):
 * - `Ready` {Plan}: 1 when the whole plan is ready (the alarm watches it);
 * - `Ready` {Plan, Check=functions}: 1 when every function answered its warm ping;
 * - `Ready` {Plan, Unit} and {Plan, Unit, Check} for each of READINESS_CHECKS: 1 or 0 (none when a check could not run);
 * - `ReplicaLagSeconds` {Plan, Unit} and `SecretReplicationStatus` {Plan, Unit}, when known.
 * That is 7 metrics per unit and 2 per plan.
 */
export function readinessMetrics(evaluation: ReadinessEvaluation): MetricDatum[] {
  const at = new Date(evaluation.evaluatedAt);
  const plan = { Name: 'Plan', Value: evaluation.planName };
  const datum = (
    name: string,
    dimensions: { Name: string; Value: string }[],
    value: number,
    unit: 'None' | 'Seconds',
  ): MetricDatum => ({ MetricName: name, Dimensions: dimensions, Value: value, Unit: unit, Timestamp: at });
  const data: MetricDatum[] = [
    datum(READY_METRIC, [plan], evaluation.ready ? 1 : 0, 'None'),
    datum(
      READY_METRIC,
      [plan, { Name: 'Check', Value: FUNCTIONS_CHECK }],
      evaluation.functions.notAnswering.length === 0 ? 1 : 0,
      'None',
    ),
  ];
  for (const u of evaluation.units) {
    const unit = { Name: 'Unit', Value: u.unit };
    data.push(datum(READY_METRIC, [plan, unit], u.ready ? 1 : 0, 'None'));
    for (const name of READINESS_CHECKS) {
      const { ready } = u.checks[name];
      if (ready === null) continue;
      data.push(datum(READY_METRIC, [plan, unit, { Name: 'Check', Value: name }], ready ? 1 : 0, 'None'));
    }
    if (u.replicaLagSeconds !== null)
      data.push(datum(REPLICA_LAG_METRIC, [plan, unit], u.replicaLagSeconds, 'Seconds'));
    const status =
      u.secretReplicationStatus === null ? undefined : SECRET_REPLICATION_VALUES[u.secretReplicationStatus];
    if (status !== undefined) data.push(datum(SECRET_REPLICATION_METRIC, [plan, unit], status, 'None'));
  }
  return data;
}

/** Batches of at most PUT_METRIC_DATA_MAX_METRICS datums (each datum here is a metric of its own). */
export function metricBatches(data: readonly MetricDatum[]): MetricDatum[][] {
  const batches: MetricDatum[][] = [];
  for (let i = 0; i < data.length; i += PUT_METRIC_DATA_MAX_METRICS) {
    batches.push(data.slice(i, i + PUT_METRIC_DATA_MAX_METRICS));
  }
  return batches;
}

/** Where the latest evaluation is kept in the report bucket. */
export function readinessKey(planName: string): string {
  return `reports/${planName.replace(/[^A-Za-z0-9._-]/g, '_')}/readiness/latest.json`;
}
