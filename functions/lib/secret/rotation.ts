import { createHash } from 'node:crypto';
import type { RDSClient } from '@aws-sdk/client-rds';
import {
  type DescribeSecretResponse,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RotateSecretCommand,
  UpdateSecretVersionStageCommand,
  type UpdateSecretVersionStageCommandInput,
} from '@aws-sdk/client-secrets-manager';
import { type CredentialCheckDeps, type LoginVerdict, tryLogin } from '../credential-check.js';
import {
  awsErrorName,
  ConfigurationError,
  isTransientAwsError,
  ResourceBusyError,
  RotationBlockedError,
} from '../errors.js';
import type { UnitPlan } from '../plan.js';
import { recoverySecretId } from '../plan-names.js';
import { promotedTarget } from '../promoted-target.js';
import { type StepBody, timedStep } from '../step.js';
import type { DetailValue, RunContext, StepResult, UnitStepInput } from '../types.js';
import {
  ARN_WITH_REGION,
  AWSCURRENT,
  AWSPENDING,
  describeSecret,
  readSecretJson,
  replicationView,
  rotationAttached,
  rotationRulesFor,
  type SecretDeps,
  secretCall,
  secretCallError,
  stagingView,
  where,
} from './state.js';
import '../sdk/secrets-manager.js';

/**
 * AttachRotation (rotation re-attached in the recovery Region, region-bound fields of the value rewritten) and
 * SettleRotation (an interrupted rotation settled before verification).
 */

/**
 * AttachRotation and SettleRotation: an interrupted rotation's credentials are tried on the promoted database
 * (functions/lib/credential-check.ts), so these steps also read RDS and reach the database, like VerifyConnectivity.
 */
export interface AttachRotationDeps extends SecretDeps, CredentialCheckDeps {
  /** Needed only when an interrupted rotation must be settled. */
  readonly rds?: RDSClient;
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
 * Moves or removes a staging label (UpdateSecretVersionStage). A call that fails is judged by a fresh read: a retried
 * call whose first attempt worked is refused (the label is already where it should be), so `settled` decides whether
 * the failure matters. Transient errors are thrown for the step's retry when `transient` says so. Answers the error
 * that was not settled, or undefined.
 */
async function changeStage(
  deps: SecretDeps,
  run: RunContext,
  unit: UnitPlan,
  request: UpdateSecretVersionStageCommandInput,
  settled: (again: DescribeSecretResponse) => boolean,
  transient: 'throw' | 'judge',
): Promise<unknown> {
  try {
    await deps.secretsManager.send(new UpdateSecretVersionStageCommand(request));
    return undefined;
  } catch (error) {
    if (transient === 'throw' && isTransientAwsError(error)) {
      throw secretCallError(error, 'UpdateSecretVersionStage', unit, run);
    }
    const again = await describeSecret(deps, unit, run).catch(() => undefined);
    return again && settled(again) ? undefined : error;
  }
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
  const error = await changeStage(
    deps,
    run,
    unit,
    { SecretId: secretId, VersionStage: AWSPENDING, RemoveFromVersionId: versionId },
    (again) => !(again.VersionIdsToStages?.[versionId] ?? []).includes(AWSPENDING),
    'judge',
  );
  return error === undefined
    ? undefined
    : `AWSPENDING stays on version ${versionId}, now AWSCURRENT (${awsErrorName(error) ?? 'error'} removing it); it blocks nothing`;
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
  const error = await changeStage(
    deps,
    run,
    unit,
    {
      SecretId: secretId,
      VersionStage: AWSCURRENT,
      MoveToVersionId: pendingVersionId,
      RemoveFromVersionId: currentVersionId,
    },
    (again) => stagingView(again).currentVersionId === pendingVersionId,
    'throw',
  );
  if (error === undefined) return;
  throw new RotationBlockedError(
    `an interrupted rotation on ${where(unit, run)} holds the working credentials in version ${pendingVersionId}, and moving AWSCURRENT there failed (${awsErrorName(error) ?? 'error'}). Finish it with: aws secretsmanager update-secret-version-stage --secret-id ${secretId} --version-stage AWSCURRENT --move-to-version-id ${pendingVersionId} --remove-from-version-id ${currentVersionId} --region ${run.recoveryRegion}`,
    { cause: error },
  );
}

/** AWSPENDING off a version that is not AWSCURRENT (an interrupted rotation that blocks RotateSecret). */
async function clearStalePending(
  deps: SecretDeps,
  run: RunContext,
  unit: UnitPlan,
  secretId: string,
  versionId: string,
): Promise<void> {
  const error = await changeStage(
    deps,
    run,
    unit,
    { SecretId: secretId, VersionStage: AWSPENDING, RemoveFromVersionId: versionId },
    (again) => stagingView(again).stalePendingVersionId === undefined,
    'throw',
  );
  if (error === undefined) return;
  throw new RotationBlockedError(
    `an interrupted rotation blocks RotateSecret on ${where(unit, run)}: AWSPENDING is on version ${versionId}, not on AWSCURRENT, and removing it failed (${awsErrorName(error) ?? 'error'}). Clear it with: aws secretsmanager update-secret-version-stage --secret-id ${secretId} --version-stage AWSPENDING --remove-from-version-id ${versionId} --region ${run.recoveryRegion}`,
    { cause: error },
  );
}
