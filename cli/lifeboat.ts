#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from './args.js';
import { type CliIo, defaultIo, describeError, EXIT, EXIT_CODES_HELP, exitCodeFor, Printer } from './io.js';
import { packageVersion } from './version.js';

/**
 * The lifeboat command: `lifeboat plan | start | watch | report | schema | drill`. The package's `lifeboat` bin is
 * this file compiled (dist/cli/lifeboat.js); in a checkout, `npm run lifeboat -- <command>` runs it through tsx.
 * `run(argv, io)` is the whole command with its outside world injected (streams, terminal, clock, AWS clients), so
 * the tests run it in-process; each command is loaded only when asked for (the CDK libraries are not small).
 */

export const USAGE = `usage: lifeboat <command> [options]

commands:
  plan     validate a plan and print what a failover would do, call by call (no AWS call)
  start    start a failover, dry run or drill of the deployed state machine
  watch    follow an execution step by step until it ends, then print its report
  report   print the report of an execution, or the latest one (--latest)
  status   readiness per unit and check, the last drill and failover, who holds the lock
  approve  approve the failover an alarm-started execution waits for
  reject   reject it, with a reason
  schema   print the JSON Schema of a plan (schema/plan.schema.json)
  drill    run the local game-day drill on this machine (the same as npm run drill; from a checkout)

Without --plan, commands read the plan cdk.json names (context.plan), the one cdk deploy deploys.
lifeboat <command> --help shows a command's options; lifeboat --version prints the version.

${EXIT_CODES_HELP}`;

type Command = { run(argv: readonly string[], io: CliIo): Promise<number> };

const COMMANDS: Record<string, () => Promise<Command>> = {
  plan: () => import('./commands/plan.js'),
  start: () => import('./commands/start.js'),
  watch: () => import('./commands/watch.js'),
  report: () => import('./commands/report.js'),
  status: () => import('./commands/status.js'),
  approve: () => import('./commands/approve.js'),
  reject: () => import('./commands/reject.js'),
  schema: () => import('./commands/schema.js'),
  drill: () => import('./commands/drill.js'),
};

/** Runs one command line; resolves to the exit code. Errors are printed, never thrown. */
export async function run(argv: readonly string[], overrides: Partial<CliIo> = {}): Promise<number> {
  const io: CliIo = { ...defaultIo(), ...overrides };
  const [name, ...rest] = argv;
  const err = new Printer(io, 'stderr');
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    new Printer(io).line(USAGE);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    new Printer(io).line(packageVersion());
    return EXIT.ok;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    err.line(
      `lifeboat: unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')}; see lifeboat --help)`,
    );
    return EXIT.usage;
  }
  try {
    const command = await load();
    return await command.run(rest, io);
  } catch (error) {
    err.line(err.red(`lifeboat ${name}: ${describeError(error)}`));
    if (!(error instanceof UsageError) && io.env.LIFEBOAT_DEBUG && error instanceof Error && error.stack) {
      err.line(error.stack);
    }
    return exitCodeFor(error);
  }
}

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  return run(argv);
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = await main();
}
