import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputInvalidError, PlanInvalidError } from '../../functions/lib/errors.js';
import { type FailoverPlan, parseExecutionInput, parsePlan } from '../../functions/lib/plan.js';
import type { CallLogEntry } from '../../local/emulator/types.js';
import type { RunResult } from '../../local/runner.js';
import {
  type EvidenceWorld,
  examplePlan,
  PLAN_PATH,
  PRODUCTION_SERVICES,
  readStoredReport,
  startWorld,
  withPlan,
} from './support.js';

/**
 * Bad input (issue 6; docs/design.md, "Targets": malformed plans and inputs are rejected with a message naming the field,
 * before any change). A corpus of malformed plans and execution inputs, generated with fast-check from the example
 * plan (one mutation each, with the path of the field it breaks) plus hand-picked ones; each must be refused by
 * parsePlan / parseExecutionInput with an issue that starts with that path. A sample then goes through the real state
 * machine on a world: the execution fails with the same error and no production resource receives any call.
 */

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = (string | number)[];

/** A malformed document and the field it breaks. */
interface Case {
  kind: string;
  document: Json;
  /** The formatted path the error must name, e.g. `units[0].dns.ttl` (`input.mode` for execution inputs). */
  path: string;
  /** A word the issue must also contain (e.g. the unknown key). */
  mentions?: string;
}

const RAW_PLAN = JSON.parse(readFileSync(PLAN_PATH, 'utf8')) as Json;

function format(path: Path): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out ? `.${key}` : key;
  return out || '(root)';
}

function get(document: Json, path: Path): Json | undefined {
  let node: Json | undefined = document;
  for (const key of path) node = (node as Record<string | number, Json> | undefined)?.[key];
  return node;
}

/** A copy of the document with the value at `path` replaced (or removed when `value` is undefined). */
function set(document: Json, path: Path, value: Json | undefined): Json {
  const copy = structuredClone(document);
  const parent = get(copy, path.slice(0, -1)) as Record<string | number, Json>;
  const last = path.at(-1) as string | number;
  if (value === undefined) delete parent[last];
  else parent[last] = value;
  return copy;
}

/* ---------------------------------------------------------------------------------------------- */
/* Plan mutations                                                                                  */
/* ---------------------------------------------------------------------------------------------- */

const U: Path = ['units', 0];
const STRINGS: Path[] = [
  ['name'],
  ['account'],
  ['primaryRegion'],
  ['recoveryRegion'],
  [...U, 'name'],
  [...U, 'secret', 'id'],
  [...U, 'database', 'engine'],
  [...U, 'database', 'primaryInstanceId'],
  [...U, 'database', 'replicaInstanceId'],
  [...U, 'dns', 'hostedZoneId'],
  [...U, 'dns', 'recordName'],
  [...U, 'rotation', 'lambdaArn'],
  ['alarms', 0, 'arn'],
];
const NUMBERS: { path: Path; min: number; max: number }[] = [
  { path: ['targetRtoSeconds'], min: 1, max: 86_400 },
  { path: [...U, 'database', 'maxReplicaLagSeconds'], min: 0, max: 86_400 },
  { path: [...U, 'dns', 'ttl'], min: 0, max: 86_400 },
  { path: [...U, 'rotation', 'schedule'], min: 1, max: 1000 },
  { path: [...U, 'verify', 'timeoutSeconds'], min: 1, max: 90 },
  { path: ['approval', 'timeoutSeconds'], min: 60, max: 86_400 },
];
const OPTIONAL_NUMBERS: { path: Path; min: number; max: number }[] = [
  { path: ['maxConcurrency'], min: 1, max: 500 },
];
const BOOLEANS: Path[] = [
  [...U, 'rotation', 'rewriteRegionFields'],
  [...U, 'verify', 'requireTls'],
  ['approval', 'onAlarm'],
];
const OBJECTS: Path[] = [
  [...U, 'secret'],
  [...U, 'database'],
  [...U, 'dns'],
  [...U, 'rotation'],
  [...U, 'verify'],
  ['approval'],
  ['drill'],
  ['alarms', 0],
];
const REQUIRED: Path[] = [
  ['name'],
  ['account'],
  ['primaryRegion'],
  ['recoveryRegion'],
  ['targetRtoSeconds'],
  ['units'],
  [...U, 'name'],
  [...U, 'secret'],
  [...U, 'secret', 'id'],
  [...U, 'database'],
  [...U, 'database', 'engine'],
  [...U, 'database', 'primaryInstanceId'],
  [...U, 'database', 'replicaInstanceId'],
  [...U, 'dns'],
  [...U, 'dns', 'hostedZoneId'],
  [...U, 'dns', 'recordName'],
  [...U, 'rotation'],
  [...U, 'rotation', 'lambdaArn'],
  [...U, 'rotation', 'schedule'],
  ['alarms', 0, 'arn'],
  ['drill', 'schedule'],
];

const notAString = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 2 }),
  fc.constant({}),
);
const notANumber = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant([1]),
  fc.constant({}),
);
const notABoolean = fc.oneof(
  fc.constantFrom('true', 'false', 'yes', ''),
  fc.integer({ min: 0, max: 1 }),
  fc.constant(null),
);
const notAnObject = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant([]));

const wrongType: fc.Arbitrary<Case> = fc.oneof(
  fc.tuple(fc.constantFrom(...STRINGS), notAString).map(([path, value]) => ({
    kind: 'wrong type',
    document: set(RAW_PLAN, path, value as Json),
    path: format(path),
  })),
  fc
    .tuple(fc.constantFrom(...NUMBERS, ...OPTIONAL_NUMBERS), notANumber)
    .filter(([n, value]) => !(n.path.includes('schedule') && typeof value === 'string'))
    .map(([n, value]) => ({
      kind: 'wrong type',
      document: set(RAW_PLAN, n.path, value as Json),
      path: format(n.path),
    })),
  fc.tuple(fc.constantFrom(...BOOLEANS), notABoolean).map(([path, value]) => ({
    kind: 'wrong type',
    document: set(RAW_PLAN, path, value as Json),
    path: format(path),
  })),
  fc
    .tuple(fc.constantFrom(...OBJECTS, ['units'] as Path, ['alarms'] as Path), notAnObject)
    .filter(
      ([path, value]) =>
        !(path.length === 1 && path[0] !== 'approval' && path[0] !== 'drill' && Array.isArray(value)),
    )
    .map(([path, value]) => ({
      kind: 'wrong type',
      document: set(RAW_PLAN, path, value as Json),
      path: format(path),
    })),
);

const missing: fc.Arbitrary<Case> = fc
  .constantFrom(...REQUIRED)
  .map((path) => ({ kind: 'missing field', document: set(RAW_PLAN, path, undefined), path: format(path) }));

const EXISTING_KEYS = new Set([
  '$schema',
  'name',
  'account',
  'primaryRegion',
  'recoveryRegion',
  'targetRtoSeconds',
  'maxConcurrency',
  'units',
  'alarms',
  'approval',
  'drill',
  'notificationTopicArn',
  'vpc',
  'secret',
  'database',
  'dns',
  'rotation',
  'verify',
  'id',
  'engine',
  'primaryInstanceId',
  'replicaInstanceId',
  'maxReplicaLagSeconds',
  'hostedZoneId',
  'recordName',
  'ttl',
  'strategy',
  'lambdaArn',
  'schedule',
  'rewriteRegionFields',
  'query',
  'requireTls',
  'timeoutSeconds',
  'arn',
  'onAlarm',
  'timezone',
]);

const unknownField: fc.Arbitrary<Case> = fc
  .tuple(
    fc.constantFrom<Path>([], [...U], ...OBJECTS),
    fc.stringMatching(/^[a-z][a-zA-Z0-9]{1,15}$/).filter((k) => !EXISTING_KEYS.has(k)),
    fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean()),
  )
  .map(([path, key, value]) => ({
    kind: 'unknown field',
    document: set(RAW_PLAN, [...path, key], value),
    path: format(path),
    mentions: `"${key}"`,
  }));

const outOfRange: fc.Arbitrary<Case> = fc
  .tuple(
    fc.constantFrom(...NUMBERS, ...OPTIONAL_NUMBERS),
    fc.constantFrom('below', 'above', 'fraction'),
    fc.integer({ min: 1, max: 1_000_000 }),
  )
  .map(([n, where, by]) => {
    const value = where === 'below' ? n.min - by : where === 'above' ? n.max + by : n.min + 0.5;
    return { kind: 'out of range', document: set(RAW_PLAN, n.path, value), path: format(n.path) };
  });

/** A character no identifier, Region, ARN or DNS name of a plan may hold, inserted anywhere; or the empty string. */
const badString: fc.Arbitrary<Case> = fc
  .tuple(
    fc.constantFrom(...STRINGS),
    fc.constantFrom(' ', '!', '#', '%', '\n', '\u00e9'),
    fc.nat(),
    fc.boolean(),
  )
  .map(([path, char, at, empty]) => {
    const valid = String(get(RAW_PLAN, path));
    // An alarm's name may hold any printable character (CloudWatch PutMetricAlarm): break the ARN's fixed part.
    const breakable = path.at(-1) === 'arn' ? valid.indexOf(':alarm:') : valid.length;
    const i = at % (breakable + 1);
    const value = empty ? '' : `${valid.slice(0, i)}${char}${valid.slice(i)}`;
    return { kind: 'bad identifier', document: set(RAW_PLAN, path, value), path: format(path) };
  });

const planMutation = fc.oneof(wrongType, missing, unknownField, outOfRange, badString);

/** Cross-field mistakes, each on the example plan. */
const secondUnit = (changes: (u: Record<string, Json>) => void): Json => {
  const doc = structuredClone(RAW_PLAN) as { units: Record<string, Json>[] };
  const copy = structuredClone(doc.units[0]) as Record<string, Json>;
  copy.name = 'payments';
  (copy.secret as Record<string, Json>).id = 'payments/db';
  (copy.database as Record<string, Json>).primaryInstanceId = 'payments-db';
  (copy.database as Record<string, Json>).replicaInstanceId = 'payments-db-replica';
  (copy.dns as Record<string, Json>).recordName = 'payments-db.internal.example.com';
  changes(copy);
  doc.units.push(copy);
  return doc as unknown as Json;
};
const lambdaArn = (region: string, account = '123456789012') =>
  `arn:aws:lambda:${region}:${account}:function:orders-db-rotation`;

const HAND_PICKED: Case[] = [
  { kind: 'not a plan', document: null, path: '(root)' },
  { kind: 'not a plan', document: [], path: '(root)' },
  { kind: 'not a plan', document: 'orders-dr', path: '(root)' },
  { kind: 'not a plan', document: {}, path: 'name' },
  { kind: 'same Regions', document: set(RAW_PLAN, ['recoveryRegion'], 'us-east-1'), path: 'recoveryRegion' },
  {
    kind: 'duplicate unit',
    document: secondUnit((u) => {
      u.name = 'orders';
    }),
    path: 'units[1].name',
  },
  {
    kind: 'duplicate record',
    document: secondUnit((u) => {
      (u.dns as Record<string, Json>).recordName = 'ORDERS-DB.internal.example.com.';
    }),
    path: 'units[1].dns.recordName',
  },
  {
    kind: 'replica is the primary',
    document: set(RAW_PLAN, [...U, 'database', 'replicaInstanceId'], 'orders-db'),
    path: 'units[0].database.replicaInstanceId',
  },
  {
    kind: 'rotation Lambda in the primary Region',
    document: set(RAW_PLAN, [...U, 'rotation', 'lambdaArn'], lambdaArn('us-east-1')),
    path: 'units[0].rotation.lambdaArn',
    mentions: 'recovery Region',
  },
  {
    kind: 'rotation Lambda in another account',
    document: set(RAW_PLAN, [...U, 'rotation', 'lambdaArn'], lambdaArn('us-west-2', '210987654321')),
    path: 'units[0].rotation.lambdaArn',
    mentions: 'account',
  },
  {
    kind: 'secret ARN in the primary Region',
    document: set(
      RAW_PLAN,
      [...U, 'secret', 'id'],
      'arn:aws:secretsmanager:us-east-1:123456789012:secret:orders/db-AbCdEf',
    ),
    path: 'units[0].secret.id',
    mentions: 'recovery Region',
  },
  {
    kind: 'malformed secret ARN',
    document: set(RAW_PLAN, [...U, 'secret', 'id'], 'arn:aws:secretsmanager:us-west-2:123:secret:orders/db'),
    path: 'units[0].secret.id',
  },
  {
    kind: 'alarm in a third Region',
    document: set(RAW_PLAN, ['alarms', 0, 'arn'], 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:x'),
    path: 'alarms[0].arn',
  },
  {
    kind: 'alarm in another account',
    document: set(RAW_PLAN, ['alarms', 0, 'arn'], 'arn:aws:cloudwatch:us-east-1:210987654321:alarm:x'),
    path: 'alarms[0].arn',
  },
  {
    kind: 'topic in the primary Region',
    document: set(RAW_PLAN, ['notificationTopicArn'], 'arn:aws:sns:us-east-1:123456789012:dr'),
    path: 'notificationTopicArn',
  },
  { kind: 'no unit', document: set(RAW_PLAN, ['units'], []), path: 'units' },
  {
    kind: 'bad engine',
    document: set(RAW_PLAN, [...U, 'database', 'engine'], 'oracle-ee'),
    path: 'units[0].database.engine',
  },
  {
    kind: 'bad strategy',
    document: set(RAW_PLAN, [...U, 'dns', 'strategy'], 'weighted'),
    path: 'units[0].dns.strategy',
  },
  {
    kind: 'bad schedule',
    document: set(RAW_PLAN, [...U, 'rotation', 'schedule'], 'every 30 days'),
    path: 'units[0].rotation.schedule',
  },
  {
    kind: 'bad drill schedule',
    document: set(RAW_PLAN, ['drill', 'schedule'], '0 10 * * 2'),
    path: 'drill.schedule',
  },
  {
    kind: 'empty query',
    document: set(RAW_PLAN, [...U, 'verify', 'query'], ''),
    path: 'units[0].verify.query',
  },
  { kind: 'Region typo', document: set(RAW_PLAN, ['recoveryRegion'], 'us-west2'), path: 'recoveryRegion' },
  { kind: 'account too short', document: set(RAW_PLAN, ['account'], '12345678901'), path: 'account' },
  {
    kind: 'zone id',
    document: set(RAW_PLAN, [...U, 'dns', 'hostedZoneId'], 'orders-zone'),
    path: 'units[0].dns.hostedZoneId',
  },
  {
    kind: 'record not a name',
    document: set(RAW_PLAN, [...U, 'dns', 'recordName'], 'orders-db'),
    path: 'units[0].dns.recordName',
  },
  {
    kind: 'instance id',
    document: set(RAW_PLAN, [...U, 'database', 'primaryInstanceId'], 'orders--db'),
    path: 'units[0].database.primaryInstanceId',
  },
  { kind: 'unit name', document: set(RAW_PLAN, [...U, 'name'], 'Orders'), path: 'units[0].name' },
  { kind: 'bad VPC', document: set(RAW_PLAN, ['vpc'], { vpcId: 'vpc-1', subnetIds: [] }), path: 'vpc.vpcId' },
];

/* ---------------------------------------------------------------------------------------------- */
/* Execution input mutations                                                                       */
/* ---------------------------------------------------------------------------------------------- */

const noise = fc.dictionary(
  fc.constantFrom('Comment', 'source', 'detail-type', 'time', 'extra'),
  fc.oneof(fc.string({ maxLength: 10 }), fc.integer()),
  { maxKeys: 2 },
);
const inputMutation: fc.Arbitrary<Case> = fc.oneof(
  fc
    .tuple(
      noise,
      fc.oneof(
        fc.string({ maxLength: 10 }).filter((m) => !['failover', 'drill', 'dry-run'].includes(m)),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
      ),
    )
    .map(([extra, mode]) => ({
      kind: 'input: bad mode',
      document: { ...extra, mode } as Json,
      path: 'input.mode',
    })),
  fc
    .tuple(
      noise,
      fc.oneof(
        fc.string({ maxLength: 10 }).filter((t) => !['console', 'alarm', 'schedule', 'cli'].includes(t)),
        fc.integer(),
        fc.constant([]),
      ),
    )
    .map(([extra, trigger]) => ({
      kind: 'input: bad trigger',
      document: { ...extra, trigger } as Json,
      path: 'input.trigger',
    })),
  fc
    .tuple(
      noise,
      fc.oneof(
        fc.integer(),
        fc.boolean(),
        fc.constant(['x']),
        fc.string({ minLength: 1025, maxLength: 1100 }),
      ),
    )
    .map(([extra, reason]) => ({
      kind: 'input: bad reason',
      document: { ...extra, reason } as Json,
      path: 'input.reason',
    })),
  fc
    .tuple(noise, fc.oneof(fc.constant([]), fc.string({ maxLength: 6 }), fc.integer(), fc.constant({})))
    .map(([extra, units]) => ({
      kind: 'input: units not a list of names',
      document: { ...extra, units } as Json,
      path: 'input.units',
    })),
  fc
    .tuple(
      noise,
      fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/).filter((n) => n !== 'orders'),
    )
    .map(([extra, name]) => ({
      kind: 'input: unknown unit',
      document: { ...extra, units: ['orders', name] } as Json,
      path: 'input.units[1]',
      mentions: `"${name}"`,
    })),
  fc.constant<Case>({
    kind: 'input: unit twice',
    document: { units: ['orders', 'orders'] },
    path: 'input.units',
    mentions: 'more than once',
  }),
  fc.tuple(noise, fc.oneof(fc.integer(), fc.constant(null), fc.constant(''))).map(([extra, name]) => ({
    kind: 'input: unit name not a string',
    document: { ...extra, units: [name] } as Json,
    path: 'input.units[0]',
  })),
  fc
    .oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), fc.array(fc.integer(), { maxLength: 2 }))
    .map((document) => ({ kind: 'input: not an object', document: document as Json, path: 'input' })),
);

/* ---------------------------------------------------------------------------------------------- */
/* Checking a case                                                                                 */
/* ---------------------------------------------------------------------------------------------- */

const PLAN: FailoverPlan = examplePlan();

/** Why a case was not refused as it should be, or undefined when it was. */
function problemWith(c: Case): string | undefined {
  const isInput = c.kind.startsWith('input');
  let error: unknown;
  try {
    if (isInput) parseExecutionInput(c.document, PLAN);
    else parsePlan(c.document);
    return 'accepted';
  } catch (e) {
    error = e;
  }
  const expectedClass = isInput ? InputInvalidError : PlanInvalidError;
  if (!(error instanceof expectedClass)) return `threw ${(error as Error).name}, not ${expectedClass.name}`;
  const named = error.issues.filter(
    (issue) => issue.startsWith(`${c.path}:`) && (!c.mentions || issue.includes(c.mentions)),
  );
  if (!named.length)
    return `no issue names ${c.path}${c.mentions ? ` with ${c.mentions}` : ''}: ${error.issues.join(' | ')}`;
  if (!named.every((issue) => error.message.includes(issue))) return 'the message does not list the issue';
  return undefined;
}

const SEED = 20_260_611;
const GENERATED_PLANS = fc.sample(planMutation, { numRuns: 150, seed: SEED });
const GENERATED_INPUTS = fc.sample(inputMutation, { numRuns: 60, seed: SEED + 1 });
const CORPUS: Case[] = [...GENERATED_PLANS, ...HAND_PICKED, ...GENERATED_INPUTS];

describe('the bad-input corpus', () => {
  it('holds over a hundred distinct malformed plans and inputs of every kind', () => {
    // Assess
    const distinct = new Set(CORPUS.map((c) => JSON.stringify(c.document)));
    expect(distinct.size).toBeGreaterThanOrEqual(150);
    const kinds = new Set(CORPUS.map((c) => c.kind));
    for (const kind of ['wrong type', 'missing field', 'unknown field', 'out of range', 'bad identifier']) {
      expect(kinds).toContain(kind);
    }
    expect([...kinds].filter((k) => k.startsWith('input')).length).toBeGreaterThanOrEqual(6);
    console.log(
      `bad-input corpus: ${CORPUS.length} cases (${distinct.size} distinct documents): ` +
        `${GENERATED_PLANS.length} generated plans, ${HAND_PICKED.length} hand-picked plans, ` +
        `${GENERATED_INPUTS.length} generated inputs; kinds: ${[...kinds].join(', ')}`,
    );
  });

  it('the example plan and the console inputs are accepted (the oracle is not "reject everything")', () => {
    // Act
    const plan = parsePlan(RAW_PLAN);
    // Assess
    for (const input of [
      undefined,
      null,
      {},
      { Comment: 'Insert your JSON here' },
      { mode: 'dry-run', units: ['orders'] },
    ]) {
      expect(() => parseExecutionInput(input, plan)).not.toThrow();
    }
    expect(problemWith({ kind: 'control', document: RAW_PLAN, path: 'name' })).toBe('accepted');
  });

  it.each([
    ['generated plans', GENERATED_PLANS],
    ['hand-picked plans', HAND_PICKED],
    ['generated inputs', GENERATED_INPUTS],
  ])('rejects every one of the %s with an issue naming the field', (_name, cases) => {
    // Act
    const failures = cases.flatMap((c) => {
      const problem = problemWith(c);
      return problem ? [`${c.kind} at ${c.path}: ${problem}`] : [];
    });
    // Assess
    expect(failures).toEqual([]);
  });

  it('rejects any other single mutation fast-check finds (a fresh random seed each run)', () => {
    // Assess
    fc.assert(
      fc.property(fc.oneof(planMutation, inputMutation), (c) => {
        expect(problemWith(c)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });
});

/* ---------------------------------------------------------------------------------------------- */
/* Through the state machine                                                                       */
/* ---------------------------------------------------------------------------------------------- */

interface Sample {
  name: string;
  plan: Json;
  input: Json;
  error: 'PlanInvalidError' | 'InputInvalidError';
  path: string;
}

const SAMPLES: Sample[] = [
  {
    name: 'bad-mode',
    plan: RAW_PLAN,
    input: { mode: 'failover-now' },
    error: 'InputInvalidError',
    path: 'input.mode',
  },
  {
    name: 'unknown-unit',
    plan: RAW_PLAN,
    input: { units: ['orderz'] },
    error: 'InputInvalidError',
    path: 'input.units[0]',
  },
  {
    name: 'reason-not-text',
    plan: RAW_PLAN,
    input: { reason: 42, Comment: 'x' },
    error: 'InputInvalidError',
    path: 'input.reason',
  },
  {
    name: 'same-regions',
    plan: set(RAW_PLAN, ['recoveryRegion'], 'us-east-1'),
    input: {},
    error: 'PlanInvalidError',
    path: 'recoveryRegion',
  },
  {
    name: 'unknown-dns-field',
    plan: set(RAW_PLAN, [...U, 'dns', 'ttlSeconds'], 5),
    input: {},
    error: 'PlanInvalidError',
    path: 'units[0].dns',
  },
];

describe('malformed plans and inputs through the state machine', () => {
  let w: EvidenceWorld;
  const results = new Map<string, { result: RunResult; calls: CallLogEntry[] }>();

  beforeAll(async () => {
    w = await startWorld(examplePlan());
    for (const sample of SAMPLES) {
      // A plan is baked into the definition: the malformed one takes the deployed plan's place.
      const from = w.world.emulator.calls.length;
      const result = await w.run(`refused-${sample.name}`, sample.input, {
        orchestrator: withPlan(w.orchestrator, sample.plan),
      });
      results.set(sample.name, { result, calls: w.world.emulator.calls.slice(from) });
    }
  }, 180_000);

  afterAll(async () => {
    await w?.close();
  });

  it.each(SAMPLES)('$name: the execution fails with $error naming $path', async (sample) => {
    // Prepare
    const { result } = results.get(sample.name) as { result: RunResult };
    // Act
    const report = await readStoredReport(w.world, `refused-${sample.name}`);
    // Assess
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe(sample.error);
    expect(report?.outcome).toBe('failed');
    expect(report?.failure?.error).toBe(sample.error);
    expect(report?.failure?.cause).toContain(`${sample.path}:`);
    expect(report?.units).toEqual([]);
  });

  it('made no call at all to a production service, and took no lock', () => {
    // Assess
    for (const sample of SAMPLES) {
      const { calls } = results.get(sample.name) as { calls: CallLogEntry[] };
      expect(
        calls.filter((c) => PRODUCTION_SERVICES.has(c.service)),
        sample.name,
      ).toEqual([]);
      expect(
        calls.filter((c) => c.service === 'dynamodb' && c.action === 'PutItem'),
        sample.name,
      ).toEqual([]);
      // What it did call: lifeboat's own report copy and notification.
      expect(
        calls.every((c) => c.service === 's3' || c.service === 'sns'),
        sample.name,
      ).toBe(true);
    }
  });
});
