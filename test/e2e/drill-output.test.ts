import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * `npm run drill` as a new user runs it (local/drill-command.ts): a process of its own, the environment of a shell
 * (without the SDK's warning switch that the test setup sets), the default plan and time factor. What it prints must
 * be short and true: no SDK warning, polls collapsed, counts in the right number, scaled time said to be scaled, and
 * a failover named as one.
 */

let code: number | null;
let out = '';

beforeAll(async () => {
  const env = { ...process.env };
  delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  delete env.POWERTOOLS_LOG_LEVEL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/drill-command.ts'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // stdout and stderr interleaved as a terminal shows them.
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
}, 600_000);

describe('npm run drill, as printed', () => {
  it('succeeds and prints no SDK warning', () => {
    // Assess
    expect(code, out).toBe(0);
    expect(out).not.toContain('NodeVersionSupportWarning');
    expect(out).not.toContain('AWS SDK for JavaScript');
  });

  it('collapses each wait: one start line, a line per status change, one end line with the count', () => {
    // Prepare
    const progress = (step: string) =>
      out.split('\n').filter((l) => /^\s+\d+\.\d\ds {2}/.test(l) && l.includes(` ${step}`));

    for (const step of ['checkDatabasePromotion', 'checkDnsChange']) {
      // Act
      const lines = progress(step);

      // Assess
      expect(
        lines.filter((l) => / > {2}/.test(l)),
        step,
      ).toHaveLength(1);
      const ends = lines.filter((l) => / ok /.test(l));
      expect(ends, step).toHaveLength(1);
      const polls = Number(/after (\d+) polls?/.exec(ends[0] ?? '')?.[1]);
      expect(polls, ends[0]).toBeGreaterThan(0);
      const changes = lines.filter((l) => / \.\. /.test(l)).map((l) => /\.\. \S+ (\S+) \(poll/.exec(l)?.[1]);
      // Never the same status twice in a row, and never more lines than polls.
      expect(
        changes.filter((s, i) => i > 0 && s === changes[i - 1]),
        step,
      ).toEqual([]);
      expect(lines.length, step).toBeLessThanOrEqual(polls + 1);
    }
  });

  it('counts in the right number', () => {
    // Assess
    expect(out).not.toMatch(/(?<!of )\b1 (polls|warnings|errors|units|rows|calls)\b/);
  });

  it('names the run a failover and says its recovery time is scaled time', () => {
    // Assess
    expect(out).toMatch(/^lifeboat report: plan orders-dr, run failover-\d{14}$/m);
    expect(out).not.toMatch(/run drill-/);
    expect(out).toMatch(/^recovery time \S+ in scaled time against a target RTO of 15m 00s: met$/m);
    expect(out).toMatch(/^scaled time \(--time-factor 0\.02: .*50x shorter\)/m);
    expect(out).toContain('facts checked on the real databases and DNS:');
  });
});
