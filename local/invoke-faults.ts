import type { LAMBDA_NOT_READY_ERROR_NAMES } from '../functions/lib/errors.js';
import type { StepFunctionName } from '../statemachine/steps.js';

/**
 * Lambda refusing invocations of a step function that is not ready, as the proving ground injects it: an idle VPC
 * function gone Inactive, whose first invocation fails and starts a re-activation that takes a while, or the ENI
 * creation behind it throttled or at a limit (docs/aws/lambda-inactive-functions.md). The refusal happens before the
 * handler runs, like Lambda's: the runner throws it in place of the handler, and the state machine sees the error by
 * the name Step Functions gives it (`Lambda.<exception>`).
 */

export type LambdaNotReadyError = (typeof LAMBDA_NOT_READY_ERROR_NAMES)[number];

export interface InvokeFault {
  /** The error Step Functions reports for the refused invocation. */
  error: LambdaNotReadyError;
  /** The steps whose function is not ready. @default every step */
  steps?: readonly StepFunctionName[];
  /** Invocations of each function refused, counted from its first. @default 1 */
  invocations?: number;
  /**
   * Emulated seconds a function stays not ready after its first refused invocation (its re-activation); every
   * invocation in that window is refused too. Scaled by the run's time factor like every other duration. @default 0
   */
  activationSeconds?: number;
}

export interface Refusal {
  step: StepFunctionName;
  error: LambdaNotReadyError;
  /** Milliseconds since the faults were armed (the execution's start). */
  atMs: number;
}

/** What Lambda says, in our words (Lambda API reference, Invoke, "Errors"). */
const EXPLANATIONS: Record<LambdaNotReadyError, string> = {
  'Lambda.ResourceNotReadyException':
    'the function is inactive and its VPC connection is being re-established; try again later',
  'Lambda.CodeArtifactUserPendingException': 'Lambda is still initializing the function; try again shortly',
  'Lambda.ResourceConflictException': 'the function is in the Pending state; try again when it is Active',
  'Lambda.ENINotReadyException': "the function's VPC network interface is not ready yet; try again shortly",
  'Lambda.EC2ThrottledException': 'EC2 throttled Lambda while it set up the function',
  'Lambda.EC2UnexpectedException':
    'EC2 answered Lambda with an unexpected error while it set up the function',
  'Lambda.ENILimitReachedException':
    'Lambda could not create a network interface in the VPC: the limit of network interfaces is reached',
  'Lambda.SubnetIPAddressLimitReachedException':
    "Lambda could not set up the function's VPC access: a subnet has no free IP address",
};

/** An error with the name Step Functions matches in ErrorEquals, like the SDK-shaped errors the emulator throws. */
export class LambdaRefusal extends Error {
  constructor(
    override readonly name: LambdaNotReadyError,
    functionName: string,
  ) {
    super(`${EXPLANATIONS[name]} (function ${functionName})`);
  }
}

/** The injected refusals of one execution: each function's invocations are counted from the execution's start. */
export class InvokeFaults {
  readonly refusals: Refusal[] = [];
  private readonly invoked = new Map<StepFunctionName, { count: number; firstRefusedAt?: number }>();
  private readonly started = Date.now();

  constructor(
    private readonly faults: readonly InvokeFault[],
    /** Scales `activationSeconds` to wall-clock time, as the runner scales waits. */
    private readonly timeFactor: number,
  ) {
    for (const fault of faults) {
      if ((fault.invocations ?? 1) < 0 || (fault.activationSeconds ?? 0) < 0) {
        throw new Error(
          `invoke fault ${fault.error}: invocations and activationSeconds must not be negative`,
        );
      }
    }
  }

  /** Counts an invocation of `step`'s function; returns the error to throw instead of running it, if refused. */
  refuse(step: StepFunctionName, functionName: string): LambdaRefusal | undefined {
    const state = this.invoked.get(step) ?? { count: 0 };
    this.invoked.set(step, state);
    state.count += 1;
    const now = Date.now();
    for (const fault of this.faults) {
      if (fault.steps && !fault.steps.includes(step)) continue;
      const byCount = state.count <= (fault.invocations ?? 1);
      const activationMs = (fault.activationSeconds ?? 0) * 1000 * this.timeFactor;
      const activating = state.firstRefusedAt !== undefined && now - state.firstRefusedAt < activationMs;
      if (!byCount && !activating) continue;
      state.firstRefusedAt ??= now;
      this.refusals.push({ step, error: fault.error, atMs: now - this.started });
      return new LambdaRefusal(fault.error, functionName);
    }
    return undefined;
  }
}
