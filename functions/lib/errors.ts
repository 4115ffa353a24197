/**
 * One family of errors. Each class sets a literal `name`: Lambda reports it as the error type and the
 * state machine matches it in `ErrorEquals` (bundles keep names, and a literal survives minification anyway).
 * `retryable` says whether the state machine may try the step again; only transient conditions are.
 */
export abstract class LifeboatError extends Error {
  abstract override readonly name: string;
  abstract readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The failover plan does not validate. The message lists every problem with its field path. */
export class PlanInvalidError extends LifeboatError {
  override readonly name = 'PlanInvalidError' as const;
  readonly retryable = false;
  constructor(
    message: string,
    readonly issues: readonly string[] = [],
  ) {
    super(message);
  }
}

/** The execution input has a known field with a wrong value. */
export class InputInvalidError extends LifeboatError {
  override readonly name = 'InputInvalidError' as const;
  readonly retryable = false;
  constructor(
    message: string,
    readonly issues: readonly string[] = [],
  ) {
    super(message);
  }
}

/** A requested mode or feature is not available in this build. */
export class NotSupportedError extends LifeboatError {
  override readonly name = 'NotSupportedError' as const;
  readonly retryable = false;
}

/** Preflight found problems that must be fixed before anything is changed. Lists every one. */
export class PreflightFailedError extends LifeboatError {
  override readonly name = 'PreflightFailedError' as const;
  readonly retryable = false;
  constructor(
    message: string,
    readonly problems: readonly string[] = [],
  ) {
    super(message);
  }
}

/** Another execution holds the plan's lock. */
export class FailoverInProgressError extends LifeboatError {
  override readonly name = 'FailoverInProgressError' as const;
  readonly retryable = false;
}

/** A resource named by the plan does not exist where it must. */
export class ResourceMissingError extends LifeboatError {
  override readonly name = 'ResourceMissingError' as const;
  readonly retryable = false;
}

/** The resources are in a state the plan does not allow (e.g. the secret's host is not the plan's record). */
export class ConfigurationError extends LifeboatError {
  override readonly name = 'ConfigurationError' as const;
  readonly retryable = false;
}

/** The resource is busy for a while (e.g. a replica that is `backing-up`); the same call will work later. */
export class ResourceBusyError extends LifeboatError {
  override readonly name = 'ResourceBusyError' as const;
  readonly retryable = true;
}

/** An AWS call failed for a transient reason (throttling, 5xx, network). */
export class TransientAwsError extends LifeboatError {
  override readonly name = 'TransientAwsError' as const;
  readonly retryable = true;
}

/** An AWS call failed for a reason that a retry will not fix. */
export class AwsCallFailedError extends LifeboatError {
  override readonly name = 'AwsCallFailedError' as const;
  readonly retryable = false;
}

/** An interrupted rotation blocks attaching rotation and could not be cleared safely. */
export class RotationBlockedError extends LifeboatError {
  override readonly name = 'RotationBlockedError' as const;
  readonly retryable = false;
}

/** The database cannot be reached yet (DNS not changed, connection refused, still in recovery). */
export class ConnectivityNotReadyError extends LifeboatError {
  override readonly name = 'ConnectivityNotReadyError' as const;
  readonly retryable = true;
}

/**
 * The database was still not reachable when the verify budget ran out: the larger of the record's previous and new
 * TTL, plus an allowance, after the DNS change was in sync (functions/lib/verify/budget.ts). Not retried.
 */
export class ConnectivityTimeoutError extends LifeboatError {
  override readonly name = 'ConnectivityTimeoutError' as const;
  readonly retryable = false;
}

/** Verification reached the database and proved it is wrong (not the promoted instance, read-only, query failed). */
export class VerificationFailedError extends LifeboatError {
  override readonly name = 'VerificationFailedError' as const;
  readonly retryable = false;
}

/**
 * Switchover: the replica had not replayed everything the primary committed before the fence when the catch-up bound
 * ran out (docs/design/switchover.md). The primary is un-fenced and nothing is promoted. Not retried.
 */
export class CatchUpTimeoutError extends LifeboatError {
  override readonly name = 'CatchUpTimeoutError' as const;
  readonly retryable = false;
}

/** Switchover: writes on the primary could not be fenced or un-fenced (docs/design/switchover.md). Not retried. */
export class FenceFailedError extends LifeboatError {
  override readonly name = 'FenceFailedError' as const;
  readonly retryable = false;
}

/**
 * Switchover: a promotion step failed and the replica could not be proven unpromoted (it is promoted, promoting, or the
 * answer is unclear), so the primary stays fenced: never two writers (docs/design/switchover.md). Not retried.
 */
export class FenceKeptError extends LifeboatError {
  override readonly name = 'FenceKeptError' as const;
  readonly retryable = false;
}

/** Error names raised by the state machine's own Fail states when a bounded poll loop runs out. */
export const POLL_TIMEOUT_ERRORS = {
  databasePromotion: 'DatabasePromotionTimeoutError',
  dnsChange: 'DnsChangeTimeoutError',
  /** The drill's copies (replica available, secret InSync) were not ready in time. */
  drillCopies: 'DrillCopiesTimeoutError',
  /** A drill copy could still not be deleted after the bounded cleanup passes. */
  drillCleanup: 'DrillCleanupTimeoutError',
  /** Re-protect: the new replica was not replicating, or the secret's replica not InSync, in time. */
  reprotect: 'ReprotectTimeoutError',
} as const;

/** Error names of the execution's own Fail states when a run ends failed (a failure before the units keeps its own name). */
export const RUN_FAILURE_ERRORS = {
  /** One or more units did not fail over; the report says where each stopped and why. */
  unitsFailed: 'FailoverIncompleteError',
  /** The report step itself failed after its retries; the outcome is only in the execution history. */
  reportFailed: 'ReportFailedError',
  /** A drill left copies behind (cleanup refused, timed out or failed); the report lists them. */
  drillCleanupIncomplete: 'DrillCleanupIncompleteError',
} as const;

/** Names the state machine retries: ours that are transient, and Lambda service errors. */
export const RETRYABLE_ERROR_NAMES = [
  'TransientAwsError',
  'ResourceBusyError',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
] as const;

/**
 * Lambda refusing an invocation because the function is not ready (docs/aws/lambda-inactive-functions.md): Inactive
 * after weeks idle (the first invocation fails and starts re-activation), Pending, or the ENI creation of a VPC
 * function throttled or at a limit. The handler never ran. They last minutes, so they have their own retrier
 * (statemachine/steps.ts, IDLE_FUNCTION_RETRY), apart from RETRYABLE_ERROR_NAMES.
 */
export const LAMBDA_NOT_READY_ERROR_NAMES = [
  'Lambda.ResourceNotReadyException',
  'Lambda.CodeArtifactUserPendingException',
  'Lambda.ResourceConflictException',
  'Lambda.ENINotReadyException',
  'Lambda.EC2ThrottledException',
  'Lambda.EC2UnexpectedException',
  'Lambda.ENILimitReachedException',
  'Lambda.SubnetIPAddressLimitReachedException',
] as const;

const THROTTLING_NAMES = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'PriorRequestNotComplete',
  'SlowDown',
]);

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * A call that ran out of time: the SDK's own `TimeoutError` (a client connection or request timeout,
 * functions/lib/clients.ts), and the services' `RequestTimeout` / `RequestTimeoutException` answers. The SDK's
 * standard retry strategy treats the same names as transient (@smithy/core retry, TRANSIENT_ERROR_CODES;
 * docs/design/timeouts.md).
 */
const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

interface SdkLikeError {
  name?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/**
 * Sorts an SDK error by `$fault`, `$retryable`, status and name — never by message text
 * (smithy's ServiceException carries these; see @smithy/smithy-client).
 */
export function isTransientAwsError(error: unknown): boolean {
  if (error instanceof LifeboatError) return error.retryable;
  if (typeof error !== 'object' || error === null) return false;
  const e = error as SdkLikeError;
  if (e.$retryable) return true;
  if (e.$fault === 'server') return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (e.name && THROTTLING_NAMES.has(e.name)) return true;
  if (e.code && NETWORK_CODES.has(e.code)) return true;
  if (e.name && (TIMEOUT_NAMES.has(e.name) || e.name === 'AbortError')) return true;
  return false;
}

/**
 * Turns anything thrown by an AWS call into a member of our family, keeping the cause.
 * `what` says which call on which resource, e.g. `PromoteReadReplica on orders-replica`.
 */
export function toLifeboatError(error: unknown, what: string): LifeboatError {
  if (error instanceof LifeboatError) return error;
  const name = typeof error === 'object' && error !== null ? (error as SdkLikeError).name : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const text = `${what} failed: ${name ?? 'Error'}: ${message}`;
  return isTransientAwsError(error)
    ? new TransientAwsError(text, { cause: error })
    : new AwsCallFailedError(text, { cause: error });
}

/** The SDK error's name, for `switch`es on documented error codes. */
export function awsErrorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? (error as SdkLikeError).name : undefined;
}

/**
 * A secret feed (the replicator, the Vault sync) could not bring every target up to date. The message names each
 * failed target and why, never a value; the function fails so that Lambda retries the event, then dead-letters it.
 */
export class SecretFeedError extends LifeboatError {
  override readonly name = 'SecretFeedError' as const;
  readonly retryable = true;
  constructor(
    message: string,
    readonly failures: readonly string[] = [],
  ) {
    super(message);
  }
}

/**
 * Vault refused the Vault sync's credential: the token is expired, revoked or unknown, or the AWS IAM login was
 * refused (docs/vault/kv-v2.md, "Errors"). Nothing was changed; a retry with the same credential fails the same way.
 */
export class VaultAuthError extends LifeboatError {
  override readonly name = 'VaultAuthError' as const;
  readonly retryable = false;
}

/**
 * A Vault request failed: `status` is the HTTP status (undefined when Vault did not answer), `vaultErrors` Vault's own
 * `errors` strings. Retryable for 5xx, 429 and network failures (Vault sealed or a standby answer 503).
 */
export class VaultRequestError extends LifeboatError {
  override readonly name = 'VaultRequestError' as const;
  readonly retryable: boolean;
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly vaultErrors: readonly string[],
    network = false,
  ) {
    super(message);
    this.retryable = network || (status !== undefined && (status >= 500 || status === 429));
  }
}
