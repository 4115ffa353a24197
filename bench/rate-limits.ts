import type { FaultFailure, FaultMatch, FaultRule } from '../local/emulator/index.js';

/**
 * AWS's documented API rate limits, modelled as token buckets in EMULATED time on the emulator's fault rules.
 *
 * The emulator has throttle *rates* only; a bucket needs state. A rule's `always` is read by the emulator's fault
 * controller once per matching call to decide whether that call fails (local/emulator/faults.ts, `decide`), so a rule
 * whose `always` is a getter consulting a token bucket throttles exactly the calls that find the bucket empty. The
 * controller reads the field a second time, in the same synchronous `decide`, when it is set; the getter answers
 * that second read from the first (cleared on the next microtask), so each call costs one token at most.
 * `selfCheckBuckets` proves the mechanism against the real emulator before a run relies on it.
 *
 * Buckets refill in emulated time: real elapsed ms / timeFactor. Limits without a documented burst get a bucket of
 * one second's worth of tokens.
 */

export interface RateLimit {
  /** What the limit covers, as documented. */
  readonly name: string;
  readonly match: FaultMatch;
  /** Tokens the bucket holds (the burst). */
  readonly capacity: number;
  /** Tokens added per emulated second (the sustained rate). */
  readonly refillPerSecond: number;
  /** Where the figure comes from. */
  readonly source: string;
}

/** The limits of the APIs lifeboat calls, per account and Region (Route 53: per account, global). */
export function documentedRateLimits(recoveryRegion: string): RateLimit[] {
  const region = recoveryRegion;
  return [
    {
      name: 'RDS API, all actions (account, Region)',
      match: { service: 'rds', region },
      capacity: 300,
      refillPerSecond: 12,
      source:
        'https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-api-throttling.html ("up to 300 requests in a burst and a sustained 12 requests per second")',
    },
    {
      name: 'Secrets Manager DescribeSecret + GetSecretValue (combined)',
      match: { service: 'secretsmanager', region, action: ['DescribeSecret', 'GetSecretValue'] },
      capacity: 10_000,
      refillPerSecond: 10_000,
      source:
        'https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html (10,000 TPS)',
    },
    {
      name: 'Secrets Manager PutSecretValue, StopReplicationToReplica, UpdateSecret, UpdateSecretVersionStage, ... (combined)',
      match: {
        service: 'secretsmanager',
        region,
        action: [
          'PutSecretValue',
          'RemoveRegionsFromReplication',
          'ReplicateSecretToRegions',
          'StopReplicationToReplica',
          'UpdateSecret',
          'UpdateSecretVersionStage',
        ],
      },
      capacity: 50,
      refillPerSecond: 50,
      source: 'https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html (50 TPS)',
    },
    {
      name: 'Secrets Manager RotateSecret + CancelRotateSecret (combined)',
      match: { service: 'secretsmanager', region, action: ['RotateSecret', 'CancelRotateSecret'] },
      capacity: 50,
      refillPerSecond: 50,
      source: 'https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html (50 TPS)',
    },
    {
      name: 'Route 53 API, all actions (account)',
      match: { service: 'route53' },
      capacity: 50,
      refillPerSecond: 10,
      source:
        'https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/throttling-api-requests.html (account bucket: capacity 50, refill 10/s; formerly "five requests per second per account")',
    },
    ...['ChangeResourceRecordSets', 'GetChange', 'ListResourceRecordSets', 'GetHostedZone'].map(
      (action): RateLimit => ({
        name: `Route 53 ${action} (per action, default)`,
        match: { service: 'route53', action },
        capacity: 50,
        refillPerSecond: 10,
        source:
          'https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/throttling-api-requests.html (actions not listed: capacity 50, refill 10/s)',
      }),
    ),
    {
      name: 'CloudWatch GetMetricData',
      match: { service: 'cloudwatch', region, action: 'GetMetricData' },
      capacity: 50,
      refillPerSecond: 50,
      source:
        'https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html (50 TPS)',
    },
    {
      name: 'Lambda GetFunction',
      match: { service: 'lambda', region, action: 'GetFunction' },
      capacity: 100,
      refillPerSecond: 100,
      source:
        'https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html (100 requests per second)',
    },
    {
      name: 'Lambda GetPolicy',
      match: { service: 'lambda', region, action: 'GetPolicy' },
      capacity: 15,
      refillPerSecond: 15,
      source:
        'https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html (15 requests per second)',
    },
  ];
}

export interface BucketStats {
  readonly name: string;
  readonly allowed: number;
  readonly throttled: number;
}

export interface TokenBucketRule {
  readonly rule: FaultRule;
  stats(): BucketStats;
}

/** A fault rule that throttles the matching calls that find `limit`'s bucket empty. */
export function tokenBucketRule(
  limit: RateLimit,
  timeFactor: number,
  now: () => number = () => performance.now(),
): TokenBucketRule {
  let tokens = limit.capacity;
  let last = now();
  let allowed = 0;
  let throttled = 0;
  let pending: FaultFailure | undefined;
  const take = (): FaultFailure | undefined => {
    if (pending !== undefined) return pending;
    const t = now();
    const emulatedSeconds = (t - last) / 1000 / timeFactor;
    last = t;
    tokens = Math.min(limit.capacity, tokens + emulatedSeconds * limit.refillPerSecond);
    if (tokens >= 1) {
      tokens -= 1;
      allowed += 1;
      return undefined;
    }
    throttled += 1;
    pending = 'throttle';
    queueMicrotask(() => {
      pending = undefined;
    });
    return 'throttle';
  };
  const rule = {
    match: limit.match,
    get always(): FaultFailure | undefined {
      return take();
    },
  } as FaultRule;
  return { rule, stats: () => ({ name: limit.name, allowed, throttled }) };
}

/** Adds every limit to the emulator's faults; returns the rules' statistics. */
export function applyRateLimits(
  faults: { add(rule: FaultRule): unknown },
  limits: RateLimit[],
  timeFactor: number,
): () => BucketStats[] {
  const rules = limits.map((limit) => tokenBucketRule(limit, timeFactor));
  for (const r of rules) faults.add(r.rule);
  return () => rules.map((r) => r.stats());
}
