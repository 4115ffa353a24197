import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import * as cxapi from 'aws-cdk-lib/cx-api';
import type { Construct } from 'constructs';
import { POLL_TIMEOUT_ERRORS, RUN_FAILURE_ERRORS } from '../functions/lib/errors.js';
import type { FailoverPlan } from '../functions/lib/plan.js';
import { mapResultsPrefix } from '../functions/lib/run-objects.js';
import { UNIT_OUTCOME_BYTES } from '../functions/lib/state-limits.js';
import {
  branchStop,
  CATCH_ALL_INTO_FAILURE,
  lambdaStep,
  POLL_STATE,
  pollUntilDone,
  sideBySide,
  UNIT_PAYLOAD,
} from './builders.js';
import {
  APPROVAL_RETRY,
  CONNECTIVITY_RETRY,
  connectivityRetryAttempts,
  DATABASE_BUSY_RETRY,
  POLL_LOOPS,
  type StepFunctionName,
} from './steps.js';

export interface FailoverDefinitionProps {
  /** The parsed plan; baked into the definition (a Pass state's Result) so that a console start with `{}` works. */
  readonly plan: FailoverPlan;
  readonly functions: Record<StepFunctionName, lambda.IFunction>;
  /**
   * Where LoadPlan writes the run's units for the Distributed Map to read, and where the Map writes the units'
   * outcomes for the report (the report bucket; functions/lib/run-objects.ts).
   */
  readonly runBucket: s3.IBucket;
  /** When set and plan.approval.onAlarm: alarm-triggered runs wait for a task token announced on this topic. @default no gate */
  readonly approvalTopic?: sns.ITopic;
}

/** Stable, readable state names (tests bind stub handlers by them; the local runner too). */
export const STATE_NAMES = {
  takePlan: 'Take the deployed plan',
  loadPlan: 'Load plan',
  refusedStart: 'Note why the run could not start',
  preflight: 'Run preflight checks',
  needsApproval: 'Does this alarm-started run need approval?',
  askApproval: 'Ask for approval',
  keepUnitNames: 'Keep only the unit names',
  isDryRun: 'Is this a dry run?',
  acquireLock: 'Acquire failover lock',
  failOverUnits: 'Fail over each unit',
  preflightStopped: 'Report that preflight stopped the run',
  stoppedEarly: 'Report that the run stopped before the units',
  // One unit
  isDrillUnit: 'Is this unit a drill?',
  prepareDrill: 'Prepare drill copies',
  useDrillCopies: 'Switch to the drill copies',
  startDrillCopyPolls: 'Start polling drill copies',
  checkDrillCopies: 'Check drill copies',
  areDrillCopiesReady: 'Are the drill copies ready?',
  waitForDrillCopies: 'Wait for drill copies',
  waitForDrillCopiesFallback: 'Wait for drill copies (default interval)',
  countDrillCopyPolls: 'Count drill copy polls',
  drillCopiesReady: 'Drill copies ready',
  drillCopiesTimedOut: 'Drill copies timed out',
  promoteBoth: 'Promote secret and database',
  promoteSecret: 'Promote replica secret',
  secretStopped: 'Secret promotion stopped',
  promoteDatabase: 'Promote database replica',
  databaseStopped: 'Database promotion stopped',
  startDatabasePolls: 'Start polling database promotion',
  checkDatabasePromotion: 'Check database promotion',
  isDatabasePromoted: 'Is the database promoted?',
  waitForDatabasePromotion: 'Wait for database promotion',
  waitForDatabasePromotionFallback: 'Wait for database promotion (default interval)',
  countDatabasePolls: 'Count database promotion polls',
  databasePromoted: 'Database promotion complete',
  databasePromotionTimedOut: 'Database promotion timed out',
  didPromotionsSucceed: 'Did both promotions succeed?',
  keepSecretFailure: 'Keep the secret promotion failure',
  keepDatabaseFailure: 'Keep the database promotion failure',
  collectPromotions: 'Collect promotion results',
  updateDns: 'Point DNS at promoted database',
  startDnsPolls: 'Start polling DNS change',
  checkDnsChange: 'Check DNS change',
  isDnsInSync: 'Is the DNS change in sync?',
  waitForDnsChange: 'Wait for DNS change',
  waitForDnsChangeFallback: 'Wait for DNS change (default interval)',
  countDnsPolls: 'Count DNS change polls',
  dnsInSync: 'DNS change in sync',
  dnsChangeTimedOut: 'DNS change timed out',
  settleRotation: 'Settle an interrupted rotation',
  verifyConnectivity: 'Verify connectivity',
  attachRotation: 'Attach secret rotation',
  isDrillToCleanUp: 'Is there a drill to clean up?',
  startDrillCleanup: 'Start cleaning up drill copies',
  cleanUpDrill: 'Clean up drill copies',
  isDrillCleanedUp: 'Are the drill copies gone?',
  waitForDrillCleanup: 'Wait for drill cleanup',
  waitForDrillCleanupFallback: 'Wait for drill cleanup (default interval)',
  countDrillCleanupPasses: 'Count drill cleanup passes',
  drillCleanedUp: 'Drill cleanup complete',
  drillCleanupTimedOut: 'Drill cleanup timed out',
  // Re-protect (mode reprotect)
  startReprotectPasses: 'Start re-protecting',
  reprotectUnit: 'Re-protect unit',
  isReprotected: 'Is the unit re-protected?',
  waitForReprotect: 'Wait for re-protect',
  waitForReprotectFallback: 'Wait for re-protect (default interval)',
  countReprotectPasses: 'Count re-protect passes',
  reprotected: 'Re-protect complete',
  reprotectTimedOut: 'Re-protect timed out',
  // Switchover (mode switchover): fence, catch up, then the failover's steps; un-fence when it stops before promotion
  fencePrimary: 'Fence writes on the primary',
  startCatchUpPolls: 'Start polling replica catch-up',
  checkCatchUp: 'Check replica catch-up',
  isCaughtUp: 'Has the replica caught up?',
  waitForCatchUp: 'Wait for replica catch-up',
  waitForCatchUpFallback: 'Wait for replica catch-up (default interval)',
  countCatchUpPolls: 'Count replica catch-up polls',
  caughtUp: 'Replica caught up',
  catchUpTimedOut: 'Replica catch-up timed out',
  unfencePrimary: 'Un-fence the primary',
  isSwitchoverPromotionFailure: 'Did a switchover promotion fail?',
  mayBeFenced: 'May the primary be fenced?',
  drillRehearses: 'Does the drill rehearse a switchover?',
  unfenceIfUnpromoted: 'Un-fence the primary if the replica is unpromoted',
  isSwitchoverAfterPromotion: 'Is this unit switching over?',
  liftFence: 'Lift the fence on the promoted database',
  didUnitFail: 'Did the unit fail?',
  unitSucceeded: 'Record unit success',
  unitFailed: 'Record unit failure',
  summarizeUnit: 'Summarize unit outcome',
  unitKeptWhole: 'Keep the unit outcome whole',
  // After the units
  report: 'Write failover report',
  wasRunLoaded: 'May the run hold a lock?',
  releaseLock: 'Release failover lock',
  wasReportWritten: 'Was the report written?',
  didFailoverSucceed: 'Did every unit fail over?',
  succeeded: 'Failover complete',
  failed: 'Failover failed',
  failedWithoutReport: 'Failover ended without a report',
} as const satisfies { readonly [k: string]: string };

const N = STATE_NAMES;

/** Where a drill cleanup problem is kept: in the unit's results, beside (never in place of) the unit's own failure. */
const DRILL_CLEANUP_FAILURE = '$.results.cleanUpDrillFailure';
/** Switchover: where an un-fence that failed is kept, beside the unit's own failure (docs/design/switchover.md). */
const UNFENCE_FAILURE = '$.results.unfencePrimaryFailure';

/** `$.run.of` names what a dry run or a drill exercises (functions/lib/exercised.ts). */
const runOf = (of: 'switchover' | 'reprotect') =>
  sfn.Condition.and(sfn.Condition.isPresent('$.run.of'), sfn.Condition.stringEquals('$.run.of', of));
/** A switchover, or a dry run or drill of one: the fence, the catch-up and the lift are in its path. */
const EXERCISES_SWITCHOVER = sfn.Condition.or(
  sfn.Condition.stringEquals('$.run.mode', 'switchover'),
  runOf('switchover'),
);

/**
 * An Aurora unit (functions/lib/plan-names.ts isAuroraUnit): its switchover is Aurora's own managed, zero-loss
 * SwitchoverGlobalCluster, so lifeboat's fence, catch-up and lift are not in its path (docs/design/aurora.md).
 */
const AURORA_UNIT = sfn.Condition.stringMatches('$.unit.database.engine', 'aurora-*');
const NOT_AURORA_UNIT = sfn.Condition.not(AURORA_UNIT);

/** Label of the units' Map Run: child executions are named `<label>:<id>` and their ARNs sit under it. */
export const UNIT_MAP_RUN_LABEL = 'units';
const EXECUTION = {
  id: sfn.JsonPath.executionId,
  name: sfn.JsonPath.executionName,
  startTime: sfn.JsonPath.executionStartTime,
};

/**
 * The failover, as one Step Functions definition (docs/design.md, "The state machine"):
 *
 *   plan -> LoadPlan -> Preflight -> [approval] -> lock -> Map(unit) -> Report -> ReleaseLock -> Succeed | Fail
 *
 * State data between steps: `{run, units, plannedUnits, unitsKey}` from LoadPlan (which also writes `units` to the
 * report bucket at `unitsKey`), then `{run, plannedUnits, unitsKey, preflight, lock?}`: the preflight and the Map read
 * the unit plans from S3 and writes each unit's outcome `{unit, engine, status, results, failure?}` to S3, and `mapRun` says where. Any failure before the Map is caught into `failure` and the
 * run is reported (failed) and the lock released before the execution fails. A dry run does not take the lock: it
 * changes nothing, and must not block a real failover started at the same time.
 */
export function buildFailoverDefinition(scope: Construct, props: FailoverDefinitionProps): sfn.IChainable {
  const { plan, functions: fn } = props;
  const step = (
    name: StepFunctionName,
    stateName: string,
    rest: Omit<Parameters<typeof lambdaStep>[2], 'fn'>,
  ) => lambdaStep(scope, stateName, { fn: fn[name], ...rest });

  // --- After the units (built first: every failure path leads here) -------------------------------------------
  const succeeded = new sfn.Succeed(scope, N.succeeded, { stateName: N.succeeded });
  const failed = new sfn.Fail(scope, N.failed, {
    stateName: N.failed,
    errorPath: '$.error',
    causePath: '$.summary',
  });
  const failedWithoutReport = new sfn.Fail(scope, N.failedWithoutReport, {
    stateName: N.failedWithoutReport,
    error: RUN_FAILURE_ERRORS.reportFailed,
    causePath: '$.reportFailure.Cause',
  });
  const outcome = new sfn.Choice(scope, N.wasReportWritten, { stateName: N.wasReportWritten })
    .when(
      sfn.Condition.isPresent('$.outcome'),
      new sfn.Choice(scope, N.didFailoverSucceed, { stateName: N.didFailoverSucceed })
        .when(sfn.Condition.stringEquals('$.outcome', 'succeeded'), succeeded)
        .otherwise(failed),
    )
    .otherwise(failedWithoutReport);
  // Only deletes a lock this run holds (conditional delete), so it is safe on every path that may hold one.
  const releaseLock = step('releaseLock', N.releaseLock, {
    payload: { run: sfn.JsonPath.objectAt('$.run') },
    resultPath: '$.lockRelease',
  })
    .addCatch(outcome, { errors: [sfn.Errors.ALL], resultPath: '$.lockReleaseFailure' })
    .next(outcome);
  // A run refused by LoadPlan has no `run`, and holds no lock; a dry run never takes one, and makes no mutating call
  // at all, not even a conditional delete that would change nothing.
  const releaseIfLoaded = new sfn.Choice(scope, N.wasRunLoaded, { stateName: N.wasRunLoaded })
    .when(
      sfn.Condition.and(
        sfn.Condition.isPresent('$.run'),
        sfn.Condition.not(sfn.Condition.stringEquals('$.run.mode', 'dry-run')),
      ),
      releaseLock,
    )
    .otherwise(outcome);
  // The report's input is the state as it stands (its fields depend on how far the run got); its output replaces
  // the state: it is the execution's output, and carries `run` for the lock release.
  const report = step('report', N.report, {})
    .addCatch(releaseIfLoaded, { errors: [sfn.Errors.ALL], resultPath: '$.reportFailure' })
    .next(releaseIfLoaded);
  const stoppedBeforeUnits = (stateName: string, reached: Record<string, unknown>) =>
    new sfn.Pass(scope, stateName, {
      stateName,
      parameters: {
        run: sfn.JsonPath.objectAt('$.run'),
        ...reached,
        units: [],
        plannedUnits: sfn.JsonPath.listAt('$.plannedUnits'),
        failure: sfn.JsonPath.objectAt('$.failure'),
      },
    }).next(report);
  const preflightStopped = stoppedBeforeUnits(N.preflightStopped, {});
  const stoppedEarly = stoppedBeforeUnits(N.stoppedEarly, {
    preflight: sfn.JsonPath.objectAt('$.preflight'),
  });
  const refusedStart = new sfn.Pass(scope, N.refusedStart, {
    stateName: N.refusedStart,
    parameters: {
      planName: plan.name,
      execution: EXECUTION,
      units: [],
      failure: sfn.JsonPath.objectAt('$.failure'),
    },
  }).next(report);

  // --- One unit ----------------------------------------------------------------------------------------------
  // A unit's outcome: what it reached, and (when failed) why it stopped. The record's TTL is kept because clients
  // cache DNS: the report says when the record changed and how long old answers may live.
  const unitOutcome = (status: 'succeeded' | 'failed', rest: Record<string, unknown> = {}) => ({
    unit: sfn.JsonPath.stringAt('$.unit.name'),
    engine: sfn.JsonPath.stringAt('$.unit.database.engine'),
    dns: {
      recordName: sfn.JsonPath.stringAt('$.unit.dns.recordName'),
      ttl: sfn.JsonPath.numberAt('$.unit.dns.ttl'),
      strategy: sfn.JsonPath.stringAt('$.unit.dns.strategy'),
    },
    status,
    results: sfn.JsonPath.objectAt('$.results'),
    ...rest,
  });
  // The unit's outcome is the child execution's output, which the Map writes to S3 (its ResultWriter): it keeps the
  // whole outcome, and the last step only bounds a runaway step detail (functions/lib/report/trim.ts,
  // summarizeUnitOutcome) below the child's own 256 KiB output. If that step cannot run, the outcome goes back whole
  // (the input of a catch with a discarded result).
  const summarizeUnit = step('summarizeUnit', N.summarizeUnit, {
    payload: {
      outcome: sfn.JsonPath.objectAt('$'),
      budgetBytes: UNIT_OUTCOME_BYTES,
    },
  }).addCatch(new sfn.Succeed(scope, N.unitKeptWhole, { stateName: N.unitKeptWhole }), {
    errors: [sfn.Errors.ALL],
    resultPath: sfn.JsonPath.DISCARD,
  });
  const unitFailed = new sfn.Pass(scope, N.unitFailed, {
    stateName: N.unitFailed,
    parameters: unitOutcome('failed', { failure: sfn.JsonPath.objectAt('$.failure') }),
  }).next(summarizeUnit);
  const unitSucceeded = new sfn.Pass(scope, N.unitSucceeded, {
    stateName: N.unitSucceeded,
    parameters: unitOutcome('succeeded'),
  }).next(summarizeUnit);
  const didUnitFail = new sfn.Choice(scope, N.didUnitFail, { stateName: N.didUnitFail })
    .when(sfn.Condition.isPresent('$.failure'), unitFailed)
    .otherwise(unitSucceeded);

  // Every way out of a unit comes here, success or failure. A drill deletes its copies first, whatever happened
  // (functions/lib/drill.ts, cleanUpDrillCopies: from the run and the unit's name alone, each copy checked by tag
  // before its delete); a cleanup problem is kept beside the unit's own failure, never in its place.
  const cleanUp = pollUntilDone(scope, {
    names: {
      start: N.startDrillCleanup,
      decide: N.isDrillCleanedUp,
      wait: N.waitForDrillCleanup,
      waitFallback: N.waitForDrillCleanupFallback,
      count: N.countDrillCleanupPasses,
      done: N.drillCleanedUp,
      timedOut: N.drillCleanupTimedOut,
    },
    check: step('cleanUpDrill', N.cleanUpDrill, {
      payload: { ...UNIT_PAYLOAD, attempt: sfn.JsonPath.numberAt(POLL_STATE.attempt) },
      resultPath: POLL_STATE.result,
    }).addCatch(didUnitFail, { errors: [sfn.Errors.ALL], resultPath: DRILL_CLEANUP_FAILURE }),
    ...POLL_LOOPS.drillCleanup,
    resultKey: 'cleanUpDrill',
    keep: ['resources', 'remaining'],
    timeoutError: POLL_TIMEOUT_ERRORS.drillCleanup,
    timeoutCause: 'drill copies were still not deleted',
    failurePath: DRILL_CLEANUP_FAILURE,
    onTimeout: didUnitFail,
  }).next(didUnitFail);
  const finishUnit = new sfn.Choice(scope, N.isDrillToCleanUp, { stateName: N.isDrillToCleanUp })
    .when(sfn.Condition.stringEquals('$.run.mode', 'drill'), cleanUp)
    .otherwise(didUnitFail);

  const secretStopped = branchStop(scope, N.secretStopped);
  // The database branch keeps its own failure in its results too: the secret branch's failure takes the unit's
  // `failure` when both fail, and a switchover's un-fence must know whether PromoteReadReplica may have been accepted.
  const databaseStopped = new sfn.Pass(scope, N.databaseStopped, {
    stateName: N.databaseStopped,
    parameters: {
      Error: sfn.JsonPath.stringAt('$.failure.Error'),
      Cause: sfn.JsonPath.stringAt('$.failure.Cause'),
    },
    resultPath: '$.results.promoteDatabaseFailure',
  });
  // A switchover whose promotion failed: the primary is un-fenced only when DescribeDBInstances proves the replica
  // still a replica and PromoteReadReplica was refused or never sent; otherwise the step says why the fence stays
  // (docs/design/switchover.md, "Stopping at the promotion"). Either answer is kept beside the unit's failure.
  const unfenceIfUnpromoted = step('fenceWrites', N.unfenceIfUnpromoted, {
    payload: {
      ...UNIT_PAYLOAD,
      action: 'unfence-if-unpromoted',
      results: sfn.JsonPath.objectAt('$.results'),
    },
    resultPath: '$.results.unfencePrimary',
  })
    .addCatch(finishUnit, { errors: [sfn.Errors.ALL], resultPath: UNFENCE_FAILURE })
    .next(finishUnit);
  const afterPromotionFailure = new sfn.Choice(scope, N.isSwitchoverPromotionFailure, {
    stateName: N.isSwitchoverPromotionFailure,
  })
    .when(
      sfn.Condition.and(sfn.Condition.stringEquals('$.run.mode', 'switchover'), NOT_AURORA_UNIT),
      unfenceIfUnpromoted,
    )
    .otherwise(finishUnit);
  const promoteBoth = sideBySide(
    scope,
    {
      parallel: N.promoteBoth,
      decide: N.didPromotionsSucceed,
      keepFailure: [N.keepSecretFailure, N.keepDatabaseFailure],
      collect: N.collectPromotions,
    },
    [
      step('promoteSecret', N.promoteSecret, {
        payload: UNIT_PAYLOAD,
        resultPath: '$.results.promoteSecret',
      }).addCatch(secretStopped, CATCH_ALL_INTO_FAILURE),
      step('promoteDatabase', N.promoteDatabase, {
        payload: UNIT_PAYLOAD,
        resultPath: '$.results.promoteDatabase',
        extraRetries: [DATABASE_BUSY_RETRY],
      })
        .addCatch(databaseStopped, CATCH_ALL_INTO_FAILURE)
        .next(
          pollUntilDone(scope, {
            names: {
              start: N.startDatabasePolls,
              decide: N.isDatabasePromoted,
              wait: N.waitForDatabasePromotion,
              waitFallback: N.waitForDatabasePromotionFallback,
              count: N.countDatabasePolls,
              done: N.databasePromoted,
              timedOut: N.databasePromotionTimedOut,
            },
            check: step('checkDatabasePromotion', N.checkDatabasePromotion, {
              payload: { ...UNIT_PAYLOAD, attempt: sfn.JsonPath.numberAt(POLL_STATE.attempt) },
              resultPath: POLL_STATE.result,
            }).addCatch(databaseStopped, CATCH_ALL_INTO_FAILURE),
            ...POLL_LOOPS.databasePromotion,
            resultKey: 'waitForDatabasePromotion',
            timeoutError: POLL_TIMEOUT_ERRORS.databasePromotion,
            timeoutCause: 'RDS did not report the promoted instance available and standalone',
          }),
        ),
    ],
    afterPromotionFailure,
  );

  const pointDns = step('updateDns', N.updateDns, {
    payload: UNIT_PAYLOAD,
    resultPath: '$.results.updateDns',
  })
    .addCatch(finishUnit, CATCH_ALL_INTO_FAILURE)
    .next(
      pollUntilDone(scope, {
        names: {
          start: N.startDnsPolls,
          decide: N.isDnsInSync,
          wait: N.waitForDnsChange,
          waitFallback: N.waitForDnsChangeFallback,
          count: N.countDnsPolls,
          done: N.dnsInSync,
          timedOut: N.dnsChangeTimedOut,
        },
        check: step('checkDnsChange', N.checkDnsChange, {
          payload: {
            ...UNIT_PAYLOAD,
            changeId: sfn.JsonPath.stringAt('$.results.updateDns.detail.changeId'),
            attempt: sfn.JsonPath.numberAt(POLL_STATE.attempt),
          },
          resultPath: POLL_STATE.result,
        }).addCatch(finishUnit, CATCH_ALL_INTO_FAILURE),
        ...POLL_LOOPS.dnsChange,
        resultKey: 'waitForDnsInSync',
        timeoutError: POLL_TIMEOUT_ERRORS.dnsChange,
        timeoutCause: 'Route 53 did not report the record change INSYNC',
        onTimeout: finishUnit,
      }),
    );

  // Settle an interrupted rotation, verify, then attach rotation (docs/aws/secrets-manager-rotation.md). An
  // AWSPENDING left by a rotation the disaster interrupted may hold the password the database now takes: the
  // attachRotation function tries both credentials and finishes or clears that rotation, so that verification reads
  // the working AWSCURRENT. RotateSecret runs the rotation function's testSecret even when it does not rotate now,
  // which logs in to the promoted database: rotation is attached only once it is verified, and a rotation that fails
  // then leaves the verified result in place for the report (functions/lib/report/build.ts).
  const settleRotation = step('attachRotation', N.settleRotation, {
    payload: { ...UNIT_PAYLOAD, phase: 'settle' },
    resultPath: '$.results.settleRotation',
  }).addCatch(finishUnit, CATCH_ALL_INTO_FAILURE);
  const verify = step('verifyConnectivity', N.verifyConnectivity, {
    payload: {
      ...UNIT_PAYLOAD,
      // When and how the record changed: the step's own budget runs from the change in sync for the larger of the
      // record's previous TTL and its new one (functions/lib/verify/budget.ts).
      dns: {
        change: sfn.JsonPath.objectAt('$.results.updateDns.detail'),
        inSync: sfn.JsonPath.objectAt('$.results.waitForDnsInSync'),
      },
    },
    resultPath: '$.results.verifyConnectivity',
    // Clients (and this check) may hold the old answer for up to the record's TTL after the change is INSYNC.
    extraRetries: [
      {
        errors: [CONNECTIVITY_RETRY.error],
        interval: Duration.seconds(CONNECTIVITY_RETRY.intervalSeconds),
        backoffRate: CONNECTIVITY_RETRY.backoffRate,
        maxDelay: Duration.seconds(CONNECTIVITY_RETRY.maxDelaySeconds),
        maxAttempts: connectivityRetryAttempts(plan),
        jitterStrategy: sfn.JitterType.NONE,
      },
    ],
  }).addCatch(finishUnit, CATCH_ALL_INTO_FAILURE);
  const attachRotation = step('attachRotation', N.attachRotation, {
    payload: UNIT_PAYLOAD,
    resultPath: '$.results.attachRotation',
  }).addCatch(finishUnit, CATCH_ALL_INTO_FAILURE);

  // A Distributed Map: each unit runs as its own STANDARD child execution with its own 25,000-event history, so a
  // 500-unit plan's polls and retries cannot exhaust the parent's history. Every unit catches its own failures and
  // returns an outcome; a child that fails outright (a runtime fault, a stopped child) must not take the others'
  // outcomes with it, so every failure is tolerated and the report counts a unit without an outcome as failed.
  // The units come from S3 (LoadPlan wrote them) and the outcomes go to S3, so the parent's state does not grow with
  // the units: its output is the Map Run's manifest reference, which the report reads (docs/design/fleet.md, "No
  // ceiling at 100 units"; docs/aws/step-functions-distributed-map.md).
  const failOverUnits = new sfn.DistributedMap(scope, N.failOverUnits, {
    stateName: N.failOverUnits,
    itemReader: new sfn.S3JsonItemReader({
      bucket: props.runBucket,
      key: sfn.JsonPath.stringAt('$.unitsKey'),
    }),
    resultWriterV2: new sfn.ResultWriterV2({ bucket: props.runBucket, prefix: mapResultsPrefix(plan.name) }),
    itemSelector: {
      run: sfn.JsonPath.objectAt('$.run'),
      unit: sfn.JsonPath.objectAt('$$.Map.Item.Value'),
      results: {},
    },
    maxConcurrency: plan.maxConcurrency,
    mapExecutionType: sfn.StateMachineType.STANDARD,
    toleratedFailurePercentage: 100,
    label: UNIT_MAP_RUN_LABEL,
    resultPath: '$.mapRun',
  });
  // resultWriterV2 renders only under its feature flag; set on this one state, so that the app's flags need not carry
  // it (the deprecated ResultWriter renders the same fields).
  failOverUnits.node.setContext(cxapi.STEPFUNCTIONS_USE_DISTRIBUTED_MAP_RESULT_WRITER_V2, true);
  pointDns.next(settleRotation).next(verify).next(attachRotation).next(finishUnit);
  // A switchover's promoted replica inherited the fence through replication: lifted there before DNS moves, so that
  // the first application session to arrive can write (docs/design/switchover.md). A failure from here on leaves the
  // old primary fenced: something may already be promoted.
  const liftFence = step('fenceWrites', N.liftFence, {
    payload: { ...UNIT_PAYLOAD, action: 'lift' },
    resultPath: '$.results.liftFence',
  })
    .addCatch(finishUnit, CATCH_ALL_INTO_FAILURE)
    .next(pointDns);
  promoteBoth.next(
    new sfn.Choice(scope, N.isSwitchoverAfterPromotion, { stateName: N.isSwitchoverAfterPromotion })
      .when(sfn.Condition.and(EXERCISES_SWITCHOVER, NOT_AURORA_UNIT), liftFence)
      .otherwise(pointDns),
  );

  // A drill first makes the unit's disposable copies and waits for them, then runs the very same steps on a unit whose
  // secret, replica and record are the copies; production is only read (functions/lib/drill.ts).
  const drillCopies = pollUntilDone(scope, {
    names: {
      start: N.startDrillCopyPolls,
      decide: N.areDrillCopiesReady,
      wait: N.waitForDrillCopies,
      waitFallback: N.waitForDrillCopiesFallback,
      count: N.countDrillCopyPolls,
      done: N.drillCopiesReady,
      timedOut: N.drillCopiesTimedOut,
    },
    check: step('checkDrillCopies', N.checkDrillCopies, {
      payload: { ...UNIT_PAYLOAD, attempt: sfn.JsonPath.numberAt(POLL_STATE.attempt) },
      resultPath: POLL_STATE.result,
    }).addCatch(finishUnit, CATCH_ALL_INTO_FAILURE),
    ...POLL_LOOPS.drillCopies,
    resultKey: 'waitForDrillCopies',
    timeoutError: POLL_TIMEOUT_ERRORS.drillCopies,
    timeoutCause: 'the drill replica was not available with its secret InSync',
    onTimeout: finishUnit,
  });
  const useDrillCopies = new sfn.Pass(scope, N.useDrillCopies, {
    stateName: N.useDrillCopies,
    parameters: {
      run: sfn.JsonPath.objectAt('$.run'),
      unit: sfn.JsonPath.objectAt('$.drill.drillUnit'),
      results: {
        prepareDrill: Object.fromEntries(
          ['outcome', 'startedAt', 'endedAt', 'durationMs', 'detail', 'warnings', 'resources'].map(
            (field) => [field, sfn.JsonPath.objectAt(`$.drill.${field}`)],
          ),
        ),
      },
    },
  });
  // A drill of a switchover (`of`) rehearses it on the copies: the fence checked on the production primary, never
  // applied, then the catch-up on the copy and the same steps (docs/design/switchover.md, "Dry run and drill").
  const drillRehearses = new sfn.Choice(scope, N.drillRehearses, { stateName: N.drillRehearses });
  const prepareDrill = step('prepareDrill', N.prepareDrill, { payload: UNIT_PAYLOAD, resultPath: '$.drill' })
    .addCatch(finishUnit, CATCH_ALL_INTO_FAILURE)
    .next(useDrillCopies)
    .next(drillCopies)
    .next(drillRehearses);
  // Re-protect: one converging pass at a time until the old Region holds a replica again (functions/lib/reprotect/).
  const reprotect = pollUntilDone(scope, {
    names: {
      start: N.startReprotectPasses,
      decide: N.isReprotected,
      wait: N.waitForReprotect,
      waitFallback: N.waitForReprotectFallback,
      count: N.countReprotectPasses,
      done: N.reprotected,
      timedOut: N.reprotectTimedOut,
    },
    check: step('reprotectUnit', N.reprotectUnit, {
      payload: { ...UNIT_PAYLOAD, attempt: sfn.JsonPath.numberAt(POLL_STATE.attempt) },
      resultPath: POLL_STATE.result,
      extraRetries: [DATABASE_BUSY_RETRY],
    }).addCatch(finishUnit, CATCH_ALL_INTO_FAILURE),
    ...POLL_LOOPS.reprotect,
    resultKey: 'reprotect',
    keep: ['warnings'],
    timeoutError: POLL_TIMEOUT_ERRORS.reprotect,
    timeoutCause: 'the new replica was not replicating with the secret InSync',
    onTimeout: finishUnit,
  }).next(finishUnit);
  // Switchover: fence the primary, wait until the replica has replayed everything committed before the fence, then
  // the very steps of a failover. A failure of the fence or the catch-up, or a replica that does not catch up within
  // the run's bound, un-fences the primary and stops the unit with nothing promoted; a failure of the promotions
  // un-fences only a primary whose replica is proven unpromoted, and a failure after them leaves the primary fenced
  // (docs/design/switchover.md, "Stopping before promotion"). The un-fence's own failure is kept beside the unit's
  // failure, never in its place.
  const unfencePrimaryStep = step('fenceWrites', N.unfencePrimary, {
    payload: { ...UNIT_PAYLOAD, action: 'unfence' },
    resultPath: '$.results.unfencePrimary',
  })
    .addCatch(finishUnit, { errors: [sfn.Errors.ALL], resultPath: UNFENCE_FAILURE })
    .next(finishUnit);
  // A dry run or a drill only checks the fence, never applies it to the production primary: nothing to un-fence.
  const unfencePrimary = new sfn.Choice(scope, N.mayBeFenced, { stateName: N.mayBeFenced })
    .when(sfn.Condition.stringEquals('$.run.mode', 'switchover'), unfencePrimaryStep)
    .otherwise(finishUnit);
  const catchUp = pollUntilDone(scope, {
    names: {
      start: N.startCatchUpPolls,
      decide: N.isCaughtUp,
      wait: N.waitForCatchUp,
      waitFallback: N.waitForCatchUpFallback,
      count: N.countCatchUpPolls,
      done: N.caughtUp,
      timedOut: N.catchUpTimedOut,
    },
    check: step('checkCatchUp', N.checkCatchUp, {
      payload: {
        ...UNIT_PAYLOAD,
        fence: sfn.JsonPath.objectAt('$.results.fencePrimary.detail'),
        attempt: sfn.JsonPath.numberAt(POLL_STATE.attempt),
      },
      resultPath: POLL_STATE.result,
    }).addCatch(unfencePrimary, CATCH_ALL_INTO_FAILURE),
    ...POLL_LOOPS.catchUp,
    resultKey: 'waitForCatchUp',
    timeoutError: 'CatchUpTimeoutError',
    timeoutCause: "the replica had not replayed the primary's position read after the fence",
    onTimeout: unfencePrimary,
  }).next(promoteBoth);
  const fencePrimary = step('fenceWrites', N.fencePrimary, {
    payload: { ...UNIT_PAYLOAD, action: 'fence' },
    resultPath: '$.results.fencePrimary',
  })
    .addCatch(unfencePrimary, CATCH_ALL_INTO_FAILURE)
    .next(catchUp);
  drillRehearses
    .when(sfn.Condition.and(runOf('switchover'), NOT_AURORA_UNIT), fencePrimary)
    .otherwise(promoteBoth);
  const startUnit = new sfn.Choice(scope, N.isDrillUnit, { stateName: N.isDrillUnit })
    // An Aurora unit switches over with SwitchoverGlobalCluster alone (functions/lib/aurora/promote.ts); a drill still
    // makes its copies first (prepareDrill).
    .when(
      sfn.Condition.and(
        AURORA_UNIT,
        sfn.Condition.or(
          sfn.Condition.stringEquals('$.run.mode', 'switchover'),
          sfn.Condition.and(sfn.Condition.stringEquals('$.run.mode', 'dry-run'), runOf('switchover')),
        ),
      ),
      promoteBoth,
    )
    .when(sfn.Condition.stringEquals('$.run.mode', 'switchover'), fencePrimary)
    .when(sfn.Condition.stringEquals('$.run.mode', 'reprotect'), reprotect)
    .when(sfn.Condition.stringEquals('$.run.mode', 'drill'), prepareDrill)
    // A dry run shows the calls of the mode it names (`of`): the same steps, each planning instead of acting.
    .when(runOf('switchover'), fencePrimary)
    .when(runOf('reprotect'), reprotect)
    .otherwise(promoteBoth);
  failOverUnits.itemProcessor(startUnit);
  failOverUnits.addCatch(stoppedEarly, CATCH_ALL_INTO_FAILURE).next(report);

  // --- Before the units ----------------------------------------------------------------------------------------
  const acquireLock = step('acquireLock', N.acquireLock, {
    payload: { run: sfn.JsonPath.objectAt('$.run') },
    resultPath: '$.lock',
  })
    .addCatch(stoppedEarly, CATCH_ALL_INTO_FAILURE)
    .next(failOverUnits);
  const lockUnlessDryRun = new sfn.Choice(scope, N.isDryRun, { stateName: N.isDryRun })
    .when(sfn.Condition.stringEquals('$.run.mode', 'dry-run'), failOverUnits)
    .otherwise(acquireLock);

  let afterPreflight: sfn.IChainable = lockUnlessDryRun;
  if (props.approvalTopic && plan.approval.onAlarm) {
    const askApproval = new tasks.SnsPublish(scope, N.askApproval, {
      stateName: N.askApproval,
      topic: props.approvalTopic,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      subject: `lifeboat: approve the failover of ${plan.name}?`.slice(0, 100),
      message: sfn.TaskInput.fromObject({
        taskToken: sfn.JsonPath.taskToken,
        planName: plan.name,
        runId: sfn.JsonPath.stringAt('$.run.runId'),
        executionArn: sfn.JsonPath.stringAt('$.run.executionArn'),
        units: sfn.JsonPath.listAt('$.plannedUnits'),
        preflightWarnings: sfn.JsonPath.listAt('$.preflight.warnings'),
        howToApprove: 'aws stepfunctions send-task-success --task-token <taskToken> --task-output "{}"',
        howToReject:
          'aws stepfunctions send-task-failure --task-token <taskToken> --error ApprovalRejectedError',
      }),
      // No heartbeat: an approver sends one answer, not a pulse. The run fails (reported) when nobody answers.
      taskTimeout: sfn.Timeout.duration(Duration.seconds(plan.approval.timeoutSeconds)),
      resultPath: '$.approval',
    });
    askApproval.addRetry(APPROVAL_RETRY);
    askApproval.addCatch(stoppedEarly, CATCH_ALL_INTO_FAILURE).next(lockUnlessDryRun);
    afterPreflight = new sfn.Choice(scope, N.needsApproval, { stateName: N.needsApproval })
      .when(sfn.Condition.stringEquals('$.run.trigger', 'alarm'), askApproval)
      .otherwise(lockUnlessDryRun);
  }

  // The preflight reads the unit plans from S3 too (functions/preflight.ts).
  const preflight = step('preflight', N.preflight, {
    payload: {
      run: sfn.JsonPath.objectAt('$.run'),
      unitsBucket: props.runBucket.bucketName,
      unitsKey: sfn.JsonPath.stringAt('$.unitsKey'),
    },
    resultPath: '$.preflight',
  })
    .addCatch(preflightStopped, CATCH_ALL_INTO_FAILURE)
    .next(afterPreflight);
  // From here on the state keeps the unit names only: the preflight and the Map read the plans from S3, so the state
  // grows with the units by their names alone (docs/design/fleet.md, "No ceiling at 100 units").
  const keepUnitNames = new sfn.Pass(scope, N.keepUnitNames, {
    stateName: N.keepUnitNames,
    parameters: {
      run: sfn.JsonPath.objectAt('$.run'),
      plannedUnits: sfn.JsonPath.listAt('$.plannedUnits'),
      unitsKey: sfn.JsonPath.stringAt('$.unitsKey'),
    },
  }).next(preflight);

  const loadPlan = step('loadPlan', N.loadPlan, {
    payload: {
      plan: sfn.JsonPath.objectAt('$.plan'),
      input: sfn.JsonPath.executionInput,
      execution: EXECUTION,
      unitsBucket: props.runBucket.bucketName,
    },
  })
    .addCatch(refusedStart, CATCH_ALL_INTO_FAILURE)
    .next(keepUnitNames);

  const takePlan = new sfn.Pass(scope, N.takePlan, {
    stateName: N.takePlan,
    result: sfn.Result.fromObject({ plan }),
  });
  return sfn.Chain.start(takePlan).next(loadPlan);
}
