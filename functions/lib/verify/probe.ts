import { ConnectivityNotReadyError, VerificationFailedError } from '../errors.js';
import type { DbSession, EngineFamily, Row } from './db.js';

/**
 * What the verify step asks a connected database: is it a writable primary, does the plan's read query work, and
 * does a write succeed — a write that is always rolled back, so application data is never touched.
 *
 * A probe throws ConnectivityNotReadyError / VerificationFailedError for what it proves wrong; a driver error
 * (connection dropped, SQL error) propagates as is, and the caller sorts it by its code.
 */

export interface ProbeFindings {
  serverVersion: string;
  /** Rows the plan's query returned. */
  queryRows: number;
  /** How writability was proven. */
  writeProbe: 'temp-table' | 'transaction-id' | 'scratch-table' | 'read-write-transaction';
  warnings: string[];
}

/** Which part of the probe was running, for the error message. */
export type ProbeStage = 'state' | 'query' | 'write';

export class ProbeStageError extends Error {
  override readonly name = 'ProbeStageError';
  constructor(
    readonly stage: ProbeStage,
    readonly driverError: unknown,
  ) {
    super(`probe stage ${stage} failed`);
  }
}

/** Runs `fn`, marking a driver error with the stage it happened in; our own errors pass through. */
async function stage<T>(name: ProbeStage, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof ConnectivityNotReadyError || error instanceof VerificationFailedError) throw error;
    if (error instanceof ProbeStageError) throw error;
    throw new ProbeStageError(name, error);
  }
}

function first(rows: Row[], what: string): Row {
  const row = rows[0];
  if (!row) throw new VerificationFailedError(`${what} returned no row`);
  return row;
}

/**
 * A transaction that is always rolled back, whatever `body` does. `onBeginError` may turn a refused BEGIN into one of
 * our errors. The rollback's own failure does not hide the first error.
 */
async function rolledBack<T>(
  session: DbSession,
  begin: string,
  body: () => Promise<T>,
  onBeginError: (error: unknown) => unknown = (error) => error,
): Promise<T> {
  try {
    await session.query(begin);
  } catch (error) {
    // A refused BEGIN may still leave an aborted transaction block open.
    await session.query('ROLLBACK').catch(() => undefined);
    throw onBeginError(error);
  }
  let result: T;
  try {
    result = await body();
  } catch (error) {
    await session.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  await session.query('ROLLBACK');
  return result;
}

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

/* ---------------------------------------------------------------------------------------------- */
/* PostgreSQL                                                                                      */
/* ---------------------------------------------------------------------------------------------- */

/** SQLSTATE 42501 insufficient_privilege: the user may not create temporary tables (TEMP revoked from PUBLIC). */
const PG_INSUFFICIENT_PRIVILEGE = '42501';
/**
 * What a hot standby answers to `BEGIN READ WRITE`: 0A000 feature_not_supported, "cannot set transaction read-write
 * mode during recovery" (seen on PostgreSQL 18); 25006 read_only_sql_transaction is the read-only family's code.
 */
const PG_REFUSED_READ_WRITE = new Set(['0A000', '25006']);

function refusedReadWrite(where: string) {
  return (error: unknown): unknown => {
    const code = codeOf(error);
    if (typeof code === 'string' && PG_REFUSED_READ_WRITE.has(code)) {
      return new ConnectivityNotReadyError(
        `${where} refuses read-write transactions (SQLSTATE ${code}): it is still in recovery`,
        { cause: error },
      );
    }
    return error;
  };
}

/**
 * The write that proves a PostgreSQL primary, always rolled back:
 * - `BEGIN READ WRITE` is refused on a hot standby; that is ConnectivityNotReadyError.
 * - `CREATE TEMP TABLE` writes the system catalogs (a real, WAL-logged write; all CREATE commands are refused in a
 *   read-only transaction, temporary or not — PostgreSQL docs, SET TRANSACTION), the INSERT writes the table; the
 *   ROLLBACK leaves nothing behind.
 * - When the user lacks the TEMP privilege, assigning a transaction id (`txid_current()`) is the proof instead:
 *   PostgreSQL cannot assign transaction ids during recovery.
 */
export async function postgresWriteProbe(
  session: DbSession,
  where = 'the server',
): Promise<ProbeFindings['writeProbe']> {
  try {
    await rolledBack(
      session,
      'BEGIN READ WRITE',
      async () => {
        await session.query('CREATE TEMP TABLE lifeboat_probe (x int) ON COMMIT DROP');
        await session.query('INSERT INTO lifeboat_probe (x) VALUES (1)');
      },
      refusedReadWrite(where),
    );
    return 'temp-table';
  } catch (error) {
    if (codeOf(error) !== PG_INSUFFICIENT_PRIVILEGE) throw error;
  }
  await rolledBack(
    session,
    'BEGIN READ WRITE',
    () => session.query('SELECT txid_current() AS xid'),
    refusedReadWrite(where),
  );
  return 'transaction-id';
}

async function probePostgres(session: DbSession, query: string, where: string): Promise<ProbeFindings> {
  const warnings: string[] = [];
  const state = await stage('state', async () =>
    first(
      await session.query(
        "SELECT pg_is_in_recovery() AS in_recovery, current_setting('transaction_read_only') AS read_only, " +
          "current_setting('server_version') AS version",
      ),
      'the recovery-state query',
    ),
  );
  if (state.in_recovery !== false) {
    throw new ConnectivityNotReadyError(
      `${where} is still in recovery (pg_is_in_recovery() is true): it is a standby, promotion has not finished`,
    );
  }
  if (state.read_only !== 'off') {
    throw new VerificationFailedError(
      `${where} is not in recovery but sessions are read-only (transaction_read_only = ${String(state.read_only)}); ` +
        'check default_transaction_read_only for the user and the database',
    );
  }
  const rows = await stage('query', () => rolledBack(session, 'BEGIN READ ONLY', () => session.query(query)));
  const writeProbe = await stage('write', () => postgresWriteProbe(session, where));
  if (writeProbe === 'transaction-id') {
    warnings.push(
      'the user may not create temporary tables; writability was proven by assigning a transaction id only',
    );
  }
  return { serverVersion: String(state.version ?? 'unknown'), queryRows: rows.length, writeProbe, warnings };
}

/* ---------------------------------------------------------------------------------------------- */
/* MySQL and MariaDB                                                                               */
/* ---------------------------------------------------------------------------------------------- */

function flag(value: unknown): boolean {
  return value === 1 || value === '1' || value === true || value === 'ON' || value === 'on';
}

/** The table the MySQL-family write probe creates, writes one row to (rolled back) and drops again. */
export const MYSQL_PROBE_TABLE = 'lifeboat_verify_probe';
/** Marks the table as lifeboat's: a table of that name without this comment is never written to nor dropped. */
export const MYSQL_PROBE_COMMENT = 'lifeboat verify write probe; safe to drop';

/** The user may not create the table, or no database is selected: the probe falls back, with a warning. */
const MYSQL_CANNOT_CREATE = new Set([
  'ER_TABLEACCESS_DENIED_ERROR', // 1142: no CREATE (or INSERT/DROP) on the database
  'ER_DBACCESS_DENIED_ERROR', // 1044
  'ER_SPECIFIC_ACCESS_DENIED_ERROR', // 1227
  'ER_NO_DB_ERROR', // 1046: the session has no database
]);

export interface MysqlWriteProof {
  writeProbe: 'scratch-table' | 'read-write-transaction';
  warnings: string[];
}

/**
 * The write that proves a MySQL or MariaDB primary (docs/aws/mysql-writability.md). `read_only` (and MySQL's
 * `super_read_only`) exempt temporary tables, so a TEMPORARY table proves nothing on these engines; the probe writes a
 * durable table instead, which a read-only server refuses (ER_OPTION_PREVENTS_STATEMENT, 1290):
 * - `CREATE TABLE lifeboat_verify_probe` (InnoDB, marked by its comment) in the verify database;
 * - `START TRANSACTION READ WRITE`, one row inserted, `ROLLBACK`: a real row write that leaves nothing;
 * - `DROP TABLE`: the database is as it was. A table an interrupted probe left behind is recognised by its comment and
 *   reused, then dropped; a table of that name without the comment is not lifeboat's and is left alone (an error).
 * When the user may not create tables there, the proof falls back to `read_only = 0` (checked before) and a read-write
 * transaction, which `read_only` also refuses, with a warning that says so.
 */
export async function mysqlWriteProbe(session: DbSession, where = 'the server'): Promise<MysqlWriteProof> {
  try {
    await session.query(
      `CREATE TABLE ${MYSQL_PROBE_TABLE} (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB COMMENT='${MYSQL_PROBE_COMMENT}'`,
    );
  } catch (error) {
    const code = codeOf(error);
    if (typeof code === 'string' && MYSQL_CANNOT_CREATE.has(code)) {
      await rolledBack(session, 'START TRANSACTION READ WRITE', async () => [] as Row[]);
      return {
        writeProbe: 'read-write-transaction',
        warnings: [
          `the user may not create the probe table ${MYSQL_PROBE_TABLE} in the verify database (${code}); writability ` +
            'was proven by read_only = 0 and a read-write transaction only, not by a written row',
        ],
      };
    }
    if (code !== 'ER_TABLE_EXISTS_ERROR') throw error;
    const rows = await session.query(
      `SELECT TABLE_COMMENT AS table_comment FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '${MYSQL_PROBE_TABLE}'`,
    );
    if (rows[0]?.table_comment !== MYSQL_PROBE_COMMENT) {
      throw new VerificationFailedError(
        `${where} has a table ${MYSQL_PROBE_TABLE} that lifeboat did not create (its comment is not lifeboat's); ` +
          'lifeboat neither writes to it nor drops it: rename it, or verify another database',
      );
    }
    // Left by an interrupted probe: lifeboat's own, used and dropped below.
  }
  try {
    await rolledBack(session, 'START TRANSACTION READ WRITE', () =>
      session.query(`INSERT INTO ${MYSQL_PROBE_TABLE} (id) VALUES (1)`),
    );
  } catch (error) {
    await session.query(`DROP TABLE IF EXISTS ${MYSQL_PROBE_TABLE}`).catch(() => undefined);
    throw error;
  }
  await session.query(`DROP TABLE IF EXISTS ${MYSQL_PROBE_TABLE}`);
  return { writeProbe: 'scratch-table', warnings: [] };
}

/**
 * MySQL and MariaDB: RDS keeps a read replica at `read_only = 1` (the default parameter group's `{TrueIfReplica}`)
 * until promotion; `super_read_only = 1` forces `read_only = 1`, so `read_only = 0` covers both. That is the state
 * check; the write probe above then writes a real row (rolled back), which `read_only` would refuse.
 */
async function probeMysql(session: DbSession, query: string, where: string): Promise<ProbeFindings> {
  const state = await stage('state', async () =>
    first(
      await session.query(
        'SELECT @@global.read_only AS read_only, @@global.innodb_read_only AS innodb_read_only, VERSION() AS version',
      ),
      'the read-only state query',
    ),
  );
  if (flag(state.read_only)) {
    throw new ConnectivityNotReadyError(
      `${where} is read-only (@@global.read_only = 1): RDS keeps a replica read-only until promotion completes`,
    );
  }
  if (flag(state.innodb_read_only)) {
    throw new VerificationFailedError(
      `${where} was started with innodb_read_only = 1; it cannot take writes until it is restarted without it`,
    );
  }
  const rows = await stage('query', () =>
    rolledBack(session, 'START TRANSACTION READ ONLY', () => session.query(query)),
  );
  const proof = await stage('write', () => mysqlWriteProbe(session, where));
  return {
    serverVersion: String(state.version ?? 'unknown'),
    queryRows: rows.length,
    writeProbe: proof.writeProbe,
    warnings: proof.warnings,
  };
}

/** Proves the connected database a writable primary and runs the plan's read query (in a read-only transaction). */
export function probeDatabase(
  family: EngineFamily,
  session: DbSession,
  query: string,
  where: string,
): Promise<ProbeFindings> {
  return family === 'postgres' ? probePostgres(session, query, where) : probeMysql(session, query, where);
}
