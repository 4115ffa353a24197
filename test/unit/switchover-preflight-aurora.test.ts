import { describe, expect, it } from 'vitest';
import { type AuroraUnitPlan, parsePlan } from '../../functions/lib/plan.js';
import { auroraSwitchoverChecks } from '../../functions/lib/switchover/preflight.js';
import type { RunContext } from '../../functions/lib/types.js';

/**
 * docs/design/switchover.md, "Preflight": a switchover of an Aurora cross-Region read replica cluster unit is refused
 * (no zero-loss switchover exists for it); a global database unit's switchover is Aurora's own, checked elsewhere.
 */

const ACCOUNT = '123456789012';
const RECOVERY = 'us-west-2';

const unitOf = (database: Record<string, unknown>): AuroraUnitPlan =>
  parsePlan({
    name: 'catalog-dr',
    account: ACCOUNT,
    primaryRegion: 'us-east-1',
    recoveryRegion: RECOVERY,
    targetRtoSeconds: 900,
    units: [
      {
        name: 'sessions',
        secret: { id: 'sessions/db' },
        database: { engine: 'aurora-mysql', ...database },
        dns: { hostedZoneId: 'Z0CATALOG0EXAMPLE', recordName: 'sessions-db.internal.example.com', ttl: 5 },
        rotation: { lambdaArn: `arn:aws:lambda:${RECOVERY}:${ACCOUNT}:function:rotation`, schedule: 30 },
      },
    ],
  }).units[0] as AuroraUnitPlan;

const replicaCluster = unitOf({
  primaryClusterId: 'sessions-aurora',
  replicaClusterId: 'sessions-aurora-dr',
});
const global = unitOf({
  globalClusterId: 'sessions-global',
  primaryClusterId: 'sessions-aurora',
  replicaClusterId: 'sessions-aurora-dr',
});

const run = (mode: RunContext['mode'], of?: RunContext['of']): RunContext => ({
  runId: 'run-1',
  executionArn: `arn:aws:states:${RECOVERY}:${ACCOUNT}:execution:lifeboat-catalog-dr:run-1`,
  planName: 'catalog-dr',
  mode,
  ...(of ? { of } : {}),
  trigger: 'cli',
  startedAt: '2030-05-01T10:00:00.000Z',
  account: ACCOUNT,
  primaryRegion: 'us-east-1',
  recoveryRegion: RECOVERY,
  targetRtoSeconds: 900,
});

describe('auroraSwitchoverChecks', () => {
  it.each([
    ['a switchover', run('switchover')],
    ['a dry run of a switchover', run('dry-run', 'switchover')],
  ])('refuses %s of a replica cluster unit, naming both clusters and what to do instead', (_, context) => {
    // Act
    const checks = auroraSwitchoverChecks({ run: context, unit: replicaCluster });

    // Assess
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({
      unit: 'sessions',
      check: 'switchover.aurora-replica-cluster',
      ok: false,
      severity: 'error',
    });
    expect(checks[0]?.message).toContain('sessions-aurora-dr is a cross-Region read replica cluster');
    expect(checks[0]?.message).toContain('would leave sessions-aurora taking writes');
    expect(checks[0]?.message).toContain('run a failover');
  });

  it('has nothing to say of a global database unit (Aurora switches it over) or of a failover', () => {
    // Assess
    expect(auroraSwitchoverChecks({ run: run('switchover'), unit: global })).toEqual([]);
    expect(auroraSwitchoverChecks({ run: run('failover'), unit: replicaCluster })).toEqual([]);
    expect(auroraSwitchoverChecks({ run: run('drill', 'failover'), unit: replicaCluster })).toEqual([]);
  });
});
