import { clientsFor } from './lib/clients.js';
import { currentRegion, requiredEnv } from './lib/env.js';
import { type AcquiredLock, acquireLock } from './lib/lock.js';
import { logger } from './lib/observability.js';
import type { RunContext } from './lib/types.js';

const tableName = requiredEnv('LOCK_TABLE_NAME');

export const handler = async (event: { run: RunContext }): Promise<AcquiredLock> => {
  // acquireLock names any missing field of `run`; the Region falls back to this function's own.
  const lock = await acquireLock(
    clientsFor(event?.run?.recoveryRegion ?? currentRegion()),
    tableName,
    event?.run,
  );
  logger.info('lock acquired', { planName: event.run.planName, runId: lock.holder });
  return lock;
};
