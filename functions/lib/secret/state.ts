import type { LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeSecretCommand,
  type DescribeSecretResponse,
  GetSecretValueCommand,
  type RotationRulesType,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  awsErrorName,
  ConfigurationError,
  type LifeboatError,
  ResourceMissingError,
  toLifeboatError,
} from '../errors.js';
import type { UnitPlan } from '../plan.js';
import { recoverySecretId } from '../plan-names.js';
import type { RunContext } from '../types.js';
import '../sdk/secrets-manager.js';

/**
 * The Secrets Manager side of a failover: promote the replica secret in the recovery Region (promote.ts), re-attach
 * rotation there (rotation.ts), and the read-only preflight checks for both (preflight.ts); this file reads the
 * secret's state for all three. Every call goes to the recovery Region; the primary Region may be down and is never
 * called.
 *
 * Secret material: the value is read only to check its keys (preflight) and to rewrite region-bound fields
 * (attach rotation). It never leaves this module — not in results, errors (no `cause` that could quote it) or logs.
 */

export interface SecretDeps {
  readonly secretsManager: SecretsManagerClient;
}

export interface RotationDeps {
  readonly lambda: LambdaClient;
}

export const AWSCURRENT = 'AWSCURRENT';
export const AWSPENDING = 'AWSPENDING';

export const ARN_WITH_REGION = /^(arn:(?:aws|aws-cn|aws-us-gov):[a-z0-9-]+:)([a-z0-9-]*)(:.*)$/;

/* ---------------------------------------------------------------------------------------------- */
/* Reading the secret's state                                                                      */
/* ---------------------------------------------------------------------------------------------- */

/**
 * What DescribeSecret in the recovery Region says about replication. For a replica, `PrimaryRegion` names the
 * primary's Region; a primary lists its replicas in `ReplicationStatus[]`; a secret never replicated has no
 * `PrimaryRegion` (API_DescribeSecret). The replica's own answer is not documented to carry `ReplicationStatus`:
 * when it does and lists the recovery Region, we use it, otherwise the status is unknown from this side — and we
 * never ask the primary Region, which may be down.
 */
export interface ReplicationView {
  role: 'replica' | 'standalone';
  /** For a replica: the primary's Region. For a standalone secret: `PrimaryRegion` as reported, if any. */
  primaryRegion: string | undefined;
  /** `InSync` / `InProgress` / `Failed` for the recovery Region, when the answer carries it. */
  status: string | undefined;
  statusMessage: string | undefined;
}

export function replicationView(secret: DescribeSecretResponse, recoveryRegion: string): ReplicationView {
  const primaryRegion = secret.PrimaryRegion || undefined;
  const entry = secret.ReplicationStatus?.find((r) => r.Region === recoveryRegion);
  return {
    role: primaryRegion !== undefined && primaryRegion !== recoveryRegion ? 'replica' : 'standalone',
    primaryRegion,
    status: entry?.Status,
    statusMessage: entry?.StatusMessage,
  };
}

export interface StagingView {
  currentVersionId: string | undefined;
  /** The version holding AWSPENDING when it is not also the AWSCURRENT version: an interrupted rotation. */
  stalePendingVersionId: string | undefined;
}

/**
 * RotateSecret fails while AWSPENDING sits on a version other than AWSCURRENT's ("If the staging label AWSPENDING
 * is attached to a different version than the version with AWSCURRENT then the attempt to rotate fails",
 * API_CancelRotateSecret / API_RotateSecret).
 */
export function stagingView(secret: DescribeSecretResponse): StagingView {
  let currentVersionId: string | undefined;
  let pendingVersionId: string | undefined;
  for (const [versionId, stages] of Object.entries(secret.VersionIdsToStages ?? {})) {
    if (stages.includes(AWSCURRENT)) currentVersionId = versionId;
    if (stages.includes(AWSPENDING)) pendingVersionId = versionId;
  }
  return {
    currentVersionId,
    stalePendingVersionId:
      pendingVersionId !== undefined && pendingVersionId !== currentVersionId ? pendingVersionId : undefined,
  };
}

export function where(unit: UnitPlan, run: RunContext): string {
  return `secret "${recoverySecretId(unit)}" in ${run.recoveryRegion}`;
}

/** One SDK call on the secret, its errors sorted: missing secret → ResourceMissingError, the rest by kind. */
export async function secretCall<T>(
  call: string,
  unit: UnitPlan,
  run: RunContext,
  send: () => Promise<T>,
): Promise<T> {
  try {
    return await send();
  } catch (error) {
    throw secretCallError(error, call, unit, run);
  }
}

export function secretCallError(
  error: unknown,
  call: string,
  unit: UnitPlan,
  run: RunContext,
): LifeboatError {
  if (awsErrorName(error) === 'ResourceNotFoundException') {
    return new ResourceMissingError(
      `${call}: ${where(unit, run)} does not exist (unit ${unit.name}; check secret.id and that the secret is replicated to ${run.recoveryRegion})`,
      { cause: error },
    );
  }
  return toLifeboatError(error, `${call} on ${where(unit, run)}`);
}

export async function describeSecret(
  deps: SecretDeps,
  unit: UnitPlan,
  run: RunContext,
): Promise<DescribeSecretResponse> {
  const secret = await secretCall('DescribeSecret', unit, run, () =>
    deps.secretsManager.send(new DescribeSecretCommand({ SecretId: recoverySecretId(unit) })),
  );
  if (secret.DeletedDate) {
    throw new ConfigurationError(
      `${where(unit, run)} is scheduled for deletion (${secret.DeletedDate.toISOString()}); restore it with RestoreSecret before failing over`,
    );
  }
  return secret;
}

/* ---------------------------------------------------------------------------------------------- */
/* The rotation settings                                                                            */
/* ---------------------------------------------------------------------------------------------- */

/** RotateSecret takes either AutomaticallyAfterDays or ScheduleExpression, not both (API_RotationRulesType). */
export function rotationRulesFor(schedule: UnitPlan['rotation']['schedule']): RotationRulesType {
  return typeof schedule === 'number'
    ? { AutomaticallyAfterDays: schedule }
    : { ScheduleExpression: schedule };
}

const normalizeExpression = (expression: string) => expression.trim().replace(/\s+/g, ' ');
const RATE_DAYS = /^rate\((\d+) days?\)$/;

/**
 * Whether the secret already rotates on the plan's schedule. DescribeSecret recomputes AutomaticallyAfterDays
 * from a schedule after each rotation (API_RotationRulesType), so a days schedule may come back either as that
 * number or as `rate(N days)`.
 */
export function rotationRulesMatch(
  current: RotationRulesType | undefined,
  schedule: UnitPlan['rotation']['schedule'],
): boolean {
  if (!current) return false;
  const expression = current.ScheduleExpression ? normalizeExpression(current.ScheduleExpression) : undefined;
  if (typeof schedule === 'number') {
    if (expression === undefined) return current.AutomaticallyAfterDays === schedule;
    const days = RATE_DAYS.exec(expression)?.[1];
    return days !== undefined && Number(days) === schedule;
  }
  return expression === normalizeExpression(schedule);
}

/** True when the secret rotates with the plan's Lambda and schedule: AttachRotation has nothing to change. */
export function rotationAttached(secret: DescribeSecretResponse, unit: UnitPlan): boolean {
  return (
    secret.RotationEnabled === true &&
    secret.RotationLambdaARN === unit.rotation.lambdaArn &&
    rotationRulesMatch(secret.RotationRules, unit.rotation.schedule)
  );
}

/* ---------------------------------------------------------------------------------------------- */
/* Reading the value (never returned)                                                               */
/* ---------------------------------------------------------------------------------------------- */

interface SecretJson {
  json: Record<string, unknown>;
  versionId: string | undefined;
}

export async function readSecretJson(
  deps: SecretDeps,
  run: RunContext,
  unit: UnitPlan,
  secretId: string,
): Promise<SecretJson> {
  const response = await secretCall('GetSecretValue', unit, run, () =>
    deps.secretsManager.send(new GetSecretValueCommand({ SecretId: secretId })),
  );
  return { json: parseSecretJson(response.SecretString, unit, run), versionId: response.VersionId };
}

/** Parses the value. Errors carry no cause: JSON.parse's message quotes the text it failed on. */
function parseSecretJson(text: string | undefined, unit: UnitPlan, run: RunContext): Record<string, unknown> {
  if (text === undefined) {
    throw new ConfigurationError(
      `${where(unit, run)} has no SecretString (binary secret); expected a JSON object`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigurationError(`${where(unit, run)}: the value is not valid JSON; expected a JSON object`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigurationError(`${where(unit, run)}: the value is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}
