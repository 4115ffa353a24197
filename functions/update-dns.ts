import { clientsFor } from './lib/clients.js';
import { updateDns } from './lib/dns/update.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { assertUnitStepInput } from './lib/step-input.js';
import type { StepResult } from './lib/types.js';

/** UpdateDns: points the unit's CNAME at the promoted instance (Route 53 is global; RDS is read in the recovery Region). */
export const handler = answersWarmPing(async (event: unknown): Promise<StepResult> => {
  assertUnitStepInput(event, 'updateDns');
  return updateDns(clientsFor(event.run.recoveryRegion), event);
});
