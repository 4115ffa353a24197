import { clientsFor } from './lib/clients.js';
import { promoteDatabase } from './lib/database.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { assertUnitStepInput } from './lib/step-input.js';
import type { StepResult } from './lib/types.js';

/** PromoteDatabase: promotes the unit's cross-Region read replica in the recovery Region. */
export const handler = answersWarmPing(async (event: unknown): Promise<StepResult> => {
  assertUnitStepInput(event, 'promoteDatabase');
  return promoteDatabase(clientsFor(event.run.recoveryRegion), event);
});
