import { countOf } from '../functions/lib/report/index.js';
import type { StepEvent } from './runner.js';

/**
 * The drill's live progress: one line per step start and end, except for poll steps (a result with `done`), which
 * are collapsed as `lifeboat watch` collapses them (cli/progress.ts): one start line for the first poll, a line
 * when the status changes, and one end line with the number of polls and the time since the first one. Each unit's
 * polls are counted apart (units run concurrently). A failed poll is always shown.
 */
export class DrillProgress {
  /** Per unit and poll step: when the first poll started, how many ended, the last status shown. */
  private readonly polls = new Map<string, { firstAtMs: number; count: number; status?: string }>();

  /** The line for `event`, or undefined when it adds nothing (a poll that repeats the last status). */
  line(event: StepEvent): string | undefined {
    const key = `${event.unit ?? '-'}\u0000${event.step}`;
    const open = this.polls.get(key);
    if (event.phase === 'start') {
      // Only the first poll of a wait says it started; a poll step is known as one by its first end.
      return open ? undefined : format(event, '>', '');
    }
    if (event.phase === 'error') {
      this.polls.delete(key);
      return format(event, '!!', ended(event));
    }
    if (!event.poll) return format(event, 'ok', ended(event));
    const poll = open ?? { firstAtMs: event.atMs - (event.durationMs ?? 0), count: 0 };
    poll.count += 1;
    if (event.poll.done) {
      this.polls.delete(key);
      const took = seconds(event.atMs - poll.firstAtMs);
      return format(event, 'ok', ` ${event.poll.status} after ${countOf(poll.count, 'poll')} (${took})`);
    }
    this.polls.set(key, poll);
    if (poll.status === event.poll.status) return undefined;
    poll.status = event.poll.status;
    return format(event, '..', ` ${event.poll.status} (poll ${poll.count})`);
  }
}

function ended(event: StepEvent): string {
  return `${event.result ? ` ${event.result}` : ''} (${seconds(event.durationMs ?? 0)})`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)}s`;
}

function format(event: StepEvent, mark: string, tail: string): string {
  const at = `${(event.atMs / 1000).toFixed(2).padStart(6)}s`;
  const who = (event.unit ?? '-').padEnd(10);
  return `${at}  ${who} ${mark.padEnd(2)} ${event.step}${tail}`;
}
