import { clientsFor } from './lib/clients.js';
import { checkDatabasePromotion } from './lib/database.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { assertAttempt, assertUnitStepInput } from './lib/step-input.js';
import type { PollResult } from './lib/types.js';

/** One poll of the WaitForDatabasePromotion loop: done once the instance is available and no longer a replica. */
export const handler = answersWarmPing(async (event: unknown): Promise<PollResult> => {
  assertUnitStepInput(event, 'checkDatabasePromotion');
  assertAttempt(event, 'checkDatabasePromotion');
  return checkDatabasePromotion(clientsFor(event.run.recoveryRegion), event);
});
