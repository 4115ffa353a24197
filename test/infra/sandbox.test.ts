import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { addSandboxStacks, sandboxNames, sandboxPlan } from '../../examples/sandbox/sandbox.js';
import { parsePlan } from '../../functions/lib/plan.js';
import { instanceDatabase } from '../../functions/lib/plan-names.js';

/*
 * The sandbox of docs/first-game-day.md, proven by synthesis only: it was never deployed from this repository (no AWS
 * account is reachable from it).
 */

const ACCOUNT = '123456789012';
const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const stacks = addSandboxStacks(app, {
  account: ACCOUNT,
  primaryRegion: 'us-east-1',
  recoveryRegion: 'us-west-2',
});
const primary = Template.fromStack(stacks.primary);
const recovery = Template.fromStack(stacks.recovery);
const names = sandboxNames();

describe('sandbox stacks', () => {
  it('a PostgreSQL db.t4g.micro primary with backups (a cross-Region replica needs them), its password from the secret', () => {
    // Assess
    primary.hasResourceProperties('AWS::RDS::DBInstance', {
      DBInstanceIdentifier: names.primaryInstanceId,
      Engine: 'postgres',
      DBInstanceClass: 'db.t4g.micro',
      BackupRetentionPeriod: 1,
      StorageEncrypted: true,
    });
    const db = Object.values(primary.findResources('AWS::RDS::DBInstance'))[0] as {
      Properties: Record<string, unknown>;
    };
    expect(JSON.stringify(db.Properties.MasterUserPassword)).toContain(':SecretString:password::}}');
    // No SecretTargetAttachment: it would rewrite the secret's host to the instance endpoint.
    primary.resourceCountIs('AWS::SecretsManager::SecretTargetAttachment', 0);
  });

  it('the secret in lifeboat’s shape (host is the CNAME), replicated to the recovery Region under its key', () => {
    // Assess
    const secret = Object.values(primary.findResources('AWS::SecretsManager::Secret'))[0] as {
      Properties: {
        Name: string;
        GenerateSecretString: { SecretStringTemplate: string };
        ReplicaRegions: unknown[];
      };
    };
    expect(secret.Properties.Name).toBe(names.secretName);
    expect(JSON.parse(secret.Properties.GenerateSecretString.SecretStringTemplate)).toEqual({
      engine: 'postgres',
      host: names.recordName,
      port: 5432,
      username: names.username,
      dbname: names.dbname,
    });
    expect(JSON.stringify(secret.Properties.ReplicaRegions)).toContain('us-west-2');
  });

  it('a private zone in both VPCs with the CNAME on the primary, and rotation attached in the primary Region', () => {
    // Assess
    const zone = Object.values(primary.findResources('AWS::Route53::HostedZone'))[0] as {
      Properties: { VPCs: { VPCRegion: string }[] };
    };
    expect(zone.Properties.VPCs.map((v) => v.VPCRegion).sort()).toEqual(['us-east-1', 'us-west-2']);
    primary.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: `${names.recordName}.`,
      Type: 'CNAME',
      TTL: '60',
    });
    primary.resourceCountIs('AWS::SecretsManager::RotationSchedule', 1);
    primary.resourceCountIs('AWS::Serverless::Application', 1);
  });

  it('the cross-Region read replica by source ARN, and the rotation function lifeboat attaches after a failover', () => {
    // Assess
    recovery.hasResourceProperties('AWS::RDS::DBInstance', {
      DBInstanceIdentifier: names.replicaInstanceId,
      SourceDBInstanceIdentifier: `arn:aws:rds:us-east-1:${ACCOUNT}:db:${names.primaryInstanceId}`,
      DBInstanceClass: 'db.t4g.micro',
      StorageEncrypted: true,
    });
    const sar = Object.values(recovery.findResources('AWS::Serverless::Application'))[0] as {
      Properties: { Location: { ApplicationId: string }; Parameters: { functionName: string } };
    };
    expect(sar.Properties.Location.ApplicationId).toContain('SecretsManagerRDSPostgreSQLRotationSingleUser');
    expect(sar.Properties.Parameters.functionName).toBe(names.rotationFunctionName);
    recovery.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
  });

  it('emits the plan as an output, and that plan passes lifeboat’s validation once the ids are known', () => {
    // Prepare: the output holds tokens; the same builder with ids as a deploy would fill them in
    const outputs = recovery.findOutputs('Plan');
    const plan = sandboxPlan({
      account: ACCOUNT,
      primaryRegion: 'us-east-1',
      recoveryRegion: 'us-west-2',
      planName: 'sandbox',
      replicaSecretKeyArn: `arn:aws:kms:us-west-2:${ACCOUNT}:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789`,
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      vpcId: 'vpc-0123456789abcdef0',
      subnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
      databaseSecurityGroupId: 'sg-0123456789abcdef0',
    });
    // Act
    const parsed = parsePlan(plan);
    // Assess
    expect(Object.keys(outputs)).toEqual(['Plan']);
    expect(parsed.units[0]?.rotation?.lambdaArn).toBe(
      `arn:aws:lambda:us-west-2:${ACCOUNT}:function:${names.rotationFunctionName}`,
    );
    expect(parsed.units[0] && instanceDatabase(parsed.units[0], 'this test').replicaInstanceId).toBe(
      names.replicaInstanceId,
    );
  });

  it('cdk-nag AwsSolutions: nothing unacknowledged, each acknowledgement with its reason', () => {
    // Act
    const report = new AwsSolutionsChecks().validateScope(app);
    // Assess
    expect(
      report.violations.map(
        (v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
      ),
    ).toEqual([]);
  });
});
