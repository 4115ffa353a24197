import {
  type DescribeExecutionOutput,
  type ExecutionListItem,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { isTransientAwsError, toLifeboatError } from '../functions/lib/errors.js';
import type { RunReport } from '../functions/lib/report/index.js';
import { describeExecution, isRunReport, parseJson } from './aws.js';
import { ExecutionProgress, formatLine, type ProgressLine } from './progress.js';

/**
 * Follows an execution until it ends: DescribeExecution for its status, GetExecutionHistory for what happened since
 * the last poll. The history is read newest first (`reverseOrder`) and only until the last event already seen, so a
 * poll of a long run costs one call; the SDK retries throttling, and a poll that still fails for a transient reason
 * is tried again at the next interval.
 *
 * A Distributed Map runs each unit as a child execution: the parent's history has only `MapRunStarted`, so the
 * children are listed with ListExecutions(mapRunArn) and their own histories followed, a few per poll so that 100
 * units do not exhaust GetExecutionHistory's request budget.
 */

export interface WatchOptions {
  readonly intervalMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  /** Receives each progress line, already formatted. */
  readonly print: (line: string, raw: ProgressLine) => void;
  /** Warnings (a poll that failed and will be tried again). */
  readonly warn: (text: string) => void;
  /** Child histories read per poll. @default 8 */
  readonly childHistoriesPerPoll?: number;
  /** Transient poll failures in a row before giving up. @default 5 */
  readonly maxTransientFailures?: number;
}

export interface WatchOutcome {
  readonly status: string;
  readonly execution: DescribeExecutionOutput;
  /** The run report: the execution output, or the report step's result in the history (a failed run has no output). */
  readonly report: RunReport | undefined;
}

const ENDED = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

/** New events of one execution's history, read newest first down to the last one seen. */
export class HistoryCursor {
  private lastId = 0;
  constructor(readonly executionArn: string) {}

  async next(sfn: SFNClient): Promise<HistoryEvent[]> {
    const fresh: HistoryEvent[] = [];
    let nextToken: string | undefined;
    pages: do {
      let page: { events?: HistoryEvent[]; nextToken?: string };
      try {
        page = await sfn.send(
          new GetExecutionHistoryCommand({
            executionArn: this.executionArn,
            reverseOrder: true,
            maxResults: 500,
            includeExecutionData: true,
            ...(nextToken ? { nextToken } : {}),
          }),
        );
      } catch (error) {
        throw toLifeboatError(error, `GetExecutionHistory of ${this.executionArn}`);
      }
      for (const event of page.events ?? []) {
        if ((event.id ?? 0) <= this.lastId) break pages;
        fresh.push(event);
      }
      nextToken = page.nextToken;
    } while (nextToken);
    fresh.sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
    const last = fresh.at(-1)?.id;
    if (last !== undefined) this.lastId = last;
    return fresh;
  }
}

interface Child {
  readonly cursor: HistoryCursor;
  readonly progress: ExecutionProgress;
  status: string;
  lastRead: number;
  /** GetExecutionHistory is not available (an Express child): only its status is shown. */
  historyUnavailable: boolean;
  reportedStatus: string | undefined;
  name: string;
  stoppedAt: Date | undefined;
}

export async function watchExecution(
  sfn: SFNClient,
  executionArn: string,
  options: WatchOptions,
): Promise<WatchOutcome> {
  const parent = { cursor: new HistoryCursor(executionArn), progress: new ExecutionProgress() };
  const children = new Map<string, Child>();
  const perPoll = options.childHistoriesPerPoll ?? 8;
  const maxFailures = options.maxTransientFailures ?? 5;
  let failuresInARow = 0;
  let startedAt: Date | undefined;
  let poll = 0;

  for (;;) {
    poll += 1;
    let execution: DescribeExecutionOutput;
    const lines: ProgressLine[] = [];
    try {
      // Status first, history second: when the status says ended, the history read after it holds the last event.
      execution = await describeExecution(sfn, executionArn);
      startedAt ??= execution.startDate ?? new Date();
      lines.push(...parent.progress.consume(await parent.cursor.next(sfn)));
      for (const mapRunArn of parent.progress.mapRunArns) {
        await listChildren(sfn, mapRunArn, children);
      }
      // When the run has ended, every child's last events are read now, whatever the budget.
      const ending = ENDED.has(execution.status ?? '');
      lines.push(...(await readChildren(sfn, children, ending ? Number.POSITIVE_INFINITY : perPoll, poll)));
      failuresInARow = 0;
    } catch (error) {
      if (!isTransientAwsError(error) || ++failuresInARow >= maxFailures) throw error;
      options.warn(`poll failed, trying again: ${error instanceof Error ? error.message : String(error)}`);
      await options.sleep(options.intervalMs);
      continue;
    }
    lines.sort((a, b) => a.at.getTime() - b.at.getTime());
    const width = Math.max(10, ...lines.map((l) => l.scope.length));
    for (const line of lines) options.print(formatLine(line, startedAt, width), line);

    const status = execution.status ?? 'UNKNOWN';
    if (ENDED.has(status)) {
      const output = parseJson(execution.output);
      const report = isRunReport(output) ? output : parent.progress.report;
      return { status, execution, report };
    }
    await options.sleep(options.intervalMs);
  }
}

async function listChildren(sfn: SFNClient, mapRunArn: string, children: Map<string, Child>): Promise<void> {
  let nextToken: string | undefined;
  do {
    let page: { executions?: ExecutionListItem[]; nextToken?: string };
    try {
      page = await sfn.send(
        new ListExecutionsCommand({ mapRunArn, maxResults: 1000, ...(nextToken ? { nextToken } : {}) }),
      );
    } catch (error) {
      throw toLifeboatError(error, `ListExecutions of map run ${mapRunArn}`);
    }
    for (const item of page.executions ?? []) {
      if (!item.executionArn) continue;
      const known = children.get(item.executionArn);
      if (known) {
        known.status = item.status ?? known.status;
        known.stoppedAt = item.stopDate;
        continue;
      }
      const name = item.name ?? item.executionArn.split(':').at(-1) ?? 'child';
      children.set(item.executionArn, {
        cursor: new HistoryCursor(item.executionArn),
        progress: new ExecutionProgress({ child: true, scope: name }),
        status: item.status ?? 'RUNNING',
        lastRead: 0,
        historyUnavailable: false,
        reportedStatus: undefined,
        name,
        stoppedAt: item.stopDate,
      });
    }
    nextToken = page.nextToken;
  } while (nextToken);
}

/**
 * Reads a few child histories per poll: first the children that ended since their history was last read (so that
 * their last events are shown), then the running ones, least recently read first.
 */
async function readChildren(
  sfn: SFNClient,
  children: Map<string, Child>,
  perPoll: number,
  poll: number,
): Promise<ProgressLine[]> {
  const lines: ProgressLine[] = [];
  const candidates = [...children.values()]
    .filter((c) => !c.historyUnavailable && c.reportedStatus === undefined)
    .sort((a, b) => rank(a) - rank(b) || a.lastRead - b.lastRead);
  for (const child of candidates.slice(0, perPoll)) {
    const ended = ENDED.has(child.status);
    try {
      lines.push(...child.progress.consume(await child.cursor.next(sfn)));
      child.lastRead = poll;
      if (ended) child.reportedStatus = child.status;
    } catch (error) {
      if (isTransientAwsError(error)) continue;
      // Express child executions have no history in the API; their status still tells how the unit ended.
      child.historyUnavailable = true;
    }
  }
  for (const child of children.values()) {
    if (child.historyUnavailable && ENDED.has(child.status) && child.reportedStatus === undefined) {
      child.reportedStatus = child.status;
      lines.push({
        at: child.stoppedAt ?? new Date(),
        scope: child.name,
        verb: child.status === 'SUCCEEDED' ? 'done' : 'failed',
        text: `child execution ${child.status} (its history is not readable through the API)`,
      });
    }
  }
  return lines;
}

function rank(child: Child): number {
  return ENDED.has(child.status) ? 0 : 1;
}
