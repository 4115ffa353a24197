import { clientsFor } from './lib/clients.js';
import { requiredEnv } from './lib/env.js';
import { type AcquiredLock, acquireLock } from './lib/lock.js';
import { logger } from './lib/observability.js';
import type { RunContext } from './lib/types.js';

const tableName = requiredEnv('LOCK_TABLE_NAME');

export const handler = async (event: { run: RunContext }): Promise<AcquiredLock> => {
  const lock = await acquireLock(clientsFor(event.run.recoveryRegion), tableName, event.run);
  logger.info('lock acquired', { planName: event.run.planName, runId: lock.holder });
  return lock;
};
