import { parseExecutionInput, parsePlan } from './plan.js';
import { runUnitsKey } from './run-objects.js';
import { DEFAULT_CATCH_UP_TIMEOUT_SECONDS } from './switchover/positions.js';
import type { LoadedRun } from './types.js';

export interface LoadPlanEvent {
  /** The plan document baked into the state machine definition. */
  plan: unknown;
  /** The execution input as given (console, alarm rule, schedule or CLI). */
  input: unknown;
  execution: { id: string; name: string; startTime: string };
  /** The report bucket, where the run's units are written for the Distributed Map's ItemReader. */
  unitsBucket?: string;
}

/** Validates the plan and the execution input before anything is changed, and selects the run's units. */
export function loadRun(event: LoadPlanEvent): LoadedRun {
  const plan = parsePlan(event.plan);
  const input = parseExecutionInput(event.input, plan);
  const selected = input.units ? new Set(input.units) : undefined;
  const units = plan.units.filter((u) => !selected || selected.has(u.name));
  return {
    run: {
      runId: event.execution.name,
      executionArn: event.execution.id,
      planName: plan.name,
      mode: input.mode,
      trigger: input.trigger,
      ...(input.reason !== undefined ? { reason: input.reason } : {}),
      ...(input.of !== undefined && input.of !== 'failover' ? { of: input.of } : {}),
      ...(input.mode === 'switchover' || input.of === 'switchover'
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
    unitsKey: runUnitsKey(plan.name, event.execution.name),
  };
}
