import { PlanInvalidError } from '../errors.js';
import { type FailoverPlan, type PlanDocument, parsePlan, type UnitPlan } from '../plan.js';
import type { RunContext } from '../types.js';

/**
 * The plan for the other direction (docs/design/reprotect.md, "The reversed plan"): after a failover the primary is in
 * the plan's recovery Region, and the way back is a switchover run by a stack deployed in the old Region from a plan
 * whose Regions and instances are swapped. What can be derived is derived; what cannot (a KMS key or a VPC of
 * the other Region) must be given, and every assumption is said.
 */

/** Values the caller gives for what cannot be derived, by path: `units.<unit>.secret.kmsKeyArn`, `vpc`, ... */
export type ReverseOverrides = Readonly<Record<string, unknown>>;

export interface ReversedPlan {
  /** The reversed plan document, validated by the plan schema. */
  document: PlanDocument;
  /** What was assumed, one sentence each (shown to the operator). */
  notes: string[];
}

/** Paths an override may set. */
export const REVERSE_OVERRIDE_PATHS = [
  'units.<unit>.secret.kmsKeyArn',
  'units.<unit>.rotation.lambdaArn',
  'notificationTopicArn',
  'vpc',
] as const;

const ARN_REGION = /^(arn:[^:]+:[^:]+:)([a-z0-9-]+)(:.*)$/;

/** The same ARN in another Region (a replica secret's ARN differs from its primary's only there). */
export function inRegion(arn: string, region: string): string {
  const match = ARN_REGION.exec(arn);
  return match ? `${match[1]}${region}${match[3]}` : arn;
}

/** A multi-Region KMS key (`mrk-...`) has the same id in every Region; a single-Region key has no twin. */
function isMultiRegionKey(arn: string): boolean {
  return /:key\/mrk-[0-9a-f]{32}$/.test(arn);
}

/** One unit of the reversed plan: the replica is the primary now, the old primary's name is the new replica's. */
export function reverseUnit(unit: UnitPlan, from: Pick<FailoverPlan, 'primaryRegion'>): UnitPlan {
  const newRecovery = from.primaryRegion;
  const db = unit.database;
  const secret: UnitPlan['secret'] = {
    id: unit.secret.id.startsWith('arn:') ? inRegion(unit.secret.id, newRecovery) : unit.secret.id,
    ...(unit.secret.kmsKeyArn && isMultiRegionKey(unit.secret.kmsKeyArn)
      ? { kmsKeyArn: inRegion(unit.secret.kmsKeyArn, newRecovery) }
      : {}),
  };
  return {
    ...unit,
    secret,
    // Aurora: the promoted cluster is the primary now, the old primary cluster its secondary (docs/design/aurora.md).
    database:
      'primaryClusterId' in db
        ? { ...db, primaryClusterId: db.replicaClusterId, replicaClusterId: db.primaryClusterId }
        : { ...db, primaryInstanceId: db.replicaInstanceId, replicaInstanceId: db.primaryInstanceId },
    rotation: { ...unit.rotation, lambdaArn: inRegion(unit.rotation.lambdaArn, newRecovery) },
  };
}

/** The run as the reversed plan sees it: the Regions swapped (for the checks that reason from the plan's side). */
export function reverseRun(run: RunContext): RunContext {
  return { ...run, primaryRegion: run.recoveryRegion, recoveryRegion: run.primaryRegion };
}

/**
 * Writes the reversed plan. Throws PlanInvalidError listing every value that cannot be derived and was not given (with
 * the override that gives it), and any problem the plan schema finds in the result.
 */
export function reversePlan(plan: FailoverPlan, overrides: ReverseOverrides = {}): ReversedPlan {
  const notes: string[] = [];
  const missing: string[] = [];
  const unknown = Object.keys(overrides).filter((key) => !overrideAllowed(key, plan));
  if (unknown.length) {
    const issues = unknown.map(
      (key) => `${key}: cannot be set (settable: ${REVERSE_OVERRIDE_PATHS.join(', ')}; <unit> a unit's name)`,
    );
    throw new PlanInvalidError(`reversed plan: ${issues.join('; ')}`, issues);
  }
  const newRecovery = plan.primaryRegion;
  const units = plan.units.map((unit) => {
    const reversed = reverseUnit(unit, plan);
    const kms = overrides[`units.${unit.name}.secret.kmsKeyArn`];
    if (typeof kms === 'string') reversed.secret = { ...reversed.secret, kmsKeyArn: kms };
    else if (unit.secret.kmsKeyArn && !reversed.secret.kmsKeyArn) {
      missing.push(
        `units.${unit.name}.secret.kmsKeyArn: ${unit.secret.kmsKeyArn} is a single-Region key of ${plan.recoveryRegion}; give the key that encrypts the secret in ${newRecovery}`,
      );
    } else if (reversed.secret.kmsKeyArn) {
      notes.push(
        `units.${unit.name}.secret.kmsKeyArn: the multi-Region key's replica in ${newRecovery} (${reversed.secret.kmsKeyArn})`,
      );
    }
    const lambda = overrides[`units.${unit.name}.rotation.lambdaArn`];
    if (typeof lambda === 'string') reversed.rotation = { ...reversed.rotation, lambdaArn: lambda };
    else {
      notes.push(
        `units.${unit.name}.rotation.lambdaArn: assumes a rotation function of the same name in ${newRecovery} (${reversed.rotation.lambdaArn}); set it if yours is named otherwise`,
      );
    }
    return reversed;
  });
  const document: Record<string, unknown> = {
    ...plan,
    primaryRegion: plan.recoveryRegion,
    recoveryRegion: newRecovery,
    units,
  };
  if (typeof overrides.notificationTopicArn === 'string') {
    document.notificationTopicArn = overrides.notificationTopicArn;
  } else if (plan.notificationTopicArn) {
    document.notificationTopicArn = inRegion(plan.notificationTopicArn, newRecovery);
    notes.push(
      `notificationTopicArn: assumes a topic of the same name in ${newRecovery} (${document.notificationTopicArn})`,
    );
  }
  if (overrides.vpc !== undefined) document.vpc = overrides.vpc;
  else if (plan.vpc) {
    missing.push(
      `vpc: ${plan.vpc.vpcId} is a VPC of ${plan.recoveryRegion}; give the VPC, subnets and security groups of ${newRecovery} for the verify function`,
    );
  }
  if (plan.alarms.length) {
    notes.push(
      'alarms: kept as they are; an alarm on the old primary now starts a failover of the reversed plan only when it watches its primary',
    );
  }
  if (missing.length) {
    const issues = missing.map((m) => `${m} (lifeboat plan --reverse --set ${m.split(':')[0]}=<value>)`);
    throw new PlanInvalidError(
      `the reversed plan needs values lifeboat cannot derive:\n  - ${issues.join('\n  - ')}`,
      issues,
    );
  }
  // The schema is the judge: a reversed plan that it refuses is never written.
  parsePlan(document, 'the reversed plan');
  return { document: document as PlanDocument, notes };
}

function overrideAllowed(key: string, plan: FailoverPlan): boolean {
  if (key === 'notificationTopicArn' || key === 'vpc') return true;
  const match = /^units\.([^.]+)\.(secret\.kmsKeyArn|rotation\.lambdaArn)$/.exec(key);
  return match !== null && plan.units.some((u) => u.name === match[1]);
}
