import { describe, expect, it } from 'vitest';
import {
  AwsCallFailedError,
  ConnectivityNotReadyError,
  ResourceBusyError,
  VerificationFailedError,
} from '../../functions/lib/errors.js';
import { parsePlan } from '../../functions/lib/plan.js';
import { STATE_NAMES as N } from '../../statemachine/failover.js';
import { connectivityRetryAttempts } from '../../statemachine/steps.js';
import {
  callsOf,
  failing,
  lambdaError,
  planWith,
  runFlow,
  stepResult,
  transient,
} from '../helpers/flow-harness.js';

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

  it('gives up after six retries and reports the unit failed with the transient error', async () => {
    // Act
    const run = await runFlow({ stubs: { [N.updateDns]: failing(100, transient, () => null) } });

    // Assess
    expect(callsOf(run, N.updateDns)).toHaveLength(7);
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
    // Rotation ran beside it and is reported as done.
    expect(run.report?.units[0]?.steps.find((s) => s.step === 'attachRotation')?.status).toBe('changed');
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
