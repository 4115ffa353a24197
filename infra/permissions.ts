import * as iam from 'aws-cdk-lib/aws-iam';
import { FLIP_NAMESPACE, flipAlarmName } from '../functions/lib/dns/flip.js';
import { DRILL_PREFIX, PLAN_TAG } from '../functions/lib/drill.js';
import {
  type AuroraUnitPlan,
  type FailoverPlan,
  type InstanceUnitPlan,
  isAuroraUnit,
  primaryInstanceArn,
  type UnitPlan,
} from '../functions/lib/plan.js';
import { METRIC_NAMESPACE } from '../functions/lib/report/index.js';
import { reprotectInstancePrefix } from '../functions/lib/reprotect/aurora-replica.js';
import { retiredName } from '../functions/lib/reprotect/reprotect.js';
import { reverseUnit } from '../functions/lib/reprotect/reverse-plan.js';
import { mapResultsPrefix } from '../functions/lib/run-objects.js';
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

/** Where a run's units and the units' outcomes are kept: `runs/<plan>/...` (functions/lib/run-objects.ts). */
export function runsPrefix(plan: Pick<FailoverPlan, 'name'>): string {
  return `runs/${plan.name}/`;
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

/** The plan's RDS DB instance units: the instance statements name only theirs (Aurora units: auroraGrants). */
const instanceUnitsOf = (plan: FailoverPlan): InstanceUnitPlan[] =>
  plan.units.filter((u): u is InstanceUnitPlan => !isAuroraUnit(u));

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
    ],
    checkDatabasePromotion: [
      { statement: describeReplicas },
      drill.describeInstances('DescribeDrillInstances'),
      // The shared poll (functions/lib/shared-poll.ts): the run's snapshot item, and one filtered describe for all.
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

/**
 * The Aurora units' grants (functions/lib/aurora/, docs/design/aurora.md "Permissions"), on their clusters only:
 * the recovery Region's replica clusters, the primary clusters (a switchover's preflight compares engine versions
 * there), and the global clusters, whose ARNs have no Region (`arn:aws:rds::<account>:global-cluster:<id>`).
 * FailoverGlobalCluster and SwitchoverGlobalCluster are allowed on the global cluster and its two member clusters of
 * the plan: the call names the global cluster and the target cluster, and promotes one while it demotes the other.
 */
function auroraGrants(plan: FailoverPlan, at: PlanArns): Partial<Record<StepFunctionName, StepGrant[]>> {
  const units = plan.units.filter(isAuroraUnit);
  if (units.length === 0) return {};
  const primaryAt = planArns({ account: plan.account, recoveryRegion: plan.primaryRegion });
  const clusterArn = (p: PlanArns, id: string) =>
    `arn:${p.partition}:rds:${p.region}:${p.account}:cluster:${id}`;
  const replicas = unique(units.map((u) => clusterArn(at, u.database.replicaClusterId)));
  const primaries = unique(units.map((u) => clusterArn(primaryAt, u.database.primaryClusterId)));
  const globalUnits = units.filter((u) => u.database.globalClusterId !== undefined);
  const globals = unique(
    globalUnits.map(
      (u) => `arn:${at.partition}:rds::${at.account}:global-cluster:${u.database.globalClusterId}`,
    ),
  );
  const replicaClusterUnits = units.filter((u) => u.database.globalClusterId === undefined);
  const read = (sid: string): StepGrant[] => [
    { statement: allow(`${sid}Clusters`, ['rds:DescribeDBClusters'], replicas) },
    ...(globals.length
      ? [{ statement: allow(`${sid}GlobalClusters`, ['rds:DescribeGlobalClusters'], globals) }]
      : []),
  ];
  const promote: StepGrant[] = [...read('DescribeAurora')];
  if (globals.length) {
    promote.push({
      statement: allow(
        'FailOverAuroraGlobalDatabases',
        ['rds:FailoverGlobalCluster', 'rds:SwitchoverGlobalCluster'],
        unique([
          ...globals,
          ...globalUnits.flatMap((u) => [
            clusterArn(at, u.database.replicaClusterId),
            clusterArn(primaryAt, u.database.primaryClusterId),
          ]),
        ]),
      ),
    });
  }
  if (replicaClusterUnits.length) {
    promote.push({
      statement: allow(
        'PromoteAuroraReplicaClusters',
        ['rds:PromoteReadReplicaDBCluster'],
        unique(replicaClusterUnits.map((u) => clusterArn(at, u.database.replicaClusterId))),
      ),
    });
  }
  // Re-protect of a global unit (functions/lib/reprotect/aurora.ts) reads the global cluster, the promoted cluster and
  // the old primary, and lists the snapshot Aurora took of the old primary after a failover; it changes no cluster.
  const reprotect: StepGrant[] = [];
  const reprotectPreflight: StepGrant[] = [];
  if (globals.length) {
    const olds = globalUnits.map((u) => u.database.primaryClusterId);
    reprotect.push(
      {
        statement: allow(
          'ReadAuroraClustersToReprotect',
          ['rds:DescribeDBClusters'],
          unique(
            globalUnits.flatMap((u) => [
              clusterArn(at, u.database.replicaClusterId),
              clusterArn(primaryAt, u.database.primaryClusterId),
            ]),
          ),
        ),
      },
      { statement: allow('ReadGlobalClustersToReprotect', ['rds:DescribeGlobalClusters'], globals) },
      {
        statement: allow(
          'ListFailoverSnapshots',
          ['rds:DescribeDBClusterSnapshots'],
          unique(
            olds.flatMap((id) => [
              clusterArn(primaryAt, id),
              `arn:${primaryAt.partition}:rds:${primaryAt.region}:${primaryAt.account}:cluster-snapshot:rds:unplanned-global-failover-${id}-*`,
            ]),
          ),
        ),
        wildcardReason:
          "Aurora names the old primary's snapshot rds:unplanned-global-failover-<cluster>-<time> when it takes it; the grant is held to that prefix and only lists",
      },
    );
  }
  if (replicaClusterUnits.length) {
    const more = replicaClusterReprotectGrants(plan, at, replicaClusterUnits);
    reprotect.push(...more.reprotectUnit);
    reprotectPreflight.push(...more.preflight);
  }
  return {
    reprotectUnit: reprotect,
    preflight: [
      ...reprotectPreflight,
      ...read('PreflightAurora'),
      // A switchover's preflight compares the two clusters' engine versions (functions/lib/aurora/preflight.ts).
      { statement: allow('DescribeAuroraPrimaries', ['rds:DescribeDBClusters'], primaries) },
    ],
    promoteDatabase: promote,
    checkDatabasePromotion: read('PollAurora'),
    // The promoted cluster's endpoint, or the global writer endpoint (functions/lib/promoted-target.ts).
    updateDns: read('TargetAurora'),
    verifyConnectivity: read('ReachAurora'),
    attachRotation: read('SettleAurora'),
  };
}

/**
 * Re-protect of a replica cluster unit (functions/lib/reprotect/aurora-replica.ts; docs/design/aurora.md, "Re-protect
 * of a replica cluster unit"). In the current Region: the promoted cluster read, and the source of the new replica
 * cluster (the SDK signs the PreSignedUrl here, so CreateDBCluster on it). In the old Region: the old primary cluster
 * tagged and renamed (`<id>-old-*`, never deleted), a read replica cluster created under the old primary's id and its
 * one instance (`<id>-rp-*`), both only with this plan's tag. The instances of the old and the promoted clusters are
 * read for the instance class only. Preflight (mode reprotect) and the dry run read the same.
 */
function replicaClusterReprotectGrants(
  plan: FailoverPlan,
  at: PlanArns,
  units: readonly AuroraUnitPlan[],
): { reprotectUnit: StepGrant[]; preflight: StepGrant[] } {
  const old = planArns({ account: plan.account, recoveryRegion: plan.primaryRegion });
  const arn = (p: PlanArns, kind: string, id: string) =>
    `arn:${p.partition}:rds:${p.region}:${p.account}:${kind}:${id}`;
  const promoted = unique(units.map((u) => arn(at, 'cluster', u.database.replicaClusterId)));
  const originals = unique(units.map((u) => arn(old, 'cluster', u.database.primaryClusterId)));
  const retiredPatterns = unique(
    units.map((u) =>
      arn(old, 'cluster', retiredName(u.database.primaryClusterId, '').replace(/-[0-9a-f]{8}$/, '-*')),
    ),
  );
  const instancePatterns = unique(
    units.map((u) => arn(old, 'db', `${reprotectInstancePrefix(u.database.primaryClusterId)}*`)),
  );
  const reads = (sid: string): StepGrant[] => [
    {
      statement: allow(
        `${sid}Clusters`,
        ['rds:DescribeDBClusters'],
        [...promoted, ...originals, ...retiredPatterns],
      ),
      wildcardReason:
        'a retired old primary cluster is named <id>-old-<8 hex of the promoted cluster>, known at run time; read-only',
    },
    {
      statement: allow(
        `${sid}Instances`,
        ['rds:DescribeDBInstances'],
        [arn(old, 'db', '*'), arn(at, 'db', '*')],
      ),
      wildcardReason:
        "the old primary's and the promoted cluster's instances are not named in the plan; read-only, for the new instance's class and the re-protect instance's status",
    },
  ];
  const planTag = { StringEquals: { [`aws:RequestTag/${PLAN_TAG}`]: plan.name } };
  return {
    preflight: reads('PreflightReprotectReplica'),
    reprotectUnit: [
      ...reads('ReadReplicaClusterReprotect'),
      {
        statement: allow(
          'RetireOldPrimaryClusters',
          ['rds:AddTagsToResource', 'rds:ModifyDBCluster'],
          originals,
        ),
      },
      { statement: allow('ReplicatePromotedClusters', ['rds:CreateDBCluster'], promoted) },
      {
        statement: allow(
          'CreateReplicaClustersInOldRegion',
          ['rds:CreateDBCluster', 'rds:AddTagsToResource'],
          [...originals, arn(old, 'subgrp', '*')],
          planTag,
        ),
        wildcardReason:
          "the new replica cluster uses the old primary's subnet group, known only at run time (subgrp:*); requests are held to this plan's tag",
      },
      {
        statement: allow(
          'CreateReplicaClusterInstancesInOldRegion',
          ['rds:CreateDBInstance', 'rds:AddTagsToResource'],
          [...instancePatterns, ...originals],
          planTag,
        ),
        wildcardReason:
          "the instance is named <id>-rp-<8 hex of the promoted cluster>, known at run time; requests are held to this plan's tag",
      },
    ],
  };
}

/**
 * The drill of a cross-Region replica cluster unit (functions/lib/aurora/drill-replica.ts, docs/design/aurora-drill.md):
 * a new replica cluster `lifeboat-drill-*` of the production primary in the recovery Region and one instance in it,
 * created only with this plan's tag; promoted and deleted only when tagged with this plan (the code checks the run's own
 * tag first). Production's clusters are only read, and the primary is named by CreateDBCluster's PreSignedUrl, which
 * the SDK signs in the primary Region (@aws-sdk/middleware-sdk-rds): CreateDBCluster is also authorized there, on the
 * source. Nothing for global database units here.
 */
function replicaClusterDrillGrants(
  plan: FailoverPlan,
  at: PlanArns,
  drill: ReturnType<typeof drillArns>,
): Partial<Record<StepFunctionName, StepGrant[]>> {
  const units = plan.units.filter(isAuroraUnit).filter((u) => u.database.globalClusterId === undefined);
  if (units.length === 0) return {};
  const primaryAt = planArns({ account: plan.account, recoveryRegion: plan.primaryRegion });
  const clusterArn = (p: PlanArns, id: string) =>
    `arn:${p.partition}:rds:${p.region}:${p.account}:cluster:${id}`;
  const sources = unique(units.map((u) => clusterArn(primaryAt, u.database.primaryClusterId)));
  const replicas = unique(units.map((u) => clusterArn(at, u.database.replicaClusterId)));
  const describe = (sid: string): StepGrant => ({
    statement: allow(sid, ['rds:DescribeDBClusters'], [drill.clusters]),
    wildcardReason: drill.clusterReason,
  });
  const createInstances: StepGrant = {
    // The copy's one instance, made once the cluster is available (by PrepareDrill or a later CheckDrillCopies).
    statement: allow(
      'CreateDrillClusterInstances',
      ['rds:CreateDBInstance', 'rds:AddTagsToResource'],
      [drill.instances, drill.clusters],
      { StringEquals: { [`aws:RequestTag/${PLAN_TAG}`]: plan.name } },
    ),
    wildcardReason: `${drill.instanceReason}; only requests tagged with this plan`,
  };
  const onTaggedClusters = (sid: string, actions: string[]): StepGrant => ({
    statement: allow(sid, actions, [drill.clusters], {
      StringEquals: { [`rds:cluster-tag/${PLAN_TAG}`]: plan.name },
    }),
    wildcardReason: `${drill.clusterReason}, and to clusters tagged ${PLAN_TAG}=${plan.name}`,
  });
  return {
    prepareDrill: [
      {
        statement: allow(
          'ReadProductionClustersForDrill',
          ['rds:DescribeDBClusters'],
          [...sources, ...replicas, drill.clusters],
        ),
        wildcardReason: drill.clusterReason,
      },
      {
        // The instance class of the production replica cluster's writer: its instances are not in the plan.
        statement: allow(
          'ReadProductionClusterInstancesForDrill',
          ['rds:DescribeDBInstances'],
          [`arn:${at.partition}:rds:${at.region}:${at.account}:db:*`],
        ),
        wildcardReason:
          "the production replica cluster's instances are not named in the plan; read-only, for the instance class the drill copy gets",
      },
      { statement: allow('ReplicateProductionClusters', ['rds:CreateDBCluster'], sources) },
      {
        statement: allow(
          'CreateDrillReplicaClusters',
          ['rds:CreateDBCluster', 'rds:AddTagsToResource'],
          [drill.clusters, `arn:${at.partition}:rds:${at.region}:${at.account}:subgrp:*`],
          { StringEquals: { [`aws:RequestTag/${PLAN_TAG}`]: plan.name } },
        ),
        wildcardReason:
          'the drill replica cluster uses the subnet group of the production replica cluster, known only at run time (subgrp:*); clusters are held to the lifeboat-drill-* names and to requests tagged with this plan',
      },
      createInstances,
    ],
    checkDrillCopies: [describe('DescribeDrillClusters'), createInstances],
    promoteDatabase: [
      describe('DescribeDrillClusters'),
      onTaggedClusters('PromoteDrillReplicaClusters', ['rds:PromoteReadReplicaDBCluster']),
    ],
    checkDatabasePromotion: [describe('DescribeDrillClusters')],
    updateDns: [describe('DescribeDrillClusters')],
    verifyConnectivity: [describe('DescribeDrillClusters')],
    attachRotation: [describe('DescribeDrillClusters')],
    cleanUpDrill: [
      describe('DescribeDrillClusters'),
      // An unpromoted copy is promoted first: Aurora MySQL keeps the last instance of a read replica cluster.
      onTaggedClusters('DeleteDrillReplicaClusters', [
        'rds:PromoteReadReplicaDBCluster',
        'rds:DeleteDBCluster',
      ]),
    ],
  };
}

/**
 * The drill of an Aurora global database unit (functions/lib/aurora/drill.ts, docs/design/aurora-drill.md): a clone of
 * the production primary (primary Region), a drill global cluster from it and a drill secondary in the recovery Region,
 * each with one instance; every copy named `lifeboat-drill-*` and created only with this plan's tag. The drill's run
 * fails over (or switches over) the drill global cluster; clean-up detaches and deletes the copies, the instances and
 * clusters only when tagged with this plan (the code checks the run's own tag first). Production's clusters are only
 * read, and the primary is the clone's source. Which resource types IAM evaluates for the global-cluster calls is
 * unconfirmed (docs/aws/aurora-global-database.md, "IAM"): the drill global clusters and both Regions' drill clusters
 * are named, as for production's failover. Any pass of the wait loop may make the next copy: CheckDrillCopies gets the
 * same create grants as PrepareDrill, except the clone (made by PrepareDrill only).
 */
function globalDrillGrants(
  plan: FailoverPlan,
  at: PlanArns,
  drill: ReturnType<typeof drillArns>,
): Partial<Record<StepFunctionName, StepGrant[]>> {
  const units = plan.units.filter(isAuroraUnit).filter((u) => u.database.globalClusterId !== undefined);
  if (units.length === 0) return {};
  const p = planArns({ account: plan.account, recoveryRegion: plan.primaryRegion });
  const clusterArn = (where: PlanArns, id: string) =>
    `arn:${where.partition}:rds:${where.region}:${where.account}:cluster:${id}`;
  const sources = unique(units.map((u) => clusterArn(p, u.database.primaryClusterId)));
  const secondaries = unique(units.map((u) => clusterArn(at, u.database.replicaClusterId)));
  const clusters = [clusterArn(p, `${DRILL_PREFIX}-*`), drill.clusters];
  const instances = [`arn:${p.partition}:rds:${p.region}:${p.account}:db:${DRILL_PREFIX}-*`, drill.instances];
  const globals = `arn:${at.partition}:rds::${at.account}:global-cluster:${DRILL_PREFIX}-*`;
  const reason = `drill clusters and global clusters get their names at run time (${DRILL_PREFIX}-<run>-<unit>, -dr, -g); the grant is held to that prefix`;
  const read = (sid: string): StepGrant[] => [
    { statement: allow(`${sid}Clusters`, ['rds:DescribeDBClusters'], clusters), wildcardReason: reason },
    {
      statement: allow(`${sid}GlobalClusters`, ['rds:DescribeGlobalClusters'], [globals]),
      wildcardReason: reason,
    },
  ];
  const tagged = { StringEquals: { [`aws:RequestTag/${PLAN_TAG}`]: plan.name } };
  const subnetGroups = [p, at].map((w) => `arn:${w.partition}:rds:${w.region}:${w.account}:subgrp:*`);
  const create = (actions: string[]): StepGrant => ({
    statement: allow(
      'CreateAuroraDrillCopies',
      [
        ...actions,
        'rds:CreateGlobalCluster',
        'rds:CreateDBCluster',
        'rds:CreateDBInstance',
        'rds:AddTagsToResource',
      ],
      [...clusters, ...instances, globals, ...subnetGroups],
      tagged,
    ),
    wildcardReason: `${reason}; the copies use the production clusters' subnet groups, read at run time (subgrp:*); only requests tagged with this plan`,
  });
  const copies: StepGrant[] = [
    ...read('ReadAuroraDrillCopies'),
    {
      // Production's clusters are copied (network, key, version) and never changed.
      statement: allow(
        'ReadProductionForAuroraDrill',
        ['rds:DescribeDBClusters'],
        [...sources, ...secondaries],
      ),
    },
    {
      // The instance class of production's writers: their instances are not named in the plan.
      statement: allow(
        'ReadInstanceClassesForAuroraDrill',
        ['rds:DescribeDBInstances'],
        [p, at].map((w) => `arn:${w.partition}:rds:${w.region}:${w.account}:db:*`),
      ),
      wildcardReason:
        "production's cluster instances are not named in the plan; read-only, for the instance class the drill copies get",
    },
    {
      // The clone is encrypted with the production primary's key, in the primary Region.
      statement: allow(
        'EncryptAuroraDrillClones',
        ['kms:CreateGrant', 'kms:DescribeKey'],
        [`arn:${p.partition}:kms:${p.region}:${p.account}:key/*`],
        { StringEquals: { 'kms:ViaService': `rds.${p.region}.amazonaws.com` } },
      ),
      wildcardReason:
        "the production primary's KMS key is read at run time; the grant is held to RDS in the primary Region (kms:ViaService)",
    },
  ];
  const onTagged = (sid: string, actions: string[], resources: string[], key: string): StepGrant => ({
    statement: allow(sid, actions, resources, {
      StringEquals: { [`rds:${key}-tag/${PLAN_TAG}`]: plan.name },
    }),
    wildcardReason: `${reason}, and to copies tagged ${PLAN_TAG}=${plan.name}`,
  });
  return {
    prepareDrill: [
      ...copies,
      // The clone's source: production's primary, only read by the copy-on-write restore.
      { statement: allow('CloneProductionPrimaries', ['rds:RestoreDBClusterToPointInTime'], sources) },
      create(['rds:RestoreDBClusterToPointInTime']),
    ],
    checkDrillCopies: [...copies, create([])],
    promoteDatabase: [
      ...read('DescribeAuroraDrill'),
      {
        statement: allow(
          'FailOverDrillGlobalDatabases',
          ['rds:FailoverGlobalCluster', 'rds:SwitchoverGlobalCluster'],
          [globals, ...clusters],
        ),
        wildcardReason: reason,
      },
    ],
    checkDatabasePromotion: read('PollAuroraDrill'),
    updateDns: read('TargetAuroraDrill'),
    verifyConnectivity: read('ReachAuroraDrill'),
    attachRotation: read('SettleAuroraDrill'),
    cleanUpDrill: [
      ...read('CleanUpAuroraDrill'),
      {
        statement: allow('DescribeAuroraDrillInstances', ['rds:DescribeDBInstances'], instances),
        wildcardReason: reason,
      },
      {
        // Detaching and deleting the drill global cluster: its members are drill clusters (checked by tag first).
        statement: allow(
          'TakeApartDrillGlobalClusters',
          ['rds:RemoveFromGlobalCluster', 'rds:DeleteGlobalCluster'],
          [globals, ...clusters],
        ),
        wildcardReason: reason,
      },
      onTagged('DeleteAuroraDrillInstances', ['rds:DeleteDBInstance'], instances, 'db'),
      onTagged('DeleteAuroraDrillClusters', ['rds:DeleteDBCluster'], clusters, 'cluster'),
    ],
  };
}

/**
 * Re-protect (functions/lib/reprotect/reprotect.ts) is the one mode that changes the old Region: it runs once that
 * Region is back. In the current Region: the promoted secrets replicated back, the promoted instances read and used as
 * sources. In the old Region: the old primary tagged and renamed (`<id>-old-*`, never deleted), and a replica created
 * under the old primary's name, only with this plan's tag.
 */
function reprotectGrants(
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
function switchoverGrants(
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

function reprotectDescribeOld(plan: FailoverPlan): StepGrant {
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
function drillArns(plan: FailoverPlan, at: PlanArns) {
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

/**
 * Decrypting (and, for rewrites, re-encrypting) the plan's secrets. Every grant is held by the conditions AWS
 * documents for Secrets Manager: only through Secrets Manager in the recovery Region, and only for the plan's secrets
 * (the `SecretARN` encryption context).
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html#security-encryption-authz
 * The secrets whose key the plan names (`secret.kmsKeyArn`) get a statement on those keys only; the others, whose
 * key is read at run time, one on `key/*` of the account and Region.
 */
function kmsForSecrets(
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
 * The items a fleet's units share in the lock table (docs/design/fleet.md): the promotion poll's snapshot
 * (`poll#<plan>#<run>#rds#<region>`) or a zone's DNS batch (`dns#<plan>#<run>#<zone>...`), read and updated, never
 * deleted (the table's TTL removes them). The leading key holds the grant to this plan's items of that kind.
 */
function sharedItemGrant(
  plan: FailoverPlan,
  resources: StepResources,
  sid: string,
  kind: 'poll' | 'dns',
): StepGrant {
  // The batch's sender reads the registered units' items at once (BatchGetItem; the leading keys hold it too).
  const actions =
    kind === 'dns'
      ? ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:BatchGetItem']
      : ['dynamodb:GetItem', 'dynamodb:UpdateItem'];
  return {
    statement: allow(sid, actions, [resources.lockTableArn], {
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${kind}#${plan.name}#*`] },
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

/**
 * The forced flip of the health-check units (functions/lib/dns/flip.ts): read the stack's flip alarms and publish the
 * forcing datapoint, all in the recovery Region; preflight also reads the PRIMARY records' health checks (Route 53
 * control plane, read-only). Nothing when no unit uses the health-check strategy.
 */
function dnsFlipGrants(
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
