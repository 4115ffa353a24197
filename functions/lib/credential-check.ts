import { optionalEnv } from './env.js';
import { LifeboatError, ResourceBusyError, RotationBlockedError } from './errors.js';
import type { UnitPlan } from './plan.js';
import {
  type DbConnectors,
  type DbSession,
  databaseTrustStore,
  defaultConnectors,
  engineFamily,
  sortDbError,
} from './verify/db.js';
import {
  DNS_SERVERS_ENV,
  normalizeName,
  parseDnsServers,
  type ResolverFactory,
  resolveLikeAnApplication,
  systemResolverFactory,
} from './verify/dns.js';

/**
 * Does the promoted database take these credentials? AttachRotation asks it of an interrupted rotation's pending
 * version and of the current one (docs/aws/secrets-manager-rotation.md, "Finishing an interrupted rotation"), with
 * VerifyConnectivity's own connection code: the endpoint resolved through the same resolver, TLS checked against the
 * endpoint as the plan's `verify.requireTls` asks, the same drivers and timeout. One login and `SELECT 1`; nothing
 * is written.
 *
 * The password goes to the driver and nowhere else: no message here quotes a driver's text, only its code.
 */

export interface CredentialCheckDeps {
  /** @default the system resolver, asking `LIFEBOAT_DNS_SERVERS` when set */
  readonly resolver?: ResolverFactory;
  /** @default pg for postgres, mysql2 for mysql and mariadb */
  readonly connectors?: DbConnectors;
  /** @default Node's store + `LIFEBOAT_DB_CA_FILE` */
  readonly trustStore?: () => string[] | undefined;
}

export interface LoginCredentials {
  /** Which version they come from, for messages: e.g. `AWSPENDING (version v2)`. */
  readonly label: string;
  readonly username: string;
  readonly password: string;
  readonly dbname: string;
  readonly port: number;
}

/** `accepted`: logged in and answered. `refused`: the server refused these credentials (authentication). */
export type LoginVerdict = 'accepted' | 'refused';

/**
 * Logs in to the instance at `endpoint` once. A refusal of the credentials is an answer (`refused`); a database that
 * does not answer is `ResourceBusyError` (retried: VerifyConnectivity has just reached it); anything else (TLS, a
 * server error) is `RotationBlockedError`, naming the user and the label, never the password.
 */
export async function tryLogin(
  deps: CredentialCheckDeps,
  unit: UnitPlan,
  endpoint: string,
  credentials: LoginCredentials,
): Promise<LoginVerdict> {
  const family = engineFamily(unit.database.engine);
  const timeoutMs = unit.verify.timeoutSeconds * 1000;
  const host = normalizeName(endpoint);
  const who = `user "${credentials.username}" of ${credentials.label} at ${host}:${credentials.port}`;
  const makeResolver = deps.resolver ?? systemResolverFactory(parseDnsServers(optionalEnv(DNS_SERVERS_ENV)));
  let session: DbSession | undefined;
  try {
    const resolution = await resolveLikeAnApplication(makeResolver(timeoutMs / 2), host, timeoutMs / 2);
    const ca = unit.verify.requireTls ? (deps.trustStore ?? databaseTrustStore)() : undefined;
    session = await (deps.connectors ?? defaultConnectors)[family]({
      address: resolution.addresses[0] as string,
      port: credentials.port,
      user: credentials.username,
      password: credentials.password,
      database: unit.verify.database ?? credentials.dbname,
      timeoutMs,
      tls: unit.verify.requireTls ? { endpoint: host, ...(ca ? { ca } : {}) } : null,
    });
    await session.query('SELECT 1');
    return 'accepted';
  } catch (error) {
    if (error instanceof LifeboatError) {
      // The resolver's not-ready errors: the endpoint did not resolve this time.
      throw error.retryable ? new ResourceBusyError(`logging in as ${who}: ${error.message}`) : error;
    }
    const { kind, code } = sortDbError(family, error);
    const what = `logging in as ${who}${code ? `: ${code}` : ''}`;
    if (kind === 'auth') return 'refused';
    if (kind === 'not-ready') throw new ResourceBusyError(`${what}: the database did not answer`);
    throw new RotationBlockedError(
      `${what}: ${kind === 'tls' ? 'TLS verification failed' : 'the server refused'}`,
    );
  } finally {
    await session?.close();
  }
}
