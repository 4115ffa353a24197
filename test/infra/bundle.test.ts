import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePlan } from '../../functions/lib/plan.js';
import { addLifeboatStacks } from '../../infra/lifeboat-app.js';
import { STEP_FUNCTIONS } from '../../statemachine/steps.js';
import { examplePlan } from './support.js';

/**
 * Upper bound of one function's bundle, against a dependency slipping in whole. Today 0.5 MB (LoadPlan) to 2.4 MB
 * (VerifyConnectivity, with both database drivers): most of it is the eight SDK clients that functions/lib/clients.ts
 * imports in every step, zod, and mysql2's character sets.
 */
const MAX_BUNDLE_BYTES = 3 * 1024 * 1024;

const outdir = mkdtempSync(join(tmpdir(), 'lifeboat-bundle-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('the app, synthesized for real (bundling on, cdk-nag on)', () => {
  // Prepare: the one synthesis in the suite that runs esbuild for all twelve steps.
  const app = new App({ outdir });
  const plan = parsePlan(examplePlan('plan.json'));
  const { main } = addLifeboatStacks(app, plan);
  // Act
  const assembly = app.synth();
  const template = assembly.getStackByName(main.stackName).template as {
    Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  };
  const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
  const assetDir = (fn: (typeof functions)[number]) => {
    const key = (fn.Properties.Code as { S3Key: string }).S3Key;
    return join(outdir, `asset.${key.replace(/\.zip$/, '')}`);
  };

  it('bundles each step into one small ES module with its source map', () => {
    // Assess
    expect(functions).toHaveLength(STEP_FUNCTIONS.length);
    for (const fn of functions) {
      const dir = assetDir(fn);
      const bundle = join(dir, 'index.mjs');
      expect(existsSync(bundle), `${fn.Properties.Description}: ${bundle}`).toBe(true);
      expect(statSync(bundle).size).toBeLessThan(MAX_BUNDLE_BYTES);
      expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
      const head = readFileSync(bundle, 'utf8').slice(0, 200);
      expect(head).toMatch(/^import \{ createRequire \} from 'node:module';const require = createRequire/);
    }
  });

  it('produces bundles that plain Node loads, and a LoadPlan bundle that loads the baked-in plan', () => {
    // Prepare: a separate Node process, as Lambda runs the file (no test-runner module transform).
    const loadPlan = functions.find(
      (f) => f.Properties.Description === `lifeboat ${plan.name}: loadPlan step`,
    );
    if (!loadPlan) throw new Error('no LoadPlan function');
    const script = `
      const [loadPlan, ...bundles] = process.argv.slice(1);
      const kinds = [];
      for (const b of bundles) kinds.push(typeof (await import(b)).handler);
      const run = await (await import(loadPlan)).handler(JSON.parse(process.env.EVENT));
      console.log(JSON.stringify({ kinds, run: run.run }));
    `;
    const url = (fn: (typeof functions)[number]) => pathToFileURL(join(assetDir(fn), 'index.mjs')).href;
    // Act
    const child = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', script, url(loadPlan), ...functions.map(url)],
      {
        encoding: 'utf8',
        env: {
          ...process.env,
          AWS_REGION: plan.recoveryRegion,
          LOCK_TABLE_NAME: 'lifeboat-test-lock',
          // The ended-run handler reads it at load, as the stack sets it (infra/constructs/lock-recovery.ts).
          STATE_MACHINE_ARN: `arn:aws:states:${plan.recoveryRegion}:123456789012:stateMachine:lifeboat-test`,
          EVENT: JSON.stringify({
            plan: examplePlan('plan.json'),
            input: { Comment: 'Insert your JSON here' },
            execution: { id: 'arn:exec', name: 'run-1', startTime: '2026-01-01T00:00:00Z' },
          }),
        },
      },
    );
    // Assess
    expect(child.stderr).toBe('');
    const result = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}');
    expect(result.kinds).toEqual(functions.map(() => 'function'));
    expect(result.run).toMatchObject({
      planName: 'orders-dr',
      mode: 'failover',
      trigger: 'console',
      runId: 'run-1',
    });
  });
});
