/** The budgets that keep a run within Step Functions' 256 KiB state limit; no dependencies, so any step may import them. */

/**
 * Step Functions refuses any state input or output, and an execution's output, over 256 KiB (262,144 bytes of UTF-8
 * JSON) with States.DataLimitExceeded (Step Functions quotas, "Maximum input or output size for a task, state, or
 * execution"). The units run as child executions of a Distributed Map that reads them from S3 and writes their
 * outcomes to S3 (docs/aws/step-functions-distributed-map.md), so the outcomes no longer share the parent's state:
 * what still does is the run, the lock, the preflight summary, the unit names and the Map Run's manifest reference.
 */
export const STATE_DATA_LIMIT_BYTES = 262_144;
/**
 * What the units' outcomes took of the parent's state when they came back inline; kept for unitOutcomeBudgetBytes,
 * which sizes a unit's outcome in a run whose results are inline (none since the ResultWriter).
 */
export const UNIT_OUTCOMES_BUDGET_BYTES = 210_000;
/*
 * The parent's state after the preflight: the run, the unit names (up to ~40 bytes each), the preflight summary
 * (24,000) and the lock; test/flow/scale-500.test.ts runs 500 units and checks every state.
 */
/** What the preflight report may take of the state (statemachine: `$.preflight`). */
export const PREFLIGHT_STATE_BUDGET_BYTES = 24_000;
/** What the report step may return as the execution's output; the full report is in S3. */
export const REPORT_OUTPUT_BUDGET_BYTES = 200_000;
/**
 * The least one unit's outcome is squeezed to: the status and times of every step, no detail and no warnings. The
 * largest such record (a drill unit whose every step ran, the longest names, a long failure) stays under this.
 */
export const MIN_UNIT_OUTCOME_BYTES = 2_100;
/** Most a unit's outcome keeps when the plan is small (only a runaway step detail could reach it). */
export const MAX_UNIT_OUTCOME_BYTES = 64_000;
/**
 * The most units one run takes: the plan schema's bound (functions/lib/plan.ts). The outcomes and the unit plans go
 * through S3, so the state carries only the unit names. What the state limit still bounds is the plan itself: it is
 * baked into the definition and is the first state's output, so its JSON must fit 256 KiB (about 500 bytes a unit:
 * 500 units of ordinary names fit); a larger plan is refused when it is synthesized (infra/constructs/orchestrator.ts).
 */
export const MAX_UNITS_PER_RUN = 500;
/** What each unit's outcome keeps: the whole outcome, written to S3 by the Map's ResultWriter. */
export const UNIT_OUTCOME_BYTES = MAX_UNIT_OUTCOME_BYTES;

/** A unit's share of an inline budget: small plans keep every detail, 100 units 2,100 bytes a unit. */
export function unitOutcomeBudgetBytes(unitCount: number): number {
  const share = Math.floor(UNIT_OUTCOMES_BUDGET_BYTES / Math.max(1, unitCount));
  return Math.min(Math.max(share, MIN_UNIT_OUTCOME_BYTES), MAX_UNIT_OUTCOME_BYTES);
}

/** UTF-8 bytes of a value as JSON, the way Step Functions measures state data. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}
