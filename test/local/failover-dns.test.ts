import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  ChangeResourceRecordSetsCommand,
  CreateHealthCheckCommand,
  CreateHostedZoneCommand,
  GetChangeCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDnsServer, startDnsServer } from '../../local/dns/server.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';
import { resolveVia } from '../../local/verify-facts.js';

/**
 * The proving ground's DNS server answers a failover record pair by the health of the PRIMARY's health check, which
 * follows a CloudWatch alarm evaluated from PutMetricData: the whole chain lifeboat's health-check strategy forces.
 */

const REGION = 'us-west-2';
const RECORD = 'orders-db.internal.example.com';
const PRIMARY = 'orders-db.c0ffee.us-east-1.rds.amazonaws.com';
const SECONDARY = 'orders-db-replica.c0ffee.us-west-2.rds.amazonaws.com';
const ALARM = 'lifeboat-orders-dr-orders-dns-failover';

describe('a failover pair answered by health, through the DNS server', () => {
  let emulator: Emulator;
  let dns: RunningDnsServer;
  let cloudwatch: CloudWatchClient;
  let route53: Route53Client;
  let healthCheckId: string;

  const publish = (value: number) =>
    cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: 'Lifeboat',
        MetricData: [
          { MetricName: 'DnsFailoverForced', Dimensions: [{ Name: 'Unit', Value: 'orders' }], Value: value },
        ],
      }),
    );
  const answer = async () => (await resolveVia(dns.endpoint, RECORD)).cname;
  const until = async (wanted: string) => {
    const seen: (string | undefined)[] = [];
    const deadline = Date.now() + 5_000;
    for (;;) {
      seen.push(await answer());
      if (seen.at(-1) === wanted || Date.now() > deadline) return seen;
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  beforeAll(async () => {
    // AWS times x 0.001: the alarm sees a datapoint 60 ms after it is put, the health check follows 30 ms later.
    emulator = await startEmulator({ timeFactor: 0.001, seed: 11 });
    dns = await startDnsServer({ lookup: (name, type) => emulator.dns.lookup(name, type) });
    cloudwatch = new CloudWatchClient({ ...emulator.clientConfig(REGION), maxAttempts: 1 });
    route53 = new Route53Client({ ...emulator.clientConfig(REGION), maxAttempts: 1 });
    // Prepare: the alarm, the health check that follows it, and the failover pair.
    await cloudwatch.send(
      new PutMetricAlarmCommand({
        AlarmName: ALARM,
        Namespace: 'Lifeboat',
        MetricName: 'DnsFailoverForced',
        Dimensions: [{ Name: 'Unit', Value: 'orders' }],
        Statistic: 'Maximum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'ignore',
      }),
    );
    const created = await route53.send(
      new CreateHealthCheckCommand({
        CallerReference: 'orders-flip',
        HealthCheckConfig: {
          Type: 'CLOUDWATCH_METRIC',
          AlarmIdentifier: { Region: REGION, Name: ALARM },
          InsufficientDataHealthStatus: 'LastKnownStatus',
        },
      }),
    );
    healthCheckId = created.HealthCheck?.Id ?? '';
    const zone = await route53.send(
      new CreateHostedZoneCommand({ Name: 'internal.example.com', CallerReference: 'zone' }),
    );
    const pair = (failover: 'PRIMARY' | 'SECONDARY', value: string) => ({
      Action: 'CREATE' as const,
      ResourceRecordSet: {
        Name: RECORD,
        Type: 'CNAME' as const,
        TTL: 5,
        SetIdentifier: failover.toLowerCase(),
        Failover: failover,
        ResourceRecords: [{ Value: value }],
        ...(failover === 'PRIMARY' ? { HealthCheckId: healthCheckId } : {}),
      },
    });
    const change = await route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zone.HostedZone?.Id,
        ChangeBatch: { Changes: [pair('PRIMARY', PRIMARY), pair('SECONDARY', SECONDARY)] },
      }),
    );
    for (;;) {
      const out = await route53.send(new GetChangeCommand({ Id: change.ChangeInfo?.Id }));
      if (out.ChangeInfo?.Status === 'INSYNC') break;
      await new Promise((r) => setTimeout(r, 10));
    }
  });

  afterAll(async () => {
    cloudwatch?.destroy();
    route53?.destroy();
    await dns?.close();
    await emulator?.close();
  });

  it('answers the PRIMARY while the alarm has no data (a new health check is healthy)', async () => {
    // Act
    const first = await answer();

    // Assess
    expect(first).toBe(PRIMARY);
    expect(emulator.cloudwatch.alarmState(REGION, ALARM)).toBe('INSUFFICIENT_DATA');
    expect(emulator.route53.healthy(healthCheckId)).toBe(true);
  });

  it('answers the SECONDARY once a forcing datapoint put the alarm in ALARM, and stays there without more data', async () => {
    // Act
    await publish(1);
    const immediately = await answer();
    const seen = await until(SECONDARY);
    const described = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [ALARM] }));
    await new Promise((r) => setTimeout(r, 150)); // more than the alarm's one-minute period, scaled

    // Assess: the alarm and the health check took their (scaled) time; missing data kept the state
    expect(immediately).toBe(PRIMARY);
    expect(seen.at(-1)).toBe(SECONDARY);
    expect(described.MetricAlarms?.[0]?.StateValue).toBe('ALARM');
    expect(await answer()).toBe(SECONDARY);
    expect(emulator.route53.healthy(healthCheckId)).toBe(false);
  });

  it('answers the PRIMARY again after a value under the threshold (a fail-back by the operator)', async () => {
    // Act
    await publish(0);
    const seen = await until(PRIMARY);

    // Assess
    expect(seen.at(-1)).toBe(PRIMARY);
    expect(emulator.cloudwatch.alarmState(REGION, ALARM)).toBe('OK');
  });
});
