import { describe, expect, it } from 'vitest';
import { STATE_NAMES as N } from '../../statemachine/failover.js';
import {
  callsOf,
  MUTATING_STATES,
  planWith,
  RUN_ID,
  runFlow,
  type Stub,
  statesCalled,
  stepResult,
} from '../helpers/flow-harness.js';
import { APPROVAL_TOPIC_ARN } from '../helpers/synth-definition.js';

const UNIT_ORDER = [
  N.promoteSecret,
  N.promoteDatabase,
  N.checkDatabasePromotion,
  N.updateDns,
  N.checkDnsChange,
  N.settleRotation,
  N.verifyConnectivity,
  N.attachRotation,
];

describe('a failover run, step by step', () => {
  it('runs every step once, in order, and reports success', async () => {
    // Prepare
    const plan = planWith(1);

    // Act
    const run = await runFlow({ plan, input: {} });

    // Assess
    expect(run.status).toBe('succeeded');
    const all = statesCalled(run);
    expect(all.slice(0, 3)).toEqual([N.loadPlan, N.preflight, N.acquireLock]);
    expect(all.slice(-2)).toEqual([N.report, N.releaseLock]);
    const unit = statesCalled(run, 'orders');
    expect(new Set(unit)).toEqual(new Set(UNIT_ORDER));
    expect(unit).toHaveLength(UNIT_ORDER.length);
    // The secret's promotion runs beside the database's; everything after waits for both.
    const at = (state: string) => all.indexOf(state);
    expect(at(N.promoteDatabase)).toBeLessThan(at(N.checkDatabasePromotion));
    expect(at(N.checkDatabasePromotion)).toBeLessThan(at(N.updateDns));
    expect(at(N.promoteSecret)).toBeLessThan(at(N.updateDns));
    expect(at(N.updateDns)).toBeLessThan(at(N.checkDnsChange));
    // An interrupted rotation is settled before verification reads AWSCURRENT.
    expect(at(N.checkDnsChange)).toBeLessThan(at(N.settleRotation));
    expect(at(N.settleRotation)).toBeLessThan(at(N.verifyConnectivity));
    // Rotation is attached only once the database is verified: RotateSecret runs the function's testSecret.
    expect(at(N.verifyConnectivity)).toBeLessThan(at(N.attachRotation));
    expect(run.output?.outcome).toBe('succeeded');
    expect(run.output?.units).toHaveLength(1);
    expect(run.output?.units[0]?.status).toBe('succeeded');
    expect(run.output?.units[0]?.steps.map((s) => s.status)).toEqual([
      'changed',
      'changed',
      'done',
      'changed',
      'done',
      'changed',
      'changed',
      'changed',
    ]);
    expect(run.output?.recoveryTimeSeconds).not.toBeNull();
    expect(run.output?.rtoMet).toBe(true);
    expect(run.lock.holderOf('orders-dr')).toBeUndefined();
  });

  it('passes each step the run and its unit, and the poll steps their attempt and change id', async () => {
    // Prepare
    const plan = planWith(1);

    // Act
    const run = await runFlow({ plan });

    // Assess
    const [promote] = callsOf(run, N.promoteDatabase);
    expect(Object.keys(promote?.input ?? {}).sort()).toEqual(['run', 'unit']);
    expect(promote?.input.run).toMatchObject({ runId: RUN_ID, planName: 'orders-dr', mode: 'failover' });
    expect(promote?.input.unit).toMatchObject({
      name: 'orders',
      database: { replicaInstanceId: 'orders-db-replica' },
    });
    const [dbPoll] = callsOf(run, N.checkDatabasePromotion);
    expect(Object.keys(dbPoll?.input ?? {}).sort()).toEqual(['attempt', 'run', 'unit']);
    expect(dbPoll?.input.attempt).toBe(1);
    const [dnsPoll] = callsOf(run, N.checkDnsChange);
    expect(dnsPoll?.input).toMatchObject({ changeId: 'C-orders', attempt: 1 });
    // Verify gets what its budget runs from: UpdateDns's detail and the poll that saw the change in sync.
    const [verify] = callsOf(run, N.verifyConnectivity);
    expect(Object.keys(verify?.input ?? {}).sort()).toEqual(['dns', 'run', 'unit']);
    expect(verify?.input.dns).toMatchObject({
      change: { changeId: 'C-orders' },
      inSync: { done: true, observedAt: expect.any(String), attempts: expect.any(Number) },
    });
    const [rotation] = callsOf(run, N.attachRotation);
    expect(Object.keys(rotation?.input ?? {}).sort()).toEqual(['run', 'unit']);
    const [settle] = callsOf(run, N.settleRotation);
    expect(settle?.input).toMatchObject({ phase: 'settle', unit: { name: 'orders' } });
    const [load] = callsOf(run, N.loadPlan);
    expect(load?.input).toMatchObject({
      input: {},
      execution: { id: expect.stringContaining(RUN_ID), name: RUN_ID, startTime: expect.any(String) },
    });
    expect(load?.input.plan).toMatchObject({ name: 'orders-dr' });
    const [acquire] = callsOf(run, N.acquireLock);
    expect(Object.keys(acquire?.input ?? {})).toEqual(['run']);
  });

  it.each([
    ['the console default', { Comment: 'Insert your JSON here' }],
    ['an empty object', {}],
  ])('runs a full failover of every unit when started with %s', async (_, input) => {
    // Prepare
    const plan = planWith(2);

    // Act
    const run = await runFlow({ plan, input });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(
      callsOf(run, N.verifyConnectivity)
        .map((c) => (c.input.unit as { name: string }).name)
        .sort(),
    ).toEqual(['billing', 'orders']);
    expect(run.output?.mode).toBe('failover');
    expect(run.output?.trigger).toBe('console');
  });

  it('fails over only the units named in the input', async () => {
    // Prepare
    const plan = planWith(3);

    // Act
    const run = await runFlow({ plan, input: { units: ['billing'], reason: 'primary down' } });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(
      new Set(run.calls.map((c) => (c.input.unit as { name?: string } | undefined)?.name).filter(Boolean)),
    ).toEqual(new Set(['billing']));
    expect(run.output?.reason).toBe('primary down');
  });
});

describe('units side by side', () => {
  it('fails over three units through the Map, never more at once than the plan allows', async () => {
    // Prepare
    const plan = planWith(3, { maxConcurrency: 2 });
    let inFlight = 0;
    let maxInFlight = 0;
    const slow: Stub = async (input) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 30));
      inFlight -= 1;
      return stepResult('promoteDatabase', input);
    };

    // Act
    const run = await runFlow({ plan, stubs: { [N.promoteDatabase]: slow } });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(maxInFlight).toBe(2);
    expect(run.output?.units.map((u) => [u.unit, u.status])).toEqual([
      ['orders', 'succeeded'],
      ['billing', 'succeeded'],
      ['catalog', 'succeeded'],
    ]);
    expect(run.output?.units.map((u) => u.engine)).toEqual(['postgres', 'mysql', 'postgres']);
  });

  it('runs both branches of the promotions Parallel at the same time', async () => {
    // Prepare: each branch waits for the other to have started; run one after the other, this would deadlock.
    const plan = planWith(1);
    const started = new Set<string>();
    const rendezvous =
      (mine: string, other: string, step: 'promoteSecret' | 'promoteDatabase'): Stub =>
      async (input) => {
        started.add(mine);
        for (let i = 0; i < 100 && !started.has(other); i += 1) await new Promise((r) => setTimeout(r, 5));
        if (!started.has(other)) throw new Error(`${mine} ran alone: ${other} never started`);
        return stepResult(step, input);
      };

    // Act
    const run = await runFlow({
      plan,
      stubs: {
        [N.promoteSecret]: rendezvous('secret', 'database', 'promoteSecret'),
        [N.promoteDatabase]: rendezvous('database', 'secret', 'promoteDatabase'),
      },
    });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(run.output?.units[0]?.steps.every((s) => s.status !== 'failed')).toBe(true);
  });
});

describe('dry run', () => {
  it('calls every step in dry-run mode without taking the lock, and reports the plan of calls', async () => {
    // Prepare
    const plan = planWith(2);
    const lockSeen: string[] = [];

    // Act
    const run = await runFlow({
      plan,
      input: { mode: 'dry-run' },
      stubs: {
        [N.promoteDatabase]: (input) => {
          lockSeen.push(String((input.run as { mode: string }).mode));
          return stepResult('promoteDatabase', input, {
            outcome: 'planned',
            detail: { call: 'PromoteReadReplica' },
          });
        },
      },
    });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(callsOf(run, N.acquireLock)).toHaveLength(0);
    expect(lockSeen).toEqual(['dry-run', 'dry-run']);
    for (const state of MUTATING_STATES) expect(callsOf(run, state)).toHaveLength(2);
    // No lock taken, none released: a dry run makes no mutating call at all.
    expect(callsOf(run, N.releaseLock)).toHaveLength(0);
    expect(run.output?.mode).toBe('dry-run');
    expect(run.output?.outcome).toBe('succeeded');
    expect(run.output?.recoveryTimeSeconds).toBeNull();
    expect(run.output?.units[0]?.steps[1]).toMatchObject({
      status: 'planned',
      detail: { call: 'PromoteReadReplica' },
    });
    expect(run.output?.summary).toMatch(/nothing was changed/);
  });

  it('does not block a real failover of the same plan that holds the lock', async () => {
    // Prepare
    const plan = planWith(1);
    const first = await runFlow({ plan, input: { mode: 'dry-run' } });
    first.lock.holdFor('orders-dr', 'real-failover');

    // Act
    const dry = await runFlow({ plan, input: { mode: 'dry-run' }, lock: first.lock, runId: 'dry-2' });

    // Assess
    expect(dry.status).toBe('succeeded');
    expect(first.lock.holderOf('orders-dr')).toBe('real-failover');
  });
});

describe('approval gate', () => {
  const gated = planWith(1, { approval: { onAlarm: true, timeoutSeconds: 600 } });

  it('holds an alarm-started run until the approval task token is answered, announcing it on the topic', async () => {
    // Prepare
    const order: string[] = [];
    let approvalMessage: Record<string, unknown> | undefined;

    // Act
    const run = await runFlow({
      plan: gated,
      approvalTopic: true,
      input: { trigger: 'alarm', reason: 'orders-db-primary-down ALARM' },
      taskToken: 'token-123',
      stubs: {
        [N.askApproval]: (input) => {
          approvalMessage = input;
          order.push('approval');
          return { approvedBy: 'sre-on-call' };
        },
      },
    });

    // Assess
    expect(run.status).toBe('succeeded');
    const all = statesCalled(run);
    expect(all.indexOf(N.askApproval)).toBeGreaterThan(all.indexOf(N.preflight));
    expect(all.indexOf(N.askApproval)).toBeLessThan(all.indexOf(N.acquireLock));
    expect(approvalMessage).toMatchObject({
      TopicArn: APPROVAL_TOPIC_ARN,
      Message: { taskToken: 'token-123', planName: 'orders-dr', runId: RUN_ID, units: ['orders'] },
    });
    const state = run.definition.States[N.askApproval] as unknown as Record<string, unknown>;
    expect(state.Resource).toBe('arn:aws:states:::sns:publish.waitForTaskToken');
    expect(state.TimeoutSeconds).toBe(600);
  });

  it('does not ask for approval when a person started the run', async () => {
    // Act
    const run = await runFlow({ plan: gated, approvalTopic: true, input: { trigger: 'console' } });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(callsOf(run, N.askApproval)).toHaveLength(0);
  });

  it('reports and changes nothing when the approval times out or is rejected', async () => {
    // Act
    const run = await runFlow({
      plan: gated,
      approvalTopic: true,
      input: { trigger: 'alarm' },
      taskToken: 'token-123',
      stubs: {
        [N.askApproval]: () => {
          const error = new Error('nobody answered');
          error.name = 'States.Timeout';
          throw error;
        },
      },
    });

    // Assess
    expect(run.status).toBe('failed');
    expect(run.error?.name).toBe('States.Timeout');
    for (const state of [...MUTATING_STATES, N.acquireLock]) expect(callsOf(run, state)).toHaveLength(0);
    expect(run.report?.failure?.stage).toBe('approval');
    expect(run.report?.summary).toMatch(/Nothing was changed/);
  });

  it('has no gate when the plan does not ask for approval, even with a topic', async () => {
    // Act
    const run = await runFlow({ plan: planWith(1), approvalTopic: true, input: { trigger: 'alarm' } });

    // Assess
    expect(run.status).toBe('succeeded');
    expect(run.definition.States[N.needsApproval]).toBeUndefined();
  });
});
