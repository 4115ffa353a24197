import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../cli/lifeboat.js';
import { formatRejection } from '../../functions/lib/approval.js';
import {
  type ReadinessEvaluation,
  summarize,
  unitReadiness,
} from '../../functions/lib/readiness/evaluate.js';
import type { RunReport } from '../../functions/lib/report/index.js';
import { ACCOUNT, failoverScenario, iso, PLAN_NAME, REGION, START } from './history-fixture.js';
import { captureIo } from './support.js';

const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);
const dynamodb = mockClient(DynamoDBClient);
afterEach(() => {
  sfn.reset();
  s3.reset();
  dynamodb.reset();
});

const PLAN = ['--plan', 'examples/plan-three-units.json'];
const MACHINE = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:lifeboat-${PLAN_NAME}`;
const arnOf = (name: string) => `arn:aws:states:${REGION}:${ACCOUNT}:execution:lifeboat-${PLAN_NAME}:${name}`;
const SRE = `arn:aws:sts::${ACCOUNT}:assumed-role/oncall/alice`;

/** The latest evaluation as the readiness function writes it, `secondsAgo` before the CLI's clock. */
function evaluation(secondsAgo: number, lagOfCatalog: number): ReadinessEvaluation {
  const at = new Date(START - secondsAgo * 1000);
  const units = [
    unitReadiness('orders', [], { replicaLagSeconds: 2, secretReplicationStatus: 'InSync' }),
    unitReadiness(
      'catalog',
      lagOfCatalog > 300
        ? [
            {
              unit: 'catalog',
              check: 'database.replica-lag',
              ok: false,
              severity: 'warning',
              message: `replica lag of catalog-db-dr is ${lagOfCatalog} s, above 300 s`,
            },
          ]
        : [],
      { replicaLagSeconds: lagOfCatalog, secretReplicationStatus: 'InSync' },
    ),
    unitReadiness('sessions', [], { replicaLagSeconds: 1, secretReplicationStatus: null }),
  ];
  return summarize(
    { name: PLAN_NAME },
    units,
    [{ name: 'preflight', answered: true }],
    at,
    new Date(at.getTime() + 2400),
  );
}

function serveEvaluation(e: ReadinessEvaluation | undefined): void {
  const key = `reports/${PLAN_NAME}/readiness/latest.json`;
  if (!e) {
    s3.on(GetObjectCommand).rejects(
      Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' }),
    );
    return;
  }
  s3.on(GetObjectCommand, { Bucket: 'reports-bucket', Key: key }).callsFake(
    () =>
      ({
        Body: { transformToString: async () => JSON.stringify(e) },
      }) as never,
  );
}

/** Three executions, newest first: a dry run, a drill (succeeded, 4 min), a rejected alarm-started failover. */
function serveExecutions(): void {
  const base = failoverScenario().report;
  const drill: RunReport = {
    ...base,
    runId: 'drill-1',
    mode: 'drill',
    trigger: 'schedule',
    recoveryTimeSeconds: 240,
    targetRtoSeconds: 900,
    rtoMet: true,
  };
  const runs = [
    {
      name: 'dry-1',
      input: { mode: 'dry-run' },
      status: 'SUCCEEDED',
      output: { ...base, runId: 'dry-1', mode: 'dry-run' },
    },
    { name: 'drill-1', input: { mode: 'drill', trigger: 'schedule' }, status: 'SUCCEEDED', output: drill },
    {
      name: 'alarm-1',
      input: { mode: 'failover', trigger: 'alarm' },
      status: 'FAILED',
      error: 'ApprovalRejectedError',
      cause: formatRejection({ by: SRE, at: iso(60), reason: 'the primary is back' }),
    },
  ];
  sfn.on(ListExecutionsCommand, { stateMachineArn: MACHINE }).resolves({
    executions: runs.map((r, i) => ({
      executionArn: arnOf(r.name),
      stateMachineArn: MACHINE,
      name: r.name,
      status: r.status as 'SUCCEEDED',
      startDate: new Date(START - (i + 1) * 3_600_000),
      stopDate: new Date(START - (i + 1) * 3_600_000 + 300_000),
    })),
  });
  for (const r of runs) {
    sfn.on(DescribeExecutionCommand, { executionArn: arnOf(r.name) }).resolves({
      executionArn: arnOf(r.name),
      stateMachineArn: MACHINE,
      status: r.status as 'SUCCEEDED',
      startDate: new Date(START),
      input: JSON.stringify(r.input),
      ...(r.output ? { output: JSON.stringify(r.output) } : {}),
      ...(r.error ? { error: r.error, cause: r.cause } : {}),
    });
  }
}

describe('lifeboat status', () => {
  it('shows readiness per unit and check, the last drill with its recovery time, the last failover and the lock holder', async () => {
    // Prepare
    serveEvaluation(evaluation(120, 900));
    serveExecutions();
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    dynamodb.on(GetItemCommand).resolves({
      Item: {
        planName: { S: PLAN_NAME },
        holder: { S: 'alarm-2' },
        executionArn: { S: arnOf('alarm-2') },
        mode: { S: 'failover' },
        acquiredAt: { S: iso(-30) },
        expiresAt: { N: '1999999999' },
      },
    });
    const cli = captureIo();

    // Act
    const code = await run(
      ['status', ...PLAN, '--bucket', 'reports-bucket', '--lock-table', 'lock-table'],
      cli.io,
    );

    // Assess
    expect(cli.stderr()).toBe('');
    const out = cli.stdout();
    expect(out).toContain('readiness: NOT READY (evaluated 2030-05-01T09:58:00.000Z in 2.4s)');
    expect(out).toMatch(/orders\s+ok\s+ok\s+ok\s+ok\s+2s\s+InSync/);
    expect(out).toMatch(/catalog\s+ok\s+ok\s+NOT\s+ok\s+900s\s+InSync/);
    expect(out).toContain('    database.replica-lag: replica lag of catalog-db-dr is 900 s, above 300 s');
    expect(out).toMatch(/sessions\s+ok\s+ok\s+ok\s+ok\s+1s\s+-/);
    expect(out).toContain('functions: all 1 answered the warm ping');
    expect(out).toContain(
      'last drill:    drill-1 SUCCEEDED, ended 2030-05-01T08:05:00.000Z, recovery time 4m 00s against 15m 00s: met',
    );
    expect(out).toContain(
      `last failover: alarm-1 FAILED, ended 2030-05-01T07:05:00.000Z, no recovery time (the failover did not verify every unit)`,
    );
    expect(out).toContain(
      `lock:          held by alarm-2 (failover) since ${iso(-30)}, execution ${arnOf('alarm-2')}`,
    );
    // Not ready: exit 1, for scripts.
    expect(code).toBe(1);
    expect(dynamodb.commandCalls(GetItemCommand)[0]?.args[0].input).toEqual({
      TableName: 'lock-table',
      Key: { planName: { S: PLAN_NAME } },
      ConsistentRead: true,
    });
    // The dry run was not taken for a failover.
    expect(out).not.toContain('dry-1');
  });

  it('ready, no lock, as JSON: exit 0', async () => {
    // Prepare
    serveEvaluation(evaluation(120, 3));
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    dynamodb.on(GetItemCommand).resolves({});
    const cli = captureIo();
    // Act
    const code = await run(
      ['status', ...PLAN, '--bucket', 'reports-bucket', '--lock-table', 't', '--json'],
      cli.io,
    );
    // Assess
    expect(code).toBe(0);
    const status = JSON.parse(cli.stdout());
    expect(status.readiness.state).toBe('evaluated');
    expect(status.readiness.stale).toBe(false);
    expect(status.readiness.evaluation.ready).toBe(true);
    expect(status.lastDrill).toBeNull();
    expect(status.lastFailover).toBeNull();
    expect(status.lock).toEqual({ state: 'free' });
  });

  it('an evaluation older than three schedule periods is stale: exit 1 although it said ready', async () => {
    // Prepare
    serveEvaluation(evaluation(16 * 60, 3));
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    const cli = captureIo();
    // Act
    const code = await run(['status', ...PLAN, '--bucket', 'reports-bucket'], cli.io);
    // Assess
    expect(code).toBe(1);
    expect(cli.stdout()).toContain('STALE: no evaluation since, is the schedule running?');
    expect(cli.stdout()).toContain('lock:          give --lock-table (stack output LockTableName)');
  });

  it('says what it needs or lacks: no --bucket, no evaluation yet', async () => {
    // Prepare
    sfn.on(ListExecutionsCommand).resolves({ executions: [] });
    const first = captureIo();
    const code1 = await run(['status', ...PLAN], first.io);
    serveEvaluation(undefined);
    const second = captureIo();
    const code2 = await run(['status', ...PLAN, '--bucket', 'reports-bucket'], second.io);
    // Assess
    expect([code1, code2]).toEqual([0, 0]);
    expect(first.stdout()).toContain('readiness: give --bucket (stack output ReportBucketName)');
    expect(second.stdout()).toContain(
      `readiness: no evaluation at s3://reports-bucket/reports/${PLAN_NAME}/readiness/latest.json yet (the schedule runs rate(5 minutes))`,
    );
  });
});
