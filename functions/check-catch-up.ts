import { assertAttempt, assertUnitStepInput } from './lib/database.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { switchoverDeps } from './lib/switchover/preflight.js';
import { assertFenceDetail, checkCatchUp } from './lib/switchover/switchover.js';
import type { PollResult } from './lib/types.js';

/** CheckCatchUp (switchover): has the replica replayed everything the primary committed before the fence? */
export const handler = answersWarmPing(async (event: unknown): Promise<PollResult> => {
  assertUnitStepInput(event, 'checkCatchUp');
  assertAttempt(event, 'checkCatchUp');
  const fence = (event as { fence?: unknown }).fence;
  assertFenceDetail(fence, 'checkCatchUp');
  return checkCatchUp(switchoverDeps(event.run), { ...event, fence });
});
