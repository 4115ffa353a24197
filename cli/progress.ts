import type { HistoryEvent } from '@aws-sdk/client-sfn';
import {
  countOf,
  describeFailure,
  formatDuration,
  type RunReport,
  scrubSecrets,
} from '../functions/lib/report/index.js';
import { STATE_NAMES } from '../statemachine/failover.js';
import { isRunReport, parseJson, unwrapTaskOutput } from './aws.js';

/**
 * Turns an execution's history events into progress lines: one per step start and end, per unit. Events are read
 * the way the console draws them: `previousEventId` chains the events of one branch (a Map iteration, a Parallel
 * branch, a task's retries) from the event that started it, so each event inherits its unit and its task from the
 * event before it in its chain. The Map's own events (`MapState*`, `MapRun*`) continue from whichever iteration
 * ended last, so they are put back at the level of the Map.
 *
 * Everything printed comes from state names, statuses and error names, and passes through `scrubSecrets`: the steps
 * never put secret material in state data, and this keeps a slip from reaching a terminal.
 */

export type Verb = 'start' | 'done' | 'poll' | 'retry' | 'error' | 'failed' | 'wait' | 'warn' | 'info';

export interface ProgressLine {
  readonly at: Date;
  /** `run`, or the unit's name. */
  readonly scope: string;
  readonly verb: Verb;
  readonly text: string;
}

type TaskResult = { ok: true; output: unknown } | { ok: false; error: string; cause: string };

interface Context {
  readonly scope: string;
  /** The Task state this chain is in, and when it was entered. */
  readonly task?: { name: string; enteredAt: Date; attempts: number; result?: TaskResult };
}

interface OpenMap {
  readonly name: string;
  readonly scope: string;
  readonly enteredAt: Date;
  readonly itemNames: readonly (string | undefined)[];
}

/** Poll tasks: one start line for the first poll, then a line only when the status changes. */
const POLL_TASKS: ReadonlySet<string> = new Set([
  STATE_NAMES.checkDatabasePromotion,
  STATE_NAMES.checkDnsChange,
]);
/** Pass states whose input says how a unit or the run ended. */
const UNIT_SUCCEEDED = STATE_NAMES.unitSucceeded;
const UNIT_FAILED = STATE_NAMES.unitFailed;
const RUN_STOPPED: ReadonlySet<string> = new Set([
  STATE_NAMES.refusedStart,
  STATE_NAMES.preflightStopped,
  STATE_NAMES.stoppedEarly,
]);

const TASK_FAILURE_DETAILS = [
  'lambdaFunctionFailedEventDetails',
  'lambdaFunctionTimedOutEventDetails',
  'lambdaFunctionStartFailedEventDetails',
  'lambdaFunctionScheduleFailedEventDetails',
  'taskFailedEventDetails',
  'taskTimedOutEventDetails',
  'taskStartFailedEventDetails',
  'taskSubmitFailedEventDetails',
] as const;

export class ExecutionProgress {
  /** The run report, once the report step has returned it. */
  report: RunReport | undefined;
  /** Distributed Map runs started by this execution: their child executions are the units. */
  readonly mapRunArns: string[] = [];

  private readonly contexts = new Map<number, Context>();
  private readonly openMaps: OpenMap[] = [];
  private readonly lastPollStatus = new Map<string, string>();
  private readonly firstPollAt = new Map<string, Date>();
  private readonly polls = new Map<string, number>();
  private scope: string;
  private readonly child: boolean;

  /**
   * @param options.child this is a Distributed Map child execution: its events are about the unit its input names
   *   (`{run, unit, results}`), or `options.scope` when the input does not say.
   */
  constructor(options: { child?: boolean; scope?: string } = {}) {
    this.child = options.child === true;
    this.scope = options.scope ?? 'run';
  }

  /** The lines for a batch of new events, in event order. */
  consume(events: readonly HistoryEvent[]): ProgressLine[] {
    const lines: ProgressLine[] = [];
    for (const event of [...events].sort((a, b) => (a.id ?? 0) - (b.id ?? 0))) {
      this.handle(event, lines);
    }
    return lines;
  }

  private handle(event: HistoryEvent, lines: ProgressLine[]): void {
    const id = event.id ?? 0;
    const at = event.timestamp ?? new Date(0);
    const type = event.type ?? '';
    const previous = this.contexts.get(event.previousEventId ?? -1) ?? { scope: this.scope };
    let ctx: Context = previous;
    const emit = (verb: Verb, text: string) => lines.push({ at, scope: ctx.scope, verb, text });

    // A failed attempt of a task (Lambda or service integration): remembered, shown, and maybe retried.
    const failure = TASK_FAILURE_DETAILS.map((key) => event[key]).find((d) => d !== undefined);
    if (failure && ctx.task) {
      const { error, cause } = describeFailure({
        Error: failure.error ?? 'UnknownError',
        Cause: failure.cause ?? '',
      });
      ctx = { ...ctx, task: { ...ctx.task, result: { ok: false, error, cause } } };
      emit('error', `${ctx.task?.name}: ${error}: ${cause}`);
      this.contexts.set(id, ctx);
      return;
    }

    switch (type) {
      case 'ExecutionStarted': {
        const input = asRecord(scrubSecrets(parseJson(event.executionStartedEventDetails?.input)));
        const unitName = asRecord(input?.unit)?.name;
        if (this.child && typeof unitName === 'string') this.scope = unitName;
        ctx = { scope: this.scope };
        if (!this.child) emit('start', `execution started${describeInput(input)}`);
        break;
      }
      case 'TaskStateEntered': {
        const name = event.stateEnteredEventDetails?.name ?? 'task';
        ctx = {
          scope: this.scopeFromInput(event, previous.scope),
          task: { name, enteredAt: at, attempts: 0 },
        };
        if (POLL_TASKS.has(name)) {
          const key = `${ctx.scope}\u0000${name}`;
          if (!this.firstPollAt.has(key)) {
            this.firstPollAt.set(key, at);
            emit('start', name);
          }
        } else {
          emit('start', name);
        }
        break;
      }
      case 'LambdaFunctionScheduled':
      case 'TaskScheduled': {
        if (ctx.task) {
          const attempts = ctx.task.attempts + 1;
          if (attempts > 1) emit('retry', `${ctx.task.name}: attempt ${attempts}`);
          ctx = { ...ctx, task: { ...ctx.task, attempts, result: undefined } } as Context;
        }
        break;
      }
      case 'TaskSubmitted': {
        // A callback task (the approval gate) is now waiting for its answer.
        if (ctx.task) emit('wait', `${ctx.task.name}: waiting for the answer`);
        break;
      }
      case 'LambdaFunctionSucceeded':
      case 'TaskSucceeded': {
        const text =
          event.lambdaFunctionSucceededEventDetails?.output ?? event.taskSucceededEventDetails?.output;
        const raw = unwrapTaskOutput(parseJson(text));
        if (isRunReport(raw)) this.report = raw;
        if (ctx.task)
          ctx = { ...ctx, task: { ...ctx.task, result: { ok: true, output: scrubSecrets(raw) } } };
        break;
      }
      case 'TaskStateExited':
      case 'TaskStateAborted': {
        if (ctx.task) this.taskEnded(ctx, type === 'TaskStateAborted', at, emit);
        ctx = { scope: ctx.scope };
        break;
      }
      case 'MapStateEntered': {
        const name = event.stateEnteredEventDetails?.name ?? 'map';
        const input = asRecord(parseJson(event.stateEnteredEventDetails?.input));
        const items = Array.isArray(input?.units) ? input.units : [];
        const itemNames = items.map((item) => {
          const n = asRecord(item)?.name;
          return typeof n === 'string' ? n : undefined;
        });
        this.openMaps.push({ name, scope: ctx.scope, enteredAt: at, itemNames });
        ctx = { scope: ctx.scope };
        const named = itemNames.filter((n): n is string => n !== undefined);
        emit('start', `${name}${named.length ? `: ${named.join(', ')}` : ''}`);
        break;
      }
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed':
      case 'MapIterationAborted': {
        const details =
          event.mapIterationStartedEventDetails ??
          event.mapIterationSucceededEventDetails ??
          event.mapIterationFailedEventDetails ??
          event.mapIterationAbortedEventDetails;
        const map = this.openMaps.at(-1);
        const index = details?.index ?? -1;
        const scope = map?.itemNames[index] ?? `unit #${index}`;
        ctx = { scope };
        if (type === 'MapIterationFailed') emit('failed', 'unit did not finish (its iteration failed)');
        if (type === 'MapIterationAborted') emit('failed', 'unit aborted');
        break;
      }
      case 'MapRunStarted': {
        const arn = event.mapRunStartedEventDetails?.mapRunArn;
        if (arn && !this.mapRunArns.includes(arn)) this.mapRunArns.push(arn);
        ctx = { scope: this.mapScope(ctx) };
        emit('info', 'units run as child executions of a Distributed Map');
        break;
      }
      case 'MapRunFailed': {
        ctx = { scope: this.mapScope(ctx) };
        const d = event.mapRunFailedEventDetails;
        const { error, cause } = describeFailure({
          Error: d?.error ?? 'MapRunFailed',
          Cause: d?.cause ?? '',
        });
        emit('error', `map run failed: ${error}: ${cause}`);
        break;
      }
      case 'MapStateStarted':
      case 'MapStateSucceeded':
      case 'MapStateFailed':
      case 'MapStateAborted':
      case 'MapRunSucceeded':
      case 'MapRunAborted':
      case 'MapRunRedriven': {
        ctx = { scope: this.mapScope(ctx) };
        break;
      }
      case 'MapStateExited': {
        const map = this.openMaps.pop();
        ctx = { scope: map?.scope ?? this.scope };
        if (map) emit('done', `${map.name} (${formatDuration(at.getTime() - map.enteredAt.getTime())})`);
        break;
      }
      case 'PassStateEntered': {
        const name = event.stateEnteredEventDetails?.name ?? '';
        // Only the failure is read from the input, through describeFailure (which scrubs it): scrubbing the whole
        // input first would cut a Lambda's JSON Cause apart before it is parsed.
        const input = asRecord(parseJson(event.stateEnteredEventDetails?.input));
        ctx = { scope: this.scopeFromInput(event, ctx.scope) };
        if (name === UNIT_SUCCEEDED) emit('done', 'unit failed over');
        else if (name === UNIT_FAILED) emit('failed', `unit did not fail over${failureText(input?.failure)}`);
        else if (RUN_STOPPED.has(name)) emit('failed', `${name}${failureText(input?.failure)}`);
        break;
      }
      case 'FailStateEntered': {
        emit('failed', event.stateEnteredEventDetails?.name ?? 'failed');
        ctx = { scope: ctx.scope };
        break;
      }
      case 'ExecutionSucceeded':
      case 'ExecutionFailed':
      case 'ExecutionAborted':
      case 'ExecutionTimedOut': {
        const status = {
          ExecutionSucceeded: 'SUCCEEDED',
          ExecutionFailed: 'FAILED',
          ExecutionAborted: 'ABORTED',
          ExecutionTimedOut: 'TIMED_OUT',
        }[type];
        const d =
          event.executionFailedEventDetails ??
          event.executionAbortedEventDetails ??
          event.executionTimedOutEventDetails;
        const described =
          d?.error || d?.cause
            ? describeFailure({ Error: d.error ?? status, Cause: d.cause ?? '' })
            : undefined;
        const output = unwrapTaskOutput(parseJson(event.executionSucceededEventDetails?.output));
        if (isRunReport(output)) this.report = output;
        ctx = { scope: this.scope };
        const why = described ? `: ${described.error}${described.cause ? `: ${described.cause}` : ''}` : '';
        // A unit's child execution that succeeded has said so ("unit failed over"); any other end is news.
        if (!(this.child && status === 'SUCCEEDED')) {
          emit(
            status === 'SUCCEEDED' ? 'done' : 'failed',
            `${this.child ? 'child ' : ''}execution ${status}${why}`,
          );
        }
        break;
      }
      default:
        // Choice, Wait, Parallel and Succeed states, and other event types, keep the chain's context.
        if (type.endsWith('StateEntered')) ctx = { scope: this.scopeFromInput(event, ctx.scope) };
        break;
    }
    this.contexts.set(id, ctx);
  }

  private taskEnded(
    ctx: Context,
    aborted: boolean,
    at: Date,
    emit: (verb: Verb, text: string) => void,
  ): void {
    const task = ctx.task;
    if (!task) return;
    const took = formatDuration(at.getTime() - task.enteredAt.getTime());
    const result = task.result;
    if (aborted) {
      emit('failed', `${task.name}: aborted (${took})`);
      return;
    }
    if (!result) {
      emit('done', `${task.name} (${took})`);
      return;
    }
    if (!result.ok) {
      emit('failed', `${task.name}: ${result.error} (${took})`);
      return;
    }
    if (POLL_TASKS.has(task.name)) {
      this.pollEnded(ctx.scope, task.name, result.output, at, emit);
      return;
    }
    const summary = summarize(result.output);
    emit('done', `${task.name}${summary.text ? `: ${summary.text}` : ''} (${took})`);
    for (const warning of summary.warnings) emit('warn', warning);
  }

  private pollEnded(
    scope: string,
    name: string,
    output: unknown,
    at: Date,
    emit: (verb: Verb, text: string) => void,
  ) {
    const poll = asRecord(output);
    const key = `${scope}\u0000${name}`;
    const status = typeof poll?.status === 'string' ? poll.status : 'unknown';
    const attempt = this.pollCount(key);
    if (poll?.done === true) {
      const since = this.firstPollAt.get(key);
      const took = since ? ` (${formatDuration(at.getTime() - since.getTime())})` : '';
      emit('done', `${name}: ${status} after ${countOf(attempt, 'poll')}${took}`);
      this.firstPollAt.delete(key);
      this.lastPollStatus.delete(key);
      this.polls.delete(key);
      return;
    }
    if (this.lastPollStatus.get(key) !== status) {
      this.lastPollStatus.set(key, status);
      emit('poll', `${name}: ${status} (poll ${attempt})`);
    }
  }

  private pollCount(key: string): number {
    const n = (this.polls.get(key) ?? 0) + 1;
    this.polls.set(key, n);
    return n;
  }

  /**
   * An iteration whose item had no name in the Map's input (`unit #3`) takes the name from the first state input
   * that says it (`{run, unit, results}`); every other chain keeps its scope.
   */
  private scopeFromInput(event: HistoryEvent, scope: string): string {
    if (!scope.startsWith('unit #')) return scope;
    const input = asRecord(parseJson(event.stateEnteredEventDetails?.input));
    const name = asRecord(input?.unit)?.name;
    return typeof name === 'string' ? name : scope;
  }

  private mapScope(ctx: Context): string {
    return this.openMaps.at(-1)?.scope ?? ctx.scope;
  }
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function failureText(failure: unknown): string {
  const f = asRecord(failure);
  if (!f || typeof f.Error !== 'string') return '';
  const { error, cause } = describeFailure({
    Error: f.Error,
    Cause: typeof f.Cause === 'string' ? f.Cause : '',
  });
  return `: ${error}${cause ? `: ${cause}` : ''}`;
}

function describeInput(input: Record<string, unknown> | undefined): string {
  if (!input) return '';
  const parts: string[] = [];
  parts.push(`mode ${typeof input.mode === 'string' ? input.mode : 'failover'}`);
  if (typeof input.trigger === 'string') parts.push(`trigger ${input.trigger}`);
  if (Array.isArray(input.units)) parts.push(`units ${input.units.map(String).join(', ')}`);
  if (typeof input.reason === 'string') parts.push(`reason "${input.reason}"`);
  return ` (${parts.join(', ')})`;
}

/** A step's result in a few words, by its shape (functions/lib/types.ts and report.ts). */
export function summarize(output: unknown): { text: string; warnings: string[] } {
  const o = asRecord(output);
  if (!o) return { text: '', warnings: [] };
  const warnings = Array.isArray(o.warnings) ? o.warnings.map(String) : [];
  if (isRunReport(o)) return { text: `${o.outcome}: ${o.summary}`, warnings: [] };
  if (typeof o.step === 'string' && typeof o.outcome === 'string') {
    const detail = asRecord(o.detail);
    const call =
      o.outcome === 'planned' && typeof detail?.call === 'string' ? ` (would call ${detail.call})` : '';
    return { text: `${o.outcome}${call}`, warnings };
  }
  const run = asRecord(o.run);
  if (run && Array.isArray(o.units)) {
    const names = o.units.map((u) => asRecord(u)?.name).filter((n): n is string => typeof n === 'string');
    return {
      text: `mode ${String(run.mode)}, ${countOf(names.length, 'unit')}: ${names.join(', ')}`,
      warnings: [],
    };
  }
  if (typeof o.ok === 'boolean' && Array.isArray(o.checks)) {
    const errors = Array.isArray(o.errors) ? o.errors.map(String) : [];
    const text = `${o.ok ? 'passed' : 'FAILED'} (${countOf(errors.length, 'error')}, ${countOf(warnings.length, 'warning')})`;
    return { text, warnings: [...errors.map((e) => `error: ${e}`), ...warnings] };
  }
  if (typeof o.lockedAt === 'string') return { text: `held by ${String(o.holder)}`, warnings: [] };
  if (typeof o.released === 'boolean') {
    return { text: o.released ? 'released' : 'this run held no lock', warnings: [] };
  }
  return { text: '', warnings };
}

/** `+12.3s  orders      done    Promote replica secret: changed (1.1s)` */
export function formatLine(line: ProgressLine, startedAt: Date, scopeWidth = 10): string {
  const offset = `+${formatDuration(Math.max(0, line.at.getTime() - startedAt.getTime()))}`;
  return `${offset.padEnd(8)} ${line.scope.padEnd(scopeWidth)} ${line.verb.padEnd(6)} ${line.text}`;
}
