import { randomBytes } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { AddPermissionCommand, CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateDBInstanceCommand,
  CreateDBInstanceReadReplicaCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  ListHostedZonesCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import type { FailoverPlan } from '../functions/lib/plan.js';
import { instanceDatabase } from '../functions/lib/plan-names.js';
import type { Fact } from './drill-command.js';
import type { SynthesizedOrchestrator } from './runner.js';

/**
 * `npm run drill -- --endpoint URL`: the same run against another AWS-compatible server (moto, LocalStack), with no
 * local databases and no DNS server. The world is created there through the ordinary API calls; the plan's hosted
 * zone id and rotation Lambda ARN are replaced by the ones that server gives out. Connectivity cannot be verified
 * (no database answers behind the emulated endpoints), so the verify step is not run: the report and the facts say
 * so. Everything else — secret promotion, replica promotion, the CNAME change, rotation — runs and is checked
 * through the server's API.
 */

const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
type Credentialed = { credentials: typeof CREDENTIALS };

/** Thrown before anything is created when the server already holds what the plan names (a run before this one). */
export class EndpointNotEmptyError extends Error {
  override readonly name = 'EndpointNotEmptyError';
}

export interface RemoteWorld {
  endpoint: string;
  /** The plan as it must run there (zone id and rotation ARN from the server). */
  plan: FailoverPlan;
  environment(): Record<string, string>;
  /** An S3 client's configuration for the server (path-style: no bucket DNS names there). */
  s3Config(region: string): { region: string; endpoint: string; forcePathStyle: true } & Credentialed;
  provision(orchestrator: SynthesizedOrchestrator): Promise<void>;
  checkFacts(): Promise<Fact[]>;
}

export async function seedRemoteWorld(original: FailoverPlan, endpoint: string): Promise<RemoteWorld> {
  const config = (region: string) => ({ region, endpoint, credentials: CREDENTIALS });
  const { primaryRegion, recoveryRegion } = original;
  const plan = structuredClone(original);
  const rdsPrimary = new RDSClient(config(primaryRegion));
  const rdsRecovery = new RDSClient(config(recoveryRegion));
  const sm = new SecretsManagerClient(config(primaryRegion));
  const route53 = new Route53Client(config(recoveryRegion));
  const lambda = new LambdaClient(config(recoveryRegion));
  const iam = new IAMClient(config('us-east-1'));
  const password = randomBytes(18).toString('base64url');
  const zones = new Map<string, string>();
  try {
    await assertNothingSeeded(plan, endpoint, { rdsPrimary, rdsRecovery, sm, route53 });
  } catch (error) {
    for (const client of [rdsPrimary, rdsRecovery, sm, route53, lambda, iam]) client.destroy();
    throw error;
  }
  const role = await iam.send(
    new CreateRoleCommand({
      RoleName: `lifeboat-drill-rotation-${randomBytes(4).toString('hex')}`,
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    }),
  );
  // An empty zip archive: the rotation function is never invoked (RotateImmediately is false).
  const emptyZip = Buffer.from('UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==', 'base64');
  for (const unit of plan.units) {
    if (unit.secret.id.startsWith('arn:'))
      throw new TypeError(`unit ${unit.name}: --endpoint needs a secret name`);
    const db = await rdsPrimary.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: instanceDatabase(unit, 'the proving ground').primaryInstanceId,
        Engine: unit.database.engine,
        DBInstanceClass: 'db.t3.micro',
        AllocatedStorage: 20,
        MasterUsername: 'app',
        MasterUserPassword: password,
        DBName: unit.verify.database ?? 'app',
        BackupRetentionPeriod: 1,
      }),
    );
    const primaryArn = db.DBInstance?.DBInstanceArn ?? '';
    const primaryEndpoint =
      db.DBInstance?.Endpoint?.Address ??
      `${instanceDatabase(unit, 'the proving ground').primaryInstanceId}.example`;
    await rdsRecovery.send(
      new CreateDBInstanceReadReplicaCommand({
        DBInstanceIdentifier: instanceDatabase(unit, 'the proving ground').replicaInstanceId,
        // Cross-Region: the source by ARN (the SDK presigns the request for the source Region itself).
        SourceDBInstanceIdentifier: primaryArn,
      }),
    );
    await sm.send(
      new CreateSecretCommand({
        Name: unit.secret.id,
        SecretString: JSON.stringify({
          engine: unit.database.engine,
          host: unit.dns.recordName,
          port: unit.database.engine === 'postgres' ? 5432 : 3306,
          username: 'app',
          password,
          dbname: unit.verify.database ?? 'app',
        }),
        AddReplicaRegions: [{ Region: recoveryRegion }],
      }),
    );
    const zoneName = zoneNameOf(unit.dns.recordName);
    let zoneId = zones.get(zoneName);
    if (!zoneId) {
      const zone = await route53.send(
        new CreateHostedZoneCommand({
          Name: zoneName,
          CallerReference: `lifeboat-${randomBytes(6).toString('hex')}`,
        }),
      );
      zoneId = (zone.HostedZone?.Id ?? '').replace(/^\/hostedzone\//, '');
      zones.set(zoneName, zoneId);
    }
    await route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: {
          Changes: [
            {
              Action: 'CREATE',
              ResourceRecordSet: {
                Name: unit.dns.recordName,
                Type: 'CNAME',
                TTL: unit.dns.ttl,
                ResourceRecords: [{ Value: primaryEndpoint }],
              },
            },
          ],
        },
      }),
    );
    unit.dns.hostedZoneId = zoneId;
    const functionName = /:function:([^:]+)/.exec(unit.rotation.lambdaArn)?.[1] ?? `${unit.name}-rotation`;
    const fn = await lambda
      .send(
        new CreateFunctionCommand({
          FunctionName: functionName,
          Runtime: 'nodejs22.x',
          Role: role.Role?.Arn,
          Handler: 'index.handler',
          Code: { ZipFile: emptyZip },
        }),
      )
      .catch((error: unknown) => {
        if ((error as { name?: string }).name !== 'ResourceConflictException') throw error;
        return { FunctionArn: unit.rotation.lambdaArn };
      });
    await lambda
      .send(
        new AddPermissionCommand({
          FunctionName: functionName,
          StatementId: 'SecretsManagerAccess',
          Action: 'lambda:InvokeFunction',
          Principal: 'secretsmanager.amazonaws.com',
        }),
      )
      .catch((error: unknown) => {
        if ((error as { name?: string }).name !== 'ResourceConflictException') throw error;
      });
    unit.rotation.lambdaArn = fn.FunctionArn ?? unit.rotation.lambdaArn;
  }
  for (const client of [rdsPrimary, rdsRecovery, sm, route53, lambda, iam]) client.destroy();

  return {
    endpoint,
    plan,
    environment: () => ({
      AWS_REGION: recoveryRegion,
      AWS_DEFAULT_REGION: recoveryRegion,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      LIFEBOAT_AWS_ENDPOINT: endpoint,
    }),
    s3Config: (region) => ({ ...config(region), forcePathStyle: true }),
    provision: async (orchestrator) => {
      const ddb = new DynamoDBClient(config(recoveryRegion));
      const s3 = new S3Client({ ...config(recoveryRegion), forcePathStyle: true });
      const sns = new SNSClient(config(recoveryRegion));
      try {
        for (const resource of orchestrator.resources) {
          if (resource.type === 'AWS::DynamoDB::Table') {
            const key = resource.partitionKey ?? 'planName';
            await ddb.send(
              new CreateTableCommand({
                TableName: resource.name,
                AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
                KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
                BillingMode: 'PAY_PER_REQUEST',
              }),
            );
          } else if (resource.type === 'AWS::S3::Bucket') {
            await s3.send(
              new CreateBucketCommand({
                Bucket: resource.name,
                CreateBucketConfiguration: { LocationConstraint: recoveryRegion as never },
              }),
            );
          } else {
            await sns.send(new CreateTopicCommand({ Name: resource.name }));
          }
        }
      } finally {
        for (const client of [ddb, s3, sns]) client.destroy();
      }
    },
    checkFacts: async () => {
      const facts: Fact[] = [];
      const rds = new RDSClient(config(recoveryRegion));
      const secrets = new SecretsManagerClient(config(recoveryRegion));
      const dns = new Route53Client(config(recoveryRegion));
      try {
        for (const unit of plan.units) {
          const name = unit.name;
          const db = (
            await rds.send(
              new DescribeDBInstancesCommand({
                DBInstanceIdentifier: instanceDatabase(unit, 'the proving ground').replicaInstanceId,
              }),
            )
          ).DBInstances?.[0];
          facts.push({
            fact: `${name}: replica promoted (API only)`,
            ok: db?.DBInstanceStatus === 'available' && !db.ReadReplicaSourceDBInstanceIdentifier,
            detail: `status ${db?.DBInstanceStatus ?? '?'}, source ${db?.ReadReplicaSourceDBInstanceIdentifier ?? '(none)'}`,
          });
          const records = await dns.send(
            new ListResourceRecordSetsCommand({
              HostedZoneId: unit.dns.hostedZoneId,
              StartRecordName: unit.dns.recordName,
              StartRecordType: 'CNAME',
              MaxItems: 1,
            }),
          );
          const value = records.ResourceRecordSets?.[0]?.ResourceRecords?.[0]?.Value;
          facts.push({
            fact: `${name}: CNAME points at the promoted instance (API only)`,
            ok: value?.replace(/\.$/, '') === db?.Endpoint?.Address,
            detail: `${unit.dns.recordName} -> ${value ?? '?'}`,
          });
          const secret = await secrets.send(new DescribeSecretCommand({ SecretId: unit.secret.id }));
          facts.push({
            fact: `${name}: secret is standalone`,
            ok: !secret.PrimaryRegion || secret.PrimaryRegion === recoveryRegion,
            detail: `PrimaryRegion ${secret.PrimaryRegion ?? '(none)'}`,
          });
          // As on the local world (checkFacts in local/drill-command.ts): attached, and no rotation started.
          const rules = secret.RotationRules;
          facts.push({
            fact: `${name}: rotation attached, not rotated`,
            ok:
              secret.RotationEnabled === true &&
              secret.RotationLambdaARN === unit.rotation.lambdaArn &&
              !Object.values(secret.VersionIdsToStages ?? {}).some((s) => s.includes('AWSPENDING')),
            detail: `RotationEnabled ${String(secret.RotationEnabled)}, ${secret.RotationLambdaARN ?? 'no Lambda'}, ${
              rules?.ScheduleExpression ?? `${rules?.AutomaticallyAfterDays ?? '?'} days`
            }`,
          });
        }
      } finally {
        for (const client of [rds, secrets, dns]) client.destroy();
      }
      return facts;
    },
  };
}

/**
 * A second run against the same server would find the instances, the secret and the record of the first one, and
 * fail half-way through seeding. This looks first, changes nothing, and says what is there and how to start afresh.
 */
async function assertNothingSeeded(
  plan: FailoverPlan,
  endpoint: string,
  clients: {
    rdsPrimary: RDSClient;
    rdsRecovery: RDSClient;
    sm: SecretsManagerClient;
    route53: Route53Client;
  },
): Promise<void> {
  const found: string[] = [];
  const missing = (error: unknown) =>
    ['DBInstanceNotFound', 'DBInstanceNotFoundFault', 'ResourceNotFoundException'].includes(
      (error as { name?: string }).name ?? '',
    );
  for (const unit of plan.units) {
    for (const [client, id, region] of [
      [
        clients.rdsPrimary,
        instanceDatabase(unit, 'the proving ground').primaryInstanceId,
        plan.primaryRegion,
      ],
      [
        clients.rdsRecovery,
        instanceDatabase(unit, 'the proving ground').replicaInstanceId,
        plan.recoveryRegion,
      ],
    ] as const) {
      const exists = await client
        .send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))
        .then((out) => (out.DBInstances ?? []).length > 0)
        .catch((error: unknown) => {
          if (missing(error)) return false;
          throw error;
        });
      if (exists) found.push(`DB instance ${id} (${region})`);
    }
    const secret = await clients.sm
      .send(new DescribeSecretCommand({ SecretId: unit.secret.id }))
      .then(() => true)
      .catch((error: unknown) => {
        if (missing(error)) return false;
        throw error;
      });
    if (secret) found.push(`secret ${unit.secret.id} (${plan.primaryRegion})`);
  }
  const zones = new Set(plan.units.map((u) => zoneNameOf(u.dns.recordName)));
  const listed = (await clients.route53.send(new ListHostedZonesCommand({}))).HostedZones ?? [];
  for (const zone of listed) {
    if (zones.has((zone.Name ?? '').replace(/\.$/, ''))) found.push(`hosted zone ${zone.Name} (${zone.Id})`);
  }
  if (!found.length) return;
  const isMoto = await fetch(new URL('/moto-api/', endpoint))
    .then((res) => res.ok)
    .catch(() => false);
  const reset = isMoto
    ? `reset it (curl -X POST ${new URL('/moto-api/reset', endpoint).href}) or restart it`
    : 'restart it with empty state, or delete them';
  throw new EndpointNotEmptyError(
    `${endpoint} already holds what the plan names, probably from an earlier --endpoint run: ${found.join(', ')}. ` +
      `Nothing was created. Each --endpoint run seeds the world anew, as production looks before a disaster: ${reset}, then run again.`,
  );
}

/** The hosted zone a record is created in: its name without the first label. */
function zoneNameOf(recordName: string): string {
  return recordName.replace(/\.$/, '').split('.').slice(1).join('.');
}
