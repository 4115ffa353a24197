import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../local/drill-command.js';
import { MOTO, motoTarget, type Target } from '../conformance/harness.js';

/**
 * `npm run drill -- --endpoint URL` against moto (local/endpoint-world.ts): what it prints. On moto 5 the failover
 * fails at promoteSecret (moto does not implement StopReplicationToReplica, README "Against another AWS-compatible
 * server"), which is what a failed --endpoint run needs: its report is in the bucket, not in the execution's output.
 * Three runs on one server: a first one, a second one after a reset of the server (it must not synthesize again:
 * the server issues a new zone id), and a third one without a reset (refused before anything is created), run as
 * `npm run drill` runs, in a process of its own without the SDK's warning switch set by the test setup: the seeding's
 * SDK clients must not print the SDK's Node-version warning.
 */

const TIME_FACTOR = '0.002';

interface Drill {
  code: number;
  out: string;
}

/** The drill as a command of its own: the environment as a user's shell has it (no warning switch). */
function drillCommand(endpoint: string): Drill {
  const env = { ...process.env };
  delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'local/drill-command.ts', '--endpoint', endpoint, '--time-factor', TIME_FACTOR],
    { env, encoding: 'utf8', timeout: 120_000 },
  );
  return { code: child.status ?? -1, out: `${child.stdout}${child.stderr}` };
}

async function drill(endpoint: string): Promise<Drill> {
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
  const code = await main(['--endpoint', endpoint, '--time-factor', TIME_FACTOR], io);
  return { code, out: lines.join('\n') };
}

if (!MOTO.available) console.warn(`[e2e] --endpoint against moto: skipped — ${MOTO.why}`);

describe.skipIf(!MOTO.available)('npm run drill -- --endpoint against moto', () => {
  let moto: Target;
  let first: Drill;
  let afterReset: Drill;
  let again: Drill;

  beforeAll(async () => {
    moto = await motoTarget();
    first = await drill(moto.endpoint);
    const reset = await fetch(new URL('/moto-api/reset', moto.endpoint), { method: 'POST' });
    expect(reset.ok).toBe(true);
    afterReset = await drill(moto.endpoint);
    again = drillCommand(moto.endpoint);
  }, 600_000);

  afterAll(async () => {
    await moto?.close();
  });

  it('shows the report of a failed run from the bucket, and never says verified', () => {
    // Assess
    expect(first.code, first.out).toBe(1);
    expect(first.out).not.toContain('no report to show');
    expect(first.out).toMatch(/^lifeboat report: plan orders-dr, run endpoint-failover-\d{14}$/m);
    expect(first.out).toMatch(/^FAILED \(FailoverIncompleteError\): /m);
    expect(first.out).not.toMatch(/verified in|recovered and verified/);
  });

  it('heads its facts with where they were checked, and checks rotation attached and not rotated', () => {
    // Assess
    expect(first.out).not.toContain('checked on the real databases and DNS');
    expect(first.out).toContain(`facts checked through the API of ${moto.endpoint} only`);
    expect(first.out).toMatch(/\[(ok|FAIL)\] orders: rotation attached, not rotated: /);
  });

  it('runs again on a reset server without synthesizing again', () => {
    // Assess
    expect(afterReset.code, afterReset.out).toBe(1);
    expect(afterReset.out).not.toContain('synthesizing');
    expect(afterReset.out).toMatch(/^lifeboat report: plan orders-dr, run endpoint-failover-/m);
  });

  it('refuses a run on a server that still holds the last run, before creating anything, saying what and how to reset', () => {
    // Assess
    expect(again.code).toBe(1);
    expect(again.out).toContain('EndpointNotEmptyError');
    expect(again.out).toContain('DB instance orders-db (us-east-1)');
    expect(again.out).toContain('secret orders/db (us-east-1)');
    expect(again.out).toContain(`curl -X POST ${moto.endpoint}/moto-api/reset`);
    expect(again.out).toContain('Nothing was created');
    expect(again.out).not.toContain('lifeboat report');
    // The seeding's clients were made with the SDK's Node-version warning off.
    expect(again.out).not.toContain('NodeVersionSupportWarning');
  });
});
