import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cleanup } from '../../local/cleanup.js';
import { mariadbMissing } from '../../local/databases/mariadb-cluster.js';
import { type RoundTripOutcome, runRoundTrip } from '../../local/round-trip-scenario.js';

/**
 * The way home on real servers (docs/design/reprotect.md, "The round trip"): one world, started once, two round trips
 * of failover -> writes -> re-protect -> switchover back with the reversed plan -> writes -> re-protect of the reversed
 * plan. With MariaDB installed the world is the three-unit plan (PostgreSQL and two MariaDB pairs with GTID
 * replication); without, the PostgreSQL plan, and the MariaDB part is skipped naming what is missing.
 */

const missing = mariadbMissing();
if (missing) console.warn(`round-trip e2e: MariaDB part skipped: ${missing}`);
const PLAN_PATH = missing ? 'examples/plan.json' : 'examples/plan-three-units.json';
const PASSWORD = `marker-${Math.random().toString(36).slice(2)}-never-logged`;

describe('two round trips on one world', () => {
  const cleanup = new Cleanup();
  const lines: string[] = [];
  let outcome: RoundTripOutcome;

  beforeAll(async () => {
    // The step functions run in this process: their INFO logs would drown the test output (as npm run drill quiets them).
    process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
    outcome = await runRoundTrip(
      { planPath: PLAN_PATH, timeFactor: 0.02, verbose: false, cleanup, password: PASSWORD, trips: 2 },
      (line) => lines.push(line),
    );
  }, 1_200_000);

  afterAll(() => cleanup.run());

  it('runs failover, re-protect, switchover back and re-protect twice, each succeeding', () => {
    expect(outcome.runs.map((r) => `${r.trip} ${r.mode} ${r.plan} ${r.run.status}`)).toEqual(
      [1, 2].flatMap((trip) => [
        `${trip} failover plan SUCCEEDED`,
        `${trip} reprotect plan SUCCEEDED`,
        `${trip} switchover reversed SUCCEEDED`,
        `${trip} reprotect reversed SUCCEEDED`,
      ]),
    );
  });

  it('leaves every fact holding after each trip, for every unit', () => {
    const failed = outcome.facts.filter((f) => !f.ok).map((f) => `${f.fact}: ${f.detail}`);
    expect(failed).toEqual([]);
    for (const trip of [1, 2]) {
      for (const fact of [
        'every acknowledged row is on the final primary',
        "the CNAME names the original primary's endpoint",
        "the secret's primary is in",
        'rotation attached in',
        'replication flows from',
        'the old primaries are kept, renamed',
      ]) {
        expect(
          outcome.facts.filter((f) => f.fact.startsWith(`trip ${trip}:`) && f.fact.includes(fact)),
        ).not.toEqual([]);
      }
    }
  });

  it('never prints the password', () => {
    expect(lines.join('\n')).not.toContain(PASSWORD);
    expect(JSON.stringify(outcome.runs.map((r) => r.run.output))).not.toContain(PASSWORD);
  });
});
