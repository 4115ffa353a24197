/** The budgets that keep a run within Step Functions' 256 KiB state limit; no dependencies, so any step may import them. */

/**
 * Step Functions refuses any state input or output, and an execution's output, over 256 KiB (262,144 bytes of UTF-8
 * JSON) with States.DataLimitExceeded (Step Functions quotas, "Maximum input or output size for a task, state, or
 * execution"). The units run as child executions of a Distributed Map whose results come back inline, so every unit's
 * outcome, the run, the lock and the preflight must fit in the parent's state together. The figures below share it.
 */
export const STATE_DATA_LIMIT_BYTES = 262_144;
/** What the units' outcomes may take of the parent's state, all together. */
export const UNIT_OUTCOMES_BUDGET_BYTES = 210_000;
/*
 * 210,000 (outcomes) + 24,000 (preflight) leave about 28,000 bytes for the run, the lock, the planned unit names and
 * the approval: test/flow/scale.test.ts runs 100 units with large step results and checks the whole state.
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
/** The most units one execution can carry inline: 210,000 / 2,100 = 100 (docs/design.md, "Scale"). */
export const MAX_UNITS_PER_RUN = Math.floor(UNIT_OUTCOMES_BUDGET_BYTES / MIN_UNIT_OUTCOME_BYTES);

/** Each unit's share of the budget: small plans keep every detail, a 100-unit plan keeps 2,100 bytes a unit. */
export function unitOutcomeBudgetBytes(unitCount: number): number {
  const share = Math.floor(UNIT_OUTCOMES_BUDGET_BYTES / Math.max(1, unitCount));
  return Math.min(Math.max(share, MIN_UNIT_OUTCOME_BYTES), MAX_UNIT_OUTCOME_BYTES);
}

/** UTF-8 bytes of a value as JSON, the way Step Functions measures state data. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}
