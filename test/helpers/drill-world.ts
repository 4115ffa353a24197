import {
  CreateDBInstanceReadReplicaCommand,
  type CreateDBInstanceReadReplicaCommandInput,
  type DBInstance,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  ListTagsForResourceCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import {
  ChangeResourceRecordSetsCommand,
  GetHostedZoneCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  Route53Client,
} from '@aws-sdk/client-route-53';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  RemoveRegionsFromReplicationCommand,
  ReplicateSecretToRegionsCommand,
  SecretsManagerClient,
  StopReplicationToReplicaCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { DrillDeps } from '../../functions/lib/drill.js';

/**
 * A small stateful stand-in for the AWS the drill touches (two Regions of RDS and Secrets Manager, and Route 53),
 * behind the real SDK clients (aws-sdk-client-mock on each client instance). It keeps a log of every call, in
 * order, so that tests can check what was read before each delete and that nothing production was changed.
 */

export const ACCOUNT = '123456789012';
export const PRIMARY = 'us-east-1';
export const RECOVERY = 'us-west-2';
export const ZONE_ID = 'Z0LIFEBOAT00EXAMPLE';
export const ZONE = 'internal.example.com';
export const PRIMARY_ENDPOINT = 'orders-db.c9z8y7x6w5v4.us-east-1.rds.amazonaws.com';
export const PRIMARY_ARN = `arn:aws:rds:${PRIMARY}:${ACCOUNT}:db:orders-db`;
/** A password that must never appear in a result, an error or a log line. */
export const MARKER = 'pw-DRILL-MARKER-5c1d';

export interface LoggedCall {
  service: 'rds' | 'secretsmanager' | 'route53';
  region: string;
  command: string;
  input: Record<string, unknown>;
}

interface Secret {
  name: string;
  arn: string;
  tags: { Key: string; Value: string }[];
  value?: string;
  primaryRegion?: string;
  replicas: Map<string, 'InSync' | 'InProgress' | 'Failed'>;
  deleted?: boolean;
}

const error = (name: string, message = name) =>
  Object.assign(new Error(message), { name, $fault: 'client' as const, $metadata: { httpStatusCode: 400 } });

export function drillWorld() {
  const calls: LoggedCall[] = [];
  const instances = { [PRIMARY]: new Map<string, DBInstance>(), [RECOVERY]: new Map<string, DBInstance>() };
  const secrets = { [PRIMARY]: new Map<string, Secret>(), [RECOVERY]: new Map<string, Secret>() };
  const records: ResourceRecordSet[] = [
    { Name: `orders-db.${ZONE}.`, Type: 'CNAME', TTL: 5, ResourceRecords: [{ Value: PRIMARY_ENDPOINT }] },
  ];
  /** How a new drill secret's replica starts: InSync at once unless a test says otherwise. */
  const settings = {
    replicaStatus: 'InSync' as 'InSync' | 'InProgress' | 'Failed',
    newInstanceStatus: 'creating',
  };
  /** Commands to fail once, by name: the next call of that command throws this error name. */
  const failures = new Map<string, string>();

  instances[PRIMARY].set('orders-db', {
    DBInstanceIdentifier: 'orders-db',
    DBInstanceArn: PRIMARY_ARN,
    DBInstanceStatus: 'available',
    Engine: 'postgres',
    Endpoint: { Address: PRIMARY_ENDPOINT, Port: 5432 },
    BackupRetentionPeriod: 7,
    TagList: [{ Key: 'env', Value: 'prod' }],
  });
  instances[RECOVERY].set('orders-db-replica', {
    DBInstanceIdentifier: 'orders-db-replica',
    DBInstanceArn: `arn:aws:rds:${RECOVERY}:${ACCOUNT}:db:orders-db-replica`,
    DBInstanceStatus: 'available',
    Engine: 'postgres',
    DBInstanceClass: 'db.r6g.large',
    Endpoint: { Address: 'orders-db-replica.c1a2b3c4d5e6.us-west-2.rds.amazonaws.com', Port: 5432 },
    ReadReplicaSourceDBInstanceIdentifier: PRIMARY_ARN,
    DBSubnetGroup: { DBSubnetGroupName: 'orders-db-subnets' },
    VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-0123456789abcdef0', Status: 'active' }],
    StorageEncrypted: true,
    KmsKeyId: `arn:aws:kms:${RECOVERY}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
    PubliclyAccessible: false,
    TagList: [],
  });
  const productionValue = JSON.stringify({
    engine: 'postgres',
    host: `orders-db.${ZONE}`,
    port: 5432,
    username: 'app',
    password: MARKER,
    dbname: 'orders',
  });
  secrets[RECOVERY].set('orders/db', {
    name: 'orders/db',
    arn: `arn:aws:secretsmanager:${RECOVERY}:${ACCOUNT}:secret:orders/db-AbCdEf`,
    tags: [],
    value: productionValue,
    primaryRegion: PRIMARY,
    replicas: new Map(),
  });

  const log = (service: LoggedCall['service'], region: string, command: string, input: object) => {
    calls.push({ service, region, command, input: structuredClone(input) as Record<string, unknown> });
    const failure = failures.get(command);
    if (failure) {
      failures.delete(command);
      throw error(failure, `${command} failed (injected)`);
    }
  };

  function rds(region: typeof PRIMARY | typeof RECOVERY): RDSClient {
    const client = new RDSClient({ region, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const mock = mockClient(client);
    const store = instances[region];
    mock.on(DescribeDBInstancesCommand).callsFake(async (input) => {
      log('rds', region, 'DescribeDBInstances', input);
      const found = store.get(String(input.DBInstanceIdentifier));
      if (!found)
        throw error('DBInstanceNotFoundFault', `DBInstance ${input.DBInstanceIdentifier} not found.`);
      return { DBInstances: [structuredClone(found)] };
    });
    mock.on(ListTagsForResourceCommand).callsFake(async (input) => {
      log('rds', region, 'ListTagsForResource', input);
      const found = [...store.values()].find((i) => i.DBInstanceArn === input.ResourceName);
      return { TagList: found?.TagList ?? [] };
    });
    mock
      .on(CreateDBInstanceReadReplicaCommand)
      .callsFake(async (input: CreateDBInstanceReadReplicaCommandInput) => {
        log('rds', region, 'CreateDBInstanceReadReplica', input);
        const id = String(input.DBInstanceIdentifier);
        if (store.has(id)) throw error('DBInstanceAlreadyExistsFault');
        store.set(id, {
          DBInstanceIdentifier: id,
          DBInstanceArn: `arn:aws:rds:${region}:${ACCOUNT}:db:${id}`,
          DBInstanceStatus: settings.newInstanceStatus,
          Engine: 'postgres',
          ReadReplicaSourceDBInstanceIdentifier: input.SourceDBInstanceIdentifier,
          Endpoint: { Address: `${id}.c1a2b3c4d5e6.${region}.rds.amazonaws.com`, Port: 5432 },
          TagList: input.Tags ?? [],
        });
        return { DBInstance: structuredClone(store.get(id)) };
      });
    mock.on(DeleteDBInstanceCommand).callsFake(async (input) => {
      log('rds', region, 'DeleteDBInstance', input);
      const found = store.get(String(input.DBInstanceIdentifier));
      if (!found) throw error('DBInstanceNotFoundFault');
      if (['modifying', 'backing-up', 'rebooting'].includes(found.DBInstanceStatus ?? '')) {
        throw error('InvalidDBInstanceStateFault');
      }
      found.DBInstanceStatus = 'deleting';
      return { DBInstance: structuredClone(found) };
    });
    return client;
  }

  const describe = (s: Secret) => ({
    ARN: s.arn,
    Name: s.name,
    Tags: s.tags,
    ...(s.primaryRegion ? { PrimaryRegion: s.primaryRegion } : {}),
    ...(s.replicas.size
      ? { ReplicationStatus: [...s.replicas].map(([Region, Status]) => ({ Region, Status })) }
      : {}),
  });

  function secretsManager(region: typeof PRIMARY | typeof RECOVERY): SecretsManagerClient {
    const client = new SecretsManagerClient({
      region,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    const mock = mockClient(client);
    const store = secrets[region];
    const find = (id: unknown) => {
      const found = [...store.values()].find((s) => !s.deleted && (s.name === id || s.arn === id));
      if (!found)
        throw error('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
      return found;
    };
    mock.on(DescribeSecretCommand).callsFake(async (input) => {
      log('secretsmanager', region, 'DescribeSecret', input);
      return describe(find(input.SecretId));
    });
    mock.on(GetSecretValueCommand).callsFake(async (input) => {
      log('secretsmanager', region, 'GetSecretValue', input);
      const found = find(input.SecretId);
      return { ARN: found.arn, SecretString: found.value, VersionId: 'v1' };
    });
    mock.on(CreateSecretCommand).callsFake(async (input) => {
      log('secretsmanager', region, 'CreateSecret', input);
      const name = String(input.Name);
      if ([...store.values()].some((s) => s.name === name && !s.deleted))
        throw error('ResourceExistsException');
      const secret: Secret = {
        name,
        arn: `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${name}-XyZ123`,
        tags: input.Tags ?? [],
        value: input.SecretString,
        replicas: new Map(),
      };
      store.set(name, secret);
      for (const r of input.AddReplicaRegions ?? []) replicate(secret, String(r.Region));
      return { ARN: secret.arn, Name: name };
    });
    mock.on(ReplicateSecretToRegionsCommand).callsFake(async (input) => {
      log('secretsmanager', region, 'ReplicateSecretToRegions', input);
      const found = find(input.SecretId);
      for (const r of input.AddReplicaRegions ?? []) replicate(found, String(r.Region));
      return {};
    });
    mock.on(RemoveRegionsFromReplicationCommand).callsFake(async (input) => {
      log('secretsmanager', region, 'RemoveRegionsFromReplication', input);
      const found = find(input.SecretId);
      for (const r of input.RemoveReplicaRegions ?? []) {
        found.replicas.delete(r);
        secrets[r as typeof RECOVERY]?.delete(found.name);
      }
      return {};
    });
    mock.on(StopReplicationToReplicaCommand).callsFake(async (input) => {
      log('secretsmanager', region, 'StopReplicationToReplica', input);
      const found = find(input.SecretId);
      if (!found.primaryRegion) throw error('InvalidRequestException');
      secrets[found.primaryRegion as typeof PRIMARY]?.get(found.name)?.replicas.delete(region);
      found.primaryRegion = undefined;
      return {};
    });
    mock.on(DeleteSecretCommand).callsFake(async (input) => {
      log('secretsmanager', region, 'DeleteSecret', input);
      const found = find(input.SecretId);
      if (found.primaryRegion)
        throw error('InvalidParameterException', 'Operation not permitted on a replica secret.');
      if (found.replicas.size) throw error('InvalidParameterException', 'still has replica regions');
      store.delete(found.name);
      return { ARN: found.arn };
    });
    return client;
  }

  function replicate(secret: Secret, region: string) {
    secret.replicas.set(region, settings.replicaStatus);
    secrets[region as typeof RECOVERY]?.set(secret.name, {
      name: secret.name,
      arn: secret.arn.replace(`:${PRIMARY}:`, `:${region}:`),
      tags: [...secret.tags],
      value: secret.value,
      primaryRegion: PRIMARY,
      replicas: new Map(),
    });
  }

  function route53(): Route53Client {
    const client = new Route53Client({
      region: RECOVERY,
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    const mock = mockClient(client);
    const norm = (n: string) => n.toLowerCase().replace(/\.$/, '');
    mock.on(GetHostedZoneCommand).callsFake(async (input) => {
      log('route53', 'global', 'GetHostedZone', input);
      if (input.Id !== ZONE_ID) throw error('NoSuchHostedZone');
      return { HostedZone: { Id: `/hostedzone/${ZONE_ID}`, Name: `${ZONE}.`, CallerReference: 'x' } };
    });
    mock.on(ListResourceRecordSetsCommand).callsFake(async (input) => {
      log('route53', 'global', 'ListResourceRecordSets', input);
      const found = records.find(
        (r) => norm(r.Name ?? '') === norm(String(input.StartRecordName)) && r.Type === input.StartRecordType,
      );
      return { ResourceRecordSets: found ? [structuredClone(found)] : [], IsTruncated: false, MaxItems: 1 };
    });
    mock.on(ChangeResourceRecordSetsCommand).callsFake(async (input) => {
      log('route53', 'global', 'ChangeResourceRecordSets', input);
      const changes = input.ChangeBatch?.Changes ?? [];
      const index = (r: ResourceRecordSet) =>
        records.findIndex((x) => norm(x.Name ?? '') === norm(r.Name ?? '') && x.Type === r.Type);
      for (const change of changes) {
        const r = change.ResourceRecordSet as ResourceRecordSet;
        const at = index(r);
        if (change.Action === 'CREATE' && at >= 0) throw error('InvalidChangeBatch', 'already exists');
        if (change.Action === 'DELETE') {
          const current = records[at];
          if (
            !current ||
            JSON.stringify(current.ResourceRecords) !== JSON.stringify(r.ResourceRecords) ||
            current.TTL !== r.TTL
          ) {
            throw error('InvalidChangeBatch', 'not found or values do not match');
          }
        }
      }
      for (const change of changes) {
        const r = change.ResourceRecordSet as ResourceRecordSet;
        const at = index(r);
        if (change.Action === 'DELETE') records.splice(at, 1);
        else if (at >= 0) records[at] = { ...r, Name: `${norm(r.Name ?? '')}.` };
        else records.push({ ...r, Name: `${norm(r.Name ?? '')}.` });
      }
      return { ChangeInfo: { Id: '/change/C1', Status: 'PENDING', SubmittedAt: new Date() } };
    });
    return client;
  }

  const deps: DrillDeps = {
    recovery: { rds: rds(RECOVERY), secretsManager: secretsManager(RECOVERY), route53: route53() },
    primary: { rds: rds(PRIMARY), secretsManager: secretsManager(PRIMARY) },
    now: () => new Date('2030-05-01T10:00:00.000Z'),
  };
  return { deps, calls, instances, secrets, records, settings, failures, productionValue };
}

/** Calls that change something. */
export const MUTATING =
  /^(Create|Delete|Change|Remove|Replicate|Stop|Put|Update|Promote|Rotate|Add|Tag|Untag|Modify)/;
