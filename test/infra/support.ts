import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { type FailoverPlan, type PlanDocument, parsePlan } from '../../functions/lib/plan.js';
import type { AlarmForwarderStack } from '../../infra/alarm-forwarder-stack.js';
import { addLifeboatStacks } from '../../infra/lifeboat-app.js';
import type { LifeboatStack } from '../../infra/lifeboat-stack.js';

/** A fresh, mutable copy of one of the example plans. */
export function examplePlan(
  file: 'plan.json' | 'plan-three-units.json',
): PlanDocument & Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../../examples/${file}`, import.meta.url), 'utf8'));
}

export interface Synthesized {
  readonly app: App;
  readonly plan: FailoverPlan;
  readonly main: LifeboatStack;
  readonly template: Template;
  readonly alarmForwarder?: AlarmForwarderStack;
}

/**
 * Builds lifeboat's stacks for a plan document. Bundling is skipped (CDK honours `aws:cdk:bundling-stacks`), so a
 * template costs seconds, not twelve esbuild runs; the bundle test bundles for real.
 */
export function synthesize(document: unknown, options: { nag?: boolean } = {}): Synthesized {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const plan = parsePlan(document);
  const { main, alarmForwarder } = addLifeboatStacks(app, plan, { nag: options.nag ?? false });
  const template = Template.fromStack(main);
  return alarmForwarder ? { app, plan, main, template, alarmForwarder } : { app, plan, main, template };
}

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };
export type Statement = {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
};

/** The Lambda function of a step, found by its description (`lifeboat <plan>: <step> step`), never by logical id. */
export function stepFunction(
  template: Template,
  plan: FailoverPlan,
  step: string,
): { id: string; resource: Resource } {
  const found = Object.entries(template.findResources('AWS::Lambda::Function')).filter(
    ([, r]) => (r as Resource).Properties.Description === `lifeboat ${plan.name}: ${step} step`,
  );
  if (found.length !== 1) throw new Error(`expected one function for step ${step}, found ${found.length}`);
  const [id, resource] = found[0] as [string, Resource];
  return { id, resource };
}

/** Every statement of every policy attached to the role of `roleId`. */
export function roleStatements(template: Template, roleId: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => ((p as Resource).Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap((p) => ((p as Resource).Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

/** The statements of a step function's role. */
export function stepStatements(template: Template, plan: FailoverPlan, step: string): Statement[] {
  const role = stepFunction(template, plan, step).resource.Properties.Role as {
    'Fn::GetAtt': [string, string];
  };
  return roleStatements(template, role['Fn::GetAtt'][0]);
}

export const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** `{ sid: { actions, resources, condition } }` of a step's own grants (the log and X-Ray statements have no Sid). */
export function grantsBySid(
  statements: Statement[],
): Record<string, { actions: string[]; resources: unknown[] }> {
  return Object.fromEntries(
    statements
      .filter((s) => s.Sid !== undefined)
      .map((s) => [s.Sid, { actions: asList(s.Action), resources: asList(s.Resource) }]),
  );
}
