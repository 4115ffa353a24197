import { FenceFailedError } from '../errors.js';
import type { DbSession, EngineFamily, Row } from '../verify/db.js';
import type { PositionKind } from './positions.js';

/**
 * The fence per engine (docs/design/switchover.md, "The fence"): SQL that the RDS master user may run, reversible, and
 * idempotent (a re-run finds it in place and goes on). Each function takes an open session as the secret's user.
 *
 * - PostgreSQL: `ALTER DATABASE <db> SET default_transaction_read_only = on` on the application's database, then every
 *   other session on it ended (`pg_terminate_backend`, which `rds_superuser` may call): sessions that reconnect are
 *   read-only; the un-fence RESETs the setting.
 * - MySQL and MariaDB: the RDS master user has no SUPER, so `SET GLOBAL read_only` is refused
 *   (docs/aws/mysql-writability.md). Every application account is locked (`ALTER USER ... ACCOUNT LOCK`, which the
 *   master user's CREATE USER privilege allows) and its sessions ended (`KILL`, or `mysql.rds_kill` on RDS). The
 *   accounts are listed first in `lifeboat.fenced_accounts`, so that a re-run and the un-fence touch exactly those.
 *
 * Both are written to the WAL or binlog and reach the replica with everything before them: the promoted replica
 * inherits the fence, and lifeboat lifts it there (`unfence` on the new primary) before DNS moves.
 */

export type Flavour = 'postgres' | 'mariadb' | 'mysql';

export interface FenceOutcome {
  /** False when the fence was already in place (a re-run). */
  readonly changed: boolean;
  /** Sessions ended so that none keeps writing from before the fence. */
  readonly sessionsEnded: number;
  /** MySQL family: the accounts locked. */
  readonly accounts: readonly string[];
  /** The primary's position read after the fence and after every ended session was gone. */
  readonly position: string;
  readonly positionKind: PositionKind;
}

export interface UnfenceOutcome {
  readonly changed: boolean;
  readonly sessionsEnded: number;
  readonly accounts: readonly string[];
}

export interface EngineOptions {
  /** Pause between looks at the session list. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** How long ended sessions may take to go. @default 10 s */
  readonly sessionsGoneMs?: number;
}

const FENCE_TABLE = '`lifeboat`.`fenced_accounts`';
/** Accounts of RDS and of the server itself, never locked (RDS: rdsadmin and its replication and monitoring users). */
const SYSTEM_ACCOUNTS = [
  'rdsadmin',
  'rdsrepladmin',
  'rdstopmgr',
  'root',
  'mysql.sys',
  'mysql.session',
  'mysql.infoschema',
  'mariadb.sys',
];

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A MySQL string literal (the default sql_mode: backslash escapes). */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\0/g, '\\0')}'`;
}

function account(row: Row): { user: string; host: string } {
  return { user: String(row.user), host: String(row.host) };
}

const name = (a: { user: string; host: string }) => `'${a.user}'@'${a.host}'`;

function sleepFor(options: EngineOptions): (ms: number) => Promise<void> {
  return options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
}

/** Which server answers: PostgreSQL, or MariaDB or MySQL by `VERSION()` (a `mysql` unit may run on either locally). */
export async function flavourOf(session: DbSession, family: EngineFamily): Promise<Flavour> {
  if (family === 'postgres') return 'postgres';
  const rows = await session.query('SELECT VERSION() AS version');
  return /mariadb/i.test(String(rows[0]?.version ?? '')) ? 'mariadb' : 'mysql';
}

/** Waits until none of `ids` is in the server's session list; the fence position is read only after that. */
async function waitUntilGone(
  session: DbSession,
  sql: (ids: string) => string,
  ids: readonly number[],
  options: EngineOptions,
): Promise<void> {
  if (ids.length === 0) return;
  const sleep = sleepFor(options);
  const deadline = Date.now() + (options.sessionsGoneMs ?? 10_000);
  for (;;) {
    const rows = await session.query(sql(ids.join(', ')));
    if (Number(rows[0]?.n ?? 0) === 0) return;
    if (Date.now() >= deadline) {
      throw new FenceFailedError(
        `${Number(rows[0]?.n)} ended session(s) were still open after ${(options.sessionsGoneMs ?? 10_000) / 1000} s; ` +
          'the fence position cannot be read before they are gone',
      );
    }
    await sleep(100);
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* PostgreSQL                                                                                      */
/* ---------------------------------------------------------------------------------------------- */

async function pgSettingOn(session: DbSession): Promise<boolean> {
  const rows = await session.query(
    'SELECT COALESCE((SELECT array_to_string(s.setconfig, chr(10)) FROM pg_db_role_setting s ' +
      'JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = current_database() AND s.setrole = 0), ' +
      "'') AS settings",
  );
  return String(rows[0]?.settings ?? '')
    .split('\n')
    .some((line) => /^default_transaction_read_only=(on|true|1|yes)$/i.test(line.trim()));
}

async function pgEndOtherSessions(session: DbSession, options: EngineOptions): Promise<number> {
  const rows = await session.query(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() ' +
      "AND backend_type = 'client backend'",
  );
  const pids = rows.map((r) => Number(r.pid)).filter((pid) => Number.isInteger(pid) && pid > 0);
  for (const pid of pids) await session.query(`SELECT pg_terminate_backend(${pid})`);
  await waitUntilGone(
    session,
    (ids) => `SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid IN (${ids})`,
    pids,
    options,
  );
  return pids.length;
}

/** This session may write even where the database's default is read-only (the fence itself is such a default). */
async function pgWritableSession(session: DbSession, what: string): Promise<void> {
  const rows = await session.query('SELECT pg_is_in_recovery() AS in_recovery');
  if (rows[0]?.in_recovery === true) {
    throw new FenceFailedError(`${what} is in recovery (a standby): it is not a primary that can be fenced`);
  }
  await session.query('SET default_transaction_read_only = off');
}

async function pgFence(session: DbSession, what: string, options: EngineOptions): Promise<FenceOutcome> {
  await pgWritableSession(session, what);
  const already = await pgSettingOn(session);
  if (!already) {
    const db = String((await session.query('SELECT current_database() AS db'))[0]?.db);
    await session.query(`ALTER DATABASE ${quoteIdent(db)} SET default_transaction_read_only = on`);
  }
  // Always: a run that crashed between the ALTER and here left sessions that started before it.
  const sessionsEnded = await pgEndOtherSessions(session, options);
  const lsn = await session.query('SELECT pg_current_wal_lsn()::text AS lsn');
  return {
    changed: !already,
    sessionsEnded,
    accounts: [],
    position: String(lsn[0]?.lsn),
    positionKind: 'pg-lsn',
  };
}

async function pgUnfence(session: DbSession, what: string, options: EngineOptions): Promise<UnfenceOutcome> {
  await pgWritableSession(session, what);
  if (!(await pgSettingOn(session))) return { changed: false, sessionsEnded: 0, accounts: [] };
  const db = String((await session.query('SELECT current_database() AS db'))[0]?.db);
  await session.query(`ALTER DATABASE ${quoteIdent(db)} RESET default_transaction_read_only`);
  // Sessions opened while fenced keep read-only as their default until they reconnect.
  const sessionsEnded = await pgEndOtherSessions(session, options);
  return { changed: true, sessionsEnded, accounts: [] };
}

/* ---------------------------------------------------------------------------------------------- */
/* MySQL and MariaDB                                                                               */
/* ---------------------------------------------------------------------------------------------- */

async function fenceTableExists(session: DbSession): Promise<boolean> {
  const rows = await session.query(
    "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'lifeboat' AND TABLE_NAME = 'fenced_accounts'",
  );
  return Number(rows[0]?.n ?? 0) > 0;
}

async function fencedAccounts(session: DbSession): Promise<{ user: string; host: string }[]> {
  if (!(await fenceTableExists(session))) return [];
  return (await session.query(`SELECT \`user\` AS user, \`host\` AS host FROM ${FENCE_TABLE}`)).map(account);
}

/** Ends the sessions of `users` (never this one): KILL where allowed, else RDS's mysql.rds_kill. */
async function mysqlEndSessions(
  session: DbSession,
  users: readonly string[],
  options: EngineOptions,
): Promise<number> {
  if (users.length === 0) return 0;
  const rows = await session.query(
    `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER IN (${users.map(quoteString).join(', ')}) ` +
      'AND ID <> CONNECTION_ID()',
  );
  const ids = rows.map((r) => Number(r.id)).filter((id) => Number.isInteger(id) && id > 0);
  for (const id of ids) {
    try {
      await session.query(`KILL CONNECTION ${id}`);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ER_NO_SUCH_THREAD') continue;
      if (code !== 'ER_KILL_DENIED_ERROR' && code !== 'ER_SPECIFIC_ACCESS_DENIED_ERROR') throw error;
      // The RDS master user may not KILL others' sessions; RDS's procedure does it (docs/aws/rds-session-fencing.md).
      try {
        await session.query(`CALL mysql.rds_kill(${id})`);
      } catch (inner) {
        if ((inner as { code?: string }).code !== 'ER_NO_SUCH_THREAD') throw inner;
      }
    }
  }
  await waitUntilGone(
    session,
    (list) => `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID IN (${list})`,
    ids,
    options,
  );
  return ids.length;
}

async function mysqlFence(
  session: DbSession,
  flavour: 'mariadb' | 'mysql',
  what: string,
  runId: string,
  options: EngineOptions,
): Promise<FenceOutcome> {
  const state = await session.query('SELECT @@global.read_only AS ro');
  if (Number(state[0]?.ro) !== 0) {
    throw new FenceFailedError(`${what} has read_only on: it is not a writable primary that can be fenced`);
  }
  let accounts = await fencedAccounts(session);
  const already = accounts.length > 0;
  if (!already) {
    // MySQL keeps the lock in mysql.user.account_locked; MariaDB 10.4+ in mysql.global_priv's JSON, and its roles are
    // rows of mysql.user too (docs/aws/rds-session-fencing.md).
    const candidates = await accountsToLock(session, flavour, what);
    // Listed before locking: a re-run after a crash, and the un-fence, touch exactly these accounts.
    await session.query('CREATE DATABASE IF NOT EXISTS `lifeboat`');
    await session.query(
      `CREATE TABLE IF NOT EXISTS ${FENCE_TABLE} (\`user\` VARCHAR(128) NOT NULL, \`host\` VARCHAR(255) NOT NULL, ` +
        '`run_id` VARCHAR(128) NOT NULL, `fenced_at` TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), ' +
        "PRIMARY KEY (`user`, `host`)) ENGINE=InnoDB COMMENT='accounts a lifeboat switchover locked; the un-fence unlocks them'",
    );
    await session.query(
      `INSERT IGNORE INTO ${FENCE_TABLE} (\`user\`, \`host\`, \`run_id\`) VALUES ${candidates
        .map((a) => `(${quoteString(a.user)}, ${quoteString(a.host)}, ${quoteString(runId)})`)
        .join(', ')}`,
    );
    accounts = candidates;
  }
  for (const a of accounts) {
    await session.query(`ALTER USER ${quoteString(a.user)}@${quoteString(a.host)} ACCOUNT LOCK`);
  }
  const sessionsEnded = await mysqlEndSessions(session, [...new Set(accounts.map((a) => a.user))], options);
  const pos = await session.query(
    flavour === 'mariadb' ? 'SELECT @@global.gtid_binlog_pos AS pos' : 'SELECT @@global.gtid_executed AS pos',
  );
  return {
    changed: !already,
    sessionsEnded,
    accounts: accounts.map(name),
    position: String(pos[0]?.pos ?? '').replace(/\s+/g, ''),
    positionKind: flavour === 'mariadb' ? 'mariadb-gtid' : 'mysql-gtid',
  };
}

/** The application accounts the fence would lock; none is an error (nothing changed). */
async function accountsToLock(
  session: DbSession,
  flavour: 'mariadb' | 'mysql',
  what: string,
): Promise<{ user: string; host: string }[]> {
  const unlocked =
    flavour === 'mariadb'
      ? "FROM mysql.user u JOIN mysql.global_priv g ON g.User = u.User AND g.Host = u.Host WHERE COALESCE(JSON_VALUE(g.Priv, '$.account_locked'), 'false') <> 'true' AND u.is_role = 'N'"
      : "FROM mysql.user u WHERE u.account_locked = 'N'";
  const candidates = (
    await session.query(
      `SELECT u.User AS user, u.Host AS host ${unlocked} AND u.User <> '' ` +
        `AND u.User NOT IN (${SYSTEM_ACCOUNTS.map(quoteString).join(', ')}) ` +
        "AND u.User <> SUBSTRING_INDEX(CURRENT_USER(), '@', 1) AND u.Repl_slave_priv = 'N'",
    )
  ).map(account);
  if (candidates.length === 0) {
    throw new FenceFailedError(
      `${what} has no application account to lock besides the secret's own user, which lifeboat needs: an ` +
        'application that writes as that user cannot be fenced on MySQL or MariaDB (docs/design/switchover.md); nothing was changed',
    );
  }
  return candidates;
}

async function mysqlUnfence(session: DbSession, what: string): Promise<UnfenceOutcome> {
  const accounts = await fencedAccounts(session);
  if (accounts.length === 0) return { changed: false, sessionsEnded: 0, accounts: [] };
  const state = await session.query('SELECT @@global.read_only AS ro');
  if (Number(state[0]?.ro) !== 0) {
    throw new FenceFailedError(
      `${what} has read_only on: the fence cannot be lifted there (still a replica?)`,
    );
  }
  for (const a of accounts) {
    try {
      await session.query(`ALTER USER ${quoteString(a.user)}@${quoteString(a.host)} ACCOUNT UNLOCK`);
    } catch (error) {
      // Dropped since: nothing to unlock.
      if ((error as { code?: string }).code !== 'ER_CANNOT_USER') throw error;
    }
  }
  await session.query(`DELETE FROM ${FENCE_TABLE}`);
  return { changed: true, sessionsEnded: 0, accounts: accounts.map(name) };
}

/* ---------------------------------------------------------------------------------------------- */
/* Entry points                                                                                    */
/* ---------------------------------------------------------------------------------------------- */

export function fenceWrites(
  session: DbSession,
  flavour: Flavour,
  what: string,
  runId: string,
  options: EngineOptions = {},
): Promise<FenceOutcome> {
  return flavour === 'postgres'
    ? pgFence(session, what, options)
    : mysqlFence(session, flavour, what, runId, options);
}

export function liftFence(
  session: DbSession,
  flavour: Flavour,
  what: string,
  options: EngineOptions = {},
): Promise<UnfenceOutcome> {
  return flavour === 'postgres' ? pgUnfence(session, what, options) : mysqlUnfence(session, what);
}

/** What a dry run or a drill finds out about the fence without applying it (fenceReadiness). */
export interface FenceReadiness {
  /** PostgreSQL: client sessions the fence would end now. MySQL family: the accounts it would lock. */
  readonly sessionsToEnd: number;
  readonly accounts: readonly string[];
  /** The primary's position now: where the catch-up would be compared from. */
  readonly position: string;
  readonly positionKind: PositionKind;
  /** What was checked, in words, for the report. */
  readonly checked: string;
}

/**
 * The fence's login and privileges, checked and never applied (a dry run or a drill of a switchover,
 * docs/design/switchover.md, "Dry run and drill"): the server is a writable primary, the secret's user holds what the
 * fence needs (docs/aws/rds-session-fencing.md), and, MySQL family, there is an application account to lock. Reads
 * only; a missing privilege is a FenceFailedError naming it.
 */
export async function fenceReadiness(
  session: DbSession,
  flavour: Flavour,
  what: string,
): Promise<FenceReadiness> {
  if (flavour === 'postgres') {
    const rows = await session.query(
      'SELECT pg_is_in_recovery() AS in_recovery, ' +
        "(r.rolsuper OR pg_has_role(current_user, d.datdba, 'MEMBER')) AS may_alter, " +
        "(r.rolsuper OR pg_has_role(current_user, 'pg_signal_backend', 'MEMBER')) AS may_end " +
        'FROM pg_database d JOIN pg_roles r ON r.rolname = current_user WHERE d.datname = current_database()',
    );
    const row = rows[0] ?? {};
    if (row.in_recovery === true) {
      throw new FenceFailedError(
        `${what} is in recovery (a standby): it is not a primary that can be fenced`,
      );
    }
    const missing = [
      ...(row.may_alter === true
        ? []
        : ['ALTER DATABASE (the user neither owns the database nor is a superuser)']),
      ...(row.may_end === true
        ? []
        : ['pg_terminate_backend (the user is not a member of pg_signal_backend)']),
    ];
    if (missing.length)
      throw new FenceFailedError(`${what}: the secret's user may not fence: ${missing.join('; ')}`);
    const others = await session.query(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() ' +
        "AND backend_type = 'client backend'",
    );
    const lsn = await session.query('SELECT pg_current_wal_lsn()::text AS lsn');
    return {
      sessionsToEnd: Number(others[0]?.n ?? 0),
      accounts: [],
      position: String(lsn[0]?.lsn),
      positionKind: 'pg-lsn',
      checked: 'writable primary; owns the database (ALTER DATABASE); member of pg_signal_backend',
    };
  }
  const state = await session.query('SELECT @@global.read_only AS ro');
  if (Number(state[0]?.ro) !== 0) {
    throw new FenceFailedError(`${what} has read_only on: it is not a writable primary that can be fenced`);
  }
  const grants = await session.query(
    "SELECT Create_user_priv AS create_user FROM mysql.user WHERE CONCAT(User, '@', Host) = CURRENT_USER()",
  );
  if (String(grants[0]?.create_user ?? 'N') !== 'Y') {
    throw new FenceFailedError(
      `${what}: the secret's user lacks CREATE USER, which ALTER USER ... ACCOUNT LOCK needs`,
    );
  }
  const accounts = await accountsToLock(session, flavour, what);
  const pos = await session.query(
    flavour === 'mariadb' ? 'SELECT @@global.gtid_binlog_pos AS pos' : 'SELECT @@global.gtid_executed AS pos',
  );
  return {
    sessionsToEnd: 0,
    accounts: accounts.map(name),
    position: String(pos[0]?.pos ?? '').replace(/\s+/g, ''),
    positionKind: flavour === 'mariadb' ? 'mariadb-gtid' : 'mysql-gtid',
    checked: 'writable primary (read_only off); CREATE USER (ACCOUNT LOCK); an application account to lock',
  };
}

/** Where the catch-up reads each side's position, for a dry run's planned calls. */
export function positionSource(kind: PositionKind): string {
  return kind === 'pg-lsn'
    ? 'primary pg_current_wal_lsn() after the fence; replica pg_last_wal_replay_lsn()'
    : kind === 'mariadb-gtid'
      ? 'primary @@gtid_binlog_pos after the fence; replica @@gtid_slave_pos'
      : 'primary @@global.gtid_executed after the fence; replica GTID_SUBSET(fence, @@global.gtid_executed)';
}

export interface ReplicaPosition {
  /** The replica's position as read (PostgreSQL replay LSN, MariaDB gtid_slave_pos, MySQL gtid_executed). */
  readonly position: string | null;
  /** MySQL only: GTID_SUBSET(fence, gtid_executed) as the server computed it. */
  readonly covered?: boolean;
}

/** The replica's applied position (and for MySQL whether it covers `fencePosition`, computed by the server). */
export async function replicaPosition(
  session: DbSession,
  kind: PositionKind,
  fencePosition: string,
): Promise<ReplicaPosition> {
  if (kind === 'pg-lsn') {
    const rows = await session.query('SELECT pg_last_wal_replay_lsn()::text AS lsn');
    const lsn = rows[0]?.lsn;
    return { position: lsn === null || lsn === undefined ? null : String(lsn) };
  }
  if (kind === 'mariadb-gtid') {
    const rows = await session.query('SELECT @@global.gtid_slave_pos AS pos');
    return { position: String(rows[0]?.pos ?? '').replace(/\s+/g, '') };
  }
  const rows = await session.query(
    `SELECT GTID_SUBSET(${quoteString(fencePosition)}, @@global.gtid_executed) AS covered, @@global.gtid_executed AS pos`,
  );
  return {
    position: String(rows[0]?.pos ?? '').replace(/\s+/g, ''),
    covered: Number(rows[0]?.covered) === 1,
  };
}
