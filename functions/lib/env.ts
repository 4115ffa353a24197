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
