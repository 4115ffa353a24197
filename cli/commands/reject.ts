import { HELP_OPTION, parseCommandArgs } from '../args.js';
import { AWS_OPTIONS_HELP, type CliIo, EXIT, EXIT_CODES_HELP, Printer } from '../io.js';
import { decide } from './decide.js';

export const help = `usage: lifeboat reject <executionArn> --reason TEXT [options]

Rejects the failover an alarm-started execution waits for (the plan's approval.onAlarm). Finds the waiting request in
the execution's history, shows what it would fail over, asks you to type the plan's name, then sends the rejection (ApprovalRejectedError)
with who you are (STS GetCallerIdentity), when and why: the run ends, and its report shows it.

options:
  --reason TEXT              why (required), for the report
  --yes, -y                  reject without asking (required when stdin is not a terminal)
${AWS_OPTIONS_HELP}
  -h, --help                 this text

${EXIT_CODES_HELP}
  (3 also: the execution does not wait for approval)`;

const spec = {
  command: 'reject',
  options: {
    ...HELP_OPTION,
    reason: { type: 'string' },
    yes: { type: 'boolean', short: 'y' },
    region: { type: 'string' },
    endpoint: { type: 'string' },
    profile: { type: 'string' },
  },
  positionals: { min: 1, max: 1, name: 'execution ARN' },
} as const;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(spec, argv);
  if (values.help) {
    new Printer(io).line(help);
    return EXIT.ok;
  }
  return decide(
    {
      executionArn: positionals[0],
      decision: 'rejected',
      reason: values.reason,
      yes: values.yes === true,
      region: values.region,
      endpoint: values.endpoint,
      profile: values.profile,
    },
    io,
  );
}
