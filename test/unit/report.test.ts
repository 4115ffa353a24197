import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resetClients } from '../../functions/lib/clients.js';
import type { DrillResource } from '../../functions/lib/drill.js';
import { preflightForState } from '../../functions/lib/preflight.js';
import {
  buildRunReport,
  buildTimeline,
  deliverReport,
  describeFailure,
  formatDuration,
  isSensitiveKey,
  jsonBytes,
  MAX_UNIT_OUTCOME_BYTES,
  MAX_UNITS_PER_RUN,
  MIN_UNIT_OUTCOME_BYTES,
  PREFLIGHT_STATE_BUDGET_BYTES,
  REPORT_OUTPUT_BUDGET_BYTES,
  type ReportEvent,
  recoveryTimeMetrics,
  renderReportHtml,
  renderReportMarkdown,
  renderReportText,
  reportForExecutionOutput,
  reportKeys,
  reportMessage,
  reportSubject,
  SNS_MESSAGE_LIMIT_BYTES,
  STATE_DATA_LIMIT_BYTES,
  summarizeUnitOutcome,
  UNIT_OUTCOMES_BUDGET_BYTES,
  type UnitRunRecord,
  unitOutcomeBudgetBytes,
} from '../../functions/lib/report/index.js';
import type { PreflightReport, RunContext, StepName, StepResult } from '../../functions/lib/types.js';

const START = Date.parse('2030-05-01T10:00:00.000Z');
const at = (seconds: number) => new Date(START + seconds * 1000).toISOString();
const END = new Date(START + 300_000);
const MARKER = 'Pa55-MARKER-7f3a';

const run: RunContext = {
  runId: 'run-1',
  executionArn: 'arn:aws:states:us-west-2:123456789012:execution:lifeboat-orders-dr:run-1',
  planName: 'orders-dr',
  mode: 'failover',
  trigger: 'alarm',
  reason: 'orders-db-primary-down ALARM',
  startedAt: at(0),
  account: '123456789012',
  primaryRegion: 'us-east-1',
  recoveryRegion: 'us-west-2',
  targetRtoSeconds: 900,
};
const preflight: PreflightReport = {
  ok: true,
  checkedAt: at(2),
  durationMs: 1800,
  checks: [],
  errors: [],
  warnings: ['orders: replica lag unknown (primary Region unreachable)'],
  readiness: {},
};

function step(
  name: StepName,
  unit: string,
  from: number,
  to: number,
  extra: Partial<StepResult> = {},
): StepResult {
  return {
    step: name,
    unit,
    outcome: 'changed',
    startedAt: at(from),
    endedAt: at(to),
    durationMs: (to - from) * 1000,
    detail: {},
    warnings: [],
    ...extra,
  };
}

function succeededUnit(unit: string, verifiedAt = 200): UnitRunRecord {
  return {
    unit,
    engine: 'postgres',
    dns: { recordName: `${unit}-db.internal.example.com`, ttl: 30, strategy: 'cname' },
    status: 'succeeded',
    results: {
      promoteSecret: step('promoteSecret', unit, 5, 6),
      promoteDatabase: step('promoteDatabase', unit, 5, 7, { detail: { instance: `${unit}-db-replica` } }),
      waitForDatabasePromotion: {
        done: true,
        status: 'available',
        observedAt: at(150),
        detail: {},
        attempts: 36,
      },
      updateDns: step('updateDns', unit, 151, 152, {
        detail: { changeId: 'C123', target: 'x.rds.amazonaws.com' },
      }),
      waitForDnsInSync: { done: true, status: 'INSYNC', observedAt: at(180), detail: {}, attempts: 15 },
      settleRotation: step('settleRotation', unit, 180, 181, {
        warnings: ['cleared AWSPENDING from version v2'],
      }),
      verifyConnectivity: step('verifyConnectivity', unit, 181, verifiedAt),
      attachRotation: step('attachRotation', unit, verifiedAt, verifiedAt + 1),
    },
  };
}

describe('buildRunReport', () => {
  it('reports a successful failover with its recovery time against the target RTO', () => {
    // Act
    const report = buildRunReport(
      { run, preflight, units: [succeededUnit('orders'), succeededUnit('billing', 240)] },
      END,
    );

    // Assess
    expect(report).toMatchObject({
      planName: 'orders-dr',
      runId: 'run-1',
      mode: 'failover',
      trigger: 'alarm',
      reason: 'orders-db-primary-down ALARM',
      outcome: 'succeeded',
      startedAt: at(0),
      endedAt: END.toISOString(),
      durationSeconds: 300,
      recoveryTimeSeconds: 240,
      targetRtoSeconds: 900,
      rtoMet: true,
      preflight: {
        ok: true,
        errors: [],
        warnings: ['orders: replica lag unknown (primary Region unreachable)'],
      },
      failure: null,
    });
    expect(report).not.toHaveProperty('error');
    expect(report.run).toEqual(run);
    expect(report.units[0]?.recoveryTimeSeconds).toBe(200);
    expect(report.summary).toBe(
      'Failover of orders-dr succeeded: 2 of 2 units recovered and verified in 4m 00s (target 15m 00s: met).',
    );
  });

  it('says when the target RTO was missed', () => {
    // Act
    const report = buildRunReport(
      { run: { ...run, targetRtoSeconds: 60 }, preflight, units: [succeededUnit('orders')] },
      END,
    );

    // Assess
    expect(report.rtoMet).toBe(false);
    expect(report.summary).toContain('NOT met');
  });

  it('times each step, the waits from the step before them to the poll that saw them done', () => {
    // Act
    const [unit] = buildRunReport({ run, preflight, units: [succeededUnit('orders')] }, END).units;

    // Assess
    expect(unit?.steps.map((s) => [s.step, s.status, s.startedAt, s.endedAt, s.durationMs])).toEqual([
      ['promoteSecret', 'changed', at(5), at(6), 1000],
      ['promoteDatabase', 'changed', at(5), at(7), 2000],
      ['waitForDatabasePromotion', 'done', at(7), at(150), 143_000],
      ['updateDns', 'changed', at(151), at(152), 1000],
      ['waitForDnsInSync', 'done', at(152), at(180), 28_000],
      ['settleRotation', 'changed', at(180), at(181), 1000],
      ['verifyConnectivity', 'changed', at(181), at(200), 19_000],
      ['attachRotation', 'changed', at(200), at(201), 1000],
    ]);
    expect(unit?.steps[2]?.attempts).toBe(36);
    expect(unit?.steps[5]?.warnings).toEqual(['cleared AWSPENDING from version v2']);
    expect(unit?.steps[3]?.detail).toEqual({ changeId: 'C123', target: 'x.rds.amazonaws.com' });
  });

  it('says when the DNS record changed, when it was in sync, its TTL and how long clients may cache the old answer', () => {
    // Act
    const [unit] = buildRunReport({ run, preflight, units: [succeededUnit('orders')] }, END).units;

    // Assess
    expect(unit?.dns).toEqual({
      recordName: 'orders-db.internal.example.com',
      ttlSeconds: 30,
      changedAt: at(152),
      inSyncAt: at(180),
      clientsMayCacheUntil: at(210),
    });
  });

  it("reports where a failed unit stopped and why, keeping what it reached, and names the run's error", () => {
    // Prepare
    const failed: UnitRunRecord = {
      ...succeededUnit('billing'),
      status: 'failed',
      failure: {
        Error: 'DatabasePromotionTimeoutError',
        Cause:
          'RDS did not report the promoted instance available and standalone after 300 polls; last status: modifying',
      },
    };
    delete failed.results.waitForDatabasePromotion;
    delete failed.results.updateDns;
    delete failed.results.waitForDnsInSync;
    delete failed.results.settleRotation;
    delete failed.results.attachRotation;
    delete failed.results.verifyConnectivity;

    // Act
    const report = buildRunReport({ run, preflight, units: [succeededUnit('orders'), failed] }, END);

    // Assess
    expect(report.outcome).toBe('failed');
    expect(report.error).toBe('FailoverIncompleteError');
    expect(report.recoveryTimeSeconds).toBeNull();
    expect(report.rtoMet).toBeNull();
    const billing = report.units[1];
    expect(billing).toMatchObject({
      status: 'failed',
      stoppedAt: 'waitForDatabasePromotion',
      failure: { step: 'waitForDatabasePromotion', error: 'DatabasePromotionTimeoutError' },
      verifiedAt: null,
    });
    expect(billing?.steps.map((s) => s.status)).toEqual([
      'changed',
      'changed',
      'failed',
      'not-reached',
      'not-reached',
      'not-reached',
      'not-reached',
      'not-reached',
    ]);
    expect(report.summary).toBe(
      'Failover of orders-dr: 1 of 2 units did not fail over: billing (DatabasePromotionTimeoutError at waitForDatabasePromotion).',
    );
  });

  it("reads a Lambda error's message out of its JSON Cause", () => {
    // Act
    const failure = describeFailure({
      Error: 'VerificationFailedError',
      Cause: JSON.stringify({
        errorType: 'VerificationFailedError',
        errorMessage: 'orders-db.internal.example.com answers read-only',
        trace: ['VerificationFailedError: ...', '    at verify (/var/task/index.mjs:1:1)'],
      }),
    });

    // Assess
    expect(failure).toEqual({
      error: 'VerificationFailedError',
      cause: 'orders-db.internal.example.com answers read-only',
    });
  });

  it('reports a run stopped by preflight: every unit not started, nothing changed', () => {
    // Prepare
    const event: ReportEvent = {
      run,
      units: [],
      plannedUnits: ['orders', 'billing'],
      failure: {
        Error: 'PreflightFailedError',
        Cause: 'preflight found 1 problem:\n  - orders: secret is not a replica',
      },
    };

    // Act
    const report = buildRunReport(event, END);

    // Assess
    expect(report).toMatchObject({
      outcome: 'failed',
      error: 'PreflightFailedError',
      preflight: null,
      failure: { stage: 'preflight', error: 'PreflightFailedError' },
      units: [
        { unit: 'orders', status: 'not-started', steps: [] },
        { unit: 'billing', status: 'not-started', steps: [] },
      ],
    });
    expect(report.summary).toBe(
      'Failover of orders-dr stopped at preflight: PreflightFailedError: preflight found 1 problem: orders: secret is not a replica. Nothing was changed.',
    );
  });

  it('reports a run LoadPlan refused from the execution it knows, without a run to release', () => {
    // Prepare
    const event: ReportEvent = {
      planName: 'orders-dr',
      execution: { id: run.executionArn, name: 'run-9', startTime: at(0) },
      units: [],
      failure: {
        Error: 'InputInvalidError',
        Cause: 'execution input is invalid:\n  - input.mode: Invalid option',
      },
    };

    // Act
    const report = buildRunReport(event, END);

    // Assess
    expect(report).toMatchObject({
      planName: 'orders-dr',
      runId: 'run-9',
      executionArn: run.executionArn,
      mode: null,
      outcome: 'failed',
      error: 'InputInvalidError',
      failure: { stage: 'load plan' },
    });
    expect(report).not.toHaveProperty('run');
  });

  it('reports a dry run as planned calls, without a recovery time', () => {
    // Prepare
    const unit = succeededUnit('orders');
    const details = {
      promoteSecret: {
        call: 'StopReplicationToReplica',
        secretArn: 'arn:secret:orders',
        region: 'us-west-2',
      },
      promoteDatabase: {
        call: 'PromoteReadReplica',
        dbInstanceIdentifier: 'orders-db-replica',
        backupRetentionPeriod: 7,
        status: 'available',
      },
      updateDns: {
        call: 'ChangeResourceRecordSets',
        hostedZoneId: 'Z0LIFEBOAT00EXAMPLE',
        action: 'UPSERT',
        recordName: 'orders-db.internal.example.com',
        type: 'CNAME',
        ttl: 30,
        target: 'orders-db-replica.rds.amazonaws.com',
        previousTarget: 'orders-db.rds.amazonaws.com',
        changeId: null,
      },
      attachRotation: {
        call: 'RotateSecret',
        secretArn: 'arn:secret:orders',
        rotationLambdaArn: 'arn:lambda:rotation',
        schedule: '30',
        rotateImmediately: false,
      },
      verifyConnectivity: { call: 'none (read-only step)', record: 'orders-db.internal.example.com' },
    } as const;
    for (const [key, detail] of Object.entries(details)) {
      const r = unit.results[key as keyof typeof details];
      if (r) Object.assign(r, { outcome: 'planned', detail });
    }

    // Act
    const report = buildRunReport({ run: { ...run, mode: 'dry-run' }, preflight, units: [unit] }, END);
    const text = renderReportText(report);

    // Assess
    expect(report.outcome).toBe('succeeded');
    expect(report.recoveryTimeSeconds).toBeNull();
    expect(report.units[0]?.verifiedAt).toBeNull();
    expect(report.units[0]?.dns?.changedAt).toBeNull();
    expect(report.summary).toBe(
      'Dry run of orders-dr: 1 unit planned, 4 calls a failover would make; nothing was changed.',
    );
    expect(report.plannedCalls?.map((c) => [c.step, c.call])).toEqual([
      ['promoteSecret', 'StopReplicationToReplica'],
      ['promoteDatabase', 'PromoteReadReplica'],
      ['updateDns', 'ChangeResourceRecordSets'],
      ['verifyConnectivity', null],
      ['attachRotation', 'RotateSecret'],
    ]);
    expect(report.plannedCalls?.[2]?.parameters).toEqual({
      HostedZoneId: 'Z0LIFEBOAT00EXAMPLE',
      Action: 'UPSERT',
      Name: 'orders-db.internal.example.com',
      Type: 'CNAME',
      TTL: 30,
      Value: 'orders-db-replica.rds.amazonaws.com',
      PreviousValue: 'orders-db.rds.amazonaws.com',
    });
    expect(report.plannedCalls?.[1]?.parameters).toEqual({
      DBInstanceIdentifier: 'orders-db-replica',
      BackupRetentionPeriod: 7,
    });
    expect(report.plannedCalls?.[3]?.note).toBe('reads only');
    expect(text).toContain('planned calls (dry run: nothing was changed):');
    expect(text).toContain('recovery time: not measured (a dry run changes nothing)');
    expect(report.units[0]?.dns?.inSyncAt).toBeNull();
    expect(text).toMatch(
      /Promote database replica\s+PromoteReadReplica DBInstanceIdentifier=orders-db-replica/,
    );
  });
});

describe('no secret material in a report', () => {
  it('never copies a field named like a password or secret value, at any depth, nor one written inside a message', () => {
    // Prepare
    const unit = succeededUnit('orders');
    unit.results.promoteSecret = step('promoteSecret', 'orders', 5, 6, {
      detail: {
        secretArn: 'arn:aws:secretsmanager:us-west-2:123456789012:secret:orders/db',
        password: MARKER,
      },
      warnings: [`value was {"username":"app","password":"${MARKER}"}`],
    });
    (unit.results.updateDns as unknown as { detail: Record<string, unknown> }).detail.nested = {
      SecretString: MARKER,
      secret_value: MARKER,
      'Master-User-Password': MARKER,
    } as never;
    const failed: UnitRunRecord = {
      ...succeededUnit('billing'),
      status: 'failed',
      failure: { Error: 'AwsCallFailedError', Cause: `connect failed: password=${MARKER} user=app` },
    };
    delete failed.results.verifyConnectivity;
    const event = { run, preflight, units: [unit, failed], extra: { passwd: MARKER } } as ReportEvent;

    // Act
    const report = buildRunReport(event, END);
    const text = renderReportText(report);

    // Assess
    expect(JSON.stringify(report)).not.toContain(MARKER);
    expect(text).not.toContain(MARKER);
    expect(report.units[0]?.steps[0]?.detail.secretArn).toContain('secret:orders/db');
    expect(report.units[1]?.failure?.cause).toBe('connect failed: password=[redacted] user=app');
  });

  it.each([
    ['password', true],
    ['MasterUserPassword', true],
    ['db_passwd', true],
    ['pwd', true],
    ['SecretString', true],
    ['secret-value', true],
    ['privateKey', true],
    ['secretArn', false],
    ['secretId', false],
    ['username', false],
    ['changeId', false],
  ])('treats the field name %s as sensitive: %s', (key, sensitive) => {
    // Assess
    expect(isSensitiveKey(key)).toBe(sensitive);
  });
});

describe('renderReportText', () => {
  it('renders a header, the preflight, a table per unit with a timeline bar per step, and the DNS line', () => {
    // Prepare
    const failed: UnitRunRecord = {
      ...succeededUnit('billing'),
      status: 'failed',
      failure: { Error: 'RotationBlockedError', Cause: 'AWSPENDING on v2' },
    };
    delete failed.results.attachRotation;
    const report = buildRunReport({ run, preflight, units: [succeededUnit('orders'), failed] }, END);

    // Act
    const text = renderReportText(report);
    const lines = text.split('\n');

    // Assess
    expect(lines[0]).toBe('lifeboat report: plan orders-dr, run run-1');
    expect(lines[1]).toMatch(/^FAILED \(FailoverIncompleteError\): /);
    expect(text).toContain('preflight: passed (0 errors, 1 warning)');
    expect(text).toContain('  ! orders: replica lag unknown (primary Region unreachable)');
    expect(text).toContain('unit orders (postgres): succeeded, verified 3m 20s after the run started');
    // Verified before its rotation failed: the report says so.
    expect(text).toContain('unit billing (postgres): failed, verified 3m 20s after the run started');
    expect(text).toContain('  stopped at attachRotation: RotationBlockedError: AWSPENDING on v2');
    const bars = lines.filter((l) => /\|[ #x]{32}\|/.test(l));
    expect(bars).toHaveLength(16);
    const promote = lines.find((l) => l.includes('Wait for database promotion'));
    // 7 s to 150 s of a 300 s run: from column 0 to column 16 of 32.
    expect(promote).toMatch(/\|#{16} {16}\| \(36 polls\)$/);
    expect(lines.find((l) => l.includes('Attach secret rotation') && l.includes('failed'))).toMatch(
      /\|[ ]+x+[ ]*\|/,
    );
    expect(text).toContain(
      `  DNS orders-db.internal.example.com: changed at ${at(152)}, in sync at ${at(180)}, TTL 30 s; clients that cached the old answer may use it until ${at(210)}`,
    );
  });

  it('counts in the right number: 1 poll, 1 warning, 2 errors', () => {
    // Prepare
    const unit = succeededUnit('orders');
    const wait = unit.results.waitForDnsInSync;
    if (wait) wait.attempts = 1;
    const report = buildRunReport(
      { run, preflight: { ...preflight, ok: false, errors: ['a', 'b'] }, units: [unit] },
      END,
    );

    // Act
    const text = renderReportText(report);
    const markdown = renderReportMarkdown(report);
    const html = renderReportHtml(report);

    // Assess
    expect(text).toContain('preflight: FAILED (2 errors, 1 warning)');
    expect(text).toMatch(/Wait for DNS change .*\(1 poll\)$/m);
    expect(text).not.toMatch(/(?<!of )\b1 (polls|warnings|errors|units)\b/);
    expect(markdown).toContain('2 errors, 1 warning.');
    expect(html).toContain(', 1 poll<');
    expect(html).toContain('in 1 unit;');
    expect(`${markdown}${html}`).not.toMatch(/(?<!of )\b1 (polls|warnings|errors|units|steps)\b/);
  });

  it('says a record already in place was not changed, with no cache window of an old answer', () => {
    // Prepare: a re-run; UpdateDns resubmitted the identical record to get a change id (functions/lib/dns/update.ts).
    const unit = succeededUnit('orders');
    unit.results.updateDns = step('updateDns', 'orders', 151, 152, {
      outcome: 'already-done',
      detail: { changeId: 'C124', target: 'x.rds.amazonaws.com', identical: true },
    });
    const report = buildRunReport({ run, preflight, units: [unit] }, END);

    // Act
    const text = renderReportText(report);

    // Assess
    expect(report.units[0]?.dns?.alreadyInPlace).toBe(true);
    expect(text).toContain(
      `  DNS orders-db.internal.example.com: already in place (its value did not change), in sync at ${at(180)}, TTL 30 s`,
    );
    expect(text).not.toContain('changed at');
    expect(text).not.toContain('cached the old answer');
    // The step table's result column holds the longest result whole.
    expect(text).toMatch(/Point DNS at promoted database +already-done /);
    expect(text).not.toContain('…');
    expect(buildTimeline(report).dnsWindows).toEqual([]);
    expect(renderReportHtml(report)).toContain('already in place (value unchanged)');
  });

  it('never says verified when the verify step did not run (planned, as with --endpoint)', () => {
    // Prepare
    const unit = succeededUnit('orders');
    unit.results.verifyConnectivity = step('verifyConnectivity', 'orders', 181, 181, {
      outcome: 'planned',
      detail: { verified: false },
    });
    const report = buildRunReport({ run, preflight, units: [unit] }, END);

    // Act
    const text = renderReportText(report);

    // Assess
    expect(report.summary).toBe(
      'Failover of orders-dr succeeded: 1 of 1 units recovered, 0 verified; connectivity of orders was not verified.',
    );
    expect(text).not.toContain('verified in');
    expect(text).not.toContain('recovered and verified');
  });

  it('marks scaled time when asked (the proving ground), and only then', () => {
    // Prepare
    const report = buildRunReport({ run, preflight, units: [succeededUnit('orders')] }, END);

    // Act
    const scaled = renderReportText(report, { scaledTime: '--time-factor 0.02: 50x shorter' });
    const plain = renderReportText(report);

    // Assess
    expect(scaled).toContain('recovery time 3m 20s in scaled time against a target RTO of 15m 00s: met');
    expect(scaled).toContain(
      'scaled time (--time-factor 0.02: 50x shorter): the durations below are local ones',
    );
    expect(plain).toContain('recovery time 3m 20s against a target RTO of 15m 00s: met');
    expect(plain).not.toContain('scaled');
  });

  it('formats durations for people', () => {
    // Assess
    expect([850, 4200, 185_000, 3_720_000].map(formatDuration)).toEqual([
      '850ms',
      '4.2s',
      '3m 05s',
      '1h 02m',
    ]);
  });
});

// One mock per client class for the whole file: a second mockClient() of the same class would replace the first.
const s3 = mockClient(S3Client);
const sns = mockClient(SNSClient);
const cloudwatch = mockClient(CloudWatchClient);

describe('deliverReport', () => {
  const deps = { s3: new S3Client({ region: 'us-west-2' }), sns: new SNSClient({ region: 'us-west-2' }) };
  const report = buildRunReport({ run, preflight, units: [succeededUnit('orders')] }, END);

  afterEach(() => {
    s3.reset();
    sns.reset();
  });

  it('stores the report under the run and as latest, encrypted, then publishes text and JSON naming the S3 copy', async () => {
    // Prepare
    s3.on(PutObjectCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });

    // Act
    const delivered = await deliverReport(deps, report, {
      bucket: 'lifeboat-reports',
      topicArn: 'arn:aws:sns:us-west-2:123456789012:lifeboat-reports',
    });

    // Assess
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => p.Key)).toEqual([
      'reports/orders-dr/run-1.json',
      'reports/orders-dr/latest.json',
      'reports/orders-dr/run-1.html',
      'reports/orders-dr/run-1.md',
      'reports/orders-dr/latest.html',
    ]);
    for (const put of puts) {
      expect(put).toMatchObject({ Bucket: 'lifeboat-reports', ServerSideEncryption: 'AES256' });
    }
    for (const put of puts.slice(0, 2)) {
      expect(put.ContentType).toBe('application/json');
      expect(JSON.parse(String(put.Body))).toMatchObject({ runId: 'run-1', outcome: 'succeeded' });
    }
    // The HTML page (run and latest) and the Markdown, next to the JSON.
    expect(puts.map((p) => p.ContentType).slice(2)).toEqual([
      'text/html; charset=utf-8',
      'text/markdown; charset=utf-8',
      'text/html; charset=utf-8',
    ]);
    expect(String(puts[2]?.Body)).toMatch(/^<!doctype html>/);
    expect(String(puts[2]?.Body)).toContain('data-unit="orders"');
    expect(String(puts[4]?.Body)).toBe(String(puts[2]?.Body));
    expect(String(puts[3]?.Body)).toMatch(/^# Failover of orders-dr: succeeded \(run-1\)/);
    const publish = sns.commandCalls(PublishCommand)[0]?.args[0].input;
    expect(publish?.Subject).toBe('lifeboat failover of orders-dr succeeded (run-1)');
    expect(publish?.Message).toContain('Full report: s3://lifeboat-reports/reports/orders-dr/run-1.json');
    const json = String(publish?.Message).split('--- JSON ---\n')[1];
    expect(JSON.parse(json ?? '')).toMatchObject({ runId: 'run-1' });
    expect(delivered.delivery).toEqual({
      s3: {
        status: 'stored',
        keys: [
          'reports/orders-dr/run-1.json',
          'reports/orders-dr/latest.json',
          'reports/orders-dr/run-1.html',
          'reports/orders-dr/run-1.md',
          'reports/orders-dr/latest.html',
        ],
      },
      sns: { status: 'published', messageId: 'm-1' },
      metrics: { status: 'skipped' },
    });
  });

  it('skips what is not configured', async () => {
    // Act
    const delivered = await deliverReport(deps, report, {});

    // Assess
    expect(delivered.delivery).toEqual({
      s3: { status: 'skipped' },
      sns: { status: 'skipped' },
      metrics: { status: 'skipped' },
    });
    expect(s3.calls()).toHaveLength(0);
    expect(sns.calls()).toHaveLength(0);
  });

  it('records a delivery failure instead of failing the report step', async () => {
    // Prepare
    s3.on(PutObjectCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));
    sns
      .on(PublishCommand)
      .rejects(Object.assign(new Error('Topic does not exist'), { name: 'NotFoundException' }));

    // Act
    const delivered = await deliverReport(deps, report, {
      bucket: 'b',
      topicArn: 'arn:aws:sns:us-west-2:123456789012:t',
    });

    // Assess
    expect(delivered.delivery).toEqual({
      s3: { status: 'failed', error: 'AccessDenied: Access Denied' },
      sns: { status: 'failed', error: 'NotFoundException: Topic does not exist' },
      metrics: { status: 'skipped' },
    });
    expect(delivered.outcome).toBe('succeeded');
  });

  it('keeps the subject within SNS limits (100 ASCII characters) and the message under 256 KB', () => {
    // Prepare
    const long = buildRunReport(
      {
        run: { ...run, planName: 'p'.repeat(40), runId: `ü-${'r'.repeat(80)}` },
        preflight,
        units: Array.from({ length: 400 }, (_, i) => succeededUnit(`unit-${i}`)),
      },
      END,
    );

    // Act
    const subject = reportSubject(long);
    const message = reportMessage(long, 's3://b/k');

    // Assess
    expect(subject.length).toBeLessThanOrEqual(100);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
    expect(Buffer.byteLength(JSON.stringify(long))).toBeGreaterThan(SNS_MESSAGE_LIMIT_BYTES);
    expect(Buffer.byteLength(message)).toBeLessThanOrEqual(SNS_MESSAGE_LIMIT_BYTES);
    expect(message).not.toContain('--- JSON ---');
    expect(message).toContain('s3://b/k');
  });

  it('makes keys safe for S3 from any plan and run name', () => {
    // Assess
    expect(reportKeys({ planName: 'orders-dr', runId: 'a b/c' })).toEqual({
      run: 'reports/orders-dr/a_b_c.json',
      latest: 'reports/orders-dr/latest.json',
      html: 'reports/orders-dr/a_b_c.html',
      markdown: 'reports/orders-dr/a_b_c.md',
      latestHtml: 'reports/orders-dr/latest.html',
    });
  });
});

describe('report handler', () => {
  beforeEach(() => {
    vi.stubEnv('AWS_REGION', 'us-west-2');
    vi.stubEnv('REPORT_BUCKET_NAME', 'lifeboat-reports');
    vi.stubEnv('REPORT_TOPIC_ARN', 'arn:aws:sns:us-west-2:123456789012:lifeboat-reports');
    resetClients();
    s3.on(PutObjectCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: 'm-2' });
    cloudwatch.on(PutMetricDataCommand).resolves({});
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    resetClients();
    s3.reset();
    sns.reset();
    cloudwatch.reset();
  });

  it('builds, stores and publishes the report, and returns it as the execution output, secret-free', async () => {
    // Prepare
    const { handler } = await import('../../functions/report.js');
    const unit = succeededUnit('orders');
    unit.results.attachRotation = step('attachRotation', 'orders', 181, 182, {
      detail: { password: MARKER },
    });
    const logs: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      logs.push(String(chunk));
      return true;
    });

    // Act
    let report: Awaited<ReturnType<typeof handler>>;
    try {
      report = await handler({ run, preflight, units: [unit] });
    } finally {
      spy.mockRestore();
    }

    // Assess
    expect(report.outcome).toBe('succeeded');
    expect(report.delivery?.sns).toEqual({ status: 'published', messageId: 'm-2' });
    // The recovery time of the unit and of the run, in the Lifeboat namespace.
    expect(report.delivery?.metrics).toEqual({ status: 'published', count: 2 });
    const put = cloudwatch.commandCalls(PutMetricDataCommand)[0]?.args[0].input;
    expect(put?.Namespace).toBe('Lifeboat');
    expect(put?.MetricData?.map((d) => d.Dimensions?.map((x) => x.Value).join('/'))).toEqual([
      'orders-dr/orders/failover',
      'orders-dr/ALL/failover',
    ]);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(5);
    for (const put of s3.commandCalls(PutObjectCommand))
      expect(String(put.args[0].input.Body)).not.toContain(MARKER);
    expect(JSON.stringify(report)).not.toContain(MARKER);
    expect(String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message)).not.toContain(MARKER);
    expect(String(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.Body)).not.toContain(MARKER);
    expect(logs.join('')).toContain('run reported');
    expect(logs.join('')).not.toContain(MARKER);
  });
});

describe('fitting the 256 KiB state limit', () => {
  /** A unit whose every step has large details and many long warnings. */
  function bulkyUnit(unit: string): UnitRunRecord {
    const record = succeededUnit(unit);
    const long = `${'x'.repeat(400)}`;
    for (const value of Object.values(record.results)) {
      if ('outcome' in value) {
        value.detail = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`field${i}`, long]));
        value.detail.call = 'PromoteReadReplica';
        value.warnings = Array.from({ length: 9 }, (_, i) => `warning ${i}: ${long}`);
      } else value.detail = { status: long };
    }
    return {
      ...record,
      status: 'failed',
      failure: { Error: 'VerificationFailedError', Cause: long.repeat(20) },
    };
  }

  it('keeps a unit outcome whole when it fits its share', () => {
    // Prepare
    const record = succeededUnit('orders');

    // Act
    const summary = summarizeUnitOutcome(record, unitOutcomeBudgetBytes(1));

    // Assess
    expect(summary).toBe(record);
    expect(summary.trimmed).toBeUndefined();
  });

  it.each([
    [24_000, 'lean'],
    [12_000, 'details'],
    [4_000, 'warnings'],
    [MIN_UNIT_OUTCOME_BYTES, 'skeleton'],
  ] as const)('trims a bulky outcome to fit %i bytes, losing no more than it must (%s)', (budget, level) => {
    // Prepare
    const record = bulkyUnit('orders');

    // Act
    const summary = summarizeUnitOutcome(record, budget);

    // Assess
    expect(jsonBytes(record)).toBeGreaterThan(20_000);
    expect(jsonBytes(summary)).toBeLessThanOrEqual(budget);
    expect(summary.trimmed).toBe(level);
    // The report still tells every step's status and time, where the unit stopped and why.
    const report = buildRunReport({ run, preflight, units: [summary] }, END);
    const [unit] = report.units;
    expect(unit?.status).toBe('failed');
    expect(unit?.failure?.error).toBe('VerificationFailedError');
    expect(unit?.steps.map((s) => s.status)).toEqual(
      buildRunReport({ run, preflight, units: [record] }, END).units[0]?.steps.map((s) => s.status),
    );
    expect(unit?.steps.every((s) => s.startedAt !== null || s.step.startsWith('waitFor'))).toBe(true);
    if (level === 'details' || level === 'warnings') {
      expect(unit?.steps.find((s) => s.step === 'promoteSecret')?.detail).toEqual({
        call: 'PromoteReadReplica',
      });
    }
  });

  it('shares the budget among the units: small plans keep everything, 100 units keep 2,100 bytes each', () => {
    // Assess
    expect(unitOutcomeBudgetBytes(1)).toBe(MAX_UNIT_OUTCOME_BYTES);
    expect(unitOutcomeBudgetBytes(10)).toBe(21_000);
    expect(unitOutcomeBudgetBytes(MAX_UNITS_PER_RUN)).toBe(MIN_UNIT_OUTCOME_BYTES);
    // The plan's most units (the outcomes go to S3: none of them shares an inline budget any more).
    expect(MAX_UNITS_PER_RUN).toBe(500);
    expect(
      UNIT_OUTCOMES_BUDGET_BYTES + PREFLIGHT_STATE_BUDGET_BYTES + 20_000,
      'outcomes, preflight and the run itself share one state',
    ).toBeLessThan(STATE_DATA_LIMIT_BYTES);
  });

  it('reports a unit whose child execution failed without an outcome as failed, naming the error', () => {
    // Prepare
    const event: ReportEvent = {
      run,
      preflight,
      plannedUnits: ['orders', 'billing'],
      units: [
        succeededUnit('orders'),
        { Error: 'States.Runtime', Cause: 'An error occurred while executing the state' } as never,
      ],
    };

    // Act
    const report = buildRunReport(event, END);

    // Assess
    expect(report.outcome).toBe('failed');
    const billing = report.units.find((u) => u.unit === 'billing');
    expect(billing?.status).toBe('failed');
    expect(billing?.failure?.error).toBe('UnitOutcomeMissing');
    expect(billing?.failure?.cause).toContain('States.Runtime');
    expect(report.units.find((u) => u.unit === 'orders')?.status).toBe('succeeded');
  });

  it('still reports units as not started when the run stopped before the Map', () => {
    // Act
    const report = buildRunReport(
      { run, preflight, plannedUnits: ['orders'], units: [], failure: { Error: 'FailoverInProgressError' } },
      END,
    );

    // Assess
    expect(report.units[0]?.status).toBe('not-started');
  });

  it('returns the whole report as the execution output when it fits, else without step details, else without steps', () => {
    // Prepare
    const small = buildRunReport({ run, preflight, units: [succeededUnit('orders')] }, END);
    const big = buildRunReport(
      { run, preflight, units: Array.from({ length: 100 }, (_, i) => bulkyUnit(`unit-${i}`)) },
      END,
    );

    // Act
    const whole = reportForExecutionOutput(small);
    const trimmed = reportForExecutionOutput(big);
    const bare = reportForExecutionOutput(big, 50_000);

    // Assess
    expect(whole).toBe(small);
    expect(jsonBytes(big)).toBeGreaterThan(REPORT_OUTPUT_BUDGET_BYTES);
    expect(jsonBytes(trimmed)).toBeLessThanOrEqual(REPORT_OUTPUT_BUDGET_BYTES);
    expect(trimmed.outputTrimmed).toContain('S3');
    expect(trimmed.units).toHaveLength(100);
    expect(trimmed.summary).toBe(big.summary);
    expect(bare.units.every((u) => u.steps.length === 0 && u.failure !== null)).toBe(true);
  });
});

describe('preflightForState', () => {
  const checks = Array.from({ length: 400 }, (_, i) => ({
    unit: `unit-${i % 100}`,
    check: `check-${i}`,
    ok: i % 4 === 0,
    severity: 'warning' as const,
    message: `a message ${'m'.repeat(120)}`,
    figures: { replicaLagSeconds: i },
  }));
  const full: PreflightReport = {
    ...preflight,
    checks,
    warnings: checks.filter((c) => !c.ok).map((c) => `${c.unit}: ${c.check}: ${c.message}`),
    readiness: Object.fromEntries(checks.map((c) => [c.unit, { replicaLagSeconds: 1 }])),
  };

  it('keeps a report that fits, then only the failed checks, then no checks, then fewer warnings with a count', () => {
    // Act
    const whole = preflightForState(preflight, 48_000);
    const failedOnly = preflightForState(full, jsonBytes(full) - 1_000);
    const bare = preflightForState(full, jsonBytes({ ...full, checks: [], readiness: {} }) + 10);
    const cut = preflightForState(full, 10_000);

    // Assess
    expect(whole).toBe(preflight);
    expect(failedOnly.checks.every((c) => !c.ok && c.figures === undefined)).toBe(true);
    expect(bare.checks).toEqual([]);
    expect(bare.warnings).toEqual(full.warnings);
    expect(jsonBytes(cut)).toBeLessThanOrEqual(10_000);
    expect(cut.warnings.at(-1)).toMatch(/^… and \d+ more warnings/);
    expect(cut.ok).toBe(true);
  });
});

describe('switchover reports of Aurora units', () => {
  const switchoverRun: RunContext = { ...run, mode: 'switchover', trigger: 'cli', reason: 'planned' };

  it('an Aurora unit stopped at its refused promotion is reported there, with no fence steps it never had', () => {
    // Prepare: SwitchoverGlobalCluster denied; the secret promoted beside it (statemachine/failover.ts, AURORA_UNIT)
    const ledger: UnitRunRecord = {
      unit: 'ledger',
      engine: 'aurora-postgresql',
      dns: { recordName: 'ledger-db.internal.example.com', ttl: 5, strategy: 'cname' },
      status: 'failed',
      failure: {
        Error: 'AwsCallFailedError',
        Cause: 'SwitchoverGlobalCluster on ledger-global: AccessDenied',
      },
      results: { promoteSecret: step('promoteSecret', 'ledger', 5, 6) },
    };
    const orders: UnitRunRecord = { ...ledger, unit: 'orders', engine: 'postgres' };

    // Act
    const report = buildRunReport({ run: switchoverRun, preflight, units: [ledger, orders] }, END);

    // Assess: the Aurora unit on the failover's steps; an instance unit keeps the switchover's (fence first)
    const aurora = report.units.find((u) => u.unit === 'ledger');
    expect(aurora?.failure).toMatchObject({ step: 'promoteDatabase', error: 'AwsCallFailedError' });
    expect(aurora?.stoppedAt).toBe('promoteDatabase');
    expect(aurora?.steps.map((s) => s.step)).not.toContain('fencePrimary');
    expect(aurora?.steps.find((s) => s.step === 'promoteSecret')?.status).toBe('changed');
    const instance = report.units.find((u) => u.unit === 'orders');
    expect(instance?.steps.map((s) => s.step)).toContain('fencePrimary');
  });

  it("a succeeded Aurora switchover is Aurora's own: its window from the call to verified, and no lifeboat proof claimed or missed", () => {
    // Prepare: SwitchoverGlobalCluster called at 5 s, the unit verified at 200 s
    const base = succeededUnit('ledger');
    const ledger: UnitRunRecord = {
      ...base,
      engine: 'aurora-postgresql',
      results: {
        ...base.results,
        promoteDatabase: step('promoteDatabase', 'ledger', 5, 7, {
          detail: { call: 'SwitchoverGlobalCluster', globalClusterId: 'ledger-global' },
        }),
      },
    };

    // Act
    const report = buildRunReport({ run: switchoverRun, preflight, units: [ledger] }, END);
    const text = renderReportText(report);

    // Assess
    const unit = report.units[0];
    expect(unit?.switchover).toMatchObject({
      managedBy: 'aurora',
      switchoverStartedAt: at(5),
      writeUnavailableSeconds: 195,
      fencedAt: null,
      dataLossTransactions: null,
      proof: null,
    });
    expect(report.summary).toContain(
      "1 Aurora unit switched over by Aurora's SwitchoverGlobalCluster (no data loss by Aurora's design; not measured by lifeboat)",
    );
    expect(report.summary).not.toMatch(/proven for|not proven/);
    expect(text).toContain("Aurora's managed switchover: writes unavailable at most 3m 15s");
    expect(text).not.toMatch(/fenced never|data loss not proven/);
  });
});

describe('re-protect summaries', () => {
  const reprotectRun: RunContext = { ...run, mode: 'reprotect', trigger: 'cli', reason: 'old Region back' };
  const unitOf = (unit: string, engine: UnitRunRecord['engine']): UnitRunRecord => ({
    unit,
    engine,
    dns: { recordName: `${unit}-db.internal.example.com`, ttl: 5, strategy: 'cname' },
    status: 'succeeded',
    results: { reprotect: { done: true, status: 'protected', observedAt: at(60), detail: {}, attempts: 3 } },
  });

  it('say what re-protect did for each kind of unit: a new replica for instances, the old cluster back for Aurora', () => {
    // Act
    const instances = buildRunReport(
      { run: reprotectRun, preflight, units: [unitOf('orders', 'postgres')] },
      END,
    );
    const aurora = buildRunReport(
      { run: reprotectRun, preflight, units: [unitOf('ledger', 'aurora-postgresql')] },
      END,
    );
    const mixed = buildRunReport(
      {
        run: reprotectRun,
        preflight,
        units: [unitOf('orders', 'postgres'), unitOf('ledger', 'aurora-mysql')],
      },
      END,
    );

    // Assess
    expect(instances.summary).toContain(
      '(a read replica and the secret replicated in the old Region; the old primary kept, renamed)',
    );
    expect(aurora.summary).toContain(
      '(the secret replicated to the old Region; the old primary cluster back as a secondary)',
    );
    expect(aurora.summary).not.toContain('read replica');
    expect(mixed.summary).toContain('instance units: a read replica');
    expect(mixed.summary).toContain('Aurora units: the secret replicated to the old Region');
  });
});

describe('drill reports', () => {
  const drillRun: RunContext = { ...run, mode: 'drill', trigger: 'schedule', reason: undefined as never };
  const resource = (
    kind: DrillResource['kind'],
    status: DrillResource['status'],
    id = `lifeboat-drill-ce5dfaa8-${kind}`,
  ) => ({
    kind,
    id,
    region: 'us-west-2',
    status,
  });
  function drillUnit(unit: string, cleanup: 'clean' | 'left' = 'clean'): UnitRunRecord {
    const record = succeededUnit(unit, 260);
    record.results = {
      prepareDrill: {
        outcome: 'changed',
        startedAt: at(0),
        endedAt: at(5),
        durationMs: 5000,
        detail: { call: 'CreateDBInstanceReadReplica, ChangeResourceRecordSets, CreateSecret' },
        warnings: [],
        resources: [
          resource('db-instance', 'created'),
          resource('dns-records', 'created'),
          resource('primary-secret', 'created'),
          resource('replica-secret', 'created'),
        ],
      },
      waitForDrillCopies: {
        done: true,
        status: 'available/InSync',
        observedAt: at(120),
        detail: {},
        attempts: 9,
      },
      ...record.results,
      // The promotions start at 130 s (after the copies), verified at 260 s: 130 s of recovery.
      promoteSecret: step('promoteSecret', unit, 131, 132),
      promoteDatabase: step('promoteDatabase', unit, 130, 131),
      cleanUpDrill: {
        done: true,
        status: cleanup === 'clean' ? 'clean' : 'refused-some',
        observedAt: at(270),
        detail: {},
        attempts: 2,
        resources: [
          resource('db-instance', cleanup === 'clean' ? 'deleted' : 'refused'),
          resource('dns-records', 'deleted'),
          resource('primary-secret', 'deleted'),
          resource('replica-secret', 'absent'),
        ],
        remaining: cleanup === 'clean' ? [] : [resource('db-instance', 'refused')],
      },
    };
    return record;
  }

  it('marks the run as a drill, measures recovery from the start of promotion, and leaves the copies out of it', () => {
    // Act
    const report = buildRunReport({ run: drillRun, preflight, units: [drillUnit('orders')] }, END);
    const text = renderReportText(report);

    // Assess
    expect(report.mode).toBe('drill');
    expect(report.outcome).toBe('succeeded');
    const [unit] = report.units;
    expect(unit?.recoveryTimeSeconds).toBe(130);
    expect(report.recoveryTimeSeconds).toBe(130);
    expect(report.rtoMet).toBe(true);
    expect(unit?.drill?.copiesSeconds).toBe(120);
    expect(unit?.drill?.promotionStartedAt).toBe(at(130));
    expect(report.drill).toEqual({
      copiesSeconds: 120,
      cleanup: 'clean',
      cleanedUp: [
        'db-instance lifeboat-drill-ce5dfaa8-db-instance (us-west-2)',
        'dns-records lifeboat-drill-ce5dfaa8-dns-records (us-west-2)',
        'primary-secret lifeboat-drill-ce5dfaa8-primary-secret (us-west-2)',
        'replica-secret lifeboat-drill-ce5dfaa8-replica-secret (us-west-2)',
      ],
      leftBehind: [],
    });
    expect(unit?.steps.at(0)?.title).toBe('Prepare drill copies');
    expect(unit?.steps.at(-1)).toMatchObject({ step: 'cleanUpDrill', status: 'done', attempts: 2 });
    expect(report.summary).toBe(
      'Drill of orders-dr succeeded: 1 of 1 units recovered and verified on drill copies in 2m 10s (target 15m 00s: met); production was not touched. Making the copies took 2m 00s (not counted). Cleanup: every drill copy deleted (4).',
    );
    expect(reportSubject(report)).toBe('lifeboat drill of orders-dr succeeded (run-1)');
    expect(text).toContain('drill: disposable copies in the recovery Region');
    expect(text).toContain('verified 2m 10s after the promotions started');
  });

  it('fails the drill with DrillCleanupIncompleteError when a copy is left behind, and names it', () => {
    // Act
    const report = buildRunReport({ run: drillRun, preflight, units: [drillUnit('orders', 'left')] }, END);

    // Assess
    expect(report.outcome).toBe('failed');
    expect(report.error).toBe('DrillCleanupIncompleteError');
    expect(report.recoveryTimeSeconds).toBe(130);
    expect(report.units[0]?.failure?.step).toBe('cleanUpDrill');
    expect(report.drill?.cleanup).toBe('incomplete');
    expect(report.drill?.leftBehind.map((r) => r.id)).toEqual(['lifeboat-drill-ce5dfaa8-db-instance']);
    expect(report.summary).toContain('Cleanup INCOMPLETE: 1 drill copies left behind');
  });

  it('publishes RecoveryTimeSeconds with the drill mode, per unit and for the run', () => {
    // Act
    const report = buildRunReport({ run: drillRun, preflight, units: [drillUnit('orders')] }, END);
    const metrics = recoveryTimeMetrics(report);
    const dryRun = recoveryTimeMetrics(
      buildRunReport({ run: { ...run, mode: 'dry-run' }, preflight, units: [drillUnit('orders')] }, END),
    );

    // Assess
    expect(metrics).toEqual([
      expect.objectContaining({
        MetricName: 'RecoveryTimeSeconds',
        Value: 130,
        Unit: 'Seconds',
        Dimensions: [
          { Name: 'Plan', Value: 'orders-dr' },
          { Name: 'Unit', Value: 'orders' },
          { Name: 'Mode', Value: 'drill' },
        ],
      }),
      expect.objectContaining({
        Value: 130,
        Dimensions: expect.arrayContaining([{ Name: 'Unit', Value: 'ALL' }]),
      }),
    ]);
    expect(dryRun).toEqual([]);
  });

  it('squeezes the largest drill unit outcome (every step, longest names, a long failure) into the smallest share', () => {
    // Prepare
    const name = `u${'x'.repeat(39)}`;
    const record = drillUnit(name, 'left');
    record.status = 'failed';
    record.failure = { Error: 'VerificationFailedError', Cause: 'c'.repeat(5000) };
    record.results.cleanUpDrillFailure = { Error: 'DrillCleanupTimeoutError', Cause: 'd'.repeat(5000) };
    record.dns = {
      recordName: `lifeboat-drill-ce5dfaa8-${name}.${'z'.repeat(150)}.example.com`,
      ttl: 86400,
      strategy: 'cname',
    };

    // Act
    const summary = summarizeUnitOutcome(record, MIN_UNIT_OUTCOME_BYTES);
    const report = buildRunReport({ run: drillRun, preflight, units: [summary] }, END);

    // Assess
    expect(jsonBytes(summary)).toBeLessThanOrEqual(MIN_UNIT_OUTCOME_BYTES);
    expect(summary.trimmed).toBe('skeleton');
    expect(report.units[0]?.drill?.leftBehind.map((r) => r.kind)).toEqual(['db-instance']);
    expect(report.units[0]?.failure?.error).toBe('VerificationFailedError');
  });
});
