/**
 * Keeping every function active (docs/design/readiness.md, "Keeping functions active"). A function that nobody
 * invokes for weeks goes Inactive, and the invocation that wakes it is refused (docs/aws/lambda-inactive-functions.md):
 * for lifeboat that invocation is usually the real failover. Each readiness evaluation therefore invokes every
 * function of the stack with WARM_PING, which the function answers at once without doing anything (answersWarmPing).
 * A DryRun invocation would be cheaper, but it only validates the request and the caller's permission: the function
 * does not run, and AWS does not say that it counts as use (docs/design/readiness.md). The pinging is in ping.ts:
 * every handler imports this module, which imports no SDK client (docs/design/packaging.md, "Bundle size").
 */
export const WARM_PING_FIELD = 'lifeboatWarmPing';
export const WARM_PING = { [WARM_PING_FIELD]: true } as const;

export interface WarmReply {
  readonly [WARM_PING_FIELD]: 'ok';
}

export function isWarmPing(event: unknown): boolean {
  return (
    event !== null &&
    typeof event === 'object' &&
    (event as Record<string, unknown>)[WARM_PING_FIELD] === true &&
    Object.keys(event).length === 1
  );
}

/**
 * A handler that answers WARM_PING without running `handler` (no AWS call, no log line). Any other event goes to the
 * handler as it is: no state machine payload has the ping's only field.
 */
export function answersWarmPing<E, R, C extends unknown[]>(
  handler: (event: E, ...rest: C) => Promise<R>,
): ((event: typeof WARM_PING) => Promise<WarmReply>) & ((event: E, ...rest: C) => Promise<R>) {
  const answering = async (event: E, ...rest: C): Promise<R | WarmReply> => {
    if (isWarmPing(event)) return { [WARM_PING_FIELD]: 'ok' };
    return handler(event, ...rest);
  };
  // The ping's answer first, the handler's own signature last: ReturnType<typeof handler> is the handler's result.
  return answering as ((event: E, ...rest: C) => Promise<R>) &
    ((event: typeof WARM_PING) => Promise<WarmReply>);
}

export interface WarmTarget {
  /** The step's name (statemachine/steps.ts) or the function's role, for the report. */
  readonly name: string;
  /** Function name or ARN. */
  readonly functionName: string;
}

export interface WarmResult {
  readonly name: string;
  readonly answered: boolean;
  /** When it did not answer: the Lambda error's name (e.g. ResourceNotReadyException: it was Inactive). */
  readonly error?: string;
  /** True when Lambda refused it as not ready: this ping started its re-activation. */
  readonly wasNotReady?: boolean;
}
