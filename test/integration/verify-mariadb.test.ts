import net from 'node:net';
import { tmpdir } from 'node:os';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StepResult, UnitStepInput } from '../../functions/lib/types.js';
import { verifyConnectivity } from '../../functions/lib/verify/connectivity.js';
import { connectMysql } from '../../functions/lib/verify/db.js';
import { MYSQL_PROBE_TABLE, mysqlWriteProbe } from '../../functions/lib/verify/probe.js';
import { MariadbCluster, mariadbMissing } from '../../local/databases/mariadb-cluster.js';
import { LocalCertificateAuthority } from '../../local/databases/tls.js';
import { type DnsRecord, type RunningDnsServer, startDnsServer } from '../../local/dns/server.js';
import { RECORD_NAME, REPLICA_ENDPOINT, standalone, stepInput } from '../fixtures/db-fixtures.js';
import { captureOutput, errorText, MARKER_PASSWORD } from '../fixtures/secret.js';

/**
 * VerifyConnectivity against a real MariaDB primary and its real GTID replica (local/databases/mariadb-cluster.ts:
 * TLS with a certificate naming the RDS endpoint, the master user bound by read_only as on RDS), the proving ground's
 * DNS server answering the CNAME, and the real mysql2 connector. Only Secrets Manager and RDS are mocked. The CNAME
 * leads to the replica: first still read-only (refused with the right error), then promoted (proven writable by a
 * real row, rolled back).
 */

const missing = mariadbMissing();
const canBind = await new Promise<boolean>((resolve) => {
  const probe = net.createServer();
  probe.once('error', () => resolve(false));
  probe.listen(0, '127.0.0.2', () => probe.close(() => resolve(true)));
});
if (missing) console.warn(`verify-mariadb: ${missing}; skipping`);

const PRIMARY = 'sessions-db';
const REPLICA = 'sessions-db-dr';

const smMock = mockClient(SecretsManagerClient);
const rdsMock = mockClient(RDSClient);
const deps = {
  secretsManager: smMock as unknown as SecretsManagerClient,
  rds: rdsMock as unknown as RDSClient,
};

const world = {
  cluster: undefined as MariadbCluster | undefined,
  authority: undefined as LocalCertificateAuthority | undefined,
  dns: undefined as RunningDnsServer | undefined,
  zone: new Map<string, DnsRecord[]>(),
  savedEnv: {} as Record<string, string | undefined>,
};

function cluster(): MariadbCluster {
  if (!world.cluster) throw new Error('no cluster');
  return world.cluster;
}

function secretString(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    engine: 'mariadb',
    host: RECORD_NAME,
    port: cluster().get(REPLICA).port,
    username: 'admin',
    password: MARKER_PASSWORD,
    dbname: 'sessions',
    ...overrides,
  });
}

function input(): UnitStepInput {
  const base = stepInput({ database: { engine: 'mariadb' } });
  return {
    run: base.run,
    unit: {
      ...base.unit,
      verify: {
        database: 'sessions',
        query: 'SELECT count(*) AS n FROM orders',
        requireTls: true,
        timeoutSeconds: 5,
      },
    },
  };
}

async function run(body: () => Promise<StepResult>) {
  const output = captureOutput();
  try {
    return { result: await body(), error: undefined as Error | undefined, text: output.text() };
  } catch (error) {
    return { result: undefined, error: error as Error, text: output.text() };
  } finally {
    output.restore();
  }
}

function expectNoLeak(outcome: { result?: unknown; error?: unknown; text: string }): void {
  expect(JSON.stringify(outcome.result ?? null)).not.toContain(MARKER_PASSWORD);
  if (outcome.error !== undefined) expect(errorText(outcome.error)).not.toContain(MARKER_PASSWORD);
  expect(outcome.text).not.toContain(MARKER_PASSWORD);
}

/** Runs SQL as the master user on one instance. */
async function sql<T>(id: string, statement: string): Promise<T[]> {
  const conn = await mysql.createConnection({ ...cluster().clientConfig(id), connectTimeout: 5000 });
  try {
    const [rows] = await conn.query(statement);
    return rows as T[];
  } finally {
    await conn.end();
  }
}

/** Server-wide statement counters (read after the probe's session ended). */
async function counters(id: string): Promise<Record<string, number>> {
  const rows = await sql<{ Variable_name: string; Value: string }>(
    id,
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_create_table', 'Com_insert', 'Com_rollback', 'Com_drop_table')",
  );
  return Object.fromEntries(rows.map((r) => [r.Variable_name, Number(r.Value)]));
}

describe.skipIf(missing !== undefined || !canBind)(
  'verifyConnectivity against a real MariaDB and real DNS',
  () => {
    beforeAll(async () => {
      world.authority = await LocalCertificateAuthority.create(tmpdir());
      world.cluster = new MariadbCluster({ authority: world.authority });
      await world.cluster.startPrimary({
        id: PRIMARY,
        address: '127.0.0.2',
        port: 0,
        password: MARKER_PASSWORD,
        database: 'sessions',
        tlsNames: [`${PRIMARY}.c0ffee123456.us-east-1.rds.amazonaws.com`],
      });
      await sql(PRIMARY, 'CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(50))');
      await sql(PRIMARY, "INSERT INTO orders (item) VALUES ('a'), ('b'), ('c')");
      const replica = await world.cluster.createReplica({
        id: REPLICA,
        fromId: PRIMARY,
        tlsNames: [REPLICA_ENDPOINT],
      });
      world.zone.set(RECORD_NAME, [{ type: 'CNAME', value: `${REPLICA_ENDPOINT}.`, ttl: 5 }]);
      world.zone.set(REPLICA_ENDPOINT, [{ type: 'A', value: replica.address, ttl: 5 }]);
      world.dns = await startDnsServer({
        lookup: (name, type) => (world.zone.get(name) ?? []).filter((r) => r.type === type),
      });
      world.savedEnv = {
        LIFEBOAT_DNS_SERVERS: process.env.LIFEBOAT_DNS_SERVERS,
        LIFEBOAT_DB_CA_FILE: process.env.LIFEBOAT_DB_CA_FILE,
      };
      process.env.LIFEBOAT_DNS_SERVERS = world.dns.endpoint;
      process.env.LIFEBOAT_DB_CA_FILE = world.authority.caFile;
    }, 60_000);

    afterAll(async () => {
      await world.cluster?.stopAll();
      await world.authority?.dispose();
      await world.dns?.close();
      for (const [key, value] of Object.entries(world.savedEnv)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    });

    beforeEach(() => {
      smMock.reset();
      rdsMock.reset();
      smMock.on(GetSecretValueCommand).resolves({ SecretString: secretString() });
      rdsMock.on(DescribeDBInstancesCommand).resolves({
        DBInstances: [
          standalone({
            Engine: 'mariadb',
            Endpoint: { Address: REPLICA_ENDPOINT, Port: cluster().get(REPLICA).port },
          }),
        ],
      });
    });

    describe('while the replica is still read-only', () => {
      it('is not ready: @@global.read_only = 1', async () => {
        const outcome = await run(() => verifyConnectivity(deps, input()));
        expect(outcome.error?.name).toBe('ConnectivityNotReadyError');
        expect(outcome.error?.message).toMatch(/is read-only \(@@global\.read_only = 1\)/);
        expectNoLeak(outcome);
      });

      it('the write probe itself is refused by the replica (ER_OPTION_PREVENTS_STATEMENT), and nothing is left', async () => {
        const replica = cluster().get(REPLICA);
        const session = await connectMysql({
          address: replica.address,
          port: replica.port,
          user: 'admin',
          password: MARKER_PASSWORD,
          database: 'sessions',
          timeoutMs: 5000,
          tls: null,
        });
        let error: unknown;
        try {
          await mysqlWriteProbe(session, REPLICA);
        } catch (e) {
          error = e;
        } finally {
          await session.close();
        }
        expect(error).toMatchObject({ code: 'ER_OPTION_PREVENTS_STATEMENT', errno: 1290 });
        const tables = await sql(REPLICA, `SHOW TABLES LIKE '${MYSQL_PROBE_TABLE}'`);
        expect(tables).toEqual([]);
      });
    });

    describe('once the replica is promoted', () => {
      beforeAll(async () => {
        await cluster().promote(REPLICA);
      });

      it('verifies it writable by a row written and rolled back, TLS checked against the endpoint, leaving nothing', async () => {
        const before = await counters(REPLICA);
        const outcome = await run(() => verifyConnectivity(deps, input()));
        const after = await counters(REPLICA);

        expect(outcome.error).toBeUndefined();
        expect(outcome.result?.outcome).toBe('changed');
        expect(outcome.result?.warnings).toEqual([]);
        expect(outcome.result?.detail).toMatchObject({
          endpoint: REPLICA_ENDPOINT,
          tls: true,
          tlsSubject: REPLICA_ENDPOINT,
          writable: true,
          writeProbe: 'scratch-table',
          queryOk: true,
          queryRows: 1,
        });
        expect(String(outcome.result?.detail.serverVersion)).toMatch(/MariaDB/);
        // One table created, one row inserted and rolled back (with the read-only query's transaction), the table
        // dropped: the database is as it was.
        const delta = (name: string) => (after[name] ?? Number.NaN) - (before[name] ?? Number.NaN);
        expect({
          created: delta('Com_create_table'),
          inserted: delta('Com_insert'),
          rolledBack: delta('Com_rollback'),
          dropped: delta('Com_drop_table'),
        }).toEqual({ created: 1, inserted: 1, rolledBack: 2, dropped: 1 });
        expect(await sql(REPLICA, `SHOW TABLES LIKE '${MYSQL_PROBE_TABLE}'`)).toEqual([]);
        expect(await sql<{ n: number }>(REPLICA, 'SELECT count(*) AS n FROM orders')).toEqual([{ n: 3 }]);
        expectNoLeak(outcome);
      });

      it('falls back to a read-write transaction, with a warning, for a user who may not create tables', async () => {
        await sql(REPLICA, "CREATE USER 'reader'@'%' IDENTIFIED BY 'reader-pw-1'");
        await sql(REPLICA, "GRANT SELECT ON sessions.* TO 'reader'@'%'");
        smMock.on(GetSecretValueCommand).resolves({
          SecretString: secretString({ username: 'reader', password: 'reader-pw-1' }),
        });
        const outcome = await run(() => verifyConnectivity(deps, input()));
        expect(outcome.error).toBeUndefined();
        expect(outcome.result?.detail).toMatchObject({
          writable: true,
          writeProbe: 'read-write-transaction',
        });
        expect(outcome.result?.warnings).toEqual([
          expect.stringMatching(/may not create the probe table .*ER_TABLEACCESS_DENIED_ERROR/),
        ]);
      });

      it('leaves alone a table of the probe name that lifeboat did not create', async () => {
        await sql(REPLICA, `CREATE TABLE ${MYSQL_PROBE_TABLE} (note VARCHAR(20))`);
        await sql(REPLICA, `INSERT INTO ${MYSQL_PROBE_TABLE} VALUES ('keep me')`);
        try {
          const outcome = await run(() => verifyConnectivity(deps, input()));
          expect(outcome.error?.name).toBe('VerificationFailedError');
          expect(outcome.error?.message).toMatch(/lifeboat did not create/);
          expect(await sql(REPLICA, `SELECT note FROM ${MYSQL_PROBE_TABLE}`)).toEqual([{ note: 'keep me' }]);
        } finally {
          await sql(REPLICA, `DROP TABLE ${MYSQL_PROBE_TABLE}`);
        }
      });
    });
  },
);
