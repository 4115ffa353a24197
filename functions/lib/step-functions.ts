import { SFNClient } from '@aws-sdk/client-sfn';
import { optionalEnv } from './env.js';

const cache = new Map<string, SFNClient>();

/**
 * The Step Functions client of the lock's holder check and of the ended-run handler, configured as `clientsFor`
 * configures every other client (`LIFEBOAT_AWS_ENDPOINT`, three attempts), one per Region and endpoint.
 * TODO(lock): becomes `clientsFor(region).sfn` once the shared factory's per-service timeouts settle.
 */
export function stepFunctionsClient(region: string): SFNClient {
  const endpoint = optionalEnv('LIFEBOAT_AWS_ENDPOINT');
  const key = `${region}|${endpoint ?? ''}`;
  let client = cache.get(key);
  if (!client) {
    client = new SFNClient({ region, maxAttempts: 3, ...(endpoint ? { endpoint } : {}) });
    cache.set(key, client);
  }
  return client;
}
