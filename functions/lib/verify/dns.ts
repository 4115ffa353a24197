import { Resolver } from 'node:dns/promises';
import { ConfigurationError, ConnectivityNotReadyError, VerificationFailedError } from '../errors.js';

/**
 * DNS as an application sees it: the secret's `host` is a CNAME; the resolver follows it to the database's
 * address. Node's `dns.promises.Resolver` (c-ares) asks the configured servers directly, so the answer is the one a
 * resolver would give right now, not a stale entry of this process. In AWS no server is configured and the VPC
 * resolver answers (it serves the private hosted zone); locally `LIFEBOAT_DNS_SERVERS` names the proving ground's
 * server. Only the configuration differs, never the code path.
 */

/** The part of `dns.promises.Resolver` the verify step uses; tests give a fake. */
export interface DnsResolver {
  resolveCname(name: string): Promise<string[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  /** Cancels every lookup in flight; they reject with ECANCELLED. */
  cancel?(): void;
}

/** Makes a resolver whose lookups give up within about `timeoutMs`. */
export type ResolverFactory = (timeoutMs: number) => DnsResolver;

/** What the name resolved to: the CNAME chain from the record to the name that has addresses, and those addresses. */
export interface Resolution {
  /** `[record, target, ..., terminal]`, lower case, no trailing dot. `[record]` when the record is not a CNAME. */
  chain: string[];
  addresses: string[];
  family: 4 | 6;
}

/** A CNAME chain longer than this is a loop or a misconfiguration (RFC 1034 resolvers stop well before). */
export const MAX_CNAME_HOPS = 8;

export const DNS_SERVERS_ENV = 'LIFEBOAT_DNS_SERVERS';

/** `"127.0.0.1:5353, [::1]:53"` → `['127.0.0.1:5353', '[::1]:53']`; unset or blank → undefined (system servers). */
export function parseDnsServers(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const servers = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return servers.length ? servers : undefined;
}

/**
 * The real resolver. c-ares doubles the timeout on each round of tries, so `tries: 2` with an eighth of the budget
 * per first try keeps one lookup within about 3/8 of `timeoutMs` per server.
 */
export function systemResolverFactory(servers: string[] | undefined): ResolverFactory {
  return (timeoutMs) => {
    const resolver = new Resolver({ timeout: Math.max(250, Math.floor(timeoutMs / 8)), tries: 2 });
    if (servers) {
      try {
        resolver.setServers(servers);
      } catch (error) {
        throw new ConfigurationError(
          `${DNS_SERVERS_ENV}: expected a comma-separated list of IP:port (e.g. 127.0.0.1:5353), got "${servers.join(',')}"`,
          { cause: error },
        );
      }
    }
    return resolver;
  };
}

export function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/** c-ares codes that say the question itself is wrong: asking again will not help. */
const BAD_QUESTION_CODES = new Set([
  'EBADNAME',
  'EBADQUERY',
  'EBADFAMILY',
  'EBADSTR',
  'EBADFLAGS',
  'EBADHINTS',
]);
/** "No record of this type at this name" (NOERROR with an empty answer). */
const NO_DATA = 'ENODATA';

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A failed lookup. NXDOMAIN (ENOTFOUND), SERVFAIL, REFUSED, timeouts and unreachable servers are all conditions a
 * DNS change in flight or a resolver's negative cache can cause, so the state machine retries them within its
 * bounded budget; a malformed question is a configuration problem.
 */
function lookupError(error: unknown, question: string): Error {
  const code = codeOf(error) ?? 'unknown error';
  if (BAD_QUESTION_CODES.has(code)) {
    return new VerificationFailedError(`DNS lookup ${question} is malformed (${code})`, { cause: error });
  }
  return new ConnectivityNotReadyError(`DNS lookup ${question} failed: ${code}`, { cause: error });
}

/**
 * Follows the CNAME chain from `record` to the name that holds addresses, then resolves that name to IPv4
 * addresses, or IPv6 when it has none, all within `budgetMs` (lookups in flight are cancelled when it runs out).
 * Every failure is a ConnectivityNotReadyError or VerificationFailedError.
 */
export async function resolveLikeAnApplication(
  resolver: DnsResolver,
  record: string,
  budgetMs?: number,
): Promise<Resolution> {
  if (budgetMs === undefined || !resolver.cancel) return resolveChain(resolver, record);
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    resolver.cancel?.();
  }, budgetMs);
  try {
    return await resolveChain(resolver, record);
  } catch (error) {
    if (expired) {
      throw new ConnectivityNotReadyError(`DNS did not resolve ${record} within ${budgetMs / 1000} s`, {
        cause: error,
      });
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function resolveChain(resolver: DnsResolver, record: string): Promise<Resolution> {
  const chain = [normalizeName(record)];
  for (;;) {
    const name = chain[chain.length - 1] as string;
    let targets: string[];
    try {
      targets = await resolver.resolveCname(name);
    } catch (error) {
      // No CNAME at this name: it is the end of the chain (an RDS endpoint may itself be a CNAME, or hold A records).
      if (codeOf(error) === NO_DATA) break;
      throw lookupError(error, `CNAME ${name}`);
    }
    const target = targets[0];
    if (target === undefined) break;
    const next = normalizeName(target);
    if (chain.includes(next)) {
      throw new VerificationFailedError(`DNS: CNAME loop ${[...chain, next].join(' -> ')}`);
    }
    chain.push(next);
    if (chain.length > MAX_CNAME_HOPS + 1) {
      throw new VerificationFailedError(
        `DNS: CNAME chain longer than ${MAX_CNAME_HOPS}: ${chain.join(' -> ')}`,
      );
    }
  }
  const terminal = chain[chain.length - 1] as string;
  const v4 = await addressesOf(() => resolver.resolve4(terminal), `A ${terminal}`);
  if (v4.length) return { chain, addresses: v4, family: 4 };
  const v6 = await addressesOf(() => resolver.resolve6(terminal), `AAAA ${terminal}`);
  if (v6.length) return { chain, addresses: v6, family: 6 };
  throw new ConnectivityNotReadyError(`DNS: ${chain.join(' -> ')} has no A or AAAA record`);
}

async function addressesOf(lookup: () => Promise<string[]>, question: string): Promise<string[]> {
  try {
    return await lookup();
  } catch (error) {
    if (codeOf(error) === NO_DATA) return [];
    throw lookupError(error, question);
  }
}
