import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { run } from '../../cli/lifeboat.js';
import { PlanInvalidError } from '../../functions/lib/errors.js';
import { parsePlan } from '../../functions/lib/plan.js';
import { loadPlanFile, readPlanDocument } from '../../infra/plan-file.js';
import { planJsonSchema } from '../../infra/plan-schema.js';
import { captureIo } from '../cli/support.js';

const SCHEMA_FILE = 'schema/plan.schema.json';
const committed = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
const examples = readdirSync('examples')
  .filter((f) => /\.(json|ya?ml)$/.test(f))
  .map((f) => join('examples', f));

/** ajv, strict: a keyword it does not know in the schema is an error, not silently ignored. */
function validator() {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  return ajv.compile(committed);
}

describe('the plan JSON Schema', () => {
  it('is committed as generated from the zod schema (run npm run schema after changing functions/lib/plan.ts)', () => {
    // Act
    const generated = planJsonSchema();
    // Assess
    expect(committed, `${SCHEMA_FILE} is stale: npm run schema`).toEqual(generated);
  });

  it('is what lifeboat schema prints', async () => {
    // Prepare
    const cli = captureIo();
    // Act
    const code = await run(['schema'], cli.io);
    // Assess
    expect(code).toBe(0);
    expect(JSON.parse(cli.stdout())).toEqual(committed);
  });

  it('validates every example plan, JSON and YAML, which lifeboat accepts too', () => {
    // Prepare
    const validate = validator();
    expect(examples.filter((f) => f.endsWith('.yaml')).length).toBeGreaterThan(0);
    expect(examples.length).toBeGreaterThanOrEqual(4);
    for (const file of examples) {
      // Act
      const document = readPlanDocument(file);
      const valid = validate(document);
      // Assess
      expect(validate.errors ?? [], file).toEqual([]);
      expect(valid, file).toBe(true);
      expect(() => loadPlanFile(file), file).not.toThrow();
    }
  });

  it('is named by every example, so that editors find it', () => {
    for (const file of examples) {
      const text = readFileSync(file, 'utf8');
      if (file.endsWith('.json')) {
        expect((JSON.parse(text) as { $schema?: string }).$schema, file).toBe('../schema/plan.schema.json');
      } else {
        expect(text.split('\n')[0], file).toBe('# yaml-language-server: $schema=../schema/plan.schema.json');
      }
    }
  });

  it('refuses an unknown field, a wrong type and a value out of range, each at its path', () => {
    // Prepare
    const validate = validator();
    const plan = readPlanDocument('examples/plan.json') as Record<string, unknown> & {
      units: Record<string, Record<string, unknown>>[];
    };
    const unit = plan.units[0];
    if (!unit?.dns) throw new Error('examples/plan.json has no unit');
    plan.targetRtoSecond = 900;
    unit.dns.ttl = 'five';
    plan.maxConcurrency = 501;
    // Act
    const valid = validate(plan);
    // Assess
    expect(valid).toBe(false);
    const found = (validate.errors ?? []).map((e) => `${e.instancePath} ${e.keyword}`);
    expect(found).toEqual(
      expect.arrayContaining(['/units/0/dns/ttl type', '/maxConcurrency maximum', ' additionalProperties']),
    );
  });

  it('leaves checks between fields to lifeboat: a plan whose Regions are the same passes the schema, not lifeboat', () => {
    // Prepare
    const plan = readPlanDocument('examples/plan.json') as Record<string, unknown>;
    plan.recoveryRegion = plan.primaryRegion;
    // Act & Assess
    expect(validator()(plan)).toBe(true);
    expect(() => parsePlan(plan)).toThrow(PlanInvalidError);
    expect(() => parsePlan(plan)).toThrow(/recoveryRegion: must differ from primaryRegion/);
  });
});

describe('plans in YAML', () => {
  it('examples/plan.yaml is examples/plan.json, field for field', () => {
    expect(loadPlanFile('examples/plan.yaml')).toEqual(loadPlanFile('examples/plan.json'));
  });

  it('the editor-only $schema is no part of the validated plan', () => {
    // Act
    const plan = loadPlanFile('examples/plan.json');
    // Assess
    expect(readPlanDocument('examples/plan.json')).toHaveProperty('$schema');
    expect(plan).not.toHaveProperty('$schema');
  });
});
