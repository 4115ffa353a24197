import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PlanInvalidError } from '../functions/lib/errors.js';
import { type FailoverPlan, parsePlan } from '../functions/lib/plan.js';
import { AlarmForwarderStack } from './alarm-forwarder-stack.js';
import { alarmsByRegion } from './arns.js';
import { LifeboatStack } from './lifeboat-stack.js';

/** The plan `cdk.json` names when `-c plan=...` does not. */
export const DEFAULT_PLAN_PATH = 'examples/plan.json';

/** The plan file named by the app's `plan` context, relative to the working directory. */
export function planPathFrom(app: App): string {
  const value: unknown = app.node.tryGetContext('plan');
  if (value === undefined || value === '') return DEFAULT_PLAN_PATH;
  if (typeof value !== 'string') {
    throw new PlanInvalidError(
      `context "plan" must be a path to a plan JSON file, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * Reads and validates a plan file. Every problem is reported at once with its field path (`units[0].dns.ttl: ...`);
 * an unreadable file or bad JSON names the file.
 */
export function loadPlanFile(path: string): FailoverPlan {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PlanInvalidError(
      `cannot read plan ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new PlanInvalidError(`plan ${file} is not valid JSON: ${(error as Error).message}`);
  }
  return parsePlan(document, `plan ${file}`);
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

/** Adds lifeboat's stacks for `plan` to `app`, and cdk-nag's AwsSolutions checks unless `nag` is false. */
export function addLifeboatStacks(
  app: App,
  plan: FailoverPlan,
  options: { nag?: boolean } = {},
): LifeboatStacks {
  const main = new LifeboatStack(app, stackName(plan), { plan });
  const alarmForwarder = alarmsByRegion(plan).primary.length
    ? new AlarmForwarderStack(app, `${stackName(plan)}-AlarmForwarder`, { plan })
    : undefined;
  if (options.nag !== false) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return alarmForwarder ? { main, alarmForwarder } : { main };
}
