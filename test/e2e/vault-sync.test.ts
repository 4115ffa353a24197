import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Cleanup } from '../../local/cleanup.js';
import { runVaultSyncScenario } from '../../local/vault/vault-sync-scenario.js';

/**
 * `npm run drill -- --scenario vault-sync` end to end, as a user runs it (local/vault/vault-sync-scenario.ts): a
 * local KV v2 server, the AWS emulator, the handler bundled as `cdk deploy` bundles it; seed, sync, change, delete,
 * sync again, sync a third time. Exit 0 only when every fact holds; no value in the output.
 */

function drill(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'local/drill-command.ts', '--scenario', 'vault-sync', ...args],
      {
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out }));
  });
}

/** The scenario's passwords and keys are `pw-` and random letters: none may be printed. */
const VALUE = /pw-[a-z0-9]{6,}/;

describe('drill --scenario vault-sync', () => {
  it('creates, updates, leaves alone and removes (policy delete), by name and version, and every fact holds', async () => {
    const { code, out } = await drill([]);
    expect(out).toContain('first sync: ok, 4 created');
    expect(out).toMatch(/second sync: ok, 1 created, 1 updated, 3 removed/);
    expect(out).toMatch(/updated\s+vault\/apps\/prod\/orders\/db v2 \(was v1\)/);
    expect(out).toMatch(/removed\s+vault\/apps\/prod\/reports\/token v1 .*no longer in Vault/);
    expect(out).toContain('third sync (nothing changed in Vault): ok, 5 unchanged');
    expect(out).toContain(
      '[ok] third sync read no secret data (metadata only) and changed nothing: 0 data reads',
    );
    expect(out).toContain('[ok] vault/apps/prod/legacy/api-key, made by hand, is untouched');
    expect(out).not.toContain('[FAIL]');
    expect(out).not.toMatch(VALUE);
    expect(code).toBe(0);
  });

  it('with replicas in the recovery Region: the synced credential is current there, with the record preflight reads; replicated secrets are kept', async () => {
    const { code, out } = await drill(['--vault-replicas']);
    expect(out).toContain('replicas in us-west-2');
    expect(out).toContain('[ok] orders/db is ready for a failover: its replica in us-west-2 is current');
    expect(out).toMatch(/kept\s+vault\/apps\/prod\/billing\/db v1 .*replicated to other Regions/);
    expect(out).not.toContain('[FAIL]');
    expect(out).not.toMatch(VALUE);
    expect(code).toBe(0);
  });

  it('a bad scenario option is a usage error (exit 2), naming the option', async () => {
    const { code, out } = await drill(['--vault-removed', 'forget']);
    expect(out).toContain('--vault-removed: expected keep or delete, got "forget"');
    expect(code).toBe(2);
  });

  it('in-process: the scenario registers its servers and temporary directory for Ctrl-C and leaves nothing registered when done', async () => {
    const cleanup = new Cleanup();
    const lines: string[] = [];
    const seen: string[][] = [];
    const outcome = await runVaultSyncScenario(
      { timeFactor: 0.02, region: 'us-east-1', removed: 'keep', cleanup },
      (l) => {
        lines.push(l);
        if (l.startsWith('seeded Vault')) seen.push(cleanup.pending());
      },
    );
    expect(seen[0]?.some((l) => l.startsWith('local Vault KV v2 server'))).toBe(true);
    expect(seen[0]?.some((l) => l.startsWith('AWS emulator'))).toBe(true);
    expect(seen[0]?.some((l) => l.startsWith('directory '))).toBe(true);
    expect(cleanup.pending()).toEqual([]);
    expect(outcome.facts.every((f) => f.ok)).toBe(true);
    expect(lines.join('\n')).toMatch(/kept\s+vault\/apps\/prod\/reports\/token v1 .*policy keep/);
    expect(lines.join('\n')).not.toMatch(VALUE);
  });
});
