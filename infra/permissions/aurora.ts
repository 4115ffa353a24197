import { DRILL_PREFIX, PLAN_TAG } from '../../functions/lib/drill.js';
import { type AuroraUnitPlan, type FailoverPlan, isAuroraUnit } from '../../functions/lib/plan.js';
import { reprotectInstancePrefix } from '../../functions/lib/reprotect/aurora-replica.js';
import { retiredName } from '../../functions/lib/reprotect/reprotect.js';
import type { StepFunctionName } from '../../statemachine/steps.js';
import { type PlanArns, planArns, unique } from '../arns.js';
import type { drillArns } from './modes.js';
import { allow, type StepGrant } from './statement.js';

/**
 * The Aurora units' grants (functions/lib/aurora/, docs/design/aurora.md "Permissions"), on their clusters only:
 * the recovery Region's replica clusters, the primary clusters (a switchover's preflight compares engine versions
 * there), and the global clusters, whose ARNs have no Region (`arn:aws:rds::<account>:global-cluster:<id>`).
 * FailoverGlobalCluster and SwitchoverGlobalCluster are allowed on the global cluster and its two member clusters of
 * the plan: the call names the global cluster and the target cluster, and promotes one while it demotes the other.
 */
export function auroraGrants(
  plan: FailoverPlan,
  at: PlanArns,
): Partial<Record<StepFunctionName, StepGrant[]>> {
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
export function replicaClusterDrillGrants(
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
export function globalDrillGrants(
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
