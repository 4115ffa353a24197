import { createHash } from 'node:crypto';
import { GetFunctionCommand, GetPolicyCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { RDSClient } from '@aws-sdk/client-rds';
import {
  DescribeSecretCommand,
  type DescribeSecretResponse,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  type RotationRulesType,
  type SecretsManagerClient,
  StopReplicationToReplicaCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { type CredentialCheckDeps, type LoginVerdict, tryLogin } from './credential-check.js';
import {
  awsErrorName,
  ConfigurationError,
  isTransientAwsError,
  type LifeboatError,
  ResourceBusyError,
  ResourceMissingError,
  RotationBlockedError,
  toLifeboatError,
} from './errors.js';
import type { Engine, UnitPlan } from './plan.js';
import { recoverySecretId } from './plan-names.js';
import { promotedTarget } from './promoted-target.js';
import { feedReadinessChecks } from './secret-feeds/readiness.js';
import { type StepBody, timedStep } from './step.js';
import type { DetailValue, PreflightCheck, RunContext, StepResult, UnitStepInput } from './types.js';
import './sdk/lambda.js';
import './sdk/secrets-manager.js';
import { unitFindings } from './preflight-findings.js';

/**
 * The Secrets Manager side of a failover: promote the replica secret in the recovery Region, re-attach rotation
 * there, and the read-only preflight checks for both. Every call goes to the recovery Region; the primary Region
 * may be down and is never called.
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

/**
 * AttachRotation and SettleRotation: an interrupted rotation's credentials are tried on the promoted database
 * (functions/lib/credential-check.ts), so these steps also read RDS and reach the database, like VerifyConnectivity.
 */
export interface AttachRotationDeps extends SecretDeps, CredentialCheckDeps {
  /** Needed only when an interrupted rotation must be settled. */
  readonly rds?: RDSClient;
}

const AWSCURRENT = 'AWSCURRENT';
const AWSPENDING = 'AWSPENDING';
const SECRETS_MANAGER_PRINCIPAL = 'secretsmanager.amazonaws.com';

/** Keys the secret value must hold (the step contract); `masterarn` and others are optional. */
export const REQUIRED_SECRET_KEYS = ['engine', 'host', 'port', 'username', 'password', 'dbname'] as const;

/** `engine` values in the secret (as the RDS rotation templates write them) per plan engine family. */
const ENGINE_FAMILY: Record<Engine, readonly string[]> = {
  postgres: ['postgres', 'postgresql'],
  mysql: ['mysql', 'mariadb'],
  mariadb: ['mysql', 'mariadb'],
  // Aurora's secrets name the family or the Aurora engine (docs/aws/aurora-global-database.md).
  'aurora-postgresql': ['postgres', 'postgresql', 'aurora-postgresql'],
  'aurora-mysql': ['mysql', 'aurora-mysql'],
};

const ARN_WITH_REGION = /^(arn:(?:aws|aws-cn|aws-us-gov):[a-z0-9-]+:)([a-z0-9-]*)(:.*)$/;

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

function where(unit: UnitPlan, run: RunContext): string {
  return `secret "${recoverySecretId(unit)}" in ${run.recoveryRegion}`;
}

/** One SDK call on the secret, its errors sorted: missing secret → ResourceMissingError, the rest by kind. */
async function secretCall<T>(
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

function secretCallError(error: unknown, call: string, unit: UnitPlan, run: RunContext): LifeboatError {
  if (awsErrorName(error) === 'ResourceNotFoundException') {
    return new ResourceMissingError(
      `${call}: ${where(unit, run)} does not exist (unit ${unit.name}; check secret.id and that the secret is replicated to ${run.recoveryRegion})`,
      { cause: error },
    );
  }
  return toLifeboatError(error, `${call} on ${where(unit, run)}`);
}

async function describeSecret(
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
/* PromoteSecret                                                                                    */
/* ---------------------------------------------------------------------------------------------- */

/**
 * Makes the replica secret in the recovery Region a standalone primary with StopReplicationToReplica, called in
 * that Region (the only promote API; replicas are read-only until then).
 */
export async function promoteReplicaSecret(
  deps: SecretDeps,
  { run, unit }: UnitStepInput,
  now?: () => Date,
): Promise<StepResult> {
  return timedStep('promoteSecret', unit.name, () => promoteBody(deps, run, unit), now);
}

async function promoteBody(deps: SecretDeps, run: RunContext, unit: UnitPlan): Promise<StepBody> {
  const secret = await describeSecret(deps, unit, run);
  const view = replicationView(secret, run.recoveryRegion);
  const secretId = secret.ARN ?? recoverySecretId(unit);
  const detail: Record<string, DetailValue> = {
    secretArn: secret.ARN ?? null,
    region: run.recoveryRegion,
    previousPrimaryRegion: view.role === 'replica' ? (view.primaryRegion ?? null) : null,
    replicationStatus: view.status ?? null,
  };
  if (view.role === 'standalone') {
    return { outcome: 'already-done', detail };
  }
  if (view.primaryRegion !== run.primaryRegion) {
    throw new ConfigurationError(
      `${where(unit, run)} is a replica of a secret in ${view.primaryRegion}, not in the plan's primary Region ${run.primaryRegion}; refusing to detach it`,
    );
  }
  const warnings: string[] = [];
  if (view.status !== undefined && view.status !== 'InSync') {
    warnings.push(
      `replication to ${run.recoveryRegion} was ${view.status}${view.statusMessage ? ` (${view.statusMessage})` : ''} when promoted: the replica may hold an older value`,
    );
  }
  detail.call = 'StopReplicationToReplica';
  if (run.mode === 'dry-run') {
    return { outcome: 'planned', detail, warnings };
  }
  try {
    await deps.secretsManager.send(new StopReplicationToReplicaCommand({ SecretId: secretId }));
  } catch (error) {
    // The SDK retries a call whose answer was lost (5xx, timeout); if the first attempt did promote the secret,
    // the retry is refused because it is no longer a replica. Read again rather than fail a failover over that.
    if (isTransientAwsError(error) || awsErrorName(error) === 'ResourceNotFoundException') {
      throw secretCallError(error, 'StopReplicationToReplica', unit, run);
    }
    const again = await describeSecret(deps, unit, run);
    if (replicationView(again, run.recoveryRegion).role !== 'standalone') {
      throw secretCallError(error, 'StopReplicationToReplica', unit, run);
    }
    warnings.push(
      `StopReplicationToReplica answered ${awsErrorName(error) ?? 'an error'}, but the secret is now standalone`,
    );
  }
  return { outcome: 'changed', detail, warnings };
}

/* ---------------------------------------------------------------------------------------------- */
/* AttachRotation                                                                                   */
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

interface RegionRewrite {
  /** Field names rewritten (never values). */
  fields: string[];
  warnings: string[];
  sourceVersionId: string | undefined;
  /** The new value; kept inside this module, sent only in PutSecretValue. */
  secretString: string | undefined;
}

/**
 * Region-bound fields of the secret value: any top-level string that is an ARN in the old primary Region (above
 * all `masterarn`, the superuser secret of the alternating-users rotation strategy) is pointed at the recovery
 * Region. Multi-Region secret ARNs differ only in the Region (userguide/create-manage-multi-region-secrets).
 */
async function planRegionRewrite(
  deps: SecretDeps,
  run: RunContext,
  unit: UnitPlan,
  secretId: string,
): Promise<RegionRewrite> {
  const value = await readSecretJson(deps, run, unit, secretId);
  const fields: string[] = [];
  const warnings: string[] = [];
  const rewritten: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value.json)) {
    rewritten[key] = field;
    const match = typeof field === 'string' ? ARN_WITH_REGION.exec(field) : null;
    const isMasterArn = key.toLowerCase() === 'masterarn';
    if (match && match[2] === run.primaryRegion) {
      rewritten[key] = `${match[1]}${run.recoveryRegion}${match[3]}`;
      fields.push(key);
    } else if (isMasterArn && !match) {
      warnings.push(`secret field "${key}" is not an ARN; left unchanged`);
    } else if (isMasterArn && match && match[2] !== run.recoveryRegion) {
      warnings.push(
        `secret field "${key}" names Region ${match[2]}, neither ${run.primaryRegion} nor ${run.recoveryRegion}; left unchanged`,
      );
    }
  }
  return {
    fields,
    warnings,
    sourceVersionId: value.versionId,
    secretString: fields.length ? JSON.stringify(rewritten) : undefined,
  };
}

/**
 * A ClientRequestToken that is the same on every re-run of this run for the same source version, so a retried
 * PutSecretValue is ignored instead of adding a version ("If a version with this value already exists and the
 * version SecretString ... are the same as those in the request, then the request is ignored", API_PutSecretValue).
 * 32-64 characters.
 */
export function rewriteRequestToken(
  runId: string,
  unitName: string,
  sourceVersionId: string | undefined,
): string {
  const digest = createHash('sha256')
    .update(`${runId}\n${unitName}\n${sourceVersionId ?? ''}`)
    .digest('hex');
  return `lifeboat-${digest.slice(0, 40)}`;
}

/**
 * Points rotation at the recovery Region's Lambda, after promotion and after VerifyConnectivity: RotateSecret with
 * `RotateImmediately: false` still runs the function's testSecret step, which logs in to the database
 * (docs/aws/secrets-manager-rotation.md). First it settles an interrupted rotation (SettleRotation, which the state
 * machine runs before verification; a no-op here then), rewrites region-bound fields when the plan asks, then
 * RotateSecret with `RotateImmediately: false` — rotating in the middle of a disaster would be a second risk.
 */
export async function attachRotation(
  deps: AttachRotationDeps,
  { run, unit }: UnitStepInput,
  now?: () => Date,
): Promise<StepResult> {
  return timedStep('attachRotation', unit.name, () => attachBody(deps, run, unit), now);
}

/**
 * SettleRotation: an interrupted rotation (AWSPENDING on a version other than AWSCURRENT's) is finished or cleared
 * before verification, so that AWSCURRENT holds the credentials the promoted database takes. Unless rotation is
 * already attached to the plan's function (a rotation may be running right now: the label is left alone), the
 * pending and the current credentials are each tried on the promoted database:
 * - the current ones work: AWSPENDING is removed (the rotation never changed the password, or both work);
 * - only the pending ones work: the rotation is finished, AWSCURRENT moved to the pending version;
 * - neither: RotationBlockedError, naming the versions, users and what each login answered.
 * One call, decided from what DescribeSecret says now, so a re-run after a crash converges.
 */
export async function settleRotation(
  deps: AttachRotationDeps,
  { run, unit }: UnitStepInput,
  now?: () => Date,
): Promise<StepResult> {
  return timedStep(
    'settleRotation',
    unit.name,
    async () => {
      const secret = await describeSecret(deps, unit, run);
      const detail: Record<string, DetailValue> = {
        secretArn: secret.ARN ?? null,
        region: run.recoveryRegion,
      };
      const warnings: string[] = [];
      const changed = await settleBody(deps, run, unit, secret, detail, warnings);
      return {
        outcome: changed ? (run.mode === 'dry-run' ? 'planned' : 'changed') : 'already-done',
        detail,
        warnings,
      };
    },
    now,
  );
}

/** True when an interrupted rotation was (or, in a dry run, would be) settled. Mutates detail and warnings. */
async function settleBody(
  deps: AttachRotationDeps,
  run: RunContext,
  unit: UnitPlan,
  secret: DescribeSecretResponse,
  detail: Record<string, DetailValue>,
  warnings: string[],
): Promise<boolean> {
  const { currentVersionId, stalePendingVersionId } = stagingView(secret);
  if (stalePendingVersionId === undefined) return false;
  detail.stalePendingVersionId = stalePendingVersionId;
  if (rotationAttached(secret, unit)) {
    // Rotation is already ours: this AWSPENDING may be a rotation running right now. Leave it alone.
    warnings.push(
      `AWSPENDING is on version ${stalePendingVersionId}, not on AWSCURRENT; rotation is already attached, so the label was left alone (a rotation may be in progress)`,
    );
    return false;
  }
  detail.call = 'UpdateSecretVersionStage';
  if (run.mode === 'dry-run') {
    detail.wouldDo = INTERRUPTED_ROTATION_PLAN;
    return true;
  }
  const secretId = secret.ARN ?? recoverySecretId(unit);
  const verdicts = await tryBothCredentials(
    deps,
    run,
    unit,
    secretId,
    currentVersionId,
    stalePendingVersionId,
  );
  detail.currentCredentials = verdicts.current;
  detail.pendingCredentials = verdicts.pending;
  if (verdicts.current === 'accepted') {
    await clearStalePending(deps, run, unit, secretId, stalePendingVersionId);
    detail.interruptedRotation = 'cleared';
    warnings.push(
      `cleared AWSPENDING from version ${stalePendingVersionId} (an interrupted rotation): the database takes the current credentials${verdicts.pending === 'accepted' ? ' (and the pending ones)' : ''}`,
    );
    return true;
  }
  if (verdicts.pending === 'accepted' && currentVersionId !== undefined) {
    await finishRotation(deps, run, unit, secretId, currentVersionId, stalePendingVersionId);
    detail.interruptedRotation = 'finished';
    warnings.push(
      `finished the interrupted rotation: the database takes the pending credentials of version ${stalePendingVersionId}, not the current ones (${verdicts.current}); AWSCURRENT moved to version ${stalePendingVersionId}, AWSPREVIOUS to ${currentVersionId}`,
    );
    const left = await dropFinishedPending(deps, run, unit, secretId, stalePendingVersionId);
    if (left) warnings.push(left);
    return true;
  }
  throw new RotationBlockedError(
    `an interrupted rotation on ${where(unit, run)} cannot be settled: the promoted database ${verdicts.endpoint} takes neither the current credentials (version ${currentVersionId ?? '?'}, user "${verdicts.currentUser}": ${verdicts.current}) nor the pending ones (version ${stalePendingVersionId}, user "${verdicts.pendingUser}": ${verdicts.pending}). Put the database's password in the secret, then run the failover again`,
  );
}

/** What SettleRotation does with an interrupted rotation; preflight and dry runs say it in these words. */
export const INTERRUPTED_ROTATION_PLAN =
  'before verification, log in to the promoted database with the pending and with the current credentials: if the current ones work, remove AWSPENDING; if only the pending ones work, finish the rotation (move AWSCURRENT to the pending version); if neither works, stop the unit with RotationBlockedError';

function rotationAttached(secret: DescribeSecretResponse, unit: UnitPlan): boolean {
  return (
    secret.RotationEnabled === true &&
    secret.RotationLambdaARN === unit.rotation.lambdaArn &&
    rotationRulesMatch(secret.RotationRules, unit.rotation.schedule)
  );
}

type CredentialVerdict = LoginVerdict | 'unusable';

interface Verdicts {
  current: CredentialVerdict;
  pending: CredentialVerdict;
  currentUser: string;
  pendingUser: string;
  endpoint: string;
}

/** Reads both versions (never returned) and tries each on the promoted instance's endpoint. */
async function tryBothCredentials(
  deps: AttachRotationDeps,
  run: RunContext,
  unit: UnitPlan,
  secretId: string,
  currentVersionId: string | undefined,
  pendingVersionId: string,
): Promise<Verdicts> {
  if (!deps.rds) throw new ConfigurationError('settling an interrupted rotation needs an RDS client');
  // The promoted instance, or an Aurora unit's promoted cluster (functions/lib/promoted-target.ts).
  const promoted = await promotedTarget(deps.rds, unit);
  const endpoint = promoted.endpoint;
  if (!endpoint) {
    throw new ResourceBusyError(`${promoted.what} has no endpoint yet (status ${promoted.status})`);
  }
  const readVersion = async (versionId: string | undefined, label: string) => {
    const out = await secretCall('GetSecretValue', unit, run, () =>
      deps.secretsManager.send(
        new GetSecretValueCommand({
          SecretId: secretId,
          ...(versionId ? { VersionId: versionId } : { VersionStage: AWSCURRENT }),
        }),
      ),
    );
    return loginFields(out.SecretString, `${label} (version ${versionId ?? out.VersionId ?? '?'})`);
  };
  const current = await readVersion(currentVersionId, AWSCURRENT);
  const pending = await readVersion(pendingVersionId, AWSPENDING);
  const attempt = async (fields: ReturnType<typeof loginFields>): Promise<CredentialVerdict> =>
    fields ? tryLogin(deps, unit, endpoint, fields) : 'unusable';
  return {
    current: await attempt(current),
    pending: await attempt(pending),
    currentUser: current?.username ?? '?',
    pendingUser: pending?.username ?? '?',
    endpoint,
  };
}

/**
 * The login fields of a version, or undefined when it holds none (a rotation that failed in createSecret can leave
 * an empty version). No error and no cause: the text is secret material.
 */
function loginFields(
  text: string | undefined,
  label: string,
): { label: string; username: string; password: string; dbname: string; port: number } | undefined {
  let value: unknown;
  try {
    value = text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const port = typeof v.port === 'string' ? Number(v.port) : v.port;
  if (
    typeof v.username !== 'string' ||
    typeof v.password !== 'string' ||
    typeof v.dbname !== 'string' ||
    typeof port !== 'number' ||
    !Number.isInteger(port)
  ) {
    return undefined;
  }
  return { label, username: v.username, password: v.password, dbname: v.dbname, port };
}

async function attachBody(deps: AttachRotationDeps, run: RunContext, unit: UnitPlan): Promise<StepBody> {
  const secret = await describeSecret(deps, unit, run);
  const secretId = secret.ARN ?? recoverySecretId(unit);
  const view = replicationView(secret, run.recoveryRegion);
  const warnings: string[] = [];
  const rules = rotationRulesFor(unit.rotation.schedule);
  const detail: Record<string, DetailValue> = {
    secretArn: secret.ARN ?? null,
    region: run.recoveryRegion,
    rotationLambdaArn: unit.rotation.lambdaArn,
    schedule: String(unit.rotation.schedule),
    rotateImmediately: false,
  };

  if (view.role === 'replica') {
    if (run.mode !== 'dry-run') {
      throw new ConfigurationError(
        `${where(unit, run)} is still a replica of ${view.primaryRegion}: promote it first (PromoteSecret); replicas reject RotateSecret with "Operation not permitted on a replica secret"`,
      );
    }
    warnings.push(
      `the secret is still a replica of ${view.primaryRegion}; PromoteSecret makes it standalone before rotation is attached`,
    );
  }

  const configured = rotationAttached(secret, unit);
  const calls: string[] = [];

  // Normally settled before verification already (SettleRotation); RotateSecret would fail with it in place.
  if (await settleBody(deps, run, unit, secret, detail, warnings)) calls.push('UpdateSecretVersionStage');

  let rewrite: RegionRewrite | undefined;
  if (unit.rotation.rewriteRegionFields) {
    // Read after settling: finishing a rotation changes which version is current.
    rewrite = await planRegionRewrite(deps, run, unit, secretId);
    warnings.push(...rewrite.warnings);
    detail.rewrittenFields = rewrite.fields.join(',');
    if (rewrite.fields.length) calls.push('PutSecretValue');
  }
  if (!configured) calls.push('RotateSecret');

  if (calls.length === 0) return { outcome: 'already-done', detail, warnings };
  detail.call = calls.join(', ');
  if (run.mode === 'dry-run') return { outcome: 'planned', detail, warnings };

  if (rewrite?.secretString !== undefined) {
    const token = rewriteRequestToken(run.runId, unit.name, rewrite.sourceVersionId);
    await secretCall('PutSecretValue', unit, run, () =>
      deps.secretsManager.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          SecretString: rewrite.secretString,
          ClientRequestToken: token,
        }),
      ),
    );
    detail.rewriteVersionId = token;
  }
  if (!configured) {
    await secretCall('RotateSecret', unit, run, () =>
      deps.secretsManager.send(
        new RotateSecretCommand({
          SecretId: secretId,
          RotationLambdaARN: unit.rotation.lambdaArn,
          RotationRules: rules,
          RotateImmediately: false,
        }),
      ),
    );
  }
  return { outcome: 'changed', detail, warnings };
}

/**
 * After finishing: AWSPENDING off the version that is now AWSCURRENT, as a completed rotation may leave it
 * (API_RotateSecret: "might not be attached to any version"). Best effort: where it stays it blocks nothing
 * (RotateSecret accepts AWSPENDING on the AWSCURRENT version), so a failure is a warning, not an error.
 */
async function dropFinishedPending(
  deps: SecretDeps,
  run: RunContext,
  unit: UnitPlan,
  secretId: string,
  versionId: string,
): Promise<string | undefined> {
  try {
    await deps.secretsManager.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: AWSPENDING,
        RemoveFromVersionId: versionId,
      }),
    );
    return undefined;
  } catch (error) {
    const again = await describeSecret(deps, unit, run).catch(() => undefined);
    if (again && !(again.VersionIdsToStages?.[versionId] ?? []).includes(AWSPENDING)) return undefined;
    return `AWSPENDING stays on version ${versionId}, now AWSCURRENT (${awsErrorName(error) ?? 'error'} removing it); it blocks nothing`;
  }
}

/**
 * finishSecret by hand: AWSCURRENT moves to the pending version (AWSPREVIOUS follows to the old one;
 * docs/aws/secrets-manager-rotation.md). A retried call whose first attempt worked is refused: read again first.
 */
async function finishRotation(
  deps: SecretDeps,
  run: RunContext,
  unit: UnitPlan,
  secretId: string,
  currentVersionId: string,
  pendingVersionId: string,
): Promise<void> {
  try {
    await deps.secretsManager.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: AWSCURRENT,
        MoveToVersionId: pendingVersionId,
        RemoveFromVersionId: currentVersionId,
      }),
    );
  } catch (error) {
    if (isTransientAwsError(error)) throw secretCallError(error, 'UpdateSecretVersionStage', unit, run);
    const again = await describeSecret(deps, unit, run).catch(() => undefined);
    if (again && stagingView(again).currentVersionId === pendingVersionId) return;
    throw new RotationBlockedError(
      `an interrupted rotation on ${where(unit, run)} holds the working credentials in version ${pendingVersionId}, and moving AWSCURRENT there failed (${awsErrorName(error) ?? 'error'}). Finish it with: aws secretsmanager update-secret-version-stage --secret-id ${secretId} --version-stage AWSCURRENT --move-to-version-id ${pendingVersionId} --remove-from-version-id ${currentVersionId} --region ${run.recoveryRegion}`,
      { cause: error },
    );
  }
}

async function clearStalePending(
  deps: SecretDeps,
  run: RunContext,
  unit: UnitPlan,
  secretId: string,
  versionId: string,
): Promise<void> {
  try {
    await deps.secretsManager.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: AWSPENDING,
        RemoveFromVersionId: versionId,
      }),
    );
  } catch (error) {
    if (isTransientAwsError(error)) throw secretCallError(error, 'UpdateSecretVersionStage', unit, run);
    // A retried call whose first attempt worked is refused (the label is gone): check before giving up.
    const again = await describeSecret(deps, unit, run).catch(() => undefined);
    if (again && stagingView(again).stalePendingVersionId === undefined) return;
    throw new RotationBlockedError(
      `an interrupted rotation blocks RotateSecret on ${where(unit, run)}: AWSPENDING is on version ${versionId}, not on AWSCURRENT, and removing it failed (${awsErrorName(error) ?? 'error'}). Clear it with: aws secretsmanager update-secret-version-stage --secret-id ${secretId} --version-stage AWSPENDING --remove-from-version-id ${versionId} --region ${run.recoveryRegion}`,
      { cause: error },
    );
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* Reading the value (never returned)                                                               */
/* ---------------------------------------------------------------------------------------------- */

interface SecretJson {
  json: Record<string, unknown>;
  versionId: string | undefined;
}

async function readSecretJson(
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

/* ---------------------------------------------------------------------------------------------- */
/* Preflight                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

const normalizeHost = (host: string) => host.trim().toLowerCase().replace(/\.$/, '');

/**
 * Read-only checks of the replica secret. Configuration problems are errors; what a disaster causes (replication
 * not InSync, unknown status, an interrupted rotation that SettleRotation settles) are warnings. Transient AWS
 * errors are thrown so the state machine retries the preflight; other call failures become error checks.
 */
export async function checkSecretReadiness(
  deps: SecretDeps,
  { run, unit }: UnitStepInput,
): Promise<PreflightCheck[]> {
  const { checks, add } = unitFindings(unit.name);
  const subject = where(unit, run);

  let secret: DescribeSecretResponse;
  try {
    secret = await describeSecret(deps, unit, run);
  } catch (error) {
    if (isTransientAwsError(error)) throw error;
    add('secret.exists', false, 'error', (error as Error).message);
    return checks;
  }
  add('secret.exists', true, 'error', `${subject} exists`);
  // Kept current by the replicator or the Vault sync: was its last sync good and recent (docs/design/secret-feeds.md)?
  checks.push(...feedReadinessChecks(secret.Tags, unit, new Date()));

  const view = replicationView(secret, run.recoveryRegion);
  const figures = {
    secretRole: view.role,
    secretPrimaryRegion: view.primaryRegion ?? null,
    secretReplicationStatus: view.status ?? (view.role === 'replica' ? 'unknown' : null),
  };
  if (view.role === 'standalone') {
    add(
      'secret.replica',
      false,
      'warning',
      `${subject} is not a replica (already promoted or never replicated); PromoteSecret will do nothing`,
      figures,
    );
  } else if (view.primaryRegion !== run.primaryRegion) {
    add(
      'secret.replica',
      false,
      'error',
      `${subject} is a replica of a secret in ${view.primaryRegion}, not in the plan's primary Region ${run.primaryRegion}`,
      figures,
    );
  } else {
    add('secret.replica', true, 'error', `${subject} is a replica of ${run.primaryRegion}`, figures);
    if (view.status === undefined) {
      // The status is listed only by the primary's Region, which lifeboat does not call (docs/aws/secrets-manager-
      // replication.md, "Replication status"): what the recovery Region shows is the copy replication delivered.
      const { currentVersionId } = stagingView(secret);
      add(
        'secret.replication-status',
        currentVersionId !== undefined,
        'warning',
        currentVersionId !== undefined
          ? `${subject} holds a replicated AWSCURRENT version (${currentVersionId})`
          : `${subject} holds no AWSCURRENT version: replication has delivered no value to promote`,
      );
    } else if (view.status === 'InSync') {
      add('secret.replication-status', true, 'warning', `replication to ${run.recoveryRegion} is InSync`);
    } else {
      add(
        'secret.replication-status',
        false,
        'warning',
        `replication to ${run.recoveryRegion} is ${view.status}${view.statusMessage ? ` (${view.statusMessage})` : ''}: the replica may hold an older value`,
      );
    }
  }

  const { stalePendingVersionId } = stagingView(secret);
  if (stalePendingVersionId !== undefined) {
    add(
      'secret.interrupted-rotation',
      false,
      'warning',
      rotationAttached(secret, unit)
        ? `AWSPENDING is on version ${stalePendingVersionId}, not on AWSCURRENT, and rotation is already attached to ${unit.rotation.lambdaArn}: a rotation may be running, so lifeboat leaves the label alone (and RotateSecret is not needed)`
        : `AWSPENDING is on version ${stalePendingVersionId}, not on AWSCURRENT (an interrupted rotation); SettleRotation will ${INTERRUPTED_ROTATION_PLAN}`,
    );
  } else {
    add('secret.interrupted-rotation', true, 'warning', 'no interrupted rotation');
  }

  let value: Record<string, unknown>;
  try {
    value = (await readSecretJson(deps, run, unit, secret.ARN ?? recoverySecretId(unit))).json;
  } catch (error) {
    if (isTransientAwsError(error)) throw error;
    add('secret.value', false, 'error', (error as Error).message);
    return checks;
  }
  checks.push(...checkSecretValue(value, run, unit));
  return checks;
}

/** Checks of the value's keys; messages name keys and non-secret values (host, engine, port), never the password. */
function checkSecretValue(value: Record<string, unknown>, run: RunContext, unit: UnitPlan): PreflightCheck[] {
  const checks: PreflightCheck[] = [];
  const add = (check: string, ok: boolean, message: string) =>
    checks.push({ unit: unit.name, check, ok, severity: 'error', message });
  const subject = where(unit, run);

  const missing = REQUIRED_SECRET_KEYS.filter((key) => {
    const field = value[key];
    return field === undefined || field === null || field === '';
  });
  add(
    'secret.value',
    missing.length === 0,
    missing.length
      ? `${subject}: the value lacks required keys: ${missing.join(', ')}`
      : `${subject}: the value has every required key`,
  );

  const host = value.host;
  if (typeof host === 'string' && host !== '') {
    const ok = normalizeHost(host) === normalizeHost(unit.dns.recordName);
    add(
      'secret.host',
      ok,
      ok
        ? `host is the plan's record ${unit.dns.recordName}`
        : `${subject}: host is "${host}", but the plan's dns.recordName is "${unit.dns.recordName}"; applications would not follow the failover`,
    );
  } else if (host !== undefined && host !== null && host !== '') {
    add('secret.host', false, `${subject}: host is not a string`);
  }

  const engine = value.engine;
  if (typeof engine === 'string' && engine !== '') {
    const accepted = ENGINE_FAMILY[unit.database.engine];
    const ok = accepted.includes(engine.toLowerCase());
    add(
      'secret.engine',
      ok,
      ok
        ? `engine "${engine}" matches database.engine ${unit.database.engine}`
        : `${subject}: engine is "${engine}", but database.engine is ${unit.database.engine} (expected one of ${accepted.join(', ')})`,
    );
  } else if (engine !== undefined && engine !== null && engine !== '') {
    add('secret.engine', false, `${subject}: engine is not a string`);
  }

  const port = value.port;
  if (port !== undefined && port !== null && port !== '') {
    const n = typeof port === 'number' ? port : typeof port === 'string' ? Number(port) : Number.NaN;
    const ok = Number.isInteger(n) && n >= 1 && n <= 65_535;
    add('secret.port', ok, ok ? `port ${n}` : `${subject}: port is not a TCP port number`);
  }
  return checks;
}

/* ---------------------------------------------------------------------------------------------- */
/* Rotation Lambda preflight                                                                        */
/* ---------------------------------------------------------------------------------------------- */

interface PolicyStatement {
  Effect?: unknown;
  Principal?: unknown;
  Action?: unknown;
  Condition?: unknown;
}

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

function principalIsSecretsManager(principal: unknown): boolean {
  if (principal === '*') return true;
  if (typeof principal !== 'object' || principal === null) return false;
  const p = principal as { Service?: unknown; AWS?: unknown };
  return asList(p.Service).includes(SECRETS_MANAGER_PRINCIPAL) || asList(p.AWS).includes('*');
}

function actionAllowsInvoke(action: unknown): boolean {
  return asList(action).some(
    (a) => typeof a === 'string' && ['lambda:invokefunction', 'lambda:*', '*'].includes(a.toLowerCase()),
  );
}

/** Condition values for a key, whatever the operator (`ArnLike`, `StringEquals`, ...); keys are case-insensitive. */
function conditionValues(condition: unknown, key: string): string[] | undefined {
  if (typeof condition !== 'object' || condition === null) return undefined;
  let found: string[] | undefined;
  for (const block of Object.values(condition)) {
    if (typeof block !== 'object' || block === null) continue;
    for (const [k, v] of Object.entries(block)) {
      if (k.toLowerCase() === key.toLowerCase()) {
        found = [...(found ?? []), ...asList(v).filter((x): x is string => typeof x === 'string')];
      }
    }
  }
  return found;
}

/**
 * Why a statement does not let Secrets Manager invoke the function for a secret of this plan in the recovery
 * Region, or undefined when it does. A `SourceArn` condition copied from the primary Region names secrets there:
 * the recovery secret would be refused.
 */
function statementProblem(statement: PolicyStatement, run: RunContext): string | undefined {
  if (statement.Effect !== 'Allow') return 'not an Allow statement';
  if (!principalIsSecretsManager(statement.Principal)) return `principal is not ${SECRETS_MANAGER_PRINCIPAL}`;
  if (!actionAllowsInvoke(statement.Action)) return 'does not allow lambda:InvokeFunction';
  const accounts = conditionValues(statement.Condition, 'aws:SourceAccount');
  if (accounts && !accounts.includes(run.account)) {
    return `SourceAccount is ${accounts.join(', ')}, not ${run.account}`;
  }
  const arns = conditionValues(statement.Condition, 'aws:SourceArn');
  if (arns) {
    const reachable = arns.some((arn) => {
      const region = ARN_WITH_REGION.exec(arn)?.[2];
      return region === undefined || region === run.recoveryRegion || region.includes('*') || arn === '*';
    });
    if (!reachable) return `SourceArn limits it to ${arns.join(', ')}, not secrets in ${run.recoveryRegion}`;
  }
  return undefined;
}

/**
 * Read-only checks of the rotation Lambda in the recovery Region: it exists, and its resource policy lets
 * Secrets Manager invoke it (without that, RotateSecret is accepted but every rotation fails).
 */
export async function checkRotationReadiness(
  deps: RotationDeps,
  { run, unit }: UnitStepInput,
): Promise<PreflightCheck[]> {
  const checks: PreflightCheck[] = [];
  const add = (check: string, ok: boolean, severity: PreflightCheck['severity'], message: string) =>
    checks.push({ unit: unit.name, check, ok, severity, message });
  const arn = unit.rotation.lambdaArn;
  const fix = `aws lambda add-permission --function-name ${arn} --statement-id SecretsManagerAccess --action lambda:InvokeFunction --principal ${SECRETS_MANAGER_PRINCIPAL} --source-account ${run.account} --region ${run.recoveryRegion}`;

  try {
    const fn = await deps.lambda.send(new GetFunctionCommand({ FunctionName: arn }));
    const state = fn.Configuration?.State;
    if (state === 'Failed' || state === 'Deleting' || state === 'Deactivating') {
      add('rotation.lambda-exists', false, 'error', `rotation Lambda ${arn} is ${state}`);
    } else {
      add(
        'rotation.lambda-exists',
        true,
        'error',
        `rotation Lambda ${arn} exists${state ? ` (${state})` : ''}`,
      );
    }
  } catch (error) {
    if (isTransientAwsError(error)) throw toLifeboatError(error, `GetFunction on ${arn}`);
    add(
      'rotation.lambda-exists',
      false,
      'error',
      awsErrorName(error) === 'ResourceNotFoundException'
        ? `rotation Lambda ${arn} does not exist in ${run.recoveryRegion} (rotation.lambdaArn)`
        : `GetFunction on rotation Lambda ${arn} failed: ${awsErrorName(error) ?? 'error'}`,
    );
    return checks;
  }

  let policy: string | undefined;
  try {
    policy = (await deps.lambda.send(new GetPolicyCommand({ FunctionName: arn }))).Policy;
  } catch (error) {
    if (isTransientAwsError(error)) throw toLifeboatError(error, `GetPolicy on ${arn}`);
    if (awsErrorName(error) !== 'ResourceNotFoundException') {
      add(
        'rotation.lambda-permission',
        false,
        'error',
        `GetPolicy on rotation Lambda ${arn} failed: ${awsErrorName(error) ?? 'error'}`,
      );
      return checks;
    }
    // Lambda answers ResourceNotFoundException when the function has no resource policy at all.
  }
  let statements: PolicyStatement[] = [];
  try {
    statements = policy
      ? (asList((JSON.parse(policy) as { Statement?: unknown }).Statement) as PolicyStatement[])
      : [];
  } catch {
    statements = [];
  }
  const problems = statements.map((s) => statementProblem(s, run));
  if (problems.some((p) => p === undefined)) {
    add(
      'rotation.lambda-permission',
      true,
      'error',
      `rotation Lambda ${arn} allows ${SECRETS_MANAGER_PRINCIPAL} to invoke it`,
    );
  } else {
    const why = statements.length
      ? ` (${statements.length} statement(s), none applies: ${[...new Set(problems)].join('; ')})`
      : ' (no resource policy)';
    add(
      'rotation.lambda-permission',
      false,
      'error',
      `rotation Lambda ${arn} does not allow ${SECRETS_MANAGER_PRINCIPAL} to invoke it${why}; fix: ${fix}`,
    );
  }
  return checks;
}
