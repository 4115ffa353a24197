import { ResourceMissingError } from '../../functions/lib/errors.js';
import { type CliIo, EXIT, Printer } from '../io.js';

export const help = `usage: lifeboat drill [drill options...]

Runs the local game-day drill (the same as npm run drill): builds a two-Region world on this machine (AWS emulator,
PostgreSQL primary and replica, DNS), runs the real state machine through it and prints the report. Every option
is passed to the drill; lifeboat drill --help lists them.`;

interface DrillModule {
  main(argv: string[]): Promise<number>;
}

function isDrillModule(value: unknown): value is DrillModule {
  return typeof (value as Partial<DrillModule> | undefined)?.main === 'function';
}

/** Node's code for an import that names a file that is not there. */
function isModuleNotFound(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === 'ERR_MODULE_NOT_FOUND';
}

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let module: unknown;
  try {
    module = await io.importDrill();
  } catch (error) {
    if (!isModuleNotFound(error)) throw error;
    const err = new Printer(io, 'stderr');
    err.line(
      `lifeboat drill: the local drill is not here (${error instanceof Error ? error.message : String(error)}).`,
    );
    err.line(
      'It runs from a checkout of the lifeboat repository, with its devDependencies installed: npm ci && npm run drill (the installed package ships no proving ground).',
    );
    return EXIT.unavailable;
  }
  if (!isDrillModule(module)) {
    throw new ResourceMissingError(
      'local/drill-command does not export main(argv): the checkout is incomplete',
    );
  }
  return module.main([...argv]);
}
