import type { Rng } from './core.js';
import type { FaultFailure, FaultHandle, FaultMatch, FaultRule } from './types.js';

export interface FaultSubject {
  readonly service: string;
  readonly region: string;
  readonly action: string;
  readonly mutating: boolean;
}

export interface FaultDecision {
  /** AWS-time milliseconds to wait before answering. */
  readonly latencyMs: number;
  readonly failure?: FaultFailure;
  /** Which kind of rule chose the failure, for the call log. */
  readonly reason?:
    | 'always'
    | 'nth'
    | 'throttle-rate'
    | 'server-error-rate'
    | 'unavailable-rate'
    | 'lose-response-rate';
}

interface ActiveRule {
  readonly rule: FaultRule;
  matched: number;
  removed: boolean;
}

function matchesOne(
  value: string | boolean,
  wanted: string | boolean | readonly string[] | undefined,
): boolean {
  if (wanted === undefined) return true;
  if (Array.isArray(wanted)) return wanted.includes(value as string);
  return wanted === value;
}

function matches(match: FaultMatch | undefined, subject: FaultSubject): boolean {
  if (!match) return true;
  return (
    matchesOne(subject.service, match.service) &&
    matchesOne(subject.region, match.region) &&
    matchesOne(subject.action, match.action) &&
    matchesOne(subject.mutating, match.mutating)
  );
}

function checkRate(
  rule: FaultRule,
  key: 'throttleRate' | 'serverErrorRate' | 'unavailableRate' | 'loseResponseRate',
): void {
  const rate = rule[key];
  if (rate !== undefined && !(typeof rate === 'number' && rate >= 0 && rate <= 1)) {
    throw new TypeError(`fault rule: ${key} must be a number from 0 to 1, got ${String(rate)}`);
  }
}

function checkRule(rule: FaultRule): void {
  checkRate(rule, 'throttleRate');
  checkRate(rule, 'serverErrorRate');
  checkRate(rule, 'unavailableRate');
  checkRate(rule, 'loseResponseRate');
  if (rule.latencyMs !== undefined && !(Number.isFinite(rule.latencyMs) && rule.latencyMs >= 0)) {
    throw new TypeError(`fault rule: latencyMs must be a number >= 0, got ${String(rule.latencyMs)}`);
  }
  for (const n of rule.failCalls ?? []) {
    if (!Number.isInteger(n) || n < 1) {
      throw new TypeError(`fault rule: failCalls must hold whole numbers >= 1, got ${String(n)}`);
    }
  }
  if (rule.failWith !== undefined && rule.failCalls === undefined) {
    throw new TypeError('fault rule: failWith needs failCalls (which calls fail)');
  }
}

/**
 * Latency and failures per service, Region and action. Rates draw from a seeded generator, so a run with the same
 * seed and the same order of calls fails the same calls.
 */
export class FaultController {
  private active: ActiveRule[] = [];

  constructor(private readonly rng: Rng) {}

  /** Adds a rule; rules apply in the order added, latencies add up, the first failure wins. */
  add(rule: FaultRule): FaultHandle {
    checkRule(rule);
    const entry: ActiveRule = { rule, matched: 0, removed: false };
    this.active.push(entry);
    return {
      rule,
      get matched() {
        return entry.matched;
      },
      remove: () => {
        entry.removed = true;
        this.active = this.active.filter((e) => e !== entry);
      },
    };
  }

  /**
   * A whole Region down: every call signed for it fails before it is handled. Route 53 calls are logged as
   * Region `global` and are not affected; use `route53Down` for its control plane, which is served from us-east-1.
   */
  regionDown(
    region: string,
    how: 'connection-reset' | 'unavailable' | 'hang' = 'connection-reset',
  ): FaultHandle {
    return this.add({ match: { region }, always: how });
  }

  /**
   * Route 53's control plane unavailable: it is served from us-east-1. `hang`: it accepts every call and never
   * answers, as an impaired Region may (docs/design/timeouts.md).
   */
  route53Down(how: 'connection-reset' | 'unavailable' | 'hang' = 'unavailable'): FaultHandle {
    return this.add({ match: { service: 'route53' }, always: how });
  }

  clear(): void {
    for (const entry of this.active) entry.removed = true;
    this.active = [];
  }

  get rules(): readonly FaultRule[] {
    return this.active.map((e) => e.rule);
  }

  decide(subject: FaultSubject): FaultDecision {
    let latencyMs = 0;
    let failure: FaultFailure | undefined;
    let reason: FaultDecision['reason'];
    for (const entry of this.active) {
      if (!matches(entry.rule.match, subject)) continue;
      entry.matched += 1;
      const { rule } = entry;
      latencyMs += rule.latencyMs ?? 0;
      if (failure !== undefined) continue;
      if (rule.always !== undefined) {
        failure = rule.always;
        reason = 'always';
      } else if (rule.failCalls?.includes(entry.matched)) {
        failure = rule.failWith ?? 'server-error';
        reason = 'nth';
      } else if (rule.throttleRate && this.rng.next() < rule.throttleRate) {
        failure = 'throttle';
        reason = 'throttle-rate';
      } else if (rule.serverErrorRate && this.rng.next() < rule.serverErrorRate) {
        failure = 'server-error';
        reason = 'server-error-rate';
      } else if (rule.unavailableRate && this.rng.next() < rule.unavailableRate) {
        failure = 'unavailable';
        reason = 'unavailable-rate';
      } else if (rule.loseResponseRate && this.rng.next() < rule.loseResponseRate) {
        failure = 'lose-response';
        reason = 'lose-response-rate';
      }
    }
    return { latencyMs, ...(failure !== undefined ? { failure, reason } : {}) };
  }
}
