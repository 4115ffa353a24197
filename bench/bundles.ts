import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { SynthesizedOrchestrator } from '../local/runner.js';
import type { StepFunctionName } from '../statemachine/steps.js';
import { run } from './child.js';
import { median } from './stats.js';

/**
 * Each step function's bundle as `cdk deploy` uploads it (the synthesized asset directory), and the time a fresh
 * `node` process takes to import it: the module-loading part of a Lambda cold start (the runtime's own start and
 * the INIT of a deployed function come on top). Import is timed inside the child, so process start-up is excluded.
 */

export interface BundleMeasure {
  step: StepFunctionName;
  /** index.mjs, bytes. */
  bytes: number;
  /** index.mjs gzipped (a proxy for the zip Lambda stores), bytes. */
  gzipBytes: number;
  /** Every file of the asset directory, bytes. */
  assetBytes: number;
  importMs: number[];
  medianImportMs: number;
}

function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? directoryBytes(path) : statSync(path).size;
  }
  return total;
}

const IMPORT_PROGRAM = `
const url = process.argv[1];
const t = performance.now();
const m = await import(url);
const ms = performance.now() - t;
if (typeof m.handler !== 'function') { process.stderr.write('no handler export'); process.exit(3); }
process.stdout.write('IMPORT_MS ' + ms);
`;

export async function measureBundles(
  orchestrator: SynthesizedOrchestrator,
  runs: number,
  environment: Record<string, string>,
): Promise<BundleMeasure[]> {
  const times = new Map<StepFunctionName, number[]>(orchestrator.steps.map((s) => [s.step, []]));
  // Round robin (every bundle once, then again), so that a burst of other load on the machine spreads over all.
  for (let i = 0; i < runs; i += 1) {
    for (const step of orchestrator.steps) {
      const finished = await run(
        process.execPath,
        ['--input-type=module', '-e', IMPORT_PROGRAM, pathToFileURL(resolve(step.bundle)).href],
        {
          env: {
            PATH: process.env.PATH ?? '',
            ...environment,
            ...step.environment,
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          },
        },
      );
      const match = /IMPORT_MS ([\d.]+)/.exec(finished.stdout);
      if (finished.code !== 0 || !match) {
        throw new Error(
          `importing ${step.step}'s bundle failed (exit ${finished.code}): ${finished.stderr.slice(-2000)}`,
        );
      }
      times.get(step.step)?.push(Number(match[1]));
    }
  }
  return orchestrator.steps.map((step) => {
    const code = readFileSync(step.bundle);
    const importMs = times.get(step.step) ?? [];
    return {
      step: step.step,
      bytes: code.length,
      gzipBytes: gzipSync(code, { level: 9 }).length,
      assetBytes: directoryBytes(dirname(step.bundle)),
      importMs,
      medianImportMs: median(importMs),
    };
  });
}
