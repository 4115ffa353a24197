import type { DBInstance, RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describeInstance } from '../database.js';
import { optionalEnv } from '../env.js';
import {
  awsErrorName,
  CatchUpTimeoutError,
  FenceFailedError,
  FenceKeptError,
  InputInvalidError,
  LifeboatError,
  ResourceMissingError,
  toLifeboatError,
} from '../errors.js';
import { logger } from '../observability.js';
import { recoverySecretId, type UnitPlan } from '../plan.js';
import { type StepBody, timedStep } from '../step.js';
import type { DetailValue, PollResult, RunContext, StepResult, UnitStepInput } from '../types.js';
import { parseCredentials, redact } from '../verify/connectivity.js';
import '../sdk/secrets-manager.js';
import { instanceDatabase } from '../plan-names.js';
import {
  type DbConnectors,
  type DbSession,
  databaseTrustStore,
  defaultConnectors,
  type EngineFamily,
  engineFamily,
  sortDbError,
} from '../verify/db.js';
import {
  DNS_SERVERS_ENV,
  normalizeName,
  parseDnsServers,
  type ResolverFactory,
  resolveLikeAnApplication,
  systemResolverFactory,
} from '../verify/dns.js';
import {
  type EngineOptions,
  fenceReadiness,
  fenceWrites,
  flavourOf,
  liftFence,
  positionSource,
  replicaPosition,
} from './engines.js';
import { DEFAULT_CATCH_UP_TIMEOUT_SECONDS, type PositionKind, positionReached } from './positions.js';

/**
 * The switchover's own steps (docs/design/switchover.md): fence writes on the primary, wait until the replica has
 * replayed everything committed before the fence, and lift the fence (on the primary when the switchover stops before
 * promotion, on the promoted replica after it). Everything else is the failover's steps.
 *
 * Plan-driven: the primary is the plan's `primaryInstanceId` in `primaryRegion`, the replica its `replicaInstanceId`
 * in `recoveryRegion`; a reversed plan switches back. The secret (read in the recovery Region) gives the credentials:
 * the replica holds the primary's users. The password goes to the driver only.
 */

export interface SwitchoverDeps {
  readonly secretsManager: SecretsManagerClient;
  /** RDS in the recovery Region (the replica). */
  readonly rds: RDSClient;
  /** RDS in the primary Region, which a switchover needs healthy. */
  readonly primaryRds: RDSClient;
  readonly resolver?: ResolverFactory;
  readonly connectors?: DbConnectors;
  readonly trustStore?: () => string[] | undefined;
  readonly now?: () => Date;
  readonly engine?: EngineOptions;
}

export type Side = 'primary' | 'replica';

/** What the fence step hands the catch-up poll (`$.results.fencePrimary.detail`). */
export interface FenceDetail {
  readonly fencePosition: string;
  readonly positionKind: PositionKind;
  readonly fencedAt: string;
}

interface OpenSession {
  readonly session: DbSession;
  /** The instance as RDS described it just before the login. */
  readonly described: DBInstance;
  readonly family: EngineFamily;
  readonly instance: string;
  readonly endpoint: string;
  readonly password: string;
}

function instanceOf(unit: UnitPlan, side: Side): string {
  return side === 'primary'
    ? instanceDatabase(unit, 'the switchover fence').primaryInstanceId
    : instanceDatabase(unit, 'the switchover fence').replicaInstanceId;
}

async function readSecret(sm: SecretsManagerClient, unit: UnitPlan) {
  const secretId = recoverySecretId(unit);
  try {
    const out = await sm.send(new GetSecretValueCommand({ SecretId: secretId }));
    return parseCredentials(out.SecretString, secretId, unit.database.engine);
  } catch (error) {
    if (awsErrorName(error) === 'ResourceNotFoundException') {
      throw new ResourceMissingError(`secret ${secretId} does not exist in this Region`, { cause: error });
    }
    throw toLifeboatError(error, `GetSecretValue on ${secretId}`);
  }
}

/** A driver error as ours: the message names what was done and the code, never the password. */
function databaseError(family: EngineFamily, error: unknown, doing: string, password: string): LifeboatError {
  if (error instanceof LifeboatError) return error;
  const { code } = sortDbError(family, error);
  const said = redact(error instanceof Error ? error.message : String(error), password);
  return new FenceFailedError(`${doing}: ${code ? `${code}: ` : ''}${said}`);
}

/**
 * Opens a session to the unit's primary or replica as the secret's user: the instance's endpoint from RDS in its own
 * Region, resolved through DNS, TLS checked against that endpoint (as the verify step does).
 */
async function openSession(deps: SwitchoverDeps, unit: UnitPlan, side: Side): Promise<OpenSession> {
  const instanceId = instanceOf(unit, side);
  const [credentials, instance] = await Promise.all([
    readSecret(deps.secretsManager, unit),
    describeInstance(side === 'primary' ? deps.primaryRds : deps.rds, instanceId),
  ]);
  const family = engineFamily(unit.database.engine);
  const { password } = credentials;
  const address = instance.Endpoint?.Address;
  if (!address) {
    throw new FenceFailedError(
      `DB instance ${instanceId} has no endpoint (status ${instance.DBInstanceStatus ?? 'unknown'})`,
    );
  }
  const endpoint = normalizeName(address);
  const timeoutMs = unit.verify.timeoutSeconds * 1000;
  try {
    const makeResolver =
      deps.resolver ?? systemResolverFactory(parseDnsServers(optionalEnv(DNS_SERVERS_ENV)));
    const resolution = await resolveLikeAnApplication(makeResolver(timeoutMs / 2), endpoint, timeoutMs / 2);
    const ca = unit.verify.requireTls ? (deps.trustStore ?? databaseTrustStore)() : undefined;
    const session = await (deps.connectors ?? defaultConnectors)[family]({
      address: resolution.addresses[0] as string,
      port: instance.Endpoint?.Port ?? credentials.port,
      user: credentials.username,
      password,
      database: unit.verify.database ?? credentials.dbname,
      timeoutMs,
      tls: unit.verify.requireTls ? { endpoint, ...(ca ? { ca } : {}) } : null,
    });
    return { session, family, instance: instanceId, endpoint, password, described: instance };
  } catch (error) {
    // Preflight reads the primary through RDS's API only; this login is the first time a switchover reaches the
    // primary database (docs/design/switchover.md, "Preflight"). Nothing is fenced yet when it fails.
    const advice = side === 'primary' ? `; ${PRIMARY_UNREACHABLE_ADVICE}` : '';
    throw databaseError(
      family,
      error,
      `connecting to ${side} ${instanceId} (${endpoint})${advice}`,
      password,
    );
  }
}

/** What a switchover that cannot log in to its primary says to do. */
export const PRIMARY_UNREACHABLE_ADVICE =
  'nothing was fenced; a switchover needs a reachable primary: if the primary Region is impaired, run a failover instead (mode "failover")';

async function withSession<T>(
  deps: SwitchoverDeps,
  unit: UnitPlan,
  side: Side,
  work: (open: OpenSession) => Promise<T>,
): Promise<T> {
  const open = await openSession(deps, unit, side);
  try {
    return await work(open);
  } catch (error) {
    throw databaseError(open.family, error, `on ${side} ${open.instance}`, open.password);
  } finally {
    await open.session.close();
  }
}

/** The SQL each engine's fence runs, for a dry run's planned calls and the report. */
export function fenceMechanism(unit: UnitPlan): string {
  return engineFamily(unit.database.engine) === 'postgres'
    ? 'ALTER DATABASE <db> SET default_transaction_read_only = on; pg_terminate_backend(other sessions)'
    : 'ALTER USER <application accounts> ACCOUNT LOCK (listed in lifeboat.fenced_accounts); KILL / mysql.rds_kill(their sessions)';
}

/* ---------------------------------------------------------------------------------------------- */
/* FencePrimary                                                                                    */
/* ---------------------------------------------------------------------------------------------- */

export async function fencePrimary(deps: SwitchoverDeps, input: UnitStepInput): Promise<StepResult> {
  const { run, unit } = input;
  const now = deps.now ?? (() => new Date());
  return timedStep(
    'fencePrimary',
    unit.name,
    async () => {
      const instance = instanceDatabase(unit, 'the switchover fence').primaryInstanceId;
      if (run.mode === 'dry-run' || run.mode === 'drill') return checkFence(deps, run, unit, instance, now);
      const result = await withSession(deps, unit, 'primary', async ({ session, family, endpoint }) => {
        const flavour = await flavourOf(session, family);
        const outcome = await fenceWrites(session, flavour, `primary ${instance}`, run.runId, deps.engine);
        return { outcome, flavour, endpoint };
      });
      const { outcome } = result;
      // The fence holds from here: every session from before it is gone, and the position is read after that.
      const fencedAt = now().toISOString();
      logger.info('primary fenced', {
        unit: unit.name,
        instance,
        changed: outcome.changed,
        sessionsEnded: outcome.sessionsEnded,
        fencePosition: outcome.position,
      });
      const detail: Record<string, DetailValue> & FenceDetail = {
        instance,
        region: run.primaryRegion,
        endpoint: result.endpoint,
        server: result.flavour,
        fence: fenceMechanism(unit),
        sessionsEnded: outcome.sessionsEnded,
        accountsLocked: outcome.accounts.length ? outcome.accounts.join(', ') : null,
        fencePosition: outcome.position,
        positionKind: outcome.positionKind,
        fencedAt,
      };
      return { outcome: outcome.changed ? 'changed' : 'already-done', detail };
    },
    now,
  );
}

/**
 * A dry run or a drill of a switchover (docs/design/switchover.md, "Dry run and drill"): logs in to the production
 * primary as the fence would and checks what the fence needs, applying nothing. The detail carries the primary's
 * position now, so that the catch-up step can be planned (dry run) or rehearsed on the drill's copy (drill).
 */
async function checkFence(
  deps: SwitchoverDeps,
  run: RunContext,
  unit: UnitPlan,
  instance: string,
  now: () => Date,
): Promise<StepBody> {
  const ready = await withSession(deps, unit, 'primary', async ({ session, family }) =>
    fenceReadiness(session, await flavourOf(session, family), `primary ${instance}`),
  );
  const detail: Record<string, DetailValue> & FenceDetail = {
    call: 'SQL on the primary',
    instance,
    region: run.primaryRegion,
    fence: fenceMechanism(unit),
    applied: false,
    checked: ready.checked,
    sessionsToEnd: ready.sessionsToEnd,
    accountsToLock: ready.accounts.length ? ready.accounts.join(', ') : null,
    positionSource: positionSource(ready.positionKind),
    fencePosition: ready.position,
    positionKind: ready.positionKind,
    fencedAt: now().toISOString(),
  };
  return { outcome: 'planned', detail };
}

/* ---------------------------------------------------------------------------------------------- */
/* WaitForCatchUp                                                                                  */
/* ---------------------------------------------------------------------------------------------- */

export interface CatchUpInput extends UnitStepInput {
  attempt: number;
  fence: FenceDetail;
}

/** Seconds between looks at the replica: replay is usually done within a second of the fence. */
export const CATCH_UP_POLL_SECONDS = 1;

/**
 * One look at the replica: done when its applied position covers the primary's position read after the fence. Past
 * the run's bound (from the fence) it throws CatchUpTimeoutError, which the state machine does not retry: the primary
 * is un-fenced and nothing is promoted.
 */
export async function checkCatchUp(deps: SwitchoverDeps, input: CatchUpInput): Promise<PollResult> {
  const { run, unit, attempt, fence } = input;
  const now = deps.now ?? (() => new Date());
  const observedAt = now().toISOString();
  if (run.mode === 'dry-run') {
    return {
      done: true,
      status: 'planned',
      waitSeconds: 0,
      observedAt,
      detail: {
        attempt,
        dryRun: true,
        call: "none: reads the replica's applied position every second",
        instance: instanceDatabase(unit, 'the switchover catch-up').replicaInstanceId,
        positionSource: positionSource(fence.positionKind),
        primaryPositionNow: fence.fencePosition,
        boundSeconds: run.catchUpTimeoutSeconds ?? DEFAULT_CATCH_UP_TIMEOUT_SECONDS,
      },
    };
  }
  let read: { position: string | null; covered?: boolean; promoted?: string };
  let unreadable: string | null = null;
  try {
    read = await withSession(deps, unit, 'replica', async ({ session, described }) => {
      // Promoted already (a re-run after the promotion, docs/design/switchover.md, "Crash and re-run"): the position
      // read by this run's fence is after the promotion and will never be replayed; the run goes on to finish the
      // switchover, the old primary fenced, with no data-loss proof of its own.
      if (!described.ReadReplicaSourceDBInstanceIdentifier) {
        return { position: null, promoted: described.DBInstanceStatus ?? 'unknown' };
      }
      return replicaPosition(session, fence.positionKind, fence.fencePosition);
    });
  } catch (error) {
    // A replica that does not answer this once is behind until the bound says otherwise; AWS throttling is retried.
    if (error instanceof LifeboatError && error.retryable) throw error;
    unreadable = error instanceof Error ? error.message : String(error);
    read = { position: null };
  }
  let done = read.promoted !== undefined;
  if (!done && read.position !== null && read.position !== '') {
    try {
      done =
        fence.positionKind === 'mysql-gtid'
          ? read.covered === true
          : positionReached(fence.positionKind, read.position, fence.fencePosition);
    } catch (error) {
      throw new FenceFailedError(`comparing positions: ${(error as Error).message}`);
    }
  }
  const detail: Record<string, DetailValue> = {
    attempt,
    instance: instanceDatabase(unit, 'the switchover fence').replicaInstanceId,
    positionKind: fence.positionKind,
    fencePosition: fence.fencePosition,
    replicaPosition: read.position,
    caughtUp: done && read.promoted === undefined,
    ...(read.promoted !== undefined ? { alreadyPromoted: true } : {}),
    ...(unreadable ? { unreadable } : {}),
  };
  logger.info('replica catch-up polled', { unit: unit.name, ...detail });
  if (!done) {
    const bound = run.catchUpTimeoutSeconds ?? DEFAULT_CATCH_UP_TIMEOUT_SECONDS;
    const waited = (Date.parse(observedAt) - Date.parse(fence.fencedAt)) / 1000;
    if (waited > bound) {
      throw new CatchUpTimeoutError(
        `replica ${instanceDatabase(unit, 'the switchover fence').replicaInstanceId} had applied ${read.position ?? 'nothing'}, not yet the primary's ` +
          `${fence.fencePosition} read after the fence, ${Math.round(waited)} s after it (bound ${bound} s): ` +
          'the primary is un-fenced and nothing is promoted',
      );
    }
  }
  return {
    done,
    status:
      read.promoted !== undefined
        ? 'already-promoted'
        : done
          ? 'caught-up'
          : unreadable
            ? 'unreadable'
            : 'behind',
    waitSeconds: done ? 0 : CATCH_UP_POLL_SECONDS,
    observedAt,
    detail,
  };
}

/* ---------------------------------------------------------------------------------------------- */
/* UnfencePrimary / LiftFence                                                                      */
/* ---------------------------------------------------------------------------------------------- */

/**
 * Lifts the fence: on the primary (`unfencePrimary`: the switchover stopped before promotion) or on the promoted
 * replica (`liftFence`: it inherited the fence through replication, docs/design/switchover.md). Idempotent.
 */
export async function unfence(deps: SwitchoverDeps, input: UnitStepInput, side: Side): Promise<StepResult> {
  const { run, unit } = input;
  const step = side === 'primary' ? 'unfencePrimary' : 'liftFence';
  return timedStep(
    step,
    unit.name,
    async (): Promise<StepBody> => {
      const instance = instanceOf(unit, side);
      const region = side === 'primary' ? run.primaryRegion : run.recoveryRegion;
      if (run.mode === 'dry-run') {
        return {
          outcome: 'planned',
          detail: { call: 'SQL on the database', instance, region, unfence: 'the fence, reversed' },
        };
      }
      if (side === 'primary') await assertReplicaUnpromoted(deps, unit);
      const out = await withSession(deps, unit, side, async ({ session, family }) =>
        liftFence(session, await flavourOf(session, family), `${side} ${instance}`, deps.engine),
      );
      logger.info('fence lifted', { unit: unit.name, instance, side, changed: out.changed });
      return {
        outcome: out.changed ? 'changed' : 'already-done',
        detail: {
          instance,
          region,
          sessionsEnded: out.sessionsEnded,
          accountsUnlocked: out.accounts.length ? out.accounts.join(', ') : null,
        },
      };
    },
    deps.now,
  );
}

/**
 * Never two writers: the primary is not un-fenced once RDS describes the replica as promoted or promoting (no
 * source), e.g. a re-run whose earlier run promoted it (docs/design/switchover.md, "Crash and re-run"). A replica that
 * cannot be described does not block the un-fence: before the promotion nothing was promoted by this run, and the
 * primary must not stay fenced because the recovery Region's RDS does not answer.
 */
async function assertReplicaUnpromoted(deps: SwitchoverDeps, unit: UnitPlan): Promise<void> {
  const replicaId = instanceOf(unit, 'replica');
  let replica: DBInstance;
  try {
    replica = await describeInstance(deps.rds, replicaId);
  } catch (error) {
    logger.warn('replica not described before the un-fence', {
      unit: unit.name,
      replica: replicaId,
      error: error instanceof Error ? error.name : String(error),
    });
    return;
  }
  if (!replica.ReadReplicaSourceDBInstanceIdentifier) {
    throw new FenceKeptError(
      `the replica ${replicaId} names no source (status "${replica.DBInstanceStatus ?? 'unknown'}"): it is promoted or promoting, so the primary stays fenced (never two writers); re-run the switchover to finish it`,
    );
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* Input checks                                                                                    */
/* ---------------------------------------------------------------------------------------------- */

/** The fence's detail the catch-up poll reads; a payload wired wrong fails here, naming the field. */
export function assertFenceDetail(value: unknown, step: string): asserts value is FenceDetail {
  const v = value as Partial<FenceDetail> | undefined;
  const problems: string[] = [];
  if (typeof v?.fencePosition !== 'string') problems.push('fence.fencePosition: expected a string');
  if (!['pg-lsn', 'mariadb-gtid', 'mysql-gtid'].includes(String(v?.positionKind))) {
    problems.push('fence.positionKind: expected pg-lsn, mariadb-gtid or mysql-gtid');
  }
  if (typeof v?.fencedAt !== 'string' || Number.isNaN(Date.parse(v.fencedAt))) {
    problems.push('fence.fencedAt: expected an ISO time');
  }
  if (problems.length) {
    throw new InputInvalidError(`${step}: invalid step input:\n  - ${problems.join('\n  - ')}`, problems);
  }
}

export function runIsSwitchover(run: RunContext): boolean {
  return run.mode === 'switchover';
}
