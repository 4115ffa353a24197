import { DRILL_PREFIX, PLAN_TAG } from '../../functions/lib/drill.js';
import { type FailoverPlan, primaryInstanceArn } from '../../functions/lib/plan.js';
import { retiredName } from '../../functions/lib/reprotect/reprotect.js';
import { reverseUnit } from '../../functions/lib/reprotect/reverse-plan.js';
import { type PlanArns, planArns, secretResourceArns, unique } from '../arns.js';
import { kmsForSecrets } from './resources.js';
import { allow, instanceUnitsOf, type StepGrant } from './statement.js';

/**
 * Re-protect (functions/lib/reprotect/reprotect.ts) is the one mode that changes the old Region: it runs once that
 * Region is back. In the current Region: the promoted secrets replicated back, the promoted instances read and used as
 * sources. In the old Region: the old primary tagged and renamed (`<id>-old-*`, never deleted), and a replica created
 * under the old primary's name, only with this plan's tag.
 */
export function reprotectGrants(
  plan: FailoverPlan,
  at: PlanArns,
  secrets: string[],
  replicas: string[],
): StepGrant[] {
  const old = planArns({ account: plan.account, recoveryRegion: plan.primaryRegion });
  const oldSecrets = unique(plan.units.flatMap((u) => secretResourceArns(old, reverseUnit(u, plan))));
  const originals = unique(instanceUnitsOf(plan).map((u) => primaryInstanceArn(plan, u)));
  return [
    {
      statement: allow(
        'ReplicateSecretsBack',
        ['secretsmanager:DescribeSecret', 'secretsmanager:ReplicateSecretToRegions'],
        secrets,
      ),
    },
    ...kmsForSecrets(at, 'DecryptSecretsToReplicate', ['kms:Decrypt'], plan.units),
    { statement: allow('ReadStaleSecrets', ['secretsmanager:DescribeSecret'], oldSecrets) },
    {
      // The promoted instances are read, and are the new replicas' sources (the SDK's PreSignedUrl is signed here).
      statement: allow(
        'ReplicatePromotedInstances',
        ['rds:DescribeDBInstances', 'rds:CreateDBInstanceReadReplica'],
        replicas,
      ),
    },
    reprotectDescribeOld(plan),
    {
      statement: allow('RetireOldPrimaries', ['rds:AddTagsToResource', 'rds:ModifyDBInstance'], originals),
    },
    {
      statement: allow(
        'CreateReplicasInOldRegion',
        ['rds:CreateDBInstanceReadReplica', 'rds:AddTagsToResource'],
        [...originals, `arn:${old.partition}:rds:${old.region}:${old.account}:subgrp:*`],
        { StringEquals: { [`aws:RequestTag/${PLAN_TAG}`]: plan.name } },
      ),
      wildcardReason:
        "the new replica uses the subnet group of the old primary, known only at run time (subgrp:*); requests are held to this plan's tag",
    },
    {
      statement: allow(
        'EncryptReplicasInOldRegion',
        ['kms:CreateGrant', 'kms:DescribeKey'],
        [`arn:${old.partition}:kms:${old.region}:${old.account}:key/*`],
        { StringEquals: { 'kms:ViaService': `rds.${old.region}.amazonaws.com` } },
      ),
      wildcardReason:
        "the old primary's KMS key is read at run time; the grant is held to RDS in the old Region (kms:ViaService)",
    },
    {
      statement: allow('ReadNewReplicaLag', ['cloudwatch:GetMetricData'], ['*']),
      wildcardReason:
        'cloudwatch:GetMetricData supports no resource-level permissions; only ReplicaLag is read',
    },
  ];
}

/** The old primaries under their names and under the names re-protect gives them (`<id>-old-<8 hex>`). */
/**
 * A switchover step's grants (docs/design/switchover.md, "Network and permissions"): the secret (credentials), and
 * DescribeDBInstances on the primaries (primary Region) and the replicas (recovery Region) for their endpoints.
 */
export function switchoverGrants(
  plan: FailoverPlan,
  at: PlanArns,
  secrets: string[],
  replicas: string[],
  sid: string,
): StepGrant[] {
  return [
    { statement: allow(`${sid}Secrets`, ['secretsmanager:GetSecretValue'], secrets) },
    ...kmsForSecrets(at, `${sid}Decrypt`, ['kms:Decrypt'], plan.units),
    {
      statement: allow(
        `${sid}Endpoints`,
        ['rds:DescribeDBInstances'],
        unique([...instanceUnitsOf(plan).map((u) => primaryInstanceArn(plan, u)), ...replicas]),
      ),
    },
  ];
}

export function reprotectDescribeOld(plan: FailoverPlan): StepGrant {
  const old = planArns({ account: plan.account, recoveryRegion: plan.primaryRegion });
  const arns = unique(
    instanceUnitsOf(plan).flatMap((u) => [
      primaryInstanceArn(plan, u),
      `arn:${old.partition}:rds:${old.region}:${old.account}:db:${retiredName(u.database.primaryInstanceId, '').replace(/-[0-9a-f]{8}$/, '-*')}`,
    ]),
  );
  return {
    statement: allow('DescribeOldPrimaries', ['rds:DescribeDBInstances'], arns),
    wildcardReason:
      'a retired old primary is named <id>-old-<8 hex of the promoted instance>, known at run time',
  };
}

/**
 * The drill's copies, as IAM can name them: DB instances `lifeboat-drill-*` in the recovery Region, secrets
 * `lifeboat-drill/*` in both Regions, records `lifeboat-drill-*` in the plan's zones. Every change to an existing copy
 * is further held to resources tagged with this plan (`lifeboat:plan`); the code checks the run's own tag before each
 * delete (functions/lib/drill.ts). The primary Region appears only here: a drill copies from it; the failover never
 * calls it.
 */
export function drillArns(plan: FailoverPlan, at: PlanArns) {
  const primary = planArns({ account: plan.account, recoveryRegion: plan.primaryRegion });
  const secretPattern = (p: PlanArns) =>
    `arn:${p.partition}:secretsmanager:${p.region}:${p.account}:secret:${DRILL_PREFIX}/*`;
  const instances = `arn:${at.partition}:rds:${at.region}:${at.account}:db:${DRILL_PREFIX}-*`;
  const clusters = `arn:${at.partition}:rds:${at.region}:${at.account}:cluster:${DRILL_PREFIX}-*`;
  const secretReason = `drill secrets get their names at run time (${DRILL_PREFIX}/<run>-<unit>); the grant is held to that prefix`;
  const instanceReason = `drill instances get their names at run time (${DRILL_PREFIX}-<run>-<unit>); the grant is held to that prefix`;
  return {
    instances,
    clusters,
    clusterReason: `drill clusters get their names at run time (${DRILL_PREFIX}-<run>-<unit>-dr); the grant is held to that prefix`,
    primaries: unique(instanceUnitsOf(plan).map((u) => primaryInstanceArn(plan, u))),
    recoverySecrets: secretPattern(at),
    primarySecrets: secretPattern(primary),
    secretReason,
    instanceReason,
    describeInstances: (sid: string): StepGrant => ({
      statement: allow(sid, ['rds:DescribeDBInstances'], [instances]),
      wildcardReason: instanceReason,
    }),
    onTaggedInstances: (sid: string, actions: string[]): StepGrant => ({
      statement: allow(sid, actions, [instances], {
        StringEquals: { [`rds:db-tag/${PLAN_TAG}`]: plan.name },
      }),
      wildcardReason: `${instanceReason}, and to instances tagged ${PLAN_TAG}=${plan.name}`,
    }),
    describeSecrets: (sid: string, arns: string[]): StepGrant => ({
      statement: allow(sid, ['secretsmanager:DescribeSecret'], arns),
      wildcardReason: secretReason,
    }),
    onTaggedSecrets: (sid: string, actions: string[], arns: string[]): StepGrant => ({
      statement: allow(sid, actions, arns, {
        StringEquals: { [`secretsmanager:ResourceTag/${PLAN_TAG}`]: plan.name },
      }),
      wildcardReason: `${secretReason}, and to secrets tagged ${PLAN_TAG}=${plan.name}`,
    }),
    changeRecords: (sid: string, zoneArns: string[], actions: string[], types: string[]): StepGrant => ({
      statement: allow(sid, ['route53:ChangeResourceRecordSets'], zoneArns, {
        'ForAllValues:StringLike': {
          'route53:ChangeResourceRecordSetsNormalizedRecordNames': [`${DRILL_PREFIX}-*`],
        },
        'ForAllValues:StringEquals': {
          'route53:ChangeResourceRecordSetsRecordTypes': types,
          'route53:ChangeResourceRecordSetsActions': actions,
        },
      }),
    }),
  };
}
