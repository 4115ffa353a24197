import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from './child.js';

/**
 * `npm run drill` end to end, as a user runs it: a child process, wall time from spawn to exit (npm, tsx, world,
 * synthesis or cache, execution, facts, shutdown).
 *
 * Cached: in this checkout, whose synthesis cache (.drill/cdk.out) the caller has warmed. Uncached: in a fresh copy
 * of the sources (node_modules linked), so that synthesis and bundling run and this checkout's cache is not touched.
 */

export interface DrillRun {
  wallSeconds: number;
  exitCode: number | null;
  /** The drill's own breakdown line ("wall time X s (world ..., synthesis ..., execution ..., facts ...)"). */
  breakdown: Record<string, number>;
  transitions?: number;
}

const COPIED = [
  'functions',
  'statemachine',
  'infra',
  'local',
  'examples',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'cdk.json',
];

function parse(stdout: string): Pick<DrillRun, 'breakdown' | 'transitions'> {
  const breakdown: Record<string, number> = {};
  const line = stdout.split('\n').find((l) => l.startsWith('execution ') && l.includes('wall time'));
  if (line) {
    for (const m of line.matchAll(/(wall time|world|synthesis|execution|facts) ([\d.]+) s/g)) {
      breakdown[(m[1] as string).replace(' ', '')] = Number(m[2]);
    }
  }
  const transitions = line ? /(\d+) state transitions/.exec(line)?.[1] : undefined;
  return { breakdown, ...(transitions ? { transitions: Number(transitions) } : {}) };
}

async function drillIn(cwd: string): Promise<DrillRun> {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const env = { ...process.env };
  delete env.POWERTOOLS_LOG_LEVEL;
  const finished = await run(npm, ['run', 'drill'], { cwd, env, timeoutMs: 5 * 60_000 });
  return { wallSeconds: finished.wallMs / 1000, exitCode: finished.code, ...parse(finished.stdout) };
}

export async function drillCached(runs: number): Promise<DrillRun[]> {
  const results: DrillRun[] = [];
  for (let i = 0; i < runs; i += 1) results.push(await drillIn(process.cwd()));
  return results;
}

export async function drillUncached(runs: number): Promise<DrillRun[]> {
  const results: DrillRun[] = [];
  for (let i = 0; i < runs; i += 1) {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-bench-drill-'));
    try {
      for (const entry of COPIED) cpSync(resolve(entry), join(dir, entry), { recursive: true });
      symlinkSync(resolve('node_modules'), join(dir, 'node_modules'), 'dir');
      results.push(await drillIn(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return results;
}
