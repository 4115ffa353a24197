import {
  CreateSecretCommand,
  DescribeSecretCommand,
  type DescribeSecretResponse,
  PutSecretValueCommand,
  type SecretsManagerClient,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import {
  awsErrorName,
  ConfigurationError,
  ResourceMissingError,
  TransientAwsError,
  toLifeboatError,
} from '../errors.js';
import { type FeedRecord, feedTags } from './feed-record.js';
import '../sdk/secrets-manager.js';

/**
 * Writes one version of a secret the way every feed must (docs/design/secret-feeds.md, "Writing a target"):
 *
 * - the version id is the caller's `token` (ClientRequestToken): the same token with the same value is a no-op, with
 *   another value Secrets Manager answers ResourceExistsException, which is reported, never overwritten
 *   (docs/aws/secrets-manager-replication.md, "ClientRequestToken");
 * - a target that is a replica secret is refused before anything is written (a replica is read-only, and writing its
 *   name in its primary's Region would overwrite someone else's secret);
 * - a missing target is created with the given KMS key and description (the source may have none);
 * - AWSCURRENT ends on that version: PutSecretValue moves it for a new version; for one that already existed (a
 *   repeated event after the label was moved away) it is moved with UpdateSecretVersionStage.
 *
 * The value is passed through, never logged, never put in an error: errors carry the SDK error's name and the ids.
 */

export interface SecretValue {
  readonly secretString?: string;
  /** As the SDK returns it. */
  readonly secretBinary?: Uint8Array;
}

export interface WriteTarget {
  /** Name (or ARN) of the secret to write, in the client's Region and account. */
  readonly secretId: string;
  /** Region of the client, for messages and the replica check. */
  readonly region: string;
  /** Key to create a missing target with (ARN, id or alias of a key in the target's Region and account). */
  readonly kmsKeyId: string;
  /** Description of a target created here. @default none */
  readonly description?: string;
}

export type WriteOutcome = 'created' | 'updated' | 'unchanged';

export interface WriteResult {
  readonly outcome: WriteOutcome;
  readonly arn: string;
  readonly versionId: string;
}

const AWSCURRENT = 'AWSCURRENT';

export async function writeSecretVersion(
  client: SecretsManagerClient,
  target: WriteTarget,
  value: SecretValue,
  token: string,
): Promise<WriteResult> {
  if (value.secretString === undefined && value.secretBinary === undefined) {
    throw new ConfigurationError(`nothing to write to ${target.secretId}: the source version has no value`);
  }
  const existing = await describe(client, target);
  if (!existing) return create(client, target, value, token);
  if (existing.PrimaryRegion && existing.PrimaryRegion !== target.region) {
    throw new ConfigurationError(
      `${target.secretId} in ${target.region} is a replica of a secret in ${existing.PrimaryRegion}: a replica cannot be written, and lifeboat does not write its primary; name a standalone secret as the target`,
    );
  }
  if (existing.DeletedDate !== undefined) {
    throw new ConfigurationError(
      `${target.secretId} in ${target.region} is scheduled for deletion; restore it (RestoreSecret) or name another target`,
    );
  }
  const before = existing.VersionIdsToStages ?? {};
  const alreadyCurrent = (before[token] ?? []).includes(AWSCURRENT);
  let stages: string[] | undefined;
  try {
    const put = await client.send(
      new PutSecretValueCommand({
        SecretId: existing.ARN ?? target.secretId,
        ClientRequestToken: token,
        ...(value.secretString !== undefined ? { SecretString: value.secretString } : {}),
        ...(value.secretBinary !== undefined ? { SecretBinary: value.secretBinary } : {}),
      }),
    );
    stages = put.VersionStages;
  } catch (error) {
    if (awsErrorName(error) === 'ResourceExistsException') {
      throw new ConfigurationError(
        `${target.secretId} in ${target.region} already has a version ${token} with a different value (was the target written by hand, or its rewrite changed?); it is left as it is`,
      );
    }
    throw toLifeboatError(error, `PutSecretValue on ${target.secretId} in ${target.region}`);
  }
  const versionExisted = token in before;
  if (!(stages ?? []).includes(AWSCURRENT)) {
    // The version was there already (same token, same value: PutSecretValue did nothing) without AWSCURRENT.
    const holder = Object.entries(before).find(([, s]) => s.includes(AWSCURRENT))?.[0];
    try {
      await client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: existing.ARN ?? target.secretId,
          VersionStage: AWSCURRENT,
          MoveToVersionId: token,
          ...(holder && holder !== token ? { RemoveFromVersionId: holder } : {}),
        }),
      );
    } catch (error) {
      throw toLifeboatError(error, `UpdateSecretVersionStage on ${target.secretId} in ${target.region}`);
    }
  }
  return {
    outcome: versionExisted && alreadyCurrent ? 'unchanged' : 'updated',
    arn: existing.ARN ?? target.secretId,
    versionId: token,
  };
}

/** Records the feed's last sync on the secret (functions/lib/secret-feeds/feed-record.ts). */
export async function recordSync(
  client: SecretsManagerClient,
  secretId: string,
  region: string,
  record: FeedRecord,
): Promise<void> {
  try {
    await client.send(new TagResourceCommand({ SecretId: secretId, Tags: feedTags(record) }));
  } catch (error) {
    throw toLifeboatError(error, `TagResource (last-sync record) on ${secretId} in ${region}`);
  }
}

async function describe(
  client: SecretsManagerClient,
  target: WriteTarget,
): Promise<DescribeSecretResponse | undefined> {
  try {
    return await client.send(new DescribeSecretCommand({ SecretId: target.secretId }));
  } catch (error) {
    if (awsErrorName(error) === 'ResourceNotFoundException') return undefined;
    throw toLifeboatError(error, `DescribeSecret on ${target.secretId} in ${target.region}`);
  }
}

async function create(
  client: SecretsManagerClient,
  target: WriteTarget,
  value: SecretValue,
  token: string,
): Promise<WriteResult> {
  try {
    const created = await client.send(
      new CreateSecretCommand({
        Name: target.secretId,
        ClientRequestToken: token,
        KmsKeyId: target.kmsKeyId,
        // The source may have no description (the published sample crashed on it): then none is set.
        ...(target.description ? { Description: target.description } : {}),
        ...(value.secretString !== undefined ? { SecretString: value.secretString } : {}),
        ...(value.secretBinary !== undefined ? { SecretBinary: value.secretBinary } : {}),
      }),
    );
    return { outcome: 'created', arn: created.ARN ?? target.secretId, versionId: created.VersionId ?? token };
  } catch (error) {
    const name = awsErrorName(error);
    if (name === 'ResourceExistsException') {
      // Created meanwhile (a concurrent delivery): the next delivery writes it as an existing target.
      throw new TransientAwsError(
        `CreateSecret ${target.secretId} in ${target.region}: created meanwhile by another delivery; the retry writes it`,
      );
    }
    if (
      name === 'NotFoundException' ||
      name === 'KMSInvalidStateException' ||
      name === 'InvalidParameterException' ||
      name === 'EncryptionFailure'
    ) {
      throw new ResourceMissingError(
        `CreateSecret ${target.secretId} in ${target.region} failed with ${name}: is the target's KMS key ${target.kmsKeyId} there, enabled, in ${target.region}, and may this role use it through Secrets Manager? Nothing was written`,
      );
    }
    throw toLifeboatError(error, `CreateSecret ${target.secretId} in ${target.region}`);
  }
}
