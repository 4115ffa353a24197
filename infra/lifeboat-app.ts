import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PlanInvalidError } from '../functions/lib/errors.js';
import type { FailoverPlan } from '../functions/lib/plan.js';
import type { AlarmForwarderStack } from './alarm-forwarder-stack.js';
import { LifeboatStack } from './lifeboat-stack.js';

export { loadPlanFile } from './plan-file.js';

/** The plan `cdk.json` names when `-c plan=...` does not. */
export const DEFAULT_PLAN_PATH = 'examples/plan.json';

/** The plan file named by the app's `plan` context, relative to the working directory. */
export function planPathFrom(app: App): string {
  const value: unknown = app.node.tryGetContext('plan');
  if (value === undefined || value === '') return DEFAULT_PLAN_PATH;
  if (typeof value !== 'string') {
    throw new PlanInvalidError(
      `context "plan" must be a path to a plan file (JSON or YAML), got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export interface LifeboatStacks {
  readonly main: LifeboatStack;
  /** Present when some of the plan's alarms live in the primary Region. */
  readonly alarmForwarder?: AlarmForwarderStack;
}

/** Stack name of a plan's main stack: one lifeboat per plan, side by side in an account. */
export function stackName(plan: Pick<FailoverPlan, 'name'>): string {
  return `Lifeboat-${plan.name}`;
}

/**
 * Adds lifeboat's stacks for `plan` to `app`, and cdk-nag's AwsSolutions checks unless `nag` is false: the stack
 * `Lifeboat-<plan>` holding the `Lifeboat` construct, and its alarm forwarder stack when the plan needs one.
 */
export function addLifeboatStacks(
  app: App,
  plan: FailoverPlan,
  options: { nag?: boolean } = {},
): LifeboatStacks {
  const main = new LifeboatStack(app, stackName(plan), { plan });
  const alarmForwarder = main.lifeboat.addAlarmForwarder(`${stackName(plan)}-AlarmForwarder`);
  if (options.nag !== false) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return alarmForwarder ? { main, alarmForwarder } : { main };
}
