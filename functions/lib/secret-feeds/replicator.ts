import { type CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  DescribeSecretCommand,
  type DescribeSecretResponse,
  GetSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { ConfigurationError, SecretFeedError, toLifeboatError } from '../errors.js';
import { namesSecret, readSecretEvent } from './event.js';
import { recordSync, type SecretValue, type WriteOutcome, writeSecretVersion } from './secret-writer.js';
import {
  type ReplicationSource,
  type ReplicationTarget,
  type ReplicatorConfig,
  type SecretArnParts,
  secretArnParts,
  targetAccount,
  targetValue,
} from './targets.js';
import '../sdk/cloudwatch.js';
import '../sdk/secrets-manager.js';
import '../sdk/sns.js';

/**
 * The event-driven replicator (docs/design/secret-feeds.md, "Replicator"): on a Secrets Manager event about a
 * configured source secret, read the source's AWSCURRENT value and version id once, and write them to every target of
 * that source — another Region, another account through a role assumed with an external id, another name, a value
 * rewritten per target — with the source's version id as ClientRequestToken, so that a repeated event changes nothing.
 *
 * It reads the source's current version when it runs, not the version the event names: a late or repeated event copies
 * what is current now. The function runs one at a time (reserved concurrency 1, infra/constructs/secret-replicator.ts),
 * so two deliveries never race to set AWSCURRENT on a target.
 *
 * No value is logged or reported: results and errors carry ids, Regions, names and error names.
 */

export interface TemporaryCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
}

export interface ReplicatorDeps {
  /** A Secrets Manager client for `region`, with `credentials` when given (an assumed role's). */
  secretsManager(region: string, credentials?: TemporaryCredentials): SecretsManagerClient;
  /** sts:AssumeRole with the external id; the credentials of the session. */
  assumeRole(roleArn: string, externalId: string, sessionName: string): Promise<TemporaryCredentials>;
  readonly sns: SNSClient;
  readonly cloudwatch: CloudWatchClient;
  now(): Date;
  log(message: string, fields: Record<string, unknown>): void;
}

export interface TargetResult {
  readonly source: string;
  readonly region: string;
  readonly account: string;
  readonly secretName: string;
  readonly outcome: WriteOutcome | 'failed';
  /** The version the target now has as AWSCURRENT (the source's version id), when it succeeded. */
  readonly versionId?: string;
  readonly error?: { readonly name: string; readonly message: string };
}

export type ReplicationReport =
  | { readonly ignored: string }
  | {
      readonly trigger: string;
      readonly sources: readonly { readonly arn: string; readonly versionId?: string }[];
      readonly targets: readonly TargetResult[];
    };

export const FAILURE_METRIC = 'ReplicationFailures';
export const SUCCESS_METRIC = 'TargetsReplicated';
const SESSION_NAME = 'lifeboat-replicator';

export async function replicate(
  deps: ReplicatorDeps,
  config: ReplicatorConfig,
  event: unknown,
): Promise<ReplicationReport> {
  const read = readSecretEvent(event);
  if ('ignored' in read) {
    deps.log('event ignored', { reason: read.ignored });
    return read;
  }
  const sources = config.sources.filter((s) => {
    const parts = secretArnParts(s.secretArn) as SecretArnParts;
    return read.secretIds.some(
      (id) =>
        namesSecret(id, s.secretArn) &&
        (id.startsWith('arn:') ||
          ((read.region ?? parts.region) === parts.region &&
            (read.account ?? parts.account) === parts.account)),
    );
  });
  if (sources.length === 0) {
    const reason = `${read.trigger} on ${read.secretIds[0]}: not a source of this replicator`;
    deps.log('event ignored', { reason });
    return { ignored: reason };
  }
  const done = await Promise.all(sources.map((source) => replicateSource(deps, source)));
  const targets = done.flatMap((d) => d.targets);
  const failed = targets.filter((t) => t.outcome === 'failed');
  await report(deps, config, read.trigger, targets);
  for (const t of targets) {
    deps.log('target', {
      source: t.source,
      region: t.region,
      account: t.account,
      secretName: t.secretName,
      outcome: t.outcome,
      ...(t.versionId ? { versionId: t.versionId } : {}),
      ...(t.error ? { error: t.error.name, message: t.error.message } : {}),
    });
  }
  if (failed.length) {
    const lines = failed.map(describeFailure);
    throw new SecretFeedError(
      `replicator ${config.name}: ${failed.length} of ${targets.length} target(s) failed (Lambda retries the event):\n  - ${lines.join('\n  - ')}`,
      lines,
    );
  }
  return {
    trigger: read.trigger,
    sources: done.map((d) => ({ arn: d.arn, ...(d.versionId ? { versionId: d.versionId } : {}) })),
    targets,
  };
}

async function replicateSource(
  deps: ReplicatorDeps,
  source: ReplicationSource,
): Promise<{ arn: string; versionId?: string; targets: TargetResult[] }> {
  const parts = secretArnParts(source.secretArn) as SecretArnParts;
  const client = deps.secretsManager(parts.region);
  let value: SecretValue;
  let versionId: string;
  let described: DescribeSecretResponse;
  try {
    const [current, description] = await Promise.all([
      client.send(new GetSecretValueCommand({ SecretId: source.secretArn, VersionStage: 'AWSCURRENT' })),
      client.send(new DescribeSecretCommand({ SecretId: source.secretArn })),
    ]);
    if (!current.VersionId) throw new ConfigurationError(`${source.secretArn} answered no VersionId`);
    versionId = current.VersionId;
    value = {
      ...(current.SecretString !== undefined ? { secretString: current.SecretString } : {}),
      ...(current.SecretBinary !== undefined ? { secretBinary: current.SecretBinary } : {}),
    };
    described = description;
  } catch (error) {
    const e = toLifeboatError(error, `reading the source ${source.secretArn}`);
    return {
      arn: source.secretArn,
      targets: source.targets.map((t) => failure(source, parts, t, e)),
    };
  }
  const intervalSeconds = rotationIntervalSeconds(described);
  const targets = await Promise.all(
    source.targets.map((target) =>
      replicateTarget(deps, source, parts, target, value, versionId, described.Description, intervalSeconds),
    ),
  );
  return { arn: source.secretArn, versionId, targets };
}

async function replicateTarget(
  deps: ReplicatorDeps,
  source: ReplicationSource,
  parts: SecretArnParts,
  target: ReplicationTarget,
  value: SecretValue,
  versionId: string,
  description: string | undefined,
  intervalSeconds: number | undefined,
): Promise<TargetResult> {
  const account = targetAccount(target, parts.account);
  let client: SecretsManagerClient | undefined;
  try {
    const credentials =
      target.roleArn !== undefined
        ? await assume(deps, target.roleArn, target.externalId as string)
        : undefined;
    client = deps.secretsManager(target.region, credentials);
    let written: SecretValue = value;
    if (value.secretString !== undefined) {
      written = { secretString: targetValue(value.secretString, target, parts) };
    } else if (target.rewriteArns || Object.keys(target.setFields ?? {}).length) {
      throw new ConfigurationError(
        `target ${target.secretName} in ${target.region} asks for a rewrite, but the source's value is binary`,
      );
    }
    const result = await writeSecretVersion(
      client,
      {
        secretId: target.secretName,
        region: target.region,
        kmsKeyId: target.kmsKeyArn,
        ...(description ? { description } : {}),
      },
      written,
      versionId,
    );
    await recordSync(client, result.arn, target.region, {
      feed: 'replicator',
      lastSync: deps.now(),
      status: 'ok',
      ...(intervalSeconds !== undefined ? { intervalSeconds } : {}),
    });
    return {
      source: source.secretArn,
      region: target.region,
      account,
      secretName: target.secretName,
      outcome: result.outcome,
      versionId: result.versionId,
    };
  } catch (error) {
    const e = toLifeboatError(error, `replicating to ${target.secretName} in ${target.region}`);
    if (client && !/is a replica of/.test(e.message)) {
      // Best effort: the record says the last attempt failed, so that preflight warns (a replica cannot be tagged).
      await recordSync(client, target.secretName, target.region, {
        feed: 'replicator',
        lastSync: deps.now(),
        status: 'failed',
        ...(intervalSeconds !== undefined ? { intervalSeconds } : {}),
      }).catch(() => undefined);
    }
    return failure(source, parts, target, e);
  }
}

async function assume(
  deps: ReplicatorDeps,
  roleArn: string,
  externalId: string,
): Promise<TemporaryCredentials> {
  try {
    return await deps.assumeRole(roleArn, externalId, SESSION_NAME);
  } catch (error) {
    throw toLifeboatError(error, `AssumeRole ${roleArn} (with the configured external id)`);
  }
}

function failure(
  source: ReplicationSource,
  parts: SecretArnParts,
  target: ReplicationTarget,
  error: Error,
): TargetResult {
  return {
    source: source.secretArn,
    region: target.region,
    account: targetAccount(target, parts.account),
    secretName: target.secretName,
    outcome: 'failed',
    error: { name: error.name, message: error.message },
  };
}

function describeFailure(t: TargetResult): string {
  return `${t.secretName} in ${t.region} (account ${t.account}) from ${t.source}: ${t.error?.name}: ${t.error?.message}`;
}

/** Failures to the topic, and both counts to CloudWatch. A failed report is logged, never thrown over the result. */
async function report(
  deps: ReplicatorDeps,
  config: ReplicatorConfig,
  trigger: string,
  targets: readonly TargetResult[],
): Promise<void> {
  const failed = targets.filter((t) => t.outcome === 'failed');
  const dimensions = [{ Name: 'Replicator', Value: config.name }];
  const tasks: Promise<unknown>[] = [
    deps.cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: config.metricNamespace,
        MetricData: [
          { MetricName: FAILURE_METRIC, Dimensions: dimensions, Unit: 'Count', Value: failed.length },
          {
            MetricName: SUCCESS_METRIC,
            Dimensions: dimensions,
            Unit: 'Count',
            Value: targets.length - failed.length,
          },
        ],
      }),
    ),
  ];
  if (failed.length && config.failureTopicArn) {
    tasks.push(
      deps.sns.send(
        new PublishCommand({
          TopicArn: config.failureTopicArn,
          Subject: `lifeboat replicator ${config.name}: ${failed.length} target(s) not updated`.slice(0, 100),
          Message: [
            `After ${trigger}, the replicator ${config.name} could not update ${failed.length} of ${targets.length} target(s).`,
            'Lambda retries the event; when the retries run out it lands in the dead-letter queue.',
            '',
            ...failed.map((t) => `- ${describeFailure(t)}`),
          ].join('\n'),
        }),
      ),
    );
  }
  const settled = await Promise.allSettled(tasks);
  for (const s of settled) {
    if (s.status === 'rejected') {
      deps.log('report failed', { error: (s.reason as Error)?.name ?? 'Error' });
    }
  }
}

/**
 * The source's rotation schedule in seconds, the interval within which a target should hear again: days, or a
 * `rate()` expression. A cron schedule or none: undefined (the record then has no interval, and only a failed
 * sync warns).
 */
export function rotationIntervalSeconds(secret: DescribeSecretResponse): number | undefined {
  if (!secret.RotationEnabled) return undefined;
  const rules = secret.RotationRules;
  if (rules?.AutomaticallyAfterDays) return rules.AutomaticallyAfterDays * 86_400;
  const rate = /^rate\((\d+) (hour|hours|day|days)\)$/.exec(rules?.ScheduleExpression?.trim() ?? '');
  if (rate) return Number(rate[1]) * (rate[2]?.startsWith('hour') ? 3_600 : 86_400);
  return undefined;
}
