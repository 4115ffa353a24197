import { describe, expect, it } from 'vitest';
import {
  AwsCallFailedError,
  ConnectivityNotReadyError,
  LAMBDA_NOT_READY_ERROR_NAMES,
  RETRYABLE_ERROR_NAMES,
  ResourceBusyError,
  VerificationFailedError,
} from '../../functions/lib/errors.js';
import { parsePlan } from '../../functions/lib/plan.js';
import { STATE_NAMES as N } from '../../statemachine/failover.js';
import { type AslRetrier, retrierFor, retryBudget } from '../../statemachine/retry-budget.js';
import { connectivityRetryAttempts, RETRY_BUDGET_SECONDS } from '../../statemachine/steps.js';
import {
  callsOf,
  failing,
  lambdaError,
  planWith,
  preflightReport,
  runFlow,
  stepResult,
  transient,
} from '../helpers/flow-harness.js';
import { allStates, synthDefinition } from '../helpers/synth-definition.js';

/** Every Task of the synthesized definition (approval gate included) with its retriers. */
function tasksOf(): [string, AslRetrier[]][] {
  const { definition } = synthDefinition(planWith(2, { approval: { onAlarm: true, timeoutSeconds: 900 } }), {
    approvalTopic: true,
  });
  return [...allStates(definition)]
    .filter(([, s]) => s.Type === 'Task')
    .map(([name, s]) => [name, (s.Retry as AslRetrier[] | undefined) ?? []]);
}
const lambdaTasks = () => tasksOf().filter(([name]) => name !== N.askApproval);

describe('retries of transient errors', () => {
  it('retries a throttled step (TransientAwsError) and goes on when it succeeds', async () => {
    // Act
    const run = await runFlow({
      stubs: { [N.promoteDatabase]: failing(3, transient, (input) => stepResult('promoteDatabase', input)) },
    });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(callsOf(run, N.promoteDatabase)).toHaveLength(4);
    expect(run.output?.units[0]?.status).toBe('succeeded');
  });

  it('retries a busy resource (ResourceBusyError), e.g. a replica that is backing up', async () => {
    // Act
    const run = await runFlow({
      stubs: {
        [N.promoteDatabase]: failing(
          2,
          () => new ResourceBusyError('orders-db-replica is backing-up'),
          (input) => stepResult('promoteDatabase', input),
        ),
      },
    });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(callsOf(run, N.promoteDatabase)).toHaveLength(3);
  });

  it.each(['Lambda.ServiceException', 'Lambda.TooManyRequestsException', 'Lambda.SdkClientException'])(
    'retries the Lambda service error %s on any step',
    async (name) => {
      // Act
      const run = await runFlow({
        stubs: {
          [N.preflight]: failing(
            1,
            () => lambdaError(name),
            () => ({
              ok: true,
              checkedAt: '',
              durationMs: 1,
              checks: [],
              errors: [],
              warnings: [],
              readiness: {},
            }),
          ),
        },
      });

      // Assess
      expect(run.status).toBe('succeeded');
      expect(callsOf(run, N.preflight)).toHaveLength(2);
    },
  );

  it('gives up after nine retries and reports the unit failed with the transient error', async () => {
    // Act
    const run = await runFlow({ stubs: { [N.updateDns]: failing(100, transient, () => null) } });

    // Assess
    expect(callsOf(run, N.updateDns)).toHaveLength(10);
    expect(run.status).toBe('failed');
    expect(run.report?.units[0]).toMatchObject({
      status: 'failed',
      stoppedAt: 'updateDns',
      failure: { step: 'updateDns', error: 'TransientAwsError' },
    });
  });
});

describe('permanent errors', () => {
  it.each([
    [
      'AwsCallFailedError',
      () => new AwsCallFailedError('PromoteReadReplica failed: InvalidParameterCombination'),
    ],
    ['VerificationFailedError', () => new VerificationFailedError('the database is read-only')],
    ['an unknown error', () => lambdaError('TypeError', 'undefined is not a function')],
  ])('does not retry %s: the unit goes straight to its failure', async (_, error) => {
    // Act
    const run = await runFlow({ stubs: { [N.promoteDatabase]: failing(100, error, () => null) } });

    // Assess
    expect(callsOf(run, N.promoteDatabase)).toHaveLength(1);
    expect(callsOf(run, N.checkDatabasePromotion)).toHaveLength(0);
    expect(callsOf(run, N.updateDns)).toHaveLength(0);
    expect(run.status).toBe('failed');
    expect(run.report?.units[0]?.stoppedAt).toBe('promoteDatabase');
  });
});

describe('connectivity verification through the DNS TTL', () => {
  it('retries ConnectivityNotReadyError until the database answers', async () => {
    // Act
    const run = await runFlow({
      stubs: {
        [N.verifyConnectivity]: failing(
          4,
          () =>
            new ConnectivityNotReadyError('orders-db.internal.example.com still resolves to the old primary'),
          (input) => stepResult('verifyConnectivity', input),
        ),
      },
    });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(callsOf(run, N.verifyConnectivity)).toHaveLength(5);
    expect(run.output?.units[0]?.verifiedAt).not.toBeNull();
  });

  it('stops after the bounded attempts computed from the plan and reports why', async () => {
    // Prepare
    const plan = planWith(1);
    const attempts = connectivityRetryAttempts(parsePlan(plan));

    // Act
    const run = await runFlow({
      plan,
      stubs: {
        [N.verifyConnectivity]: failing(
          1000,
          () => new ConnectivityNotReadyError('connection refused'),
          () => null,
        ),
      },
    });

    // Assess
    expect(callsOf(run, N.verifyConnectivity)).toHaveLength(attempts + 1);
    expect(run.status).toBe('failed');
    expect(run.report?.units[0]).toMatchObject({
      status: 'failed',
      stoppedAt: 'verifyConnectivity',
      failure: { error: 'ConnectivityNotReadyError', cause: 'connection refused' },
    });
    // Rotation is attached only after verification: never reached.
    expect(callsOf(run, N.attachRotation)).toHaveLength(0);
    expect(run.report?.units[0]?.steps.find((s) => s.step === 'attachRotation')?.status).toBe('not-reached');
  });

  it('does not retry a verification that reached the wrong database', async () => {
    // Act
    const run = await runFlow({
      stubs: {
        [N.verifyConnectivity]: failing(
          100,
          () => new VerificationFailedError('pg_is_in_recovery() is true: the database is still a replica'),
          () => null,
        ),
      },
    });

    // Assess
    expect(callsOf(run, N.verifyConnectivity)).toHaveLength(1);
    expect(run.report?.units[0]?.failure?.error).toBe('VerificationFailedError');
  });
});

describe('retry budgets, computed from the synthesized definition (docs/design/retries.md)', () => {
  it('waits out a transient error for the documented budget on every Task, on average under its full jitter', () => {
    for (const [name, retriers] of lambdaTasks()) {
      // Act
      const transientRetrier = retrierFor(retriers, 'TransientAwsError');
      const budget = transientRetrier && retryBudget(transientRetrier);

      // Assess
      expect(transientRetrier?.JitterStrategy, name).toBe('FULL');
      expect(budget?.expectedSeconds, name).toBeGreaterThanOrEqual(RETRY_BUDGET_SECONDS.transient);
      // Every Lambda service error of the general policy is waited out as long.
      for (const error of RETRYABLE_ERROR_NAMES.filter((e) => e !== 'ResourceBusyError'))
        expect(retrierFor(retriers, error), `${name} ${error}`).toBe(transientRetrier);
    }
  });

  it('gives a busy replica the documented 20 minutes on average, and 17.5 minutes in all but 1 run in 1000', () => {
    // Act
    const retriers = Object.fromEntries(lambdaTasks())[N.promoteDatabase] ?? [];
    const busy = retrierFor(retriers, 'ResourceBusyError');
    const budget = busy && retryBudget(busy);

    // Assess
    expect(busy?.ErrorEquals).toEqual(['ResourceBusyError']);
    expect(budget?.expectedSeconds).toBeGreaterThanOrEqual(RETRY_BUDGET_SECONDS.databaseBusy);
    // The sum of many uniform draws is close to normal: 3.09 standard deviations below the mean is the 0.1% tail.
    expect((budget?.expectedSeconds ?? 0) - 3.09 * (budget?.spreadSeconds ?? 0)).toBeGreaterThanOrEqual(
      17.5 * 60,
    );
  });

  it('gives every Lambda Task minutes, with backoff and no jitter, for a function that is not ready', () => {
    for (const [name, retriers] of lambdaTasks()) {
      // Act
      const idle = retrierFor(retriers, 'Lambda.ResourceNotReadyException');
      const budget = idle && retryBudget(idle);

      // Assess
      expect(idle?.ErrorEquals, name).toEqual([...LAMBDA_NOT_READY_ERROR_NAMES]);
      expect(budget?.guaranteedSeconds, name).toBeGreaterThanOrEqual(RETRY_BUDGET_SECONDS.idleFunction);
      // Backoff: the first retry comes within seconds (a function that needed one nudge), later ones a minute apart.
      expect(budget?.pausesSeconds[0], name).toBeLessThanOrEqual(5);
      expect(Math.max(...(budget?.pausesSeconds ?? [])), name).toBeLessThanOrEqual(60);
      expect(idle?.BackoffRate, name).toBeGreaterThan(1);
    }
  });

  it('matches each error name to exactly one retrier of a Task, so that the order cannot hand it another budget', () => {
    for (const [name, retriers] of tasksOf()) {
      // Act
      const names = retriers.flatMap((r) => r.ErrorEquals);

      // Assess
      expect(
        names.filter((n, i) => names.indexOf(n) !== i),
        name,
      ).toEqual([]);
    }
  });
});

describe('a function that is not ready (idle, Pending, its ENI not created)', () => {
  it.each([...LAMBDA_NOT_READY_ERROR_NAMES])(
    'retries %s on a step and goes on when the function answers',
    async (error) => {
      // Act
      const run = await runFlow({
        stubs: {
          [N.preflight]: failing(
            3,
            () => lambdaError(error),
            () => preflightReport(),
          ),
          [N.promoteSecret]: failing(
            2,
            () => lambdaError(error),
            (input) => stepResult('promoteSecret', input),
          ),
        },
      });

      // Assess
      expect(run.status).toBe('succeeded');
      expect(callsOf(run, N.preflight)).toHaveLength(4);
      expect(callsOf(run, N.promoteSecret)).toHaveLength(3);
    },
  );

  it('gives up after the idle budget and reports where the unit stopped and why', async () => {
    // Prepare
    const retriers = Object.fromEntries(lambdaTasks())[N.attachRotation] ?? [];
    const retries = retryBudget(
      retrierFor(retriers, 'Lambda.ENILimitReachedException') as AslRetrier,
    ).retries;

    // Act
    const run = await runFlow({
      stubs: {
        [N.attachRotation]: failing(
          1000,
          () => lambdaError('Lambda.ENILimitReachedException'),
          () => null,
        ),
      },
    });

    // Assess
    expect(retries).toBe(10);
    expect(callsOf(run, N.attachRotation)).toHaveLength(retries + 1);
    expect(run.status).toBe('failed');
    expect(run.report?.units[0]).toMatchObject({
      status: 'failed',
      stoppedAt: 'attachRotation',
      failure: { step: 'attachRotation', error: 'Lambda.ENILimitReachedException' },
    });
  });
});
