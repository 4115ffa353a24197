import { type DBInstance, DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../functions/lib/report/index.js';
import { REPROTECT_TAG, RETIRED_TAG } from '../../functions/lib/reprotect/reprotect.js';
import type { CallLogEntry, FaultFailure, FaultHandle, FaultRule } from '../../local/emulator/types.js';
import type { RunOptions, RunResult } from '../../local/runner.js';
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
 * More rows of the crash-and-re-run matrix of the way home (issue 10, "Also"); the first rows are
 * test/evidence/crash-rerun-modes.test.ts (PostgreSQL, `before` and `after-once`), the failover's matrix
 * test/evidence/crash-rerun.test.ts. One world, started once, of MariaDB and PostgreSQL pairs; one fresh unit per case.
 *
 * MariaDB switchover (docs/design/switchover.md: the fence locks the application accounts, listed in
 * `lifeboat.fenced_accounts`; the catch-up compares GTIDs): a crash between fence and promotion (RDS's
 * endpoints unreadable, the un-fence refused: accounts left locked, nothing promoted) that a re-run resumes; a refused
 * StopReplicationToReplica or PromoteReadReplica (`before`: the fence is lifted only when the database promotion was
 * refused and the replica proven unpromoted); and `after-always` on both:
 * every such call takes effect and its answer is lost, through every SDK and state machine retry (a crash after the
 * call's effect in every attempt).
 *
 * PostgreSQL re-protect, `after-always` on each of its mutating calls after a failover.
 *
 * Each case then re-runs without faults until one succeeds (at most three): each change made once, nothing lost.
 */

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

type Mode = 'before' | 'after-always';

interface MutatingCall {
  service: string;
  action: string;
  denial: FaultFailure;
}

const PROMOTIONS: readonly (MutatingCall & { step: string })[] = [
  {
    service: 'secretsmanager',
    action: 'StopReplicationToReplica',
    step: 'promoteSecret',
    denial: { code: 'AccessDeniedException', status: 400 },
  },
  {
    service: 'rds',
    action: 'PromoteReadReplica',
    step: 'promoteDatabase',
    denial: { code: 'AccessDenied', status: 403 },
  },
];
const SWITCHOVER_CASES = (['before', 'after-always'] as const).flatMap((mode) =>
  PROMOTIONS.map((call) => ({ mode: mode as Mode, ...call })),
);

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

/** MariaDB units: the crash after the fence, then the switchover cases; PostgreSQL units: the re-protect cases. */
const MARIADB_UNITS = 1 + SWITCHOVER_CASES.length;

function faultFor(mode: Mode, call: MutatingCall): FaultRule {
  const match = { service: call.service, action: call.action };
  if (mode === 'before') return { match, always: call.denial };
  return { match, loseResponseRate: 1 };
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
const started = Date.now();

let w: EvidenceWorld;
let rdsOld: RDSClient;
let rdsCurrent: RDSClient;
let smOld: SecretsManagerClient;
let smCurrent: SecretsManagerClient;
const unitName = (i: number) => w.plan.units[i]?.name as string;

beforeAll(async () => {
  const plan = plannedUnits(MARIADB_UNITS + REPROTECT_CALLS.length);
  for (const unit of plan.units.slice(0, MARIADB_UNITS)) unit.database.engine = 'mariadb';
  w = await startWorld(plan);
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
      `crash-rerun-modes-always: ${Math.round((Date.now() - started) / 1000)} s for the file, world included`,
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

async function execute(
  name: string,
  input: Record<string, unknown>,
  onStep?: RunOptions['onStep'],
): Promise<Run> {
  const from = w.world.emulator.calls.length;
  const result = await w.run(name, input, onStep ? { onStep } : {});
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

/** Waits (bounded) until the replica is a standalone, available instance: an interrupted promotion has ended. */
async function promotionEnded(instanceId: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const out = await rdsCurrent.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: instanceId }));
    const instance = out.DBInstances?.[0];
    if (instance?.DBInstanceStatus === 'available' && !instance.ReadReplicaSourceDBInstanceIdentifier) return;
    if (Date.now() > deadline) throw new Error(`${instanceId} did not end its promotion within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('MariaDB switchover: fence by account lock, GTID catch-up; a crash, refused and lost promotions', () => {
  const ACKED = 'acked_rows';
  const appUser = (unit: string) => `app_${unit}`;

  /** Whether the unit's application account is locked on an instance (SHOW CREATE USER says ACCOUNT LOCK). */
  const locked = async (instanceId: string, unit: string): Promise<boolean> => {
    const rows = await w.world.query(instanceId, `SHOW CREATE USER '${appUser(unit)}'@'%'`);
    return /ACCOUNT LOCK/i.test(String(Object.values(rows[0] ?? {})[0] ?? ''));
  };

  /** The accounts lifeboat listed as fenced on an instance (0 when it never fenced there). */
  const listedAsFenced = async (instanceId: string): Promise<number> =>
    Number(
      (
        await w.world
          .query(instanceId, 'SELECT COUNT(*) AS n FROM lifeboat.fenced_accounts')
          .catch(() => [{ n: 0 }])
      )[0]?.n,
    );

  /**
   * An application account (the fence locks it: the secret's user is lifeboat's login and never locked) and rows the
   * application had acknowledged before the fence, in a table of their own (the world's facts count `orders`).
   */
  const prepareUnit = async (unit: string) => {
    const primaryId = `${unit}-db`;
    await w.world.query(primaryId, `CREATE TABLE IF NOT EXISTS ${ACKED} (item VARCHAR(200) NOT NULL)`);
    await w.world.query(primaryId, `CREATE USER IF NOT EXISTS '${appUser(unit)}'@'%' IDENTIFIED BY 'x9-app'`);
    await w.world.query(primaryId, `GRANT SELECT, INSERT ON ${ACKED} TO '${appUser(unit)}'@'%'`).catch(() =>
      // GRANT needs the database named when the session has none selected.
      w.world.query(primaryId, `GRANT SELECT, INSERT ON orders.${ACKED} TO '${appUser(unit)}'@'%'`),
    );
    const items = [1, 2, 3].map((i) => `${unit}-before-fence-${i}`);
    for (const item of items)
      await w.world.query(primaryId, `INSERT INTO ${ACKED} (item) VALUES (?)`, [item]);
    return items;
  };

  const rowsOf = async (instanceId: string, like: string) =>
    (await w.world.query(instanceId, `SELECT item FROM ${ACKED} WHERE item LIKE ?`, [like])).map((r) =>
      String(r.item),
    );

  it('a crash after the fence (un-fence failed): the re-run resumes, locks nothing twice, loses nothing', async () => {
    // Prepare: rows acknowledged before the fence
    const unit = unitName(0);
    const primaryId = `${unit}-db`;
    const replicaId = `${unit}-db-replica`;
    const t0 = Date.now();
    const acked = await prepareUnit(unit);
    const input = {
      mode: 'switchover',
      units: [unit],
      trigger: 'cli',
      reason: 'crash test mariadb switchover',
    };

    // Act: once the fence step has ended, RDS refuses every DescribeDBInstances in both Regions (the master user may
    // not stop a replica's SQL thread here): the catch-up cannot read the replica's endpoint (behind until the bound)
    // and the un-fence cannot read the primary's, so the accounts stay locked with nothing promoted, as a crash would
    let fault: FaultHandle | undefined;
    const crashed = await execute('mso-crash-1', { ...input, catchUpTimeoutSeconds: 2 }, (e) => {
      if (!fault && e.step === 'fenceWrites' && e.phase === 'end') {
        fault = w.world.emulator.faults.add({
          match: { service: 'rds', action: 'DescribeDBInstances' },
          always: { code: 'AccessDenied', status: 403 },
        });
      }
    });
    fault?.remove();
    const lockedAfterCrash = await locked(primaryId, unit);
    const listedAfterCrash = await listedAsFenced(primaryId);
    const promotedByCrash = w.promotions.get(replicaId) ?? 0;
    const rerun = await execute('mso-crash-2', input);
    const all = [...crashed.calls, ...rerun.calls];
    figures.push({
      mode: 'mariadb switchover crash after fence',
      action: 'un-fence refused (DescribeDBInstances)',
      firstRun: ending(crashed, unit),
      appliedOfAction: `PromoteReadReplica ${applied(all, 'PromoteReadReplica').length}`,
      runs: 2,
      seconds: Math.round((Date.now() - t0) / 100) / 10,
    });

    // Assess the crash: the account locked and listed once, nothing promoted, the report says the un-fence failed
    expect(fault).toBeDefined();
    expect(crashed.result.status).toBe('FAILED');
    const crashedUnit = crashed.report?.units.find((u) => u.unit === unit);
    expect(crashedUnit?.failure).toMatchObject({ step: 'waitForCatchUp', error: 'CatchUpTimeoutError' });
    expect(crashedUnit?.switchover).toMatchObject({ unfenced: false, positionKind: 'mariadb-gtid' });
    expect(lockedAfterCrash).toBe(true);
    expect(listedAfterCrash).toBe(1);
    expect(promotedByCrash).toBe(0);
    expect(applied(crashed.calls, 'PromoteReadReplica')).toEqual([]);
    expect(applied(crashed.calls, 'StopReplicationToReplica')).toEqual([]);
    // Assess the re-run: resumed (the list found in place), converged, one promotion each, GTIDs compared, 0 lost
    expect(rerun.result.status, JSON.stringify(rerun.result.error)).toBe('SUCCEEDED');
    const steps = stepStatuses(rerun.report, unit);
    expect(steps.fencePrimary).toBe('already-done');
    expect(steps.promoteDatabase).toBe('changed');
    expect(w.promotions.get(replicaId)).toBe(1);
    expect(applied(all, 'PromoteReadReplica')).toHaveLength(1);
    expect(applied(all, 'StopReplicationToReplica')).toHaveLength(1);
    const switchover = rerun.report?.units.find((u) => u.unit === unit)?.switchover;
    expect(switchover).toMatchObject({ positionKind: 'mariadb-gtid', dataLossTransactions: 0 });
    expect(await rowsOf(replicaId, `${unit}-before-fence-%`)).toEqual(expect.arrayContaining(acked));
    // The old primary keeps the account locked (listed once); on the promoted one it is unlocked
    expect(await locked(primaryId, unit)).toBe(true);
    expect(await listedAsFenced(primaryId)).toBe(1);
    expect(await locked(replicaId, unit)).toBe(false);
    expect((await unitFacts(w.world, [unit])).filter((f) => !f.ok)).toEqual([]);
  }, 180_000);

  it.each(SWITCHOVER_CASES.map((c, i) => ({ ...c, k: 1 + i })))(
    '$mode $action: the fence kept once the database promotion was accepted; the re-runs converge',
    async (c) => {
      // Prepare
      const unit = unitName(c.k);
      const primaryId = `${unit}-db`;
      const replicaId = `${unit}-db-replica`;
      const t0 = Date.now();
      const acked = await prepareUnit(unit);
      const input = {
        mode: 'switchover',
        units: [unit],
        trigger: 'cli',
        reason: `crash test ${c.mode} ${c.action}`,
      };
      const runs: Run[] = [];

      // Act: the faulted run, then re-runs without faults until one succeeds; an interrupted promotion is let end
      const fault = w.world.emulator.faults.add(faultFor(c.mode, c));
      runs.push(await execute(`mso-${c.mode}-${c.action}-1`, input));
      fault.remove();
      const lockedAfterFirst = await locked(primaryId, unit);
      while (runs.at(-1)?.result.status !== 'SUCCEEDED' && runs.length < 3) {
        if (runs.at(-1)?.report?.units.find((u) => u.unit === unit)?.failure?.error === 'ResourceBusyError') {
          await promotionEnded(replicaId);
        }
        // A catch-up that cannot come must end the re-run (CatchUpTimeoutError), not hold the runner for 300 s
        runs.push(
          await execute(`mso-${c.mode}-${c.action}-${runs.length + 1}`, {
            ...input,
            catchUpTimeoutSeconds: 10,
          }),
        );
        if (runs.at(-1)?.result.status === 'TIMED_OUT') await w.deleteLock();
      }
      const lockedAfterRuns = await locked(primaryId, unit);
      const first = runs[0] as Run;
      const last = runs.at(-1) as Run;
      const all = runs.flatMap((r) => r.calls);
      figures.push({
        mode: `mariadb switchover ${c.mode}`,
        action: c.action,
        firstRun: ending(first, unit),
        appliedOfAction: `${applied(all, c.action).length}/${all.filter((x) => x.action === c.action).length}`,
        runs: runs.length,
        seconds: Math.round((Date.now() - t0) / 100) / 10,
      });

      // Assess the faulted run: the fault hit that call only; the fence was made. It is lifted only when the database
      // promotion was refused and the replica is proven unpromoted (docs/design/switchover.md, "Stopping before
      // promotion"); once a PromoteReadReplica was accepted it stays
      expect(faulted(first.calls).length).toBeGreaterThan(0);
      expect(faulted(first.calls).every((x) => x.action === c.action)).toBe(true);
      expect(stepStatuses(first.report, unit).fencePrimary).toBe('changed');
      const unpromoted = applied(first.calls, 'PromoteReadReplica').length === 0;
      const firstSwitchover = first.report?.units.find((u) => u.unit === unit)?.switchover;
      if (unpromoted) {
        expect(firstSwitchover?.unfenced).toBe(true);
        expect(firstSwitchover?.afterPromotionFailure).toContain('replica not promoted');
      } else {
        expect(firstSwitchover?.unfenced ?? false).toBe(false);
      }
      expect(lockedAfterFirst).toBe(!unpromoted);
      if (c.mode === 'before') {
        // Refused: the unit fails at that promotion; the other one, side by side, went through
        expect(first.result.status).toBe('FAILED');
        expect(first.report?.units.find((u) => u.unit === unit)?.failure).toMatchObject({
          step: c.step,
          error: 'AwsCallFailedError',
        });
        expect(applied(first.calls, c.action)).toEqual([]);
        const other = c.action === 'PromoteReadReplica' ? 'StopReplicationToReplica' : 'PromoteReadReplica';
        expect(applied(first.calls, other)).toHaveLength(1);
      } else {
        // Every answer lost: the first call took effect; a later one finds the effect and is refused or changes nothing
        expect(applied(first.calls, c.action).length).toBeGreaterThan(0);
        expect(first.calls.filter((x) => x.action === c.action).length).toBeGreaterThan(1);
      }
      // Assess: never two writers. Once the database was promoted, the old primary stays fenced whatever a re-run
      // meets (docs/design/switchover.md, "Stopping before promotion": a failure after the promotion does not un-fence)
      if (applied(all, 'PromoteReadReplica').length > 0) {
        expect(lockedAfterRuns, 'the old primary is still fenced after every run').toBe(true);
      }
      // Assess the convergence: the fence found in place, each promotion once, GTIDs compared, nothing lost
      expect(last.result.status, JSON.stringify(last.result.error)).toBe('SUCCEEDED');
      expect(runs.length).toBeLessThanOrEqual(3);
      if (runs.length > 1) {
        expect(stepStatuses(last.report, unit).fencePrimary).toBe(unpromoted ? 'changed' : 'already-done');
      }
      expect(w.promotions.get(replicaId)).toBe(1);
      // RDS accepts a repeated PromoteReadReplica while the promotion has not yet shown, starting nothing (as in the
      // failover's matrix): the real promotions above are the count; the accepted calls are one unless answers were lost
      if (c.mode === 'after-always' && c.action === 'PromoteReadReplica') {
        expect(applied(all, 'PromoteReadReplica').length).toBeGreaterThanOrEqual(1);
      } else {
        expect(applied(all, 'PromoteReadReplica')).toHaveLength(1);
      }
      expect(applied(all, 'StopReplicationToReplica')).toHaveLength(1);
      const proofs = runs.map((r) => r.report?.units.find((u) => u.unit === unit)?.switchover);
      // The catch-up is proven once, before the promotion: a re-run that finds the replica already promoted says so
      // and proves nothing of its own (docs/design/switchover.md)
      expect(proofs.find((p) => p?.dataLossTransactions === 0)).toMatchObject({
        positionKind: 'mariadb-gtid',
      });
      expect(await rowsOf(replicaId, `${unit}-before-fence-%`)).toEqual(expect.arrayContaining(acked));
      expect(await locked(primaryId, unit)).toBe(true);
      expect(await locked(replicaId, unit)).toBe(false);
      expect((await unitFacts(w.world, [unit])).filter((f) => !f.ok)).toEqual([]);
    },
    240_000,
  );
});

describe('re-protect: every answer of each mutating call lost (after-always) after a failover, then re-runs', () => {
  const caseUnit = (i: number) => unitName(MARIADB_UNITS + i);

  beforeAll(async () => {
    const units = REPROTECT_CALLS.map((_, i) => caseUnit(i));
    const failover = await w.run('modes-always-failover', { units, reason: 'crash-rerun-modes-always' });
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

  it.each(REPROTECT_CALLS.map((c, index) => ({ ...c, index })))(
    'after-always $action: converges with one replica, one rename, one secret replica',
    async (c) => {
      // Prepare
      const unit = caseUnit(c.index);
      const originalId = `${unit}-db`;
      const currentId = `${unit}-db-replica`;
      const t0 = Date.now();
      const runs: Run[] = [];
      const input = { mode: 'reprotect', units: [unit], reason: `crash test after-always ${c.action}` };

      // Act: the faulted run, then re-runs without faults until one succeeds
      const fault = w.world.emulator.faults.add(faultFor('after-always', c));
      runs.push(await execute(`rpa-${c.action}-1`, input));
      fault.remove();
      while (runs.at(-1)?.result.status !== 'SUCCEEDED' && runs.length < 3) {
        runs.push(await execute(`rpa-${c.action}-${runs.length + 1}`, input));
      }
      const first = runs[0] as Run;
      const all = runs.flatMap((r) => r.calls);
      const ofAction = all.filter((x) => x.action === c.action);
      figures.push({
        mode: 'reprotect after-always',
        action: c.action,
        firstRun: ending(first, unit),
        appliedOfAction: `${ofAction.filter((x) => x.applied).length}/${ofAction.length}`,
        runs: runs.length,
        seconds: Math.round((Date.now() - t0) / 100) / 10,
      });

      // Assess: every answer of that call lost in the faulted run, its effect there
      expect(faulted(first.calls).length).toBeGreaterThan(0);
      expect(faulted(first.calls).every((x) => x.action === c.action && x.fault === 'lose-response')).toBe(
        true,
      );
      expect(applied(first.calls, c.action).length).toBeGreaterThan(0);
      expect(runs.at(-1)?.result.status, JSON.stringify(runs.at(-1)?.result.error)).toBe('SUCCEEDED');
      expect(runs.length).toBeLessThanOrEqual(3);
      // Each change made once over every run: one rename, one replica, nothing deleted
      expect(applied(all, 'ModifyDBInstance')).toHaveLength(1);
      expect(applied(all, 'CreateDBInstanceReadReplica')).toHaveLength(1);
      expect(applied(all, 'AddTagsToResource').every((x) => x.resource?.includes(originalId))).toBe(true);
      expect(all.filter((x) => x.mutating && x.action.startsWith('Delete') && x.service === 'rds')).toEqual(
        [],
      );
      // The old Region: exactly one replica of the current primary, under the old primary's name, ours
      const current = (await instancesIn(rdsCurrent)).find((i) => i.DBInstanceIdentifier === currentId);
      const old = await instancesIn(rdsOld);
      const replicas = old.filter((i) => i.ReadReplicaSourceDBInstanceIdentifier === current?.DBInstanceArn);
      expect(replicas.map((i) => i.DBInstanceIdentifier)).toEqual([originalId]);
      expect(replicas[0]?.StatusInfos?.find((s) => s.StatusType === 'read replication')?.Status).toBe(
        'replicating',
      );
      expect(replicas[0]?.TagList?.find((t) => t.Key === REPROTECT_TAG)?.Value).toBe(
        `${w.plan.name}/${unit}`,
      );
      // The old primary: renamed once, kept, with the row only it took
      const retired = old.filter(
        (i) =>
          i.TagList?.some((t) => t.Key === RETIRED_TAG) &&
          i.DBInstanceIdentifier?.startsWith(`${originalId}-old-`),
      );
      expect(retired).toHaveLength(1);
      const kept = await w.world.query(
        retired[0]?.DBInstanceIdentifier as string,
        'SELECT item FROM orders WHERE item = ?',
        [`${unit}-only-on-old-primary`],
      );
      expect(kept).toHaveLength(1);
      // The secret: one replica in the old Region, of the current one, InSync
      const [here, there] = await Promise.all([
        smCurrent.send(new DescribeSecretCommand({ SecretId: `${unit}/db` })),
        smOld.send(new DescribeSecretCommand({ SecretId: `${unit}/db` })),
      ]);
      expect(here.ReplicationStatus?.map((r) => `${r.Region} ${r.Status}`)).toEqual([
        `${w.plan.primaryRegion} InSync`,
      ]);
      expect(there.PrimaryRegion).toBe(w.plan.recoveryRegion);
    },
    180_000,
  );
});
