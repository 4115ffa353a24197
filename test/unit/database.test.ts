import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DBInstanceNotFoundFault,
  DescribeDBInstancesCommand,
  InvalidDBInstanceStateFault,
  PromoteReadReplicaCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { handler as checkPromotionHandler } from '../../functions/check-database-promotion.js';
import { resetClients } from '../../functions/lib/clients.js';
import {
  checkDatabasePromotion,
  checkDatabaseReadiness,
  DEAD_END_STATUSES,
  promoteDatabase,
  promotionPollSeconds,
} from '../../functions/lib/database.js';
import {
  AwsCallFailedError,
  ConfigurationError,
  InputInvalidError,
  ResourceBusyError,
  ResourceMissingError,
  TransientAwsError,
} from '../../functions/lib/errors.js';
import type { PreflightCheck } from '../../functions/lib/types.js';
import { handler as promoteHandler } from '../../functions/promote-database.js';
import {
  accessDenied,
  awsError,
  caught,
  NOW,
  now,
  PRIMARY_ARN,
  RECOVERY,
  REPLICA_ENDPOINT,
  REPLICA_ID,
  replica,
  standalone,
  stepInput,
  throttling,
} from '../fixtures/db-fixtures.js';

const rdsMock = mockClient(RDSClient);
const cwMock = mockClient(CloudWatchClient);
const rds = rdsMock as unknown as RDSClient;
const cloudwatch = cwMock as unknown as CloudWatchClient;

afterEach(() => {
  rdsMock.reset();
  cwMock.reset();
  resetClients();
});

const notFound = () =>
  new DBInstanceNotFoundFault({ message: `DBInstance ${REPLICA_ID} not found.`, $metadata: {} });
const invalidState = () =>
  new InvalidDBInstanceStateFault({ message: 'DB Instance is not in an available state.', $metadata: {} });
const describes = () => rdsMock.commandCalls(DescribeDBInstancesCommand);
const promotes = () => rdsMock.commandCalls(PromoteReadReplicaCommand);

describe('promoteDatabase', () => {
  it('promotes an available replica of the plan primary, keeping its backup retention', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica()] });
    rdsMock
      .on(PromoteReadReplicaCommand)
      .resolves({ DBInstance: replica({ DBInstanceStatus: 'modifying' }) });

    // Act
    const result = await promoteDatabase({ rds, now }, stepInput());

    // Assess
    expect(describes()[0]?.args[0].input).toEqual({ DBInstanceIdentifier: REPLICA_ID });
    expect(promotes()).toHaveLength(1);
    expect(promotes()[0]?.args[0].input).toEqual({
      DBInstanceIdentifier: REPLICA_ID,
      BackupRetentionPeriod: 7,
    });
    expect(result).toMatchObject({
      step: 'promoteDatabase',
      unit: 'orders',
      outcome: 'changed',
      detail: {
        call: 'PromoteReadReplica',
        instance: REPLICA_ID,
        status: 'modifying',
        previousReplicaSource: PRIMARY_ARN,
        backupRetentionPeriod: 7,
        endpoint: REPLICA_ENDPOINT,
        port: 5432,
      },
      warnings: [],
    });
    expect(result.startedAt).toBe(NOW.toISOString());
  });

  it('leaves BackupRetentionPeriod to the API default when the replica has backups off', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica({ BackupRetentionPeriod: 0 })] });
    rdsMock
      .on(PromoteReadReplicaCommand)
      .resolves({ DBInstance: replica({ DBInstanceStatus: 'modifying' }) });

    // Act
    const result = await promoteDatabase({ rds, now }, stepInput());

    // Assess
    expect(promotes()[0]?.args[0].input).toEqual({ DBInstanceIdentifier: REPLICA_ID });
    expect(result.detail.backupRetentionPeriod).toBeNull();
  });

  it('returns already-done without a mutating call when the instance is already standalone', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [standalone()] });

    // Act
    const result = await promoteDatabase({ rds, now }, stepInput());

    // Assess
    expect(result.outcome).toBe('already-done');
    expect(result.detail).toMatchObject({ status: 'available', replicaSource: null, call: null });
    expect(promotes()).toHaveLength(0);
  });

  it('returns already-done for a standalone instance that is still rebooting from its promotion', async () => {
    // Prepare
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [standalone({ DBInstanceStatus: 'rebooting' })] });

    // Act
    const result = await promoteDatabase({ rds, now }, stepInput());

    // Assess
    expect(result.outcome).toBe('already-done');
    expect(promotes()).toHaveLength(0);
  });

  it('plans the call in dry-run mode and makes no mutating call', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica()] });

    // Act
    const result = await promoteDatabase({ rds, now }, stepInput({ mode: 'dry-run' }));

    // Assess
    expect(result.outcome).toBe('planned');
    expect(result.detail).toMatchObject({
      call: 'PromoteReadReplica',
      dbInstanceIdentifier: REPLICA_ID,
      backupRetentionPeriod: 7,
    });
    expect(result.warnings).toEqual([]);
    expect(promotes()).toHaveLength(0);
  });

  it('warns in dry-run mode that a busy replica would be retried', async () => {
    // Prepare
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [replica({ DBInstanceStatus: 'backing-up' })] });

    // Act
    const result = await promoteDatabase({ rds, now }, stepInput({ mode: 'dry-run' }));

    // Assess
    expect(result.outcome).toBe('planned');
    expect(result.warnings[0]).toMatch(/backing-up/);
    expect(promotes()).toHaveLength(0);
  });

  it('returns already-done in dry-run mode when the instance is standalone', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [standalone()] });

    // Act
    const result = await promoteDatabase({ rds, now }, stepInput({ mode: 'dry-run' }));

    // Assess
    expect(result.outcome).toBe('already-done');
    expect(promotes()).toHaveLength(0);
  });

  it.each([
    ['InvalidDBInstanceStateFault (SDK class)', invalidState],
    ['InvalidDBInstanceState (wire code)', () => awsError('InvalidDBInstanceState')],
  ])('turns a refusal while backing-up into ResourceBusyError: %s', async (_label, refusal) => {
    // Prepare
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [replica({ DBInstanceStatus: 'backing-up' })] });
    rdsMock.on(PromoteReadReplicaCommand).rejects(refusal());

    // Act
    const error = await caught(promoteDatabase({ rds, now }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(ResourceBusyError);
    expect((error as ResourceBusyError).name).toBe('ResourceBusyError');
    expect((error as ResourceBusyError).retryable).toBe(true);
    expect((error as Error).message).toMatch(/backing-up/);
    expect((error as Error).cause).toBeDefined();
  });

  it('refuses a replica of another source with ConfigurationError and changes nothing', async () => {
    // Prepare
    const other = `arn:aws:rds:eu-west-1:123456789012:db:someone-else`;
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [replica({ ReadReplicaSourceDBInstanceIdentifier: other })] });

    // Act
    const error = await caught(promoteDatabase({ rds, now }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain(other);
    expect((error as Error).message).toContain(PRIMARY_ARN);
    expect(promotes()).toHaveLength(0);
  });

  it('also refuses a wrong source in dry-run mode', async () => {
    // Prepare
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [replica({ ReadReplicaSourceDBInstanceIdentifier: 'orders-db' })] });

    // Act
    const error = await caught(promoteDatabase({ rds, now }, stepInput({ mode: 'dry-run' })));

    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(promotes()).toHaveLength(0);
  });

  it('matches the source ARN without case, as RDS stores identifiers in lower case', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica()] });
    rdsMock
      .on(PromoteReadReplicaCommand)
      .resolves({ DBInstance: replica({ DBInstanceStatus: 'modifying' }) });

    // Act
    const result = await promoteDatabase(
      { rds, now },
      stepInput({ database: { primaryInstanceId: 'Orders-DB' } }),
    );

    // Assess
    expect(result.outcome).toBe('changed');
  });

  it.each([
    ['DBInstanceNotFoundFault (SDK class)', notFound],
    ['DBInstanceNotFound (wire code)', () => awsError('DBInstanceNotFound', { status: 404 })],
  ])('reports a missing replica as ResourceMissingError: %s', async (_label, missing) => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).rejects(missing());

    // Act
    const error = await caught(promoteDatabase({ rds, now }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(ResourceMissingError);
    expect((error as Error).message).toContain(REPLICA_ID);
    expect(promotes()).toHaveLength(0);
  });

  it('reports a replica deleted between the read and the promotion as ResourceMissingError', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica()] });
    rdsMock.on(PromoteReadReplicaCommand).rejects(notFound());

    // Act
    const error = await caught(promoteDatabase({ rds, now }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(ResourceMissingError);
  });

  it('sorts throttling into TransientAwsError, on the read and on the promotion', async () => {
    // Prepare
    rdsMock
      .on(DescribeDBInstancesCommand)
      .rejectsOnce(throttling())
      .resolves({ DBInstances: [replica()] });
    rdsMock.on(PromoteReadReplicaCommand).rejects(throttling());

    // Act
    const first = await caught(promoteDatabase({ rds, now }, stepInput()));
    const second = await caught(promoteDatabase({ rds, now }, stepInput()));

    // Assess
    expect(first).toBeInstanceOf(TransientAwsError);
    expect(second).toBeInstanceOf(TransientAwsError);
    expect((second as Error).message).toContain('PromoteReadReplica');
  });

  it('sorts a permanent refusal (access denied) into AwsCallFailedError', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica()] });
    rdsMock.on(PromoteReadReplicaCommand).rejects(accessDenied());

    // Act
    const error = await caught(promoteDatabase({ rds, now }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(AwsCallFailedError);
  });

  it.each(['storage-full', 'failed', 'incompatible-parameters'])(
    'stops with ConfigurationError and no call when the replica is %s',
    async (status) => {
      // Prepare
      rdsMock
        .on(DescribeDBInstancesCommand)
        .resolves({ DBInstances: [replica({ DBInstanceStatus: status })] });

      // Act
      const error = await caught(promoteDatabase({ rds, now }, stepInput()));

      // Assess
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toContain(status);
      expect(promotes()).toHaveLength(0);
    },
  );

  it('converges after a crash that lost the PromoteReadReplica response: one promotion, no failure', async () => {
    // Prepare: run 1 sends the call, the connection drops after RDS accepted it; run 2 finds the replica
    // modifying (RDS refuses a second promotion); run 3 finds it promoted.
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolvesOnce({ DBInstances: [replica()] })
      .resolvesOnce({ DBInstances: [replica({ DBInstanceStatus: 'modifying' })] })
      .resolves({ DBInstances: [standalone()] });
    rdsMock
      .on(PromoteReadReplicaCommand)
      .rejectsOnce(awsError('Error', { code: 'ECONNRESET', message: 'socket hang up' }))
      .rejects(invalidState());

    // Act
    const run1 = await caught(promoteDatabase({ rds, now }, stepInput()));
    const run2 = await caught(promoteDatabase({ rds, now }, stepInput()));
    const run3 = await promoteDatabase({ rds, now }, stepInput());

    // Assess
    expect(run1).toBeInstanceOf(TransientAwsError);
    expect(run2).toBeInstanceOf(ResourceBusyError);
    expect(run3.outcome).toBe('already-done');
    expect(promotes()).toHaveLength(2);
  });
});

describe('checkDatabasePromotion', () => {
  it('is done only when available with no replica source: available(source) -> modifying -> rebooting -> available', async () => {
    // Prepare
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolvesOnce({ DBInstances: [replica()] })
      .resolvesOnce({ DBInstances: [replica({ DBInstanceStatus: 'modifying' })] })
      .resolvesOnce({ DBInstances: [standalone({ DBInstanceStatus: 'rebooting' })] })
      .resolves({ DBInstances: [standalone()] });

    // Act
    const polls = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      polls.push(await checkDatabasePromotion({ rds, now }, { ...stepInput(), attempt }));
    }

    // Assess
    expect(polls.map((p) => [p.status, p.done])).toEqual([
      ['available', false],
      ['modifying', false],
      ['rebooting', false],
      ['available', true],
    ]);
    expect(polls.map((p) => p.waitSeconds)).toEqual([2, 4, 2, 0]);
    expect(polls[3]).toMatchObject({
      observedAt: NOW.toISOString(),
      detail: {
        endpoint: REPLICA_ENDPOINT,
        port: 5432,
        attempt: 3,
        replicaSource: null,
        status: 'available',
      },
    });
    expect(polls[0]?.detail.replicaSource).toBe(PRIMARY_ARN);
  });

  it('never asks to wait minutes, whatever the status', () => {
    // Prepare
    const statuses = ['available', 'modifying', 'rebooting', 'backing-up', 'upgrading', 'some-new-status'];

    // Act
    const waits = statuses.flatMap((s) => [promotionPollSeconds(s, true), promotionPollSeconds(s, false)]);

    // Assess
    for (const w of waits) {
      expect(w).toBeGreaterThanOrEqual(1);
      expect(w).toBeLessThan(5);
    }
  });

  it.each([...DEAD_END_STATUSES])('stops with a non-retryable ConfigurationError on %s', async (status) => {
    // Prepare
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [standalone({ DBInstanceStatus: status })] });

    // Act
    const error = await caught(checkDatabasePromotion({ rds, now }, { ...stepInput(), attempt: 7 }));

    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).retryable).toBe(false);
    expect((error as Error).message).toContain(status);
  });

  it('is done at once in dry-run mode without a call', async () => {
    // Prepare
    const input = { ...stepInput({ mode: 'dry-run' }), attempt: 0 };

    // Act
    const poll = await checkDatabasePromotion({ rds, now }, input);

    // Assess
    expect(poll.done).toBe(true);
    expect(poll.waitSeconds).toBe(0);
    expect(rdsMock.calls()).toHaveLength(0);
  });

  it('reports a vanished instance as ResourceMissingError and throttling as TransientAwsError', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).rejectsOnce(notFound()).rejectsOnce(throttling());

    // Act
    const missing = await caught(checkDatabasePromotion({ rds, now }, { ...stepInput(), attempt: 0 }));
    const throttled = await caught(checkDatabasePromotion({ rds, now }, { ...stepInput(), attempt: 1 }));

    // Assess
    expect(missing).toBeInstanceOf(ResourceMissingError);
    expect(throttled).toBeInstanceOf(TransientAwsError);
  });
});

describe('checkDatabaseReadiness', () => {
  const byCheck = (checks: PreflightCheck[], name: string) => checks.find((c) => c.check === name);
  const failed = (checks: PreflightCheck[]) => checks.filter((c) => !c.ok).map((c) => [c.check, c.severity]);
  const lagOf = (seconds: number[]) =>
    cwMock.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        {
          Id: 'replicaLag',
          Values: seconds,
          Timestamps: seconds.map((_, i) => new Date(NOW.getTime() - 60_000 * (i + 1))),
        },
      ],
    });

  it('passes a healthy replica of the plan primary and reports its lag', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica()] });
    lagOf([3, 250]);

    // Act
    const checks = await checkDatabaseReadiness({ rds, cloudwatch, now }, stepInput());

    // Assess
    expect(failed(checks)).toEqual([]);
    expect(checks.map((c) => c.check)).toEqual([
      'database.replica-exists',
      'database.status',
      'database.engine',
      'database.master-password',
      'database.replica-source',
      'database.replica-backups',
      'database.replica-lag',
    ]);
    expect(byCheck(checks, 'database.replica-lag')?.figures).toEqual({ replicaLagSeconds: 3 });
    const query = cwMock.commandCalls(GetMetricDataCommand)[0]?.args[0].input;
    expect(query?.StartTime).toEqual(new Date(NOW.getTime() - 5 * 60_000));
    expect(query?.EndTime).toEqual(NOW);
    expect(query?.MetricDataQueries?.[0]?.MetricStat).toEqual({
      Metric: {
        Namespace: 'AWS/RDS',
        MetricName: 'ReplicaLag',
        Dimensions: [{ Name: 'DBInstanceIdentifier', Value: REPLICA_ID }],
      },
      Period: 60,
      Stat: 'Maximum',
    });
  });

  it('takes the newest datapoint even when the server ignores ScanBy', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica()] });
    cwMock.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        {
          Id: 'replicaLag',
          Values: [900, 2],
          Timestamps: [new Date(NOW.getTime() - 240_000), new Date(NOW.getTime() - 60_000)],
        },
      ],
    });

    // Act
    const checks = await checkDatabaseReadiness({ rds, cloudwatch, now }, stepInput());

    // Assess
    expect(byCheck(checks, 'database.replica-lag')).toMatchObject({
      ok: true,
      figures: { replicaLagSeconds: 2 },
    });
  });

  it('reports a missing replica as a single error and reads nothing else', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).rejects(notFound());

    // Act
    const checks = await checkDatabaseReadiness({ rds, cloudwatch, now }, stepInput());

    // Assess
    expect(failed(checks)).toEqual([['database.replica-exists', 'error']]);
    expect(checks[0]?.message).toContain('database.replicaInstanceId');
    expect(cwMock.calls()).toHaveLength(0);
  });

  it('warns about a busy replica and errs on one that cannot be promoted', async () => {
    // Prepare
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolvesOnce({ DBInstances: [replica({ DBInstanceStatus: 'backing-up' })] })
      .resolvesOnce({ DBInstances: [replica({ DBInstanceStatus: 'storage-full' })] });
    lagOf([1]);

    // Act
    const busy = await checkDatabaseReadiness({ rds, cloudwatch, now }, stepInput());
    const stuck = await checkDatabaseReadiness({ rds, cloudwatch, now }, stepInput());

    // Assess
    expect(failed(busy)).toEqual([['database.status', 'warning']]);
    expect(byCheck(busy, 'database.status')?.figures).toEqual({ replicaStatus: 'backing-up' });
    expect(failed(stuck)).toEqual([['database.status', 'error']]);
  });

  it('errs when the replica follows another source', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        replica({ ReadReplicaSourceDBInstanceIdentifier: 'arn:aws:rds:us-east-1:123456789012:db:other' }),
      ],
    });
    lagOf([1]);

    // Act
    const checks = await checkDatabaseReadiness({ rds, cloudwatch, now }, stepInput());

    // Assess
    expect(failed(checks)).toEqual([['database.replica-source', 'error']]);
    expect(byCheck(checks, 'database.replica-source')?.message).toContain('database.primaryInstanceId');
  });

  it('warns that a standalone instance is already promoted and skips the lag', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [standalone()] });

    // Act
    const checks = await checkDatabaseReadiness({ rds, cloudwatch, now }, stepInput());

    // Assess
    expect(failed(checks)).toEqual([['database.replica-source', 'warning']]);
    expect(byCheck(checks, 'database.replica-source')?.message).toMatch(/already promoted/);
    expect(cwMock.calls()).toHaveLength(0);
  });

  it('errs when the engine differs from the plan', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica({ Engine: 'mysql' })] });
    lagOf([1]);

    // Act
    const checks = await checkDatabaseReadiness({ rds, cloudwatch, now }, stepInput());

    // Assess
    expect(failed(checks)).toEqual([['database.engine', 'error']]);
    expect(byCheck(checks, 'database.engine')?.message).toContain('database.engine');
  });

  it('errs when RDS manages the master password', async () => {
    // Prepare
    const managed = `arn:aws:secretsmanager:${RECOVERY}:123456789012:secret:rds!db-1234`;
    rdsMock.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [replica({ MasterUserSecret: { SecretArn: managed, SecretStatus: 'active' } })],
    });
    lagOf([1]);

    // Act
    const checks = await checkDatabaseReadiness({ rds, cloudwatch, now }, stepInput());

    // Assess
    expect(failed(checks)).toEqual([['database.master-password', 'error']]);
    expect(byCheck(checks, 'database.master-password')?.message).toContain(managed);
  });

  it('warns that a replica without backups promotes more slowly', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica({ BackupRetentionPeriod: 0 })] });
    lagOf([1]);

    // Act
    const checks = await checkDatabaseReadiness({ rds, cloudwatch, now }, stepInput());

    // Assess
    expect(failed(checks)).toEqual([['database.replica-backups', 'warning']]);
  });

  it.each([
    ['replication not running', [-1], /not running/, -1],
    ['lag over the limit', [301], /over database.maxReplicaLagSeconds 300/, 301],
    ['no datapoints', [], /unknown: no ReplicaLag datapoint/, null],
  ])('warns on %s', async (_label, values, message, figure) => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica()] });
    lagOf(values);

    // Act
    const checks = await checkDatabaseReadiness({ rds, cloudwatch, now }, stepInput());

    // Assess
    expect(failed(checks)).toEqual([['database.replica-lag', 'warning']]);
    expect(byCheck(checks, 'database.replica-lag')?.message).toMatch(message);
    expect(byCheck(checks, 'database.replica-lag')?.figures).toEqual({ replicaLagSeconds: figure });
  });

  it('warns that the lag is unknown when CloudWatch refuses, and throws when it is throttled', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica()] });
    cwMock.on(GetMetricDataCommand).rejectsOnce(accessDenied()).rejectsOnce(throttling());

    // Act
    const refused = await checkDatabaseReadiness({ rds, cloudwatch, now }, stepInput());
    const throttled = await caught(checkDatabaseReadiness({ rds, cloudwatch, now }, stepInput()));

    // Assess
    expect(failed(refused)).toEqual([['database.replica-lag', 'warning']]);
    expect(byCheck(refused, 'database.replica-lag')?.message).toMatch(
      /unknown: GetMetricData failed \(AccessDenied\)/,
    );
    expect(throttled).toBeInstanceOf(TransientAwsError);
  });

  it('lets a throttled DescribeDBInstances through as TransientAwsError', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).rejects(throttling());

    // Act
    const error = await caught(checkDatabaseReadiness({ rds, cloudwatch, now }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(TransientAwsError);
  });
});

describe('database handlers', () => {
  it('promote handler runs the step with the recovery Region clients', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [standalone()] });

    // Act
    const result = await promoteHandler(stepInput());

    // Assess
    expect(result.outcome).toBe('already-done');
    expect(await rdsMock.call(0).thisValue.config.region()).toBe(RECOVERY);
  });

  it('rejects a payload without unit, naming the field, before any call', async () => {
    // Prepare
    const event = { run: stepInput().run };

    // Act
    const error = await caught(promoteHandler(event));

    // Assess
    expect(error).toBeInstanceOf(InputInvalidError);
    expect((error as Error).message).toContain('unit:');
    expect(rdsMock.calls()).toHaveLength(0);
  });

  it('poll handler rejects a missing attempt, naming the field', async () => {
    // Prepare
    const event = stepInput();

    // Act
    const error = await caught(checkPromotionHandler(event));

    // Assess
    expect(error).toBeInstanceOf(InputInvalidError);
    expect((error as Error).message).toContain('attempt');
  });

  it('poll handler polls with a valid payload', async () => {
    // Prepare
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [replica({ DBInstanceStatus: 'modifying' })] });

    // Act
    const poll = await checkPromotionHandler({ ...stepInput(), attempt: 0 });

    // Assess
    expect(poll).toMatchObject({ done: false, status: 'modifying', waitSeconds: 4 });
  });
});
