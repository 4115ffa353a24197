import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { awsTarget, defaultAwsClients } from '../../cli/io.js';
import { run } from '../../cli/lifeboat.js';
import { START } from './history-fixture.js';
import { captureIo } from './support.js';

const sfn = mockClient(SFNClient);
afterEach(() => sfn.reset());
const tmp = mkdtempSync(join(tmpdir(), 'lifeboat-cli-package-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

function acceptStarts(): void {
  sfn.on(StartExecutionCommand).callsFake((input: { stateMachineArn?: string; name?: string }) => ({
    executionArn: `${input.stateMachineArn?.replace(':stateMachine:', ':execution:')}:${input.name}`,
    startDate: new Date(START),
  }));
}

/** A directory like a team's CDK app: its cdk.json names a plan (a copy of one of the examples) in its context. */
function appDirectory(
  name: string,
  example: string,
  context: unknown = { plan: `plans/${example}` },
): string {
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'plans'), { recursive: true });
  copyFileSync(join('examples', example), join(dir, 'plans', example));
  writeFileSync(join(dir, 'cdk.json'), JSON.stringify({ app: 'node app.mjs', context }));
  return dir;
}

describe('lifeboat --version', () => {
  it("prints package.json's version", async () => {
    for (const flag of ['--version', '-v']) {
      // Prepare
      const cli = captureIo();
      // Act
      const code = await run([flag], cli.io);
      // Assess
      expect(code).toBe(0);
      expect(cli.stdout()).toBe(`${version}\n`);
    }
  });
});

describe('the plan cdk.json names', () => {
  it('is the plan of lifeboat plan and lifeboat start when --plan is not given', async () => {
    // Prepare: the example with three units, so that it cannot be confused with the checkout's own default.
    acceptStarts();
    const dir = appDirectory('three', 'plan-three-units.json');
    const plan = captureIo({ cwd: dir });
    const start = captureIo({ cwd: dir });
    // Act
    const planCode = await run(['plan'], plan.io);
    const startCode = await run(['start', '--mode', 'dry-run'], start.io);
    // Assess
    expect(plan.stderr()).toBe('');
    expect(planCode).toBe(0);
    expect(plan.stdout()).toContain('plan shop-dr (plans/plan-three-units.json) is valid');
    expect(startCode).toBe(0);
    const call = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(call?.stateMachineArn).toBe(
      'arn:aws:states:eu-central-1:123456789012:stateMachine:lifeboat-shop-dr',
    );
  });

  it('gives way to --plan', async () => {
    // Prepare
    const dir = appDirectory('given', 'plan-three-units.json');
    const cli = captureIo({ cwd: dir });
    writeFileSync(join(dir, 'other.yaml'), readFileSync('examples/plan.yaml'));
    // Act
    const code = await run(['plan', '--plan', 'other.yaml'], cli.io);
    // Assess
    expect(code).toBe(0);
    expect(cli.stdout()).toContain('plan orders-dr (other.yaml) is valid');
  });

  it('is asked for by name when there is no cdk.json or it names no plan (exit 2, nothing started)', async () => {
    // Prepare
    const bare = join(tmp, 'bare');
    mkdirSync(bare, { recursive: true });
    const unnamed = appDirectory('unnamed', 'plan.json', { other: 1 });
    const cases = [
      { cwd: bare, message: `no --plan given and no cdk.json in ${bare}` },
      { cwd: unnamed, message: 'names no plan in its context' },
    ];
    for (const { cwd, message } of cases) {
      const cli = captureIo({ cwd });
      // Act
      const code = await run(['start', '--mode', 'dry-run'], cli.io);
      // Assess
      expect(code).toBe(2);
      expect(cli.stderr()).toContain(message);
    }
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});

describe('a plan file that cannot be read', () => {
  it('exits 3 naming the file, as the README documents; a malformed one exits 2', async () => {
    // Prepare
    const missing = join(tmp, 'no-such-plan.json');
    const garbled = join(tmp, 'garbled.yaml');
    writeFileSync(garbled, 'name: [unclosed\n');
    for (const command of [['plan'], ['start', '--mode', 'dry-run'], ['report', '--latest']]) {
      const cli = captureIo();
      const bad = captureIo();
      // Act
      const code = await run([...command, '--plan', missing], cli.io);
      const badCode = await run([...command, '--plan', garbled], bad.io);
      // Assess
      expect(code, command.join(' ')).toBe(3);
      expect(cli.stderr()).toContain(`cannot read plan ${missing}: ENOENT (no such file)`);
      expect(badCode, command.join(' ')).toBe(2);
      expect(bad.stderr()).toContain(`plan ${garbled} is not valid YAML`);
    }
  });
});

describe('where the CLI calls AWS', () => {
  it('--profile, else AWS_PROFILE, names the profile of every client', async () => {
    // Prepare
    acceptStarts();
    const flag = captureIo({ env: { AWS_PROFILE: 'from-env' } });
    const env = captureIo({ env: { AWS_PROFILE: 'from-env' } });
    // Act
    await run(
      ['start', '--plan', 'examples/plan.json', '--mode', 'dry-run', '--profile', 'dr-operator'],
      flag.io,
    );
    await run(['start', '--plan', 'examples/plan.json', '--mode', 'dry-run'], env.io);
    // Assess
    expect(flag.clients).toEqual([
      { service: 'sfn', region: 'us-west-2', endpoint: undefined, profile: 'dr-operator' },
    ]);
    expect(env.clients[0]?.profile).toBe('from-env');
  });

  it("takes the SDK's AWS_ENDPOINT_URL_<SERVICE> and AWS_ENDPOINT_URL after --endpoint and LIFEBOAT_AWS_ENDPOINT", () => {
    const both = { AWS_ENDPOINT_URL: 'http://all:1', AWS_ENDPOINT_URL_SFN: 'http://sfn:2' };
    expect(awsTarget('sfn', {}, both)).toEqual({ endpoint: 'http://sfn:2' });
    expect(awsTarget('s3', {}, both)).toEqual({ endpoint: 'http://all:1' });
    expect(awsTarget('sfn', {}, { ...both, LIFEBOAT_AWS_ENDPOINT: 'http://lifeboat:3' })).toEqual({
      endpoint: 'http://lifeboat:3',
    });
    expect(awsTarget('sfn', { endpoint: 'http://flag:4' }, both)).toEqual({ endpoint: 'http://flag:4' });
    expect(awsTarget('sfn', {}, { ...both, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' })).toEqual({});
    expect(awsTarget('sfn', { profile: 'p' }, {})).toEqual({ profile: 'p' });
  });

  it('starts against AWS_ENDPOINT_URL, and gives S3 there path-style addressing', async () => {
    // Prepare
    acceptStarts();
    const cli = captureIo({ env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' } });
    // Act
    const code = await run(['start', '--plan', 'examples/plan.json', '--mode', 'dry-run'], cli.io);
    const s3 = defaultAwsClients().s3(
      'us-west-2',
      awsTarget('s3', {}, { AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' }),
    );
    // Assess
    expect(code).toBe(0);
    expect(cli.clients).toEqual([{ service: 'sfn', region: 'us-west-2', endpoint: 'http://127.0.0.1:4566' }]);
    expect(s3.config.forcePathStyle).toBe(true);
  });

  it('gives the SDK client the profile', async () => {
    // Act
    const client = defaultAwsClients().sfn('us-west-2', { profile: 'dr-operator' });
    // Assess
    expect((client.config as { profile?: string }).profile).toBe('dr-operator');
  });
});
