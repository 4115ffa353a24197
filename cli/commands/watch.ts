import type { SFNClient } from '@aws-sdk/client-sfn';
import { renderReportText } from '../../functions/lib/report/index.js';
import { HELP_OPTION, parseCommandArgs, UsageError } from '../args.js';
import { executionConsoleUrl, parseExecutionArn } from '../aws.js';
import { AWS_OPTIONS_HELP, awsTarget, type CliIo, EXIT, EXIT_CODES_HELP, Printer } from '../io.js';
import type { ProgressLine } from '../progress.js';
import { watchExecution } from '../watch-loop.js';

export const help = `usage: lifeboat watch <executionArn> [options]

Follows an execution until it ends: one line per step start and end, per unit (a Distributed Map's child
executions included), then the run report with its timeline. Exit 0 only when the execution SUCCEEDED.

options:
  --interval SECONDS   seconds between polls (default 2)
${AWS_OPTIONS_HELP}
                             (--region default: the execution ARN's)
  -h, --help           this text

${EXIT_CODES_HELP}`;

const spec = {
  command: 'watch',
  options: {
    ...HELP_OPTION,
    interval: { type: 'string' },
    region: { type: 'string' },
    profile: { type: 'string' },
    endpoint: { type: 'string' },
  },
  positionals: { min: 1, max: 1, name: 'execution ARN' },
} as const;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(spec, argv);
  if (values.help) {
    new Printer(io).line(help);
    return EXIT.ok;
  }
  const arn = parseExecutionArn(positionals[0] ?? '');
  const intervalMs = parseIntervalOption(values.interval);
  const sfn = io.aws.sfn(values.region ?? arn.region, awsTarget('sfn', values, io.env));
  return followExecution(io, sfn, arn.arn, intervalMs);
}

/** Prints the progress of an execution, then its report; the exit code says whether it SUCCEEDED. */
export async function followExecution(
  io: CliIo,
  sfn: SFNClient,
  executionArn: string,
  intervalMs: number,
): Promise<number> {
  const out = new Printer(io);
  const err = new Printer(io, 'stderr');
  out.line(`watching ${executionArn}`);
  out.line(out.dim(`console: ${executionConsoleUrl(executionArn)}`));
  const outcome = await watchExecution(sfn, executionArn, {
    intervalMs,
    sleep: io.sleep,
    print: (text, line) => out.line(colourLine(out, text, line)),
    warn: (text) => err.line(err.yellow(`lifeboat watch: ${text}`)),
  });
  out.line('');
  if (outcome.report) {
    out.line(renderReportText(outcome.report));
  } else {
    const e = outcome.execution;
    out.line(
      `no run report: the execution ${outcome.status}${e.error ? ` with ${e.error}` : ''}${e.cause ? `: ${e.cause}` : ''}`,
    );
  }
  const succeeded = outcome.status === 'SUCCEEDED';
  out.line('');
  out.line(succeeded ? out.green('execution SUCCEEDED') : out.red(`execution ${outcome.status}`));
  return succeeded ? EXIT.ok : EXIT.runFailed;
}

function colourLine(out: Printer, text: string, line: ProgressLine): string {
  if (line.verb === 'failed' || line.verb === 'error') return out.red(text);
  if (line.verb === 'warn' || line.verb === 'retry') return out.yellow(text);
  return text;
}

export function parseIntervalOption(value: string | undefined): number {
  if (value === undefined) return 2000;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > 300) {
    throw new UsageError(`--interval: expected seconds between 1 and 300, got "${value}"`);
  }
  return Math.round(seconds * 1000);
}
