import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../cli/lifeboat.js';
import { START } from './history-fixture.js';
import { captureIo } from './support.js';

/** `lifeboat start --of`: what a dry run or a drill shows or rehearses (docs/design/switchover.md, "Dry run and drill"). */

const sfn = mockClient(SFNClient);
afterEach(() => sfn.reset());

describe('lifeboat start --of', () => {
  it('starts a dry run of a switchover with of in the input, and says so', async () => {
    // Prepare
    sfn.on(StartExecutionCommand).callsFake((input: { name?: string }) => ({
      executionArn: `arn:aws:states:us-west-2:123456789012:execution:lifeboat-orders-dr:${input.name}`,
      startDate: new Date(START),
    }));
    const cli = captureIo();

    // Act
    const code = await run(
      ['start', '--plan', 'examples/plan.json', '--mode', 'dry-run', '--of', 'switchover'],
      cli.io,
    );

    // Assess
    expect(cli.stderr()).toBe('');
    expect(code).toBe(0);
    const started = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(JSON.parse(started?.input ?? 'null')).toEqual({
      mode: 'dry-run',
      of: 'switchover',
      trigger: 'cli',
    });
    expect(cli.stdout()).toContain('started dry run of a switchover (no mutating call) of plan orders-dr');
  });

  it('refuses --of with a mode that runs itself, naming the option, and starts nothing', async () => {
    // Prepare
    const cli = captureIo();

    // Act
    const code = await run(
      ['start', '--plan', 'examples/plan.json', '--mode', 'switchover', '--of', 'reprotect'],
      cli.io,
    );

    // Assess
    expect(code).toBe(2);
    expect(cli.stderr()).toContain('--of (input.of): only a dry-run or a drill takes "of"');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});
