import { clientsFor } from './lib/clients.js';
import { logger } from './lib/observability.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { promoteReplicaSecret } from './lib/secret/promote.js';
import type { StepResult, UnitStepInput } from './lib/types.js';

/** PromoteSecret: the replica secret in the recovery Region becomes a standalone primary. */
export const handler = answersWarmPing(async ({ run, unit }: UnitStepInput): Promise<StepResult> => {
  const { secretsManager } = clientsFor(run.recoveryRegion);
  const result = await promoteReplicaSecret({ secretsManager }, { run, unit });
  // The result holds identifiers and statuses only, never the secret value.
  logger.info('secret promotion', { runId: run.runId, ...result });
  return result;
});
