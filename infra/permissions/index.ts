import { PLAN_TAG } from '../../functions/lib/drill.js';
import { type FailoverPlan, primaryInstanceArn } from '../../functions/lib/plan.js';
import { METRIC_NAMESPACE } from '../../functions/lib/report/index.js';
import { mapResultsPrefix } from '../../functions/lib/run-objects.js';
import type { StepFunctionName } from '../../statemachine/steps.js';
import {
  hostedZoneArn,
  planArns,
  replicaInstanceArn,
  rotationLambdaArns,
  secretResourceArns,
  unique,
} from '../arns.js';
import { auroraGrants, globalDrillGrants, replicaClusterDrillGrants } from './aurora.js';
import { drillArns, reprotectDescribeOld, reprotectGrants, switchoverGrants } from './modes.js';
import {
  dnsChangeGrants,
  dnsFlipGrants,
  kmsForSecrets,
  lockGrant,
  promotionSnapshotReadGrant,
  sharedItemGrant,
} from './resources.js';
import {
  allow,
  instanceUnitsOf,
  reportPrefix,
  runsPrefix,
  type StepGrant,
  type StepResources,
} from './statement.js';

export { reportPrefix, runsPrefix, type StepGrant, type StepResources } from './statement.js';

/*
 * Each Lambda step's IAM statements, by domain: this file (the steps' grants on the plan's RDS instances, secrets,
 * zones and the stack's own resources), aurora.ts (Aurora units: promotion, drill copies, re-protect), modes.ts
 * (re-protect and switchover, and the drill copies' names), resources.ts (KMS for the secrets, the lock table and its
 * shared items, the DNS change and the health-check flip), statement.ts (what they share).
 */

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
  const replicas = unique(instanceUnitsOf(plan).map((u) => replicaInstanceArn(at, u)));
  const rotationLambdas = unique(units.flatMap(rotationLambdaArns));
  const zones = unique(units.map((u) => hostedZoneArn(at, u.dns.hostedZoneId)));
  const cnameUnits = units.filter((u) => u.dns.strategy === 'cname');
  const rewriteUnits = units.filter((u) => u.rotation.rewriteRegionFields);

  const drill = drillArns(plan, at);
  const flip = dnsFlipGrants(plan, at);
  const allZones = zones;
  // A drill's record is a simple CNAME whatever the unit's strategy: UpdateDns reads it in any of the plan's zones.
  const cnameZones = new Set(cnameUnits.map((u) => hostedZoneArn(at, u.dns.hostedZoneId)));
  const zonesOnlyDrillReads = allZones.filter((z) => !cnameZones.has(z));

  const readSecrets = allow(
    'ReadReplicaSecrets',
    ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
    secrets,
  );
  const describeReplicas = allow('DescribeReplicaInstances', ['rds:DescribeDBInstances'], replicas);
  // The shared promotion poll (functions/lib/shared-poll.ts), read by PromoteDatabase and CheckDatabasePromotion: the
  // run's snapshot items, and one filtered describe for all.
  const sharedPollGrants: StepGrant[] = [
    sharedItemGrant(plan, resources, 'SharePromotionPoll', 'poll'),
    {
      statement: allow(
        'DescribeInstancesByFilter',
        ['rds:DescribeDBInstances'],
        [`arn:${at.partition}:rds:${at.region}:${at.account}:db:*`],
      ),
      wildcardReason:
        'DescribeDBInstances with a db-instance-id filter names no instance and is authorized against db:* (docs/design/fleet.md, "Sharing the poll"); read-only, recovery Region only',
    },
  ];

  const grants: Record<StepFunctionName, StepGrant[]> = {
    // Validates the baked-in plan and the input, and writes the selected units for the Map.
    loadPlan: [
      {
        // The run's units, for the Distributed Map's ItemReader (functions/lib/run-objects.ts).
        statement: allow(
          'WriteRunUnits',
          ['s3:PutObject'],
          [`${resources.reportBucketArn}/${runsPrefix(plan)}*/units.json`],
        ),
        wildcardReason: `LoadPlan writes one units.json per run under ${runsPrefix(plan)}<runId>/; the run id names it`,
      },
    ],
    // Pure: bounds a unit's outcome (a runaway step detail).
    summarizeUnit: [],
    preflight: [
      {
        // The run's units, as LoadPlan wrote them (functions/preflight.ts).
        statement: allow(
          'ReadRunUnits',
          ['s3:GetObject'],
          [`${resources.reportBucketArn}/${runsPrefix(plan)}*/units.json`],
        ),
        wildcardReason: `LoadPlan writes one units.json per run under ${runsPrefix(plan)}<runId>/; the run id names it`,
      },
      { statement: readSecrets },
      ...kmsForSecrets(at, 'DecryptReplicaSecrets', ['kms:Decrypt'], units),
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
      ...flip.preflight,
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
      // In a drill the same step promotes the drill copy of the secret.
      drill.describeSecrets('DescribeDrillSecrets', [drill.recoverySecrets]),
      drill.onTaggedSecrets(
        'PromoteDrillSecrets',
        ['secretsmanager:StopReplicationToReplica'],
        [drill.recoverySecrets],
      ),
    ],
    promoteDatabase: [
      {
        statement: allow(
          'PromoteReadReplicas',
          ['rds:DescribeDBInstances', 'rds:PromoteReadReplica'],
          replicas,
        ),
      },
      drill.describeInstances('DescribeDrillInstances'),
      drill.onTaggedInstances('PromoteDrillReplicas', ['rds:PromoteReadReplica']),
      // PromoteDatabase reads its replica from the shared poll's snapshot (functions/promote-database.ts), and may be
      // the lease holder that describes every registered instance.
      ...sharedPollGrants,
    ],
    checkDatabasePromotion: [
      { statement: describeReplicas },
      drill.describeInstances('DescribeDrillInstances'),
      ...sharedPollGrants,
    ],
    updateDns: [
      { statement: describeReplicas },
      ...dnsChangeGrants(at, cnameUnits),
      drill.describeInstances('DescribeDrillInstances'),
      ...(zonesOnlyDrillReads.length
        ? [{ statement: allow('ReadDrillRecords', ['route53:ListResourceRecordSets'], zonesOnlyDrillReads) }]
        : []),
      drill.changeRecords('UpsertDrillRecords', allZones, ['UPSERT'], ['CNAME']),
      ...flip.force,
      // The zone's batch (functions/lib/dns/shared.ts): UpdateDns registers its change and may send the batch.
      sharedItemGrant(plan, resources, 'ShareZoneBatches', 'dns'),
      // The shared promotion poll's snapshot: an instance unit's promoted endpoint, when fresh.
      promotionSnapshotReadGrant(plan, resources),
    ],
    // Also with every unit on the health-check strategy: a drill's copy is a simple CNAME that UpdateDns changes.
    checkDnsChange: [
      {
        // Change ids are made by Route 53 at run time.
        statement: allow('ReadDnsChanges', ['route53:GetChange'], [`arn:${at.partition}:route53:::change/*`]),
        wildcardReason:
          'route53:GetChange takes a change id that Route 53 assigns at run time; change/* is the narrowest resource',
      },
      ...flip.poll,
      // A poll that takes the zone's lease sends the batch of the changes registered so far (functions/lib/dns/shared.ts):
      // the same records as UpdateDns, read and upserted the same way.
      sharedItemGrant(plan, resources, 'ShareZoneBatches', 'dns'),
      ...dnsChangeGrants(at, cnameUnits),
      ...(zonesOnlyDrillReads.length
        ? [{ statement: allow('ReadDrillRecords', ['route53:ListResourceRecordSets'], zonesOnlyDrillReads) }]
        : []),
      drill.changeRecords('UpsertDrillRecords', allZones, ['UPSERT'], ['CNAME']),
    ],
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
      // SettleRotation (the same function) tries an interrupted rotation's credentials on the promoted database:
      // it reads both versions and the replica's endpoint, as VerifyConnectivity does
      // (docs/aws/secrets-manager-rotation.md).
      { statement: allow('ReadSecretsToTestCredentials', ['secretsmanager:GetSecretValue'], secrets) },
      ...kmsForSecrets(at, 'DecryptSecretsToTestCredentials', ['kms:Decrypt'], units),
      { statement: describeReplicas },
      drill.onTaggedSecrets(
        'ReadDrillSecretsToTestCredentials',
        ['secretsmanager:GetSecretValue'],
        [drill.recoverySecrets],
      ),
      drill.describeInstances('DescribeDrillInstances'),
      drill.describeSecrets('DescribeDrillSecrets', [drill.recoverySecrets]),
      drill.onTaggedSecrets(
        'AttachDrillRotation',
        ['secretsmanager:RotateSecret', 'secretsmanager:UpdateSecretVersionStage'],
        [drill.recoverySecrets],
      ),
      ...(rewriteUnits.length
        ? [
            drill.onTaggedSecrets(
              'RewriteDrillRegionFields',
              ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
              [drill.recoverySecrets],
            ),
            {
              statement: allow(
                'RewriteRegionFields',
                ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
                unique(rewriteUnits.flatMap((u) => secretResourceArns(at, u))),
              ),
            },
            ...kmsForSecrets(
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
      ...kmsForSecrets(at, 'DecryptSecretsToConnect', ['kms:Decrypt'], units),
      { statement: describeReplicas },
      drill.onTaggedSecrets(
        'ReadDrillSecretsToConnect',
        ['secretsmanager:GetSecretValue'],
        [drill.recoverySecrets],
      ),
      drill.describeInstances('DescribeDrillInstances'),
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
      {
        // The units' outcomes, which the Distributed Map's ResultWriter wrote (functions/lib/run-objects.ts).
        statement: allow(
          'ReadUnitOutcomes',
          ['s3:GetObject'],
          [`${resources.reportBucketArn}/${mapResultsPrefix(plan.name)}/*`],
        ),
        wildcardReason: `Step Functions names the result files by Map Run under ${mapResultsPrefix(plan.name)}/`,
      },
      { statement: allow('PublishReports', ['sns:Publish'], [resources.reportTopicArn]) },
      {
        // PutMetricData has no resource-level permissions; the namespace condition holds it to lifeboat's metrics
        // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html).
        statement: allow('PublishRecoveryTimes', ['cloudwatch:PutMetricData'], ['*'], {
          StringEquals: { 'cloudwatch:namespace': METRIC_NAMESPACE },
        }),
        wildcardReason: `cloudwatch:PutMetricData supports no resource-level permissions; the grant is held to the ${METRIC_NAMESPACE} namespace`,
      },
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
    prepareDrill: [
      {
        // Production is read, never changed: its replica's settings are copied, its primary is the copy's source.
        statement: allow(
          'ReadProductionForDrill',
          ['rds:DescribeDBInstances'],
          [...replicas, ...drill.primaries, drill.instances],
        ),
        wildcardReason: drill.instanceReason,
      },
      {
        statement: allow('ReadDrillInstanceTags', ['rds:ListTagsForResource'], [drill.instances]),
        wildcardReason: drill.instanceReason,
      },
      {
        // A cross-Region replica is also authorized on its source, in the source's Region (the SDK's PreSignedUrl).
        statement: allow(
          'ReplicateProductionPrimaries',
          ['rds:CreateDBInstanceReadReplica'],
          drill.primaries,
        ),
      },
      {
        // Only drill-named instances, only created with this plan's tag (RDS authorizes the tags on create as
        // rds:AddTagsToResource). The subnet group is the production replica's, read at run time.
        statement: allow(
          'CreateDrillReplicas',
          ['rds:CreateDBInstanceReadReplica', 'rds:AddTagsToResource'],
          [drill.instances, `arn:${at.partition}:rds:${at.region}:${at.account}:subgrp:*`],
          { StringEquals: { [`aws:RequestTag/${PLAN_TAG}`]: plan.name } },
        ),
        wildcardReason:
          'the drill replica uses the subnet group of the production replica, known only at run time (subgrp:*); instances are held to the lifeboat-drill-* names and to requests tagged with this plan',
      },
      {
        // An encrypted cross-Region replica is encrypted with a key of the recovery Region: the production replica's.
        statement: allow(
          'EncryptDrillReplicas',
          ['kms:CreateGrant', 'kms:DescribeKey'],
          [`arn:${at.partition}:kms:${at.region}:${at.account}:key/*`],
          { StringEquals: { 'kms:ViaService': `rds.${at.region}.amazonaws.com` } },
        ),
        wildcardReason:
          "the production replica's KMS key is read at run time; the grant is held to RDS in the recovery Region (kms:ViaService)",
      },
      { statement: allow('ReadProductionSecrets', ['secretsmanager:GetSecretValue'], secrets) },
      ...kmsForSecrets(at, 'DecryptProductionSecrets', ['kms:Decrypt'], units),
      drill.describeSecrets('DescribeDrillSecrets', [drill.primarySecrets]),
      {
        statement: allow(
          'CreateDrillSecrets',
          ['secretsmanager:CreateSecret', 'secretsmanager:TagResource'],
          [drill.primarySecrets],
          { StringEquals: { [`aws:RequestTag/${PLAN_TAG}`]: plan.name } },
        ),
        wildcardReason: drill.secretReason,
      },
      {
        statement: allow(
          'ReplicateDrillSecrets',
          ['secretsmanager:ReplicateSecretToRegions'],
          [drill.primarySecrets],
        ),
        wildcardReason: drill.secretReason,
      },
      {
        statement: allow(
          'ReadZonesForDrill',
          ['route53:GetHostedZone', 'route53:ListResourceRecordSets'],
          allZones,
        ),
      },
      drill.changeRecords('CreateDrillRecords', allZones, ['CREATE'], ['CNAME', 'TXT']),
    ],
    checkDrillCopies: [
      drill.describeInstances('DescribeDrillInstances'),
      drill.describeSecrets('DescribeDrillSecrets', [drill.primarySecrets, drill.recoverySecrets]),
    ],
    cleanUpDrill: [
      drill.describeInstances('DescribeDrillInstances'),
      {
        statement: allow('ReadDrillInstanceTags', ['rds:ListTagsForResource'], [drill.instances]),
        wildcardReason: drill.instanceReason,
      },
      drill.onTaggedInstances('DeleteDrillInstances', ['rds:DeleteDBInstance']),
      drill.describeSecrets('DescribeDrillSecrets', [drill.primarySecrets, drill.recoverySecrets]),
      drill.onTaggedSecrets(
        'DeleteDrillSecrets',
        [
          'secretsmanager:DeleteSecret',
          'secretsmanager:RemoveRegionsFromReplication',
          'secretsmanager:StopReplicationToReplica',
        ],
        [drill.primarySecrets, drill.recoverySecrets],
      ),
      {
        statement: allow(
          'ReadZonesForDrill',
          ['route53:GetHostedZone', 'route53:ListResourceRecordSets'],
          allZones,
        ),
      },
      drill.changeRecords('DeleteDrillRecords', allZones, ['DELETE'], ['CNAME', 'TXT']),
    ],
    reprotectUnit: reprotectGrants(plan, at, secrets, replicas),
    // Switchover (functions/lib/switchover/): SQL on the primary and the replica with the secret's credentials, each
    // instance's endpoint read from RDS in its own Region. No RDS change: the promotion is PromoteDatabase's.
    fenceWrites: switchoverGrants(plan, at, secrets, replicas, 'ReachDatabasesToFence'),
    checkCatchUp: switchoverGrants(plan, at, secrets, replicas, 'ReachDatabasesToCompare'),
  };
  // Mode switchover's preflight reads the primary in its Region and logs in to it (functions/lib/switchover/preflight.ts).
  grants.preflight.push({
    statement: allow(
      'DescribePrimariesForSwitchover',
      ['rds:DescribeDBInstances'],
      unique(instanceUnitsOf(plan).map((u) => primaryInstanceArn(plan, u))),
    ),
  });
  // Mode reprotect's preflight reads the old Region's instances (functions/lib/reprotect/reprotect.ts).
  grants.preflight.push(reprotectDescribeOld(plan));
  for (const [step, extra] of Object.entries(auroraGrants(plan, at))) {
    grants[step as StepFunctionName].push(...extra);
  }
  for (const more of [replicaClusterDrillGrants(plan, at, drill), globalDrillGrants(plan, at, drill)]) {
    for (const [step, extra] of Object.entries(more)) grants[step as StepFunctionName].push(...extra);
  }
  // A plan of Aurora units only has no instances: a statement that names nothing grants nothing and IAM refuses it.
  for (const step of Object.keys(grants) as StepFunctionName[]) {
    grants[step] = grants[step].filter((g) => g.statement.resources.length > 0);
  }
  return grants;
}
