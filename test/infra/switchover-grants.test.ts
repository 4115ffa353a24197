import { describe, expect, it } from 'vitest';
import { instanceDatabase } from '../../functions/lib/plan-names.js';
import { loadPlanFile } from '../../infra/lifeboat-app.js';
import { stepGrants } from '../../infra/permissions/index.js';

/** What infra adds for the switchover (docs/design/switchover.md, "Network and permissions"). */
describe("the switchover steps' permissions", () => {
  const plan = loadPlanFile('examples/plan-three-units.json');
  const grants = stepGrants(plan, {
    lockTableArn: 'arn:aws:dynamodb:eu-central-1:123456789012:table/locks',
    reportBucketArn: 'arn:aws:s3:::reports',
    reportTopicArn: 'arn:aws:sns:eu-central-1:123456789012:reports',
  });
  const statements = (step: keyof typeof grants) => grants[step].map((g) => g.statement.toStatementJson());
  const primaries = plan.units.map(
    (u) =>
      `arn:aws:rds:${plan.primaryRegion}:${plan.account}:db:${instanceDatabase(u, 'this test').primaryInstanceId}`,
  );

  it.each(['fenceWrites', 'checkCatchUp'] as const)(
    '%s reads the primaries in the primary Region and the replicas, and the secrets; it changes nothing in RDS',
    (step) => {
      const all = statements(step);
      const describe = all.find((s) => s.Action === 'rds:DescribeDBInstances');
      for (const arn of primaries) expect(describe?.Resource).toContain(arn);
      expect(JSON.stringify(describe?.Resource)).toContain(`:rds:${plan.recoveryRegion}:`);
      expect(all.some((s) => s.Action === 'secretsmanager:GetSecretValue')).toBe(true);
      const actions = all.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
      expect(actions.filter((a: string) => a.startsWith('rds:') && a !== 'rds:DescribeDBInstances')).toEqual(
        [],
      );
    },
  );

  it("lets preflight read the primaries, for the switchover's health check", () => {
    const statement = statements('preflight').find((s) => s.Sid === 'DescribePrimariesForSwitchover');
    expect(statement?.Action).toBe('rds:DescribeDBInstances');
    expect([statement?.Resource].flat().sort()).toEqual([...primaries].sort());
  });
});
