import { cleanUpDrillCopies, type DrillCleanupResult, drillDeps } from './lib/drill.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { assertAttempt, assertUnitStepInput } from './lib/step-input.js';

/** One cleanup pass over the unit's drill copies; the state machine calls again while one is pending. */
export const handler = answersWarmPing(async (event: unknown): Promise<DrillCleanupResult> => {
  assertUnitStepInput(event, 'cleanUpDrill');
  assertAttempt(event, 'cleanUpDrill');
  return cleanUpDrillCopies(drillDeps(event.run), event);
});
