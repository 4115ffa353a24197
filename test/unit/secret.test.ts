import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
  StopReplicationToReplicaCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { resetClients } from '../../functions/lib/clients.js';
import {
  AwsCallFailedError,
  ConfigurationError,
  ResourceMissingError,
  TransientAwsError,
} from '../../functions/lib/errors.js';
import { checkSecretReadiness } from '../../functions/lib/secret/preflight.js';
import { promoteReplicaSecret } from '../../functions/lib/secret/promote.js';
import { INTERRUPTED_ROTATION_PLAN } from '../../functions/lib/secret/rotation.js';
import { replicationView, stagingView } from '../../functions/lib/secret/state.js';
import type { PreflightCheck } from '../../functions/lib/types.js';
import { handler } from '../../functions/promote-secret.js';
import {
  accessDenied,
  awsError,
  captureOutput,
  errorText,
  MARKER_PASSWORD,
  notFound,
  PRIMARY,
  RECORD_NAME,
  RECOVERY,
  replicaDescription,
  SECRET_ARN,
  SECRET_NAME,
  secretValue,
  standaloneDescription,
  stepInput,
  throttling,
} from '../fixtures/secret.js';

const sm = mockClient(SecretsManagerClient);
const secretsManager = sm as unknown as SecretsManagerClient;

afterEach(() => {
  sm.reset();
});

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

const byCheck = (checks: PreflightCheck[], name: string) => checks.find((c) => c.check === name);

describe('replicationView', () => {
  it('sees a replica by a PrimaryRegion other than the recovery Region', () => {
    // Prepare
    const secret = replicaDescription({
      ReplicationStatus: [
        { Region: RECOVERY, Status: 'InProgress', StatusMessage: 'Replication in progress' },
      ],
    });

    // Act
    const view = replicationView(secret, RECOVERY);

    // Assess
    expect(view).toEqual({
      role: 'replica',
      primaryRegion: PRIMARY,
      status: 'InProgress',
      statusMessage: 'Replication in progress',
    });
  });

  it('sees a standalone secret when PrimaryRegion is the recovery Region or absent', () => {
    // Prepare
    const promoted = standaloneDescription({
      ReplicationStatus: [{ Region: 'eu-west-1', Status: 'InSync' }],
    });
    const neverReplicated = replicaDescription({ PrimaryRegion: undefined });

    // Act
    const views = [replicationView(promoted, RECOVERY), replicationView(neverReplicated, RECOVERY)];

    // Assess
    expect(views.map((v) => v.role)).toEqual(['standalone', 'standalone']);
    expect(views[0]?.status).toBeUndefined();
  });
});

describe('stagingView', () => {
  it('reports AWSPENDING only when it sits on a version other than AWSCURRENT', () => {
    // Prepare
    const stale = replicaDescription({ VersionIdsToStages: { a: ['AWSCURRENT'], b: ['AWSPENDING'] } });
    const same = replicaDescription({ VersionIdsToStages: { a: ['AWSCURRENT', 'AWSPENDING'] } });

    // Act
    const views = [stagingView(stale), stagingView(same), stagingView({})];

    // Assess
    expect(views.map((v) => v.stalePendingVersionId)).toEqual(['b', undefined, undefined]);
    expect(views[0]?.currentVersionId).toBe('a');
  });
});

describe('promoteReplicaSecret', () => {
  it('stops replication of a replica of the primary Region and reports what it saw', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(replicaDescription());
    sm.on(StopReplicationToReplicaCommand).resolves({ ARN: SECRET_ARN });

    // Act
    const result = await promoteReplicaSecret({ secretsManager }, stepInput());

    // Assess
    expect(result.step).toBe('promoteSecret');
    expect(result.unit).toBe('orders');
    expect(result.outcome).toBe('changed');
    expect(result.detail).toMatchObject({
      secretArn: SECRET_ARN,
      region: RECOVERY,
      previousPrimaryRegion: PRIMARY,
      replicationStatus: null,
      call: 'StopReplicationToReplica',
    });
    expect(sm.commandCalls(DescribeSecretCommand)[0]?.args[0].input).toEqual({ SecretId: SECRET_NAME });
    const stops = sm.commandCalls(StopReplicationToReplicaCommand);
    expect(stops).toHaveLength(1);
    expect(stops[0]?.args[0].input).toEqual({ SecretId: SECRET_ARN });
    expect(result.warnings).toEqual([]);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('warns when the replica side reports replication not InSync, and still promotes', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(
      replicaDescription({
        ReplicationStatus: [{ Region: RECOVERY, Status: 'Failed', StatusMessage: 'KMS key disabled' }],
      }),
    );
    sm.on(StopReplicationToReplicaCommand).resolves({ ARN: SECRET_ARN });

    // Act
    const result = await promoteReplicaSecret({ secretsManager }, stepInput());

    // Assess
    expect(result.outcome).toBe('changed');
    expect(result.detail.replicationStatus).toBe('Failed');
    expect(result.warnings).toEqual([expect.stringContaining('Failed (KMS key disabled)')]);
  });

  it.each([
    ['promoted (PrimaryRegion is the recovery Region)', standaloneDescription()],
    ['never replicated (no PrimaryRegion)', replicaDescription({ PrimaryRegion: undefined })],
    [
      'a primary with its own replicas',
      standaloneDescription({ ReplicationStatus: [{ Region: PRIMARY, Status: 'InSync' }] }),
    ],
  ])('is already done for a secret %s, making no mutating call', async (_label, description) => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(description);

    // Act
    const result = await promoteReplicaSecret({ secretsManager }, stepInput());

    // Assess
    expect(result.outcome).toBe('already-done');
    expect(result.detail.previousPrimaryRegion).toBeNull();
    expect(sm.commandCalls(StopReplicationToReplicaCommand)).toHaveLength(0);
  });

  it('in dry-run plans the call and makes none', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(replicaDescription());

    // Act
    const result = await promoteReplicaSecret({ secretsManager }, stepInput({ mode: 'dry-run' }));

    // Assess
    expect(result.outcome).toBe('planned');
    expect(result.detail.call).toBe('StopReplicationToReplica');
    expect(result.detail.previousPrimaryRegion).toBe(PRIMARY);
    expect(sm.commandCalls(StopReplicationToReplicaCommand)).toHaveLength(0);
  });

  it('refuses to detach a replica whose primary is not in the plan primary Region', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(replicaDescription({ PrimaryRegion: 'eu-west-1' }));

    // Act
    const error = await caught(promoteReplicaSecret({ secretsManager }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).name).toBe('ConfigurationError');
    expect((error as Error).message).toContain('eu-west-1');
    expect(sm.commandCalls(StopReplicationToReplicaCommand)).toHaveLength(0);
  });

  it('refuses a secret scheduled for deletion', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(
      replicaDescription({ DeletedDate: new Date('2025-01-02T00:00:00Z') }),
    );

    // Act
    const error = await caught(promoteReplicaSecret({ secretsManager }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain('RestoreSecret');
    expect(sm.commandCalls(StopReplicationToReplicaCommand)).toHaveLength(0);
  });

  it('names the secret and Region when the secret does not exist', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).rejects(notFound());

    // Act
    const error = await caught(promoteReplicaSecret({ secretsManager }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(ResourceMissingError);
    expect((error as Error).name).toBe('ResourceMissingError');
    expect((error as Error).message).toContain(`"${SECRET_NAME}" in ${RECOVERY}`);
    expect((error as Error).cause).toBeDefined();
  });

  it.each([
    ['DescribeSecret', DescribeSecretCommand],
    ['StopReplicationToReplica', StopReplicationToReplicaCommand],
  ] as const)('turns throttling on %s into TransientAwsError', async (call, command) => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(replicaDescription());
    sm.on(StopReplicationToReplicaCommand).resolves({});
    sm.on(command).rejects(throttling());

    // Act
    const error = await caught(promoteReplicaSecret({ secretsManager }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(TransientAwsError);
    expect((error as Error).name).toBe('TransientAwsError');
    expect((error as Error).message).toContain(call);
    expect((error as Error).message).toContain('ThrottlingException');
  });

  it('turns a 5xx into TransientAwsError', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(replicaDescription());
    sm.on(StopReplicationToReplicaCommand).rejects(
      awsError('InternalServiceError', { fault: 'server', status: 500 }),
    );

    // Act
    const error = await caught(promoteReplicaSecret({ secretsManager }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(TransientAwsError);
  });

  it('turns access denied into AwsCallFailedError', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(replicaDescription());
    sm.on(StopReplicationToReplicaCommand).rejects(accessDenied());

    // Act
    const error = await caught(promoteReplicaSecret({ secretsManager }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(AwsCallFailedError);
    expect((error as Error).name).toBe('AwsCallFailedError');
    expect((error as Error).message).toContain('StopReplicationToReplica');
    expect((error as Error).message).toContain('AccessDeniedException');
  });

  it('treats a refused StopReplicationToReplica as done when the secret is standalone after all', async () => {
    // Prepare: the SDK retried a call whose first attempt had promoted the secret
    sm.on(DescribeSecretCommand).resolvesOnce(replicaDescription()).resolves(standaloneDescription());
    sm.on(StopReplicationToReplicaCommand).rejects(awsError('InvalidRequestException'));

    // Act
    const result = await promoteReplicaSecret({ secretsManager }, stepInput());

    // Assess
    expect(result.outcome).toBe('changed');
    expect(result.warnings).toEqual([expect.stringContaining('InvalidRequestException')]);
    expect(sm.commandCalls(DescribeSecretCommand)).toHaveLength(2);
  });

  it('fails when StopReplicationToReplica is refused and the secret is still a replica', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(replicaDescription());
    sm.on(StopReplicationToReplicaCommand).rejects(awsError('InvalidRequestException'));

    // Act
    const error = await caught(promoteReplicaSecret({ secretsManager }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(AwsCallFailedError);
    expect((error as Error).message).toContain('InvalidRequestException');
  });

  it('promotes in drill mode too: a drill runs this step on its drill copy of the secret', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(replicaDescription());
    sm.on(StopReplicationToReplicaCommand).resolves({});

    // Act
    const result = await promoteReplicaSecret({ secretsManager }, stepInput({ mode: 'drill' }));

    // Assess
    expect(result.outcome).toBe('changed');
    expect(sm.commandCalls(StopReplicationToReplicaCommand)).toHaveLength(1);
  });
});

describe('checkSecretReadiness', () => {
  function prepare(description = replicaDescription(), value = secretValue()) {
    sm.on(DescribeSecretCommand).resolves(description);
    sm.on(GetSecretValueCommand).resolves({
      ARN: SECRET_ARN,
      VersionId: 'v-current-0001',
      SecretString: value,
    });
  }

  it('passes a replica of the primary Region, InSync, whose value matches the plan', async () => {
    // Prepare
    prepare(replicaDescription({ ReplicationStatus: [{ Region: RECOVERY, Status: 'InSync' }] }));

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    expect(checks.filter((c) => !c.ok)).toEqual([]);
    expect(checks.map((c) => c.check)).toEqual([
      'secret.exists',
      'secret.replica',
      'secret.replication-status',
      'secret.interrupted-rotation',
      'secret.value',
      'secret.host',
      'secret.engine',
      'secret.port',
    ]);
    expect(checks.every((c) => c.unit === 'orders')).toBe(true);
    expect(byCheck(checks, 'secret.replica')?.figures).toEqual({
      secretRole: 'replica',
      secretPrimaryRegion: PRIMARY,
      secretReplicationStatus: 'InSync',
    });
    expect(sm.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: SECRET_ARN });
  });

  it('reads what the recovery Region shows when the replica side does not report the status: a current version, no warning', async () => {
    // Prepare
    prepare();

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    const status = byCheck(checks, 'secret.replication-status');
    expect(status).toMatchObject({ ok: true, severity: 'warning' });
    expect(status?.message).toContain('holds a replicated AWSCURRENT version (v-current-0001)');
    // Not guessed: the figure stays unknown (readiness publishes no datapoint for it).
    expect(byCheck(checks, 'secret.replica')?.figures?.secretReplicationStatus).toBe('unknown');
    expect(checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('warns when the replica side reports no status and holds no AWSCURRENT version', async () => {
    // Prepare
    prepare(replicaDescription({ VersionIdsToStages: { 'v-old-0001': ['AWSPREVIOUS'] } }));

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    const status = byCheck(checks, 'secret.replication-status');
    expect(status).toMatchObject({ ok: false, severity: 'warning' });
    expect(status?.message).toContain('holds no AWSCURRENT version');
  });

  it.each(['InProgress', 'Failed'] as const)('warns when replication is %s', async (status) => {
    // Prepare
    prepare(replicaDescription({ ReplicationStatus: [{ Region: RECOVERY, Status: status }] }));

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    expect(byCheck(checks, 'secret.replication-status')).toMatchObject({ ok: false, severity: 'warning' });
    expect(byCheck(checks, 'secret.replication-status')?.message).toContain(status);
  });

  it('warns that a standalone secret is already promoted', async () => {
    // Prepare
    prepare(standaloneDescription());

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    expect(byCheck(checks, 'secret.replica')).toMatchObject({ ok: false, severity: 'warning' });
    expect(byCheck(checks, 'secret.replica')?.message).toContain('already promoted');
    expect(byCheck(checks, 'secret.replication-status')).toBeUndefined();
  });

  it('is an error when the secret replicates from another Region than the plan primary', async () => {
    // Prepare
    prepare(replicaDescription({ PrimaryRegion: 'eu-west-1' }));

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    expect(byCheck(checks, 'secret.replica')).toMatchObject({ ok: false, severity: 'error' });
    expect(byCheck(checks, 'secret.replica')?.message).toContain('eu-west-1');
  });

  it('is one error when the secret does not exist in the recovery Region', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).rejects(notFound());

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ check: 'secret.exists', ok: false, severity: 'error' });
    expect(checks[0]?.message).toContain(`"${SECRET_NAME}" in ${RECOVERY}`);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it('is an error when the secret cannot be described for a permanent reason', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).rejects(accessDenied());

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    expect(checks[0]).toMatchObject({ check: 'secret.exists', ok: false, severity: 'error' });
    expect(checks[0]?.message).toContain('AccessDeniedException');
  });

  it('throws TransientAwsError on throttling so the state machine retries the preflight', async () => {
    // Prepare
    prepare();
    sm.on(GetSecretValueCommand).rejects(throttling());

    // Act
    const error = await caught(checkSecretReadiness({ secretsManager }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(TransientAwsError);
  });

  it('warns about an interrupted rotation (AWSPENDING on a version other than AWSCURRENT)', async () => {
    // Prepare
    prepare(
      replicaDescription({
        VersionIdsToStages: { 'v-current-0001': ['AWSCURRENT'], 'v-pending-0002': ['AWSPENDING'] },
      }),
    );

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    const check = byCheck(checks, 'secret.interrupted-rotation');
    expect(check).toMatchObject({ ok: false, severity: 'warning' });
    expect(check?.message).toContain('v-pending-0002');
    // It says exactly what SettleRotation does with it (the step plans its dry run in the same words).
    expect(check?.message).toContain(`SettleRotation will ${INTERRUPTED_ROTATION_PLAN}`);
  });

  it('says the label is left alone when rotation is already attached to the plan function', async () => {
    // Prepare
    prepare(
      replicaDescription({
        RotationEnabled: true,
        RotationLambdaARN: stepInput().unit.rotation.lambdaArn,
        RotationRules: { AutomaticallyAfterDays: 30 },
        VersionIdsToStages: { 'v-current-0001': ['AWSCURRENT'], 'v-pending-0002': ['AWSPENDING'] },
      }),
    );

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    const check = byCheck(checks, 'secret.interrupted-rotation');
    expect(check?.message).toContain('a rotation may be running, so lifeboat leaves the label alone');
    expect(check?.message).not.toContain(INTERRUPTED_ROTATION_PLAN);
  });

  it('is an error naming every missing required key', async () => {
    // Prepare
    prepare(
      replicaDescription(),
      JSON.stringify({ engine: 'postgres', host: RECORD_NAME, password: MARKER_PASSWORD }),
    );

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    const check = byCheck(checks, 'secret.value');
    expect(check).toMatchObject({ ok: false, severity: 'error' });
    expect(check?.message).toContain('port, username, dbname');
  });

  it('is an error when host is not the plan record', async () => {
    // Prepare
    prepare(replicaDescription(), secretValue({ host: 'orders-db.abc123.us-east-1.rds.amazonaws.com' }));

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    const check = byCheck(checks, 'secret.host');
    expect(check).toMatchObject({ ok: false, severity: 'error' });
    expect(check?.message).toContain('dns.recordName');
    expect(check?.message).toContain('rds.amazonaws.com');
  });

  it('accepts the record name in another case and with a trailing dot', async () => {
    // Prepare
    prepare(replicaDescription(), secretValue({ host: `${RECORD_NAME.toUpperCase()}.` }));

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    expect(byCheck(checks, 'secret.host')?.ok).toBe(true);
  });

  it.each([
    ['mysql', false],
    ['mariadb', false],
    ['postgresql', true],
    ['Postgres', true],
  ])('checks engine "%s" against a postgres plan', async (engine, ok) => {
    // Prepare
    prepare(replicaDescription(), secretValue({ engine }));

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    expect(byCheck(checks, 'secret.engine')).toMatchObject({ ok, severity: 'error' });
  });

  it('is an error when port is not a port number', async () => {
    // Prepare
    prepare(replicaDescription(), secretValue({ port: 'five-four-three-two' }));

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    expect(byCheck(checks, 'secret.port')).toMatchObject({ ok: false, severity: 'error' });
  });

  it.each([
    ['not JSON', `password=${MARKER_PASSWORD}`],
    ['a JSON array', JSON.stringify([MARKER_PASSWORD])],
  ])('is an error when the value is %s, without quoting it', async (_label, value) => {
    // Prepare
    prepare(replicaDescription(), value);

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    expect(byCheck(checks, 'secret.value')).toMatchObject({ ok: false, severity: 'error' });
    expect(JSON.stringify(checks)).not.toContain(MARKER_PASSWORD);
  });

  it('is an error when the value cannot be read for a permanent reason', async () => {
    // Prepare
    prepare();
    sm.on(GetSecretValueCommand).rejects(awsError('DecryptionFailure'));

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    expect(byCheck(checks, 'secret.value')).toMatchObject({ ok: false, severity: 'error' });
    expect(byCheck(checks, 'secret.value')?.message).toContain('DecryptionFailure');
  });

  it('never puts the password in a check, whatever fails', async () => {
    // Prepare
    prepare(
      replicaDescription({ PrimaryRegion: 'eu-west-1' }),
      secretValue({ host: 'elsewhere.example.com', engine: 'mysql', port: MARKER_PASSWORD }),
    );

    // Act
    const checks = await checkSecretReadiness({ secretsManager }, stepInput());

    // Assess
    expect(checks.filter((c) => !c.ok).length).toBeGreaterThanOrEqual(4);
    expect(JSON.stringify(checks)).not.toContain(MARKER_PASSWORD);
  });
});

describe('promote-secret handler', () => {
  afterEach(() => {
    resetClients();
  });

  it('promotes with a client for the recovery Region and logs no secret material', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(replicaDescription());
    sm.on(StopReplicationToReplicaCommand).resolves({ ARN: SECRET_ARN });
    sm.on(GetSecretValueCommand).resolves({ SecretString: secretValue() });
    const output = captureOutput();

    // Act
    let result: Awaited<ReturnType<typeof handler>>;
    try {
      result = await handler(stepInput());
    } finally {
      output.restore();
    }

    // Assess
    expect(result.outcome).toBe('changed');
    const client = sm.commandCalls(StopReplicationToReplicaCommand)[0]?.thisValue as SecretsManagerClient;
    expect(await client.config.region()).toBe(RECOVERY);
    expect(output.text()).toContain('secret promotion');
    expect(output.text()).toContain('"outcome":"changed"');
    expect(output.text()).not.toContain(MARKER_PASSWORD);
    expect(JSON.stringify(result)).not.toContain(MARKER_PASSWORD);
  });

  it('lets a failure through with its name and no secret material', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).rejects(notFound());
    const output = captureOutput();

    // Act
    let error: unknown;
    try {
      error = await caught(handler(stepInput()));
    } finally {
      output.restore();
    }

    // Assess
    expect((error as Error).name).toBe('ResourceMissingError');
    expect(errorText(error)).not.toContain(MARKER_PASSWORD);
    expect(output.text()).not.toContain(MARKER_PASSWORD);
  });
});
