/**
 * The proving ground's real databases, per engine family: PostgreSQL units on a PostgresCluster, MySQL and MariaDB
 * units on a MariadbCluster (MySQL runs on MariaDB here: docs/design/local-mariadb.md). Every server serves TLS with a
 * certificate that names its emulated RDS endpoint, signed by one throw-away CA the verify step trusts.
 *
 * This module starts a unit's primary and replica, writes the application's rows, and runs SQL on any instance
 * without the caller knowing its engine.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Engine, InstanceUnitPlan } from '../../functions/lib/plan.js';
import { instanceDatabase } from '../../functions/lib/plan-names.js';
import type { Cleanup } from '../cleanup.js';
import { clusterBackend, type DatabaseBackend } from './backend.js';
import { MariadbCluster } from './mariadb-cluster.js';
import { PostgresCluster } from './postgres-cluster.js';
import { LocalCertificateAuthority } from './tls.js';

export type EngineFamily = 'postgres' | 'mysql';

/** `postgres` for postgres and aurora-postgresql; `mysql` for mysql, mariadb and aurora-mysql. */
export const familyOf = (engine: Engine | string): EngineFamily =>
  /postgres/.test(engine) ? 'postgres' : 'mysql';

/** What the world shows of one server, whatever its engine. Holds no secret. */
export interface DatabaseServerInfo {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly username: string;
  readonly database: string;
}

export interface UnitServers {
  primary: DatabaseServerInfo;
  replica: DatabaseServerInfo;
  family: EngineFamily;
  /** The server software, e.g. `PostgreSQL 18.1` or `MariaDB 10.11.19-MariaDB-0+deb12u1-log`. */
  software: string;
  /** Rows on the primary (and, once replicated, the replica) before the run. */
  rows: number;
}

export interface WorldDatabasesOptions {
  onLog?: (id: string, line: string) => void;
  cleanup?: Cleanup;
}

export type Row = Record<string, unknown>;

/** The application's database when the plan names none: `postgres`, or a SQL name from the unit's name. */
export function defaultDatabase(family: EngineFamily, unitName: string): string {
  return family === 'postgres' ? 'postgres' : sqlName(unitName);
}

/** A SQL name for a MySQL-family database from a unit name (`sessions-eu` -> `sessions_eu`). */
function sqlName(name: string): string {
  const cleaned = name.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return (/^[a-z_]/.test(cleaned) ? cleaned : `db_${cleaned}`).slice(0, 63);
}

export class WorldDatabases {
  readonly postgres: PostgresCluster;
  readonly mariadb: MariadbCluster;
  private constructor(
    readonly authority: LocalCertificateAuthority,
    options: WorldDatabasesOptions,
    private readonly forgetAuthority: (() => void) | undefined,
  ) {
    const common = {
      authority,
      ...(options.onLog ? { onLog: options.onLog } : {}),
      ...(options.cleanup ? { cleanup: options.cleanup } : {}),
    };
    this.postgres = new PostgresCluster(common);
    this.mariadb = new MariadbCluster(common);
  }

  static async create(options: WorldDatabasesOptions = {}): Promise<WorldDatabases> {
    const authority = await LocalCertificateAuthority.create(tmpdir());
    const forget = options.cleanup?.directory(authority.dir);
    // Last resort, as the clusters have for their servers: a process that exits without stopAll leaves no CA behind.
    const onExit = () => rmSync(authority.dir, { recursive: true, force: true });
    process.on('exit', onExit);
    return new WorldDatabases(authority, options, () => {
      forget?.();
      process.removeListener('exit', onExit);
    });
  }

  /** The emulated RDS's backend: each instance on the cluster that holds it; new replicas named `endpointName`. */
  backend(endpointName: (region: string, id: string) => string): DatabaseBackend {
    return clusterBackend([this.postgres, this.mariadb], (id, region) => [endpointName(region, id)]);
  }

  /**
   * A unit's primary on `addresses.primary` (a free port), `rows` application rows, a replica on `addresses.replica`
   * and the same port, and one more row that reaches the replica only by replication. Resolves once the replica holds
   * them all. Fixed addresses per unit: the two clusters do not see each other's servers.
   */
  async startUnit(
    unit: InstanceUnitPlan,
    addresses: { primary: string; replica: string },
    password: string,
    rows: number,
    tlsName: (region: 'primary' | 'recovery', id: string) => string,
  ): Promise<UnitServers> {
    const family = familyOf(unit.database.engine);
    const primaryId = instanceDatabase(unit, 'the proving ground').primaryInstanceId;
    const replicaId = instanceDatabase(unit, 'the proving ground').replicaInstanceId;
    return this.startPair({
      name: unit.name,
      family,
      primaryId,
      replicaId,
      database: unit.verify.database ?? defaultDatabase(family, unit.name),
      addresses,
      password,
      rows,
      tlsNames: { primary: [tlsName('primary', primaryId)], replica: [tlsName('recovery', replicaId)] },
    });
  }

  /**
   * A primary and its replica of one engine family, by server id, with the application's rows (see startUnit): what
   * an instance unit runs on, and an Aurora unit's primary and secondary clusters (servers named by the cluster ids,
   * certificates for the cluster endpoints; docs/design/aurora-drill.md, "The real databases").
   */
  async startPair(options: {
    name: string;
    family: EngineFamily;
    primaryId: string;
    replicaId: string;
    database: string;
    addresses: { primary: string; replica: string };
    password: string;
    rows: number;
    tlsNames: { primary: readonly string[]; replica: readonly string[] };
  }): Promise<UnitServers> {
    const { family, primaryId, replicaId, database, rows } = options;
    const cluster = family === 'postgres' ? this.postgres : this.mariadb;
    const primary = await cluster.startPrimary({
      id: primaryId,
      address: options.addresses.primary,
      port: 0,
      password: options.password,
      database,
      tlsNames: options.tlsNames.primary,
    });
    await this.query(primaryId, ORDERS_TABLE[family]);
    for (let i = 1; i <= rows; i += 1) {
      await this.query(primaryId, 'INSERT INTO orders (item) VALUES (?)', [`${options.name}-item-${i}`]);
    }
    const replica = await cluster.createReplica({
      id: replicaId,
      fromId: primaryId,
      address: options.addresses.replica,
      tlsNames: options.tlsNames.replica,
    });
    await this.query(primaryId, 'INSERT INTO orders (item) VALUES (?)', [`${options.name}-replicated`]);
    await this.waitForRows(replicaId, rows + 1);
    const software =
      family === 'postgres'
        ? `PostgreSQL ${String((await this.query(primaryId, 'SHOW server_version'))[0]?.server_version ?? '?')}`
        : `MariaDB ${this.mariadb.get(primaryId).version}`;
    return { primary, replica, family, software, rows: rows + 1 };
  }

  /** The engine family of a running instance; throws for an id no cluster holds. */
  familyOfInstance(id: string): EngineFamily {
    if (this.postgres.has(id)) return 'postgres';
    if (this.mariadb.has(id)) return 'mysql';
    throw new Error(`no local database server backs instance ${id}`);
  }

  /**
   * Runs one statement as the master user on an instance, `?` placeholders for either engine; rows as objects (`[]`
   * for statements without rows).
   */
  async query(id: string, sql: string, params: unknown[] = []): Promise<Row[]> {
    if (this.familyOfInstance(id) === 'postgres') {
      let n = 0;
      const client = new pg.Client({ ...this.postgres.clientConfig(id), connectionTimeoutMillis: 5000 });
      client.on('error', () => undefined);
      await client.connect();
      try {
        return (
          await client.query(
            sql.replace(/\?/g, () => `$${++n}`),
            params,
          )
        ).rows as Row[];
      } finally {
        await client.end();
      }
    }
    const conn = await mysql.createConnection({ ...this.mariadb.clientConfig(id), connectTimeout: 5000 });
    conn.on('error', () => undefined);
    try {
      const [result] = await conn.query(sql, params);
      return Array.isArray(result) ? (result as Row[]) : [];
    } finally {
      await conn.end();
    }
  }

  /** Waits (bounded) until an instance holds `count` rows in `orders`. */
  async waitForRows(id: string, count: number, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = await this.query(id, 'SELECT count(*) AS n FROM orders');
      if (Number(rows[0]?.n) >= count) return;
      if (Date.now() > deadline)
        throw new Error(`${id} did not replicate ${count} rows within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops every server of both clusters and removes the CA. Idempotent. */
  async stopAll(): Promise<void> {
    await Promise.all([this.postgres.stopAll(), this.mariadb.stopAll()]);
    await this.authority.dispose();
    this.forgetAuthority?.();
  }
}

/** The application's table on each engine. */
const ORDERS_TABLE: Record<EngineFamily, string> = {
  postgres:
    'CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, item text NOT NULL, placed_at timestamptz DEFAULT now())',
  mysql:
    'CREATE TABLE IF NOT EXISTS orders (id INT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(200) NOT NULL, placed_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)',
};
