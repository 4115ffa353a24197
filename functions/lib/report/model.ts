import type { ApprovalRecord } from '../approval.js';
import type { DrillResource } from '../drill.js';
import type { Engine, Mode } from '../plan.js';
import type {
  DetailValue,
  PreflightReport,
  RunContext,
  StepName,
  StepOutcome,
  StepResult,
} from '../types.js';

/* ---------------------------------------------------------------------------------------------- */
/* What the state machine hands the report step                                                    */
/* ---------------------------------------------------------------------------------------------- */

/** A caught error as Step Functions gives it: `Error` is the name, `Cause` the message (for a Lambda, a JSON string). */
export interface StateFailure {
  Error: string;
  Cause?: string;
}

/** The last poll of a Wait/Choice loop, as the definition keeps it. */
export interface PollRecord {
  done: boolean;
  status: string;
  observedAt: string;
  detail: Record<string, DetailValue>;
  attempts: number;
}

/** The drill's copies as PrepareDrill made them (statemachine/failover.ts, "Switch to the drill copies"). */
export interface PrepareDrillRecord extends Omit<StepResult, 'step' | 'unit'> {
  resources: DrillResource[];
}

/** The last cleanup pass (statemachine/failover.ts, "Drill cleanup complete"). */
export interface CleanupRecord extends PollRecord {
  resources: DrillResource[];
  remaining: DrillResource[];
}

export interface UnitResults {
  /** Drill only: the copies made, how long the replica took to be ready, and their cleanup. */
  prepareDrill?: PrepareDrillRecord;
  waitForDrillCopies?: PollRecord;
  cleanUpDrill?: CleanupRecord;
  /** Drill only: why the cleanup did not finish (a failed pass, or out of passes). */
  cleanUpDrillFailure?: StateFailure;
  promoteSecret?: StepResult;
  promoteDatabase?: StepResult;
  waitForDatabasePromotion?: PollRecord;
  updateDns?: StepResult;
  waitForDnsInSync?: PollRecord;
  settleRotation?: StepResult;
  attachRotation?: StepResult;
  verifyConnectivity?: StepResult;
  /** Re-protect only: its last pass (functions/lib/reprotect/reprotect.ts). */
  reprotect?: PollRecord & { warnings?: string[] };
  /** Switchover only (docs/design/switchover.md): the fence, the catch-up, the lift on the promoted database. */
  fencePrimary?: StepResult;
  waitForCatchUp?: PollRecord;
  liftFence?: StepResult;
  /** Switchover only: the primary un-fenced after the switchover stopped before promotion, or why that failed. */
  unfencePrimary?: StepResult;
  unfencePrimaryFailure?: StateFailure;
  /** The database promotion branch's own failure (statemachine/failover.ts), read by a switchover's un-fence. */
  promoteDatabaseFailure?: StateFailure;
}

/** One Map iteration's output (statemachine/failover.ts, "Record unit success" / "Record unit failure"). */
export interface UnitRunRecord {
  unit: string;
  engine: Engine;
  dns?: { recordName: string; ttl: number; strategy?: string };
  status: 'succeeded' | 'failed';
  results: UnitResults;
  failure?: StateFailure;
  /** Set when the record was trimmed to fit its share of the state (summarizeUnitOutcome). */
  trimmed?: Trimmed;
}

/**
 * The report step's event: the state as it stands when the run ends, so its fields depend on how far it got.
 * `run` is absent when LoadPlan refused the run (then `planName` and `execution` say which run it was).
 */
export interface ReportEvent {
  run?: RunContext | null;
  planName?: string;
  execution?: { id: string; name: string; startTime: string };
  preflight?: PreflightReport | null;
  /** The Map's outputs; empty when the run stopped before the units. */
  units?: UnitRunRecord[];
  /** The Map's output when it wrote the outcomes to S3 (functions/lib/run-objects.ts): read into `units` first. */
  mapRun?: unknown;
  /** Names of the units the run would have failed over, when it stopped before them. */
  plannedUnits?: string[];
  /** A failure outside the units (LoadPlan, preflight, approval, lock). */
  failure?: StateFailure;
  /** What `lifeboat approve` sent to the approval gate (functions/lib/approval.ts), when the run waited for one. */
  approval?: unknown;
}

/* ---------------------------------------------------------------------------------------------- */
/* The report                                                                                      */
/* ---------------------------------------------------------------------------------------------- */

export type StepStatus = StepOutcome | 'done' | 'failed' | 'not-reached';

export interface StepReport {
  step: StepName;
  title: string;
  status: StepStatus;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  /** Polls made, for the wait steps. */
  attempts?: number;
  warnings: string[];
  detail: Record<string, DetailValue>;
}

export interface DnsReport {
  recordName: string | null;
  ttlSeconds: number | null;
  /** When lifeboat's change was accepted (or found already in place). */
  changedAt: string | null;
  /** The record already held the target and TTL: the change resubmitted it unchanged, so no client saw a new answer. */
  alreadyInPlace?: boolean;
  /** When Route 53 reported the change INSYNC on its name servers. */
  inSyncAt: string | null;
  /** Until when a client that cached the old answer may still use it: in sync + TTL. */
  clientsMayCacheUntil: string | null;
}

export interface UnitReport {
  unit: string;
  engine: Engine | null;
  status: 'succeeded' | 'failed' | 'not-started';
  steps: StepReport[];
  /** The step where a failed unit stopped. */
  stoppedAt: StepName | null;
  failure: { step: StepName | null; error: string; cause: string } | null;
  dns: DnsReport | null;
  verifiedAt: string | null;
  /** Failover: run start to this unit verified. Drill: start of the promotions to this unit verified. */
  recoveryTimeSeconds: number | null;
  /** Drill only: the copies, the time they took (not counted in the recovery time), and their cleanup. */
  drill?: UnitDrillReport;
  /**
   * Data-loss exposure: how far the replica lagged its primary (AWS/RDS ReplicaLag, seconds; -1 when replication was
   * not running) as preflight measured it just before the promotions. Absent when preflight kept no figure.
   */
  replicaLag?: { seconds: number; measuredAt: string };
  /** Switchover only: the write-unavailability window and the data-loss proof (functions/lib/report/switchover.ts). */
  switchover?: UnitSwitchoverReport;
  /**
   * A drill of a switchover (`of: "switchover"`): what was rehearsed on the copies and what was not, in words
   * (functions/lib/report/switchover.ts, switchoverRehearsal). Never a data-loss figure: nothing was fenced.
   */
  switchoverRehearsal?: string;
}

export interface UnitSwitchoverReport {
  /** When writes on the primary were fenced (every earlier session gone), and the database verified after the move. */
  fencedAt: string | null;
  verifiedAt: string | null;
  /** Fence to verified: how long the application could not write. Null when the unit did not get to verified. */
  writeUnavailableSeconds: number | null;
  /** `pg-lsn`, `mariadb-gtid` or `mysql-gtid`. */
  positionKind: string | null;
  /** The primary's position read after the fence, and the replica's applied position that covered it. */
  fencePosition: string | null;
  replicaPosition: string | null;
  /**
   * Transactions the switchover lost: 0 when the replica was proven to have applied the fence position before the
   * promotion (`proof`), null when it was not (the switchover then stopped before promoting).
   */
  dataLossTransactions: 0 | null;
  proof: string | null;
  /** When the switchover stopped before promotion: whether the primary was un-fenced. */
  unfenced: boolean | null;
  /**
   * When a promotion step failed (docs/design/switchover.md, "Stopping at the promotion"): `unfenced: replica not
   * promoted`, or why the primary stays fenced. Null otherwise.
   */
  afterPromotionFailure: string | null;
  /**
   * `aurora`: the switchover was Aurora's own SwitchoverGlobalCluster (docs/design/aurora.md, "Promotion"). lifeboat
   * fenced nothing and compared no positions: `fencedAt`, the positions and `dataLossTransactions` are null, and the
   * window is measured from the call (`switchoverStartedAt`) to verified, an upper bound of Aurora's own.
   */
  managedBy?: 'aurora';
  switchoverStartedAt?: string | null;
}

export interface UnitDrillReport {
  /** When PrepareDrill started and when the copies were ready (replica available, secret InSync). */
  copiesStartedAt: string | null;
  copiesReadyAt: string | null;
  /** Time spent making the copies; not part of the recovery time. */
  copiesSeconds: number | null;
  /** Where the recovery time starts: the first of the two promotions. */
  promotionStartedAt: string | null;
  /** The copies PrepareDrill made (or found made by this run). */
  made: DrillResource[];
  /** `clean`: every copy deleted. `incomplete`: something left behind (`leftBehind`). */
  cleanup: 'clean' | 'incomplete';
  /** Each copy and what the last cleanup pass found. */
  cleanedUp: DrillResource[];
  leftBehind: DrillResource[];
  cleanupError: { error: string; cause: string } | null;
}

/** A call a failover would make (dry run): per unit and step, with its parameters (never a secret value). */
export interface PlannedCall {
  unit: string;
  step: StepName;
  title: string;
  /** The API call, or null when the step would find its effect already there (or only reads). */
  call: string | null;
  parameters: Record<string, DetailValue>;
  note?: string;
}

/** The run-level drill summary. */
export interface DrillReport {
  /** The longest time any unit's copies took (they are made side by side); not part of the recovery time. */
  copiesSeconds: number | null;
  cleanup: 'clean' | 'incomplete';
  /** Every copy deleted (ids). */
  cleanedUp: string[];
  /** Copies still there after the drill: delete them by hand (the report says what each is). */
  leftBehind: DrillResource[];
}

export interface RunReport {
  reportVersion: 1;
  planName: string;
  runId: string;
  executionArn: string | null;
  /** The run as LoadPlan made it; absent when the run was refused. The state machine releases the lock with it. */
  run?: RunContext;
  mode: Mode | null;
  trigger: RunContext['trigger'] | null;
  reason: string | null;
  outcome: 'succeeded' | 'failed';
  /** When failed: the error name the execution fails with. */
  error?: string;
  /** One line: what happened. */
  summary: string;
  startedAt: string;
  endedAt: string;
  durationSeconds: number;
  /** Run start to the last unit verified; null unless every unit was verified in a failover. */
  recoveryTimeSeconds: number | null;
  targetRtoSeconds: number | null;
  rtoMet: boolean | null;
  preflight: { ok: boolean; errors: string[]; warnings: string[]; durationMs: number } | null;
  /** A failure outside the units (the run stopped before or around them). */
  failure: { stage: string; error: string; cause: string } | null;
  /** Who approved or rejected an alarm-started run, and when (functions/lib/approval.ts); absent when none was asked. */
  approval?: ApprovalRecord;
  units: UnitReport[];
  /** Drill only: the copies and their cleanup. */
  drill?: DrillReport;
  /** Dry run only: the calls a failover would make, per unit and step. */
  plannedCalls?: PlannedCall[];
  /** Where the report went; set by the report step after delivery. */
  delivery?: ReportDelivery;
  /** Set on the execution output when it had to leave parts out to fit; the S3 copy is whole. */
  outputTrimmed?: string;
}

export interface ReportDelivery {
  s3: { status: 'stored' | 'skipped' | 'failed'; keys?: string[]; error?: string };
  sns: { status: 'published' | 'skipped' | 'failed'; messageId?: string; error?: string };
  /** The RecoveryTimeSeconds metric (CloudWatch PutMetricData). */
  metrics?: { status: 'published' | 'skipped' | 'failed'; count?: number; error?: string };
}

/** How much a unit's outcome was trimmed to fit its share; absent when nothing was. */
export type Trimmed = 'lean' | 'details' | 'warnings' | 'skeleton';

/** The event of the "Summarize unit outcome" step: the unit's record and its share of the state. */
export interface SummarizeUnitEvent {
  outcome: UnitRunRecord;
  budgetBytes: number;
}
