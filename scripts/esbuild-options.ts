import type { BuildOptions } from 'esbuild';
import { BUNDLE_ALIASES, BUNDLING } from '../infra/constructs/step-function.js';

/**
 * BUNDLING (infra/constructs/step-function.ts), the options NodejsFunction is given in a checkout, as the esbuild
 * options aws-cdk-lib's NodejsFunction turns them into: one source for the package's pre-built bundles
 * (scripts/bundle-functions.ts), the proving ground's own bundles of the secret feeds, and the tests. `root` is the
 * project root, esbuild's working directory, where the alias paths are resolved (NodejsFunction runs esbuild there).
 */
export function esbuildOptions(root: string): BuildOptions {
  return {
    absWorkingDir: root,
    bundle: true,
    format: BUNDLING.format,
    target: BUNDLING.target,
    platform: BUNDLING.platform,
    mainFields: [...BUNDLING.mainFields],
    minify: BUNDLING.minify,
    keepNames: BUNDLING.keepNames,
    sourcemap: BUNDLING.sourceMap,
    sourcesContent: BUNDLING.sourcesContent,
    charset: BUNDLING.esbuildArgs['--charset'],
    banner: { js: BUNDLING.banner },
    // bundleAwsSDK: the SDK is bundled, so nothing is external but what BUNDLING names.
    external: [...BUNDLING.externalModules],
    alias: { ...BUNDLE_ALIASES },
    logLevel: 'warning',
  };
}
