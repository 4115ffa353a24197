import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../cli/lifeboat.js';
import { renderReportText } from '../../functions/lib/report/index.js';
import { EXECUTION_ARN, failoverScenario, MAP_RUN_ARN, MARKER } from './history-fixture.js';
import { captureIo, serveExecution } from './support.js';

const sfn = mockClient(SFNClient);
afterEach(() => sfn.reset());

/** The progress lines (`+1.2s  unit  verb  text`), without the header and the report. */
function progressLines(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => /^\+\S+\s+\S+\s+(start|done|poll|retry|error|failed|wait|warn|info)\s/.test(l));
}

function lineOf(lines: string[], scope: string, verb: string, text: string): number {
  return lines.findIndex((l) => {
    const [, s, v] = l.split(/\s+/);
    return s === scope && v === verb && l.includes(text);
  });
}

describe('lifeboat watch', () => {
  it('prints each step start and end per unit from the history, then the report, and exits 0 on SUCCEEDED', async () => {
    // Prepare
    const scenario = failoverScenario();
    const served = serveExecution(sfn, scenario, EXECUTION_ARN, { polls: 6, pageSize: 7 });
    const cli = captureIo();

    // Act
    const code = await run(['watch', EXECUTION_ARN, '--interval', '3'], cli.io);

    // Assess
    expect(code).toBe(0);
    const lines = progressLines(cli.stdout());
    for (const unit of ['orders', 'catalog']) {
      const started = lineOf(lines, unit, 'start', 'Promote replica secret');
      const promoted = lineOf(lines, unit, 'done', 'Promote replica secret: changed');
      const polled = lineOf(lines, unit, 'done', 'Check database promotion: available after');
      const dns = lineOf(lines, unit, 'done', 'Point DNS at promoted database: changed');
      const verified = lineOf(lines, unit, 'done', 'Verify connectivity: changed');
      const finished = lineOf(lines, unit, 'done', 'unit failed over');
      expect(
        [started, promoted, polled, dns, verified, finished].every((i) => i >= 0),
        unit,
      ).toBe(true);
      expect(started).toBeLessThan(promoted);
      expect(polled).toBeLessThan(dns);
      expect(dns).toBeLessThan(verified);
      expect(verified).toBeLessThan(finished);
    }
    // The run-level steps, the preflight warning, a poll's status change and the connectivity retry.
    expect(
      lineOf(lines, 'run', 'done', 'Load plan: mode failover, 2 units: orders, catalog'),
    ).toBeGreaterThanOrEqual(0);
    expect(lineOf(lines, 'run', 'warn', 'orders: replica lag unknown')).toBeGreaterThanOrEqual(0);
    expect(lineOf(lines, 'catalog', 'poll', 'Check database promotion: rebooting')).toBeGreaterThanOrEqual(0);
    expect(lineOf(lines, 'orders', 'error', 'ConnectivityNotReadyError')).toBeGreaterThanOrEqual(0);
    expect(lineOf(lines, 'orders', 'retry', 'Verify connectivity: attempt 2')).toBeGreaterThanOrEqual(0);
    expect(lineOf(lines, 'run', 'done', 'execution SUCCEEDED')).toBe(lines.length - 1);
    // Every line once: only new events are read at each poll.
    expect(new Set(lines).size).toBe(lines.length);
    expect(served.eventsServed()).toBeLessThan(scenario.history.length + 6 * 7);
    expect(served.historyCalls.every((c) => c.reverseOrder === true)).toBe(true);
    expect(served.historyCalls.some((c) => c.nextToken !== undefined)).toBe(true);
    expect(cli.sleeps.every((ms) => ms === 3000)).toBe(true);
    // Then the report, from the execution output.
    expect(cli.stdout()).toContain(renderReportText(scenario.report));
    expect(cli.stdout().trimEnd().endsWith('execution SUCCEEDED')).toBe(true);
    expect(cli.stdout()).not.toContain('\x1b[');
  });

  it('exits 1 on a failed run, shows where the unit stopped and prints the report from the history', async () => {
    // Prepare
    const scenario = failoverScenario({ failCatalogDns: true });
    serveExecution(sfn, scenario, EXECUTION_ARN, { polls: 4 });
    const cli = captureIo();

    // Act
    const code = await run(['watch', EXECUTION_ARN], cli.io);

    // Assess
    expect(code).toBe(1);
    const lines = progressLines(cli.stdout());
    expect(
      lineOf(lines, 'catalog', 'failed', 'Point DNS at promoted database: AwsCallFailedError'),
    ).toBeGreaterThanOrEqual(0);
    expect(
      lineOf(
        lines,
        'catalog',
        'failed',
        'unit did not fail over: AwsCallFailedError: ChangeResourceRecordSets failed',
      ),
    ).toBeGreaterThanOrEqual(0);
    expect(lineOf(lines, 'orders', 'done', 'unit failed over')).toBeGreaterThanOrEqual(0);
    expect(
      lineOf(lines, 'run', 'failed', 'execution FAILED: FailoverIncompleteError'),
    ).toBeGreaterThanOrEqual(0);
    // A failed execution has no output: the report comes from the report step's result in the history.
    expect(scenario.report.outcome).toBe('failed');
    expect(cli.stdout()).toContain(renderReportText(scenario.report));
    expect(cli.stdout().trimEnd().endsWith('execution FAILED')).toBe(true);
    // The marker sat in a Lambda error message as password=...; nothing printed carries it.
    expect(cli.stdout()).not.toContain(MARKER);
    expect(cli.stderr()).not.toContain(MARKER);
  });

  it('follows the units of a Distributed Map through their child executions', async () => {
    // Prepare
    const scenario = failoverScenario({ distributed: true });
    serveExecution(sfn, scenario, EXECUTION_ARN, { polls: 5 });
    const cli = captureIo();

    // Act
    const code = await run(['watch', EXECUTION_ARN], cli.io);

    // Assess
    expect(code).toBe(0);
    expect(sfn.commandCalls(ListExecutionsCommand, { mapRunArn: MAP_RUN_ARN }).length).toBeGreaterThan(0);
    const lines = progressLines(cli.stdout());
    expect(lineOf(lines, 'run', 'info', 'Distributed Map')).toBeGreaterThanOrEqual(0);
    for (const unit of ['orders', 'catalog']) {
      expect(lineOf(lines, unit, 'done', 'Promote database replica: changed'), unit).toBeGreaterThanOrEqual(
        0,
      );
      expect(lineOf(lines, unit, 'done', 'Verify connectivity: changed'), unit).toBeGreaterThanOrEqual(0);
      expect(lineOf(lines, unit, 'done', 'unit failed over'), unit).toBeGreaterThanOrEqual(0);
    }
    expect(new Set(lines).size).toBe(lines.length);
    // Lines are in time order across the parent and the children.
    const offsets = lines.map((l) => l.split(/\s+/)[0] ?? '');
    // Rotation is attached after verification, so a unit takes a few tenths longer than both side by side.
    expect(offsets.at(-1)).toMatch(/^\+2\d\.\ds$/);
    expect(cli.stdout()).toContain(renderReportText(scenario.report));
  });

  it('keeps watching through a throttled poll and says so on stderr', async () => {
    // Prepare
    const scenario = failoverScenario();
    const throttled = Object.assign(new Error('Rate exceeded'), {
      name: 'ThrottlingException',
      $fault: 'client',
      $retryable: { throttling: true },
      $metadata: { httpStatusCode: 400 },
    });
    serveExecution(sfn, scenario, EXECUTION_ARN, { polls: 3, historyFailures: [throttled] });
    const cli = captureIo();

    // Act
    const code = await run(['watch', EXECUTION_ARN], cli.io);

    // Assess: the first history read was throttled; the run is still followed to its end, every line once.
    expect(code).toBe(0);
    expect(cli.stderr()).toContain('poll failed, trying again');
    expect(cli.stderr()).toContain('ThrottlingException');
    expect(cli.stdout().match(/start\s+Load plan/g)).toHaveLength(1);
    expect(cli.stdout()).toContain('execution SUCCEEDED');
  });

  it('stops with exit 3 and names the execution when it does not exist', async () => {
    // Prepare
    sfn.on(DescribeExecutionCommand).rejects(
      Object.assign(new Error('Execution Does Not Exist'), {
        name: 'ExecutionDoesNotExist',
        $fault: 'client',
      }),
    );
    const cli = captureIo();

    // Act
    const code = await run(['watch', EXECUTION_ARN], cli.io);

    // Assess
    expect(code).toBe(3);
    expect(cli.stderr()).toContain(`no execution ${EXECUTION_ARN}`);
  });

  it("refuses something that is not an execution ARN, and calls the ARN's Region or --region", async () => {
    // Prepare
    const bad = captureIo();
    const regional = captureIo();
    sfn
      .on(DescribeExecutionCommand)
      .rejects(Object.assign(new Error('nope'), { name: 'ExecutionDoesNotExist' }));

    // Act
    const badCode = await run(['watch', 'arn:aws:states:eu-central-1:123456789012:stateMachine:x'], bad.io);
    await run(
      ['watch', EXECUTION_ARN, '--region', 'eu-west-1', '--endpoint', 'http://localhost:4566'],
      regional.io,
    );

    // Assess
    expect(badCode).toBe(2);
    expect(bad.stderr()).toContain('executionArn: expected an execution ARN');
    expect(regional.clients).toEqual([
      { service: 'sfn', region: 'eu-west-1', endpoint: 'http://localhost:4566' },
    ]);
  });
});
