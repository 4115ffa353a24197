import { NotSupportedError } from './errors.js';
import type { AuroraUnitPlan, FailoverPlan, InstanceDatabase, InstanceUnitPlan, UnitPlan } from './plan.js';

/**
 * Names derived from a parsed plan. They live apart from plan.ts, whose zod schemas (about 100 KiB minified) only
 * LoadPlan needs: the other steps receive the plan already parsed (docs/design/packaging.md, "Bundle size").
 */

/** The secret's id in the recovery Region: an ARN as given, or the name (resolved in that Region). */
export function recoverySecretId(unit: UnitPlan): string {
  return unit.secret.id;
}

/** An Aurora unit (global database or cross-Region replica cluster), not an RDS DB instance unit. */
export function isAuroraUnit(unit: UnitPlan): unit is AuroraUnitPlan {
  return unit.database.engine === 'aurora-postgresql' || unit.database.engine === 'aurora-mysql';
}

/** An Aurora global database unit (FailoverGlobalCluster / SwitchoverGlobalCluster), not a replica cluster unit. */
export function isGlobalAuroraUnit(
  unit: UnitPlan,
): unit is AuroraUnitPlan & { database: { globalClusterId: string } } {
  return isAuroraUnit(unit) && unit.database.globalClusterId !== undefined;
}

/**
 * The unit's instance shape, for a step that handles RDS DB instance units only: an Aurora unit there is refused with
 * an error naming the unit and the step, before anything is changed (docs/design/aurora.md, "What is left").
 */
export function instanceUnit(unit: UnitPlan, what: string): InstanceUnitPlan {
  if (isAuroraUnit(unit)) {
    throw new NotSupportedError(
      `unit ${unit.name}: ${what} handles RDS DB instance units only, not ${unit.database.engine} (docs/design/aurora.md)`,
    );
  }
  return unit as InstanceUnitPlan;
}

/** The instance database of a unit that must be an RDS DB instance unit (instanceUnit above). */
export function instanceDatabase(unit: UnitPlan, what: string): InstanceDatabase {
  return instanceUnit(unit, what).database;
}

/** ARN of the primary DB instance, as RDS reports it in the replica's ReadReplicaSourceDBInstanceIdentifier. */
export function primaryInstanceArn(
  plan: Pick<FailoverPlan, 'account' | 'primaryRegion'>,
  unit: InstanceUnitPlan,
): string {
  return `arn:${partitionOf(plan.primaryRegion)}:rds:${plan.primaryRegion}:${plan.account}:db:${unit.database.primaryInstanceId}`;
}

export function partitionOf(regionCode: string): string {
  if (regionCode.startsWith('cn-')) return 'aws-cn';
  if (regionCode.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}
