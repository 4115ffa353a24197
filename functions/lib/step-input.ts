import { InputInvalidError } from './errors.js';
import type { UnitStepInput } from './types.js';

/**
 * Checks of a step's input, shared by the step handlers. No SDK client and no plan schema here: every handler
 * imports this module (docs/design/packaging.md, "Bundle size").
 */

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The state machine passes `{ run, unit, ... }` (the step contract). A payload wired wrong fails here, naming the
 * field, before any AWS call.
 */
export function assertUnitStepInput(event: unknown, step: string): asserts event is UnitStepInput {
  const problems: string[] = [];
  if (!isObject(event)) {
    throw new InputInvalidError(`${step}: expected an object { run, unit }, got ${typeof event}`, ['(root)']);
  }
  const { run, unit } = event;
  if (!isObject(run)) problems.push('run: expected the RunContext from LoadPlan');
  else {
    for (const key of ['runId', 'mode', 'account', 'primaryRegion', 'recoveryRegion'] as const) {
      if (typeof run[key] !== 'string' || run[key] === '') problems.push(`run.${key}: expected a string`);
    }
  }
  if (!isObject(unit)) problems.push('unit: expected a unit of the plan');
  else {
    if (typeof unit.name !== 'string') problems.push('unit.name: expected a string');
    if (!isObject(unit.database)) problems.push('unit.database: expected an object');
    if (!isObject(unit.dns)) problems.push('unit.dns: expected an object');
  }
  if (problems.length) {
    throw new InputInvalidError(`${step}: invalid step input:\n  - ${problems.join('\n  - ')}`, problems);
  }
}

/** `attempt` of a poll step: a whole number from 0, as the state machine counts it. */
export function assertAttempt<T extends object>(
  event: T,
  step: string,
): asserts event is T & { attempt: number } {
  const attempt = (event as { attempt?: unknown }).attempt;
  if (typeof attempt !== 'number' || !Number.isInteger(attempt) || attempt < 0) {
    throw new InputInvalidError(
      `${step}: attempt: expected a whole number >= 0, got ${JSON.stringify(attempt)}`,
      ['attempt'],
    );
  }
}
