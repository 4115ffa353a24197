import { clientsFor } from './lib/clients.js';
import { assertChangeId, checkDnsChange } from './lib/dns/change.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { assertAttempt, assertUnitStepInput } from './lib/step-input.js';
import type { PollResult } from './lib/types.js';

/** One poll of the WaitForDnsInSync loop: done when the change is INSYNC, or at once when there was no change. */
export const handler = answersWarmPing(async (event: unknown): Promise<PollResult> => {
  assertUnitStepInput(event, 'checkDnsChange');
  assertAttempt(event, 'checkDnsChange');
  assertChangeId(event, 'checkDnsChange');
  return checkDnsChange(clientsFor(event.run.recoveryRegion), event);
});
