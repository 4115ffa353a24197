import { connect as netConnect } from 'node:net';
import type { RDSClient } from '@aws-sdk/client-rds';
import { describeInstance } from '../database.js';
import { optionalEnv } from '../env.js';
import type { UnitPlan } from '../plan.js';
import { instanceDatabase } from '../plan-names.js';
import type { StepBody } from '../step.js';
import type { DetailValue } from '../types.js';
import {
  type DbConnectors,
  type DbSession,
  databaseTrustStore,
  defaultConnectors,
  type EngineFamily,
  engineFamily,
  sortDbError,
  type TlsPolicy,
} from './db.js';
import {
  DNS_SERVERS_ENV,
  normalizeName,
  parseDnsServers,
  type ResolverFactory,
  resolveLikeAnApplication,
  systemResolverFactory,
} from './dns.js';

/**
 * The verify step in a dry run: finds, read-only, what would break the real verification on the day — a route, a
 * security group rule, a private hosted zone not associated with the verify function's VPC, a certificate, a
 * password, a replica that is not a replica. From the verify function's own network it:
 *
 * 1. resolves the secret's `host` through the configured resolver (the VPC resolver in AWS);
 * 2. for the record's current target (today's primary) and for the replica's endpoint: opens TCP, then TLS and
 *    authenticates with the secret (one driver connection: TLS comes before authentication in both protocols, so an
 *    authentication refusal proves TLS), then reads the server's role;
 * 3. requires the replica to be read-only (PostgreSQL `pg_is_in_recovery()`, MySQL/MariaDB `@@global.read_only`).
 *
 * Nothing is written: no write, no transaction, only `SELECT`s of server settings. Every result is reported in the
 * step's detail (`probe.*`) and every failure as a warning; a failed probe does not fail the dry run, whose job is to
 * report. Timeouts, with T = verify.timeoutSeconds: DNS T/2, TCP T/2, connect T, the role query T (3 T at most,
 * infra/constructs/orchestrator.ts, verifyFunctionTimeout). The password goes to the driver only; every text is
 * redacted. docs/design/dry-run-probe.md.
 */

export interface DryRunProbeDeps {
  readonly rds: RDSClient;
  readonly resolver?: ResolverFactory;
  readonly connectors?: DbConnectors;
  readonly trustStore?: () => string[] | undefined;
  /** TCP connect, for tests. @default node:net */
  readonly tcpConnect?: (address: string, port: number, timeoutMs: number) => Promise<void>;
}

/** The secret's keys the probe uses (functions/lib/verify/connectivity.ts, parseCredentials). */
export interface ProbeCredentials {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly dbname: string;
}

/** One probe's result, as the report shows it. */
export interface ProbeResult {
  /** e.g. `dns`, `current.tcp`, `replica.read-only`. */
  readonly probe: string;
  readonly ok: boolean;
  /** What was found, or why it failed or was skipped. */
  readonly text: string;
  /** True when an earlier probe's failure made this one pointless. */
  readonly skipped?: boolean;
}

/** The step's body, with its detail and warnings always there. */
export type ProbeBody = StepBody & { detail: Record<string, DetailValue>; warnings: string[] };

/** The detail key of a probe's result. */
export const PROBE_DETAIL_PREFIX = 'probe.';

function redact(text: string, password: string): string {
  return password === '' ? text : text.split(password).join('[redacted]');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Opens a TCP connection and closes it at once: the network path (routes, security groups, NACLs) is open. */
export function tcpProbe(address: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: address, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    });
  });
}

/* ---------------------------------------------------------------------------------------------- */
/* The role of a server: read-only or writable                                                     */
/* ---------------------------------------------------------------------------------------------- */

interface ServerRole {
  readOnly: boolean;
  /** How it was read, for the report. */
  evidence: string;
}

/** PostgreSQL: a hot standby is in recovery; nothing else says read-only as surely. */
async function postgresRole(session: DbSession): Promise<ServerRole> {
  const row = (await session.query('SELECT pg_is_in_recovery() AS in_recovery'))[0];
  const inRecovery = row?.in_recovery === true;
  return { readOnly: inRecovery, evidence: `pg_is_in_recovery() = ${String(row?.in_recovery)}` };
}

/**
 * MySQL and MariaDB: RDS keeps a read replica at `read_only = 1` (super_read_only, where the engine has it, forces
 * read_only on; MariaDB has no super_read_only, so only read_only is asked).
 */
async function mysqlRole(session: DbSession): Promise<ServerRole> {
  const row = (await session.query('SELECT @@global.read_only AS read_only'))[0];
  const value = row?.read_only;
  const on = value === 1 || value === '1' || value === 'ON' || value === true;
  return { readOnly: on, evidence: `@@global.read_only = ${String(value)}` };
}

const ROLE_OF: Record<EngineFamily, (session: DbSession) => Promise<ServerRole>> = {
  postgres: postgresRole,
  mysql: mysqlRole,
};

/* ---------------------------------------------------------------------------------------------- */
/* One target: TCP, TLS + authentication, role                                                     */
/* ---------------------------------------------------------------------------------------------- */

interface TargetSpec {
  /** `current` (the record's target today) or `replica`. */
  readonly label: 'current' | 'replica';
  /** The RDS endpoint name: the certificate must name it. */
  readonly endpoint: string;
  readonly address: string;
  readonly port: number;
  /** What the role must be: the replica read-only; the current target is only reported. */
  readonly expectReadOnly: boolean | null;
}

interface ProbeContext {
  readonly unit: UnitPlan;
  readonly family: EngineFamily;
  readonly credentials: ProbeCredentials;
  readonly timeoutMs: number;
  readonly connectors: DbConnectors;
  readonly trustStore: () => string[] | undefined;
  readonly tcpConnect: (address: string, port: number, timeoutMs: number) => Promise<void>;
}

async function probeTarget(ctx: ProbeContext, target: TargetSpec): Promise<ProbeResult[]> {
  const { label } = target;
  const where = `${target.address}:${target.port} (${target.endpoint})`;
  const { password } = ctx.credentials;
  const results: ProbeResult[] = [];
  const skip = (probe: string, why: string) =>
    results.push({ probe: `${label}.${probe}`, ok: false, skipped: true, text: `not tried: ${why}` });

  try {
    await ctx.tcpConnect(target.address, target.port, ctx.timeoutMs / 2);
    results.push({ probe: `${label}.tcp`, ok: true, text: `TCP to ${where} opens` });
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'error';
    results.push({
      probe: `${label}.tcp`,
      ok: false,
      text:
        `TCP to ${where} failed (${code}): ` +
        (code === 'ECONNREFUSED'
          ? 'nothing listens there'
          : 'check the route and the security groups between the verify function and the database'),
    });
    skip('tls', 'TCP failed');
    skip('auth', 'TCP failed');
    skip(target.expectReadOnly ? 'read-only' : 'role', 'TCP failed');
    return results;
  }

  const tls: TlsPolicy | null = ctx.unit.verify.requireTls
    ? { endpoint: target.endpoint, ...withCa(ctx.trustStore()) }
    : null;
  let session: DbSession;
  try {
    session = await ctx.connectors[ctx.family]({
      address: target.address,
      port: target.port,
      user: ctx.credentials.username,
      password,
      database: ctx.unit.verify.database ?? ctx.credentials.dbname,
      timeoutMs: ctx.timeoutMs,
      tls,
    });
  } catch (error) {
    const { kind, code } = sortDbError(ctx.family, error);
    const said = redact(`${code ? `${code}: ` : ''}${messageOf(error)}`, password);
    if (kind === 'tls') {
      results.push({ probe: `${label}.tls`, ok: false, text: `TLS to ${where} failed: ${said}` });
      skip('auth', 'TLS failed');
    } else if (kind === 'auth') {
      results.push(tlsOk(label, tls, where, null));
      results.push({
        probe: `${label}.auth`,
        ok: false,
        text: `the secret's credentials were refused by ${where}: ${said}`,
      });
    } else {
      results.push({ probe: `${label}.tls`, ok: false, text: `connecting to ${where} failed: ${said}` });
      skip('auth', 'the connection failed');
    }
    skip(target.expectReadOnly ? 'read-only' : 'role', 'no session');
    return results;
  }
  try {
    results.push(tlsOk(label, tls, where, session.tlsSubject));
    results.push({
      probe: `${label}.auth`,
      ok: true,
      text: `authenticated as ${ctx.credentials.username} with the secret`,
    });
    const role = await ROLE_OF[ctx.family](session);
    const what = role.readOnly ? 'read-only' : 'writable';
    if (target.expectReadOnly === null) {
      results.push({ probe: `${label}.role`, ok: true, text: `${what} (${role.evidence})` });
    } else {
      results.push({
        probe: `${label}.read-only`,
        ok: role.readOnly === target.expectReadOnly,
        text: role.readOnly
          ? `read-only, as a replica must be (${role.evidence})`
          : `writable (${role.evidence}): this is not a replica; was it promoted already, or does the plan name the wrong instance?`,
      });
    }
  } catch (error) {
    const { code } = sortDbError(ctx.family, error);
    const said = redact(`${code ? `${code}: ` : ''}${messageOf(error)}`, password);
    results.push({
      probe: `${label}.${target.expectReadOnly ? 'read-only' : 'role'}`,
      ok: false,
      text: `reading the server's role on ${where} failed: ${said}`,
    });
  } finally {
    await session.close();
  }
  return results;
}

function tlsOk(label: string, tls: TlsPolicy | null, where: string, subject: string | null): ProbeResult {
  if (!tls) {
    return { probe: `${label}.tls`, ok: true, text: 'not asked (verify.requireTls is false)', skipped: true };
  }
  return {
    probe: `${label}.tls`,
    ok: true,
    text: `TLS to ${where} verified against ${tls.endpoint}${subject ? ` (certificate ${subject})` : ''}`,
  };
}

function withCa(ca: string[] | undefined): { ca?: string[] } {
  return ca ? { ca } : {};
}

/* ---------------------------------------------------------------------------------------------- */
/* The dry run's verify step                                                                       */
/* ---------------------------------------------------------------------------------------------- */

/**
 * Runs every probe of the unit and returns the step's `planned` body: each result in `detail` (`probe.<name>`:
 * `ok: ...`, `FAILED: ...` or `skipped: ...`), each failure as a warning. AWS errors (the replica's DescribeDBInstances)
 * are thrown as for the real step; everything on the database's network path is reported, never thrown.
 */
export async function dryRunProbe(
  deps: DryRunProbeDeps,
  unit: UnitPlan,
  credentials: ProbeCredentials,
): Promise<ProbeBody> {
  const timeoutMs = unit.verify.timeoutSeconds * 1000;
  const family = engineFamily(unit.database.engine);
  const { password } = credentials;
  const makeResolver = deps.resolver ?? systemResolverFactory(parseDnsServers(optionalEnv(DNS_SERVERS_ENV)));
  const record = normalizeName(credentials.host);
  const instance = await describeInstance(
    deps.rds,
    instanceDatabase(unit, 'the dry-run probe').replicaInstanceId,
  );
  const replicaEndpoint = instance.Endpoint?.Address ? normalizeName(instance.Endpoint.Address) : undefined;
  const replicaPort = instance.Endpoint?.Port ?? credentials.port;

  const resolve = (name: string) =>
    resolveLikeAnApplication(makeResolver(timeoutMs / 2), name, timeoutMs / 2).then(
      (resolution) => ({ resolution }),
      (error: unknown) => ({ error: redact(messageOf(error), password) }),
    );
  const [current, replica] = await Promise.all([
    resolve(record),
    replicaEndpoint ? resolve(replicaEndpoint) : Promise.resolve(undefined),
  ]);

  const results: ProbeResult[] = [];
  const targets: TargetSpec[] = [];
  if ('resolution' in current) {
    const { chain, addresses } = current.resolution;
    results.push({ probe: 'dns', ok: true, text: `${chain.join(' -> ')} (${addresses.join(', ')})` });
    targets.push({
      label: 'current',
      // The name the record points at: the RDS endpoint whose certificate the server presents.
      endpoint: chain[1] ?? chain[0] ?? record,
      address: addresses[0] as string,
      port: credentials.port,
      expectReadOnly: null,
    });
  } else {
    results.push({
      probe: 'dns',
      ok: false,
      text:
        `${record} did not resolve from the verify function's network: ${current.error} ` +
        '(in AWS: is the private hosted zone associated with the VPC the verify function runs in?)',
    });
    for (const p of ['tcp', 'tls', 'auth', 'role']) {
      results.push({
        probe: `current.${p}`,
        ok: false,
        skipped: true,
        text: 'not tried: the record did not resolve',
      });
    }
  }
  if (!replicaEndpoint) {
    results.push({
      probe: 'replica.dns',
      ok: false,
      text: `${instanceDatabase(unit, 'the dry-run probe').replicaInstanceId} has no endpoint (status ${instance.DBInstanceStatus ?? 'unknown'})`,
    });
  } else if (replica && 'resolution' in replica) {
    const { addresses } = replica.resolution;
    results.push({ probe: 'replica.dns', ok: true, text: `${replicaEndpoint} (${addresses.join(', ')})` });
    targets.push({
      label: 'replica',
      endpoint: replicaEndpoint,
      address: addresses[0] as string,
      port: replicaPort,
      expectReadOnly: true,
    });
  } else {
    results.push({
      probe: 'replica.dns',
      ok: false,
      text: `${replicaEndpoint} did not resolve: ${replica?.error ?? 'unknown error'}`,
    });
  }

  const ctx: ProbeContext = {
    unit,
    family,
    credentials,
    timeoutMs,
    connectors: deps.connectors ?? defaultConnectors,
    trustStore: deps.trustStore ?? databaseTrustStore,
    tcpConnect: deps.tcpConnect ?? tcpProbe,
  };
  for (const found of await Promise.all(targets.map((t) => probeTarget(ctx, t)))) results.push(...found);

  const failed = results.filter((r) => !r.ok && !r.skipped);
  const detail: Record<string, DetailValue> = {
    call: 'none (read-only step)',
    record,
    instance: instanceDatabase(unit, 'the dry-run probe').replicaInstanceId,
    replicaEndpoint: replicaEndpoint ?? null,
    engine: unit.database.engine,
    tlsRequired: unit.verify.requireTls,
    timeoutSeconds: unit.verify.timeoutSeconds,
    probesFailed: failed.length,
  };
  for (const r of results) {
    detail[`${PROBE_DETAIL_PREFIX}${r.probe}`] = redact(
      `${r.skipped ? 'skipped' : r.ok ? 'ok' : 'FAILED'}: ${r.text}`,
      password,
    );
  }
  return {
    outcome: 'planned',
    detail,
    warnings: failed.map((r) => redact(`network probe ${r.probe} failed: ${r.text}`, password)),
  };
}
