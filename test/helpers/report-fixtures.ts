import type { DrillResource } from '../../functions/lib/drill.js';
import { buildRunReport, type RunReport, type UnitRunRecord } from '../../functions/lib/report/index.js';
import type { PreflightReport, RunContext, StepName, StepResult } from '../../functions/lib/types.js';

/** Three reports built the way the report step builds them: a succeeded failover, a failed one and a drill. */
export const START = Date.parse('2030-05-01T10:00:00.000Z');
export const at = (seconds: number) => new Date(START + seconds * 1000).toISOString();
/** Text that must never reach a rendered report (put where a step's detail names a password). */
export const MARKER = 'Pa55-MARKER-h7ml';
/** A reason with markup in it: the renderers must show it as text. */
export const HOSTILE_REASON = `<script>alert(1)</script> "db" & 'down' | **bold** [x](http://evil) \`tick\``;

export const run: RunContext = {
  runId: 'run-1',
  executionArn: 'arn:aws:states:us-west-2:123456789012:execution:lifeboat-orders-dr:run-1',
  planName: 'orders-dr',
  mode: 'failover',
  trigger: 'alarm',
  reason: HOSTILE_REASON,
  startedAt: at(0),
  account: '123456789012',
  primaryRegion: 'us-east-1',
  recoveryRegion: 'us-west-2',
  targetRtoSeconds: 300,
};

export const preflight: PreflightReport = {
  ok: true,
  checkedAt: at(2),
  durationMs: 1800,
  checks: [],
  errors: [],
  warnings: ['<b>orders</b>: replica lags 4 s'],
  readiness: { orders: { replicaLagSeconds: 4 }, billing: { replicaLagSeconds: 0 } },
};

function step(
  name: StepName,
  unit: string,
  from: number,
  to: number,
  extra: Partial<StepResult> = {},
): StepResult {
  return {
    step: name,
    unit,
    outcome: 'changed',
    startedAt: at(from),
    endedAt: at(to),
    durationMs: (to - from) * 1000,
    detail: {},
    warnings: [],
    ...extra,
  };
}

export function succeededUnit(unit: string, verifiedAt = 200): UnitRunRecord {
  return {
    unit,
    engine: 'postgres',
    dns: { recordName: `${unit}-db.internal.example.com`, ttl: 30, strategy: 'cname' },
    status: 'succeeded',
    results: {
      promoteSecret: step('promoteSecret', unit, 5, 6),
      promoteDatabase: step('promoteDatabase', unit, 5, 7, {
        detail: { instance: `${unit}-db-replica`, password: MARKER },
      }),
      waitForDatabasePromotion: {
        done: true,
        status: 'available',
        observedAt: at(150),
        detail: {},
        attempts: 6,
      },
      updateDns: step('updateDns', unit, 151, 152, {
        detail: { changeId: 'C123', target: 'x.rds.amazonaws.com', previousTtl: 120 },
      }),
      waitForDnsInSync: { done: true, status: 'INSYNC', observedAt: at(180), detail: {}, attempts: 3 },
      settleRotation: step('settleRotation', unit, 180, 181, { warnings: ['cleared AWSPENDING <v2>'] }),
      verifyConnectivity: step('verifyConnectivity', unit, 181, verifiedAt),
      attachRotation: step('attachRotation', unit, verifiedAt, verifiedAt + 1),
    },
  };
}

function failedUnit(unit: string): UnitRunRecord {
  const record = succeededUnit(unit);
  record.status = 'failed';
  record.results = {
    promoteSecret: record.results.promoteSecret,
    promoteDatabase: record.results.promoteDatabase,
    waitForDatabasePromotion: {
      done: false,
      status: 'modifying',
      observedAt: at(240),
      detail: {},
      attempts: 12,
    },
  } as UnitRunRecord['results'];
  record.failure = { Error: 'DatabasePromotionTimeoutError', Cause: 'orders-db-replica still <modifying>' };
  return record;
}

const resource = (kind: DrillResource['kind'], status: DrillResource['status']): DrillResource => ({
  kind,
  id: `lifeboat-drill-ce5dfaa8-${kind}`,
  region: 'us-west-2',
  status,
});

function drillUnit(unit: string): UnitRunRecord {
  const record = succeededUnit(unit, 260);
  record.results = {
    prepareDrill: {
      outcome: 'changed',
      startedAt: at(0),
      endedAt: at(5),
      durationMs: 5000,
      detail: { call: 'CreateDBInstanceReadReplica' },
      warnings: [],
      resources: [resource('db-instance', 'created')],
    },
    waitForDrillCopies: {
      done: true,
      status: 'available/InSync',
      observedAt: at(120),
      detail: {},
      attempts: 9,
    },
    ...record.results,
    promoteSecret: step('promoteSecret', unit, 131, 132),
    promoteDatabase: step('promoteDatabase', unit, 130, 131),
    cleanUpDrill: {
      done: true,
      status: 'clean',
      observedAt: at(270),
      detail: {},
      attempts: 2,
      resources: [resource('db-instance', 'deleted')],
      remaining: [],
    },
  };
  return record;
}

const END = new Date(START + 300_000);

export function succeededReport(): RunReport {
  return buildRunReport(
    {
      run,
      preflight,
      units: [succeededUnit('orders'), succeededUnit('billing', 240)],
      approval: {
        decision: 'approved',
        by: 'arn:aws:iam::123456789012:user/<alice>',
        at: at(1),
        reason: 'go & fix',
      },
    },
    END,
  );
}

export function failedReport(): RunReport {
  return buildRunReport(
    { run, preflight, units: [failedUnit('orders'), succeededUnit('billing', 240)] },
    END,
  );
}

export function drillReport(): RunReport {
  return buildRunReport(
    { run: { ...run, runId: 'drill-1', mode: 'drill' }, preflight, units: [drillUnit('orders')] },
    END,
  );
}
