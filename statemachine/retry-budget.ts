/**
 * What a retrier of the definition waits before it gives up, computed from the retrier as Amazon States Language
 * renders it (docs/design/retries.md). Step Functions waits IntervalSeconds x BackoffRate^n before retry n (0-based),
 * capped at MaxDelaySeconds; with JitterStrategy FULL it draws each pause at random between 0 and that value. ASL's
 * defaults: IntervalSeconds 1, MaxAttempts 3, BackoffRate 2, no cap, no jitter.
 */

/** A retrier as it appears in a definition's `Retry` array. */
export interface AslRetrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: string;
}

export interface RetryBudget {
  /** Retries before the error goes to a Catch. */
  retries: number;
  /** Each pause before jitter, in order. */
  pausesSeconds: number[];
  /** The sum of the pauses without jitter: the most the retrier can wait. */
  longestSeconds: number;
  /** The sum it waits on average: half the longest under FULL jitter (each draw's mean is half its bound). */
  expectedSeconds: number;
  /** The sum it always waits: the longest without jitter, none under FULL jitter (every draw may be near 0). */
  guaranteedSeconds: number;
  /** The standard deviation of the sum: 0 without jitter; under FULL jitter each draw of bound d adds d²/12. */
  spreadSeconds: number;
}

/** The pauses and budget of one retrier. */
export function retryBudget(retrier: AslRetrier): RetryBudget {
  const interval = retrier.IntervalSeconds ?? 1;
  const rate = retrier.BackoffRate ?? 2;
  const cap = retrier.MaxDelaySeconds ?? Number.POSITIVE_INFINITY;
  const retries = retrier.MaxAttempts ?? 3;
  const pausesSeconds = Array.from({ length: retries }, (_, n) => Math.min(interval * rate ** n, cap));
  const longestSeconds = pausesSeconds.reduce((a, b) => a + b, 0);
  const full = retrier.JitterStrategy === 'FULL';
  return {
    retries,
    pausesSeconds,
    longestSeconds,
    expectedSeconds: full ? longestSeconds / 2 : longestSeconds,
    guaranteedSeconds: full ? 0 : longestSeconds,
    spreadSeconds: full ? Math.sqrt(pausesSeconds.reduce((a, d) => a + (d * d) / 12, 0)) : 0,
  };
}

/**
 * The retrier Step Functions uses for `error` on a Task: the first whose ErrorEquals names it, or names a wildcard
 * that covers it (States.ALL; States.TaskFailed, which covers every error but States.Timeout).
 */
export function retrierFor(retriers: readonly AslRetrier[], error: string): AslRetrier | undefined {
  return retriers.find(
    (r) =>
      r.ErrorEquals.includes(error) ||
      r.ErrorEquals.includes('States.ALL') ||
      (r.ErrorEquals.includes('States.TaskFailed') && error !== 'States.Timeout'),
  );
}
