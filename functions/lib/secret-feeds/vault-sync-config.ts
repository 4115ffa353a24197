import * as z from 'zod';
import { ConfigurationError } from '../errors.js';
import { regionProblem } from '../regions.js';

/**
 * What one Vault sync does (docs/design/vault-sync.md): which KV v2 folder it reads, which Secrets Manager names it
 * writes, what it does with a secret that disappeared from Vault. The construct writes it as JSON into the function's
 * environment (`LIFEBOAT_VAULT_SYNC_CONFIG`); nothing secret is in it. The Vault credential lives in its own secret.
 */

export const VAULT_SYNC_CONFIG_ENV = 'LIFEBOAT_VAULT_SYNC_CONFIG';

const PARTITION = '(aws|aws-cn|aws-us-gov)';
const SECRET_ARN = new RegExp(`^arn:${PARTITION}:secretsmanager:[a-z0-9-]+:\\d{12}:secret:[\\w/+=.@-]+$`);
const SNS_ARN = new RegExp(`^arn:${PARTITION}:sns:[a-z0-9-]+:\\d{12}:[\\w-]+$`);
/** Secrets Manager names: 1-512 of letters, digits and /_+=.@- */
export const SECRET_NAME = /^[\w/+=.@-]{1,512}$/;
/** One Vault path segment the sync accepts: what a Secrets Manager name can hold, and never `.` or `..`. */
const SEGMENT = /^(?!\.{1,2}$)[\w+=.@-]+$/;

const vaultPath = (what: string) =>
  z.string().superRefine((value, ctx) => {
    const problem = pathProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: `${what}: ${problem}` });
  });

export const VaultSyncConfigSchema = z.strictObject({
  /** Vault's address, e.g. https://vault.example.com:8200 */
  vaultAddress: z.string().regex(/^https?:\/\/[^/\s]+\/?$/, 'expected http(s)://host[:port]'),
  /** Vault Enterprise / HCP namespace. */
  vaultNamespace: z.string().min(1).optional(),
  /** Where the KV v2 engine is mounted. @default "secret" */
  mount: vaultPath('mount').default('secret'),
  /** The folder under the mount that is synced, recursively, e.g. `apps/prod`. */
  prefix: vaultPath('prefix'),
  /** The Secrets Manager name of Vault secret `<prefix>/<rel>` is `<namePrefix><rel>`. Ends with `/`. */
  namePrefix: z
    .string()
    .regex(
      /^[\w/+=.@-]{1,256}\/$/,
      'expected letters, digits and /_+=.@- ending with "/", e.g. "vault/apps/prod/"',
    ),
  /** ARN of the secret that holds the read-only Vault credential (docs/design/vault-sync.md, "Credential"). */
  credentialSecretArn: z.string().regex(SECRET_ARN, 'expected a Secrets Manager secret ARN'),
  /** Key for the secrets the sync creates (ARN, id or alias). @default the account's aws/secretsmanager key */
  kmsKeyId: z.string().min(1).optional(),
  /** Replica Regions of the secrets the sync creates: they are then ready for a failover (ReplicatedSecret). */
  replicaRegions: z
    .array(
      z.strictObject({
        region: z.string().superRefine((value, ctx) => {
          const problem = regionProblem(value);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
        kmsKeyId: z.string().min(1).optional(),
      }),
    )
    .default([]),
  /** What happens to a synced secret whose Vault secret disappeared or whose current version was deleted or destroyed. */
  removed: z.enum(['keep', 'delete']).default('keep'),
  /** Recovery window of `removed: delete`, 7-30 days. @default 30 */
  recoveryWindowDays: z.number().int().min(7).max(30).default(30),
  /** Seconds between two scheduled runs: written into the last-sync record (docs/design/secret-feeds.md). */
  intervalSeconds: z.number().int().positive(),
  /** Topic for failure reports. */
  topicArn: z.string().regex(SNS_ARN, 'expected an SNS topic ARN').optional(),
});

export type VaultSyncConfig = z.infer<typeof VaultSyncConfigSchema>;
export type VaultSyncConfigInput = z.input<typeof VaultSyncConfigSchema>;

export function parseVaultSyncConfig(input: unknown): VaultSyncConfig {
  const parsed = VaultSyncConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new ConfigurationError(`Vault sync configuration is invalid: ${issues.join('; ')}`);
  }
  return parsed.data;
}

/** The Vault credential: a token, or Vault's AWS IAM auth method with the function's own role. */
const CredentialSchema = z.union([
  z.strictObject({ token: z.string().min(1) }),
  z.strictObject({
    aws: z.strictObject({
      /** The Vault role bound to the function's IAM role. */
      role: z.string().min(1),
      /** Where the AWS auth method is mounted. @default "aws" */
      mount: vaultPath('aws.mount').default('aws'),
      /** X-Vault-AWS-IAM-Server-ID, when the Vault role requires one. */
      serverId: z.string().min(1).optional(),
      /** @default us-east-1 */
      stsRegion: z.string().min(1).optional(),
      stsEndpoint: z.string().url().optional(),
    }),
  }),
]);

export type VaultCredential = z.infer<typeof CredentialSchema>;

/**
 * The credential secret's value, parsed. Errors name what is wrong and never quote the value (JSON.parse's own
 * message quotes the text it stopped at, so it is not passed on).
 */
export function parseCredential(secretString: string | undefined, secretId: string): VaultCredential {
  if (secretString === undefined) {
    throw new ConfigurationError(`the Vault credential secret ${secretId} has no string value`);
  }
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    throw new ConfigurationError(
      `the Vault credential secret ${secretId} is not JSON: expected {"token": "..."} or {"aws": {"role": "..."}}`,
    );
  }
  const parsed = CredentialSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigurationError(
      `the Vault credential secret ${secretId} holds neither {"token": "..."} nor {"aws": {"role": "..."}} (fields found: ${
        json && typeof json === 'object' ? Object.keys(json).join(', ') || 'none' : typeof json
      })`,
    );
  }
  return parsed.data;
}

/** Why `path` is not a Vault path the sync accepts (segments of letters, digits and _+=.@-; no `.`, `..`, `//`). */
export function pathProblem(path: string): string | undefined {
  if (path === '') return 'is empty';
  if (path.startsWith('/') || path.endsWith('/')) return `"${path}" starts or ends with "/"`;
  const bad = path.split('/').find((s) => !SEGMENT.test(s));
  if (bad !== undefined) {
    return `"${path}" has a segment "${bad}" that is empty, "." or "..", or holds a character outside letters, digits and _+=.@-`;
  }
  return undefined;
}

/**
 * Where one Vault secret lives and which AWS secret it feeds. `rel` is its path under the prefix, e.g. `orders/db`.
 */
export interface Mapping {
  readonly rel: string;
  /** Path in the mount: `<prefix>/<rel>` */
  readonly vaultPath: string;
  /** `<mount>/<prefix>/<rel>`: the `lifeboat:vault-path` tag. */
  readonly fullPath: string;
  readonly secretName: string;
}

/** The mapping of `rel`, or a problem when it would leave the prefix or cannot be a Secrets Manager name. */
export function mapping(config: VaultSyncConfig, rel: string): { mapping: Mapping } | { problem: string } {
  const problem = pathProblem(rel);
  if (problem) return { problem: `Vault path under ${config.mount}/${config.prefix}/ refused: ${problem}` };
  const secretName = `${config.namePrefix}${rel}`;
  if (!SECRET_NAME.test(secretName)) {
    return {
      problem: `${config.mount}/${config.prefix}/${rel} cannot be a Secrets Manager name (${secretName.length} characters, at most 512)`,
    };
  }
  const vaultPath = `${config.prefix}/${rel}`;
  return { mapping: { rel, vaultPath, fullPath: `${config.mount}/${vaultPath}`, secretName } };
}

/** The `rel` of a `lifeboat:vault-path` tag value, or a problem when it is not under this sync's mount and prefix. */
export function relOfTag(config: VaultSyncConfig, tag: string): { rel: string } | { problem: string } {
  const base = `${config.mount}/${config.prefix}/`;
  if (!tag.startsWith(base)) return { problem: `its Vault path ${tag} is outside ${base}` };
  const rel = tag.slice(base.length);
  const problem = pathProblem(rel);
  return problem ? { problem: `its Vault path ${tag} is refused: ${problem}` } : { rel };
}
