import type { HistoryEvent, HistoryEventType } from '@aws-sdk/client-sfn';
import { buildRunReport, type RunReport, type UnitRunRecord } from '../../functions/lib/report/index.js';
import type {
  LoadedRun,
  PollResult,
  PreflightReport,
  RunContext,
  StepName,
  StepResult,
} from '../../functions/lib/types.js';
import { STATE_NAMES as N } from '../../statemachine/failover.js';

/**
 * Recorded-style execution histories of the failover state machine, built the way Step Functions writes them:
 * ids in time order, `previousEventId` chaining each Parallel branch and Map iteration from the event that started
 * it, a Map's or Parallel's closing events pointing at the last branch event, Lambda tasks (payloadResponseOnly:
 * LambdaFunction* events) with their retries, and the state names of statemachine/failover.ts.
 */

export const START = Date.parse('2030-05-01T10:00:00.000Z');
export const at = (seconds: number) => new Date(START + seconds * 1000);
export const iso = (seconds: number) => at(seconds).toISOString();
export const MARKER = 'Pa55-MARKER-c1i9';

export const PLAN_NAME = 'shop-dr';
export const REGION = 'eu-central-1';
export const ACCOUNT = '123456789012';
export const EXECUTION_NAME = 'cli-failover-20300501T100000Z-abc123';
export const EXECUTION_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:execution:lifeboat-${PLAN_NAME}:${EXECUTION_NAME}`;
export const MAP_RUN_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:mapRun:lifeboat-${PLAN_NAME}/units:7d3f`;

interface Draft {
  key: number;
  at: number;
  type: HistoryEventType;
  prev: number | undefined;
  details: Partial<HistoryEvent>;
}

/** Collects events with provisional keys; `build()` numbers them in time order, as Step Functions does. */
export class HistoryBuilder {
  private readonly drafts: Draft[] = [];
  private nextKey = 1;

  add(
    type: HistoryEventType,
    seconds: number,
    prev: number | undefined,
    details: Partial<HistoryEvent> = {},
  ) {
    const key = this.nextKey++;
    this.drafts.push({ key, at: seconds, type, prev, details });
    return key;
  }

  thread(seconds: number, prev?: number): Thread {
    return new Thread(this, seconds, prev);
  }

  build(): HistoryEvent[] {
    const ordered = [...this.drafts].sort((a, b) => a.at - b.at || a.key - b.key);
    const ids = new Map(ordered.map((d, i) => [d.key, i + 1]));
    return ordered.map((d, i) => ({
      ...d.details,
      id: i + 1,
      previousEventId: d.prev === undefined ? 0 : (ids.get(d.prev) ?? 0),
      timestamp: at(d.at),
      type: d.type,
    }));
  }
}

/** One chain of events: a branch, an iteration, or the run itself. */
export class Thread {
  constructor(
    private readonly b: HistoryBuilder,
    public t: number,
    public last: number | undefined,
  ) {}

  event(type: HistoryEventType, dt: number, details: Partial<HistoryEvent> = {}): number {
    this.t += dt;
    this.last = this.b.add(type, this.t, this.last, details);
    return this.last;
  }

  /**
   * A Lambda task that returns `make(enteredAt, endedAt)`: entered, scheduled, started, (failed attempts, each
   * retried after 2 s), succeeded, exited. Returns what the task returned.
   */
  succeed<T>(
    name: string,
    input: unknown,
    seconds: number,
    make: (from: number, to: number) => T,
    retries: { error: string; cause: string }[] = [],
  ): T {
    const from = this.t;
    this.attempts(name, input, seconds, retries);
    const output = make(from, this.t + seconds);
    this.event('LambdaFunctionSucceeded', seconds, {
      lambdaFunctionSucceededEventDetails: { output: JSON.stringify(output) },
    });
    this.event('TaskStateExited', 0.01, { stateExitedEventDetails: { name, output: '{}' } });
    return output;
  }

  /** A Lambda task whose error is caught by the state machine (the Catch goes on from TaskStateExited). */
  fail(name: string, input: unknown, seconds: number, failure: { error: string; cause: string }): void {
    this.attempts(name, input, seconds, []);
    this.event('LambdaFunctionFailed', seconds, {
      lambdaFunctionFailedEventDetails: {
        error: failure.error,
        cause: lambdaCause(failure.error, failure.cause),
      },
    });
    this.event('TaskStateExited', 0.01, { stateExitedEventDetails: { name, output: '{}' } });
  }

  private attempts(
    name: string,
    input: unknown,
    seconds: number,
    retries: { error: string; cause: string }[],
  ) {
    this.event('TaskStateEntered', 0.02, {
      stateEnteredEventDetails: { name, input: JSON.stringify(input) },
    });
    for (const failure of retries) {
      this.scheduled();
      this.event('LambdaFunctionFailed', seconds, {
        lambdaFunctionFailedEventDetails: {
          error: failure.error,
          cause: lambdaCause(failure.error, failure.cause),
        },
      });
      this.t += 2; // the retry interval
    }
    this.scheduled();
  }

  private scheduled(): void {
    this.event('LambdaFunctionScheduled', 0.01, {
      lambdaFunctionScheduledEventDetails: { resource: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:step` },
    });
    this.event('LambdaFunctionStarted', 0.05);
  }

  state(kind: 'Pass' | 'Choice' | 'Wait' | 'Succeed', name: string, input: unknown = {}, seconds = 0.01) {
    this.event(`${kind}StateEntered`, 0.01, {
      stateEnteredEventDetails: { name, input: JSON.stringify(input) },
    });
    this.event(`${kind}StateExited`, seconds, { stateExitedEventDetails: { name, output: '{}' } });
  }

  /** Branches start from ParallelStateStarted; the Parallel closes from whichever branch ended last. */
  parallel(name: string, input: unknown, branches: ((t: Thread) => void)[]) {
    this.event('ParallelStateEntered', 0.01, {
      stateEnteredEventDetails: { name, input: JSON.stringify(input) },
    });
    const started = this.event('ParallelStateStarted', 0.01);
    const threads = branches.map((branch) => {
      const thread = new Thread(this.b, this.t, started);
      branch(thread);
      return thread;
    });
    const lastThread = threads.reduce((a, b) => (b.t > a.t ? b : a));
    this.t = lastThread.t;
    this.last = lastThread.last;
    this.event('ParallelStateSucceeded', 0.01);
    this.event('ParallelStateExited', 0.01, { stateExitedEventDetails: { name, output: '[]' } });
  }

  /** An inline Map: each iteration chains from MapStateStarted; the Map closes from the last iteration event. */
  map(name: string, input: unknown, iterations: ((t: Thread) => void)[]) {
    this.event('MapStateEntered', 0.01, { stateEnteredEventDetails: { name, input: JSON.stringify(input) } });
    const started = this.event('MapStateStarted', 0.01, {
      mapStateStartedEventDetails: { length: iterations.length },
    });
    const threads = iterations.map((iteration, index) => {
      const thread = new Thread(this.b, this.t + index * 0.01, started);
      thread.event('MapIterationStarted', 0.01, { mapIterationStartedEventDetails: { name, index } });
      iteration(thread);
      thread.event('MapIterationSucceeded', 0.01, { mapIterationSucceededEventDetails: { name, index } });
      return thread;
    });
    const lastThread = threads.reduce((a, b) => (b.t > a.t ? b : a));
    this.t = lastThread.t;
    this.last = lastThread.last;
    this.event('MapStateSucceeded', 0.01);
    this.event('MapStateExited', 0.01, { stateExitedEventDetails: { name, output: '{}' } });
  }
}

/** How Lambda reports a function error to Step Functions: the Cause is a JSON document. */
function lambdaCause(errorType: string, message: string): string {
  return JSON.stringify({
    errorType,
    errorMessage: message,
    trace: [`${errorType}: ${message}`, '    at step'],
  });
}

/* ---------------------------------------------------------------------------------------------- */
/* The payloads                                                                                    */
/* ---------------------------------------------------------------------------------------------- */

export const run: RunContext = {
  runId: EXECUTION_NAME,
  executionArn: EXECUTION_ARN,
  planName: PLAN_NAME,
  mode: 'failover',
  trigger: 'cli',
  reason: 'game day',
  startedAt: iso(0),
  account: ACCOUNT,
  primaryRegion: 'eu-west-1',
  recoveryRegion: REGION,
  targetRtoSeconds: 900,
};

export function unitPlan(name: string) {
  return {
    name,
    secret: { id: `${name}/db` },
    database: {
      engine: 'postgres' as const,
      primaryInstanceId: `${name}-db`,
      replicaInstanceId: `${name}-db-replica`,
      maxReplicaLagSeconds: 300,
    },
    dns: {
      hostedZoneId: 'Z0SHOP00EXAMPLE',
      recordName: `${name}-db.internal.example.com`,
      ttl: 5,
      strategy: 'cname' as const,
    },
    rotation: {
      lambdaArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}-rotation`,
      schedule: 30,
      rewriteRegionFields: false,
    },
    verify: { query: 'SELECT 1', requireTls: true, timeoutSeconds: 5 },
  };
}

function stepResult(
  step: StepName,
  unit: string,
  from: number,
  to: number,
  detail: StepResult['detail'] = {},
): StepResult {
  return {
    step,
    unit,
    outcome: 'changed',
    startedAt: iso(from),
    endedAt: iso(to),
    durationMs: Math.round((to - from) * 1000),
    detail,
    warnings: [],
  };
}

function poll(done: boolean, status: string, seconds: number): PollResult {
  return { done, status, waitSeconds: 3, observedAt: iso(seconds), detail: {} };
}

export interface Scenario {
  readonly history: HistoryEvent[];
  readonly report: RunReport;
  readonly status: 'SUCCEEDED' | 'FAILED';
  /** Seconds after the start at which the execution ends. */
  readonly endsAt: number;
  /** For a Distributed Map: each unit's child execution and its history. */
  readonly children?: { arn: string; name: string; history: HistoryEvent[] }[];
}

interface UnitScript {
  readonly name: string;
  /** Seconds the database promotion takes (polls every 3 s). */
  readonly promotionSeconds: number;
  /** Fail the DNS change with this error. */
  readonly dnsError?: { error: string; cause: string };
  /** Connectivity attempts refused before one succeeds. */
  readonly notReadyAttempts?: number;
}

/** One unit's iteration (or child execution), from `{run, unit, results}` to "Record unit success/failure". */
function unitIteration(t: Thread, script: UnitScript, records: UnitRunRecord[]): void {
  const unit = unitPlan(script.name);
  const payload = { run, unit };
  const state = { run, unit, results: {} };
  const results: UnitRunRecord['results'] = {};
  const record = {
    unit: unit.name,
    engine: 'postgres' as const,
    dns: { recordName: unit.dns.recordName, ttl: unit.dns.ttl, strategy: 'cname' },
  };
  t.parallel(N.promoteBoth, state, [
    (b) => {
      results.promoteSecret = b.succeed(N.promoteSecret, payload, 0.8, (from, to) =>
        stepResult('promoteSecret', unit.name, from, to, { call: 'StopReplicationToReplica' }),
      );
    },
    (b) => {
      results.promoteDatabase = b.succeed(N.promoteDatabase, payload, 1.2, (from, to) =>
        stepResult('promoteDatabase', unit.name, from, to),
      );
      b.state('Pass', N.startDatabasePolls, state);
      const polls = Math.ceil(script.promotionSeconds / 3);
      for (let i = 1; i <= polls; i++) {
        const done = i === polls;
        const status = done ? 'available' : i <= polls / 2 ? 'modifying' : 'rebooting';
        const last = b.succeed(N.checkDatabasePromotion, { ...payload, attempt: i }, 0.3, (_from, to) =>
          poll(done, status, to),
        );
        b.state('Choice', N.isDatabasePromoted, state);
        if (!done) {
          b.state('Wait', N.waitForDatabasePromotion, state, 3);
          b.state('Pass', N.countDatabasePolls, state);
        } else {
          results.waitForDatabasePromotion = { ...last, attempts: polls };
          b.state('Pass', N.databasePromoted, state);
        }
      }
    },
  ]);
  t.state('Choice', N.didPromotionsSucceed, state);
  t.state('Pass', N.collectPromotions, state);
  if (script.dnsError) {
    t.fail(N.updateDns, payload, 0.4, script.dnsError);
    const failure = {
      Error: script.dnsError.error,
      Cause: lambdaCause(script.dnsError.error, script.dnsError.cause),
    };
    t.state('Pass', N.unitFailed, { ...state, results, failure });
    records.push({ ...record, status: 'failed', results, failure });
    return;
  }
  const change = {
    changeId: '/change/C0SHOP',
    target: `${unit.name}-db-replica.abc.${REGION}.rds.amazonaws.com`,
  };
  results.updateDns = t.succeed(N.updateDns, payload, 0.4, (from, to) =>
    stepResult('updateDns', unit.name, from, to, change),
  );
  t.state('Pass', N.startDnsPolls, state);
  t.succeed(N.checkDnsChange, { ...payload, changeId: change.changeId, attempt: 1 }, 0.2, (_f, to) =>
    poll(false, 'PENDING', to),
  );
  t.state('Choice', N.isDnsInSync, state);
  t.state('Wait', N.waitForDnsChange, state, 2);
  t.state('Pass', N.countDnsPolls, state);
  const inSync = t.succeed(
    N.checkDnsChange,
    { ...payload, changeId: change.changeId, attempt: 2 },
    0.2,
    (_f, to) => poll(true, 'INSYNC', to),
  );
  results.waitForDnsInSync = { ...inSync, attempts: 2 };
  t.state('Choice', N.isDnsInSync, state);
  t.state('Pass', N.dnsInSync, state);
  // Settle an interrupted rotation, verify, then attach rotation (statemachine/failover.ts).
  results.settleRotation = t.succeed(N.settleRotation, { ...payload, phase: 'settle' }, 0.1, (from, to) => ({
    ...stepResult('settleRotation', unit.name, from, to),
    outcome: 'already-done',
  }));
  const refusals = Array.from({ length: script.notReadyAttempts ?? 0 }, () => ({
    error: 'ConnectivityNotReadyError',
    cause: `${unit.dns.recordName} still resolves to the old primary`,
  }));
  results.verifyConnectivity = t.succeed(
    N.verifyConnectivity,
    payload,
    0.6,
    (from, to) => stepResult('verifyConnectivity', unit.name, from, to),
    refusals,
  );
  results.attachRotation = t.succeed(N.attachRotation, payload, 0.5, (from, to) =>
    stepResult('attachRotation', unit.name, from, to),
  );
  t.state('Pass', N.unitSucceeded, { ...state, results });
  records.push({ ...record, status: 'succeeded', results });
}

/**
 * A failover of two units (orders and catalog) of plan shop-dr. `failCatalogDns`: the catalog unit's DNS change
 * fails (with a secret-looking marker in the Lambda's error message) and the run ends FAILED after its report.
 * `distributed`: the units run as child executions of a Distributed Map.
 */
export function failoverScenario(
  options: { failCatalogDns?: boolean; distributed?: boolean } = {},
): Scenario {
  const b = new HistoryBuilder();
  const t = b.thread(0);
  const units = [unitPlan('orders'), unitPlan('catalog')];
  const input = { mode: 'failover', units: ['orders', 'catalog'], reason: 'game day', trigger: 'cli' };
  t.event('ExecutionStarted', 0, {
    executionStartedEventDetails: {
      input: JSON.stringify(input),
      roleArn: `arn:aws:iam::${ACCOUNT}:role/sfn`,
    },
  });
  t.state('Pass', N.takePlan, input);
  const loaded: LoadedRun = { run, units, maxConcurrency: 10, plannedUnits: units.map((u) => u.name) };
  t.succeed(N.loadPlan, { plan: {}, input, execution: {} }, 0.3, () => loaded);
  const preflight: PreflightReport = {
    ok: true,
    checkedAt: iso(t.t + 1.6),
    durationMs: 1500,
    checks: [],
    errors: [],
    warnings: ['orders: replica lag unknown (GetMetricData returned no datapoint)'],
    readiness: {},
  };
  t.succeed(N.preflight, { run, units }, 1.5, () => preflight);
  t.state('Choice', N.isDryRun, { run, units, preflight });
  t.succeed(N.acquireLock, { run }, 0.2, (_f, to) => ({ lockedAt: iso(to), holder: run.runId }));

  const records: UnitRunRecord[] = [];
  const scripts: UnitScript[] = [
    { name: 'orders', promotionSeconds: 9, notReadyAttempts: 1 },
    {
      name: 'catalog',
      promotionSeconds: 12,
      ...(options.failCatalogDns
        ? {
            dnsError: {
              error: 'AwsCallFailedError',
              cause: `ChangeResourceRecordSets failed: AccessDenied (password=${MARKER})`,
            },
          }
        : {}),
    },
  ];
  const mapInput = { run, units, preflight, lock: {} };
  let children: Scenario['children'];
  if (options.distributed) {
    t.event('MapStateEntered', 0.01, {
      stateEnteredEventDetails: { name: N.failOverUnits, input: JSON.stringify(mapInput) },
    });
    t.event('MapStateStarted', 0.01, { mapStateStartedEventDetails: { length: 2 } });
    t.event('MapRunStarted', 0.05, { mapRunStartedEventDetails: { mapRunArn: MAP_RUN_ARN } });
    const begin = t.t;
    children = scripts
      .map((script, index) => {
        const cb = new HistoryBuilder();
        const ct = cb.thread(begin + 0.2 + index * 0.1);
        ct.event('ExecutionStarted', 0, {
          executionStartedEventDetails: {
            input: JSON.stringify({ run, unit: unitPlan(script.name), results: {} }),
          },
        });
        unitIteration(ct, script, records);
        ct.event('ExecutionSucceeded', 0.01, { executionSucceededEventDetails: { output: '{}' } });
        const name = `7d3f-${index}`;
        return {
          arn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:lifeboat-${PLAN_NAME}/units:${name}`,
          name,
          history: cb.build(),
          endsAt: ct.t,
        };
      })
      .map(({ endsAt, ...child }) => {
        t.t = Math.max(t.t, endsAt);
        return child;
      });
    t.event('MapRunSucceeded', 0.1);
    t.event('MapStateSucceeded', 0.01);
    t.event('MapStateExited', 0.01, { stateExitedEventDetails: { name: N.failOverUnits, output: '{}' } });
  } else {
    t.map(
      N.failOverUnits,
      mapInput,
      scripts.map((script) => (thread: Thread) => unitIteration(thread, script, records)),
    );
  }

  const reportEvent = { run, preflight, units: [...records].sort((a, b) => a.unit.localeCompare(b.unit)) };
  const report = t.succeed(N.report, reportEvent, 0.5, (_f, to) => buildRunReport(reportEvent, at(to)));
  t.state('Choice', N.wasRunLoaded, report);
  t.succeed(N.releaseLock, { run }, 0.2, () => ({ released: true }));
  t.state('Choice', N.wasReportWritten, report);
  t.state('Choice', N.didFailoverSucceed, report);
  const failed = report.outcome === 'failed';
  if (failed) {
    t.event('FailStateEntered', 0.01, {
      stateEnteredEventDetails: { name: N.failed, input: JSON.stringify(report) },
    });
    t.event('ExecutionFailed', 0.01, {
      executionFailedEventDetails: {
        error: report.error ?? 'FailoverIncompleteError',
        cause: report.summary,
      },
    });
  } else {
    t.state('Succeed', N.succeeded, report);
    t.event('ExecutionSucceeded', 0.01, {
      executionSucceededEventDetails: { output: JSON.stringify(report) },
    });
  }
  return {
    history: b.build(),
    report,
    status: failed ? 'FAILED' : 'SUCCEEDED',
    endsAt: t.t,
    ...(children ? { children } : {}),
  };
}
