import { assertAttempt, assertUnitStepInput } from './lib/database.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { type ReprotectPass, reprotectDeps, reprotectUnit } from './lib/reprotect/reprotect.js';

/** One re-protect pass of a unit (Re-protect loop): secret replicated back, old primary renamed, new replica made. */
export const handler = answersWarmPing(async (event: unknown): Promise<ReprotectPass> => {
  assertUnitStepInput(event, 'reprotectUnit');
  assertAttempt(event, 'reprotectUnit');
  return reprotectUnit(reprotectDeps(event.run), event);
});
