import { clientsFor } from './lib/clients.js';
import { assertChangeId, checkDnsChange, zoneBatchConfig } from './lib/dns/change.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { assertAttempt, assertUnitStepInput } from './lib/step-input.js';
import type { PollResult } from './lib/types.js';

/**
 * One poll of the WaitForDnsInSync loop: done when the change is INSYNC, or at once when there was no change. With the
 * lock table (LOCK_TABLE_NAME) a change not sent yet goes in its zone's next batch, and GetChange is shared by the
 * units of a batch (functions/lib/dns/shared.ts).
 */
export const handler = answersWarmPing(async (event: unknown): Promise<PollResult> => {
  assertUnitStepInput(event, 'checkDnsChange');
  assertAttempt(event, 'checkDnsChange');
  assertChangeId(event, 'checkDnsChange');
  const clients = clientsFor(event.run.recoveryRegion);
  const batch = zoneBatchConfig(clients);
  return checkDnsChange(
    {
      route53: clients.route53,
      // Built on first use: only the health-check strategy calls CloudWatch.
      get cloudwatch() {
        return clients.cloudwatch;
      },
      ...(batch ? { batch } : {}),
    },
    event,
  );
});
