import { App, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as sam from 'aws-cdk-lib/aws-sam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { type PlanDocument, partitionOf } from '../../functions/lib/plan.js';
import { ReplicaKey, ReplicatedSecret } from '../../infra/constructs/replicated-secret.js';
import { acknowledge } from '../../infra/nag.js';

/**
 * "Your first real game day" (docs/first-game-day.md): the smallest two-Region world lifeboat fails over, in your own
 * account. Three stacks, deployed in this order (`cdk deploy --all` does it):
 *
 * 1. `LifeboatSandbox-RecoveryBase` (recovery Region): a VPC with isolated subnets and Secrets Manager / RDS interface
 *    endpoints, the replica secret's key (ReplicaKey) and the replica database's key.
 * 2. `LifeboatSandbox-Primary` (primary Region): a VPC, a PostgreSQL db.t4g.micro primary, the credential as a
 *    ReplicatedSecret in lifeboat's shape (`host` is the CNAME), a private hosted zone associated with both VPCs
 *    holding the CNAME, and the AWS rotation function (Secrets Manager's PostgreSQL single-user rotation from the
 *    Serverless Application Repository) attached to the secret.
 * 3. `LifeboatSandbox-Recovery` (recovery Region): the cross-Region read replica and a second copy of the same
 *    rotation application, not attached to anything: lifeboat attaches it to the promoted secret after a failover.
 *
 * The plan lifeboat needs is the `Plan` output of the last stack. Never deployed from this repository (no AWS account):
 * test/infra/sandbox.test.ts synthesizes it, validates the plan and runs cdk-nag.
 */

export interface SandboxProps {
  readonly account: string;
  /** @default 'us-east-1' */
  readonly primaryRegion?: string;
  /** @default 'us-west-2' */
  readonly recoveryRegion?: string;
  /** @default 'sandbox' */
  readonly planName?: string;
}

/** Names fixed up front, so that the plan and the other Region can name them before they exist. */
export function sandboxNames(planName = 'sandbox') {
  return {
    secretName: `lifeboat-${planName}/db`,
    primaryInstanceId: `lifeboat-${planName}-primary`,
    replicaInstanceId: `lifeboat-${planName}-replica`,
    zoneName: `${planName}.lifeboat.internal`,
    recordName: `db.${planName}.lifeboat.internal`,
    rotationFunctionName: `lifeboat-${planName}-rotation`,
    username: 'lifeboat',
    dbname: 'sandbox',
  };
}

export interface SandboxPlanValues {
  readonly account: string;
  readonly primaryRegion: string;
  readonly recoveryRegion: string;
  readonly planName: string;
  readonly replicaSecretKeyArn: string;
  readonly hostedZoneId: string;
  readonly vpcId: string;
  readonly subnetIds: readonly string[];
  readonly databaseSecurityGroupId: string;
}

/** The plan for the sandbox, from its names and the ids the stacks made. */
export function sandboxPlan(v: SandboxPlanValues): PlanDocument {
  const n = sandboxNames(v.planName);
  return {
    name: v.planName,
    account: v.account,
    primaryRegion: v.primaryRegion,
    recoveryRegion: v.recoveryRegion,
    // A db.t4g.micro replica's promotion takes minutes; the target is generous for a first game day.
    targetRtoSeconds: 1800,
    units: [
      {
        name: 'sandbox',
        secret: { id: n.secretName, kmsKeyArn: v.replicaSecretKeyArn },
        database: {
          engine: 'postgres',
          primaryInstanceId: n.primaryInstanceId,
          replicaInstanceId: n.replicaInstanceId,
        },
        dns: { hostedZoneId: v.hostedZoneId, recordName: n.recordName, ttl: 60 },
        rotation: {
          lambdaArn: `arn:aws:lambda:${v.recoveryRegion}:${v.account}:function:${n.rotationFunctionName}`,
          schedule: 30,
        },
        verify: { database: n.dbname, requireTls: true },
      },
    ],
    vpc: {
      vpcId: v.vpcId,
      subnetIds: [...v.subnetIds],
      databaseSecurityGroupIds: [v.databaseSecurityGroupId],
    },
  } as PlanDocument;
}

const SANDBOX_REASON = 'sandbox for a game day, deleted afterwards';

/** An isolated two-AZ VPC with the interface endpoints the rotation and verify functions need. */
function sandboxVpc(scope: Construct, endpoints: ec2.InterfaceVpcEndpointAwsService[]) {
  const vpc = new ec2.Vpc(scope, 'Vpc', {
    maxAzs: 2,
    natGateways: 0,
    subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
  });
  acknowledge(vpc, 'AwsSolutions-VPC7', `${SANDBOX_REASON}: no flow logs`);
  // One AZ's subnet per endpoint: an endpoint is billed per AZ-hour (docs/cost.md, "The sandbox").
  const subnets = { subnets: [vpc.isolatedSubnets[0] as ec2.ISubnet] };
  const databases = new ec2.SecurityGroup(scope, 'Databases', {
    vpc,
    description: 'lifeboat sandbox: the database, and the functions that reach it',
    allowAllOutbound: true,
  });
  databases.addIngressRule(
    databases,
    ec2.Port.tcp(5432),
    'PostgreSQL from the rotation and verify functions',
  );
  for (const service of endpoints) {
    const endpoint = vpc.addInterfaceEndpoint(service.shortName, {
      service,
      subnets,
      privateDnsEnabled: true,
      open: false,
    });
    endpoint.connections.allowDefaultPortFrom(databases);
  }
  return { vpc, databases };
}

/** The rotation application of Secrets Manager (SAR) as CDK's SecretRotation deploys it, here without a secret. */
function rotationApplication(
  scope: Construct,
  id: string,
  props: { functionName: string; vpc: ec2.IVpc; securityGroup: ec2.ISecurityGroup; kmsKeyArn: string },
): sam.CfnApplication {
  const stack = Stack.of(scope);
  const app = secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER;
  return new sam.CfnApplication(scope, id, {
    location: {
      applicationId: app.applicationArnForPartition(partitionOf(stack.region)),
      semanticVersion: app.semanticVersionForPartition(partitionOf(stack.region)),
    },
    parameters: {
      endpoint: `https://secretsmanager.${stack.region}.${stack.urlSuffix}`,
      functionName: props.functionName,
      vpcSubnetIds: props.vpc.isolatedSubnets.map((s) => s.subnetId).join(','),
      vpcSecurityGroupIds: props.securityGroup.securityGroupId,
      kmsKeyArn: props.kmsKeyArn,
    },
  });
}

export interface SandboxStacks {
  readonly recoveryBase: Stack;
  readonly primary: Stack;
  readonly recovery: Stack;
}

export function addSandboxStacks(app: App, props: SandboxProps): SandboxStacks {
  const primaryRegion = props.primaryRegion ?? 'us-east-1';
  const recoveryRegion = props.recoveryRegion ?? 'us-west-2';
  const planName = props.planName ?? 'sandbox';
  const n = sandboxNames(planName);
  const env = (region: string): StackProps => ({
    env: { account: props.account, region },
    crossRegionReferences: true,
  });

  // 1. Recovery Region, first: the keys the secret's replica and the replica database are encrypted with.
  const recoveryBase = new Stack(app, 'LifeboatSandbox-RecoveryBase', env(recoveryRegion));
  const rb = sandboxVpc(recoveryBase, [
    ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    ec2.InterfaceVpcEndpointAwsService.RDS,
  ]);
  const replicaSecretKey = new ReplicaKey(recoveryBase, 'ReplicaSecretKey');
  const replicaDbKey = new kms.Key(recoveryBase, 'ReplicaDatabaseKey', {
    description: 'lifeboat sandbox: the replica database',
    enableKeyRotation: true,
    removalPolicy: RemovalPolicy.DESTROY,
  });

  // 2. Primary Region.
  const primary = new Stack(app, 'LifeboatSandbox-Primary', env(primaryRegion));
  const p = sandboxVpc(primary, [ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER]);
  const credential = new ReplicatedSecret(primary, 'Credential', {
    secretName: n.secretName,
    replicaRegions: [{ region: recoveryRegion, kmsKeyArn: replicaSecretKey.key.keyArn }],
    generate: { engine: 'postgres', host: n.recordName, username: n.username, dbname: n.dbname },
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const database = new rds.DatabaseInstance(primary, 'Database', {
    instanceIdentifier: n.primaryInstanceId,
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
    instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
    vpc: p.vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    securityGroups: [p.databases],
    databaseName: n.dbname,
    // From the secret's fields, not Credentials.fromSecret: that attaches the secret to the instance, which rewrites
    // `host` to the instance endpoint; lifeboat's secret names the CNAME (docs/design.md, "The failover plan").
    credentials: rds.Credentials.fromPassword(n.username, credential.secret.secretValueFromJson('password')),
    allocatedStorage: 20,
    storageEncrypted: true,
    // A cross-Region read replica needs automated backups on its source.
    backupRetention: Duration.days(1),
    multiAz: false,
    deletionProtection: false,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  for (const rule of ['AwsSolutions-RDS2', 'AwsSolutions-RDS3', 'AwsSolutions-RDS10', 'AwsSolutions-RDS11']) {
    acknowledge(database, rule, `${SANDBOX_REASON}: single-AZ, no deletion protection, default port`);
  }
  acknowledge(
    database,
    'AwsSolutions-RDS6',
    `${SANDBOX_REASON}: password authentication, as lifeboat's verify uses the secret`,
  );
  const zone = new route53.PrivateHostedZone(primary, 'Zone', { zoneName: n.zoneName, vpc: p.vpc });
  zone.addVpc(rb.vpc);
  new route53.CnameRecord(primary, 'DatabaseRecord', {
    zone,
    recordName: n.recordName,
    domainName: database.dbInstanceEndpointAddress,
    ttl: Duration.seconds(60),
  });
  new secretsmanager.SecretRotation(primary, 'Rotation', {
    application: secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
    secret: credential.secret,
    target: database,
    vpc: p.vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    securityGroup: p.databases,
    automaticallyAfter: Duration.days(30),
  });
  primary.addStackDependency(recoveryBase);

  // 3. Recovery Region, last: the replica of the primary, and the rotation function lifeboat attaches after a failover.
  const recovery = new Stack(app, 'LifeboatSandbox-Recovery', env(recoveryRegion));
  const subnetGroup = new rds.CfnDBSubnetGroup(recovery, 'ReplicaSubnets', {
    dbSubnetGroupDescription: 'lifeboat sandbox: the replica',
    subnetIds: rb.vpc.isolatedSubnets.map((s) => s.subnetId),
  });
  const replica = new rds.CfnDBInstance(recovery, 'Replica', {
    dbInstanceIdentifier: n.replicaInstanceId,
    // Cross-Region: the source by ARN, and a key of this Region for the encrypted copy (docs/aws/rds-read-replicas.md).
    sourceDbInstanceIdentifier: `arn:${partitionOf(primaryRegion)}:rds:${primaryRegion}:${props.account}:db:${n.primaryInstanceId}`,
    sourceRegion: primaryRegion,
    dbInstanceClass: 'db.t4g.micro',
    dbSubnetGroupName: subnetGroup.ref,
    vpcSecurityGroups: [rb.databases.securityGroupId],
    kmsKeyId: replicaDbKey.keyArn,
    storageEncrypted: true,
    publiclyAccessible: false,
    deletionProtection: false,
  });
  replica.applyRemovalPolicy(RemovalPolicy.DESTROY);
  for (const rule of ['AwsSolutions-RDS2', 'AwsSolutions-RDS3', 'AwsSolutions-RDS10', 'AwsSolutions-RDS11']) {
    acknowledge(replica, rule, `${SANDBOX_REASON}: a single-AZ replica on the default port`);
  }
  acknowledge(
    replica,
    'AwsSolutions-RDS6',
    `${SANDBOX_REASON}: password authentication, as lifeboat's verify uses the secret`,
  );
  rotationApplication(recovery, 'RecoveryRotation', {
    functionName: n.rotationFunctionName,
    vpc: rb.vpc,
    securityGroup: rb.databases,
    kmsKeyArn: replicaSecretKey.key.keyArn,
  });
  recovery.addStackDependency(primary);
  recovery.addStackDependency(recoveryBase);

  const plan = sandboxPlan({
    account: props.account,
    primaryRegion,
    recoveryRegion,
    planName,
    replicaSecretKeyArn: replicaSecretKey.key.keyArn,
    hostedZoneId: zone.hostedZoneId,
    vpcId: rb.vpc.vpcId,
    subnetIds: rb.vpc.isolatedSubnets.map((s) => s.subnetId),
    databaseSecurityGroupId: rb.databases.securityGroupId,
  });
  new CfnOutput(recovery, 'Plan', {
    value: recovery.toJsonString(plan),
    description: 'the lifeboat plan for this sandbox: save it as sandbox-plan.json',
  });
  return { recoveryBase, primary, recovery };
}

/** `npx cdk deploy --all --app "npx tsx examples/sandbox/sandbox.ts" -c account=123456789012` */
if (process.argv[1]?.endsWith('sandbox.ts') && process.env.CDK_OUTDIR) {
  const app = new App();
  const account = app.node.tryGetContext('account') ?? process.env.CDK_DEFAULT_ACCOUNT;
  if (!account) throw new Error('sandbox: pass -c account=<your account id>');
  addSandboxStacks(app, {
    account,
    primaryRegion: app.node.tryGetContext('primaryRegion'),
    recoveryRegion: app.node.tryGetContext('recoveryRegion'),
  });
  app.synth();
}
