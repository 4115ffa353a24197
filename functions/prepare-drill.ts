import { drillDeps, type PrepareDrillResult, prepareDrillCopies } from './lib/drill.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { assertUnitStepInput } from './lib/step-input.js';

/** Makes the unit's disposable copies (drill mode) and returns the unit the failover steps run on. */
export const handler = answersWarmPing(async (event: unknown): Promise<PrepareDrillResult> => {
  assertUnitStepInput(event, 'prepareDrill');
  return prepareDrillCopies(drillDeps(event.run), event);
});
