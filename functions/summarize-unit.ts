import { logger } from './lib/observability.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import {
  jsonBytes,
  type SummarizeUnitEvent,
  summarizeUnitOutcome,
  type UnitRunRecord,
} from './lib/report/index.js';

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
