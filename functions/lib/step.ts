import { toLifeboatError } from './errors.js';
import type { DetailValue, StepName, StepOutcome, StepResult } from './types.js';

export interface StepBody {
  outcome: StepOutcome;
  detail?: Record<string, DetailValue>;
  warnings?: string[];
}

/**
 * Runs a step's body and times it. Anything thrown that is not already ours is sorted into
 * TransientAwsError / AwsCallFailedError with the cause kept, so the state machine can match its name.
 */
export async function timedStep(
  step: StepName,
  unit: string,
  body: () => Promise<StepBody>,
  now: () => Date = () => new Date(),
): Promise<StepResult> {
  const started = now();
  let result: StepBody;
  try {
    result = await body();
  } catch (error) {
    throw toLifeboatError(error, `${step} for unit ${unit}`);
  }
  const ended = now();
  return {
    step,
    unit,
    outcome: result.outcome,
    startedAt: started.toISOString(),
    endedAt: ended.toISOString(),
    durationMs: ended.getTime() - started.getTime(),
    detail: result.detail ?? {},
    warnings: result.warnings ?? [],
  };
}
