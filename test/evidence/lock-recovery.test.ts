import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HISTORY_STATES } from '../../functions/lib/ended-run.js';
import type { AcquiredLock } from '../../functions/lib/lock.js';
import { type EndedRunBus, endedRunBus } from '../../local/ended-runs.js';
import type { RunOptions, RunResult, StepEvent } from '../../local/runner.js';
import { type EvidenceWorld, plannedUnits, readStoredReport, startWorld, unitFacts } from './support.js';

/**
 * Lock recovery (issue 9, item 6) on the proving ground, through the emulated Step Functions API and the ended-run
 * rule's handler (the bundles `cdk deploy` uploads): a run stopped in its units leaves a stale lock that the next
 * failover takes over at once; a run that times out or is stopped is reported and its lock released by the handler;
 * a failover started during a drill stops the drill, whose copies the handler deletes, and fails over.
 */

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

describe('lock recovery', () => {
  let w: EvidenceWorld;
  let sfn: SFNClient;

  beforeAll(async () => {
    w = await startWorld(plannedUnits(3));
    sfn = new SFNClient(w.world.emulator.clientConfig(w.plan.recoveryRegion));
  }, 900_000);

  afterAll(async () => {
    sfn?.destroy();
    await w?.close();
  });

  /** Runs an execution registered with the emulated Step Functions API, its end published on `bus`. */
  function run(bus: EndedRunBus, name: string, input: unknown, more: Partial<RunOptions> = {}) {
    return w.run(name, input, {
      stepFunctions: w.world.emulator.stepFunctions,
      onStatusChange: (event) => bus.publish(event),
      ...more,
    });
  }

  /** Resolves when a step of the run starts (for unit `unit`), for acting in the middle of a run. */
  function onStepStart(step: StepEvent['step'], unit: string) {
    let seen!: () => void;
    const started = new Promise<void>((resolve) => {
      seen = resolve;
    });
    const onStep = (event: StepEvent) => {
      if (event.phase === 'start' && event.step === step && event.unit === unit) seen();
    };
    return { started, onStep };
  }

  /** What AcquireLock returned in a run, from its history in the emulated API. */
  function lockOf(result: RunResult): AcquiredLock | undefined {
    const history = w.world.emulator.stepFunctions.execution(result.executionArn)?.history ?? [];
    const exit = history.find(
      (e) => (e.stateExitedEventDetails as { name?: string } | undefined)?.name === 'Acquire failover lock',
    );
    const output = (exit?.stateExitedEventDetails as { output?: string } | undefined)?.output;
    return output ? (JSON.parse(output) as { lock?: AcquiredLock }).lock : undefined;
  }

  describe('a run stopped in its units; a new failover started at once', () => {
    let stopped: RunResult;
    let next: RunResult;
    let bus: EndedRunBus;

    beforeAll(async () => {
      const w0 = w;
      bus = endedRunBus(w0.orchestrator, w0.world.environment(), { hold: true });
      // Act: stop the first run while it waits for its DNS change, then start the next one at once
      const at = onStepStart('checkDnsChange', 'u1');
      const steps: string[] = [];
      const first = run(
        bus,
        'stopped-1',
        { units: ['u1'] },
        {
          onStep: (e) => {
            steps.push(`${e.phase} ${e.step}${e.unit ? ` ${e.unit}` : ''}${e.result ? ` ${e.result}` : ''}`);
            at.onStep(e);
          },
        },
      );
      const early = await Promise.race([at.started.then(() => undefined), first]);
      if (early) throw new Error(`stopped-1 ended before its units (${early.status}): ${steps.join('; ')}`);
      await sfn.send(
        new StopExecutionCommand({
          executionArn: `arn:aws:states:${w0.plan.recoveryRegion}:${w0.plan.account}:execution:lifeboat-${w0.plan.name}:stopped-1`,
          error: 'OperatorStopped',
          cause: 'stopped by the evidence suite in the middle of the units',
        }),
      );
      stopped = await first;
      next = await run(bus, 'after-stop-1', { units: ['u1'] });
    }, 600_000);

    it('the stopped run ends ABORTED without releasing its lock (its Catch never runs)', () => {
      // Assess
      expect(stopped.status).toBe('ABORTED');
      expect(stopped.error?.name).toBe('OperatorStopped');
      expect(bus.published.find((e) => e.detail.name === 'stopped-1')?.detail.status).toBe('ABORTED');
    });

    it('the next failover takes over the stale lock at once and fails the unit over', async () => {
      // Assess
      expect(next.status).toBe('SUCCEEDED');
      expect(lockOf(next)?.tookOverFrom).toMatchObject({
        holder: 'stopped-1',
        status: 'ABORTED',
        stopped: false,
      });
      expect(await w.lockHolder()).toBeUndefined();
      const facts = await unitFacts(w.world, ['u1']);
      expect(facts.filter((f) => !f.ok)).toEqual([]);
    });

    it("the rule's handler then reports the stopped run; the lock it no longer holds stays as it is", async () => {
      // Act
      await bus.deliver();

      // Assess
      const delivery = bus.deliveries.find((d) => d.event.detail.name === 'stopped-1');
      expect(delivery?.error).toBeUndefined();
      expect(delivery?.outcome).toMatchObject({ report: 'written', lockReleased: false });
      expect(delivery?.outcome?.lastState).toBe(HISTORY_STATES.failOverUnits);
      const report = await readStoredReport(w.world, 'stopped-1');
      expect(report?.outcome).toBe('failed');
      expect(report?.failure?.error).toBe('OperatorStopped');
      expect(report?.failure?.cause).toContain(`was stopped at state "${HISTORY_STATES.failOverUnits}"`);
      expect(report?.units.map((u) => [u.unit, u.status])).toEqual([['u1', 'failed']]);
    });
  });

  describe('a run that times out in its units', () => {
    let timedOut: RunResult;
    let bus: EndedRunBus;
    let holderBefore: string | undefined;

    beforeAll(async () => {
      bus = endedRunBus(w.orchestrator, w.world.environment(), { hold: true });
      // Promotions of u2's replica answer slowly: the run is still polling when the runner's timeout comes.
      const slow = w.world.emulator.faults.add({
        match: { service: 'rds', action: 'DescribeDBInstances' },
        latencyMs: 60_000,
      });
      try {
        timedOut = await run(bus, 'timed-out-2', { units: ['u2'] }, { timeoutMs: 6_000 });
      } finally {
        slow.remove();
      }
      holderBefore = await w.lockHolder();
      // Act: EventBridge delivers the TIMED_OUT event to the handler
      await bus.deliver();
    }, 240_000);

    it('ends TIMED_OUT holding its lock (nothing in the run released it)', () => {
      // Assess
      expect(timedOut.status).toBe('TIMED_OUT');
      expect(holderBefore).toBe('timed-out-2');
    });

    it("the rule's handler releases the lock and writes the report: timed out, and where", async () => {
      // Assess
      const delivery = bus.deliveries.find((d) => d.event.detail.name === 'timed-out-2');
      expect(delivery?.outcome).toMatchObject({ status: 'TIMED_OUT', report: 'written', lockReleased: true });
      expect(await w.lockHolder()).toBeUndefined();
      const report = await readStoredReport(w.world, 'timed-out-2');
      expect(report?.failure?.error).toBe('ExecutionTimedOut');
      expect(report?.failure?.cause).toMatch(/timed out at state "[^"]+"/);
      expect(report?.units.map((u) => u.unit)).toEqual(['u2']);
    });

    it('a run after it takes the lock normally', async () => {
      // Act
      const after = await run(bus, 'after-timeout-2', { units: ['u2'] });

      // Assess
      expect(after.status).toBe('SUCCEEDED');
      expect(lockOf(after)?.tookOverFrom).toBeUndefined();
    }, 240_000);
  });

  describe('a failover started during a drill', () => {
    let drill: RunResult;
    let failover: RunResult;
    let bus: EndedRunBus;

    beforeAll(async () => {
      bus = endedRunBus(w.orchestrator, w.world.environment());
      // Act: the failover starts while the drill waits for its copies
      const at = onStepStart('checkDrillCopies', 'u3');
      const drilling = run(bus, 'drill-3', { mode: 'drill', units: ['u3'] }, { onStep: at.onStep });
      const early = await Promise.race([at.started.then(() => undefined), drilling]);
      if (early)
        throw new Error(`drill-3 ended before its copies were checked: ${early.status} ${early.error?.name}`);
      failover = await run(bus, 'failover-3', { units: ['u3'] });
      drill = await drilling;
      await bus.settled();
    }, 600_000);

    it('stops the drill (ABORTED, naming the failover) and takes its lock', () => {
      // Assess
      expect(drill.status).toBe('ABORTED');
      expect(drill.error?.name).toBe('DrillPreemptedByFailover');
      expect(drill.error?.cause).toContain('failover run failover-3');
      expect(lockOf(failover)?.tookOverFrom).toMatchObject({
        holder: 'drill-3',
        status: 'RUNNING',
        stopped: true,
      });
    });

    it('fails the unit over', async () => {
      // Assess
      expect(failover.status).toBe('SUCCEEDED');
      const facts = await unitFacts(w.world, ['u3']);
      expect(facts.filter((f) => !f.ok)).toEqual([]);
      expect(await w.lockHolder()).toBeUndefined();
    });

    it("the rule's handler deletes the drill's copies and reports the drill", async () => {
      // Assess
      const delivery = bus.deliveries.find((d) => d.event.detail.name === 'drill-3');
      expect(delivery?.error).toBeUndefined();
      expect(delivery?.outcome?.drillCleanup?.map((c) => [c.unit, c.status])).toEqual([['u3', 'clean']]);
      expect(await drillLeftovers(w)).toEqual({ instances: [], secrets: [], records: [] });
      const report = await readStoredReport(w.world, 'drill-3');
      expect(report?.mode).toBe('drill');
      expect(report?.failure?.error).toBe('DrillPreemptedByFailover');
      expect(report?.drill?.cleanup).toBe('clean');
    });
  });
});

/** Every drill copy still in the world, in both Regions (as test/e2e/drill.test.ts reads them). */
async function drillLeftovers(w: EvidenceWorld) {
  const { plan, emulator } = w.world;
  const instances: string[] = [];
  const secrets: string[] = [];
  for (const region of [plan.primaryRegion, plan.recoveryRegion]) {
    const rds = new RDSClient(emulator.clientConfig(region));
    const sm = new SecretsManagerClient(emulator.clientConfig(region));
    const dbs = (await rds.send(new DescribeDBInstancesCommand({}))).DBInstances ?? [];
    instances.push(
      ...dbs
        .filter(
          (d) => d.DBInstanceIdentifier?.startsWith('lifeboat-drill') && d.DBInstanceStatus !== 'deleting',
        )
        .map((d) => `${region}/${d.DBInstanceIdentifier}`),
    );
    const list = (await sm.send(new ListSecretsCommand({ IncludePlannedDeletion: false }))).SecretList ?? [];
    secrets.push(
      ...list
        .filter((s) => s.Name?.startsWith('lifeboat-drill') && !s.DeletedDate)
        .map((s) => `${region}/${s.Name}`),
    );
    rds.destroy();
    sm.destroy();
  }
  const route53 = new Route53Client(emulator.clientConfig(plan.recoveryRegion));
  const zone = plan.units[0]?.dns.hostedZoneId ?? '';
  const sets =
    (await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone }))).ResourceRecordSets ?? [];
  route53.destroy();
  const records = sets.filter((r) => r.Name?.startsWith('lifeboat-drill')).map((r) => `${r.Type} ${r.Name}`);
  return { instances, secrets, records };
}
