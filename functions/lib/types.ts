import type { Engine, Mode, UnitPlan } from './plan.js';

/**
 * The state data contract between the state machine and the step Lambdas. Nothing here ever holds secret
 * material: only identifiers, statuses, timings and messages.
 */

/** What every step needs to know about the run; produced by LoadPlan, passed to each step as `run`. */
export interface RunContext {
  /** The execution's name (unique per state machine); keys the lock and names drill resources. */
  runId: string;
  executionArn: string;
  planName: string;
  mode: Mode;
  trigger: 'console' | 'alarm' | 'schedule' | 'cli';
  reason?: string;
  /**
   * Dry run and drill only: which mode they show or rehearse (functions/lib/exercised.ts). Absent: a failover.
   */
  of?: 'failover' | 'switchover' | 'reprotect';
  /** Switchover only: seconds the replica may take after the fence to catch up (docs/design/switchover.md). */
  catchUpTimeoutSeconds?: number;
  /** ISO time the execution started (`$$.Execution.StartTime`). */
  startedAt: string;
  account: string;
  primaryRegion: string;
  recoveryRegion: string;
  targetRtoSeconds: number;
}

/**
 * The run and the units selected for it. LoadPlan's output leaves `units` out (they are in the report bucket at
 * `unitsKey`); an execution started before that carries them.
 */
export interface LoadedRun {
  run: RunContext;
  units: UnitPlan[];
  maxConcurrency: number;
  /** The names of `units`; kept in the state after the Map replaces `units` with outcomes, for the report. */
  plannedUnits: string[];
  /** Where in the report bucket LoadPlan wrote `units` for the Distributed Map (functions/lib/run-objects.ts). */
  unitsKey?: string;
}

/** The payload of every per-unit step: the run and the unit it works on, plus step-specific fields. */
export interface UnitStepInput {
  run: RunContext;
  unit: UnitPlan;
}

export type StepName =
  | 'preflight'
  | 'acquireLock'
  | 'promoteSecret'
  | 'promoteDatabase'
  | 'waitForDatabasePromotion'
  | 'updateDns'
  | 'waitForDnsInSync'
  | 'settleRotation'
  | 'attachRotation'
  | 'verifyConnectivity'
  | 'report'
  | 'releaseLock'
  | 'prepareDrill'
  | 'waitForDrillCopies'
  | 'cleanUpDrill'
  | 'fencePrimary'
  | 'waitForCatchUp'
  | 'unfencePrimary'
  | 'liftFence'
  | 'reprotect';

/**
 * `changed`: the step made its change. `already-done`: its effect was already there, no mutating call (except
 * UpdateDns, which resubmits an identical UPSERT to get a change id to wait for: docs/aws/route53-changes.md).
 * `planned`: dry-run, the call it would make is in `detail`.
 */
export type StepOutcome = 'changed' | 'already-done' | 'planned';

export type DetailValue = string | number | boolean | null;

export interface StepResult {
  step: StepName;
  unit: string;
  outcome: StepOutcome;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  /** Facts for the report: identifiers, statuses, endpoints. Never secret values. */
  detail: Record<string, DetailValue>;
  warnings: string[];
}

/** Output of a poll step (database promotion, DNS change); the state machine loops on `done`. */
export interface PollResult {
  done: boolean;
  /** Status as AWS reports it, e.g. `modifying`, `PENDING`. */
  status: string;
  /** Seconds the state machine should wait before the next poll. */
  waitSeconds: number;
  /** ISO time this poll ran; the first poll that sees `done` dates the completion. */
  observedAt: string;
  detail: Record<string, DetailValue>;
}

export type CheckSeverity = 'error' | 'warning';

export interface PreflightCheck {
  unit: string;
  check: string;
  ok: boolean;
  severity: CheckSeverity;
  message: string;
  /** Optional figures for the readiness report and dashboard (e.g. `replicaLagSeconds`). Never secret values. */
  figures?: Record<string, DetailValue>;
}

export interface PreflightReport {
  ok: boolean;
  checkedAt: string;
  durationMs: number;
  checks: PreflightCheck[];
  /** Problems that block the run (configuration errors, or any problem in drill mode). */
  errors: string[];
  /** Problems a disaster can cause; a failover goes on. */
  warnings: string[];
  /** Per unit: figures for the report and dashboard (replica lag seconds, replication status). */
  readiness: Record<string, Record<string, DetailValue>>;
}

/** The Map iteration's output for one unit: every step result it reached, and where it stopped if it failed. */
export interface UnitOutcome {
  unit: string;
  engine: Engine;
  status: 'succeeded' | 'failed';
  steps: StepResult[];
  /** When failed: the state that failed and the error name and message (no secret material). */
  failure?: { state: string; error: string; cause: string };
}
