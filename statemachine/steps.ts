import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { LAMBDA_NOT_READY_ERROR_NAMES, RETRYABLE_ERROR_NAMES } from '../functions/lib/errors.js';
import type { FailoverPlan } from '../functions/lib/plan.js';
import {
  HEALTH_CHECK_FLIP_SECONDS,
  PREVIOUS_TTL_CEILING_SECONDS,
  RESOLVER_MARGIN_SECONDS,
} from '../functions/lib/verify/budget.js';

/** The step Lambdas of a failover, one per key; the contract of each is in /tmp/contract.md and functions/lib/types.ts. */
export const STEP_FUNCTIONS = [
  'loadPlan',
  'preflight',
  'acquireLock',
  'promoteSecret',
  'promoteDatabase',
  'checkDatabasePromotion',
  'updateDns',
  'checkDnsChange',
  'attachRotation',
  'verifyConnectivity',
  'summarizeUnit',
  'report',
  'releaseLock',
  'prepareDrill',
  'checkDrillCopies',
  'cleanUpDrill',
  'reprotectUnit',
  'fenceWrites',
  'checkCatchUp',
] as const;
export type StepFunctionName = (typeof STEP_FUNCTIONS)[number];

/** Handler entry file of each step, relative to the repository root. Each exports `handler`. */
export const HANDLER_ENTRIES: Record<StepFunctionName, string> = {
  loadPlan: 'functions/load-plan.ts',
  preflight: 'functions/preflight.ts',
  acquireLock: 'functions/acquire-lock.ts',
  promoteSecret: 'functions/promote-secret.ts',
  promoteDatabase: 'functions/promote-database.ts',
  checkDatabasePromotion: 'functions/check-database-promotion.ts',
  updateDns: 'functions/update-dns.ts',
  checkDnsChange: 'functions/check-dns-change.ts',
  attachRotation: 'functions/attach-rotation.ts',
  verifyConnectivity: 'functions/verify-connectivity.ts',
  summarizeUnit: 'functions/summarize-unit.ts',
  report: 'functions/report.ts',
  releaseLock: 'functions/release-lock.ts',
  prepareDrill: 'functions/prepare-drill.ts',
  checkDrillCopies: 'functions/check-drill-copies.ts',
  cleanUpDrill: 'functions/clean-up-drill.ts',
  reprotectUnit: 'functions/reprotect-unit.ts',
  fenceWrites: 'functions/fence-writes.ts',
  checkCatchUp: 'functions/check-catch-up.ts',
};

/**
 * What each retrier waits in all before it gives up: the sum of its pauses, guaranteed for a retrier without jitter,
 * expected (the mean) for one with FULL jitter, which draws each pause at random below its computed value and so
 * halves the sum on average (docs/design/retries.md). The flow tests compute these from the synthesized definition.
 */
export const RETRY_BUDGET_SECONDS = {
  /** TRANSIENT_RETRY, expected. */
  transient: 51,
  /** DATABASE_BUSY_RETRY, expected: longer than a promotion. */
  databaseBusy: 20 * 60,
  /**
   * IDLE_FUNCTION_RETRY, guaranteed: AWS's own waiter for a function to leave Pending gives up after 300 s
   * (docs/aws/lambda-inactive-functions.md, "How long re-activation takes"), and a minute more.
   */
  idleFunction: 6 * 60,
} as const;

/**
 * Transient failures of any step: throttling and 5xx (wrapped as TransientAwsError by the steps), a resource busy
 * for a while, and Lambda's own service errors. Pauses of 1, 2, 4, 8, 16, then 20 s (111 s at most), each drawn at
 * random below that (FULL jitter) so that 100 units retrying together do not throttle again in step: about 55 s
 * expected in all, at least RETRY_BUDGET_SECONDS.transient (docs/design/retries.md).
 */
export const TRANSIENT_RETRY: sfn.RetryProps = {
  errors: [...RETRYABLE_ERROR_NAMES],
  interval: Duration.seconds(1),
  backoffRate: 2,
  maxAttempts: 9,
  maxDelay: Duration.seconds(20),
  jitterStrategy: sfn.JitterType.FULL,
};

/**
 * PromoteReadReplica refused because the replica is busy (`backing-up`, or a promotion already running after a lost
 * response: functions/lib/database.ts). A promotion takes minutes, so this budget must cover one: 20 minutes
 * expected, instead of the general policy's minute. FULL jitter keeps units that got busy together from calling RDS
 * in step (its API bucket is shared by the account: docs/aws/rds-read-replicas.md); it halves each 10 s pause on
 * average, hence 240 retries. The sum of 240 draws stays close to its mean: below 17.5 minutes in fewer than one run
 * in a thousand (docs/design/retries.md).
 */
export const DATABASE_BUSY_RETRY: sfn.RetryProps = {
  errors: ['ResourceBusyError'],
  interval: Duration.seconds(10),
  backoffRate: 1,
  maxAttempts: 240,
  jitterStrategy: sfn.JitterType.FULL,
};

/**
 * Lambda refusing the invocation because the function is not ready: an idle function gone Inactive (its first
 * invocation fails and starts re-activation, which takes minutes for a VPC function), a Pending function, or the
 * ENI creation behind it throttled or at a limit (docs/aws/lambda-inactive-functions.md). The handler never ran, so
 * a retry is always safe. Pauses of 2, 4, 8, 16, 32, then 60 s: 362 s guaranteed, without jitter, because the budget
 * is what matters here and herds do no harm: every invocation of a Pending function is refused at once, and its
 * re-activation happens once, whoever asks (docs/design/retries.md).
 */
export const IDLE_FUNCTION_RETRY: sfn.RetryProps = {
  errors: [...LAMBDA_NOT_READY_ERROR_NAMES],
  interval: Duration.seconds(2),
  backoffRate: 2,
  maxAttempts: 10,
  maxDelay: Duration.seconds(60),
  jitterStrategy: sfn.JitterType.NONE,
};

/**
 * Errors of the approval request (an SNS Publish through Step Functions' optimized integration, which names errors
 * `SNS.<exception>`): only throttling and SNS's internal error are worth another try.
 */
export const APPROVAL_RETRYABLE_ERRORS = ['SNS.ThrottledException', 'SNS.InternalErrorException'] as const;

export const APPROVAL_RETRY: sfn.RetryProps = {
  errors: [...APPROVAL_RETRYABLE_ERRORS],
  interval: Duration.seconds(1),
  backoffRate: 2,
  maxAttempts: 4,
  maxDelay: Duration.seconds(10),
  jitterStrategy: sfn.JitterType.FULL,
};

/**
 * The connectivity check waits out DNS caches: 2, 3, 4.5, 6.75, then every 10 s, without jitter. The verify step
 * itself decides when its budget is spent (functions/lib/verify/budget.ts: the larger of the record's previous and
 * new TTL after the change was in sync, plus an allowance) and then fails with ConnectivityTimeoutError, which is not
 * retried; this static retrier is the ceiling, sized for the largest budget a unit can have
 * (docs/design/verify-budget.md).
 */
export const CONNECTIVITY_RETRY = {
  error: 'ConnectivityNotReadyError',
  intervalSeconds: 2,
  backoffRate: 1.5,
  maxDelaySeconds: 10,
  /** Beyond the largest TTL: resolvers that cache a little longer, and the verify attempt's own time. */
  marginSeconds: RESOLVER_MARGIN_SECONDS,
  /** A `health-check` unit's record flips only when Route 53 health checkers see the old primary fail. */
  healthCheckFlipSeconds: HEALTH_CHECK_FLIP_SECONDS,
  /** The largest previous TTL (read at run time, unknown here) that the verify budget waits out. */
  previousTtlCeilingSeconds: PREVIOUS_TTL_CEILING_SECONDS,
} as const;

/**
 * Seconds the connectivity retry must cover for this plan: the largest TTL a unit's record may have had before the
 * change (up to the ceiling) or gets from the plan, the health-check flip, a margin.
 */
export function connectivityBudgetSeconds(plan: Pick<FailoverPlan, 'units'>): number {
  const maxTtl = Math.max(CONNECTIVITY_RETRY.previousTtlCeilingSeconds, ...plan.units.map((u) => u.dns.ttl));
  const flip = plan.units.some((u) => u.dns.strategy === 'health-check')
    ? CONNECTIVITY_RETRY.healthCheckFlipSeconds
    : 0;
  return maxTtl + flip + CONNECTIVITY_RETRY.marginSeconds;
}

/** The seconds waited before retry number `attempt` (0-based), as Step Functions computes it without jitter. */
export function connectivityRetryDelay(attempt: number): number {
  const { intervalSeconds, backoffRate, maxDelaySeconds } = CONNECTIVITY_RETRY;
  return Math.min(intervalSeconds * backoffRate ** attempt, maxDelaySeconds);
}

/** The fewest retries whose waits add up to the plan's connectivity budget. */
export function connectivityRetryAttempts(plan: Pick<FailoverPlan, 'units'>): number {
  const budget = connectivityBudgetSeconds(plan);
  let attempts = 0;
  let waited = 0;
  while (waited < budget) {
    waited += connectivityRetryDelay(attempts);
    attempts += 1;
  }
  return Math.max(attempts, 1);
}

/**
 * Bounds of the Wait/Choice poll loops. Waits come from the poll's `waitSeconds` (short near the expected
 * completion); a value outside [minWaitSeconds, maxWaitSeconds] is replaced by `fallbackWaitSeconds`, so that a bad
 * poll result can neither stall a failover nor spin it. `maxAttempts` bounds the loop: the database poll asks for
 * 2-4 s (functions/lib/database.ts, promotionPollSeconds), so 300 polls are 20 minutes and more for a promotion that
 * takes minutes; the DNS poll asks for 2 s (functions/lib/dns/update.ts, DNS_POLL_SECONDS), so 150 polls are 5 minutes for a
 * Route 53 change that usually reaches every name server within 60 s.
 */
export const POLL_LOOPS = {
  databasePromotion: { maxAttempts: 300, minWaitSeconds: 1, maxWaitSeconds: 30, fallbackWaitSeconds: 5 },
  dnsChange: { maxAttempts: 150, minWaitSeconds: 1, maxWaitSeconds: 30, fallbackWaitSeconds: 5 },
  /**
   * Drill only. A new cross-Region replica copies a snapshot of the primary across Regions: tens of minutes for a
   * small database, hours for a large one. The poll asks for 30 s while `creating` (functions/lib/drill.ts,
   * drillCopiesPollSeconds): 480 polls are 4 hours at least.
   */
  drillCopies: { maxAttempts: 480, minWaitSeconds: 1, maxWaitSeconds: 30, fallbackWaitSeconds: 10 },
  /** Drill only. Cleanup passes every 10 s (DRILL_CLEANUP_POLL_SECONDS) while a copy is busy: 180 are 30 minutes. */
  drillCleanup: { maxAttempts: 180, minWaitSeconds: 1, maxWaitSeconds: 30, fallbackWaitSeconds: 10 },
  /**
   * Re-protect only. A new cross-Region replica takes tens of minutes to hours (as drillCopies); passes ask for 30 s
   * while it is `creating`, 10 s otherwise (functions/lib/reprotect/reprotect.ts): 480 passes are 4 hours at least.
   */
  reprotect: { maxAttempts: 480, minWaitSeconds: 1, maxWaitSeconds: 30, fallbackWaitSeconds: 10 },
  /**
   * Switchover only. The catch-up poll asks for 1 s (functions/lib/switchover/switchover.ts, CATCH_UP_POLL_SECONDS) and
   * itself fails with CatchUpTimeoutError past the run's bound (at most 3600 s); 4000 polls are the ceiling above it.
   */
  catchUp: { maxAttempts: 4000, minWaitSeconds: 1, maxWaitSeconds: 30, fallbackWaitSeconds: 1 },
} as const;

/** The longest any Wait state of the definition may wait, seconds. */
export const MAX_WAIT_SECONDS = 30;
