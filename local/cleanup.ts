import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';

/**
 * Everything the local proving ground starts, so that Ctrl-C at any moment of start-up or of the run stops it all.
 * Each process and temporary directory is registered the moment it exists (right after `spawn`, right after
 * `mkdtemp`, before anything waits for it to be ready) and deregistered when the ordinary path stops or removes it.
 * `run()` stops every registered process by its pid (and waits for its exit) and removes every registered directory.
 * docs/design/interrupt.md says why and how.
 */

type Action = () => Promise<unknown> | unknown;

interface Entry {
  readonly label: string;
  readonly action: Action;
}

export interface ProcessCleanupOptions {
  /** First signal sent on cleanup. @default "SIGTERM" */
  readonly signal?: NodeJS.Signals;
  /** How long the process may take to exit after `signal` before SIGKILL. @default 10000 */
  readonly graceMs?: number;
}

/** An entry that did not finish within its budget during `run()`. */
export interface CleanupFailure {
  readonly label: string;
  readonly error: unknown;
}

const ACTION_BUDGET_MS = 20_000;

export class Cleanup {
  private readonly entries = new Map<number, Entry>();
  private next = 0;
  private running: Promise<CleanupFailure[]> | undefined;
  private finished = false;

  /** True once `run()` has begun: whatever is still starting should give up rather than start more. */
  get closing(): boolean {
    return this.running !== undefined;
  }

  /** Labels of what is registered now (for tests and diagnostics). */
  pending(): string[] {
    return [...this.entries.values()].map((e) => e.label);
  }

  /**
   * Registers an action for `run()`. Returns a function that deregisters it (call it once the thing is stopped the
   * ordinary way). Registering while `run()` runs queues the action for it; after `run()` finished, it runs at once:
   * something that came up during cleanup must not outlive it.
   */
  add(label: string, action: Action): () => void {
    if (this.finished) {
      void settle(label, action);
      return () => undefined;
    }
    const id = this.next++;
    this.entries.set(id, { label, action });
    return () => {
      this.entries.delete(id);
    };
  }

  /**
   * A spawned child: registered at once, deregistered when it exits. On `run()` it gets `signal`, then SIGKILL after
   * `graceMs`, and `run()` waits for its exit. Call this on the line after `spawn`.
   */
  process(label: string, child: ChildProcess, options: ProcessCleanupOptions = {}): () => void {
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
      // A spawn that failed (ENOENT, EACCES) never exits: it never started.
      child.once('error', () => {
        if (child.pid === undefined) resolve();
      });
    });
    const deregister = this.add(`${label} (pid ${child.pid ?? '?'})`, () =>
      stopChild(child, exited, options.signal ?? 'SIGTERM', options.graceMs ?? 10_000),
    );
    void exited.then(deregister);
    return deregister;
  }

  /** A temporary directory, removed on `run()`. Returns the deregistration. */
  directory(path: string): () => void {
    return this.add(`directory ${path}`, () => rm(path, { recursive: true, force: true, maxRetries: 3 }));
  }

  /**
   * Runs every action, newest first (what started last usually depends on what started first), each bounded, and
   * resolves with the ones that failed. Idempotent: later calls get the same promise.
   */
  run(): Promise<CleanupFailure[]> {
    this.running ??= (async () => {
      const failures: CleanupFailure[] = [];
      // Entries registered while earlier ones run (a start that finished during cleanup) are taken in later rounds.
      while (this.entries.size > 0) {
        const batch = [...this.entries.entries()].reverse();
        for (const [id] of batch) this.entries.delete(id);
        for (const [, entry] of batch) {
          const error = await settle(entry.label, entry.action);
          if (error !== undefined) failures.push({ label: entry.label, error });
        }
      }
      this.finished = true;
      return failures;
    })();
    return this.running;
  }
}

async function settle(label: string, action: Action): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(action),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${label}: not done within ${ACTION_BUDGET_MS} ms`)),
          ACTION_BUDGET_MS,
        );
      }),
    ]);
    return undefined;
  } catch (error) {
    return error ?? new Error(`${label} failed`);
  } finally {
    clearTimeout(timer);
  }
}

async function stopChild(
  child: ChildProcess,
  exited: Promise<void>,
  signal: NodeJS.Signals,
  graceMs: number,
): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs);
  });
  if ((await Promise.race([exited, late])) === 'late') {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}

export interface InterruptHandling {
  /** True once SIGINT or SIGTERM arrived. */
  readonly interrupted: boolean;
  /** Resolves with the exit code (130) once the cleanup after an interrupt is done; never resolves otherwise. */
  readonly done: Promise<number>;
  /** Removes the handlers this installed (the cleanup itself stays as it is). */
  dispose(): void;
}

/** Exit code after Ctrl-C: 128 + SIGINT, as shells report it. */
export const INTERRUPTED_EXIT_CODE = 130;

/**
 * Installs SIGINT and SIGTERM handlers that print one line, `interrupted: ...`, run `cleanup` and exit with 130.
 * Install it before the first spawn. After an interrupt, errors from work torn down under its feet (a client whose
 * server just stopped: ECONNREFUSED, ECONNRESET) are expected and swallowed instead of crashing the cleanup. Another
 * Ctrl-C while the cleanup runs is ignored: the cleanup is bounded (docs/design/interrupt.md).
 */
export function exitOnInterrupt(
  cleanup: Cleanup,
  write: (line: string) => void,
  exit: (code: number) => void = (code) => process.exit(code),
): InterruptHandling {
  let interrupted = false;
  let resolveDone: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => {
    resolveDone = resolve;
  });
  const swallow = () => undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.on('unhandledRejection', swallow);
    process.on('uncaughtException', swallow);
    write(`interrupted (${signal}): stopping every process and removing the temporary files`);
    void cleanup.run().then((failures) => {
      for (const f of failures) {
        write(`  cleanup: ${f.label}: ${f.error instanceof Error ? f.error.message : String(f.error)}`);
      }
      resolveDone(INTERRUPTED_EXIT_CODE);
      exit(INTERRUPTED_EXIT_CODE);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    get interrupted() {
      return interrupted;
    },
    done,
    dispose() {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('unhandledRejection', swallow);
      process.removeListener('uncaughtException', swallow);
    },
  };
}
