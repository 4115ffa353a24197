import { clientsFor } from './lib/clients.js';
import { logger } from './lib/observability.js';
import { attachRotation } from './lib/secret.js';
import type { StepResult, UnitStepInput } from './lib/types.js';

/** AttachRotation: the promoted secret rotates with the recovery Region's Lambda, without rotating now. */
export const handler = async ({ run, unit }: UnitStepInput): Promise<StepResult> => {
  const { secretsManager } = clientsFor(run.recoveryRegion);
  const result = await attachRotation({ secretsManager }, { run, unit });
  // The result names rewritten fields and versions, never the secret value.
  logger.info('rotation attached', { runId: run.runId, ...result });
  return result;
};
