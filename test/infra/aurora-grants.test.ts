import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { parsePlan } from '../../functions/lib/plan.js';
import { stepGrants } from '../../infra/permissions/index.js';
import { examplePlan, synthesize } from './support.js';

/** The Aurora units' permissions (docs/design/aurora.md, "Permissions"): their clusters and global clusters only. */

const ACCOUNT = '123456789012';
const RESOURCES = {
  lockTableArn: `arn:aws:dynamodb:us-west-2:${ACCOUNT}:table/locks`,
  reportBucketArn: 'arn:aws:s3:::reports',
  reportTopicArn: `arn:aws:sns:us-west-2:${ACCOUNT}:reports`,
};

/** examples/plan.json with a global database unit and an Aurora MySQL replica cluster unit (and, optionally, its own unit). */
function auroraDocument(keepInstanceUnit: boolean) {
  const doc = examplePlan('plan.json');
  const [base] = doc.units as unknown as [Record<string, unknown> & { dns: Record<string, unknown> }];
  const global = {
    ...base,
    name: 'ledger',
    secret: { id: 'ledger/db' },
    database: {
      engine: 'aurora-postgresql',
      globalClusterId: 'ledger-global',
      primaryClusterId: 'ledger-east',
      replicaClusterId: 'ledger-west',
    },
    dns: { ...base.dns, recordName: 'ledger-db.internal.example.com' },
  };
  const replica = {
    ...base,
    name: 'shop',
    secret: { id: 'shop/db' },
    database: { engine: 'aurora-mysql', primaryClusterId: 'shop-east', replicaClusterId: 'shop-west' },
    dns: { ...base.dns, recordName: 'shop-db.internal.example.com' },
  };
  return { ...doc, units: keepInstanceUnit ? [base, global, replica] : [global, replica] };
}

/** The drill statements of replica cluster units: they name the drill copies' lifeboat-drill-* pattern. */
const DRILL_CLUSTER_SIDS = new Set([
  'ReadAuroraDrillCopiesClusters',
  'ReadAuroraDrillCopiesGlobalClusters',
  'CreateAuroraDrillCopies',
  'DescribeAuroraDrillClusters',
  'DescribeAuroraDrillGlobalClusters',
  'FailOverDrillGlobalDatabases',
  'PollAuroraDrillClusters',
  'PollAuroraDrillGlobalClusters',
  'TargetAuroraDrillClusters',
  'TargetAuroraDrillGlobalClusters',
  'ReachAuroraDrillClusters',
  'ReachAuroraDrillGlobalClusters',
  'SettleAuroraDrillClusters',
  'SettleAuroraDrillGlobalClusters',
  'CleanUpAuroraDrillClusters',
  'CleanUpAuroraDrillGlobalClusters',
  'TakeApartDrillGlobalClusters',
  'DeleteAuroraDrillClusters',
  'ReadProductionClustersForDrill',
  'CreateDrillReplicaClusters',
  'CreateDrillClusterInstances',
  'DescribeDrillClusters',
  'PromoteDrillReplicaClusters',
  'DeleteDrillReplicaClusters',
]);

/** Re-protect of a replica cluster unit: the retired cluster's and the subnet group's run-time names (asserted below). */
const REPROTECT_PATTERN_SIDS = new Set([
  'ReadReplicaClusterReprotectClusters',
  'PreflightReprotectReplicaClusters',
  'CreateReplicaClustersInOldRegion',
]);

describe("the Aurora units' permissions", () => {
  const grants = stepGrants(parsePlan(auroraDocument(true)), RESOURCES);
  const statement = (step: keyof typeof grants, sid: string) =>
    grants[step].map((g) => g.statement.toStatementJson()).find((s) => s.Sid === sid);

  it('fails over or switches over only the plan’s global cluster and its two clusters (the global ARN has no Region)', () => {
    const s = statement('promoteDatabase', 'FailOverAuroraGlobalDatabases');
    expect(s?.Action).toEqual(['rds:FailoverGlobalCluster', 'rds:SwitchoverGlobalCluster']);
    expect([s?.Resource].flat().sort()).toEqual(
      [
        `arn:aws:rds::${ACCOUNT}:global-cluster:ledger-global`,
        `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:ledger-east`,
        `arn:aws:rds:us-west-2:${ACCOUNT}:cluster:ledger-west`,
      ].sort(),
    );
  });

  it('promotes only the replica cluster of a replica cluster unit, and reads only the plan’s clusters', () => {
    expect(statement('promoteDatabase', 'PromoteAuroraReplicaClusters')).toMatchObject({
      Action: 'rds:PromoteReadReplicaDBCluster',
      Resource: `arn:aws:rds:us-west-2:${ACCOUNT}:cluster:shop-west`,
    });
    for (const [step, sid] of [
      ['checkDatabasePromotion', 'PollAuroraClusters'],
      ['updateDns', 'TargetAuroraClusters'],
      ['verifyConnectivity', 'ReachAuroraClusters'],
      ['preflight', 'PreflightAuroraClusters'],
    ] as const) {
      expect([statement(step, sid)?.Resource].flat().sort(), `${step}`).toEqual([
        `arn:aws:rds:us-west-2:${ACCOUNT}:cluster:ledger-west`,
        `arn:aws:rds:us-west-2:${ACCOUNT}:cluster:shop-west`,
      ]);
    }
    expect(statement('checkDatabasePromotion', 'PollAuroraGlobalClusters')?.Resource).toBe(
      `arn:aws:rds::${ACCOUNT}:global-cluster:ledger-global`,
    );
    // No Aurora action on anything but a named cluster (the failover snapshot's time-stamped name is the one pattern;
    // the drill copies' lifeboat-drill-* names are the drill's, asserted below).
    const aurora = Object.values(grants)
      .flat()
      .map((g) => g.statement.toStatementJson())
      .filter(
        (s) =>
          s.Sid !== 'ListFailoverSnapshots' &&
          !DRILL_CLUSTER_SIDS.has(s.Sid) &&
          !REPROTECT_PATTERN_SIDS.has(s.Sid),
      )
      .filter((s) => [s.Action].flat().some((a: string) => /Cluster/.test(a)));
    expect(aurora.flatMap((s) => [s.Resource].flat()).filter((r: string) => r.includes('*'))).toEqual([]);
  });

  it("re-protect of a global unit reads its clusters and lists only the old primary's failover snapshots; it changes no cluster", () => {
    expect(statement('reprotectUnit', 'ReadAuroraClustersToReprotect')).toMatchObject({
      Action: 'rds:DescribeDBClusters',
      Resource: [
        `arn:aws:rds:us-west-2:${ACCOUNT}:cluster:ledger-west`,
        `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:ledger-east`,
      ],
    });
    expect(statement('reprotectUnit', 'ReadGlobalClustersToReprotect')).toMatchObject({
      Action: 'rds:DescribeGlobalClusters',
      Resource: `arn:aws:rds::${ACCOUNT}:global-cluster:ledger-global`,
    });
    expect(statement('reprotectUnit', 'ListFailoverSnapshots')).toMatchObject({
      Action: 'rds:DescribeDBClusterSnapshots',
      Resource: [
        `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:ledger-east`,
        `arn:aws:rds:us-east-1:${ACCOUNT}:cluster-snapshot:rds:unplanned-global-failover-ledger-east-*`,
      ],
    });
    // No cluster of the global unit (ledger) is changed by re-protect: only the replica cluster unit's (shop) are.
    const clusterChanges = grants.reprotectUnit
      .map((g) => g.statement.toStatementJson())
      .filter((s) => [s.Action].flat().some((a: string) => /Cluster/.test(a) && !/^rds:Describe/.test(a)));
    expect(
      clusterChanges.flatMap((s) => [s.Resource].flat()).filter((r: string) => r.includes('ledger')),
    ).toEqual([]);
  });

  it('re-protect of a replica cluster unit renames only its old primary cluster, creates only the replica cluster under its id and its -rp- instance, with this plan’s tag, from the promoted cluster', () => {
    const planTag = { StringEquals: { 'aws:RequestTag/lifeboat:plan': 'orders-dr' } };
    const old = `arn:aws:rds:us-east-1:${ACCOUNT}`;
    expect(statement('reprotectUnit', 'RetireOldPrimaryClusters')).toEqual({
      Sid: 'RetireOldPrimaryClusters',
      Effect: 'Allow',
      Action: ['rds:AddTagsToResource', 'rds:ModifyDBCluster'],
      Resource: `${old}:cluster:shop-east`,
    });
    expect(statement('reprotectUnit', 'ReplicatePromotedClusters')).toMatchObject({
      Action: 'rds:CreateDBCluster',
      Resource: `arn:aws:rds:us-west-2:${ACCOUNT}:cluster:shop-west`,
    });
    expect(statement('reprotectUnit', 'CreateReplicaClustersInOldRegion')).toMatchObject({
      Action: ['rds:CreateDBCluster', 'rds:AddTagsToResource'],
      Resource: [`${old}:cluster:shop-east`, `${old}:subgrp:*`],
      Condition: planTag,
    });
    expect(statement('reprotectUnit', 'CreateReplicaClusterInstancesInOldRegion')).toMatchObject({
      Action: ['rds:CreateDBInstance', 'rds:AddTagsToResource'],
      Resource: [`${old}:db:shop-east-rp-*`, `${old}:cluster:shop-east`],
      Condition: planTag,
    });
    for (const [step, sid] of [
      ['reprotectUnit', 'ReadReplicaClusterReprotectClusters'],
      ['preflight', 'PreflightReprotectReplicaClusters'],
    ] as const) {
      expect(statement(step, sid), sid).toMatchObject({
        Action: 'rds:DescribeDBClusters',
        Resource: [
          `arn:aws:rds:us-west-2:${ACCOUNT}:cluster:shop-west`,
          `${old}:cluster:shop-east`,
          `${old}:cluster:shop-east-old-*`,
        ],
      });
    }
    // Nothing deletes a cluster or an instance in re-protect.
    const actions = grants.reprotectUnit.flatMap((g) => [g.statement.toStatementJson().Action].flat());
    expect(actions.filter((a: string) => /Delete|Promote|Failover|Switchover/.test(a))).toEqual([]);
  });

  it('the drill of a replica cluster unit creates, promotes and deletes only lifeboat-drill-* clusters with this plan’s tag, and only reads production', () => {
    const drillClusters = `arn:aws:rds:us-west-2:${ACCOUNT}:cluster:lifeboat-drill-*`;
    const drillInstances = `arn:aws:rds:us-west-2:${ACCOUNT}:db:lifeboat-drill-*`;
    const planTag = { StringEquals: { 'aws:RequestTag/lifeboat:plan': 'orders-dr' } };
    const taggedClusters = { StringEquals: { 'rds:cluster-tag/lifeboat:plan': 'orders-dr' } };
    expect(statement('prepareDrill', 'ReadProductionClustersForDrill')).toMatchObject({
      Action: 'rds:DescribeDBClusters',
      Resource: [
        `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:shop-east`,
        `arn:aws:rds:us-west-2:${ACCOUNT}:cluster:shop-west`,
        drillClusters,
      ],
    });
    expect(statement('prepareDrill', 'ReadProductionClusterInstancesForDrill')).toMatchObject({
      Action: 'rds:DescribeDBInstances',
      Resource: `arn:aws:rds:us-west-2:${ACCOUNT}:db:*`,
    });
    // The source is named in the PreSignedUrl the SDK signs in the primary Region: CreateDBCluster there, on it only.
    expect(statement('prepareDrill', 'ReplicateProductionClusters')).toEqual({
      Sid: 'ReplicateProductionClusters',
      Effect: 'Allow',
      Action: 'rds:CreateDBCluster',
      Resource: `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:shop-east`,
    });
    expect(statement('prepareDrill', 'CreateDrillReplicaClusters')).toMatchObject({
      Action: ['rds:CreateDBCluster', 'rds:AddTagsToResource'],
      Resource: [drillClusters, `arn:aws:rds:us-west-2:${ACCOUNT}:subgrp:*`],
      Condition: planTag,
    });
    for (const step of ['prepareDrill', 'checkDrillCopies'] as const) {
      expect(statement(step, 'CreateDrillClusterInstances'), step).toMatchObject({
        Action: ['rds:CreateDBInstance', 'rds:AddTagsToResource'],
        Resource: [drillInstances, drillClusters],
        Condition: planTag,
      });
    }
    expect(statement('promoteDatabase', 'PromoteDrillReplicaClusters')).toMatchObject({
      Action: 'rds:PromoteReadReplicaDBCluster',
      Resource: drillClusters,
      Condition: taggedClusters,
    });
    expect(statement('cleanUpDrill', 'DeleteDrillReplicaClusters')).toMatchObject({
      Action: ['rds:PromoteReadReplicaDBCluster', 'rds:DeleteDBCluster'],
      Resource: drillClusters,
      Condition: taggedClusters,
    });
    for (const step of [
      'checkDrillCopies',
      'promoteDatabase',
      'checkDatabasePromotion',
      'updateDns',
      'verifyConnectivity',
      'attachRotation',
      'cleanUpDrill',
    ] as const) {
      expect(statement(step, 'DescribeDrillClusters'), step).toMatchObject({
        Action: 'rds:DescribeDBClusters',
        Resource: drillClusters,
      });
    }
    // No cluster is changed outside the drill's names, except the source the PreSignedUrl names (create, never change).
    // Re-protect's own creates (the replica cluster under the old primary's id) are asserted in their test above.
    const changes = Object.entries(grants)
      .filter(([step]) => step !== 'reprotectUnit')
      .flatMap(([, g]) => g)
      .map((g) => g.statement.toStatementJson())
      .filter((s) =>
        [s.Action]
          .flat()
          .some((a: string) =>
            /^rds:(Create|Delete|Promote)DBCluster|^rds:PromoteReadReplicaDBCluster/.test(a),
          ),
      );
    expect(
      changes
        .flatMap((s) => [s.Resource].flat())
        .filter((r: string) => /:cluster:/.test(r) && !r.endsWith(':cluster:lifeboat-drill-*'))
        .sort(),
    ).toEqual([
      // The source named by the PreSignedUrl (CreateDBCluster), and production's own promotion in a failover.
      `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:shop-east`,
      `arn:aws:rds:us-west-2:${ACCOUNT}:cluster:shop-west`,
    ]);
  });

  it('the drill of a global unit makes, fails over and takes apart only lifeboat-drill-* copies, and only reads production', () => {
    const drillClusters = [
      `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:lifeboat-drill-*`,
      `arn:aws:rds:us-west-2:${ACCOUNT}:cluster:lifeboat-drill-*`,
    ];
    const drillInstances = [
      `arn:aws:rds:us-east-1:${ACCOUNT}:db:lifeboat-drill-*`,
      `arn:aws:rds:us-west-2:${ACCOUNT}:db:lifeboat-drill-*`,
    ];
    const drillGlobals = `arn:aws:rds::${ACCOUNT}:global-cluster:lifeboat-drill-*`;
    const planTag = { StringEquals: { 'aws:RequestTag/lifeboat:plan': 'orders-dr' } };
    expect(statement('prepareDrill', 'CloneProductionPrimaries')).toEqual({
      Sid: 'CloneProductionPrimaries',
      Effect: 'Allow',
      Action: 'rds:RestoreDBClusterToPointInTime',
      Resource: `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:ledger-east`,
    });
    expect(statement('prepareDrill', 'CreateAuroraDrillCopies')).toMatchObject({
      Action: [
        'rds:RestoreDBClusterToPointInTime',
        'rds:CreateGlobalCluster',
        'rds:CreateDBCluster',
        'rds:CreateDBInstance',
        'rds:AddTagsToResource',
      ],
      Resource: [
        ...drillClusters,
        ...drillInstances,
        drillGlobals,
        `arn:aws:rds:us-east-1:${ACCOUNT}:subgrp:*`,
        `arn:aws:rds:us-west-2:${ACCOUNT}:subgrp:*`,
      ],
      Condition: planTag,
    });
    // A later pass makes the next copy, never the clone.
    expect(statement('checkDrillCopies', 'CreateAuroraDrillCopies')?.Action).not.toContain(
      'rds:RestoreDBClusterToPointInTime',
    );
    expect(statement('prepareDrill', 'ReadProductionForAuroraDrill')).toMatchObject({
      Action: 'rds:DescribeDBClusters',
      Resource: [
        `arn:aws:rds:us-east-1:${ACCOUNT}:cluster:ledger-east`,
        `arn:aws:rds:us-west-2:${ACCOUNT}:cluster:ledger-west`,
      ],
    });
    expect(statement('promoteDatabase', 'FailOverDrillGlobalDatabases')).toMatchObject({
      Action: ['rds:FailoverGlobalCluster', 'rds:SwitchoverGlobalCluster'],
      Resource: [drillGlobals, ...drillClusters],
    });
    expect(statement('cleanUpDrill', 'TakeApartDrillGlobalClusters')).toMatchObject({
      Action: ['rds:RemoveFromGlobalCluster', 'rds:DeleteGlobalCluster'],
      Resource: [drillGlobals, ...drillClusters],
    });
    expect(statement('cleanUpDrill', 'DeleteAuroraDrillInstances')).toMatchObject({
      Action: 'rds:DeleteDBInstance',
      Resource: drillInstances,
      Condition: { StringEquals: { 'rds:db-tag/lifeboat:plan': 'orders-dr' } },
    });
    expect(statement('cleanUpDrill', 'DeleteAuroraDrillClusters')).toMatchObject({
      Action: 'rds:DeleteDBCluster',
      Resource: drillClusters,
      Condition: { StringEquals: { 'rds:cluster-tag/lifeboat:plan': 'orders-dr' } },
    });
    for (const [step, sid] of [
      ['checkDatabasePromotion', 'PollAuroraDrill'],
      ['updateDns', 'TargetAuroraDrill'],
      ['verifyConnectivity', 'ReachAuroraDrill'],
      ['attachRotation', 'SettleAuroraDrill'],
    ] as const) {
      expect(statement(step, `${sid}Clusters`)?.Resource, step).toEqual(drillClusters);
      expect(statement(step, `${sid}GlobalClusters`)?.Resource, step).toBe(drillGlobals);
    }
    // Nothing of production's global database is changed by a drill statement.
    const drillChanges = Object.entries(grants)
      .filter(([step]) => ['prepareDrill', 'checkDrillCopies', 'cleanUpDrill'].includes(step))
      .flatMap(([, list]) => list.map((g) => g.statement.toStatementJson()))
      .filter((s) =>
        [s.Action]
          .flat()
          .some((a: string) => !/^rds:(Describe|List)|^kms:|^secretsmanager:|^route53:/.test(a)),
      );
    expect(drillChanges.flatMap((s) => [s.Resource].flat()).filter((r: string) => /ledger-/.test(r))).toEqual(
      [`arn:aws:rds:us-east-1:${ACCOUNT}:cluster:ledger-east`],
    );
  });

  it('a plan of Aurora units only synthesizes without empty instance statements, and cdk-nag finds nothing', () => {
    const only = stepGrants(parsePlan(auroraDocument(false)), RESOURCES);
    for (const [step, list] of Object.entries(only)) {
      for (const g of list)
        expect(g.statement.resources.length, `${step} ${g.statement.sid}`).toBeGreaterThan(0);
    }
    // Nothing beyond what the instance plan's stack raises (which test/infra/nag.test.ts holds at nothing).
    const findings = (document: unknown) =>
      new AwsSolutionsChecks()
        .validateScope(synthesize(document).app)
        .violations.map(
          (v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
        );
    const base = new Set(findings(examplePlan('plan.json')));
    expect(findings(auroraDocument(false)).filter((f) => !base.has(f))).toEqual([]);
  });
});
