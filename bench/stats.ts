/** Small statistics helpers of the benchmark. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function min(values: readonly number[]): number {
  return values.length ? Math.min(...values) : Number.NaN;
}

export function max(values: readonly number[]): number {
  return values.length ? Math.max(...values) : Number.NaN;
}

export function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** `x` rounded to `digits` decimals (NaN stays NaN). */
export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** "median (min–max, n=3)" */
export function spread(values: readonly number[], digits = 2, unit = ''): string {
  if (values.length === 0) return 'n/a';
  const m = round(median(values), digits).toFixed(digits);
  if (values.length === 1) return `${m}${unit}`;
  return `${m}${unit} (${round(min(values), digits).toFixed(digits)}–${round(max(values), digits).toFixed(digits)}, n=${values.length})`;
}
