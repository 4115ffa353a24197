import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { requestHandlerOptions, SDK_MAX_ATTEMPTS } from '../clients.js';
import { optionalEnv } from '../env.js';
import type { TemporaryCredentials } from './replicator.js';

/**
 * Clients of the secret feeds: Secrets Manager in any Region, with the function's own credentials or an assumed
 * role's, and STS. The same settings as functions/lib/clients.ts (timeouts, attempts, `LIFEBOAT_AWS_ENDPOINT`), which
 * has no place for a second set of credentials. Sessions are kept until five minutes before they expire.
 */

const clients = new Map<string, SecretsManagerClient>();
const sessions = new Map<string, { credentials: TemporaryCredentials; expires: number }>();

function base(region: string) {
  const endpoint = optionalEnv('LIFEBOAT_AWS_ENDPOINT');
  return {
    region,
    maxAttempts: SDK_MAX_ATTEMPTS,
    // STS answers small documents, as Secrets Manager does: the same timeouts.
    requestHandler: requestHandlerOptions('secretsManager'),
    ...(endpoint ? { endpoint } : {}),
  };
}

export function secretsManagerFor(region: string, credentials?: TemporaryCredentials): SecretsManagerClient {
  const key = `${region}|${credentials?.accessKeyId ?? ''}|${optionalEnv('LIFEBOAT_AWS_ENDPOINT') ?? ''}`;
  let client = clients.get(key);
  if (!client) {
    client = new SecretsManagerClient({ ...base(region), ...(credentials ? { credentials } : {}) });
    clients.set(key, client);
  }
  return client;
}

let sts: STSClient | undefined;

/** sts:AssumeRole from the function's own Region (the regional STS endpoint). */
export async function assumeRole(
  region: string,
  roleArn: string,
  externalId: string,
  sessionName: string,
  now: () => number = Date.now,
): Promise<TemporaryCredentials> {
  const key = `${roleArn}|${externalId}`;
  const cached = sessions.get(key);
  if (cached && cached.expires - 300_000 > now()) return cached.credentials;
  sts ??= new STSClient(base(region));
  const answer = await sts.send(
    new AssumeRoleCommand({
      RoleArn: roleArn,
      ExternalId: externalId,
      RoleSessionName: sessionName,
      DurationSeconds: 900,
    }),
  );
  const c = answer.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) {
    throw new TypeError(`AssumeRole ${roleArn} answered no credentials`);
  }
  const credentials = {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    sessionToken: c.SessionToken,
  };
  sessions.set(key, { credentials, expires: c.Expiration?.getTime() ?? now() + 900_000 });
  return credentials;
}

/** For tests and the proving ground: forget every client and session. */
export function resetFeedClients(): void {
  clients.clear();
  sessions.clear();
  sts = undefined;
}
