import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { PlanInvalidError, ResourceMissingError } from '../functions/lib/errors.js';
import { type FailoverPlan, parsePlan } from '../functions/lib/plan.js';

/**
 * Plan files, JSON or YAML, read the same way by the CDK app, the `Lifeboat` construct, the CLI and the drill.
 * YAML is chosen by the extension (`.yaml`, `.yml`); anything else is read as JSON, whose parser names the
 * position of a syntax error more plainly.
 */

/** The extensions read as YAML. */
export const YAML_EXTENSIONS = ['.yaml', '.yml'] as const;

export function isYamlPath(path: string): boolean {
  return (YAML_EXTENSIONS as readonly string[]).includes(extname(path).toLowerCase());
}

/**
 * The document in a plan file, not yet validated. A file that cannot be read is a ResourceMissingError (the CLI's
 * exit 3: a file read failed); a file that is not JSON or YAML is a PlanInvalidError naming the file.
 */
export function readPlanDocument(path: string, cwd = process.cwd()): unknown {
  const file = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'ENOENT (no such file)' : (code ?? String(error));
    throw new ResourceMissingError(`cannot read plan ${file}: ${why}`, { cause: error });
  }
  if (isYamlPath(file)) {
    try {
      // One document; YAML 1.2 core schema, so `no` stays a string and dates stay strings.
      return parseYaml(text, { prettyErrors: true, uniqueKeys: true });
    } catch (error) {
      throw new PlanInvalidError(`plan ${file} is not valid YAML: ${(error as Error).message}`);
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new PlanInvalidError(`plan ${file} is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * Reads and validates a plan file (JSON or YAML). Every problem is reported at once with its field path
 * (`units[0].dns.ttl: ...`); an unreadable file or bad syntax names the file.
 */
export function loadPlanFile(path: string, cwd = process.cwd()): FailoverPlan {
  return parsePlan(readPlanDocument(path, cwd), `plan ${resolve(cwd, path)}`);
}
