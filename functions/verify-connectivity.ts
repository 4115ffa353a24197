import { clientsFor } from './lib/clients.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { assertUnitStepInput } from './lib/step-input.js';
import type { StepResult } from './lib/types.js';
import { assertDnsSettlement } from './lib/verify/budget.js';
import { assertVerifyInput, verifyConnectivity } from './lib/verify/connectivity.js';

/** VerifyConnectivity: proves an application following the secret reaches a writable database in the recovery Region. */
export const handler = answersWarmPing(async (event: unknown): Promise<StepResult> => {
  assertUnitStepInput(event, 'verifyConnectivity');
  assertVerifyInput(event, 'verifyConnectivity');
  const dns = (event as { dns?: unknown }).dns;
  assertDnsSettlement(dns, 'verifyConnectivity');
  return verifyConnectivity(clientsFor(event.run.recoveryRegion), { ...event, dns });
});
