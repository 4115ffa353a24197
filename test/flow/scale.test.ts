import { describe, expect, it } from 'vitest';
import { preflightForState } from '../../functions/lib/preflight.js';
import {
  jsonBytes,
  MAX_UNITS_PER_RUN,
  MIN_UNIT_OUTCOME_BYTES,
  PREFLIGHT_STATE_BUDGET_BYTES,
  REPORT_OUTPUT_BUDGET_BYTES,
  STATE_DATA_LIMIT_BYTES,
  summarizeUnitOutcome,
  UNIT_OUTCOMES_BUDGET_BYTES,
  type UnitRunRecord,
} from '../../functions/lib/report/index.js';
import type { PreflightCheck, StepName, UnitStepInput } from '../../functions/lib/types.js';
import { STATE_NAMES as N } from '../../statemachine/failover.js';
import { planWith, poll, preflightReport, runFlow, type Stub, stepResult } from '../helpers/flow-harness.js';

/*
 * Step results as large as the real steps make them (functions/lib/{secret,database,dns,verify}.ts): long ARNs and
 * endpoints, every detail field, a warning or two. A unit like this is about 3.7 KB before it is summarized.
 */
const LONG = 'payments-service-primary-database';
const endpointOf = (input: UnitStepInput) =>
  `${input.unit.database.replicaInstanceId}-${LONG}.c1a2b3c4d5e6.us-west-2.rds.amazonaws.com`;
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
    instance: input.unit.database.replicaInstanceId,
    status: 'modifying',
    replicaSource: `arn:aws:rds:us-east-1:123456789012:db:${input.unit.database.primaryInstanceId}`,
    endpoint: endpointOf(input),
    port: 5432,
    call: 'PromoteReadReplica',
    dbInstanceIdentifier: input.unit.database.replicaInstanceId,
    backupRetentionPeriod: 7,
    previousReplicaSource: `arn:aws:rds:us-east-1:123456789012:db:${input.unit.database.primaryInstanceId}`,
  })),
  [N.checkDatabasePromotion]: (input) =>
    poll(true, {
      detail: {
        instance: (input as unknown as UnitStepInput).unit.database.replicaInstanceId,
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
    previousTarget: `${input.unit.database.primaryInstanceId}.c9z8y7x6w5v4.us-east-1.rds.amazonaws.com`,
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
    instance: input.unit.database.replicaInstanceId,
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

describe('a plan at the scale limit', () => {
  it.each(['failover', 'drill'] as const)(
    `runs a %s of ${MAX_UNITS_PER_RUN} units with large step results: every state, the Map's results and the output stay under 256 KiB`,
    async (mode) => {
      // Prepare
      const plan = planWith(MAX_UNITS_PER_RUN, { maxConcurrency: 40 });
      const names = plan.units.map((u) => u.name);
      const sizes: number[] = [];

      // Act
      const run = await runFlow({
        plan,
        input: { mode },
        stubs: {
          ...FAT_STUBS,
          // As functions/preflight.ts returns it.
          [N.preflight]: () => preflightForState(disasterPreflight(names), PREFLIGHT_STATE_BUDGET_BYTES),
          [N.summarizeUnit]: (input) => {
            const { outcome, budgetBytes } = input as unknown as {
              outcome: UnitRunRecord;
              budgetBytes: number;
            };
            sizes.push(jsonBytes(outcome));
            return summarizeUnitOutcome(outcome, budgetBytes);
          },
        },
      });

      // Assess
      expect(run.status).toBe('succeeded');
      expect(run.report?.units).toHaveLength(MAX_UNITS_PER_RUN);
      expect(run.report?.units.every((u) => u.status === 'succeeded')).toBe(true);
      expect(run.report?.recoveryTimeSeconds).not.toBeNull();
      // Before summarizing, the outcomes would not have fitted.
      expect(Math.min(...sizes) * MAX_UNITS_PER_RUN).toBeGreaterThan(STATE_DATA_LIMIT_BYTES);
      const outcomes = run.reportInput?.units ?? [];
      expect(outcomes).toHaveLength(MAX_UNITS_PER_RUN);
      for (const outcome of outcomes) {
        expect(jsonBytes(outcome)).toBeLessThanOrEqual(MIN_UNIT_OUTCOME_BYTES);
        expect(outcome.trimmed).toBeDefined();
      }
      expect(jsonBytes(outcomes)).toBeLessThanOrEqual(UNIT_OUTCOMES_BUDGET_BYTES);
      expect(jsonBytes(run.reportInput?.preflight)).toBeLessThanOrEqual(PREFLIGHT_STATE_BUDGET_BYTES);
      // The largest state of the parent: everything the report step receives.
      expect(jsonBytes(run.reportInput)).toBeLessThan(STATE_DATA_LIMIT_BYTES);
      expect(jsonBytes(run.output)).toBeLessThanOrEqual(REPORT_OUTPUT_BUDGET_BYTES);
      expect(run.output?.units).toHaveLength(MAX_UNITS_PER_RUN);
      expect(run.output?.outcome).toBe('succeeded');
      expect(run.output?.mode).toBe(mode);
      if (mode === 'drill') expect(run.report?.drill?.cleanup).toBe('clean');
    },
    60_000,
  );
});
