import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { assertPreflightPassed, runPreflight } from '../../../functions/lib/preflight.js';
import { checkSecretReadiness } from '../../../functions/lib/secret/preflight.js';
import {
  feedRecordProblem,
  feedTags,
  readFeedRecord,
} from '../../../functions/lib/secret-feeds/feed-record.js';
import { feedReadinessChecks } from '../../../functions/lib/secret-feeds/readiness.js';
import { replicaDescription, SECRET_ARN, secretValue, stepInput } from '../../fixtures/secret.js';

const NOW = new Date('2025-03-01T10:00:00.000Z');
const unit = stepInput().unit;
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000);

describe('feed readiness (preflight)', () => {
  it('a secret without the record is not fed: no check', () => {
    expect(feedReadinessChecks([{ Key: 'team', Value: 'orders' }], unit, NOW)).toEqual([]);
    expect(feedReadinessChecks(undefined, unit, NOW)).toEqual([]);
  });

  it('a recent good sync passes', () => {
    // Prepare
    const tags = feedTags({
      feed: 'vault-sync',
      lastSync: hoursAgo(0.2),
      status: 'ok',
      intervalSeconds: 1800,
    });
    // Act
    const [check] = feedReadinessChecks(tags, unit, NOW);
    // Assess
    expect(check).toMatchObject({ check: 'secret.feed', ok: true, severity: 'warning' });
  });

  it('warns when the last sync failed', () => {
    // Prepare
    const tags = feedTags({ feed: 'replicator', lastSync: hoursAgo(1), status: 'failed' });
    // Act
    const [check] = feedReadinessChecks(tags, unit, NOW);
    // Assess
    expect(check).toMatchObject({ ok: false, severity: 'warning' });
    expect(check?.message).toMatch(
      /last sync by the replicator failed \(2025-03-01T09:00:00.000Z\).*may not hold the current value/,
    );
  });

  it('warns when the last sync is older than its schedule (and a grace), not before', () => {
    // Prepare
    const stale = feedTags({
      feed: 'vault-sync',
      lastSync: hoursAgo(3),
      status: 'ok',
      intervalSeconds: 1800,
    });
    const onTime = feedTags({
      feed: 'vault-sync',
      lastSync: hoursAgo(0.5),
      status: 'ok',
      intervalSeconds: 1800,
    });
    // Act
    const [staleCheck] = feedReadinessChecks(stale, unit, NOW);
    const [onTimeCheck] = feedReadinessChecks(onTime, unit, NOW);
    // Assess
    expect(staleCheck?.ok).toBe(false);
    expect(staleCheck?.message).toMatch(/was 3 hours ago .* longer than its schedule of every 30 minutes/);
    expect(onTimeCheck?.ok).toBe(true);
  });

  it('an event-driven feed without an interval is never stale, only failed', () => {
    // Prepare
    const old = feedTags({ feed: 'replicator', lastSync: hoursAgo(24 * 400), status: 'ok' });
    // Act / Assess
    expect(feedReadinessChecks(old, unit, NOW)[0]?.ok).toBe(true);
  });

  it('a record it cannot read is a warning naming the tag', () => {
    // Prepare
    const tags = [
      { Key: 'lifeboat:feed', Value: 'replicator' },
      { Key: 'lifeboat:last-sync', Value: 'yesterday' },
    ];
    // Act
    const [check] = feedReadinessChecks(tags, unit, NOW);
    // Assess
    expect(check?.ok).toBe(false);
    expect(check?.message).toContain('tag lifeboat:last-sync is "yesterday", not an ISO time');
  });

  it('the record round-trips through tags', () => {
    // Prepare
    const record = {
      feed: 'vault-sync' as const,
      lastSync: NOW,
      status: 'ok' as const,
      intervalSeconds: 1800,
    };
    // Act
    const read = readFeedRecord(feedTags(record));
    // Assess
    expect(read).toEqual({ record });
    expect(feedRecordProblem(record, NOW)).toBeUndefined();
  });
});

describe('feed readiness in the preflight run', () => {
  const sm = mockClient(SecretsManagerClient);
  afterEach(() => sm.reset());

  it('checkSecretReadiness reports a failed feed from the DescribeSecret it already makes', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(
      replicaDescription({ Tags: feedTags({ feed: 'replicator', lastSync: hoursAgo(1), status: 'failed' }) }),
    );
    sm.on(GetSecretValueCommand).resolves({ ARN: SECRET_ARN, SecretString: secretValue(), VersionId: 'v1' });
    // Act
    const checks = await checkSecretReadiness(
      { secretsManager: sm as unknown as SecretsManagerClient },
      stepInput(),
    );
    // Assess
    expect(checks.find((c) => c.check === 'secret.feed')).toMatchObject({ ok: false, severity: 'warning' });
    expect(sm.commandCalls(DescribeSecretCommand)).toHaveLength(1);
  });

  it('is a warning in a failover (the run goes on) and an error in a drill', async () => {
    // Prepare
    sm.on(DescribeSecretCommand).resolves(
      replicaDescription({ Tags: feedTags({ feed: 'vault-sync', lastSync: hoursAgo(1), status: 'failed' }) }),
    );
    sm.on(GetSecretValueCommand).resolves({ ARN: SECRET_ARN, SecretString: secretValue(), VersionId: 'v1' });
    const input = stepInput();
    const only = ['secret'];
    // Act
    const failover = await runPreflightOfSecret(sm, { ...input.run, mode: 'failover' }, input.unit, only);
    const drill = await runPreflightOfSecret(sm, { ...input.run, mode: 'drill' }, input.unit, only);
    // Assess
    expect(failover.warnings.some((w) => w.includes('secret.feed'))).toBe(true);
    expect(failover.errors.some((e) => e.includes('secret.feed'))).toBe(false);
    expect(drill.errors.some((e) => e.includes('secret.feed'))).toBe(true);
    expect(() => assertPreflightPassed(drill)).toThrow(/secret\.feed/);
  });
});

/** runPreflight with only the secret concern's calls answered; the other concerns' failures are left out. */
async function runPreflightOfSecret(
  sm: ReturnType<typeof mockClient>,
  run: ReturnType<typeof stepInput>['run'],
  u: typeof unit,
  _concerns: string[],
) {
  const unreachable = {
    send: () => Promise.reject(Object.assign(new Error('not in this test'), { name: 'NotInThisTest' })),
  };
  const report = await runPreflight(
    {
      secretsManager: sm as unknown as SecretsManagerClient,
      lambda: unreachable as never,
      rds: unreachable as never,
      route53: unreachable as never,
      cloudwatch: unreachable as never,
    },
    { run, units: [u] },
  );
  return {
    ...report,
    errors: report.errors.filter((e) => e.includes('secret.')),
    warnings: report.warnings.filter((w) => w.includes('secret.')),
  };
}
