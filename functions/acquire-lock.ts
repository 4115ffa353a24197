import { clientsFor } from './lib/clients.js';
import { currentRegion, optionalEnv, requiredEnv } from './lib/env.js';
import { type AcquiredLock, acquireLock } from './lib/lock.js';
import { logger } from './lib/observability.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import type { RunContext } from './lib/types.js';

const tableName = requiredEnv('LOCK_TABLE_NAME');
/** Set by the stack from the execution timeout (infra/constructs/orchestrator.ts; docs/design/lock.md). */
const lifetime = optionalEnv('LOCK_LIFETIME_SECONDS');

export const handler = answersWarmPing(async (event: { run: RunContext }): Promise<AcquiredLock> => {
  // acquireLock names any missing field of `run`; the Region falls back to this function's own.
  const region = event?.run?.recoveryRegion ?? currentRegion();
  const lock = await acquireLock(
    { dynamodb: clientsFor(region).dynamodb, sfn: clientsFor(region).sfn },
    tableName,
    event?.run,
    new Date(),
    lifetime !== undefined ? { lifetimeSeconds: Number(lifetime) } : {},
  );
  logger.info('lock acquired', {
    planName: event.run.planName,
    runId: lock.holder,
    ...(lock.tookOverFrom ? { tookOverFrom: lock.tookOverFrom } : {}),
  });
  return lock;
});
