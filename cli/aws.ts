import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  type DescribeExecutionOutput,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { awsErrorName, ResourceMissingError, toLifeboatError } from '../functions/lib/errors.js';
import { type FailoverPlan, partitionOf } from '../functions/lib/plan.js';
import type { RunReport } from '../functions/lib/report/index.js';
import { UsageError } from './args.js';

/* ---------------------------------------------------------------------------------------------- */
/* Names and addresses                                                                             */
/* ---------------------------------------------------------------------------------------------- */

/** The state machine of a plan, as infra/constructs/orchestrator.ts names it. */
export function stateMachineName(planName: string): string {
  return `lifeboat-${planName}`;
}

/** Where the deployed stack puts the plan's state machine: the recovery Region, the plan's account. */
export function stateMachineArnFor(
  plan: Pick<FailoverPlan, 'name' | 'account' | 'recoveryRegion'>,
  region = plan.recoveryRegion,
): string {
  return `arn:${partitionOf(region)}:states:${region}:${plan.account}:stateMachine:${stateMachineName(plan.name)}`;
}

const STATE_MACHINE_ARN =
  /^arn:(aws|aws-cn|aws-us-gov):states:([a-z0-9-]+):(\d{12}):stateMachine:([\w-]{1,80})$/;
const EXECUTION_ARN =
  /^arn:(aws|aws-cn|aws-us-gov):states:([a-z0-9-]+):(\d{12}):execution:([\w-]{1,80}):([\w-]{1,80})$/;

export interface ExecutionName {
  readonly arn: string;
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly stateMachineName: string;
  /** The execution's name: lifeboat's run id. */
  readonly name: string;
  /** The plan, when the state machine is one of lifeboat's (`lifeboat-<plan>`). */
  readonly planName: string | undefined;
}

export function parseExecutionArn(arn: string, option = 'executionArn'): ExecutionName {
  const m = EXECUTION_ARN.exec(arn);
  if (!m) {
    throw new UsageError(
      `${option}: expected an execution ARN such as arn:aws:states:us-west-2:123456789012:execution:lifeboat-orders-dr:<name>, got "${arn}"`,
    );
  }
  const [, partition = '', region = '', account = '', machine = '', name = ''] = m;
  return {
    arn,
    partition,
    region,
    account,
    stateMachineName: machine,
    name,
    planName: machine.startsWith('lifeboat-') ? machine.slice('lifeboat-'.length) : undefined,
  };
}

export function parseStateMachineArn(arn: string, option = '--state-machine-arn'): { region: string } {
  const m = STATE_MACHINE_ARN.exec(arn);
  if (!m) {
    throw new UsageError(
      `${option}: expected a state machine ARN such as arn:aws:states:us-west-2:123456789012:stateMachine:lifeboat-orders-dr, got "${arn}"`,
    );
  }
  return { region: m[2] ?? '' };
}

function consoleHost(region: string): string {
  const partition = partitionOf(region);
  if (partition === 'aws-cn') return 'console.amazonaws.cn';
  if (partition === 'aws-us-gov') return 'console.amazonaws-us-gov.com';
  return 'console.aws.amazon.com';
}

/** The execution's page in the Step Functions console (graph, events, input and output of every state). */
export function executionConsoleUrl(executionArn: string): string {
  const region = executionArn.split(':')[3] ?? '';
  return `https://${region}.${consoleHost(region)}/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/* ---------------------------------------------------------------------------------------------- */
/* Reports                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

/** A lifeboat run report (functions/lib/report/model.ts, RunReport), by its shape. */
export function isRunReport(value: unknown): value is RunReport {
  if (!value || typeof value !== 'object') return false;
  const r = value as Partial<RunReport>;
  return (
    r.reportVersion === 1 &&
    typeof r.planName === 'string' &&
    typeof r.runId === 'string' &&
    (r.outcome === 'succeeded' || r.outcome === 'failed') &&
    Array.isArray(r.units)
  );
}

export function parseJson(text: string | undefined): unknown {
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * A task's result as the history has it: a step Lambda's return value (the definition invokes them with
 * `payloadResponseOnly`), or the Lambda Invoke response `{Payload, StatusCode, ...}` of the optimized integration.
 */
export function unwrapTaskOutput(value: unknown): unknown {
  if (value && typeof value === 'object' && 'Payload' in value && 'StatusCode' in value) {
    return (value as { Payload: unknown }).Payload;
  }
  return value;
}

export interface ReportLookup {
  readonly report: RunReport | undefined;
  readonly status: string;
  /** Where the report came from, for the reader. */
  readonly source: string;
  readonly execution: DescribeExecutionOutput;
}

export async function describeExecution(
  sfn: SFNClient,
  executionArn: string,
): Promise<DescribeExecutionOutput> {
  try {
    return await sfn.send(new DescribeExecutionCommand({ executionArn }));
  } catch (error) {
    if (awsErrorName(error) === 'ExecutionDoesNotExist') {
      throw new ResourceMissingError(`no execution ${executionArn} (is the Region right?)`, { cause: error });
    }
    throw toLifeboatError(error, `DescribeExecution of ${executionArn}`);
  }
}

/**
 * The run report of an execution. A succeeded execution's output IS the report. A failed one has no output
 * (DescribeExecution sets `output` only when the execution succeeds), so the report is read from the history: the
 * report step's result, or the input of the Fail state that ends the run with it.
 */
export async function reportOfExecution(sfn: SFNClient, executionArn: string): Promise<ReportLookup> {
  const execution = await describeExecution(sfn, executionArn);
  const status = execution.status ?? 'UNKNOWN';
  const output = parseJson(execution.output);
  if (isRunReport(output)) return { report: output, status, source: 'the execution output', execution };
  if (status === 'RUNNING') return { report: undefined, status, source: 'none yet', execution };
  const report = await reportFromHistory(sfn, executionArn);
  return { report, status, source: report ? 'the execution history' : 'none', execution };
}

/** Reads the history newest first until it finds the report. */
export async function reportFromHistory(
  sfn: SFNClient,
  executionArn: string,
): Promise<RunReport | undefined> {
  let nextToken: string | undefined;
  do {
    let page: { events?: HistoryEvent[]; nextToken?: string };
    try {
      page = await sfn.send(
        new GetExecutionHistoryCommand({
          executionArn,
          reverseOrder: true,
          maxResults: 200,
          includeExecutionData: true,
          ...(nextToken ? { nextToken } : {}),
        }),
      );
    } catch (error) {
      throw toLifeboatError(error, `GetExecutionHistory of ${executionArn}`);
    }
    for (const event of page.events ?? []) {
      const found = reportInEvent(event);
      if (found) return found;
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return undefined;
}

/** The report carried by one history event, if it carries one. */
export function reportInEvent(event: HistoryEvent): RunReport | undefined {
  const candidates = [
    event.lambdaFunctionSucceededEventDetails?.output,
    event.taskSucceededEventDetails?.output,
    event.stateEnteredEventDetails?.input,
    event.executionSucceededEventDetails?.output,
  ];
  for (const text of candidates) {
    const value = unwrapTaskOutput(parseJson(text));
    if (isRunReport(value)) return value;
  }
  return undefined;
}

/** A report kept in S3 by the report step (`reports/<plan>/<run>.json`, `reports/<plan>/latest.json`). */
export async function reportFromS3(s3: S3Client, bucket: string, key: string): Promise<RunReport> {
  let text: string;
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!out.Body) throw new ResourceMissingError(`s3://${bucket}/${key} has no body`);
    text = await out.Body.transformToString('utf8');
  } catch (error) {
    const name = awsErrorName(error);
    if (name === 'NoSuchKey' || name === 'NotFound') {
      throw new ResourceMissingError(`no report at s3://${bucket}/${key}`, { cause: error });
    }
    if (name === 'NoSuchBucket') {
      throw new ResourceMissingError(`no bucket ${bucket} (see the stack output ReportBucketName)`, {
        cause: error,
      });
    }
    throw toLifeboatError(error, `GetObject s3://${bucket}/${key}`);
  }
  const value = parseJson(text);
  if (!isRunReport(value)) {
    throw new ResourceMissingError(`s3://${bucket}/${key} is not a lifeboat run report`);
  }
  return value;
}
