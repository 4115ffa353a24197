import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { IDLE_FUNCTION_RETRY, TRANSIENT_RETRY } from './steps.js';

/**
 * Small builders that keep `failover.ts` on one screen. Every state name comes from the caller (STATE_NAMES), so
 * the names tests and the console show are decided in one place.
 */

/** Catch everything a step can report (not States.Runtime, which Step Functions never lets a Catch see). */
export const CATCH_ALL_INTO_FAILURE: sfn.CatchProps = { errors: [sfn.Errors.ALL], resultPath: '$.failure' };

/** Payload of every per-unit step. */
export const UNIT_PAYLOAD = {
  run: sfn.JsonPath.objectAt('$.run'),
  unit: sfn.JsonPath.objectAt('$.unit'),
} as const;

export interface LambdaStepProps {
  readonly fn: lambda.IFunction;
  /** The event the Lambda receives. @default the whole state input */
  readonly payload?: Record<string, unknown>;
  /** @default '$' (the payload returned replaces the state) */
  readonly resultPath?: string;
  readonly resultSelector?: Record<string, unknown>;
  /** Retries beyond the transient ones (e.g. connectivity not ready yet). */
  readonly extraRetries?: readonly sfn.RetryProps[];
}

/**
 * A step Lambda as a Task: Resource is the function ARN and the output is the function's return value
 * (`payloadResponseOnly`), and it retries with our policies (not CDK's default Lambda retry): a function that is not
 * ready yet (idle, Pending, its ENI not created), the step's own retriers, then transient errors.
 */
export function lambdaStep(scope: Construct, stateName: string, props: LambdaStepProps): tasks.LambdaInvoke {
  const task = new tasks.LambdaInvoke(scope, stateName, {
    stateName,
    lambdaFunction: props.fn,
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    ...(props.payload ? { payload: sfn.TaskInput.fromObject(props.payload) } : {}),
    ...(props.resultPath ? { resultPath: props.resultPath } : {}),
    ...(props.resultSelector ? { resultSelector: props.resultSelector } : {}),
  });
  // Step Functions uses the first retrier whose ErrorEquals matches (docs/design/retries.md). Each error name is in
  // exactly one retrier, so that the order cannot hand an error to a budget not meant for it: Lambda's refusals of a
  // function that is not ready (the handler never ran), the step's own retriers, then the general one without the
  // names a step's own retrier took (e.g. ResourceBusyError on PromoteDatabase).
  task.addRetry(IDLE_FUNCTION_RETRY);
  const own = props.extraRetries ?? [];
  for (const retry of own) task.addRetry(retry);
  const taken = new Set([...(IDLE_FUNCTION_RETRY.errors ?? []), ...own.flatMap((r) => r.errors ?? [])]);
  task.addRetry({ ...TRANSIENT_RETRY, errors: (TRANSIENT_RETRY.errors ?? []).filter((e) => !taken.has(e)) });
  return task;
}

export interface PollLoopNames {
  /** Pass that sets the attempt counter to 1. */
  readonly start: string;
  /** Choice: done, out of attempts, or wait. */
  readonly decide: string;
  /** Wait for the poll's own `waitSeconds`. */
  readonly wait: string;
  /** Wait a fixed interval when the poll's `waitSeconds` is missing or out of bounds. */
  readonly waitFallback: string;
  /** Pass that adds one to the attempt counter. */
  readonly count: string;
  /** Pass that records the last poll under `results.<resultKey>`. */
  readonly done: string;
  /** Pass that records the timeout under `failure`. */
  readonly timedOut: string;
}

export interface PollLoopProps {
  readonly names: PollLoopNames;
  /** The poll Task; its payload reads the counter at `$.polling.attempt` and its result goes to `$.poll`. */
  readonly check: sfn.TaskStateBase;
  readonly maxAttempts: number;
  readonly minWaitSeconds: number;
  readonly maxWaitSeconds: number;
  readonly fallbackWaitSeconds: number;
  /** Where the final poll is kept: `$.results.<resultKey>`. */
  readonly resultKey: string;
  /** Error name of the timeout (POLL_TIMEOUT_ERRORS). */
  readonly timeoutError: string;
  /** Sentence for the timeout's Cause; the attempts and the last status are appended. */
  readonly timeoutCause: string;
  /** Where the loop goes when it runs out of attempts. @default the timeout Pass ends the branch */
  readonly onTimeout?: sfn.IChainable;
  /** Where the timeout is recorded. @default '$.failure' (the unit's failure) */
  readonly failurePath?: string;
  /** Fields of the poll result kept in the record besides done/status/observedAt/detail; every poll must return them. */
  readonly keep?: readonly string[];
}

/** Where a poll loop keeps its counter and its last result. */
export const POLL_STATE = { attempt: '$.polling.attempt', result: '$.poll' } as const;

/**
 * Polls until `done`, waiting what the poll asks (bounded), at most `maxAttempts` times. The timeout is recorded as
 * data (`$.failure = {Error, Cause}`) rather than a Fail state, so that it can be reported with everything the unit
 * reached; the caller routes it (`onTimeout`).
 */
export function pollUntilDone(scope: Construct, props: PollLoopProps): sfn.Chain {
  const { names } = props;
  const start = new sfn.Pass(scope, names.start, {
    stateName: names.start,
    result: sfn.Result.fromObject({ attempt: 1 }),
    resultPath: '$.polling',
  });
  const done = new sfn.Pass(scope, names.done, {
    stateName: names.done,
    parameters: {
      done: sfn.JsonPath.objectAt('$.poll.done'),
      status: sfn.JsonPath.stringAt('$.poll.status'),
      observedAt: sfn.JsonPath.stringAt('$.poll.observedAt'),
      detail: sfn.JsonPath.objectAt('$.poll.detail'),
      attempts: sfn.JsonPath.numberAt(POLL_STATE.attempt),
      ...Object.fromEntries(
        (props.keep ?? []).map((field) => [field, sfn.JsonPath.objectAt(`$.poll.${field}`)]),
      ),
    },
    resultPath: `$.results.${props.resultKey}`,
  });
  const timedOut = new sfn.Pass(scope, names.timedOut, {
    stateName: names.timedOut,
    parameters: {
      Error: props.timeoutError,
      Cause: sfn.JsonPath.format(
        `${props.timeoutCause} after {} polls; last status: {}`,
        sfn.JsonPath.stringAt(POLL_STATE.attempt),
        sfn.JsonPath.stringAt('$.poll.status'),
      ),
    },
    resultPath: props.failurePath ?? '$.failure',
  });
  if (props.onTimeout) timedOut.next(props.onTimeout);
  const count = new sfn.Pass(scope, names.count, {
    stateName: names.count,
    parameters: { attempt: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt(POLL_STATE.attempt), 1) },
    resultPath: '$.polling',
  });
  // Step Functions waits whole seconds only; the poll contract asks for an integer, the bounds keep it sane.
  const wait = new sfn.Wait(scope, names.wait, {
    stateName: names.wait,
    time: sfn.WaitTime.secondsPath('$.poll.waitSeconds'),
  });
  const waitFallback = new sfn.Wait(scope, names.waitFallback, {
    stateName: names.waitFallback,
    time: sfn.WaitTime.duration(Duration.seconds(props.fallbackWaitSeconds)),
  });
  wait.next(count);
  waitFallback.next(count);
  count.next(props.check);
  const decide = new sfn.Choice(scope, names.decide, { stateName: names.decide })
    .when(sfn.Condition.booleanEquals('$.poll.done', true), done)
    .when(sfn.Condition.numberGreaterThanEquals(POLL_STATE.attempt, props.maxAttempts), timedOut)
    .when(
      sfn.Condition.and(
        sfn.Condition.isNumeric('$.poll.waitSeconds'),
        sfn.Condition.numberGreaterThanEquals('$.poll.waitSeconds', props.minWaitSeconds),
        sfn.Condition.numberLessThanEquals('$.poll.waitSeconds', props.maxWaitSeconds),
      ),
      wait,
    )
    .otherwise(waitFallback);
  start.next(props.check);
  props.check.next(decide);
  return sfn.Chain.custom(start, props.onTimeout ? [done] : [done, timedOut], done);
}

export interface BranchesNames {
  readonly parallel: string;
  /** Choice: did a branch record a failure? */
  readonly decide: string;
  /** Passes that keep branch i's failure with every result both branches reached. */
  readonly keepFailure: readonly [string, string];
  /** Pass that merges both branches' results. */
  readonly collect: string;
}

/**
 * Two branches side by side that never fail: each step in a branch catches into `$.failure` and ends its branch
 * (`branchStop`), so that when one branch fails the other still finishes and its results are kept for the report.
 * Afterwards the results of both are merged (`States.JsonMerge` of the two `results` objects, which start equal and
 * each gain their own keys) and a recorded failure goes to `onFailure`.
 */
export function sideBySide(
  scope: Construct,
  names: BranchesNames,
  branches: readonly [sfn.IChainable, sfn.IChainable],
  onFailure: sfn.IChainable,
): sfn.Chain {
  const parallel = new sfn.Parallel(scope, names.parallel, { stateName: names.parallel });
  parallel.branch(branches[0], branches[1]);
  // Safety net for what a branch could not catch itself; the results reached before the Parallel are kept.
  parallel.addCatch(onFailure, CATCH_ALL_INTO_FAILURE);
  const merged = sfn.JsonPath.jsonMerge(
    sfn.JsonPath.objectAt('$[0].results'),
    sfn.JsonPath.objectAt('$[1].results'),
  );
  const keep = (index: 0 | 1) =>
    new sfn.Pass(scope, names.keepFailure[index], {
      stateName: names.keepFailure[index],
      parameters: {
        run: sfn.JsonPath.objectAt(`$[${index}].run`),
        unit: sfn.JsonPath.objectAt(`$[${index}].unit`),
        results: merged,
        failure: sfn.JsonPath.objectAt(`$[${index}].failure`),
      },
    }).next(onFailure);
  const collect = new sfn.Pass(scope, names.collect, {
    stateName: names.collect,
    parameters: {
      run: sfn.JsonPath.objectAt('$[0].run'),
      unit: sfn.JsonPath.objectAt('$[0].unit'),
      results: merged,
    },
  });
  const decide = new sfn.Choice(scope, names.decide, { stateName: names.decide })
    .when(sfn.Condition.isPresent('$[0].failure'), keep(0))
    .when(sfn.Condition.isPresent('$[1].failure'), keep(1))
    .otherwise(collect);
  parallel.next(decide);
  return sfn.Chain.custom(parallel, [collect], collect);
}

/** The end of a branch that stopped on a failure: its input, with `failure`, is the branch's output. */
export function branchStop(scope: Construct, stateName: string): sfn.Pass {
  return new sfn.Pass(scope, stateName, { stateName });
}
