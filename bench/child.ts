import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FailoverPlan } from '../functions/lib/plan.js';
import { orchestratorFingerprint } from '../local/synthesize.js';
import type { OneUnitResult, ScaleResult, ScenarioConfig } from './scenario.js';

/** Child processes of the benchmark: scenarios, synthesis of the scale plan, timed commands. */

export const CACHE_DIR = resolve('bench', '.cache');

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
}

/** Runs `command args` in `cwd`, returns its output and wall time (from spawn to exit). */
export function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Finished> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(command, args, {
      cwd: options.cwd ?? process.cwd(),
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs ?? 15 * 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr, wallMs: performance.now() - started });
    });
  });
}

/** Runs one scenario in a fresh process and returns its result. */
export async function scenario<T extends OneUnitResult | ScaleResult>(config: ScenarioConfig): Promise<T> {
  const finished = await run(process.execPath, [
    '--import',
    'tsx',
    resolve('bench/scenario.ts'),
    JSON.stringify(config),
  ]);
  const line = finished.stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (finished.code !== 0 || !line) {
    throw new Error(
      `scenario ${JSON.stringify(config)} failed (exit ${finished.code}):\n${finished.stderr.slice(-3000)}`,
    );
  }
  return JSON.parse(line.slice('BENCH_RESULT '.length)) as T;
}

/**
 * The synthesized orchestrator of `plan`, in the benchmark's own cache (bench/.cache/cdk.out/<name>-<fingerprint>),
 * so that every scenario of one benchmark run uses the same bundles whatever else changes in the checkout, and the
 * drill's cache (.drill/) is never touched. Synthesis runs in a child process, as local/synthesize.ts does it.
 */
export async function synthesizePlan(
  plan: FailoverPlan,
  name: string,
): Promise<{ orchestratorPath: string; cached: boolean; seconds: number }> {
  const plans = join(CACHE_DIR, 'plans');
  mkdirSync(plans, { recursive: true });
  const planPath = join(plans, `${name}.json`);
  writeFileSync(planPath, `${JSON.stringify(plan, null, 2)}\n`);
  const root = join(CACHE_DIR, 'cdk.out');
  const dir = join(root, `${name}-${orchestratorFingerprint(planPath)}`);
  const orchestratorPath = join(dir, 'orchestrator.json');
  if (existsSync(orchestratorPath)) return { orchestratorPath, cached: true, seconds: 0 };
  // Older entries of this plan are of no further use (the benchmark is their only user).
  if (existsSync(root)) {
    for (const entry of readdirSync(root)) {
      if (entry.startsWith(`${name}-`)) rmSync(join(root, entry), { recursive: true, force: true });
    }
  }
  const finished = await run(
    process.execPath,
    ['--import', 'tsx', resolve('local/synthesize.ts'), planPath, dir],
    { env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' } },
  );
  if (finished.code !== 0 || !existsSync(orchestratorPath)) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`synthesis of ${name} failed (exit ${finished.code}):\n${finished.stderr.slice(-3000)}`);
  }
  return { orchestratorPath, cached: false, seconds: finished.wallMs / 1000 };
}
