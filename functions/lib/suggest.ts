/**
 * "Did you mean": the closest of a few known words to a misspelt one, when it is close enough to be the likely
 * intent (a typo, a case slip, two swapped letters), and nothing otherwise.
 */

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions), case-sensitive. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(
        (d[i - 1]?.[j] ?? 0) + 1,
        (d[i]?.[j - 1] ?? 0) + 1,
        (d[i - 1]?.[j - 1] ?? 0) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (d[i - 2]?.[j - 2] ?? 0) + 1);
      }
      (d[i] as number[])[j] = best;
    }
  }
  return d[a.length]?.[b.length] ?? 0;
}

/** How far a word may be from a known one and still be suggested: 1 for short words, up to 3 for long ones. */
function tolerance(word: string): number {
  if (word.length <= 4) return 1;
  if (word.length <= 10) return 2;
  return 3;
}

/**
 * The known words within tolerance of `word` (case-insensitive), closest first; never `word` itself. `maxDistance`
 * narrows the tolerance (short codes, where two edits make another valid code).
 */
export function nearby(word: string, known: Iterable<string>, maxDistance = tolerance(word)): string[] {
  const lower = word.toLowerCase();
  const found: Array<{ candidate: string; distance: number }> = [];
  for (const candidate of known) {
    if (candidate === word) continue;
    const distance = candidate.toLowerCase() === lower ? 0 : editDistance(lower, candidate.toLowerCase());
    if (distance <= Math.min(maxDistance, tolerance(word))) found.push({ candidate, distance });
  }
  return found.sort((a, b) => a.distance - b.distance).map((f) => f.candidate);
}

/**
 * The known word closest to `word` (case-insensitive distance, a case-only difference counting as closest), when
 * within tolerance and not tied with another candidate; otherwise undefined.
 */
export function closest(
  word: string,
  known: Iterable<string>,
  maxDistance = tolerance(word),
): string | undefined {
  const lower = word.toLowerCase();
  const [first, second] = nearby(word, known, maxDistance);
  if (first === undefined) return undefined;
  const distance = (w: string) => (w.toLowerCase() === lower ? 0 : editDistance(lower, w.toLowerCase()));
  if (second !== undefined && distance(second) === distance(first)) return undefined;
  return first;
}

/** ` (did you mean "x"?)` or nothing. */
export function didYouMean(word: string, known: Iterable<string>): string {
  const suggestion = closest(word, known);
  return suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
}
