/**
 * EventBridge event-pattern matching, for the proving ground's event delivery and for the tests that check lifeboat's
 * rule patterns against documented events (docs/aws/eventbridge-patterns.md). No maintained npm library implements it
 * (EventBridge's TestEventPattern is an API call); test/conformance/event-patterns.test.ts runs the same cases against
 * this matcher and against moto's TestEventPattern.
 *
 * What it implements, as "Event patterns" and "Content filtering" in the EventBridge User Guide describe:
 * - a pattern is an object; every field it names must match (AND); a nested object matches the event's nested object;
 * - a field's value is an array of alternatives (OR): exact values (strings, numbers, booleans, null; numbers
 *   compared as numbers), or filters: `prefix`, `suffix` (each also with `equals-ignore-case`), `equals-ignore-case`,
 *   `anything-but` (a value, a list, or a `prefix`/`suffix`), `numeric` (comparisons), `exists`, `wildcard`;
 * - an event field that is an array matches when any of its elements matches;
 * - `$or` at any level: an array of patterns, any of which may match;
 * - a field the event lacks matches only `{"exists": false}`.
 */

export type Pattern = Record<string, unknown>;

const MISSING = Symbol('missing');

export function matchesPattern(pattern: Pattern, event: unknown): boolean {
  return matchObject(pattern, event);
}

function matchObject(pattern: Pattern, value: unknown): boolean {
  const object =
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  return Object.entries(pattern).every(([key, wanted]) => {
    if (key === '$or') {
      if (!Array.isArray(wanted)) throw new TypeError('$or must be an array of patterns');
      return wanted.some((p) => matchObject(p as Pattern, value));
    }
    const actual = object && key in object ? object[key] : MISSING;
    if (Array.isArray(wanted)) return matchAlternatives(wanted, actual);
    if (typeof wanted === 'object' && wanted !== null) {
      return (
        actual !== MISSING &&
        typeof actual === 'object' &&
        actual !== null &&
        matchObject(wanted as Pattern, actual)
      );
    }
    throw new TypeError(
      `pattern field ${key}: expected an array or an object, got ${JSON.stringify(wanted)}`,
    );
  });
}

function matchAlternatives(alternatives: unknown[], actual: unknown): boolean {
  // An array in the event matches when one of its elements does.
  const values = Array.isArray(actual) ? actual : [actual];
  return alternatives.some((alternative) => {
    if (typeof alternative === 'object' && alternative !== null) {
      const filter = alternative as Record<string, unknown>;
      if ('exists' in filter) {
        const present = actual !== MISSING && !(Array.isArray(actual) && actual.length === 0);
        return present === filter.exists;
      }
      return values.some((v) => v !== MISSING && matchFilter(filter, v));
    }
    return values.some((v) => v !== MISSING && exact(alternative, v));
  });
}

function exact(wanted: unknown, value: unknown): boolean {
  if (typeof wanted === 'number' && typeof value === 'number') return wanted === value;
  return wanted === value;
}

function matchFilter(filter: Record<string, unknown>, value: unknown): boolean {
  const [name, arg] = Object.entries(filter)[0] ?? [];
  switch (name) {
    case 'prefix':
    case 'suffix': {
      if (typeof value !== 'string') return false;
      const ignoreCase = typeof arg === 'object' && arg !== null && 'equals-ignore-case' in arg;
      const text = String(ignoreCase ? (arg as Record<string, unknown>)['equals-ignore-case'] : arg);
      const [v, t] = ignoreCase ? [value.toLowerCase(), text.toLowerCase()] : [value, text];
      return name === 'prefix' ? v.startsWith(t) : v.endsWith(t);
    }
    case 'equals-ignore-case':
      return typeof value === 'string' && value.toLowerCase() === String(arg).toLowerCase();
    case 'anything-but': {
      if (Array.isArray(arg)) return !arg.some((a) => exact(a, value));
      if (typeof arg === 'object' && arg !== null) return !matchFilter(arg as Record<string, unknown>, value);
      return !exact(arg, value);
    }
    case 'numeric': {
      if (typeof value !== 'number' || !Array.isArray(arg)) return false;
      for (let i = 0; i + 1 < arg.length; i += 2) {
        const op = arg[i];
        const bound = Number(arg[i + 1]);
        const ok =
          op === '='
            ? value === bound
            : op === '<'
              ? value < bound
              : op === '<='
                ? value <= bound
                : op === '>'
                  ? value > bound
                  : op === '>='
                    ? value >= bound
                    : false;
        if (!ok) return false;
      }
      return true;
    }
    case 'wildcard': {
      if (typeof value !== 'string') return false;
      const regex = new RegExp(
        `^${String(arg)
          .split('*')
          .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*')}$`,
      );
      return regex.test(value);
    }
    default:
      throw new TypeError(`unknown pattern filter ${String(name)}`);
  }
}
