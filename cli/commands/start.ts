import { randomBytes } from 'node:crypto';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  awsErrorName,
  InputInvalidError,
  ResourceMissingError,
  toLifeboatError,
} from '../../functions/lib/errors.js';
import { loadRun } from '../../functions/lib/load-plan.js';
import type { FailoverPlan } from '../../functions/lib/plan.js';
import { stackName } from '../../infra/lifeboat-app.js';
import { loadPlanFile } from '../../infra/plan-file.js';
import { HELP_OPTION, parseCommandArgs, UsageError } from '../args.js';
import { executionConsoleUrl, parseStateMachineArn, stateMachineArnFor } from '../aws.js';
import { AWS_OPTIONS_HELP, awsTarget, type CliIo, EXIT, EXIT_CODES_HELP, Printer } from '../io.js';
import { planPathFor } from '../plan-path.js';
import { followExecution, parseIntervalOption } from './watch.js';

export const help = `usage: lifeboat start [options]

Starts an execution of the deployed state machine lifeboat-<plan> in the plan's recovery Region. The input is
checked here first, the way the state machine's LoadPlan step checks it, so that a typo fails before anything starts.

options:
  --plan FILE                the plan, JSON or YAML (default: the plan cdk.json names, context.plan); names
                             the state machine and checks the input
  --mode MODE                failover (default), dry-run (no mutating call), drill, switchover (planned, both
                             Regions healthy, no data loss) or reprotect (after a failover: replicate back)
  --of MODE                  with --mode dry-run or drill: what they show or rehearse: failover (default),
                             switchover (dry-run or drill) or reprotect (dry-run only)
  --units a,b                fail over only these units (default: all)
  --reason TEXT              why, for the report
  --yes, -y                  start a failover without asking (required when stdin is not a terminal)
  --name NAME                the execution's name, which is the run id (default: cli-<mode>-<time>-<random>)
  --watch                    follow the execution until it ends (as lifeboat watch)
  --interval SECONDS         with --watch: seconds between polls (default 2)
  --state-machine-arn ARN    start this state machine instead of the plan's
${AWS_OPTIONS_HELP}
                             (--region default: the state machine's, i.e. the plan's recovery Region)
  -h, --help                 this text

A failover changes production resources: on a terminal it asks you to type the plan's name first.

${EXIT_CODES_HELP}`;

const spec = {
  command: 'start',
  options: {
    ...HELP_OPTION,
    plan: { type: 'string' },
    mode: { type: 'string' },
    of: { type: 'string' },
    units: { type: 'string' },
    reason: { type: 'string' },
    yes: { type: 'boolean', short: 'y' },
    name: { type: 'string' },
    watch: { type: 'boolean' },
    interval: { type: 'string' },
    'state-machine-arn': { type: 'string' },
    region: { type: 'string' },
    profile: { type: 'string' },
    endpoint: { type: 'string' },
  },
  positionals: { min: 0, max: 0, name: '' },
} as const;

/** Step Functions execution names: 1-80 characters; these keep CloudWatch logging possible. */
const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(spec, argv);
  const out = new Printer(io);
  const err = new Printer(io, 'stderr');
  if (values.help) {
    out.line(help);
    return EXIT.ok;
  }
  const { path: planPath } = planPathFor(values.plan, io.cwd);
  const plan = loadPlanFile(planPath, io.cwd);
  const input: Record<string, unknown> = {
    mode: values.mode ?? 'failover',
    ...(values.of !== undefined ? { of: values.of } : {}),
    ...(values.units !== undefined
      ? {
          units: values.units
            .split(',')
            .map((u) => u.trim())
            .filter((u) => u !== ''),
        }
      : {}),
    ...(values.reason !== undefined ? { reason: values.reason } : {}),
    trigger: 'cli',
  };
  const now = io.now();
  // The same check as the state machine's LoadPlan step: field-named errors, and the units it would select.
  let loaded: ReturnType<typeof loadRun>;
  try {
    loaded = loadRun({
      plan,
      input,
      execution: { id: 'lifeboat-cli-check', name: 'lifeboat-cli-check', startTime: now.toISOString() },
    });
  } catch (error) {
    throw error instanceof InputInvalidError ? withOptionNames(error) : error;
  }
  const { mode } = loaded.run;

  if (values.region !== undefined && !REGION.test(values.region)) {
    throw new UsageError(`--region: expected an AWS Region code such as us-west-2, got "${values.region}"`);
  }
  const stateMachineArn = values['state-machine-arn'] ?? stateMachineArnFor(plan, values.region);
  const region = values.region ?? parseStateMachineArn(stateMachineArn).region;
  const name = values.name ?? defaultExecutionName(mode, now);
  if (!EXECUTION_NAME.test(name)) {
    throw new UsageError(`--name: expected 1-80 letters, digits, "-" or "_", got "${name}"`);
  }
  const intervalMs = parseIntervalOption(values.interval);
  const units = loaded.units.map((u) => u.name);

  const production = PRODUCTION_CHANGES[mode];
  if (production && !values.yes) {
    if (!io.stdin.isTTY) {
      throw new UsageError(
        `a ${production.name} changes production resources and stdin is not a terminal to confirm it: add --yes to start the ${production.name} of ${plan.name} (nothing was started)`,
      );
    }
    err.line(
      err.bold(
        `About to ${production.verb} plan ${plan.name}: ${units.length} unit${units.length === 1 ? '' : 's'} (${units.join(', ')}) ${production.where(plan)}.`,
      ),
    );
    err.line(production.effect);
    const answer = await io.prompt(`Type the plan name (${plan.name}) to go on: `);
    if (answer.trim() !== plan.name) {
      err.line('Not confirmed: nothing was started.');
      return EXIT.runFailed;
    }
  }

  const sfn = io.aws.sfn(region, awsTarget('sfn', values, io.env));
  let executionArn: string;
  try {
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
    );
    executionArn = started.executionArn ?? '';
  } catch (error) {
    if (awsErrorName(error) === 'StateMachineDoesNotExist') {
      throw new ResourceMissingError(
        `no state machine ${stateMachineArn}: is the stack ${stackName(plan)} deployed in ${region}? (npx cdk deploy -c plan=${planPath})`,
        { cause: error },
      );
    }
    // Same name and same input is not an error: StartExecution is idempotent for 90 days (API_StartExecution).
    if (awsErrorName(error) === 'ExecutionAlreadyExists') {
      throw new ResourceMissingError(
        `an execution named ${name} already exists with another input: choose another --name`,
        { cause: error },
      );
    }
    throw toLifeboatError(error, `StartExecution of ${stateMachineArn}`);
  }

  const of = loaded.run.of ? ` of a ${loaded.run.of}` : '';
  const what = mode === 'dry-run' ? `dry run${of} (no mutating call)` : `${mode}${of}`;
  out.line(`started ${what} of plan ${plan.name}: ${units.join(', ')}`);
  out.line(`execution: ${executionArn}`);
  out.line(`console:   ${executionConsoleUrl(executionArn)}`);
  if (!values.watch) {
    out.line(`follow:    lifeboat watch ${executionArn}`);
    return EXIT.ok;
  }
  out.line('');
  return followExecution(io, sfn, executionArn, intervalMs);
}

/** The modes that change production resources, and what the confirmation says of each. */
const PRODUCTION_CHANGES: Partial<
  Record<string, { name: string; verb: string; where: (p: FailoverPlan) => string; effect: string }>
> = {
  failover: {
    name: 'failover',
    verb: 'FAIL OVER',
    where: (p) => `from ${p.primaryRegion} to ${p.recoveryRegion}`,
    effect: 'This promotes replicas and repoints DNS on production resources.',
  },
  switchover: {
    name: 'switchover',
    verb: 'SWITCH OVER',
    where: (p) => `from ${p.primaryRegion} to ${p.recoveryRegion}`,
    effect:
      'This fences writes on the primaries (writes are refused until DNS moves), then promotes the replicas and repoints DNS.',
  },
  reprotect: {
    name: 're-protect',
    verb: 'RE-PROTECT',
    where: (p) => `back to ${p.primaryRegion}`,
    effect:
      'This renames the old primaries there (kept, never deleted), replicates the secrets over the stale ones and creates new read replicas.',
  },
};

/** `cli-failover-20300501T100000Z-1a2b3c`: readable in the console, the lock and the report's key. */
export function defaultExecutionName(mode: string, now: Date): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `cli-${mode}-${stamp}-${randomBytes(3).toString('hex')}`;
}

/** `input.units[1]: ...` becomes `--units (input.units[1]): ...`: the field the state machine names, and our option. */
function withOptionNames(error: InputInvalidError): InputInvalidError {
  const issues = error.issues.map((issue) => {
    const field = /^input\.(mode|of|units|reason)\b/.exec(issue)?.[1];
    return field
      ? `--${field} (${issue.slice(0, issue.indexOf(':'))})${issue.slice(issue.indexOf(':'))}`
      : issue;
  });
  return new InputInvalidError(`execution input is invalid:\n  - ${issues.join('\n  - ')}`, issues);
}
