import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type GetExecutionHistoryCommandInput,
  type HistoryEvent,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { STSClient } from '@aws-sdk/client-sts';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import type { CliIo } from '../../cli/io.js';
import { at, type Scenario, START } from './history-fixture.js';

/** The command's outside world, captured: what it wrote, which clients it asked for, what the terminal answers. */
export interface CapturedIo {
  readonly io: Partial<CliIo>;
  stdout(): string;
  stderr(): string;
  readonly clients: {
    service: 'sfn' | 's3' | 'sts' | 'dynamodb';
    region: string;
    endpoint: string | undefined;
    profile?: string | undefined;
  }[];
  readonly prompts: string[];
  readonly sleeps: number[];
}

export function captureIo(
  options: {
    tty?: boolean;
    answer?: string;
    env?: Record<string, string>;
    /** The working directory (relative plans, cdk.json). @default the process's: the repository root */
    cwd?: string;
    importDrill?: CliIo['importDrill'];
  } = {},
): CapturedIo {
  let out = '';
  let err = '';
  const clients: CapturedIo['clients'] = [];
  const prompts: string[] = [];
  const sleeps: number[] = [];
  const io: Partial<CliIo> = {
    stdout: { write: (text: string) => (out += text), isTTY: options.tty ?? false },
    stderr: { write: (text: string) => (err += text), isTTY: options.tty ?? false },
    stdin: { isTTY: options.tty ?? false },
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    prompt: async (question) => {
      prompts.push(question);
      if (options.answer === undefined) throw new Error('the test did not expect a question');
      return options.answer;
    },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    now: () => new Date(START),
    aws: {
      // aws-sdk-client-mock replaces `send` on every instance of the class.
      sfn: (region, target) => {
        clients.push({ service: 'sfn', region, endpoint: target?.endpoint, profile: target?.profile });
        return new SFNClient({ region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
      },
      s3: (region, target) => {
        clients.push({ service: 's3', region, endpoint: target?.endpoint, profile: target?.profile });
        return new S3Client({ region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
      },
      sts: (region, target) => {
        clients.push({ service: 'sts', region, endpoint: target?.endpoint, profile: target?.profile });
        return new STSClient({ region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
      },
      dynamodb: (region, target) => {
        clients.push({ service: 'dynamodb', region, endpoint: target?.endpoint, profile: target?.profile });
        return new DynamoDBClient({ region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
      },
    },
    ...(options.importDrill ? { importDrill: options.importDrill } : {}),
  };
  return { io, stdout: () => out, stderr: () => err, clients, prompts, sleeps };
}

/**
 * Serves an execution the way Step Functions would while it runs: each DescribeExecution moves the clock on by
 * `1/polls` of the run, and GetExecutionHistory shows the events up to that moment, at most `pageSize` per page
 * (the API may return fewer than maxResults), newest first when asked, with nextToken.
 */
export function serveExecution(
  sfn: AwsClientStub<SFNClient>,
  scenario: Scenario,
  executionArn: string,
  options: { polls?: number; pageSize?: number; historyFailures?: Error[] } = {},
): { readonly historyCalls: GetExecutionHistoryCommandInput[]; eventsServed(): number } {
  const polls = options.polls ?? 5;
  const pageSize = options.pageSize ?? 7;
  let now = 0;
  let served = 0;
  const historyCalls: GetExecutionHistoryCommandInput[] = [];
  const failures = [...(options.historyFailures ?? [])];
  const ended = () => now >= scenario.endsAt;
  const page = (events: HistoryEvent[], input: GetExecutionHistoryCommandInput) => {
    historyCalls.push(input);
    const visible = events.filter((e) => (e.timestamp?.getTime() ?? 0) <= at(now).getTime());
    const ordered = input.reverseOrder ? [...visible].reverse() : visible;
    const offset = Number(input.nextToken ?? 0);
    const size = Math.min(pageSize, input.maxResults || 100);
    const slice = ordered.slice(offset, offset + size);
    served += slice.length;
    const next = offset + slice.length < ordered.length ? String(offset + slice.length) : undefined;
    return { events: slice, ...(next ? { nextToken: next } : {}) };
  };
  sfn.on(DescribeExecutionCommand, { executionArn }).callsFake(() => {
    now = Math.min(scenario.endsAt, now + scenario.endsAt / polls);
    const done = ended();
    return {
      executionArn,
      stateMachineArn: executionArn.replace(':execution:', ':stateMachine:').replace(/:[^:]+$/, ''),
      name: executionArn.split(':').at(-1),
      status: done ? scenario.status : 'RUNNING',
      startDate: new Date(START),
      ...(done ? { stopDate: at(scenario.endsAt) } : {}),
      ...(done && scenario.status === 'SUCCEEDED' ? { output: JSON.stringify(scenario.report) } : {}),
      ...(done && scenario.status === 'FAILED'
        ? { error: scenario.report.error ?? 'FailoverIncompleteError', cause: scenario.report.summary }
        : {}),
    };
  });
  sfn.on(GetExecutionHistoryCommand, { executionArn }).callsFake((input: GetExecutionHistoryCommandInput) => {
    const failure = failures.shift();
    if (failure) throw failure;
    return page(scenario.history, input);
  });
  for (const child of scenario.children ?? []) {
    sfn
      .on(GetExecutionHistoryCommand, { executionArn: child.arn })
      .callsFake((input: GetExecutionHistoryCommandInput) => page(child.history, input));
  }
  if (scenario.children) {
    sfn.on(ListExecutionsCommand).callsFake(() => ({
      executions: scenario.children?.map((child) => {
        const last = child.history.at(-1)?.timestamp?.getTime() ?? 0;
        const finished = last <= at(now).getTime();
        return {
          executionArn: child.arn,
          stateMachineArn: 'arn:aws:states:eu-central-1:123456789012:stateMachine:lifeboat-shop-dr/units',
          name: child.name,
          status: finished ? 'SUCCEEDED' : 'RUNNING',
          startDate: child.history[0]?.timestamp,
          ...(finished ? { stopDate: new Date(last) } : {}),
        };
      }),
    }));
  }
  return { historyCalls, eventsServed: () => served };
}
