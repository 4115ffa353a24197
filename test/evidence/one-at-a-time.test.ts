import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../functions/lib/report/index.js';
import type { RunResult } from '../../local/runner.js';
import {
  applied,
  type EvidenceWorld,
  MUTATING_STEPS,
  plannedUnits,
  productionMutations,
  readReport,
  STEP_ACTIONS,
  startWorld,
  unitFacts,
} from './support.js';

/**
 * One at a time (issue 6; docs/design.md, "Targets": two executions at once, exactly one runs). Executions of one plan are
 * started together on one world: exactly one takes the lock and fails the unit over; every other one ends at once
 * with FailoverInProgressError, having changed nothing, and without releasing the lock it does not hold. The call
 * log does not say which execution made a call, so "changed nothing" is read from the totals: the production changes
 * of the round are exactly those of one failover.
 */

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

interface Round {
  runs: { name: string; result: RunResult; report: RunReport | undefined }[];
  /** The lock holder when the first execution ended (the others still running). */
  holderWhenFirstEnded: string | undefined;
  firstEnded: string;
  from: number;
  to: number;
}

describe('one failover of a plan at a time', () => {
  let w: EvidenceWorld;

  beforeAll(async () => {
    w = await startWorld(plannedUnits(2));
  }, 180_000);

  afterAll(async () => {
    await w?.close();
  });

  describe.each([
    { executions: 2, unit: 'u1' },
    { executions: 5, unit: 'u2' },
  ])('$executions executions started together', ({ executions, unit }) => {
    let round: Round;

    beforeAll(async () => {
      const from = w.world.emulator.calls.length;
      const names = Array.from({ length: executions }, (_, i) => `together-${executions}-${i + 1}`);
      // Act: every execution starts in the same tick (they share the process: the runner runs them concurrently).
      const pending = names.map((name) =>
        w.run(name, { units: [unit], reason: 'started together' }).then((result) => ({ name, result })),
      );
      const first = await Promise.race(pending);
      const holderWhenFirstEnded = await w.lockHolder();
      const ended = await Promise.all(pending);
      const to = w.world.emulator.calls.length;
      round = {
        runs: await Promise.all(
          ended.map(async (r) => ({ ...r, report: await readReport(w.world, r.result, r.name) })),
        ),
        holderWhenFirstEnded,
        firstEnded: first.name,
        from,
        to,
      };
    }, 180_000);

    afterAll(async () => {
      const winner = round?.runs.find((r) => r.result.status === 'SUCCEEDED');
      console.log(
        `one at a time (${executions} together): ${round?.runs.map((r) => `${r.name} ${r.result.status}${r.result.error ? ` ${r.result.error.name}` : ''} in ${(r.result.wallMs / 1000).toFixed(1)} s`).join('; ')}; ` +
          `winner ${winner?.name ?? 'none'}`,
      );
    });

    it('lets exactly one proceed; every other one ends with FailoverInProgressError', () => {
      // Assess
      const succeeded = round.runs.filter((r) => r.result.status === 'SUCCEEDED');
      const refused = round.runs.filter((r) => r.result.status === 'FAILED');
      expect(succeeded).toHaveLength(1);
      expect(refused).toHaveLength(executions - 1);
      for (const r of refused) {
        expect(r.result.error?.name).toBe('FailoverInProgressError');
        expect(r.report?.failure?.error).toBe('FailoverInProgressError');
        expect(r.report?.failure?.cause).toContain(`already being failed over by run ${succeeded[0]?.name}`);
        expect(r.report?.units.map((u) => [u.unit, u.status])).toEqual([[unit, 'not-started']]);
      }
    });

    it('the refused ones changed nothing: the production changes are those of one failover', () => {
      // Prepare
      const calls = w.world.emulator.calls.slice(round.from, round.to);
      // Assess
      for (const step of MUTATING_STEPS) expect(applied(calls, STEP_ACTIONS[step]), step).toHaveLength(1);
      expect(productionMutations(calls)).toHaveLength(MUTATING_STEPS.length);
      expect(w.promotions.get(`${unit}-db-replica`)).toBe(1);
      // One lock taken; every execution tried to take it.
      expect(calls.filter((c) => c.action === 'PutItem')).toHaveLength(executions);
      expect(applied(calls, 'PutItem')).toHaveLength(1);
    });

    it('a refused execution does not release the lock it does not hold; the winner releases it at the end', async () => {
      // Assess
      const winner = round.runs.find((r) => r.result.status === 'SUCCEEDED');
      expect(round.firstEnded).not.toBe(winner?.name);
      expect(round.holderWhenFirstEnded).toBe(winner?.name);
      expect(await w.lockHolder()).toBeUndefined();
      const calls = w.world.emulator.calls.slice(round.from, round.to);
      expect(applied(calls, 'DeleteItem')).toHaveLength(1);
    });

    it('the unit reached the end state of a failover', async () => {
      // Act
      const facts = await unitFacts(w.world, [unit]);
      // Assess
      expect(facts.filter((f) => !f.ok)).toEqual([]);
      expect(facts).toHaveLength(5);
    });
  });
});
