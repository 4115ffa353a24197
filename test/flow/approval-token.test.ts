import { describe, expect, it } from 'vitest';
import { EXECUTION_LOG_LEVEL } from '../../infra/constructs/orchestrator.js';
import { STATE_NAMES as N } from '../../statemachine/failover.js';
import { type FlowRun, planWith, runFlow } from '../helpers/flow-harness.js';

/**
 * The event types each Step Functions log level sends to CloudWatch Logs, as the Step Functions Developer Guide's
 * "Log levels" table lists them (docs/design/execution-logs.md). Only the types this test builds are listed.
 */
const LOGGED_AT: Record<string, ReadonlySet<string>> = {
  ALL: new Set(['TaskScheduled', 'TaskSucceeded', 'TaskFailed', 'ExecutionSucceeded', 'ExecutionFailed']),
  ERROR: new Set(['TaskFailed', 'ExecutionFailed']),
  FATAL: new Set(['ExecutionFailed']),
  OFF: new Set(),
};

interface HistoryEvent {
  type: string;
  state?: string;
  /** Execution data: what `includeExecutionData: false` leaves out. */
  data: Record<string, unknown>;
}

/**
 * The history events of a run, built from what the harness saw: each Task's resolved parameters (TaskScheduled),
 * its result (when the test's stub recorded it) or its error, and the execution's end. Any later state data that
 * held the token would show in a later Task's parameters or in the execution's output.
 */
function historyOf(
  run: FlowRun,
  seen: { results?: Map<number, unknown>; failures?: Map<number, Error> },
): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  for (const call of run.calls) {
    events.push({
      type: 'TaskScheduled',
      state: call.state,
      data: { parameters: JSON.stringify(call.input) },
    });
    const failure = seen.failures?.get(call.seq);
    events.push(
      failure
        ? { type: 'TaskFailed', state: call.state, data: { error: failure.name, cause: failure.message } }
        : {
            type: 'TaskSucceeded',
            state: call.state,
            data: { output: JSON.stringify(seen.results?.get(call.seq)) },
          },
    );
  }
  events.push(
    run.status === 'succeeded'
      ? { type: 'ExecutionSucceeded', data: { output: JSON.stringify(run.output) } }
      : { type: 'ExecutionFailed', data: { error: run.error?.name, cause: run.error?.cause } },
  );
  return events;
}

/** What CloudWatch Logs receives at `level`. */
function logged(events: HistoryEvent[], level: string, includeExecutionData: boolean): HistoryEvent[] {
  return events
    .filter((e) => LOGGED_AT[level]?.has(e.type))
    .map((e) => (includeExecutionData ? e : { ...e, data: {} }));
}

const TOKEN = 'AQCEAAAAKgAAAAMAAAAA-approval-token-of-this-run';

describe('the approval task token and the execution log', () => {
  const gated = planWith(1, { approval: { onAlarm: true, timeoutSeconds: 600 } });

  async function approvedRun(): Promise<{ run: FlowRun; events: HistoryEvent[] }> {
    const results = new Map<number, unknown>();
    const run = await runFlow({
      plan: gated,
      approvalTopic: true,
      input: { trigger: 'alarm', reason: 'orders-db-primary-down' },
      taskToken: TOKEN,
      stubs: {
        [N.askApproval]: (_input, call) => {
          const result = { approvedBy: 'sre-on-call' };
          results.set(call.seq, result);
          return result;
        },
      },
    });
    return { run, events: historyOf(run, { results }) };
  }

  it('sits only in the parameters of the approval request', async () => {
    // Act
    const { run, events } = await approvedRun();
    // Assess
    expect(run.status).toBe('succeeded');
    const carrying = events.filter((e) => JSON.stringify(e.data).includes(TOKEN));
    expect(carrying.map((e) => `${e.type} ${e.state}`)).toEqual([`TaskScheduled ${N.askApproval}`]);
  });

  it('is not in what the state machine logs, at its level, with its execution data', async () => {
    // Prepare
    const { events } = await approvedRun();
    // Act
    const log = JSON.stringify(logged(events, EXECUTION_LOG_LEVEL, true));
    // Assess
    expect(EXECUTION_LOG_LEVEL).toBe('ERROR');
    expect(log).not.toContain(TOKEN);
    // ALL with execution data would have logged it: the level is what keeps it out.
    expect(JSON.stringify(logged(events, 'ALL', true))).toContain(TOKEN);
  });

  it('is not in what a rejected run logs, where the failure events keep their data', async () => {
    // Prepare
    const failures = new Map<number, Error>();
    const run = await runFlow({
      plan: gated,
      approvalTopic: true,
      input: { trigger: 'alarm' },
      taskToken: TOKEN,
      stubs: {
        [N.askApproval]: (_input, call) => {
          const error = new Error('rejected by sre-on-call');
          error.name = 'ApprovalRejectedError';
          failures.set(call.seq, error);
          throw error;
        },
      },
    });
    // Act
    const log = logged(historyOf(run, { failures }), EXECUTION_LOG_LEVEL, true);
    // Assess
    expect(run.status).toBe('failed');
    expect(log.map((e) => e.type)).toEqual(['TaskFailed', 'ExecutionFailed']);
    expect(JSON.stringify(log)).not.toContain(TOKEN);
  });
});
