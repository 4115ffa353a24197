import { clientsFor } from './lib/clients.js';
import { logger } from './lib/observability.js';
import {
  assertPreflightPassed,
  type PreflightEvent,
  preflightForState,
  runPreflight,
} from './lib/preflight.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { PREFLIGHT_STATE_BUDGET_BYTES } from './lib/state-limits.js';
import type { PreflightReport } from './lib/types.js';

export const handler = answersWarmPing(async (event: PreflightEvent): Promise<PreflightReport> => {
  const report = await runPreflight(clientsFor(event.run.recoveryRegion), event);
  logger.info('preflight done', { ok: report.ok, errors: report.errors, warnings: report.warnings });
  return preflightForState(assertPreflightPassed(report), PREFLIGHT_STATE_BUDGET_BYTES);
});
