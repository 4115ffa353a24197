import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import * as tls from 'node:tls';
import { optionalEnv } from '../env.js';
import { ConfigurationError } from '../errors.js';
import type { Engine } from '../plan.js';

/**
 * The database side of the verify step: one connection per attempt with `pg` (postgres) or `mysql2` (mysql,
 * mariadb), to the address DNS gave, with TLS checked against the RDS endpoint the CNAME leads to. The drivers are
 * loaded on first use, so a cold start loads only the engine it needs.
 *
 * The password is handed to the driver and nowhere else: no log, no error text, no result.
 */

export type EngineFamily = 'postgres' | 'mysql';

export function engineFamily(engine: Engine): EngineFamily {
  return engine === 'postgres' || engine === 'aurora-postgresql' ? 'postgres' : 'mysql';
}

/**
 * TLS as lifeboat checks it. A CNAME in front of RDS breaks `verify-full` hostname checks (the certificate names the
 * RDS endpoint, not the CNAME), so the chain is verified against the trust store and the identity against the
 * endpoint the CNAME points to; SNI names that endpoint too.
 */
export interface TlsPolicy {
  /** The RDS endpoint the certificate must name. */
  readonly endpoint: string;
  /** PEM certificates to trust; undefined = Node's default store (which includes NODE_EXTRA_CA_CERTS). */
  readonly ca?: string[];
}

export interface ConnectOptions {
  /** The IP address DNS resolved the record to. */
  readonly address: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** Connection attempt (TCP, TLS, authentication) and per-query timeout. */
  readonly timeoutMs: number;
  /** null: plain connection, no TLS. */
  readonly tls: TlsPolicy | null;
}

export type Row = Record<string, unknown>;

/** One open connection, engine-neutral. */
export interface DbSession {
  /** Runs one statement (no parameters); rows as objects keyed by column name, `[]` for statements without rows. */
  query(sql: string): Promise<Row[]>;
  /** Subject CN of the server certificate when the session is TLS, else null. */
  readonly tlsSubject: string | null;
  /** Closes gracefully, and forcibly if that does not finish within a second. Never throws. */
  close(): Promise<void>;
  /** Tears the socket down at once (deadline passed); pending queries fail. */
  abort(): void;
}

export type DbConnector = (options: ConnectOptions) => Promise<DbSession>;

export interface DbConnectors {
  readonly postgres: DbConnector;
  readonly mysql: DbConnector;
}

const CLOSE_GRACE_MS = 1000;

/** `tls.checkServerIdentity` against the endpoint, recording the certificate's subject CN. */
function identityCheck(endpoint: string, seen: (cn: string | null) => void) {
  return (_host: string, cert: tls.PeerCertificate): Error | undefined => {
    seen(subjectCn(cert));
    return tls.checkServerIdentity(endpoint, cert);
  };
}

function subjectCn(cert: tls.PeerCertificate | undefined): string | null {
  const cn = cert?.subject?.CN;
  if (typeof cn === 'string') return cn;
  if (Array.isArray(cn)) return cn.join(',');
  return null;
}

async function closeWithin(graceful: () => Promise<unknown>, force: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      graceful().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_GRACE_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    force();
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* PostgreSQL                                                                                      */
/* ---------------------------------------------------------------------------------------------- */

export const connectPostgres: DbConnector = async (options) => {
  const { default: pg } = await import('pg');
  let tlsSubject: string | null = null;
  const client = new pg.Client({
    host: options.address,
    port: options.port,
    user: options.user,
    password: options.password,
    database: options.database,
    application_name: 'lifeboat-verify',
    connectionTimeoutMillis: options.timeoutMs,
    query_timeout: options.timeoutMs,
    // The server gives up too, so a slow query does not outlive the check.
    statement_timeout: options.timeoutMs,
    ssl: options.tls
      ? {
          // pg sets no SNI for an IP host (RFC 6066); name the endpoint instead.
          servername: options.tls.endpoint,
          rejectUnauthorized: true,
          checkServerIdentity: identityCheck(options.tls.endpoint, (cn) => {
            tlsSubject = cn;
          }),
          ...(options.tls.ca ? { ca: options.tls.ca } : {}),
        }
      : false,
  });
  // A socket error after connect is reported on the next query; without a listener it would crash the process.
  client.on('error', () => undefined);
  const destroy = () => {
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  };
  try {
    await client.connect();
  } catch (error) {
    destroy();
    throw error;
  }
  return {
    async query(sql) {
      const result = await client.query(sql);
      // A multi-statement string gives an array of results; the last one is the answer.
      const last = Array.isArray(result) ? result[result.length - 1] : result;
      return (last?.rows ?? []) as Row[];
    },
    get tlsSubject() {
      return tlsSubject;
    },
    close: () => closeWithin(() => client.end(), destroy),
    abort: destroy,
  };
};

/* ---------------------------------------------------------------------------------------------- */
/* MySQL and MariaDB                                                                               */
/* ---------------------------------------------------------------------------------------------- */

interface MysqlCoreConnection {
  stream?: { getPeerCertificate?: () => tls.PeerCertificate; destroy(): void };
}

export const connectMysql: DbConnector = async (options) => {
  const mysql = await import('mysql2/promise');
  const { address, port } = options;
  const conn = await mysql.createConnection({
    // mysql2 names the TLS server after `host` and checks the certificate against it (verifyIdentity), so with TLS
    // `host` is the RDS endpoint while the socket goes to the resolved address: the stream factory below.
    host: options.tls ? options.tls.endpoint : address,
    port,
    user: options.user,
    password: options.password,
    database: options.database,
    connectTimeout: options.timeoutMs,
    stream: () => netConnect({ host: address, port, noDelay: true }),
    ...(options.tls
      ? {
          ssl: {
            rejectUnauthorized: true,
            verifyIdentity: true,
            ...(options.tls.ca ? { ca: options.tls.ca } : {}),
          },
        }
      : {}),
  });
  conn.on('error', () => undefined);
  const core = (conn as unknown as { connection?: MysqlCoreConnection }).connection;
  const tlsSubject = options.tls ? subjectCn(core?.stream?.getPeerCertificate?.()) : null;
  return {
    async query(sql) {
      const [rows] = await conn.query({ sql, timeout: options.timeoutMs });
      return Array.isArray(rows) ? (rows as Row[]) : [];
    },
    tlsSubject,
    close: () =>
      closeWithin(
        () => conn.end(),
        () => conn.destroy(),
      ),
    abort: () => conn.destroy(),
  };
};

export const defaultConnectors: DbConnectors = { postgres: connectPostgres, mysql: connectMysql };

/* ---------------------------------------------------------------------------------------------- */
/* Trust store                                                                                     */
/* ---------------------------------------------------------------------------------------------- */

export const DB_CA_FILE_ENV = 'LIFEBOAT_DB_CA_FILE';

const pemCache = new Map<string, string>();

function readPem(file: string, variable: string): string {
  const cached = pemCache.get(file);
  if (cached !== undefined) return cached;
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'error';
    throw new ConfigurationError(`${variable}: cannot read ${file} (${code})`, { cause: error });
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigurationError(`${variable}: ${file} holds no PEM certificate`);
  }
  pemCache.set(file, pem);
  return pem;
}

/**
 * Node's default trust store as a list, for when extra CAs are added: passing `ca` to TLS replaces the default
 * store, so it must be given whole. Node >= 22.15 lists it itself (bundled + NODE_EXTRA_CA_CERTS); older versions
 * list only the bundled roots, so NODE_EXTRA_CA_CERTS is read here the way Node reads it.
 */
function defaultCaCertificates(): string[] {
  const list = (tls as { getCACertificates?: (type?: string) => string[] }).getCACertificates;
  if (typeof list === 'function') return list('default');
  const extra = optionalEnv('NODE_EXTRA_CA_CERTS');
  return [...tls.rootCertificates, ...(extra ? [readPem(extra, 'NODE_EXTRA_CA_CERTS')] : [])];
}

/**
 * The CAs to trust for the database certificate: Node's default store (in AWS the stack sets NODE_EXTRA_CA_CERTS to
 * the Lambda runtime's bundle, which holds the RDS CAs), plus `LIFEBOAT_DB_CA_FILE` when set. Undefined when nothing
 * is added, so the driver uses the default store as is.
 */
export function databaseTrustStore(): string[] | undefined {
  const file = optionalEnv(DB_CA_FILE_ENV);
  if (!file) return undefined;
  return [...defaultCaCertificates(), readPem(file, DB_CA_FILE_ENV)];
}

/* ---------------------------------------------------------------------------------------------- */
/* Sorting driver errors                                                                           */
/* ---------------------------------------------------------------------------------------------- */

/**
 * `not-ready`: may pass on a later attempt (unreachable, refused, reset, timed out, server starting or shutting down,
 * too many connections, read-only while promotion settles). `auth`: credentials refused. `tls`: the certificate
 * failed verification or TLS could not be set up. `failed`: the server answered with an error a retry will not fix.
 */
export type DbErrorKind = 'not-ready' | 'auth' | 'tls' | 'failed';

export interface SortedDbError {
  kind: DbErrorKind;
  /** SQLSTATE, MySQL error code or Node/OpenSSL code; undefined when the driver gives none. */
  code: string | undefined;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
  'EADDRNOTAVAIL',
  'EAI_AGAIN',
]);

/** Node's certificate verification codes (X509_V_ERR_* names) and its own TLS codes. */
const TLS_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'OUT_OF_MEM',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_CERT_ALTNAME_FORMAT',
  'EPROTO',
  // mysql2: the server offers no TLS, or the TLS handshake failed.
  'HANDSHAKE_NO_SSL_SUPPORT',
  'HANDSHAKE_SSL_ERROR',
]);

/** PostgreSQL SQLSTATEs (Appendix A, "PostgreSQL Error Codes"). */
const PG_AUTH = new Set(['28000', '28P01']);
const PG_NOT_READY = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up, shutting down, or not yet accepting connections
  '57014', // query_canceled (statement_timeout)
  '53300', // too_many_connections
  '53200', // out_of_memory
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '25006', // read_only_sql_transaction: a standby, or promotion not settled
]);

/** MySQL/MariaDB error codes as mysql2 names them (`err.code`). */
const MYSQL_AUTH = new Set([
  'ER_ACCESS_DENIED_ERROR', // 1045
  'ER_DBACCESS_DENIED_ERROR', // 1044
  'ER_ACCESS_DENIED_NO_PASSWORD_ERROR', // 1698
  'ER_NOT_SUPPORTED_AUTH_MODE', // 1251
  'ER_MUST_CHANGE_PASSWORD_LOGIN', // 1862
  'ER_ACCOUNT_HAS_BEEN_LOCKED', // 3118
]);
const MYSQL_NOT_READY = new Set([
  'ER_CON_COUNT_ERROR', // 1040
  'ER_TOO_MANY_USER_CONNECTIONS', // 1203
  'ER_SERVER_SHUTDOWN', // 1053
  'ER_NORMAL_SHUTDOWN', // 1077
  'ER_SHUTDOWN_COMPLETE', // 1079
  'ER_LOCK_DEADLOCK', // 1213
  'ER_LOCK_WAIT_TIMEOUT', // 1205
  'ER_OPTION_PREVENTS_STATEMENT', // 1290: --read-only, as on a replica
  'ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION', // 1792
  'ER_QUERY_TIMEOUT', // 3024
  'ER_QUERY_INTERRUPTED', // 1317
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
]);

function stringCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code !== '' ? code : undefined;
}

/**
 * Sorts a driver error by its code, never its text. An error without a code is `not-ready`: pg reports a dropped or
 * timed-out connection that way ("Connection terminated unexpectedly"), which a promotion's reboot causes; the state
 * machine's retries are bounded, so the worst case is a late, clear failure.
 */
export function sortDbError(family: EngineFamily, error: unknown): SortedDbError {
  const code = stringCode(error);
  if (code === undefined) return { kind: 'not-ready', code };
  if (NETWORK_CODES.has(code)) return { kind: 'not-ready', code };
  if (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) {
    return { kind: 'tls', code };
  }
  if (family === 'postgres') {
    if (PG_AUTH.has(code)) return { kind: 'auth', code };
    // Class 08: connection exception.
    if (PG_NOT_READY.has(code) || code.startsWith('08')) return { kind: 'not-ready', code };
    return { kind: 'failed', code };
  }
  if (MYSQL_AUTH.has(code)) return { kind: 'auth', code };
  if (MYSQL_NOT_READY.has(code)) return { kind: 'not-ready', code };
  return { kind: 'failed', code };
}
