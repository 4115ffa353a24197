import { logger } from './lib/observability.js';
import { answersWarmPing } from './lib/readiness/warm.js';
// Not the report/ index: it carries the report's delivery (S3, SNS, CloudWatch clients), which this step never calls.
import type { SummarizeUnitEvent, UnitRunRecord } from './lib/report/model.js';
import { summarizeUnitOutcome } from './lib/report/trim.js';
import { jsonBytes } from './lib/state-limits.js';

/** The last state of a unit: its outcome, trimmed to its share of the parent execution's 256 KiB state. */
export const handler = answersWarmPing(async (event: SummarizeUnitEvent): Promise<UnitRunRecord> => {
  const summary = summarizeUnitOutcome(event.outcome, event.budgetBytes);
  if (summary.trimmed) {
    logger.info('unit outcome trimmed to fit the state', {
      unit: summary.unit,
      trimmed: summary.trimmed,
      bytes: jsonBytes(event.outcome),
      keptBytes: jsonBytes(summary),
      budgetBytes: event.budgetBytes,
    });
  }
  return summary;
});
