import {
  DescribeDBClustersCommand,
  DescribeGlobalClustersCommand,
  type GlobalCluster,
  RDSClient,
} from '@aws-sdk/client-rds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../functions/lib/report/index.js';
import type { CallLogEntry, FaultFailure, FaultRule } from '../../local/emulator/types.js';
import type { RunResult } from '../../local/runner.js';
import {
  applied,
  type EvidenceWorld,
  faulted,
  plannedAuroraUnits,
  productionMutations,
  readReport,
  startWorld,
  stepStatuses,
  unitFacts,
} from './support.js';

/**
 * Crash and re-run for the Aurora calls (issue 15, "the crash-and-re-run matrix covering the new calls"; the
 * instance matrix is test/evidence/crash-rerun.test.ts, docs/design/aurora.md, "Promotion", says why a re-run
 * converges). One world, started once, of nine Aurora units, one fresh unit per case:
 * - FailoverGlobalCluster (a failover of an Aurora PostgreSQL global database unit),
 * - SwitchoverGlobalCluster (`mode: "switchover"` of such a unit, with an application committing rows on the
 *   primary's server throughout: every acknowledged row must be on the new writer),
 * - PromoteReadReplicaDBCluster (a failover of an Aurora MySQL cross-Region read replica cluster unit),
 * each with three faults:
 * - `before`: the call is refused for good (an IAM-style denial: AccessDenied), nothing applied;
 * - `after-once`: the first such call takes effect and its answer is lost (the connection drops), once;
 * - `after-always`: every such call takes effect and loses its answer, through every SDK and state machine retry.
 * Then re-runs without faults until one succeeds (at least one, at most three runs in all): one writer, the CNAME on
 * it, verify OK, the call applied once and the server promoted once over every run.
 */

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

type Mode = 'before' | 'after-once' | 'after-always';
const MODES: readonly Mode[] = ['before', 'after-once', 'after-always'];

interface AuroraCall {
  action: 'FailoverGlobalCluster' | 'SwitchoverGlobalCluster' | 'PromoteReadReplicaDBCluster';
  /** The units of this call's cases: `<prefix>1..3`, one per mode. */
  prefix: string;
  runMode: 'failover' | 'switchover';
}
const CALLS: readonly AuroraCall[] = [
  { action: 'FailoverGlobalCluster', prefix: 'gf', runMode: 'failover' },
  { action: 'SwitchoverGlobalCluster', prefix: 'gs', runMode: 'switchover' },
  { action: 'PromoteReadReplicaDBCluster', prefix: 'rc', runMode: 'failover' },
];
const CASES = CALLS.flatMap((call) =>
  MODES.map((mode, i) => ({ ...call, mode, unit: `${call.prefix}${i + 1}` })),
);
const AURORA_PROMOTIONS = ['FailoverGlobalCluster', 'SwitchoverGlobalCluster', 'PromoteReadReplicaDBCluster'];
/** What RDS answers a promotion call while the cluster or global cluster is busy with an earlier one. */
const BUSY_REFUSALS = new Set(['InvalidDBClusterStateFault', 'InvalidGlobalClusterStateFault']);
const DENIAL: FaultFailure = { code: 'AccessDenied', status: 403 };

function faultFor(mode: Mode, action: string): FaultRule {
  const match = { service: 'rds', action };
  if (mode === 'before') return { match, always: DENIAL };
  if (mode === 'after-once') return { match, failCalls: [1], failWith: 'lose-response' };
  return { match, loseResponseRate: 1 };
}

/**
 * How the faulted run ends, by fault: a denial stops the unit at the promotion (the secret, promoted beside it, stays
 * promoted); a lost answer is absorbed, as the SDK's resend or the state machine's retry of the step describes the
 * clusters again, finds the operation under way or done and reports `already-done` without a second call.
 */
const FIRST_RUN: Record<Mode, { status: string; failure?: { step: string; error: string } }> = {
  before: { status: 'FAILED', failure: { step: 'promoteDatabase', error: 'AwsCallFailedError' } },
  'after-once': { status: 'SUCCEEDED' },
  'after-always': { status: 'SUCCEEDED' },
};

interface Run {
  result: RunResult;
  report: RunReport | undefined;
  calls: CallLogEntry[];
}
interface Figures {
  mode: Mode;
  action: string;
  firstRun: string;
  appliedOfAction: string;
  runs: number;
  seconds: number;
}
const figures: Figures[] = [];
const started = Date.now();
const ACKED = 'acked_rows';

let w: EvidenceWorld;
let rds: RDSClient;

beforeAll(async () => {
  w = await startWorld(
    plannedAuroraUnits([
      { prefix: 'gf', count: MODES.length, kind: 'global' },
      { prefix: 'gs', count: MODES.length, kind: 'global' },
      // One more: the refused switchover of a replica cluster unit (last describe).
      { prefix: 'rc', count: MODES.length + 1, kind: 'replica-cluster' },
    ]),
  );
  rds = new RDSClient({ ...w.world.emulator.clientConfig(w.plan.recoveryRegion), maxAttempts: 1 });
}, 300_000);

afterAll(async () => {
  const lines = figures.map(
    (f) => `| ${f.mode} | ${f.action} | ${f.firstRun} | ${f.appliedOfAction} | ${f.runs} | ${f.seconds} |`,
  );
  console.log(
    [
      `crash-rerun-aurora: ${Math.round((Date.now() - started) / 1000)} s for the file, world included`,
      '| fault | call | faulted run | applied/calls of it (all runs) | runs | seconds |',
      '|---|---|---|---|---|---|',
      ...lines,
    ].join('\n'),
  );
  rds?.destroy();
  await w?.close();
});

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

async function globalCluster(id: string): Promise<GlobalCluster | undefined> {
  return (await rds.send(new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: id })))
    .GlobalClusters?.[0];
}

/**
 * The application of a switchover case: commits numbered rows on the primary cluster's server (its own session per
 * statement, as after a dropped connection) until stopped, and keeps those the server acknowledged.
 */
function startApplication(unit: string): { acked: string[]; stop(): Promise<void> } {
  const acked: string[] = [];
  let stopping = false;
  let n = 0;
  const loop = (async () => {
    while (!stopping) {
      const item = `${unit}-app-${++n}`;
      try {
        await w.world.query(`${unit}-aurora`, `INSERT INTO ${ACKED} (item) VALUES (?)`, [item]);
        acked.push(item);
      } catch {
        // Fenced, read-only or rebuilt: not acknowledged, so not owed.
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    acked,
    stop: async () => {
      stopping = true;
      await loop;
    },
  };
}

describe.each(CALLS.map((c) => ({ ...c })))('$action: a fault, then re-runs', (call) => {
  it.each(CASES.filter((c) => c.action === call.action))(
    '$mode: converges on one writer, the CNAME on it, the call applied once, nothing promoted twice',
    async (c) => {
      // Prepare
      const { unit } = c;
      const primaryId = `${unit}-aurora`;
      const replicaId = `${unit}-aurora-dr`;
      const startedCase = Date.now();
      const input = {
        mode: c.runMode,
        units: [unit],
        trigger: 'cli',
        reason: `crash test ${c.mode} ${c.action}`,
      };
      let application: ReturnType<typeof startApplication> | undefined;
      if (c.runMode === 'switchover') {
        await w.world.query(primaryId, `CREATE TABLE IF NOT EXISTS ${ACKED} (item text NOT NULL)`);
        application = startApplication(unit);
        while (application.acked.length < 5) await new Promise((r) => setTimeout(r, 10));
      }

      // Act: the faulted run, then re-runs without faults until one succeeds
      const runs: Run[] = [];
      const fault = w.world.emulator.faults.add(faultFor(c.mode, c.action));
      try {
        runs.push(await execute(`${c.mode}-${c.action}-1`, input));
      } finally {
        fault.remove();
      }
      do {
        runs.push(await execute(`${c.mode}-${c.action}-${runs.length + 1}`, input));
      } while (runs.at(-1)?.result.status !== 'SUCCEEDED' && runs.length < 3);
      await application?.stop();
      const first = runs[0] as Run;
      const last = runs.at(-1) as Run;
      const all = runs.flatMap((r) => r.calls);
      const ofAction = all.filter((x) => x.action === c.action);
      figures.push({
        mode: c.mode,
        action: c.action,
        firstRun: ending(first, unit),
        appliedOfAction: `${applied(all, c.action).length}/${ofAction.length}`,
        runs: runs.length,
        seconds: Math.round((Date.now() - startedCase) / 100) / 10,
      });

      // Assess: the fault was injected on that call, and the faulted run ended as a fault of its kind makes it end
      expect(faulted(first.calls).length).toBeGreaterThan(0);
      expect(faulted(first.calls).every((x) => x.action === c.action)).toBe(true);
      const failure = first.report?.units.find((u) => u.unit === unit)?.failure;
      expect({
        status: first.result.status,
        ...(failure ? { failure: { step: failure.step, error: failure.error } } : {}),
      }).toEqual(FIRST_RUN[c.mode]);
      const firstOfAction = first.calls.filter((x) => x.action === c.action);
      if (c.mode === 'before') expect(firstOfAction.some((x) => x.applied)).toBe(false);
      else expect(firstOfAction[0]?.applied).toBe(true);

      // Assess: the last run converged: succeeded, every fact of the unit (writable, rows, CNAME on the promoted
      // cluster's endpoint, secret standalone, rotation attached) on the real servers and DNS, verify OK, lock free
      expect(last.result.status, JSON.stringify(last.result.error)).toBe('SUCCEEDED');
      expect(last.report?.outcome).toBe('succeeded');
      const facts = await unitFacts(w.world, [unit]);
      expect(facts.filter((f) => !f.ok)).toEqual([]);
      expect(facts).toHaveLength(5);
      const verify = last.report?.units
        .find((u) => u.unit === unit)
        ?.steps.find((s) => s.step === 'verifyConnectivity');
      expect(verify?.detail).toMatchObject({ writable: true });
      expect(await w.lockHolder()).toBeUndefined();

      // Assess: one writer, and nothing promoted twice
      if (c.action === 'PromoteReadReplicaDBCluster') {
        const cluster = (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: replicaId })))
          .DBClusters?.[0];
        expect(cluster?.Status).toBe('available');
        expect(cluster?.ReplicationSourceIdentifier).toBeUndefined();
      } else {
        const global = await globalCluster(`${unit}-global`);
        expect(global?.FailoverState).toBeUndefined();
        const writers = (global?.GlobalClusterMembers ?? []).filter((m) => m.IsWriter);
        expect(writers.map((m) => m.DBClusterArn?.split(':').at(-1))).toEqual([replicaId]);
      }
      expect(w.promotions.get(replicaId)).toBe(1);
      expect(w.promotions.get(primaryId)).toBeUndefined();
      // The call took effect once over every run; no other Aurora promotion call was made
      expect(applied(all, c.action)).toHaveLength(1);
      for (const other of AURORA_PROMOTIONS.filter((a) => a !== c.action)) {
        expect(all.filter((x) => x.action === other)).toEqual([]);
      }
      // Repeats were refused by RDS for the operation under way (answers lost or not), never applied again
      expect(
        ofAction
          .filter((x) => !x.applied)
          .every((x) => x.fault !== undefined || BUSY_REFUSALS.has(x.errorCode ?? '')),
      ).toBe(true);

      // Assess: the last run did only what had not taken effect before, and says already-done for the promotion
      const earlier = runs.slice(0, -1).flatMap((r) => r.calls);
      const statuses = stepStatuses(last.report, unit);
      expect(statuses.promoteDatabase).toBe(
        applied(earlier, c.action).length > 0 ? 'already-done' : 'changed',
      );
      expect(statuses.promoteSecret).toBe(
        applied(earlier, 'StopReplicationToReplica').length > 0 ? 'already-done' : 'changed',
      );
      expect(
        productionMutations(last.calls).every((x) => x.applied || BUSY_REFUSALS.has(x.errorCode ?? '')),
      ).toBe(true);
      expect(applied(all, 'StopReplicationToReplica')).toHaveLength(1);

      // Assess (switchover): every row the application was told was committed is on the new writer
      if (application) {
        expect(application.acked.length).toBeGreaterThan(5);
        const onNewWriter = new Set(
          (await w.world.query(replicaId, `SELECT item FROM ${ACKED}`)).map((r) => String(r.item)),
        );
        expect(application.acked.filter((item) => !onNewWriter.has(item))).toEqual([]);
      }
    },
    120_000,
  );
});

describe('a switchover of a cross-Region read replica cluster unit', () => {
  // docs/design/switchover.md, "Preflight": Aurora has no zero-loss switchover for a replica cluster, and
  // PromoteReadReplicaDBCluster alone would leave the primary taking writes beside the promoted cluster.
  it('is refused at preflight, before any change: nothing promoted, the primary still its source', async () => {
    // Prepare
    const unit = `rc${MODES.length + 1}`;
    const replicaId = `${unit}-aurora-dr`;

    // Act
    const run = await execute('switchover-replica-cluster', {
      mode: 'switchover',
      units: [unit],
      trigger: 'cli',
      reason: 'a switchover of a replica cluster unit',
    });

    // Assess
    expect(run.result.status).toBe('FAILED');
    expect(run.result.error?.name).toBe('PreflightFailedError');
    expect(run.result.error?.cause).toMatch(
      new RegExp(`${replicaId} is a cross-Region read replica cluster: Aurora has no zero-loss switchover`),
    );
    expect(productionMutations(run.calls)).toEqual([]);
    expect(w.promotions.get(replicaId)).toBeUndefined();
    const cluster = (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: replicaId })))
      .DBClusters?.[0];
    expect(cluster?.ReplicationSourceIdentifier).toMatch(new RegExp(`:cluster:${unit}-aurora$`));
    expect(await w.lockHolder()).toBeUndefined();
  });
});
