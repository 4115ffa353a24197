import { DeleteItemCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { AuroraUnitPlan, FailoverPlan, UnitPlan } from '../../functions/lib/plan.js';
import { instanceDatabase } from '../../functions/lib/plan-names.js';
import type { RunReport } from '../../functions/lib/report/index.js';
import { loadPlanFile } from '../../infra/lifeboat-app.js';
import { checkFacts, type Fact } from '../../local/drill-command.js';
import type { CallLogEntry } from '../../local/emulator/types.js';
import { type ProvingGround, startProvingGround } from '../../local/proving-ground.js';
import {
  type RunOptions,
  type RunResult,
  runExecution,
  type SynthesizedOrchestrator,
} from '../../local/runner.js';
import { loadOrSynthesize } from '../../local/synthesize.js';

/**
 * Shared pieces of the evidence suite (issue 6): worlds of the local proving ground, plans of several units, runs,
 * the call log read as effects, reports read back from S3, captured output.
 */

export const PLAN_PATH = 'examples/plan.json';
/** 0.02 makes an 85 s emulated promotion take 1.7 s; waits and retries of the definition are scaled alike. */
export const TIME_FACTOR = 0.02;
/** The services whose resources are production's (the lock table, report bucket and topic are lifeboat's own). */
export const PRODUCTION_SERVICES: ReadonlySet<string> = new Set(['secretsmanager', 'rds', 'route53']);

/** The production change each mutating step makes, by its call-log action. */
export const STEP_ACTIONS = {
  promoteSecret: 'StopReplicationToReplica',
  promoteDatabase: 'PromoteReadReplica',
  updateDns: 'ChangeResourceRecordSets',
  attachRotation: 'RotateSecret',
} as const;
export type MutatingStep = keyof typeof STEP_ACTIONS;
export const MUTATING_STEPS = Object.keys(STEP_ACTIONS) as MutatingStep[];

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/* ---------------------------------------------------------------------------------------------- */
/* Plans                                                                                           */
/* ---------------------------------------------------------------------------------------------- */

/** The example plan, parsed (defaults applied) as the definition bakes it in. */
export function examplePlan(): FailoverPlan {
  return loadPlanFile(PLAN_PATH);
}

/**
 * The example plan with `count` copies of its unit, named `<prefix>1..N`, each with its own secret, instances and
 * record (same zone, rotation Lambda, TTL and verify settings). One world of such a plan lets a suite run many
 * scenarios, each on a fresh unit (execution input `units: [name]`), for the price of one world.
 */
export function plannedUnits(count: number, prefix = 'u'): FailoverPlan {
  const base = examplePlan();
  const template = base.units[0] as UnitPlan;
  const units = Array.from({ length: count }, (_, i): UnitPlan => {
    const name = `${prefix}${i + 1}`;
    return {
      ...structuredClone(template),
      name,
      secret: { id: `${name}/db` },
      database: {
        ...instanceDatabase(template, 'this test'),
        primaryInstanceId: `${name}-db`,
        replicaInstanceId: `${name}-db-replica`,
      },
      dns: { ...template.dns, recordName: `${name}-db.internal.example.com` },
    };
  });
  return { ...base, units };
}

/** A group of Aurora units for `plannedAuroraUnits`. */
export interface AuroraGroup {
  prefix: string;
  count: number;
  /** `global`: a global database unit; `replica-cluster`: a cross-Region read replica cluster unit (Aurora MySQL). */
  kind: 'global' | 'replica-cluster';
  /** @default aurora-postgresql for a global unit; a replica cluster unit is always aurora-mysql */
  engine?: 'aurora-postgresql' | 'aurora-mysql';
}

/**
 * The example plan with Aurora units in place of its unit (docs/design/aurora.md, "The plan shape"), on the same
 * zone, rotation Lambda, TTL and verify settings (so `withPlan` fits): each `<prefix><n>` has its own secret, record,
 * primary cluster `<name>-aurora`, recovery-Region cluster `<name>-aurora-dr` and, for a global unit, global cluster
 * `<name>-global`; the CNAME targets the promoted cluster's endpoint.
 */
export function plannedAuroraUnits(groups: readonly AuroraGroup[]): FailoverPlan {
  const base = examplePlan();
  const template = base.units[0] as UnitPlan;
  const units = groups.flatMap((g) =>
    Array.from({ length: g.count }, (_, i): AuroraUnitPlan => {
      const name = `${g.prefix}${i + 1}`;
      const engine = g.kind === 'replica-cluster' ? 'aurora-mysql' : (g.engine ?? 'aurora-postgresql');
      return {
        ...structuredClone(template),
        name,
        secret: { id: `${name}/db` },
        database: {
          engine,
          ...(g.kind === 'global' ? { globalClusterId: `${name}-global` } : {}),
          primaryClusterId: `${name}-aurora`,
          replicaClusterId: `${name}-aurora-dr`,
          maxReplicaLagSeconds: instanceDatabase(template, 'this test').maxReplicaLagSeconds,
        },
        dns: { ...template.dns, recordName: `${name}-db.internal.example.com`, target: 'cluster-endpoint' },
      };
    }),
  );
  return { ...base, units };
}

/**
 * The orchestrator synthesized for the example plan, with another plan in its place. The definition carries the plan
 * as the Result of its first (Pass) state, so that a console start with `{}` works; the other plan-dependent parts
 * of the definition are the Map's MaxConcurrency, the connectivity retry count (from the largest TTL) and texts, which
 * `plannedUnits` keeps equal (same maxConcurrency and TTL). This saves a 30-second synthesis per plan; the handlers
 * are the same bundles `cdk deploy` would upload.
 */
export function withPlan(orchestrator: SynthesizedOrchestrator, plan: unknown): SynthesizedOrchestrator {
  const definition = structuredClone(orchestrator.definition) as unknown as {
    StartAt: string;
    States: Record<string, { Type: string; Result?: { plan?: unknown } }>;
  };
  const first = definition.States[definition.StartAt];
  if (first?.Type !== 'Pass' || first.Result?.plan === undefined) {
    throw new Error(`withPlan: the definition's first state ${definition.StartAt} does not carry the plan`);
  }
  first.Result = { plan };
  return {
    ...orchestrator,
    plan: plan as FailoverPlan,
    definition: definition as unknown as SynthesizedOrchestrator['definition'],
  };
}

let synthesized: Promise<SynthesizedOrchestrator> | undefined;

/** The example plan's orchestrator, synthesized once per test file (cached on disk across files). */
export function exampleOrchestrator(): Promise<SynthesizedOrchestrator> {
  synthesized ??= loadOrSynthesize(PLAN_PATH);
  return synthesized;
}

/* ---------------------------------------------------------------------------------------------- */
/* Worlds                                                                                          */
/* ---------------------------------------------------------------------------------------------- */

export interface EvidenceWorld {
  world: ProvingGround;
  orchestrator: SynthesizedOrchestrator;
  plan: FailoverPlan;
  /**
   * Real promotions of each database made through the emulated RDS (PostgreSQL `pg_promote`, MariaDB replication
   * stopped and forgotten), by instance id.
   */
  promotions: Map<string, number>;
  /** Runs an execution on this world (with another orchestrator when given, e.g. `withPlan` of a malformed plan). */
  run(
    executionName: string,
    input: unknown,
    options?: Partial<RunOptions> & { orchestrator?: SynthesizedOrchestrator },
  ): Promise<RunResult>;
  /** The run id holding the plan's lock (DynamoDB, read consistently), or undefined when it is free. */
  lockHolder(): Promise<string | undefined>;
  /** What an operator does when a lock was left behind: deletes the item. */
  deleteLock(): Promise<void>;
  close(): Promise<void>;
}

export async function startWorld(
  plan: FailoverPlan,
  options: { password?: string; onLog?: (line: string) => void } = {},
): Promise<EvidenceWorld> {
  const [base, world] = await Promise.all([
    exampleOrchestrator(),
    startProvingGround({ plan, timeFactor: TIME_FACTOR, ...options }),
  ]);
  const orchestrator = withPlan(base, plan);
  await world.provision(orchestrator);
  // Count what really happens to the databases: an accepted API call is not a promotion.
  const promotions = new Map<string, number>();
  const cluster = world.cluster;
  const promote = cluster.promote.bind(cluster);
  cluster.promote = (id: string) => {
    promotions.set(id, (promotions.get(id) ?? 0) + 1);
    return promote(id);
  };
  const mariadb = world.mariadb;
  const promoteMariadb = mariadb.promote.bind(mariadb);
  mariadb.promote = (id: string) => {
    promotions.set(id, (promotions.get(id) ?? 0) + 1);
    return promoteMariadb(id);
  };
  const table = orchestrator.resources.find((r) => r.type === 'AWS::DynamoDB::Table');
  if (!table) throw new Error('the stack has no lock table');
  const dynamodb = new DynamoDBClient(world.emulator.clientConfig(plan.recoveryRegion));
  const key = { planName: { S: plan.name } };
  return {
    world,
    orchestrator,
    plan,
    promotions,
    run: (executionName, input, { orchestrator: other, ...more } = {}) =>
      runExecution(other ?? orchestrator, {
        input,
        executionName,
        timeFactor: TIME_FACTOR,
        environment: world.environment(),
        timeoutMs: 120_000,
        ...more,
      }),
    lockHolder: async () =>
      (await dynamodb.send(new GetItemCommand({ TableName: table.name, Key: key, ConsistentRead: true })))
        .Item?.holder?.S,
    deleteLock: async () => {
      await dynamodb.send(new DeleteItemCommand({ TableName: table.name, Key: key }));
    },
    close: async () => {
      dynamodb.destroy();
      await world.close();
    },
  };
}

/* ---------------------------------------------------------------------------------------------- */
/* Reading what happened                                                                           */
/* ---------------------------------------------------------------------------------------------- */

/** Calls with a given action that took effect. */
export function applied(calls: readonly CallLogEntry[], action: string): CallLogEntry[] {
  return calls.filter((c) => c.action === action && c.mutating && c.applied);
}

/** Mutating calls on production resources (secrets, instances, records), whether they took effect or not. */
export function productionMutations(calls: readonly CallLogEntry[]): CallLogEntry[] {
  return calls.filter((c) => c.mutating && PRODUCTION_SERVICES.has(c.service));
}

/** Calls answered with an injected fault. */
export function faulted(calls: readonly CallLogEntry[]): CallLogEntry[] {
  return calls.filter((c) => c.fault !== undefined);
}

/** The facts of the given units only (checkFacts covers every unit of the world). */
export async function unitFacts(world: ProvingGround, units: readonly string[]): Promise<Fact[]> {
  const facts = await checkFacts(world);
  return facts.filter((f) => units.some((u) => f.fact.startsWith(`${u}: `)));
}

/** The run's report: the execution output when it succeeded, else the copy the report step stored in S3. */
export async function readReport(
  world: ProvingGround,
  run: RunResult,
  runId: string,
): Promise<RunReport | undefined> {
  if (run.status === 'SUCCEEDED') return run.output as RunReport;
  return readStoredReport(world, runId);
}

/** The report stored in S3 under `reports/<plan>/<runId>.json`, or undefined. */
export async function readStoredReport(world: ProvingGround, runId: string): Promise<RunReport | undefined> {
  const text = await readStoredReportText(world, runId);
  return text === undefined ? undefined : (JSON.parse(text) as RunReport);
}

export function readStoredReportText(world: ProvingGround, runId: string): Promise<string | undefined> {
  return readStoredObject(world, `reports/${world.plan.name}/${runId}.json`);
}

/** An object of the report bucket (the one the report step writes to), as text; undefined when absent. */
export async function readStoredObject(world: ProvingGround, key: string): Promise<string | undefined> {
  const bucket = world.emulator.calls
    .find((c) => c.service === 's3' && c.action === 'PutObject' && c.resource)
    ?.resource?.split('/')[0];
  if (!bucket) return undefined;
  const s3 = new S3Client({
    ...world.emulator.clientConfig(world.plan.recoveryRegion),
    forcePathStyle: true,
  });
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await object.Body?.transformToString();
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
    throw error;
  } finally {
    s3.destroy();
  }
}

/** The status each step of a unit reached, from a report. */
export function stepStatuses(report: RunReport | undefined, unit: string): Record<string, string> {
  const u = report?.units.find((x) => x.unit === unit);
  return Object.fromEntries((u?.steps ?? []).map((s) => [s.step, s.status]));
}

/* ---------------------------------------------------------------------------------------------- */
/* Output capture                                                                                  */
/* ---------------------------------------------------------------------------------------------- */

export interface Capture {
  /** Everything written to stdout and stderr since the capture started. */
  text(): string;
  stop(): void;
}

/**
 * Captures stdout and stderr (the handlers' Powertools logs, console output, the SDK's warnings). Output is still
 * passed through unless `quiet`, so a failing test shows what happened.
 */
export function captureOutput(options: { quiet?: boolean } = {}): Capture {
  let captured = '';
  const streams = [process.stdout, process.stderr] as const;
  const originals = streams.map((s) => s.write.bind(s));
  streams.forEach((stream, i) => {
    const original = originals[i] as (...args: unknown[]) => boolean;
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      captured += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      if (options.quiet) {
        const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
        callback?.();
        return true;
      }
      return original(chunk, ...rest);
    }) as typeof stream.write;
  });
  return {
    text: () => captured,
    stop: () => {
      streams.forEach((stream, i) => {
        stream.write = originals[i] as typeof stream.write;
      });
    },
  };
}

/** A password no one could produce by accident: a search for it cannot match anything else. */
export function markerPassword(): string {
  return `Mk${Math.random().toString(36).slice(2)}${Date.now().toString(36)}Zq9`;
}
