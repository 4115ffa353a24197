import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePlan } from '../../functions/lib/plan.js';
import { CLOSER_DESCRIPTION_SUFFIX } from '../../infra/constructs/lock-recovery.js';
import { READINESS_DESCRIPTION_SUFFIX } from '../../infra/constructs/readiness.js';
import { BUNDLE_ALIASES, PROJECT_ROOT } from '../../infra/constructs/step-function.js';
import { addLifeboatStacks } from '../../infra/lifeboat-app.js';
import { esbuildOptions } from '../../scripts/esbuild-options.js';
import { STEP_FUNCTIONS } from '../../statemachine/steps.js';
import { CREDENTIAL_CHAIN_MARKERS, credentialChainMarkers } from './credential-chain.js';
import { EVENT_STREAM_MARKERS, eventStreamMarkers } from './event-streams.js';
import { examplePlan } from './support.js';

/**
 * Upper bound of one function's bundle, against a dependency slipping in whole (the database steps' drivers).
 */
const MAX_BUNDLE_BYTES = 3 * 1024 * 1024;

/**
 * The issue-14 target: every bundle at most 300 KiB minified, except the steps that log in to a database (pg and
 * mysql2 with its character sets). Neither the SDK's default credential chain nor its event-stream codec is in any
 * bundle (BUNDLE_ALIASES, below). What is left of one SDK v3 client with its runtime (smithy core, SigV4, the HTTP
 * handler) and the logger is about 165 KiB minified, RDS's client about 95 KiB more, each further client 15 to 100 KiB
 * (docs/design/packaging.md, "Bundle size"). So a step that calls one service meets the target and a step that calls
 * several does not: each step's ceiling is what the clients it calls need, a little above its size today, so that a
 * module that drags in a client the step never calls (a barrel import, a shared helper in the wrong module) breaks it.
 */
const TARGET_KIB = 300;
const BUNDLE_CEILING_KIB: Partial<Record<string, number>> = {
  summarizeUnit: 32, // no SDK client (28 KiB)
  promoteSecret: 195, // Secrets Manager (187 KiB)
  acquireLock: 250, // DynamoDB, Step Functions (240 KiB)
  releaseLock: 245, // DynamoDB, Step Functions: the holder check (235 KiB)
  promoteDatabase: 360, // RDS, DynamoDB: the shared poll's snapshot, as checkDatabasePromotion; the Aurora promotion (349 KiB)
  checkDatabasePromotion: 355, // RDS, DynamoDB: the shared poll's snapshot (343 KiB)
  checkDnsChange: 360, // Route 53, CloudWatch (the health-check flip's alarm), DynamoDB (the zone batch) (348 KiB)
  loadPlan: 445, // zod for the plan schema, S3 (the run's units.json for the units Map) (433 KiB)
  report: 445, // S3, SNS, CloudWatch (433 KiB)
  updateDns: 480, // Route 53, RDS (the replica's endpoint), CloudWatch, DynamoDB (the zone batch) (466 KiB)
  prepareDrill: 430, // RDS, Secrets Manager, Route 53; the Aurora drill copy (418 KiB)
  checkDrillCopies: 420, // as prepareDrill (406 KiB)
  cleanUpDrill: 420, // (405 KiB)
  reprotectUnit: 495, // RDS, Secrets Manager, CloudWatch, in two Regions; zod for the reversed plan (480 KiB)
  // The ended-run handler (not a step): Step Functions, DynamoDB (the lock), S3, SNS, CloudWatch (its report), and
  // the drill's cleanup (RDS, Route 53, Secrets Manager) (719 KiB).
  'closeEndedRun handler': 735,
  // The steps that log in to a database, pg and mysql2 with iconv-lite's character sets as UTF-8 (BUNDLING's charset).
  verifyConnectivity: 1280, // (1238 KiB)
  attachRotation: 1280, // (1233 KiB)
  preflight: 870, // and every client its checks read (840 KiB)
  fenceWrites: 1390, // (1348 KiB)
  checkCatchUp: 1380, // (1338 KiB)
  'readiness evaluation': 900, // (873 KiB)
};
/** The steps that log in to a database: their drivers make them larger than the target. */
const DATABASE_DRIVER_STEPS = new Set([
  'verifyConnectivity',
  'attachRotation',
  'preflight',
  'fenceWrites',
  'checkCatchUp',
  // Runs preflight's checks, credential check included.
  'readiness evaluation',
]);

/** A template value as a string: a reference CloudFormation resolves at deploy becomes `test-<logical id>`. */
function standIn(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') return `test-${v.Ref}`;
  const getAtt = v['Fn::GetAtt'] as [string, string] | undefined;
  if (getAtt) return `test-${getAtt[0]}-${getAtt[1]}`;
  const join = v['Fn::Join'] as [string, unknown[]] | undefined;
  if (join) return join[1].map(standIn).join(join[0]);
  return 'test-value';
}

/**
 * The functions' environment variables as the stack sets them, merged, with stand-ins for deploy-time values; not the
 * runtime's own (NODE_OPTIONS, the CA bundle that exists only on Lambda).
 */
function deployedEnvironment(
  functions: readonly { Properties: Record<string, unknown> }[],
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const fn of functions) {
    const variables =
      (fn.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
    for (const [name, value] of Object.entries(variables)) {
      if (name.startsWith('NODE_')) continue;
      env[name] = standIn(value);
    }
  }
  return env;
}

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
    // Assess: one function per step, plus the two the stack runs outside the state machine.
    const descriptions = functions.map((fn) => String(fn.Properties.Description));
    for (const step of STEP_FUNCTIONS) {
      expect(
        descriptions.filter((d) => d === `lifeboat ${plan.name}: ${step} step`),
        step,
      ).toHaveLength(1);
    }
    expect(descriptions.filter((d) => !d.endsWith(' step')).sort()).toEqual(
      [
        `lifeboat ${plan.name}${CLOSER_DESCRIPTION_SUFFIX}`,
        `lifeboat ${plan.name}${READINESS_DESCRIPTION_SUFFIX}`,
      ].sort(),
    );
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

  it('keeps each bundle within its ceiling: 300 KiB for a step that calls one service, what its clients need for more', () => {
    // Assess: the step's name is the end of the function's description (infra/constructs/orchestrator.ts).
    const sizes = functions.map((fn) => {
      const step =
        String(fn.Properties.Description)
          .split(': ')
          .pop()
          ?.replace(/ step$/, '') ?? '';
      return { step, kib: statSync(join(assetDir(fn), 'index.mjs')).size / 1024 };
    });
    const over = sizes.filter(({ step, kib }) => {
      const ceiling = BUNDLE_CEILING_KIB[step];
      if (ceiling === undefined && DATABASE_DRIVER_STEPS.has(step)) return false;
      return kib > (ceiling ?? TARGET_KIB);
    });
    expect(over, JSON.stringify(sizes.map((s) => `${s.step} ${Math.round(s.kib)} KiB`))).toEqual([]);
    // Every ceiling names a function of the stack: a misspelt one would hold nothing.
    expect(Object.keys(BUNDLE_CEILING_KIB).filter((step) => !sizes.some((s) => s.step === step))).toEqual([]);
    for (const step of ['summarizeUnit', 'promoteSecret', 'acquireLock', 'releaseLock']) {
      const size = sizes.find((s) => s.step === step);
      expect(size?.kib, step).toBeLessThanOrEqual(TARGET_KIB);
    }
  });

  it('produces bundles that plain Node loads, and a LoadPlan bundle that loads the baked-in plan', () => {
    // Prepare: a separate Node process, as Lambda runs the file (no test-runner module transform).
    const loadPlan = functions.find(
      (f) => f.Properties.Description === `lifeboat ${plan.name}: loadPlan step`,
    );
    if (!loadPlan) throw new Error('no LoadPlan function');
    // LoadPlan writes the run's units to the bucket: an HTTP server stands in for S3 and keeps what was put.
    const script = `
      import { createServer } from 'node:http';
      const [loadPlan, ...bundles] = process.argv.slice(1);
      const puts = [];
      const s3 = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk) => { body += chunk; });
        req.on('end', () => {
          puts.push({ method: req.method, path: req.url.split('?')[0], body });
          res.writeHead(200, { ETag: '"0"' });
          res.end();
        });
      });
      await new Promise((resolve) => s3.listen(0, '127.0.0.1', resolve));
      process.env.LIFEBOAT_AWS_ENDPOINT = 'http://127.0.0.1:' + s3.address().port;
      const kinds = [];
      for (const b of bundles) kinds.push(typeof (await import(b)).handler);
      const run = await (await import(loadPlan)).handler(JSON.parse(process.env.EVENT));
      s3.close();
      const stored = puts.map((p) => ({ method: p.method, path: p.path, units: JSON.parse(p.body).map((u) => u.name) }));
      console.log(JSON.stringify({ kinds, run: run.run, stored }));
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
          // Every function's environment as the stack sets it, a stand-in for each value known only at deploy
          // (a reference to the table, the bucket, the state machine): some handlers read theirs when they load.
          ...deployedEnvironment(functions),
          LOCK_TABLE_NAME: 'lifeboat-test-lock',
          AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
          AWS_SECRET_ACCESS_KEY: 'stand-in',
          EVENT: JSON.stringify({
            plan: examplePlan('plan.json'),
            unitsBucket: 'lifeboat-test-reports',
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
    expect(result.stored).toEqual([
      {
        method: 'PUT',
        path: '/lifeboat-test-reports/runs/orders-dr/run-1/units.json',
        units: plan.units.map((u) => u.name),
      },
    ]);
  });

  it('resolves the SDK credential chain to the environment reader: no SSO, STS, ini, process or container provider', async () => {
    // Prepare: one client bundled with BUNDLING's options, with and without the alias; the markers are shown in the
    // bundle without it, so that their absence from the steps' bundles cannot pass by accident.
    const bundle = async (alias: Record<string, string>) => {
      const built = await build({
        ...esbuildOptions(PROJECT_ROOT),
        alias,
        entryPoints: [join(PROJECT_ROOT, 'functions/lib/sdk/route53.ts')],
        outfile: join(outdir, 'control', 'index.mjs'),
        write: false,
        metafile: true,
        sourcemap: false,
      });
      const code = built.outputFiles.find((f) => f.path.endsWith('.mjs'))?.text ?? '';
      const packages = Object.keys(built.metafile.inputs)
        .map((path) => /node_modules\/(@aws-sdk\/[^/]+)\//.exec(path)?.[1])
        .filter((name) => name !== undefined);
      return { code, packages: new Set(packages), inputs: Object.keys(built.metafile.inputs) };
    };
    // Act
    const chain = await bundle({});
    const reader = await bundle({ ...BUNDLE_ALIASES });
    // Assess
    for (const pkg of [
      '@aws-sdk/credential-provider-node',
      '@aws-sdk/credential-provider-sso',
      '@aws-sdk/nested-clients',
    ]) {
      expect(chain.packages.has(pkg), pkg).toBe(true);
      expect(reader.packages.has(pkg), pkg).toBe(false);
    }
    expect([...reader.packages].filter((p) => p.startsWith('@aws-sdk/credential-provider'))).toEqual([]);
    expect(reader.inputs).toContain('functions/lib/sdk/credentials.ts');
    expect(credentialChainMarkers(chain.code)).toEqual([...CREDENTIAL_CHAIN_MARKERS]);
    expect(credentialChainMarkers(reader.code)).toEqual([]);
    expect(reader.code.length).toBeLessThan(chain.code.length - 100 * 1024);
    // NodejsFunction's bundles (BUNDLING's `--alias`), every function of the stack: each that holds an SDK client
    // (the client's config names its `credentialDefaultProvider`) holds the environment reader, none the chain.
    let withClient = 0;
    for (const fn of functions) {
      const step = String(fn.Properties.Description);
      const code = readFileSync(join(assetDir(fn), 'index.mjs'), 'utf8');
      expect(credentialChainMarkers(code), step).toEqual([]);
      if (!code.includes('credentialDefaultProvider')) continue;
      withClient += 1;
      expect(code.includes('no AWS credentials in the environment'), step).toBe(true);
    }
    expect(withClient).toBe(functions.length - 1); // all but SummarizeUnit
  });

  it('resolves the SDK event-stream codec to a module that fails with NotSupportedError; the S3 client still sends', async () => {
    // Prepare: S3 (whose client imports the codec itself, besides the HTTP protocol's import()) bundled with
    // BUNDLING's options, with and without the alias, in a script that sends an ordinary command and one whose output
    // is an event stream (S3 SelectObjectContent, which lifeboat never sends) to an HTTP server standing in for S3.
    const probe = `
      import { createServer } from 'node:http';
      import { PutObjectCommand, S3Client, SelectObjectContentCommand } from '@aws-sdk/client-s3';
      const requests = [];
      const server = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          requests.push(req.method + ' ' + req.url.split('?')[0]);
          res.writeHead(200, { ETag: '"0"' });
          res.end();
        });
      });
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const s3 = new S3Client({ endpoint: 'http://127.0.0.1:' + server.address().port, forcePathStyle: true });
      const put = await s3.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: 'x' }));
      let select = { name: 'none' };
      try {
        await s3.send(new SelectObjectContentCommand({
          Bucket: 'b', Key: 'k', Expression: 'select 1', ExpressionType: 'SQL',
          InputSerialization: {}, OutputSerialization: {},
        }));
      } catch (error) {
        select = { name: error.name, message: error.message };
      }
      server.close();
      console.log(JSON.stringify({ put: put.$metadata.httpStatusCode, select, requests }));
    `;
    const bundle = async (alias: Record<string, string>) => {
      const built = await build({
        ...esbuildOptions(PROJECT_ROOT),
        alias,
        stdin: { contents: probe, resolveDir: PROJECT_ROOT, loader: 'js', sourcefile: 'probe.js' },
        outfile: join(outdir, 'event-streams', 'index.mjs'),
        write: false,
        metafile: true,
        sourcemap: false,
      });
      const code = built.outputFiles.find((f) => f.path.endsWith('.mjs'))?.text ?? '';
      return { code, inputs: Object.keys(built.metafile.inputs) };
    };
    const withoutCodecAlias = Object.fromEntries(
      Object.entries(BUNDLE_ALIASES).filter(([pkg]) => pkg !== '@smithy/core/event-streams'),
    );
    // Act
    const codec = await bundle(withoutCodecAlias);
    const stand = await bundle({ ...BUNDLE_ALIASES });
    const file = join(outdir, 'event-streams.mjs');
    writeFileSync(file, stand.code);
    const child = spawnSync(process.execPath, [file], {
      encoding: 'utf8',
      env: {
        ...process.env,
        AWS_REGION: plan.recoveryRegion,
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'x',
      },
    });
    // Assess
    expect(codec.inputs.some((p) => p.includes('@smithy/core/dist-es/submodules/event-streams/'))).toBe(true);
    expect(stand.inputs.some((p) => p.includes('/event-streams/'))).toBe(false);
    expect(stand.inputs).toContain('functions/lib/sdk/no-event-streams.ts');
    expect(eventStreamMarkers(codec.code)).toEqual([...EVENT_STREAM_MARKERS]);
    expect(eventStreamMarkers(stand.code)).toEqual([]);
    expect(stand.code.length).toBeLessThan(codec.code.length - 10 * 1024);
    const result = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}');
    expect(result, child.stderr).toMatchObject({
      put: 200,
      select: { name: 'NotSupportedError' },
      requests: ['PUT /b/k', 'POST /b/k'],
    });
    expect(result.select.message).toMatch(/^event streams are not in lifeboat's Lambda bundles/);
    // NodejsFunction's bundles (BUNDLING's `--alias`), every function of the stack: none holds the codec.
    for (const fn of functions) {
      const code = readFileSync(join(assetDir(fn), 'index.mjs'), 'utf8');
      expect(eventStreamMarkers(code), String(fn.Properties.Description)).toEqual([]);
    }
  });

  it("writes non-ASCII characters as UTF-8, not as escapes: the database steps carry iconv-lite's tables", () => {
    // Assess: esbuild's default charset (ASCII) escapes every character above U+007F, so a bundle holds none.
    const nonAscii = /[^\p{ASCII}]/u;
    const verify = functions.find(
      (f) => f.Properties.Description === `lifeboat ${plan.name}: verifyConnectivity step`,
    );
    if (!verify) throw new Error('no VerifyConnectivity function');
    const code = readFileSync(join(assetDir(verify), 'index.mjs'), 'utf8');
    expect(nonAscii.test(code)).toBe(true);
  });

  it('makes a bundled step without the credential variables fail with a ConfigurationError that names them', () => {
    // Prepare: LoadPlan's bundle with an access key id but no secret key; an HTTP server stands in for S3 and counts
    // what reaches it. No ~/.aws and no instance metadata: the SDK's own chain would find nothing either, and fail
    // with another error.
    const loadPlan = functions.find(
      (f) => f.Properties.Description === `lifeboat ${plan.name}: loadPlan step`,
    );
    if (!loadPlan) throw new Error('no LoadPlan function');
    const script = `
      import { createServer } from 'node:http';
      let requests = 0;
      const s3 = createServer((req, res) => { requests += 1; res.writeHead(200, { ETag: '"0"' }); res.end(); });
      await new Promise((resolve) => s3.listen(0, '127.0.0.1', resolve));
      process.env.LIFEBOAT_AWS_ENDPOINT = 'http://127.0.0.1:' + s3.address().port;
      const { handler } = await import(process.argv[1]);
      try {
        await handler(JSON.parse(process.env.EVENT));
        console.log(JSON.stringify({ requests }));
      } catch (error) {
        console.log(JSON.stringify({ requests, name: error.name, message: error.message }));
      }
      s3.close();
    `;
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE']) {
      delete env[name];
    }
    // Act
    const child = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', script, pathToFileURL(join(assetDir(loadPlan), 'index.mjs')).href],
      {
        encoding: 'utf8',
        env: {
          ...env,
          HOME: outdir,
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_REGION: plan.recoveryRegion,
          ...deployedEnvironment([loadPlan]),
          LOCK_TABLE_NAME: 'lifeboat-test-lock',
          AWS_ACCESS_KEY_ID: 'AKIDVISIBLEVALUE',
          EVENT: JSON.stringify({
            plan: examplePlan('plan.json'),
            unitsBucket: 'lifeboat-test-reports',
            input: {},
            execution: { id: 'arn:exec', name: 'run-1', startTime: '2026-01-01T00:00:00Z' },
          }),
        },
      },
    );
    // Assess
    const result = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}');
    expect(result, child.stderr).toMatchObject({ requests: 0, name: 'ConfigurationError' });
    expect(result.message).toMatch(
      /^no AWS credentials in the environment: AWS_SECRET_ACCESS_KEY is not set/,
    );
    expect(result.message).toContain('AWS_ACCESS_KEY_ID');
    expect(child.stdout + child.stderr).not.toContain('AKIDVISIBLEVALUE');
  });
});
