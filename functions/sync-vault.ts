import { clientsFor } from './lib/clients.js';
import { currentRegion, requiredEnv } from './lib/env.js';
import { ConfigurationError } from './lib/errors.js';
import { logger } from './lib/observability.js';
import { awsIamLoginRequest } from './lib/secret-feeds/vault-aws-login.js';
import { loginWithAwsIam, type VaultKv, vaultKv } from './lib/secret-feeds/vault-client.js';
import { failureOf, runVaultSync, type VaultSyncReport } from './lib/secret-feeds/vault-sync.js';
import {
  parseVaultSyncConfig,
  VAULT_SYNC_CONFIG_ENV,
  type VaultCredential,
  type VaultSyncConfig,
} from './lib/secret-feeds/vault-sync-config.js';

// Validated at cold start: a bad configuration fails every invocation, naming each problem.
const config = parseConfig();

function parseConfig(): VaultSyncConfig {
  let json: unknown;
  try {
    json = JSON.parse(requiredEnv(VAULT_SYNC_CONFIG_ENV));
  } catch (error) {
    if (error instanceof TypeError) throw error;
    throw new ConfigurationError(`environment variable ${VAULT_SYNC_CONFIG_ENV} is not JSON`);
  }
  return parseVaultSyncConfig(json);
}

/** A Vault client with the credential: the token as it is, or one from the AWS IAM login with this function's role. */
async function connect(credential: VaultCredential): Promise<VaultKv> {
  const connection = {
    address: config.vaultAddress,
    ...(config.vaultNamespace ? { namespace: config.vaultNamespace } : {}),
  };
  if ('token' in credential) return vaultKv(connection, credential.token);
  const { role, mount, serverId, stsRegion, stsEndpoint } = credential.aws;
  const request = await awsIamLoginRequest({
    role,
    ...(serverId ? { serverId } : {}),
    ...(stsRegion ? { stsRegion } : {}),
    ...(stsEndpoint ? { stsEndpoint } : {}),
  });
  return vaultKv(connection, await loginWithAwsIam(connection, mount, request));
}

/**
 * Invoked by its EventBridge Scheduler schedule (infra/constructs/vault-sync.ts): one run of the Vault pull sync
 * (functions/lib/secret-feeds/vault-sync.ts). Logs what it did per secret (names, versions, actions; never a value).
 * Throws SecretFeedError when a secret was not synced, VaultAuthError when Vault refused the credential: the failure
 * is already on the topic and in the secrets' last-sync record; Lambda's retry and dead-letter queue take it from here.
 */
export const handler = async (): Promise<VaultSyncReport> => {
  const region = currentRegion();
  const clients = clientsFor(region);
  const report = await runVaultSync(config, {
    region,
    secretsManager: clients.secretsManager,
    sns: clients.sns,
    connect,
  });
  logger.info('Vault sync finished', {
    status: report.status,
    source: report.source,
    counts: report.counts,
    entries: report.entries,
  });
  const failure = failureOf(report);
  if (failure) throw failure;
  return report;
};
