import { ConnectivityNotReadyError, ConnectivityTimeoutError, InputInvalidError } from '../errors.js';
import type { UnitPlan } from '../plan.js';
import type { DetailValue } from '../types.js';

/**
 * How long VerifyConnectivity keeps answering "not ready yet" (docs/design/verify-budget.md). Resolvers may keep the
 * old answer for up to the TTL it was served with: the record's TTL before the change, which lifeboat does not
 * choose, or the plan's TTL, whichever is larger (docs/aws/route53-changes.md, "Caches"). The clock starts when the
 * change was INSYNC (every Route 53 name server answers the new value). Past the deadline a not-ready attempt is a
 * `ConnectivityTimeoutError`, which the state machine does not retry; the static retrier on the verify state
 * (statemachine/steps.ts, connectivityRetryAttempts) is only the ceiling.
 */

/** Beyond the TTL: resolvers that cache a little longer, and the verify attempt's own time. */
export const RESOLVER_MARGIN_SECONDS = 30;

/** Time for a change to reach every Route 53 name server (INSYNC): "generally within 60 seconds". */
export const DNS_PROPAGATION_SECONDS = 60;

/**
 * The largest previous TTL the verify budget waits out: the static retrier is sized for it (a TTL over an hour keeps
 * clients on the failed Region for too long; functions/lib/plan.ts refuses such plan TTLs), and preflight warns
 * about a live record above it.
 */
export const PREVIOUS_TTL_CEILING_SECONDS = 3600;

/**
 * A `health-check` unit's record flips only when Route 53 health checkers see the old primary fail: 3 failures x
 * 30 s by default (Route 53 health check defaults), plus propagation.
 */
export const HEALTH_CHECK_FLIP_SECONDS = 120;

/** What the state machine hands VerifyConnectivity about the DNS change (statemachine/failover.ts). */
export interface DnsSettlement {
  /** UpdateDns's detail: `changedAt`, `previousTtl`. */
  change?: Record<string, unknown> | null;
  /** The last poll of the DNS change: `observedAt` of the poll that saw it INSYNC. */
  inSync?: Record<string, unknown> | null;
}

export interface VerifyBudget {
  /** When the clock started: the change INSYNC, else when it was submitted. */
  from: string;
  /** The larger of the previous and the plan's TTL; a previous TTL counts up to the ceiling. */
  cacheSeconds: number;
  /** What the budget adds beyond caches: the resolver margin, and the flip for a health-check unit. */
  allowanceSeconds: number;
  deadline: string;
}

function isoTime(value: unknown): string | undefined {
  return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? value : undefined;
}

function seconds(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** Checks the optional `dns` field of the verify step's event; a wrong shape is an error naming the field. */
export function assertDnsSettlement(
  value: unknown,
  step: string,
): asserts value is DnsSettlement | undefined {
  if (value === undefined || value === null) return;
  const problems: string[] = [];
  if (typeof value !== 'object' || Array.isArray(value)) problems.push('dns: expected an object');
  else {
    for (const key of ['change', 'inSync'] as const) {
      const field = (value as Record<string, unknown>)[key];
      if (field !== undefined && field !== null && (typeof field !== 'object' || Array.isArray(field))) {
        problems.push(`dns.${key}: expected an object`);
      }
    }
  }
  if (problems.length) {
    throw new InputInvalidError(`${step}: invalid step input:\n  - ${problems.join('\n  - ')}`, problems);
  }
}

/** The unit's verify budget, or undefined when nothing says when DNS changed (a dry run, or an older caller). */
export function verifyBudget(unit: UnitPlan, dns: DnsSettlement | undefined): VerifyBudget | undefined {
  const inSync = dns?.inSync?.done === true ? isoTime(dns.inSync.observedAt) : undefined;
  const from = inSync ?? isoTime(dns?.change?.changedAt);
  if (from === undefined) return undefined;
  // A change sent in its zone's batch has the previous TTL in the poll's detail (UpdateDns did not read the record).
  const polled = dns?.inSync?.detail;
  const previousTtl =
    seconds(dns?.change?.previousTtl) ??
    seconds(
      polled && typeof polled === 'object' ? (polled as Record<string, unknown>).previousTtl : undefined,
    ) ??
    0;
  // The plan's own TTL is always waited out; a previous TTL only up to the ceiling the static retrier covers.
  const cacheSeconds = Math.min(
    Math.max(previousTtl, unit.dns.ttl),
    Math.max(PREVIOUS_TTL_CEILING_SECONDS, unit.dns.ttl),
  );
  const allowanceSeconds =
    RESOLVER_MARGIN_SECONDS + (unit.dns.strategy === 'health-check' ? HEALTH_CHECK_FLIP_SECONDS : 0);
  const deadline = new Date(Date.parse(from) + (cacheSeconds + allowanceSeconds) * 1000).toISOString();
  return { from, cacheSeconds, allowanceSeconds, deadline };
}

/** The budget as report detail (no secret material: times and seconds). */
export function budgetDetail(budget: VerifyBudget | undefined): Record<string, DetailValue> {
  return budget
    ? {
        budgetFrom: budget.from,
        budgetCacheSeconds: budget.cacheSeconds,
        budgetAllowanceSeconds: budget.allowanceSeconds,
        budgetDeadline: budget.deadline,
      }
    : {};
}

/**
 * A not-ready attempt past the deadline becomes permanent. Anything else passes through unchanged, and so does a
 * not-ready attempt without a budget (the static retrier bounds it).
 */
export function withinBudget(error: unknown, budget: VerifyBudget | undefined, now: Date): unknown {
  if (!(error instanceof ConnectivityNotReadyError) || budget === undefined) return error;
  if (now.getTime() < Date.parse(budget.deadline)) return error;
  const waited = Math.round((now.getTime() - Date.parse(budget.from)) / 1000);
  return new ConnectivityTimeoutError(
    `${error.message}; still not ready ${waited} s after the DNS change was in sync (${budget.from}), past the ` +
      `verify budget of ${budget.cacheSeconds + budget.allowanceSeconds} s (the larger of the record's previous ` +
      `TTL and its new one, ${budget.cacheSeconds} s, plus ${budget.allowanceSeconds} s for resolvers)`,
  );
}

/**
 * Preflight's view of the live record's TTL (docs/design/verify-budget.md, "What preflight says"): clients may keep
 * the old answer that long after the change reaches every name server, so a TTL that, with propagation and the
 * resolvers' margin, exceeds the target RTO makes the RTO impossible whatever else happens; and a TTL above what
 * verification waits out makes it stop early. Warnings: the run goes on, and the record's TTL is the operator's to
 * lower (ahead of time, not in the middle of a disaster).
 */
export function liveTtlCheck(
  unit: UnitPlan,
  targetRtoSeconds: number,
  liveTtl: number | undefined,
): {
  check: string;
  ok: boolean;
  severity: 'warning';
  message: string;
  figures: Record<string, DetailValue>;
} {
  const record = unit.dns.recordName;
  const figures = { dnsLiveTtlSeconds: liveTtl ?? null };
  const base = { check: 'dns.ttl', severity: 'warning' as const, figures };
  if (liveTtl === undefined) return { ...base, ok: true, message: `${record} has no TTL (an alias record)` };
  const needed = liveTtl + DNS_PROPAGATION_SECONDS + RESOLVER_MARGIN_SECONDS;
  const problems: string[] = [];
  if (needed > targetRtoSeconds) {
    problems.push(
      `its live TTL is ${liveTtl} s: clients may keep the old answer for that long after the change reaches every Route 53 name server (about ${DNS_PROPAGATION_SECONDS} s), ${needed} s with the resolvers' margin, more than the target RTO of ${targetRtoSeconds} s, so the RTO cannot be met; lower the record's TTL now (the plan sets ${unit.dns.ttl} s when it fails over)`,
    );
  }
  const covered = Math.max(PREVIOUS_TTL_CEILING_SECONDS, unit.dns.ttl);
  if (liveTtl > covered) {
    problems.push(
      `verification waits out a previous TTL of at most ${covered} s, so it may give up while resolvers still hold the old answer`,
    );
  }
  return problems.length
    ? { ...base, ok: false, message: `${record}: ${problems.join('; ')}` }
    : {
        ...base,
        ok: true,
        message: `${record}'s live TTL of ${liveTtl} s leaves the target RTO of ${targetRtoSeconds} s reachable`,
      };
}
