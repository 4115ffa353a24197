import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resetClients } from '../../functions/lib/clients.js';
import type { InstanceEngine, UnitPlan } from '../../functions/lib/plan.js';
import type { StepResult, UnitStepInput } from '../../functions/lib/types.js';
import {
  parseCredentials,
  redact,
  type VerifyDeps,
  verifyConnectivity,
} from '../../functions/lib/verify/connectivity.js';
import {
  type ConnectOptions,
  connectMysql,
  connectPostgres,
  type DbConnector,
  type DbSession,
  databaseTrustStore,
  type Row,
  sortDbError,
} from '../../functions/lib/verify/db.js';
import {
  type DnsResolver,
  parseDnsServers,
  resolveLikeAnApplication,
  systemResolverFactory,
} from '../../functions/lib/verify/dns.js';
import { handler } from '../../functions/verify-connectivity.js';
import {
  NOW,
  now,
  PRIMARY_ENDPOINT,
  RECORD_NAME,
  REPLICA_ENDPOINT,
  REPLICA_ID,
  replica,
  standalone,
  stepInput,
} from '../fixtures/db-fixtures.js';
import { captureOutput, errorText, MARKER_PASSWORD } from '../fixtures/secret.js';

const smMock = mockClient(SecretsManagerClient);
const rdsMock = mockClient(RDSClient);
const secretsManager = smMock as unknown as SecretsManagerClient;
const rds = rdsMock as unknown as RDSClient;

const ADDRESS = '10.0.3.17';
const EC2_NAME = 'ec2-10-0-3-17.us-west-2.compute.internal';
const TEST_CA = '-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n';

/* ---------------------------------------------------------------------------------------------- */
/* Fakes                                                                                           */
/* ---------------------------------------------------------------------------------------------- */

function secretString(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    engine: 'postgres',
    host: RECORD_NAME,
    port: 5432,
    username: 'app',
    password: MARKER_PASSWORD,
    dbname: 'orders',
    ...overrides,
  });
}

interface ZoneEntry {
  cname?: string;
  a?: string[];
  aaaa?: string[];
  /** c-ares error code every question about this name gets. */
  error?: string;
}

function dnsError(code: string, question: string): Error {
  return Object.assign(new Error(`${question} ${code}`), { code });
}

/** A resolver over a fixed zone; a name that is not in it is NXDOMAIN (ENOTFOUND), a missing type is ENODATA. */
function fakeResolver(zone: Record<string, ZoneEntry>, asked: string[] = []): DnsResolver {
  const answer = async (name: string, type: 'cname' | 'a' | 'aaaa'): Promise<string[]> => {
    asked.push(`${type} ${name}`);
    const entry = zone[name];
    if (!entry) throw dnsError('ENOTFOUND', `${type} ${name}`);
    if (entry.error) throw dnsError(entry.error, `${type} ${name}`);
    const value = type === 'cname' ? (entry.cname ? [entry.cname] : undefined) : entry[type];
    if (!value?.length) throw dnsError('ENODATA', `${type} ${name}`);
    return value;
  };
  return {
    resolveCname: (name) => answer(name, 'cname'),
    resolve4: (name) => answer(name, 'a'),
    resolve6: (name) => answer(name, 'aaaa'),
  };
}

/** The record after failover: CNAME to the promoted endpoint, which holds the address. */
function promotedZone(): Record<string, ZoneEntry> {
  return { [RECORD_NAME]: { cname: `${REPLICA_ENDPOINT}.` }, [REPLICA_ENDPOINT]: { a: [ADDRESS] } };
}

type Answer = Row[] | Error | (() => Promise<Row[]>);

/** The answers of a healthy, writable PostgreSQL primary; later entries win. */
function pgPrimary(...overrides: [RegExp, Answer][]): [RegExp, Answer][] {
  return [
    [/^SELECT pg_is_in_recovery\(\)/, [{ in_recovery: false, read_only: 'off', version: '16.4' }]],
    [/^SELECT count\(\*\) FROM orders/, [{ count: '42' }]],
    ...overrides,
  ];
}

function mysqlPrimary(...overrides: [RegExp, Answer][]): [RegExp, Answer][] {
  return [
    [/^SELECT @@global\.read_only/, [{ read_only: 0, innodb_read_only: 0, version: '10.11.8-MariaDB-log' }]],
    [/^SELECT count\(\*\) FROM orders/, [{ 'count(*)': 42 }]],
    ...overrides,
  ];
}

function sqlError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

class FakeSession implements DbSession {
  readonly queries: string[] = [];
  closed = false;
  aborted = false;
  private abortPending: (() => void) | undefined;
  constructor(
    private readonly answers: [RegExp, Answer][],
    readonly tlsSubject: string | null,
  ) {}

  async query(sql: string): Promise<Row[]> {
    this.queries.push(sql);
    const match = [...this.answers].reverse().find(([re]) => re.test(sql));
    const answer = match?.[1] ?? [];
    if (answer instanceof Error) throw answer;
    if (typeof answer === 'function') {
      return new Promise<Row[]>((resolve, reject) => {
        this.abortPending = () => reject(new Error('Connection terminated'));
        answer().then(resolve, reject);
      });
    }
    return answer;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  abort(): void {
    this.aborted = true;
    this.abortPending?.();
  }
}

interface FakeDb {
  connector: DbConnector;
  connects: ConnectOptions[];
  sessions: FakeSession[];
}

function fakeDb(
  answers: [RegExp, Answer][],
  options: { connectError?: unknown; tlsSubject?: string } = {},
): FakeDb {
  const connects: ConnectOptions[] = [];
  const sessions: FakeSession[] = [];
  const connector: DbConnector = async (o) => {
    connects.push(o);
    if (options.connectError) throw options.connectError;
    const session = new FakeSession(answers, o.tls ? (options.tlsSubject ?? o.tls.endpoint) : null);
    sessions.push(session);
    return session;
  };
  return { connector, connects, sessions };
}

interface Scenario {
  mode?: UnitStepInput['run']['mode'];
  engine?: InstanceEngine;
  verify?: Partial<UnitPlan['verify']>;
  zone?: Record<string, ZoneEntry>;
  db?: FakeDb;
  trustStore?: string[] | undefined;
}

function scenario(s: Scenario = {}) {
  const base = stepInput({ mode: s.mode ?? 'failover', database: { engine: s.engine ?? 'postgres' } });
  const input: UnitStepInput = {
    run: base.run,
    unit: {
      ...base.unit,
      verify: {
        database: 'orders',
        query: 'SELECT count(*) FROM orders',
        requireTls: true,
        timeoutSeconds: 5,
        ...s.verify,
      },
    },
  };
  const asked: string[] = [];
  const resolverTimeouts: number[] = [];
  const db = s.db ?? fakeDb(s.engine === 'mysql' || s.engine === 'mariadb' ? mysqlPrimary() : pgPrimary());
  const deps: VerifyDeps = {
    secretsManager,
    rds,
    resolver: (timeoutMs) => {
      resolverTimeouts.push(timeoutMs);
      return fakeResolver(s.zone ?? promotedZone(), asked);
    },
    connectors: { postgres: db.connector, mysql: db.connector },
    trustStore: () => ('trustStore' in s ? s.trustStore : [TEST_CA]),
    now,
  };
  return { input, deps, db, asked, resolverTimeouts };
}

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the promise to reject');
}

/** Runs the step with stdout/stderr captured: the result or error, and every line written. */
async function run(promise: () => Promise<StepResult>) {
  const output = captureOutput();
  try {
    const result = await promise();
    return { result, error: undefined, text: output.text() };
  } catch (error) {
    return { result: undefined, error: error as Error, text: output.text() };
  } finally {
    output.restore();
  }
}

/** The marker password is in no result, error (message, stack, cause chain) or output line. */
function expectNoLeak(outcome: { result?: unknown; error?: unknown; text: string }): void {
  expect(JSON.stringify(outcome.result ?? null)).not.toContain(MARKER_PASSWORD);
  if (outcome.error !== undefined) expect(errorText(outcome.error)).not.toContain(MARKER_PASSWORD);
  expect(outcome.text).not.toContain(MARKER_PASSWORD);
}

beforeEach(() => {
  smMock.on(GetSecretValueCommand).resolves({ SecretString: secretString(), VersionId: 'v1' });
  rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [standalone()] });
});

afterEach(() => {
  smMock.reset();
  rdsMock.reset();
  resetClients();
  delete process.env.LIFEBOAT_DB_CA_FILE;
});

/* ---------------------------------------------------------------------------------------------- */
/* Tests                                                                                           */
/* ---------------------------------------------------------------------------------------------- */

describe('verifyConnectivity on a promoted PostgreSQL instance', () => {
  it('follows the CNAME to the promoted endpoint, connects with TLS to the resolved address and proves writability', async () => {
    // Prepare
    const { input, deps, db, asked, resolverTimeouts } = scenario();

    // Act
    const outcome = await run(() => verifyConnectivity(deps, input));

    // Assess
    expect(outcome.error).toBeUndefined();
    const result = outcome.result as StepResult;
    expect(result).toMatchObject({
      step: 'verifyConnectivity',
      unit: 'orders',
      outcome: 'changed',
      startedAt: NOW.toISOString(),
      warnings: [],
    });
    expect(result.detail).toEqual({
      record: RECORD_NAME,
      cnameTarget: REPLICA_ENDPOINT,
      cnameChain: `${RECORD_NAME} -> ${REPLICA_ENDPOINT}`,
      address: ADDRESS,
      endpoint: REPLICA_ENDPOINT,
      instance: REPLICA_ID,
      engine: 'postgres',
      port: 5432,
      database: 'orders',
      ttl: 5,
      tls: true,
      tlsSubject: REPLICA_ENDPOINT,
      writable: true,
      writeProbe: 'temp-table',
      queryOk: true,
      queryRows: 1,
      serverVersion: '16.4',
    });
    expect(asked).toEqual([`cname ${RECORD_NAME}`, `cname ${REPLICA_ENDPOINT}`, `a ${REPLICA_ENDPOINT}`]);
    expect(resolverTimeouts).toEqual([2500]);
    expect(db.connects).toEqual([
      {
        address: ADDRESS,
        port: 5432,
        user: 'app',
        password: MARKER_PASSWORD,
        database: 'orders',
        timeoutMs: 5000,
        tls: { endpoint: REPLICA_ENDPOINT, ca: [TEST_CA] },
      },
    ]);
    expect(db.sessions[0]?.queries).toEqual([
      expect.stringMatching(/^SELECT pg_is_in_recovery\(\)/),
      'BEGIN READ ONLY',
      'SELECT count(*) FROM orders',
      'ROLLBACK',
      'BEGIN READ WRITE',
      'CREATE TEMP TABLE lifeboat_probe (x int) ON COMMIT DROP',
      'INSERT INTO lifeboat_probe (x) VALUES (1)',
      'ROLLBACK',
    ]);
    expect(db.sessions[0]?.closed).toBe(true);
    expect(smMock.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: 'orders/db' });
    expect(rdsMock.commandCalls(DescribeDBInstancesCommand)[0]?.args[0].input).toEqual({
      DBInstanceIdentifier: REPLICA_ID,
    });
    expect(outcome.text).toContain('connectivity verified');
    expectNoLeak(outcome);
  });

  it("connects without TLS when the plan does not require it, to the secret's dbname, and says so", async () => {
    // Prepare
    const { input, deps, db } = scenario({ verify: { requireTls: false, database: undefined } });

    // Act
    const outcome = await run(() => verifyConnectivity(deps, input));

    // Assess
    expect(outcome.result?.detail).toMatchObject({
      tls: false,
      tlsSubject: null,
      database: null,
      writable: true,
    });
    expect(db.connects[0]).toMatchObject({ tls: null, database: 'orders' });
    expectNoLeak(outcome);
  });

  it("uses Node's default trust store when no CA file is configured", async () => {
    // Prepare
    const { input, deps, db } = scenario({ trustStore: undefined });

    // Act
    await verifyConnectivity(deps, input);

    // Assess
    expect(db.connects[0]?.tls).toEqual({ endpoint: REPLICA_ENDPOINT });
  });

  it('follows a longer chain (the RDS endpoint is itself a CNAME) and falls back to IPv6', async () => {
    // Prepare
    const zone = {
      [RECORD_NAME]: { cname: REPLICA_ENDPOINT },
      [REPLICA_ENDPOINT]: { cname: `${EC2_NAME}.` },
      [EC2_NAME]: { aaaa: ['fd00::17'] },
    };
    const { input, deps, db } = scenario({ zone });

    // Act
    const result = await verifyConnectivity(deps, input);

    // Assess
    expect(result.detail).toMatchObject({
      cnameTarget: REPLICA_ENDPOINT,
      cnameChain: `${RECORD_NAME} -> ${REPLICA_ENDPOINT} -> ${EC2_NAME}`,
      address: 'fd00::17',
    });
    expect(db.connects[0]?.address).toBe('fd00::17');
  });

  it("warns when the secret's host or port differs from the plan's record or the instance", async () => {
    // Prepare
    const other = 'orders-app.internal.example.com';
    smMock
      .on(GetSecretValueCommand)
      .resolves({ SecretString: secretString({ host: other, port: '5433' }), VersionId: 'v1' });
    const { input, deps, db } = scenario({
      zone: { ...promotedZone(), [other]: { cname: REPLICA_ENDPOINT } },
    });

    // Act
    const result = await verifyConnectivity(deps, input);

    // Assess
    expect(result.detail.record).toBe(other);
    expect(db.connects[0]?.port).toBe(5433);
    expect(result.warnings).toEqual([
      `the secret's host is not the plan's record ${RECORD_NAME}; verified the host an application uses`,
      "the secret's port 5433 differs from the instance's port 5432",
    ]);
  });

  it('proves writability by a transaction id when the user may not create temporary tables', async () => {
    // Prepare
    const db = fakeDb(
      pgPrimary([/^CREATE TEMP TABLE/, sqlError('42501', 'permission denied to create temporary tables')]),
    );
    const { input, deps } = scenario({ db });

    // Act
    const result = await verifyConnectivity(deps, input);

    // Assess
    expect(result.detail.writeProbe).toBe('transaction-id');
    expect(result.warnings).toEqual([
      'the user may not create temporary tables; writability was proven by assigning a transaction id only',
    ]);
    expect(db.sessions[0]?.queries.slice(4)).toEqual([
      'BEGIN READ WRITE',
      'CREATE TEMP TABLE lifeboat_probe (x int) ON COMMIT DROP',
      'ROLLBACK',
      'BEGIN READ WRITE',
      'SELECT txid_current() AS xid',
      'ROLLBACK',
    ]);
  });
});

describe('verifyConnectivity while DNS has not caught up', () => {
  const cases: [string, Record<string, ZoneEntry>, RegExp][] = [
    [
      'the CNAME still leads to the old primary',
      { [RECORD_NAME]: { cname: PRIMARY_ENDPOINT }, [PRIMARY_ENDPOINT]: { a: ['10.9.9.9'] } },
      new RegExp(
        `leads to ${PRIMARY_ENDPOINT} \\(10\\.9\\.9\\.9\\), not to the promoted instance's endpoint .*TTL, 5 s`,
      ),
    ],
    [
      'the record does not exist (NXDOMAIN)',
      {},
      /DNS lookup CNAME orders-db\.internal\.example\.com failed: ENOTFOUND/,
    ],
    ['the resolver answers SERVFAIL', { [RECORD_NAME]: { error: 'ESERVFAIL' } }, /failed: ESERVFAIL/],
    ['the resolver times out', { [RECORD_NAME]: { error: 'ETIMEOUT' } }, /failed: ETIMEOUT/],
    ['the resolver refuses', { [RECORD_NAME]: { error: 'EREFUSED' } }, /failed: EREFUSED/],
    [
      'the record is not a CNAME',
      { [RECORD_NAME]: { a: ['10.9.9.9'] } },
      /leads to \(no CNAME\) \(10\.9\.9\.9\), not to the promoted/,
    ],
    [
      'the endpoint has no address yet',
      { [RECORD_NAME]: { cname: REPLICA_ENDPOINT }, [REPLICA_ENDPOINT]: {} },
      /has no A or AAAA record/,
    ],
  ];

  it.each(cases)('is not ready when %s, and connects to nothing', async (_name, zone, message) => {
    // Prepare
    const db = fakeDb(pgPrimary());
    const { input, deps } = scenario({ zone, db });

    // Act
    const outcome = await run(() => verifyConnectivity(deps, input));

    // Assess
    expect(outcome.error?.name).toBe('ConnectivityNotReadyError');
    expect(outcome.error?.message).toMatch(message);
    expect(db.connects).toEqual([]);
    expect(outcome.text).toContain('connectivity not ready yet');
    expectNoLeak(outcome);
  });

  it('refuses a CNAME loop as a failure', async () => {
    // Prepare
    const zone = { [RECORD_NAME]: { cname: 'a.example.com' }, 'a.example.com': { cname: RECORD_NAME } };
    const { input, deps } = scenario({ zone });

    // Act
    const error = await caught(verifyConnectivity(deps, input));

    // Assess
    expect(error.name).toBe('VerificationFailedError');
    expect(error.message).toContain('CNAME loop');
  });
});

describe('verifyConnectivity when the database answers wrong', () => {
  const notReady = 'ConnectivityNotReadyError';
  const failed = 'VerificationFailedError';
  const cases: [string, FakeDb, string, RegExp][] = [
    [
      'the connection is refused',
      fakeDb(pgPrimary(), { connectError: sqlError('ECONNREFUSED', `connect ECONNREFUSED ${ADDRESS}:5432`) }),
      notReady,
      /connecting to postgres at 10\.0\.3\.17:5432 .*: ECONNREFUSED/,
    ],
    [
      'the connection times out (pg reports it without a code)',
      fakeDb(pgPrimary(), { connectError: new Error('Connection terminated due to connection timeout') }),
      notReady,
      /connection timeout/,
    ],
    [
      'the server is still starting',
      fakeDb(pgPrimary(), { connectError: sqlError('57P03', 'the database system is starting up') }),
      notReady,
      /57P03/,
    ],
    [
      'the password is refused',
      fakeDb(pgPrimary(), {
        connectError: sqlError('28P01', 'password authentication failed for user "app"'),
      }),
      failed,
      /^authentication failed connecting to .*28P01/,
    ],
    [
      'a driver echoes the password in its error',
      fakeDb(pgPrimary(), {
        connectError: Object.assign(sqlError('28P01', `bad password ${MARKER_PASSWORD}`), {
          detail: MARKER_PASSWORD,
        }),
      }),
      failed,
      /bad password \[redacted\]/,
    ],
    [
      'the certificate chain is not trusted',
      fakeDb(pgPrimary(), {
        connectError: sqlError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'),
      }),
      failed,
      /^TLS verification failed/,
    ],
    [
      'the certificate names another host',
      fakeDb(pgPrimary(), {
        connectError: sqlError(
          'ERR_TLS_CERT_ALTNAME_INVALID',
          "Hostname/IP does not match certificate's altnames",
        ),
      }),
      failed,
      /^TLS verification failed/,
    ],
    [
      'the instance is still a standby',
      fakeDb(
        pgPrimary([/^SELECT pg_is_in_recovery/, [{ in_recovery: true, read_only: 'on', version: '16.4' }]]),
      ),
      notReady,
      /still in recovery/,
    ],
    [
      'sessions are read-only on a primary',
      fakeDb(
        pgPrimary([/^SELECT pg_is_in_recovery/, [{ in_recovery: false, read_only: 'on', version: '16.4' }]]),
      ),
      failed,
      /not in recovery but sessions are read-only/,
    ],
    [
      "the plan's query fails",
      fakeDb(pgPrimary([/^SELECT count/, sqlError('42P01', 'relation "orders" does not exist')])),
      failed,
      /running the plan's verify\.query on postgres .*42P01: relation "orders" does not exist/,
    ],
    [
      'the server refuses a read-write transaction (as a standby does)',
      fakeDb(
        pgPrimary([
          /^BEGIN READ WRITE/,
          sqlError('0A000', 'cannot set transaction read-write mode during recovery'),
        ]),
      ),
      notReady,
      /^postgres at 10\.0\.3\.17:5432 \(.*\) refuses read-write transactions \(SQLSTATE 0A000\): it is still in recovery$/,
    ],
    [
      "the plan's query tries to write",
      fakeDb(
        pgPrimary([/^SELECT count/, sqlError('25006', 'cannot execute DELETE in a read-only transaction')]),
      ),
      failed,
      /verify\.query on postgres .*: the query tries to write; verify\.query must be a read query/,
    ],
    [
      'the write is refused as read-only',
      fakeDb(
        pgPrimary([
          /^CREATE TEMP/,
          sqlError('25006', 'cannot execute CREATE TABLE in a read-only transaction'),
        ]),
      ),
      notReady,
      /the rolled-back write probe on postgres .*25006/,
    ],
    [
      'the connection drops mid-probe',
      fakeDb(pgPrimary([/^INSERT/, new Error('Connection terminated unexpectedly')])),
      notReady,
      /write probe .*Connection terminated unexpectedly/,
    ],
  ];

  it.each(cases)('when %s', async (_name, db, errorName, message) => {
    // Prepare
    const { input, deps } = scenario({ db });

    // Act
    const outcome = await run(() => verifyConnectivity(deps, input));

    // Assess
    expect(outcome.error?.name).toBe(errorName);
    expect(outcome.error?.message).toMatch(message);
    for (const session of db.sessions) expect(session.closed).toBe(true);
    expectNoLeak(outcome);
  });

  it('does not run the write probe on a standby', async () => {
    // Prepare
    const db = fakeDb(
      pgPrimary([/^SELECT pg_is_in_recovery/, [{ in_recovery: true, read_only: 'on', version: '16' }]]),
    );
    const { input, deps } = scenario({ db });

    // Act
    await caught(verifyConnectivity(deps, input));

    // Assess
    expect(db.sessions[0]?.queries).toHaveLength(1);
  });

  it('rolls the transaction back when the write probe fails', async () => {
    // Prepare
    const db = fakeDb(
      pgPrimary([/^INSERT/, sqlError('53100', 'could not extend file: No space left on device')]),
    );
    const { input, deps } = scenario({ db });

    // Act
    const error = await caught(verifyConnectivity(deps, input));

    // Assess
    expect(error.name).toBe('VerificationFailedError');
    expect(db.sessions[0]?.queries.at(-1)).toBe('ROLLBACK');
  });

  it('keeps the driver error as the cause when it holds no secret, and drops it when it does', async () => {
    // Prepare
    const plain = sqlError('28P01', 'password authentication failed for user "app"');
    const echoing = sqlError('28P01', 'password authentication failed');
    Object.assign(echoing, { hint: `tried ${MARKER_PASSWORD}` });
    const first = scenario({ db: fakeDb(pgPrimary(), { connectError: plain }) });
    const second = scenario({ db: fakeDb(pgPrimary(), { connectError: echoing }) });

    // Act
    const kept = await caught(verifyConnectivity(first.deps, first.input));
    const dropped = await caught(verifyConnectivity(second.deps, second.input));

    // Assess
    expect(kept.cause).toBe(plain);
    expect(dropped.cause).toBeUndefined();
    expect(errorText(dropped)).not.toContain(MARKER_PASSWORD);
  });

  it('gives up on queries that do not answer within the timeout, tearing the connection down', async () => {
    // Prepare
    const db = fakeDb(pgPrimary([/^SELECT count/, () => new Promise<Row[]>(() => undefined)]));
    const { input, deps } = scenario({ db, verify: { timeoutSeconds: 1 } });

    // Act
    const started = Date.now();
    const error = await caught(verifyConnectivity(deps, input));

    // Assess
    expect(error.name).toBe('ConnectivityNotReadyError');
    expect(error.message).toMatch(/did not answer the verification queries within 1 s/);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(db.sessions[0]?.aborted).toBe(true);
    expect(db.sessions[0]?.closed).toBe(true);
  });
});

describe('verifyConnectivity on MySQL and MariaDB', () => {
  it('proves a promoted MariaDB writable with the read-only switches and a row written to a scratch table, rolled back', async () => {
    // Prepare
    smMock
      .on(GetSecretValueCommand)
      .resolves({ SecretString: secretString({ engine: 'mariadb', port: 3306 }) });
    rdsMock.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [standalone({ Engine: 'mariadb', Endpoint: { Address: REPLICA_ENDPOINT, Port: 3306 } })],
    });
    const { input, deps, db } = scenario({ engine: 'mariadb' });

    // Act
    const outcome = await run(() => verifyConnectivity(deps, input));

    // Assess
    expect(outcome.result?.detail).toMatchObject({
      engine: 'mariadb',
      port: 3306,
      writable: true,
      writeProbe: 'scratch-table',
      serverVersion: '10.11.8-MariaDB-log',
    });
    expect(db.sessions[0]?.queries).toEqual([
      'SELECT @@global.read_only AS read_only, @@global.innodb_read_only AS innodb_read_only, VERSION() AS version',
      'START TRANSACTION READ ONLY',
      'SELECT count(*) FROM orders',
      'ROLLBACK',
      "CREATE TABLE lifeboat_verify_probe (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB COMMENT='lifeboat verify write probe; safe to drop'",
      'START TRANSACTION READ WRITE',
      'INSERT INTO lifeboat_verify_probe (id) VALUES (1)',
      'ROLLBACK',
      'DROP TABLE IF EXISTS lifeboat_verify_probe',
    ]);
    expectNoLeak(outcome);
  });

  const cases: [string, [RegExp, Answer][], string, RegExp][] = [
    [
      'read_only = 1 (a replica not yet promoted)',
      mysqlPrimary([/^SELECT @@global/, [{ read_only: 1, innodb_read_only: 0, version: '8.0.36' }]]),
      'ConnectivityNotReadyError',
      /@@global\.read_only = 1/,
    ],
    [
      'innodb_read_only = 1',
      mysqlPrimary([/^SELECT @@global/, [{ read_only: 0, innodb_read_only: 1, version: '8.0.36' }]]),
      'VerificationFailedError',
      /innodb_read_only = 1/,
    ],
    [
      'the read-write transaction is refused (--read-only)',
      mysqlPrimary([
        /^START TRANSACTION READ WRITE/,
        sqlError('ER_OPTION_PREVENTS_STATEMENT', 'The MySQL server is running with the --read-only option'),
      ]),
      'ConnectivityNotReadyError',
      /ER_OPTION_PREVENTS_STATEMENT/,
    ],
  ];

  it.each(cases)('MySQL with %s', async (_name, answers, errorName, message) => {
    // Prepare
    smMock
      .on(GetSecretValueCommand)
      .resolves({ SecretString: secretString({ engine: 'mysql', port: 3306 }) });
    const { input, deps } = scenario({ engine: 'mysql', db: fakeDb(answers) });

    // Act
    const error = await caught(verifyConnectivity(deps, input));

    // Assess
    expect(error.name).toBe(errorName);
    expect(error.message).toMatch(message);
  });

  it('reports refused MySQL credentials as a failure without the password', async () => {
    // Prepare
    smMock
      .on(GetSecretValueCommand)
      .resolves({ SecretString: secretString({ engine: 'mysql', port: 3306 }) });
    const db = fakeDb(mysqlPrimary(), {
      connectError: sqlError(
        'ER_ACCESS_DENIED_ERROR',
        "Access denied for user 'app'@'10.0.0.5' (using password: YES)",
      ),
    });
    const { input, deps } = scenario({ engine: 'mysql', db });

    // Act
    const outcome = await run(() => verifyConnectivity(deps, input));

    // Assess
    expect(outcome.error?.name).toBe('VerificationFailedError');
    expect(outcome.error?.message).toMatch(
      /^authentication failed connecting to mysql .*ER_ACCESS_DENIED_ERROR/,
    );
    expectNoLeak(outcome);
  });
});

describe('verifyConnectivity with a bad secret or instance', () => {
  const cases: [string, string | undefined, RegExp][] = [
    ['the password key is missing', secretString({ password: undefined }), /key "password" is missing/],
    ['the port is not a port', secretString({ port: 'five' }), /key "port" is missing or not a port number/],
    ['the host is not a DNS name', secretString({ host: 'not a name!' }), /key "host" is not a DNS name/],
    [
      'the engine is another family',
      secretString({ engine: 'mysql' }),
      /key "engine" does not name a postgres/,
    ],
    [
      'several keys are missing',
      JSON.stringify({ password: MARKER_PASSWORD }),
      /key "engine" is missing.*key "host" is missing.*key "port".*key "username".*key "dbname"/,
    ],
    [
      'the value is not JSON (and quotes the password)',
      `{"password":"${MARKER_PASSWORD}",`,
      /not valid JSON/,
    ],
    ['the value is a JSON array', '[1]', /not a JSON object/],
    ['the value is binary only', undefined, /has no SecretString/],
  ];

  it.each(cases)('fails naming the key when %s, never the value', async (_name, value, message) => {
    // Prepare
    smMock
      .on(GetSecretValueCommand)
      .resolves(value === undefined ? { SecretBinary: new Uint8Array([1]) } : { SecretString: value });
    const db = fakeDb(pgPrimary());
    const { input, deps } = scenario({ db });

    // Act
    const outcome = await run(() => verifyConnectivity(deps, input));

    // Assess
    expect(outcome.error?.name).toBe('VerificationFailedError');
    expect(outcome.error?.message).toMatch(message);
    expect(outcome.error?.cause).toBeUndefined();
    expect(db.connects).toEqual([]);
    expectNoLeak(outcome);
  });

  it('reports a missing secret as ResourceMissingError', async () => {
    // Prepare
    smMock.on(GetSecretValueCommand).rejects(
      Object.assign(new Error("Secrets Manager can't find the specified secret."), {
        name: 'ResourceNotFoundException',
        $fault: 'client',
        $metadata: {},
      }),
    );
    const { input, deps } = scenario();

    // Act
    const error = await caught(verifyConnectivity(deps, input));

    // Assess
    expect(error.name).toBe('ResourceMissingError');
    expect(error.message).toBe('secret orders/db does not exist in this Region');
  });

  it('sorts a throttled GetSecretValue as transient', async () => {
    // Prepare
    smMock.on(GetSecretValueCommand).rejects(
      Object.assign(new Error('Rate exceeded'), {
        name: 'ThrottlingException',
        $fault: 'client',
        $retryable: { throttling: true },
        $metadata: {},
      }),
    );
    const { input, deps } = scenario();

    // Act
    const error = await caught(verifyConnectivity(deps, input));

    // Assess
    expect(error.name).toBe('TransientAwsError');
  });

  it('is not ready while the instance is still a read replica', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica()] });
    const db = fakeDb(pgPrimary());
    const { input, deps } = scenario({ db });

    // Act
    const error = await caught(verifyConnectivity(deps, input));

    // Assess
    expect(error.name).toBe('ConnectivityNotReadyError');
    expect(error.message).toMatch(/still a read replica of arn:aws:rds:us-east-1/);
    expect(db.connects).toEqual([]);
  });

  it('is not ready while the instance has no endpoint', async () => {
    // Prepare
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [standalone({ Endpoint: undefined, DBInstanceStatus: 'modifying' })] });
    const { input, deps } = scenario();

    // Act
    const error = await caught(verifyConnectivity(deps, input));

    // Assess
    expect(error.name).toBe('ConnectivityNotReadyError');
    expect(error.message).toMatch(/has no endpoint yet \(status modifying\)/);
  });

  it('reports a missing instance as ResourceMissingError', async () => {
    // Prepare
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [] });
    const { input, deps } = scenario();

    // Act
    const error = await caught(verifyConnectivity(deps, input));

    // Assess
    expect(error.name).toBe('ResourceMissingError');
  });
});

// The dry run's read-only network probes: test/unit/verify-dry-run.test.ts.

describe('verify-connectivity handler', () => {
  it('rejects a payload without the verify settings, naming the field', async () => {
    // Prepare
    const { input } = scenario();
    const { verify: _verify, ...unit } = input.unit;

    // Act
    const error = await caught(handler({ run: input.run, unit }));

    // Assess
    expect(error.name).toBe('InputInvalidError');
    expect(error.message).toContain('unit.verify: expected an object');
  });

  it('rejects a payload that is not { run, unit }', async () => {
    // Act
    const error = await caught(handler({ unit: {} }));

    // Assess
    expect(error.name).toBe('InputInvalidError');
    expect(error.message).toContain('run: expected the RunContext from LoadPlan');
  });

  it('runs a dry-run through the recovery Region clients: reads only', async () => {
    // Prepare
    const { input } = scenario({ mode: 'dry-run' });

    // Act
    const result = await handler(input);

    // Assess: the secret and the replica were read; the probes' results are reported, whatever this network says
    expect(result.outcome).toBe('planned');
    expect(smMock.calls().map((c) => c.args[0].constructor.name)).toEqual(['GetSecretValueCommand']);
    expect(rdsMock.calls().map((c) => c.args[0].constructor.name)).toEqual(['DescribeDBInstancesCommand']);
    expect(result.detail['probe.dns']).toMatch(/^(ok|FAILED): /);
  });
});

describe('verify helpers', () => {
  it('parses LIFEBOAT_DNS_SERVERS', () => {
    expect(parseDnsServers(undefined)).toBeUndefined();
    expect(parseDnsServers(' , ')).toBeUndefined();
    expect(parseDnsServers('127.0.0.1:5353, [::1]:53')).toEqual(['127.0.0.1:5353', '[::1]:53']);
  });

  it('rejects DNS servers that are not IP:port, naming the variable', () => {
    // Act
    let error: unknown;
    try {
      systemResolverFactory(['dns.example.com:53'])(1000);
    } catch (e) {
      error = e;
    }

    // Assess
    expect((error as Error).name).toBe('ConfigurationError');
    expect((error as Error).message).toMatch(
      /^LIFEBOAT_DNS_SERVERS: expected a comma-separated list of IP:port/,
    );
  });

  it('resolves through a resolver that points at the configured servers', async () => {
    // Prepare: a server that is not listening; the lookup fails fast and is "not ready".
    const resolver = systemResolverFactory(['127.0.0.1:9'])(400);

    // Act
    const error = await caught(resolveLikeAnApplication(resolver, RECORD_NAME));

    // Assess
    expect(error.name).toBe('ConnectivityNotReadyError');
    expect(error.message).toMatch(/^DNS lookup CNAME orders-db\.internal\.example\.com failed: E/);
  });

  it('gives DNS a budget: lookups still in flight are cancelled and reported as not ready', async () => {
    // Prepare: a UDP "server" that reads every question and never answers.
    const mute = createSocket('udp4');
    await new Promise<void>((resolve) => mute.bind(0, '127.0.0.1', resolve));
    const resolver = systemResolverFactory([`127.0.0.1:${mute.address().port}`])(10_000);

    // Act
    const started = Date.now();
    const error = await caught(resolveLikeAnApplication(resolver, RECORD_NAME, 300));
    mute.close();

    // Assess
    expect(Date.now() - started).toBeLessThan(1500);
    expect(error.name).toBe('ConnectivityNotReadyError');
    expect(error.message).toBe(`DNS did not resolve ${RECORD_NAME} within 0.3 s`);
  });

  it('sorts driver errors by code', () => {
    expect(sortDbError('postgres', sqlError('28P01', 'x')).kind).toBe('auth');
    expect(sortDbError('postgres', sqlError('28000', 'x')).kind).toBe('auth');
    expect(sortDbError('postgres', sqlError('08006', 'x')).kind).toBe('not-ready');
    expect(sortDbError('postgres', sqlError('3D000', 'x')).kind).toBe('failed');
    expect(sortDbError('postgres', sqlError('ECONNRESET', 'x')).kind).toBe('not-ready');
    expect(sortDbError('postgres', sqlError('CERT_HAS_EXPIRED', 'x')).kind).toBe('tls');
    expect(sortDbError('postgres', sqlError('ERR_SSL_WRONG_VERSION_NUMBER', 'x')).kind).toBe('tls');
    expect(sortDbError('postgres', new Error('Connection terminated unexpectedly')).kind).toBe('not-ready');
    expect(sortDbError('mysql', sqlError('ER_DBACCESS_DENIED_ERROR', 'x')).kind).toBe('auth');
    expect(sortDbError('mysql', sqlError('ER_BAD_DB_ERROR', 'x')).kind).toBe('failed');
    expect(sortDbError('mysql', sqlError('ER_CON_COUNT_ERROR', 'x')).kind).toBe('not-ready');
    expect(sortDbError('mysql', sqlError('HANDSHAKE_NO_SSL_SUPPORT', 'x')).kind).toBe('tls');
    expect(sortDbError('mysql', sqlError('ETIMEDOUT', 'x')).kind).toBe('not-ready');
  });

  it('adds LIFEBOAT_DB_CA_FILE to the default trust store, and names the variable when it cannot be read', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-ca-'));
    try {
      const file = join(dir, 'ca.pem');
      writeFileSync(file, TEST_CA);
      process.env.LIFEBOAT_DB_CA_FILE = file;

      // Act
      const store = databaseTrustStore();
      process.env.LIFEBOAT_DB_CA_FILE = join(dir, 'missing.pem');
      let error: unknown;
      try {
        databaseTrustStore();
      } catch (e) {
        error = e;
      }

      // Assess
      expect(store?.at(-1)).toBe(TEST_CA);
      expect(store?.length).toBeGreaterThanOrEqual(rootCertificates.length + 1);
      expect((error as Error).name).toBe('ConfigurationError');
      expect((error as Error).message).toMatch(/^LIFEBOAT_DB_CA_FILE: cannot read .*missing\.pem \(ENOENT\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    delete process.env.LIFEBOAT_DB_CA_FILE;
    expect(databaseTrustStore()).toBeUndefined();
  });

  it('redacts the password and parses a port given as a string', () => {
    expect(redact(`a ${MARKER_PASSWORD} b ${MARKER_PASSWORD}`, MARKER_PASSWORD)).toBe(
      'a [redacted] b [redacted]',
    );
    expect(parseCredentials(secretString({ port: '6432' }), 'orders/db', 'postgres').port).toBe(6432);
  });
});

describe('the real connectors', () => {
  let silent: Server;
  let port = 0;
  const sockets = new Set<Socket>();

  beforeEach(async () => {
    // A TCP server that accepts and never says a word: a database host that hangs.
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });

  afterEach(async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  const options = (p: number, tls: ConnectOptions['tls'] = null): ConnectOptions => ({
    address: '127.0.0.1',
    port: p,
    user: 'app',
    password: MARKER_PASSWORD,
    database: 'orders',
    timeoutMs: 300,
    tls,
  });

  it.each([
    ['postgres', connectPostgres],
    ['mysql', connectMysql],
  ] as const)(
    '%s: a host that never answers times out within the timeout, as not-ready',
    async (family, connect) => {
      // Act
      const started = Date.now();
      const error = await caught(connect(options(port, { endpoint: REPLICA_ENDPOINT })));

      // Assess
      expect(Date.now() - started).toBeLessThan(2000);
      expect(sortDbError(family, error).kind).toBe('not-ready');
      expect(errorText(error)).not.toContain(MARKER_PASSWORD);
    },
  );

  it.each([
    ['postgres', connectPostgres],
    ['mysql', connectMysql],
  ] as const)('%s: a refused connection is ECONNREFUSED, not-ready', async (family, connect) => {
    // Prepare
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });

    // Act
    const error = await caught(connect(options(closed)));

    // Assess
    expect(sortDbError(family, error)).toEqual({ kind: 'not-ready', code: 'ECONNREFUSED' });
  });
});
