import { writeFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { reversePlan } from '../../functions/lib/reprotect/reverse-plan.js';
import { loadPlanFile, YAML_EXTENSIONS } from '../../infra/plan-file.js';
import { HELP_OPTION, parseCommandArgs, UsageError } from '../args.js';
import { describeFailover, renderFailoverDescription } from '../describe-plan.js';
import { type CliIo, EXIT, EXIT_CODES_HELP, Printer } from '../io.js';
import { planPathFor } from '../plan-path.js';

export const help = `usage: lifeboat plan [--plan FILE] [--json]
       lifeboat plan --reverse [--plan FILE] [--out FILE] [--set PATH=VALUE ...]

Validates a failover plan and prints what a failover would do: per unit the AWS calls in order with their
parameters, the state machine, the target RTO, the alarms, approval and drill schedule. Makes no AWS call.

options:
  --plan FILE   the plan, JSON or YAML (default: the plan cdk.json names, context.plan)
  --json        print the description as JSON
  --reverse     write the plan for the other direction, for the stack in the old primary Region after a failover
                and re-protect (docs/design/reprotect.md): Regions and instances swapped, ARNs moved to the other
                Region; what cannot be derived is asked for, and every assumption is printed on stderr
  --out FILE    with --reverse: write it here (YAML for .yaml/.yml, else JSON) instead of printing it
  --set P=V     with --reverse, repeatable: a value lifeboat cannot derive, by path:
                units.<unit>.secret.kmsKeyArn, units.<unit>.rotation.lambdaArn, notificationTopicArn, vpc (JSON)
  -h, --help    this text

${EXIT_CODES_HELP}`;

const spec = {
  command: 'plan',
  options: {
    ...HELP_OPTION,
    plan: { type: 'string' },
    json: { type: 'boolean' },
    reverse: { type: 'boolean' },
    out: { type: 'string' },
  },
  positionals: { min: 0, max: 0, name: '' },
} as const;

/** `--set PATH=VALUE` pairs (repeatable; the argument parser keeps one value per option), and the rest of argv. */
function takeSets(argv: readonly string[]): { sets: Record<string, unknown>; rest: string[] } {
  const sets: Record<string, unknown> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg !== '--set' && !arg.startsWith('--set=')) {
      rest.push(arg);
      continue;
    }
    const pair = arg === '--set' ? argv[++i] : arg.slice('--set='.length);
    const eq = pair?.indexOf('=') ?? -1;
    if (pair === undefined || eq <= 0) {
      throw new UsageError('lifeboat plan: --set expects PATH=VALUE (see lifeboat plan --help)');
    }
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    if (/^[[{]/.test(raw)) {
      try {
        value = JSON.parse(raw);
      } catch {
        throw new UsageError(`lifeboat plan: --set ${pair.slice(0, eq)}: the value is not valid JSON`);
      }
    }
    sets[pair.slice(0, eq)] = value;
  }
  return { sets, rest };
}

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { sets, rest } = takeSets(argv);
  const { values } = parseCommandArgs(spec, rest);
  const out = new Printer(io);
  if (values.help) {
    out.line(help);
    return EXIT.ok;
  }
  const { path } = planPathFor(values.plan, io.cwd);
  const plan = loadPlanFile(path, io.cwd);
  if (!values.reverse && (values.out !== undefined || Object.keys(sets).length)) {
    throw new UsageError('lifeboat plan: --out and --set go with --reverse (see lifeboat plan --help)');
  }
  if (values.reverse) {
    const reversed = reversePlan(plan, sets);
    const err = new Printer(io, 'stderr');
    for (const note of reversed.notes) err.line(`note: ${note}`);
    const yaml =
      values.out !== undefined && (YAML_EXTENSIONS as readonly string[]).includes(extname(values.out));
    const text = yaml ? toYaml(reversed.document) : `${JSON.stringify(reversed.document, null, 2)}\n`;
    if (values.out === undefined) out.line(text.trimEnd());
    else {
      writeFileSync(resolve(io.cwd, values.out), text);
      err.line(
        `wrote the reversed plan of ${plan.name} (${plan.recoveryRegion} -> ${plan.primaryRegion}) to ${values.out}`,
      );
    }
    return EXIT.ok;
  }
  const description = describeFailover(plan, path);
  out.line(values.json ? JSON.stringify(description, null, 2) : renderFailoverDescription(description));
  return EXIT.ok;
}
