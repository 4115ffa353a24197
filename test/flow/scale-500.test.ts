import { beforeAll, describe, expect, it } from 'vitest';
import { instanceDatabase } from '../../functions/lib/plan-names.js';
import { preflightForState } from '../../functions/lib/preflight.js';
import {
  jsonBytes,
  MAX_UNITS_PER_RUN,
  PREFLIGHT_STATE_BUDGET_BYTES,
  REPORT_OUTPUT_BUDGET_BYTES,
  STATE_DATA_LIMIT_BYTES,
  type SummarizeUnitEvent,
  summarizeUnitOutcome,
} from '../../functions/lib/report/index.js';
import type { MapRunManifest, MapRunResultEntry } from '../../functions/lib/run-objects.js';
import type { PreflightCheck, StepName, UnitStepInput } from '../../functions/lib/types.js';
import { STATE_NAMES as N } from '../../statemachine/failover.js';
import {
  type FlowRun,
  planWith,
  poll,
  preflightReport,
  runFlow,
  type Stub,
  stepResult,
} from '../helpers/flow-harness.js';
import { RUN_BUCKET } from '../helpers/synth-definition.js';

/*
 * Step results as large as the real steps make them (functions/lib/{secret,database,dns,verify}.ts): long ARNs and
 * endpoints, every detail field, a warning or two. A unit like this is about 3.7 KB before it is summarized.
 */
const LONG = 'payments-service-primary-database';
const endpointOf = (input: UnitStepInput) =>
  `${instanceDatabase(input.unit, 'this test').replicaInstanceId}-${LONG}.c1a2b3c4d5e6.us-west-2.rds.amazonaws.com`;
const WARNING =
  'replication to us-west-2 was InProgress (Replication in progress for the newest version) when promoted: the replica may hold an older value';

function fat(
  step: StepName,
  detail: (input: UnitStepInput) => Record<string, string | number | boolean | null>,
): Stub {
  return (input) => {
    const unitInput = input as unknown as UnitStepInput;
    const base = stepResult(step, input);
    return { ...base, detail: { ...base.detail, ...detail(unitInput) }, warnings: [WARNING, WARNING] };
  };
}

const FAT_STUBS: Record<string, Stub> = {
  [N.promoteSecret]: fat('promoteSecret', ({ unit }) => ({
    secretArn: `arn:aws:secretsmanager:us-west-2:123456789012:secret:${unit.secret.id}-${LONG}-AbCdEf`,
    region: 'us-west-2',
    previousPrimaryRegion: 'us-east-1',
    replicationStatus: 'InProgress',
    call: 'StopReplicationToReplica',
  })),
  [N.promoteDatabase]: fat('promoteDatabase', (input) => ({
    instance: instanceDatabase(input.unit, 'this test').replicaInstanceId,
    status: 'modifying',
    replicaSource: `arn:aws:rds:us-east-1:123456789012:db:${instanceDatabase(input.unit, 'this test').primaryInstanceId}`,
    endpoint: endpointOf(input),
    port: 5432,
    call: 'PromoteReadReplica',
    dbInstanceIdentifier: instanceDatabase(input.unit, 'this test').replicaInstanceId,
    backupRetentionPeriod: 7,
    previousReplicaSource: `arn:aws:rds:us-east-1:123456789012:db:${instanceDatabase(input.unit, 'this test').primaryInstanceId}`,
  })),
  [N.checkDatabasePromotion]: (input) =>
    poll(true, {
      detail: {
        instance: instanceDatabase((input as unknown as UnitStepInput).unit, 'this test').replicaInstanceId,
        status: 'available',
        endpoint: endpointOf(input as unknown as UnitStepInput),
        port: 5432,
        attempt: 57,
      },
    }),
  [N.updateDns]: fat('updateDns', (input) => ({
    strategy: 'cname',
    hostedZoneId: 'Z0LIFEBOAT00EXAMPLE',
    recordName: input.unit.dns.recordName,
    target: endpointOf(input),
    call: 'ChangeResourceRecordSets',
    action: 'UPSERT',
    type: 'CNAME',
    ttl: 60,
    previousTarget: `${instanceDatabase(input.unit, 'this test').primaryInstanceId}.c9z8y7x6w5v4.us-east-1.rds.amazonaws.com`,
    previousTtl: 60,
    changeId: `/change/C${input.unit.name.toUpperCase().replace(/-/g, '')}0123456789`,
    changedAt: new Date().toISOString(),
  })),
  [N.attachRotation]: fat('attachRotation', ({ unit }) => ({
    secretArn: `arn:aws:secretsmanager:us-west-2:123456789012:secret:${unit.secret.id}-${LONG}-AbCdEf`,
    region: 'us-west-2',
    rotationLambdaArn: unit.rotation.lambdaArn,
    schedule: '30',
    rotateImmediately: false,
    call: 'RotateSecret',
  })),
  [N.verifyConnectivity]: fat('verifyConnectivity', (input) => ({
    record: input.unit.dns.recordName,
    cnameTarget: endpointOf(input),
    cnameChain: `${input.unit.dns.recordName} -> ${endpointOf(input)}`,
    address: '10.20.30.40',
    endpoint: endpointOf(input),
    instance: instanceDatabase(input.unit, 'this test').replicaInstanceId,
    engine: input.unit.database.engine,
    port: 5432,
    database: null,
    ttl: 60,
    tls: true,
    tlsSubject: `CN=${endpointOf(input)}`,
    writable: true,
    writeProbe: 'temporary table, rolled back',
    queryOk: true,
    queryRows: 1,
    serverVersion: 'PostgreSQL 16.4 on aarch64-unknown-linux-gnu, compiled by gcc (GCC) 12.4.0, 64-bit',
  })),
};

/** A preflight in a disaster: every unit warns about lag and replication status, each check with figures. */
function disasterPreflight(units: string[]) {
  const checks: PreflightCheck[] = units.flatMap((unit) =>
    Array.from({ length: 12 }, (_, i) => ({
      unit,
      check: `check-${i}`,
      ok: i > 2,
      severity: 'warning' as const,
      message: `${unit}: a check message as long as the real ones, naming the replica ${unit}-db-replica and its figures`,
      figures: { replicaLagSeconds: null, replicaStatus: 'available' },
    })),
  );
  const warnings = units.flatMap((unit) => [
    `${unit}: database.replica-lag: replica lag of ${unit}-db-replica unknown: no ReplicaLag datapoint in the last 5 minutes`,
    `${unit}: secret.replication-status: replication status of secret "${unit}/db" in us-west-2 is not reported in us-west-2; only the primary in us-east-1 lists it`,
    `${unit}: database.replica-backups: ${unit}-db-replica has automated backups off: promotion takes a backup first and lasts longer`,
  ]);
  return preflightReport({
    checks,
    warnings,
    readiness: Object.fromEntries(units.map((u) => [u, { lag: null }])),
  });
}

/*
 * Step Functions' limits that a run must stay within (Step Functions quotas): 256 KiB of state data in any state, and
 * 25,000 events in one execution's history, the parent's and each child's. A Task state writes about five events
 * (entered, scheduled, started, succeeded, exited), so a child that enters N states writes fewer than 5N.
 */
const HISTORY_EVENT_LIMIT = 25_000;
const EVENTS_PER_STATE = 5;

async function fleetRun(
  units: number,
  mode: 'failover' | 'drill',
): Promise<FlowRun & { firstStarts: number[]; lastEnds: number[] }> {
  const plan = planWith(units, { maxConcurrency: units });
  const names = plan.units.map((u) => u.name);
  const firstStarts: number[] = [];
  const lastEnds: number[] = [];
  const run = await runFlow({
    plan,
    input: { mode },
    stubs: {
      ...FAT_STUBS,
      [N.promoteSecret]: (input, call) => {
        firstStarts.push(call.seq);
        return (FAT_STUBS[N.promoteSecret] as Stub)(input, call);
      },
      [N.summarizeUnit]: (input, call) => {
        lastEnds.push(call.seq);
        const { outcome, budgetBytes } = input as unknown as SummarizeUnitEvent;
        return summarizeUnitOutcome(outcome, budgetBytes);
      },
      // As functions/preflight.ts returns it.
      [N.preflight]: () => preflightForState(disasterPreflight(names), PREFLIGHT_STATE_BUDGET_BYTES),
    },
  });
  return { ...run, firstStarts, lastEnds };
}

/** The parent's state when the report step starts, without what is allowed to grow with the units (their names). */
function fixedPart(run: FlowRun): Record<string, unknown> {
  const { plannedUnits: _names, preflight: _preflight, ...rest } = run.reportState ?? {};
  return rest;
}

describe(`a run of ${MAX_UNITS_PER_RUN} units (the plan's most), all at once`, () => {
  let small: FlowRun;
  beforeAll(async () => {
    small = await fleetRun(10, 'failover');
  }, 60_000);

  it.each(['failover', 'drill'] as const)(
    `runs a %s of ${MAX_UNITS_PER_RUN} units with large step results: units from S3, whole outcomes to S3, the parent's state and history the same as at 10 units`,
    async (mode) => {
      // Act
      const run = await fleetRun(MAX_UNITS_PER_RUN, mode);

      // Assess
      expect(run.status).toBe('succeeded');
      expect(run.report?.units).toHaveLength(MAX_UNITS_PER_RUN);
      expect(run.report?.units.every((u) => u.status === 'succeeded')).toBe(true);
      expect(run.report?.recoveryTimeSeconds).not.toBeNull();
      if (mode === 'drill') expect(run.report?.drill?.cleanup).toBe('clean');

      // The Map read the units from S3 and wrote every outcome there, whole (no unit trimmed to a share).
      const units = JSON.parse(run.objects.get(`${RUN_BUCKET}/runs/orders-dr/run-1/units.json`) ?? '[]');
      expect(units).toHaveLength(MAX_UNITS_PER_RUN);
      const mapRun = run.reportState?.mapRun as { ResultWriterDetails: { Bucket: string; Key: string } };
      const manifest = JSON.parse(
        run.objects.get(`${RUN_BUCKET}/${mapRun.ResultWriterDetails.Key}`) ?? '{}',
      ) as MapRunManifest;
      const succeeded = (manifest.ResultFiles.SUCCEEDED ?? []).flatMap(
        (file) => JSON.parse(run.objects.get(`${RUN_BUCKET}/${file.Key}`) ?? '[]') as MapRunResultEntry[],
      );
      expect(succeeded).toHaveLength(MAX_UNITS_PER_RUN);
      const outcomes = run.reportInput?.units ?? [];
      expect(outcomes).toHaveLength(MAX_UNITS_PER_RUN);
      for (const outcome of outcomes) {
        expect(outcome.trimmed).toBeUndefined();
        expect(outcome.results.promoteSecret?.warnings).toHaveLength(2);
        // Each child's output, and so each result entry, is far within the 256 KiB of one execution's output.
        expect(jsonBytes(outcome)).toBeLessThan(STATE_DATA_LIMIT_BYTES / 16);
      }
      // Together they would not have fitted the parent's state: that is what the ResultWriter is for.
      expect(jsonBytes(outcomes)).toBeGreaterThan(4 * STATE_DATA_LIMIT_BYTES);

      // maxConcurrency is the run's size: every unit started before any unit finished.
      expect(run.firstStarts).toHaveLength(MAX_UNITS_PER_RUN);
      expect(Math.max(...run.firstStarts)).toBeLessThan(Math.min(...run.lastEnds));

      // The parent: every state's data within the limit; after the preflight, only the unit names grow with the units.
      for (const state of run.parentStates) expect(state.bytes).toBeLessThan(STATE_DATA_LIMIT_BYTES);
      // From the state that keeps only the names to the report's input (its output is the report, within its budget).
      const from = run.parentStates.findIndex((s) => s.event === 'StateExited' && s.name === N.keepUnitNames);
      const to = run.parentStates.findIndex((s) => s.event === 'StateEntered' && s.name === N.report);
      const after = run.parentStates.slice(from, to + 1);
      expect(after.length).toBeGreaterThan(5);
      const names = jsonBytes(run.reportState?.plannedUnits);
      for (const state of after) {
        expect(state.bytes).toBeLessThan(names + PREFLIGHT_STATE_BUDGET_BYTES + 4_000);
      }
      expect(jsonBytes(run.reportState?.preflight)).toBeLessThanOrEqual(PREFLIGHT_STATE_BUDGET_BYTES);
      if (mode === 'failover') {
        expect(jsonBytes(fixedPart(run))).toBe(jsonBytes(fixedPart(small)));
        // The parent's history: the same states, so the same events, at 500 units as at 10.
        expect(run.parentStates.map((s) => `${s.event} ${s.name}`)).toEqual(
          small.parentStates.map((s) => `${s.event} ${s.name}`),
        );
      }
      expect(run.parentStates.length).toBeLessThan(100);

      // Each child: its own history, far within 25,000 events.
      const statesPerUnit = run.entered.length / MAX_UNITS_PER_RUN;
      expect(statesPerUnit * EVENTS_PER_STATE).toBeLessThan(HISTORY_EVENT_LIMIT / 100);

      // The execution's output: the report, trimmed to its budget; the whole report is in S3.
      expect(jsonBytes(run.output)).toBeLessThanOrEqual(REPORT_OUTPUT_BUDGET_BYTES);
      expect(run.output?.outcome).toBe('succeeded');
      expect(run.output?.mode).toBe(mode);
    },
    120_000,
  );
});
