import { describe, expect, it } from 'vitest';
import { POLL_TIMEOUT_ERRORS, RUN_FAILURE_ERRORS } from '../../functions/lib/errors.js';
import { STATE_NAMES as N } from '../../statemachine/failover.js';
import { POLL_LOOPS } from '../../statemachine/steps.js';
import { callsOf, planWith, poll, runFlow, type Stub, stepResult } from '../helpers/flow-harness.js';

/** A poll stub following the contract: `waitSeconds` an integer of seconds, `done` after `after` polls. */
function pollDoneAfter(after: number, statuses: [string, string], waitSeconds = 5): Stub {
  return (_input, call) =>
    poll(call.attempt >= after, { status: call.attempt >= after ? statuses[1] : statuses[0], waitSeconds });
}

describe('waiting for the database promotion', () => {
  it('polls until the instance is available, passing the attempt number, then goes on', async () => {
    // Act
    const run = await runFlow({
      stubs: { [N.checkDatabasePromotion]: pollDoneAfter(4, ['modifying', 'available']) },
    });

    // Assess
    expect(run.status).toBe('succeeded');
    const polls = callsOf(run, N.checkDatabasePromotion);
    expect(polls.map((c) => c.input.attempt)).toEqual([1, 2, 3, 4]);
    expect(run.entered.filter((s) => s === N.waitForDatabasePromotion)).toHaveLength(3);
    expect(callsOf(run, N.updateDns)).toHaveLength(1);
    expect(run.output?.units[0]?.steps.find((s) => s.step === 'waitForDatabasePromotion')).toMatchObject({
      status: 'done',
      attempts: 4,
      detail: { status: 'available' },
    });
  });

  it('gives up after the bounded number of polls with DatabasePromotionTimeoutError; the run still reports and releases', async () => {
    // Act
    const run = await runFlow({
      stubs: { [N.checkDatabasePromotion]: () => poll(false, { status: 'modifying', waitSeconds: 2 }) },
    });

    // Assess
    expect(callsOf(run, N.checkDatabasePromotion)).toHaveLength(POLL_LOOPS.databasePromotion.maxAttempts);
    expect(callsOf(run, N.updateDns)).toHaveLength(0);
    expect(run.report?.units[0]).toMatchObject({
      status: 'failed',
      stoppedAt: 'waitForDatabasePromotion',
      failure: {
        error: POLL_TIMEOUT_ERRORS.databasePromotion,
        cause: expect.stringContaining(
          `after ${POLL_LOOPS.databasePromotion.maxAttempts} polls; last status: modifying`,
        ),
      },
    });
    // The secret's promotion finished beside it and is kept.
    expect(run.report?.units[0]?.steps[0]).toMatchObject({ step: 'promoteSecret', status: 'changed' });
    expect(callsOf(run, N.releaseLock)).toHaveLength(1);
    expect(run.lock.holderOf('orders-dr')).toBeUndefined();
    expect(run.status).toBe('failed');
    expect(run.error?.name).toBe(RUN_FAILURE_ERRORS.unitsFailed);
    expect(run.error?.cause).toMatch(/orders \(DatabasePromotionTimeoutError at waitForDatabasePromotion\)/);
  });

  it('falls back to a fixed interval when a poll asks for a wait outside 1-30 s', async () => {
    // Prepare
    const waits: number[] = [];
    const odd: Stub = (_input, call) => {
      const wait = [0, 3600, -5][call.attempt - 1] ?? 1;
      waits.push(wait);
      return poll(call.attempt > 3, { waitSeconds: wait });
    };

    // Act
    const run = await runFlow({ stubs: { [N.checkDatabasePromotion]: odd } });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(waits).toEqual([0, 3600, -5, 1]);
    const waited = run.entered.filter((s) => s.startsWith(N.waitForDatabasePromotion));
    expect(waited).toEqual([
      N.waitForDatabasePromotionFallback,
      N.waitForDatabasePromotionFallback,
      N.waitForDatabasePromotionFallback,
    ]);
  });
});

describe('waiting for the DNS change', () => {
  it('passes the change id from the DNS step and polls until INSYNC', async () => {
    // Act
    const run = await runFlow({ stubs: { [N.checkDnsChange]: pollDoneAfter(3, ['PENDING', 'INSYNC'], 2) } });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(callsOf(run, N.checkDnsChange).map((c) => [c.input.changeId, c.input.attempt])).toEqual([
      ['C-orders', 1],
      ['C-orders', 2],
      ['C-orders', 3],
    ]);
    expect(run.output?.units[0]?.dns).toMatchObject({
      recordName: 'orders-db.internal.example.com',
      ttlSeconds: 5,
      changedAt: expect.any(String),
      inSyncAt: expect.any(String),
      clientsMayCacheUntil: expect.any(String),
    });
  });

  it('passes a null change id through (record already right, or the health-check strategy)', async () => {
    // Act
    const run = await runFlow({
      stubs: {
        [N.updateDns]: (input) =>
          stepResult('updateDns', input, {
            outcome: 'already-done',
            detail: { changeId: null, target: 'x' },
          }),
      },
    });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(callsOf(run, N.checkDnsChange)[0]?.input.changeId).toBeNull();
  });

  it('gives up with DnsChangeTimeoutError after the bounded polls; other units are not affected', async () => {
    // Prepare
    const plan = planWith(2);
    const stuckForBilling: Stub = (input) =>
      (input.unit as { name: string }).name === 'billing'
        ? poll(false, { status: 'PENDING' })
        : poll(true, { status: 'INSYNC' });

    // Act
    const run = await runFlow({ plan, stubs: { [N.checkDnsChange]: stuckForBilling } });

    // Assess
    expect(callsOf(run, N.checkDnsChange, 'billing')).toHaveLength(POLL_LOOPS.dnsChange.maxAttempts);
    expect(callsOf(run, N.verifyConnectivity, 'billing')).toHaveLength(0);
    expect(callsOf(run, N.verifyConnectivity, 'orders')).toHaveLength(1);
    expect(run.report?.units.map((u) => [u.unit, u.status, u.stoppedAt])).toEqual([
      ['orders', 'succeeded', null],
      ['billing', 'failed', 'waitForDnsInSync'],
    ]);
    expect(run.report?.units[1]?.failure?.error).toBe(POLL_TIMEOUT_ERRORS.dnsChange);
    expect(run.status).toBe('failed');
  });
});
