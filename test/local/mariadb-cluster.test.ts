import { existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import type * as tls from 'node:tls';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterBackend } from '../../local/databases/backend.js';
import {
  type MariadbClientConfig,
  MariadbCluster,
  mariadbMissing,
} from '../../local/databases/mariadb-cluster.js';
import { LocalCertificateAuthority } from '../../local/databases/tls.js';

const PASSWORD = `marker-${Math.random().toString(36).slice(2)}-pw`;
const PRIMARY = 'catalog-db';
const REPLICA = 'catalog-db-dr';
const PRIMARY_NAME = `${PRIMARY}.c0ffee123456.eu-west-1.rds.amazonaws.com`;
const REPLICA_NAME = `${REPLICA}.c0ffee123456.eu-central-1.rds.amazonaws.com`;

async function canBind(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(0, address, () => probe.close(() => resolve(true)));
  });
}
const missing = mariadbMissing();
const loopbackAliases = (await canBind('127.0.0.2')) && (await canBind('127.0.0.3'));
if (missing) console.warn(`Skipping the MariaDB cluster tests: ${missing}`);
else if (!loopbackAliases) {
  console.warn(
    'Skipping the MariaDB cluster tests: cannot listen on 127.0.0.2/127.0.0.3 (add loopback aliases).',
  );
}

async function query<T>(config: MariadbClientConfig, sql: string, values?: unknown[]): Promise<T[]> {
  const conn = await mysql.createConnection({ ...config, connectTimeout: 5000 });
  conn.on('error', () => undefined);
  try {
    const [rows] = await conn.query(sql, values);
    return rows as T[];
  } finally {
    await conn.end();
  }
}

async function eventually<T>(
  read: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined && check(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(missing !== undefined || !loopbackAliases)('MariadbCluster', () => {
  const logLines: string[] = [];
  let authority: LocalCertificateAuthority;
  let cluster: MariadbCluster;

  beforeAll(async () => {
    authority = await LocalCertificateAuthority.create(tmpdir());
    cluster = new MariadbCluster({ authority, onLog: (id, line) => logLines.push(`${id} ${line}`) });
    await cluster.startPrimary({
      id: PRIMARY,
      address: '127.0.0.2',
      port: 0,
      password: PASSWORD,
      database: 'catalog',
      tlsNames: [PRIMARY_NAME],
    });
    await query(
      cluster.clientConfig(PRIMARY),
      'CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(100) NOT NULL)',
    );
    await query(cluster.clientConfig(PRIMARY), "INSERT INTO orders (item) VALUES ('a'), ('b'), ('c')");
    await cluster.createReplica({ id: REPLICA, fromId: PRIMARY, tlsNames: [REPLICA_NAME] });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stopAll();
    await authority?.dispose();
  });

  it('serves the primary and the replica on their own addresses with the same port', () => {
    const primary = cluster.get(PRIMARY);
    const replica = cluster.get(REPLICA);
    expect(primary.address).toBe('127.0.0.2');
    expect(replica.address).not.toBe(primary.address);
    expect(replica.port).toBe(primary.port);
    expect(replica).toMatchObject({
      role: 'replica',
      sourceId: PRIMARY,
      username: 'admin',
      database: 'catalog',
    });
    expect(primary.version).toMatch(/MariaDB/);
  });

  it('copied the rows written before the replica existed and replicates new ones by GTID', async () => {
    const before = await query<{ n: number }>(
      cluster.clientConfig(REPLICA),
      'SELECT count(*) AS n FROM orders',
    );
    expect(Number(before[0]?.n)).toBe(3);
    await query(cluster.clientConfig(PRIMARY), "INSERT INTO orders (item) VALUES ('streamed')");
    const rows = await eventually(
      () => query<{ item: string }>(cluster.clientConfig(REPLICA), 'SELECT item FROM orders ORDER BY id'),
      (r) => r.length === 4,
    );
    expect(rows.map((r) => r.item)).toEqual(['a', 'b', 'c', 'streamed']);
    const status = await query<{ using_gtid: string }>(
      { ...cluster.clientConfig(REPLICA) },
      "SELECT VARIABLE_VALUE AS using_gtid FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_RUNNING'",
    );
    expect(status[0]?.using_gtid).toBe('ON');
  });

  it('refuses writes on the replica: the master user is subject to read_only, as on RDS', async () => {
    const config = cluster.clientConfig(REPLICA);
    const flags = await query<{ ro: number }>(config, 'SELECT @@global.read_only AS ro');
    expect(Number(flags[0]?.ro)).toBe(1);
    await expect(query(config, "INSERT INTO orders (item) VALUES ('refused')")).rejects.toMatchObject({
      code: 'ER_OPTION_PREVENTS_STATEMENT',
    });
    await expect(query(config, 'CREATE TABLE t (x INT)')).rejects.toMatchObject({
      code: 'ER_OPTION_PREVENTS_STATEMENT',
    });
  });

  it('serves TLS with a certificate naming the endpoint, signed by the cluster CA', async () => {
    const replica = cluster.get(REPLICA);
    expect(replica.tls).toBe(true);
    const conn = await mysql.createConnection({
      ...cluster.clientConfig(REPLICA),
      host: REPLICA_NAME,
      stream: () => net.connect({ host: replica.address, port: replica.port }),
      ssl: { ca: [authority.caPem], rejectUnauthorized: true, verifyIdentity: true },
    });
    try {
      const [rows] = await conn.query("SHOW SESSION STATUS LIKE 'Ssl_version'");
      expect((rows as { Value: string }[])[0]?.Value).toMatch(/^TLSv1\.[23]$/);
      const cert = (
        conn as unknown as { connection: { stream: tls.TLSSocket } }
      ).connection.stream.getPeerCertificate();
      expect(cert.subject.CN).toBe(REPLICA_NAME);
    } finally {
      await conn.end();
    }
  });

  it('promotes the replica through the emulator backend: writable, with the primary rows, replication gone', async () => {
    const backend = clusterBackend([cluster]);
    await backend.promote(REPLICA);
    const config = cluster.clientConfig(REPLICA);
    const flags = await query<{ ro: number }>(config, 'SELECT @@global.read_only AS ro');
    expect(Number(flags[0]?.ro)).toBe(0);
    await query(config, "INSERT INTO orders (item) VALUES ('after promotion')");
    const rows = await query<{ n: number }>(config, 'SELECT count(*) AS n FROM orders');
    expect(Number(rows[0]?.n)).toBe(5);
    const running = await query<{ value: string }>(
      config,
      "SELECT VARIABLE_VALUE AS value FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_RUNNING'",
    );
    expect(running[0]?.value).toBe('OFF');
    expect(cluster.get(REPLICA)).toMatchObject({ role: 'primary', sourceId: undefined });
  });

  it('creates a drill copy of the primary through the backend on the next free address, then removes it', async () => {
    const backend = clusterBackend([cluster], (id, region) => [
      `${id}.c0ffee123456.${region}.rds.amazonaws.com`,
    ]);
    const endpoint = await backend.createReplica(PRIMARY, 'catalog-db-copy', 'eu-central-1');
    const copy = cluster.get('catalog-db-copy');
    expect(endpoint).toEqual({ address: copy.address, port: cluster.get(PRIMARY).port });
    expect(new Set([copy.address, cluster.get(PRIMARY).address, cluster.get(REPLICA).address]).size).toBe(3);
    const rows = await query<{ n: number }>(
      cluster.clientConfig('catalog-db-copy'),
      'SELECT count(*) AS n FROM orders',
    );
    expect(Number(rows[0]?.n)).toBe(4);
    const pid = copy.pid as number;
    await backend.remove('catalog-db-copy');
    expect(cluster.has('catalog-db-copy')).toBe(false);
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(copy.dataDir)).toBe(false);
    await backend.remove('catalog-db-copy'); // already gone: ignored
  });

  it('names the bad field of a request and refuses a duplicate id', async () => {
    await expect(
      cluster.startPrimary({ id: 'x', address: '10.0.0.1', port: 0, password: 'p', database: 'd' }),
    ).rejects.toThrow(/address must be an IPv4 loopback address/);
    await expect(
      cluster.startPrimary({ id: '1bad', address: '127.0.0.9', port: 0, password: 'p', database: 'd' }),
    ).rejects.toThrow(/id must be an instance identifier/);
    await expect(cluster.createReplica({ id: REPLICA, fromId: PRIMARY })).rejects.toThrow(/already exists/);
    await expect(cluster.createReplica({ id: 'r2', fromId: 'nope' })).rejects.toThrow(/no database server/);
  });

  it('keeps the password out of what it returns and logs', () => {
    expect(JSON.stringify(cluster.list())).not.toContain(PASSWORD);
    expect(logLines.join('\n')).not.toContain(PASSWORD);
  });

  it('stopAll ends every server process and removes its directory, idempotently', async () => {
    const pids = cluster.list().map((s) => s.pid as number);
    const dirs = cluster.list().map((s) => s.dataDir);
    await cluster.stopAll();
    await cluster.stopAll();
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    for (const dir of dirs) expect(existsSync(dir)).toBe(false);
    await expect(
      cluster.startPrimary({ id: 'late', address: '127.0.0.9', port: 0, password: 'p', database: 'd' }),
    ).rejects.toThrow(/stopped/);
  });
});
