import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, type SFNClient, StopExecutionCommand } from '@aws-sdk/client-sfn';
import {
  awsErrorName,
  FailoverInProgressError,
  InputInvalidError,
  ResourceBusyError,
  toLifeboatError,
} from './errors.js';
import type { Mode } from './plan.js';
import type { RunContext } from './types.js';
import './sdk/dynamodb.js';
import './sdk/sfn.js';

/**
 * One failover of a plan at a time: a DynamoDB item per plan (partition key `planName`), written only when absent,
 * expired, or already ours (a retried acquire by the same run is fine). docs/design/lock.md has the whole design:
 *
 * - the item names its holder's execution; a holder whose execution has ended (DescribeExecution says so) without
 *   releasing is stale, and the next run takes the lock over with a write conditional on that same holder;
 * - a failover takes a running drill's lock: it stops the drill's execution first (its copies are deleted by the
 *   ended-run handler, functions/lib/ended-run.ts); a drill never takes a failover's lock;
 * - `expiresAt` outlives the execution timeout, so a live execution never loses its lock by expiry. Expiry stays a
 *   safety net for the table's TTL: since DynamoDB deletes expired items lazily ("Expiring items by using DynamoDB
 *   Time to Live"), an expired lock is also treated as free by the condition itself.
 */

/** The lock's lifetime when the function is not told the execution timeout (LOCK_LIFETIME_SECONDS): a day. */
export const LOCK_EXPIRY_SECONDS = 24 * 60 * 60;

/** How far the lock outlives the longest an execution may run: the ended-run handler's time, clock skew. */
export const LOCK_MARGIN_SECONDS = 60 * 60;

/** The lifetime of a lock taken by an execution that Step Functions stops after `executionTimeoutSeconds`. */
export function lockLifetimeSeconds(executionTimeoutSeconds: number): number {
  return Math.ceil(executionTimeoutSeconds) + LOCK_MARGIN_SECONDS;
}

/** The error a failover stops a drill's execution with (StopExecution `error`; docs/design/lock.md). */
export const DRILL_PREEMPTED_ERROR = 'DrillPreemptedByFailover';

/** Rounds of read-and-take before giving up to the state machine's retry (each round is one lost race). */
const MAX_TAKE_ROUNDS = 3;

/** Execution statuses after which the execution runs no more states (DescribeExecution; docs/aws/step-functions-execution-events.md). */
export const ENDED_EXECUTION_STATUSES: ReadonlySet<string> = new Set([
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'ABORTED',
]);

const BASE_CONDITION = 'attribute_not_exists(planName) OR holder = :runId OR expiresAt < :now';
const TAKEOVER_CONDITION = 'holder = :oldHolder';

export interface LockDeps {
  dynamodb: DynamoDBClient;
  /** Reads (and for a drill, stops) the holder's execution. Without it a held lock is always refused. */
  sfn?: SFNClient;
}

export interface AcquiredLock {
  lockedAt: string;
  holder: string;
  /** Set when the lock was taken from another run: who held it, and what its execution was when taken. */
  tookOverFrom?: { holder: string; executionArn?: string; status: string; stopped: boolean };
}

export interface LockHolder {
  holder: string;
  executionArn?: string;
  mode?: Mode;
  acquiredAt?: string;
  expiresAt?: number;
}

export interface AcquireOptions {
  /** Seconds from now until the item expires. @default LOCK_EXPIRY_SECONDS */
  lifetimeSeconds?: number;
}

type LockRun = Pick<RunContext, 'runId' | 'planName' | 'executionArn' | 'mode'>;

/** What the holder's execution says about the lock. */
type Verdict =
  | { kind: 'held'; why: string }
  | { kind: 'stale'; status: string }
  | { kind: 'preempt'; status: string };

export async function acquireLock(
  deps: LockDeps,
  tableName: string,
  run: LockRun,
  now: Date = new Date(),
  options: AcquireOptions = {},
): Promise<AcquiredLock> {
  checkRun(run as Partial<LockRun> | undefined, 'acquire');
  const lifetime = options.lifetimeSeconds ?? LOCK_EXPIRY_SECONDS;
  if (!(Number.isInteger(lifetime) && lifetime > 0)) {
    throw new InputInvalidError(
      `the lock's lifetime must be a whole number of seconds above 0, got ${lifetime}`,
      [`lifetimeSeconds: ${lifetime}`],
    );
  }
  const lockedAt = now.toISOString();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const item: Record<string, AttributeValue> = {
    planName: { S: run.planName },
    holder: { S: run.runId },
    executionArn: { S: run.executionArn },
    mode: { S: run.mode },
    acquiredAt: { S: lockedAt },
    expiresAt: { N: String(nowSeconds + lifetime) },
  };

  for (let round = 0; round < MAX_TAKE_ROUNDS; round += 1) {
    const refused = await putLock(deps, tableName, run, item, {
      ConditionExpression: BASE_CONDITION,
      ExpressionAttributeValues: { ':runId': { S: run.runId }, ':now': { N: String(nowSeconds) } },
    });
    if (!refused) return { lockedAt, holder: run.runId };
    const holder = refused.holder ?? (await readLock(deps, tableName, run.planName));
    // Released between our write and our read: the next round takes it.
    if (!holder) continue;

    const verdict = await judge(deps, run, holder);
    if (verdict.kind === 'held') throw inProgress(run, tableName, holder, verdict.why, refused.cause);
    let stopped = false;
    if (verdict.kind === 'preempt') stopped = await stopDrill(deps, run, holder);
    // Conditional on the holder we judged: of two runs taking one stale lock, exactly one wins; the other finds
    // the winner (running) in the next round.
    const lost = await putLock(deps, tableName, run, item, {
      ConditionExpression: TAKEOVER_CONDITION,
      ExpressionAttributeValues: { ':oldHolder': { S: holder.holder } },
    });
    if (!lost) {
      return {
        lockedAt,
        holder: run.runId,
        tookOverFrom: {
          holder: holder.holder,
          ...(holder.executionArn ? { executionArn: holder.executionArn } : {}),
          status: verdict.status,
          stopped,
        },
      };
    }
  }
  throw new ResourceBusyError(
    `the lock of plan ${run.planName} changed hands ${MAX_TAKE_ROUNDS} times while it was being taken`,
  );
}

/** One conditional PutItem; the refusal (with the old item when the service returns it), or undefined when written. */
async function putLock(
  deps: LockDeps,
  tableName: string,
  run: LockRun,
  item: Record<string, AttributeValue>,
  condition: {
    ConditionExpression: string;
    ExpressionAttributeValues: Record<string, AttributeValue>;
  },
): Promise<{ holder: LockHolder | undefined; cause: unknown } | undefined> {
  try {
    await deps.dynamodb.send(
      new PutItemCommand({
        TableName: tableName,
        Item: item,
        ...condition,
        // The holder comes back with the refusal, in the same call (when the service supports it).
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return undefined;
  } catch (error) {
    if (awsErrorName(error) !== 'ConditionalCheckFailedException') {
      throw toLifeboatError(error, `PutItem of the lock of plan ${run.planName} in ${tableName}`);
    }
    const returned = (error as { Item?: Record<string, AttributeValue> }).Item;
    return { holder: returned ? toHolder(returned) : undefined, cause: error };
  }
}

/**
 * Is the holder's execution still running? Ended (SUCCEEDED, FAILED, TIMED_OUT, ABORTED): the lock is stale.
 * Running or about to run again (PENDING_REDRIVE): held — unless this run is a failover and the holder a drill.
 * When the status cannot be read (no ARN, no client, the execution unknown, an error), the lock is held: one at a
 * time comes before liveness, and the item still expires.
 */
async function judge(deps: LockDeps, run: LockRun, holder: LockHolder): Promise<Verdict> {
  if (!holder.executionArn || !deps.sfn) return { kind: 'held', why: 'its execution cannot be checked' };
  let status: string;
  try {
    const out = await deps.sfn.send(new DescribeExecutionCommand({ executionArn: holder.executionArn }));
    status = out.status ?? 'UNKNOWN';
  } catch (error) {
    const name = awsErrorName(error) ?? 'Error';
    return { kind: 'held', why: `its execution's status could not be read (${name})` };
  }
  if (ENDED_EXECUTION_STATUSES.has(status)) return { kind: 'stale', status };
  if (run.mode === 'failover' && holder.mode === 'drill' && status === 'RUNNING') {
    return { kind: 'preempt', status };
  }
  return { kind: 'held', why: `its execution is ${status}` };
}

/**
 * Stops a running drill so that a failover can go on. A stopped execution runs no more states, its Catch included,
 * so the drill's cleanup is the ended-run handler's (on the ABORTED event). An execution that ended meanwhile is fine.
 */
async function stopDrill(deps: LockDeps, run: LockRun, holder: LockHolder): Promise<boolean> {
  const executionArn = holder.executionArn as string;
  const sfn = deps.sfn as SFNClient;
  try {
    await sfn.send(
      new StopExecutionCommand({
        executionArn,
        error: DRILL_PREEMPTED_ERROR,
        cause: `failover run ${run.runId} (execution ${run.executionArn}) took over the lock of plan ${run.planName}; the drill's copies are deleted when its execution has stopped`,
      }),
    );
    return true;
  } catch (error) {
    if (awsErrorName(error) === 'ExecutionDoesNotExist') return false;
    // Stopping an execution that has just ended is refused by some implementations: fine if it has ended.
    const after = await deps.sfn?.send(new DescribeExecutionCommand({ executionArn })).catch(() => undefined);
    if (after?.status && ENDED_EXECUTION_STATUSES.has(after.status)) return false;
    throw toLifeboatError(error, `StopExecution of drill ${executionArn}`);
  }
}

function inProgress(
  run: LockRun,
  tableName: string,
  holder: LockHolder,
  why: string,
  cause: unknown,
): FailoverInProgressError {
  return new FailoverInProgressError(
    `plan ${run.planName} is already being failed over by run ${holder.holder}` +
      `${holder.mode ? ` (${holder.mode})` : ''}` +
      `${holder.executionArn ? ` (execution ${holder.executionArn})` : ''}` +
      `${holder.acquiredAt ? ` since ${holder.acquiredAt}` : ''}: ${why}. ` +
      `${run.mode !== 'failover' && holder.mode === 'failover' ? 'A drill or dry run never takes over a failover. ' : ''}` +
      `If that execution has ended without releasing its lock, delete the item planName=${run.planName} ` +
      `from table ${tableName}; it expires by itself ${holder.expiresAt ? `at ${new Date(holder.expiresAt * 1000).toISOString()}` : 'later'}.`,
    { cause },
  );
}

/**
 * Deletes the lock only if this run holds it: never another execution's (e.g. after FailoverInProgressError), and a
 * lock already gone is fine. Without a run (LoadPlan refused it) there is nothing to release.
 */
export async function releaseLock(
  deps: LockDeps,
  tableName: string,
  run: Pick<RunContext, 'runId' | 'planName'> | null | undefined,
): Promise<{ released: boolean }> {
  if (!run) return { released: false };
  checkRun(run, 'release');
  try {
    await deps.dynamodb.send(
      new DeleteItemCommand({
        TableName: tableName,
        Key: { planName: { S: run.planName } },
        ConditionExpression: 'holder = :runId',
        ExpressionAttributeValues: { ':runId': { S: run.runId } },
      }),
    );
    return { released: true };
  } catch (error) {
    if (awsErrorName(error) === 'ConditionalCheckFailedException') return { released: false };
    throw toLifeboatError(error, `DeleteItem of the lock of plan ${run.planName} in ${tableName}`);
  }
}

/** The current holder, read consistently; undefined when there is no lock. */
export async function readLock(
  deps: LockDeps,
  tableName: string,
  planName: string,
): Promise<LockHolder | undefined> {
  try {
    const out = await deps.dynamodb.send(
      new GetItemCommand({ TableName: tableName, Key: { planName: { S: planName } }, ConsistentRead: true }),
    );
    return out.Item ? toHolder(out.Item) : undefined;
  } catch (error) {
    throw toLifeboatError(error, `GetItem of the lock of plan ${planName} in ${tableName}`);
  }
}

const MODES: ReadonlySet<string> = new Set(['failover', 'dry-run', 'drill']);

function toHolder(item: Record<string, AttributeValue>): LockHolder | undefined {
  const holder = item.holder?.S;
  if (!holder) return undefined;
  const expiresAt = item.expiresAt?.N !== undefined ? Number(item.expiresAt.N) : undefined;
  const mode = item.mode?.S;
  return {
    holder,
    ...(item.executionArn?.S ? { executionArn: item.executionArn.S } : {}),
    ...(mode && MODES.has(mode) ? { mode: mode as Mode } : {}),
    ...(item.acquiredAt?.S ? { acquiredAt: item.acquiredAt.S } : {}),
    ...(expiresAt !== undefined && Number.isFinite(expiresAt) ? { expiresAt } : {}),
  };
}

function checkRun(run: Partial<LockRun> | undefined, what: 'acquire' | 'release'): asserts run is LockRun {
  const required: (keyof LockRun)[] =
    what === 'acquire' ? ['runId', 'planName', 'executionArn', 'mode'] : ['runId', 'planName'];
  const missing = required.filter((k) => typeof run?.[k] !== 'string' || run[k] === '');
  if (missing.length) {
    throw new InputInvalidError(
      `cannot ${what} the lock: ${missing.map((k) => `run.${k}`).join(', ')} missing`,
      missing.map((k) => `run.${k}`).map((k) => `${k}: required`),
    );
  }
}
