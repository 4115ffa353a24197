import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  closeEndedRun,
  type EndedRunDeps,
  HISTORY_STATES,
  type StatusChangeEvent,
} from '../../functions/lib/ended-run.js';
import { InputInvalidError } from '../../functions/lib/errors.js';
import type { RunReport } from '../../functions/lib/report/index.js';
import type { RunContext } from '../../functions/lib/types.js';
import { STATE_NAMES } from '../../statemachine/failover.js';
import { fakeLockTable } from '../helpers/fake-lock-table.js';

const MACHINE = 'arn:aws:states:us-west-2:123456789012:stateMachine:lifeboat-orders-dr';
const arnOf = (name: string) => `arn:aws:states:us-west-2:123456789012:execution:lifeboat-orders-dr:${name}`;
const TABLE = 'locks';
const creds = { accessKeyId: 't', secretAccessKey: 't' };
const sfnMock = mockClient(SFNClient);
const s3Mock = mockClient(S3Client);
const snsMock = mockClient(SNSClient);

afterEach(() => {
  sfnMock.reset();
  s3Mock.reset();
  snsMock.reset();
});

function runOf(name: string, mode: RunContext['mode'] = 'failover'): RunContext {
  return {
    runId: name,
    executionArn: arnOf(name),
    planName: 'orders-dr',
    mode,
    trigger: 'console',
    startedAt: '2030-05-01T10:00:00.000Z',
    account: '123456789012',
    primaryRegion: 'us-east-1',
    recoveryRegion: 'us-west-2',
    targetRtoSeconds: 900,
  };
}

const unit = {
  name: 'orders',
  secret: { id: 'orders/db' },
  database: { engine: 'postgres', primaryInstanceId: 'p', replicaInstanceId: 'r', maxReplicaLagSeconds: 300 },
  dns: { hostedZoneId: 'Z1', recordName: 'db.example.com', ttl: 60, strategy: 'cname' },
};

/** A parent execution's history as GetExecutionHistory returns it, up to `upTo` (state names of the definition). */
function history(run: RunContext, upTo: 'units' | 'report'): HistoryEvent[] {
  const loaded = { run, units: [unit], maxConcurrency: 10, plannedUnits: ['orders'] };
  const events: Partial<HistoryEvent>[] = [
    { type: 'ExecutionStarted', executionStartedEventDetails: { input: '{}' } },
    { type: 'TaskStateEntered', stateEnteredEventDetails: { name: HISTORY_STATES.loadPlan, input: '{}' } },
    {
      type: 'TaskStateExited',
      stateExitedEventDetails: { name: HISTORY_STATES.loadPlan, output: JSON.stringify(loaded) },
    },
    {
      type: 'TaskStateExited',
      stateExitedEventDetails: {
        name: HISTORY_STATES.preflight,
        output: JSON.stringify({
          ...loaded,
          preflight: { ok: true, errors: [], warnings: [], durationMs: 5 },
        }),
      },
    },
    {
      type: 'MapStateEntered',
      stateEnteredEventDetails: { name: HISTORY_STATES.failOverUnits, input: '{}' },
    },
  ];
  if (upTo === 'report') {
    events.push(
      {
        type: 'MapStateExited',
        stateExitedEventDetails: { name: HISTORY_STATES.failOverUnits, output: '{}' },
      },
      { type: 'TaskStateEntered', stateEnteredEventDetails: { name: HISTORY_STATES.report, input: '{}' } },
      {
        type: 'TaskStateExited',
        stateExitedEventDetails: {
          name: HISTORY_STATES.report,
          output: JSON.stringify({ reportVersion: 1, runId: run.runId, units: [] }),
        },
      },
    );
  }
  return events.map((e, i) => ({ id: i + 1, timestamp: new Date(), ...e }) as HistoryEvent);
}

function world(options: { status: string; events: HistoryEvent[]; error?: string; cause?: string }) {
  const table = fakeLockTable();
  sfnMock.on(DescribeExecutionCommand).resolves({
    status: options.status as never,
    startDate: new Date('2030-05-01T10:00:00.000Z'),
    ...(options.error ? { error: options.error } : {}),
    ...(options.cause ? { cause: options.cause } : {}),
  });
  sfnMock.on(GetExecutionHistoryCommand).resolves({ events: options.events });
  s3Mock.on(PutObjectCommand).resolves({});
  snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
  const deps: EndedRunDeps = {
    sfn: new SFNClient({ region: 'us-west-2', credentials: creds }),
    dynamodb: table.client as DynamoDBClient,
    s3: new S3Client({ region: 'us-west-2', credentials: creds }),
    sns: new SNSClient({ region: 'us-west-2', credentials: creds }),
    drill: () => {
      throw new Error('no drill in this test');
    },
    sleep: async () => undefined,
    deadline: () => Date.now() + 60_000,
    now: () => new Date('2030-05-01T12:00:00.000Z'),
  };
  const config = {
    stateMachineArn: MACHINE,
    lockTableName: TABLE,
    reportBucket: 'reports',
    reportTopicArn: 'arn:t',
  };
  return { table, deps, config };
}

function statusChange(name: string, status: string, stateMachineArn = MACHINE): StatusChangeEvent {
  return {
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    detail: { executionArn: arnOf(name), stateMachineArn, name, status, startDate: 1, stopDate: 2 },
  };
}

function storedReport(): RunReport {
  const body = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input.Body;
  return JSON.parse(String(body)) as RunReport;
}

describe('the ended-run handler (issue 9, item 6a)', () => {
  it('reads the state names the definition uses', () => {
    // Assess
    expect(HISTORY_STATES).toEqual({
      loadPlan: STATE_NAMES.loadPlan,
      preflight: STATE_NAMES.preflight,
      failOverUnits: STATE_NAMES.failOverUnits,
      report: STATE_NAMES.report,
    });
  });

  it('a run that timed out in its units: writes the report (where it stopped, every unit stopped) and releases its lock', async () => {
    // Prepare
    const run = runOf('run-1');
    const w = world({ status: 'TIMED_OUT', events: history(run, 'units'), error: 'States.Timeout' });
    w.table.holdFor('orders-dr', 'run-1', run.executionArn, 'failover');

    // Act
    const outcome = await closeEndedRun(w.deps, w.config, statusChange('run-1', 'TIMED_OUT'));

    // Assess
    expect(outcome).toMatchObject({ action: 'closed', report: 'written', lockReleased: true });
    expect(outcome.lastState).toBe(STATE_NAMES.failOverUnits);
    expect(w.table.holderOf('orders-dr')).toBeUndefined();
    const report = storedReport();
    expect(report.runId).toBe('run-1');
    expect(report.outcome).toBe('failed');
    // Not States.Timeout: the report would take it for an approval that ran out.
    expect(report.failure?.error).toBe('ExecutionTimedOut');
    expect(report.failure?.stage).toBe('the units');
    expect(report.failure?.cause).toContain(`timed out at state "${STATE_NAMES.failOverUnits}"`);
    expect(report.units.map((u) => [u.unit, u.status])).toEqual([['orders', 'failed']]);
    expect(s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key)).toEqual([
      'reports/orders-dr/run-1.json',
      'reports/orders-dr/latest.json',
      'reports/orders-dr/run-1.html',
      'reports/orders-dr/run-1.md',
      'reports/orders-dr/latest.html',
    ]);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('a failed run that wrote its report: no second report; its lock is released only if still held by it', async () => {
    // Prepare
    const run = runOf('run-2');
    const w = world({ status: 'FAILED', events: history(run, 'report') });
    w.table.holdFor('orders-dr', 'run-2', run.executionArn, 'failover');

    // Act
    const outcome = await closeEndedRun(w.deps, w.config, statusChange('run-2', 'FAILED'));

    // Assess
    expect(outcome).toMatchObject({ report: 'by-the-run', lockReleased: true });
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(w.table.holderOf('orders-dr')).toBeUndefined();
  });

  it("a drill stopped by a failover: reported stopped with the failover's cause; the failover's lock is left alone", async () => {
    // Prepare
    const run = runOf('drill-1', 'drill');
    const w = world({
      status: 'ABORTED',
      events: history(run, 'units').slice(0, 4),
      error: 'DrillPreemptedByFailover',
      cause: 'failover run run-9 took over the lock',
    });
    w.table.holdFor('orders-dr', 'run-9', arnOf('run-9'), 'failover');

    // Act
    const outcome = await closeEndedRun(w.deps, w.config, statusChange('drill-1', 'ABORTED'));

    // Assess
    expect(outcome).toMatchObject({ report: 'written', lockReleased: false });
    expect(outcome.drillCleanup).toBeUndefined(); // stopped before its units: no copies were made
    expect(w.table.holderOf('orders-dr')).toBe('run-9');
    const report = storedReport();
    expect(report.failure?.error).toBe('DrillPreemptedByFailover');
    expect(report.failure?.cause).toContain('failover run run-9 took over the lock');
    expect(report.units.map((u) => [u.unit, u.status])).toEqual([['orders', 'not-started']]);
  });

  it('an execution redriven since the event (RUNNING again) is left alone', async () => {
    // Prepare
    const run = runOf('run-3');
    const w = world({ status: 'RUNNING', events: history(run, 'units') });
    w.table.holdFor('orders-dr', 'run-3', run.executionArn, 'failover');

    // Act
    const outcome = await closeEndedRun(w.deps, w.config, statusChange('run-3', 'FAILED'));

    // Assess
    expect(outcome.action).toBe('skipped');
    expect(w.table.holderOf('orders-dr')).toBe('run-3');
    expect(sfnMock.commandCalls(GetExecutionHistoryCommand)).toHaveLength(0);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('a run refused before it loaded (no history of LoadPlan): reported by its execution name; the lock it never held stays', async () => {
    // Prepare
    const w = world({ status: 'FAILED', events: [], error: 'States.Runtime', cause: 'boom' });
    w.table.holdFor('orders-dr', 'other', arnOf('other'), 'failover');

    // Act
    const outcome = await closeEndedRun(w.deps, w.config, statusChange('run-4', 'FAILED'));

    // Assess
    expect(outcome).toMatchObject({ report: 'written', lockReleased: false });
    expect(storedReport()).toMatchObject({ runId: 'run-4', planName: 'orders-dr' });
    expect(w.table.holderOf('orders-dr')).toBe('other');
  });

  it.each([
    [{ ...statusChange('x', 'TIMED_OUT'), source: 'aws.cloudwatch' }, 'source'],
    [statusChange('x', 'SUCCEEDED'), 'detail.status'],
    [statusChange('x', 'ABORTED', `${MACHINE}-other`), 'is not this plan'],
    [
      { source: 'aws.states', 'detail-type': 'Step Functions Execution Status Change' },
      'detail.executionArn',
    ],
  ])(
    'refuses an event that is not an ended execution of this state machine (%#), before any call',
    async (event, problem) => {
      // Prepare
      const w = world({ status: 'FAILED', events: [] });

      // Act
      const error = await closeEndedRun(w.deps, w.config, event).catch((e: Error) => e);

      // Assess
      expect(error).toBeInstanceOf(InputInvalidError);
      expect((error as Error).message).toContain(problem);
      expect(sfnMock.calls()).toHaveLength(0);
    },
  );
});

describe('the ended-run handler with the units in S3 (issue 14)', () => {
  it('a run that timed out in its units, whose LoadPlan output names units.json instead of carrying the units: reads them and reports each unit stopped', async () => {
    // Prepare: LoadPlan's output as functions/load-plan.ts returns it (functions/lib/run-objects.ts).
    const run = runOf('run-9');
    const key = 'runs/orders-dr/run-9/units.json';
    const events = history(run, 'units').map((e) =>
      e.stateExitedEventDetails?.name === HISTORY_STATES.loadPlan
        ? {
            ...e,
            stateExitedEventDetails: {
              ...e.stateExitedEventDetails,
              output: JSON.stringify({ run, maxConcurrency: 10, plannedUnits: ['orders'], unitsKey: key }),
            },
          }
        : e,
    );
    const w = world({ status: 'TIMED_OUT', events, error: 'States.Timeout' });
    s3Mock
      .on(GetObjectCommand, { Bucket: 'reports', Key: key })
      // The part of the SDK's stream the code reads.
      .resolves({ Body: { transformToString: async () => JSON.stringify([unit]) } as never });

    // Act
    const outcome = await closeEndedRun(w.deps, w.config, statusChange('run-9', 'TIMED_OUT'));

    // Assess
    expect(outcome).toMatchObject({ action: 'closed', report: 'written' });
    expect(s3Mock.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Key)).toEqual([key]);
    const report = storedReport();
    expect(report.units.map((u) => [u.unit, u.status, u.engine])).toEqual([['orders', 'failed', 'postgres']]);
  });
});
