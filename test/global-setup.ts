import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * One temporary directory for the whole run, removed at its end. Every test file's temporary files go under it
 * (`TMPDIR` is inherited by the workers and read by `os.tmpdir()`): a CDK `App` without an `outdir` synthesizes into a
 * new `cdk.out*` directory of its own there, about 400 of them a suite run, which nothing else removes.
 */
export default function setup(): () => void {
  const previous = process.env.TMPDIR;
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-test-'));
  // Open like /tmp itself (sticky, anyone may create): PostgreSQL runs as its own user when the tests run as root,
  // and could not enter a directory only its creator may (mkdtemp's 0700).
  chmodSync(dir, 0o1777);
  process.env.TMPDIR = dir;
  return () => {
    rmSync(dir, { recursive: true, force: true });
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
  };
}
