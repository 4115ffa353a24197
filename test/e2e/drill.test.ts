import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { ListResourceRecordSetsCommand, Route53Client } from '@aws-sdk/client-route-53';
import { ListSecretsCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FailoverPlan } from '../../functions/lib/plan.js';
import { instanceDatabase } from '../../functions/lib/plan-names.js';
import { type RunReport, renderReportText } from '../../functions/lib/report/index.js';
import { loadPlanFile } from '../../infra/lifeboat-app.js';
import { type ProvingGround, startProvingGround } from '../../local/proving-ground.js';
import { type RunResult, runExecution, type SynthesizedOrchestrator } from '../../local/runner.js';
import { loadOrSynthesize } from '../../local/synthesize.js';
import { STATE_NAMES as N } from '../../statemachine/failover.js';

/**
 * Drills on the local proving ground: the synthesized state machine and bundled handlers, the emulator, a real
 * PostgreSQL primary with its streaming replica (the drill's replica is a third, real server), and a real DNS server.
 */

const PLAN_PATH = 'examples/plan.json';
const TIME_FACTOR = 0.02;
const PASSWORD = `marker-${Math.random().toString(36).slice(2)}-never-logged`;

/** Everything a drill names that is production's: no mutating call may target one. */
function productionIds(plan: FailoverPlan): Set<string> {
  const ids = new Set<string>();
  for (const unit of plan.units) {
    ids.add(instanceDatabase(unit, 'this test').primaryInstanceId);
    ids.add(instanceDatabase(unit, 'this test').replicaInstanceId);
    ids.add(unit.secret.id);
  }
  return ids;
}

/** The secret name inside an ARN (name and six random characters), or the id as given. */
const secretName = (id: string) =>
  id.startsWith('arn:') ? id.replace(/^arn:.*:secret:/, '').slice(0, -7) : id;

interface Leftovers {
  instances: string[];
  secrets: string[];
  records: string[];
}

/** Every drill copy still in the world, in both Regions. */
async function drillLeftovers(world: ProvingGround): Promise<Leftovers> {
  const { plan, emulator } = world;
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
  }
  const route53 = new Route53Client(emulator.clientConfig(plan.recoveryRegion));
  const zone = plan.units[0]?.dns.hostedZoneId ?? '';
  const sets =
    (await route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: zone }))).ResourceRecordSets ?? [];
  const records = sets.filter((r) => r.Name?.startsWith('lifeboat-drill')).map((r) => `${r.Type} ${r.Name}`);
  return { instances, secrets, records };
}

const NOTHING_LEFT: Leftovers = { instances: [], secrets: [], records: [] };

describe('a drill on the proving ground', () => {
  let orchestrator: SynthesizedOrchestrator;
  let world: ProvingGround;
  let drill: RunResult & { report?: RunReport };
  let productionRecord: unknown;
  let logged = '';
  const originalWrite = process.stdout.write.bind(process.stdout);

  /** Runs an execution and keeps the report step's output (a failed execution has no output of its own). */
  const run = async (
    name: string,
    input: Record<string, unknown> = { mode: 'drill', trigger: 'schedule' },
  ): Promise<RunResult & { report?: RunReport }> => {
    let report: RunReport | undefined;
    const result = await runExecution(orchestrator, {
      input,
      executionName: name,
      timeFactor: TIME_FACTOR,
      environment: world.environment(),
      onEvent: (event) => {
        const e = event as { type?: string; state?: { name?: string; output?: unknown } };
        if (e.type === 'StateExited' && e.state?.name === N.report) report = e.state.output as RunReport;
      },
    });
    return report ? { ...result, report } : result;
  };

  const readProductionRecord = async () => {
    const unit = world.plan.units[0];
    if (!unit) throw new Error('the plan has no unit');
    const route53 = new Route53Client(world.emulator.clientConfig(world.plan.recoveryRegion));
    const sets =
      (
        await route53.send(
          new ListResourceRecordSetsCommand({
            HostedZoneId: unit.dns.hostedZoneId,
            StartRecordName: unit.dns.recordName,
            StartRecordType: 'CNAME',
            MaxItems: 1,
          }),
        )
      ).ResourceRecordSets ?? [];
    return sets[0];
  };

  beforeAll(async () => {
    [orchestrator, world] = await Promise.all([
      loadOrSynthesize(PLAN_PATH),
      startProvingGround({ plan: loadPlanFile(PLAN_PATH), timeFactor: TIME_FACTOR, password: PASSWORD }),
    ]);
    await world.provision(orchestrator);
    productionRecord = await readProductionRecord();
    world.emulator.clearCalls();
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      logged += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      return (originalWrite as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stdout.write;
    drill = await run('e2e-drill-1');
  }, 240_000);

  afterAll(async () => {
    process.stdout.write = originalWrite;
    await world?.close();
  });

  it('fails over the drill copies, verifies them, reports a drill against the target RTO, and cleans up', () => {
    // Assess
    expect(drill.error, JSON.stringify(drill.error)).toBeUndefined();
    expect(drill.status).toBe('SUCCEEDED');
    const report = drill.output as RunReport;
    expect(report.mode).toBe('drill');
    expect(report.outcome).toBe('succeeded');
    const [unit] = report.units;
    expect(unit?.status).toBe('succeeded');
    expect(unit?.steps.map((s) => [s.step, s.status])).toEqual([
      ['prepareDrill', 'changed'],
      ['waitForDrillCopies', 'done'],
      ['promoteSecret', 'changed'],
      ['promoteDatabase', 'changed'],
      ['waitForDatabasePromotion', 'done'],
      ['updateDns', 'changed'],
      ['waitForDnsInSync', 'done'],
      // No rotation was under way on the drill secret: nothing to settle (docs/aws/secrets-manager-rotation.md).
      ['settleRotation', 'already-done'],
      ['verifyConnectivity', 'changed'],
      ['attachRotation', 'changed'],
      ['cleanUpDrill', 'done'],
    ]);
    expect(report.recoveryTimeSeconds).toBeGreaterThan(0);
    expect(report.rtoMet).toBe(true);
    expect(report.drill?.copiesSeconds).toBeGreaterThan(0);
    expect(report.drill?.cleanup).toBe('clean');
    expect(report.drill?.cleanedUp).toHaveLength(4);
    expect(report.delivery?.metrics).toEqual({ status: 'published', count: 2 });
  });

  it('made no mutating call on a production resource, and production replica still replicates', async () => {
    // Prepare
    const production = productionIds(world.plan);
    const mutating = world.emulator.calls.filter(
      (c) => c.mutating && ['rds', 'secretsmanager'].includes(String(c.service)),
    );
    const unit = world.plan.units[0];
    if (!unit) throw new Error('the plan has no unit');

    // Act
    const primary = await world.connect(
      instanceDatabase(unit, 'this test').primaryInstanceId,
      unit.verify.database,
    );
    const replica = await world.connect(
      instanceDatabase(unit, 'this test').replicaInstanceId,
      unit.verify.database,
    );
    let inRecovery: boolean;
    let rowsOnReplica = 0;
    try {
      const marker = `after-drill-${Date.now()}`;
      await primary.query('CREATE TABLE IF NOT EXISTS drill_probe (note text)');
      await primary.query('INSERT INTO drill_probe (note) VALUES ($1)', [marker]);
      inRecovery =
        (await replica.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]?.r ?? false;
      for (let i = 0; i < 100 && rowsOnReplica === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const found = await replica
          .query('SELECT 1 FROM drill_probe WHERE note = $1', [marker])
          .catch(() => ({ rowCount: 0 }));
        rowsOnReplica = found.rowCount ?? 0;
      }
    } finally {
      await Promise.all([primary.end(), replica.end()]);
    }

    // Assess
    expect(mutating.length).toBeGreaterThan(5);
    for (const call of mutating) {
      expect(production.has(secretName(call.resource ?? '')), `${call.action} on ${call.resource}`).toBe(
        false,
      );
      expect(call.resource ?? '', `${call.action}`).toMatch(/lifeboat-drill/);
    }
    // Route 53 logs the zone only: the production record must be exactly as before.
    expect(await readProductionRecord()).toEqual(productionRecord);
    expect(inRecovery).toBe(true);
    expect(rowsOnReplica).toBe(1);
  });

  it('leaves no drill copy behind, and never lets the password out', async () => {
    // Assess
    expect(await drillLeftovers(world)).toEqual(NOTHING_LEFT);
    expect(logged).not.toContain(PASSWORD);
    expect(JSON.stringify(drill.output ?? drill.report ?? null)).not.toContain(PASSWORD);
    for (const message of world.emulator.sns.messages) expect(message.message).not.toContain(PASSWORD);
  });

  it('a dry run makes no mutating call and reports the calls a failover would make', async () => {
    // Prepare
    world.emulator.clearCalls();

    // Act
    const dryRun = await run('e2e-dry-run', { mode: 'dry-run' });

    // Assess
    expect(dryRun.status).toBe('SUCCEEDED');
    const mutating = world.emulator.calls.filter(
      (c) => c.mutating && ['rds', 'secretsmanager', 'route53', 'dynamodb'].includes(String(c.service)),
    );
    expect(mutating).toEqual([]);
    const report = dryRun.output as RunReport;
    expect(report.mode).toBe('dry-run');
    expect(report.plannedCalls?.filter((c) => c.call).map((c) => [c.step, c.call])).toEqual([
      ['promoteSecret', 'StopReplicationToReplica'],
      ['promoteDatabase', 'PromoteReadReplica'],
      ['updateDns', 'ChangeResourceRecordSets'],
      ['attachRotation', 'RotateSecret'],
    ]);
    expect(report.plannedCalls?.find((c) => c.step === 'updateDns')?.parameters).toMatchObject({
      Action: 'UPSERT',
      Type: 'CNAME',
      Name: world.plan.units[0]?.dns.recordName,
    });
    expect(JSON.stringify(report)).not.toContain(PASSWORD);
    // The verify step probed the network read-only (issue 9, item 9): every result reported, none failed.
    const verify = report.units[0]?.steps.find((s) => s.step === 'verifyConnectivity');
    expect(verify?.detail).toMatchObject({
      probesFailed: 0,
      'probe.current.role': 'ok: writable (pg_is_in_recovery() = false)',
      'probe.replica.read-only': 'ok: read-only, as a replica must be (pg_is_in_recovery() = true)',
    });
    expect(verify?.detail['probe.current.auth']).toMatch(/^ok: authenticated as \S+ with the secret$/);
    expect(verify?.detail['probe.replica.tcp']).toMatch(/^ok: TCP to /);
    const text = renderReportText(report);
    expect(text).toMatch(/probe dns: ok: orders-db\.internal\.example\.com -> \S+ \(127\.0\.0\.\d+\)/);
    expect(text).toContain('probe replica.read-only: ok: read-only');
    // The first run to load the dry run's bundles; a shared machine may be slow.
  }, 180_000);

  // A permanent fault on the nth call of one action, so that exactly one step fails; n counts the calls that match.
  it.each([
    // Prepare drill copies: the drill secret cannot be made (the replica and the records already were).
    ['prepare copies', { service: 'secretsmanager', action: 'CreateSecret' }, 1, 'Prepare drill copies'],
    // Check drill copies: its read of the drill secret's primary (prepare made the first such read).
    [
      'check copies',
      { service: 'secretsmanager', action: 'DescribeSecret', region: 'us-east-1' },
      2,
      'Wait for drill copies',
    ],
    ['promote secret', { service: 'secretsmanager', action: 'StopReplicationToReplica' }, 1, N.promoteSecret],
    ['promote database', { service: 'rds', action: 'PromoteReadReplica' }, 1, N.promoteDatabase],
    // Route 53's first change is the drill's own record creation: the second is UpdateDns's UPSERT.
    ['update DNS', { service: 'route53', action: 'ChangeResourceRecordSets' }, 2, N.updateDns],
    ['wait for DNS', { service: 'route53', action: 'GetChange' }, 1, 'Wait for DNS change'],
    ['attach rotation', { service: 'secretsmanager', action: 'RotateSecret' }, 1, N.attachRotation],
    // Verify reads the drill secret; preflight and prepare read production's value before it.
    [
      'verify',
      { service: 'secretsmanager', action: 'GetSecretValue', region: 'us-west-2' },
      3,
      N.verifyConnectivity,
    ],
  ] as const)(
    'cleans up every copy when %s fails',
    async (_, match, nth, state) => {
      // Prepare
      const fault = world.emulator.faults.add({
        match,
        failCalls: [nth],
        failWith: { code: 'AccessDeniedException', status: 400, message: 'injected by the drill test' },
      });

      // Act
      let result: RunResult & { report?: RunReport };
      try {
        result = await run(`e2e-drill-fault-${match.action}`);
      } finally {
        fault.remove();
      }

      // Assess
      expect(result.status).toBe('FAILED');
      const report = result.report;
      const unit = report?.units[0];
      expect(unit?.status).toBe('failed');
      expect(unit?.steps.find((s) => s.status === 'failed')?.title).toBe(state);
      expect(report?.drill?.cleanup).toBe('clean');
      expect(await drillLeftovers(world)).toEqual(NOTHING_LEFT);
    },
    120_000,
  );

  it('a dry run reports a replica whose port is closed, and still ends as a dry run', async () => {
    // Prepare: the production replica's server is down; its endpoint still resolves
    const replicaId = world.plan.units[0]
      ? instanceDatabase(world.plan.units[0], 'this test').replicaInstanceId
      : '';
    await world.cluster.stop(replicaId);
    world.emulator.clearCalls();

    // Act
    let dryRun: RunResult & { report?: RunReport };
    try {
      dryRun = await run('e2e-dry-run-closed-port', { mode: 'dry-run' });
    } finally {
      await world.cluster.restart(replicaId);
    }

    // Assess
    expect(dryRun.status).toBe('SUCCEEDED');
    const report = dryRun.report as RunReport;
    const verify = report.units[0]?.steps.find((s) => s.step === 'verifyConnectivity');
    expect(verify?.status).toBe('planned');
    expect(verify?.detail['probe.replica.tcp']).toMatch(
      /^FAILED: TCP to \S+ \(\S+\) failed \(ECONNREFUSED\)/,
    );
    expect(verify?.detail['probe.replica.read-only']).toBe('skipped: not tried: TCP failed');
    expect(verify?.detail['probe.current.role']).toBe('ok: writable (pg_is_in_recovery() = false)');
    expect(report.summary).toContain('1 network probe failed (orders: see Verify connectivity)');
    expect(renderReportText(report)).toMatch(/probe replica\.tcp: FAILED: TCP to .* \(ECONNREFUSED\)/);
    const mutating = world.emulator.calls.filter(
      (c) => c.mutating && ['rds', 'secretsmanager', 'route53', 'dynamodb'].includes(String(c.service)),
    );
    expect(mutating).toEqual([]);
  }, 120_000);
});
