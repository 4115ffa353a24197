import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Ctrl-C during `npm run drill` (issue 9, item 11): the drill runs as a child process in its own process group and
 * its own TMPDIR; SIGINT arrives at a point of the world's start-up or of the run, found by waiting for an output
 * marker (never a fixed sleep). Then: the drill exits promptly with 130 and one "interrupted" line, nothing else
 * goes wrong on the way out (no stack, no ECONNREFUSED), no process of its process group is left (the PostgreSQL
 * servers and initdb stay in the group: they are spawned without `detached`), and its TMPDIR holds no directory of
 * the world's (lifeboat-pg-*, lifeboat-s3-*) nor the synthesis's staging directory.
 *
 * "group" sends SIGINT to the whole process group, as a terminal's Ctrl-C does (PostgreSQL gets it too); "pid" sends
 * it to the drill alone (`kill -INT`), so only the drill's own cleanup can stop the servers.
 */

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const CACHE_ROOT = join(ROOT, '.drill', 'cdk.out');
const EXIT_BUDGET_MS = 45_000;

interface Drill {
  child: ChildProcess;
  tmp: string;
  lines: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

const tmpDirs: string[] = [];

function startDrill(): Drill {
  const tmp = mkdtempSync(join(tmpdir(), 'lifeboat-interrupt-test-'));
  // As root, PostgreSQL runs as the postgres OS user, which must traverse TMPDIR to reach its data directories.
  chmodSync(tmp, 0o755);
  tmpDirs.push(tmp);
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/drill-command.ts', '--verbose'], {
    cwd: ROOT,
    detached: true, // its own process group: the test signals and inspects it as a terminal would
    env: { ...process.env, TMPDIR: tmp, POWERTOOLS_LOG_LEVEL: 'ERROR' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  const onLine = (line: string) => {
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.pattern.test(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    let pending = '';
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) onLine(line);
    });
  }
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  return {
    child,
    tmp,
    lines,
    exit,
    waitFor(pattern, timeoutMs = 180_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolvePromise, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${lines.join('\n')}`)),
          timeoutMs,
        );
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolvePromise(line);
          },
        });
        void exit.then(() => {
          clearTimeout(timer);
          reject(new Error(`the drill exited before a line matching ${pattern}:\n${lines.join('\n')}`));
        });
      });
    },
  };
}

/** Pids of the processes whose process group is `pgid` (ps, no name matching). */
function processesInGroup(pgid: number): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => Number(fields[1]) === pgid && !fields[2]?.startsWith('Z'))
    .map((fields) => fields.join(' '));
}

async function interruptAndCheck(drill: Drill, target: 'group' | 'pid'): Promise<void> {
  const pid = drill.child.pid as number;
  const signalledAt = Date.now();
  process.kill(target === 'group' ? -pid : pid, 'SIGINT');
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), EXIT_BUDGET_MS).unref());
  const result = await Promise.race([drill.exit, timeout]);
  const output = drill.lines.join('\n');
  if (result === 'timeout') {
    process.kill(-pid, 'SIGKILL');
    throw new Error(`the drill did not exit within ${EXIT_BUDGET_MS} ms of SIGINT:\n${output}`);
  }
  expect(result, output).toEqual({ code: 130, signal: null });
  expect(Date.now() - signalledAt).toBeLessThan(EXIT_BUDGET_MS);
  // The servers' own log lines (`  . [id] ...`, from --verbose) may say "interrupted" too: they are not the drill's.
  const interrupted = drill.lines.filter((l) => !l.startsWith('  . ') && /interrupted/i.test(l));
  expect(interrupted, output).toHaveLength(1);
  expect(interrupted[0]).toMatch(/^interrupted \(SIGINT\)/);
  expect(output).not.toMatch(/ECONNREFUSED|ECONNRESET|Unhandled|\n\s+at /);
  // Nothing of the drill's process group is left: no postgres, no initdb, no synthesis child.
  let left = processesInGroup(pid);
  for (let i = 0; i < 20 && left.length > 0; i++) {
    // A process that got SIGKILL may take a moment to be reaped by init.
    await new Promise((r) => setTimeout(r, 100));
    left = processesInGroup(pid);
  }
  expect(left, output).toEqual([]);
  // No temporary directory of the world's (tsx keeps its own compile cache there: not the drill's).
  const leftovers = readdirSync(drill.tmp).filter((name) => !name.startsWith('tsx-'));
  expect(leftovers, output).toEqual([]);
  // No staging directory of an interrupted synthesis.
  const staging = existsSync(CACHE_ROOT)
    ? readdirSync(CACHE_ROOT).filter((name) => name.includes(`.${pid}.`))
    : [];
  expect(staging, output).toEqual([]);
}

afterAll(() => {
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

// In this order: the first case interrupts while the app is still being synthesized (unless it is cached); the run
// case then fills the synthesis cache, so the later start-up cases start in seconds.
describe('Ctrl-C during npm run drill', { timeout: 300_000 }, () => {
  it('at the first progress line of start-up (emulator up, PostgreSQL starting): SIGINT to the drill alone', async () => {
    const drill = startDrill();
    await drill.waitFor(/^world: emulator /);
    await interruptAndCheck(drill, 'pid');
  });

  it('during the run (after the first step started): SIGINT to the whole process group', async () => {
    const drill = startDrill();
    await drill.waitFor(/>\s+preflight/, 240_000);
    await interruptAndCheck(drill, 'group');
  });

  it('right after the primary PostgreSQL server started: SIGINT to the drill alone', async () => {
    const drill = startDrill();
    await drill.waitFor(/database system is ready to accept connections/);
    await interruptAndCheck(drill, 'pid');
  });

  it('while the replica starts: SIGINT to the whole process group, as a terminal sends it', async () => {
    const drill = startDrill();
    await drill.waitFor(/entering standby mode/);
    await interruptAndCheck(drill, 'group');
  });
});
