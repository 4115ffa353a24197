import { loadPlanFile } from '../../infra/plan-file.js';
import { HELP_OPTION, parseCommandArgs } from '../args.js';
import { describeFailover, renderFailoverDescription } from '../describe-plan.js';
import { type CliIo, EXIT, EXIT_CODES_HELP, Printer } from '../io.js';
import { planPathFor } from '../plan-path.js';

export const help = `usage: lifeboat plan [--plan FILE] [--json]

Validates a failover plan and prints what a failover would do: per unit the AWS calls in order with their
parameters, the state machine, the target RTO, the alarms, approval and drill schedule. Makes no AWS call.

options:
  --plan FILE   the plan, JSON or YAML (default: the plan cdk.json names, context.plan)
  --json        print the description as JSON
  -h, --help    this text

${EXIT_CODES_HELP}`;

const spec = {
  command: 'plan',
  options: { ...HELP_OPTION, plan: { type: 'string' }, json: { type: 'boolean' } },
  positionals: { min: 0, max: 0, name: '' },
} as const;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(spec, argv);
  const out = new Printer(io);
  if (values.help) {
    out.line(help);
    return EXIT.ok;
  }
  const { path } = planPathFor(values.plan, io.cwd);
  const plan = loadPlanFile(path, io.cwd);
  const description = describeFailover(plan, path);
  out.line(values.json ? JSON.stringify(description, null, 2) : renderFailoverDescription(description));
  return EXIT.ok;
}
