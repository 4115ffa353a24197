import { describe, expect, it } from 'vitest';
import {
  fenceWrites,
  liftFence,
  quoteString,
  replicaPosition,
} from '../../functions/lib/switchover/engines.js';
import { lsnReached, mariadbGtidCovers, parseLsn } from '../../functions/lib/switchover/positions.js';
import type { DbSession, Row } from '../../functions/lib/verify/db.js';

/** A session that answers by the first matching pattern and records every statement. */
function fakeSession(answers: [RegExp, Row[] | ((sql: string) => Row[])][]): DbSession & { sql: string[] } {
  const sql: string[] = [];
  return {
    sql,
    tlsSubject: null,
    async query(statement: string) {
      sql.push(statement);
      for (const [pattern, rows] of answers) {
        if (pattern.test(statement)) return typeof rows === 'function' ? rows(statement) : rows;
      }
      return [];
    },
    close: async () => undefined,
    abort: () => undefined,
  };
}

const noSleep = { sleep: async () => undefined, sessionsGoneMs: 50 };

describe('positions', () => {
  it('compares PostgreSQL LSNs as 64-bit numbers, not as text', () => {
    expect(parseLsn('1/0')).toBe(2n ** 32n);
    expect(lsnReached('0/3000060', '0/3000060')).toBe(true);
    expect(lsnReached('0/A000000', '0/9FFFFFF')).toBe(true);
    expect(lsnReached('0/9FFFFFF', '0/A000000')).toBe(false);
    expect(lsnReached('1/0', '0/FFFFFFFF')).toBe(true);
    expect(() => lsnReached('garbage', '0/1')).toThrow(/not a PostgreSQL LSN/);
  });

  it('holds a MariaDB GTID position covered only when every domain the primary wrote is applied as far', () => {
    expect(mariadbGtidCovers('0-1-42', '0-1-42')).toBe(true);
    expect(mariadbGtidCovers('0-1-43', '0-1-42')).toBe(true);
    expect(mariadbGtidCovers('0-1-41', '0-1-42')).toBe(false);
    expect(mariadbGtidCovers('0-1-50', '0-1-42,1-2-7')).toBe(false);
    expect(mariadbGtidCovers('1-2-7,0-1-50', '0-1-42,1-2-7')).toBe(true);
    expect(mariadbGtidCovers('', '')).toBe(true);
    expect(() => mariadbGtidCovers('0-1-x', '0-1-1')).toThrow(/not a MariaDB GTID position/);
  });
});

describe('the PostgreSQL fence', () => {
  it('sets the database read-only by default, ends the other sessions, waits until they are gone, then reads the LSN', async () => {
    // Prepare
    let looks = 0;
    const session = fakeSession([
      [/pg_is_in_recovery/, [{ in_recovery: false }]],
      [/pg_db_role_setting/, [{ settings: '' }]],
      [/current_database\(\) AS db/, [{ db: 'app"db' }]],
      [/SELECT pid FROM pg_stat_activity/, [{ pid: 101 }, { pid: 102 }]],
      [/count\(\*\)::int AS n FROM pg_stat_activity/, () => [{ n: looks++ < 2 ? 1 : 0 }]],
      [/pg_current_wal_lsn/, [{ lsn: '0/3000060' }]],
    ]);

    // Act
    const out = await fenceWrites(session, 'postgres', 'primary orders-db', 'run-1', noSleep);

    // Assess
    expect(out).toMatchObject({
      changed: true,
      sessionsEnded: 2,
      position: '0/3000060',
      positionKind: 'pg-lsn',
    });
    expect(session.sql).toContain('SET default_transaction_read_only = off');
    expect(session.sql).toContain('ALTER DATABASE "app""db" SET default_transaction_read_only = on');
    expect(session.sql).toContain('SELECT pg_terminate_backend(101)');
    const lsnAt = session.sql.findIndex((s) => s.includes('pg_current_wal_lsn'));
    const lastLook = session.sql.map((s) => s.includes('count(*)')).lastIndexOf(true);
    expect(lsnAt).toBeGreaterThan(lastLook);
  });

  it('finds the fence of an earlier run in place: no second ALTER, sessions ended again, outcome unchanged', async () => {
    // Prepare
    const session = fakeSession([
      [/pg_is_in_recovery/, [{ in_recovery: false }]],
      [/pg_db_role_setting/, [{ settings: 'search_path=app\ndefault_transaction_read_only=on' }]],
      [/SELECT pid FROM pg_stat_activity/, [{ pid: 7 }]],
      [/pg_current_wal_lsn/, [{ lsn: '0/4000000' }]],
    ]);

    // Act
    const out = await fenceWrites(session, 'postgres', 'primary', 'run-1', noSleep);

    // Assess
    expect(out.changed).toBe(false);
    expect(session.sql.some((s) => s.startsWith('ALTER DATABASE'))).toBe(false);
    expect(session.sql).toContain('SELECT pg_terminate_backend(7)');
  });

  it('refuses to fence a standby, changing nothing', async () => {
    const session = fakeSession([[/pg_is_in_recovery/, [{ in_recovery: true }]]]);
    await expect(fenceWrites(session, 'postgres', 'primary orders-db', 'run-1', noSleep)).rejects.toThrow(
      /in recovery/,
    );
    expect(session.sql.some((s) => s.startsWith('ALTER'))).toBe(false);
  });

  it('fails naming the sessions that would not go, without reading a position', async () => {
    const session = fakeSession([
      [/pg_is_in_recovery/, [{ in_recovery: false }]],
      [/pg_db_role_setting/, [{ settings: '' }]],
      [/current_database\(\) AS db/, [{ db: 'app' }]],
      [/SELECT pid FROM pg_stat_activity/, [{ pid: 9 }]],
      [/count\(\*\)::int AS n/, [{ n: 1 }]],
    ]);
    await expect(fenceWrites(session, 'postgres', 'primary', 'run-1', noSleep)).rejects.toMatchObject({
      name: 'FenceFailedError',
    });
    expect(session.sql.some((s) => s.includes('pg_current_wal_lsn'))).toBe(false);
  });

  it('un-fences by RESET and ends the sessions opened read-only; a second un-fence changes nothing', async () => {
    // Prepare
    let fenced = true;
    const session = fakeSession([
      [/pg_is_in_recovery/, [{ in_recovery: false }]],
      [/pg_db_role_setting/, () => [{ settings: fenced ? 'default_transaction_read_only=on' : '' }]],
      [/current_database\(\) AS db/, [{ db: 'app' }]],
      [
        /RESET default_transaction_read_only/,
        () => {
          fenced = false;
          return [];
        },
      ],
      [/SELECT pid FROM pg_stat_activity/, [{ pid: 5 }]],
    ]);

    // Act
    const first = await liftFence(session, 'postgres', 'primary', noSleep);
    const second = await liftFence(session, 'postgres', 'primary', noSleep);

    // Assess
    expect(first).toMatchObject({ changed: true, sessionsEnded: 1 });
    expect(second).toMatchObject({ changed: false, sessionsEnded: 0 });
    expect(session.sql.filter((s) => s.includes('RESET'))).toHaveLength(1);
  });
});

describe('the MySQL and MariaDB fence', () => {
  it('lists the application accounts before locking them, ends their sessions with rds_kill where KILL is refused, then reads gtid_binlog_pos', async () => {
    // Prepare
    let listed = false;
    const session = fakeSession([
      [/@@global.read_only/, [{ ro: 0 }]],
      [/information_schema.TABLES/, () => [{ n: listed ? 1 : 0 }]],
      [/FROM `lifeboat`.`fenced_accounts`/, [{ user: 'app', host: '%' }]],
      [/FROM mysql.user/, [{ user: 'app', host: '%' }]],
      [
        /INSERT IGNORE INTO/,
        () => {
          listed = true;
          return [];
        },
      ],
      [/SELECT ID AS id FROM information_schema.PROCESSLIST/, [{ id: 33 }]],
      [
        /^KILL CONNECTION/,
        () => {
          throw Object.assign(new Error('You are not owner of thread 33'), { code: 'ER_KILL_DENIED_ERROR' });
        },
      ],
      [/gtid_binlog_pos/, [{ pos: '0-1-57' }]],
    ]);

    // Act
    const out = await fenceWrites(session, 'mariadb', 'primary', 'run-1', noSleep);

    // Assess
    expect(out).toMatchObject({
      changed: true,
      sessionsEnded: 1,
      position: '0-1-57',
      positionKind: 'mariadb-gtid',
    });
    expect(out.accounts).toEqual(["'app'@'%'"]);
    const insertAt = session.sql.findIndex((s) => s.startsWith('INSERT IGNORE'));
    const lockAt = session.sql.findIndex((s) => s.includes('ACCOUNT LOCK'));
    expect(insertAt).toBeGreaterThan(-1);
    expect(lockAt).toBeGreaterThan(insertAt);
    expect(session.sql).toContain("ALTER USER 'app'@'%' ACCOUNT LOCK");
    expect(session.sql).toContain('CALL mysql.rds_kill(33)');
    // The secret's own user (lifeboat's login) and replication accounts are never candidates.
    const candidates = session.sql.find((s) => s.includes('FROM mysql.user')) ?? '';
    expect(candidates).toContain("u.User <> SUBSTRING_INDEX(CURRENT_USER(), '@', 1)");
    expect(candidates).toContain("u.Repl_slave_priv = 'N'");
    // MariaDB keeps the lock in mysql.global_priv, and its roles in mysql.user.
    expect(candidates).toContain("JSON_VALUE(g.Priv, '$.account_locked')");
    expect(candidates).toContain("u.is_role = 'N'");
  });

  it("refuses, changing nothing, when no account besides the secret's own could be locked", async () => {
    const session = fakeSession([
      [/@@global.read_only/, [{ ro: 0 }]],
      [/information_schema.TABLES/, [{ n: 0 }]],
      [/FROM mysql.user/, []],
    ]);
    await expect(fenceWrites(session, 'mysql', 'primary', 'run-1', noSleep)).rejects.toThrow(
      /no application account to lock/,
    );
    expect(session.sql.some((s) => /^(CREATE|INSERT|ALTER)/.test(s))).toBe(false);
  });

  it('re-runs on the listed accounts only and un-fences exactly them', async () => {
    // Prepare
    const session = fakeSession([
      [/@@global.read_only/, [{ ro: 0 }]],
      [/information_schema.TABLES/, [{ n: 1 }]],
      [/FROM `lifeboat`.`fenced_accounts`/, [{ user: 'app', host: '10.%' }]],
      [/PROCESSLIST WHERE USER/, []],
      [/gtid_executed/, [{ pos: 'a1b2:1-90' }]],
    ]);

    // Act
    const again = await fenceWrites(session, 'mysql', 'primary', 'run-2', noSleep);
    const lifted = await liftFence(session, 'mysql', 'new primary', noSleep);

    // Assess
    expect(again).toMatchObject({ changed: false, positionKind: 'mysql-gtid', position: 'a1b2:1-90' });
    expect(session.sql.some((s) => s.includes('FROM mysql.user'))).toBe(false);
    expect(lifted).toMatchObject({ changed: true, accounts: ["'app'@'10.%'"] });
    expect(session.sql).toContain("ALTER USER 'app'@'10.%' ACCOUNT UNLOCK");
    expect(session.sql).toContain('DELETE FROM `lifeboat`.`fenced_accounts`');
  });

  it('compares MySQL GTID sets on the server (GTID_SUBSET), with the fence position quoted', async () => {
    const session = fakeSession([[/GTID_SUBSET/, [{ covered: 1, pos: 'a1b2:1-95' }]]]);
    const read = await replicaPosition(session, 'mysql-gtid', "a1b2:1-90'");
    expect(read).toEqual({ position: 'a1b2:1-95', covered: true });
    expect(session.sql[0]).toContain(`GTID_SUBSET(${quoteString("a1b2:1-90'")}, @@global.gtid_executed)`);
  });
});
