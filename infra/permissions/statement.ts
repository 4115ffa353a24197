import * as iam from 'aws-cdk-lib/aws-iam';
import { type FailoverPlan, type InstanceUnitPlan, isAuroraUnit } from '../../functions/lib/plan.js';

/** What every grant module shares: the statement type, its `allow` builder, and the stack's object prefixes. */

/** The stack's own resources a step may touch. */
export interface StepResources {
  readonly lockTableArn: string;
  readonly reportBucketArn: string;
  readonly reportTopicArn: string;
  /** The topic's KMS key when lifeboat made the topic; a plan-given topic's key is the owner's to grant. */
  readonly reportTopicKeyArn?: string;
}

/** A statement and, when it names a wildcard, why no narrower resource exists (acknowledged for cdk-nag). */
export interface StepGrant {
  readonly statement: iam.PolicyStatement;
  readonly wildcardReason?: string;
}

/** Where a run's units and the units' outcomes are kept: `runs/<plan>/...` (functions/lib/run-objects.ts). */
export function runsPrefix(plan: Pick<FailoverPlan, 'name'>): string {
  return `runs/${plan.name}/`;
}

/** Where the report step writes: `reports/<plan>/...` (`latest.json` and one object per run). */
export function reportPrefix(plan: Pick<FailoverPlan, 'name'>): string {
  return `reports/${plan.name}/`;
}

export const allow = (sid: string, actions: string[], resources: string[], conditions?: iam.Conditions) =>
  new iam.PolicyStatement({
    sid,
    effect: iam.Effect.ALLOW,
    actions,
    resources,
    ...(conditions ? { conditions } : {}),
  });

/** The plan's RDS DB instance units: the instance statements name only theirs (Aurora units: auroraGrants). */
export const instanceUnitsOf = (plan: FailoverPlan): InstanceUnitPlan[] =>
  plan.units.filter((u): u is InstanceUnitPlan => !isAuroraUnit(u));
