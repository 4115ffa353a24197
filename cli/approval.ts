import {
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { APPROVAL_REJECTED_ERROR, type ApprovalRecord, formatRejection } from '../functions/lib/approval.js';
import { awsErrorName, ResourceMissingError, toLifeboatError } from '../functions/lib/errors.js';
import { parseJson } from './aws.js';

/** The approval gate's state (statemachine/failover.ts, STATE_NAMES.askApproval). */
export const APPROVAL_STATE = 'Ask for approval';

/** What the approval request says, read from the waiting task's parameters (the SNS message). */
export interface WaitingApproval {
  /** The task token: only ever sent back to Step Functions, never printed. */
  readonly taskToken: string;
  readonly planName: string | undefined;
  readonly units: string[];
  readonly preflightWarnings: string[];
  /** When the request was sent. */
  readonly askedAt: Date | undefined;
}

/**
 * The approval an execution waits for, from its history (docs/design/approval.md): the latest `TaskScheduled` of the
 * "Ask for approval" state, whose parameters hold the SNS message with the task token, and nothing after it that ended
 * that task (succeeded, failed, timed out, or the state left). The state machine logs at ERROR level, so the token is
 * in the history only, never in a log. Undefined when nothing waits.
 */
export async function findWaitingApproval(
  sfn: SFNClient,
  executionArn: string,
): Promise<WaitingApproval | undefined> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    let page: { events?: HistoryEvent[]; nextToken?: string };
    try {
      page = await sfn.send(
        new GetExecutionHistoryCommand({
          executionArn,
          maxResults: 1000,
          includeExecutionData: true,
          ...(nextToken ? { nextToken } : {}),
        }),
      );
    } catch (error) {
      if (awsErrorName(error) === 'ExecutionDoesNotExist') {
        throw new ResourceMissingError(`no execution ${executionArn} (is the Region right?)`, {
          cause: error,
        });
      }
      throw toLifeboatError(error, `GetExecutionHistory of ${executionArn}`);
    }
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return waitingApprovalIn(events);
}

const TASK_ENDS = new Set([
  'TaskSucceeded',
  'TaskFailed',
  'TaskTimedOut',
  'TaskSubmitFailed',
  'TaskStartFailed',
]);
const EXECUTION_ENDS = new Set([
  'ExecutionSucceeded',
  'ExecutionFailed',
  'ExecutionAborted',
  'ExecutionTimedOut',
]);

/** The waiting approval in a history (oldest event first). */
export function waitingApprovalIn(events: readonly HistoryEvent[]): WaitingApproval | undefined {
  let inGate = false;
  let waiting: WaitingApproval | undefined;
  for (const event of events) {
    const type = event.type ?? '';
    if (EXECUTION_ENDS.has(type)) return undefined;
    if (type === 'TaskStateEntered') inGate = event.stateEnteredEventDetails?.name === APPROVAL_STATE;
    else if (type === 'TaskStateExited' && event.stateExitedEventDetails?.name === APPROVAL_STATE) {
      inGate = false;
      waiting = undefined;
    } else if (inGate && type === 'TaskScheduled') waiting = requestOf(event);
    else if (inGate && TASK_ENDS.has(type)) waiting = undefined;
  }
  return waiting;
}

function requestOf(event: HistoryEvent): WaitingApproval | undefined {
  const parameters = parseJson(event.taskScheduledEventDetails?.parameters) as
    | { Message?: unknown; [key: string]: unknown }
    | undefined;
  // The SNS integration takes Message as a JSON object (TaskInput.fromObject) or a string.
  const raw = parameters?.Message;
  const message = (typeof raw === 'string' ? parseJson(raw) : raw) as Record<string, unknown> | undefined;
  const taskToken = message?.taskToken;
  if (typeof taskToken !== 'string' || taskToken === '') return undefined;
  const strings = (value: unknown) =>
    Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  return {
    taskToken,
    planName: typeof message?.planName === 'string' ? message.planName : undefined,
    units: strings(message?.units),
    preflightWarnings: strings(message?.preflightWarnings),
    askedAt: event.timestamp,
  };
}

/** The caller's identity, as the approval records it: the ARN STS returns (a user, or an assumed role's session). */
export async function callerIdentity(sts: STSClient): Promise<string> {
  try {
    const out = await sts.send(new GetCallerIdentityCommand({}));
    if (!out.Arn) throw new ResourceMissingError('STS GetCallerIdentity returned no Arn');
    return out.Arn;
  } catch (error) {
    if (error instanceof ResourceMissingError) throw error;
    throw toLifeboatError(error, 'STS GetCallerIdentity (who is approving)');
  }
}

/** Step Functions' answers for a token that no longer waits (API_SendTaskSuccess, Errors). */
const GONE = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

/** Sends the decision; a token that no longer waits is said plainly (someone answered, or it timed out). */
export async function sendDecision(
  sfn: SFNClient,
  executionArn: string,
  taskToken: string,
  record: ApprovalRecord,
): Promise<void> {
  try {
    if (record.decision === 'approved') {
      await sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(record) }));
    } else {
      await sfn.send(
        new SendTaskFailureCommand({
          taskToken,
          error: APPROVAL_REJECTED_ERROR,
          cause: formatRejection({ by: record.by, at: record.at, reason: record.reason ?? '' }),
        }),
      );
    }
  } catch (error) {
    const name = awsErrorName(error);
    if (name && GONE.has(name)) {
      throw new ResourceMissingError(
        `${executionArn} no longer waits for approval (${name}: it timed out, or someone answered first)`,
        { cause: error },
      );
    }
    throw toLifeboatError(
      error,
      `${record.decision === 'approved' ? 'SendTaskSuccess' : 'SendTaskFailure'} for ${executionArn}`,
    );
  }
}
