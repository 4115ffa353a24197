import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import type { FailoverPlan } from '../../functions/lib/plan.js';
import type { InvokeFault } from '../../local/invoke-faults.js';
import { type RunResult, runExecution, type StepEvent, scaleRetrier } from '../../local/runner.js';

/**
 * The local runner's retry pauses (scaled, with the retrier's backoff, cap and jitter) and its Lambda refusals
 * (RunOptions.invokeFaults), on a one-Task definition whose step is a stand-in that records when it runs.
 */

const ARN = 'arn:aws:lambda:us-west-2:123456789012:function:Preflight';
/** 1 s of AWS time is 10 ms here. */
const FACTOR = 0.01;

interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  BackoffRate?: number;
  MaxAttempts?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: string;
}

async function runTask(options: {
  retry: Retrier[];
  /** The stand-in fails this many times with `Boom` before it answers. */
  failures?: number;
  invokeFaults?: InvokeFault[];
  /** Aborts the execution (RunOptions.signal). */
  signal?: AbortSignal;
  /** Called after each run of the stand-in, with the number of runs so far. */
  onRun?: (runs: number) => void;
}): Promise<{ result: RunResult; ranAt: number[]; events: StepEvent[]; started: number }> {
  const ranAt: number[] = [];
  const events: StepEvent[] = [];
  const definition = {
    StartAt: 'Check',
    States: { Check: { Type: 'Task', Resource: ARN, Retry: options.retry, End: true } },
  } as unknown as StateMachineDefinition;
  const started = Date.now();
  const result = await runExecution(
    {
      plan: { name: 'retries', account: '123456789012', recoveryRegion: 'us-west-2' } as FailoverPlan,
      stackName: 'lifeboat-retries',
      definition,
      steps: [{ step: 'preflight', logicalId: 'Preflight', arn: ARN, bundle: 'unused.mjs', environment: {} }],
      resources: [],
    },
    {
      input: {},
      executionName: 'retries',
      timeFactor: FACTOR,
      environment: {},
      timeoutMs: 20_000,
      onStep: (e) => events.push(e),
      ...(options.invokeFaults ? { invokeFaults: options.invokeFaults } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      replaceSteps: {
        preflight: async () => {
          ranAt.push(Date.now());
          options.onRun?.(ranAt.length);
          if (ranAt.length <= (options.failures ?? 0)) {
            const error = new Error('stand-in failure');
            error.name = 'Boom';
            throw error;
          }
          return { ok: true };
        },
      },
    },
  );
  return { result, ranAt, events, started };
}

const gaps = (times: number[]) => times.slice(1).map((t, i) => t - (times[i] as number));

describe('retry pauses in the local runner', () => {
  it('scales the interval and the cap of a retrier, and nothing else', () => {
    // Act
    const scaled = scaleRetrier(
      { ErrorEquals: ['X'], IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 10, MaxDelaySeconds: 60 },
      0.02,
    );
    const defaulted = scaleRetrier({ ErrorEquals: ['X'] }, 0.02);

    // Assess
    expect(scaled).toEqual({
      ErrorEquals: ['X'],
      IntervalSeconds: 0.04,
      BackoffRate: 2,
      MaxAttempts: 10,
      MaxDelaySeconds: 1.2,
    });
    expect(defaulted).toEqual({ ErrorEquals: ['X'], IntervalSeconds: 0.02 });
  });

  it('keeps the backoff: each pause is the scaled interval times the rate to the retry number', async () => {
    // Act
    const { result, ranAt } = await runTask({
      retry: [
        {
          ErrorEquals: ['Boom'],
          IntervalSeconds: 20,
          BackoffRate: 2,
          MaxAttempts: 3,
          JitterStrategy: 'NONE',
        },
      ],
      failures: 3,
    });

    // Assess: 200, 400, 800 ms (20, 40, 80 s of AWS time); pinned to the first interval they were 200 ms each.
    // Only the lower bounds are sharp: a loaded machine adds to every pause.
    expect(result.status).toBe('SUCCEEDED');
    const [first, second, third] = gaps(ranAt) as [number, number, number];
    expect(first).toBeGreaterThanOrEqual(195);
    expect(second).toBeGreaterThanOrEqual(395);
    expect(third).toBeGreaterThanOrEqual(795);
  });

  it('keeps the cap: pauses stop growing at the scaled MaxDelaySeconds', async () => {
    // Act
    const { result, ranAt } = await runTask({
      retry: [
        {
          ErrorEquals: ['Boom'],
          IntervalSeconds: 20,
          BackoffRate: 2,
          MaxAttempts: 3,
          MaxDelaySeconds: 30,
          JitterStrategy: 'NONE',
        },
      ],
      failures: 3,
    });

    // Assess: 200, 300, 300 ms; uncapped the last would be 800 ms, pinned to the first interval 200 ms.
    expect(result.status).toBe('SUCCEEDED');
    const [, second, third] = gaps(ranAt) as [number, number, number];
    expect(second).toBeGreaterThanOrEqual(295);
    expect(third).toBeGreaterThanOrEqual(295);
    expect(third).toBeLessThan(600);
  });

  it('keeps full jitter: each pause is drawn below its scaled bound, not pinned to it', async () => {
    // Act
    const { result, ranAt } = await runTask({
      retry: [
        {
          ErrorEquals: ['Boom'],
          IntervalSeconds: 40,
          BackoffRate: 1,
          MaxAttempts: 10,
          JitterStrategy: 'FULL',
        },
      ],
      failures: 10,
    });

    // Assess: ten draws below 400 ms. All ten at 250 ms or more has a chance of 0.375^10 (6 in 100,000), which leaves
    // 150 ms for a loaded machine's delays; pinned to the interval, every pause was 400 ms.
    expect(result.status).toBe('SUCCEEDED');
    const pauses = gaps(ranAt);
    expect(pauses).toHaveLength(10);
    expect(Math.min(...pauses)).toBeLessThan(250);
  });
});

describe('Lambda refusing invocations (invokeFaults)', () => {
  const idleRetry: Retrier = {
    ErrorEquals: ['Lambda.ResourceNotReadyException'],
    IntervalSeconds: 5,
    BackoffRate: 1,
    MaxAttempts: 20,
    JitterStrategy: 'NONE',
  };

  it('refuses the first invocations of the function before its handler runs, with the name Step Functions gives', async () => {
    // Act
    const { result, ranAt, events } = await runTask({
      retry: [idleRetry],
      invokeFaults: [{ error: 'Lambda.ResourceNotReadyException', invocations: 2 }],
    });

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    expect(ranAt).toHaveLength(1);
    expect(result.invocations).toBe(1);
    expect(result.refusals.map((r) => [r.step, r.error])).toEqual([
      ['preflight', 'Lambda.ResourceNotReadyException'],
      ['preflight', 'Lambda.ResourceNotReadyException'],
    ]);
    expect(events.map((e) => `${e.phase} ${e.result ?? ''}`.trim())).toEqual([
      'error Lambda.ResourceNotReadyException',
      'error Lambda.ResourceNotReadyException',
      'start',
      'end ok',
    ]);
  });

  it('fails the Task with the refusal when no retrier takes it', async () => {
    // Act
    const { result, ranAt } = await runTask({
      retry: [{ ErrorEquals: ['Boom'] }],
      invokeFaults: [{ error: 'Lambda.EC2ThrottledException' }],
    });

    // Assess
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('Lambda.EC2ThrottledException');
    expect(result.error?.cause).toContain('function Preflight');
    expect(ranAt).toHaveLength(0);
  });

  it('keeps a function refusing for its scaled re-activation time after the first refusal', async () => {
    // Act: 30 s of re-activation is 300 ms here; retries every 50 ms.
    const { result, ranAt, events } = await runTask({
      retry: [idleRetry],
      invokeFaults: [{ error: 'Lambda.ResourceNotReadyException', activationSeconds: 30 }],
    });

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    expect(ranAt).toHaveLength(1);
    const [firstRefusal, ...others] = result.refusals;
    expect(others.length).toBeGreaterThanOrEqual(1);
    for (const refusal of others) expect(refusal.atMs - (firstRefusal?.atMs ?? 0)).toBeLessThan(300);
    const refused = events.filter((e) => e.phase === 'error');
    const ran = events.find((e) => e.phase === 'start');
    expect(refused).toHaveLength(result.refusals.length);
    expect((ran?.atMs ?? 0) - (refused[0]?.atMs ?? 0)).toBeGreaterThanOrEqual(300);
  });

  it('refuses only the steps named, and rejects a negative count', async () => {
    // Act
    const { result } = await runTask({
      retry: [idleRetry],
      invokeFaults: [{ error: 'Lambda.ResourceNotReadyException', steps: ['promoteSecret'], invocations: 5 }],
    });
    const negative = runTask({
      retry: [idleRetry],
      invokeFaults: [{ error: 'Lambda.ResourceNotReadyException', invocations: -1 }],
    });

    // Assess
    expect(result.status).toBe('SUCCEEDED');
    expect(result.refusals).toEqual([]);
    await expect(negative).rejects.toThrow(/must not be negative/);
  });

  it('ends the execution ABORTED when the signal aborts it, and starts no further attempt', async () => {
    // Arrange: a step that fails every time, retried every 0.5 s of AWS time (5 ms here) up to 99 times
    const stop = new AbortController();

    // Act
    const { result, ranAt } = await runTask({
      retry: [{ ErrorEquals: ['Boom'], IntervalSeconds: 0.5, BackoffRate: 1, MaxAttempts: 99 }],
      failures: 1_000,
      signal: stop.signal,
      onRun: (runs) => {
        if (runs === 2) stop.abort();
      },
    });
    const runsAtEnd = ranAt.length;
    await new Promise((r) => setTimeout(r, 100));

    // Assess
    expect(result.status).toBe('ABORTED');
    expect(result.error?.name).toBe('Interrupted');
    expect(runsAtEnd).toBe(2);
    expect(ranAt).toHaveLength(2);
  });
});
