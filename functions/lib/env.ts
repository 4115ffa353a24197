/** Environment read through getters: a missing required variable fails at cold start, naming the variable. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new TypeError(`environment variable ${name} is required but not set`);
  }
  return value;
}

export function optionalEnv(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The Region this function runs in: the recovery Region. Lambda sets AWS_REGION. */
export function currentRegion(): string {
  return requiredEnv('AWS_REGION');
}

/**
 * `LIFEBOAT_TIMEOUT_SCALE` multiplies every client timeout and preflight deadline: the local proving ground runs
 * AWS time faster and shortens them alike (e.g. 0.1); unset in AWS, where the deployed values hold
 * (functions/lib/clients.ts SDK_TIMEOUTS, functions/lib/preflight.ts PREFLIGHT_CHECK_DEADLINE_MS).
 */
export const TIMEOUT_SCALE_ENV = 'LIFEBOAT_TIMEOUT_SCALE';

/** The factor, 1 when unset; anything but a number in (0, 1] fails naming the variable. */
export function timeoutScale(): number {
  const text = optionalEnv(TIMEOUT_SCALE_ENV);
  if (text === undefined) return 1;
  const value = Number(text);
  if (!(Number.isFinite(value) && value > 0 && value <= 1)) {
    throw new TypeError(
      `environment variable ${TIMEOUT_SCALE_ENV} must be a number above 0 and at most 1, got "${text}"`,
    );
  }
  return value;
}

/**
 * `LIFEBOAT_TIME_FACTOR`: the local proving ground runs AWS time this many times faster (its Wait states are scaled by
 * it, e.g. 0.05); unset in AWS. A step that measures an interval on the wall clock against the state machine's waits
 * (the shared polls' freshness, functions/lib/shared-poll.ts) scales the interval by it, so that it stays one poll.
 */
export const TIME_FACTOR_ENV = 'LIFEBOAT_TIME_FACTOR';

/** The factor, 1 when unset; anything but a number in (0, 1] fails naming the variable. */
export function timeFactor(): number {
  const text = optionalEnv(TIME_FACTOR_ENV);
  if (text === undefined) return 1;
  const value = Number(text);
  if (!(Number.isFinite(value) && value > 0 && value <= 1)) {
    throw new TypeError(
      `environment variable ${TIME_FACTOR_ENV} must be a number above 0 and at most 1, got "${text}"`,
    );
  }
  return value;
}
