import { closest, didYouMean } from './suggest.js';

/**
 * Schedule expressions as AWS reads them, checked before anything is deployed (docs/aws/schedule-expressions.md):
 * EventBridge Scheduler's `cron()`, `rate()` and `at()` for the drill schedule, and Secrets Manager rotation's
 * `cron()` and `rate()` for the rotation schedule. Each check returns why an expression is refused, or undefined.
 */

interface Field {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names for values (JAN=1, SUN=1), upper case. */
  readonly names?: readonly string[];
  /** Special characters this field allows besides `, - * /`. */
  readonly special: { question?: boolean; last?: boolean; weekday?: boolean; hash?: boolean };
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const FIELDS: readonly Field[] = [
  { name: 'minutes', min: 0, max: 59, special: {} },
  { name: 'hours', min: 0, max: 23, special: {} },
  { name: 'day-of-month', min: 1, max: 31, special: { question: true, last: true, weekday: true } },
  { name: 'month', min: 1, max: 12, names: MONTHS, special: {} },
  { name: 'day-of-week', min: 1, max: 7, names: DAYS, special: { question: true, last: true, hash: true } },
  { name: 'year', min: 1970, max: 2199, special: {} },
];

/** A value of a field: a number in range or one of its names (any case). */
function valueProblem(field: Field, text: string): string | undefined {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n < field.min || n > field.max) {
      return `${field.name}: ${text} is out of range ${field.min}-${field.max}`;
    }
    return undefined;
  }
  const upper = text.toUpperCase();
  if (field.names?.includes(upper)) return undefined;
  const names = field.names ? ` or ${field.names[0]}-${field.names.at(-1)}` : '';
  return `${field.name}: "${text}" is not a value (${field.min}-${field.max}${names})${field.names ? didYouMean(upper, field.names) : ''}`;
}

function numberOf(field: Field, text: string): number {
  return /^\d+$/.test(text) ? Number(text) : (field.names?.indexOf(text.toUpperCase()) ?? -1) + 1;
}

/** One element of a comma-separated list: `*`, `v`, `a-b`, with an optional `/step` after `*`, `v` or `a-b`. */
function elementProblem(field: Field, element: string): string | undefined {
  const [base = '', step, extra] = element.split('/');
  if (extra !== undefined) return `${field.name}: "${element}" has more than one /`;
  if (step !== undefined) {
    if (!/^\d+$/.test(step) || Number(step) < 1) {
      return `${field.name}: the increment in "${element}" must be a positive number`;
    }
    if (Number(step) > field.max) {
      return `${field.name}: the increment in "${element}" is larger than ${field.max}`;
    }
  }
  if (base === '*') return undefined;
  const range = base.split('-');
  if (range.length > 2) return `${field.name}: "${element}" is not a value, range or increment`;
  for (const part of range) {
    if (part === '') return `${field.name}: "${element}" is not a value, range or increment`;
    const problem = valueProblem(field, part);
    if (problem) return problem;
  }
  const [from, to] = range;
  if (to !== undefined && numberOf(field, from as string) > numberOf(field, to)) {
    return `${field.name}: the range "${base}" runs backwards`;
  }
  return undefined;
}

/** The special forms that must stand alone in their field: `?`, `L`, `LW`, `nW`, `nL`, `n#k`. */
function specialProblem(field: Field, text: string): string | undefined | 'not special' {
  const upper = text.toUpperCase();
  if (text === '?')
    return field.special.question ? undefined : `${field.name}: ? is only for day-of-month or day-of-week`;
  if (upper === 'L')
    return field.special.last ? undefined : `${field.name}: L is only for day-of-month or day-of-week`;
  if (field.special.weekday && (upper === 'LW' || /^\d+W$/.test(upper))) {
    return upper === 'LW' ? undefined : valueProblem(field, upper.slice(0, -1));
  }
  if (field.special.last && field.name === 'day-of-week' && /^[^#]+L$/.test(upper)) {
    return valueProblem(field, upper.slice(0, -1));
  }
  if (field.special.hash && upper.includes('#')) {
    const [day = '', nth = ''] = upper.split('#');
    const problem = valueProblem(field, day);
    if (problem) return problem;
    if (!/^[1-5]$/.test(nth)) return `${field.name}: the week in "${text}" must be 1-5`;
    return undefined;
  }
  if (
    /[?LW#]/i.test(
      text.replace(/[A-Z]{3}/gi, (name) => (field.names?.includes(name.toUpperCase()) ? '' : name)),
    )
  ) {
    return `${field.name}: "${text}" uses ?, L, W or # where ${field.name} does not allow it, or not alone`;
  }
  return 'not special';
}

function fieldProblem(field: Field, text: string): string | undefined {
  const special = specialProblem(field, text);
  if (special !== 'not special') return special;
  for (const element of text.split(',')) {
    if (element === '') return `${field.name}: "${text}" has an empty list item`;
    const problem = elementProblem(field, element);
    if (problem) return problem;
  }
  return undefined;
}

/**
 * The six fields of a cron expression (minutes hours day-of-month month day-of-week year), with `?` in exactly one
 * of day-of-month and day-of-week.
 */
export function cronFieldsProblem(fields: string): string | undefined {
  const parts = fields.trim().split(/\s+/);
  if (parts.length !== 6) {
    return `cron() takes six fields (minutes hours day-of-month month day-of-week year), got ${parts.length}`;
  }
  for (const [i, field] of FIELDS.entries()) {
    const problem = fieldProblem(field, parts[i] as string);
    if (problem) return problem;
  }
  const dayOfMonth = parts[2] === '?';
  const dayOfWeek = parts[4] === '?';
  if (dayOfMonth === dayOfWeek) {
    return dayOfMonth
      ? 'cron(): only one of day-of-month and day-of-week may be ?'
      : `cron(): one of day-of-month (${parts[2]}) and day-of-week (${parts[4]}) must be ?, e.g. cron(${suggestQuestion(parts).join(' ')})`;
  }
  return undefined;
}

/** The same fields with `?` where it most likely belongs: in day-of-month when day-of-week names days, else there. */
function suggestQuestion(parts: string[]): string[] {
  const fixed = [...parts];
  if (parts[4] !== '*') fixed[2] = '?';
  else fixed[4] = '?';
  return fixed;
}

const RATE = /^rate\((\d+) ([a-z]+)\)$/;

function rateProblem(
  expression: string,
  units: readonly string[],
  minimum: Record<string, number>,
  maximum: Record<string, number> = {},
): string | undefined {
  const match = RATE.exec(expression);
  if (!match) return `expected rate(value unit) with unit ${units.join(', ')}, got ${expression}`;
  const value = Number(match[1]);
  const unit = match[2] as string;
  const singular = unit.replace(/s$/, '');
  if (!units.includes(singular)) {
    return `rate(): unit "${unit}" is not one of ${units.map((u) => `${u}(s)`).join(', ')}${didYouMean(
      unit,
      units.flatMap((u) => [u, `${u}s`]),
    )}`;
  }
  if (value < 1) return 'rate(): the value must be a positive number';
  if (value === 1 && unit !== singular) return `rate(): write rate(1 ${singular})`;
  if (value > 1 && unit === singular) return `rate(): write rate(${value} ${singular}s)`;
  const low = minimum[singular] ?? 1;
  if (value < low) return `rate(): at least ${low} ${singular}s`;
  const high = maximum[singular];
  if (high !== undefined && value > high) return `rate(): at most ${high} ${singular}s`;
  return undefined;
}

function atProblem(expression: string): string | undefined {
  const match = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/.exec(expression);
  if (!match) return `expected at(yyyy-mm-ddThh:mm:ss), got ${expression}`;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  const date = new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, s));
  if (
    date.getUTCFullYear() !== y ||
    date.getUTCMonth() + 1 !== mo ||
    date.getUTCDate() !== d ||
    date.getUTCHours() !== h ||
    date.getUTCMinutes() !== mi ||
    date.getUTCSeconds() !== s
  ) {
    return `at(): ${expression.slice(3, -1)} is not a date and time`;
  }
  return undefined;
}

function wrapped(expression: string): { kind: string; body: string } | undefined {
  const match = /^([a-z]+)\((.*)\)$/s.exec(expression);
  return match ? { kind: match[1] as string, body: match[2] as string } : undefined;
}

/** An EventBridge Scheduler schedule expression: `cron(six fields)`, `rate(n minutes|hours|days)` or `at(...)`. */
export function schedulerExpressionProblem(expression: string): string | undefined {
  const form = wrapped(expression);
  if (form?.kind === 'cron') return cronFieldsProblem(form.body);
  if (form?.kind === 'rate') return rateProblem(expression, ['minute', 'hour', 'day'], {});
  if (form?.kind === 'at') return atProblem(expression);
  return `expected cron(minutes hours day-of-month month day-of-week year), rate(value unit) or at(yyyy-mm-ddThh:mm:ss), got ${expression}${
    form ? didYouMean(form.kind, ['cron', 'rate', 'at']) : ''
  }`;
}

/**
 * A Secrets Manager rotation schedule expression: `rate(n hours|days)`, at least every four hours, or
 * `cron(six fields)` (read in UTC). lifeboat caps rate() days at 1000, as AutomaticallyAfterDays is.
 */
export function rotationExpressionProblem(expression: string): string | undefined {
  const form = wrapped(expression);
  if (form?.kind === 'cron') return cronFieldsProblem(form.body);
  if (form?.kind === 'rate') return rateProblem(expression, ['hour', 'day'], { hour: 4 }, { day: 1000 });
  return `expected rate(n hours|days) or cron(minutes hours day-of-month month day-of-week year), got ${expression}`;
}

let zones: Set<string> | undefined;

/**
 * An IANA time zone name as EventBridge Scheduler takes it (e.g. `Europe/Paris`): one this runtime's ICU accepts,
 * spelt as the tz database spells it (ICU also takes `europe/paris`; Scheduler is not promised to).
 */
export function timeZoneProblem(name: string): string | undefined {
  zones ??= new Set([...Intl.supportedValuesOf('timeZone'), 'UTC', 'Etc/UTC']);
  let resolved: string | undefined;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    resolved = undefined;
  }
  if (resolved !== undefined && (resolved === name || resolved.toLowerCase() !== name.toLowerCase())) {
    return undefined; // a canonical name, or an alias the tz database keeps (US/Eastern, Asia/Kolkata)
  }
  if (resolved !== undefined) return `time zone "${name}" is spelt "${resolved}" in the tz database`;
  // "Paris" for "Europe/Paris": the city part of a known zone.
  const byCity = [...zones].filter((zone) => zone.split('/').at(-1)?.toLowerCase() === name.toLowerCase());
  const near = closest(name, zones);
  const candidates = byCity.length ? byCity : near ? [near] : [];
  const hint = candidates.length ? ` (did you mean ${candidates.map((c) => `"${c}"`).join(' or ')}?)` : '';
  return `"${name}" is not an IANA time zone such as Europe/Paris${hint}`;
}
