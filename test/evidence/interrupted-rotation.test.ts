import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../functions/lib/report/index.js';
import type { RunResult } from '../../local/runner.js';
import {
  applied,
  type EvidenceWorld,
  markerPassword,
  plannedUnits,
  readReport,
  startWorld,
  stepStatuses,
  unitFacts,
} from './support.js';

/**
 * A rotation interrupted by the disaster (docs/aws/secrets-manager-rotation.md, "Finishing an interrupted rotation"),
 * on real PostgreSQL: the rotation function's setSecret had already changed the database password to the one in
 * AWSPENDING, and finishSecret never ran, so AWSCURRENT still holds the old password, which the database refuses.
 * The application's user is `lifeboat_app` (the master user stays as it was, for the checks of the world).
 *
 * - u1: the pending password is the database's: the failover finishes the rotation (AWSCURRENT moved to the pending
 *   version) before verification, verifies with it, and attaches rotation.
 * - u2: the database takes neither password: the unit stops at SettleRotation with RotationBlockedError, before
 *   verification, and the labels are left as they were.
 *
 * Nothing here prints a password.
 */

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

const APP_USER = 'lifeboat_app';
const OLD_PASSWORD = `old-${markerPassword()}`;
const NEW_PASSWORD = `new-${markerPassword()}`;
const STRAY_PASSWORD = `stray-${markerPassword()}`;

describe('a failover after a rotation the disaster interrupted', () => {
  let w: EvidenceWorld;
  let replica: SecretsManagerClient;
  const runs = new Map<string, { result: RunResult; report: RunReport | undefined }>();
  const before = new Map<string, Record<string, string[]>>();

  beforeAll(async () => {
    w = await startWorld(plannedUnits(2));
    replica = new SecretsManagerClient(w.world.emulator.clientConfig(w.plan.recoveryRegion));
    // u1's database already has the pending password; u2's has another one altogether.
    await interruptRotation(w, 'u1', NEW_PASSWORD);
    await interruptRotation(w, 'u2', STRAY_PASSWORD);
    for (const unit of ['u1', 'u2']) {
      const seen = await replica.send(new DescribeSecretCommand({ SecretId: `${unit}/db` }));
      before.set(unit, seen.VersionIdsToStages ?? {});
      const name = `interrupted-rotation-${unit}`;
      // A generous runner timeout: the machine running the suite may be loaded.
      const result = await w.run(
        name,
        { units: [unit], reason: `interrupted rotation ${unit}` },
        { timeoutMs: 300_000 },
      );
      runs.set(unit, { result, report: await readReport(w.world, result, name) });
    }
  }, 900_000);

  afterAll(async () => {
    replica?.destroy();
    await w?.close();
  });

  it('finishes the rotation whose password the database already has, then verifies and attaches rotation', async () => {
    // Prepare
    const run = runs.get('u1');
    const stages = before.get('u1') ?? {};
    const pendingVersion = Object.entries(stages).find(
      ([, s]) => s.includes('AWSPENDING') && !s.includes('AWSCURRENT'),
    )?.[0];
    const oldCurrent = Object.entries(stages).find(([, s]) => s.includes('AWSCURRENT'))?.[0];

    // Act
    const after = await replica.send(new DescribeSecretCommand({ SecretId: 'u1/db' }));
    const current = await replica.send(new GetSecretValueCommand({ SecretId: 'u1/db' }));
    const facts = await unitFacts(w.world, ['u1']);

    // Assess
    expect(run?.result.status, JSON.stringify(run?.result.error)).toBe('SUCCEEDED');
    const unit = run?.report?.units.find((u) => u.unit === 'u1');
    const settle = unit?.steps.find((s) => s.step === 'settleRotation');
    expect(settle).toMatchObject({
      status: 'changed',
      detail: {
        currentCredentials: 'refused',
        pendingCredentials: 'accepted',
        interruptedRotation: 'finished',
        stalePendingVersionId: pendingVersion,
      },
    });
    expect(stepStatuses(run?.report, 'u1')).toMatchObject({
      settleRotation: 'changed',
      verifyConnectivity: 'changed',
      attachRotation: 'changed',
    });
    expect(unit?.verifiedAt).not.toBeNull();
    expect(pendingVersion).toBeDefined();
    expect(after.VersionIdsToStages?.[pendingVersion as string]).toEqual(
      expect.arrayContaining(['AWSCURRENT']),
    );
    expect(after.VersionIdsToStages?.[oldCurrent as string]).toEqual(['AWSPREVIOUS']);
    expect(current.VersionId).toBe(pendingVersion);
    // What an application now reads is the password the database takes (compared, never printed).
    expect(
      (JSON.parse(current.SecretString ?? '{}') as { password?: string }).password === NEW_PASSWORD,
    ).toBe(true);
    expect(after.RotationEnabled).toBe(true);
    expect(facts.filter((f) => !f.ok)).toEqual([]);
    // The settlement: AWSCURRENT moved, then AWSPENDING taken off that version, once each.
    const calls = w.world.emulator.calls.filter((c) => c.resource?.includes('u1/db'));
    expect(applied(calls, 'UpdateSecretVersionStage')).toHaveLength(2);
    expect(Object.values(after.VersionIdsToStages ?? {}).flat()).not.toContain('AWSPENDING');
    expect(JSON.stringify(run?.report)).not.toContain(markerPassword());
  });

  it('stops before verification, naming what was tried, when the database takes neither password', async () => {
    // Prepare
    const run = runs.get('u2');

    // Act
    const after = await replica.send(new DescribeSecretCommand({ SecretId: 'u2/db' }));

    // Assess
    expect(run?.result.status).toBe('FAILED');
    const unit = run?.report?.units.find((u) => u.unit === 'u2');
    expect(unit).toMatchObject({
      status: 'failed',
      stoppedAt: 'settleRotation',
      failure: { step: 'settleRotation', error: 'RotationBlockedError' },
    });
    expect(unit?.failure?.cause).toContain(`user "${APP_USER}": refused`);
    expect(unit?.failure?.cause).not.toContain(markerPassword());
    expect(stepStatuses(run?.report, 'u2')).toMatchObject({
      verifyConnectivity: 'not-reached',
      attachRotation: 'not-reached',
    });
    expect(after.VersionIdsToStages).toEqual(before.get('u2'));
  });
});

/**
 * The state a rotation leaves when the disaster strikes between setSecret and finishSecret, made where production
 * would have made it (the primary secret, replicated to the recovery Region): the application's user, whose
 * password in the database is `databasePassword`; AWSCURRENT with the old password; AWSPENDING with the new one.
 */
async function interruptRotation(w: EvidenceWorld, unit: string, databasePassword: string): Promise<void> {
  const secretId = `${unit}/db`;
  const primary = new SecretsManagerClient(w.world.emulator.clientConfig(w.plan.primaryRegion));
  try {
    const value = JSON.parse(
      (await primary.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString ?? '{}',
    ) as Record<string, unknown>;
    const db = await w.world.connect(`${unit}-db`, String(value.dbname));
    try {
      // Role names are not parameters; the password is a literal in this statement only (not logged).
      await db.query(`CREATE ROLE ${APP_USER} LOGIN PASSWORD '${databasePassword.replaceAll("'", "''")}'`);
      await db.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${APP_USER}`);
    } finally {
      await db.end();
    }
    const withPassword = (password: string) => JSON.stringify({ ...value, username: APP_USER, password });
    await primary.send(
      new PutSecretValueCommand({ SecretId: secretId, SecretString: withPassword(OLD_PASSWORD) }),
    );
    await primary.send(
      new PutSecretValueCommand({
        SecretId: secretId,
        SecretString: withPassword(NEW_PASSWORD),
        VersionStages: ['AWSPENDING'],
      }),
    );
    const deadline = Date.now() + 30_000;
    for (;;) {
      const seen = await new SecretsManagerClient(w.world.emulator.clientConfig(w.plan.recoveryRegion))
        .send(new DescribeSecretCommand({ SecretId: secretId }))
        .catch(() => undefined);
      const stages = Object.values(seen?.VersionIdsToStages ?? {});
      if (stages.some((s) => s.includes('AWSPENDING') && !s.includes('AWSCURRENT'))) return;
      if (Date.now() > deadline) throw new Error(`${secretId}: the interrupted rotation did not replicate`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    primary.destroy();
  }
}
