import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../cli/lifeboat.js';
import { renderReportText } from '../../functions/lib/report/index.js';
import { EXECUTION_ARN, failoverScenario, MARKER, START } from './history-fixture.js';
import { captureIo, serveExecution } from './support.js';

const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);
afterEach(() => {
  sfn.reset();
  s3.reset();
});

/** What GetObject returns: a body the SDK can read as a string. */
function body(text: string) {
  return { Body: { transformToString: async () => text } } as never;
}

describe('lifeboat report', () => {
  it('renders the report that is the output of a succeeded execution', async () => {
    // Prepare
    const scenario = failoverScenario();
    serveExecution(sfn, scenario, EXECUTION_ARN, { polls: 1 });
    const cli = captureIo();

    // Act
    const code = await run(['report', EXECUTION_ARN], cli.io);

    // Assess
    expect(code).toBe(0);
    expect(cli.stdout()).toContain(renderReportText(scenario.report));
    expect(cli.stdout()).toContain(`(from the execution output of ${EXECUTION_ARN})`);
    expect(cli.stdout()).toMatch(/\|\s*#+\s*\|/); // the timeline bars
    expect(cli.clients).toEqual([{ service: 'sfn', region: 'eu-central-1', endpoint: undefined }]);
  });

  it("reads a failed execution's report from its history (a failed execution has no output), exit 1", async () => {
    // Prepare
    const scenario = failoverScenario({ failCatalogDns: true });
    serveExecution(sfn, scenario, EXECUTION_ARN, { polls: 1 });
    const cli = captureIo();

    // Act
    const code = await run(['report', EXECUTION_ARN], cli.io);

    // Assess
    expect(code).toBe(1);
    expect(cli.stdout()).toContain(renderReportText(scenario.report));
    expect(cli.stdout()).toContain('(from the execution history');
    expect(cli.stdout()).toContain('FAILED (FailoverIncompleteError)');
    expect(cli.stdout()).not.toContain(MARKER);
  });

  it('prints the report as JSON with --json', async () => {
    // Prepare
    const scenario = failoverScenario();
    serveExecution(sfn, scenario, EXECUTION_ARN, { polls: 1 });
    const cli = captureIo();

    // Act
    await run(['report', EXECUTION_ARN, '--json'], cli.io);

    // Assess
    expect(JSON.parse(cli.stdout())).toEqual(JSON.parse(JSON.stringify(scenario.report)));
  });

  it('renders the latest report of the plan from S3 with --latest --bucket', async () => {
    // Prepare
    const { report } = failoverScenario();
    s3.on(GetObjectCommand, { Bucket: 'lifeboat-reports-x', Key: 'reports/orders-dr/latest.json' }).resolves(
      body(JSON.stringify(report)),
    );
    const cli = captureIo();

    // Act
    const code = await run(
      ['report', '--latest', '--bucket', 'lifeboat-reports-x', '--endpoint', 'http://localhost:4566'],
      cli.io,
    );

    // Assess
    expect(code).toBe(0);
    expect(cli.stdout()).toContain('(from s3://lifeboat-reports-x/reports/orders-dr/latest.json)');
    expect(cli.stdout()).toContain(renderReportText(report));
    expect(cli.clients).toEqual([{ service: 's3', region: 'us-west-2', endpoint: 'http://localhost:4566' }]);
  });

  it('finds the newest finished execution with --latest and no bucket', async () => {
    // Prepare
    const scenario = failoverScenario();
    serveExecution(sfn, scenario, EXECUTION_ARN, { polls: 1 });
    const machine = 'arn:aws:states:eu-central-1:123456789012:stateMachine:lifeboat-shop-dr';
    sfn.on(ListExecutionsCommand, { stateMachineArn: machine }).resolves({
      executions: [
        {
          executionArn: `${EXECUTION_ARN}-still-running`,
          stateMachineArn: machine,
          name: 'x',
          status: 'RUNNING',
          startDate: new Date(START + 60_000),
        },
        {
          executionArn: EXECUTION_ARN,
          stateMachineArn: machine,
          name: 'y',
          status: 'SUCCEEDED',
          startDate: new Date(START),
        },
      ],
    });
    const cli = captureIo();

    // Act
    const code = await run(['report', '--latest', '--plan', 'examples/plan-three-units.json'], cli.io);

    // Assess
    expect(code).toBe(0);
    expect(cli.stdout()).toContain(`(from the execution output of ${EXECUTION_ARN})`);
    expect(cli.stdout()).toContain(renderReportText(scenario.report));
  });

  it('says where it looked when there is no report (exit 3), and that a running execution has none yet (exit 1)', async () => {
    // Prepare
    s3.on(GetObjectCommand).rejects(
      Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' }),
    );
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: EXECUTION_ARN,
      stateMachineArn: 'arn:aws:states:eu-central-1:123456789012:stateMachine:lifeboat-shop-dr',
      status: 'RUNNING',
      startDate: new Date(START),
    });
    const missing = captureIo();
    const running = captureIo();

    // Act
    const missingCode = await run(['report', '--latest', '--bucket', 'b'], missing.io);
    const runningCode = await run(['report', EXECUTION_ARN], running.io);

    // Assess
    expect(missingCode).toBe(3);
    expect(missing.stderr()).toContain('no report at s3://b/reports/orders-dr/latest.json');
    expect(runningCode).toBe(1);
    expect(running.stderr()).toContain(`is still running; follow it with lifeboat watch ${EXECUTION_ARN}`);
  });

  it('wants an execution ARN or --latest, not both and not neither', async () => {
    // Prepare
    const both = captureIo();
    const neither = captureIo();

    // Act
    const bothCode = await run(['report', EXECUTION_ARN, '--latest'], both.io);
    const neitherCode = await run(['report'], neither.io);

    // Assess
    expect(bothCode).toBe(2);
    expect(both.stderr()).toContain('not both');
    expect(neitherCode).toBe(2);
    expect(neither.stderr()).toContain('the execution ARN is missing');
  });
});
