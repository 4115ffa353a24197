import { describe, expect, it } from 'vitest';
import type { DbSession, Row } from '../../functions/lib/verify/db.js';
import { MYSQL_PROBE_COMMENT, MYSQL_PROBE_TABLE, mysqlWriteProbe } from '../../functions/lib/verify/probe.js';

/**
 * The MySQL-family write probe on its own: which statements it sends for each answer of the server. The probe against a
 * real MariaDB primary and read-only replica is in test/integration/verify-mariadb.test.ts.
 */

type Answer = Row[] | Error;

function sqlError(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

class Session implements DbSession {
  readonly queries: string[] = [];
  readonly tlsSubject = null;
  constructor(private readonly answers: [RegExp, Answer][]) {}
  async query(sql: string): Promise<Row[]> {
    this.queries.push(sql);
    const answer = this.answers.find(([re]) => re.test(sql))?.[1] ?? [];
    if (answer instanceof Error) throw answer;
    return answer;
  }
  async close() {}
  abort() {}
}

const CREATE = `CREATE TABLE ${MYSQL_PROBE_TABLE} (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB COMMENT='${MYSQL_PROBE_COMMENT}'`;
const INSERT = `INSERT INTO ${MYSQL_PROBE_TABLE} (id) VALUES (1)`;
const DROP = `DROP TABLE IF EXISTS ${MYSQL_PROBE_TABLE}`;

describe('mysqlWriteProbe', () => {
  it('creates the scratch table, writes a row in a transaction it rolls back, and drops the table', async () => {
    const session = new Session([]);
    const proof = await mysqlWriteProbe(session);
    expect(proof).toEqual({ writeProbe: 'scratch-table', warnings: [] });
    expect(session.queries).toEqual([CREATE, 'START TRANSACTION READ WRITE', INSERT, 'ROLLBACK', DROP]);
  });

  it('propagates the refusal of a read-only server (the caller sorts ER_OPTION_PREVENTS_STATEMENT as not ready)', async () => {
    const refused = sqlError('ER_OPTION_PREVENTS_STATEMENT', 'running with the --read-only option');
    const session = new Session([[/^CREATE TABLE/, refused]]);
    await expect(mysqlWriteProbe(session)).rejects.toBe(refused);
    expect(session.queries).toEqual([CREATE]);
  });

  it('drops the table it created when the row write fails, and reports the write error', async () => {
    const lost = sqlError('PROTOCOL_CONNECTION_LOST');
    const session = new Session([[/^INSERT/, lost]]);
    await expect(mysqlWriteProbe(session)).rejects.toBe(lost);
    expect(session.queries).toEqual([CREATE, 'START TRANSACTION READ WRITE', INSERT, 'ROLLBACK', DROP]);
  });

  it("reuses and drops a probe table an interrupted run left behind (recognised by lifeboat's comment)", async () => {
    const session = new Session([
      [/^CREATE TABLE/, sqlError('ER_TABLE_EXISTS_ERROR')],
      [/information_schema\.TABLES/, [{ table_comment: MYSQL_PROBE_COMMENT }]],
    ]);
    const proof = await mysqlWriteProbe(session);
    expect(proof.writeProbe).toBe('scratch-table');
    expect(session.queries.slice(2)).toEqual(['START TRANSACTION READ WRITE', INSERT, 'ROLLBACK', DROP]);
  });

  it('neither writes to nor drops a table of that name that lifeboat did not create', async () => {
    const session = new Session([
      [/^CREATE TABLE/, sqlError('ER_TABLE_EXISTS_ERROR')],
      [/information_schema\.TABLES/, [{ table_comment: 'orders archive' }]],
    ]);
    const error = await mysqlWriteProbe(session, 'catalog-db-dr').catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'VerificationFailedError' });
    expect((error as Error).message).toMatch(
      /catalog-db-dr has a table lifeboat_verify_probe that lifeboat did not create/,
    );
    expect(session.queries.some((q) => q.startsWith('INSERT') || q.startsWith('DROP'))).toBe(false);
  });

  it.each(['ER_TABLEACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_NO_DB_ERROR'])(
    'falls back to a read-write transaction, with a warning, when CREATE fails with %s',
    async (code) => {
      const session = new Session([[/^CREATE TABLE/, sqlError(code)]]);
      const proof = await mysqlWriteProbe(session);
      expect(proof.writeProbe).toBe('read-write-transaction');
      expect(proof.warnings).toEqual([
        expect.stringContaining(`(${code}); writability was proven by read_only = 0`),
      ]);
      expect(session.queries).toEqual([CREATE, 'START TRANSACTION READ WRITE', 'ROLLBACK']);
    },
  );
});
