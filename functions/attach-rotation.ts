import { clientsFor } from './lib/clients.js';
import { InputInvalidError } from './lib/errors.js';
import { logger } from './lib/observability.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { attachRotation, settleRotation } from './lib/secret/rotation.js';
import { assertUnitStepInput } from './lib/step-input.js';
import type { StepResult } from './lib/types.js';

/**
 * Two states run this function (statemachine/failover.ts): with `phase: "settle"`, before verification, it finishes
 * or clears an interrupted rotation (SettleRotation); without, after verification, the promoted secret rotates with
 * the recovery Region's Lambda, without rotating now (AttachRotation).
 */
export const handler = answersWarmPing(async (event: unknown): Promise<StepResult> => {
  assertUnitStepInput(event, 'attachRotation');
  const phase = (event as { phase?: unknown }).phase;
  if (phase !== undefined && phase !== 'settle') {
    throw new InputInvalidError(
      `attachRotation: phase: expected "settle" or nothing, got ${JSON.stringify(phase)}`,
      ['phase'],
    );
  }
  const { run, unit } = event;
  const { secretsManager, rds } = clientsFor(run.recoveryRegion);
  const result =
    phase === 'settle'
      ? await settleRotation({ secretsManager, rds }, { run, unit })
      : await attachRotation({ secretsManager, rds }, { run, unit });
  // The result names versions, users' verdicts and rewritten fields, never the secret value.
  logger.info(phase === 'settle' ? 'interrupted rotation checked' : 'rotation attached', {
    runId: run.runId,
    ...result,
  });
  return result;
});
