import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { PlanInvalidError } from '../../functions/lib/errors.js';
import { StepFunction } from '../../infra/constructs/step-function.js';
import { Lifeboat } from '../../infra/index.js';
import { examplePlan, synthesize } from './support.js';

const tmp = mkdtempSync(join(tmpdir(), 'lifeboat-construct-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Resource = { Type: string; Properties: Record<string, unknown> };
type Json = Record<string, Resource>;

/** A team's app: its own stack in the plan's account and recovery Region, with a Lifeboat in it. Bundling skipped. */
function teamApp(
  plan: ConstructorParameters<typeof Lifeboat>[2]['plan'],
  env = { account: '123456789012', region: 'us-west-2' },
) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'OrdersApp', { env });
  const lifeboat = new Lifeboat(stack, 'Dr', { plan });
  return { app, stack, lifeboat };
}

function countByType(resources: Json): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of Object.values(resources)) counts[r.Type] = (counts[r.Type] ?? 0) + 1;
  return counts;
}

/** Each Lambda function by its description, with what makes it that step; and its role's actions. */
function functionsOf(template: Template) {
  const resources = template.toJSON().Resources as Json;
  const policies = Object.values(resources).filter((r) => r.Type === 'AWS::IAM::Policy');
  return Object.fromEntries(
    Object.values(resources)
      .filter((r) => r.Type === 'AWS::Lambda::Function')
      .map((r) => {
        const p = r.Properties;
        const role = (p.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
        const actions = policies
          .filter((pol) => (pol.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === role))
          .flatMap(
            (pol) =>
              (pol.Properties.PolicyDocument as { Statement: { Action: string | string[] }[] }).Statement,
          )
          .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
          .sort();
        const env = (p.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ?? {};
        return [
          p.Description as string,
          {
            runtime: p.Runtime,
            architectures: p.Architectures,
            memory: p.MemorySize,
            timeout: p.Timeout,
            handler: p.Handler,
            environment: Object.keys(env).sort(),
            actions,
          },
        ];
      }),
  );
}

/** The state machine's name and its states (the definition with the functions' references left out). */
function stateMachineOf(template: Template) {
  const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as Resource[];
  const definition = machine?.Properties?.DefinitionString as { 'Fn::Join': [string, unknown[]] };
  const text = definition['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : '<ref>')).join('');
  return { name: machine?.Properties?.StateMachineName, definition: text };
}

describe("Lifeboat in a team's own stack", () => {
  it("synthesizes the same resources as the app's stack: types and counts, functions, grants, state machine", () => {
    for (const file of ['plan.json', 'plan-three-units.json'] as const) {
      // Prepare
      const reference = synthesize(examplePlan(file)).template;
      // Act
      const { stack } = teamApp(`examples/${file}`, {
        account: '123456789012',
        region: file === 'plan.json' ? 'us-west-2' : 'eu-central-1',
      });
      const template = Template.fromStack(stack);
      // Assess
      const ours = template.toJSON() as { Resources: Json; Outputs: Record<string, unknown> };
      const theirs = reference.toJSON() as { Resources: Json; Outputs: Record<string, unknown> };
      expect(countByType(ours.Resources), file).toEqual(countByType(theirs.Resources));
      expect(functionsOf(template), file).toEqual(functionsOf(reference));
      expect(stateMachineOf(template), file).toEqual(stateMachineOf(reference));
      expect(Object.keys(ours.Outputs).length, file).toBe(Object.keys(theirs.Outputs).length);
      expect(
        Object.keys(ours.Outputs).every((id) => id.startsWith('Dr')),
        file,
      ).toBe(true);
    }
  });

  it("keeps the app stack's logical ids and output names: the construct is its 'Default' child", () => {
    // Act
    const { template, main } = synthesize(examplePlan('plan.json'));
    // Assess
    expect(main.lifeboat.node.id).toBe('Default');
    expect(Object.keys(template.toJSON().Outputs)).toContain('StateMachineArn');
    expect(Object.keys(template.findResources('AWS::DynamoDB::Table'))[0]).toMatch(/^LockTable/);
  });

  it('takes the plan as a typed document, a JSON file or a YAML file, alike', () => {
    // Act
    const fromJson = Template.fromStack(teamApp('examples/plan.json').stack).toJSON();
    const fromYaml = Template.fromStack(teamApp('examples/plan.yaml').stack).toJSON();
    const fromObject = Template.fromStack(teamApp(examplePlan('plan.json')).stack).toJSON();
    // Assess
    expect(fromYaml).toEqual(fromJson);
    expect(fromObject).toEqual(fromJson);
  });

  it('refuses a plan with mistakes, naming each field', () => {
    // Prepare
    const document = examplePlan('plan.json');
    document.account = '42';
    // Act & Assess
    expect(() => teamApp(document)).toThrow(PlanInvalidError);
    expect(() => teamApp(document)).toThrow(/account: expected a 12-digit AWS account id/);
    expect(() => teamApp(join(tmp, 'missing.yaml'))).toThrow(/cannot read plan .*missing\.yaml: ENOENT/);
  });

  it("must be in the recovery Region and the plan's account, and says so", () => {
    // Prepare
    const cases = [
      {
        env: { account: '123456789012', region: 'us-east-1' },
        message: /is in us-east-1, but lifeboat runs in plan orders-dr's recovery Region us-west-2/,
      },
      {
        env: { account: '210987654321', region: 'us-west-2' },
        message: /is in account 210987654321, but plan orders-dr is for account 123456789012/,
      },
    ];
    for (const { env, message } of cases) {
      // Act & Assess
      expect(() => teamApp('examples/plan.json', env)).toThrow(message);
    }
    const agnostic = new Stack(new App(), 'Anywhere');
    expect(() => new Lifeboat(agnostic, 'Dr', { plan: 'examples/plan.json' })).toThrow(
      /has no Region: lifeboat must be deployed to plan orders-dr's recovery Region us-west-2, so give the stack env.region/,
    );
  });

  it('adds the alarm forwarder in the primary Region on request, and warns when a plan needs it and has none', () => {
    // Prepare
    const without = teamApp('examples/plan.json');
    const withForwarder = teamApp('examples/plan.json');
    // Act
    const forwarder = withForwarder.lifeboat.addAlarmForwarder();
    const warnings = (app: App) =>
      app
        .synth()
        .getStackByName('OrdersApp')
        .messages.filter((m) => m.entry.data?.toString().includes('alarm forwarder stack'));
    // Assess
    expect(forwarder?.region).toBe('us-east-1');
    expect(forwarder?.stackName).toBe('OrdersApp-AlarmForwarder');
    expect(withForwarder.lifeboat.addAlarmForwarder()).toBe(forwarder);
    expect(warnings(withForwarder.app)).toHaveLength(0);
    expect(warnings(without.app)).toHaveLength(1);
    const local = examplePlan('plan.json');
    local.alarms = [];
    expect(teamApp(local).lifeboat.addAlarmForwarder()).toBeUndefined();
  });
});

describe('StepFunction from pre-built bundles (the installed package)', () => {
  it('uses lambda/<handler>/index.mjs when the handler source is not there, and says what is missing when neither is', () => {
    // Prepare: a package root as npm installs it: no functions/*.ts, the bundles in lambda/.
    const root = join(tmp, 'package-root');
    mkdirSync(join(root, 'lambda', 'load-plan'), { recursive: true });
    writeFileSync(
      join(root, 'lambda', 'load-plan', 'index.mjs'),
      'export const handler = async () => ({});\n',
    );
    const stack = new Stack(new App(), 'S', { env: { account: '123456789012', region: 'us-west-2' } });
    // Act
    const step = new StepFunction(stack, 'LoadPlan', {
      entry: 'functions/load-plan.ts',
      description: 'lifeboat x: loadPlan step',
      projectRoot: root,
    });
    // Assess
    expect(step.function).toBeInstanceOf(lambda.Function);
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
    });
    expect(
      () =>
        new StepFunction(stack, 'Missing', {
          entry: 'functions/report.ts',
          description: 'x',
          projectRoot: root,
        }),
    ).toThrow(
      /neither the source .*functions\/report\.ts nor a pre-built bundle .*lambda\/report\/index\.mjs exists/,
    );
  });
});
