import type { FailoverPlan, UnitPlan } from './plan.js';

/**
 * Names derived from a parsed plan. They live apart from plan.ts, whose zod schemas (about 100 KiB minified) only
 * LoadPlan needs: the other steps receive the plan already parsed (docs/design/packaging.md, "Bundle size").
 */

/** The secret's id in the recovery Region: an ARN as given, or the name (resolved in that Region). */
export function recoverySecretId(unit: UnitPlan): string {
  return unit.secret.id;
}

/** ARN of the primary DB instance, as RDS reports it in the replica's ReadReplicaSourceDBInstanceIdentifier. */
export function primaryInstanceArn(
  plan: Pick<FailoverPlan, 'account' | 'primaryRegion'>,
  unit: UnitPlan,
): string {
  return `arn:${partitionOf(plan.primaryRegion)}:rds:${plan.primaryRegion}:${plan.account}:db:${unit.database.primaryInstanceId}`;
}

export function partitionOf(regionCode: string): string {
  if (regionCode.startsWith('cn-')) return 'aws-cn';
  if (regionCode.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}
