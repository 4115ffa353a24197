import { promoteAurora } from './lib/aurora/promote.js';
import { clientsFor } from './lib/clients.js';
import { promoteDatabase } from './lib/database-promotion.js';
import { isAuroraUnit } from './lib/plan-names.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { runReplicaReader } from './lib/shared-poll.js';
import { assertUnitStepInput } from './lib/step-input.js';
import type { StepResult } from './lib/types.js';

/**
 * PromoteDatabase: promotes the unit's cross-Region read replica in the recovery Region; for an Aurora unit, fails
 * over or switches over its global database, or promotes its replica cluster (functions/lib/aurora/promote.ts).
 * With the lock table (LOCK_TABLE_NAME) an instance unit reads its replica from the run's shared promotion snapshot
 * (functions/lib/shared-poll.ts), so that a fleet's promotions cost one DescribeDBInstances per 100 instances.
 */
export const handler = answersWarmPing(async (event: unknown): Promise<StepResult> => {
  assertUnitStepInput(event, 'promoteDatabase');
  const { unit } = event;
  if (isAuroraUnit(unit)) return promoteAurora(clientsFor(event.run.recoveryRegion), { ...event, unit });
  const clients = clientsFor(event.run.recoveryRegion);
  // With the lock table, the replica comes from the run's shared snapshot, as CheckDatabasePromotion's polls do
  // (functions/lib/shared-poll.ts, docs/design/fleet.md "Polls by instance, not by unit").
  const readReplica = runReplicaReader(clients, event.run);
  return promoteDatabase({ rds: clients.rds, ...(readReplica ? { readReplica } : {}) }, event);
});
