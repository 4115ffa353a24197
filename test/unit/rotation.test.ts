import { GetFunctionCommand, GetPolicyCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { handler } from '../../functions/attach-rotation.js';
import { resetClients } from '../../functions/lib/clients.js';
import {
  AwsCallFailedError,
  ConfigurationError,
  ResourceMissingError,
  RotationBlockedError,
  TransientAwsError,
} from '../../functions/lib/errors.js';
import { checkRotationReadiness } from '../../functions/lib/secret/preflight.js';
import {
  type AttachRotationDeps,
  attachRotation,
  INTERRUPTED_ROTATION_PLAN,
  rewriteRequestToken,
  settleRotation,
} from '../../functions/lib/secret/rotation.js';
import { rotationRulesFor, rotationRulesMatch } from '../../functions/lib/secret/state.js';
import type { PreflightCheck } from '../../functions/lib/types.js';
import type { DbConnector } from '../../functions/lib/verify/db.js';
import {
  ACCOUNT,
  accessDenied,
  awsError,
  captureOutput,
  errorText,
  MARKER_PASSWORD,
  notFound,
  PRIMARY,
  RECOVERY,
  ROTATION_LAMBDA_ARN,
  replicaDescription,
  SECRET_ARN,
  secretValue,
  standaloneDescription,
  stepInput,
  throttling,
} from '../fixtures/secret.js';

const sm = mockClient(SecretsManagerClient);
const lambdaMock = mockClient(LambdaClient);
const secretsManager = sm as unknown as SecretsManagerClient;
const lambda = lambdaMock as unknown as LambdaClient;

afterEach(() => {
  sm.reset();
  lambdaMock.reset();
});

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

const MASTER_ARN_PRIMARY = `arn:aws:secretsmanager:${PRIMARY}:${ACCOUNT}:secret:orders/master-XyZ123`;
const MASTER_ARN_RECOVERY = `arn:aws:secretsmanager:${RECOVERY}:${ACCOUNT}:secret:orders/master-XyZ123`;

/** Rotation configured exactly as the fixture plan asks (recovery Lambda, every 30 days). */
const attached = (overrides = {}) =>
  standaloneDescription({
    RotationEnabled: true,
    RotationLambdaARN: ROTATION_LAMBDA_ARN,
    RotationRules: { AutomaticallyAfterDays: 30 },
    ...overrides,
  });

const STALE_PENDING = { 'v-current-0001': ['AWSCURRENT'], 'v-pending-0002': ['AWSPENDING'] };

function mutatingCalls() {
  return [
    ...sm.commandCalls(RotateSecretCommand),
    ...sm.commandCalls(PutSecretValueCommand),
    ...sm.commandCalls(UpdateSecretVersionStageCommand),
  ];
}

/** Names of the commands sent, in order. */
function callOrder(): string[] {
  return sm.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name);
}

describe('rotationRulesFor / rotationRulesMatch', () => {
  it('sends days as AutomaticallyAfterDays and an expression as ScheduleExpression, never both', () => {
    // Act
    const days = rotationRulesFor(30);
    const cron = rotationRulesFor('cron(0 4 ? * SUN *)');

    // Assess
    expect(days).toEqual({ AutomaticallyAfterDays: 30 });
    expect(cron).toEqual({ ScheduleExpression: 'cron(0 4 ? * SUN *)' });
  });

  it.each([
    [{ AutomaticallyAfterDays: 30 }, 30, true],
    [{ AutomaticallyAfterDays: 7 }, 30, false],
    [{ AutomaticallyAfterDays: 30, ScheduleExpression: 'rate(30 days)' }, 30, true],
    [{ AutomaticallyAfterDays: 1, ScheduleExpression: 'rate(1 day)' }, 1, true],
    [{ ScheduleExpression: 'rate(12 hours)' }, 30, false],
    [{ ScheduleExpression: 'cron(0  4 ? * SUN *)' }, 'cron(0 4 ? * SUN *)', true],
    [{ ScheduleExpression: 'cron(0 5 ? * SUN *)' }, 'cron(0 4 ? * SUN *)', false],
    [{ AutomaticallyAfterDays: 30 }, 'rate(30 days)', false],
    [undefined, 30, false],
  ] as const)('matches %o against schedule %o: %s', (current, schedule, expected) => {
    // Act
    const match = rotationRulesMatch(current, schedule);

    // Assess
    expect(match).toBe(expected);
  });
});

describe('rewriteRequestToken', () => {
  it('is stable for a run, unit and source version, differs otherwise, and is 32-64 characters', () => {
    // Act
    const a = rewriteRequestToken('run-1', 'orders', 'v1');
    const b = rewriteRequestToken('run-1', 'orders', 'v1');
    const others = [
      rewriteRequestToken('run-2', 'orders', 'v1'),
      rewriteRequestToken('run-1', 'billing', 'v1'),
      rewriteRequestToken('run-1', 'orders', 'v2'),
    ];

    // Assess
    expect(a).toBe(b);
    for (const other of others) expect(other).not.toBe(a);
    expect(a.length).toBeGreaterThanOrEqual(32);
    expect(a.length).toBeLessThanOrEqual(64);
  });
});

describe('attachRotation', () => {
  it('attaches the recovery Region Lambda without rotating now', async () => {
    // Prepare: promoted, still carrying the primary Region's rotation settings
    sm.on(DescribeSecretCommand).resolves(standaloneDescription());
    sm.on(RotateSecretCommand).resolves({ ARN: SECRET_ARN });

    // Act
    const result = await attachRotation({ secretsManager }, stepInput());

    // Assess
    expect(result.step).toBe('attachRotation');
    expect(result.outcome).toBe('changed');
    const rotations = sm.commandCalls(RotateSecretCommand);
    expect(rotations).toHaveLength(1);
    expect(rotations[0]?.args[0].input).toEqual({
      SecretId: SECRET_ARN,
      RotationLambdaARN: ROTATION_LAMBDA_ARN,
      RotationRules: { AutomaticallyAfterDays: 30 },
      RotateImmediately: false,
    });
    expect(result.detail).toMatchObject({
      secretArn: SECRET_ARN,
      rotationLambdaArn: ROTATION_LAMBDA_ARN,
      schedule: '30',
      rotateImmediately: false,
      call: 'RotateSecret',
    });
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    expect(sm.commandCalls(UpdateSecretVersionStageCommand)).toHaveLength(0);
  });

  it('sends a rate() or cron() schedule as ScheduleExpression', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(standaloneDescription());
    sm.on(RotateSecretCommand).resolves({});

    // Act
    await attachRotation({ secretsManager }, stepInput({ rotation: { schedule: 'rate(12 hours)' } }));

    // Assess
    expect(sm.commandCalls(RotateSecretCommand)[0]?.args[0].input.RotationRules).toEqual({
      ScheduleExpression: 'rate(12 hours)',
    });
  });

  it.each([
    ['same days', attached()],
    [
      'the days schedule reported as rate()',
      attached({ RotationRules: { ScheduleExpression: 'rate(30 days)' } }),
    ],
    [
      'AWSPENDING on the AWSCURRENT version',
      attached({ VersionIdsToStages: { v1: ['AWSCURRENT', 'AWSPENDING'] } }),
    ],
  ])(
    'is already done when rotation is attached as planned (%s), making no mutating call',
    async (_l, desc) => {
      // Prepare
      sm.on(DescribeSecretCommand).resolves(desc);

      // Act
      const result = await attachRotation({ secretsManager }, stepInput());

      // Assess
      expect(result.outcome).toBe('already-done');
      expect(result.warnings).toEqual([]);
      expect(mutatingCalls()).toHaveLength(0);
    },
  );

  it.each([
    ['rotation is off', attached({ RotationEnabled: false })],
    ['another Lambda', attached({ RotationLambdaARN: `${ROTATION_LAMBDA_ARN}-old` })],
    ['another schedule', attached({ RotationRules: { AutomaticallyAfterDays: 7 } })],
  ])('calls RotateSecret when %s', async (_label, desc) => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(desc);
    sm.on(RotateSecretCommand).resolves({});

    // Act
    const result = await attachRotation({ secretsManager }, stepInput());

    // Assess
    expect(result.outcome).toBe('changed');
    expect(sm.commandCalls(RotateSecretCommand)).toHaveLength(1);
  });

  it('fails clearly when the secret is still a replica, making no mutating call', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(replicaDescription());

    // Act
    const error = await caught(attachRotation({ secretsManager }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).name).toBe('ConfigurationError');
    expect((error as Error).message).toContain('promote it first');
    expect((error as Error).message).toContain('Operation not permitted on a replica secret');
    expect(mutatingCalls()).toHaveLength(0);
  });

  it('in dry-run plans the calls for a secret that is still a replica, and makes none', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(replicaDescription({ VersionIdsToStages: STALE_PENDING }));

    // Act
    const result = await attachRotation({ secretsManager }, stepInput({ mode: 'dry-run' }));

    // Assess
    expect(result.outcome).toBe('planned');
    expect(result.detail.call).toBe('UpdateSecretVersionStage, RotateSecret');
    expect(result.warnings).toEqual([expect.stringContaining('still a replica')]);
    expect(mutatingCalls()).toHaveLength(0);
  });

  it('in dry-run is already done when nothing would change', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(attached());

    // Act
    const result = await attachRotation({ secretsManager }, stepInput({ mode: 'dry-run' }));

    // Assess
    expect(result.outcome).toBe('already-done');
  });

  it('leaves AWSPENDING alone when rotation is already attached (a rotation may be running)', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(attached({ VersionIdsToStages: STALE_PENDING }));

    // Act
    const result = await attachRotation({ secretsManager }, stepInput());

    // Assess
    expect(result.outcome).toBe('already-done');
    expect(result.warnings).toEqual([expect.stringContaining('left alone')]);
    expect(mutatingCalls()).toHaveLength(0);
  });

  it('names the secret and Region when the secret does not exist', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).rejects(notFound());

    // Act
    const error = await caught(attachRotation({ secretsManager }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(ResourceMissingError);
    expect((error as Error).message).toContain(`in ${RECOVERY}`);
  });

  it('turns throttling into TransientAwsError and access denied into AwsCallFailedError', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(standaloneDescription());
    sm.on(RotateSecretCommand).rejectsOnce(throttling()).rejects(accessDenied());

    // Act
    const first = await caught(attachRotation({ secretsManager }, stepInput()));
    const second = await caught(attachRotation({ secretsManager }, stepInput()));

    // Assess
    expect(first).toBeInstanceOf(TransientAwsError);
    expect(second).toBeInstanceOf(AwsCallFailedError);
    expect((second as Error).message).toContain('RotateSecret');
  });

  describe('region-bound fields', () => {
    const rewriteInput = (mode: 'failover' | 'dry-run' = 'failover') =>
      stepInput({ mode, rotation: { rewriteRegionFields: true } });

    function prepare(value: string, description = standaloneDescription()) {
      sm.on(DescribeSecretCommand).resolves(description);
      sm.on(GetSecretValueCommand).resolves({
        ARN: SECRET_ARN,
        VersionId: 'v-current-0001',
        SecretString: value,
      });
      sm.on(PutSecretValueCommand).resolves({ ARN: SECRET_ARN });
      sm.on(RotateSecretCommand).resolves({});
    }

    it('rewrites masterarn to the recovery Region with an idempotent token, before RotateSecret', async () => {
      // Prepare
      prepare(secretValue({ masterarn: MASTER_ARN_PRIMARY }));

      // Act
      const result = await attachRotation({ secretsManager }, rewriteInput());

      // Assess
      expect(result.outcome).toBe('changed');
      expect(result.detail.rewrittenFields).toBe('masterarn');
      expect(callOrder()).toEqual([
        'DescribeSecretCommand',
        'GetSecretValueCommand',
        'PutSecretValueCommand',
        'RotateSecretCommand',
      ]);
      const put = sm.commandCalls(PutSecretValueCommand)[0]?.args[0].input;
      const token = rewriteRequestToken('run-0001', 'orders', 'v-current-0001');
      expect(put?.SecretId).toBe(SECRET_ARN);
      expect(put?.ClientRequestToken).toBe(token);
      expect(put?.VersionStages).toBeUndefined();
      expect(JSON.parse(put?.SecretString ?? '{}')).toEqual(
        JSON.parse(secretValue({ masterarn: MASTER_ARN_RECOVERY })),
      );
      expect(result.detail.rewriteVersionId).toBe(token);
      expect(JSON.stringify(result)).not.toContain(MARKER_PASSWORD);
    });

    it('sends the same token when the step is run again for the same source version', async () => {
      // Prepare
      prepare(secretValue({ masterarn: MASTER_ARN_PRIMARY }));

      // Act
      await attachRotation({ secretsManager }, rewriteInput());
      await attachRotation({ secretsManager }, rewriteInput());

      // Assess
      const tokens = sm.commandCalls(PutSecretValueCommand).map((c) => c.args[0].input.ClientRequestToken);
      expect(tokens).toHaveLength(2);
      expect(tokens[0]).toBe(tokens[1]);
    });

    it('rewrites any ARN in the primary Region and leaves other values alone', async () => {
      // Prepare
      const kms = `arn:aws:kms:${PRIMARY}:${ACCOUNT}:key/1234abcd`;
      const elsewhere = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd`;
      prepare(
        secretValue({
          kmsKey: kms,
          other: elsewhere,
          note: `${PRIMARY} is primary`,
          iam: 'arn:aws:iam::1:role/x',
        }),
      );

      // Act
      const result = await attachRotation({ secretsManager }, rewriteInput());

      // Assess
      expect(result.detail.rewrittenFields).toBe('kmsKey');
      const sent = JSON.parse(sm.commandCalls(PutSecretValueCommand)[0]?.args[0].input.SecretString ?? '{}');
      expect(sent.kmsKey).toBe(`arn:aws:kms:${RECOVERY}:${ACCOUNT}:key/1234abcd`);
      expect(sent.other).toBe(elsewhere);
      expect(sent.note).toBe(`${PRIMARY} is primary`);
      expect(sent.password).toBe(MARKER_PASSWORD);
      expect(Object.keys(sent)).toEqual(
        Object.keys(JSON.parse(secretValue({ kmsKey: 1, other: 1, note: 1, iam: 1 }))),
      );
    });

    it('is already done when the value is already rewritten and rotation attached', async () => {
      // Prepare
      prepare(secretValue({ masterarn: MASTER_ARN_RECOVERY }), attached());

      // Act
      const result = await attachRotation({ secretsManager }, rewriteInput());

      // Assess
      expect(result.outcome).toBe('already-done');
      expect(result.detail.rewrittenFields).toBe('');
      expect(mutatingCalls()).toHaveLength(0);
    });

    it('rewrites the value even when rotation is already attached', async () => {
      // Prepare
      prepare(secretValue({ masterarn: MASTER_ARN_PRIMARY }), attached());

      // Act
      const result = await attachRotation({ secretsManager }, rewriteInput());

      // Assess
      expect(result.outcome).toBe('changed');
      expect(result.detail.call).toBe('PutSecretValue');
      expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(1);
      expect(sm.commandCalls(RotateSecretCommand)).toHaveLength(0);
    });

    it('warns about a masterarn that names a third Region and leaves it', async () => {
      // Prepare
      prepare(secretValue({ masterarn: MASTER_ARN_PRIMARY.replace(PRIMARY, 'eu-west-1') }));

      // Act
      const result = await attachRotation({ secretsManager }, rewriteInput());

      // Assess
      expect(result.warnings).toEqual([expect.stringContaining('eu-west-1')]);
      expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    });

    it('in dry-run names the fields it would rewrite and writes nothing', async () => {
      // Prepare
      prepare(secretValue({ masterarn: MASTER_ARN_PRIMARY }));

      // Act
      const result = await attachRotation({ secretsManager }, rewriteInput('dry-run'));

      // Assess
      expect(result.outcome).toBe('planned');
      expect(result.detail.rewrittenFields).toBe('masterarn');
      expect(result.detail.call).toBe('PutSecretValue, RotateSecret');
      expect(mutatingCalls()).toHaveLength(0);
      expect(JSON.stringify(result)).not.toContain(MARKER_PASSWORD);
    });

    it('refuses a value that is not JSON without quoting it, and writes nothing', async () => {
      // Prepare
      prepare(`password=${MARKER_PASSWORD}`);

      // Act
      const error = await caught(attachRotation({ secretsManager }, rewriteInput()));

      // Assess
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toContain('not valid JSON');
      expect((error as Error).cause).toBeUndefined();
      expect(errorText(error)).not.toContain(MARKER_PASSWORD);
      expect(mutatingCalls()).toHaveLength(0);
    });

    it('refuses a binary secret', async () => {
      // Prepare
      sm.on(DescribeSecretCommand).resolves(standaloneDescription());
      sm.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2, 3]) });

      // Act
      const error = await caught(attachRotation({ secretsManager }, rewriteInput()));

      // Assess
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toContain('binary');
    });

    it('keeps the password out of errors when PutSecretValue fails', async () => {
      // Prepare
      prepare(secretValue({ masterarn: MASTER_ARN_PRIMARY }));
      sm.on(PutSecretValueCommand).rejects(accessDenied());

      // Act
      const error = await caught(attachRotation({ secretsManager }, rewriteInput()));

      // Assess
      expect(error).toBeInstanceOf(AwsCallFailedError);
      expect((error as Error).message).toContain('PutSecretValue');
      expect(errorText(error)).not.toContain(MARKER_PASSWORD);
      expect(sm.commandCalls(RotateSecretCommand)).toHaveLength(0);
    });
  });
});

describe('checkRotationReadiness', () => {
  const byCheck = (checks: PreflightCheck[], name: string) => checks.find((c) => c.check === name);
  const policy = (...statements: object[]) =>
    JSON.stringify({ Version: '2012-10-17', Statement: statements });
  const allowSecretsManager = (extra: object = {}) => ({
    Sid: 'SecretsManagerAccess',
    Effect: 'Allow',
    Principal: { Service: 'secretsmanager.amazonaws.com' },
    Action: 'lambda:InvokeFunction',
    Resource: ROTATION_LAMBDA_ARN,
    ...extra,
  });

  function prepare(policyText: string | Error) {
    lambdaMock
      .on(GetFunctionCommand)
      .resolves({ Configuration: { FunctionArn: ROTATION_LAMBDA_ARN, State: 'Active' } });
    if (policyText instanceof Error) lambdaMock.on(GetPolicyCommand).rejects(policyText);
    else lambdaMock.on(GetPolicyCommand).resolves({ Policy: policyText });
  }

  it('passes when the Lambda exists and Secrets Manager may invoke it', async () => {
    // Prepare
    prepare(policy(allowSecretsManager({ Condition: { StringEquals: { 'AWS:SourceAccount': ACCOUNT } } })));

    // Act
    const checks = await checkRotationReadiness({ lambda }, stepInput());

    // Assess
    expect(checks.map((c) => [c.check, c.ok])).toEqual([
      ['rotation.lambda-exists', true],
      ['rotation.lambda-permission', true],
    ]);
    expect(lambdaMock.commandCalls(GetFunctionCommand)[0]?.args[0].input).toEqual({
      FunctionName: ROTATION_LAMBDA_ARN,
    });
  });

  it('is an error when the Lambda does not exist', async () => {
    // Prepare
    lambdaMock.on(GetFunctionCommand).rejects(notFound());

    // Act
    const checks = await checkRotationReadiness({ lambda }, stepInput());

    // Assess
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ check: 'rotation.lambda-exists', ok: false, severity: 'error' });
    expect(checks[0]?.message).toContain(`does not exist in ${RECOVERY}`);
    expect(lambdaMock.commandCalls(GetPolicyCommand)).toHaveLength(0);
  });

  it('is an error when the Lambda is in the Failed state', async () => {
    // Prepare
    prepare(policy(allowSecretsManager()));
    lambdaMock.on(GetFunctionCommand).resolves({ Configuration: { State: 'Failed' } });

    // Act
    const checks = await checkRotationReadiness({ lambda }, stepInput());

    // Assess
    expect(byCheck(checks, 'rotation.lambda-exists')).toMatchObject({ ok: false, severity: 'error' });
  });

  it('is an error naming the fix when the Lambda has no resource policy', async () => {
    // Prepare: Lambda answers ResourceNotFoundException for a function without a policy
    prepare(notFound());

    // Act
    const checks = await checkRotationReadiness({ lambda }, stepInput());

    // Assess
    const check = byCheck(checks, 'rotation.lambda-permission');
    expect(check).toMatchObject({ ok: false, severity: 'error' });
    expect(check?.message).toContain('aws lambda add-permission');
    expect(check?.message).toContain('--principal secretsmanager.amazonaws.com');
    expect(check?.message).toContain(`--region ${RECOVERY}`);
  });

  it.each([
    [
      'another principal',
      allowSecretsManager({ Principal: { Service: 'events.amazonaws.com' } }),
      'principal',
    ],
    ['another action', allowSecretsManager({ Action: 'lambda:GetFunction' }), 'InvokeFunction'],
    ['a Deny', allowSecretsManager({ Effect: 'Deny' }), 'Allow'],
    [
      'a SourceArn in the primary Region',
      allowSecretsManager({
        Condition: {
          ArnLike: { 'AWS:SourceArn': `arn:aws:secretsmanager:${PRIMARY}:${ACCOUNT}:secret:orders/db-*` },
        },
      }),
      'SourceArn',
    ],
    [
      'another SourceAccount',
      allowSecretsManager({ Condition: { StringEquals: { 'AWS:SourceAccount': '999999999999' } } }),
      'SourceAccount',
    ],
  ])('is an error when the only statement has %s', async (_label, statement, why) => {
    // Prepare
    prepare(policy(statement));

    // Act
    const checks = await checkRotationReadiness({ lambda }, stepInput());

    // Assess
    const check = byCheck(checks, 'rotation.lambda-permission');
    expect(check).toMatchObject({ ok: false, severity: 'error' });
    expect(check?.message).toContain(why);
    expect(check?.message).toContain('aws lambda add-permission');
  });

  it.each([
    ['the recovery Region', `arn:aws:secretsmanager:${RECOVERY}:${ACCOUNT}:secret:orders/db-*`],
    ['any Region', `arn:aws:secretsmanager:*:${ACCOUNT}:secret:*`],
  ])('accepts a SourceArn for %s', async (_label, sourceArn) => {
    // Prepare
    prepare(policy(allowSecretsManager({ Condition: { ArnLike: { 'aws:SourceArn': sourceArn } } })));

    // Act
    const checks = await checkRotationReadiness({ lambda }, stepInput());

    // Assess
    expect(byCheck(checks, 'rotation.lambda-permission')?.ok).toBe(true);
  });

  it('accepts one good statement among others', async () => {
    // Prepare
    prepare(policy(allowSecretsManager({ Effect: 'Deny' }), allowSecretsManager({ Action: ['lambda:*'] })));

    // Act
    const checks = await checkRotationReadiness({ lambda }, stepInput());

    // Assess
    expect(byCheck(checks, 'rotation.lambda-permission')?.ok).toBe(true);
  });

  it('is an error when the policy cannot be read for a permanent reason', async () => {
    // Prepare
    prepare(accessDenied());

    // Act
    const checks = await checkRotationReadiness({ lambda }, stepInput());

    // Assess
    const check = byCheck(checks, 'rotation.lambda-permission');
    expect(check).toMatchObject({ ok: false, severity: 'error' });
    expect(check?.message).toContain('AccessDeniedException');
  });

  it('throws TransientAwsError on throttling so the state machine retries the preflight', async () => {
    // Prepare
    lambdaMock.on(GetFunctionCommand).rejects(awsError('TooManyRequestsException', { status: 429 }));

    // Act
    const error = await caught(checkRotationReadiness({ lambda }, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(TransientAwsError);
  });
});

describe('settling an interrupted rotation', () => {
  const rdsMock = mockClient(RDSClient);
  const rds = rdsMock as unknown as RDSClient;
  const ENDPOINT = 'orders-db-replica.c0ffee.us-west-2.rds.amazonaws.com';
  const CURRENT_PASSWORD = `current-${MARKER_PASSWORD}`;
  const PENDING_PASSWORD = `pending-${MARKER_PASSWORD}`;

  afterEach(() => {
    rdsMock.reset();
  });

  /**
   * The promoted database takes the passwords in `accepted` (others: authentication refused, SQLSTATE 28P01), or
   * does not answer at all (`down`). Records every login, without the password.
   */
  function database(accepted: string[], options: { down?: boolean } = {}) {
    const logins: { user: string; address: string; port: number; tls: boolean }[] = [];
    const connector: DbConnector = async (o) => {
      logins.push({ user: o.user, address: o.address, port: o.port, tls: o.tls !== null });
      if (options.down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      if (!accepted.includes(o.password)) {
        throw Object.assign(new Error(`password authentication failed for user "${o.user}"`), {
          code: '28P01',
        });
      }
      return {
        query: async () => [{ '?column?': 1 }],
        tlsSubject: null,
        close: async () => undefined,
        abort: () => undefined,
      };
    };
    const deps: AttachRotationDeps = {
      secretsManager,
      rds,
      connectors: { postgres: connector, mysql: connector },
      resolver: () => ({
        resolveCname: async () => {
          throw Object.assign(new Error('ENODATA'), { code: 'ENODATA' });
        },
        resolve4: async (name) => (name === ENDPOINT ? ['10.0.3.17'] : []),
        resolve6: async () => [],
      }),
      trustStore: () => undefined,
    };
    return { deps, logins };
  }

  /** A promoted secret with AWSPENDING on another version than AWSCURRENT, and both values readable. */
  function interrupted(options: { pendingValue?: string | undefined; description?: object } = {}) {
    rdsMock.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        { DBInstanceIdentifier: 'orders-db-replica', Endpoint: { Address: ENDPOINT, Port: 5432 } },
      ],
    });
    sm.on(DescribeSecretCommand).resolves(
      standaloneDescription({ VersionIdsToStages: STALE_PENDING, ...options.description }),
    );
    sm.on(GetSecretValueCommand, { SecretId: SECRET_ARN, VersionId: 'v-current-0001' }).resolves({
      VersionId: 'v-current-0001',
      SecretString: secretValue({ password: CURRENT_PASSWORD }),
    });
    sm.on(GetSecretValueCommand, { SecretId: SECRET_ARN, VersionId: 'v-pending-0002' }).resolves({
      VersionId: 'v-pending-0002',
      ...('pendingValue' in options
        ? options.pendingValue === undefined
          ? {}
          : { SecretString: options.pendingValue }
        : { SecretString: secretValue({ password: PENDING_PASSWORD, username: 'app_clone' }) }),
    });
    sm.on(UpdateSecretVersionStageCommand).resolves({});
    sm.on(RotateSecretCommand).resolves({});
  }

  function stageCalls() {
    return sm.commandCalls(UpdateSecretVersionStageCommand).map((c) => c.args[0].input);
  }

  it('clears AWSPENDING when the current credentials work, after trying the pending ones too', async () => {
    // Prepare
    interrupted();
    const { deps, logins } = database([CURRENT_PASSWORD]);

    // Act
    const result = await settleRotation(deps, stepInput());

    // Assess
    expect(result).toMatchObject({
      step: 'settleRotation',
      outcome: 'changed',
      detail: {
        stalePendingVersionId: 'v-pending-0002',
        currentCredentials: 'accepted',
        pendingCredentials: 'refused',
        interruptedRotation: 'cleared',
      },
    });
    expect(logins).toEqual([
      { user: 'app', address: '10.0.3.17', port: 5432, tls: true },
      { user: 'app_clone', address: '10.0.3.17', port: 5432, tls: true },
    ]);
    expect(stageCalls()).toEqual([
      { SecretId: SECRET_ARN, VersionStage: 'AWSPENDING', RemoveFromVersionId: 'v-pending-0002' },
    ]);
    expect(result.warnings).toEqual([
      expect.stringContaining('cleared AWSPENDING from version v-pending-0002'),
    ]);
    expect(JSON.stringify(result)).not.toContain(MARKER_PASSWORD);
  });

  it('finishes the rotation (AWSCURRENT to the pending version) when only the pending credentials work', async () => {
    // Prepare: the disaster struck between setSecret and finishSecret: the database has the pending password
    interrupted();
    const { deps } = database([PENDING_PASSWORD]);
    const output = captureOutput();

    // Act
    let result: Awaited<ReturnType<typeof settleRotation>>;
    try {
      result = await settleRotation(deps, stepInput());
    } finally {
      output.restore();
    }

    // Assess: AWSCURRENT moved, then AWSPENDING taken off that version, as a completed rotation leaves it
    expect(stageCalls()).toEqual([
      {
        SecretId: SECRET_ARN,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: 'v-pending-0002',
        RemoveFromVersionId: 'v-current-0001',
      },
      { SecretId: SECRET_ARN, VersionStage: 'AWSPENDING', RemoveFromVersionId: 'v-pending-0002' },
    ]);
    expect(result.detail).toMatchObject({
      currentCredentials: 'refused',
      pendingCredentials: 'accepted',
      interruptedRotation: 'finished',
    });
    expect(result.warnings).toEqual([expect.stringContaining('finished the interrupted rotation')]);
    expect(JSON.stringify(result)).not.toContain(MARKER_PASSWORD);
    expect(output.text()).not.toContain(MARKER_PASSWORD);
  });

  it('stops with RotationBlockedError naming what was tried when neither credentials work, changing nothing', async () => {
    // Prepare
    interrupted();
    const { deps } = database([]);

    // Act
    const error = await caught(settleRotation(deps, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(RotationBlockedError);
    const message = (error as Error).message;
    expect(message).toContain(`the promoted database ${ENDPOINT} takes neither`);
    expect(message).toContain('current credentials (version v-current-0001, user "app": refused)');
    expect(message).toContain('pending ones (version v-pending-0002, user "app_clone": refused)');
    expect(errorText(error)).not.toContain(MARKER_PASSWORD);
    expect(stageCalls()).toEqual([]);
  });

  it('counts an empty pending version (a rotation that failed in createSecret) as unusable', async () => {
    // Prepare
    interrupted({ pendingValue: undefined });
    const { deps, logins } = database([]);

    // Act
    const error = await caught(settleRotation(deps, stepInput()));

    // Assess
    expect((error as Error).message).toContain('(version v-pending-0002, user "?": unusable)');
    expect(logins.map((l) => l.user)).toEqual(['app']);
    expect(stageCalls()).toEqual([]);
  });

  it('converges when the move was made by an earlier attempt whose answer was lost', async () => {
    // Prepare: the retried call is refused (AWSCURRENT is no longer on v-current-0001); the re-read shows it moved
    interrupted();
    sm.on(DescribeSecretCommand)
      .resolvesOnce(standaloneDescription({ VersionIdsToStages: STALE_PENDING }))
      .resolves(
        standaloneDescription({
          VersionIdsToStages: {
            'v-current-0001': ['AWSPREVIOUS'],
            'v-pending-0002': ['AWSCURRENT', 'AWSPENDING'],
          },
        }),
      );
    sm.on(UpdateSecretVersionStageCommand).rejects(awsError('InvalidParameterException'));
    const { deps } = database([PENDING_PASSWORD]);

    // Act
    const result = await settleRotation(deps, stepInput());
    const again = await settleRotation(deps, stepInput());

    // Assess: the label left on the now-current version blocks nothing; it is said, not failed on
    expect(result.detail.interruptedRotation).toBe('finished');
    expect(result.warnings).toContainEqual(
      expect.stringContaining('AWSPENDING stays on version v-pending-0002'),
    );
    expect(again.outcome).toBe('already-done');
    expect(sm.commandCalls(UpdateSecretVersionStageCommand)).toHaveLength(2);
  });

  it('says how to finish by hand when the move is refused for good', async () => {
    // Prepare
    interrupted();
    sm.on(UpdateSecretVersionStageCommand).rejects(accessDenied());
    const { deps } = database([PENDING_PASSWORD]);

    // Act
    const error = await caught(settleRotation(deps, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(RotationBlockedError);
    expect((error as Error).message).toContain(
      '--version-stage AWSCURRENT --move-to-version-id v-pending-0002 --remove-from-version-id v-current-0001',
    );
  });

  it('throws RotationBlockedError with the fix when AWSPENDING cannot be cleared', async () => {
    // Prepare
    interrupted();
    sm.on(UpdateSecretVersionStageCommand).rejects(accessDenied());
    const { deps } = database([CURRENT_PASSWORD]);

    // Act
    const error = await caught(settleRotation(deps, stepInput()));

    // Assess
    expect(error).toBeInstanceOf(RotationBlockedError);
    expect((error as Error).message).toContain('v-pending-0002');
    expect((error as Error).message).toContain('aws secretsmanager update-secret-version-stage');
    expect((error as Error).cause).toBeDefined();
  });

  it('goes on when clearing is refused because a retried first attempt already cleared it', async () => {
    // Prepare
    interrupted();
    sm.on(DescribeSecretCommand)
      .resolvesOnce(standaloneDescription({ VersionIdsToStages: STALE_PENDING }))
      .resolves(standaloneDescription());
    sm.on(UpdateSecretVersionStageCommand).rejects(awsError('InvalidParameterException'));
    const { deps } = database([CURRENT_PASSWORD]);

    // Act
    const result = await settleRotation(deps, stepInput());

    // Assess
    expect(result.outcome).toBe('changed');
    expect(result.detail.interruptedRotation).toBe('cleared');
  });

  it('lets the state machine retry when clearing is throttled, or the database does not answer', async () => {
    // Prepare
    interrupted();
    sm.on(UpdateSecretVersionStageCommand).rejects(throttling());

    // Act
    const throttled = await caught(settleRotation(database([CURRENT_PASSWORD]).deps, stepInput()));
    const down = await caught(settleRotation(database([], { down: true }).deps, stepInput()));

    // Assess
    expect(throttled).toBeInstanceOf(TransientAwsError);
    expect((down as Error).name).toBe('ResourceBusyError');
    expect((down as Error).message).toContain('ECONNREFUSED');
  });

  it('does nothing, and logs in nowhere, without an interrupted rotation or when rotation is already attached', async () => {
    // Prepare
    interrupted();
    const { deps, logins } = database([CURRENT_PASSWORD]);
    sm.on(DescribeSecretCommand)
      .resolvesOnce(standaloneDescription())
      .resolves(attached({ VersionIdsToStages: STALE_PENDING }));

    // Act
    const none = await settleRotation(deps, stepInput());
    const running = await settleRotation(deps, stepInput());

    // Assess
    expect(none.outcome).toBe('already-done');
    expect(running.outcome).toBe('already-done');
    expect(running.warnings).toEqual([expect.stringContaining('left alone')]);
    expect(logins).toEqual([]);
    expect(mutatingCalls()).toHaveLength(0);
  });

  it('plans the settlement in a dry run, in the words preflight uses, without logging in', async () => {
    // Prepare
    interrupted();
    const { deps, logins } = database([CURRENT_PASSWORD]);

    // Act
    const result = await settleRotation(deps, stepInput({ mode: 'dry-run' }));

    // Assess
    expect(result.outcome).toBe('planned');
    expect(result.detail).toMatchObject({
      call: 'UpdateSecretVersionStage',
      wouldDo: INTERRUPTED_ROTATION_PLAN,
    });
    expect(logins).toEqual([]);
    expect(mutatingCalls()).toHaveLength(0);
  });

  it('AttachRotation settles a rotation still interrupted, then rewrites from the finished version', async () => {
    // Prepare: the rewrite reads AWSCURRENT after the move (the pending version's value); the reads of the two
    // versions by id are answered by interrupted()'s more specific mocks, defined later.
    sm.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({
      VersionId: 'v-pending-0002',
      SecretString: secretValue({ masterarn: MASTER_ARN_PRIMARY }),
    });
    interrupted();
    sm.on(PutSecretValueCommand).resolves({});
    const { deps } = database([PENDING_PASSWORD]);

    // Act
    const result = await attachRotation(deps, stepInput({ rotation: { rewriteRegionFields: true } }));

    // Assess
    expect(result.outcome).toBe('changed');
    expect(result.detail.call).toBe('UpdateSecretVersionStage, PutSecretValue, RotateSecret');
    const order = callOrder().filter((c) => c !== 'DescribeSecretCommand');
    expect(order.indexOf('UpdateSecretVersionStageCommand')).toBeLessThan(
      order.lastIndexOf('GetSecretValueCommand'),
    );
    expect(sm.commandCalls(PutSecretValueCommand)[0]?.args[0].input.ClientRequestToken).toBe(
      rewriteRequestToken('run-0001', 'orders', 'v-pending-0002'),
    );
  });
});

describe('attach-rotation handler', () => {
  afterEach(() => {
    resetClients();
  });

  it('attaches rotation with a client for the recovery Region and logs no secret material', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(standaloneDescription());
    sm.on(GetSecretValueCommand).resolves({
      VersionId: 'v-current-0001',
      SecretString: secretValue({ masterarn: MASTER_ARN_PRIMARY }),
    });
    sm.on(UpdateSecretVersionStageCommand).resolves({});
    sm.on(PutSecretValueCommand).resolves({});
    sm.on(RotateSecretCommand).resolves({});
    const output = captureOutput();

    // Act
    let result: Awaited<ReturnType<typeof handler>>;
    try {
      result = await handler(stepInput({ rotation: { rewriteRegionFields: true } }));
    } finally {
      output.restore();
    }

    // Assess
    expect(result.outcome).toBe('changed');
    const client = sm.commandCalls(RotateSecretCommand)[0]?.thisValue as SecretsManagerClient;
    expect(await client.config.region()).toBe(RECOVERY);
    expect(output.text()).toContain('rotation attached');
    expect(output.text()).toContain('masterarn');
    expect(output.text()).not.toContain(MARKER_PASSWORD);
    expect(JSON.stringify(result)).not.toContain(MARKER_PASSWORD);
  });

  it('settles an interrupted rotation with phase "settle", and refuses any other phase before any call', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(standaloneDescription());

    // Act
    const settled = await handler({ ...stepInput(), phase: 'settle' });
    const refused = await caught(handler({ ...stepInput(), phase: 'rotate-now' }));

    // Assess
    expect(settled).toMatchObject({ step: 'settleRotation', outcome: 'already-done' });
    expect((refused as Error).name).toBe('InputInvalidError');
    expect((refused as Error).message).toContain('phase: expected "settle" or nothing, got "rotate-now"');
    expect(sm.commandCalls(DescribeSecretCommand)).toHaveLength(1);
  });

  it('lets a failure through with its name and no secret material', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(standaloneDescription());
    sm.on(GetSecretValueCommand).resolves({ SecretString: `{"password": "${MARKER_PASSWORD}"` });
    const output = captureOutput();

    // Act
    let error: unknown;
    try {
      error = await caught(handler(stepInput({ rotation: { rewriteRegionFields: true } })));
    } finally {
      output.restore();
    }

    // Assess
    expect((error as Error).name).toBe('ConfigurationError');
    expect(errorText(error)).not.toContain(MARKER_PASSWORD);
    expect(output.text()).not.toContain(MARKER_PASSWORD);
  });
});
