import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { App, Stack } from 'aws-cdk-lib';
import { build } from 'esbuild';
import { readFeedRecord } from '../functions/lib/secret-feeds/feed-record.js';
import type { ReplicationReport } from '../functions/lib/secret-feeds/replicator.js';
import type { ReplicationTarget } from '../functions/lib/secret-feeds/targets.js';
import {
  REPLICATOR_DESCRIPTION_SUFFIX,
  REPLICATOR_ENTRY,
  SecretReplicator,
} from '../infra/constructs/secret-replicator.js';
import { BUNDLING, PROJECT_ROOT } from '../infra/constructs/step-function.js';
import { esbuildOptions } from '../scripts/esbuild-options.js';
import type { Cleanup } from './cleanup.js';
import { type BusDelivery, eventBus } from './event-bus.js';
import type { Pattern } from './event-pattern.js';
import type { ProvingGround, UnitWorld } from './proving-ground.js';

/**
 * `npm run drill -- --scenario replicator`, the part before the failover (docs/design/secret-feeds.md, "On the proving
 * ground"): the event-driven replicator deployed in the world for the plan's first unit's primary secret, as the
 * SecretReplicator construct synthesizes it (its AWS::Events::Rule patterns on the world's event bus, its function's
 * environment, the handler bundled with the deploy's esbuild options), the emulated Secrets Manager's events delivered
 * to it, the primary secret rotated, and every target checked. Then the drill fails over with the replicated secret
 * (local/drill-command.ts). Names, Regions, version ids and the rewritten `host` are printed; never a value.
 *
 * Targets: a differently named copy in the recovery Region with `host` set to the recovery Region's instance and ARNs
 * moved to that Region, and a differently named copy in the primary Region. The plan's own replica (native
 * replication) is checked beside them. A target in another account is proven by the unit tests only
 * (test/unit/secret-feeds/replicator.test.ts): the emulator keeps one account's state.
 */

export interface ScenarioFact {
  readonly fact: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface ReplicatorScenario {
  /** Facts of the replication, before the failover. */
  readonly facts: readonly ScenarioFact[];
  /** The version the rotation made current (the failover must promote it). */
  readonly versionId: string;
  /** Facts after the failover: the promoted secret holds the rotated version. */
  afterFailover(): Promise<ScenarioFact[]>;
  /** Stops delivering events and puts the process's environment back. */
  close(): Promise<void>;
}

type Handler = (event: unknown, context: unknown) => Promise<ReplicationReport>;

/** The deployed shape: what the synthesized stack holds, read as CloudFormation would create it. */
export interface SynthesizedReplicator {
  readonly rules: readonly { readonly logicalId: string; readonly pattern: Pattern }[];
  readonly environment: Record<string, string>;
}

/** Synthesizes a stack holding the SecretReplicator (no bundling: the scenario bundles the handler itself). */
export function synthesizeReplicator(
  account: string,
  region: string,
  name: string,
  sourceArn: string,
  targets: ReplicationTarget[],
): SynthesizedReplicator {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'LifeboatReplicator', { env: { account, region } });
  new SecretReplicator(stack, 'Replicator', { name, sources: [{ secretArn: sourceArn, targets }] });
  const template = app.synth().getStackByName(stack.stackName).template as {
    Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  };
  const rules: { logicalId: string; pattern: Pattern }[] = [];
  let environment: Record<string, string> | undefined;
  for (const [logicalId, r] of Object.entries(template.Resources)) {
    if (r.Type === 'AWS::Events::Rule')
      rules.push({ logicalId, pattern: r.Properties?.EventPattern as Pattern });
    const description = r.Properties?.Description;
    if (
      r.Type === 'AWS::Lambda::Function' &&
      typeof description === 'string' &&
      description.endsWith(REPLICATOR_DESCRIPTION_SUFFIX)
    ) {
      const variables = (r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables;
      // Plain strings only: a token (a reference to another resource) has no value before a deploy.
      environment = Object.fromEntries(
        Object.entries(variables ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string'),
      );
    }
  }
  if (!environment || rules.length === 0) {
    throw new Error('replicator scenario: the synthesized stack has no replicator function or no rule');
  }
  return { rules, environment };
}

export async function startReplicatorScenario(
  world: ProvingGround,
  options: { cleanup: Cleanup; out: (line: string) => void },
): Promise<ReplicatorScenario> {
  const { plan, emulator } = world;
  const { out, cleanup } = options;
  const unit = [...world.units.values()][0] as UnitWorld;
  const sourceName = /:secret:(.+)-[A-Za-z0-9]{6}$/.exec(unit.secretArn)?.[1] ?? unit.unit.name;
  const key = (region: string) => `arn:aws:kms:${region}:${plan.account}:key/${randomUUID()}`;
  const targets: ReplicationTarget[] = [
    {
      region: plan.recoveryRegion,
      secretName: `${sourceName}-dr-copy`,
      kmsKeyArn: key(plan.recoveryRegion),
      setFields: { host: unit.replicaEndpoint },
      rewriteArns: true,
    },
    {
      region: plan.primaryRegion,
      secretName: `${sourceName}-app-copy`,
      kmsKeyArn: key(plan.primaryRegion),
      rewriteArns: false,
    },
  ];
  const synthesized = synthesizeReplicator(
    plan.account,
    plan.primaryRegion,
    `${plan.name}-replicator`.slice(0, 40),
    unit.secretArn,
    targets,
  );
  out(
    `replicator: synthesized for ${unit.secretArn}: rules ${synthesized.rules.map((r) => r.logicalId).join(', ')}`,
  );
  for (const t of targets) {
    out(
      `  target ${t.secretName} (${t.region})${t.setFields ? `, sets ${Object.keys(t.setFields).join(', ')}` : ''}${t.rewriteArns ? ', ARNs moved to its Region' : ''}`,
    );
  }

  const dir = await mkdtemp(join(tmpdir(), 'lifeboat-replicator-'));
  const removeDir = cleanup.directory(dir);
  const bundle = await bundleReplicator(dir);
  out(`replicator: ${REPLICATOR_ENTRY} bundled (${BUNDLING.format}, ${BUNDLING.target})`);

  // The function's environment, as Lambda gives it: the stack's variables and the world's endpoint.
  const environment: Record<string, string> = {
    ...world.environment(),
    ...synthesized.environment,
    AWS_REGION: plan.primaryRegion,
    AWS_DEFAULT_REGION: plan.primaryRegion,
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'ERROR',
  };
  const saved: Record<string, string | undefined> = {};
  const setEnvironment = () => {
    for (const name of Object.keys(environment)) if (!(name in saved)) saved[name] = process.env[name];
    Object.assign(process.env, environment);
  };
  const restoreEnvironment = () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  let handler: Promise<Handler> | undefined;
  // The function has reserved concurrency 1 (infra/constructs/secret-replicator.ts): Lambda runs one invocation at a
  // time and the others wait, whichever rule sent them.
  let queue: Promise<unknown> = Promise.resolve();
  const bus = eventBus<Record<string, unknown>, ReplicationReport>();
  for (const rule of synthesized.rules) {
    bus.rule(rule.logicalId, rule.pattern, (event) => {
      const run = queue.then(() => invoke(event));
      queue = run.catch(() => undefined);
      return run;
    });
  }
  const invoke = async (event: Record<string, unknown>) => {
    // Every bundled handler shares this process: the function's variables while it runs (it reads them at cold start).
    setEnvironment();
    handler ??= import(pathToFileURL(bundle).href).then((m: { handler: Handler }) => m.handler);
    const started = Date.now();
    return (await handler)(event, {
      functionName: 'replicateSecret',
      awsRequestId: String(event.id),
      getRemainingTimeInMillis: () => 120_000 - (Date.now() - started),
    });
  };
  const unsubscribe = emulator.secretsManager.onEvent((event) => bus.publish(event));

  const sm = (region: string) => new SecretsManagerClient(emulator.clientConfig(region));
  const primary = sm(plan.primaryRegion);
  const recovery = sm(plan.recoveryRegion);
  const clients = { [plan.primaryRegion]: primary, [plan.recoveryRegion]: recovery };
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    unsubscribe();
    await bus.settled();
    restoreEnvironment();
    primary.destroy();
    recovery.destroy();
    removeDir();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // The rotation, as an RDS rotation function's steps make it: createSecret puts the new version as AWSPENDING;
    // setSecret and testSecret work on the database; finishSecret moves AWSCURRENT and Secrets Manager reports
    // RotationSucceeded. The local databases keep their password (the world's tools log in with it), so the new
    // version carries the same credentials: what the failover must promote is the new version, found by its id.
    const source = await primary.send(new GetSecretValueCommand({ SecretId: unit.secretArn }));
    const previous = source.VersionId as string;
    const versionId = randomUUID();
    await primary.send(
      new PutSecretValueCommand({
        SecretId: unit.secretArn,
        ClientRequestToken: versionId,
        SecretString: source.SecretString as string,
        VersionStages: ['AWSPENDING'],
      }),
    );
    await primary.send(
      new UpdateSecretVersionStageCommand({
        SecretId: unit.secretArn,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: versionId,
        RemoveFromVersionId: previous,
      }),
    );
    await primary.send(
      new UpdateSecretVersionStageCommand({
        SecretId: unit.secretArn,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: versionId,
      }),
    );
    out('');
    out(`rotated ${unit.secretArn}: AWSCURRENT ${previous} -> ${versionId}`);
    await bus.settled();
    out(
      `event bus: ${bus.published.length} events from Secrets Manager, ${bus.deliveries.length} delivered:`,
    );
    for (const d of bus.deliveries) out(`  ${describeDelivery(d)}`);

    const facts: ScenarioFact[] = [];
    const sourceValue = JSON.parse(source.SecretString as string) as Record<string, unknown>;
    facts.push({
      fact: 'replicator: the rotation reached the function',
      ok:
        bus.deliveries.some(
          (d) => d.outcome && 'trigger' in d.outcome && d.outcome.trigger === 'RotationSucceeded',
        ) &&
        bus.deliveries.some(
          (d) => d.outcome && 'trigger' in d.outcome && d.outcome.trigger === 'Secret Label Updated',
        ),
      detail: `${bus.deliveries.length} deliveries (${[...new Set(bus.deliveries.map((d) => (d.outcome && 'trigger' in d.outcome ? d.outcome.trigger : d.error ? `error ${d.error.name}` : 'ignored')))].join(', ')})`,
    });
    facts.push({
      fact: 'replicator: every delivery succeeded',
      ok: bus.deliveries.length > 0 && bus.deliveries.every((d) => d.error === undefined),
      detail:
        bus.deliveries
          .filter((d) => d.error)
          .map((d) => `${d.rule}: ${d.error?.name}`)
          .join('; ') || 'no function error',
    });
    out('');
    out('targets:');
    for (const t of targets) {
      const client = clients[t.region] as SecretsManagerClient;
      const fact = await checkTarget(client, t, versionId, sourceValue);
      out(`  ${fact.detail}`);
      facts.push(fact);
    }
    const replica = await waitForVersion(recovery, unit.replicaSecretArn, versionId, world.timeFactor);
    facts.push(replica);
    out(`  ${replica.detail}`);
    return {
      facts,
      versionId,
      afterFailover: async () => {
        const promoted = await recovery.send(new DescribeSecretCommand({ SecretId: unit.unit.secret.id }));
        const current = Object.entries(promoted.VersionIdsToStages ?? {}).find(([, s]) =>
          s.includes('AWSCURRENT'),
        )?.[0];
        return [
          {
            fact: `${unit.unit.name}: the promoted secret holds the rotated version`,
            ok: current === versionId,
            detail: `${promoted.Name} (${plan.recoveryRegion}) AWSCURRENT ${current ?? '?'}`,
          },
        ];
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

function describeDelivery(d: BusDelivery<Record<string, unknown>, ReplicationReport>): string {
  const detailType = String(d.event['detail-type']);
  const name = (d.event.detail as { eventName?: string } | undefined)?.eventName;
  const what = `${d.rule} <- ${detailType}${name ? ` ${name}` : ''}`;
  if (d.error) return `${what}: function failed (${d.error.name}: ${d.error.message})`;
  const r = d.outcome;
  if (!r || 'ignored' in r) return `${what}: ignored (${r?.ignored ?? '?'})`;
  return `${what}: ${r.targets.map((t) => `${t.secretName} ${t.outcome}${t.versionId ? ` ${t.versionId}` : ''}`).join(', ')}`;
}

/** A target: its AWSCURRENT is the source's version, its value the source's with the configured rewrites. */
async function checkTarget(
  client: SecretsManagerClient,
  target: ReplicationTarget,
  versionId: string,
  source: Record<string, unknown>,
): Promise<ScenarioFact> {
  const fact = `target ${target.secretName} (${target.region}) updated`;
  try {
    const value = await client.send(new GetSecretValueCommand({ SecretId: target.secretName }));
    const described = await client.send(new DescribeSecretCommand({ SecretId: target.secretName }));
    const copy = JSON.parse(value.SecretString ?? 'null') as Record<string, unknown>;
    const set = target.setFields ?? {};
    const rewritten = Object.entries(set).every(([k, v]) => copy[k] === v);
    // Every other field is the source's (the source holds no ARN, so rewriteArns changes nothing else).
    const others = Object.keys(source).filter((k) => !(k in set));
    const same = others.every((k) => JSON.stringify(copy[k]) === JSON.stringify(source[k]));
    const read = readFeedRecord(described.Tags);
    const sync = read && 'record' in read ? read.record.status : 'unreadable';
    const ok = value.VersionId === versionId && rewritten && same && sync === 'ok';
    return {
      fact,
      ok,
      detail: `${target.secretName} (${target.region}): VersionId ${value.VersionId} ${
        value.VersionId === versionId ? "= the source's" : "!= the source's"
      }${
        Object.keys(set).length
          ? `; ${Object.entries(set)
              .map(([k, v]) => `${k} ${copy[k] === v ? `rewritten to ${String(v)}` : 'NOT rewritten'}`)
              .join(', ')}`
          : ''
      }; ${
        same ? `the other ${others.length} fields as the source's` : 'other fields DIFFER from the source'
      }; last sync ${sync}`,
    };
  } catch (error) {
    return { fact, ok: false, detail: `${target.secretName} (${target.region}): ${(error as Error).name}` };
  }
}

/** The plan's replica (native replication) reaches the rotated version within the emulated replication time. */
async function waitForVersion(
  client: SecretsManagerClient,
  replicaArn: string,
  versionId: string,
  timeFactor: number,
): Promise<ScenarioFact> {
  const deadline = Date.now() + Math.max(5_000, 120_000 * timeFactor);
  let current: string | undefined;
  for (;;) {
    const d = await client.send(new DescribeSecretCommand({ SecretId: replicaArn }));
    current = Object.entries(d.VersionIdsToStages ?? {}).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
    if (current === versionId || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    fact: "the plan's replica secret (native replication) holds the rotated version",
    ok: current === versionId,
    detail: `${replicaArn}: VersionId ${current ?? '?'} ${current === versionId ? "= the source's" : "!= the source's"}`,
  };
}

async function bundleReplicator(dir: string): Promise<string> {
  const outfile = join(dir, 'replicate-secret', 'index.mjs');
  await build({
    ...esbuildOptions(PROJECT_ROOT),
    entryPoints: [REPLICATOR_ENTRY],
    outfile,
  });
  return outfile;
}
