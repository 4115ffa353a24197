import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultExecutionName } from '../../cli/commands/start.js';
import { clientConfig, defaultAwsClients } from '../../cli/io.js';
import { run } from '../../cli/lifeboat.js';
import { EXECUTION_ARN, EXECUTION_NAME, failoverScenario, START } from './history-fixture.js';
import { captureIo, serveExecution } from './support.js';

const sfn = mockClient(SFNClient);
afterEach(() => sfn.reset());

const MACHINE = 'arn:aws:states:us-west-2:123456789012:stateMachine:lifeboat-orders-dr';
const executionArnFor = (name: string) =>
  `arn:aws:states:us-west-2:123456789012:execution:lifeboat-orders-dr:${name}`;

function acceptStarts(): void {
  sfn.on(StartExecutionCommand).callsFake((input: { name?: string }) => ({
    executionArn: executionArnFor(input.name ?? 'generated'),
    startDate: new Date(START),
  }));
}

function startedInput(): { stateMachineArn?: string; name?: string; input: unknown } {
  const call = sfn.commandCalls(StartExecutionCommand)[0];
  if (!call) throw new Error('StartExecution was not called');
  const args = call.args[0].input;
  return { ...args, input: JSON.parse(args.input ?? 'null') };
}

describe('lifeboat start', () => {
  it("starts the plan's state machine in the recovery Region with the checked input, and prints the ARN and console URL", async () => {
    // Prepare
    acceptStarts();
    const cli = captureIo();

    // Act
    const code = await run(
      [
        'start',
        '--plan',
        'examples/plan.json',
        '--mode',
        'dry-run',
        '--units',
        'orders',
        '--reason',
        'game day',
      ],
      cli.io,
    );

    // Assess
    expect(cli.stderr()).toBe('');
    expect(code).toBe(0);
    const started = startedInput();
    expect(started.stateMachineArn).toBe(MACHINE);
    expect(started.input).toEqual({ mode: 'dry-run', units: ['orders'], reason: 'game day', trigger: 'cli' });
    expect(started.name).toMatch(/^cli-dry-run-20300501T100000Z-[0-9a-f]{6}$/);
    expect(cli.clients).toEqual([{ service: 'sfn', region: 'us-west-2', endpoint: undefined }]);
    const arn = executionArnFor(started.name ?? '');
    expect(cli.stdout()).toContain(`execution: ${arn}`);
    expect(cli.stdout()).toContain(
      `console:   https://us-west-2.console.aws.amazon.com/states/home?region=us-west-2#/v2/executions/details/${arn}`,
    );
    expect(cli.stdout()).toContain(`lifeboat watch ${arn}`);
    expect(cli.prompts).toEqual([]);
  });

  it('uses --state-machine-arn, --region, --name and --endpoint as given', async () => {
    // Prepare
    acceptStarts();
    const cli = captureIo({ env: { LIFEBOAT_AWS_ENDPOINT: 'http://ignored:1' } });
    const other = 'arn:aws:states:eu-west-1:123456789012:stateMachine:lifeboat-orders-dr-test';

    // Act
    const code = await run(
      [
        'start',
        '--mode=dry-run',
        '--state-machine-arn',
        other,
        '--region',
        'eu-west-1',
        '--name',
        'gameday-42',
        '--endpoint',
        'http://localhost:4566',
      ],
      cli.io,
    );

    // Assess
    expect(code).toBe(0);
    expect(startedInput()).toMatchObject({ stateMachineArn: other, name: 'gameday-42' });
    expect(cli.clients).toEqual([{ service: 'sfn', region: 'eu-west-1', endpoint: 'http://localhost:4566' }]);
  });

  it('takes the endpoint from LIFEBOAT_AWS_ENDPOINT when --endpoint is not given', async () => {
    // Prepare
    acceptStarts();
    const cli = captureIo({ env: { LIFEBOAT_AWS_ENDPOINT: 'http://127.0.0.1:4566' } });

    // Act
    await run(['start', '--mode', 'dry-run'], cli.io);

    // Assess
    expect(cli.clients[0]?.endpoint).toBe('http://127.0.0.1:4566');
  });

  it('refuses a bad mode, naming the field, and starts nothing', async () => {
    // Prepare
    const cli = captureIo();

    // Act
    const code = await run(['start', '--mode', 'sideways'], cli.io);

    // Assess
    expect(code).toBe(2);
    expect(cli.stderr()).toContain('--mode (input.mode): Invalid option');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('refuses a unit that is not in the plan, naming it and its position', async () => {
    // Prepare
    const cli = captureIo();

    // Act
    const code = await run(['start', '--mode', 'dry-run', '--units', 'orders,nope'], cli.io);

    // Assess
    expect(code).toBe(2);
    expect(cli.stderr()).toContain(
      '--units (input.units[1]): "nope" is not a unit of plan orders-dr (orders)',
    );
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('refuses a failover without --yes when stdin is not a terminal', async () => {
    // Prepare
    acceptStarts();
    const cli = captureIo({ tty: false });

    // Act
    const code = await run(['start', '--reason', 'region down'], cli.io);

    // Assess
    expect(code).toBe(2);
    expect(cli.stderr()).toContain('--yes');
    expect(cli.stderr()).toContain('nothing was started');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('starts a failover with --yes without asking', async () => {
    // Prepare
    acceptStarts();
    const cli = captureIo({ tty: false });

    // Act
    const code = await run(['start', '-y'], cli.io);

    // Assess
    expect(code).toBe(0);
    expect(startedInput().input).toEqual({ mode: 'failover', trigger: 'cli' });
    expect(startedInput().name).toMatch(/^cli-failover-/);
  });

  it('on a terminal, starts a failover only when the plan name is typed back', async () => {
    // Prepare
    acceptStarts();
    const confirmed = captureIo({ tty: true, answer: 'orders-dr\n' });
    const declined = captureIo({ tty: true, answer: 'yes' });

    // Act
    const declinedCode = await run(['start'], declined.io);
    const callsAfterDecline = sfn.commandCalls(StartExecutionCommand).length;
    const confirmedCode = await run(['start'], confirmed.io);

    // Assess
    expect(declinedCode).toBe(1);
    expect(callsAfterDecline).toBe(0);
    expect(declined.stderr()).toContain('Not confirmed: nothing was started.');
    expect(declined.prompts).toEqual(['Type the plan name (orders-dr) to go on: ']);
    expect(confirmedCode).toBe(0);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
    expect(confirmed.stderr()).toContain(
      'About to FAIL OVER plan orders-dr: 1 unit (orders) from us-east-1 to us-west-2',
    );
  });

  it.each([
    [
      'switchover',
      'About to SWITCH OVER plan orders-dr: 1 unit (orders) from us-east-1 to us-west-2',
      'fences writes',
    ],
    [
      'reprotect',
      'About to RE-PROTECT plan orders-dr: 1 unit (orders) back to us-east-1',
      'renames the old primaries',
    ],
  ])(
    'asks before a %s too, which changes production, and starts nothing unconfirmed',
    async (mode, about, effect) => {
      // Prepare
      acceptStarts();
      const declined = captureIo({ tty: true, answer: 'no' });
      const script = captureIo({ tty: false });

      // Act
      const declinedCode = await run(['start', '--mode', mode], declined.io);
      const scriptCode = await run(['start', '--mode', mode], script.io);

      // Assess
      expect(declinedCode).toBe(1);
      expect(declined.stderr()).toContain(about);
      expect(declined.stderr()).toContain(effect);
      expect(scriptCode).toBe(2);
      expect(script.stderr()).toContain('--yes');
      expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    },
  );

  it('follows the execution it started with --watch, and exits with its outcome', async () => {
    // Prepare
    const scenario = failoverScenario({ failCatalogDns: true });
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION_ARN, startDate: new Date(START) });
    serveExecution(sfn, scenario, EXECUTION_ARN, { polls: 3 });
    const cli = captureIo();

    // Act
    const code = await run(
      [
        'start',
        '--plan',
        'examples/plan-three-units.json',
        '--units',
        'orders,catalog',
        '--name',
        EXECUTION_NAME,
        '--yes',
        '--watch',
        '--interval',
        '5',
      ],
      cli.io,
    );

    // Assess
    expect(code).toBe(1);
    expect(startedInput()).toMatchObject({
      stateMachineArn: 'arn:aws:states:eu-central-1:123456789012:stateMachine:lifeboat-shop-dr',
      name: EXECUTION_NAME,
      input: { mode: 'failover', units: ['orders', 'catalog'], trigger: 'cli' },
    });
    expect(cli.stdout()).toContain(`watching ${EXECUTION_ARN}`);
    expect(cli.stdout()).toMatch(/catalog\s+failed\s+unit did not fail over/);
    expect(cli.stdout().trimEnd().endsWith('execution FAILED')).toBe(true);
    expect(cli.sleeps).toEqual([5000, 5000]);
  });

  it('says which stack to deploy when the state machine does not exist (exit 3)', async () => {
    // Prepare
    sfn.on(StartExecutionCommand).rejects(
      Object.assign(new Error('State Machine Does Not Exist'), {
        name: 'StateMachineDoesNotExist',
        $fault: 'client',
      }),
    );
    const cli = captureIo();

    // Act
    const code = await run(['start', '--mode', 'dry-run'], cli.io);

    // Assess
    expect(code).toBe(3);
    expect(cli.stderr()).toContain(`no state machine ${MACHINE}`);
    expect(cli.stderr()).toContain('Lifeboat-orders-dr');
  });

  it('refuses a bad --name, --region and unknown options before any call', async () => {
    // Prepare
    const cases = [
      { argv: ['start', '--mode', 'dry-run', '--name', 'has space'], text: '--name' },
      { argv: ['start', '--mode', 'dry-run', '--region', 'mars'], text: '--region' },
      { argv: ['start', '--bogus'], text: 'unknown option --bogus' },
      { argv: ['start', '--yes=please'], text: 'option --yes takes no value' },
      { argv: ['start', '--mode'], text: 'option --mode needs a value' },
      { argv: ['start', 'now'], text: 'takes no arguments, got "now"' },
    ];

    for (const { argv, text } of cases) {
      const cli = captureIo();

      // Act
      const code = await run(argv, cli.io);

      // Assess
      expect(code, argv.join(' ')).toBe(2);
      expect(cli.stderr(), argv.join(' ')).toContain(text);
    }
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});

describe('CLI AWS clients', () => {
  it('point SFN and S3 at --endpoint, S3 with path-style addressing', async () => {
    // Act
    const clients = defaultAwsClients();
    const local = { endpoint: 'http://localhost:4566' };
    const s3 = clients.s3('us-west-2', local);
    const plain = clients.s3('us-west-2');

    // Assess
    expect(clientConfig('us-west-2', local)).toEqual({
      region: 'us-west-2',
      maxAttempts: 3,
      endpoint: 'http://localhost:4566',
    });
    expect(clientConfig('us-west-2')).toEqual({ region: 'us-west-2', maxAttempts: 3 });
    expect(s3.config.forcePathStyle).toBe(true);
    expect(plain.config.forcePathStyle).toBe(false);
    expect(clients.sfn('us-west-2', local)).toBe(clients.sfn('us-west-2', { ...local }));
    const endpoint = await clients.sfn('us-west-2', local).config.endpoint?.();
    expect(endpoint?.hostname).toBe('localhost');
  });

  it('name executions readably and uniquely', () => {
    // Act
    const a = defaultExecutionName('failover', new Date(START));
    const b = defaultExecutionName('failover', new Date(START));

    // Assess
    expect(a).toMatch(/^cli-failover-20300501T100000Z-[0-9a-f]{6}$/);
    expect(a).not.toBe(b);
  });
});
