/**
 * The Vault sync's handler (functions/sync-vault.ts) end to end in-process: its configuration from the environment,
 * the Vault credential from Secrets Manager (the AWS emulator), Vault's AWS IAM auth method (the local KV v2 server
 * checks the SigV4 signature of the GetCallerIdentity request as STS would), and the sync.
 */
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import createVault from 'node-vault';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetClients } from '../../functions/lib/clients.js';
import { VAULT_SYNC_CONFIG_ENV } from '../../functions/lib/secret-feeds/vault-sync-config.js';
import { EMULATOR_CREDENTIALS, type Emulator, startEmulator } from '../../local/emulator/index.js';
import { type Kv2Server, startKv2Server } from '../../local/vault/kv2-server.js';

const REGION = 'us-east-1';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/lifeboat-vault-sync';

let emulator: Emulator;
let vault: Kv2Server;
const saved = { ...process.env };

beforeAll(async () => {
  emulator = await startEmulator({ timeFactor: 0.01 });
  vault = await startKv2Server({
    awsAuth: {
      principals: {
        [EMULATOR_CREDENTIALS.accessKeyId]: {
          secretAccessKey: EMULATOR_CREDENTIALS.secretAccessKey,
          arn: ROLE_ARN,
        },
      },
      roles: { 'lifeboat-vault-sync': [ROLE_ARN] },
      serverId: 'vault.example.com',
    },
  });
});
afterAll(async () => {
  process.env = saved;
  resetClients();
  await vault?.close();
  await emulator?.close();
});

describe('sync-vault handler', () => {
  it('logs in with the AWS IAM auth method as its own role and syncs; a second invocation changes nothing', async () => {
    const sm = new SecretsManagerClient(emulator.clientConfig(REGION));
    const credential = await sm.send(
      new CreateSecretCommand({
        Name: 'lifeboat/vault-credential',
        SecretString: JSON.stringify({ aws: { role: 'lifeboat-vault-sync', serverId: 'vault.example.com' } }),
      }),
    );
    const root = createVault({
      endpoint: vault.endpoint,
      token: vault.rootToken,
      noCustomHTTPVerbs: true,
      debug: () => undefined,
    });
    await root.write('secret/data/apps/prod/orders/db', {
      data: { username: 'app', password: 'handler-marker' },
    });
    vault.clearCalls();
    Object.assign(process.env, {
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
      LIFEBOAT_AWS_ENDPOINT: emulator.endpoint,
      [VAULT_SYNC_CONFIG_ENV]: JSON.stringify({
        vaultAddress: vault.endpoint,
        prefix: 'apps/prod',
        namePrefix: 'vault/apps/prod/',
        credentialSecretArn: credential.ARN,
        intervalSeconds: 1800,
      }),
    });
    resetClients();
    const { handler } = await import('../../functions/sync-vault.js');
    const first = await handler();
    expect(first.counts.created).toBe(1);
    expect(vault.calls[0]).toMatchObject({ method: 'POST', path: 'auth/aws/login', status: 200 });
    const value = await sm.send(new GetSecretValueCommand({ SecretId: 'vault/apps/prod/orders/db' }));
    expect(JSON.parse(value.SecretString ?? '{}')).toEqual({ username: 'app', password: 'handler-marker' });
    const second = await handler();
    expect(second.counts).toMatchObject({ unchanged: 1, created: 0, updated: 0 });
    sm.destroy();
  });
});
