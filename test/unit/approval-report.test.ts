import { describe, expect, it } from 'vitest';
import { formatRejection, parseRejection } from '../../functions/lib/approval.js';
import { buildRunReport, renderReportText } from '../../functions/lib/report/index.js';
import type { RunContext } from '../../functions/lib/types.js';

const run: RunContext = {
  runId: 'alarm-orders-1',
  executionArn: 'arn:aws:states:us-west-2:123456789012:execution:lifeboat-orders-dr:alarm-orders-1',
  planName: 'orders-dr',
  mode: 'failover',
  trigger: 'alarm',
  reason: 'orders-db-primary-down',
  startedAt: '2030-05-01T10:00:00.000Z',
  account: '123456789012',
  primaryRegion: 'us-east-1',
  recoveryRegion: 'us-west-2',
  targetRtoSeconds: 900,
};
const END = new Date('2030-05-01T10:05:00.000Z');
const SRE = 'arn:aws:sts::123456789012:assumed-role/oncall/alice';

describe('the report shows who approved', () => {
  it('an approved run: the record the approval gate received, and a line for people', () => {
    // Act
    const report = buildRunReport(
      {
        run,
        units: [],
        plannedUnits: [],
        approval: { decision: 'approved', by: SRE, at: '2030-05-01T10:01:30.000Z' },
      },
      END,
    );
    // Assess
    expect(report.approval).toEqual({ decision: 'approved', by: SRE, at: '2030-05-01T10:01:30.000Z' });
    expect(renderReportText(report)).toContain(`approval: approved by ${SRE} at 2030-05-01T10:01:30.000Z`);
  });

  it('a rejected run: who, when and why, read back from the failure lifeboat reject sent', () => {
    // Prepare
    const cause = formatRejection({ by: SRE, at: '2030-05-01T10:02:00.000Z', reason: 'primary is back' });
    // Act
    const report = buildRunReport(
      {
        run,
        preflight: {
          ok: true,
          checkedAt: run.startedAt,
          durationMs: 800,
          checks: [],
          errors: [],
          warnings: [],
          readiness: {},
        },
        units: [],
        plannedUnits: ['orders'],
        failure: { Error: 'ApprovalRejectedError', Cause: cause },
      },
      END,
    );
    // Assess
    expect(report.outcome).toBe('failed');
    expect(report.failure?.stage).toBe('approval');
    expect(report.approval).toEqual({
      decision: 'rejected',
      by: SRE,
      at: '2030-05-01T10:02:00.000Z',
      reason: 'primary is back',
    });
    expect(renderReportText(report)).toContain(
      `approval: REJECTED by ${SRE} at 2030-05-01T10:02:00.000Z: primary is back`,
    );
  });

  it('no approval asked: no approval field; a malformed one is left out rather than guessed', () => {
    // Act
    const plain = buildRunReport({ run: { ...run, trigger: 'console' }, units: [], plannedUnits: [] }, END);
    const odd = buildRunReport(
      { run, units: [], plannedUnits: [], approval: { approvedBy: 'someone' } },
      END,
    );
    // Assess
    expect(plain.approval).toBeUndefined();
    expect(odd.approval).toBeUndefined();
    expect(renderReportText(plain)).not.toContain('approval:');
    expect(parseRejection('the approver timed out')).toBeUndefined();
  });
});
