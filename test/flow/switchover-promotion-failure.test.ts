import { describe, expect, it } from 'vitest';
import { ResourceBusyError } from '../../functions/lib/errors.js';
import { type RunReport, renderReportText } from '../../functions/lib/report/index.js';
import { type UnpromotedInput, whyNotProvenUnpromoted } from '../../functions/lib/switchover/unpromoted.js';
import { STATE_NAMES as N } from '../../statemachine/failover.js';
import {
  callsOf,
  lambdaError,
  poll,
  runFlow,
  type Stub,
  statesCalled,
  stepResult,
} from '../helpers/flow-harness.js';

/**
 * A switchover whose promotion fails (docs/design/switchover.md, "Stopping at the promotion"): the state machine hands
 * the unit's results to the un-fence, whose decision (the real whyNotProvenUnpromoted, on a replica that RDS still
 * describes as an available replica) un-fences the primary only when PromoteReadReplica was refused, and keeps the
 * fence when it may have been accepted.
 */

const SWITCHOVER = { mode: 'switchover', trigger: 'cli' };
const FENCED_AT = '2030-05-01T10:00:00.000Z';
/** What DescribeDBInstances says of the replica in these runs: still a replica, at rest. */
const STILL_A_REPLICA = {
  DBInstanceStatus: 'available',
  ReadReplicaSourceDBInstanceIdentifier: 'arn:aws:rds:us-east-1:123456789012:db:orders-db',
};

/** The un-fence step: the real decision, then an un-fence that succeeds, or FenceKeptError with the reason. */
const unfenceIfUnpromoted: Stub = (input) => {
  const why = whyNotProvenUnpromoted(input as unknown as UnpromotedInput, STILL_A_REPLICA);
  if (why !== null)
    throw lambdaError('FenceKeptError', `the primary stays fenced (never two writers): ${why}`);
  return stepResult('unfencePrimary', input, { detail: { unfenced: 'replica not promoted' } });
};

function stubs(extra: Record<string, Stub> = {}): Record<string, Stub> {
  return {
    [N.fencePrimary]: (input) =>
      stepResult('fencePrimary', input, {
        endedAt: FENCED_AT,
        detail: { fencePosition: '0/3000060', positionKind: 'pg-lsn', fencedAt: FENCED_AT },
      }),
    [N.checkCatchUp]: () =>
      poll(true, {
        status: 'caught-up',
        detail: {
          fencePosition: '0/3000060',
          replicaPosition: '0/3000060',
          positionKind: 'pg-lsn',
          caughtUp: true,
        },
      }),
    [N.unfenceIfUnpromoted]: unfenceIfUnpromoted,
    ...extra,
  };
}

const refused: Stub = () => {
  throw lambdaError(
    'ResourceBusyError',
    new ResourceBusyError('PromoteReadReplica on orders-db-replica refused while the replica is "backing-up"')
      .message,
  );
};

describe('a switchover whose promotion fails', () => {
  it('un-fences the primary when RDS refused PromoteReadReplica and the replica is proven still a replica', async () => {
    // Act
    const run = await runFlow({ input: SWITCHOVER, stubs: stubs({ [N.promoteDatabase]: refused }) });

    // Assess
    expect(run.status).toBe('failed');
    const unit = statesCalled(run, 'orders');
    expect(unit.at(-1)).toBe(N.unfenceIfUnpromoted);
    expect(unit).not.toContain(N.unfencePrimary);
    const call = callsOf(run, N.unfenceIfUnpromoted)[0];
    expect(call?.input.action).toBe('unfence-if-unpromoted');
    // The database branch's own failure reaches the un-fence, beside the unit's failure.
    expect((call?.input.results as UnpromotedInput['results'])?.promoteDatabaseFailure?.Error).toBe(
      'ResourceBusyError',
    );
    for (const mutating of [N.updateDns, N.liftFence, N.attachRotation])
      expect(callsOf(run, mutating)).toHaveLength(0);
    const report = run.report?.units[0];
    expect(report?.failure).toMatchObject({ error: 'ResourceBusyError' });
    expect(report?.switchover).toMatchObject({
      dataLossTransactions: 0,
      unfenced: true,
      afterPromotionFailure: 'unfenced: replica not promoted',
    });
    expect(renderReportText(run.report as RunReport)).toContain(
      'promotion failed, unfenced: replica not promoted',
    );
    expect(run.lock.holderOf('orders-dr')).toBeUndefined();
  });

  it('keeps the fence when PromoteReadReplica was accepted and the promotion check then failed', async () => {
    // Prepare
    const checkFails: Stub = () => {
      throw lambdaError('ConfigurationError', 'replica orders-db-replica is "incompatible-parameters"');
    };

    // Act
    const run = await runFlow({
      input: SWITCHOVER,
      stubs: stubs({ [N.checkDatabasePromotion]: checkFails }),
    });

    // Assess
    expect(callsOf(run, N.unfenceIfUnpromoted)).toHaveLength(1);
    const so = run.report?.units[0]?.switchover;
    expect(so?.unfenced).toBe(false);
    expect(so?.afterPromotionFailure).toContain('the primary stays fenced');
    expect(so?.afterPromotionFailure).toContain('PromoteReadReplica was accepted');
    expect(renderReportText(run.report as RunReport)).toContain('promotion failed, the primary stays fenced');
  });

  it('keeps the fence when the database promotion failed in a way that may hide an accepted call', async () => {
    // Prepare: the Lambda timed out; the secret's promotion was refused too, and its failure is the unit's.
    const timedOut: Stub = () => {
      throw lambdaError('Sandbox.Timedout', 'Task timed out after 60.00 seconds');
    };
    const secretRefused: Stub = () => {
      throw lambdaError('AwsCallFailedError', 'StopReplicationToReplica: AccessDeniedException');
    };

    // Act
    const run = await runFlow({
      input: SWITCHOVER,
      stubs: stubs({ [N.promoteDatabase]: timedOut, [N.promoteSecret]: secretRefused }),
    });

    // Assess
    const report = run.report?.units[0];
    expect(report?.failure).toMatchObject({ error: 'AwsCallFailedError' });
    expect(report?.switchover?.unfenced).toBe(false);
    expect(report?.switchover?.afterPromotionFailure).toContain('Sandbox.Timedout');
  });

  it('runs no un-fence when a failover promotion fails', async () => {
    // Act
    const run = await runFlow({
      input: { mode: 'failover' },
      stubs: stubs({ [N.promoteDatabase]: refused }),
    });

    // Assess
    expect(run.status).toBe('failed');
    expect(callsOf(run, N.unfenceIfUnpromoted)).toHaveLength(0);
    expect(run.report?.units[0]?.switchover).toBeUndefined();
  });
});
