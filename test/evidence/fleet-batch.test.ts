import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../functions/lib/report/index.js';
import type { CallLogEntry } from '../../local/emulator/types.js';
import type { RunResult } from '../../local/runner.js';
import {
  applied,
  type EvidenceWorld,
  faulted,
  plannedUnits,
  readReport,
  startWorld,
  unitFacts,
} from './support.js';

/**
 * Crash in the middle of a zone's batch (issue 14, docs/design/fleet.md "DNS: one batch per zone"). The units of a
 * run share one hosted zone, Route 53's per-zone serialization is on (a change to a zone with a PENDING change is
 * PriorRequestNotComplete), and their record changes go out as one batch per zone (functions/lib/dns/shared.ts).
 * The crash is injected as crash-rerun.test.ts does, on the batch's ChangeResourceRecordSets: the call takes effect
 * and its answer is lost (the sender cannot tell whether Route 53 took the batch). A batch is transactional: Route 53
 * applied all of it or none, and every change is an UPSERT, so sending the registered changes again converges.
 */

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

const UNITS = 6;

describe('a fleet sharing one zone: a crash in the middle of its batch', () => {
  let w: EvidenceWorld;

  beforeAll(async () => {
    w = await startWorld(plannedUnits(UNITS, 'f'));
    w.world.emulator.route53.serializeChanges(true);
  }, 180_000);

  afterAll(async () => {
    await w?.close();
  });

  const execute = async (name: string, units: string[]) => {
    const from = w.world.emulator.calls.length;
    const started = Date.now();
    const result: RunResult = await w.run(name, { units, reason: `fleet batch ${name}` });
    const calls: CallLogEntry[] = w.world.emulator.calls.slice(from);
    const report: RunReport | undefined = await readReport(w.world, result, name);
    console.log(`${name}: ${result.status} in ${Math.round((Date.now() - started) / 100) / 10} s`);
    return { result, calls, report };
  };

  it('the answer of a batch is lost once: the registered changes are sent again, and the run converges', async () => {
    // Prepare
    const units = ['f1', 'f2', 'f3'];
    const fault = w.world.emulator.faults.add({
      match: { service: 'route53', action: 'ChangeResourceRecordSets' },
      failCalls: [1],
      failWith: 'lose-response',
    });
    // Act
    const run = await execute('lost-once', units);
    fault.remove();
    const facts = await unitFacts(w.world, units);
    // Assess: the fault hit a batch that Route 53 applied, and the run still succeeded for every unit.
    const changes = run.calls.filter((c) => c.action === 'ChangeResourceRecordSets');
    expect(faulted(changes)).toHaveLength(1);
    expect(changes[0]?.applied).toBe(true);
    expect(run.result.status, JSON.stringify(run.result.error)).toBe('SUCCEEDED');
    expect(run.report?.units.map((u) => u.status)).toEqual(units.map(() => 'succeeded'));
    expect(facts.filter((f) => !f.ok)).toEqual([]);
    expect(facts).toHaveLength(units.length * 5);
    // Batches, not a change per unit: fewer accepted changes than units, whatever the lost answer cost.
    expect(applied(run.calls, 'ChangeResourceRecordSets').length).toBeLessThanOrEqual(units.length);
    expect(await w.lockHolder()).toBeUndefined();
    // The first run of a world loads every bundle (cold starts): a minute on a loaded machine.
  }, 180_000);

  it('every answer lost (a crash after each send): the units stop, and a re-run converges with each database promoted once', async () => {
    // Prepare
    const units = ['f4', 'f5', 'f6'];
    const fault = w.world.emulator.faults.add({
      match: { service: 'route53', action: 'ChangeResourceRecordSets' },
      loseResponseRate: 1,
    });
    // Act: the faulted run, then a re-run without the fault.
    const first = await execute('lost-always-1', units);
    fault.remove();
    const second = await execute('lost-always-2', units);
    const facts = await unitFacts(w.world, units);
    // Assess: the first run's batches took effect but no sender learnt it; each unit stopped at the DNS steps, never
    // with a wrong record: a sender with the transient error of its lost answer (retried until its budget ran out), a
    // unit whose change only ever waited in others' batches with the DNS poll's bound (the lease covers a sender's
    // whole work, so such a unit may not get a send of its own before its polls run out; docs/design/fleet.md).
    expect(faulted(first.calls).every((c) => c.action === 'ChangeResourceRecordSets')).toBe(true);
    expect(applied(first.calls, 'ChangeResourceRecordSets').length).toBeGreaterThan(0);
    expect(first.result.status).toBe('FAILED');
    expect(first.report?.units).toHaveLength(units.length);
    for (const unit of first.report?.units ?? []) {
      expect(['updateDns', 'waitForDnsInSync', 'checkDnsChange']).toContain(unit.failure?.step);
      expect(['TransientAwsError', 'DnsChangeTimeoutError']).toContain(unit.failure?.error);
    }
    // Assess: the re-run converged to the end state of an uninterrupted run.
    expect(second.result.status, JSON.stringify(second.result.error)).toBe('SUCCEEDED');
    expect(second.report?.units.map((u) => u.status)).toEqual(units.map(() => 'succeeded'));
    expect(facts.filter((f) => !f.ok)).toEqual([]);
    expect(facts).toHaveLength(units.length * 5);
    for (const unit of units) expect(w.promotions.get(`${unit}-db-replica`)).toBe(1);
    expect(applied(second.calls, 'ChangeResourceRecordSets').length).toBeLessThanOrEqual(units.length);
    expect(await w.lockHolder()).toBeUndefined();
  }, 180_000);
});
