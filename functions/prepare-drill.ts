import { assertUnitStepInput } from './lib/database.js';
import { drillDeps, type PrepareDrillResult, prepareDrillCopies } from './lib/drill.js';

/** Makes the unit's disposable copies (drill mode) and returns the unit the failover steps run on. */
export const handler = async (event: unknown): Promise<PrepareDrillResult> => {
  assertUnitStepInput(event, 'prepareDrill');
  return prepareDrillCopies(drillDeps(event.run), event);
};
