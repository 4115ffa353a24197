import { planJsonSchema } from '../../infra/plan-schema.js';
import { HELP_OPTION, parseCommandArgs } from '../args.js';
import { type CliIo, EXIT, Printer } from '../io.js';

export const help = `usage: lifeboat schema

Prints the JSON Schema of a failover plan (JSON Schema 2020-12), generated from lifeboat's own plan validation.
The package ships it as schema/plan.schema.json: name it in a plan with "$schema" (JSON) or a
"# yaml-language-server: $schema=..." comment (YAML) and editors complete and check the plan as you type.

Checks between fields (the Regions differ, ARNs in the right account and Region, unique names) are not in the
schema: lifeboat plan makes them, as cdk synth and the state machine do.

exit codes: 0 printed, 2 bad usage`;

const spec = {
  command: 'schema',
  options: { ...HELP_OPTION },
  positionals: { min: 0, max: 0, name: '' },
} as const;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(spec, argv);
  const out = new Printer(io);
  out.line(values.help ? help : JSON.stringify(planJsonSchema(), null, 2));
  return EXIT.ok;
}
