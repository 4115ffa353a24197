import { clientsFor } from './lib/clients.js';
import { currentRegion, requiredEnv } from './lib/env.js';
import { releaseLock } from './lib/lock.js';
import { logger } from './lib/observability.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import type { RunContext } from './lib/types.js';

const tableName = requiredEnv('LOCK_TABLE_NAME');

/** `run` is absent or null when LoadPlan refused the run: nothing to release. */
export const handler = answersWarmPing(
  async (event: { run?: RunContext | null }): Promise<{ released: boolean }> => {
    const run = event?.run ?? undefined;
    const result = await releaseLock(clientsFor(run?.recoveryRegion ?? currentRegion()), tableName, run);
    logger.info('lock release', { planName: run?.planName, runId: run?.runId, released: result.released });
    return result;
  },
);
