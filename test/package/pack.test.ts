import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STEP_FUNCTIONS } from '../../statemachine/steps.js';
import { credentialChainMarkers } from '../infra/credential-chain.js';
import { eventStreamMarkers } from '../infra/event-streams.js';

/**
 * The package as a team gets it: `npm pack` (which builds: the CLI compiled to dist/, every handler pre-bundled into
 * dist/lambda), the tarball installed into a fresh CDK app that has nothing but aws-cdk-lib and constructs, the app
 * synthesized by plain Node (no tsx, no esbuild), and the `lifeboat` bin run from it. A minute or three.
 */

const root = resolve('.');
const npm = spawnSync('npm', ['--version'], { encoding: 'utf8' });
const npmRuns = npm.status === 0;
if (!npmRuns) {
  console.warn(
    `test/package/pack.test.ts: skipped, npm cannot run here (${npm.error?.message ?? npm.stderr})`,
  );
}

const tmp = mkdtempSync(join(tmpdir(), 'lifeboat-pack-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const installed = (name: string) =>
  (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
    .version;
const ownVersion = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

function sh(command: string, args: string[], cwd: string, timeout = 600_000) {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    timeout,
    env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', npm_config_update_notifier: 'false' },
  });
  return {
    status: result.status,
    stdout: result.stdout ?? '',
    stderr: result.stderr ?? result.error?.message ?? '',
  };
}

/** The team's app: a stack of its own in the recovery Region, a Lifeboat in it, read from the package's YAML example. */
const APP = `
import { App, Stack } from 'aws-cdk-lib';
import * as lifeboat from 'lifeboat';
const { Lifeboat } = lifeboat;

const app = new App({ outdir: process.argv[2] });
const stack = new Stack(app, 'OrdersDr', { env: { account: '123456789012', region: 'us-west-2' } });
const dr = new Lifeboat(stack, 'Dr', { plan: 'node_modules/lifeboat/examples/plan.yaml' });
const forwarder = dr.addAlarmForwarder();
const assembly = app.synth();
const template = assembly.getStackByName('OrdersDr').template;
const exported = Object.keys(lifeboat).filter((name) => typeof lifeboat[name] === 'function');
console.log(JSON.stringify({ template, forwarderRegion: forwarder?.region, exported }));
`;

describe.skipIf(!npmRuns)(
  'the npm package, installed into a fresh CDK app (skipped when npm cannot run)',
  () => {
    let packed: { filename: string; files: { path: string }[] };
    let app: string;

    beforeAll(() => {
      // Act: npm pack runs prepack (npm run build).
      const pack = sh('npm', ['pack', '--json', '--pack-destination', tmp], root, 900_000);
      if (pack.status !== 0)
        throw new Error(`npm pack failed (${pack.status}):\n${pack.stderr.slice(-4000)}`);
      const [result] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as (typeof packed)[];
      if (!result) throw new Error(`npm pack printed no result:\n${pack.stdout.slice(-2000)}`);
      packed = result;
      app = join(tmp, 'team-app');
      rmSync(app, { recursive: true, force: true });
      mkdirSync(app, { recursive: true });
      writeFileSync(
        join(app, 'package.json'),
        JSON.stringify({
          name: 'team-app',
          private: true,
          type: 'module',
          dependencies: {
            'aws-cdk-lib': installed('aws-cdk-lib'),
            constructs: installed('constructs'),
            lifeboat: `file:${join(tmp, packed.filename)}`,
          },
        }),
      );
      writeFileSync(join(app, 'app.mjs'), APP);
      writeFileSync(
        join(app, 'cdk.json'),
        JSON.stringify({
          app: 'node app.mjs',
          context: { plan: 'node_modules/lifeboat/examples/plan.json' },
        }),
      );
      // From npm's cache, which `npm ci` of this repository filled with the same versions.
      const install = sh(
        'npm',
        ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'],
        app,
      );
      if (install.status !== 0) throw new Error(`npm install failed:\n${install.stderr.slice(-4000)}`);
    }, 1_500_000);

    it('ships the compiled library and CLI, the pre-built bundles, the schema and the examples; no sources, no proving ground', () => {
      const files = packed.files.map((f) => f.path);
      for (const expected of [
        'dist/infra/index.js',
        'dist/infra/index.d.ts',
        'dist/cli/lifeboat.js',
        'dist/lambda/load-plan/index.mjs',
        'dist/lambda/close-ended-run/index.mjs',
        'schema/plan.schema.json',
        'examples/plan.yaml',
        'LICENSE',
        'README.md',
      ]) {
        expect(files, expected).toContain(expected);
      }
      expect(files.filter((f) => /^(functions|infra|cli|local|test|statemachine)\//.test(f))).toEqual([]);
      expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    });

    it("synthesizes a Lifeboat in the team's own stack with plain Node: the state machine and every step, from the pre-built bundles", () => {
      // Act
      const out = join(tmp, 'cdk.out');
      const synth = sh('node', ['app.mjs', out], app);
      // Assess
      expect(
        synth.stderr.replace(/\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*?\n\n?/, ''),
      ).not.toMatch(/Error/);
      expect(synth.status).toBe(0);
      const { template, forwarderRegion } = JSON.parse(synth.stdout) as {
        template: { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
        forwarderRegion: string;
      };
      const resources = Object.values(template.Resources);
      const machine = resources.find((r) => r.Type === 'AWS::StepFunctions::StateMachine');
      expect(machine?.Properties.StateMachineName).toBe('lifeboat-orders-dr');
      const functions = resources.filter((r) => r.Type === 'AWS::Lambda::Function');
      for (const step of STEP_FUNCTIONS) {
        const fn = functions.find((f) => f.Properties.Description === `lifeboat orders-dr: ${step} step`);
        if (!fn) throw new Error(`no function for step ${step}`);
        expect(fn.Properties.Handler).toBe('index.handler');
        expect(fn.Properties.Runtime).toBe('nodejs22.x');
        const key = (fn.Properties.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '');
        const bundle = join(out, `asset.${key}`, 'index.mjs');
        expect(existsSync(bundle), `${step}'s bundle`).toBe(true);
        // Built with BUNDLING's aliases too (scripts/esbuild-options.ts): no SDK credential chain, the environment
        // reader; no event-stream codec.
        const code = readFileSync(bundle, 'utf8');
        expect(credentialChainMarkers(code), step).toEqual([]);
        expect(eventStreamMarkers(code), step).toEqual([]);
        if (code.includes('credentialDefaultProvider')) {
          expect(code.includes('no AWS credentials in the environment'), step).toBe(true);
        }
      }
      expect(forwarderRegion).toBe('us-east-1');
      // Nothing to build at synthesis: neither esbuild nor tsx came with the package.
      expect(existsSync(join(app, 'node_modules', 'esbuild'))).toBe(false);
      expect(existsSync(join(app, 'node_modules', 'tsx'))).toBe(false);
    });

    it('runs the lifeboat bin as compiled JavaScript: --version, plan (from --plan and from cdk.json), schema', () => {
      // Act
      const version = sh('npx', ['lifeboat', '--version'], app);
      const plan = sh('npx', ['lifeboat', 'plan', '--plan', 'node_modules/lifeboat/examples/plan.yaml'], app);
      const fromCdkJson = sh('npx', ['lifeboat', 'plan'], app);
      const schema = sh('npx', ['lifeboat', 'schema'], app);
      const drill = sh('npx', ['lifeboat', 'drill'], app);
      // Assess
      expect(version.stdout).toBe(`${ownVersion}\n`);
      expect(version.status).toBe(0);
      expect(plan.status, plan.stderr).toBe(0);
      expect(plan.stdout).toContain('plan orders-dr (node_modules/lifeboat/examples/plan.yaml) is valid');
      expect(fromCdkJson.status, fromCdkJson.stderr).toBe(0);
      expect(fromCdkJson.stdout).toContain(
        'plan orders-dr (node_modules/lifeboat/examples/plan.json) is valid',
      );
      expect(JSON.parse(schema.stdout)).toEqual(JSON.parse(readFileSync('schema/plan.schema.json', 'utf8')));
      expect(drill.status).toBe(3);
      expect(drill.stderr).toContain('runs from a checkout of the lifeboat repository');
    });
  },
);
