import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TIMEOUT_SCALE_ENV } from '../../functions/lib/env.js';
import type { RunReport } from '../../functions/lib/report/index.js';
import { RETIRED_TAG } from '../../functions/lib/reprotect/reprotect.js';
import type { CallLogEntry, FaultHandle } from '../../local/emulator/types.js';
import type { RunOptions, RunResult } from '../../local/runner.js';
import { resolveVia } from '../../local/verify-facts.js';
import {
  applied,
  type EvidenceWorld,
  faulted,
  PRODUCTION_SERVICES,
  plannedUnits,
  readReport,
  startWorld,
  stepStatuses,
  unitFacts,
} from './support.js';

/**
 * Fault runs for the way home (issue 10, "Also": extend the fault runs to the new modes). The failover's are
 * test/evidence/throttling.test.ts and hanging-endpoints.test.ts; this file runs the same emulator faults
 * (local/emulator/faults.ts) on a switchover (docs/design/switchover.md) and a re-protect (docs/design/reprotect.md).
 * One PostgreSQL world, started once, one fresh unit per case:
 *
 * - throttling: every fifth call to each of RDS, Secrets Manager and Route 53 throttled (its first included), through
 *   a whole switchover and a whole re-protect: each run succeeds within its retry budget, each change is made once, and the
 *   data-loss proof holds (switchover: every row the application was told was committed is on the new primary, 0
 *   transactions; re-protect: the old primary is kept with the row only it took).
 * - a hanging endpoint (accepts the call, never answers; the client timeouts scaled by 0.1 as in
 *   hanging-endpoints.test.ts): RDS in the recovery Region once the primary is fenced (before the promotion: the
 *   switchover fails in bounded time and the primary is un-fenced, writable, nothing promoted); Route 53 (after the
 *   promotion: the switchover fails at DNS with exactly one writer, the promoted replica, the old primary still
 *   fenced); RDS's CreateDBInstanceReadReplica in the old Region (re-protect fails in bounded time, the old primary
 *   kept). Each time a re-run once the service answers converges.
 */

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

const SCALE = 0.1;
/** Wall-clock bound of one hanging run: about 40 s on an idle machine; generous for a shared, loaded one. */
const HANG_RUN_TIMEOUT_MS = 200_000;
const ACKED = 'acked_rows';
// Every fifth call to each production service throttled, its first included: a run makes few Route 53 calls (a
// seeded 20% draw may miss them all), and every service must see the fault. Far more ordinals than a run makes calls.
const EVERY_FIFTH = Array.from({ length: 1000 }, (_, i) => i + 1).filter((n) => n % 5 === 1);
const throttleEveryFifth = (): FaultHandle[] =>
  [...PRODUCTION_SERVICES].map((service) =>
    w.world.emulator.faults.add({ match: { service }, failCalls: EVERY_FIFTH, failWith: 'throttle' }),
  );

const UNITS = {
  switchoverThrottled: 0,
  reprotectThrottled: 1,
  hangBeforePromotion: 2,
  hangAfterPromotion: 3,
  reprotectHang: 4,
} as const;

let w: EvidenceWorld;
let rdsOld: RDSClient;
const unitName = (i: number) => w.plan.units[i]?.name as string;
const lines: string[] = [];

beforeAll(async () => {
  w = await startWorld(plannedUnits(Object.keys(UNITS).length));
  rdsOld = new RDSClient(w.world.emulator.clientConfig(w.plan.primaryRegion));
}, 300_000);

afterAll(async () => {
  console.log(lines.join('\n'));
  delete process.env[TIMEOUT_SCALE_ENV];
  rdsOld?.destroy();
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
  options: Partial<RunOptions> = {},
): Promise<Run> {
  const from = w.world.emulator.calls.length;
  const result = await w.run(name, input, options);
  const calls = w.world.emulator.calls.slice(from);
  return { result, report: await readReport(w.world, result, name), calls };
}

const hangOptions = (): Partial<RunOptions> => ({
  environment: { ...w.world.environment(), [TIMEOUT_SCALE_ENV]: String(SCALE) },
  timeoutMs: HANG_RUN_TIMEOUT_MS,
});

const unitOf = (run: Run, unit: string) => run.report?.units.find((u) => u.unit === unit);

/** Whether the primary's database carries the fence (docs/design/switchover.md, "The fence", PostgreSQL). */
async function fenced(instanceId: string): Promise<number> {
  const sql =
    "SELECT count(*) AS n FROM pg_db_role_setting WHERE 'default_transaction_read_only=on' = ANY (setconfig)";
  // The fence ends every other session on the database, this one's too: one more try on a new session.
  const rows = await w.world.query(instanceId, sql).catch(() => w.world.query(instanceId, sql));
  return Number(rows[0]?.n);
}

/** Whether a new session on the instance may write: the answer of one INSERT (true) or its refusal (false). */
async function takesWrites(instanceId: string, item: string): Promise<boolean> {
  const insert = () => w.world.query(instanceId, `INSERT INTO ${ACKED} (item) VALUES (?)`, [item]);
  try {
    await insert().catch(insert);
    return true;
  } catch {
    return false;
  }
}

const rowsOf = async (instanceId: string, like: string, table = ACKED) =>
  (await w.world.query(instanceId, `SELECT item FROM ${table} WHERE item LIKE ?`, [like])).map((r) =>
    String(r.item),
  );

/**
 * An application writing numbered rows to the unit's primary while a run goes on, one autocommitted INSERT at a
 * time, each on a new session when the last one was ended (the fence ends them); `acked` holds the rows whose
 * commit was acknowledged.
 */
function startWriter(unit: string): { acked: string[]; refused: number; stop(): Promise<void> } {
  const primaryId = `${unit}-db`;
  const state = { acked: [] as string[], refused: 0, stopped: false };
  const loop = (async () => {
    for (let n = 1; !state.stopped; n += 1) {
      const item = `${unit}-w-${n}`;
      try {
        await w.world.query(primaryId, `INSERT INTO ${ACKED} (item) VALUES (?)`, [item]);
        state.acked.push(item);
      } catch {
        state.refused += 1;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    acked: state.acked,
    get refused() {
      return state.refused;
    },
    stop: async () => {
      state.stopped = true;
      await loop;
    },
  };
}

describe('throttling: every fifth call to RDS, Secrets Manager and Route 53 throttled', () => {
  it('a switchover succeeds within its retry budget, each change once, every acknowledged row kept', async () => {
    // Prepare: an application table and rows acknowledged before the run
    const unit = unitName(UNITS.switchoverThrottled);
    const primaryId = `${unit}-db`;
    const replicaId = `${unit}-db-replica`;
    await w.world.query(primaryId, `CREATE TABLE IF NOT EXISTS ${ACKED} (item text NOT NULL)`);
    const writer = startWriter(unit);
    await new Promise((r) => setTimeout(r, 300));

    // Act
    const throttle = throttleEveryFifth();
    let run: Run;
    try {
      run = await execute('so-throttled', {
        mode: 'switchover',
        units: [unit],
        trigger: 'cli',
        reason: 'throttled switchover',
      });
    } finally {
      for (const rule of throttle) rule.remove();
      await writer.stop();
    }
    const production = run.calls.filter((c) => PRODUCTION_SERVICES.has(c.service));
    const throttled = faulted(run.calls);
    lines.push(
      `switchover throttled: ${run.result.status} in ${(run.result.wallMs / 1000).toFixed(1)} s; ` +
        `${throttled.length}/${production.length} production calls throttled; writer ${writer.acked.length} acked, ` +
        `${writer.refused} refused; window ${unitOf(run, unit)?.switchover?.writeUnavailableSeconds} s`,
    );

    // Assess: the faults were injected on every production service, and only throttling
    expect(throttled.length / production.length).toBeGreaterThanOrEqual(0.19);
    expect(throttled.every((c) => c.fault === 'throttle' && !c.applied)).toBe(true);
    for (const service of PRODUCTION_SERVICES)
      expect(throttled.some((c) => c.service === service)).toBe(true);
    // The run succeeded; each change once
    expect(run.result.status, JSON.stringify(run.result.error)).toBe('SUCCEEDED');
    expect(stepStatuses(run.report, unit)).toMatchObject({
      fencePrimary: 'changed',
      promoteSecret: 'changed',
      promoteDatabase: 'changed',
      updateDns: 'changed',
    });
    expect(applied(run.calls, 'StopReplicationToReplica')).toHaveLength(1);
    expect(applied(run.calls, 'PromoteReadReplica')).toHaveLength(1);
    expect(w.promotions.get(replicaId)).toBe(1);
    // The data-loss proof: 0 proven, every acknowledged row on the new primary, some writes refused in the window
    expect(unitOf(run, unit)?.switchover?.dataLossTransactions).toBe(0);
    expect(writer.acked.length).toBeGreaterThan(0);
    expect(writer.refused).toBeGreaterThan(0);
    const onNewPrimary = new Set(await rowsOf(replicaId, `${unit}-w-%`));
    expect(writer.acked.filter((item) => !onNewPrimary.has(item))).toEqual([]);
    expect((await unitFacts(w.world, [unit])).filter((f) => !f.ok)).toEqual([]);
  }, 240_000);

  it('a re-protect succeeds within its retry budget: one replica, one rename, the old primary kept', async () => {
    // Prepare: a failover of the unit, then a row only the old primary takes
    const unit = unitName(UNITS.reprotectThrottled);
    const originalId = `${unit}-db`;
    const failover = await w.run('rp-throttled-failover', { units: [unit], reason: 'before re-protect' });
    expect(failover.status).toBe('SUCCEEDED');
    await w.world.query(originalId, 'INSERT INTO orders (item) VALUES (?)', [`${unit}-only-on-old-primary`]);

    // Act
    const throttle = throttleEveryFifth();
    let run: Run;
    try {
      run = await execute('rp-throttled', {
        mode: 'reprotect',
        units: [unit],
        reason: 'throttled re-protect',
      });
    } finally {
      for (const rule of throttle) rule.remove();
    }
    const production = run.calls.filter((c) => PRODUCTION_SERVICES.has(c.service));
    const throttled = faulted(run.calls);
    lines.push(
      `re-protect throttled: ${run.result.status} in ${(run.result.wallMs / 1000).toFixed(1)} s; ` +
        `${throttled.length}/${production.length} production calls throttled`,
    );

    // Assess: faults on the services re-protect calls (it does not touch Route 53), only throttling
    expect(throttled.length / production.length).toBeGreaterThanOrEqual(0.19);
    expect(throttled.every((c) => c.fault === 'throttle' && !c.applied)).toBe(true);
    for (const service of ['rds', 'secretsmanager'])
      expect(throttled.some((c) => c.service === service)).toBe(true);
    expect(run.result.status, JSON.stringify(run.result.error)).toBe('SUCCEEDED');
    // Each change once
    expect(applied(run.calls, 'ReplicateSecretToRegions')).toHaveLength(1);
    expect(applied(run.calls, 'ModifyDBInstance')).toHaveLength(1);
    expect(applied(run.calls, 'CreateDBInstanceReadReplica')).toHaveLength(1);
    expect(
      run.calls.filter((c) => c.applied && c.action.startsWith('Delete') && c.service === 'rds'),
    ).toEqual([]);
    // Nothing lost: the old primary kept, renamed once, with the row only it took
    const old = (await rdsOld.send(new DescribeDBInstancesCommand({}))).DBInstances ?? [];
    const retired = old.filter(
      (i) =>
        i.TagList?.some((t) => t.Key === RETIRED_TAG) &&
        i.DBInstanceIdentifier?.startsWith(`${originalId}-old-`),
    );
    expect(retired).toHaveLength(1);
    expect(
      await rowsOf(retired[0]?.DBInstanceIdentifier as string, `${unit}-only-on-old-primary`, 'orders'),
    ).toEqual([`${unit}-only-on-old-primary`]);
    const replica = old.find((i) => i.DBInstanceIdentifier === originalId);
    expect(replica?.StatusInfos?.find((s) => s.StatusType === 'read replication')?.Status).toBe(
      'replicating',
    );
  }, 240_000);
});

describe('a hanging endpoint during a switchover', () => {
  it(
    'before the promotion (RDS in the recovery Region): bounded failure, the primary un-fenced; a re-run converges',
    async () => {
      // Prepare
      const unit = unitName(UNITS.hangBeforePromotion);
      const primaryId = `${unit}-db`;
      const replicaId = `${unit}-db-replica`;
      await w.world.query(primaryId, `CREATE TABLE IF NOT EXISTS ${ACKED} (item text NOT NULL)`);
      await w.world.query(primaryId, `INSERT INTO ${ACKED} (item) VALUES (?)`, [`${unit}-before-fence`]);
      const input = { mode: 'switchover', units: [unit], trigger: 'cli', reason: 'hang before promotion' };

      // Act: once the fence is on, RDS in the recovery Region accepts every call and never answers (the catch-up
      // poll reads the replica's endpoint there); then RDS answers again and the operator runs the switchover again
      let hang: FaultHandle | undefined;
      const failed = await execute('so-hang-before', input, {
        ...hangOptions(),
        onStep: (e) => {
          if (!hang && e.step === 'fenceWrites' && e.phase === 'end') {
            hang = w.world.emulator.faults.add({
              match: { service: 'rds', region: w.plan.recoveryRegion },
              always: 'hang',
            });
          }
        },
      });
      hang?.remove();
      const fenceAfterFailure = await fenced(primaryId);
      const writableAfterFailure = await takesWrites(primaryId, `${unit}-after-unfence`);
      const replicaInRecovery = (await w.world.query(replicaId, 'SELECT pg_is_in_recovery() AS r'))[0]?.r;
      const promotedByFailedRun = w.promotions.get(replicaId) ?? 0;
      const rerun = await execute('so-hang-before-rerun', input, hangOptions());
      const failedUnit = unitOf(failed, unit);
      lines.push(
        `switchover, RDS hanging after the fence: ${failed.result.status} after ${(failed.result.wallMs / 1000).toFixed(1)} s ` +
          `at ${failedUnit?.failure?.step} (${failedUnit?.failure?.error}), unfenced ${failedUnit?.switchover?.unfenced}, ` +
          `${faulted(failed.calls).length} calls left unanswered; re-run ${rerun.result.status} in ${(rerun.result.wallMs / 1000).toFixed(1)} s`,
      );

      // Assess the hanging run: it failed in bounded time before the promotion and gave the primary back
      expect(hang).toBeDefined();
      expect(failed.result.status).toBe('FAILED');
      expect(failed.result.wallMs).toBeLessThan(HANG_RUN_TIMEOUT_MS);
      expect(faulted(failed.calls).length).toBeGreaterThan(0);
      expect(
        faulted(failed.calls).every((c) => c.fault === 'hang' && c.region === w.plan.recoveryRegion),
      ).toBe(true);
      expect(failedUnit?.failure?.step).toBe('waitForCatchUp');
      expect(failedUnit?.failure?.cause).toContain('TimeoutError');
      expect(failedUnit?.switchover).toMatchObject({ unfenced: true, dataLossTransactions: null });
      expect(stepStatuses(failed.report, unit)).toMatchObject({
        fencePrimary: 'changed',
        unfencePrimary: 'changed',
        promoteDatabase: 'not-reached',
      });
      expect(fenceAfterFailure).toBe(0);
      expect(writableAfterFailure).toBe(true);
      expect(replicaInRecovery).toBe(true);
      expect(applied(failed.calls, 'PromoteReadReplica')).toEqual([]);
      expect(applied(failed.calls, 'StopReplicationToReplica')).toEqual([]);
      expect(promotedByFailedRun).toBe(0);
      // Assess the re-run: a fresh fence, one promotion, nothing lost (the row written after the un-fence too)
      expect(rerun.result.status, JSON.stringify(rerun.result.error)).toBe('SUCCEEDED');
      expect(stepStatuses(rerun.report, unit).fencePrimary).toBe('changed');
      expect(unitOf(rerun, unit)?.switchover?.dataLossTransactions).toBe(0);
      expect(w.promotions.get(replicaId)).toBe(1);
      expect(await rowsOf(replicaId, `${unit}-%`)).toEqual(
        expect.arrayContaining([`${unit}-before-fence`, `${unit}-after-unfence`]),
      );
      expect((await unitFacts(w.world, [unit])).filter((f) => !f.ok)).toEqual([]);
    },
    2 * HANG_RUN_TIMEOUT_MS + 60_000,
  );

  it(
    'after the promotion (Route 53): bounded failure with one writer, the old primary fenced; a re-run converges',
    async () => {
      // Prepare
      const unit = unitName(UNITS.hangAfterPromotion);
      const primaryId = `${unit}-db`;
      const replicaId = `${unit}-db-replica`;
      const record = `${unit}-db.internal.example.com`;
      await w.world.query(primaryId, `CREATE TABLE IF NOT EXISTS ${ACKED} (item text NOT NULL)`);
      await w.world.query(primaryId, `INSERT INTO ${ACKED} (item) VALUES (?)`, [`${unit}-before-fence`]);
      const input = { mode: 'switchover', units: [unit], trigger: 'cli', reason: 'hang after promotion' };

      // Act: Route 53's control plane accepts every call and never answers; later it answers and the run is repeated
      const hang = w.world.emulator.faults.route53Down('hang');
      let failed: Run;
      try {
        failed = await execute('so-hang-after', input, hangOptions());
      } finally {
        hang.remove();
      }
      const cnameAfterFailure = (await resolveVia(w.world.dns.endpoint, record)).cname;
      const oldTakesWrites = await takesWrites(primaryId, `${unit}-old-after-failure`);
      const newTakesWrites = await takesWrites(replicaId, `${unit}-new-after-failure`);
      const fenceAfterFailure = await fenced(primaryId);
      // The catch-up bound short: a re-run that waited for a catch-up that cannot come would hold the runner for 300 s
      const rerun = await execute(
        'so-hang-after-rerun',
        { ...input, catchUpTimeoutSeconds: 10 },
        hangOptions(),
      );
      const rerunUnit = unitOf(rerun, unit);
      const fenceAfterRerun = await fenced(primaryId);
      const failedUnit = unitOf(failed, unit);
      lines.push(
        `switchover, Route 53 hanging: ${failed.result.status} after ${(failed.result.wallMs / 1000).toFixed(1)} s at ` +
          `${failedUnit?.failure?.step} (${failedUnit?.failure?.error}); old primary takes writes ${oldTakesWrites}, ` +
          `promoted one ${newTakesWrites}; re-run ${rerun.result.status} in ${(rerun.result.wallMs / 1000).toFixed(1)} s` +
          `${rerunUnit?.failure ? ` at ${rerunUnit.failure.step} (${rerunUnit.failure.error}: ${rerunUnit.failure.cause})` : ''}; ` +
          `re-run steps ${JSON.stringify(stepStatuses(rerun.report, unit))}; old primary fenced after it: ${fenceAfterRerun}`,
      );

      // Assess the hanging run: promoted, stopped at DNS in bounded time, never two writers
      expect(failed.result.status).toBe('FAILED');
      expect(failed.result.wallMs).toBeLessThan(HANG_RUN_TIMEOUT_MS);
      expect(failedUnit?.failure).toMatchObject({ step: 'updateDns', error: 'TransientAwsError' });
      expect(failedUnit?.failure?.cause).toContain('TimeoutError');
      expect(stepStatuses(failed.report, unit)).toMatchObject({
        fencePrimary: 'changed',
        promoteDatabase: 'changed',
        liftFence: 'changed',
        updateDns: 'failed',
      });
      expect(stepStatuses(failed.report, unit).unfencePrimary ?? 'not-reached').toBe('not-reached');
      expect(failedUnit?.switchover?.dataLossTransactions).toBe(0);
      expect(cnameAfterFailure).toBe(w.world.units.get(unit)?.primaryEndpoint);
      expect(fenceAfterFailure).toBe(1);
      expect(oldTakesWrites).toBe(false);
      expect(newTakesWrites).toBe(true);
      // Assess the re-run: never two writers (the old primary still fenced), the record moved, no second promotion
      expect(fenceAfterRerun, 'the old primary is fenced while the promoted replica takes writes').toBe(1);
      expect(rerun.result.status, JSON.stringify(rerun.result.error)).toBe('SUCCEEDED');
      expect(stepStatuses(rerun.report, unit)).toMatchObject({
        promoteDatabase: 'already-done',
        updateDns: 'changed',
      });
      expect(rerun.calls.filter((c) => c.fault !== undefined)).toEqual([]);
      expect(w.promotions.get(replicaId)).toBe(1);
      expect(await rowsOf(replicaId, `${unit}-before-fence`)).toEqual([`${unit}-before-fence`]);
      expect((await unitFacts(w.world, [unit])).filter((f) => !f.ok)).toEqual([]);
    },
    2 * HANG_RUN_TIMEOUT_MS + 60_000,
  );
});

describe('a hanging endpoint during a re-protect', () => {
  it(
    "the old Region's CreateDBInstanceReadReplica hangs: bounded failure, old primary kept; a re-run converges",
    async () => {
      // Prepare: a failover of the unit, then a row only the old primary takes
      const unit = unitName(UNITS.reprotectHang);
      const originalId = `${unit}-db`;
      const failover = await w.run('rp-hang-failover', { units: [unit], reason: 'before re-protect' });
      expect(failover.status).toBe('SUCCEEDED');
      await w.world.query(originalId, 'INSERT INTO orders (item) VALUES (?)', [
        `${unit}-only-on-old-primary`,
      ]);
      const input = { mode: 'reprotect', units: [unit], reason: 'hang in the old Region' };

      // Act
      const hang = w.world.emulator.faults.add({
        match: { service: 'rds', region: w.plan.primaryRegion, action: 'CreateDBInstanceReadReplica' },
        always: 'hang',
      });
      let failed: Run;
      try {
        failed = await execute('rp-hang', input, hangOptions());
      } finally {
        hang.remove();
      }
      const oldAfterFailure = (await rdsOld.send(new DescribeDBInstancesCommand({}))).DBInstances ?? [];
      const rerun = await execute('rp-hang-rerun', input, hangOptions());
      const failedUnit = unitOf(failed, unit);
      lines.push(
        `re-protect, CreateDBInstanceReadReplica hanging: ${failed.result.status} after ${(failed.result.wallMs / 1000).toFixed(1)} s ` +
          `(${failedUnit?.failure?.error}), ${faulted(failed.calls).length} calls left unanswered; re-run ` +
          `${rerun.result.status} in ${(rerun.result.wallMs / 1000).toFixed(1)} s`,
      );

      // Assess the hanging run: bounded, failed with the reason, nothing created, the old primary kept
      expect(failed.result.status).toBe('FAILED');
      expect(failed.result.wallMs).toBeLessThan(HANG_RUN_TIMEOUT_MS);
      expect(faulted(failed.calls).length).toBeGreaterThan(0);
      expect(faulted(failed.calls).every((c) => c.action === 'CreateDBInstanceReadReplica')).toBe(true);
      expect(failedUnit?.failure?.cause).toContain('TimeoutError');
      expect(applied(failed.calls, 'CreateDBInstanceReadReplica')).toEqual([]);
      const kept = oldAfterFailure.filter((i) => i.DBInstanceIdentifier?.startsWith(`${originalId}-old-`));
      expect(kept).toHaveLength(1);
      expect(oldAfterFailure.some((i) => i.DBInstanceIdentifier === originalId)).toBe(false);
      // Assess the re-run: one replica under the old primary's name, the old primary renamed once with its row
      expect(rerun.result.status, JSON.stringify(rerun.result.error)).toBe('SUCCEEDED');
      const all = [...failed.calls, ...rerun.calls];
      expect(applied(all, 'ModifyDBInstance')).toHaveLength(1);
      expect(applied(all, 'CreateDBInstanceReadReplica')).toHaveLength(1);
      const old = (await rdsOld.send(new DescribeDBInstancesCommand({}))).DBInstances ?? [];
      const replica = old.find((i) => i.DBInstanceIdentifier === originalId);
      expect(replica?.StatusInfos?.find((s) => s.StatusType === 'read replication')?.Status).toBe(
        'replicating',
      );
      expect(
        await rowsOf(kept[0]?.DBInstanceIdentifier as string, `${unit}-only-on-old-primary`, 'orders'),
      ).toEqual([`${unit}-only-on-old-primary`]);
    },
    3 * HANG_RUN_TIMEOUT_MS,
  );
});
