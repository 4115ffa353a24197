import { clientsFor } from './lib/clients.js';
import { toLifeboatError } from './lib/errors.js';
import { type LoadPlanEvent, loadRun } from './lib/load-plan.js';
import { logger } from './lib/observability.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { s3Store, writeRunUnits } from './lib/run-objects.js';
import './lib/sdk/s3.js';
import type { LoadedRun } from './lib/types.js';

/**
 * The run without the unit plans: they are written to the report bucket, where the preflight and the Distributed
 * Map read them, so that the state carries only their names (functions/lib/state-limits.ts).
 */
export const handler = answersWarmPing(async (event: LoadPlanEvent): Promise<Omit<LoadedRun, 'units'>> => {
  const loaded = loadRun(event);
  if (!event.unitsBucket || !loaded.unitsKey) {
    throw new Error('LoadPlan: the definition gives no unitsBucket to write the run units to');
  }
  const where = `s3://${event.unitsBucket}/${loaded.unitsKey}`;
  try {
    await writeRunUnits(
      s3Store(clientsFor(loaded.run.recoveryRegion).s3),
      event.unitsBucket,
      loaded.unitsKey,
      loaded.units,
    );
  } catch (error) {
    // A throttled or unanswered write is retried by the state machine (TransientAwsError); a refused one stops the
    // run before any change. Writing the same key again is harmless.
    throw toLifeboatError(error, `LoadPlan: writing the run's units to ${where}`);
  }
  logger.info('run loaded', {
    runId: loaded.run.runId,
    mode: loaded.run.mode,
    units: loaded.units.map((u) => u.name),
    unitsObject: where,
  });
  const { units: _written, ...rest } = loaded;
  return rest;
});
