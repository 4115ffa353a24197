import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { build } from 'esbuild';
import { PREBUILT_DIR, prebuiltBundleDir } from '../infra/constructs/step-function.js';
import { esbuildOptions } from './esbuild-options.js';

/**
 * `npm run build` (and so `npm pack`): bundles every handler (each top-level file of functions/) into
 * `dist/lambda/<name>/index.mjs` with the options NodejsFunction is given in a checkout (BUNDLING in
 * infra/constructs/step-function.ts, turned into the esbuild arguments aws-cdk-lib's NodejsFunction passes for them:
 * scripts/esbuild-options.ts).
 * The installed package's StepFunction uses these instead of sources it does not ship: a team's `cdk synth` runs no
 * esbuild and needs no TypeScript (docs/design/packaging.md).
 */

const root = resolve(import.meta.dirname, '..');
const outRoot = resolve(process.argv[2] ?? join(root, 'dist'));

export function handlerEntries(): string[] {
  return readdirSync(join(root, 'functions'), { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => `functions/${e.name}`)
    .sort();
}

async function main(): Promise<void> {
  rmSync(join(outRoot, PREBUILT_DIR), { recursive: true, force: true });
  const entries = handlerEntries();
  for (const entry of entries) {
    const dir = prebuiltBundleDir(outRoot, entry);
    mkdirSync(dir, { recursive: true });
    await build({
      ...esbuildOptions(root),
      entryPoints: [join(root, entry)],
      outfile: join(dir, 'index.mjs'),
    });
  }
  process.stdout.write(
    `bundled ${entries.length} handlers into ${relative(process.cwd(), join(outRoot, PREBUILT_DIR))}\n`,
  );
}

await main();
