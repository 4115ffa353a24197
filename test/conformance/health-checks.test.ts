import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  CreateHealthCheckCommand,
  GetHealthCheckCommand,
  NoSuchHealthCheck,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { describe, expect, it } from 'vitest';
import { conformance, type DivergenceTable, pollUntil, rejection, unique } from './harness.js';

/**
 * What lifeboat's forced DNS flip relies on (docs/aws/route53-health-checks.md): CloudWatch metric alarms evaluated
 * from PutMetricData, and Route 53 health checks that follow an alarm.
 */

const REGION = 'us-west-2';

/** What moto does instead of what AWS documents (asserted by each test's moto branch). */
const MOTO_DIVERGENCES: DivergenceTable = {
  'a new alarm is INSUFFICIENT_DATA': 'moto 5 creates alarms in OK',
  'a breaching datapoint puts the alarm in ALARM': 'moto 5 does not evaluate alarms: the state stays OK',
  'GetHealthCheck keeps AlarmIdentifier and InsufficientDataHealthStatus':
    'moto 5 returns a CLOUDWATCH_METRIC health check without AlarmIdentifier and InsufficientDataHealthStatus',
};

const alarmInput = (name: string, dimension: string) => ({
  AlarmName: name,
  Namespace: 'Lifeboat',
  MetricName: 'DnsFailoverForced',
  Dimensions: [{ Name: 'Unit', Value: dimension }],
  Statistic: 'Maximum' as const,
  Period: 60,
  EvaluationPeriods: 1,
  Threshold: 1,
  ComparisonOperator: 'GreaterThanOrEqualToThreshold' as const,
  TreatMissingData: 'ignore',
});

conformance('CloudWatch alarms and Route 53 health checks', MOTO_DIVERGENCES, (suite) => {
  describe('CloudWatch alarms', () => {
    it('a new alarm is INSUFFICIENT_DATA and DescribeAlarms returns its configuration', async () => {
      // Prepare
      const cw = new CloudWatchClient(suite.target().config(REGION));
      const name = unique('flip');

      // Act
      await cw.send(new PutMetricAlarmCommand(alarmInput(name, name)));
      const out = await cw.send(new DescribeAlarmsCommand({ AlarmNames: [name] }));

      // Assess
      const alarm = out.MetricAlarms?.[0];
      expect(out.MetricAlarms).toHaveLength(1);
      await suite.behaves('a new alarm is INSUFFICIENT_DATA', {
        aws: async () => expect(alarm?.StateValue).toBe('INSUFFICIENT_DATA'),
        moto: async () => expect(alarm?.StateValue).toBe('OK'),
      });
      expect(alarm).toMatchObject({
        AlarmName: name,
        Namespace: 'Lifeboat',
        MetricName: 'DnsFailoverForced',
        Statistic: 'Maximum',
        Period: 60,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'ignore',
      });
      expect(alarm?.AlarmArn).toMatch(new RegExp(`^arn:aws:cloudwatch:${REGION}:\\d{12}:alarm:${name}$`));
      expect(
        (await cw.send(new DescribeAlarmsCommand({ AlarmNames: ['no-such-alarm'] }))).MetricAlarms,
      ).toEqual([]);
    });

    it('a breaching datapoint puts the alarm in ALARM', async () => {
      // Prepare
      const target = suite.target();
      const cw = new CloudWatchClient(target.config(REGION));
      const name = unique('flip');
      await cw.send(new PutMetricAlarmCommand(alarmInput(name, name)));
      const state = async () =>
        (await cw.send(new DescribeAlarmsCommand({ AlarmNames: [name] }))).MetricAlarms?.[0]?.StateValue;

      // Act
      await cw.send(
        new PutMetricDataCommand({
          Namespace: 'Lifeboat',
          MetricData: [
            { MetricName: 'DnsFailoverForced', Dimensions: [{ Name: 'Unit', Value: name }], Value: 1 },
          ],
        }),
      );

      // Assess
      await suite.behaves('a breaching datapoint puts the alarm in ALARM', {
        aws: async () => {
          const seen = await pollUntil(target, state, (s) => s === 'ALARM');
          expect(seen.at(-1)).toBe('ALARM');
        },
        moto: async () => {
          await new Promise((r) => setTimeout(r, 500));
          expect(await state()).toBe('OK');
        },
      });
    });
  });

  describe('Route 53 health checks', () => {
    it('a CLOUDWATCH_METRIC health check keeps the alarm it follows and its InsufficientDataHealthStatus', async () => {
      // Prepare
      const r53 = new Route53Client(suite.target().config(REGION));
      const name = unique('flip');

      // Act
      const created = await r53.send(
        new CreateHealthCheckCommand({
          CallerReference: name,
          HealthCheckConfig: {
            Type: 'CLOUDWATCH_METRIC',
            AlarmIdentifier: { Region: REGION, Name: name },
            InsufficientDataHealthStatus: 'LastKnownStatus',
          },
        }),
      );
      const read = await r53.send(new GetHealthCheckCommand({ HealthCheckId: created.HealthCheck?.Id }));

      // Assess
      expect(created.HealthCheck?.Id).toMatch(/^[0-9a-f-]{36}$/);
      expect(read.HealthCheck?.Id).toBe(created.HealthCheck?.Id);
      expect(read.HealthCheck?.HealthCheckConfig?.Type).toBe('CLOUDWATCH_METRIC');
      await suite.behaves('GetHealthCheck keeps AlarmIdentifier and InsufficientDataHealthStatus', {
        aws: async () =>
          expect(read.HealthCheck?.HealthCheckConfig).toMatchObject({
            AlarmIdentifier: { Region: REGION, Name: name },
            InsufficientDataHealthStatus: 'LastKnownStatus',
          }),
        moto: async () => {
          expect(read.HealthCheck?.HealthCheckConfig?.AlarmIdentifier).toBeUndefined();
          expect(read.HealthCheck?.HealthCheckConfig?.InsufficientDataHealthStatus).toBeUndefined();
        },
      });
    });

    it('GetHealthCheck of an unknown id is NoSuchHealthCheck', async () => {
      // Prepare
      const r53 = new Route53Client(suite.target().config(REGION));

      // Act
      const error = await rejection(
        r53.send(new GetHealthCheckCommand({ HealthCheckId: '00000000-0000-4000-8000-000000000000' })),
      );

      // Assess
      expect(error).toBeInstanceOf(NoSuchHealthCheck);
    });
  });
});
