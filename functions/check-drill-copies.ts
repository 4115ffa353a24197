import { checkDrillCopies, drillDeps } from './lib/drill.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { assertAttempt, assertUnitStepInput } from './lib/step-input.js';
import type { PollResult } from './lib/types.js';

/** One look at the drill copies (Wait for drill copies loop): done once the replica is available and the secret InSync. */
export const handler = answersWarmPing(async (event: unknown): Promise<PollResult> => {
  assertUnitStepInput(event, 'checkDrillCopies');
  assertAttempt(event, 'checkDrillCopies');
  return checkDrillCopies(drillDeps(event.run), event);
});
