import { CloudWatchClient, DescribeAlarmsCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetHealthCheckCommand, type HealthCheck, Route53Client } from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkFlipReadiness,
  controlPlaneWarnings,
  FLIP_METRIC_NAME,
  FLIP_NAMESPACE,
  flipAlarmSpec,
  forceDnsFlip,
} from '../../functions/lib/dns/flip.js';
import { checkDnsChange, updateDns } from '../../functions/lib/dns/update.js';
import { ConfigurationError, ResourceMissingError, TransientAwsError } from '../../functions/lib/errors.js';
import { parsePlan } from '../../functions/lib/plan.js';
import type { PreflightCheck } from '../../functions/lib/types.js';
import { awsError } from '../fixtures/aws-error.js';
import { caught, now, planDocument, replica, standalone, stepInput } from '../fixtures/db-fixtures.js';

const cwMock = mockClient(CloudWatchClient);
const r53Mock = mockClient(Route53Client);
const rdsMock = mockClient(RDSClient);
const cloudwatch = cwMock as unknown as CloudWatchClient;
const route53 = r53Mock as unknown as Route53Client;
const rds = rdsMock as unknown as RDSClient;

afterEach(() => {
  cwMock.reset();
  r53Mock.reset();
  rdsMock.reset();
});

const ALARM = 'lifeboat-orders-dr-orders-dns-failover';
const healthCheckUnit = (mode?: 'failover' | 'dry-run' | 'drill') =>
  stepInput({ dns: { strategy: 'health-check' }, ...(mode ? { mode } : {}) });
const alarmIn = (StateValue: string) =>
  cwMock
    .on(DescribeAlarmsCommand)
    .resolves({ MetricAlarms: [{ AlarmName: ALARM, StateValue: StateValue as 'OK' }] });
const published = () => cwMock.commandCalls(PutMetricDataCommand);

describe('the flip alarm', () => {
  it('is one standard-resolution alarm per unit on a metric only lifeboat publishes, in the recovery Region', () => {
    // Act
    const spec = flipAlarmSpec({ name: 'orders-dr', recoveryRegion: 'us-west-2' }, { name: 'orders' });

    // Assess: Route 53 follows alarms on standard-resolution metrics with a basic statistic only
    expect(spec).toMatchObject({
      alarmName: ALARM,
      namespace: 'Lifeboat',
      region: 'us-west-2',
      statistic: 'Maximum',
      periodSeconds: 60,
      treatMissingData: 'ignore',
      threshold: 1,
      comparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    expect(spec.dimensions).toEqual([
      { name: 'Plan', value: 'orders-dr' },
      { name: 'Unit', value: 'orders' },
    ]);
  });
});

describe('forceDnsFlip', () => {
  it('publishes the forcing value in the recovery Region when the alarm is not in ALARM yet', async () => {
    // Prepare
    alarmIn('INSUFFICIENT_DATA');

    // Act
    const flip = await forceDnsFlip({ cloudwatch }, healthCheckUnit());

    // Assess
    expect(flip.outcome).toBe('changed');
    expect(cwMock.commandCalls(DescribeAlarmsCommand)[0]?.args[0].input).toEqual({
      AlarmNames: [ALARM],
      AlarmTypes: ['MetricAlarm'],
    });
    expect(published()).toHaveLength(1);
    expect(published()[0]?.args[0].input).toEqual({
      Namespace: FLIP_NAMESPACE,
      MetricData: [
        {
          MetricName: FLIP_METRIC_NAME,
          Dimensions: [
            { Name: 'Plan', Value: 'orders-dr' },
            { Name: 'Unit', Value: 'orders' },
          ],
          Value: 1,
          Unit: 'Count',
        },
      ],
    });
  });

  it('publishes nothing when a re-run finds the flip already forced', async () => {
    // Prepare
    alarmIn('ALARM');

    // Act
    const flip = await forceDnsFlip({ cloudwatch }, healthCheckUnit());

    // Assess
    expect(flip.outcome).toBe('already-done');
    expect(flip.detail.call).toBeNull();
    expect(published()).toHaveLength(0);
  });

  it('plans the call in a dry run and publishes nothing', async () => {
    // Prepare
    alarmIn('OK');

    // Act
    const flip = await forceDnsFlip({ cloudwatch }, healthCheckUnit('dry-run'));

    // Assess
    expect(flip.outcome).toBe('planned');
    expect(flip.detail).toMatchObject({ call: 'PutMetricData', alarmState: 'OK' });
    expect(published()).toHaveLength(0);
  });

  it("refuses in a drill: a drill never flips production's record", async () => {
    // Prepare
    alarmIn('OK');

    // Act
    const error = await caught(forceDnsFlip({ cloudwatch }, healthCheckUnit('drill')));

    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/drill never forces the flip/);
    expect(cwMock.calls()).toHaveLength(0);
  });

  it("names the stack when the alarm is missing, and retries CloudWatch's throttling", async () => {
    // Prepare
    cwMock
      .on(DescribeAlarmsCommand)
      .resolvesOnce({ MetricAlarms: [] })
      .resolves({
        MetricAlarms: [{ AlarmName: ALARM, StateValue: 'OK' }],
      });
    cwMock.on(PutMetricDataCommand).rejects(awsError('Throttling', { throttling: true, status: 400 }));

    // Act
    const missing = await caught(forceDnsFlip({ cloudwatch }, healthCheckUnit()));
    const throttled = await caught(forceDnsFlip({ cloudwatch }, healthCheckUnit()));

    // Assess
    expect(missing).toBeInstanceOf(ResourceMissingError);
    expect((missing as Error).message).toContain(`${ALARM} does not exist in us-west-2`);
    expect(throttled).toBeInstanceOf(TransientAwsError);
  });
});

describe('updateDns with the health-check strategy', () => {
  it('refuses to flip to an instance that is still a read replica, before any CloudWatch call', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica()] });
    alarmIn('OK');

    // Act
    const error = await caught(updateDns({ rds, route53, cloudwatch, now }, healthCheckUnit()));

    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(cwMock.calls()).toHaveLength(0);
    expect(r53Mock.calls()).toHaveLength(0);
  });

  it('dates the change when it forced the flip', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [standalone()] });
    alarmIn('OK');

    // Act
    const result = await updateDns({ rds, route53, cloudwatch, now }, healthCheckUnit());

    // Assess
    expect(result.outcome).toBe('changed');
    expect(result.detail.changedAt).toBe(now().toISOString());
    expect(result.detail.changeId).toBeNull();
  });
});

describe('checkDnsChange of a forced flip', () => {
  const poll = (mode?: 'dry-run') => ({ ...healthCheckUnit(mode), changeId: null, attempt: 3 });

  it('waits until the alarm the health check follows is in ALARM, without a Route 53 call', async () => {
    // Prepare
    cwMock
      .on(DescribeAlarmsCommand)
      .resolvesOnce({ MetricAlarms: [{ AlarmName: ALARM, StateValue: 'OK' }] })
      .resolves({ MetricAlarms: [{ AlarmName: ALARM, StateValue: 'ALARM' }] });

    // Act
    const first = await checkDnsChange({ route53, cloudwatch, now }, poll());
    const second = await checkDnsChange({ route53, cloudwatch, now }, poll());

    // Assess
    expect([first.done, first.status, first.waitSeconds]).toEqual([false, 'OK', 5]);
    expect([second.done, second.status, second.waitSeconds]).toEqual([true, 'ALARM', 0]);
    expect(r53Mock.calls()).toHaveLength(0);
  });

  it('is done at once in a dry run', async () => {
    // Act
    const result = await checkDnsChange({ route53, cloudwatch, now }, poll('dry-run'));

    // Assess
    expect(result.done).toBe(true);
    expect(cwMock.calls()).toHaveLength(0);
  });
});

describe('checkFlipReadiness', () => {
  const run = async (id: string | undefined) => {
    const checks: PreflightCheck[] = [];
    await checkFlipReadiness({ route53, cloudwatch }, healthCheckUnit(), id, (check, ok, severity, message) =>
      checks.push({ unit: 'orders', check, ok, severity, message }),
    );
    return checks.map((c) => [c.ok, c.severity, c.message] as const);
  };
  const check = (Id: string, HealthCheckConfig: HealthCheck['HealthCheckConfig']): HealthCheck => ({
    Id,
    CallerReference: Id,
    HealthCheckVersion: 1,
    HealthCheckConfig,
  });
  const metric = (Name = ALARM, Region = 'us-west-2') =>
    check('hc-flip', { Type: 'CLOUDWATCH_METRIC', AlarmIdentifier: { Name, Region: Region as 'us-west-2' } });
  const healthChecks = (...checks: HealthCheck[]) => {
    for (const c of checks) {
      r53Mock.on(GetHealthCheckCommand, { HealthCheckId: c.Id }).resolves({ HealthCheck: c });
    }
  };

  it('passes a health check that follows the flip alarm, and an AND of it with the user own check', async () => {
    // Prepare
    alarmIn('INSUFFICIENT_DATA');
    healthChecks(
      metric(),
      check('hc-and', { Type: 'CALCULATED', ChildHealthChecks: ['hc-http', 'hc-flip'], HealthThreshold: 2 }),
      check('hc-http', { Type: 'HTTPS', FullyQualifiedDomainName: 'app.example.com' }),
    );

    // Act
    const direct = await run('hc-flip');
    const calculated = await run('hc-and');

    // Assess
    expect(direct).toEqual([[true, 'error', expect.stringContaining('can force the flip')]]);
    expect(calculated).toEqual([[true, 'error', expect.stringContaining('can force the flip')]]);
  });

  it.each([
    ['no health check', undefined, /has no health check/],
    ['another alarm', 'hc-other', /does not follow alarm/],
    ['the alarm in another Region', 'hc-east', /does not follow alarm/],
    ['an OR of the flip alarm with another check', 'hc-or', /does not follow alarm/],
    ['a missing health check', 'hc-gone', /does not exist/],
  ])('errs on %s', async (_label, id, message) => {
    // Prepare
    alarmIn('OK');
    r53Mock
      .on(GetHealthCheckCommand)
      .rejects(awsError('NoSuchHealthCheck', { status: 404, message: 'no such health check' }));
    healthChecks(
      metric(),
      { ...metric('someone-elses-alarm'), Id: 'hc-other' },
      { ...metric(ALARM, 'us-east-1'), Id: 'hc-east' },
      check('hc-or', { Type: 'CALCULATED', ChildHealthChecks: ['hc-flip', 'hc-other'], HealthThreshold: 1 }),
    );

    // Act
    const checks = await run(id);

    // Assess
    expect(checks).toEqual([[false, 'error', expect.stringMatching(message)]]);
  });

  it("errs when the stack's alarm is missing", async () => {
    // Prepare
    healthChecks(metric());
    cwMock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [] });

    // Act
    const checks = await run('hc-flip');

    // Assess
    expect(checks).toEqual([[false, 'error', expect.stringContaining('deploy the stack')]]);
  });

  it("warns, not errs, when Route 53's control plane does not answer", async () => {
    // Prepare
    r53Mock
      .on(GetHealthCheckCommand)
      .rejects(awsError('ServiceUnavailable', { fault: 'server', status: 503 }));

    // Act
    const checks = await run('hc-flip');

    // Assess
    expect(checks).toEqual([[false, 'warning', expect.stringContaining('did not answer GetHealthCheck')]]);
  });
});

describe('controlPlaneWarnings', () => {
  const plan = (primaryRegion: string, strategies: ('cname' | 'health-check')[]) => {
    const document = planDocument();
    const template = document.units[0] as (typeof document.units)[number];
    return parsePlan({
      ...document,
      primaryRegion,
      units: strategies.map((strategy, i) => ({
        ...template,
        name: `u${i + 1}`,
        secret: { id: `u${i + 1}/db` },
        database: {
          ...template.database,
          primaryInstanceId: `u${i + 1}-db`,
          replicaInstanceId: `u${i + 1}-r`,
        },
        dns: { ...template.dns, recordName: `u${i + 1}.internal.example.com`, strategy },
      })),
    });
  };

  it("warns for each cname unit when the primary Region is us-east-1, where Route 53's control plane runs", () => {
    // Act
    const warnings = controlPlaneWarnings(plan('us-east-1', ['cname', 'health-check', 'cname']));

    // Assess
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(
      /^unit u1: dns.strategy "cname" changes u1.internal.example.com .* us-east-1/,
    );
    expect(warnings[1]).toMatch(/^unit u3:/);
  });

  it('says nothing for another primary Region, or when every unit uses the health-check strategy', () => {
    // Assess
    expect(controlPlaneWarnings(plan('eu-west-1', ['cname']))).toEqual([]);
    expect(controlPlaneWarnings(plan('us-east-1', ['health-check']))).toEqual([]);
  });
});
