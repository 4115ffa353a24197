/**
 * The run report: built from the state the run ends with (build.ts), rendered for people (render-text.ts), stored
 * and published (deliver.ts), and trimmed to fit Step Functions' state limit (trim.ts). The types are in model.ts.
 */
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
} from '../state-limits.js';
export { buildRunReport, describeFailure } from './build.js';
export {
  deliverReport,
  METRIC_NAMESPACE,
  RECOVERY_TIME_METRIC,
  type ReportDestinations,
  RUN_METRIC_UNIT,
  recoveryTimeMetrics,
  reportKeys,
  reportMessage,
  reportSubject,
  SNS_MESSAGE_LIMIT_BYTES,
  SNS_SUBJECT_LIMIT,
} from './deliver.js';
export { countOf, formatDuration } from './format.js';
export type * from './model.js';
export { renderReportHtml } from './render-html.js';
export { renderReportMarkdown } from './render-markdown.js';
export { renderReportText } from './render-text.js';
export { isSensitiveKey, scrubSecrets } from './scrub.js';
export { buildTimeline, rerunCommand, type Timeline, type TimelineRow, unitsToRerun } from './timeline.js';
export { reportForExecutionOutput, summarizeUnitOutcome } from './trim.js';
