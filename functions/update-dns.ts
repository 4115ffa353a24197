import { clientsFor } from './lib/clients.js';
import { zoneBatchConfig } from './lib/dns/change.js';
import { updateDns } from './lib/dns/update.js';
import { optionalEnv } from './lib/env.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { assertUnitStepInput } from './lib/step-input.js';
import type { StepResult } from './lib/types.js';

/**
 * UpdateDns: points the unit's CNAME at the promoted instance (Route 53 is global; RDS is read in the recovery Region).
 * With the lock table (LOCK_TABLE_NAME) the change goes in its zone's batch (functions/lib/dns/shared.ts), and an
 * instance unit takes its promoted endpoint from the shared poll's snapshot when it is fresh
 * (functions/lib/promotion-snapshot.ts).
 */
export const handler = answersWarmPing(async (event: unknown): Promise<StepResult> => {
  assertUnitStepInput(event, 'updateDns');
  const clients = clientsFor(event.run.recoveryRegion);
  const batch = zoneBatchConfig(clients);
  const tableName = optionalEnv('LOCK_TABLE_NAME');
  // The shared promotion poll's snapshot of the recovery Region (functions/lib/promotion-snapshot.ts).
  const snapshot = tableName
    ? {
        dynamodb: clients.dynamodb,
        tableName,
        key: { planName: event.run.planName, runId: event.run.runId, region: event.run.recoveryRegion },
      }
    : undefined;
  return updateDns(
    {
      rds: clients.rds,
      route53: clients.route53,
      // Built on first use: only the health-check strategy calls CloudWatch.
      get cloudwatch() {
        return clients.cloudwatch;
      },
      ...(batch ? { batch } : {}),
      ...(snapshot ? { snapshot } : {}),
    },
    event,
  );
});
