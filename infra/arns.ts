import {
  type FailoverPlan,
  type InstanceUnitPlan,
  partitionOf,
  type UnitPlan,
} from '../functions/lib/plan.js';

/**
 * ARNs of the plan's resources in the recovery Region, as IAM matches them. Everything here is built from the
 * plan alone (no lookups), so `cdk synth` needs no credentials.
 */
export interface PlanArns {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
}

export function planArns(plan: Pick<FailoverPlan, 'account' | 'recoveryRegion'>): PlanArns {
  return { partition: partitionOf(plan.recoveryRegion), region: plan.recoveryRegion, account: plan.account };
}

/**
 * The ARNs that match a unit's secret. Secrets Manager appends a hyphen and six random characters to a secret's
 * name to form its ARN, so a name is matched with `-??????` (the pattern AWS documents for policies that name a
 * secret: https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples.html#auth-and-access_examples_wildcard).
 * An ARN in the plan is used as given, plus the same pattern in case it is a partial ARN (name without suffix).
 */
export function secretResourceArns(at: PlanArns, unit: UnitPlan): string[] {
  const id = unit.secret.id;
  if (id.startsWith('arn:')) return [id, `${id}-??????`];
  return [`arn:${at.partition}:secretsmanager:${at.region}:${at.account}:secret:${id}-??????`];
}

/** The read replica, promoted in place: its ARN stays the same after promotion. */
export function replicaInstanceArn(at: PlanArns, unit: InstanceUnitPlan): string {
  return `arn:${at.partition}:rds:${at.region}:${at.account}:db:${unit.database.replicaInstanceId}`;
}

/** `Z123` or `/hostedzone/Z123` → `Z123`. */
export function bareHostedZoneId(hostedZoneId: string): string {
  return hostedZoneId.replace(/^\/hostedzone\//, '');
}

/** Route 53 is global: its ARNs have no Region and no account. */
export function hostedZoneArn(at: PlanArns, hostedZoneId: string): string {
  return `arn:${at.partition}:route53:::hostedzone/${bareHostedZoneId(hostedZoneId)}`;
}

/**
 * How `route53:ChangeResourceRecordSetsNormalizedRecordNames` sees a record name: lower case, no trailing dot
 * (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-rrset-conditions.html).
 */
export function normalizedRecordName(recordName: string): string {
  return recordName.toLowerCase().replace(/\.$/, '');
}

/** The rotation Lambda without a qualifier, and with any qualifier (`:alias` / `:version`). */
export function rotationLambdaArns(unit: UnitPlan): string[] {
  const arn = unit.rotation.lambdaArn;
  const unqualified = arn.split(':').slice(0, 7).join(':');
  return arn === unqualified ? [arn] : [arn, unqualified];
}

export function unique<T>(values: Iterable<T>): T[] {
  return [...new Set(values)];
}

/** Default database port of each engine; the verify function's security group is let in on these. */
export const DEFAULT_DATABASE_PORTS = {
  postgres: 5432,
  mysql: 3306,
  mariadb: 3306,
  'aurora-postgresql': 5432,
  'aurora-mysql': 3306,
} as const;

/** The plan's alarms split by Region. */
export function alarmsByRegion(plan: FailoverPlan): { primary: string[]; recovery: string[] } {
  const primary: string[] = [];
  const recovery: string[] = [];
  for (const alarm of plan.alarms) {
    const region = alarm.arn.split(':')[3];
    if (region === plan.primaryRegion) primary.push(alarm.arn);
    else recovery.push(alarm.arn);
  }
  return { primary: unique(primary), recovery: unique(recovery) };
}

/** The alarm's name: the part of its ARN after `alarm:` (names may contain colons). */
export function alarmName(alarmArn: string): string {
  return alarmArn.split(':').slice(6).join(':');
}
