import { InputInvalidError } from './errors.js';
import { parseExecutionInput, parsePlan } from './plan.js';
import { MAX_UNITS_PER_RUN } from './state-limits.js';
import { DEFAULT_CATCH_UP_TIMEOUT_SECONDS } from './switchover/positions.js';
import type { LoadedRun } from './types.js';

export interface LoadPlanEvent {
  /** The plan document baked into the state machine definition. */
  plan: unknown;
  /** The execution input as given (console, alarm rule, schedule or CLI). */
  input: unknown;
  execution: { id: string; name: string; startTime: string };
}

/** Validates the plan and the execution input before anything is changed, and selects the run's units. */
export function loadRun(event: LoadPlanEvent): LoadedRun {
  const plan = parsePlan(event.plan);
  const input = parseExecutionInput(event.input, plan);
  const selected = input.units ? new Set(input.units) : undefined;
  const units = plan.units.filter((u) => !selected || selected.has(u.name));
  if (units.length > MAX_UNITS_PER_RUN) {
    // Every unit's outcome comes back inline into the execution's 256 KiB state (report.ts, MAX_UNITS_PER_RUN).
    const issue = `input.units: the run would fail over ${units.length} units; one run takes at most ${MAX_UNITS_PER_RUN}: name at most ${MAX_UNITS_PER_RUN} units in input.units and start the rest in another run`;
    throw new InputInvalidError(`execution input is invalid:\n  - ${issue}`, [issue]);
  }
  return {
    run: {
      runId: event.execution.name,
      executionArn: event.execution.id,
      planName: plan.name,
      mode: input.mode,
      trigger: input.trigger,
      ...(input.reason !== undefined ? { reason: input.reason } : {}),
      ...(input.mode === 'switchover'
        ? { catchUpTimeoutSeconds: input.catchUpTimeoutSeconds ?? DEFAULT_CATCH_UP_TIMEOUT_SECONDS }
        : {}),
      startedAt: event.execution.startTime,
      account: plan.account,
      primaryRegion: plan.primaryRegion,
      recoveryRegion: plan.recoveryRegion,
      targetRtoSeconds: plan.targetRtoSeconds,
    },
    units,
    maxConcurrency: plan.maxConcurrency,
    plannedUnits: units.map((u) => u.name),
  };
}
