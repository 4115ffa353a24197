import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cleanup, exitOnInterrupt } from '../../local/cleanup.js';

/** The Ctrl-C registry of the local proving ground (issue 9, item 11; docs/design/interrupt.md). */

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('Cleanup', () => {
  it('stops a registered process by its pid and waits for its exit, and removes a registered directory', async () => {
    const cleanup = new Cleanup();
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    cleanup.process('sleeper', child);
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-cleanup-test-'));
    cleanup.directory(dir);
    expect(cleanup.pending()).toHaveLength(2);
    const failures = await cleanup.run();
    expect(failures).toEqual([]);
    expect(child.exitCode !== null || child.signalCode !== null).toBe(true);
    expect(alive(child.pid as number)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(cleanup.closing).toBe(true);
  });

  it('sends SIGKILL to a process that ignores the first signal, after the grace period', async () => {
    const cleanup = new Cleanup();
    const child = spawn(
      process.execPath,
      ['-e', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)"],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    await new Promise((r) => child.stdout?.once('data', r));
    cleanup.process('stubborn', child, { graceMs: 200 });
    await cleanup.run();
    expect(child.signalCode).toBe('SIGKILL');
  });

  it('forgets a process that exited by itself, and an entry whose deregistration was called', async () => {
    const cleanup = new Cleanup();
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    cleanup.process('short', child);
    await new Promise((r) => child.once('exit', r));
    await new Promise((r) => setImmediate(r));
    let ran = false;
    const forget = cleanup.add('forgotten', () => {
      ran = true;
    });
    forget();
    expect(cleanup.pending()).toEqual([]);
    await cleanup.run();
    expect(ran).toBe(false);
  });

  it('runs what is registered while it runs, and what is registered after it finished, at once', async () => {
    const cleanup = new Cleanup();
    const order: string[] = [];
    cleanup.add('first', () => {
      order.push('first');
      cleanup.add('during', () => {
        order.push('during');
      });
    });
    await cleanup.run();
    expect(order).toEqual(['first', 'during']);
    let late = false;
    cleanup.add('late', () => {
      late = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(late).toBe(true);
  });

  it('runs newest first and reports an action that failed without skipping the others', async () => {
    const cleanup = new Cleanup();
    const order: string[] = [];
    cleanup.add('old', () => {
      order.push('old');
    });
    cleanup.add('broken', () => {
      throw new Error('boom');
    });
    cleanup.add('new', () => {
      order.push('new');
    });
    const failures = await cleanup.run();
    expect(order).toEqual(['new', 'old']);
    expect(failures.map((f) => f.label)).toEqual(['broken']);
  });
});

describe('exitOnInterrupt', () => {
  it('on SIGINT: one "interrupted" line, the cleanup, then exit code 130; a second SIGINT adds nothing', async () => {
    const cleanup = new Cleanup();
    let cleaned = false;
    cleanup.add('world', () => {
      cleaned = true;
    });
    const lines: string[] = [];
    let exitCode: number | undefined;
    const handling = exitOnInterrupt(
      cleanup,
      (l) => lines.push(l),
      (code) => {
        exitCode = code;
      },
    );
    try {
      process.emit('SIGINT', 'SIGINT');
      process.emit('SIGINT', 'SIGINT');
      expect(handling.interrupted).toBe(true);
      expect(await handling.done).toBe(130);
      expect(exitCode).toBe(130);
      expect(cleaned).toBe(true);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^interrupted \(SIGINT\)/);
    } finally {
      handling.dispose();
    }
  });
});
