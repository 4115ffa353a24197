import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FailoverDescription } from '../../cli/describe-plan.js';
import { run } from '../../cli/lifeboat.js';
import { captureIo } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-cli-plan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Section = Record<string, unknown>;
interface EditablePlan {
  approval?: unknown;
  units: { dns: Section; database: Section; rotation: Section }[];
}

/** examples/plan.json with `edit` applied to a copy of it (and to its first unit), written to a temp file. */
function planFile(
  name: string,
  edit: (plan: EditablePlan, unit: EditablePlan['units'][number]) => void,
): string {
  const plan = JSON.parse(readFileSync('examples/plan.json', 'utf8')) as EditablePlan;
  const unit = plan.units[0];
  if (!unit) throw new Error('examples/plan.json has no unit');
  edit(plan, unit);
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(plan));
  return path;
}

describe('lifeboat plan', () => {
  it('prints, per unit and in order, the calls a failover makes with their parameters', async () => {
    // Prepare
    const cli = captureIo();

    // Act
    const code = await run(['plan', '--plan', 'examples/plan.json'], cli.io);

    // Assess
    expect(code).toBe(0);
    const out = cli.stdout();
    const expected = [
      'plan orders-dr (examples/plan.json) is valid',
      'fails over from us-east-1 to us-west-2, account 123456789012',
      'state machine: lifeboat-orders-dr',
      'arn:aws:states:us-west-2:123456789012:stateMachine:lifeboat-orders-dr',
      'target RTO: 15m 00s',
      'approval before alarm-started runs: off',
      'arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-db-primary-down',
      'drill schedule: cron(0 10 ? * TUE *) (Europe/Paris)',
      'Run preflight checks',
      '* dynamodb:PutItem TableName=<lock table> planName=orders-dr',
      'unit orders (postgres)',
      '* secretsmanager:StopReplicationToReplica SecretId=orders/db',
      '* rds:PromoteReadReplica DBInstanceIdentifier=orders-db-replica',
      'then polls rds:DescribeDBInstances until available and no longer a replica (at most 300 polls)',
      '* route53:ChangeResourceRecordSets HostedZoneId=Z0LIFEBOAT00EXAMPLE Action=UPSERT Name=orders-db.internal.example.com Type=CNAME TTL=5 Value=<endpoint of orders-db-replica>',
      'then polls route53:GetChange until INSYNC',
      'Settle an interrupted rotation',
      'connects to database orders (TLS not required)',
      'runs "SELECT count(*) FROM orders"',
      '* secretsmanager:RotateSecret SecretId=orders/db RotationLambdaARN=arn:aws:lambda:us-west-2:123456789012:function:orders-db-rotation RotationRules={"AutomaticallyAfterDays":30} RotateImmediately=false',
      '* s3:PutObject Bucket=<report bucket> Key=reports/orders-dr/latest.json',
      '* dynamodb:DeleteItem',
    ];
    let from = 0;
    for (const text of expected) {
      const at = out.indexOf(text, from);
      expect(at, text).toBeGreaterThanOrEqual(0);
      from = at;
    }
    expect(out).not.toMatch(/password/i);
  });

  it('describes a health-check unit, region-field rewriting and the approval gate', async () => {
    // Prepare
    const path = planFile('variants.json', (plan, unit) => {
      unit.dns.strategy = 'health-check';
      unit.rotation.rewriteRegionFields = true;
      unit.rotation.schedule = 'rate(7 days)';
      plan.approval = { onAlarm: true, timeoutSeconds: 1800 };
    });
    const cli = captureIo();

    // Act
    const code = await run(['plan', '--plan', path, '--json'], cli.io);

    // Assess
    expect(code).toBe(0);
    const d = JSON.parse(cli.stdout()) as FailoverDescription;
    expect(d.before.map((s) => s.title)).toEqual([
      'Load plan',
      'Run preflight checks',
      'Ask for approval',
      'Acquire failover lock',
    ]);
    const steps = d.units[0]?.steps ?? [];
    expect(steps.map((s) => s.title)).toEqual([
      'Promote replica secret',
      'Promote database replica',
      'Point DNS at promoted database',
      'Settle an interrupted rotation',
      'Verify connectivity',
      'Attach secret rotation',
    ]);
    expect(steps[2]?.calls).toEqual([
      {
        api: 'cloudwatch:PutMetricData',
        parameters: {
          Region: 'us-west-2',
          Namespace: 'Lifeboat',
          MetricName: 'DnsFailoverForced',
          Dimensions: 'Plan=orders-dr,Unit=orders',
          Value: 1,
        },
        when: 'alarm lifeboat-orders-dr-orders-dns-failover is not in ALARM yet',
      },
    ]);
    expect(steps[2]?.reads.join(' ')).not.toContain('route53');
    expect(d.warnings).toEqual([]);
    // The interrupted rotation is settled before verification: removing AWSPENDING, or moving AWSCURRENT to it.
    expect(steps[3]?.calls.map((c) => c.parameters.VersionStage)).toEqual(['AWSPENDING', 'AWSCURRENT']);
    expect(steps[5]?.calls.map((c) => c.api)).toEqual([
      'secretsmanager:PutSecretValue',
      'secretsmanager:RotateSecret',
    ]);
    expect(steps[5]?.calls[1]?.parameters.RotationRules).toBe('{"ScheduleExpression":"rate(7 days)"}');
    expect(d.triggers).toMatchObject({ approvalOnAlarm: true, approvalTimeoutSeconds: 1800 });
  });

  it('describes Aurora units: a global database failover, a replica cluster promotion, the global writer endpoint left alone', async () => {
    // Prepare
    const aurora = JSON.parse(readFileSync('examples/plan-aurora.json', 'utf8')) as EditablePlan;
    const global = aurora.units.find((u) => u.database.globalClusterId !== undefined);
    if (!global) throw new Error('examples/plan-aurora.json has no global database unit');
    const writer = structuredClone(global);
    writer.dns.target = 'global-writer-endpoint';
    writer.dns.recordName = 'writer.internal.example.com';
    (writer as unknown as { name: string }).name = 'writer';
    const replicaCluster = structuredClone(global);
    replicaCluster.database = {
      engine: 'aurora-mysql',
      primaryClusterId: 'shop-aurora',
      replicaClusterId: 'shop-aurora-dr',
    };
    replicaCluster.dns.recordName = 'shop.internal.example.com';
    (replicaCluster as unknown as { name: string }).name = 'shop';
    aurora.units = [global, writer, replicaCluster];
    const path = join(dir, 'aurora.json');
    writeFileSync(path, JSON.stringify(aurora));
    const cli = captureIo();

    // Act
    const code = await run(['plan', '--plan', path, '--json'], cli.io);

    // Assess
    expect(cli.stderr()).toBe('');
    expect(code).toBe(0);
    const d = JSON.parse(cli.stdout()) as FailoverDescription;
    const [g, w, r] = d.units;
    expect(g?.engine).toBe(global.database.engine);
    expect(g?.steps[1]?.calls).toEqual([
      {
        api: 'rds:FailoverGlobalCluster',
        parameters: {
          GlobalClusterIdentifier: global.database.globalClusterId,
          TargetDbClusterIdentifier: `<ARN of ${global.database.replicaClusterId} in us-west-2>`,
          AllowDataLoss: true,
        },
      },
    ]);
    expect(g?.steps[2]?.calls[0]?.parameters.Value).toBe(
      `<endpoint of cluster ${global.database.replicaClusterId}>`,
    );
    // The global writer endpoint follows the writer: no Route 53 change.
    expect(w?.steps[2]?.calls).toEqual([]);
    expect(w?.steps[2]?.notes.join(' ')).toMatch(/no Route 53 call/);
    expect(r?.steps[1]?.calls).toEqual([
      { api: 'rds:PromoteReadReplicaDBCluster', parameters: { DBClusterIdentifier: 'shop-aurora-dr' } },
    ]);
  });

  it("warns when a cname unit depends on Route 53's control plane in the primary Region us-east-1", async () => {
    // Prepare
    const cname = captureIo();
    const healthCheck = captureIo();
    const otherPrimary = captureIo();
    const elsewhere = planFile('eu-primary.json', (plan) => {
      (plan as unknown as Section).primaryRegion = 'eu-west-1';
      (plan as unknown as Section).alarms = [];
    });

    // Act
    const codes = [
      await run(['plan', '--plan', 'examples/plan.json'], cname.io),
      await run(['plan', '--plan', 'examples/plan-health-check.json'], healthCheck.io),
      await run(['plan', '--plan', elsewhere, '--json'], otherPrimary.io),
    ];

    // Assess
    expect(codes).toEqual([0, 0, 0]);
    expect(cname.stdout()).toContain(
      'warning: unit orders: dns.strategy "cname" changes orders-db.internal.example.com through Route 53\'s control plane, which is served from us-east-1, the primary Region',
    );
    expect(healthCheck.stdout()).not.toContain('warning:');
    expect((JSON.parse(otherPrimary.stdout()) as FailoverDescription).warnings).toEqual([]);
  });

  it('fails with exit 2 naming every broken field of a bad plan', async () => {
    // Prepare
    const path = planFile('broken.json', (_plan, unit) => {
      unit.dns.ttl = -1;
      unit.database.engine = 'oracle';
      unit.dns.recrodName = 'typo.example.com';
    });
    const cli = captureIo();

    // Act
    const code = await run(['plan', '--plan', path], cli.io);

    // Assess
    expect(code).toBe(2);
    expect(cli.stdout()).toBe('');
    expect(cli.stderr()).toContain('units[0].dns.ttl');
    expect(cli.stderr()).toContain('units[0].database.engine');
    expect(cli.stderr()).toContain('recrodName');
  });

  it('names the file when it is missing (exit 3: a file read failed) or not JSON (exit 2)', async () => {
    // Prepare
    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{ "name": ');
    const missing = captureIo();
    const bad = captureIo();

    // Act
    const missingCode = await run(['plan', '--plan', join(dir, 'nope.json')], missing.io);
    const badCode = await run(['plan', '--plan', notJson], bad.io);

    // Assess
    expect(missingCode).toBe(3);
    expect(missing.stderr()).toContain('nope.json: ENOENT');
    expect(badCode).toBe(2);
    expect(bad.stderr()).toContain('is not valid JSON');
  });
});
