import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { build } from 'esbuild';
import createVault from 'node-vault';
import { feedRecordProblem, readFeedRecord } from '../../functions/lib/secret-feeds/feed-record.js';
import { VAULT_VERSION_TAG, type VaultSyncReport } from '../../functions/lib/secret-feeds/vault-sync.js';
import {
  parseVaultSyncConfig,
  VAULT_SYNC_CONFIG_ENV,
} from '../../functions/lib/secret-feeds/vault-sync-config.js';
import { BUNDLING, PROJECT_ROOT } from '../../infra/constructs/step-function.js';
import { VAULT_SYNC_ENTRY } from '../../infra/constructs/vault-sync.js';
import { esbuildOptions } from '../../scripts/esbuild-options.js';
import type { Cleanup } from '../cleanup.js';
import { EMULATOR_CREDENTIALS, type Emulator, startEmulator } from '../emulator/index.js';
import { startKv2Server } from './kv2-server.js';

/**
 * `npm run drill -- --scenario vault-sync`: the Vault pull sync on this machine. A local KV v2 server
 * (local/vault/kv2-server.ts) and the AWS emulator; the handler bundled as `cdk deploy` bundles it (esbuild with
 * BUNDLING) and invoked as Lambda would, with the configuration the VaultSync construct writes. It seeds Vault,
 * syncs, changes some secrets (a new version, a new secret) and removes others (a soft-deleted current version, a
 * destroyed one, deleted metadata), syncs again, and reports per secret what was created, updated, left alone and
 * removed, by name and version: never a value. A secret of the synced names that lifeboat did not create is seeded
 * too, and must come out untouched. With replica Regions the synced secrets are multi-Region: the recovery Region's
 * replica carries the value and the last-sync record preflight reads.
 */

export interface VaultSyncScenarioOptions {
  readonly timeFactor: number;
  /** Where the sync runs (the plan's primary Region). */
  readonly region: string;
  /** Replica Region of the synced secrets (the plan's recovery Region). @default none */
  readonly replicaRegion?: string;
  readonly removed: 'keep' | 'delete';
  readonly cleanup: Cleanup;
}

export interface ScenarioFact {
  readonly fact: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface VaultSyncScenarioOutcome {
  readonly runs: readonly VaultSyncReport[];
  readonly facts: readonly ScenarioFact[];
}

const PREFIX = 'apps/prod';
const NAME_PREFIX = 'vault/apps/prod/';
const HAND_MADE = `${NAME_PREFIX}legacy/api-key`;

type Handler = () => Promise<VaultSyncReport>;

/** The variables the function's environment replaced in this process, put back when the scenario ends. */
const savedEnv: Record<string, string | undefined> = {};

function restoreEnv(): void {
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
    delete savedEnv[name];
  }
}

export async function runVaultSyncScenario(
  options: VaultSyncScenarioOptions,
  out: (line: string) => void,
): Promise<VaultSyncScenarioOutcome> {
  const { cleanup, region: REGION } = options;
  const dir = await mkdtemp(join(tmpdir(), 'lifeboat-vault-sync-'));
  const removeDir = cleanup.directory(dir);
  const vault = await startKv2Server();
  const stopVault = cleanup.add('local Vault KV v2 server', () => vault.close());
  const emulator = await startEmulator({
    timeFactor: options.timeFactor,
    onBackgroundError: () => undefined,
  });
  const stopEmulator = cleanup.add('AWS emulator', () => emulator.close());
  try {
    out(
      `world: Vault KV v2 ${vault.endpoint} (mount secret/), AWS emulator ${emulator.endpoint}, Region ${REGION}`,
    );
    const bundle = await bundleHandler(dir);
    out(`world: ${VAULT_SYNC_ENTRY} bundled (${BUNDLING.format}, ${BUNDLING.target}) into ${bundle}`);
    const sm = new SecretsManagerClient(emulator.clientConfig(REGION));
    const sns = new SNSClient(emulator.clientConfig(REGION));
    const root = createVault({
      endpoint: vault.endpoint,
      token: vault.rootToken,
      noCustomHTTPVerbs: true,
      debug: () => undefined,
    });
    const put = (path: string, data: Record<string, unknown>) =>
      root.write(`secret/data/${PREFIX}/${path}`, { data });

    // A read-only token for the sync (this server has no ACLs; a real Vault gives it a read/list policy on the prefix).
    const token = (await root.write('auth/token/create', { ttl: '1h', policies: ['vault-sync-read'] })).auth
      .client_token as string;
    const credential = await sm.send(
      new CreateSecretCommand({ Name: 'lifeboat/vault-credential', SecretString: JSON.stringify({ token }) }),
    );
    const topic = await sns.send(new CreateTopicCommand({ Name: 'lifeboat-vault-sync-failures' }));
    await sm.send(new CreateSecretCommand({ Name: HAND_MADE, SecretString: '{"key":"made by hand"}' }));
    const db = (dbname: string, password: string) => ({
      engine: 'postgres',
      host: `${dbname}.db.example.internal`,
      port: 5432,
      username: 'app',
      password,
      dbname,
    });
    await put('orders/db', db('orders', pw()));
    await put('billing/db', db('billing', pw()));
    await put('payments/api-key', { key: pw() });
    await put('reports/token', { token: pw() });
    out(
      `seeded Vault secret/${PREFIX}/: orders/db, billing/db, payments/api-key, reports/token; and ${HAND_MADE} in Secrets Manager, made by hand`,
    );

    const config = parseVaultSyncConfig({
      vaultAddress: vault.endpoint,
      prefix: PREFIX,
      namePrefix: NAME_PREFIX,
      credentialSecretArn: credential.ARN,
      intervalSeconds: 1800,
      topicArn: topic.TopicArn,
      removed: options.removed,
      ...(options.removed === 'delete' ? { recoveryWindowDays: 7 } : {}),
      replicaRegions: options.replicaRegion ? [{ region: options.replicaRegion }] : [],
    });
    const handler = await loadHandler(bundle, {
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
      LIFEBOAT_AWS_ENDPOINT: emulator.endpoint,
      [VAULT_SYNC_CONFIG_ENV]: JSON.stringify(config),
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'ERROR',
    });
    out(
      `sync: secret/${PREFIX}/ -> ${NAME_PREFIX}*, removed: ${config.removed}${config.replicaRegions.length ? `, replicas in ${config.replicaRegions.map((r) => r.region).join(', ')}` : ''}`,
    );

    const runs: VaultSyncReport[] = [];
    runs.push(await invoke(handler, 'first sync', out));

    await put('orders/db', db('orders', pw()));
    await put('inventory/db', db('inventory', pw()));
    await root.delete(`secret/data/${PREFIX}/billing/db`);
    await root.write(`secret/destroy/${PREFIX}/payments/api-key`, { versions: [1] });
    await root.delete(`secret/metadata/${PREFIX}/reports/token`);
    out(
      'changed Vault: orders/db version 2, inventory/db new; billing/db current version deleted, payments/api-key destroyed, reports/token metadata deleted',
    );

    runs.push(await invoke(handler, 'second sync', out));
    vault.clearCalls();
    runs.push(await invoke(handler, 'third sync (nothing changed in Vault)', out));
    const dataReads = vault.calls.filter((c) => c.path.startsWith(`secret/data/`)).length;

    const facts = await checkFacts(sm, runs, dataReads, options, emulator);
    sm.destroy();
    sns.destroy();
    return { runs, facts };
  } finally {
    restoreEnv();
    if (!cleanup.closing) {
      stopEmulator();
      await emulator.close();
      stopVault();
      await vault.close();
      removeDir();
      await import('node:fs/promises').then((fs) => fs.rm(dir, { recursive: true, force: true }));
    }
  }
}

/** A random password: the scenario never prints it, the facts compare it without showing it. */
function pw(): string {
  return `pw-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}

async function bundleHandler(dir: string): Promise<string> {
  const outfile = join(dir, 'sync-vault', 'index.mjs');
  await build({
    ...esbuildOptions(PROJECT_ROOT),
    entryPoints: [VAULT_SYNC_ENTRY],
    outfile,
  });
  return outfile;
}

/** The bundle's handler, loaded with the function's environment (it reads its configuration at cold start). */
async function loadHandler(bundle: string, environment: Record<string, string>): Promise<Handler> {
  for (const name of Object.keys(environment)) if (!(name in savedEnv)) savedEnv[name] = process.env[name];
  Object.assign(process.env, environment);
  const module = (await import(pathToFileURL(bundle).href)) as { handler?: Handler };
  if (typeof module.handler !== 'function') throw new Error(`${bundle} exports no handler`);
  return module.handler;
}

async function invoke(
  handler: Handler,
  label: string,
  out: (line: string) => void,
): Promise<VaultSyncReport> {
  let report: VaultSyncReport;
  try {
    report = await handler();
  } catch (error) {
    // A run with refused secrets throws SecretFeedError after syncing the rest: its report is in the error's message
    // only as names; run it again to show the entries (a second run changes nothing the first did).
    const e = error as Error;
    out(`${label}: the function failed: ${e.name}: ${e.message}`);
    throw error;
  }
  out('');
  out(
    `${label}: ${report.status}, ${
      Object.entries(report.counts)
        .filter(([, n]) => n > 0)
        .map(([a, n]) => `${n} ${a}`)
        .join(', ') || 'nothing'
    }`,
  );
  const group = (title: string, actions: string[]) => {
    const rows = report.entries.filter((e) => actions.includes(e.action));
    if (!rows.length) return;
    out(`  ${title}:`);
    for (const e of rows) {
      const version = e.version !== undefined ? ` v${e.version}` : '';
      const from = e.previousVersion !== undefined ? ` (was v${e.previousVersion})` : '';
      out(
        `    ${e.action.padEnd(9)} ${e.secretName}${version}${from}  <- ${e.vaultPath}${e.detail ? `  [${e.detail}]` : ''}`,
      );
    }
  };
  group('created', ['created']);
  group('updated', ['updated']);
  group('left alone', ['unchanged', 'kept', 'refused']);
  group('removed', ['removed']);
  group('failed', ['failed']);
  return report;
}

async function checkFacts(
  sm: SecretsManagerClient,
  runs: readonly VaultSyncReport[],
  dataReads: number,
  options: VaultSyncScenarioOptions,
  emulator: Emulator,
): Promise<ScenarioFact[]> {
  const REGION = options.region;
  const facts: ScenarioFact[] = [];
  const [first, second, third] = runs as [VaultSyncReport, VaultSyncReport, VaultSyncReport];
  const action = (r: VaultSyncReport, rel: string) =>
    r.entries.find((e) => e.secretName === `${NAME_PREFIX}${rel}`)?.action;
  facts.push({
    fact: 'first sync created the four Vault secrets',
    ok: ['orders/db', 'billing/db', 'payments/api-key', 'reports/token'].every(
      (r) => action(first, r) === 'created',
    ),
    detail: JSON.stringify(first.counts),
  });
  const removedAction = options.removed === 'delete' && !options.replicaRegion ? 'removed' : 'kept';
  facts.push({
    fact: `second sync: orders/db updated, inventory/db created, the three gone ones ${removedAction}`,
    ok:
      action(second, 'orders/db') === 'updated' &&
      action(second, 'inventory/db') === 'created' &&
      ['billing/db', 'payments/api-key', 'reports/token'].every((r) => action(second, r) === removedAction),
    detail: JSON.stringify(second.counts),
  });
  facts.push({
    fact: 'third sync read no secret data (metadata only) and changed nothing',
    ok: dataReads === 0 && third.counts.created + third.counts.updated + third.counts.removed === 0,
    detail: `${dataReads} data reads, ${JSON.stringify(third.counts)}`,
  });
  const hand = await sm.send(new GetSecretValueCommand({ SecretId: HAND_MADE }));
  facts.push({
    fact: `${HAND_MADE}, made by hand, is untouched`,
    ok:
      hand.SecretString === '{"key":"made by hand"}' &&
      !runs.some((r) => r.entries.some((e) => e.secretName === HAND_MADE)),
    detail: 'value as seeded, in no run',
  });
  const orders = await sm.send(new DescribeSecretCommand({ SecretId: `${NAME_PREFIX}orders/db` }));
  const record = readFeedRecord(orders.Tags);
  facts.push({
    fact: 'orders/db holds Vault version 2 and a last-sync record preflight accepts',
    ok:
      orders.Tags?.find((t) => t.Key === VAULT_VERSION_TAG)?.Value === '2' &&
      record !== undefined &&
      'record' in record &&
      feedRecordProblem(record.record, new Date()) === undefined,
    detail: `tags ${orders.Tags?.filter((t) => t.Key?.startsWith('lifeboat:'))
      .map((t) => `${t.Key}=${t.Value}`)
      .join(' ')}`,
  });
  if (options.replicaRegion) {
    const replica = new SecretsManagerClient(emulator.clientConfig(options.replicaRegion));
    try {
      const deadline = Date.now() + 10_000;
      let ok = false;
      let detail = '';
      const primaryValue = (await sm.send(new GetSecretValueCommand({ SecretId: `${NAME_PREFIX}orders/db` })))
        .SecretString;
      while (Date.now() < deadline) {
        const d = await replica
          .send(new DescribeSecretCommand({ SecretId: `${NAME_PREFIX}orders/db` }))
          .catch(() => undefined);
        const v = d
          ? await replica
              .send(new GetSecretValueCommand({ SecretId: `${NAME_PREFIX}orders/db` }))
              .catch(() => undefined)
          : undefined;
        const r = readFeedRecord(d?.Tags);
        ok =
          d?.PrimaryRegion === REGION && v?.SecretString === primaryValue && r !== undefined && 'record' in r;
        detail = `replica in ${options.replicaRegion}: PrimaryRegion ${d?.PrimaryRegion ?? '?'}, value ${v?.SecretString === primaryValue ? 'equal to the primary' : 'not yet equal'}, last-sync record ${r && 'record' in r ? r.record.status : 'missing'}`;
        if (ok) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      facts.push({
        fact: `orders/db is ready for a failover: its replica in ${options.replicaRegion} is current`,
        ok,
        detail,
      });
    } finally {
      replica.destroy();
    }
  }
  return facts;
}
