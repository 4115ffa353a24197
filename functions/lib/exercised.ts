import type { RunContext } from './types.js';

/** What a run exercises: its mode, or, for a dry run or a drill, the mode named by `of` (default failover). */
export type Exercised = 'failover' | 'switchover' | 'reprotect';

/**
 * `{"mode": "dry-run", "of": "switchover"}` plans a switchover's calls and `{"mode": "drill", "of": "switchover"}`
 * rehearses one on the drill's copies (docs/design/switchover.md, "Dry run and drill"): the steps that a switchover or
 * a re-protect adds run for them too, in their read-only or rehearsal form.
 */
export function exercised(run: Pick<RunContext, 'mode' | 'of'>): Exercised {
  if (run.mode === 'switchover' || run.mode === 'reprotect' || run.mode === 'failover') return run.mode;
  return run.of ?? 'failover';
}
