/**
 * Step Functions (JSON 1.0, `X-Amz-Target: AWSStepFunctions.<Op>`): DescribeExecution, StopExecution,
 * GetExecutionHistory, ListExecutions, and SendTaskSuccess/SendTaskFailure of callback tasks, over the executions the
 * proving ground's runner registers (local/runner.ts runs the definition in
 * aws-local-stepfunctions and keeps each execution's status and AWS-shaped history here). No state machines are
 * created and nothing is started through the API; an ARN no runner registered is ExecutionDoesNotExist.
 * The behaviours modelled, with their sources: docs/aws/step-functions-execution-events.md.
 */
import {
  AwsError,
  type CallInfo,
  type EmulatorRequest,
  type HttpAnswer,
  isReadAction,
  type ServiceHandler,
} from '../core.js';
import { jsonAnswer, jsonError, readJsonBody } from '../wire.js';

const CONTENT_TYPE = 'application/x-amz-json-1.0';
const TARGET_PREFIX = 'AWSStepFunctions.';
const EXECUTION_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:]+:[^:]+$/;

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** A history event as GetExecutionHistory returns it (the SDK's HistoryEvent, timestamps as epoch ms here). */
export interface HistoryEventRecord {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
  [details: string]: unknown;
}

/** One execution, kept up to date by whoever runs it (the runner). */
export interface EmulatedExecution {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  readonly startDate: number;
  status: ExecutionStatus;
  stopDate?: number;
  output?: string;
  error?: string;
  cause?: string;
  readonly history: HistoryEventRecord[];
  /** Ends a RUNNING execution as ABORTED: it runs no more states. Set by the runner. */
  stop?: (error: string | undefined, cause: string | undefined) => void;
  /**
   * Callback tasks (`.waitForTaskToken`) waiting for SendTaskSuccess or SendTaskFailure, by task token. Set by the
   * runner; an answered task is removed, so a second answer is TaskTimedOut, as AWS says of a closed task.
   */
  waitingTasks?: Map<string, WaitingTask>;
  /** Every task token the execution issued, answered or not: tells InvalidToken from TaskTimedOut. */
  issuedTokens?: Set<string>;
}

/** A callback task's two ways out (SendTaskSuccess, SendTaskFailure). */
export interface WaitingTask {
  succeed(output: string): void;
  fail(error: string | undefined, cause: string | undefined): void;
}

/** A state machine as deployed: what DescribeStateMachine answers (the readiness function reads the plan from it). */
export interface EmulatedStateMachine {
  readonly stateMachineArn: string;
  readonly name: string;
  /** The definition, as the JSON string Step Functions keeps. */
  readonly definition: string;
  readonly creationDate: number;
}

const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[^:]+$/;

export class StepFunctionsService implements ServiceHandler {
  readonly name = 'states' as const;
  private readonly executions = new Map<string, EmulatedExecution>();
  private readonly machines = new Map<string, EmulatedStateMachine>();

  /** Makes a state machine known to DescribeStateMachine (what a deploy would have made). */
  registerStateMachine(machine: EmulatedStateMachine): void {
    this.machines.set(machine.stateMachineArn, machine);
  }

  /** Makes an execution known to the API (the runner calls this when it starts one). */
  register(execution: EmulatedExecution): void {
    this.executions.set(execution.executionArn, execution);
  }

  execution(executionArn: string): EmulatedExecution | undefined {
    return this.executions.get(executionArn);
  }

  describe(req: EmulatorRequest): CallInfo {
    const target = String(req.headers['x-amz-target'] ?? '');
    const action = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    if (!action) throw new AwsError('UnknownOperationException', 400, 'Missing or unknown X-Amz-Target');
    let resource: string | null = null;
    try {
      const arn = readJsonBody(req.body).executionArn;
      resource = typeof arn === 'string' ? arn : null;
    } catch {
      resource = null;
    }
    return { action, resource, mutating: !isReadAction(action) };
  }

  async handle(req: EmulatorRequest, call: CallInfo): Promise<HttpAnswer> {
    const input = readJsonBody(req.body);
    switch (call.action) {
      case 'DescribeExecution':
        return jsonAnswer(this.describeExecution(input), req.requestId, CONTENT_TYPE);
      case 'StopExecution':
        return jsonAnswer(this.stopExecution(input), req.requestId, CONTENT_TYPE);
      case 'GetExecutionHistory':
        return jsonAnswer(this.history(input), req.requestId, CONTENT_TYPE);
      case 'DescribeStateMachine':
        return jsonAnswer(this.describeStateMachine(input), req.requestId, CONTENT_TYPE);
      case 'ListExecutions':
        return jsonAnswer(this.listExecutions(input), req.requestId, CONTENT_TYPE);
      case 'SendTaskSuccess':
      case 'SendTaskFailure':
        return jsonAnswer(this.answerTask(call.action, input), req.requestId, CONTENT_TYPE);
      default:
        throw new AwsError('UnknownOperationException', 400, `Unknown operation ${call.action}`);
    }
  }

  errorAnswer(error: AwsError, req: EmulatorRequest): HttpAnswer {
    return jsonError(error, req.requestId, { contentType: CONTENT_TYPE, messageKey: 'message' });
  }

  throttlingError(): AwsError {
    return new AwsError('ThrottlingException', 400, 'Rate exceeded');
  }

  serverError(): AwsError {
    return new AwsError('InternalServerError', 500, 'Internal service error');
  }

  private find(input: Record<string, unknown>): EmulatedExecution {
    const arn = input.executionArn;
    if (typeof arn !== 'string' || arn === '') {
      throw new AwsError(
        'ValidationException',
        400,
        "1 validation error detected: Value null at 'executionArn' failed to satisfy constraint: Member must not be null",
      );
    }
    if (!EXECUTION_ARN.test(arn)) throw new AwsError('InvalidArn', 400, `Invalid Arn: '${arn}'`);
    const execution = this.executions.get(arn);
    if (!execution) throw new AwsError('ExecutionDoesNotExist', 400, `Execution Does Not Exist: '${arn}'`);
    return execution;
  }

  private describeExecution(input: Record<string, unknown>) {
    const e = this.find(input);
    return {
      executionArn: e.executionArn,
      stateMachineArn: e.stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: e.startDate / 1000,
      ...(e.stopDate !== undefined ? { stopDate: e.stopDate / 1000 } : {}),
      input: e.input,
      inputDetails: { included: true },
      // Set only when the execution succeeded (DescribeExecution, `output`).
      ...(e.status === 'SUCCEEDED' && e.output !== undefined
        ? { output: e.output, outputDetails: { included: true } }
        : {}),
      ...(e.status !== 'RUNNING' && e.status !== 'SUCCEEDED' && e.error !== undefined
        ? { error: e.error }
        : {}),
      ...(e.status !== 'RUNNING' && e.status !== 'SUCCEEDED' && e.cause !== undefined
        ? { cause: e.cause }
        : {}),
      redriveCount: 0,
      redriveStatus: 'NOT_REDRIVABLE',
      redriveStatusReason: 'Redrive is not modelled by the lifeboat emulator',
    };
  }

  /** A running execution ends ABORTED with the given error and cause; an ended one is left as it is. */
  private stopExecution(input: Record<string, unknown>) {
    const e = this.find(input);
    const error = typeof input.error === 'string' ? input.error : undefined;
    const cause = typeof input.cause === 'string' ? input.cause : undefined;
    if (error !== undefined && error.length > 256) {
      throw new AwsError(
        'ValidationException',
        400,
        "Value at 'error' failed to satisfy constraint: Member must have length less than or equal to 256",
      );
    }
    if (cause !== undefined && cause.length > 32_768) {
      throw new AwsError(
        'ValidationException',
        400,
        "Value at 'cause' failed to satisfy constraint: Member must have length less than or equal to 32768",
      );
    }
    if (e.status === 'RUNNING') {
      e.stop?.(error, cause);
      // The runner's stop ends the execution; without one (a bare registration) the status is set here.
      if (e.status === 'RUNNING') {
        e.status = 'ABORTED';
        e.stopDate = Date.now();
        if (error !== undefined) e.error = error;
        if (cause !== undefined) e.cause = cause;
        const id = e.history.length + 1;
        e.history.push({
          id,
          previousEventId: id - 1,
          timestamp: e.stopDate,
          type: 'ExecutionAborted',
          executionAbortedEventDetails: {
            ...(error !== undefined ? { error } : {}),
            ...(cause !== undefined ? { cause } : {}),
          },
        });
      }
    }
    return { stopDate: (e.stopDate ?? Date.now()) / 1000 };
  }

  /** A registered state machine (API_DescribeStateMachine): StateMachineDoesNotExist when none, InvalidArn when malformed. */
  private describeStateMachine(input: Record<string, unknown>) {
    const arn = input.stateMachineArn;
    if (typeof arn !== 'string' || arn === '') {
      throw new AwsError(
        'ValidationException',
        400,
        "1 validation error detected: Value null at 'stateMachineArn' failed to satisfy constraint: Member must not be null",
      );
    }
    if (!STATE_MACHINE_ARN.test(arn)) throw new AwsError('InvalidArn', 400, `Invalid Arn: '${arn}'`);
    const machine = this.machines.get(arn);
    if (!machine)
      throw new AwsError('StateMachineDoesNotExist', 400, `State Machine Does Not Exist: '${arn}'`);
    return {
      stateMachineArn: machine.stateMachineArn,
      name: machine.name,
      status: 'ACTIVE',
      definition: machine.definition,
      roleArn: `arn:aws:iam::${arn.split(':')[4]}:role/${machine.name}`,
      type: 'STANDARD',
      creationDate: machine.creationDate / 1000,
    };
  }

  /** This state machine's executions, newest first, optionally of one status (API_ListExecutions). */
  private listExecutions(input: Record<string, unknown>) {
    const machine = input.stateMachineArn;
    if (typeof machine !== 'string' || machine === '') {
      throw new AwsError('ValidationException', 400, 'Must provide a StateMachine ARN or MapRun ARN');
    }
    const status = typeof input.statusFilter === 'string' ? input.statusFilter : undefined;
    const max = input.maxResults === undefined || input.maxResults === 0 ? 100 : Number(input.maxResults);
    const all = [...this.executions.values()]
      .filter((e) => e.stateMachineArn === machine && (status === undefined || e.status === status))
      .sort((a, b) => b.startDate - a.startDate);
    const start = input.nextToken === undefined ? 0 : Number(input.nextToken);
    if (!(Number.isInteger(start) && start >= 0 && start <= all.length)) {
      throw new AwsError('InvalidToken', 400, 'Invalid Token');
    }
    const page = all.slice(start, start + max).map((e) => ({
      executionArn: e.executionArn,
      stateMachineArn: e.stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: e.startDate / 1000,
      ...(e.stopDate !== undefined ? { stopDate: e.stopDate / 1000 } : {}),
    }));
    const next = start + max < all.length ? String(start + max) : undefined;
    return { executions: page, ...(next ? { nextToken: next } : {}) };
  }

  /**
   * SendTaskSuccess / SendTaskFailure of a callback task (API_SendTaskSuccess, API_SendTaskFailure): an unknown token
   * is InvalidToken; a token whose task was answered or ended is TaskTimedOut ("the task associated with the token has
   * already been closed"); output that is not JSON is InvalidOutput. docs/aws/step-functions-task-tokens.md.
   */
  private answerTask(action: string, input: Record<string, unknown>) {
    const token = input.taskToken;
    if (typeof token !== 'string' || token === '') {
      throw new AwsError(
        'ValidationException',
        400,
        "1 validation error detected: Value null at 'taskToken' failed to satisfy constraint: Member must not be null",
      );
    }
    const owner = [...this.executions.values()].find((e) => e.issuedTokens?.has(token));
    if (!owner) throw new AwsError('InvalidToken', 400, 'Invalid token');
    const task = owner.waitingTasks?.get(token);
    if (!task || owner.status !== 'RUNNING') {
      throw new AwsError('TaskTimedOut', 400, 'Task Timed Out');
    }
    if (action === 'SendTaskSuccess') {
      const output = input.output;
      if (typeof output !== 'string') {
        throw new AwsError(
          'ValidationException',
          400,
          "1 validation error detected: Value null at 'output' failed to satisfy constraint: Member must not be null",
        );
      }
      try {
        JSON.parse(output);
      } catch {
        throw new AwsError('InvalidOutput', 400, 'Invalid Output');
      }
      owner.waitingTasks?.delete(token);
      task.succeed(output);
    } else {
      const error = typeof input.error === 'string' ? input.error : undefined;
      const cause = typeof input.cause === 'string' ? input.cause : undefined;
      if (error !== undefined && error.length > 256) {
        throw new AwsError(
          'ValidationException',
          400,
          "Value at 'error' failed to satisfy constraint: Member must have length less than or equal to 256",
        );
      }
      if (cause !== undefined && cause.length > 32_768) {
        throw new AwsError(
          'ValidationException',
          400,
          "Value at 'cause' failed to satisfy constraint: Member must have length less than or equal to 32768",
        );
      }
      owner.waitingTasks?.delete(token);
      task.fail(error, cause);
    }
    return {};
  }

  private history(input: Record<string, unknown>) {
    const e = this.find(input);
    const max = input.maxResults === undefined || input.maxResults === 0 ? 100 : Number(input.maxResults);
    if (!(Number.isInteger(max) && max >= 0 && max <= 1000)) {
      throw new AwsError(
        'ValidationException',
        400,
        "Value at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000",
      );
    }
    const events = input.reverseOrder === true ? [...e.history].reverse() : [...e.history];
    const start = input.nextToken === undefined ? 0 : Number(input.nextToken);
    if (!(Number.isInteger(start) && start >= 0 && start <= events.length)) {
      throw new AwsError('InvalidToken', 400, 'Invalid Token');
    }
    const includeData = input.includeExecutionData !== false;
    const page = events.slice(start, start + max).map((event) => ({
      ...(includeData ? event : withoutData(event)),
      timestamp: event.timestamp / 1000,
    }));
    const next = start + max < events.length ? String(start + max) : undefined;
    return { events: page, ...(next ? { nextToken: next } : {}) };
  }
}

/** `includeExecutionData: false` leaves input and output out of every event's details. */
function withoutData(event: HistoryEventRecord): HistoryEventRecord {
  const out: HistoryEventRecord = { ...event };
  for (const [key, value] of Object.entries(event)) {
    if (key.endsWith('EventDetails') && value && typeof value === 'object') {
      const { input: _input, output: _output, ...rest } = value as Record<string, unknown>;
      out[key] = rest;
    }
  }
  return out;
}
