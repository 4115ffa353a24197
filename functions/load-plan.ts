import { type LoadPlanEvent, loadRun } from './lib/load-plan.js';
import { logger } from './lib/observability.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import type { LoadedRun } from './lib/types.js';

export const handler = answersWarmPing(async (event: LoadPlanEvent): Promise<LoadedRun> => {
  const loaded = loadRun(event);
  logger.info('run loaded', {
    runId: loaded.run.runId,
    mode: loaded.run.mode,
    units: loaded.units.map((u) => u.name),
  });
  return loaded;
});
