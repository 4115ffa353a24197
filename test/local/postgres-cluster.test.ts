import { existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresBackend } from '../../local/databases/backend.js';
import { type ClientConfig, PostgresCluster } from '../../local/databases/postgres-cluster.js';

const PASSWORD = `marker-${Math.random().toString(36).slice(2)}-pw`;
const PRIMARY = 'orders-db';
const REPLICA = 'orders-db-replica';

/** Other loopback addresses than 127.0.0.1 exist on Linux; macOS needs `ifconfig lo0 alias 127.0.0.2`. */
async function canBind(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(0, address, () => probe.close(() => resolve(true)));
  });
}
const loopbackAliases = (await canBind('127.0.0.2')) && (await canBind('127.0.0.3'));
if (!loopbackAliases) {
  console.warn(
    'Skipping the PostgreSQL cluster tests: cannot listen on 127.0.0.2/127.0.0.3 (add loopback aliases).',
  );
}

async function query<T extends pg.QueryResultRow>(config: ClientConfig, sql: string, values?: unknown[]) {
  const client = new pg.Client({ ...config, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

/** Polls until check() holds, for at most timeoutMs; returns the last value. */
async function eventually<T>(
  read: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined && check(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms (last value ${JSON.stringify(value)})`);
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

describe.skipIf(!loopbackAliases)('PostgresCluster', () => {
  const logLines: string[] = [];
  const cluster = new PostgresCluster({ onLog: (id, line) => logLines.push(`${id} ${line}`) });
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    let started = Date.now();
    await cluster.startPrimary({
      id: PRIMARY,
      address: '127.0.0.2',
      port: 0,
      password: PASSWORD,
      database: 'orders',
    });
    timings.primaryMs = Date.now() - started;
    started = Date.now();
    await cluster.createReplica({ id: REPLICA, fromId: PRIMARY, address: '127.0.0.3' });
    timings.replicaMs = Date.now() - started;
    console.info(`PostgreSQL start-up: primary ${timings.primaryMs} ms, replica ${timings.replicaMs} ms`);
  });

  afterAll(async () => {
    await cluster.stopAll();
  });

  it('serves the primary and the replica on their own addresses with the same port', async () => {
    // Prepare
    const primary = cluster.get(PRIMARY);
    const replica = cluster.get(REPLICA);

    // Act
    const [primarySettings] = await query<{ listen: string; recovery: boolean }>(
      cluster.clientConfig(PRIMARY),
      "SELECT current_setting('listen_addresses') AS listen, pg_is_in_recovery() AS recovery",
    );
    const [replicaSettings] = await query<{ listen: string; recovery: boolean }>(
      cluster.clientConfig(REPLICA),
      "SELECT current_setting('listen_addresses') AS listen, pg_is_in_recovery() AS recovery",
    );
    const onOtherAddress = query({ ...cluster.clientConfig(PRIMARY), host: '127.0.0.1' }, 'SELECT 1');

    // Assess
    expect(replica.port).toBe(primary.port);
    expect(primarySettings).toEqual({ listen: '127.0.0.2', recovery: false });
    expect(replicaSettings).toEqual({ listen: '127.0.0.3', recovery: true });
    expect(replica).toMatchObject({ role: 'replica', sourceId: PRIMARY, database: 'orders' });
    await expect(onOtherAddress).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('streams a row written on the primary to the replica', async () => {
    // Prepare
    await query(cluster.clientConfig(PRIMARY), 'CREATE TABLE orders (id int PRIMARY KEY, item text)');

    // Act
    await query(cluster.clientConfig(PRIMARY), "INSERT INTO orders VALUES (1, 'lifeboat')");

    // Assess
    const rows = await eventually(
      () => query<{ id: number; item: string }>(cluster.clientConfig(REPLICA), 'SELECT id, item FROM orders'),
      (found) => found.length === 1,
    );
    expect(rows).toEqual([{ id: 1, item: 'lifeboat' }]);
  });

  it('refuses writes on the replica', async () => {
    // Act
    const write = query(cluster.clientConfig(REPLICA), "INSERT INTO orders VALUES (2, 'nope')");

    // Assess
    await expect(write).rejects.toThrow('cannot execute INSERT in a read-only transaction');
  });

  it('promotes the replica: it accepts writes and holds the primary rows', async () => {
    // Prepare
    await query(cluster.clientConfig(PRIMARY), "INSERT INTO orders VALUES (2, 'before promotion')");
    await eventually(
      () => query(cluster.clientConfig(REPLICA), 'SELECT id FROM orders WHERE id = 2'),
      (found) => found.length === 1,
    );
    const started = Date.now();

    // Act
    await postgresBackend(cluster).promote(REPLICA);
    timings.promoteMs = Date.now() - started;
    console.info(`PostgreSQL promotion: ${timings.promoteMs} ms`);

    // Assess
    const [state] = await query<{ recovery: boolean }>(
      cluster.clientConfig(REPLICA),
      'SELECT pg_is_in_recovery() AS recovery',
    );
    expect(state?.recovery).toBe(false);
    await query(cluster.clientConfig(REPLICA), "INSERT INTO orders VALUES (3, 'after promotion')");
    const rows = await query<{ id: number }>(
      cluster.clientConfig(REPLICA),
      'SELECT id FROM orders ORDER BY id',
    );
    expect(rows.map((row) => row.id)).toEqual([1, 2, 3]);
    expect(cluster.get(REPLICA)).toMatchObject({ role: 'primary', sourceId: undefined });
    await expect(cluster.promote(REPLICA)).rejects.toThrow('is not a replica');
  });

  it('creates a new replica of the primary on the next free address while the old one is promoted', async () => {
    // Prepare
    const backend = postgresBackend(cluster);
    const started = Date.now();

    // Act
    const endpoint = await backend.createReplica(PRIMARY, 'orders-db-drill', 'us-west-2');
    console.info(`PostgreSQL second replica: ${Date.now() - started} ms`);
    await query(cluster.clientConfig(PRIMARY), "INSERT INTO orders VALUES (10, 'after the new replica')");

    // Assess
    expect(endpoint).toEqual({ address: '127.0.0.4', port: cluster.get(PRIMARY).port });
    const rows = await eventually(
      () =>
        query<{ id: number }>(cluster.clientConfig('orders-db-drill'), 'SELECT id FROM orders ORDER BY id'),
      (found) => found.some((row) => row.id === 10),
    );
    expect(rows.map((row) => row.id)).toEqual([1, 2, 10]);
    const promoted = await query<{ id: number }>(
      cluster.clientConfig(REPLICA),
      'SELECT id FROM orders ORDER BY id',
    );
    expect(promoted.map((row) => row.id)).toEqual([1, 2, 3]);
  });

  it('removes a replica: its process, its data directory and its slot on the source', async () => {
    // Prepare
    const drill = cluster.get('orders-db-drill');
    const slotsBefore = await query<{ slot_name: string }>(
      cluster.clientConfig(PRIMARY),
      'SELECT slot_name FROM pg_replication_slots',
    );

    // Act
    await postgresBackend(cluster).remove('orders-db-drill');

    // Assess
    expect(slotsBefore.map((slot) => slot.slot_name)).toContain('lifeboat_orders_db_drill');
    expect(drill.pid !== undefined && isAlive(drill.pid)).toBe(false);
    expect(existsSync(drill.dataDir)).toBe(false);
    expect(cluster.has('orders-db-drill')).toBe(false);
    const slotsAfter = await eventually(
      () =>
        query<{ slot_name: string }>(
          cluster.clientConfig(PRIMARY),
          'SELECT slot_name FROM pg_replication_slots',
        ),
      (slots) => !slots.some((slot) => slot.slot_name === 'lifeboat_orders_db_drill'),
    );
    expect(slotsAfter.map((slot) => slot.slot_name)).not.toContain('lifeboat_orders_db_drill');
    await expect(backend().remove('orders-db-drill')).resolves.toBeUndefined();
  });

  it('gives concurrent new replicas distinct addresses and refuses a duplicate id', async () => {
    // Act
    const [first, second, duplicate] = await Promise.allSettled([
      cluster.createReplica({ id: 'orders-db-c1', fromId: PRIMARY }),
      cluster.createReplica({ id: 'orders-db-c2', fromId: PRIMARY }),
      cluster.createReplica({ id: 'orders-db-c1', fromId: PRIMARY }),
    ]);

    // Assess
    expect(first.status).toBe('fulfilled');
    expect(second.status).toBe('fulfilled');
    expect(duplicate).toMatchObject({
      status: 'rejected',
      reason: { message: expect.stringMatching('already exists') },
    });
    const addresses = [cluster.get('orders-db-c1').address, cluster.get('orders-db-c2').address];
    expect(new Set(addresses).size).toBe(2);
    for (const id of ['orders-db-c1', 'orders-db-c2']) {
      const rows = await query<{ count: string }>(cluster.clientConfig(id), 'SELECT count(*) FROM orders');
      expect(rows).toEqual([{ count: '3' }]);
      await cluster.remove(id);
    }
  });

  it('stops a primary as a disaster would and starts it again with its data', async () => {
    // Act
    await cluster.stop(PRIMARY);
    const whileDown = query(cluster.clientConfig(PRIMARY), 'SELECT 1');
    await expect(whileDown).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await cluster.restart(PRIMARY);

    // Assess
    const rows = await query<{ count: string }>(cluster.clientConfig(PRIMARY), 'SELECT count(*) FROM orders');
    expect(rows).toEqual([{ count: '3' }]);
  });

  it('names the bad field of a request', async () => {
    // Act + Assess
    await expect(
      cluster.startPrimary({ id: 'x', address: '10.0.0.1', port: 0, password: 'p', database: 'd' }),
    ).rejects.toThrow(/address must be an IPv4 loopback address/);
    await expect(
      cluster.startPrimary({ id: '1bad', address: '127.0.0.9', port: 0, password: 'p', database: 'd' }),
    ).rejects.toThrow(/^id must be an instance identifier/);
    await expect(
      cluster.startPrimary({ id: 'ok', address: '127.0.0.9', port: 0, password: '', database: 'd' }),
    ).rejects.toThrow(/password must be a non-empty string/);
    await expect(cluster.createReplica({ id: 'copy', fromId: 'missing' })).rejects.toThrow(
      'no database server with id "missing"',
    );
    await expect(cluster.createReplica({ id: PRIMARY, fromId: PRIMARY })).rejects.toThrow('already exists');
  });

  it('starts a second primary from the initdb template with its own password', async () => {
    // Prepare
    const otherPassword = `${PASSWORD}-billing`;
    const started = Date.now();

    // Act
    const billing = await cluster.startPrimary({
      id: 'billing-db',
      address: '127.0.0.5',
      port: 0,
      password: otherPassword,
      database: 'billing',
      dataDir: path.join(tmpdir(), `lifeboat-test-billing-${process.pid}`),
    });
    console.info(`PostgreSQL second primary (template copy): ${Date.now() - started} ms`);

    // Assess
    const [row] = await query<{ db: string }>(
      cluster.clientConfig('billing-db'),
      'SELECT current_database() AS db',
    );
    expect(row?.db).toBe('billing');
    expect(billing.dataDir).toBe(path.join(tmpdir(), `lifeboat-test-billing-${process.pid}`));
    const withFirstPassword = query(
      { ...cluster.clientConfig('billing-db'), password: PASSWORD },
      'SELECT 1',
    );
    await expect(withFirstPassword).rejects.toMatchObject({ code: '28P01' });
    const tables = await query(
      cluster.clientConfig('billing-db'),
      "SELECT 1 FROM pg_tables WHERE tablename = 'orders'",
    );
    expect(tables).toEqual([]);
    await cluster.remove('billing-db');
    expect(existsSync(billing.dataDir)).toBe(false);
  });

  it('keeps the password out of what it returns and logs', () => {
    // Assess
    expect(JSON.stringify(cluster.list())).not.toContain(PASSWORD);
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.join('\n')).not.toContain(PASSWORD);
    expect(logLines.join('\n')).not.toContain('password=');
  });

  it('stopAll ends every server process and removes its temporary directory, idempotently', async () => {
    // Prepare
    const servers = cluster.list();
    const root = path.dirname(servers[0]?.dataDir ?? '');
    const pids = new Set<number>();
    for (const server of servers) {
      if (server.pid) pids.add(server.pid);
      // Every process of the server: backends, walsender/walreceiver, checkpointer, ...
      const rows = await query<{ pid: number }>(
        cluster.clientConfig(server.id),
        'SELECT pid FROM pg_stat_activity',
      );
      for (const row of rows) pids.add(row.pid);
    }

    // Act
    await cluster.stopAll();
    await cluster.stopAll();

    // Assess
    expect(servers.length).toBe(2);
    expect(pids.size).toBeGreaterThan(4);
    expect([...pids].filter(isAlive)).toEqual([]);
    expect(existsSync(root)).toBe(false);
    expect(cluster.list()).toEqual([]);
  });

  function backend() {
    return postgresBackend(cluster);
  }
});

describe.skipIf(!loopbackAliases)('PostgresCluster.stopAll during a start (Ctrl-C while seeding)', () => {
  it('fails the start in progress, leaves no process and no directory, and refuses new starts', async () => {
    // Prepare
    const cluster = new PostgresCluster();
    const primary = await cluster.startPrimary({
      id: 'interrupted-db',
      address: '127.0.0.2',
      port: 0,
      password: PASSWORD,
      database: 'orders',
    });
    const root = path.dirname(primary.dataDir);

    // Act
    const outcome = cluster.createReplica({ id: 'interrupted-replica', fromId: 'interrupted-db' }).then(
      () => 'started',
      (error: Error) => error.name,
    );
    await cluster.stopAll();

    // Assess
    expect(await outcome).toBe('PostgresClusterError');
    expect(primary.pid !== undefined && isAlive(primary.pid)).toBe(false);
    expect(existsSync(root)).toBe(false);
    expect(cluster.list()).toEqual([]);
    await expect(
      cluster.startPrimary({
        id: 'late',
        address: '127.0.0.2',
        port: 0,
        password: PASSWORD,
        database: 'orders',
      }),
    ).rejects.toThrow('the cluster is stopped');
    expect(existsSync(root)).toBe(false);
  });
});
