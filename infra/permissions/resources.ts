import type * as iam from 'aws-cdk-lib/aws-iam';
import { FLIP_NAMESPACE, flipAlarmName } from '../../functions/lib/dns/flip.js';
import type { FailoverPlan, UnitPlan } from '../../functions/lib/plan.js';
import { hostedZoneArn, normalizedRecordName, type PlanArns, secretResourceArns, unique } from '../arns.js';

import { allow, type StepGrant, type StepResources } from './statement.js';

/**
 * Decrypting (and, for rewrites, re-encrypting) the plan's secrets. Every grant is held by the conditions AWS
 * documents for Secrets Manager: only through Secrets Manager in the recovery Region, and only for the plan's secrets
 * (the `SecretARN` encryption context).
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html#security-encryption-authz
 * The secrets whose key the plan names (`secret.kmsKeyArn`) get a statement on those keys only; the others, whose
 * key is read at run time, one on `key/*` of the account and Region.
 */
export function kmsForSecrets(
  at: PlanArns,
  sid: string,
  actions: string[],
  units: readonly UnitPlan[],
): StepGrant[] {
  const named = units.filter((u) => u.secret.kmsKeyArn);
  const unnamed = units.filter((u) => !u.secret.kmsKeyArn);
  const conditions = (of: readonly UnitPlan[]): iam.Conditions => ({
    StringEquals: { 'kms:ViaService': `secretsmanager.${at.region}.amazonaws.com` },
    StringLike: { 'kms:EncryptionContext:SecretARN': unique(of.flatMap((u) => secretResourceArns(at, u))) },
  });
  const grants: StepGrant[] = [];
  if (named.length) {
    const keys = unique(named.map((u) => u.secret.kmsKeyArn as string));
    grants.push({ statement: allow(sid, actions, keys, conditions(named)) });
  }
  if (unnamed.length) {
    grants.push({
      statement: allow(
        named.length ? `${sid}UnnamedKeys` : sid,
        actions,
        [`arn:${at.partition}:kms:${at.region}:${at.account}:key/*`],
        conditions(unnamed),
      ),
      wildcardReason:
        "the plan names these secrets, not their KMS keys (secret.kmsKeyArn); the grant is held to Secrets Manager in the recovery Region (kms:ViaService) and to the plan's secrets (kms:EncryptionContext:SecretARN)",
    });
  }
  return grants;
}

/**
 * The lock item of this plan only: the table's partition key is the plan name. AcquireLock writes conditionally and
 * reads the holder when refused (functions/lib/lock.ts); ReleaseLock only deletes conditionally.
 */
export function lockGrant(
  plan: FailoverPlan,
  resources: StepResources,
  sid: 'TakeFailoverLock' | 'ReleaseFailoverLock',
): StepGrant {
  const actions =
    sid === 'TakeFailoverLock' ? ['dynamodb:GetItem', 'dynamodb:PutItem'] : ['dynamodb:DeleteItem'];
  return {
    statement: allow(sid, actions, [resources.lockTableArn], {
      'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [plan.name] },
    }),
  };
}

/**
 * The items a fleet's units share in the lock table (docs/design/fleet.md): the promotion poll's snapshot
 * (`poll#<plan>#<run>#rds#<region>`) or a zone's DNS batch (`dns#<plan>#<run>#<zone>...`), read and updated, never
 * deleted (the table's TTL removes them). The leading key holds the grant to this plan's items of that kind.
 */
export function sharedItemGrant(
  plan: FailoverPlan,
  resources: StepResources,
  sid: string,
  kind: 'poll' | 'dns',
): StepGrant {
  // The batch's sender reads the registered units' items at once (BatchGetItem; the leading keys hold it too). A poll
  // reads the snapshot's meta item and its instance's item in one BatchGetItem, and the lease holder writes one item
  // per instance with BatchWriteItem (functions/lib/promotion-snapshot.ts).
  const actions =
    kind === 'dns'
      ? ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:BatchGetItem']
      : ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'];
  return {
    statement: allow(sid, actions, [resources.lockTableArn], {
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${kind}#${plan.name}#*`] },
    }),
  };
}

/**
 * UpdateDns reads its instance's item of the promotion poll's snapshot (functions/lib/promotion-snapshot.ts): read
 * only, held to this plan's `poll#` items as the poll's grant is.
 */
export function promotionSnapshotReadGrant(plan: FailoverPlan, resources: StepResources): StepGrant {
  return {
    statement: allow(
      'ReadPromotionPoll',
      ['dynamodb:GetItem', 'dynamodb:BatchGetItem'],
      [resources.lockTableArn],
      { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`poll#${plan.name}#*`] } },
    ),
  };
}

/**
 * UPSERT of the plan's CNAMEs only, per hosted zone, held by Route 53's record-level condition keys
 * (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-rrset-conditions.html).
 */
export function dnsChangeGrants(at: PlanArns, cnameUnits: readonly UnitPlan[]): StepGrant[] {
  if (cnameUnits.length === 0) return [];
  const byZone = new Map<string, string[]>();
  for (const unit of cnameUnits) {
    const zone = hostedZoneArn(at, unit.dns.hostedZoneId);
    byZone.set(zone, [...(byZone.get(zone) ?? []), normalizedRecordName(unit.dns.recordName)]);
  }
  return [
    {
      statement: allow('ReadPlanRecords', ['route53:ListResourceRecordSets'], [...byZone.keys()]),
    },
    ...[...byZone.entries()].map(([zone, records], i) => ({
      statement: allow(`UpsertPlanRecords${i}`, ['route53:ChangeResourceRecordSets'], [zone], {
        'ForAllValues:StringEquals': {
          'route53:ChangeResourceRecordSetsNormalizedRecordNames': unique(records),
          'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME'],
          'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
        },
      }),
    })),
  ];
}

/**
 * The forced flip of the health-check units (functions/lib/dns/flip.ts): read the stack's flip alarms and publish the
 * forcing datapoint, all in the recovery Region; preflight also reads the PRIMARY records' health checks (Route 53
 * control plane, read-only). Nothing when no unit uses the health-check strategy.
 */
export function dnsFlipGrants(
  plan: FailoverPlan,
  at: PlanArns,
): { preflight: StepGrant[]; force: StepGrant[]; poll: StepGrant[] } {
  const units = plan.units.filter((u) => u.dns.strategy === 'health-check');
  if (units.length === 0) return { preflight: [], force: [], poll: [] };
  const alarms = units.map(
    (u) =>
      `arn:${at.partition}:cloudwatch:${at.region}:${at.account}:alarm:${flipAlarmName(plan.name, u.name)}`,
  );
  const readAlarms = (sid: string): StepGrant => ({
    statement: allow(sid, ['cloudwatch:DescribeAlarms'], alarms),
  });
  return {
    preflight: [
      readAlarms('ReadDnsFlipAlarms'),
      {
        // The PRIMARY record names its health check; it may be the user's CALCULATED check around lifeboat's.
        statement: allow(
          'ReadPrimaryHealthChecks',
          ['route53:GetHealthCheck'],
          [`arn:${at.partition}:route53:::healthcheck/*`],
        ),
        wildcardReason:
          "route53:GetHealthCheck reads the health check the PRIMARY record names, known only at run time (the user's record)",
      },
    ],
    force: [
      readAlarms('ReadDnsFlipAlarms'),
      {
        // PutMetricData has no resource-level permissions; the namespace condition holds it to lifeboat's metrics.
        statement: allow('ForceDnsFlips', ['cloudwatch:PutMetricData'], ['*'], {
          StringEquals: { 'cloudwatch:namespace': FLIP_NAMESPACE },
        }),
        wildcardReason: `cloudwatch:PutMetricData supports no resource-level permissions; the grant is held to the ${FLIP_NAMESPACE} namespace`,
      },
    ],
    poll: [readAlarms('ReadDnsFlipAlarms')],
  };
}
