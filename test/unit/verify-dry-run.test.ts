import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { InstanceEngine, UnitPlan } from '../../functions/lib/plan.js';
import { buildRunReport, renderReportText } from '../../functions/lib/report/index.js';
import { verifyConnectivity } from '../../functions/lib/verify/connectivity.js';
import type { ConnectOptions, DbConnector, DbSession, Row } from '../../functions/lib/verify/db.js';
import type { DnsResolver } from '../../functions/lib/verify/dns.js';
import {
  type DryRunProbeDeps,
  dryRunProbe,
  type ProbeCredentials,
} from '../../functions/lib/verify/dry-run.js';
import {
  PRIMARY_ENDPOINT,
  RECORD_NAME,
  REPLICA_ENDPOINT,
  replica,
  stepInput,
} from '../fixtures/db-fixtures.js';
import { MARKER_PASSWORD } from '../fixtures/secret.js';

/**
 * Issue 9, item 9: a dry run's verify step probes, read-only, what the real one will need on the day: the record
 * resolves from the verify function's network, TCP and TLS open to today's target and to the replica, the secret's
 * credentials are accepted, and the replica is read-only. Each result is reported; a failure is a warning, not a crash.
 */

const rdsMock = mockClient(RDSClient);
const smMock = mockClient(SecretsManagerClient);
const rds = rdsMock as unknown as RDSClient;

const PRIMARY_ADDRESS = '10.1.0.10';
const REPLICA_ADDRESS = '10.2.0.20';

const credentials: ProbeCredentials = {
  host: RECORD_NAME,
  port: 5432,
  username: 'app',
  password: MARKER_PASSWORD,
  dbname: 'orders',
};

function unitWith(verify: Partial<UnitPlan['verify']> = {}, engine: InstanceEngine = 'postgres') {
  const base = stepInput({ mode: 'dry-run', database: { engine } });
  return {
    run: base.run,
    unit: {
      ...base.unit,
      verify: { query: 'SELECT 1', requireTls: true, timeoutSeconds: 4, ...verify },
    } as UnitPlan,
  };
}

function codeError(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

/** Today's zone: the record is a CNAME to the primary's endpoint; the replica's endpoint has its own address. */
function zone(overrides: Record<string, { cname?: string; a?: string[]; error?: string }> = {}): DnsResolver {
  const entries: Record<string, { cname?: string; a?: string[]; error?: string }> = {
    [RECORD_NAME]: { cname: `${PRIMARY_ENDPOINT}.` },
    [PRIMARY_ENDPOINT]: { a: [PRIMARY_ADDRESS] },
    [REPLICA_ENDPOINT]: { a: [REPLICA_ADDRESS] },
    ...overrides,
  };
  const answer = async (name: string, type: 'cname' | 'a' | 'aaaa') => {
    const entry = entries[name];
    if (!entry) throw codeError('ENOTFOUND', `queryA ENOTFOUND ${name}`);
    if (entry.error) throw codeError(entry.error);
    const value =
      type === 'cname' ? (entry.cname ? [entry.cname] : undefined) : type === 'a' ? entry.a : undefined;
    if (!value?.length) throw codeError('ENODATA');
    return value;
  };
  return {
    resolveCname: (n) => answer(n, 'cname'),
    resolve4: (n) => answer(n, 'a'),
    resolve6: (n) => answer(n, 'aaaa'),
  };
}

class Session implements DbSession {
  readonly queries: string[] = [];
  closed = false;
  constructor(
    private readonly row: Row,
    readonly tlsSubject: string | null,
  ) {}
  async query(sql: string): Promise<Row[]> {
    this.queries.push(sql);
    return [this.row];
  }
  async close() {
    this.closed = true;
  }
  abort() {}
}

interface World {
  deps: DryRunProbeDeps;
  connects: ConnectOptions[];
  sessions: Session[];
  tcp: string[];
}

/**
 * A healthy world: the primary writable, the replica in recovery. `closed` addresses refuse TCP; `refuse` maps an
 * address to the error its driver connection gets; `role` overrides an address's pg_is_in_recovery().
 */
function world(
  options: {
    resolver?: DnsResolver;
    closed?: string[];
    refuse?: Record<string, Error>;
    inRecovery?: Record<string, boolean>;
  } = {},
): World {
  const connects: ConnectOptions[] = [];
  const sessions: Session[] = [];
  const tcp: string[] = [];
  const connector: DbConnector = async (o) => {
    connects.push(o);
    const refused = options.refuse?.[o.address];
    if (refused) throw refused;
    const inRecovery = options.inRecovery?.[o.address] ?? o.address === REPLICA_ADDRESS;
    const session = new Session(
      { in_recovery: inRecovery, read_only: inRecovery ? 1 : 0 },
      o.tls ? o.tls.endpoint : null,
    );
    sessions.push(session);
    return session;
  };
  return {
    connects,
    sessions,
    tcp,
    deps: {
      rds,
      resolver: () => options.resolver ?? zone(),
      connectors: { postgres: connector, mysql: connector },
      trustStore: () => undefined,
      tcpConnect: async (address, port) => {
        tcp.push(`${address}:${port}`);
        if (options.closed?.includes(address))
          throw codeError('ECONNREFUSED', `connect ECONNREFUSED ${address}`);
      },
    },
  };
}

beforeEach(() => {
  rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [replica()] });
});

afterEach(() => {
  rdsMock.reset();
  smMock.reset();
});

describe('the dry run probes the network, read-only', () => {
  it('reports every probe ok on a healthy network: DNS, TCP, TLS, authentication, and which side is read-only', async () => {
    // Prepare
    const w = world();
    const { unit } = unitWith();

    // Act
    const body = await dryRunProbe(w.deps, unit, credentials);

    // Assess
    expect(body.outcome).toBe('planned');
    expect(body.warnings).toEqual([]);
    expect(body.detail).toMatchObject({
      call: 'none (read-only step)',
      probesFailed: 0,
      'probe.dns': `ok: ${RECORD_NAME} -> ${PRIMARY_ENDPOINT} (${PRIMARY_ADDRESS})`,
      'probe.current.tcp': `ok: TCP to ${PRIMARY_ADDRESS}:5432 (${PRIMARY_ENDPOINT}) opens`,
      'probe.current.tls': `ok: TLS to ${PRIMARY_ADDRESS}:5432 (${PRIMARY_ENDPOINT}) verified against ${PRIMARY_ENDPOINT} (certificate ${PRIMARY_ENDPOINT})`,
      'probe.current.auth': 'ok: authenticated as app with the secret',
      'probe.current.role': 'ok: writable (pg_is_in_recovery() = false)',
      'probe.replica.dns': `ok: ${REPLICA_ENDPOINT} (${REPLICA_ADDRESS})`,
      'probe.replica.tcp': `ok: TCP to ${REPLICA_ADDRESS}:5432 (${REPLICA_ENDPOINT}) opens`,
      'probe.replica.auth': 'ok: authenticated as app with the secret',
      'probe.replica.read-only': 'ok: read-only, as a replica must be (pg_is_in_recovery() = true)',
    });
    // TLS is checked against each side's own RDS endpoint, as the real verification will.
    expect(w.connects.map((c) => [c.address, c.tls?.endpoint])).toEqual(
      expect.arrayContaining([
        [PRIMARY_ADDRESS, PRIMARY_ENDPOINT],
        [REPLICA_ADDRESS, REPLICA_ENDPOINT],
      ]),
    );
  });

  it('writes nothing: only SELECTs of the server role, no transaction; only a DescribeDBInstances to AWS; sessions closed', async () => {
    // Prepare
    const w = world();

    // Act
    await dryRunProbe(w.deps, unitWith().unit, credentials);

    // Assess
    const queries = w.sessions.flatMap((s) => s.queries);
    expect(queries).toEqual([
      'SELECT pg_is_in_recovery() AS in_recovery',
      'SELECT pg_is_in_recovery() AS in_recovery',
    ]);
    expect(w.sessions.every((s) => s.closed)).toBe(true);
    expect(rdsMock.calls().map((c) => c.args[0].constructor.name)).toEqual(['DescribeDBInstancesCommand']);
  });

  it('MySQL and MariaDB: the replica must have @@global.read_only on', async () => {
    // Prepare
    const w = world();

    // Act
    const body = await dryRunProbe(w.deps, unitWith({}, 'mariadb').unit, credentials);

    // Assess
    expect(w.sessions.flatMap((s) => s.queries)).toEqual([
      'SELECT @@global.read_only AS read_only',
      'SELECT @@global.read_only AS read_only',
    ]);
    expect(body.detail['probe.replica.read-only']).toBe(
      'ok: read-only, as a replica must be (@@global.read_only = 1)',
    );
    expect(body.detail['probe.current.role']).toBe('ok: writable (@@global.read_only = 0)');
  });

  it('a closed port is reported, the later probes of that side skipped, the other side still probed', async () => {
    // Prepare
    const w = world({ closed: [REPLICA_ADDRESS] });

    // Act
    const body = await dryRunProbe(w.deps, unitWith().unit, credentials);

    // Assess
    expect(body.outcome).toBe('planned');
    expect(body.detail.probesFailed).toBe(1);
    expect(body.detail['probe.replica.tcp']).toBe(
      `FAILED: TCP to ${REPLICA_ADDRESS}:5432 (${REPLICA_ENDPOINT}) failed (ECONNREFUSED): nothing listens there`,
    );
    expect(body.detail['probe.replica.tls']).toBe('skipped: not tried: TCP failed');
    expect(body.detail['probe.replica.read-only']).toBe('skipped: not tried: TCP failed');
    expect(body.detail['probe.current.auth']).toBe('ok: authenticated as app with the secret');
    expect(body.warnings).toEqual([
      `network probe replica.tcp failed: TCP to ${REPLICA_ADDRESS}:5432 (${REPLICA_ENDPOINT}) failed (ECONNREFUSED): nothing listens there`,
    ]);
  });

  it('a record that does not resolve from its network points at the private hosted zone association', async () => {
    // Prepare
    const w = world({ resolver: zone({ [RECORD_NAME]: { error: 'ENOTFOUND' } }) });

    // Act
    const body = await dryRunProbe(w.deps, unitWith().unit, credentials);

    // Assess
    expect(body.detail['probe.dns']).toMatch(
      /^FAILED: orders-db\.internal\.example\.com did not resolve from the verify function's network: .*ENOTFOUND.* is the private hosted zone associated with the VPC/,
    );
    expect(body.detail['probe.current.tcp']).toBe('skipped: not tried: the record did not resolve');
    expect(body.detail['probe.replica.read-only']).toMatch(/^ok: /);
  });

  it('a refused password and a failed certificate are told apart, and the password is in no text', async () => {
    // Prepare
    const w = world({
      refuse: {
        [PRIMARY_ADDRESS]: codeError(
          '28P01',
          `password authentication failed for user "app" (${MARKER_PASSWORD})`,
        ),
        [REPLICA_ADDRESS]: codeError(
          'ERR_TLS_CERT_ALTNAME_INVALID',
          "Hostname/IP does not match certificate's altnames",
        ),
      },
    });

    // Act
    const body = await dryRunProbe(w.deps, unitWith().unit, credentials);

    // Assess
    expect(body.detail['probe.current.tls']).toMatch(/^ok: TLS to /);
    expect(body.detail['probe.current.auth']).toMatch(
      /^FAILED: the secret's credentials were refused by .*: 28P01: password authentication failed/,
    );
    expect(body.detail['probe.replica.tls']).toMatch(
      /^FAILED: TLS to .* failed: ERR_TLS_CERT_ALTNAME_INVALID/,
    );
    expect(body.detail['probe.replica.auth']).toBe('skipped: not tried: TLS failed');
    expect(body.detail.probesFailed).toBe(2);
    expect(JSON.stringify(body)).not.toContain(MARKER_PASSWORD);
  });

  it('a "replica" that is writable fails the read-only probe', async () => {
    // Prepare
    const w = world({ inRecovery: { [REPLICA_ADDRESS]: false } });

    // Act
    const body = await dryRunProbe(w.deps, unitWith().unit, credentials);

    // Assess
    expect(body.detail['probe.replica.read-only']).toMatch(
      /^FAILED: writable \(pg_is_in_recovery\(\) = false\): this is not a replica/,
    );
  });

  it('without verify.requireTls, TLS is not asked and says so', async () => {
    // Prepare
    const w = world();

    // Act
    const body = await dryRunProbe(w.deps, unitWith({ requireTls: false }).unit, credentials);

    // Assess
    expect(body.detail['probe.current.tls']).toBe('skipped: not asked (verify.requireTls is false)');
    expect(w.connects.every((c) => c.tls === null)).toBe(true);
    expect(body.detail.probesFailed).toBe(0);
  });

  it('verifyConnectivity in dry-run mode runs the probes: reads the secret, nothing else of AWS but the replica', async () => {
    // Prepare
    const w = world({ closed: [PRIMARY_ADDRESS] });
    smMock.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ engine: 'postgres', ...credentials }),
    });
    const input = unitWith();

    // Act
    const result = await verifyConnectivity(
      { ...w.deps, secretsManager: smMock as unknown as SecretsManagerClient },
      input,
    );

    // Assess
    expect(result.outcome).toBe('planned');
    expect(result.detail['probe.current.tcp']).toMatch(/^FAILED: TCP to 10\.1\.0\.10:5432/);
    expect(result.detail['probe.replica.read-only']).toMatch(/^ok: /);
    expect(result.warnings).toHaveLength(1);
    expect(smMock.calls().map((c) => c.args[0].constructor.name)).toEqual(['GetSecretValueCommand']);
    expect(JSON.stringify(result)).not.toContain(MARKER_PASSWORD);
  });
});

describe('the report shows each probe', () => {
  it('lists every probe result under Verify connectivity and counts the failures in the summary', async () => {
    // Prepare
    const w = world({ closed: [REPLICA_ADDRESS] });
    const { run, unit } = unitWith();
    const body = await dryRunProbe(w.deps, unit, credentials);
    const at = '2025-01-01T00:00:10.000Z';
    const verify = {
      step: 'verifyConnectivity' as const,
      unit: unit.name,
      outcome: body.outcome,
      startedAt: at,
      endedAt: at,
      durationMs: 40,
      detail: body.detail ?? {},
      warnings: body.warnings ?? [],
    };

    // Act
    const report = buildRunReport(
      {
        run,
        units: [
          {
            unit: unit.name,
            engine: 'postgres',
            status: 'succeeded',
            results: { verifyConnectivity: verify },
          },
        ],
      },
      new Date('2025-01-01T00:00:20.000Z'),
    );
    const text = renderReportText(report);

    // Assess
    expect(report.summary).toBe(
      'Dry run of orders-dr: 1 unit planned, 0 calls a failover would make; 1 network probe failed (orders: see Verify connectivity); nothing was changed.',
    );
    expect(text).toContain(`      probe dns: ok: ${RECORD_NAME} -> ${PRIMARY_ENDPOINT} (${PRIMARY_ADDRESS})`);
    expect(text).toContain('      probe current.role: ok: writable (pg_is_in_recovery() = false)');
    expect(text).toContain(
      `      probe replica.tcp: FAILED: TCP to ${REPLICA_ADDRESS}:5432 (${REPLICA_ENDPOINT}) failed (ECONNREFUSED): nothing listens there`,
    );
    expect(text).toContain('      probe replica.read-only: skipped: not tried: TCP failed');
  });
});
