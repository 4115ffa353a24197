import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { PlanInvalidError } from '../../functions/lib/errors.js';
import { DEFAULT_PLAN_PATH, loadPlanFile, planPathFrom } from '../../infra/lifeboat-app.js';
import { examplePlan } from './support.js';

const tmp = mkdtempSync(join(tmpdir(), 'lifeboat-app-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function writePlan(name: string, document: unknown): string {
  const path = join(tmp, name);
  writeFileSync(path, typeof document === 'string' ? document : JSON.stringify(document));
  return path;
}

/** A plan with three mistakes in three places. */
function brokenPlan(): unknown {
  const document = examplePlan('plan.json');
  document.account = '12345';
  (document.units[0] as { dns: Record<string, unknown> }).dns.ttl = -5;
  (document.units[0] as { database: Record<string, unknown> }).database.engine = 'oracle';
  return document;
}

describe('planPathFrom', () => {
  it('reads the plan path from the context, with cdk.json default', () => {
    // Prepare
    const named = new App({ context: { plan: 'plans/prod.json' } });
    const unnamed = new App();
    // Act & Assess
    expect(planPathFrom(named)).toBe('plans/prod.json');
    expect(planPathFrom(unnamed)).toBe(DEFAULT_PLAN_PATH);
  });

  it('refuses a context value that is not a path', () => {
    // Prepare
    const app = new App({ context: { plan: 42 } });
    // Act & Assess
    expect(() => planPathFrom(app)).toThrow(/context "plan" must be a path/);
  });
});

describe('loadPlanFile', () => {
  it('loads and validates the example plans', () => {
    // Act
    const plan = loadPlanFile('examples/plan.json');
    // Assess
    expect(plan.name).toBe('orders-dr');
    expect(plan.units[0]?.dns.strategy).toBe('cname');
  });

  it('lists every problem of a broken plan with its field path', () => {
    // Prepare
    const path = writePlan('broken.json', brokenPlan());
    // Act
    let error: unknown;
    try {
      loadPlanFile(path);
    } catch (caught) {
      error = caught;
    }
    // Assess
    expect(error).toBeInstanceOf(PlanInvalidError);
    const message = (error as PlanInvalidError).message;
    expect(message).toContain(path);
    expect(message).toContain('account: expected a 12-digit AWS account id');
    expect(message).toContain('units[0].dns.ttl');
    expect(message).toContain('units[0].database.engine');
    expect((error as PlanInvalidError).issues).toHaveLength(3);
  });

  it('names the file when it cannot be read or is not JSON', () => {
    // Prepare
    const missing = join(tmp, 'missing.json');
    const garbled = writePlan('garbled.json', '{ "name": ');
    // Act & Assess
    expect(() => loadPlanFile(missing)).toThrow(new RegExp(`cannot read plan ${missing}: ENOENT`));
    expect(() => loadPlanFile(garbled)).toThrow(new RegExp(`plan ${garbled} is not valid JSON`));
  });
});

describe('infra/app.ts', () => {
  it('stops synthesis of a broken plan with its field-naming errors and a non-zero exit', () => {
    // Prepare
    const path = writePlan('broken-for-app.json', brokenPlan());
    const outdir = join(tmp, 'out');
    // Act: the way the CDK CLI runs the app, with `-c plan=...` in CDK_CONTEXT_JSON
    const run = spawnSync('npx', ['tsx', 'infra/app.ts'], {
      env: {
        ...process.env,
        CDK_CONTEXT_JSON: JSON.stringify({ plan: path }),
        CDK_OUTDIR: outdir,
        CDK_DISABLE_VERSION_CHECK: '1',
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    // Assess
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`plan ${path} is invalid`);
    expect(run.stderr).toContain('account: expected a 12-digit AWS account id');
    expect(run.stderr).toContain('units[0].dns.ttl');
    expect(run.stderr).toContain('units[0].database.engine');
    // The message, not a stack trace.
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('plans in YAML', () => {
  it('infra/app.ts synthesizes a YAML plan named by -c plan=', () => {
    // Prepare
    const outdir = join(tmp, 'out-yaml');
    // Act: as `npx cdk synth -c plan=examples/plan.yaml` runs the app
    const run = spawnSync('npx', ['tsx', 'infra/app.ts'], {
      env: {
        ...process.env,
        CDK_CONTEXT_JSON: JSON.stringify({ plan: 'examples/plan.yaml', 'aws:cdk:bundling-stacks': [] }),
        CDK_OUTDIR: outdir,
        CDK_DISABLE_VERSION_CHECK: '1',
      },
      encoding: 'utf8',
      timeout: 120_000,
    });
    // Assess
    expect(run.stderr).not.toContain('Error');
    expect(run.status).toBe(0);
    const template = JSON.parse(readFileSync(join(outdir, 'Lifeboat-orders-dr.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const machine = Object.values(template.Resources).find(
      (r) => r.Type === 'AWS::StepFunctions::StateMachine',
    );
    expect(machine?.Properties.StateMachineName).toBe('lifeboat-orders-dr');
  });

  it('names the file and the line of a YAML mistake, and refuses a key given twice', () => {
    // Prepare
    const garbled = writePlan('garbled.yaml', 'name: orders-dr\nunits: [\n');
    const twice = writePlan('twice.yml', 'name: orders-dr\nname: other\n');
    // Act & Assess
    expect(() => loadPlanFile(garbled)).toThrow(PlanInvalidError);
    expect(() => loadPlanFile(garbled)).toThrow(new RegExp(`plan ${garbled} is not valid YAML: .*line 3`));
    expect(() => loadPlanFile(twice)).toThrow(/is not valid YAML: Map keys must be unique/);
  });

  it('reports a plan mistake in YAML at its field path, as in JSON', () => {
    // Prepare
    const yaml = readFileSync('examples/plan.yaml', 'utf8').replace('ttl: 5', 'ttl: -5');
    const path = writePlan('broken.yaml', yaml);
    // Act & Assess
    expect(() => loadPlanFile(path)).toThrow(/units\[0\]\.dns\.ttl/);
  });
});
