import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './args.js';

/** Where a command's plan comes from: `--plan`, or the `plan` context of `cdk.json`, as `cdk deploy` reads it. */
export interface PlanPath {
  /** As given (relative to the working directory), for messages. */
  readonly path: string;
  readonly from: '--plan' | 'cdk.json';
}

/**
 * The plan a command reads: `--plan FILE` when given, else the one `cdk.json` in the working directory names in its
 * context (`"context": {"plan": "plans/orders.yaml"}`), the file `cdk synth` and `cdk deploy` read without `-c plan=`.
 * So `lifeboat start` and `cdk deploy` name the same plan. (`-c plan=...` on cdk's command line overrides cdk.json for
 * that one command; give lifeboat the same file with --plan then.)
 */
export function planPathFor(given: string | undefined, cwd: string): PlanPath {
  if (given !== undefined) return { path: given, from: '--plan' };
  const cdkJson = join(cwd, 'cdk.json');
  if (!existsSync(cdkJson)) {
    throw new UsageError(
      `no --plan given and no cdk.json in ${cwd} to take the plan from: give --plan FILE, or run where cdk.json names it ("context": {"plan": "..."})`,
    );
  }
  let context: unknown;
  try {
    context = (JSON.parse(readFileSync(cdkJson, 'utf8')) as { context?: unknown }).context;
  } catch (error) {
    throw new UsageError(`${cdkJson} is not valid JSON (${(error as Error).message}): give --plan FILE`);
  }
  const plan = (context as { plan?: unknown } | undefined)?.plan;
  if (typeof plan !== 'string' || plan === '') {
    throw new UsageError(
      `no --plan given and ${cdkJson} names no plan in its context ("context": {"plan": "path/to/plan.json"}): give --plan FILE`,
    );
  }
  return { path: plan, from: 'cdk.json' };
}
