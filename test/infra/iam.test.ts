import { describe, expect, it } from 'vitest';

import { STEP_FUNCTIONS } from '../../statemachine/steps.js';
import {
  asList,
  examplePlan,
  grantsBySid,
  roleStatements,
  type Statement,
  stepFunction,
  stepStatements,
  synthesize,
} from './support.js';

const SECRET = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:orders/db-??????';
const REPLICA = 'arn:aws:rds:us-west-2:123456789012:db:orders-db-replica';
const ZONE = 'arn:aws:route53:::hostedzone/Z0LIFEBOAT00EXAMPLE';
const ROTATION = 'arn:aws:lambda:us-west-2:123456789012:function:orders-db-rotation';
const KEYS = 'arn:aws:kms:us-west-2:123456789012:key/*';
const PRIMARY_DB = 'arn:aws:rds:us-east-1:123456789012:db:orders-db';
const DRILL_DB = 'arn:aws:rds:us-west-2:123456789012:db:lifeboat-drill-*';
const DRILL_SECRETS = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:lifeboat-drill/*';
const DRILL_PRIMARY_SECRETS = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:lifeboat-drill/*';
/** Steps that run only in a drill, and may name the primary Region: the copies come from there. */
const DRILL_STEPS = new Set(['prepareDrill', 'checkDrillCopies', 'cleanUpDrill']);
/** Re-protect runs once the old (primary) Region is back, and changes it: docs/design/reprotect.md. */
const REPROTECT_STEPS = new Set(['reprotectUnit']);
/** A switchover runs with both Regions healthy and fences the primary: docs/design/switchover.md. */
const SWITCHOVER_STEPS = new Set(['fenceWrites', 'checkCatchUp']);
/**
 * Statements of other steps that serve modes reprotect and switchover only, and name the primary Region. A failover
 * never calls them: the evidence suite's region-down runs count zero calls to the primary Region.
 */
const PRIMARY_REGION_MODE_SIDS = new Set(['DescribeOldPrimaries', 'DescribePrimariesForSwitchover']);
const OLD_SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:orders/db-??????';
const RETIRED_DB = 'arn:aws:rds:us-east-1:123456789012:db:orders-db-old-*';

function onlyLogicalId(resources: Record<string, unknown>): string {
  const ids = Object.keys(resources);
  if (ids.length !== 1) throw new Error(`expected one resource, found ${ids.length}`);
  return ids[0] as string;
}

describe('step permissions (examples/plan.json)', () => {
  // Prepare
  const { template, plan } = synthesize(examplePlan('plan.json'));
  const table = onlyLogicalId(template.findResources('AWS::DynamoDB::Table'));
  const topic = onlyLogicalId(template.findResources('AWS::SNS::Topic'));
  const key = onlyLogicalId(template.findResources('AWS::KMS::Key'));
  const bucket = Object.entries(template.findResources('AWS::S3::Bucket')).find(
    ([, r]) => (r as { Properties: Record<string, unknown> }).Properties.LoggingConfiguration,
  )?.[0];

  // Each step's own grants: the calls its module makes, on the plan's resources. Listed here in full so that a
  // new permission is a visible, reviewed change.
  const expected: Record<string, Record<string, { actions: string[]; resources: unknown[] }>> = {
    // The run's units go through the report bucket (functions/lib/run-objects.ts): written once, read by the preflight.
    loadPlan: {
      WriteRunUnits: {
        actions: ['s3:PutObject'],
        resources: [
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/runs/orders-dr/*/units.json']] },
        ],
      },
    },
    summarizeUnit: {},
    preflight: {
      ReadRunUnits: {
        actions: ['s3:GetObject'],
        resources: [
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/runs/orders-dr/*/units.json']] },
        ],
      },
      ReadReplicaSecrets: {
        actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
        resources: [SECRET],
      },
      DecryptReplicaSecrets: { actions: ['kms:Decrypt'], resources: [KEYS] },
      ReadRotationFunctions: { actions: ['lambda:GetFunction', 'lambda:GetPolicy'], resources: [ROTATION] },
      DescribeReplicaInstances: { actions: ['rds:DescribeDBInstances'], resources: [REPLICA] },
      ReadReplicaLag: { actions: ['cloudwatch:GetMetricData'], resources: ['*'] },
      ReadHostedZones: {
        actions: ['route53:GetHostedZone', 'route53:ListResourceRecordSets'],
        resources: [ZONE],
      },
    },
    acquireLock: {
      TakeFailoverLock: {
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        resources: [{ 'Fn::GetAtt': [table, 'Arn'] }],
      },
      // The holder's execution: read, and stopped when a failover takes over a drill (docs/design/lock.md).
      CheckLockHolder: {
        actions: ['states:DescribeExecution', 'states:StopExecution'],
        resources: [
          {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':states:us-west-2:123456789012:execution:lifeboat-orders-dr:*',
              ],
            ],
          },
        ],
      },
    },
    releaseLock: {
      ReleaseFailoverLock: {
        actions: ['dynamodb:DeleteItem'],
        resources: [{ 'Fn::GetAtt': [table, 'Arn'] }],
      },
    },
    // In a drill the failover steps run on the copies: the same actions on lifeboat-drill-* (see the conditions below).
    promoteSecret: {
      PromoteReplicaSecrets: {
        actions: ['secretsmanager:DescribeSecret', 'secretsmanager:StopReplicationToReplica'],
        resources: [SECRET],
      },
      DescribeDrillSecrets: { actions: ['secretsmanager:DescribeSecret'], resources: [DRILL_SECRETS] },
      PromoteDrillSecrets: {
        actions: ['secretsmanager:StopReplicationToReplica'],
        resources: [DRILL_SECRETS],
      },
    },
    promoteDatabase: {
      PromoteReadReplicas: {
        actions: ['rds:DescribeDBInstances', 'rds:PromoteReadReplica'],
        resources: [REPLICA],
      },
      DescribeDrillInstances: { actions: ['rds:DescribeDBInstances'], resources: [DRILL_DB] },
      PromoteDrillReplicas: { actions: ['rds:PromoteReadReplica'], resources: [DRILL_DB] },
      // The shared poll's snapshot, as CheckDatabasePromotion reads it (functions/promote-database.ts).
      SharePromotionPoll: {
        actions: [
          'dynamodb:GetItem',
          'dynamodb:UpdateItem',
          'dynamodb:BatchGetItem',
          'dynamodb:BatchWriteItem',
        ],
        resources: [{ 'Fn::GetAtt': [table, 'Arn'] }],
      },
      DescribeInstancesByFilter: {
        actions: ['rds:DescribeDBInstances'],
        resources: ['arn:aws:rds:us-west-2:123456789012:db:*'],
      },
    },
    checkDatabasePromotion: {
      DescribeReplicaInstances: { actions: ['rds:DescribeDBInstances'], resources: [REPLICA] },
      DescribeDrillInstances: { actions: ['rds:DescribeDBInstances'], resources: [DRILL_DB] },
      // The shared poll (functions/lib/shared-poll.ts): its snapshot item, and the filtered describe (db:*).
      // One BatchGetItem of the meta and instance items a poll; the lease holder's BatchWriteItem of the instance items.
      SharePromotionPoll: {
        actions: [
          'dynamodb:GetItem',
          'dynamodb:UpdateItem',
          'dynamodb:BatchGetItem',
          'dynamodb:BatchWriteItem',
        ],
        resources: [{ 'Fn::GetAtt': [table, 'Arn'] }],
      },
      DescribeInstancesByFilter: {
        actions: ['rds:DescribeDBInstances'],
        resources: ['arn:aws:rds:us-west-2:123456789012:db:*'],
      },
    },
    updateDns: {
      DescribeReplicaInstances: { actions: ['rds:DescribeDBInstances'], resources: [REPLICA] },
      ReadPlanRecords: { actions: ['route53:ListResourceRecordSets'], resources: [ZONE] },
      UpsertPlanRecords0: { actions: ['route53:ChangeResourceRecordSets'], resources: [ZONE] },
      DescribeDrillInstances: { actions: ['rds:DescribeDBInstances'], resources: [DRILL_DB] },
      UpsertDrillRecords: { actions: ['route53:ChangeResourceRecordSets'], resources: [ZONE] },
      ShareZoneBatches: {
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:BatchGetItem'],
        resources: [{ 'Fn::GetAtt': [table, 'Arn'] }],
      },
      // The promotion poll's snapshot, read only (functions/lib/promotion-snapshot.ts, snapshotTarget).
      ReadPromotionPoll: {
        actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem'],
        resources: [{ 'Fn::GetAtt': [table, 'Arn'] }],
      },
    },
    // A poll that takes the zone's lease sends the batch: the same reads and UPSERTs as UpdateDns.
    checkDnsChange: {
      ReadDnsChanges: { actions: ['route53:GetChange'], resources: ['arn:aws:route53:::change/*'] },
      ShareZoneBatches: {
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:BatchGetItem'],
        resources: [{ 'Fn::GetAtt': [table, 'Arn'] }],
      },
      ReadPlanRecords: { actions: ['route53:ListResourceRecordSets'], resources: [ZONE] },
      UpsertPlanRecords0: { actions: ['route53:ChangeResourceRecordSets'], resources: [ZONE] },
      UpsertDrillRecords: { actions: ['route53:ChangeResourceRecordSets'], resources: [ZONE] },
    },
    attachRotation: {
      AttachRotation: {
        actions: [
          'secretsmanager:DescribeSecret',
          'secretsmanager:RotateSecret',
          'secretsmanager:UpdateSecretVersionStage',
        ],
        resources: [SECRET],
      },
      InvokeRotationFunctions: { actions: ['lambda:InvokeFunction'], resources: [ROTATION] },
      // SettleRotation tries an interrupted rotation's credentials on the promoted database.
      ReadSecretsToTestCredentials: { actions: ['secretsmanager:GetSecretValue'], resources: [SECRET] },
      DecryptSecretsToTestCredentials: { actions: ['kms:Decrypt'], resources: [KEYS] },
      DescribeReplicaInstances: { actions: ['rds:DescribeDBInstances'], resources: [REPLICA] },
      ReadDrillSecretsToTestCredentials: {
        actions: ['secretsmanager:GetSecretValue'],
        resources: [DRILL_SECRETS],
      },
      DescribeDrillInstances: { actions: ['rds:DescribeDBInstances'], resources: [DRILL_DB] },
      DescribeDrillSecrets: { actions: ['secretsmanager:DescribeSecret'], resources: [DRILL_SECRETS] },
      AttachDrillRotation: {
        actions: ['secretsmanager:RotateSecret', 'secretsmanager:UpdateSecretVersionStage'],
        resources: [DRILL_SECRETS],
      },
    },
    verifyConnectivity: {
      ReadSecretsToConnect: { actions: ['secretsmanager:GetSecretValue'], resources: [SECRET] },
      DecryptSecretsToConnect: { actions: ['kms:Decrypt'], resources: [KEYS] },
      DescribeReplicaInstances: { actions: ['rds:DescribeDBInstances'], resources: [REPLICA] },
      ReadDrillSecretsToConnect: { actions: ['secretsmanager:GetSecretValue'], resources: [DRILL_SECRETS] },
      DescribeDrillInstances: { actions: ['rds:DescribeDBInstances'], resources: [DRILL_DB] },
    },
    report: {
      WriteReports: {
        actions: ['s3:PutObject'],
        resources: [{ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/reports/orders-dr/*']] }],
      },
      ReadUnitOutcomes: {
        actions: ['s3:GetObject'],
        resources: [{ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/runs/orders-dr/results/*']] }],
      },
      PublishReports: { actions: ['sns:Publish'], resources: [{ Ref: topic }] },
      PublishRecoveryTimes: { actions: ['cloudwatch:PutMetricData'], resources: ['*'] },
      EncryptReports: {
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [{ 'Fn::GetAtt': [key, 'Arn'] }],
      },
    },
    prepareDrill: {
      ReadProductionForDrill: {
        actions: ['rds:DescribeDBInstances'],
        resources: [REPLICA, PRIMARY_DB, DRILL_DB],
      },
      ReadDrillInstanceTags: { actions: ['rds:ListTagsForResource'], resources: [DRILL_DB] },
      ReplicateProductionPrimaries: { actions: ['rds:CreateDBInstanceReadReplica'], resources: [PRIMARY_DB] },
      CreateDrillReplicas: {
        actions: ['rds:CreateDBInstanceReadReplica', 'rds:AddTagsToResource'],
        resources: [DRILL_DB, 'arn:aws:rds:us-west-2:123456789012:subgrp:*'],
      },
      EncryptDrillReplicas: { actions: ['kms:CreateGrant', 'kms:DescribeKey'], resources: [KEYS] },
      ReadProductionSecrets: { actions: ['secretsmanager:GetSecretValue'], resources: [SECRET] },
      DecryptProductionSecrets: { actions: ['kms:Decrypt'], resources: [KEYS] },
      DescribeDrillSecrets: {
        actions: ['secretsmanager:DescribeSecret'],
        resources: [DRILL_PRIMARY_SECRETS],
      },
      CreateDrillSecrets: {
        actions: ['secretsmanager:CreateSecret', 'secretsmanager:TagResource'],
        resources: [DRILL_PRIMARY_SECRETS],
      },
      ReplicateDrillSecrets: {
        actions: ['secretsmanager:ReplicateSecretToRegions'],
        resources: [DRILL_PRIMARY_SECRETS],
      },
      ReadZonesForDrill: {
        actions: ['route53:GetHostedZone', 'route53:ListResourceRecordSets'],
        resources: [ZONE],
      },
      CreateDrillRecords: { actions: ['route53:ChangeResourceRecordSets'], resources: [ZONE] },
    },
    checkDrillCopies: {
      DescribeDrillInstances: { actions: ['rds:DescribeDBInstances'], resources: [DRILL_DB] },
      DescribeDrillSecrets: {
        actions: ['secretsmanager:DescribeSecret'],
        resources: [DRILL_PRIMARY_SECRETS, DRILL_SECRETS],
      },
    },
    cleanUpDrill: {
      DescribeDrillInstances: { actions: ['rds:DescribeDBInstances'], resources: [DRILL_DB] },
      ReadDrillInstanceTags: { actions: ['rds:ListTagsForResource'], resources: [DRILL_DB] },
      DeleteDrillInstances: { actions: ['rds:DeleteDBInstance'], resources: [DRILL_DB] },
      DescribeDrillSecrets: {
        actions: ['secretsmanager:DescribeSecret'],
        resources: [DRILL_PRIMARY_SECRETS, DRILL_SECRETS],
      },
      DeleteDrillSecrets: {
        actions: [
          'secretsmanager:DeleteSecret',
          'secretsmanager:RemoveRegionsFromReplication',
          'secretsmanager:StopReplicationToReplica',
        ],
        resources: [DRILL_PRIMARY_SECRETS, DRILL_SECRETS],
      },
      ReadZonesForDrill: {
        actions: ['route53:GetHostedZone', 'route53:ListResourceRecordSets'],
        resources: [ZONE],
      },
      DeleteDrillRecords: { actions: ['route53:ChangeResourceRecordSets'], resources: [ZONE] },
    },
    // Re-protect changes the old Region, which is back by then (functions/lib/reprotect/reprotect.ts).
    reprotectUnit: {
      ReplicateSecretsBack: {
        actions: ['secretsmanager:DescribeSecret', 'secretsmanager:ReplicateSecretToRegions'],
        resources: [SECRET],
      },
      DecryptSecretsToReplicate: { actions: ['kms:Decrypt'], resources: [KEYS] },
      ReadStaleSecrets: { actions: ['secretsmanager:DescribeSecret'], resources: [OLD_SECRET] },
      ReplicatePromotedInstances: {
        actions: ['rds:DescribeDBInstances', 'rds:CreateDBInstanceReadReplica'],
        resources: [REPLICA],
      },
      DescribeOldPrimaries: { actions: ['rds:DescribeDBInstances'], resources: [PRIMARY_DB, RETIRED_DB] },
      RetireOldPrimaries: {
        actions: ['rds:AddTagsToResource', 'rds:ModifyDBInstance'],
        resources: [PRIMARY_DB],
      },
      CreateReplicasInOldRegion: {
        actions: ['rds:CreateDBInstanceReadReplica', 'rds:AddTagsToResource'],
        resources: [PRIMARY_DB, 'arn:aws:rds:us-east-1:123456789012:subgrp:*'],
      },
      EncryptReplicasInOldRegion: {
        actions: ['kms:CreateGrant', 'kms:DescribeKey'],
        resources: ['arn:aws:kms:us-east-1:123456789012:key/*'],
      },
      ReadNewReplicaLag: { actions: ['cloudwatch:GetMetricData'], resources: ['*'] },
    },
  };
  // Mode switchover's preflight reads the primaries' state in the primary Region (functions/lib/switchover/preflight.ts).
  (
    expected.preflight as Record<string, { actions: string[]; resources: unknown[] }>
  ).DescribePrimariesForSwitchover = {
    actions: ['rds:DescribeDBInstances'],
    resources: [PRIMARY_DB],
  };
  // The switchover's fence and catch-up log in to the primary and the replica with the secret
  // (functions/lib/switchover/switchover.ts; docs/design/switchover.md, "Network and permissions").
  for (const [step, verb] of [
    ['fenceWrites', 'Fence'],
    ['checkCatchUp', 'Compare'],
  ] as const) {
    expected[step] = {
      [`ReachDatabasesTo${verb}Secrets`]: { actions: ['secretsmanager:GetSecretValue'], resources: [SECRET] },
      [`ReachDatabasesTo${verb}Decrypt`]: { actions: ['kms:Decrypt'], resources: [KEYS] },
      [`ReachDatabasesTo${verb}Endpoints`]: {
        actions: ['rds:DescribeDBInstances'],
        resources: [PRIMARY_DB, REPLICA],
      },
    };
  }
  // Mode reprotect's preflight reads the old primaries (functions/lib/reprotect/reprotect.ts, checkReprotectReadiness).
  (expected.preflight as Record<string, { actions: string[]; resources: unknown[] }>).DescribeOldPrimaries = {
    actions: ['rds:DescribeDBInstances'],
    resources: [PRIMARY_DB, RETIRED_DB],
  };

  it.each(STEP_FUNCTIONS.map((s) => [s]))(
    '%s may call only its own actions on the plan resources',
    (step) => {
      // Act
      const statements = stepStatements(template, plan, step);
      // Assess
      expect(grantsBySid(statements)).toEqual(expected[step]);
      const unnamed = statements.filter((s) => s.Sid === undefined);
      const fn = stepFunction(template, plan, step);
      const logGroup = (fn.resource.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      expect(unnamed).toEqual([
        {
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: { 'Fn::GetAtt': [logGroup, 'Arn'] },
        },
        { Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' },
      ]);
    },
  );

  it('holds KMS use to Secrets Manager in the recovery Region and to the plan secrets', () => {
    // Act
    const preflight = grantsBySid(stepStatements(template, plan, 'preflight'));
    const statement = stepStatements(template, plan, 'preflight').find(
      (s) => s.Sid === 'DecryptReplicaSecrets',
    );
    // Assess
    expect(preflight.DecryptReplicaSecrets).toBeDefined();
    expect(statement?.Condition).toEqual({
      StringEquals: { 'kms:ViaService': 'secretsmanager.us-west-2.amazonaws.com' },
      StringLike: { 'kms:EncryptionContext:SecretARN': [SECRET] },
    });
  });

  it('lets UpdateDns UPSERT only the plan CNAME, and the lock steps touch only the plan lock item', () => {
    // Act
    const upsert = stepStatements(template, plan, 'updateDns').find((s) => s.Sid === 'UpsertPlanRecords0');
    const lock = stepStatements(template, plan, 'acquireLock').find((s) => s.Sid === 'TakeFailoverLock');
    // Assess
    expect(upsert?.Condition).toEqual({
      'ForAllValues:StringEquals': {
        'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['orders-db.internal.example.com'],
        'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME'],
        'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
      },
    });
    expect(lock?.Condition).toEqual({
      'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['orders-dr'] },
    });
  });

  it("lets the shared polls and DNS batches touch only this plan's shared items, never delete them", () => {
    // Act
    // PromoteDatabase reads its replica from the same snapshot as CheckDatabasePromotion, under the same condition.
    for (const step of ['checkDatabasePromotion', 'promoteDatabase'] as const) {
      const poll = stepStatements(template, plan, step).find((s) => s.Sid === 'SharePromotionPoll');
      // Assess: poll#<plan>#<run>#rds#<region> (functions/lib/shared-poll.ts, snapshotKey).
      expect(poll?.Condition, step).toEqual({
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['poll#orders-dr#*'] },
      });
      expect(asList(poll?.Action)).not.toContain('dynamodb:DeleteItem');
    }
    // UpdateDns reads its instance's item of the same snapshot, and nothing else of it.
    const read = stepStatements(template, plan, 'updateDns').find((s) => s.Sid === 'ReadPromotionPoll');
    expect(read?.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['poll#orders-dr#*'] },
    });
    expect(asList(read?.Action).sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem']);
    for (const step of ['updateDns', 'checkDnsChange'] as const) {
      const dns = stepStatements(template, plan, step).find((s) => s.Sid === 'ShareZoneBatches');
      // dns#<plan>#<run>#<zone>..., functions/lib/dns/shared.ts.
      expect(dns?.Condition).toEqual({
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['dns#orders-dr#*'] },
      });
      expect(asList(dns?.Action)).not.toContain('dynamodb:DeleteItem');
    }
    // The batch a poll sends holds only the plan's CNAME UPSERTs, as UpdateDns's own change.
    const upsert = stepStatements(template, plan, 'checkDnsChange').find(
      (s) => s.Sid === 'UpsertPlanRecords0',
    );
    expect(upsert?.Condition).toEqual({
      'ForAllValues:StringEquals': {
        'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['orders-db.internal.example.com'],
        'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME'],
        'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
      },
    });
  });

  it('names nothing in the primary Region on the failover path (only the drill steps copy from there)', () => {
    // Act
    const failoverPath = STEP_FUNCTIONS.filter(
      (s) => !DRILL_STEPS.has(s) && !REPROTECT_STEPS.has(s) && !SWITCHOVER_STEPS.has(s),
    )
      .flatMap((s) => stepStatements(template, plan, s))
      .filter((statement) => !PRIMARY_REGION_MODE_SIDS.has(statement.Sid ?? ''));
    const drill = [...DRILL_STEPS].flatMap((s) => stepStatements(template, plan, s));
    // Assess
    expect(JSON.stringify(failoverPath)).not.toContain(plan.primaryRegion);
    expect(JSON.stringify(drill)).toContain(plan.primaryRegion);
  });

  it('holds every change to a drill copy to the lifeboat-drill names and this plan tag', () => {
    // Act
    const drillStatements = STEP_FUNCTIONS.flatMap((s) => stepStatements(template, plan, s)).filter((s) =>
      JSON.stringify(s.Resource).includes('lifeboat-drill'),
    );
    // ReplicateSecretToRegions is also authorized inside CreateSecret (AddReplicaRegions), where no tag of the new
    // secret may be there to match yet: it is held to the lifeboat-drill/ names only.
    const changes = drillStatements.filter(
      (s) =>
        s.Sid !== 'ReplicateDrillSecrets' && asList(s.Action).some((a) => !/:(Describe|List|Get)/.test(a)),
    );
    const dns = STEP_FUNCTIONS.flatMap((s) => stepStatements(template, plan, s)).filter((s) =>
      (s.Sid ?? '').endsWith('DrillRecords'),
    );
    // Assess
    expect(changes.length).toBeGreaterThan(5);
    for (const statement of changes) {
      const conditions = JSON.stringify(statement.Condition ?? {});
      expect(conditions, statement.Sid).toMatch(
        /"(rds:db-tag|secretsmanager:ResourceTag|aws:RequestTag)\/lifeboat:plan":"orders-dr"/,
      );
    }
    const upsertDrill = [
      'UpsertDrillRecords',
      {
        'ForAllValues:StringLike': {
          'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['lifeboat-drill-*'],
        },
        'ForAllValues:StringEquals': {
          'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME'],
          'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
        },
      },
    ];
    expect(dns.map((s) => [s.Sid, s.Condition])).toEqual([
      // UpdateDns, and CheckDnsChange when it sends its zone's batch (functions/lib/dns/shared.ts).
      upsertDrill,
      upsertDrill,
      [
        'CreateDrillRecords',
        {
          'ForAllValues:StringLike': {
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['lifeboat-drill-*'],
          },
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME', 'TXT'],
            'route53:ChangeResourceRecordSetsActions': ['CREATE'],
          },
        },
      ],
      [
        'DeleteDrillRecords',
        {
          'ForAllValues:StringLike': {
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['lifeboat-drill-*'],
          },
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME', 'TXT'],
            'route53:ChangeResourceRecordSetsActions': ['DELETE'],
          },
        },
      ],
    ]);
    const put = stepStatements(template, plan, 'report').find((s) => s.Sid === 'PublishRecoveryTimes');
    expect(put?.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'Lifeboat' } });
  });

  it('uses Resource "*" only where AWS offers nothing narrower', () => {
    // Prepare
    const unscopable = new Set([
      'xray:PutTraceSegments',
      'xray:PutTelemetryRecords',
      'xray:GetSamplingRules',
      'xray:GetSamplingTargets',
      'cloudwatch:GetMetricData',
      // Held to the Lifeboat namespace by condition.
      'cloudwatch:PutMetricData',
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeSubnets',
      // Step Functions log delivery (CDK's grant for the state machine's logging)
      'logs:CreateLogDelivery',
      'logs:GetLogDelivery',
      'logs:UpdateLogDelivery',
      'logs:DeleteLogDelivery',
      'logs:ListLogDeliveries',
      'logs:PutResourcePolicy',
      'logs:DescribeResourcePolicies',
      'logs:DescribeLogGroups',
    ]);
    // Act
    const everyStatement = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
          .Statement,
    );
    const starActions = everyStatement
      .filter((s) => asList(s.Resource as unknown).includes('*'))
      .flatMap((s) => asList(s.Action));
    // Assess
    expect(starActions.length).toBeGreaterThan(0);
    expect(starActions.filter((a) => !unscopable.has(a))).toEqual([]);
  });

  it('lets the state machine run its units as child executions of itself, and nothing more', () => {
    // Prepare
    const stateMachine = onlyLogicalId(template.findResources('AWS::StepFunctions::StateMachine'));
    const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0] as {
      Properties: { RoleArn: { 'Fn::GetAtt': [string, string] } };
    };
    const executions = (suffix: string) => ({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          `:states:us-west-2:123456789012:execution:`,
          { 'Fn::Select': [6, { 'Fn::Split': [':', { Ref: stateMachine }] }] },
          suffix,
        ],
      ],
    });
    // Act
    const statements = roleStatements(template, machine.Properties.RoleArn['Fn::GetAtt'][0]);
    const states = statements.filter((s) => asList(s.Action).some((a) => a.startsWith('states:')));
    // Assess
    expect(states).toEqual([
      { Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: stateMachine } },
      {
        Effect: 'Allow',
        Action: ['states:DescribeExecution', 'states:StopExecution'],
        Resource: executions(':*'),
      },
      { Effect: 'Allow', Action: 'states:RedriveExecution', Resource: executions('/units:*') },
    ]);
  });

  it("lets the state machine read the run's units and write the units' outcomes in the report bucket, nothing else there", () => {
    // Prepare
    const stateMachine = onlyLogicalId(template.findResources('AWS::StepFunctions::StateMachine'));
    const machine = template.findResources('AWS::StepFunctions::StateMachine')[stateMachine] as {
      Properties: { RoleArn: { 'Fn::GetAtt': [string, string] } };
    };
    // Act
    const statements = roleStatements(template, machine.Properties.RoleArn['Fn::GetAtt'][0]);
    const s3 = statements.filter((s) => asList(s.Action).some((a) => a.startsWith('s3:')));
    // Assess: the Distributed Map's ItemReader and ResultWriter (docs/aws/step-functions-distributed-map.md).
    const actions = s3.flatMap((s) => asList(s.Action)).sort();
    expect(actions).toContain('s3:GetObject');
    expect(actions).toContain('s3:PutObject');
    expect(actions.filter((a) => /Delete/.test(a))).toEqual([]);
    for (const statement of s3) expect(JSON.stringify(statement.Resource)).toContain(bucket as string);
  });

  it('lets the alarm rule start only this state machine', () => {
    // Prepare
    const stateMachine = onlyLogicalId(template.findResources('AWS::StepFunctions::StateMachine'));
    const rule = Object.values(template.findResources('AWS::Events::Rule'))[0] as {
      Properties: { Targets: { RoleArn: { 'Fn::GetAtt': [string, string] } }[] };
    };
    // Act
    const statements = roleStatements(
      template,
      rule.Properties.Targets[0]?.RoleArn['Fn::GetAtt'][0] as string,
    );
    // Assess
    expect(statements).toEqual([
      { Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: stateMachine } },
    ]);
  });

  it('lets the drill schedule start only this state machine', () => {
    // Prepare
    const stateMachine = onlyLogicalId(template.findResources('AWS::StepFunctions::StateMachine'));
    const schedule = Object.values(template.findResources('AWS::Scheduler::Schedule'))[0] as {
      Properties: { Target: { RoleArn: { 'Fn::GetAtt': [string, string] } } };
    };
    // Act
    const statements = roleStatements(template, schedule.Properties.Target.RoleArn['Fn::GetAtt'][0]);
    // Assess
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: stateMachine } }),
    );
    expect(statements.flatMap((s) => asList(s.Action)).sort()).toEqual([
      'sqs:SendMessage',
      'states:StartExecution',
    ]);
  });
});

describe('step permissions follow the plan', () => {
  it('grants PutSecretValue only on the secrets whose region fields are rewritten', () => {
    // Prepare
    const { template, plan } = synthesize(examplePlan('plan-three-units.json'));
    // Act
    const grants = grantsBySid(stepStatements(template, plan, 'attachRotation'));
    // Assess
    expect(grants.RewriteRegionFields).toEqual({
      actions: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
      resources: [
        'arn:aws:secretsmanager:eu-central-1:123456789012:secret:shop/orders-db-a1B2c3',
        'arn:aws:secretsmanager:eu-central-1:123456789012:secret:shop/orders-db-a1B2c3-??????',
      ],
    });
    expect(grants.EncryptRewrittenSecrets?.actions).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(grants.InvokeRotationFunctions?.resources).toEqual([
      'arn:aws:lambda:eu-central-1:123456789012:function:shop-rotation-postgres',
      'arn:aws:lambda:eu-central-1:123456789012:function:shop-rotation-mysql',
    ]);
  });

  it('grants no change of a plan record when every unit fails DNS over by health check, only of the drill copies', () => {
    // Prepare
    const document = examplePlan('plan.json');
    (document.units[0] as { dns: Record<string, unknown> }).dns.strategy = 'health-check';
    const { template, plan } = synthesize(document);
    // Act
    const updateDns = grantsBySid(stepStatements(template, plan, 'updateDns'));
    const checkDnsChange = grantsBySid(stepStatements(template, plan, 'checkDnsChange'));
    // Assess
    expect(Object.keys(updateDns)).toEqual([
      'DescribeReplicaInstances',
      'DescribeDrillInstances',
      'ReadDrillRecords',
      'UpsertDrillRecords',
      // The flip itself is a metric on lifeboat's alarm (docs/design/dns-flip.md): read the alarm, put the metric.
      'ReadDnsFlipAlarms',
      'ForceDnsFlips',
      // A drill copy's change goes in its zone's batch (functions/lib/dns/shared.ts).
      'ShareZoneBatches',
      // A drill copy's promoted endpoint, from the promotion poll's snapshot (functions/lib/promotion-snapshot.ts).
      'ReadPromotionPoll',
    ]);
    // A drill's copy of the record is a simple CNAME whatever the plan's strategy: its change is polled, and sent
    // with its zone's batch by the poll that takes the lease. The production flip is polled by its alarm's state.
    expect(Object.keys(checkDnsChange)).toEqual([
      'ReadDnsChanges',
      'ReadDnsFlipAlarms',
      'ShareZoneBatches',
      'ReadDrillRecords',
      'UpsertDrillRecords',
    ]);
  });

  it('scopes UPSERT per hosted zone to that zone records', () => {
    // Prepare
    const document = examplePlan('plan-three-units.json');
    (document.units[2] as { dns: Record<string, unknown> }).dns.hostedZoneId =
      '/hostedzone/Z0OTHER000EXAMPLE';
    (document.units[2] as { dns: Record<string, unknown> }).dns.recordName = 'Sessions-DB.other.internal.';
    const { template, plan } = synthesize(document);
    // Act
    const statements = stepStatements(template, plan, 'updateDns').filter((s) =>
      s.Sid?.startsWith('UpsertPlanRecords'),
    );
    // Assess
    expect(statements.map((s) => [s.Resource, s.Condition])).toEqual([
      [
        'arn:aws:route53:::hostedzone/Z0SHOP0000EXAMPLE',
        {
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': [
              'orders-db.shop.internal',
              'catalog-db.shop.internal',
            ],
            'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME'],
            'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
          },
        },
      ],
      [
        'arn:aws:route53:::hostedzone/Z0OTHER000EXAMPLE',
        {
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['sessions-db.other.internal'],
            'route53:ChangeResourceRecordSetsRecordTypes': ['CNAME'],
            'route53:ChangeResourceRecordSetsActions': ['UPSERT'],
          },
        },
      ],
    ]);
  });

  it.each([
    'verifyConnectivity',
    // SettleRotation (the attachRotation function) logs in to the promoted database too.
    'attachRotation',
  ] as const)(
    'lets the %s function manage only its own network interfaces, subnets and security group',
    (inVpc) => {
      // Prepare
      const { template, plan } = synthesize(examplePlan('plan-three-units.json'));
      const ec2 = (resource: string) => ({
        'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ec2:eu-central-1:123456789012:${resource}`]],
      });
      // Act
      const grants = grantsBySid(stepStatements(template, plan, inVpc));
      // Assess
      expect(grants.DescribeNetworkInterfaces).toEqual({
        actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
        resources: ['*'],
      });
      expect(grants.CreateNetworkInterfaces?.actions).toEqual(['ec2:CreateNetworkInterface']);
      const group = onlyLogicalId(template.findResources('AWS::EC2::SecurityGroup'));
      expect(grants.CreateNetworkInterfaces?.resources).toEqual([
        ec2('network-interface/*'),
        ec2('subnet/subnet-0a1b2c3d4e5f60718'),
        ec2('subnet/subnet-0f1e2d3c4b5a69788'),
        {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':ec2:eu-central-1:123456789012:security-group/',
              { 'Fn::GetAtt': [group, 'GroupId'] },
            ],
          ],
        },
      ]);
      expect(grants.ManageNetworkInterfaces).toEqual({
        actions: [
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: [ec2('network-interface/*')],
      });
      // No other step gets network-interface permissions.
      // The switchover's fence and catch-up log in to the primary and the replica from the same network.
      const inNetwork = new Set(['verifyConnectivity', 'attachRotation', 'fenceWrites', 'checkCatchUp']);
      for (const step of STEP_FUNCTIONS.filter((s) => !inNetwork.has(s))) {
        expect(JSON.stringify(stepStatements(template, plan, step))).not.toContain('ec2:');
      }
    },
  );

  it('publishes to a plan-given topic without touching its key', () => {
    // Prepare
    const document = examplePlan('plan.json');
    document.notificationTopicArn = 'arn:aws:sns:us-west-2:123456789012:ops-dr';
    const { template, plan } = synthesize(document);
    // Act
    const grants = grantsBySid(stepStatements(template, plan, 'report'));
    // Assess
    expect(grants.PublishReports).toEqual({
      actions: ['sns:Publish'],
      resources: ['arn:aws:sns:us-west-2:123456789012:ops-dr'],
    });
    expect(grants.EncryptReports).toBeUndefined();
  });
});
