#!/usr/bin/env node
// The `lifeboat` bin (package.json "bin"): runs cli/lifeboat.ts through tsx, a devDependency — lifeboat's CLI runs
// from a checkout of the repository, next to the plan and the CDK app it deploys.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../lifeboat.ts');
process.exitCode = await main(process.argv.slice(2));
