import { parseArgs } from 'node:util';

/**
 * Argument parsing for the lifeboat command, on Node's `util.parseArgs`. Unknown options, missing values and extra
 * arguments are a TypeError that names the option (the style of p-retry and friends), which the command turns into
 * exit code 2. Node's own messages are not reused: ours say which command and how to get help.
 */

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
}

export interface CommandSpec<O extends Record<string, OptionSpec>> {
  readonly command: string;
  readonly options: O;
  /** How many positional arguments the command takes, and what to call them in errors. */
  readonly positionals: { readonly min: number; readonly max: number; readonly name: string };
}

export type OptionValues<O extends Record<string, OptionSpec>> = {
  [K in keyof O]?: O[K]['type'] extends 'string' ? string : boolean;
};

export interface ParsedArgs<O extends Record<string, OptionSpec>> {
  values: OptionValues<O>;
  positionals: string[];
}

/** A command line that cannot be run as given. A TypeError, as Node reports bad options; its message names the option. */
export class UsageError extends TypeError {
  override readonly name = 'UsageError' as const;
}

/** Every command understands `--help`/`-h`. */
export const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const satisfies Record<
  string,
  OptionSpec
>;

export function parseCommandArgs<O extends Record<string, OptionSpec>>(
  spec: CommandSpec<O>,
  argv: readonly string[],
): ParsedArgs<O> {
  const where = `lifeboat ${spec.command}`;
  // strict: false so that we can word the errors; the tokens say exactly what was given.
  const { tokens } = parseArgs({
    args: [...argv],
    options: spec.options as Record<string, OptionSpec>,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== 'option') continue;
    const option = spec.options[token.name];
    if (!option) {
      throw new UsageError(`unknown option ${token.rawName} (see ${where} --help)`);
    }
    if (option.type === 'boolean') {
      if (token.value !== undefined) {
        throw new UsageError(`option --${token.name} takes no value, got "${token.value}"`);
      }
      values[token.name] = true;
    } else {
      if (token.value === undefined || token.value === '') {
        throw new UsageError(`option --${token.name} needs a value`);
      }
      values[token.name] = token.value;
    }
  }
  if (values.help) return { values: values as OptionValues<O>, positionals };
  const { min, max, name } = spec.positionals;
  if (positionals.length > max) {
    const extra = positionals.slice(max).join(' ');
    throw new UsageError(
      max === 0
        ? `takes no arguments, got "${extra}" (see ${where} --help)`
        : `unexpected argument "${extra}" after the ${name} (see ${where} --help)`,
    );
  }
  if (positionals.length < min) {
    throw new UsageError(`the ${name} is missing (see ${where} --help)`);
  }
  return { values: values as OptionValues<O>, positionals };
}
