import { CloudWatchClient, DescribeAlarmsCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  GetHealthCheckCommand,
  GetHostedZoneCommand,
  InvalidChangeBatch,
  ListResourceRecordSetsCommand,
  NoSuchChange,
  NoSuchHostedZone,
  PriorRequestNotComplete,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { handler as checkDnsChangeHandler } from '../../functions/check-dns-change.js';
import { resetClients } from '../../functions/lib/clients.js';
import {
  bareZoneId,
  checkDnsChange,
  checkDnsReadiness,
  normalizeDnsName,
  updateDns,
} from '../../functions/lib/dns/update.js';
import {
  AwsCallFailedError,
  ConfigurationError,
  InputInvalidError,
  ResourceMissingError,
  TransientAwsError,
} from '../../functions/lib/errors.js';
import type { PreflightCheck } from '../../functions/lib/types.js';
import { handler as updateDnsHandler } from '../../functions/update-dns.js';
import {
  accessDenied,
  awsError,
  caught,
  cname,
  NOW,
  now,
  PRIMARY_ARN,
  PRIMARY_ENDPOINT,
  RECORD_NAME,
  REPLICA_ENDPOINT,
  RUN_ID,
  replica,
  standalone,
  stepInput,
  throttling,
  ZONE_ID,
  ZONE_NAME,
} from '../fixtures/db-fixtures.js';

const rdsMock = mockClient(RDSClient);
const r53Mock = mockClient(Route53Client);
const cwMock = mockClient(CloudWatchClient);
const rds = rdsMock as unknown as RDSClient;
const route53 = r53Mock as unknown as Route53Client;
const cloudwatch = cwMock as unknown as CloudWatchClient;
/** The flip alarm of the fixture's unit (functions/lib/dns/flip.ts), in a given state. */
const FLIP_ALARM = 'lifeboat-orders-dr-orders-dns-failover';
const flipAlarm = (StateValue: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA') =>
  cwMock.on(DescribeAlarmsCommand).resolves({ MetricAlarms: [{ AlarmName: FLIP_ALARM, StateValue }] });

afterEach(() => {
  rdsMock.reset();
  r53Mock.reset();
  cwMock.reset();
  resetClients();
});

const SUBMITTED = new Date('2025-01-01T00:04:30.000Z');
const changes = () => r53Mock.commandCalls(ChangeResourceRecordSetsCommand);
const promoted = () => rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [standalone()] });
const currentRecord = (...sets: ReturnType<typeof cname>[]) =>
  r53Mock
    .on(ListResourceRecordSetsCommand)
    .resolves({ ResourceRecordSets: sets, IsTruncated: false, MaxItems: sets.length || 1 });
const changeAccepted = () =>
  r53Mock
    .on(ChangeResourceRecordSetsCommand)
    .resolves({ ChangeInfo: { Id: '/change/C0LIFEBOAT0001', Status: 'PENDING', SubmittedAt: SUBMITTED } });

describe('normalizeDnsName', () => {
  it('compares names as Route 53 does: case, trailing dot and octal escapes', () => {
    // Prepare
    const returned = '\\052.Orders-DB.Internal.Example.COM.';

    // Act
    const normalized = normalizeDnsName(returned);

    // Assess
    expect(normalized).toBe('*.orders-db.internal.example.com');
    expect(normalizeDnsName(RECORD_NAME)).toBe(RECORD_NAME);
    expect(bareZoneId(`/hostedzone/${ZONE_ID}`)).toBe(ZONE_ID);
  });
});

describe('updateDns', () => {
  it('UPSERTs the CNAME to the promoted endpoint with the plan TTL and reports when it changed', async () => {
    // Prepare
    promoted();
    currentRecord(cname(`${PRIMARY_ENDPOINT}.`, { TTL: 60 }));
    changeAccepted();

    // Act
    const result = await updateDns({ rds, route53, now }, stepInput());

    // Assess
    expect(r53Mock.commandCalls(ListResourceRecordSetsCommand)[0]?.args[0].input).toEqual({
      HostedZoneId: ZONE_ID,
      StartRecordName: RECORD_NAME,
      StartRecordType: 'CNAME',
      MaxItems: 1,
    });
    expect(changes()).toHaveLength(1);
    const input = changes()[0]?.args[0].input;
    expect(input?.HostedZoneId).toBe(ZONE_ID);
    expect(input?.ChangeBatch?.Changes).toEqual([
      {
        Action: 'UPSERT',
        ResourceRecordSet: {
          Name: RECORD_NAME,
          Type: 'CNAME',
          TTL: 5,
          ResourceRecords: [{ Value: REPLICA_ENDPOINT }],
        },
      },
    ]);
    expect(input?.ChangeBatch?.Comment).toContain('lifeboat');
    expect(input?.ChangeBatch?.Comment).toContain(RUN_ID);
    expect(result).toMatchObject({
      step: 'updateDns',
      outcome: 'changed',
      detail: {
        changeId: '/change/C0LIFEBOAT0001',
        previousTarget: PRIMARY_ENDPOINT,
        previousTtl: 60,
        target: REPLICA_ENDPOINT,
        ttl: 5,
        changedAt: SUBMITTED.toISOString(),
        recordName: RECORD_NAME,
        hostedZoneId: ZONE_ID,
        strategy: 'cname',
      },
    });
  });

  it('resubmits the identical UPSERT when the record already points at the target, so there is a change to wait for', async () => {
    // Prepare: Route 53 hands names and values back with a trailing dot, in any case. An earlier run's change of
    // this record may still be PENDING: only a change of our own says when the name servers serve it.
    promoted();
    currentRecord(cname(`${REPLICA_ENDPOINT.toUpperCase()}.`, { Name: `${RECORD_NAME.toUpperCase()}.` }));
    changeAccepted();

    // Act
    const result = await updateDns({ rds, route53, now }, stepInput());

    // Assess
    expect(result.outcome).toBe('already-done');
    expect(result.detail).toMatchObject({
      changeId: '/change/C0LIFEBOAT0001',
      target: REPLICA_ENDPOINT,
      previousTarget: REPLICA_ENDPOINT,
      previousTtl: 5,
      identical: true,
      changedAt: SUBMITTED.toISOString(),
    });
    expect(changes()).toHaveLength(1);
    expect(changes()[0]?.args[0].input.ChangeBatch?.Changes?.[0]).toMatchObject({
      Action: 'UPSERT',
      ResourceRecordSet: { TTL: 5, ResourceRecords: [{ Value: REPLICA_ENDPOINT }] },
    });
  });

  it('changes a record that points at the target with another TTL', async () => {
    // Prepare
    promoted();
    currentRecord(cname(REPLICA_ENDPOINT, { TTL: 300 }));
    changeAccepted();

    // Act
    const result = await updateDns({ rds, route53, now }, stepInput());

    // Assess: the TTL the record had before the change is kept, for the verify budget
    expect(result.outcome).toBe('changed');
    expect(changes()[0]?.args[0].input.ChangeBatch?.Changes?.[0]?.ResourceRecordSet?.TTL).toBe(5);
    expect(result.detail).toMatchObject({ previousTtl: 300, ttl: 5, identical: false });
  });

  it('creates the record when the list starts at another name', async () => {
    // Prepare
    promoted();
    currentRecord(cname('elsewhere.example.com', { Name: `payments-db.${ZONE_NAME}.` }));
    changeAccepted();

    // Act
    const result = await updateDns({ rds, route53, now }, stepInput());

    // Assess
    expect(result.outcome).toBe('changed');
    expect(result.detail.previousTarget).toBeNull();
  });

  it('plans the UPSERT in dry-run mode and changes nothing, even on a replica not yet promoted', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica()] });
    currentRecord(cname(PRIMARY_ENDPOINT));

    // Act
    const result = await updateDns({ rds, route53, now }, stepInput({ mode: 'dry-run' }));

    // Assess
    expect(result.outcome).toBe('planned');
    expect(result.detail).toMatchObject({
      call: 'ChangeResourceRecordSets',
      action: 'UPSERT',
      type: 'CNAME',
      ttl: 5,
      target: REPLICA_ENDPOINT,
      previousTarget: PRIMARY_ENDPOINT,
      changeId: null,
    });
    expect(changes()).toHaveLength(0);
  });

  it('makes no Route 53 call at all for the health-check strategy: it forces the flip through CloudWatch', async () => {
    // Prepare
    promoted();
    flipAlarm('INSUFFICIENT_DATA');

    // Act
    const result = await updateDns(
      { rds, route53, cloudwatch, now },
      stepInput({ dns: { strategy: 'health-check' } }),
    );

    // Assess
    expect(result.outcome).toBe('changed');
    expect(result.detail).toMatchObject({
      changeId: null,
      target: REPLICA_ENDPOINT,
      strategy: 'health-check',
      call: 'PutMetricData',
      alarmName: FLIP_ALARM,
    });
    expect(String(result.detail.note)).toMatch(/health check/);
    expect(cwMock.commandCalls(PutMetricDataCommand)).toHaveLength(1);
    expect(r53Mock.calls()).toHaveLength(0);
  });

  it('refuses to move the record to an instance that is still a read replica', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica()] });

    // Act
    const error = await caught(updateDns({ rds, route53, now }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain(PRIMARY_ARN);
    expect(r53Mock.calls()).toHaveLength(0);
  });

  it('refuses a routing-policy record set under the cname strategy', async () => {
    // Prepare
    promoted();
    currentRecord(cname(PRIMARY_ENDPOINT, { SetIdentifier: 'primary', Failover: 'PRIMARY' }));

    // Act
    const error = await caught(updateDns({ rds, route53, now }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(changes()).toHaveLength(0);
  });

  it('reports a missing zone as ResourceMissingError naming the field', async () => {
    // Prepare
    promoted();
    r53Mock
      .on(ListResourceRecordSetsCommand)
      .rejects(new NoSuchHostedZone({ message: `No hosted zone found with ID: ${ZONE_ID}`, $metadata: {} }));

    // Act
    const error = await caught(updateDns({ rds, route53, now }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(ResourceMissingError);
    expect((error as Error).message).toContain('dns.hostedZoneId');
  });

  it('reports InvalidChangeBatch as AwsCallFailedError with its messages', async () => {
    // Prepare
    promoted();
    currentRecord(cname(PRIMARY_ENDPOINT));
    r53Mock.on(ChangeResourceRecordSetsCommand).rejects(
      new InvalidChangeBatch({
        message: 'Invalid change batch',
        messages: ['RRSet of type CNAME with DNS name orders-db.internal.example.com. is not permitted'],
        $metadata: {},
      }),
    );

    // Act
    const error = await caught(updateDns({ rds, route53, now }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(AwsCallFailedError);
    expect((error as Error).message).toContain('is not permitted');
  });

  it.each([
    ['Throttling', throttling],
    ['PriorRequestNotComplete', () => new PriorRequestNotComplete({ message: 'in progress', $metadata: {} })],
    ['a 5xx', () => awsError('ServiceUnavailable', { fault: 'server', status: 503 })],
  ])('sorts %s on the change into TransientAwsError', async (_label, failure) => {
    // Prepare
    promoted();
    currentRecord(cname(PRIMARY_ENDPOINT));
    r53Mock.on(ChangeResourceRecordSetsCommand).rejects(failure());

    // Act
    const error = await caught(updateDns({ rds, route53, now }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(TransientAwsError);
  });

  it('reports a missing instance as ResourceMissingError before any Route 53 call', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).rejects(awsError('DBInstanceNotFound', { status: 404 }));

    // Act
    const error = await caught(updateDns({ rds, route53, now }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(ResourceMissingError);
    expect(r53Mock.calls()).toHaveLength(0);
  });
});

describe('checkDnsChange', () => {
  const poll = (changeId: string | null, attempt = 0) => ({ ...stepInput(), changeId, attempt });

  it('is done at once without a call when nothing was changed', async () => {
    // Prepare
    const input = poll(null);

    // Act
    const result = await checkDnsChange({ route53, now }, input);

    // Assess
    expect(result).toMatchObject({ done: true, waitSeconds: 0, detail: { changeId: null, attempt: 0 } });
    expect(r53Mock.calls()).toHaveLength(0);
  });

  it('polls PENDING every 2 s until INSYNC', async () => {
    // Prepare
    r53Mock
      .on(GetChangeCommand)
      .resolvesOnce({ ChangeInfo: { Id: '/change/C1', Status: 'PENDING', SubmittedAt: SUBMITTED } })
      .resolves({ ChangeInfo: { Id: '/change/C1', Status: 'INSYNC', SubmittedAt: SUBMITTED } });

    // Act
    const first = await checkDnsChange({ route53, now }, poll('/change/C1', 0));
    const second = await checkDnsChange({ route53, now }, poll('/change/C1', 1));

    // Assess
    expect(r53Mock.commandCalls(GetChangeCommand)[0]?.args[0].input).toEqual({ Id: '/change/C1' });
    expect(first).toMatchObject({ done: false, status: 'PENDING', waitSeconds: 2 });
    expect(first.detail).toEqual({ status: 'PENDING', changeId: '/change/C1', attempt: 0 });
    expect(second).toMatchObject({
      done: true,
      status: 'INSYNC',
      waitSeconds: 0,
      observedAt: NOW.toISOString(),
    });
  });

  it('reports an unknown change as ResourceMissingError and throttling as TransientAwsError', async () => {
    // Prepare
    r53Mock
      .on(GetChangeCommand)
      .rejectsOnce(
        new NoSuchChange({ message: 'A change with the specified change ID does not exist.', $metadata: {} }),
      )
      .rejectsOnce(throttling());

    // Act
    const missing = await caught(checkDnsChange({ route53, now }, poll('/change/C404')));
    const throttled = await caught(checkDnsChange({ route53, now }, poll('/change/C1')));

    // Assess
    expect(missing).toBeInstanceOf(ResourceMissingError);
    expect(throttled).toBeInstanceOf(TransientAwsError);
  });
});

describe('checkDnsReadiness', () => {
  const failed = (checks: PreflightCheck[]) => checks.filter((c) => !c.ok).map((c) => [c.check, c.severity]);
  const zone = () =>
    r53Mock.on(GetHostedZoneCommand).resolves({
      HostedZone: { Id: `/hostedzone/${ZONE_ID}`, Name: `${ZONE_NAME}.`, CallerReference: 'ref' },
    });
  const healthCheckInput = () => stepInput({ dns: { strategy: 'health-check' } });
  /** The PRIMARY's health check follows the stack's flip alarm, which exists. */
  const flipReady = () => {
    r53Mock.on(GetHealthCheckCommand).resolves({
      HealthCheck: {
        Id: 'hc-0001',
        CallerReference: 'ref',
        HealthCheckVersion: 1,
        HealthCheckConfig: {
          Type: 'CLOUDWATCH_METRIC',
          AlarmIdentifier: { Name: FLIP_ALARM, Region: 'us-west-2' },
          InsufficientDataHealthStatus: 'LastKnownStatus',
        },
      },
    });
    flipAlarm('INSUFFICIENT_DATA');
  };
  const pair = (overrides: { primary?: object; secondary?: object } = {}) => [
    cname(PRIMARY_ENDPOINT, {
      SetIdentifier: 'primary',
      Failover: 'PRIMARY',
      HealthCheckId: 'hc-0001',
      ...overrides.primary,
    }),
    cname(REPLICA_ENDPOINT, { SetIdentifier: 'secondary', Failover: 'SECONDARY', ...overrides.secondary }),
  ];

  it('passes an existing zone with the CNAME, reading every type under the name', async () => {
    // Prepare
    zone();
    currentRecord(cname(PRIMARY_ENDPOINT));

    // Act
    const checks = await checkDnsReadiness({ route53 }, stepInput());

    // Assess
    expect(failed(checks)).toEqual([]);
    expect(checks.map((c) => c.check)).toEqual(['dns.zone', 'dns.record', 'dns.ttl']);
    expect(r53Mock.commandCalls(ListResourceRecordSetsCommand)[0]?.args[0].input).toEqual({
      HostedZoneId: ZONE_ID,
      StartRecordName: RECORD_NAME,
      MaxItems: 20,
    });
  });

  it.each([
    // 60 s + 60 s to reach every name server + 30 s margin = 150 s
    [60, 120, ['RTO cannot be met', 'live TTL is 60 s', '150 s']],
    [60, 150, []],
    // Above the hour verification waits out, and far above the RTO.
    [86_400, 900, ['RTO cannot be met', 'verification waits out a previous TTL of at most 3600 s']],
  ] as const)(
    'warns when the live TTL (%s s) with propagation exceeds the target RTO (%s s), or what verification waits out',
    async (ttl, rto, says) => {
      // Prepare
      zone();
      currentRecord(cname(PRIMARY_ENDPOINT, { TTL: ttl }));
      const input = stepInput();
      input.run.targetRtoSeconds = rto;

      // Act
      const checks = await checkDnsReadiness({ route53 }, input);

      // Assess
      const check = checks.find((c) => c.check === 'dns.ttl');
      expect(check).toMatchObject({
        ok: says.length === 0,
        severity: 'warning',
        figures: { dnsLiveTtlSeconds: ttl },
      });
      for (const text of says) expect(check?.message).toContain(text);
    },
  );

  it('errs on a missing zone and stops there', async () => {
    // Prepare
    r53Mock.on(GetHostedZoneCommand).rejects(new NoSuchHostedZone({ message: 'no zone', $metadata: {} }));

    // Act
    const checks = await checkDnsReadiness({ route53 }, stepInput());

    // Assess
    expect(failed(checks)).toEqual([['dns.zone', 'error']]);
    expect(checks[0]?.message).toContain('dns.hostedZoneId');
    expect(r53Mock.commandCalls(ListResourceRecordSetsCommand)).toHaveLength(0);
  });

  it('errs when the record is not in the zone', async () => {
    // Prepare
    r53Mock.on(GetHostedZoneCommand).resolves({
      HostedZone: { Id: ZONE_ID, Name: 'other.example.org.', CallerReference: 'ref' },
    });

    // Act
    const checks = await checkDnsReadiness({ route53 }, stepInput());

    // Assess
    expect(failed(checks)).toEqual([['dns.zone', 'error']]);
    expect(checks[0]?.message).toContain('dns.recordName');
  });

  it.each([
    ['missing', [cname('x.example.com', { Name: `payments-db.${ZONE_NAME}.` })], /has no record/],
    [
      'an A record',
      [{ Name: `${RECORD_NAME}.`, Type: 'A' as const, TTL: 60, ResourceRecords: [{ Value: '10.0.0.1' }] }],
      /is a A record, not a CNAME/,
    ],
    [
      'a routing-policy set',
      [cname(PRIMARY_ENDPOINT, { SetIdentifier: 'w1', Weight: 10 })],
      /routing-policy/,
    ],
  ])('errs when the record is %s under the cname strategy', async (_label, sets, message) => {
    // Prepare
    zone();
    currentRecord(...sets);

    // Act
    const checks = await checkDnsReadiness({ route53 }, stepInput());

    // Assess
    expect(failed(checks)).toEqual([['dns.record', 'error']]);
    expect(checks.find((c) => c.check === 'dns.record')?.message).toMatch(message);
  });

  it('warns, not errs, when the Route 53 control plane does not answer', async () => {
    // Prepare
    r53Mock
      .on(GetHostedZoneCommand)
      .rejects(awsError('ServiceUnavailable', { fault: 'server', status: 503 }));

    // Act
    const checks = await checkDnsReadiness({ route53 }, stepInput());

    // Assess
    expect(failed(checks)).toEqual([['dns.zone', 'warning']]);
  });

  it('errs when Route 53 refuses the read (access denied)', async () => {
    // Prepare
    zone();
    r53Mock.on(ListResourceRecordSetsCommand).rejects(accessDenied());

    // Act
    const checks = await checkDnsReadiness({ route53 }, stepInput());

    // Assess
    expect(failed(checks)).toEqual([['dns.record', 'error']]);
  });

  it('passes a failover pair with a health check whose SECONDARY names the replica', async () => {
    // Prepare
    zone();
    currentRecord(...pair());
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica()] });
    flipReady();

    // Act
    const checks = await checkDnsReadiness({ route53, rds, cloudwatch }, healthCheckInput());

    // Assess
    expect(failed(checks)).toEqual([]);
    expect(checks.map((c) => c.check)).toEqual([
      'dns.zone',
      'dns.record',
      'dns.failover-pair',
      'dns.failover-target',
      'dns.flip',
    ]);
  });

  it('errs when the health-check strategy has no failover pair', async () => {
    // Prepare
    zone();
    currentRecord(cname(PRIMARY_ENDPOINT));

    // Act
    const checks = await checkDnsReadiness({ route53 }, healthCheckInput());

    // Assess
    expect(failed(checks)).toEqual([['dns.failover-pair', 'error']]);
    expect(checks.find((c) => c.check === 'dns.failover-pair')?.message).toMatch(
      /no PRIMARY and no SECONDARY/,
    );
  });

  it('errs when the PRIMARY has no health check', async () => {
    // Prepare
    zone();
    currentRecord(...pair({ primary: { HealthCheckId: undefined } }));

    // Act
    const checks = await checkDnsReadiness({ route53 }, healthCheckInput());

    // Assess
    expect(failed(checks)).toEqual([['dns.failover-pair', 'error']]);
  });

  it('errs when the SECONDARY does not name the replica endpoint', async () => {
    // Prepare
    zone();
    currentRecord(...pair({ secondary: { ResourceRecords: [{ Value: 'stale.example.com' }] } }));
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica()] });
    flipReady();

    // Act
    const checks = await checkDnsReadiness({ route53, rds, cloudwatch }, healthCheckInput());

    // Assess
    expect(failed(checks)).toEqual([['dns.failover-target', 'error']]);
    expect(checks.find((c) => c.check === 'dns.failover-target')?.message).toContain(REPLICA_ENDPOINT);
  });
});

describe('dns handlers', () => {
  it('update handler runs the step', async () => {
    // Prepare
    promoted();
    flipAlarm('ALARM');

    // Act
    const result = await updateDnsHandler(stepInput({ dns: { strategy: 'health-check' } }));

    // Assess
    expect(result.outcome).toBe('already-done');
    expect(cwMock.commandCalls(PutMetricDataCommand)).toHaveLength(0);
  });

  it('poll handler rejects a bad changeId, naming the field', async () => {
    // Prepare
    const event = { ...stepInput(), attempt: 0, changeId: 42 };

    // Act
    const error = await caught(checkDnsChangeHandler(event));

    // Assess
    expect(error).toBeInstanceOf(InputInvalidError);
    expect((error as Error).message).toContain('changeId');
    expect(r53Mock.calls()).toHaveLength(0);
  });

  it('poll handler is done at once for a null changeId', async () => {
    // Prepare
    const event = { ...stepInput(), attempt: 0, changeId: null };

    // Act
    const result = await checkDnsChangeHandler(event);

    // Assess
    expect(result.done).toBe(true);
  });
});
