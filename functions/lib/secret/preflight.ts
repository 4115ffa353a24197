import { GetFunctionCommand, GetPolicyCommand } from '@aws-sdk/client-lambda';
import type { DescribeSecretResponse } from '@aws-sdk/client-secrets-manager';
import { awsErrorName, isTransientAwsError, toLifeboatError } from '../errors.js';
import type { Engine, UnitPlan } from '../plan.js';
import { recoverySecretId } from '../plan-names.js';
import { unitFindings } from '../preflight-findings.js';
import { feedReadinessChecks } from '../secret-feeds/readiness.js';
import type { PreflightCheck, RunContext, UnitStepInput } from '../types.js';
import { INTERRUPTED_ROTATION_PLAN } from './rotation.js';
import {
  ARN_WITH_REGION,
  describeSecret,
  type RotationDeps,
  readSecretJson,
  replicationView,
  rotationAttached,
  type SecretDeps,
  stagingView,
  where,
} from './state.js';
import '../sdk/lambda.js';

/** The preflight's read-only checks of the replica secret and of the rotation Lambda. */

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
