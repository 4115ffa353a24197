/**
 * Real MariaDB servers for the local proving ground: a primary and GTID read replicas, each on its own loopback
 * address and the same port, as RDS gives each instance its own host. The proving ground runs its `mysql` and
 * `mariadb` units on them (there is no MySQL server in Debian; MariaDB speaks the same protocol and has the same
 * `read_only` switch RDS uses on MySQL replicas).
 *
 * The binaries are Debian's `mariadb-server` (`mariadbd`, `mariadb-install-db`); `.ci/run` installs it. We start
 * our own servers with their own data directories and never touch a system service.
 *
 * How a replica gets its data (docs/design/local-mariadb.md): every server of a cluster starts as a copy of one
 * `mariadb-install-db` template, and a primary writes its binary log from its first statement. A new replica is a
 * copy of the same template that replicates with `MASTER_USE_GTID=slave_pos` from an empty GTID position, so the
 * primary sends its whole history (users, databases, rows) and the replica converges on the primary's state; it is
 * ready once `MASTER_GTID_WAIT` reaches the primary's `gtid_binlog_pos`. That is a real base copy plus real GTID
 * replication in a few hundred milliseconds, with no dump to load and no mariabackup (not installed by
 * mariadb-server, and its prepare step takes seconds).
 *
 * THIS IS A DISPOSABLE TEST WORLD: flushing at commit is off for speed and a server is stopped with SIGKILL; every
 * run starts from the template.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import type { Connection, ConnectionOptions, RowDataPacket } from 'mysql2/promise';
import type { Cleanup } from '../cleanup.js';
import type { LocalCertificateAuthority } from './tls.js';

/** A failure of the local MariaDB world (start-up, replication, promotion). Never carries a password. */
export class MariadbClusterError extends Error {
  override readonly name = 'MariadbClusterError' as const;
}

export type ServerRole = 'primary' | 'replica';

/** What the cluster knows about one server. Holds no secret. */
export interface MariadbServerInfo {
  readonly id: string;
  readonly role: ServerRole;
  readonly sourceId: string | undefined;
  readonly address: string;
  readonly port: number;
  readonly dataDir: string;
  readonly pid: number | undefined;
  readonly username: string;
  readonly database: string;
  /** `VERSION()` of the server, e.g. `10.11.19-MariaDB-0+deb12u1-log`. */
  readonly version: string;
  /** True when the server offers TLS with a certificate from the cluster's authority. */
  readonly tls: boolean;
}

export interface MariadbClusterOptions {
  /** Parent of the cluster's temporary directory. @default os.tmpdir() */
  readonly tmpRoot?: string;
  /** Receives every line a server writes to stderr. Lines never contain passwords. */
  readonly onLog?: (id: string, line: string) => void;
  /** How long a server may take to accept connections, and a replica to catch up. @default 30000 */
  readonly startTimeoutMs?: number;
  /** Issues each server's certificate (for the names a start passes as `tlsNames`). @default no TLS */
  readonly authority?: LocalCertificateAuthority;
  /** Ctrl-C handling: each process is registered the moment it is spawned, the temporary directory once made. */
  readonly cleanup?: Cleanup;
}

export interface StartPrimaryOptions {
  readonly id: string;
  /** Loopback address the server listens on, and only on. */
  readonly address: string;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** Master user name. @default 'admin' (what RDS suggests for MySQL and MariaDB) */
  readonly username?: string;
  readonly password: string;
  /** Database created on start. */
  readonly database: string;
  /** DNS names the server certificate carries (the RDS endpoint); needs the cluster's `authority`. */
  readonly tlsNames?: readonly string[];
}

export interface CreateReplicaOptions {
  readonly id: string;
  /** The running instance to replicate from. */
  readonly fromId: string;
  /** Loopback address; omitted = the next free 127.0.0.x (x ≥ 2) where the port is free. */
  readonly address?: string;
  /** @default the source's port, as RDS replicas have */
  readonly port?: number;
  readonly tlsNames?: readonly string[];
}

export interface MariadbClientConfig {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

interface Binaries {
  readonly mariadbd: string;
  readonly installDb: string;
}

interface ServerRecord {
  id: string;
  role: ServerRole;
  sourceId: string | undefined;
  address: string;
  port: number;
  dataDir: string;
  socket: string;
  serverId: number;
  database: string;
  username: string;
  password: string;
  replicationPassword: string;
  version: string;
  tls: boolean;
  child: ChildProcess | undefined;
  exited: Promise<void> | undefined;
  logTail: string[];
}

const REPLICATION_USER = 'lifeboat_replication';
const ID_PATTERN = /^[A-Za-z](?:[A-Za-z0-9]|-(?!-)){0,62}$/;
const SQL_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const LOG_TAIL_LINES = 60;
const SEARCH_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];

/**
 * The master user's privileges: what RDS grants its master user on MySQL and MariaDB (docs/aws/mysql-writability.md),
 * so no SUPER and no READ ONLY ADMIN: `read_only` applies to it, as it does on an RDS replica.
 */
const MASTER_PRIVILEGES = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'DROP',
  'RELOAD',
  'PROCESS',
  'REFERENCES',
  'INDEX',
  'ALTER',
  'SHOW DATABASES',
  'CREATE TEMPORARY TABLES',
  'LOCK TABLES',
  'EXECUTE',
  'REPLICATION SLAVE',
  'BINLOG MONITOR',
  'CREATE VIEW',
  'SHOW VIEW',
  'CREATE ROUTINE',
  'ALTER ROUTINE',
  'CREATE USER',
  'EVENT',
  'TRIGGER',
].join(', ');

function findBinary(name: string): string | undefined {
  const dirs = [...SEARCH_DIRS, ...(process.env.PATH ?? '').split(':').filter(Boolean)];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * What is missing to run MariaDB servers here, or undefined when nothing is. Tests skip with this message.
 */
export function mariadbMissing(): string | undefined {
  const missing = ['mariadbd', 'mariadb-install-db'].filter((name) => findBinary(name) === undefined);
  if (missing.length === 0) return undefined;
  return `MariaDB is not installed (${missing.join(' and ')} not found): install Debian's mariadb-server (apt-get install -y mariadb-server)`;
}

function assertLoopback(field: string, address: unknown): asserts address is string {
  if (typeof address !== 'string' || !net.isIPv4(address) || !address.startsWith('127.')) {
    throw new TypeError(
      `${field} must be an IPv4 loopback address (127.x.y.z), got ${JSON.stringify(address)}`,
    );
  }
}

function assertPort(field: string, port: unknown): asserts port is number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`${field} must be an integer port between 0 and 65535, got ${JSON.stringify(port)}`);
  }
}

function assertId(field: string, id: unknown): asserts id is string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id) || id.endsWith('-')) {
    throw new TypeError(
      `${field} must be an instance identifier (a letter, then letters, digits or single hyphens; at most 63), got ${JSON.stringify(id)}`,
    );
  }
}

function isPortFree(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ host: address, port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ host: address, port: 0, exclusive: true }, () => {
      const bound = probe.address();
      probe.close(() =>
        typeof bound === 'object' && bound ? resolve(bound.port) : reject(new Error('no port')),
      );
    });
  });
}

async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true, mode: 0o700 });
  const entries = await readdir(from, { withFileTypes: true });
  await Promise.all(
    entries.map(async (entry) => {
      const src = path.join(from, entry.name);
      const dst = path.join(to, entry.name);
      if (entry.isDirectory()) await copyTree(src, dst);
      else if (entry.isFile()) await copyFile(src, dst);
    }),
  );
}

export class MariadbCluster {
  private readonly servers = new Map<string, ServerRecord>();
  private readonly reservedIds = new Set<string>();
  private readonly reservedEndpoints = new Set<string>();
  private readonly helpers = new Set<ChildProcess>();
  private readonly startTimeoutMs: number;
  private readonly tmpRoot: string;
  private root: string | undefined;
  private setup: Promise<{ binaries: Binaries; template: string }> | undefined;
  private stopping: Promise<void> | undefined;
  private forgetRoot: (() => void) | undefined;
  private nextServerId = 1;
  private nextSocket = 1;
  private readonly exitHook = () => this.killAllSync();

  constructor(private readonly options: MariadbClusterOptions = {}) {
    if (options.startTimeoutMs !== undefined && !(options.startTimeoutMs > 0)) {
      throw new TypeError('startTimeoutMs must be a positive number of milliseconds');
    }
    this.startTimeoutMs = options.startTimeoutMs ?? 30_000;
    this.tmpRoot = options.tmpRoot ?? tmpdir();
  }

  list(): MariadbServerInfo[] {
    return [...this.servers.values()].map((record) => this.infoOf(record));
  }

  get(id: string): MariadbServerInfo {
    return this.infoOf(this.record(id));
  }

  has(id: string): boolean {
    return this.servers.has(id);
  }

  /** The master user's connection settings. The only place the password leaves the cluster. */
  clientConfig(id: string, database?: string): MariadbClientConfig {
    const record = this.record(id);
    return {
      host: record.address,
      port: record.port,
      user: record.username,
      password: record.password,
      database: database ?? record.database,
    };
  }

  logs(id: string): string[] {
    return [...this.record(id).logTail];
  }

  async startPrimary(options: StartPrimaryOptions): Promise<MariadbServerInfo> {
    assertId('id', options.id);
    assertLoopback('address', options.address);
    assertPort('port', options.port);
    const username = options.username ?? 'admin';
    if (!SQL_NAME.test(username) || username === REPLICATION_USER || username === 'root') {
      throw new TypeError(
        `username must be a lower-case SQL name other than root, got ${JSON.stringify(username)}`,
      );
    }
    if (typeof options.password !== 'string' || options.password.length === 0) {
      throw new TypeError('password must be a non-empty string');
    }
    if (typeof options.database !== 'string' || !SQL_NAME.test(options.database)) {
      throw new TypeError(`database must be a lower-case SQL name, got ${JSON.stringify(options.database)}`);
    }
    this.assertTlsNames(options.tlsNames);
    this.assertOpen();
    this.reserveId(options.id);
    let endpoint: string | undefined;
    try {
      const { binaries, template } = await this.prepare();
      const port = options.port === 0 ? await freePort(options.address) : options.port;
      endpoint = this.reserveEndpoint(options.address, port);
      const record = this.newRecord(options.id, 'primary', undefined, options.address, port, {
        username,
        password: options.password,
        replicationPassword: randomBytes(18).toString('hex'),
        database: options.database,
      });
      await this.boot(record, binaries, template, options.tlsNames, async () => {
        await this.admin(record, async (conn) => {
          // The template's password-less root accounts for TCP go first; only the socket's root@localhost stays.
          const [roots] = await conn.query<RowDataPacket[]>(
            "SELECT Host AS host FROM mysql.user WHERE User = 'root' AND Host <> 'localhost'",
          );
          for (const row of roots) await conn.query('DROP USER ?@?', ['root', String(row.host)]);
          // CREATE USER takes no placeholders server-side; mysql2 escapes the literals client-side, and failing
          // statements are not written to the error log.
          await conn.query('CREATE USER ?@? IDENTIFIED BY ?', [username, '%', options.password]);
          await conn.query(`GRANT ${MASTER_PRIVILEGES} ON *.* TO ?@? WITH GRANT OPTION`, [username, '%']);
          await conn.query('CREATE USER ?@? IDENTIFIED BY ?', [
            REPLICATION_USER,
            '127.%',
            record.replicationPassword,
          ]);
          await conn.query('GRANT REPLICATION SLAVE ON *.* TO ?@?', [REPLICATION_USER, '127.%']);
          // RDS's procedure for ending another user's session, which the master user (no SUPER, no CONNECTION ADMIN)
          // may call (docs/aws/rds-session-fencing.md): a switchover's fence uses it (functions/lib/switchover/engines.ts).
          await conn.query(
            'CREATE PROCEDURE mysql.rds_kill(IN thread BIGINT) SQL SECURITY DEFINER BEGIN KILL CONNECTION thread; END',
          );
          await conn.query('GRANT EXECUTE ON PROCEDURE mysql.rds_kill TO ?@?', [username, '%']);
          await conn.query(`CREATE DATABASE \`${options.database}\``);
        });
      });
      return this.infoOf(record);
    } finally {
      this.release(options.id, endpoint);
    }
  }

  /** A GTID replica of a running instance, read-only, caught up with the source when this resolves. */
  async createReplica(options: CreateReplicaOptions): Promise<MariadbServerInfo> {
    assertId('id', options.id);
    assertId('fromId', options.fromId);
    if (options.address !== undefined) assertLoopback('address', options.address);
    if (options.port !== undefined) assertPort('port', options.port);
    this.assertTlsNames(options.tlsNames);
    this.assertOpen();
    const source = this.record(options.fromId);
    if (!source.child) throw new MariadbClusterError(`source ${source.id} is not running`);
    this.reserveId(options.id);
    let endpoint: string | undefined;
    try {
      const { binaries, template } = await this.prepare();
      const port = options.port === undefined || options.port === 0 ? source.port : options.port;
      const address = options.address ?? (await this.nextFreeAddress(port));
      endpoint = this.reserveEndpoint(address, port, options.address === undefined);
      const record = this.newRecord(options.id, 'replica', source.id, address, port, source);
      await this.boot(record, binaries, template, options.tlsNames, async () => {
        const target = await this.admin(source, async (conn) => {
          const [rows] = await conn.query<RowDataPacket[]>('SELECT @@global.gtid_binlog_pos AS pos');
          return String(rows[0]?.pos ?? '');
        });
        await this.admin(record, async (conn) => {
          await conn.query(
            'CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1',
            [source.address, source.port, REPLICATION_USER, source.replicationPassword],
          );
          await conn.query("SET GLOBAL gtid_slave_pos = ''");
          await conn.query('START SLAVE');
          const seconds = Math.ceil(this.startTimeoutMs / 1000);
          const [rows] = await conn.query<RowDataPacket[]>('SELECT MASTER_GTID_WAIT(?, ?) AS waited', [
            target,
            seconds,
          ]);
          if (Number(rows[0]?.waited) !== 0) {
            const [status] = await conn.query<RowDataPacket[]>('SHOW SLAVE STATUS');
            const s: Record<string, unknown> = status[0] ?? {};
            throw new MariadbClusterError(
              `${record.id} did not catch up with ${source.id} (GTID ${target}) within ${seconds} s: ` +
                `IO ${String(s.Slave_IO_Running)}, SQL ${String(s.Slave_SQL_Running)}, ${String(s.Last_IO_Error || s.Last_SQL_Error || 'no error')}`,
            );
          }
        });
      });
      return this.infoOf(record);
    } finally {
      this.release(options.id, endpoint);
    }
  }

  /** What RDS PromoteReadReplica does to a MariaDB replica: replication stopped and forgotten, read_only off. */
  async promote(id: string): Promise<void> {
    const record = this.record(id);
    if (!record.child) throw new MariadbClusterError(`${id} is not running`);
    if (record.role !== 'replica') throw new MariadbClusterError(`${id} is not a replica`);
    await this.admin(record, async (conn) => {
      await conn.query('STOP SLAVE');
      await conn.query('RESET SLAVE ALL');
      await conn.query('SET GLOBAL read_only = OFF');
    });
    record.role = 'primary';
    record.sourceId = undefined;
  }

  /**
   * Makes a primary refuse writes from now on, as Aurora does to the old writer at the start of a global switchover
   * (docs/design/aurora-drill.md, "The real databases"): `read_only` on (the master user has no SUPER, so it applies
   * to the application) and its open sessions ended. Returns the GTID position read after the fence.
   */
  async fence(id: string): Promise<string> {
    const record = this.record(id);
    if (!record.child) throw new MariadbClusterError(`${id} is not running`);
    return this.admin(record, async (conn) => {
      await conn.query('SET GLOBAL read_only = ON');
      const [sessions] = await conn.query<RowDataPacket[]>(
        'SELECT ID AS id FROM information_schema.PROCESSLIST WHERE USER = ? AND ID <> CONNECTION_ID()',
        [record.username],
      );
      for (const s of sessions) await conn.query('KILL CONNECTION ?', [Number(s.id)]).catch(() => undefined);
      const [rows] = await conn.query<RowDataPacket[]>('SELECT @@global.gtid_binlog_pos AS pos');
      return String(rows[0]?.pos ?? '');
    });
  }

  /** Waits (bounded) until a replica has applied its source's transactions up to `position` (a `fence` answer). */
  async waitForCatchUp(replicaId: string, position: string, timeoutMs = this.startTimeoutMs): Promise<void> {
    const record = this.record(replicaId);
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    await this.admin(record, async (conn) => {
      const [rows] = await conn.query<RowDataPacket[]>('SELECT MASTER_GTID_WAIT(?, ?) AS waited', [
        position,
        seconds,
      ]);
      if (Number(rows[0]?.waited) !== 0) {
        throw new MariadbClusterError(
          `${replicaId} did not apply up to GTID ${position} within ${seconds} s`,
        );
      }
    });
  }

  /**
   * The server is known by another id from now on (an emulated RDS rename): it keeps running, its data directory
   * and replicas stay. A later server may take the old id.
   */
  rename(id: string, newId: string): void {
    assertId('newId', newId);
    const record = this.record(id);
    if (this.servers.has(newId) || this.reservedIds.has(newId)) {
      throw new MariadbClusterError(`cannot rename ${id} to ${newId}: the id is taken`);
    }
    this.servers.delete(id);
    record.id = newId;
    this.servers.set(newId, record);
    for (const other of this.servers.values()) if (other.sourceId === id) other.sourceId = newId;
  }

  /** Stops the server and deletes its data; unknown ids are ignored. */
  async remove(id: string): Promise<void> {
    const record = this.servers.get(id);
    if (!record) return;
    await this.stopProcess(record);
    this.servers.delete(id);
    await rm(record.dataDir, { recursive: true, force: true, maxRetries: 3 });
    await rm(record.socket, { force: true });
  }

  /** Stops every server and removes the temporary directory; the cluster then refuses new servers. Idempotent. */
  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all([
        ...[...this.servers.values()].map((record) => this.stopProcess(record)),
        ...[...this.helpers].map((child) => stopChild(child)),
      ]);
      this.servers.clear();
      if (this.root) await rm(this.root, { recursive: true, force: true, maxRetries: 3 });
      this.forgetRoot?.();
      this.root = undefined;
      process.removeListener('exit', this.exitHook);
    })();
    return this.stopping;
  }

  /** Last resort on process exit: SIGKILL every server, remove the directory, synchronously. */
  killAllSync(): void {
    for (const child of [...[...this.servers.values()].map((r) => r.child), ...this.helpers]) {
      if (child?.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    if (this.root) {
      try {
        rmSync(this.root, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // best effort on exit
      }
    }
  }

  /* -------------------------------------------------------------------------------------------- */

  private freeDataDir(id: string): string {
    const root = this.root as string;
    const taken = new Set([...this.servers.values()].map((r) => r.dataDir));
    let dir = path.join(root, id);
    for (let n = 2; taken.has(dir); n += 1) dir = path.join(root, `${id}-${n}`);
    return dir;
  }

  private newRecord(
    id: string,
    role: ServerRole,
    sourceId: string | undefined,
    address: string,
    port: number,
    from: Pick<ServerRecord, 'username' | 'password' | 'replicationPassword' | 'database'>,
  ): ServerRecord {
    if (!this.root) throw new MariadbClusterError('cluster not prepared');
    const serial = this.nextSocket++;
    return {
      id,
      role,
      sourceId,
      address,
      port,
      // A renamed server keeps its directory: a new server with its old id gets one of its own.
      dataDir: this.freeDataDir(id),
      // Unix socket paths are limited to 107 bytes: short names in the cluster's directory.
      socket: path.join(this.root, `s${serial}.sock`),
      serverId: this.nextServerId++,
      database: from.database,
      username: from.username,
      password: from.password,
      replicationPassword: from.replicationPassword,
      version: '',
      tls: false,
      child: undefined,
      exited: undefined,
      logTail: [],
    };
  }

  /** Copies the template, writes the certificate, spawns the server, runs `configure`; removes it all on failure. */
  private async boot(
    record: ServerRecord,
    binaries: Binaries,
    template: string,
    tlsNames: readonly string[] | undefined,
    configure: () => Promise<void>,
  ): Promise<void> {
    this.assertOpen();
    this.servers.set(record.id, record);
    try {
      await copyTree(template, record.dataDir);
      const tlsFlags: string[] = [];
      if (tlsNames && this.options.authority) {
        const issued = await this.options.authority.issue(tlsNames);
        const cert = path.join(record.dataDir, 'server-cert.pem');
        const key = path.join(record.dataDir, 'server-key.pem');
        await writeFile(cert, issued.cert, { mode: 0o600 });
        await writeFile(key, issued.key, { mode: 0o600 });
        tlsFlags.push(`--ssl-ca=${this.options.authority.caFile}`, `--ssl-cert=${cert}`, `--ssl-key=${key}`);
        record.tls = true;
      }
      await this.spawnServer(record, binaries, tlsFlags);
      await configure();
      record.version = await this.admin(record, async (conn) => {
        const [rows] = await conn.query<RowDataPacket[]>('SELECT VERSION() AS v');
        return String(rows[0]?.v ?? '');
      });
    } catch (error) {
      await this.remove(record.id).catch(() => undefined);
      throw error;
    }
  }

  private spawnServer(record: ServerRecord, binaries: Binaries, tlsFlags: string[]): Promise<void> {
    if (this.stopping || this.options.cleanup?.closing || this.servers.get(record.id) !== record) {
      return Promise.reject(new MariadbClusterError(`the cluster stopped while ${record.id} was starting`));
    }
    const args = [
      '--no-defaults',
      ...(userInfo().uid === 0 ? ['--user=root'] : []),
      `--datadir=${record.dataDir}`,
      `--socket=${record.socket}`,
      `--pid-file=${path.join(record.dataDir, 'mariadbd.pid')}`,
      `--bind-address=${record.address}`,
      `--port=${record.port}`,
      `--server-id=${record.serverId}`,
      `--log-bin=${path.join(record.dataDir, 'binlog')}`,
      `--relay-log=${path.join(record.dataDir, 'relay')}`,
      '--log-slave-updates',
      '--binlog-format=ROW',
      '--skip-name-resolve',
      '--skip-slave-start',
      '--character-set-server=utf8mb4',
      '--max-connections=40',
      '--performance-schema=OFF',
      '--loose-feedback=OFF',
      '--innodb-buffer-pool-size=32M',
      '--innodb-log-file-size=8M',
      // Disposable test world: durability off for speed.
      '--innodb-flush-log-at-trx-commit=0',
      '--sync-binlog=0',
      '--lc-messages=en_US',
      ...(record.role === 'replica' ? ['--read-only'] : []),
      ...tlsFlags,
    ];
    return new Promise((resolve, reject) => {
      const child = spawn(binaries.mariadbd, args, {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C' },
        cwd: record.dataDir,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      record.child = child;
      // SIGKILL: a throw-away server needs no shutdown, and mariadbd has no child processes to orphan.
      this.options.cleanup?.process(`mariadbd ${record.id}`, child, { signal: 'SIGKILL' });
      let settled = false;
      let pending = '';
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      const timer = setTimeout(
        () =>
          fail(
            new MariadbClusterError(
              `${record.id} did not accept connections within ${this.startTimeoutMs} ms`,
            ),
          ),
        this.startTimeoutMs,
      );
      record.exited = new Promise((done) => {
        child.once('exit', (code, signal) => {
          if (record.child === child) record.child = undefined;
          fail(
            new MariadbClusterError(
              `${record.id} exited during start-up (code ${code}, signal ${signal}): ${record.logTail.slice(-5).join(' | ')}`,
            ),
          );
          done();
        });
      });
      child.once('error', (error) =>
        fail(new MariadbClusterError(`could not start ${record.id}`, { cause: error })),
      );
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        this.recordLog(record, lines);
        if (!settled && lines.some((line) => line.includes('ready for connections'))) {
          settled = true;
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  private recordLog(record: Pick<ServerRecord, 'id' | 'logTail'>, lines: string[]): void {
    for (const line of lines) {
      if (line.trim() === '') continue;
      record.logTail.push(line);
      if (record.logTail.length > LOG_TAIL_LINES) record.logTail.shift();
      this.options.onLog?.(record.id, line);
    }
  }

  private async stopProcess(record: ServerRecord): Promise<void> {
    const child = record.child;
    if (child) await stopChild(child, record.exited);
    record.child = undefined;
  }

  /** A root session over the server's own Unix socket (root@localhost has no password and no TCP account). */
  private async admin<T>(record: ServerRecord, work: (conn: Connection) => Promise<T>): Promise<T> {
    const mysql = await import('mysql2/promise');
    const options: ConnectionOptions = { socketPath: record.socket, user: 'root', connectTimeout: 10_000 };
    const conn = await mysql.createConnection(options);
    conn.on('error', () => undefined);
    try {
      return await work(conn);
    } finally {
      await conn.end().catch(() => conn.destroy());
    }
  }

  private async prepare(): Promise<{ binaries: Binaries; template: string }> {
    this.setup ??= (async () => {
      const missing = mariadbMissing();
      if (missing) throw new MariadbClusterError(missing);
      const binaries: Binaries = {
        mariadbd: findBinary('mariadbd') as string,
        installDb: findBinary('mariadb-install-db') as string,
      };
      this.assertOpen();
      const root = await mkdtemp(path.join(this.tmpRoot, 'lifeboat-mariadb-'));
      this.forgetRoot = this.options.cleanup?.directory(root);
      if (this.stopping) {
        await rm(root, { recursive: true, force: true });
        this.assertOpen();
      }
      this.root = root;
      process.on('exit', this.exitHook);
      const template = path.join(root, '.template');
      await this.installDb(binaries, template);
      return { binaries, template };
    })();
    try {
      const ready = await this.setup;
      this.assertOpen();
      return ready;
    } catch (error) {
      this.setup = undefined;
      throw error;
    }
  }

  /** One `mariadb-install-db` per cluster (about 2 s); every server is a copy of it. */
  private installDb(binaries: Binaries, dir: string): Promise<void> {
    this.assertOpen();
    const log: Pick<ServerRecord, 'id' | 'logTail'> = { id: 'mariadb-install-db', logTail: [] };
    return new Promise((resolve, reject) => {
      const child = spawn(
        binaries.installDb,
        [
          '--no-defaults',
          ...(userInfo().uid === 0 ? ['--user=root'] : []),
          `--datadir=${dir}`,
          // root@localhost without a password, reachable only over each server's own socket.
          '--auth-root-authentication-method=normal',
          '--skip-test-db',
          '--skip-name-resolve',
          '--innodb-log-file-size=8M',
        ],
        {
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      this.options.cleanup?.process('mariadb-install-db', child);
      this.helpers.add(child);
      child.once('exit', () => this.helpers.delete(child));
      const collect = (chunk: Buffer) => this.recordLog(log, chunk.toString('utf8').split('\n'));
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      child.once('error', (error) =>
        reject(new MariadbClusterError('could not run mariadb-install-db', { cause: error })),
      );
      child.once('close', (code, signal) => {
        if (code === 0) resolve();
        else {
          reject(
            new MariadbClusterError(
              `mariadb-install-db failed (code ${code}, signal ${signal}): ${log.logTail.slice(-5).join(' | ')}`,
            ),
          );
        }
      });
    });
  }

  private infoOf(record: ServerRecord): MariadbServerInfo {
    return {
      id: record.id,
      role: record.role,
      sourceId: record.sourceId,
      address: record.address,
      port: record.port,
      dataDir: record.dataDir,
      pid: record.child?.pid,
      username: record.username,
      database: record.database,
      version: record.version,
      tls: record.tls,
    };
  }

  private record(id: string): ServerRecord {
    const record = this.servers.get(id);
    if (!record) throw new MariadbClusterError(`no database server with id ${JSON.stringify(id)}`);
    return record;
  }

  private assertOpen(): void {
    if (this.stopping) throw new MariadbClusterError('the cluster is stopped');
    if (this.options.cleanup?.closing) throw new MariadbClusterError('interrupted');
  }

  private assertTlsNames(names: readonly string[] | undefined): void {
    if (names === undefined) return;
    if (!Array.isArray(names) || names.length === 0 || names.some((n) => typeof n !== 'string' || n === '')) {
      throw new TypeError('tlsNames must be a non-empty list of DNS names');
    }
    if (!this.options.authority) {
      throw new TypeError('tlsNames needs the cluster option authority (the CA that signs the certificate)');
    }
  }

  private reserveId(id: string): void {
    if (this.servers.has(id) || this.reservedIds.has(id)) {
      throw new MariadbClusterError(`a database server with id ${id} already exists`);
    }
    this.reservedIds.add(id);
  }

  private addressTaken(address: string): boolean {
    return (
      [...this.reservedEndpoints].some((endpoint) => endpoint.startsWith(`${address}:`)) ||
      [...this.servers.values()].some((server) => server.address === address)
    );
  }

  /** Claims address:port; `already` when nextFreeAddress claimed it. Returns the key to release. */
  private reserveEndpoint(address: string, port: number, already = false): string {
    const key = `${address}:${port}`;
    if (already) return key;
    for (const other of this.servers.values()) {
      if (other.address === address && other.port === port) {
        throw new MariadbClusterError(`${key} is already used by ${other.id}`);
      }
    }
    if (this.reservedEndpoints.has(key))
      throw new MariadbClusterError(`${key} is being claimed by another start`);
    this.reservedEndpoints.add(key);
    return key;
  }

  private release(id: string, endpoint: string | undefined): void {
    this.reservedIds.delete(id);
    if (endpoint !== undefined) this.reservedEndpoints.delete(endpoint);
  }

  /** The lowest 127.0.0.x (x ≥ 2) that no server of ours uses and where the port is free; claimed at once. */
  private async nextFreeAddress(port: number): Promise<string> {
    for (let host = 2; host < 255; host++) {
      const candidate = `127.0.0.${host}`;
      if (this.addressTaken(candidate) || !(await isPortFree(candidate, port))) continue;
      if (this.addressTaken(candidate)) continue;
      this.reservedEndpoints.add(`${candidate}:${port}`);
      return candidate;
    }
    throw new MariadbClusterError(`no free loopback address 127.0.0.2-254 for port ${port}`);
  }
}

/** SIGKILL and wait for the exit (a throw-away server; see the header). */
async function stopChild(child: ChildProcess, exited?: Promise<void>): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const gone = exited ?? new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await gone;
}
