import * as iam from 'aws-cdk-lib/aws-iam';
import type { FailoverPlan, UnitPlan } from '../functions/lib/plan.js';
import type { StepFunctionName } from '../statemachine/steps.js';
import {
  hostedZoneArn,
  normalizedRecordName,
  type PlanArns,
  planArns,
  replicaInstanceArn,
  rotationLambdaArns,
  secretResourceArns,
  unique,
} from './arns.js';

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

/** Where the report step writes: `reports/<plan>/...` (`latest.json` and one object per run). */
export function reportPrefix(plan: Pick<FailoverPlan, 'name'>): string {
  return `reports/${plan.name}/`;
}

const allow = (sid: string, actions: string[], resources: string[], conditions?: iam.Conditions) =>
  new iam.PolicyStatement({
    sid,
    effect: iam.Effect.ALLOW,
    actions,
    resources,
    ...(conditions ? { conditions } : {}),
  });

/**
 * Each step's permissions: only the calls its module makes (functions/lib/*.ts), only on the plan's resources, all
 * in the recovery Region — nothing names the primary Region, which may be down. Route 53 is global (its ARNs carry
 * no Region); its control plane is the only call outside the recovery Region.
 */
export function stepGrants(
  plan: FailoverPlan,
  resources: StepResources,
): Record<StepFunctionName, StepGrant[]> {
  const at = planArns(plan);
  const units = plan.units;
  const secrets = unique(units.flatMap((u) => secretResourceArns(at, u)));
  const replicas = unique(units.map((u) => replicaInstanceArn(at, u)));
  const rotationLambdas = unique(units.flatMap(rotationLambdaArns));
  const zones = unique(units.map((u) => hostedZoneArn(at, u.dns.hostedZoneId)));
  const cnameUnits = units.filter((u) => u.dns.strategy === 'cname');
  const rewriteUnits = units.filter((u) => u.rotation.rewriteRegionFields);

  const readSecrets = allow(
    'ReadReplicaSecrets',
    ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
    secrets,
  );
  const describeReplicas = allow('DescribeReplicaInstances', ['rds:DescribeDBInstances'], replicas);

  const grants: Record<StepFunctionName, StepGrant[]> = {
    // Pure: validates the baked-in plan and the input.
    loadPlan: [],
    // Pure: trims a unit's outcome to its share of the state.
    summarizeUnit: [],
    preflight: [
      { statement: readSecrets },
      kmsForSecrets(at, 'DecryptReplicaSecrets', ['kms:Decrypt'], units),
      {
        statement: allow(
          'ReadRotationFunctions',
          ['lambda:GetFunction', 'lambda:GetPolicy'],
          rotationLambdas,
        ),
      },
      { statement: describeReplicas },
      {
        // ReplicaLag of each replica. GetMetricData has no resource-level permissions
        // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html).
        statement: allow('ReadReplicaLag', ['cloudwatch:GetMetricData'], ['*']),
        wildcardReason:
          'cloudwatch:GetMetricData supports no resource-level permissions; preflight reads only RDS ReplicaLag with it',
      },
      {
        statement: allow(
          'ReadHostedZones',
          ['route53:GetHostedZone', 'route53:ListResourceRecordSets'],
          zones,
        ),
      },
    ],
    acquireLock: [lockGrant(plan, resources, 'TakeFailoverLock')],
    releaseLock: [lockGrant(plan, resources, 'ReleaseFailoverLock')],
    promoteSecret: [
      {
        statement: allow(
          'PromoteReplicaSecrets',
          ['secretsmanager:DescribeSecret', 'secretsmanager:StopReplicationToReplica'],
          secrets,
        ),
      },
    ],
    promoteDatabase: [
      {
        statement: allow(
          'PromoteReadReplicas',
          ['rds:DescribeDBInstances', 'rds:PromoteReadReplica'],
          replicas,
        ),
      },
    ],
    checkDatabasePromotion: [{ statement: describeReplicas }],
    updateDns: [{ statement: describeReplicas }, ...dnsChangeGrants(at, cnameUnits)],
    checkDnsChange: cnameUnits.length
      ? [
          {
            // Change ids are made by Route 53 at run time.
            statement: allow(
              'ReadDnsChanges',
              ['route53:GetChange'],
              [`arn:${at.partition}:route53:::change/*`],
            ),
            wildcardReason:
              'route53:GetChange takes a change id that Route 53 assigns at run time; change/* is the narrowest resource',
          },
        ]
      : [],
    attachRotation: [
      {
        statement: allow(
          'AttachRotation',
          [
            'secretsmanager:DescribeSecret',
            'secretsmanager:RotateSecret',
            'secretsmanager:UpdateSecretVersionStage',
          ],
          secrets,
        ),
      },
      {
        // "To configure rotation, you also need lambda:InvokeFunction permissions on the rotation function"
        // (RotateSecret, Required permissions: AWS Secrets Manager API Reference).
        statement: allow('InvokeRotationFunctions', ['lambda:InvokeFunction'], rotationLambdas),
      },
      ...(rewriteUnits.length
        ? [
            {
              statement: allow(
                'RewriteRegionFields',
                ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
                unique(rewriteUnits.flatMap((u) => secretResourceArns(at, u))),
              ),
            },
            kmsForSecrets(
              at,
              'EncryptRewrittenSecrets',
              ['kms:Decrypt', 'kms:GenerateDataKey'],
              rewriteUnits,
            ),
          ]
        : []),
    ],
    verifyConnectivity: [
      { statement: allow('ReadSecretsToConnect', ['secretsmanager:GetSecretValue'], secrets) },
      kmsForSecrets(at, 'DecryptSecretsToConnect', ['kms:Decrypt'], units),
      { statement: describeReplicas },
    ],
    report: [
      {
        statement: allow(
          'WriteReports',
          ['s3:PutObject'],
          [`${resources.reportBucketArn}/${reportPrefix(plan)}*`],
        ),
        wildcardReason: `the report step writes one object per run (and latest.json) under ${reportPrefix(plan)}; the run id names the object`,
      },
      { statement: allow('PublishReports', ['sns:Publish'], [resources.reportTopicArn]) },
      ...(resources.reportTopicKeyArn
        ? [
            {
              // Publishing to an encrypted topic needs the key (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
              statement: allow(
                'EncryptReports',
                ['kms:Decrypt', 'kms:GenerateDataKey'],
                [resources.reportTopicKeyArn],
              ),
            },
          ]
        : []),
    ],
  };
  return grants;
}

/**
 * A secret may be encrypted with a customer managed key the plan does not name. The grant is bounded instead by the
 * conditions AWS documents for Secrets Manager: only through Secrets Manager in the recovery Region, and only for
 * the plan's secrets (the `SecretARN` encryption context).
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html#security-encryption-authz
 */
function kmsForSecrets(at: PlanArns, sid: string, actions: string[], units: readonly UnitPlan[]): StepGrant {
  return {
    statement: allow(sid, actions, [`arn:${at.partition}:kms:${at.region}:${at.account}:key/*`], {
      StringEquals: { 'kms:ViaService': `secretsmanager.${at.region}.amazonaws.com` },
      StringLike: {
        'kms:EncryptionContext:SecretARN': unique(units.flatMap((u) => secretResourceArns(at, u))),
      },
    }),
    wildcardReason:
      "the plan names secrets, not their KMS keys; the grant is held to Secrets Manager in the recovery Region (kms:ViaService) and to the plan's secrets (kms:EncryptionContext:SecretARN)",
  };
}

/**
 * The lock item of this plan only: the table's partition key is the plan name. AcquireLock writes conditionally and
 * reads the holder when refused (functions/lib/lock.ts); ReleaseLock only deletes conditionally.
 */
function lockGrant(
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
 * UPSERT of the plan's CNAMEs only, per hosted zone, held by Route 53's record-level condition keys
 * (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-rrset-conditions.html).
 */
function dnsChangeGrants(at: PlanArns, cnameUnits: readonly UnitPlan[]): StepGrant[] {
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
