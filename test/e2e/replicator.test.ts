import { describe, expect, it } from 'vitest';
import { Cleanup } from '../../local/cleanup.js';
import { runLocalDrill } from '../../local/drill-command.js';
import { startReplicatorScenario } from '../../local/replicator-scenario.js';

/**
 * `npm run drill -- --scenario replicator` end to end (local/replicator-scenario.ts, local/drill-command.ts): the
 * SecretReplicator's synthesized rules on the world's event bus, the bundled handler fed by the emulated Secrets
 * Manager's events, the primary secret rotated, every target updated, then the failover with the replicated secret.
 * In process, so that the secret's password is a marker the output must never contain.
 */

const PASSWORD = `marker-${Math.random().toString(36).slice(2)}-replicator-never-logged`;

describe('drill --scenario replicator', () => {
  it('rotates the primary secret, updates every target with its version id and rewritten host, then fails over with the rotated version', async () => {
    // Prepare
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
    const cleanup = new Cleanup();
    let versionId = '';
    // Act
    const outcome = await runLocalDrill(
      {
        planPath: 'examples/plan.json',
        mode: 'failover',
        timeFactor: 0.02,
        keep: false,
        verbose: false,
        password: PASSWORD,
        cleanup,
        prepare: async (world, c) => {
          const scenario = await startReplicatorScenario(world, { cleanup: c, out: io.out });
          versionId = scenario.versionId;
          return {
            facts: [...scenario.facts],
            after: () => scenario.afterFailover(),
            close: () => scenario.close(),
          };
        },
      },
      io,
    );
    await cleanup.run();
    const out = lines.join('\n');
    // Assess
    expect(outcome.run.status).toBe('SUCCEEDED');
    const failed = outcome.facts.filter((f) => !f.ok);
    expect(failed).toEqual([]);
    const fact = (name: string) => outcome.facts.find((f) => f.fact === name);
    expect(fact('replicator: the rotation reached the function')?.detail).toMatch(/RotationSucceeded/);
    expect(fact('target orders/db-dr-copy (us-west-2) updated')?.detail).toMatch(
      new RegExp(`VersionId ${versionId} = the source's; host rewritten to orders-db-replica\\.`),
    );
    expect(fact('target orders/db-app-copy (us-east-1) updated')?.detail).toContain(
      `VersionId ${versionId} = the source's`,
    );
    expect(fact("the plan's replica secret (native replication) holds the rotated version")?.ok).toBe(true);
    expect(fact('orders: the promoted secret holds the rotated version')?.detail).toContain(versionId);
    expect(fact('orders: CNAME resolves to the promoted instance')?.ok).toBe(true);
    expect(out).toContain('rotated arn:aws:secretsmanager:us-east-1:');
    expect(out).not.toContain(PASSWORD);
    expect(JSON.stringify(outcome.report ?? {})).not.toContain(PASSWORD);
  }, 300_000);
});
