import { clientsFor } from './lib/clients.js';
import { currentRegion, requiredEnv } from './lib/env.js';
import { logger } from './lib/observability.js';
import { assumeRole, secretsManagerFor } from './lib/secret-feeds/clients.js';
import { type ReplicationReport, replicate } from './lib/secret-feeds/replicator.js';
import { parseReplicatorConfig } from './lib/secret-feeds/targets.js';

/** Variable holding the replicator's configuration as JSON (infra/constructs/secret-replicator.ts). */
export const REPLICATOR_CONFIG_ENV = 'REPLICATOR_CONFIG';

// Validated at cold start: a bad configuration fails every invocation, naming each problem.
const config = parseReplicatorConfig(JSON.parse(requiredEnv(REPLICATOR_CONFIG_ENV)), REPLICATOR_CONFIG_ENV);

/**
 * Invoked by the replicator's EventBridge rules on Secrets Manager events (functions/lib/secret-feeds/replicator.ts).
 * Throws SecretFeedError when a target failed: Lambda retries the event, then sends it to the dead-letter queue.
 */
export const handler = async (event: unknown): Promise<ReplicationReport> => {
  const region = currentRegion();
  const clients = clientsFor(region);
  return replicate(
    {
      secretsManager: secretsManagerFor,
      assumeRole: (roleArn, externalId, sessionName) => assumeRole(region, roleArn, externalId, sessionName),
      sns: clients.sns,
      cloudwatch: clients.cloudwatch,
      now: () => new Date(),
      log: (message, fields) => logger.info(message, fields),
    },
    config,
    event,
  );
};
