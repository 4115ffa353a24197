import { z } from 'zod';
import { PlanSchema } from '../functions/lib/plan.js';

/**
 * The plan's JSON Schema, generated from the zod schema (functions/lib/plan.ts), so that editors complete and check
 * plans: `lifeboat schema` prints it, `schema/plan.schema.json` in the package is this (test/unit/plan-json-schema.test.ts
 * keeps the committed file equal to it), and the examples name it with `"$schema"`.
 *
 * It describes the plan as written (`io: 'input'`: a field with a default is optional) and holds every field, type,
 * enum, range, pattern and `additionalProperties: false` of the zod schema. What JSON Schema cannot say stays in
 * lifeboat's own validation (`lifeboat plan`, `cdk synth`, the LoadPlan step), which always runs:
 * - checks between fields: the two Regions differ, unit names and DNS records are unique, the primary and replica
 *   instance ids differ, ARNs (secret, rotation Lambda, KMS key, alarms, topic) are in the right account and Region;
 * - checks by code: the Region names the SDK knows, the rotation and drill schedule expressions' grammars and limits,
 *   IANA time zones, a secret id that is a name or a Secrets Manager ARN.
 * zod's refinements carry no JSON Schema; `toJSONSchema` leaves them out (https://zod.dev/json-schema).
 */
export function planJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(PlanSchema, {
    io: 'input',
    target: 'draft-2020-12',
    // A transform or a custom type in the plan schema must fail here, not vanish from the JSON Schema.
    unrepresentable: 'throw',
  }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: 'lifeboat failover plan',
    description:
      'A lifeboat failover plan (README.md, "The plan"). Cross-field checks (Regions, ARNs, unique names) are made by lifeboat plan, not by this schema.',
    ...rest,
  };
}
