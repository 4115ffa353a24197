import { clientsFor } from './lib/clients.js';
import { logger } from './lib/observability.js';
import {
  assertPreflightPassed,
  type PreflightEvent,
  preflightForState,
  runPreflight,
} from './lib/preflight.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { readRunUnits, s3Store } from './lib/run-objects.js';
import './lib/sdk/s3.js';
import { PREFLIGHT_STATE_BUDGET_BYTES } from './lib/state-limits.js';
import type { PreflightReport } from './lib/types.js';

/** The run, and its units as LoadPlan wrote them to the report bucket (the state keeps only their names). */
type PreflightStepEvent = Omit<PreflightEvent, 'units'> & {
  units?: PreflightEvent['units'];
  unitsBucket?: string;
  unitsKey?: string;
};

export const handler = answersWarmPing(async (input: PreflightStepEvent): Promise<PreflightReport> => {
  const clients = clientsFor(input.run.recoveryRegion);
  if (!input.units && !(input.unitsBucket && input.unitsKey)) {
    throw new Error('Preflight: the event names no units and no unitsBucket and unitsKey to read them from');
  }
  const units =
    input.units ??
    (await readRunUnits(s3Store(clients.s3), input.unitsBucket as string, input.unitsKey as string));
  const event: PreflightEvent = { run: input.run, units };
  const report = await runPreflight(clients, event);
  logger.info('preflight done', { ok: report.ok, errors: report.errors, warnings: report.warnings });
  return preflightForState(assertPreflightPassed(report), PREFLIGHT_STATE_BUDGET_BYTES);
});
