import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { FailoverPlan } from '../functions/lib/plan.js';
import { loadPlanFile } from '../infra/lifeboat-app.js';
import type { Cleanup } from './cleanup.js';
import { type SynthesizedOrchestrator, synthesizeOrchestrator } from './runner.js';

/**
 * Synthesis with bundling is the slow part of a local run (esbuild for each step, run synchronously by CDK), so
 * it runs in a child process — the world starts beside it — and its result is kept in `.drill/cdk.out/<hash>`,
 * keyed on everything it depends on: the plan, the product code and the lock file. A change to any of them
 * synthesizes anew.
 */

const SOURCES = ['functions', 'statemachine', 'infra'];
const CACHE_ROOT = resolve('.drill', 'cdk.out');

export function orchestratorFingerprint(planPath: string): string {
  const hash = createHash('sha256');
  hash.update(readFileSync(planPath));
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) files.push(path);
    }
  };
  for (const dir of SOURCES) if (existsSync(dir)) walk(dir);
  files.push('package-lock.json', 'tsconfig.json');
  for (const file of files.sort()) {
    if (!existsSync(file)) continue;
    hash.update(relative('.', file));
    hash.update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 16);
}

/** The synthesized orchestrator for the plan at `planPath`: from the cache, or synthesized in a child process. */
export async function loadOrSynthesize(
  planPath: string,
  log: (line: string) => void = () => undefined,
  /** Ctrl-C handling: the synthesis child and its staging directory are registered here (local/cleanup.ts). */
  cleanup?: Cleanup,
): Promise<SynthesizedOrchestrator & { cached: boolean }> {
  const fingerprint = orchestratorFingerprint(planPath);
  const dir = join(CACHE_ROOT, fingerprint);
  const manifest = join(dir, 'orchestrator.json');
  if (existsSync(manifest)) {
    const cached = JSON.parse(readFileSync(manifest, 'utf8')) as SynthesizedOrchestrator;
    const bundles = [...cached.steps, ...(cached.closer ? [cached.closer] : [])];
    if (bundles.every((s) => existsSync(s.bundle))) return { ...cached, cached: true };
  }
  pruneCache(fingerprint);
  log(`synthesizing the app with bundling into ${relative('.', dir)} (cached for the next run)`);
  // Into a private directory first, then renamed: a concurrent run never sees a half-written cache entry.
  const staging = `${dir}.${process.pid}.${Date.now()}.tmp`;
  const forgetStaging = cleanup?.directory(staging);
  if (cleanup?.closing) throw new Error('interrupted');
  await new Promise<void>((resolvePromise, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', resolve('local/synthesize.ts'), planPath, staging],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' },
      },
    );
    cleanup?.process('synthesis', child);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.resume();
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`synthesis failed (exit ${code}):\n${stderr.slice(-4000)}`));
    });
  }).catch((error: unknown) => {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  });
  const synthesized = JSON.parse(
    readFileSync(join(staging, 'orchestrator.json'), 'utf8'),
  ) as SynthesizedOrchestrator;
  if (existsSync(manifest)) {
    // Another run finished the same synthesis first: use its entry, drop ours.
    rmSync(staging, { recursive: true, force: true });
    forgetStaging?.();
    return { ...(JSON.parse(readFileSync(manifest, 'utf8')) as SynthesizedOrchestrator), cached: false };
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  forgetStaging?.();
  const relocate = (path: string) => path.replace(staging, dir);
  const entry = {
    ...synthesized,
    steps: synthesized.steps.map((s) => ({ ...s, bundle: relocate(s.bundle) })),
    ...(synthesized.closer
      ? { closer: { ...synthesized.closer, bundle: relocate(synthesized.closer.bundle) } }
      : {}),
  };
  writeFileSync(manifest, JSON.stringify(entry));
  return { ...entry, cached: false };
}

/**
 * The orchestrator synthesized for a plan, made to run `plan`: the same plan but for identifiers a server hands out
 * (hosted zone ids, rotation function ARNs: `npm run drill -- --endpoint`). In the synthesized app those reach only
 * the IAM policies, which the local runner does not apply, and the deployed plan the definition carries, which is
 * replaced here; so the cache entry of the plan file serves every server, instead of a synthesis per server-issued
 * zone id. Throws when the plans differ in anything else, or when an old identifier is left anywhere in the
 * definition or the functions' environment (the app would then depend on it in a way this does not know).
 */
export function rebindPlan<T extends SynthesizedOrchestrator>(orchestrator: T, plan: FailoverPlan): T {
  const old = orchestrator.plan;
  const serverIssued = (p: FailoverPlan) =>
    JSON.stringify({
      ...p,
      units: p.units.map((u) => ({
        ...u,
        dns: { ...u.dns, hostedZoneId: null },
        rotation: { ...u.rotation, lambdaArn: null },
      })),
    });
  if (serverIssued(old) !== serverIssued(plan)) {
    throw new Error('rebindPlan: the plans differ in more than hosted zone ids and rotation function ARNs');
  }
  const oldPlan = JSON.stringify(old);
  const swap = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(swap);
    if (value === null || typeof value !== 'object') return value;
    if (JSON.stringify(value) === oldPlan) return structuredClone(plan);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, swap(v)]));
  };
  const definition = swap(orchestrator.definition) as T['definition'];
  const changed = old.units.flatMap((u, i) => {
    const next = plan.units[i];
    return [
      ...(next && next.dns.hostedZoneId !== u.dns.hostedZoneId ? [u.dns.hostedZoneId] : []),
      ...(next && next.rotation.lambdaArn !== u.rotation.lambdaArn ? [u.rotation.lambdaArn] : []),
    ];
  });
  const rest = JSON.stringify([definition, orchestrator.steps, orchestrator.closer ?? null]);
  const left = changed.filter((id) => rest.includes(id));
  if (left.length) {
    throw new Error(
      `rebindPlan: ${left.join(', ')} is used by the synthesized app outside its deployed plan`,
    );
  }
  return { ...orchestrator, plan: structuredClone(plan), definition };
}

const KEEP_ENTRIES = 4;
const KEEP_YOUNGER_THAN_MS = 15 * 60_000;

/**
 * Keeps the cache small without pulling an entry from under a run that may be using it: entries younger than
 * 15 minutes stay, and of the older ones the most recent few.
 */
function pruneCache(current: string): void {
  if (!existsSync(CACHE_ROOT)) return;
  const now = Date.now();
  const entries = readdirSync(CACHE_ROOT, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== current)
    .map((e) => ({ path: join(CACHE_ROOT, e.name), mtime: statSync(join(CACHE_ROOT, e.name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  entries.forEach((entry, i) => {
    if (now - entry.mtime > KEEP_YOUNGER_THAN_MS && i >= KEEP_ENTRIES - 1) {
      rmSync(entry.path, { recursive: true, force: true });
    }
  });
}

/** Child process: `node --import tsx local/synthesize.ts PLAN OUTDIR`. */
function synthesizeInto(planPath: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const orchestrator = synthesizeOrchestrator(loadPlanFile(planPath), dir);
  writeFileSync(join(dir, 'orchestrator.json'), JSON.stringify(orchestrator));
}

const invokedDirectly =
  process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname);
if (invokedDirectly) {
  const [planPath, dir] = process.argv.slice(2);
  if (!planPath || !dir) {
    process.stderr.write('usage: node --import tsx local/synthesize.ts PLAN OUTDIR\n');
    process.exit(2);
  }
  synthesizeInto(planPath, dir);
}
