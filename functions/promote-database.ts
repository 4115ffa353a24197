import { promoteAurora } from './lib/aurora/promote.js';
import { clientsFor } from './lib/clients.js';
import { promoteDatabase } from './lib/database-promotion.js';
import { isAuroraUnit } from './lib/plan-names.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { assertUnitStepInput } from './lib/step-input.js';
import type { StepResult } from './lib/types.js';

/**
 * PromoteDatabase: promotes the unit's cross-Region read replica in the recovery Region; for an Aurora unit, fails
 * over or switches over its global database, or promotes its replica cluster (functions/lib/aurora/promote.ts).
 */
export const handler = answersWarmPing(async (event: unknown): Promise<StepResult> => {
  assertUnitStepInput(event, 'promoteDatabase');
  const { unit } = event;
  if (isAuroraUnit(unit)) return promoteAurora(clientsFor(event.run.recoveryRegion), { ...event, unit });
  return promoteDatabase(clientsFor(event.run.recoveryRegion), event);
});
