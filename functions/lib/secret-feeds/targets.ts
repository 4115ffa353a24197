import * as z from 'zod';
import { ConfigurationError } from '../errors.js';
import { regionProblem } from '../regions.js';

/**
 * The replicator's configuration: which source secrets it copies, and where (docs/design/secret-feeds.md,
 * "Replicator"). The construct (infra/constructs/secret-replicator.ts) validates the same schema at synthesis and
 * passes it to the function as JSON in `REPLICATOR_CONFIG`; the function validates it again at cold start.
 */

const PARTITION = '(aws|aws-cn|aws-us-gov)';
export const SECRET_ARN = new RegExp(
  `^arn:${PARTITION}:secretsmanager:([a-z0-9-]+):(\\d{12}):secret:([\\w/+=.@-]+)-[A-Za-z0-9]{6}$`,
);
export const ROLE_ARN = new RegExp(`^arn:${PARTITION}:iam::(\\d{12}):role/[\\w+=,.@/-]{1,512}$`);
export const KMS_KEY_ARN = new RegExp(
  `^arn:${PARTITION}:kms:([a-z0-9-]+):(\\d{12}):key/(mrk-[0-9a-f]{32}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12})$`,
);
const SECRET_NAME = /^[\w/+=.@-]{1,512}$/;
/** External ids: 2-1224 characters of letters, digits and +=,.@:/- (AssumeRole's ExternalId). */
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
/** Field names the rewrite may set: the value's top-level keys. */
const FIELD = /^[A-Za-z_][\w-]{0,63}$/;

const region = z.string().superRefine((value, ctx) => {
  const problem = regionProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const TargetSchema = z.strictObject({
  /** Region of the target secret. */
  region,
  /** Name of the target secret (not an ARN: a missing target is created with this name). */
  secretName: z.string().regex(SECRET_NAME, 'expected a secret name (letters, digits and /_+=.@-)'),
  /** Role in the target account to assume; absent: the target is in the replicator's own account. */
  roleArn: z.string().regex(ROLE_ARN, 'expected an IAM role ARN').optional(),
  /** The ExternalId the role's trust policy requires; required with `roleArn`. */
  externalId: z.string().regex(EXTERNAL_ID, 'expected 2-1224 letters, digits or +=,.@:/-').optional(),
  /** KMS key (ARN, in the target's Region and account) a missing target is created with. Required. */
  kmsKeyArn: z.string().regex(KMS_KEY_ARN, 'expected a KMS key ARN (not an alias)'),
  /** Fields of the JSON value set to a fixed value in this target, e.g. `{"host": "db.eu-west-1.example.com"}`. */
  setFields: z
    .record(z.string().regex(FIELD, 'expected a field name'), z.union([z.string(), z.number()]))
    .optional(),
  /**
   * Rewrite ARNs in the value's string fields from the source's Region (and account, for a target in another account)
   * to the target's. @default false
   */
  rewriteArns: z.boolean().default(false),
});
export type ReplicationTarget = z.infer<typeof TargetSchema>;

export const SourceSchema = z.strictObject({
  /** Full ARN of the source secret (with its six-character suffix): the rule and the IAM grants name it exactly. */
  secretArn: z.string().regex(SECRET_ARN, 'expected the full ARN of a secret, ending in -<6 characters>'),
  targets: z.array(TargetSchema).min(1, 'expected at least one target').max(20),
});
export type ReplicationSource = z.infer<typeof SourceSchema>;

export const ReplicatorConfigSchema = z.strictObject({
  sources: z.array(SourceSchema).min(1, 'expected at least one source').max(50),
  /** SNS topic that hears of every failure. */
  failureTopicArn: z.string().optional(),
  /** CloudWatch namespace of the failure metric. @default "lifeboat/SecretFeeds" */
  metricNamespace: z.string().min(1).max(255).default('lifeboat/SecretFeeds'),
  /** Name of this replicator, the metric's dimension. */
  name: z.string().min(1).max(64),
});
export type ReplicatorConfig = z.infer<typeof ReplicatorConfigSchema>;
export type ReplicatorConfigInput = z.input<typeof ReplicatorConfigSchema>;

export interface SecretArnParts {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly name: string;
}

export function secretArnParts(arn: string): SecretArnParts | undefined {
  const m = SECRET_ARN.exec(arn);
  if (!m) return undefined;
  return { partition: m[1] as string, region: m[2] as string, account: m[3] as string, name: m[4] as string };
}

/** The account a target lives in: the role's, or the source's when there is no role. */
export function targetAccount(target: ReplicationTarget, sourceAccount: string): string {
  return target.roleArn ? (ROLE_ARN.exec(target.roleArn)?.[2] as string) : sourceAccount;
}

/**
 * Validates a configuration: the schema, then what the schema cannot see. Every problem is listed, with its path.
 * Throws ConfigurationError.
 */
export function parseReplicatorConfig(input: unknown, source = 'replicator config'): ReplicatorConfig {
  const result = ReplicatorConfigSchema.safeParse(input);
  const problems: string[] = [];
  const path = (p: readonly PropertyKey[]) =>
    p.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i ? '.' : ''}${String(k)}`)).join('') || '(root)';
  if (!result.success) {
    for (const issue of result.error.issues) problems.push(`${path(issue.path)}: ${issue.message}`);
    throw new ConfigurationError(`${source} is invalid:\n  - ${problems.join('\n  - ')}`);
  }
  const config = result.data;
  const seenSources = new Map<string, number>();
  config.sources.forEach((s, i) => {
    const parts = secretArnParts(s.secretArn) as SecretArnParts;
    const first = seenSources.get(s.secretArn);
    if (first !== undefined) problems.push(`sources[${i}].secretArn: also sources[${first}]`);
    seenSources.set(s.secretArn, i);
    const seenTargets = new Map<string, number>();
    s.targets.forEach((t, j) => {
      const at = `sources[${i}].targets[${j}]`;
      const account = targetAccount(t, parts.account);
      if (t.roleArn && !t.externalId) {
        problems.push(
          `${at}.externalId: required with roleArn (the role's trust policy must demand it: the confused-deputy guard)`,
        );
      }
      if (t.externalId && !t.roleArn) problems.push(`${at}.externalId: only has a meaning with roleArn`);
      if (account === parts.account && t.region === parts.region && t.secretName === parts.name) {
        problems.push(`${at}: is the source secret itself`);
      }
      const key = KMS_KEY_ARN.exec(t.kmsKeyArn);
      if (key && key[2] !== t.region) {
        problems.push(`${at}.kmsKeyArn: must be a key in the target's Region ${t.region}, not ${key[2]}`);
      }
      if (key && key[3] !== account) {
        problems.push(`${at}.kmsKeyArn: must be a key of the target's account ${account}, not ${key[3]}`);
      }
      const id = `${account}/${t.region}/${t.secretName}`;
      const firstTarget = seenTargets.get(id);
      if (firstTarget !== undefined) problems.push(`${at}: the same secret as targets[${firstTarget}]`);
      seenTargets.set(id, j);
    });
  });
  if (problems.length) throw new ConfigurationError(`${source} is invalid:\n  - ${problems.join('\n  - ')}`);
  return config;
}

/**
 * The value a target receives. A JSON object value is rewritten per target (fields set, ARNs moved to the target's
 * Region and account); any other value is copied as it is, and a target that asks for a rewrite of it is refused.
 * Messages name fields, never values.
 */
export function targetValue(secretString: string, target: ReplicationTarget, source: SecretArnParts): string {
  const rewrites = target.rewriteArns || Object.keys(target.setFields ?? {}).length > 0;
  if (!rewrites) return secretString;
  let value: unknown;
  try {
    value = JSON.parse(secretString);
  } catch {
    value = undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigurationError(
      `target ${target.secretName} in ${target.region} asks for a rewrite, but the source's value is not a JSON object`,
    );
  }
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  if (target.rewriteArns) {
    const account = targetAccount(target, source.account);
    const arn = new RegExp(
      `(arn:${source.partition}:[a-z0-9-]+:)${source.region}:(${source.account})?:`,
      'g',
    );
    for (const [key, field] of Object.entries(out)) {
      if (typeof field !== 'string') continue;
      out[key] = field.replace(
        arn,
        (_m, head: string, acct?: string) => `${head}${target.region}:${acct ? account : ''}:`,
      );
    }
  }
  for (const [key, field] of Object.entries(target.setFields ?? {})) out[key] = field;
  return JSON.stringify(out);
}
