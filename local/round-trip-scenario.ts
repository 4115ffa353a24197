import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { FailoverPlan, Mode, UnitPlan } from '../functions/lib/plan.js';
import { instanceDatabase } from '../functions/lib/plan-names.js';
import type { RunReport } from '../functions/lib/report/index.js';
import { inRegion, reversePlan } from '../functions/lib/reprotect/reverse-plan.js';
import { loadPlanFile } from '../infra/plan-file.js';
import type { Cleanup } from './cleanup.js';
import { type Fact, fetchReport } from './drill-command.js';
import {
  type ProvingGround,
  provisionStackResources,
  startProvingGround,
  worldEnvironment,
} from './proving-ground.js';
import { type RunResult, runExecution, type SynthesizedOrchestrator } from './runner.js';
import { loadOrSynthesize } from './synthesize.js';
import { resolveVia } from './verify-facts.js';

/**
 * `npm run drill -- --scenario round-trip` (docs/design/reprotect.md, "The round trip"): on one world, twice,
 *
 *   failover (the plan, stack in the recovery Region) -> writes on the new primary -> re-protect (the plan)
 *   -> switchover back (the reversed plan, stack in the old primary Region) -> writes -> re-protect (the reversed plan)
 *
 * then the facts on the real databases, the DNS server and the emulated AWS: every acknowledged row is on the final
 * primary; the CNAME names the original primary's endpoint; the secret's primary is in the original Region with a
 * replica in the recovery Region; rotation is attached there and has not run; replication flows from the original
 * primary to the recovery Region; the old primaries are kept, renamed, with what only they hold.
 */

export interface RoundTripOptions {
  planPath: string;
  timeFactor: number;
  verbose: boolean;
  /** Round trips on the same world. @default 2 */
  trips?: number;
  cleanup: Cleanup;
  password?: string;
}

export interface RoundTripOutcome {
  runs: { trip: number; mode: Mode; plan: 'plan' | 'reversed'; run: RunResult }[];
  facts: Fact[];
}

/** The reversed plan, written where the drill keeps its files, for synthesis (the stack in the old Region). */
function writeReversed(plan: FailoverPlan): { path: string; plan: FailoverPlan; notes: string[] } {
  // What lifeboat plan --reverse asks the operator for (a VPC, a single-Region key of the other Region) is stood in
  // for here: the local world has no VPCs and does not check keys.
  const overrides: Record<string, unknown> = {};
  const stand: string[] = [];
  if (plan.vpc) {
    overrides.vpc = { ...plan.vpc, vpcId: 'vpc-0000000000000000a', subnetIds: ['subnet-0000000000000000a'] };
    stand.push('vpc');
  }
  for (const unit of plan.units) {
    if (unit.secret.kmsKeyArn && !unit.secret.kmsKeyArn.includes(':key/mrk-')) {
      overrides[`units.${unit.name}.secret.kmsKeyArn`] = inRegion(unit.secret.kmsKeyArn, plan.primaryRegion);
      stand.push(`units.${unit.name}.secret.kmsKeyArn`);
    }
  }
  const { document, notes } = reversePlan(plan, overrides);
  if (stand.length) notes.push(`local stand-ins for what the operator gives with --set: ${stand.join(', ')}`);
  const dir = resolve('.drill', 'round-trip');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${plan.name}.reversed.json`);
  writeFileSync(path, `${JSON.stringify(document, null, 2)}\n`);
  return { path, plan: loadPlanFile(path), notes };
}

/** The stack's own resources in its Region; the report bucket is one name for both stacks (S3 names are global). */
async function provision(world: ProvingGround, region: string, orchestrator: SynthesizedOrchestrator) {
  const buckets = orchestrator.resources.filter((r) => r.type === 'AWS::S3::Bucket');
  const others = { ...orchestrator, resources: orchestrator.resources.filter((r) => !buckets.includes(r)) };
  await provisionStackResources(world.emulator, region, others);
  for (const bucket of buckets) {
    await world.emulator.seed.s3Bucket({ name: bucket.name, region }).catch(() => undefined);
  }
}

export async function runRoundTrip(
  options: RoundTripOptions,
  out: (line: string) => void,
): Promise<RoundTripOutcome> {
  const plan = loadPlanFile(options.planPath);
  const reversed = writeReversed(plan);
  for (const note of reversed.notes) out(`reversed plan: ${note}`);
  const [forward, backward] = [
    await loadOrSynthesize(options.planPath, out, options.cleanup),
    await loadOrSynthesize(reversed.path, out, options.cleanup),
  ];
  const world = await startProvingGround({
    plan,
    timeFactor: options.timeFactor,
    ...(options.password ? { password: options.password } : {}),
    ...(options.verbose ? { onLog: (line: string) => out(`  . ${line}`) } : {}),
    onProblem: (line: string) => out(`  ! ${line}`),
    cleanup: options.cleanup,
    onProgress: out,
  });
  try {
    await provision(world, plan.recoveryRegion, forward);
    await provision(world, plan.primaryRegion, backward);
    // The reversed plan's rotation functions, in the old primary Region (lifeboat plan --reverse assumes the name).
    for (const unit of reversed.plan.units) {
      const fn = /:function:([^:]+)/.exec(unit.rotation.lambdaArn)?.[1];
      if (fn) world.emulator.seed.lambdaFunction({ region: plan.primaryRegion, name: fn });
    }
    // The application's own account on MySQL-family primaries: a switchover fences writes there by locking the
    // application's accounts, never the secret's user (docs/design/switchover.md). Replicated like every change.
    for (const u of world.units.values()) {
      if (u.family !== 'mysql') continue;
      const password = randomBytes(12).toString('hex');
      await world.query(
        instanceDatabase(u.unit, 'the proving ground').primaryInstanceId,
        `CREATE USER '${APP_USER}'@'%' IDENTIFIED BY '${password}'`,
      );
      await world.query(
        instanceDatabase(u.unit, 'the proving ground').primaryInstanceId,
        `GRANT SELECT, INSERT ON \`${u.primary.database}\`.orders TO '${APP_USER}'@'%'`,
      );
    }
    const runs: RoundTripOutcome['runs'] = [];
    const facts: Fact[] = [];
    const acked = new Map<string, string[]>(plan.units.map((u) => [u.name, []]));
    const run = async (trip: number, mode: Mode, which: 'plan' | 'reversed') => {
      const orchestrator = which === 'plan' ? forward : backward;
      const region = which === 'plan' ? plan.recoveryRegion : plan.primaryRegion;
      out(
        `trip ${trip}: ${mode} (${which === 'plan' ? 'the plan' : 'the reversed plan'}, stack in ${region})`,
      );
      const executionName = `round-trip-${trip}-${mode}-${which}-${Date.now()}`;
      // Ctrl-C stops the execution before the servers (docs/design/interrupt.md).
      const stopRun = new AbortController();
      const deregisterRun = options.cleanup.add('the execution', () => stopRun.abort());
      const result = await runExecution(orchestrator, {
        input: { mode, trigger: 'cli', reason: `round trip ${trip}` },
        executionName,
        timeFactor: options.timeFactor,
        environment: {
          ...world.environment(),
          ...worldEnvironment(world.emulator, region, world.dns.endpoint),
        },
        signal: stopRun.signal,
      }).finally(deregisterRun);
      runs.push({ trip, mode, plan: which, run: result });
      out(
        `trip ${trip}: ${mode} ${result.status}${result.error ? ` (${result.error.name}: ${result.error.cause.slice(0, 300)})` : ''} in ${(result.wallMs / 1000).toFixed(1)} s`,
      );
      if (result.status !== 'SUCCEEDED') {
        // A failed execution has no output; the report step stored the report in the stack's bucket all the same.
        const report =
          (result.output as RunReport | undefined) ??
          (await fetchReport(
            { ...world.emulator.clientConfig(region), forcePathStyle: true },
            orchestrator,
            executionName,
          ));
        for (const u of report?.units ?? []) {
          if (u.failure) out(`  ${u.unit}: ${u.failure.step ?? '?'}: ${u.failure.error}: ${u.failure.cause}`);
        }
        throw new RoundTripStopped(`trip ${trip}: ${mode} ${result.status}`);
      }
    };
    /** Rows written as the application would, each acknowledged by the server before it counts. */
    const write = async (trip: number, stage: string, instanceId: (u: UnitPlan) => string) => {
      for (const unit of plan.units) {
        for (let i = 1; i <= 3; i += 1) {
          const item = `${unit.name}-trip${trip}-${stage}-${i}`;
          await world.query(instanceId(unit), 'INSERT INTO orders (item) VALUES (?)', [item]);
          acked.get(unit.name)?.push(item);
        }
      }
    };
    const trips = options.trips ?? 2;
    try {
      for (let trip = 1; trip <= trips; trip += 1) {
        await run(trip, 'failover', 'plan');
        // A write the old primary took that never reached the replica (it is still up here): kept, never lost.
        for (const unit of plan.units) {
          await world.query(
            instanceDatabase(unit, 'the proving ground').primaryInstanceId,
            'INSERT INTO orders (item) VALUES (?)',
            [`${unit.name}-trip${trip}-only-on-the-old-primary`],
          );
        }
        await write(trip, 'recovery', (u) => instanceDatabase(u, 'the proving ground').replicaInstanceId);
        await run(trip, 'reprotect', 'plan');
        await run(trip, 'switchover', 'reversed');
        await write(trip, 'home', (u) => instanceDatabase(u, 'the proving ground').primaryInstanceId);
        await run(trip, 'reprotect', 'reversed');
        facts.push(...(await tripFacts(world, plan, reversed.plan, trip, acked)));
      }
    } catch (error) {
      if (!(error instanceof RoundTripStopped)) throw error;
      facts.push({ fact: 'every run of the round trip succeeded', ok: false, detail: error.message });
    }
    return { runs, facts };
  } finally {
    if (!options.cleanup.closing) await world.close();
  }
}

class RoundTripStopped extends Error {}

/** The application's account on MySQL-family units (what a switchover's fence locks there). */
const APP_USER = 'lifeboat_roundtrip_app';

async function tripFacts(
  world: ProvingGround,
  plan: FailoverPlan,
  reversed: FailoverPlan,
  trip: number,
  acked: Map<string, string[]>,
): Promise<Fact[]> {
  const facts: Fact[] = [];
  const home = plan.primaryRegion;
  const away = plan.recoveryRegion;
  const rds = (region: string) => new RDSClient(world.emulator.clientConfig(region));
  const sm = (region: string) => new SecretsManagerClient(world.emulator.clientConfig(region));
  const [rdsHome, rdsAway, smHome, smAway] = [rds(home), rds(away), sm(home), sm(away)];
  try {
    for (const u of world.units.values()) {
      const { name } = u.unit;
      const { primaryInstanceId: primaryId, replicaInstanceId: replicaId } = instanceDatabase(
        u.unit,
        'the proving ground',
      );
      const at = `trip ${trip}: ${name}`;
      const items = new Set(
        (await world.query(primaryId, 'SELECT item FROM orders')).map((r) => String(r.item)),
      );
      const want = acked.get(name) ?? [];
      const missing = want.filter((item) => !items.has(item));
      facts.push({
        fact: `${at}: every acknowledged row is on the final primary`,
        ok: want.length > 0 && missing.length === 0,
        detail: missing.length
          ? `missing on ${primaryId}: ${missing.slice(0, 5).join(', ')}`
          : `${want.length} rows written through ${trip} trip(s), all on ${primaryId} (${home})`,
      });
      const serverOf = (id: string) => (u.family === 'postgres' ? world.cluster : world.mariadb).get(id);
      const answer = await resolveVia(world.dns.endpoint, u.unit.dns.recordName);
      facts.push({
        fact: `${at}: the CNAME names the original primary's endpoint`,
        ok: answer.cname === u.primaryEndpoint && answer.addresses.includes(serverOf(primaryId).address),
        detail: `${u.unit.dns.recordName} -> ${answer.cname ?? '?'} -> ${answer.addresses.join(', ') || '?'}`,
      });
      const [primarySecret, replicaSecret] = await Promise.all([
        // A plan may name the secret by its ARN in the recovery Region: the same ARN in the home Region there.
        smHome.send(new DescribeSecretCommand({ SecretId: inRegion(u.unit.secret.id, home) })),
        smAway.send(new DescribeSecretCommand({ SecretId: u.unit.secret.id })),
      ]);
      const link = primarySecret.ReplicationStatus?.find((r) => r.Region === away);
      facts.push({
        fact: `${at}: the secret's primary is in ${home}, with a replica in ${away}`,
        ok: !primarySecret.PrimaryRegion && link?.Status === 'InSync' && replicaSecret.PrimaryRegion === home,
        detail: `${home}: ${primarySecret.PrimaryRegion ? `replica of ${primarySecret.PrimaryRegion}` : 'primary'}, replication to ${away} ${link?.Status ?? 'none'}; ${away}: PrimaryRegion ${replicaSecret.PrimaryRegion ?? '(none)'}`,
      });
      const lambda = reversed.units.find((r) => r.name === name)?.rotation.lambdaArn;
      facts.push({
        fact: `${at}: rotation attached in ${home}, not run`,
        ok:
          primarySecret.RotationEnabled === true &&
          primarySecret.RotationLambdaARN === lambda &&
          !Object.values(primarySecret.VersionIdsToStages ?? {}).some((s) => s.includes('AWSPENDING')),
        detail: `RotationEnabled ${String(primarySecret.RotationEnabled)}, ${primarySecret.RotationLambdaARN ?? 'no Lambda'}`,
      });
      const [primary, replica] = await Promise.all([
        rdsHome.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: primaryId })),
        rdsAway.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: replicaId })),
      ]);
      const source = replica.DBInstances?.[0]?.ReadReplicaSourceDBInstanceIdentifier;
      const marker = `${name}-trip${trip}-replicated-${Date.now()}`;
      await world.query(primaryId, 'INSERT INTO orders (item) VALUES (?)', [marker]);
      acked.get(name)?.push(marker);
      const arrived = await waitForItem(world, replicaId, marker);
      facts.push({
        fact: `${at}: replication flows from ${primaryId} (${home}) to ${replicaId} (${away})`,
        ok: source === primary.DBInstances?.[0]?.DBInstanceArn && arrived,
        detail: `${replicaId} replicates from ${source ?? '(nothing)'}; a row written on ${primaryId} ${arrived ? 'arrived' : 'did not arrive'} on ${replicaId}`,
      });
      // The old primaries: renamed, never deleted, with the write that never reached the replica.
      const retired = await retiredInstances(rdsHome, primaryId);
      const holders = await Promise.all(
        retired.map(async (id) => {
          const rows = await world.query(id, 'SELECT item FROM orders WHERE item LIKE ?', [
            `${name}-trip%-only-on-the-old-primary`,
          ]);
          return rows.map((r) => String(r.item));
        }),
      );
      const kept = holders.flat();
      facts.push({
        fact: `${at}: the old primaries are kept, renamed, with the writes only they took`,
        ok: retired.length === trip && kept.length === trip && kept.every((item) => !items.has(item)),
        detail: `${retired.join(', ')} in ${home}; ${kept.length} row(s) only there (${kept.join(', ')}), none on ${primaryId}`,
      });
    }
  } finally {
    for (const client of [rdsHome, rdsAway, smHome, smAway]) client.destroy();
  }
  return facts;
}

async function waitForItem(world: ProvingGround, id: string, item: string): Promise<boolean> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const rows = await world.query(id, 'SELECT count(*) AS n FROM orders WHERE item = ?', [item]);
    if (Number(rows[0]?.n) > 0) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** The instances re-protect retired from `primaryId` (functions/lib/reprotect/reprotect.ts, retiredName). */
async function retiredInstances(rds: RDSClient, primaryId: string): Promise<string[]> {
  const out = await rds.send(new DescribeDBInstancesCommand({}));
  return (out.DBInstances ?? [])
    .filter((i) => i.TagList?.some((t) => t.Key === 'lifeboat:retired-from' && t.Value === primaryId))
    .map((i) => i.DBInstanceIdentifier ?? '?');
}
