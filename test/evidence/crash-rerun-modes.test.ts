import { type DBInstance, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../functions/lib/report/index.js';
import { OLD_PRIMARY_TAG, REPROTECT_TAG, RETIRED_TAG } from '../../functions/lib/reprotect/reprotect.js';
import type { CallLogEntry, FaultFailure, FaultRule } from '../../local/emulator/types.js';
import type { RunResult } from '../../local/runner.js';
import {
  applied,
  type EvidenceWorld,
  faulted,
  plannedUnits,
  readReport,
  startWorld,
  stepStatuses,
  unitFacts,
} from './support.js';

/**
 * Crash and re-run for the way home (issue 10, "Also": the three modes are idempotent and crash-safe like a
 * failover). The failover's matrix is test/evidence/crash-rerun.test.ts; this file extends it to re-protect
 * (docs/design/reprotect.md, "Crash-safe and idempotent") and switchover (docs/design/switchover.md, "Crash and
 * re-run: it resumes", "Stopping before promotion"). One PostgreSQL world, started once, one fresh unit per case.
 *
 * Re-protect: after a failover of the unit, for each mutating call re-protect makes, a fault on a re-protect run:
 * - `after-once`: the first such call takes effect and its answer is lost (the connection drops);
 * - `before`: the call is refused for good (an IAM-style denial), nothing applied.
 * Then re-runs without faults until one succeeds (at most three): one replica in the old Region under the old
 * primary's name, replicating; the old primary renamed once, kept with the row only it took; the secret replicated
 * back once and InSync; each change applied once.
 *
 * Switchover: a crash between the fence and the promotion (the replica held back, then the un-fence itself failing:
 * the primary is left fenced, nothing promoted), then a re-run that resumes; and a promotion call refused, which does
 * not un-fence, then a re-run that converges.
 */

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

type Mode = 'before' | 'after-once';

interface MutatingCall {
  service: string;
  action: string;
  denial: FaultFailure;
}

/** Every mutating call of functions/lib/reprotect/reprotect.ts, in the order a re-protect makes them. */
const REPROTECT_CALLS: readonly MutatingCall[] = [
  {
    service: 'secretsmanager',
    action: 'ReplicateSecretToRegions',
    denial: { code: 'AccessDeniedException', status: 400 },
  },
  { service: 'rds', action: 'AddTagsToResource', denial: { code: 'AccessDenied', status: 403 } },
  { service: 'rds', action: 'ModifyDBInstance', denial: { code: 'AccessDenied', status: 403 } },
  { service: 'rds', action: 'CreateDBInstanceReadReplica', denial: { code: 'AccessDenied', status: 403 } },
];

const REPROTECT_CASES = (['after-once', 'before'] as const).flatMap((mode) =>
  REPROTECT_CALLS.map((call) => ({ mode: mode as Mode, ...call })),
);

/** The switchover cases, each on its own unit after the re-protect ones. */
const SWITCHOVER_UNITS = 3;

function faultFor(mode: Mode, call: MutatingCall): FaultRule {
  const match = { service: call.service, action: call.action };
  if (mode === 'before') return { match, always: call.denial };
  return { match, failCalls: [1], failWith: 'lose-response' };
}

interface Figures {
  mode: string;
  action: string;
  firstRun: string;
  appliedOfAction: string;
  runs: number;
  seconds: number;
}
const figures: Figures[] = [];

let w: EvidenceWorld;
let rdsOld: RDSClient;
let rdsCurrent: RDSClient;
let smOld: SecretsManagerClient;
let smCurrent: SecretsManagerClient;
const unitName = (i: number) => w.plan.units[i]?.name as string;

beforeAll(async () => {
  w = await startWorld(plannedUnits(REPROTECT_CASES.length + SWITCHOVER_UNITS));
  rdsOld = new RDSClient(w.world.emulator.clientConfig(w.plan.primaryRegion));
  rdsCurrent = new RDSClient(w.world.emulator.clientConfig(w.plan.recoveryRegion));
  smOld = new SecretsManagerClient(w.world.emulator.clientConfig(w.plan.primaryRegion));
  smCurrent = new SecretsManagerClient(w.world.emulator.clientConfig(w.plan.recoveryRegion));
}, 300_000);

afterAll(async () => {
  const lines = figures.map(
    (f) => `| ${f.mode} | ${f.action} | ${f.firstRun} | ${f.appliedOfAction} | ${f.runs} | ${f.seconds} |`,
  );
  console.log(
    [
      '| case | call | faulted run | applied/calls of it (all runs) | runs | seconds |',
      '|---|---|---|---|---|---|',
      ...lines,
    ].join('\n'),
  );
  for (const client of [rdsOld, rdsCurrent, smOld, smCurrent]) client?.destroy();
  await w?.close();
});

interface Run {
  result: RunResult;
  report: RunReport | undefined;
  calls: CallLogEntry[];
}

async function execute(name: string, input: Record<string, unknown>): Promise<Run> {
  const from = w.world.emulator.calls.length;
  const result = await w.run(name, input);
  const calls = w.world.emulator.calls.slice(from);
  return { result, report: await readReport(w.world, result, name), calls };
}

const ending = (run: Run, unit: string) => {
  const failure = run.report?.units.find((u) => u.unit === unit)?.failure;
  return `${run.result.status}${failure ? ` at ${failure.step ?? '?'} (${failure.error})` : ''}`;
};

async function instancesIn(rds: RDSClient): Promise<DBInstance[]> {
  return (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances ?? [];
}

async function waitFor(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const rowsOf = async (instanceId: string, like: string, table = 'orders') =>
  (await w.world.query(instanceId, `SELECT item FROM ${table} WHERE item LIKE ?`, [like])).map((r) =>
    String(r.item),
  );

describe('re-protect: a fault on each of its mutating calls after a failover, then re-runs', () => {
  beforeAll(async () => {
    const units = REPROTECT_CASES.map((_, i) => unitName(i));
    const failover = await w.run('modes-failover', { units, reason: 'crash-rerun-modes: before re-protect' });
    if (failover.status !== 'SUCCEEDED') {
      throw new Error(`the failover before re-protect ${failover.status}: ${failover.error?.cause ?? ''}`);
    }
    // A write the old primary took that never reached the replica (it is still up here): re-protect must keep it.
    for (const unit of units) {
      await w.world.query(`${unit}-db`, 'INSERT INTO orders (item) VALUES (?)', [
        `${unit}-only-on-old-primary`,
      ]);
    }
  }, 180_000);

  it.each(REPROTECT_CASES.map((c, index) => ({ ...c, index })))(
    '$mode $action: converges with one replica, one rename, one secret replication',
    async (c) => {
      // Prepare
      const unit = unitName(c.index);
      const originalId = `${unit}-db`;
      const currentId = `${unit}-db-replica`;
      const started = Date.now();
      const runs: Run[] = [];
      const input = { mode: 'reprotect', units: [unit], reason: `crash test ${c.mode} ${c.action}` };

      // Act: the faulted run, then re-runs without faults until one succeeds
      const fault = w.world.emulator.faults.add(faultFor(c.mode, c));
      runs.push(await execute(`rp-${c.mode}-${c.action}-1`, input));
      fault.remove();
      while (runs.at(-1)?.result.status !== 'SUCCEEDED' && runs.length < 4) {
        runs.push(await execute(`rp-${c.mode}-${c.action}-${runs.length + 1}`, input));
      }
      const all = runs.flatMap((r) => r.calls);
      const ofAction = all.filter((x) => x.action === c.action);
      figures.push({
        mode: `reprotect ${c.mode}`,
        action: c.action,
        firstRun: ending(runs[0] as Run, unit),
        appliedOfAction: `${ofAction.filter((x) => x.applied).length}/${ofAction.length}`,
        runs: runs.length,
        seconds: Math.round((Date.now() - started) / 100) / 10,
      });

      // Assess: the fault was injected on that call, the faulted run ended as a fault of its kind makes it end
      const first = runs[0] as Run;
      expect(faulted(first.calls).length).toBeGreaterThan(0);
      expect(faulted(first.calls).every((x) => x.action === c.action)).toBe(true);
      if (c.mode === 'before') {
        expect(first.result.status).toBe('FAILED');
        expect(first.report?.units.find((u) => u.unit === unit)?.failure?.error).toBe('AwsCallFailedError');
        expect(applied(first.calls, c.action)).toEqual([]);
      } else {
        // The SDK's own retry absorbs one lost answer: the first run succeeds, as in the failover's matrix.
        expect(applied(first.calls, c.action).length).toBeGreaterThan(0);
        expect(first.result.status).toBe('SUCCEEDED');
      }
      expect(runs.at(-1)?.result.status).toBe('SUCCEEDED');
      expect(runs.length).toBeLessThanOrEqual(3);

      // Each change made once, over every run
      // The SDK resends a call whose answer was lost; the emulator answers a repeated add of a Region that is already
      // a replica as a success that changes nothing. So: one call whose answer lifeboat got, one replica link (below).
      expect(
        applied(all, 'ReplicateSecretToRegions').filter((x) => x.fault !== 'lose-response'),
      ).toHaveLength(1);
      expect(applied(all, 'ModifyDBInstance')).toHaveLength(1);
      expect(applied(all, 'CreateDBInstanceReadReplica')).toHaveLength(1);
      // Tagging is idempotent and is repeated before a rename that was refused; it never touches another instance.
      expect(applied(all, 'AddTagsToResource').every((x) => x.resource?.includes(originalId))).toBe(true);
      expect(all.filter((x) => x.mutating && x.action.startsWith('Delete') && x.service === 'rds')).toEqual(
        [],
      );

      // The old Region: exactly one replica of the current primary, under the old primary's name, ours
      const current = (await instancesIn(rdsCurrent)).find((i) => i.DBInstanceIdentifier === currentId);
      const old = await instancesIn(rdsOld);
      const replicas = old.filter((i) => i.ReadReplicaSourceDBInstanceIdentifier === current?.DBInstanceArn);
      expect(replicas.map((i) => i.DBInstanceIdentifier)).toEqual([originalId]);
      const replica = replicas[0] as DBInstance;
      expect(replica.DBInstanceStatus).toBe('available');
      expect(replica.StatusInfos?.find((s) => s.StatusType === 'read replication')?.Status).toBe(
        'replicating',
      );
      expect(replica.TagList?.find((t) => t.Key === REPROTECT_TAG)?.Value).toBe(`${w.plan.name}/${unit}`);
      // The old primary: renamed once, kept, with the row only it took
      const retired = old.filter((i) => i.TagList?.some((t) => t.Key === RETIRED_TAG));
      const retiredOfUnit = retired.filter((i) => i.DBInstanceIdentifier?.startsWith(`${originalId}-old-`));
      expect(retiredOfUnit).toHaveLength(1);
      const retiredId = retiredOfUnit[0]?.DBInstanceIdentifier as string;
      expect(replica.TagList?.find((t) => t.Key === OLD_PRIMARY_TAG)?.Value).toContain(retiredId);
      expect(await rowsOf(retiredId, `${unit}-only-on-old-primary`)).toEqual([`${unit}-only-on-old-primary`]);
      // The secret: a replica of the current one in the old Region, InSync
      const [here, there] = await Promise.all([
        smCurrent.send(new DescribeSecretCommand({ SecretId: `${unit}/db` })),
        smOld.send(new DescribeSecretCommand({ SecretId: `${unit}/db` })),
      ]);
      expect(here.PrimaryRegion ?? w.plan.recoveryRegion).toBe(w.plan.recoveryRegion);
      expect(
        here.ReplicationStatus?.filter((r) => r.Region === w.plan.primaryRegion).map((r) => r.Status),
      ).toEqual(['InSync']);
      expect(there.PrimaryRegion).toBe(w.plan.recoveryRegion);
      // Replication flows on the real servers: a row written on the current primary arrives on the new replica
      const marker = `${unit}-after-reprotect-${Date.now()}`;
      await w.world.query(currentId, 'INSERT INTO orders (item) VALUES (?)', [marker]);
      await waitFor(
        `${marker} on ${originalId}`,
        async () => (await rowsOf(originalId, marker)).length === 1,
      );
      expect((await w.world.query(originalId, 'SELECT pg_is_in_recovery() AS r'))[0]?.r).toBe(true);
    },
    120_000,
  );
});

describe('switchover: a crash between fence and promotion, a refused promotion, then re-runs', () => {
  const unitOf = (k: number) => unitName(REPROTECT_CASES.length + k);
  const ACKED = 'acked_rows';

  /** Whether the primary's database carries the fence (docs/design/switchover.md, "The fence", PostgreSQL). */
  const fenced = async (primaryId: string): Promise<number> => {
    const sql =
      "SELECT count(*) AS n FROM pg_db_role_setting WHERE 'default_transaction_read_only=on' = ANY (setconfig)";
    // The fence ends every other session on the database, this one's too: one more try on a new session.
    const rows = await w.world.query(primaryId, sql).catch(() => w.world.query(primaryId, sql));
    return Number(rows[0]?.n);
  };

  /**
   * Rows the application had acknowledged before the fence, in a table of their own: the world's facts count the
   * seeded `orders` rows.
   */
  const writeRows = async (unit: string, stage: string) => {
    const items = [1, 2, 3].map((i) => `${unit}-${stage}-${i}`);
    await w.world.query(`${unit}-db`, `CREATE TABLE IF NOT EXISTS ${ACKED} (item text NOT NULL)`);
    for (const item of items)
      await w.world.query(`${unit}-db`, `INSERT INTO ${ACKED} (item) VALUES (?)`, [item]);
    return items;
  };

  it('a crash after the fence (un-fence failed): the re-run resumes, fences nothing twice, loses nothing', async () => {
    // Prepare: rows acknowledged before the fence; the replica held back so that the catch-up cannot finish
    const unit = unitOf(0);
    const primaryId = `${unit}-db`;
    const replicaId = `${unit}-db-replica`;
    const started = Date.now();
    const acked = await writeRows(unit, 'before-fence');
    await w.world.query(replicaId, 'SELECT pg_wal_replay_pause()');
    const input = { mode: 'switchover', units: [unit], trigger: 'cli', reason: 'crash test switchover' };

    // Act: once the fence is on, RDS in the primary Region refuses every call: the un-fence (which reads the
    // primary's endpoint there) fails after the catch-up bound, leaving the primary fenced, as a crash would
    let fault: { remove(): void } | undefined;
    let stop = false;
    const watcher = (async () => {
      while (!stop) {
        if ((await fenced(primaryId).catch(() => 0)) > 0) {
          fault = w.world.emulator.faults.add({
            match: { service: 'rds', region: w.plan.primaryRegion, action: 'DescribeDBInstances' },
            always: { code: 'AccessDenied', status: 403 },
          });
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const crashed = await execute('so-crash-1', { ...input, catchUpTimeoutSeconds: 2 });
    stop = true;
    await watcher;
    fault?.remove();
    const stillFenced = await fenced(primaryId);
    const promotedByCrash = w.promotions.get(replicaId) ?? 0;
    await w.world.query(replicaId, 'SELECT pg_wal_replay_resume()');
    const rerun = await execute('so-crash-2', input);
    const all = [...crashed.calls, ...rerun.calls];
    figures.push({
      mode: 'switchover crash after fence',
      action: 'un-fence refused (DescribeDBInstances)',
      firstRun: ending(crashed, unit),
      appliedOfAction: `PromoteReadReplica ${applied(all, 'PromoteReadReplica').length}`,
      runs: 2,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    });

    // Assess the crash: fenced, nothing promoted, the report says the un-fence failed
    expect(fault).toBeDefined();
    expect(crashed.result.status).toBe('FAILED');
    const crashedUnit = crashed.report?.units.find((u) => u.unit === unit);
    expect(crashedUnit?.failure).toMatchObject({ step: 'waitForCatchUp', error: 'CatchUpTimeoutError' });
    expect(crashedUnit?.switchover?.unfenced).toBe(false);
    expect(stillFenced).toBe(1);
    expect(promotedByCrash).toBe(0);
    expect(applied(crashed.calls, 'PromoteReadReplica')).toEqual([]);
    expect(applied(crashed.calls, 'StopReplicationToReplica')).toEqual([]);
    // Assess the re-run: it resumed (the fence found in place), converged, each promotion once, nothing lost
    expect(rerun.result.status).toBe('SUCCEEDED');
    const steps = stepStatuses(rerun.report, unit);
    expect(steps.fencePrimary).toBe('already-done');
    expect(steps.promoteDatabase).toBe('changed');
    expect(w.promotions.get(replicaId)).toBe(1);
    expect(applied(all, 'PromoteReadReplica')).toHaveLength(1);
    expect(applied(all, 'StopReplicationToReplica')).toHaveLength(1);
    expect(rerun.report?.units.find((u) => u.unit === unit)?.switchover?.dataLossTransactions).toBe(0);
    expect(await rowsOf(replicaId, `${unit}-before-fence-%`, ACKED)).toEqual(expect.arrayContaining(acked));
    // The old primary stays fenced (once: one setting); the promoted one takes writes (a fact of the world)
    expect(await fenced(primaryId)).toBe(1);
    expect((await unitFacts(w.world, [unit])).filter((f) => !f.ok)).toEqual([]);
  }, 180_000);

  it.each([
    { k: 1, service: 'secretsmanager', action: 'StopReplicationToReplica', step: 'promoteSecret' },
    { k: 2, service: 'rds', action: 'PromoteReadReplica', step: 'promoteDatabase' },
  ])(
    'a refused $action (before): un-fenced only when RDS refused the promotion itself; the re-run converges',
    async (c) => {
      // Prepare
      const unit = unitOf(c.k);
      const primaryId = `${unit}-db`;
      const replicaId = `${unit}-db-replica`;
      const started = Date.now();
      const acked = await writeRows(unit, 'before-fence');
      const input = { mode: 'switchover', units: [unit], trigger: 'cli', reason: `crash test ${c.action}` };
      const denial: FaultFailure =
        c.service === 'rds'
          ? { code: 'AccessDenied', status: 403 }
          : { code: 'AccessDeniedException', status: 400 };

      // Act
      const fault = w.world.emulator.faults.add({
        match: { service: c.service, action: c.action },
        always: denial,
      });
      const first = await execute(`so-${c.action}-1`, input);
      fault.remove();
      const stillFenced = await fenced(primaryId);
      const rerun = await execute(`so-${c.action}-2`, input);
      const all = [...first.calls, ...rerun.calls];
      figures.push({
        mode: 'switchover before',
        action: c.action,
        firstRun: ending(first, unit),
        appliedOfAction: `${applied(all, c.action).length}/${all.filter((x) => x.action === c.action).length}`,
        runs: 2,
        seconds: Math.round((Date.now() - started) / 100) / 10,
      });

      // Assess the refused run (docs/design/switchover.md, "Stopping at the promotion"): a refused PromoteReadReplica
      // with the replica described still a replica un-fences; a refused secret promotion beside an accepted
      // PromoteReadReplica keeps the fence (never two writers)
      const refusedDatabase = c.action === 'PromoteReadReplica';
      expect(first.result.status).toBe('FAILED');
      const failure = first.report?.units.find((u) => u.unit === unit)?.failure;
      expect(failure).toMatchObject({ step: c.step, error: 'AwsCallFailedError' });
      expect(applied(first.calls, c.action)).toEqual([]);
      const firstSteps = stepStatuses(first.report, unit);
      expect(firstSteps.fencePrimary).toBe('changed');
      if (refusedDatabase) {
        expect(firstSteps.unfencePrimary).toBe('changed');
        expect(stillFenced).toBe(0);
      } else {
        expect(firstSteps.unfencePrimary ?? 'not-reached').toBe('not-reached');
        expect(stillFenced).toBe(1);
      }
      // The other promotion runs side by side and went through
      const other = c.action === 'PromoteReadReplica' ? 'StopReplicationToReplica' : 'PromoteReadReplica';
      expect(applied(first.calls, other)).toHaveLength(1);
      // Assess the re-run: converged, the fence found in place, each promotion once, nothing lost
      expect(rerun.result.status).toBe('SUCCEEDED');
      expect(stepStatuses(rerun.report, unit).fencePrimary).toBe(
        refusedDatabase ? 'changed' : 'already-done',
      );
      expect(w.promotions.get(replicaId)).toBe(1);
      expect(applied(all, 'PromoteReadReplica')).toHaveLength(1);
      expect(applied(all, 'StopReplicationToReplica')).toHaveLength(1);
      expect(await rowsOf(replicaId, `${unit}-before-fence-%`, ACKED)).toEqual(expect.arrayContaining(acked));
      expect(await fenced(primaryId)).toBe(1);
      expect((await unitFacts(w.world, [unit])).filter((f) => !f.ok)).toEqual([]);
    },
    180_000,
  );
});
