/**
 * Who approved or rejected an alarm-started run, and when (docs/design/approval.md). `lifeboat approve` sends the
 * record as the approval task's output, which the state machine keeps at `$.approval` (statemachine/failover.ts, "Ask
 * for approval") and the report carries as `approval`. A rejection is a task failure `ApprovalRejectedError` whose
 * cause is formatRejection's text; the report reads the record back from it. Identities and reasons only: no secret.
 */
export interface ApprovalRecord {
  decision: 'approved' | 'rejected';
  /** The approver's identity: the ARN STS GetCallerIdentity returned to `lifeboat approve`. */
  by: string;
  /** ISO 8601 time of the decision. */
  at: string;
  /** Why (a rejection always has one). */
  reason?: string;
}

export const APPROVAL_REJECTED_ERROR = 'ApprovalRejectedError';

/** The longest cause SendTaskFailure takes (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskFailure.html). */
export const TASK_FAILURE_CAUSE_MAX = 32_768;

export function formatRejection(record: { by: string; at: string; reason: string }): string {
  return `rejected by ${record.by} at ${record.at}: ${record.reason}`.slice(0, TASK_FAILURE_CAUSE_MAX);
}

const REJECTION = /^rejected by (\S+) at (\S+): ([\s\S]*)$/;

/** The rejection a task failure's cause records, if it is one formatRejection wrote. */
export function parseRejection(cause: string | undefined): ApprovalRecord | undefined {
  const m = REJECTION.exec(cause ?? '');
  if (!m) return undefined;
  return { decision: 'rejected', by: m[1] as string, at: m[2] as string, reason: m[3] as string };
}

/** An approval record as the state machine hands it over (`$.approval`), checked by shape. */
export function asApprovalRecord(value: unknown): ApprovalRecord | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const r = value as Record<string, unknown>;
  if (
    (r.decision !== 'approved' && r.decision !== 'rejected') ||
    typeof r.by !== 'string' ||
    typeof r.at !== 'string'
  ) {
    return undefined;
  }
  return {
    decision: r.decision,
    by: r.by,
    at: r.at,
    ...(typeof r.reason === 'string' ? { reason: r.reason } : {}),
  };
}

/** One line for people: `approved by <arn> at <time>` / `REJECTED by <arn> at <time>: <reason>`. */
export function describeApproval(record: ApprovalRecord): string {
  return record.decision === 'approved'
    ? `approved by ${record.by} at ${record.at}${record.reason ? ` (${record.reason})` : ''}`
    : `REJECTED by ${record.by} at ${record.at}: ${record.reason ?? '-'}`;
}
