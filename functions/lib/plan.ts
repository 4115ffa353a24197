import * as z from 'zod';
import { InputInvalidError, PlanInvalidError } from './errors.js';
import {
  alarmWindowProblem,
  DEFAULT_ALARM_AFTER_FAILED_EVALUATIONS,
  DEFAULT_READINESS_SCHEDULE,
  READINESS_OFF,
  rateSeconds,
  readinessScheduleProblem,
} from './readiness/schedule.js';
import { regionProblem } from './regions.js';
import {
  rotationExpressionProblem,
  schedulerExpressionProblem,
  timeZoneProblem,
} from './schedule-expression.js';
import { didYouMean } from './suggest.js';

/**
 * The failover plan: one typed document that says what fails over (docs/design.md, "The failover plan").
 * Unknown fields are errors — a typo in a DR plan must not pass silently.
 */

const ACCOUNT = /^\d{12}$/;
const PARTITION = '(aws|aws-cn|aws-us-gov)';
const SECRET_ARN = new RegExp(`^arn:${PARTITION}:secretsmanager:([a-z0-9-]+):(\\d{12}):secret:[\\w/+=.@-]+$`);
const LAMBDA_ARN = new RegExp(
  `^arn:${PARTITION}:lambda:([a-z0-9-]+):(\\d{12}):function:[\\w-]+(:[\\w$-]+)?$`,
);
const ALARM_ARN = new RegExp(`^arn:${PARTITION}:cloudwatch:([a-z0-9-]+):(\\d{12}):alarm:.+$`);
const SNS_ARN = new RegExp(`^arn:${PARTITION}:sns:([a-z0-9-]+):(\\d{12}):[\\w-]+$`);
// A key ARN (single- or multi-Region key), not an alias: IAM matches kms:Decrypt on the key's ARN.
const KMS_KEY_ARN = new RegExp(
  `^arn:${PARTITION}:kms:([a-z0-9-]+):(\\d{12}):key/(mrk-[0-9a-f]{32}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12})$`,
);
// RDS: 1-63 letters, digits or hyphens, starting with a letter, no double or trailing hyphen.
const DB_INSTANCE_ID = /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{0,62}(?<!-)$/;
// Secrets Manager names: 1-512 of letters, digits and /_+=.@-
const SECRET_NAME = /^[\w/+=.@-]{1,512}$/;
// Route 53 zone ids are upper-case letters and digits (most, not all, start with Z: AWS does not promise it).
const HOSTED_ZONE_ID = /^(\/hostedzone\/)?[A-Z0-9]{1,32}$/;
const DNS_NAME = /^(?=.{1,253}\.?$)([a-zA-Z0-9_](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}\.?$/;
const UNIT_NAME = /^[a-z][a-z0-9-]{0,39}$/;
const PLAN_NAME = /^[a-zA-Z][a-zA-Z0-9-]{0,39}$/;

/** A string refined by a check that says why it is refused (functions/lib/schedule-expression.ts, regions.ts). */
const checked = (problem: (value: string) => string | undefined) =>
  z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message !== undefined) ctx.addIssue({ code: 'custom', message });
  });

// The SDK's partition data (docs/aws/regions.md): a misspelt Region is reported here, on its own field.
const region = checked(regionProblem);

/** RDS DB instance engines: a unit of a primary instance and its cross-Region read replica. */
export const InstanceEngineSchema = z.enum(['postgres', 'mysql', 'mariadb']);
export type InstanceEngine = z.infer<typeof InstanceEngineSchema>;
/** Aurora engines: a unit of a global database, or of a cross-Region replica cluster (docs/design/aurora.md). */
export const AuroraEngineSchema = z.enum(['aurora-postgresql', 'aurora-mysql']);
export type AuroraEngine = z.infer<typeof AuroraEngineSchema>;
export const EngineSchema = z.enum([...InstanceEngineSchema.options, ...AuroraEngineSchema.options]);
export type Engine = z.infer<typeof EngineSchema>;

const SecretSchema = z.strictObject({
  /** Name or ARN of the multi-Region secret. An ARN must name the replica in the recovery Region. */
  id: z.string().min(1, 'expected a secret name or ARN'),
  /**
   * ARN of the customer managed KMS key that encrypts the secret's replica in the recovery Region. When given, the
   * steps may use only that key for the secret; when absent, any key, through Secrets Manager only (infra/permissions/).
   */
  kmsKeyArn: z
    .string()
    .regex(
      KMS_KEY_ARN,
      'expected a KMS key ARN such as arn:aws:kms:<region>:<account>:key/<key id> (not an alias)',
    )
    .optional(),
});

const InstanceDatabaseSchema = z.strictObject({
  engine: InstanceEngineSchema,
  /** The primary DB instance identifier, in the primary Region. */
  primaryInstanceId: z.string().regex(DB_INSTANCE_ID, 'expected an RDS DB instance identifier'),
  /** The cross-Region read replica's identifier, in the recovery Region. */
  replicaInstanceId: z.string().regex(DB_INSTANCE_ID, 'expected an RDS DB instance identifier'),
  /** Preflight refuses (drill) or warns (failover) when the replica lags more than this. @default 300 */
  maxReplicaLagSeconds: z.number().int().min(0).max(86_400).default(300),
});

/**
 * An Aurora unit (docs/design/aurora.md): with `globalClusterId`, a global database whose secondary cluster in the
 * recovery Region is promoted by FailoverGlobalCluster or SwitchoverGlobalCluster; without it, a cross-Region read
 * replica cluster promoted by PromoteReadReplicaDBCluster (Aurora MySQL only, docs/aws/aurora-global-database.md).
 */
const AuroraDatabaseSchema = z.strictObject({
  engine: AuroraEngineSchema,
  /** The global database (global cluster) identifier; absent for a cross-Region replica cluster unit. */
  globalClusterId: z
    .string()
    .regex(DB_INSTANCE_ID, 'expected an Aurora global cluster identifier')
    .optional(),
  /** The primary DB cluster identifier, in the primary Region. */
  primaryClusterId: z.string().regex(DB_INSTANCE_ID, 'expected an Aurora DB cluster identifier'),
  /** The secondary (or replica) DB cluster identifier, in the recovery Region. */
  replicaClusterId: z.string().regex(DB_INSTANCE_ID, 'expected an Aurora DB cluster identifier'),
  /**
   * Preflight refuses (drill) or warns (failover) when the replica cluster lags more than this (a global database's
   * AuroraGlobalDBReplicationLag is in milliseconds; lifeboat compares it in seconds). @default 300
   */
  maxReplicaLagSeconds: z.number().int().min(0).max(86_400).default(300),
});

const DatabaseSchema = z.discriminatedUnion('engine', [InstanceDatabaseSchema, AuroraDatabaseSchema], {
  error: (issue) =>
    issue.code === 'invalid_union' && 'discriminator' in issue
      ? `expected one of ${EngineSchema.options.map((e) => `"${e}"`).join(', ')}`
      : undefined,
});

const DnsSchema = z.strictObject({
  hostedZoneId: z.string().regex(HOSTED_ZONE_ID, 'expected a Route 53 hosted zone id such as Z0123456789ABC'),
  /** The CNAME that the secret's `host` names. */
  recordName: z.string().regex(DNS_NAME, 'expected a fully qualified DNS name'),
  /** TTL of the CNAME, seconds. @default 60 */
  ttl: z.number().int().min(0).max(86_400).default(60),
  /**
   * `cname`: lifeboat UPSERTs the CNAME (Route 53 control plane, served from us-east-1).
   * `health-check`: the record is a PRIMARY/SECONDARY failover pair whose health check flips on the data plane
   * (what ARC does); lifeboat only waits until the record resolves to the promoted instance. @default "cname"
   */
  strategy: z.enum(['cname', 'health-check']).default('cname'),
  /**
   * Aurora units only. `cluster-endpoint`: the CNAME is pointed at the promoted cluster's cluster (writer) endpoint.
   * `global-writer-endpoint` (global database units only): the CNAME names the global database's writer endpoint,
   * which Aurora moves to the new primary itself; lifeboat does not change the record and only verifies it
   * (docs/aws/aurora-global-database.md, "The global writer endpoint"). @default "cluster-endpoint"
   */
  target: z.enum(['cluster-endpoint', 'global-writer-endpoint']).optional(),
});

const RotationSchema = z.strictObject({
  /** The rotation Lambda in the recovery Region. */
  lambdaArn: z.string().regex(LAMBDA_ARN, 'expected a Lambda function ARN'),
  /** Days between rotations (1-1000) or a `rate()`/`cron()` expression. */
  schedule: z.union([
    z.number().int().min(1).max(1000),
    // Secrets Manager's own grammar and limits (docs/aws/schedule-expressions.md).
    checked(rotationExpressionProblem),
  ]),
  /** Rewrite region-bound fields of the secret value (e.g. `masterarn`) to the recovery Region. @default false */
  rewriteRegionFields: z.boolean().default(false),
});

const VerifySchema = z.strictObject({
  /** Database to connect to. @default the secret's `dbname` */
  database: z.string().min(1).max(63).optional(),
  /** A read query that must succeed. @default "SELECT 1" */
  query: z.string().min(1).max(4096).default('SELECT 1'),
  /** Require TLS, checked against the RDS CA and the endpoint the CNAME points to. @default true */
  requireTls: z.boolean().default(true),
  /**
   * Seconds for one connection attempt and query. At most 90: the rotation step logs in twice within 3x this each,
   * beside its AWS calls, inside Lambda's 15 minutes (infra/constructs/orchestrator.ts, docs/design/timeouts.md).
   * @default 10
   */
  timeoutSeconds: z.number().int().min(1).max(90).default(10),
});

export const UnitSchema = z.strictObject({
  name: z
    .string()
    .regex(UNIT_NAME, 'expected lower-case letters, digits and hyphens, starting with a letter'),
  secret: SecretSchema,
  database: DatabaseSchema,
  dns: DnsSchema,
  rotation: RotationSchema,
  verify: VerifySchema.default({ query: 'SELECT 1', requireTls: true, timeoutSeconds: 10 }),
});
export type UnitPlan = z.infer<typeof UnitSchema>;
export type InstanceDatabase = z.infer<typeof InstanceDatabaseSchema>;
export type AuroraDatabase = z.infer<typeof AuroraDatabaseSchema>;
/** A unit of an RDS DB instance and its cross-Region read replica. */
export type InstanceUnitPlan = UnitPlan & { database: InstanceDatabase };
/** An Aurora unit: a global database or a cross-Region replica cluster (docs/design/aurora.md). */
export type AuroraUnitPlan = UnitPlan & { database: AuroraDatabase };

const AlarmSchema = z.strictObject({
  /** ARN of a CloudWatch alarm whose ALARM state starts a failover (primary or recovery Region). */
  arn: z.string().regex(ALARM_ARN, 'expected a CloudWatch alarm ARN'),
});

const DrillSchema = z.strictObject({
  /** EventBridge Scheduler expression, e.g. `cron(0 10 ? * TUE *)`. */
  schedule: checked(schedulerExpressionProblem),
  /** IANA time zone of the schedule. @default "UTC" */
  timezone: checked(timeZoneProblem).default('UTC'),
});

/** Continuous readiness (docs/design/readiness.md): the read-only preflight on a schedule, as metrics and an alarm. */
const ReadinessSchema = z.strictObject({
  /** EventBridge Scheduler `rate()` expression, or `off`. @default "rate(5 minutes)" */
  schedule: checked(readinessScheduleProblem).default(DEFAULT_READINESS_SCHEDULE),
  /** The plan's readiness alarm goes off after this many evaluations in a row found it not ready. @default 3 */
  alarmAfterFailedEvaluations: z
    .number()
    .int()
    .min(1)
    .max(1440)
    .default(DEFAULT_ALARM_AFTER_FAILED_EVALUATIONS),
});

const VpcSchema = z.strictObject({
  vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, 'expected a VPC id'),
  subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, 'expected a subnet id')).min(1),
  /** Security groups of the databases; the verify function's group is allowed into them on the database port. */
  databaseSecurityGroupIds: z
    .array(z.string().regex(/^sg-[0-9a-f]{8,17}$/, 'expected a security group id'))
    .default([]),
});

export const PlanSchema = z
  .strictObject({
    $schema: z.string().optional(),
    name: z.string().regex(PLAN_NAME, 'expected letters, digits and hyphens, starting with a letter'),
    account: z.string().regex(ACCOUNT, 'expected a 12-digit AWS account id'),
    primaryRegion: region,
    recoveryRegion: region,
    /** Target recovery time, seconds, from the start of the run to verified. */
    targetRtoSeconds: z.number().int().min(1).max(86_400),
    /** Units failed over at once. @default 10 */
    // Up to the run's size: the units' polls and DNS changes are shared (one describe per interval, one batch per
    // zone), so units at once no longer multiply the API calls, and a Distributed Map runs up to 10,000 children at
    // once; a plan has at most 500 units, so 500 lets every run go all at once (docs/design/fleet.md).
    maxConcurrency: z.number().int().min(1).max(500).default(10),
    units: z.array(UnitSchema).min(1, 'expected at least one unit').max(500),
    alarms: z.array(AlarmSchema).default([]),
    approval: z
      .strictObject({
        /** Hold alarm-started failovers for a human's approval. @default false */
        onAlarm: z.boolean().default(false),
        /** How long to wait for the approval before failing. @default 3600 */
        timeoutSeconds: z.number().int().min(60).max(86_400).default(3600),
      })
      .default({ onAlarm: false, timeoutSeconds: 3600 }),
    drill: DrillSchema.optional(),
    readiness: ReadinessSchema.default({
      schedule: DEFAULT_READINESS_SCHEDULE,
      alarmAfterFailedEvaluations: DEFAULT_ALARM_AFTER_FAILED_EVALUATIONS,
    }),
    /** An existing SNS topic for reports; lifeboat's stack makes one when absent. */
    notificationTopicArn: z.string().regex(SNS_ARN, 'expected an SNS topic ARN').optional(),
    vpc: VpcSchema.optional(),
  })
  .superRefine((plan, ctx) => {
    const issue = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: 'custom', path, message });
    if (plan.primaryRegion === plan.recoveryRegion) {
      issue(['recoveryRegion'], `must differ from primaryRegion (${plan.primaryRegion})`);
    }
    // A misspelt Region is reported on its own field (above): ARNs are not compared with it.
    const regionsValid =
      regionProblem(plan.primaryRegion) === undefined && regionProblem(plan.recoveryRegion) === undefined;
    const seen = new Map<string, number>();
    plan.units.forEach((unit, i) => {
      const first = seen.get(unit.name);
      if (first !== undefined)
        issue(['units', i, 'name'], `"${unit.name}" is already the name of units[${first}]`);
      else seen.set(unit.name, i);
      const secretArn = SECRET_ARN.exec(unit.secret.id);
      if (unit.secret.id.startsWith('arn:')) {
        if (!secretArn) issue(['units', i, 'secret', 'id'], 'expected a Secrets Manager secret ARN');
        else checkArnPlace(secretArn, plan, ['units', i, 'secret', 'id'], issue);
      } else if (!SECRET_NAME.test(unit.secret.id)) {
        issue(['units', i, 'secret', 'id'], 'expected a secret name (letters, digits and /_+=.@-) or ARN');
      }
      const keyArn = KMS_KEY_ARN.exec(unit.secret.kmsKeyArn ?? '');
      if (keyArn && keyArn[2] !== plan.recoveryRegion && regionsValid) {
        // The replica is encrypted with a key of its own Region.
        issue(
          ['units', i, 'secret', 'kmsKeyArn'],
          `must be in the recovery Region ${plan.recoveryRegion}, not ${keyArn[2]}`,
        );
      }
      const lambdaArn = LAMBDA_ARN.exec(unit.rotation.lambdaArn);
      if (lambdaArn) checkArnPlace(lambdaArn, plan, ['units', i, 'rotation', 'lambdaArn'], issue);
      const db = unit.database;
      if ('primaryClusterId' in db) {
        if (db.primaryClusterId === db.replicaClusterId) {
          // As for instances: allowed by RDS across Regions, almost always a typo in a plan.
          issue(['units', i, 'database', 'replicaClusterId'], 'must differ from primaryClusterId');
        }
        if (db.globalClusterId === undefined && db.engine === 'aurora-postgresql') {
          issue(
            ['units', i, 'database', 'globalClusterId'],
            'cross-Region replica clusters exist for Aurora MySQL only; use a global database (globalClusterId) for aurora-postgresql',
          );
        }
        if (db.globalClusterId === undefined && unit.dns.target === 'global-writer-endpoint') {
          issue(
            ['units', i, 'dns', 'target'],
            '"global-writer-endpoint" needs a global database unit (database.globalClusterId); a replica cluster unit uses "cluster-endpoint"',
          );
        }
      } else {
        if (db.primaryInstanceId === db.replicaInstanceId) {
          // Same identifier in two Regions is allowed by RDS, but a plan that names both alike is almost always a typo.
          issue(['units', i, 'database', 'replicaInstanceId'], 'must differ from primaryInstanceId');
        }
        if (unit.dns.target !== undefined) {
          issue(
            ['units', i, 'dns', 'target'],
            `applies to Aurora units only (database.engine is ${db.engine})`,
          );
        }
      }
      if (unit.verify.timeoutSeconds > 60 && unit.dns.ttl > 3600) {
        issue(
          ['units', i, 'dns', 'ttl'],
          'a TTL over an hour keeps clients on the failed Region for too long',
        );
      }
    });
    const records = new Map<string, number>();
    plan.units.forEach((unit, i) => {
      const key = unit.dns.recordName.toLowerCase().replace(/\.$/, '');
      const first = records.get(key);
      if (first !== undefined)
        issue(['units', i, 'dns', 'recordName'], `is also the record of units[${first}]`);
      else records.set(key, i);
    });
    plan.alarms.forEach((alarm, i) => {
      const m = ALARM_ARN.exec(alarm.arn);
      if (!m) return;
      if (m[3] !== plan.account) issue(['alarms', i, 'arn'], `must be in account ${plan.account}`);
      if (m[2] !== plan.primaryRegion && m[2] !== plan.recoveryRegion && regionsValid) {
        issue(
          ['alarms', i, 'arn'],
          `must be in ${plan.primaryRegion} or ${plan.recoveryRegion}, not ${m[2]}`,
        );
      }
    });
    const { schedule, alarmAfterFailedEvaluations } = plan.readiness;
    if (schedule !== READINESS_OFF && readinessScheduleProblem(schedule) === undefined) {
      const problem = alarmWindowProblem(rateSeconds(schedule), alarmAfterFailedEvaluations);
      if (problem) issue(['readiness', 'alarmAfterFailedEvaluations'], problem);
    }
    if (plan.notificationTopicArn) {
      const m = SNS_ARN.exec(plan.notificationTopicArn);
      if (m && m[2] !== plan.recoveryRegion && regionsValid) {
        issue(['notificationTopicArn'], `must be in the recovery Region ${plan.recoveryRegion}, not ${m[2]}`);
      }
    }
  });

export type FailoverPlan = z.infer<typeof PlanSchema>;
export type PlanDocument = z.input<typeof PlanSchema>;

function checkArnPlace(
  match: RegExpExecArray,
  plan: { account: string; recoveryRegion: string },
  path: (string | number)[],
  issue: (path: (string | number)[], message: string) => void,
): void {
  const [, , arnRegion, arnAccount] = match;
  // A misspelt recoveryRegion is reported on its own field: comparing ARNs with it would blame the ARNs.
  if (arnRegion !== plan.recoveryRegion && regionProblem(plan.recoveryRegion) === undefined) {
    issue(path, `must be in the recovery Region ${plan.recoveryRegion}, not ${arnRegion}`);
  }
  if (arnAccount !== plan.account) issue(path, `must be in account ${plan.account}, not ${arnAccount}`);
}

/** `units[0].dns.ttl` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(root)';
}

/**
 * The fields an object of `schema` has at `path` (array indexes and wrappers such as defaults see through). At a union
 * (`database`), the fields of the shapes that `unknown` is not a field of: the shape the object was matched to.
 */
function knownKeysAt(
  schema: z.core.$ZodType,
  path: readonly PropertyKey[],
  unknown: readonly string[] = [],
): string[] {
  let node: z.core.$ZodType | undefined = schema;
  const unwrap = (n: z.core.$ZodType | undefined): z.core.$ZodType | undefined => {
    let current = n;
    for (let i = 0; current && i < 10; i++) {
      const def = current._zod.def as unknown as Record<string, unknown> & { type: string };
      if (['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch'].includes(def.type)) {
        current = def.innerType as z.core.$ZodType;
      } else if (def.type === 'pipe') current = def.in as z.core.$ZodType;
      else break;
    }
    return current;
  };
  for (const key of path) {
    node = unwrap(node);
    const def = node?._zod.def as unknown as Record<string, unknown> & { type: string };
    if (def?.type === 'array' && typeof key === 'number') node = def.element as z.core.$ZodType;
    else if (def?.type === 'object' && typeof key === 'string') {
      node = (def.shape as Record<string, z.core.$ZodType>)[key];
    } else return [];
  }
  const def = unwrap(node)?._zod.def as unknown as Record<string, unknown> & { type: string };
  if (def?.type === 'object') return Object.keys(def.shape as object);
  if (def?.type === 'union') {
    const shapes = (def.options as z.core.$ZodType[])
      .map((o) => knownKeysAt(o, []))
      .filter((keys) => !unknown.some((k) => keys.includes(k)));
    return [...new Set(shapes.flat())];
  }
  return [];
}

function describeIssues(error: z.ZodError, root?: string, schema?: z.core.$ZodType): string[] {
  const where = (path: readonly PropertyKey[]) => {
    const formatted = formatPath(path);
    return root ? (path.length ? `${root}.${formatted}` : root) : formatted;
  };
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys' && schema) {
      // One line per unknown field, at the path of its object, with the field it most likely means.
      const known = knownKeysAt(schema, issue.path, issue.keys);
      return issue.keys.map(
        (key) => `${where(issue.path)}: unknown field ${JSON.stringify(key)}${didYouMean(key, known)}`,
      );
    }
    return [`${where(issue.path)}: ${issue.message}`];
  });
}

/** Validates a plan document; throws PlanInvalidError listing every problem with its field path. */
export function parsePlan(document: unknown, source = 'plan'): FailoverPlan {
  const result = PlanSchema.safeParse(document);
  if (result.success) {
    // `$schema` tells an editor where the JSON Schema is (schema/plan.schema.json); it is no part of the plan.
    const { $schema: _editorsOnly, ...plan } = result.data;
    return plan;
  }
  const issues = describeIssues(result.error, undefined, PlanSchema);
  throw new PlanInvalidError(`${source} is invalid:\n  - ${issues.join('\n  - ')}`, issues);
}

// Names derived from a parsed plan, in a module without zod: the steps that only read a plan import them from there
// (docs/design/packaging.md, "Bundle size").
export {
  isAuroraUnit,
  partitionOf,
  primaryInstanceArn,
  recoverySecretId,
} from './plan-names.js';

/* ---------------------------------------------------------------------------------------------- */
/* Execution input                                                                                 */
/* ---------------------------------------------------------------------------------------------- */

export const ModeSchema = z.enum(['failover', 'drill', 'dry-run', 'reprotect', 'switchover']);
export type Mode = z.infer<typeof ModeSchema>;

/**
 * Execution input. `{}` and the console's default `{"Comment": "..."}` mean a full failover; unknown fields are
 * ignored (the console and EventBridge add their own), a known field with a wrong value is an error.
 */
export const ExecutionInputSchema = z.looseObject({
  mode: ModeSchema.default('failover'),
  /** A subset of the plan's units, by name. @default all units */
  units: z.array(z.string().min(1)).min(1, 'expected at least one unit name').optional(),
  reason: z.string().max(1024).optional(),
  trigger: z.enum(['console', 'alarm', 'schedule', 'cli']).default('console'),
  /**
   * Switchover only: how long the replica may take, from the fence, to replay everything the primary committed before
   * it; past it the primary is un-fenced and nothing is promoted (docs/design/switchover.md). @default 300
   */
  catchUpTimeoutSeconds: z.number().int().min(1).max(3600).optional(),
  /**
   * Dry run and drill only: the mode they show or rehearse (docs/design/switchover.md, "Dry run and drill").
   * @default failover
   */
  of: z.enum(['failover', 'switchover', 'reprotect']).optional(),
});
export type ExecutionInput = z.infer<typeof ExecutionInputSchema>;

/** `of` names what a dry run or a drill exercises; any other mode is itself what runs. */
function ofProblem(input: ExecutionInput): string | null {
  if (input.of === undefined) return null;
  if (input.mode !== 'dry-run' && input.mode !== 'drill') {
    return `input.of: only a dry-run or a drill takes "of" (it names what they show or rehearse); mode "${input.mode}" runs itself: remove "of", or use mode "dry-run" or "drill"`;
  }
  if (input.mode === 'drill' && input.of === 'reprotect') {
    return 'input.of: a drill rehearses a failover or a switchover on disposable copies; a re-protect has no such rehearsal (it builds a replica of the current primary in the old Region): use {"mode": "dry-run", "of": "reprotect"} to see its calls';
  }
  return null;
}

export function parseExecutionInput(input: unknown, plan: FailoverPlan): ExecutionInput {
  const value = input === null || input === undefined ? {} : input;
  const result = ExecutionInputSchema.safeParse(value);
  if (!result.success) {
    const issues = describeIssues(result.error, 'input');
    throw new InputInvalidError(`execution input is invalid:\n  - ${issues.join('\n  - ')}`, issues);
  }
  const parsed = result.data;
  const ofIssue = ofProblem(parsed);
  if (ofIssue) throw new InputInvalidError(`execution input is invalid:\n  - ${ofIssue}`, [ofIssue]);
  if (parsed.units) {
    const known = new Set(plan.units.map((u) => u.name));
    const issues = parsed.units.flatMap((name, i) =>
      known.has(name)
        ? []
        : [`input.units[${i}]: "${name}" is not a unit of plan ${plan.name} (${[...known].join(', ')})`],
    );
    const dupes = parsed.units.filter((name, i) => parsed.units?.indexOf(name) !== i);
    for (const d of new Set(dupes)) issues.push(`input.units: "${d}" is listed more than once`);
    if (issues.length) {
      throw new InputInvalidError(`execution input is invalid:\n  - ${issues.join('\n  - ')}`, issues);
    }
  }
  return parsed;
}
