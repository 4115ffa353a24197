import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../functions/lib/report/index.js';
import type { RunResult } from '../../local/runner.js';
import {
  type Capture,
  captureOutput,
  type EvidenceWorld,
  markerPassword,
  plannedUnits,
  readReport,
  readStoredObject,
  readStoredReportText,
  startWorld,
} from './support.js';

/**
 * Secret material (issue 6; docs/design.md, "Targets": the secret's password never appears in logs, state data, errors or
 * reports). The secrets of a world hold a unique marker password; five runs go through the real state machine with
 * the handlers logging at DEBUG: a dry run, a drill, a failover, a run that fails at DNS (Route 53 refuses the change)
 * and a run that fails at verification (the application's table is gone: the verify step connects with the
 * password, then its query fails, and the error travels through the state machine into the report). The marker must then be nowhere: not in what the
 * process wrote (stdout, stderr), the execution results, any event of the execution history (every state's input and
 * output, every error and cause), the reports stored in S3, the SNS messages, or the emulator's call log.
 *
 * Nothing here prints the marker: the output is captured without being echoed, and the assertions list only the
 * names of the places where it was found.
 */

const PASSWORD = markerPassword();
/** The forms a careless log line could carry it in. */
const NEEDLES = [PASSWORD, Buffer.from(PASSWORD).toString('base64'), encodeURIComponent(`:${PASSWORD}@`)];

interface PlannedRun {
  name: string;
  unit: string;
  input: Record<string, unknown>;
}

const RUNS: PlannedRun[] = [
  { name: 'secret-dry-run', unit: 'u1', input: { mode: 'dry-run', units: ['u1'] } },
  { name: 'secret-drill', unit: 'u1', input: { mode: 'drill', units: ['u1'] } },
  { name: 'secret-failover', unit: 'u2', input: { units: ['u2'] } },
  { name: 'secret-fails-at-dns', unit: 'u3', input: { units: ['u3'] } },
  { name: 'secret-fails-at-verify', unit: 'u4', input: { units: ['u4'] } },
];

describe('the password after a dry run, a drill, a failover and two failing runs', () => {
  let w: EvidenceWorld;
  let capture: Capture;
  const results = new Map<string, RunResult>();
  const reports = new Map<string, RunReport | undefined>();
  const events: string[] = [];
  const places: Record<string, string> = {};
  const previousLevel = process.env.POWERTOOLS_LOG_LEVEL;

  beforeAll(async () => {
    // Read by each handler's logger when its bundle is first loaded, which happens in the first run below.
    process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
    w = await startWorld(plannedUnits(4), { password: PASSWORD });
    // u4: the plan's verify query reads a table that is gone (the replica replays the drop).
    const primary = await w.world.connect('u4-db', 'orders');
    try {
      await primary.query('DROP TABLE orders');
    } finally {
      await primary.end();
    }
    capture = captureOutput({ quiet: true });
    try {
      for (const run of RUNS) {
        const fault =
          run.name === 'secret-fails-at-dns'
            ? w.world.emulator.faults.add({
                match: { service: 'route53', action: 'ChangeResourceRecordSets' },
                always: { code: 'AccessDenied', status: 403 },
              })
            : undefined;
        const result = await w.run(run.name, run.input, {
          onEvent: (event) => events.push(JSON.stringify(event)),
          onStep: (event) => events.push(JSON.stringify(event)),
        });
        fault?.remove();
        results.set(run.name, result);
        reports.set(run.name, await readReport(w.world, result, run.name));
      }
    } finally {
      capture.stop();
    }
    places['stdout and stderr'] = capture.text();
    places['execution history (every state input and output, errors, causes)'] = events.join('\n');
    places['execution results (output, error, cause)'] = JSON.stringify([...results.values()]);
    for (const run of RUNS) {
      places[`S3 report ${run.name}`] = (await readStoredReportText(w.world, run.name)) ?? '';
    }
    places['S3 report latest.json'] =
      (await readStoredObject(w.world, `reports/${w.plan.name}/latest.json`)) ?? '';
    places['SNS messages'] = JSON.stringify(w.world.emulator.sns.messages);
    places['emulator call log'] = JSON.stringify(w.world.emulator.calls);
  }, 240_000);

  afterAll(async () => {
    if (previousLevel === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
    else process.env.POWERTOOLS_LOG_LEVEL = previousLevel;
    const summary = RUNS.map((r) => {
      const result = results.get(r.name);
      const unit = reports.get(r.name)?.units.find((u) => u.unit === r.unit);
      return `${r.name} ${result?.status}${result?.error ? ` ${result.error.name}` : ''}${unit?.stoppedAt ? ` at ${unit.stoppedAt}` : ''}`;
    });
    console.log(
      `secret material: ${summary.join('; ')}; searched ${Object.keys(places).length} places, ` +
        `${Object.values(places).reduce((n, t) => n + t.length, 0)} characters, ${events.length} history events`,
    );
    await w?.close();
  });

  it('the marker is real: the secret holds it and the database was reached with it', async () => {
    // Prepare
    const sm = new SecretsManagerClient(w.world.emulator.clientConfig(w.plan.recoveryRegion));
    // Act
    const value = await sm.send(new GetSecretValueCommand({ SecretId: 'u2/db' }));
    sm.destroy();
    // Assess (without printing the value)
    expect(value.SecretString?.includes(PASSWORD)).toBe(true);
    expect(
      reports.get('secret-failover')?.units[0]?.steps.find((s) => s.step === 'verifyConnectivity')?.status,
    ).toBe('changed');
    const atVerify = reports.get('secret-fails-at-verify')?.units.find((u) => u.unit === 'u4');
    expect(atVerify?.stoppedAt).toBe('verifyConnectivity');
    expect(atVerify?.failure?.cause).toMatch(/orders/);
  });

  it('the runs ended as planned, and were watched closely (DEBUG logs, full history)', () => {
    // Assess
    expect(results.get('secret-dry-run')?.status).toBe('SUCCEEDED');
    expect(results.get('secret-failover')?.status).toBe('SUCCEEDED');
    expect(reports.get('secret-fails-at-dns')?.units.find((u) => u.unit === 'u3')?.stoppedAt).toBe(
      'updateDns',
    );
    expect(results.get('secret-fails-at-verify')?.status).toBe('FAILED');
    // A drill runs when this build accepts the mode; until then LoadPlan refuses it before anything is read.
    const drill = results.get('secret-drill');
    expect(drill?.status === 'SUCCEEDED' || drill?.error?.name === 'NotSupportedError').toBe(true);
    // Every log line the handlers write (the product has no debug-level lines; INFO is the most it says).
    expect(places['stdout and stderr']).toContain('"level":"INFO"');
    expect(events.filter((e) => e.includes('"type":"StateExited"')).length).toBeGreaterThan(100);
    expect(events.some((e) => e.includes('Verify connectivity'))).toBe(true);
    for (const place of Object.keys(places).filter((p) => p.startsWith('S3'))) {
      expect(places[place], place).not.toBe('');
    }
    expect(w.world.emulator.sns.messages.length).toBeGreaterThanOrEqual(RUNS.length);
  });

  it('appears nowhere: output, history, results, reports, notifications, call log', () => {
    // Assess: only the names of the places are reported, never the text around a match
    const leaks = Object.entries(places).flatMap(([place, text]) =>
      NEEDLES.some((needle) => text.includes(needle)) ? [place] : [],
    );
    expect(leaks).toEqual([]);
  });
});
