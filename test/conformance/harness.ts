/**
 * Conformance harness: each behaviour is written once against an abstract target (an AWS-compatible endpoint) and
 * runs against the emulator always and against moto (`python3 -m moto.server`) when moto is installed. Where moto
 * is known to behave differently, the test file's divergence table says how, and the test asserts what moto does
 * instead, so the table cannot go stale and the emulator cannot drift into a dialect of its own unnoticed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';

export type TargetName = 'emulator' | 'moto';

export interface Target {
  readonly name: TargetName;
  readonly endpoint: string;
  /** SDK client configuration: only endpoint, Region and fake credentials; no SDK retries. */
  config(region: string): {
    region: string;
    endpoint: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
    maxAttempts: number;
  };
  /** Real milliseconds between polls of an asynchronous change, and the longest wait. */
  readonly pollMs: number;
  readonly timeoutMs: number;
  /** The emulator, for set-up that only it offers (seeding, statuses); undefined on moto. */
  readonly emulator?: Emulator;
  close(): Promise<void>;
}

const CREDENTIALS = { accessKeyId: 'AKIACONFORMANCE00000', secretAccessKey: 'conformance' };

/**
 * Emulated durations for conformance, in AWS milliseconds × 0.001: each phase lasts 80-150 real ms, long enough for
 * a 5 ms poll to see it even on a loaded machine, short enough to keep the suite fast.
 */
export const CONFORMANCE_TIMINGS = {
  secretReplicationMs: 150_000,
  promoteStartMs: 80_000,
  promoteModifyingMs: 120_000,
  promoteRebootingMs: 120_000,
  // 150 ms at the suite's factor, as the other phases: 30 ms was shorter than one request on a loaded machine.
  createInstanceMs: 150_000,
  deleteInstanceMs: 80_000,
  route53ChangeMs: 100_000,
} as const;

async function emulatorTarget(): Promise<Target> {
  const emulator = await startEmulator({ timeFactor: 0.001, timings: CONFORMANCE_TIMINGS, seed: 7 });
  return {
    name: 'emulator',
    endpoint: emulator.endpoint,
    config: (region) => ({ region, endpoint: emulator.endpoint, credentials: CREDENTIALS, maxAttempts: 1 }),
    pollMs: 5,
    timeoutMs: 5_000,
    emulator,
    close: () => emulator.close(),
  };
}

/* ---------------------------------------------------------------------------------------------- */
/* moto                                                                                            */
/* ---------------------------------------------------------------------------------------------- */

/** The Python that runs moto; `LIFEBOAT_MOTO_PYTHON` picks another (e.g. a virtualenv's). */
const PYTHON = process.env.LIFEBOAT_MOTO_PYTHON ?? 'python3';

function detectMoto(): { available: boolean; why: string } {
  const probe = spawnSync(PYTHON, ['-c', 'import moto, flask, werkzeug; print(moto.__version__)'], {
    encoding: 'utf8',
  });
  if (probe.status === 0) return { available: true, why: `moto ${probe.stdout.trim()}` };
  return {
    available: false,
    why: `moto is not installed (${PYTHON} -c "import moto" failed: ${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()})`,
  };
}

export const MOTO = detectMoto();

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A moto server of its own on a free port (also for the drill's --endpoint test, test/e2e/endpoint.test.ts). */
export async function motoTarget(): Promise<Target> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(PYTHON, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid);
      throw new Error(`moto.server did not start on ${endpoint}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    name: 'moto',
    endpoint,
    config: (region) => ({ region, endpoint, credentials: CREDENTIALS, maxAttempts: 1 }),
    pollMs: 50,
    timeoutMs: 10_000,
    async close() {
      if (child.pid !== undefined && child.exitCode === null) {
        process.kill(child.pid, 'SIGTERM');
        await exited;
      }
    },
  };
}

/* ---------------------------------------------------------------------------------------------- */
/* Suites and divergences                                                                           */
/* ---------------------------------------------------------------------------------------------- */

/** Test title → what moto does instead of what AWS does. */
export type DivergenceTable = Readonly<Record<string, string>>;

export interface Suite {
  /** The live target (available inside tests and hooks). */
  target(): Target;
  readonly name: TargetName;
  /**
   * Runs `aws` — the behaviour AWS documents — or, on moto for a test listed in the divergence table, `moto`: the
   * check of what moto does instead.
   */
  behaves(test: string, checks: { aws: () => Promise<void>; moto?: () => Promise<void> }): Promise<void>;
}

/** Defines the suite twice: against the emulator, and against moto (skipped with a message when moto is missing). */
export function conformance(title: string, divergences: DivergenceTable, body: (suite: Suite) => void): void {
  for (const name of ['emulator', 'moto'] as const) {
    const skip = name === 'moto' && !MOTO.available;
    if (skip) console.warn(`[conformance] ${title}: the moto half is skipped — ${MOTO.why}`);
    describe.skipIf(skip)(`${title} [${name}]`, () => {
      let live: Target | undefined;
      const used = new Set<string>();
      beforeAll(async () => {
        live = name === 'emulator' ? await emulatorTarget() : await motoTarget();
      });
      afterAll(async () => {
        await live?.close();
        if (name === 'moto') {
          // Every divergence listed must be exercised, or the table is stale.
          expect(Object.keys(divergences).filter((k) => !used.has(k))).toEqual([]);
        }
      });
      body({
        name,
        target() {
          if (!live) throw new Error('target not started');
          return live;
        },
        async behaves(test, checks) {
          const divergence = divergences[test];
          if (name === 'moto' && divergence !== undefined) {
            used.add(test);
            if (!checks.moto) throw new Error(`divergence "${test}" has no moto check`);
            await checks.moto();
            return;
          }
          await checks.aws();
        },
      });
    });
  }
}

/**
 * For a test whose set-up needs an emulator-only API (e.g. putting an instance in `backing-up`): true on moto,
 * with a message saying why the test does not run there.
 */
export function needsEmulator(name: TargetName, test: string, why: string): boolean {
  if (name !== 'moto') return false;
  if (MOTO.available) console.warn(`[conformance] not run on moto: ${test} — ${why}`);
  return true;
}

/** Polls `read` until `done` holds for its value; returns every value seen. */
export async function pollUntil<T>(
  target: Target,
  read: () => Promise<T>,
  done: (value: T) => boolean,
): Promise<T[]> {
  const seen: T[] = [];
  const deadline = Date.now() + target.timeoutMs;
  for (;;) {
    const value = await read();
    seen.push(value);
    if (done(value)) return seen;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${target.timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    }
    await new Promise((r) => setTimeout(r, target.pollMs));
  }
}

/** Consecutive duplicates removed: ['a','a','b','a'] → ['a','b','a']. */
export function transitions<T>(values: readonly T[]): T[] {
  return values.filter((v, i) => i === 0 || v !== values[i - 1]);
}

let counter = 0;
/** A name no other test of this run uses (moto keeps its state for the whole file). */
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected the call to fail, but it succeeded');
}
