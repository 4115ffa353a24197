import { describe, expect, it } from 'vitest';
import { parsePlan, type UnitPlan } from '../../functions/lib/plan.js';
import { verifyBudget } from '../../functions/lib/verify/budget.js';

/**
 * A change sent in its zone's batch: UpdateDns did not read the record, so the previous TTL arrives in the DNS
 * poll's detail (functions/lib/dns/change.ts), and the verify budget waits it out as it does UpdateDns's.
 */
const unit = parsePlan({
  name: 'fleet',
  account: '123456789012',
  primaryRegion: 'us-east-1',
  recoveryRegion: 'us-west-2',
  targetRtoSeconds: 900,
  units: [
    {
      name: 'u001',
      secret: { id: 'u001/db' },
      database: { engine: 'postgres', primaryInstanceId: 'u001-db', replicaInstanceId: 'u001-db-r' },
      dns: { hostedZoneId: 'Z0FLEET', recordName: 'u001.internal.example.com', ttl: 5 },
      rotation: { lambdaArn: 'arn:aws:lambda:us-west-2:123456789012:function:rot', schedule: 30 },
    },
  ],
}).units[0] as UnitPlan;

describe('verify budget of a change sent in its zone batch', () => {
  it("waits out the previous TTL that the DNS poll's detail carries when UpdateDns's has none", () => {
    const inSync = { done: true, observedAt: '2030-05-01T10:00:00.000Z', detail: { previousTtl: 300 } };
    const budget = verifyBudget(unit, {
      change: { changedAt: '2030-05-01T09:59:50.000Z', previousTtl: null, batch: 'pending' },
      inSync,
    });
    expect(budget?.cacheSeconds).toBe(300);
    // UpdateDns's own reading, when it has one, is the one used.
    const own = verifyBudget(unit, {
      change: { changedAt: '2030-05-01T09:59:50.000Z', previousTtl: 60 },
      inSync,
    });
    expect(own?.cacheSeconds).toBe(60);
  });
});
