import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SDK_MAX_ATTEMPTS, SDK_TIMEOUTS } from '../../functions/lib/clients.js';
import { TIMEOUT_SCALE_ENV } from '../../functions/lib/env.js';
import { PREFLIGHT_CHECK_DEADLINE_MS } from '../../functions/lib/preflight.js';
import { type RunReport, renderReportText } from '../../functions/lib/report/index.js';
import type { CallLogEntry, FaultHandle } from '../../local/emulator/types.js';
import type { RunResult } from '../../local/runner.js';
import { resolveVia } from '../../local/verify-facts.js';
import { TRANSIENT_RETRY } from '../../statemachine/steps.js';
import {
  type EvidenceWorld,
  plannedUnits,
  readReport,
  startWorld,
  stepStatuses,
  unitFacts,
} from './support.js';

/**
 * Issue 9, item 2: Route 53's control plane (served from us-east-1) accepts every call and never answers. Before,
 * no SDK client had a timeout: preflight's DNS check held the preflight Lambda until its timeout, which the state
 * machine does not retry, and the whole failover stopped. Now every attempt ends at the client's request timeout, the
 * DNS check's silence is a preflight warning, the promotions go ahead, the DNS step fails after bounded retries with
 * the reason in the report, and a re-run once Route 53 answers converges. docs/design/timeouts.md.
 *
 * The client timeouts and the preflight deadline are scaled by 0.1 (LIFEBOAT_TIMEOUT_SCALE; the deployed values are
 * what test/unit/clients.test.ts checks), so a 10 s attempt takes 1 s here.
 */

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

const SCALE = 0.1;
/** Invocations of the DNS step: the first and the state machine's transient retries. */
const DNS_STEP_INVOCATIONS = 1 + (TRANSIENT_RETRY.maxAttempts ?? 0);
/** Wall-clock bound of one run: about 40 s on an idle machine; generous for a shared, loaded one. */
const RUN_TIMEOUT_MS = 200_000;

describe("Route 53's control plane hanging", () => {
  let w: EvidenceWorld;
  let hang: FaultHandle;
  let failed: RunResult;
  let failedCalls: CallLogEntry[];
  let report: RunReport | undefined;
  let cnameAfterFailure: string | undefined;
  let rerun: RunResult;
  let rerunCalls: CallLogEntry[];

  beforeAll(
    async () => {
      w = await startWorld(plannedUnits(1));
      const environment = { ...w.world.environment(), [TIMEOUT_SCALE_ENV]: String(SCALE) };
      // Prepare: every Route 53 call is accepted and never answered.
      hang = w.world.emulator.faults.route53Down('hang');
      let from = w.world.emulator.calls.length;
      failed = await w.run(
        'route53-hangs',
        { reason: 'us-east-1 impaired' },
        { environment, timeoutMs: RUN_TIMEOUT_MS },
      );
      failedCalls = w.world.emulator.calls.slice(from);
      report = await readReport(w.world, failed, 'route53-hangs');
      cnameAfterFailure = (await resolveVia(w.world.dns.endpoint, 'u1-db.internal.example.com')).cname;
      // Act: Route 53 answers again; the operator starts the failover again.
      hang.remove();
      from = w.world.emulator.calls.length;
      rerun = await w.run(
        'route53-answers',
        { reason: 'Route 53 is back' },
        { environment, timeoutMs: RUN_TIMEOUT_MS },
      );
      rerunCalls = w.world.emulator.calls.slice(from);
    },
    2 * RUN_TIMEOUT_MS + 60_000,
  );

  afterAll(async () => {
    hang?.remove();
    delete process.env[TIMEOUT_SCALE_ENV];
    await w?.close();
  });

  it('preflight finishes in bounded time, with a warning, not a stop', () => {
    // Assess
    const preflight = report?.preflight;
    expect(preflight?.ok).toBe(true);
    expect(preflight?.errors).toEqual([]);
    const silence = preflight?.warnings.filter((x) =>
      /Route 53 control plane did not answer .*TimeoutError|dns\.deadline/.test(x),
    );
    expect(silence, JSON.stringify(preflight?.warnings)).toHaveLength(1);
    // Within its per-check deadline (scaled), plus a margin for a loaded machine.
    expect(preflight?.durationMs).toBeLessThan(PREFLIGHT_CHECK_DEADLINE_MS * SCALE + 2_000);
  });

  it('promotes, then fails at DNS after bounded retries, and the report says why', () => {
    // Assess
    expect(failed.status).toBe('FAILED');
    expect(failed.error?.name).toBe('FailoverIncompleteError');
    const unit = report?.units.find((u) => u.unit === 'u1');
    expect(unit?.stoppedAt).toBe('updateDns');
    expect(unit?.failure?.error).toBe('TransientAwsError');
    expect(unit?.failure?.cause).toMatch(/ListResourceRecordSets|ChangeResourceRecordSets/);
    expect(unit?.failure?.cause).toContain('TimeoutError');
    expect(stepStatuses(report, 'u1')).toMatchObject({
      promoteSecret: 'changed',
      promoteDatabase: 'changed',
      updateDns: 'failed',
      verifyConnectivity: 'not-reached',
    });
    expect(report && renderReportText(report)).toMatch(
      /stopped at updateDns: TransientAwsError: .*TimeoutError/,
    );
    // Bounded: 3 attempts per invocation, the first invocation and the transient retries, each attempt ended by the client at its request timeout.
    const atDns = failedCalls.filter(
      (c) =>
        c.service === 'route53' &&
        (c.action === 'ListResourceRecordSets' || c.action === 'ChangeResourceRecordSets'),
    );
    expect(atDns.length).toBe(SDK_MAX_ATTEMPTS * DNS_STEP_INVOCATIONS);
    expect(failedCalls.filter((c) => c.service === 'route53').every((c) => c.fault === 'hang')).toBe(true);
    const attemptsMs = atDns.length * SDK_TIMEOUTS.route53.requestTimeoutMs * SCALE;
    expect(failed.wallMs).toBeGreaterThan(attemptsMs);
    expect(failed.wallMs).toBeLessThan(RUN_TIMEOUT_MS);
    // The record was never changed: clients still follow it to the primary.
    expect(cnameAfterFailure).toBe(w.world.units.get('u1')?.primaryEndpoint);
    console.log(
      `Route 53 hanging: run failed after ${(failed.wallMs / 1000).toFixed(1)} s (timeouts x ${SCALE}), ` +
        `${atDns.length} DNS-step calls left unanswered; preflight ${report?.preflight?.durationMs} ms; report: ${report?.summary}`,
    );
  });

  it('converges when Route 53 answers again: the re-run moves the record', async () => {
    // Act
    const facts = await unitFacts(w.world, ['u1']);

    // Assess
    expect(rerun.status, JSON.stringify(rerun.error)).toBe('SUCCEEDED');
    expect(stepStatuses(rerun.output as RunReport, 'u1')).toMatchObject({
      promoteSecret: 'already-done',
      promoteDatabase: 'already-done',
      updateDns: 'changed',
    });
    expect(facts.filter((f) => !f.ok)).toEqual([]);
    expect(rerunCalls.filter((c) => c.fault !== undefined)).toEqual([]);
    expect(w.promotions.get('u1-db-replica')).toBe(1);
  });
});
