import { randomUUID } from 'node:crypto';

/**
 * A Distributed Map's ItemReader and ResultWriter on the proving ground. aws-local-stepfunctions 3.0.0 knows the
 * fields (its schema) but does not execute them: it maps over `ItemsPath` and returns the results inline, and a
 * child that fails fails the whole Map whatever ToleratedFailurePercentage says. This rewrites such a Map into three
 * states that do what Step Functions does (docs/aws/step-functions-distributed-map.md):
 *
 *   <name>           a Task that reads the ItemReader's S3 object (a JSON array) from the store;
 *   <name> ‹map›     the Map itself over those items, each child wrapped so that a failure is kept as the child's
 *                    result instead of failing the others (when failures are tolerated);
 *   <name> ‹writer›  a Task that writes the result files and the manifest under `<Prefix>/<Map Run id>/`, and puts
 *                    `{MapRunArn, ResultWriterDetails: {Bucket, Key}}` at the Map's ResultPath.
 *
 * The first keeps the Map's name, so every transition and Catch that leads to the Map leads to it; the others carry
 * the Map's Catch. `historyName` tells the runner how to show them in the parent's history: as the one Map state.
 */

/** The store the proving ground's S3 is (the emulator's buckets), or a test's in-memory bucket. */
export interface MapIoStore {
  get(bucket: string, key: string): Promise<string>;
  put(bucket: string, key: string, body: string): Promise<void>;
}

interface State {
  Type: string;
  Next?: string;
  End?: boolean;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  ResultPath?: string | null;
  OutputPath?: string;
  InputPath?: string;
  ResultSelector?: unknown;
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string | null }[];
  ItemsPath?: string;
  ItemReader?: {
    Resource: string;
    Parameters?: Record<string, unknown>;
    ReaderConfig?: { InputType?: string };
  };
  ResultWriter?: { Resource?: string; Parameters?: Record<string, unknown> };
  ItemProcessor?: { ProcessorConfig?: unknown; StartAt: string; States: Record<string, unknown> };
  ToleratedFailurePercentage?: number;
  ToleratedFailureCount?: number;
  Label?: string;
  [field: string]: unknown;
}

export interface MapIoOptions {
  store: MapIoStore;
  /** The parent execution's state machine: Map Run and child ARNs are named after it. */
  stateMachineArn: string;
}

export interface MapIoRewrite {
  /** Handlers for the reader and writer Tasks, by state name (aws-local-stepfunctions' taskResourceLocalHandlers). */
  handlers: Record<string, (input: unknown) => Promise<unknown>>;
  /** For each state the rewrite added or changed: the Map state it stands for, and which of its events it shows. */
  historyName: Map<string, { map: string; shows: 'entered' | 'exited' | 'none' }>;
}

const ITEMS = 'localMapItems';
const RESULTS = 'localMapResults';
const CHILD_OUTPUT = 'localChildOutput';
const CHILD_FAILURE = 'localChildFailure';

export const mapStateName = (name: string) => `${name} ‹map›`;
export const writerStateName = (name: string) => `${name} ‹writer›`;

/** Rewrites, in place, the top-level Distributed Maps of `states` that have an ItemReader or a ResultWriter. */
export function emulateMapIo(states: Record<string, unknown>, options: MapIoOptions): MapIoRewrite {
  const rewrite: MapIoRewrite = { handlers: {}, historyName: new Map() };
  for (const [name, raw] of Object.entries(states)) {
    const state = raw as State;
    if (state.Type !== 'Map' || (!state.ItemReader && !state.ResultWriter)) continue;
    for (const field of ['InputPath', 'OutputPath', 'ResultSelector'] as const) {
      if (state[field] !== undefined)
        throw new Error(`local Map ${name}: ${field} is not emulated with an ItemReader`);
    }
    const next = state.End ? { End: true as const } : { Next: state.Next as string };
    const catches = state.Catch ? { Catch: state.Catch } : {};
    const map: State = { ...state, ResultPath: `$.${RESULTS}`, Next: writerStateName(name) };
    delete map.End;
    delete map.ItemReader;
    delete map.ResultWriter;
    if (state.ItemReader) {
      const reader = state.ItemReader;
      if (reader.ReaderConfig?.InputType && reader.ReaderConfig.InputType !== 'JSON') {
        throw new Error(
          `local Map ${name}: ItemReader InputType ${reader.ReaderConfig.InputType} is not emulated`,
        );
      }
      states[name] = {
        Type: 'Task',
        Resource: reader.Resource,
        Parameters: reader.Parameters ?? {},
        ResultPath: `$.${ITEMS}`,
        Next: mapStateName(name),
        ...catches,
      };
      map.ItemsPath = `$.${ITEMS}`;
      rewrite.handlers[name] = (input) => readItems(options.store, input as { Bucket: string; Key: string });
    } else {
      states[name] = { Type: 'Pass', Next: mapStateName(name) };
    }
    if (state.ToleratedFailurePercentage !== undefined || state.ToleratedFailureCount !== undefined) {
      map.ItemProcessor = tolerant(state.ItemProcessor as NonNullable<State['ItemProcessor']>);
    }
    states[mapStateName(name)] = map;
    const writer = state.ResultWriter;
    states[writerStateName(name)] = {
      Type: 'Task',
      Resource: writer?.Resource ?? 'arn:aws:states:::s3:putObject',
      // No ResultPath: the result (the state without the items and results, the reference at the Map's ResultPath)
      // replaces the state (aws-local-stepfunctions takes an explicit "$" as a field named "$").
      Parameters: { ...(writer?.Parameters ?? {}), 'localState.$': '$' },
      ...next,
      ...catches,
    };
    rewrite.handlers[writerStateName(name)] = (input) =>
      writeResults(
        options,
        state,
        input as { Bucket?: string; Prefix?: string; localState: Record<string, unknown> },
      );
    rewrite.historyName.set(name, { map: name, shows: 'entered' });
    rewrite.historyName.set(mapStateName(name), { map: name, shows: 'none' });
    rewrite.historyName.set(writerStateName(name), { map: name, shows: 'exited' });
  }
  return rewrite;
}

/** ReaderConfig InputType JSON: the object is a JSON array of items (docs/aws/step-functions-distributed-map.md). */
async function readItems(store: MapIoStore, params: { Bucket: string; Key: string }): Promise<unknown[]> {
  let body: string;
  try {
    body = await store.get(params.Bucket, params.Key);
  } catch (error) {
    throw itemReaderFailed(`could not read s3://${params.Bucket}/${params.Key}: ${(error as Error).message}`);
  }
  let items: unknown;
  try {
    items = JSON.parse(body);
  } catch {
    throw itemReaderFailed(`s3://${params.Bucket}/${params.Key} is not JSON`);
  }
  if (!Array.isArray(items))
    throw itemReaderFailed(`s3://${params.Bucket}/${params.Key} is not a JSON array`);
  return items;
}

function itemReaderFailed(cause: string): Error {
  return Object.assign(new Error(cause), { name: 'States.ItemReaderFailed' });
}

/**
 * Each child inside a Parallel that catches everything: a child that fails ends with its error kept beside its input,
 * the way a Map Run that tolerates failures lets the other children finish and lists the failed one in FAILED_n.
 */
function tolerant(processor: NonNullable<State['ItemProcessor']>): NonNullable<State['ItemProcessor']> {
  const { ProcessorConfig, ...branch } = processor;
  const child = 'Child execution';
  const failed = 'Child execution failed';
  return {
    ...(ProcessorConfig !== undefined ? { ProcessorConfig } : {}),
    StartAt: child,
    States: {
      [child]: {
        Type: 'Parallel',
        Branches: [branch],
        ResultPath: `$.${CHILD_OUTPUT}`,
        End: true,
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: `$.${CHILD_FAILURE}`, Next: failed }],
      },
      [failed]: { Type: 'Pass', End: true },
    },
  };
}

async function writeResults(
  options: MapIoOptions,
  state: State,
  input: { Bucket?: string; Prefix?: string; localState: Record<string, unknown> },
): Promise<unknown> {
  const { [ITEMS]: _items, [RESULTS]: results, ...rest } = input.localState;
  const children = (Array.isArray(results) ? results : []) as Record<string, unknown>[];
  const now = new Date().toISOString();
  const machine = options.stateMachineArn.split(':stateMachine:')[1] ?? 'local';
  const arnBase = options.stateMachineArn.split(':stateMachine:')[0] ?? 'arn:aws:states:local:000000000000';
  const mapRunId = randomUUID();
  const label = state.Label ?? 'Map';
  const mapRunArn = `${arnBase}:mapRun:${machine}/${label}:${mapRunId}`;
  const entries = children.map((child, index) => {
    const wrapped =
      state.ToleratedFailurePercentage !== undefined || state.ToleratedFailureCount !== undefined;
    const {
      [CHILD_OUTPUT]: output,
      [CHILD_FAILURE]: failure,
      ...childInput
    } = wrapped ? child : { [CHILD_OUTPUT]: [child] };
    const name = `${label}:${String(index).padStart(4, '0')}-${mapRunId.slice(0, 8)}`;
    const common = {
      ExecutionArn: `${arnBase}:execution:${machine}/${name}`,
      Input: JSON.stringify(childInput),
      InputDetails: { Included: true },
      Name: name,
      RedriveCount: 0,
      RedriveStatus: 'NOT_REDRIVABLE',
      RedriveStatusReason: 'Execution is SUCCEEDED and cannot be redriven',
      StartDate: now,
      StateMachineArn: options.stateMachineArn,
      StopDate: now,
    };
    if (failure) {
      const f = failure as { Error?: string; Cause?: string };
      return {
        ...common,
        RedriveStatus: 'REDRIVABLE',
        RedriveStatusReason: '',
        Status: 'FAILED',
        Error: f.Error ?? 'States.TaskFailed',
        Cause: f.Cause ?? '',
      };
    }
    const out = (output as unknown[] | undefined)?.[0];
    return {
      ...common,
      Output: JSON.stringify(out ?? null),
      OutputDetails: { Included: true },
      Status: 'SUCCEEDED',
    };
  });
  const bucket = input.Bucket;
  if (!bucket)
    throw Object.assign(new Error('ResultWriter has no Bucket'), { name: 'States.ResultWriterFailed' });
  const dir = input.Prefix ? `${input.Prefix.replace(/\/$/, '')}/${mapRunId}` : mapRunId;
  const resultFiles: Record<'SUCCEEDED' | 'FAILED' | 'PENDING', { Key: string; Size: number }[]> = {
    FAILED: [],
    PENDING: [],
    SUCCEEDED: [],
  };
  try {
    for (const status of ['SUCCEEDED', 'FAILED'] as const) {
      const ofStatus = entries.filter((e) => e.Status === status);
      if (ofStatus.length === 0) continue;
      const key = `${dir}/${status}_0.json`;
      const body = JSON.stringify(ofStatus);
      await options.store.put(bucket, key, body);
      resultFiles[status].push({ Key: key, Size: Buffer.byteLength(body, 'utf8') });
    }
    const manifest = { DestinationBucket: bucket, MapRunArn: mapRunArn, ResultFiles: resultFiles };
    await options.store.put(bucket, `${dir}/manifest.json`, JSON.stringify(manifest));
  } catch (error) {
    throw Object.assign(new Error(`could not write to s3://${bucket}/${dir}/: ${(error as Error).message}`), {
      name: 'States.ResultWriterFailed',
    });
  }
  const reference = {
    MapRunArn: mapRunArn,
    ResultWriterDetails: { Bucket: bucket, Key: `${dir}/manifest.json` },
  };
  return placeAt(rest, state.ResultPath, reference);
}

/** The Map's ResultPath applied to its input (`$`, `null` or a `$.a.b` path). */
function placeAt(input: Record<string, unknown>, path: string | null | undefined, value: unknown): unknown {
  if (path === null) return input;
  if (path === undefined || path === '$') return value;
  const parts = path.replace(/^\$\./, '').split('.');
  const out: Record<string, unknown> = structuredClone(input);
  let at = out;
  for (const part of parts.slice(0, -1)) {
    at[part] = typeof at[part] === 'object' && at[part] !== null ? at[part] : {};
    at = at[part] as Record<string, unknown>;
  }
  at[parts[parts.length - 1] as string] = value;
  return out;
}
