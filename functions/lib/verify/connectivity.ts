import { inspect } from 'node:util';
import type { RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { optionalEnv } from '../env.js';
import {
  awsErrorName,
  ConnectivityNotReadyError,
  InputInvalidError,
  LifeboatError,
  ResourceMissingError,
  toLifeboatError,
  VerificationFailedError,
} from '../errors.js';
import { logger } from '../observability.js';
import type { Engine, UnitPlan } from '../plan.js';
import { instanceDatabase, isAuroraUnit, recoverySecretId } from '../plan-names.js';
import { promotedTarget } from '../promoted-target.js';
import { type StepBody, timedStep } from '../step.js';
import type { DetailValue, StepResult, UnitStepInput } from '../types.js';
import { budgetDetail, type DnsSettlement, verifyBudget, withinBudget } from './budget.js';
import {
  type ConnectOptions,
  type DbConnectors,
  type DbSession,
  databaseTrustStore,
  defaultConnectors,
  type EngineFamily,
  engineFamily,
  sortDbError,
  type TlsPolicy,
} from './db.js';
import {
  DNS_SERVERS_ENV,
  normalizeName,
  parseDnsServers,
  type Resolution,
  type ResolverFactory,
  resolveLikeAnApplication,
  systemResolverFactory,
} from './dns.js';
import { dryRunProbe } from './dry-run.js';
import { type ProbeFindings, ProbeStageError, probeDatabase } from './probe.js';
import '../sdk/secrets-manager.js';

/**
 * VerifyConnectivity: proves that an application following the secret reaches a writable database after failover.
 * It reads the secret in the recovery Region, resolves its `host` through DNS the way an application would, checks
 * that the CNAME leads to the promoted instance's endpoint, connects (TLS checked against that endpoint), runs the
 * plan's read query and proves writability with a write that is always rolled back.
 *
 * `ConnectivityNotReadyError` = may pass later (DNS caches up to the TTL, promotion settling, connection refused); the
 * state machine retries it within a bounded time. `VerificationFailedError` = proven wrong (bad credentials, TLS
 * verification failed, the query fails, a key is missing from the secret).
 *
 * The password lives only in this module's locals and is handed to the driver: it is in no log line, error message,
 * error cause or result. Every message we build is also passed through `redact`, and a driver error is kept as a
 * cause only when its whole text is free of the password.
 */

export interface VerifyDeps {
  readonly secretsManager: SecretsManagerClient;
  readonly rds: RDSClient;
  /** @default the system resolver, asking `LIFEBOAT_DNS_SERVERS` when set */
  readonly resolver?: ResolverFactory;
  /** @default pg for postgres, mysql2 for mysql and mariadb */
  readonly connectors?: DbConnectors;
  /** The CAs to trust for TLS; undefined = Node's default store. @default Node's store + `LIFEBOAT_DB_CA_FILE` */
  readonly trustStore?: () => string[] | undefined;
  /** Clock, for tests. @default () => new Date() */
  readonly now?: () => Date;
}

/** The secret value's keys the verify step uses (the step contract). */
export interface DatabaseCredentials {
  readonly engine: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly dbname: string;
}

/** `engine` values in the secret per plan engine (as the RDS rotation templates write them). */
const SECRET_ENGINES: Record<Engine, readonly string[]> = {
  postgres: ['postgres', 'postgresql', 'aurora-postgresql'],
  mysql: ['mysql', 'mariadb', 'aurora-mysql'],
  mariadb: ['mysql', 'mariadb'],
  'aurora-postgresql': ['postgres', 'postgresql', 'aurora-postgresql'],
  'aurora-mysql': ['mysql', 'aurora-mysql'],
};

const DNS_NAME =
  /^(?=.{1,253}\.?$)([a-zA-Z0-9_](?:[a-zA-Z0-9_-]{0,61}[a-zA-Z0-9])?\.)*[a-zA-Z0-9-]{1,63}\.?$/;

/* ---------------------------------------------------------------------------------------------- */
/* Secret                                                                                          */
/* ---------------------------------------------------------------------------------------------- */

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

function portOf(value: unknown): number | undefined {
  const n = typeof value === 'string' && /^\d{1,5}$/.test(value.trim()) ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65_535 ? n : undefined;
}

/**
 * Reads the keys the step needs from the secret value. Every problem names the key, never a value: the value is
 * secret material. No error keeps a cause here: V8's JSON.parse message quotes the text it failed on.
 */
export function parseCredentials(
  secretString: string | undefined,
  secretId: string,
  engine: Engine,
): DatabaseCredentials {
  if (secretString === undefined) {
    throw new VerificationFailedError(
      `secret ${secretId}: the current version has no SecretString (a JSON object with engine, host, port, username, password, dbname is expected)`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(secretString);
  } catch {
    throw new VerificationFailedError(`secret ${secretId}: the value is not valid JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new VerificationFailedError(`secret ${secretId}: the value is not a JSON object`);
  }
  const v = value as Record<string, unknown>;
  const problems: string[] = [];
  const engineValue = v.engine;
  if (!nonEmptyString(engineValue)) problems.push('key "engine" is missing or not a string');
  else if (!SECRET_ENGINES[engine].includes(engineValue.toLowerCase())) {
    problems.push(`key "engine" does not name a ${engine}-compatible engine (the plan's database.engine)`);
  }
  if (!nonEmptyString(v.host)) problems.push('key "host" is missing or not a string');
  else if (!DNS_NAME.test(v.host.trim()))
    problems.push('key "host" is not a DNS name (the plan\'s CNAME is expected)');
  const port = portOf(v.port);
  if (port === undefined) problems.push('key "port" is missing or not a port number (1-65535)');
  if (!nonEmptyString(v.username)) problems.push('key "username" is missing or not a string');
  if (typeof v.password !== 'string' || v.password === '')
    problems.push('key "password" is missing or not a string');
  if (!nonEmptyString(v.dbname)) problems.push('key "dbname" is missing or not a string');
  if (problems.length) {
    throw new VerificationFailedError(`secret ${secretId}: ${problems.join('; ')}`);
  }
  return {
    engine: engineValue as string,
    host: (v.host as string).trim(),
    port: port as number,
    username: v.username as string,
    password: v.password as string,
    dbname: v.dbname as string,
  };
}

async function readCredentials(sm: SecretsManagerClient, unit: UnitPlan): Promise<DatabaseCredentials> {
  const secretId = recoverySecretId(unit);
  let secretString: string | undefined;
  try {
    // AWSCURRENT, in the recovery Region: the version an application following the secret reads.
    const out = await sm.send(new GetSecretValueCommand({ SecretId: secretId }));
    secretString = out.SecretString;
  } catch (error) {
    if (awsErrorName(error) === 'ResourceNotFoundException') {
      throw new ResourceMissingError(`secret ${secretId} does not exist in this Region`, { cause: error });
    }
    throw toLifeboatError(error, `GetSecretValue on ${secretId}`);
  }
  return parseCredentials(secretString, secretId, unit.database.engine);
}

/* ---------------------------------------------------------------------------------------------- */
/* Keeping the password out of errors                                                              */
/* ---------------------------------------------------------------------------------------------- */

/** Replaces every occurrence of the password in a text we build. */
export function redact(text: string, password: string): string {
  return password === '' ? text : text.split(password).join('[redacted]');
}

/** The driver error, when nothing it shows (message, stack, fields, causes) holds the password; otherwise none. */
function safeCause(error: unknown, password: string): unknown {
  let text: string;
  try {
    text = inspect(error, { depth: 6, showHidden: false });
  } catch {
    return undefined;
  }
  return password !== '' && text.includes(password) ? undefined : error;
}

function driverMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * The fields this step reads beyond those every unit step checks (`assertUnitStepInput`): a payload wired wrong fails
 * here, naming the field, before any call.
 */
export function assertVerifyInput(event: UnitStepInput, step: string): void {
  const unit = event.unit as Partial<UnitPlan>;
  const problems: string[] = [];
  if (typeof unit.secret?.id !== 'string') problems.push('unit.secret.id: expected a string');
  if (typeof unit.database?.engine !== 'string') problems.push('unit.database.engine: expected a string');
  const database = unit.database as Record<string, unknown> | undefined;
  // An Aurora unit names its replica cluster, an instance unit its replica instance (functions/lib/plan.ts).
  const replicaField = String(database?.engine).startsWith('aurora-')
    ? 'replicaClusterId'
    : 'replicaInstanceId';
  if (typeof database?.[replicaField] !== 'string') {
    problems.push(`unit.database.${replicaField}: expected a string`);
  }
  if (typeof unit.dns?.recordName !== 'string') problems.push('unit.dns.recordName: expected a string');
  const verify = unit.verify as Partial<UnitPlan['verify']> | undefined;
  if (typeof verify !== 'object' || verify === null) problems.push('unit.verify: expected an object');
  else {
    if (typeof verify.query !== 'string') problems.push('unit.verify.query: expected a string');
    if (typeof verify.requireTls !== 'boolean') problems.push('unit.verify.requireTls: expected a boolean');
    if (typeof verify.timeoutSeconds !== 'number' || !(verify.timeoutSeconds > 0)) {
      problems.push('unit.verify.timeoutSeconds: expected a number of seconds');
    }
  }
  if (problems.length) {
    throw new InputInvalidError(`${step}: invalid step input:\n  - ${problems.join('\n  - ')}`, problems);
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* VerifyConnectivity                                                                              */
/* ---------------------------------------------------------------------------------------------- */

interface Target {
  endpoint: string;
  port: number | undefined;
}

/**
 * The promoted database's endpoint, from RDS in the recovery Region: the instance's, an Aurora unit's promoted
 * cluster's, or the global writer endpoint the record names (functions/lib/promoted-target.ts).
 */
async function promotedEndpoint(rds: RDSClient, unit: UnitPlan): Promise<Target> {
  const promoted = await promotedTarget(rds, unit);
  if (promoted.notPromoted) {
    throw new ConnectivityNotReadyError(
      `${promoted.what} is ${promoted.notPromoted}: promotion has not finished`,
    );
  }
  if (!promoted.endpoint) {
    throw new ConnectivityNotReadyError(`${promoted.what} has no endpoint yet (status ${promoted.status})`);
  }
  return { endpoint: normalizeName(promoted.endpoint), port: promoted.port };
}

/** Turns a driver error into our family, by its code; the message names what was being done, never the password. */
function databaseError(family: EngineFamily, error: unknown, doing: string, password: string): LifeboatError {
  if (error instanceof LifeboatError) return error;
  const { kind, code } = sortDbError(family, error);
  const said = redact(driverMessage(error), password);
  const options = optionsWithCause(safeCause(error, password));
  const what = `${doing}: ${code ? `${code}: ` : ''}${said}`;
  switch (kind) {
    case 'not-ready':
      return new ConnectivityNotReadyError(what, options);
    case 'auth':
      return new VerificationFailedError(`authentication failed ${what}`, options);
    case 'tls':
      return new VerificationFailedError(`TLS verification failed ${what}`, options);
    default:
      return new VerificationFailedError(what, options);
  }
}

/** A statement refused by a read-only transaction: PostgreSQL SQLSTATE 25006, MySQL error 1792. */
const READ_ONLY_REFUSALS = new Set(['25006', 'ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION']);

function optionsWithCause(cause: unknown): { cause?: unknown } {
  return cause === undefined ? {} : { cause };
}

const STAGE_WORDS = {
  state: 'reading the server state',
  query: "running the plan's verify.query",
  write: 'the rolled-back write probe',
} as const;

export async function verifyConnectivity(
  deps: VerifyDeps,
  input: UnitStepInput & { dns?: DnsSettlement },
): Promise<StepResult> {
  const { run, unit } = input;
  return timedStep(
    'verifyConnectivity',
    unit.name,
    async () => {
      // A dry run probes the network read-only (functions/lib/verify/dry-run.ts): nothing is promoted to verify yet.
      if (run.mode === 'dry-run') {
        return dryRunProbe(deps, unit, await readCredentials(deps.secretsManager, unit));
      }
      // Not ready past the budget (the DNS change in sync + the larger TTL + an allowance) is permanent.
      const budget = verifyBudget(unit, input.dns);
      try {
        const body = await verifyUnit(deps, unit);
        return { ...body, detail: { ...body.detail, ...budgetDetail(budget) } };
      } catch (error) {
        throw withinBudget(error, budget, (deps.now ?? (() => new Date()))());
      }
    },
    deps.now,
  );
}

async function verifyUnit(deps: VerifyDeps, unit: UnitPlan): Promise<StepBody> {
  const timeoutMs = unit.verify.timeoutSeconds * 1000;
  const family = engineFamily(unit.database.engine);
  const warnings: string[] = [];

  const [credentials, target] = await Promise.all([
    readCredentials(deps.secretsManager, unit),
    promotedEndpoint(deps.rds, unit),
  ]);
  const { password } = credentials;
  try {
    const record = normalizeName(credentials.host);
    if (record !== normalizeName(unit.dns.recordName)) {
      warnings.push(
        `the secret's host is not the plan's record ${normalizeName(unit.dns.recordName)}; verified the host an application uses`,
      );
    }
    if (target.port !== undefined && target.port !== credentials.port) {
      warnings.push(`the secret's port ${credentials.port} differs from the instance's port ${target.port}`);
    }

    const makeResolver =
      deps.resolver ?? systemResolverFactory(parseDnsServers(optionalEnv(DNS_SERVERS_ENV)));
    // DNS gets half the timeout in all, so the whole attempt stays within 2.5 x verify.timeoutSeconds.
    const resolution = await resolveLikeAnApplication(makeResolver(timeoutMs / 2), record, timeoutMs / 2);
    if (!resolution.chain.includes(target.endpoint)) {
      throw new ConnectivityNotReadyError(
        `${record} leads to ${describeChain(resolution)}, not to the promoted instance's endpoint ${target.endpoint} ` +
          `(resolvers may keep the old answer for up to the record's TTL, ${unit.dns.ttl} s)`,
      );
    }
    const address = resolution.addresses[0] as string;

    const tls: TlsPolicy | null = unit.verify.requireTls
      ? { endpoint: target.endpoint, ...withCa((deps.trustStore ?? databaseTrustStore)()) }
      : null;
    const database = unit.verify.database ?? credentials.dbname;
    const options: ConnectOptions = {
      address,
      port: credentials.port,
      user: credentials.username,
      password,
      database,
      timeoutMs,
      tls,
    };
    const connectors = deps.connectors ?? defaultConnectors;
    const where = `${family} at ${address}:${credentials.port} (${target.endpoint})`;

    let session: DbSession;
    try {
      session = await connectors[family](options);
    } catch (error) {
      throw databaseError(family, error, `connecting to ${where}`, password);
    }
    const findings = await probeWithin(session, family, unit, where, timeoutMs, password);

    const detail: Record<string, DetailValue> = {
      record,
      cnameTarget: resolution.chain[1] ?? null,
      cnameChain: resolution.chain.join(' -> '),
      address,
      endpoint: target.endpoint,
      instance: isAuroraUnit(unit)
        ? unit.database.replicaClusterId
        : instanceDatabase(unit, 'verifyConnectivity').replicaInstanceId,
      engine: unit.database.engine,
      port: credentials.port,
      database: unit.verify.database ?? null,
      ttl: unit.dns.ttl,
      tls: tls !== null,
      tlsSubject: tls ? session.tlsSubject : null,
      writable: true,
      writeProbe: findings.writeProbe,
      queryOk: true,
      queryRows: findings.queryRows,
      serverVersion: findings.serverVersion,
    };
    warnings.push(...findings.warnings);
    logger.info('connectivity verified', { unit: unit.name, ...detail });
    return { outcome: 'changed', detail, warnings: warnings.map((w) => redact(w, password)) };
  } catch (error) {
    const ours = error instanceof LifeboatError ? error : databaseError(family, error, 'verifying', password);
    if (ours instanceof ConnectivityNotReadyError) {
      logger.info('connectivity not ready yet', { unit: unit.name, reason: redact(ours.message, password) });
    }
    throw ours;
  }
}

function withCa(ca: string[] | undefined): { ca?: string[] } {
  return ca ? { ca } : {};
}

function describeChain(resolution: Resolution): string {
  const via = resolution.chain.length > 1 ? resolution.chain.slice(1).join(' -> ') : '(no CNAME)';
  return `${via} (${resolution.addresses.join(', ')})`;
}

/**
 * Runs the probe with one deadline for all its queries: past it, the socket is torn down and the attempt is not
 * ready. The session is always closed.
 */
async function probeWithin(
  session: DbSession,
  family: EngineFamily,
  unit: UnitPlan,
  where: string,
  timeoutMs: number,
  password: string,
): Promise<ProbeFindings> {
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    session.abort();
  }, timeoutMs);
  try {
    return await probeDatabase(family, session, unit.verify.query, where);
  } catch (error) {
    if (expired) {
      throw new ConnectivityNotReadyError(
        `${where} did not answer the verification queries within ${unit.verify.timeoutSeconds} s`,
      );
    }
    if (error instanceof ProbeStageError) {
      const doing = `${STAGE_WORDS[error.stage]} on ${where}`;
      // The server was just proven writable, so a read-only refusal of the plan's query means the query writes.
      if (
        error.stage === 'query' &&
        READ_ONLY_REFUSALS.has(String(sortDbError(family, error.driverError).code))
      ) {
        throw new VerificationFailedError(
          `${doing}: the query tries to write; verify.query must be a read query (it runs in a read-only transaction)`,
          optionsWithCause(safeCause(error.driverError, password)),
        );
      }
      throw databaseError(family, error.driverError, doing, password);
    }
    throw databaseError(family, error, `verifying ${where}`, password);
  } finally {
    clearTimeout(timer);
    await session.close();
  }
}
