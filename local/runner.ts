import './node20.js';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';

/** The library's JSON value type (declared, not exported, by aws-local-stepfunctions). */
type JSONValue = Parameters<
  NonNullable<
    NonNullable<NonNullable<Parameters<StateMachine['run']>[1]>['overrides']>['taskResourceLocalHandlers']
  >[string]
>[0];

import { clientsFor } from '../functions/lib/clients.js';
import { TIME_FACTOR_ENV } from '../functions/lib/env.js';
import type { FailoverPlan } from '../functions/lib/plan.js';
import { s3Store } from '../functions/lib/run-objects.js';
import { CLOSER_DESCRIPTION_SUFFIX } from '../infra/constructs/lock-recovery.js';
import { addLifeboatStacks } from '../infra/lifeboat-app.js';
import { STEP_FUNCTIONS, type StepFunctionName } from '../statemachine/steps.js';
import '../functions/lib/sdk/s3.js';
import { emulateMapIo, type MapIoRewrite } from './distributed-map-io.js';
import type { EmulatedExecution } from './emulator/services/step-functions.js';
import { type InvokeFault, InvokeFaults, type Refusal } from './invoke-faults.js';

/**
 * The runner of the local proving ground: synthesizes the CDK app WITH bundling (the same esbuild bundles that
 * `cdk deploy` uploads), takes the state machine's definition and each Task's bundle from the cloud assembly,
 * and runs the definition in aws-local-stepfunctions with every Lambda Task bound to its bundled handler.
 */

type Json = unknown;

interface CfnResource {
  Type: string;
  Properties?: Record<string, Json>;
}

/** A resource the functions' environment refers to, and the local stand-in the proving ground must create. */
export interface LocalResource {
  logicalId: string;
  type: 'AWS::DynamoDB::Table' | 'AWS::S3::Bucket' | 'AWS::SNS::Topic';
  /** Name given to it locally (table name, bucket name, topic name). */
  name: string;
  /** For tables: the partition key attribute. */
  partitionKey?: string;
}

export interface BundledStep {
  step: StepFunctionName;
  logicalId: string;
  /** The ARN the definition's Task states name. */
  arn: string;
  /** The bundled handler, `<asset dir>/index.mjs`. */
  bundle: string;
  /** Environment variables of the function as deployed, with CloudFormation references resolved locally. */
  environment: Record<string, string>;
}

export interface SynthesizedOrchestrator {
  plan: FailoverPlan;
  stackName: string;
  definition: StateMachineDefinition;
  steps: BundledStep[];
  resources: LocalResource[];
  /** The ended-run handler that the status-change rule invokes (infra/constructs/lock-recovery.ts). */
  closer?: Omit<BundledStep, 'step'>;
}

const PSEUDO: Record<string, (region: string, account: string) => string> = {
  'AWS::Region': (region) => region,
  'AWS::AccountId': (_region, account) => account,
  'AWS::Partition': () => 'aws',
  'AWS::URLSuffix': () => 'amazonaws.com',
  'AWS::StackName': () => 'lifeboat-local',
  'AWS::NoValue': () => '',
};

/**
 * Synthesizes the app for `plan` into `outdir` (bundling on, cdk-nag off: the infra tests hold cdk-nag) and
 * extracts what the runner needs.
 */
export function synthesizeOrchestrator(plan: FailoverPlan, outdir: string): SynthesizedOrchestrator {
  mkdirSync(outdir, { recursive: true });
  const app = new App({ outdir });
  const { main } = addLifeboatStacks(app, plan, { nag: false });
  const assembly = app.synth();
  const template = assembly.getStackByName(main.stackName).template as {
    Resources: Record<string, CfnResource>;
  };
  const region = plan.recoveryRegion;
  const account = plan.account;

  const resources: LocalResource[] = [];
  const functionArn = (logicalId: string) => `arn:aws:lambda:${region}:${account}:function:${logicalId}`;
  const shortName = (logicalId: string) =>
    logicalId
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')
      .slice(0, 40);
  const nameOf = new Map<string, string>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const props = resource.Properties ?? {};
    if (resource.Type === 'AWS::DynamoDB::Table') {
      const keys = (props.KeySchema as { AttributeName: string; KeyType: string }[] | undefined) ?? [];
      const name = (props.TableName as string | undefined) ?? `lifeboat-${shortName(logicalId)}`;
      const partitionKey = keys.find((k) => k.KeyType === 'HASH')?.AttributeName ?? 'planName';
      resources.push({ logicalId, type: resource.Type, name, partitionKey });
      nameOf.set(logicalId, name);
    } else if (resource.Type === 'AWS::S3::Bucket') {
      const name = (props.BucketName as string | undefined) ?? `lifeboat-${shortName(logicalId)}`;
      resources.push({ logicalId, type: resource.Type, name });
      nameOf.set(logicalId, name);
    } else if (resource.Type === 'AWS::SNS::Topic') {
      const name = (props.TopicName as string | undefined) ?? `lifeboat-${shortName(logicalId)}`;
      resources.push({ logicalId, type: resource.Type, name });
      nameOf.set(logicalId, `arn:aws:sns:${region}:${account}:${name}`);
    }
  }

  const ref = (logicalId: string): string => {
    const pseudo = PSEUDO[logicalId];
    if (pseudo) return pseudo(region, account);
    const resource = template.Resources[logicalId];
    if (resource?.Type === 'AWS::Lambda::Function') return logicalId;
    const name = nameOf.get(logicalId);
    if (name !== undefined) return name;
    throw new Error(`runner: cannot resolve Ref ${logicalId} (${resource?.Type ?? 'unknown'})`);
  };
  const getAtt = (logicalId: string, attribute: string): string => {
    const resource = template.Resources[logicalId];
    if (resource?.Type === 'AWS::Lambda::Function' && attribute === 'Arn') return functionArn(logicalId);
    const name = nameOf.get(logicalId);
    if (resource?.Type === 'AWS::DynamoDB::Table' && attribute === 'Arn' && name) {
      return `arn:aws:dynamodb:${region}:${account}:table/${name}`;
    }
    if (resource?.Type === 'AWS::S3::Bucket' && attribute === 'Arn' && name) return `arn:aws:s3:::${name}`;
    if (resource?.Type === 'AWS::SNS::Topic' && attribute === 'TopicArn' && name) return name;
    throw new Error(`runner: cannot resolve Fn::GetAtt ${logicalId}.${attribute}`);
  };
  const resolveValue = (value: Json): Json => resolveIntrinsics(value, ref, getAtt);

  const stateMachine = Object.values(template.Resources).find(
    (r) => r.Type === 'AWS::StepFunctions::StateMachine',
  );
  if (!stateMachine) throw new Error('runner: the synthesized stack has no state machine');
  const definitionString = resolveValue(stateMachine.Properties?.DefinitionString);
  if (typeof definitionString !== 'string')
    throw new Error('runner: DefinitionString did not resolve to a string');
  const definition = JSON.parse(definitionString) as StateMachineDefinition;

  const steps: BundledStep[] = [];
  let closer: SynthesizedOrchestrator['closer'];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const props = resource.Properties ?? {};
    const description = String(props.Description ?? '');
    const step = STEP_FUNCTIONS.find((name) => description.endsWith(`: ${name} step`));
    if (!step) {
      if (description.endsWith(CLOSER_DESCRIPTION_SUFFIX)) closer = bundledFunction(logicalId, props);
      continue;
    }
    const key = (props.Code as { S3Key?: string } | undefined)?.S3Key;
    if (!key) throw new Error(`runner: function ${logicalId} has no asset`);
    const bundle = join(outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.mjs');
    if (!existsSync(bundle)) throw new Error(`runner: bundle of ${step} not found at ${bundle}`);
    const variables = ((props.Environment as { Variables?: Record<string, Json> } | undefined)?.Variables ??
      {}) as Record<string, Json>;
    const environment = Object.fromEntries(
      Object.entries(variables).map(([name, value]) => [name, String(resolveValue(value))]),
    );
    steps.push({ step, logicalId, arn: functionArn(logicalId), bundle, environment });
  }
  const missing = STEP_FUNCTIONS.filter((name) => !steps.some((s) => s.step === name));
  if (missing.length) throw new Error(`runner: no bundled function for step(s) ${missing.join(', ')}`);
  return { plan, stackName: main.stackName, definition, steps, resources, ...(closer ? { closer } : {}) };

  function bundledFunction(logicalId: string, props: Record<string, Json>): Omit<BundledStep, 'step'> {
    const key = (props.Code as { S3Key?: string } | undefined)?.S3Key;
    if (!key) throw new Error(`runner: function ${logicalId} has no asset`);
    const bundle = join(outdir, `asset.${key.replace(/\.zip$/, '')}`, 'index.mjs');
    if (!existsSync(bundle)) throw new Error(`runner: bundle of ${logicalId} not found at ${bundle}`);
    const variables = ((props.Environment as { Variables?: Record<string, Json> } | undefined)?.Variables ??
      {}) as Record<string, Json>;
    const environment = Object.fromEntries(
      Object.entries(variables).map(([name, value]) => [name, String(resolveValue(value))]),
    );
    return { logicalId, arn: functionArn(logicalId), bundle, environment };
  }
}

/** Resolves the CloudFormation intrinsics CDK emits in a definition and environment (Join, Ref, GetAtt, Sub). */
export function resolveIntrinsics(
  value: Json,
  ref: (logicalId: string) => string,
  getAtt: (logicalId: string, attribute: string) => string,
): Json {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, ref, getAtt));
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, Json>;
  const keys = Object.keys(object);
  if (keys.length === 1) {
    const [key] = keys as [string];
    const arg = object[key];
    if (key === 'Ref') return ref(String(arg));
    if (key === 'Fn::GetAtt') {
      const [id, attribute] = (Array.isArray(arg) ? arg : String(arg).split('.')) as [string, string];
      return getAtt(id, attribute);
    }
    if (key === 'Fn::Join') {
      const [separator, parts] = arg as [string, Json[]];
      return parts.map((p) => String(resolveIntrinsics(p, ref, getAtt))).join(separator);
    }
    if (key === 'Fn::Sub' && typeof arg === 'string') {
      return arg.replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
        const [id, attribute] = name.split('.') as [string, string | undefined];
        return attribute ? getAtt(id, attribute) : ref(id);
      });
    }
    if (key.startsWith('Fn::')) throw new Error(`runner: intrinsic ${key} is not supported`);
  }
  return Object.fromEntries(keys.map((k) => [k, resolveIntrinsics(object[k], ref, getAtt)]));
}

/* ---------------------------------------------------------------------------------------------- */
/* Running an execution                                                                            */
/* ---------------------------------------------------------------------------------------------- */

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

export interface StepEvent {
  phase: 'start' | 'end' | 'error';
  step: StepFunctionName;
  /** The unit the step works on, when it has one. */
  unit?: string;
  /** Milliseconds since the execution started (wall clock). */
  atMs: number;
  durationMs?: number;
  /** On end: the step's outcome or poll status; on error: the error name. */
  result?: string;
  /** On end of a poll step (a result with `done`): its status and whether the wait is over. */
  poll?: { status: string; done: boolean };
}

export interface RunOptions {
  input: Json;
  /** Execution name (the run id). */
  executionName: string;
  /** Scales every Wait and Retry pause: 0.02 makes a 5 s wait 100 ms. */
  timeFactor: number;
  /** Variables every handler sees besides its own (emulator endpoint and credentials, DNS server, Region). */
  environment: Record<string, string>;
  onStep?: (event: StepEvent) => void;
  /**
   * Every event of the execution's history as aws-local-stepfunctions reports it (`eventLogs`: states entered and
   * exited with their input and output, retries, catches, failures with their cause), in order. The evidence suite
   * reads it to prove that no state data carries secret material.
   */
  onEvent?: (event: unknown) => void;
  /** Wall-clock bound of the whole execution. @default 10 minutes */
  timeoutMs?: number;
  /**
   * Steps run by a stand-in instead of their bundle (e.g. verify with `--endpoint`, where no database answers).
   * The stand-in's result is what the state machine sees; the report shows it as it is.
   */
  replaceSteps?: Partial<Record<StepFunctionName, (event: unknown) => Promise<unknown>>>;
  /**
   * Lambda refusing invocations of functions that are not ready (idle, Pending, ENI creation failing): the refused
   * invocation throws `Lambda.<exception>` without running the handler (local/invoke-faults.ts).
   */
  invokeFaults?: readonly InvokeFault[];
  /**
   * Where the execution is registered for the emulated Step Functions API (DescribeExecution, StopExecution,
   * GetExecutionHistory): its status and top-level history as AWS keeps them, and StopExecution ends it ABORTED.
   */
  stepFunctions?: { register(execution: EmulatedExecution): void };
  /** The "Step Functions Execution Status Change" event Step Functions sends to EventBridge when the run ends. */
  onStatusChange?: (event: ExecutionStatusChange) => void;
  /**
   * Aborting it ends the execution ABORTED at once, as StopExecution does: no further state starts (Ctrl-C during
   * `npm run drill` stops the run before the world's servers, docs/design/interrupt.md).
   */
  signal?: AbortSignal;
}

/** The EventBridge event of an execution's status change (docs/aws/step-functions-execution-events.md). */
export interface ExecutionStatusChange {
  version: '0';
  id: string;
  source: 'aws.states';
  'detail-type': 'Step Functions Execution Status Change';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: {
    executionArn: string;
    stateMachineArn: string;
    name: string;
    status: EmulatedExecution['status'];
    startDate: number;
    stopDate: number | null;
    input: string;
    output: string | null;
    error?: string | null;
    cause?: string | null;
  };
}

export interface RunResult {
  /** TIMED_OUT: `timeoutMs` passed; ABORTED: stopped through the emulated StopExecution. */
  status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  executionArn: string;
  output?: Json;
  error?: { name: string; cause: string };
  wallMs: number;
  /** Lambda invocations made (including retries). */
  invocations: number;
  /** Invocations Lambda refused before the handler ran (RunOptions.invokeFaults), in order. */
  refusals: Refusal[];
  /** State transitions (entered states), the cost driver of a Standard workflow. */
  transitions: number;
}

const loaded = new Map<string, Promise<Handler>>();

async function loadHandler(bundle: string): Promise<Handler> {
  let promise = loaded.get(bundle);
  if (!promise) {
    promise = import(pathToFileURL(resolve(bundle)).href).then((module: { handler?: Handler }) => {
      if (typeof module.handler !== 'function') throw new Error(`runner: ${bundle} exports no handler`);
      return module.handler;
    });
    loaded.set(bundle, promise);
  }
  return promise;
}

interface AslState {
  Type: string;
  Resource?: string;
  SecondsPath?: string;
  TimestampPath?: string;
  Seconds?: number;
  Retry?: AslRetrier[];
  Iterator?: { States: Record<string, AslState> };
  ItemProcessor?: { States: Record<string, AslState> };
  Branches?: { States: Record<string, AslState> }[];
}

/** Visits every state, nested ones included (Parallel branches, Map iterators). */
function* allStates(states: Record<string, AslState>): Generator<[string, AslState]> {
  for (const [name, state] of Object.entries(states)) {
    yield [name, state];
    for (const branch of state.Branches ?? []) yield* allStates(branch.States);
    const processor = state.ItemProcessor ?? state.Iterator;
    if (processor) yield* allStates(processor.States);
  }
}

/**
 * The approval gate's resource: SNS Publish through the callback integration (statemachine/failover.ts, "Ask for
 * approval"). The runner binds it to waitForApproval: the request is recorded in the history as Step Functions records
 * it, and the task waits for SendTaskSuccess or SendTaskFailure through the emulated Step Functions API.
 */
const CALLBACK_SNS_PUBLISH = /^arn:aws[a-z-]*:states:::sns:publish\.waitForTaskToken$/;

/** The poll result field the runner adds: when a scaled wait ends. */
const LOCAL_WAIT_UNTIL = 'localWaitUntil';

/** A retrier of the definition (Amazon States Language). */
interface AslRetrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  MaxAttempts?: number;
  JitterStrategy?: string;
}

/**
 * The retrier with its pauses scaled by `timeFactor`: the interval and the cap, so that aws-local-stepfunctions
 * computes every pause as Step Functions does (interval x rate^n, capped, FULL jitter drawn below it), in scaled
 * time. A retry budget of 6 minutes takes 7.2 s at 0.02; the backoff and the cap keep their shape.
 */
export function scaleRetrier<T extends AslRetrier>(retrier: T, timeFactor: number): T {
  return {
    ...retrier,
    // ASL's default interval is 1 s; written out so that it is scaled too.
    IntervalSeconds: (retrier.IntervalSeconds ?? 1) * timeFactor,
    ...(retrier.MaxDelaySeconds !== undefined
      ? { MaxDelaySeconds: retrier.MaxDelaySeconds * timeFactor }
      : {}),
  };
}

/**
 * Runs one execution of the synthesized definition. Waits are scaled by `timeFactor`: a Wait on a poll's
 * `waitSeconds` becomes a wait until `<poll>.localWaitUntil` (the runner stamps it on each poll result as now +
 * waitSeconds x factor), a fixed Wait is overridden with its scaled duration, and each retrier's interval and cap
 * are scaled (scaleRetrier), so that retry pauses keep their backoff and jitter.
 */
export async function runExecution(
  orchestrator: SynthesizedOrchestrator,
  options: RunOptions,
): Promise<RunResult> {
  const definition = structuredClone(orchestrator.definition) as unknown as {
    States: Record<string, AslState>;
  };
  const byArn = new Map(orchestrator.steps.map((s) => [s.arn, s]));
  const taskResourceLocalHandlers: Record<string, (input: JSONValue) => Promise<JSONValue>> = {};
  const waitTimeOverrides: Record<string, number> = {};
  const started = Date.now();
  let invocations = 0;
  // Set once the execution was stopped (StopExecution, `signal`, the timeout): aws-local-stepfunctions rejects the
  // result at once but may still start a retry that was pending; no handler runs after the stop.
  let stopped = false;
  const faults = new InvokeFaults(options.invokeFaults ?? [], options.timeFactor);
  const scale = (seconds: number) => Math.max(0, Math.round(seconds * 1000 * options.timeFactor));

  Object.assign(process.env, options.environment);
  // The Wait states run this much faster; a step that compares its wall clock with one poll interval scales it alike
  // (functions/lib/env.ts, TIME_FACTOR_ENV).
  process.env[TIME_FACTOR_ENV] = String(options.timeFactor);
  for (const step of orchestrator.steps) {
    for (const [name, value] of Object.entries(step.environment)) {
      // The world's variables stand in for the Lambda runtime's (e.g. NODE_EXTRA_CA_CERTS, a file of the runtime).
      if (name in options.environment) continue;
      const current = process.env[name];
      // All handlers share this process: their variables must agree (they do: each names one stack resource).
      if (current !== undefined && current !== value && !(name in options.environment)) {
        const other = orchestrator.steps.find((s) => s.environment[name] === current);
        if (other && other.step !== step.step) {
          throw new Error(`runner: ${step.step} and ${other.step} disagree on ${name}`);
        }
      }
      process.env[name] = value;
    }
  }

  // One task token per execution: `$$.Task.Token` of its (only) callback task, the approval gate.
  const taskToken = `local-task-token-${randomUUID()}`;
  for (const [name, state] of allStates(definition.States)) {
    if (state.Type === 'Task' && state.Resource && CALLBACK_SNS_PUBLISH.test(state.Resource)) {
      taskResourceLocalHandlers[name] = (parameters: JSONValue) =>
        waitForApproval(record, name, parameters, taskToken, orchestrator.plan.recoveryRegion);
      continue;
    }
    if (state.Type === 'Task' && state.Resource) {
      const step = byArn.get(state.Resource);
      if (!step) continue; // e.g. the SNS approval task: not bound, never reached on a console start
      const stepName = step.step;
      taskResourceLocalHandlers[name] = async (event: JSONValue): Promise<JSONValue> => {
        if (stopped) throw new Error(`runner: the execution was stopped before ${name} ran`);
        const unit = unitOf(event);
        const t0 = Date.now();
        const refusal = faults.refuse(stepName, step.logicalId);
        if (refusal) {
          // Lambda refuses before the handler runs: no start, only the error Step Functions sees.
          options.onStep?.({
            phase: 'error',
            step: stepName,
            ...(unit ? { unit } : {}),
            atMs: t0 - started,
            durationMs: 0,
            result: refusal.name,
          });
          throw refusal;
        }
        invocations += 1;
        options.onStep?.({ phase: 'start', step: stepName, ...(unit ? { unit } : {}), atMs: t0 - started });
        const replacement = options.replaceSteps?.[stepName];
        const handler: Handler = replacement ?? (await loadHandler(step.bundle));
        try {
          const result = await handler(event, lambdaContext(step, options.executionName));
          const t1 = Date.now();
          options.onStep?.({
            phase: 'end',
            step: stepName,
            ...(unit ? { unit } : {}),
            atMs: t1 - started,
            durationMs: t1 - t0,
            result: summary(result),
            ...pollOf(result),
          });
          return stampLocalWait(result, options.timeFactor) as JSONValue;
        } catch (error) {
          const t1 = Date.now();
          options.onStep?.({
            phase: 'error',
            step: stepName,
            ...(unit ? { unit } : {}),
            atMs: t1 - started,
            durationMs: t1 - t0,
            result: error instanceof Error ? error.name : 'Error',
          });
          throw error;
        }
      };
    }
    if (state.Type === 'Wait') {
      if (state.SecondsPath) {
        state.TimestampPath = state.SecondsPath.replace(/waitSeconds$/, LOCAL_WAIT_UNTIL);
        if (state.TimestampPath === state.SecondsPath) {
          throw new Error(`runner: Wait ${name} waits on ${state.SecondsPath}, not a poll's waitSeconds`);
        }
        delete state.SecondsPath;
      } else if (state.Seconds !== undefined) {
        waitTimeOverrides[name] = scale(state.Seconds);
      }
    }
    if (state.Retry?.length) state.Retry = state.Retry.map((r) => scaleRetrier(r, options.timeFactor));
  }

  // The units' Distributed Map reads its items from and writes its results to the emulator's S3, as Step Functions
  // does; aws-local-stepfunctions runs neither (local/distributed-map-io.ts).
  const mapIo = emulateMapIo(definition.States as Record<string, unknown>, {
    store: s3Store(clientsFor(orchestrator.plan.recoveryRegion).s3),
    stateMachineArn: `arn:aws:states:${orchestrator.plan.recoveryRegion}:${orchestrator.plan.account}:stateMachine:lifeboat-${orchestrator.plan.name}`,
  });
  Object.assign(taskResourceLocalHandlers, mapIo.handlers);

  const machine = new StateMachine(definition as unknown as StateMachineDefinition, {
    validationOptions: { checkPaths: false, checkArn: false },
  });
  const { plan } = orchestrator;
  const executionArn = `arn:aws:states:${plan.recoveryRegion}:${plan.account}:execution:lifeboat-${plan.name}:${options.executionName}`;
  const stateMachineArn = `arn:aws:states:${plan.recoveryRegion}:${plan.account}:stateMachine:lifeboat-${plan.name}`;
  const execution = machine.run(options.input as never, {
    overrides: { taskResourceLocalHandlers, waitTimeOverrides },
    context: { Execution: { Id: executionArn, Name: options.executionName }, Task: { Token: taskToken } },
  });
  // The execution as the emulated Step Functions API shows it; `ended` says how it ended when something other than
  // the definition ended it (StopExecution, the timeout).
  let ended: { status: 'ABORTED' | 'TIMED_OUT'; error: string; cause: string } | undefined;
  const record: EmulatedExecution = {
    executionArn,
    stateMachineArn,
    name: options.executionName,
    input: JSON.stringify(options.input ?? {}),
    startDate: started,
    status: 'RUNNING',
    history: [],
    stop: (error, cause) => {
      if (ended || record.status !== 'RUNNING') return;
      ended = { status: 'ABORTED', error: error ?? '', cause: cause ?? '' };
      stopped = true;
      execution.abort();
    },
  };
  const history = topLevelHistory(definition.States, record, mapIo.historyName);
  options.stepFunctions?.register(record);
  const onAbort = () => record.stop?.('Interrupted', 'the caller aborted the execution');
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  let transitions = 0;
  const counting = (async () => {
    for await (const event of execution.eventLogs) {
      if ((event as { type?: string }).type === 'StateEntered') transitions += 1;
      history.add(event);
      options.onEvent?.(event);
    }
  })();
  const timeoutMs = options.timeoutMs ?? 10 * 60_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ended ??= {
        status: 'TIMED_OUT',
        error: 'States.Timeout',
        cause: `the execution did not end within ${timeoutMs} ms (the runner's timeout)`,
      };
      stopped = true;
      execution.abort();
      reject(new Error(`runner: the execution did not end within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  let result: RunResult;
  try {
    const output = await Promise.race([execution.result, timeout]);
    await counting.catch(() => undefined);
    result = {
      status: 'SUCCEEDED',
      executionArn,
      output,
      wallMs: Date.now() - started,
      invocations,
      refusals: faults.refusals,
      transitions,
    };
  } catch (error) {
    await counting.catch(() => undefined);
    result = {
      status: ended?.status ?? 'FAILED',
      executionArn,
      error: ended ? { name: ended.error, cause: ended.cause } : failureOf(error),
      wallMs: Date.now() - started,
      invocations,
      refusals: faults.refusals,
      transitions,
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  }
  record.status = result.status;
  record.stopDate = Date.now();
  if (result.status === 'SUCCEEDED') record.output = JSON.stringify(result.output ?? null);
  if (result.error) {
    record.error = result.error.name;
    record.cause = result.error.cause;
  }
  history.end(result);
  options.onStatusChange?.(statusChange(record, plan));
  return result;
}

/**
 * The parent execution's history as GetExecutionHistory returns it: the execution's start and end and the entering
 * and leaving of its top-level states. The units' states run in child executions (a Distributed Map's Map Run), so
 * they are not in the parent's history; aws-local-stepfunctions runs them inline and marks them with `index`.
 */
function topLevelHistory(
  states: Record<string, AslState>,
  record: EmulatedExecution,
  shownAs: MapIoRewrite['historyName'],
) {
  const events = record.history;
  const push = (type: string, details: Record<string, unknown> = {}) => {
    const id = events.length + 1;
    events.push({ id, previousEventId: id - 1, timestamp: Date.now(), type, ...details });
  };
  push('ExecutionStarted', { executionStartedEventDetails: { input: record.input } });
  return {
    add(event: unknown) {
      const e = event as {
        type?: string;
        index?: number;
        state?: { name: string; input?: unknown; output?: unknown };
      };
      const state = e.state && e.index === undefined ? states[e.state.name] : undefined;
      if (!state || !e.state) return;
      // The emulated Distributed Map's reader, Map and writer are the one Map state: entered with the reader's
      // input, exited with the writer's output (local/distributed-map-io.ts).
      const shown = shownAs.get(e.state.name);
      if (shown && shown.shows !== (e.type === 'StateEntered' ? 'entered' : 'exited')) return;
      const type = shown ? 'Map' : state.Type;
      const name = shown?.map ?? e.state.name;
      if (e.type === 'StateEntered') {
        push(`${type}StateEntered`, {
          stateEnteredEventDetails: { name, input: JSON.stringify(e.state.input ?? null) },
        });
      } else if (e.type === 'StateExited') {
        push(`${type}StateExited`, {
          stateExitedEventDetails: { name, output: JSON.stringify(e.state.output ?? null) },
        });
      }
    },
    end(result: RunResult) {
      if (result.status === 'SUCCEEDED') {
        push('ExecutionSucceeded', {
          executionSucceededEventDetails: { output: JSON.stringify(result.output ?? null) },
        });
        return;
      }
      const details = { error: result.error?.name, cause: result.error?.cause };
      if (result.status === 'ABORTED') push('ExecutionAborted', { executionAbortedEventDetails: details });
      else if (result.status === 'TIMED_OUT')
        push('ExecutionTimedOut', { executionTimedOutEventDetails: details });
      else push('ExecutionFailed', { executionFailedEventDetails: details });
    },
  };
}

/** Appends an event to the execution's history as GetExecutionHistory returns it. */
function pushEvent(record: EmulatedExecution, type: string, details: Record<string, unknown> = {}): void {
  const id = record.history.length + 1;
  record.history.push({ id, previousEventId: id - 1, timestamp: Date.now(), type, ...details });
}

/**
 * The approval gate on the proving ground: records the request as Step Functions does for the SNS callback
 * integration (TaskScheduled with the resolved parameters, the task token in the message; TaskStarted; TaskSubmitted)
 * once the state's TaskStateEntered is in the history, then waits until the emulated SendTaskSuccess (its output is
 * the task's result) or SendTaskFailure (the task fails with its error and cause). Nothing is published: the proving
 * ground has no subscribers, and the history is where `lifeboat approve` reads the request.
 */
async function waitForApproval(
  record: EmulatedExecution,
  state: string,
  parameters: JSONValue,
  token: string,
  region: string,
): Promise<JSONValue> {
  // aws-local-stepfunctions reports StateEntered through its event stream, which the history follows a moment later.
  for (let i = 0; i < 200; i++) {
    const entered = [...record.history].reverse().find((e) => e.type.endsWith('StateEntered'));
    if ((entered?.stateEnteredEventDetails as { name?: string } | undefined)?.name === state) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const integration = { resourceType: 'sns', resource: 'publish.waitForTaskToken' };
  pushEvent(record, 'TaskScheduled', {
    taskScheduledEventDetails: { ...integration, region, parameters: JSON.stringify(parameters) },
  });
  pushEvent(record, 'TaskStarted', { taskStartedEventDetails: integration });
  pushEvent(record, 'TaskSubmitted', {
    taskSubmittedEventDetails: { ...integration, output: JSON.stringify({ MessageId: randomUUID() }) },
  });
  record.issuedTokens ??= new Set();
  record.issuedTokens.add(token);
  record.waitingTasks ??= new Map();
  const tasks = record.waitingTasks;
  return new Promise<JSONValue>((resolve, reject) => {
    tasks.set(token, {
      succeed: (output) => {
        pushEvent(record, 'TaskSucceeded', { taskSucceededEventDetails: { ...integration, output } });
        resolve(JSON.parse(output) as JSONValue);
      },
      fail: (error, cause) => {
        pushEvent(record, 'TaskFailed', { taskFailedEventDetails: { ...integration, error, cause } });
        reject(Object.assign(new Error(cause ?? ''), { name: error ?? 'States.TaskFailed' }));
      },
    });
  });
}

function statusChange(record: EmulatedExecution, plan: FailoverPlan): ExecutionStatusChange {
  return {
    version: '0',
    id: `${record.name}-${record.status}`,
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    account: plan.account,
    time: new Date(record.stopDate ?? Date.now()).toISOString(),
    region: plan.recoveryRegion,
    resources: [record.executionArn],
    detail: {
      executionArn: record.executionArn,
      stateMachineArn: record.stateMachineArn,
      name: record.name,
      status: record.status,
      startDate: record.startDate,
      stopDate: record.stopDate ?? null,
      input: record.input,
      output: record.output ?? null,
      ...(record.error !== undefined ? { error: record.error, cause: record.cause ?? null } : {}),
    },
  };
}

function failureOf(error: unknown): { name: string; cause: string } {
  // aws-local-stepfunctions wraps the state's error in ExecutionError with the original as `cause`.
  const inner = (error as { cause?: unknown })?.cause ?? error;
  if (inner instanceof Error) return { name: inner.name, cause: inner.message };
  return { name: 'Error', cause: String(inner) };
}

function unitOf(event: unknown): string | undefined {
  const unit = (event as { unit?: { name?: unknown } } | null)?.unit;
  return typeof unit?.name === 'string' ? unit.name : undefined;
}

function summary(result: unknown): string | undefined {
  if (result === null || typeof result !== 'object') return undefined;
  const r = result as { outcome?: unknown; status?: unknown; done?: unknown; ok?: unknown };
  if (typeof r.outcome === 'string') return r.outcome;
  if (typeof r.done === 'boolean') return `${String(r.status)}${r.done ? ' (done)' : ''}`;
  if (typeof r.ok === 'boolean') return r.ok ? 'ok' : 'problems';
  return undefined;
}

function pollOf(result: unknown): { poll?: { status: string; done: boolean } } {
  if (result === null || typeof result !== 'object') return {};
  const r = result as { status?: unknown; done?: unknown };
  return typeof r.done === 'boolean' ? { poll: { status: String(r.status), done: r.done } } : {};
}

function stampLocalWait(result: unknown, timeFactor: number): unknown {
  if (result === null || typeof result !== 'object') return result;
  const r = result as { waitSeconds?: unknown };
  if (typeof r.waitSeconds !== 'number') return result;
  const until = new Date(Date.now() + r.waitSeconds * 1000 * timeFactor).toISOString();
  return { ...result, [LOCAL_WAIT_UNTIL]: until };
}

function lambdaContext(step: BundledStep, requestId: string) {
  return {
    functionName: step.logicalId,
    functionVersion: '$LATEST',
    invokedFunctionArn: step.arn,
    memoryLimitInMB: '512',
    awsRequestId: `${requestId}-${step.step}`,
    logGroupName: `/aws/lambda/${step.logicalId}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
