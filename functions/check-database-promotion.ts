import { checkAuroraPromotion } from './lib/aurora/check.js';
import { clientsFor } from './lib/clients.js';
import { checkDatabasePromotion } from './lib/database-promotion.js';
import { isAuroraUnit } from './lib/plan-names.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { runReplicaReader } from './lib/shared-poll.js';
import { assertAttempt, assertUnitStepInput } from './lib/step-input.js';
import type { PollResult } from './lib/types.js';

/**
 * One poll of the WaitForDatabasePromotion loop: done once the instance is available and no longer a replica. With the
 * lock table (LOCK_TABLE_NAME), the units of a run share one DescribeDBInstances per interval through a snapshot
 * item (functions/lib/shared-poll.ts, docs/design/fleet.md "Polls by instance, not by unit").
 */
export const handler = answersWarmPing(async (event: unknown): Promise<PollResult> => {
  assertUnitStepInput(event, 'checkDatabasePromotion');
  assertAttempt(event, 'checkDatabasePromotion');
  const clients = clientsFor(event.run.recoveryRegion);
  // An Aurora unit polls its global cluster and cluster (functions/lib/aurora/check.ts), not the shared instance poll.
  const { unit } = event;
  if (isAuroraUnit(unit)) return checkAuroraPromotion({ rds: clients.rds }, { ...event, unit });
  const readReplica = runReplicaReader(clients, event.run);
  return checkDatabasePromotion({ rds: clients.rds, ...(readReplica ? { readReplica } : {}) }, event);
});
