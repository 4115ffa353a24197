import { createHash } from 'node:crypto';
import {
  CreateDBInstanceReadReplicaCommand,
  type CreateDBInstanceReadReplicaCommandInput,
  type DBInstance,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ListTagsForResourceCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import {
  ChangeResourceRecordSetsCommand,
  GetHostedZoneCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  type DescribeSecretResponse,
  GetSecretValueCommand,
  RemoveRegionsFromReplicationCommand,
  ReplicateSecretToRegionsCommand,
  type SecretsManagerClient,
  StopReplicationToReplicaCommand,
} from '@aws-sdk/client-secrets-manager';
import {
  type AuroraDrillContext,
  advanceAuroraDrillCopies,
  auroraDrillNames,
  auroraDrillSource,
  cleanUpAuroraDrillCopies,
} from './aurora/drill.js';
import {
  advanceReplicaClusterDrillCopy,
  cleanUpReplicaClusterDrillCopy,
  replicaClusterDrillNames,
} from './aurora/drill-replica.js';
import { clientsFor } from './clients.js';
import { DEAD_END_STATUSES, describeInstance } from './database-promotion.js';
import { normalizeDnsName } from './dns/names.js';
import {
  AwsCallFailedError,
  awsErrorName,
  ConfigurationError,
  InputInvalidError,
  isTransientAwsError,
  type LifeboatError,
  ResourceBusyError,
  ResourceMissingError,
  TransientAwsError,
  toLifeboatError,
} from './errors.js';
import { logger } from './observability.js';
import type { UnitPlan } from './plan.js';
import {
  instanceUnit,
  isAuroraUnit,
  isGlobalAuroraUnit,
  primaryInstanceArn,
  recoverySecretId,
} from './plan-names.js';
import { timedStep } from './step.js';
import type { PollResult, RunContext, StepResult, UnitStepInput } from './types.js';
import './sdk/rds.js';
import './sdk/route53.js';
import './sdk/secrets-manager.js';

/**
 * Drill mode (docs/design.md, "Modes"): a game day on disposable copies. For each unit lifeboat makes, and afterwards
 * deletes:
 *
 * - a new cross-Region read replica of the production primary, in the recovery Region;
 * - a drill primary secret in the primary Region, replicated to the recovery Region (so that the failover's
 *   StopReplicationToReplica runs for real on the replica), holding production's credentials with `host` set to
 * - a drill CNAME in the plan's hosted zone, pointing at the primary's endpoint as production's does before a failover,
 *   with a TXT owner record beside it (Route 53 records carry no tags; external-dns marks the records it owns the same
 *   way).
 *
 * The failover steps then run unchanged on a unit whose secret, replica and record are the copies. Production is only
 * ever read. Every copy is named after the run (a short hash of the execution name) and tagged with the whole
 * execution name; nothing is reused or deleted unless that tag says this run made it.
 */

export const DRILL_TAG = 'lifeboat:drill';
export const PLAN_TAG = 'lifeboat:plan';
export const UNIT_TAG = 'lifeboat:unit';
/** Prefix of every drill DB instance and record name; drill secrets are named `lifeboat-drill/...`. */
export const DRILL_PREFIX = 'lifeboat-drill';
/** Prefix of the TXT owner records (never a drill CNAME name: those continue with eight hex digits). */
export const DRILL_OWNER_PREFIX = `${DRILL_PREFIX}-owner`;

/** RDS identifiers and DNS labels: at most 63 characters. */
const MAX_NAME = 63;

export interface DrillClients {
  readonly rds: RDSClient;
  readonly secretsManager: SecretsManagerClient;
}

export interface DrillDeps {
  /** Clients in the recovery Region (and Route 53, which is global). */
  readonly recovery: DrillClients & { readonly route53: Route53Client };
  /** Clients in the primary Region: the source of the replica and the home of the drill primary secret. */
  readonly primary: DrillClients;
  readonly now?: () => Date;
}

/** Both Regions' clients from the one factory: the copies come from the primary Region and live in the recovery Region. */
export function drillDeps(run: Pick<RunContext, 'primaryRegion' | 'recoveryRegion'>): DrillDeps {
  const recovery = clientsFor(run.recoveryRegion);
  const primary = clientsFor(run.primaryRegion);
  return {
    recovery: { rds: recovery.rds, secretsManager: recovery.secretsManager, route53: recovery.route53 },
    primary: { rds: primary.rds, secretsManager: primary.secretsManager },
  };
}

export type DrillResourceKind =
  | 'db-instance'
  | 'db-cluster'
  | 'global-cluster'
  | 'primary-secret'
  | 'replica-secret'
  | 'dns-records';

/**
 * A copy and what happened to it. Prepare: `created` or `reused` (already there, tagged by this run). Cleanup:
 * `deleted` (this call), `deleting` (deletion accepted earlier and still running), `absent` (never made, or gone),
 * `pending` (cannot be deleted yet; the state machine calls again), `refused` (there, but not tagged by this run: left
 * alone).
 */
export interface DrillResource {
  kind: DrillResourceKind;
  id: string;
  region: string;
  status: 'created' | 'reused' | 'deleted' | 'deleting' | 'absent' | 'pending' | 'refused';
  note?: string;
}

export interface DrillNames {
  /** DB instance identifier and DNS label of the drill CNAME. */
  instanceId: string;
  /** Name of the drill secret (the primary and its replica share it). */
  secretName: string;
  /** DNS label of the TXT owner record. */
  ownerLabel: string;
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The drill's names for one unit: `lifeboat-drill-<8 hex of the run>-<unit>`, within RDS's and DNS's 63 characters,
 * starting with a letter, without a double or trailing hyphen (RDS identifier rules). A unit name that had to be
 * shortened or cleaned gets four hex digits of its own hash, so two units never share a name.
 */
export function drillNames(runId: string, unitName: string): DrillNames {
  const run = sha(runId).slice(0, 8);
  const head = `${DRILL_PREFIX}-${run}-`;
  const cleaned = unitName
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  let tail = cleaned || 'unit';
  const ownerRoom = MAX_NAME - `${DRILL_OWNER_PREFIX}-${run}-`.length;
  if (tail !== unitName || tail.length > ownerRoom) {
    const mark = sha(unitName).slice(0, 4);
    tail = `${tail.slice(0, ownerRoom - 5).replace(/-$/, '')}-${mark}`;
  }
  return {
    instanceId: `${head}${tail}`,
    secretName: `${DRILL_PREFIX}/${run}-${tail}`,
    ownerLabel: `${DRILL_OWNER_PREFIX}-${run}-${tail}`,
  };
}

/** The TXT value that says which run owns a drill record (quoted, as Route 53 stores TXT strings). */
export function ownerValue(runId: string): string {
  return `"${DRILL_TAG}=${runId}"`;
}

/** The tags every drill copy carries. */
export function drillTags(run: RunContext, unit: UnitPlan): { Key: string; Value: string }[] {
  return [
    { Key: DRILL_TAG, Value: run.runId },
    { Key: PLAN_TAG, Value: run.planName },
    { Key: UNIT_TAG, Value: unit.name },
  ];
}

function tagValue(tags: readonly { Key?: string; Value?: string }[] | undefined, key: string) {
  return tags?.find((t) => t.Key === key)?.Value;
}

/** One SDK call, its errors sorted into our family with the cause kept. */
async function call<T>(what: string, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    throw toLifeboatError(error, what);
  }
}

function assertDrill(run: RunContext, step: string): void {
  if (run.mode !== 'drill') {
    throw new InputInvalidError(`${step}: run.mode is "${run.mode}"; drill copies are made only in a drill`, [
      'run.mode',
    ]);
  }
}

function notOurs(what: string, runId: string, found: string | undefined): ConfigurationError {
  return new ConfigurationError(
    `${what} already exists and is not tagged ${DRILL_TAG}=${runId}${found ? ` (it is tagged ${DRILL_TAG}=${found})` : ' (no drill tag)'}; lifeboat never adopts or deletes what it did not make: remove or rename it, then run the drill again`,
  );
}

/* ---------------------------------------------------------------------------------------------- */
/* Reading                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

const DB_NOT_FOUND = new Set(['DBInstanceNotFoundFault', 'DBInstanceNotFound']);
const DB_INVALID_STATE = new Set(['InvalidDBInstanceStateFault', 'InvalidDBInstanceState']);
const DB_EXISTS = new Set(['DBInstanceAlreadyExistsFault', 'DBInstanceAlreadyExists']);

/** The drill instance, or undefined when there is none (a `deleting` one still counts as there). */
async function findInstance(rds: RDSClient, instanceId: string): Promise<DBInstance | undefined> {
  try {
    const out = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: instanceId }));
    return out.DBInstances?.[0];
  } catch (error) {
    if (DB_NOT_FOUND.has(awsErrorName(error) ?? '')) return undefined;
    throw toLifeboatError(error, `DescribeDBInstances on ${instanceId}`);
  }
}

/** The instance's `lifeboat:drill` tag, read from DescribeDBInstances' TagList or, when absent, ListTagsForResource. */
async function instanceDrillTag(rds: RDSClient, instance: DBInstance): Promise<string | undefined> {
  if (instance.TagList) return tagValue(instance.TagList, DRILL_TAG);
  if (!instance.DBInstanceArn) return undefined;
  try {
    const out = await rds.send(new ListTagsForResourceCommand({ ResourceName: instance.DBInstanceArn }));
    return tagValue(out.TagList, DRILL_TAG);
  } catch (error) {
    throw toLifeboatError(error, `ListTagsForResource on ${instance.DBInstanceArn}`);
  }
}

/** The secret, or undefined when there is none. */
async function findSecret(sm: SecretsManagerClient, name: string, region: string) {
  try {
    return await sm.send(new DescribeSecretCommand({ SecretId: name }));
  } catch (error) {
    if (awsErrorName(error) === 'ResourceNotFoundException') return undefined;
    throw toLifeboatError(error, `DescribeSecret on ${name} in ${region}`);
  }
}

async function zoneName(route53: Route53Client, unit: UnitPlan): Promise<string> {
  try {
    const out = await route53.send(new GetHostedZoneCommand({ Id: unit.dns.hostedZoneId }));
    const name = out.HostedZone?.Name;
    if (!name) throw new AwsCallFailedError(`GetHostedZone ${unit.dns.hostedZoneId} returned no zone name`);
    return normalizeDnsName(name);
  } catch (error) {
    if (awsErrorName(error) === 'NoSuchHostedZone') {
      throw new ResourceMissingError(
        `hosted zone ${unit.dns.hostedZoneId} (units "${unit.name}" dns.hostedZoneId) does not exist`,
        { cause: error },
      );
    }
    throw toLifeboatError(error, `GetHostedZone ${unit.dns.hostedZoneId}`);
  }
}

/** The record set of `name` and `type`, or undefined. */
async function readRecord(
  route53: Route53Client,
  zoneId: string,
  name: string,
  type: 'CNAME' | 'TXT',
): Promise<ResourceRecordSet | undefined> {
  try {
    const out = await route53.send(
      new ListResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        StartRecordName: name,
        StartRecordType: type,
        MaxItems: 1,
      }),
    );
    // The list starts AT the name and type, or at the next record when there is none: check both.
    return out.ResourceRecordSets?.find(
      (r) => r.Type === type && normalizeDnsName(r.Name ?? '') === normalizeDnsName(name),
    );
  } catch (error) {
    throw toLifeboatError(error, `ListResourceRecordSets ${name} ${type} in ${zoneId}`);
  }
}

/** Where the drill's records are: the CNAME and its TXT owner, in the plan's zone. */
interface DrillRecords {
  zoneId: string;
  cname: string;
  owner: string;
}

async function drillRecords(
  route53: Route53Client,
  unit: UnitPlan,
  names: DrillNames,
): Promise<DrillRecords> {
  const zone = await zoneName(route53, unit);
  return {
    zoneId: unit.dns.hostedZoneId,
    cname: `${names.instanceId}.${zone}`,
    owner: `${names.ownerLabel}.${zone}`,
  };
}

/* ---------------------------------------------------------------------------------------------- */
/* Prepare drill copies                                                                            */
/* ---------------------------------------------------------------------------------------------- */

/** PrepareDrill's result: the step result, the unit the failover steps run on, and the copies. */
export interface PrepareDrillResult extends StepResult {
  /** The plan's unit with its secret, replica and record replaced by the drill copies. */
  drillUnit: UnitPlan;
  resources: DrillResource[];
}

/**
 * Makes the unit's drill copies (or finds them, made by this run) and returns the drill unit. Reads production (the
 * replica's settings, the primary's endpoint, the secret's value) and changes nothing there. The secret's value is
 * read to write the drill secret and never leaves this function.
 */
export async function prepareDrillCopies(deps: DrillDeps, input: UnitStepInput): Promise<PrepareDrillResult> {
  // An Aurora unit's drill copy is a drill global database of its own, or a new replica cluster
  // (docs/design/aurora-drill.md): functions/lib/aurora/.
  if (isAuroraUnit(input.unit)) return prepareAuroraDrill(deps, input);
  const { run } = input;
  const unit = instanceUnit(input.unit, 'the drill copy');
  assertDrill(run, 'prepareDrill');
  const names = drillNames(run.runId, unit.name);
  let drillUnit: UnitPlan | undefined;
  let resources: DrillResource[] = [];
  const result = await timedStep(
    'prepareDrill',
    unit.name,
    async () => {
      const [records, replica, primary] = await Promise.all([
        drillRecords(deps.recovery.route53, unit, names),
        describeInstance(deps.recovery.rds, unit.database.replicaInstanceId),
        describeInstance(deps.primary.rds, unit.database.primaryInstanceId),
      ]);
      const source = primaryInstanceArn(run, unit);
      if (!replica.ReadReplicaSourceDBInstanceIdentifier) {
        throw new ConfigurationError(
          `DB instance ${unit.database.replicaInstanceId} is no longer a read replica: the plan looks failed over already; a drill copies a live production replica and cannot run`,
        );
      }
      const endpoint = primary.Endpoint?.Address;
      if (!endpoint) {
        throw new ResourceBusyError(
          `primary DB instance ${unit.database.primaryInstanceId} has no endpoint (status ${primary.DBInstanceStatus})`,
        );
      }
      const instance = await ensureDrillReplica(deps, run, unit, names, replica, source);
      const dns = await ensureDrillRecords(deps, run, unit, records, endpoint);
      const secrets = await ensureDrillSecret(deps, run, unit, names, records.cname);
      resources = [instance, dns, ...secrets];
      drillUnit = {
        ...unit,
        secret: { id: names.secretName },
        database: { ...unit.database, replicaInstanceId: names.instanceId },
        // lifeboat made a simple CNAME: the drill changes it whatever production's strategy is.
        dns: { ...unit.dns, recordName: records.cname, strategy: 'cname' },
      };
      const made = resources.filter((r) => r.status === 'created').map((r) => r.kind);
      logger.info('drill copies ready', { unit: unit.name, runId: run.runId, made });
      return {
        outcome: made.length ? 'changed' : 'already-done',
        detail: {
          call: made.length
            ? [
                made.includes('db-instance') ? 'CreateDBInstanceReadReplica' : undefined,
                made.includes('dns-records') ? 'ChangeResourceRecordSets' : undefined,
                made.includes('primary-secret') ? 'CreateSecret' : undefined,
              ]
                .filter(Boolean)
                .join(', ')
            : null,
          drillInstance: names.instanceId,
          drillSecret: names.secretName,
          drillRecord: records.cname,
          sourceInstance: source,
          primaryEndpoint: normalizeDnsName(endpoint),
        },
      };
    },
    deps.now,
  );
  if (!drillUnit) throw new AwsCallFailedError('prepareDrill ended without a drill unit');
  return { ...result, drillUnit, resources };
}

/* ---------------------------------------------------------------------------------------------- */
/* Aurora global database units (docs/design/aurora-drill.md)                                      */
/* ---------------------------------------------------------------------------------------------- */

function auroraClients(deps: DrillDeps) {
  return { primary: deps.primary.rds, recovery: deps.recovery.rds };
}

function auroraContext(run: RunContext, unit: UnitPlan): AuroraDrillContext {
  return {
    runId: run.runId,
    primaryRegion: run.primaryRegion,
    recoveryRegion: run.recoveryRegion,
    tags: drillTags(run, unit),
    drillTag: DRILL_TAG,
  };
}

/**
 * An Aurora unit's copies: the drill secret and CNAME as for instances (the CNAME at production's primary cluster
 * endpoint, as production's is before a failover), and the first of the drill clusters; the wait loop makes the rest
 * (checkAuroraDrill). The drill unit names the copies.
 * - A global database unit: a clone of the production primary first; the failover steps then run
 *   FailoverGlobalCluster / SwitchoverGlobalCluster on the drill global cluster.
 * - A cross-Region replica cluster unit: a new read replica cluster of the production primary in the recovery Region;
 *   the drill unit keeps production's primary (the copy's source, which PromoteDatabase checks) and names the copy as
 *   its replica, so the failover steps run PromoteReadReplicaDBCluster on the copy.
 */
async function prepareAuroraDrill(deps: DrillDeps, input: UnitStepInput): Promise<PrepareDrillResult> {
  const { run } = input;
  const unit = input.unit;
  if (!isAuroraUnit(unit)) throw new AwsCallFailedError('prepareAuroraDrill needs an Aurora unit');
  assertDrill(run, 'prepareDrill');
  const names = drillNames(run.runId, unit.name);
  const global = isGlobalAuroraUnit(unit);
  const clusters = auroraDrillNames(names.instanceId);
  const replicaCopy = replicaClusterDrillNames(names.instanceId);
  let drillUnit: UnitPlan | undefined;
  let resources: DrillResource[] = [];
  const result = await timedStep(
    'prepareDrill',
    unit.name,
    async () => {
      const [records, primary] = await Promise.all([
        drillRecords(deps.recovery.route53, unit, names),
        call(`DescribeDBClusters ${unit.database.primaryClusterId}`, () =>
          deps.primary.rds.send(
            new DescribeDBClustersCommand({ DBClusterIdentifier: unit.database.primaryClusterId }),
          ),
        ),
      ]);
      const endpoint = primary.DBClusters?.[0]?.Endpoint;
      if (!endpoint) {
        throw new ResourceBusyError(
          `primary Aurora DB cluster ${unit.database.primaryClusterId} has no endpoint (status ${primary.DBClusters?.[0]?.Status})`,
        );
      }
      const progress = global
        ? await advanceAuroraDrillCopies(
            auroraClients(deps),
            auroraContext(run, unit),
            unit.database,
            clusters,
          )
        : await advanceReplicaClusterDrillCopy(
            auroraClients(deps),
            auroraContext(run, unit),
            unit.database,
            replicaCopy,
          );
      const dns = await ensureDrillRecords(deps, run, unit, records, endpoint);
      const secrets = await ensureDrillSecret(deps, run, unit, names, records.cname);
      resources = [...progress.resources, dns, ...secrets];
      drillUnit = {
        ...unit,
        secret: { id: names.secretName },
        database: global
          ? {
              ...unit.database,
              globalClusterId: clusters.globalClusterId,
              primaryClusterId: clusters.primaryClusterId,
              replicaClusterId: clusters.secondaryClusterId,
            }
          : { ...unit.database, replicaClusterId: replicaCopy.clusterId },
        // lifeboat made a simple CNAME at a cluster endpoint: the drill changes it whatever production's DNS is.
        dns: { ...unit.dns, recordName: records.cname, strategy: 'cname', target: 'cluster-endpoint' },
      };
      const made = resources.filter((r) => r.status === 'created').map((r) => r.kind);
      logger.info('drill copies started', {
        unit: unit.name,
        runId: run.runId,
        made,
        status: progress.status,
      });
      return {
        outcome: made.length ? 'changed' : 'already-done',
        detail: {
          call: made.length ? made.join(', ') : null,
          ...(global
            ? {
                drillGlobalCluster: clusters.globalClusterId,
                drillPrimaryCluster: clusters.primaryClusterId,
                drillSecondaryCluster: clusters.secondaryClusterId,
              }
            : { drillReplicaCluster: replicaCopy.clusterId, sourceCluster: unit.database.primaryClusterId }),
          drillSecret: names.secretName,
          drillRecord: records.cname,
          primaryEndpoint: normalizeDnsName(endpoint),
          copies: progress.status,
        },
      };
    },
    deps.now,
  );
  if (!drillUnit) throw new AwsCallFailedError('prepareDrill ended without a drill unit');
  return { ...result, drillUnit, resources };
}

/**
 * One look at an Aurora unit's copies: makes the next drill cluster or instance when its predecessor is ready
 * (functions/lib/aurora/drill.ts, drill-replica.ts); done when all are ready and the drill secret is InSync in the
 * recovery Region. Runs on the drill unit: a global unit's production clusters are read from the clone's tags; a
 * replica cluster unit's copy is made by PrepareDrill and only its instance is left to make here.
 */
async function checkAuroraDrill(deps: DrillDeps, input: DrillPollInput): Promise<PollResult> {
  const { run, unit, attempt } = input;
  if (!isAuroraUnit(unit)) throw new AwsCallFailedError('checkAuroraDrill needs an Aurora unit');
  assertDrill(run, 'checkDrillCopies');
  const observedAt = (deps.now ?? (() => new Date()))().toISOString();
  const ctx = auroraContext(run, unit);
  const base = drillNames(run.runId, unit.name).instanceId;
  let progress: Awaited<ReturnType<typeof advanceAuroraDrillCopies>>;
  if (isGlobalAuroraUnit(unit)) {
    const source = await auroraDrillSource(auroraClients(deps), ctx, unit);
    if (!source) {
      throw new ResourceMissingError(
        `drill Aurora DB cluster ${unit.database.primaryClusterId} of this run does not exist in ${run.primaryRegion} (or has lost its lifeboat tags)`,
      );
    }
    progress = await advanceAuroraDrillCopies(auroraClients(deps), ctx, source, auroraDrillNames(base));
  } else {
    progress = await advanceReplicaClusterDrillCopy(
      auroraClients(deps),
      ctx,
      { primaryClusterId: unit.database.primaryClusterId },
      replicaClusterDrillNames(base),
    );
  }
  const secretName = recoverySecretId(unit);
  const secret = await findSecret(deps.primary.secretsManager, secretName, run.primaryRegion);
  if (!secret)
    throw new ResourceMissingError(`drill secret ${secretName} does not exist in ${run.primaryRegion}`);
  const replication = secret.ReplicationStatus?.find((r) => r.Region === run.recoveryRegion);
  if (replication?.Status === 'Failed') {
    throw new ConfigurationError(
      `replication of drill secret ${secretName} to ${run.recoveryRegion} failed${replication.StatusMessage ? `: ${replication.StatusMessage}` : ''}`,
    );
  }
  const done = progress.done && replication?.Status === 'InSync';
  const status = `${progress.status}/${replication?.Status ?? 'not-replicated'}`;
  logger.info('drill copies polled', { unit: unit.name, status, done, attempt });
  return {
    done,
    status,
    // Clusters take minutes: 30 s while one is being made, 2 s once only the secret is left.
    waitSeconds: done ? 0 : progress.done ? 2 : 30,
    observedAt,
    detail: {
      copies: progress.status,
      made:
        progress.resources
          .filter((r) => r.status === 'created')
          .map((r) => `${r.kind} ${r.id}`)
          .join(', ') || null,
      endpoint: progress.secondaryEndpoint,
      secret: secretName,
      secretReplicationStatus: replication?.Status ?? null,
      attempt,
    },
  };
}

/**
 * A new cross-Region read replica of the production primary, made like the production replica: same class, subnet
 * group, security groups, port and KMS key in the recovery Region (a cross-Region encrypted replica needs a key of its
 * own Region, and RDS puts every replica of a source in one Region into one VPC: CreateDBInstanceReadReplica,
 * DBSubnetGroupName and KmsKeyId). Single-AZ, no deletion protection: it lives for one drill.
 */
export function drillReplicaParameters(
  run: RunContext,
  unit: UnitPlan,
  names: DrillNames,
  productionReplica: DBInstance,
  source: string,
): CreateDBInstanceReadReplicaCommandInput {
  const groups = (productionReplica.VpcSecurityGroups ?? [])
    .map((g) => g.VpcSecurityGroupId)
    .filter((id): id is string => Boolean(id));
  return {
    DBInstanceIdentifier: names.instanceId,
    // An ARN in another Region: the SDK adds the PreSignedUrl signed for the source Region (@aws-sdk/middleware-sdk-rds),
    // so the caller also needs CreateDBInstanceReadReplica on the source instance there.
    SourceDBInstanceIdentifier: source,
    ...(productionReplica.DBInstanceClass ? { DBInstanceClass: productionReplica.DBInstanceClass } : {}),
    ...(productionReplica.DBSubnetGroup?.DBSubnetGroupName
      ? { DBSubnetGroupName: productionReplica.DBSubnetGroup.DBSubnetGroupName }
      : {}),
    ...(groups.length ? { VpcSecurityGroupIds: groups } : {}),
    ...(productionReplica.StorageEncrypted && productionReplica.KmsKeyId
      ? { KmsKeyId: productionReplica.KmsKeyId }
      : {}),
    ...(productionReplica.Endpoint?.Port ? { Port: productionReplica.Endpoint.Port } : {}),
    ...(productionReplica.PubliclyAccessible !== undefined
      ? { PubliclyAccessible: productionReplica.PubliclyAccessible }
      : {}),
    MultiAZ: false,
    AutoMinorVersionUpgrade: false,
    DeletionProtection: false,
    CopyTagsToSnapshot: false,
    Tags: drillTags(run, unit),
  };
}

async function ensureDrillReplica(
  deps: DrillDeps,
  run: RunContext,
  unit: UnitPlan,
  names: DrillNames,
  productionReplica: DBInstance,
  source: string,
): Promise<DrillResource> {
  const resource = { kind: 'db-instance' as const, id: names.instanceId, region: run.recoveryRegion };
  const existing = await findInstance(deps.recovery.rds, names.instanceId);
  if (existing) return { ...resource, status: await reuseInstance(deps, run, existing, names) };
  try {
    await deps.recovery.rds.send(
      new CreateDBInstanceReadReplicaCommand(
        drillReplicaParameters(run, unit, names, productionReplica, source),
      ),
    );
  } catch (error) {
    const name = awsErrorName(error) ?? '';
    if (DB_EXISTS.has(name)) {
      // A retried call whose first attempt was accepted: it is ours only if the tag says so.
      const again = await findInstance(deps.recovery.rds, names.instanceId);
      if (again) return { ...resource, status: await reuseInstance(deps, run, again, names) };
    }
    if (DB_INVALID_STATE.has(name)) {
      throw new ResourceBusyError(
        `CreateDBInstanceReadReplica of ${names.instanceId} from ${source} refused for now (${name}): the primary must be available with automated backups on`,
        { cause: error },
      );
    }
    throw toLifeboatError(error, `CreateDBInstanceReadReplica ${names.instanceId} from ${source}`);
  }
  return { ...resource, status: 'created' };
}

async function reuseInstance(
  deps: DrillDeps,
  run: RunContext,
  instance: DBInstance,
  names: DrillNames,
): Promise<'reused'> {
  const tag = await instanceDrillTag(deps.recovery.rds, instance);
  if (tag !== run.runId)
    throw notOurs(`DB instance ${names.instanceId} in ${run.recoveryRegion}`, run.runId, tag);
  if (instance.DBInstanceStatus === 'deleting') {
    throw new ConfigurationError(
      `DB instance ${names.instanceId} of this drill is being deleted; start a new drill (a new execution)`,
    );
  }
  return 'reused';
}

async function ensureDrillRecords(
  deps: DrillDeps,
  run: RunContext,
  unit: UnitPlan,
  records: DrillRecords,
  endpoint: string,
): Promise<DrillResource> {
  const resource = { kind: 'dns-records' as const, id: records.cname, region: 'global' };
  const route53 = deps.recovery.route53;
  const state = async () => {
    const [cname, owner] = await Promise.all([
      readRecord(route53, records.zoneId, records.cname, 'CNAME'),
      readRecord(route53, records.zoneId, records.owner, 'TXT'),
    ]);
    return {
      cname,
      owner,
      ours: owner?.ResourceRecords?.some((r) => r.Value === ownerValue(run.runId)) ?? false,
    };
  };
  let found = await state();
  if (found.owner && !found.ours) {
    throw notOurs(`record ${records.owner}`, run.runId, found.owner.ResourceRecords?.[0]?.Value);
  }
  if (found.cname && !found.ours) throw notOurs(`record ${records.cname}`, run.runId, undefined);
  if (found.cname && found.ours) return { ...resource, status: 'reused' };
  const changes = [
    {
      Action: 'CREATE' as const,
      ResourceRecordSet: {
        Name: records.cname,
        Type: 'CNAME' as const,
        TTL: unit.dns.ttl,
        ResourceRecords: [{ Value: endpoint }],
      },
    },
    ...(found.owner
      ? []
      : [
          {
            Action: 'CREATE' as const,
            ResourceRecordSet: {
              Name: records.owner,
              Type: 'TXT' as const,
              TTL: 300,
              ResourceRecords: [{ Value: ownerValue(run.runId) }],
            },
          },
        ]),
  ];
  try {
    // CREATE, not UPSERT: Route 53 refuses the batch if either record appeared meanwhile, so nothing is overwritten.
    await route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: records.zoneId,
        ChangeBatch: {
          Comment: `lifeboat drill ${run.runId}: copy of ${unit.dns.recordName} for unit ${unit.name}`.slice(
            0,
            256,
          ),
          Changes: changes,
        },
      }),
    );
  } catch (error) {
    if (awsErrorName(error) !== 'InvalidChangeBatch') {
      throw toLifeboatError(error, `ChangeResourceRecordSets CREATE ${records.cname}`);
    }
    // A retried call whose first attempt was accepted, or someone else's records: read again and decide.
    found = await state();
    if (found.cname && found.ours) return { ...resource, status: 'reused' };
    throw toLifeboatError(error, `ChangeResourceRecordSets CREATE ${records.cname}`);
  }
  return { ...resource, status: 'created' };
}

/** A ClientRequestToken that is the same for every attempt of this run's unit (32-64 characters). */
export function drillSecretToken(runId: string, unitName: string): string {
  return `lifeboat-drill-${sha(`${runId}\n${unitName}`).slice(0, 40)}`;
}

async function ensureDrillSecret(
  deps: DrillDeps,
  run: RunContext,
  unit: UnitPlan,
  names: DrillNames,
  host: string,
): Promise<DrillResource[]> {
  const primary = { kind: 'primary-secret' as const, id: names.secretName, region: run.primaryRegion };
  const replica = { kind: 'replica-secret' as const, id: names.secretName, region: run.recoveryRegion };
  const sm = deps.primary.secretsManager;
  const reuse = async (secret: DescribeSecretResponse): Promise<DrillResource[]> => {
    const tag = tagValue(secret.Tags, DRILL_TAG);
    if (tag !== run.runId)
      throw notOurs(`secret ${names.secretName} in ${run.primaryRegion}`, run.runId, tag);
    if (secret.DeletedDate) {
      throw new ConfigurationError(
        `secret ${names.secretName} of this drill is scheduled for deletion; start a new drill (a new execution)`,
      );
    }
    const replicated = secret.ReplicationStatus?.some((r) => r.Region === run.recoveryRegion) ?? false;
    if (!replicated) {
      await call(`ReplicateSecretToRegions ${names.secretName} to ${run.recoveryRegion}`, () =>
        sm.send(
          new ReplicateSecretToRegionsCommand({
            SecretId: secret.ARN ?? names.secretName,
            AddReplicaRegions: [{ Region: run.recoveryRegion }],
          }),
        ),
      );
      return [
        { ...primary, status: 'reused' },
        { ...replica, status: 'created' },
      ];
    }
    return [
      { ...primary, status: 'reused' },
      { ...replica, status: 'reused' },
    ];
  };
  const existing = await findSecret(sm, names.secretName, run.primaryRegion);
  if (existing) return reuse(existing);

  const value = await productionSecretValue(deps, run, unit);
  try {
    await sm.send(
      new CreateSecretCommand({
        Name: names.secretName,
        Description: `lifeboat drill ${run.runId}: copy of ${unit.secret.id} for unit ${unit.name}; deleted when the drill ends`,
        SecretString: JSON.stringify({ ...value, host }),
        ClientRequestToken: drillSecretToken(run.runId, unit.name),
        Tags: drillTags(run, unit),
        AddReplicaRegions: [{ Region: run.recoveryRegion }],
      }),
    );
  } catch (error) {
    if (awsErrorName(error) === 'ResourceExistsException') {
      const again = await findSecret(sm, names.secretName, run.primaryRegion);
      if (again) return reuse(again);
    }
    throw valueSafeError(error, `CreateSecret ${names.secretName} in ${run.primaryRegion}`);
  }
  return [
    { ...primary, status: 'created' },
    { ...replica, status: 'created' },
  ];
}

/**
 * An error of a call that carries a secret value (its request or its answer), sorted like toLifeboatError but without
 * the cause or the SDK's message: only the error's name, so that no part of the value can ride along.
 */
function valueSafeError(error: unknown, what: string): LifeboatError {
  const text = `${what} failed: ${awsErrorName(error) ?? 'Error'}`;
  return isTransientAwsError(error) ? new TransientAwsError(text) : new AwsCallFailedError(text);
}

/**
 * Production's secret value, read from its replica in the recovery Region (what an application there reads). Only
 * the parsed JSON is returned, to be written into the drill secret; errors never carry the text.
 */
async function productionSecretValue(
  deps: DrillDeps,
  run: RunContext,
  unit: UnitPlan,
): Promise<Record<string, unknown>> {
  const id = recoverySecretId(unit);
  let text: string | undefined;
  try {
    text = (await deps.recovery.secretsManager.send(new GetSecretValueCommand({ SecretId: id })))
      .SecretString;
  } catch (error) {
    if (awsErrorName(error) === 'ResourceNotFoundException') {
      throw new ResourceMissingError(
        `secret ${id} does not exist in ${run.recoveryRegion} (units "${unit.name}" secret.id)`,
      );
    }
    throw valueSafeError(error, `GetSecretValue ${id} in ${run.recoveryRegion}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch {
    throw new ConfigurationError(`secret ${id}: the value is not a JSON object`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigurationError(`secret ${id}: the value is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/* ---------------------------------------------------------------------------------------------- */
/* Check drill copies                                                                              */
/* ---------------------------------------------------------------------------------------------- */

export interface DrillPollInput extends UnitStepInput {
  attempt: number;
}

/**
 * Seconds until the next look at the copies. Creating a cross-Region replica takes many minutes (a snapshot of the
 * primary is copied across Regions), so 30 s while `creating`; 10 s through the short statuses that follow; 2 s once
 * only the secret's replication (seconds) is left.
 */
export function drillCopiesPollSeconds(dbStatus: string | undefined, dbReady: boolean): number {
  if (dbReady) return 2;
  if (dbStatus === undefined || dbStatus === 'creating') return 30;
  return 10;
}

/**
 * One look at the copies (the "Wait for drill copies" loop): done when the drill replica is `available` and the drill
 * secret's replication to the recovery Region is `InSync` as its primary reports it (the
 * primary Region is up in a drill: the copies come from there).
 */
export async function checkDrillCopies(deps: DrillDeps, input: DrillPollInput): Promise<PollResult> {
  if (isAuroraUnit(input.unit)) return checkAuroraDrill(deps, input);
  const { run, attempt } = input;
  const unit = instanceUnit(input.unit, 'the drill copy');
  assertDrill(run, 'checkDrillCopies');
  const observedAt = (deps.now ?? (() => new Date()))().toISOString();
  const instanceId = unit.database.replicaInstanceId;
  const secretName = recoverySecretId(unit);
  const [instance, secret, copy] = await Promise.all([
    findInstance(deps.recovery.rds, instanceId),
    findSecret(deps.primary.secretsManager, secretName, run.primaryRegion),
    findSecret(deps.recovery.secretsManager, secretName, run.recoveryRegion),
  ]);
  if (!instance)
    throw new ResourceMissingError(`drill DB instance ${instanceId} does not exist in ${run.recoveryRegion}`);
  if (!secret)
    throw new ResourceMissingError(`drill secret ${secretName} does not exist in ${run.primaryRegion}`);
  const dbStatus = instance.DBInstanceStatus ?? 'unknown';
  if (DEAD_END_STATUSES.has(dbStatus)) {
    throw new ConfigurationError(
      `drill DB instance ${instanceId} is "${dbStatus}", a status RDS does not leave on its own; the drill cannot go on (see its Recent events)`,
    );
  }
  const replication = secret.ReplicationStatus?.find((r) => r.Region === run.recoveryRegion);
  if (replication?.Status === 'Failed') {
    throw new ConfigurationError(
      `replication of drill secret ${secretName} to ${run.recoveryRegion} failed${replication.StatusMessage ? `: ${replication.StatusMessage}` : ''}`,
    );
  }
  // `available` is enough: a copy that is no longer a replica was promoted by this drill already (a redriven unit).
  const dbReady = dbStatus === 'available';
  const promotedCopy =
    copy !== undefined &&
    !copy.DeletedDate &&
    (copy.PrimaryRegion ?? run.recoveryRegion) === run.recoveryRegion;
  const secretReady = replication?.Status === 'InSync' || promotedCopy;
  const done = dbReady && secretReady;
  const status = `${dbStatus}/${replication?.Status ?? 'not-replicated'}`;
  logger.info('drill copies polled', { unit: unit.name, status, done, attempt });
  return {
    done,
    status,
    waitSeconds: done ? 0 : drillCopiesPollSeconds(dbStatus, dbReady),
    observedAt,
    detail: {
      instance: instanceId,
      instanceStatus: dbStatus,
      endpoint: instance.Endpoint?.Address ?? null,
      secret: secretName,
      secretReplicationStatus: replication?.Status ?? (promotedCopy ? 'promoted' : null),
      attempt,
    },
  };
}

/* ---------------------------------------------------------------------------------------------- */
/* Clean up drill copies                                                                           */
/* ---------------------------------------------------------------------------------------------- */

/** One cleanup pass; the state machine calls again (bounded) while something is `pending`. */
export interface DrillCleanupResult extends PollResult {
  /** Every copy of the unit, with what happened to it. */
  resources: DrillResource[];
  /** Copies that are still there (pending) and ones left alone because this run did not make them (refused). */
  remaining: DrillResource[];
}

/** Seconds between cleanup passes while a copy cannot be deleted yet (an instance busy, a replica being removed). */
export const DRILL_CLEANUP_POLL_SECONDS = 10;

/**
 * Deletes the unit's drill copies: each only after reading it again and finding the tag (for records, the TXT owner)
 * of this run. Works from the run and the unit's name alone, never from the unit's resource ids, so it finds what a
 * crashed or partial drill left and can never reach a production resource; what is already gone is fine. Idempotent.
 */
export async function cleanUpDrillCopies(
  deps: DrillDeps,
  input: DrillPollInput,
): Promise<DrillCleanupResult> {
  const { run, unit, attempt } = input;
  assertDrill(run, 'cleanUpDrill');
  const names = drillNames(run.runId, unit.name);
  const observedAt = (deps.now ?? (() => new Date()))().toISOString();
  const records = await drillRecords(deps.recovery.route53, unit, names);
  const dns = await cleanUpRecords(deps, run, records);
  const secrets = await cleanUpSecrets(deps, run, names);
  // An Aurora unit's database copies are clusters and a global cluster (functions/lib/aurora/drill.ts), or one
  // replica cluster (functions/lib/aurora/drill-replica.ts).
  const databases: DrillResource[] = isGlobalAuroraUnit(unit)
    ? await cleanUpAuroraDrillCopies(
        auroraClients(deps),
        auroraContext(run, unit),
        auroraDrillNames(names.instanceId),
      )
    : isAuroraUnit(unit)
      ? await cleanUpReplicaClusterDrillCopy(
          auroraClients(deps),
          auroraContext(run, unit),
          replicaClusterDrillNames(names.instanceId),
        )
      : [await cleanUpInstance(deps, run, names)];
  const resources = [...databases, dns, ...secrets];
  const remaining = resources.filter((r) => r.status === 'pending' || r.status === 'refused');
  const done = !resources.some((r) => r.status === 'pending');
  const status = done ? (remaining.length ? 'refused-some' : 'clean') : 'pending';
  logger.info('drill cleanup pass', {
    unit: unit.name,
    runId: run.runId,
    attempt,
    resources: resources.map((r) => `${r.kind} ${r.id}: ${r.status}`),
  });
  return {
    done,
    status,
    waitSeconds: done ? 0 : DRILL_CLEANUP_POLL_SECONDS,
    observedAt,
    detail: {
      deleted: resources.filter((r) => r.status === 'deleted' || r.status === 'deleting').length,
      remaining: remaining.map((r) => `${r.kind} ${r.id} (${r.status})`).join('; ') || null,
      attempt,
    },
    resources,
    remaining,
  };
}

async function cleanUpRecords(
  deps: DrillDeps,
  run: RunContext,
  records: DrillRecords,
): Promise<DrillResource> {
  const resource = { kind: 'dns-records' as const, id: records.cname, region: 'global' };
  const route53 = deps.recovery.route53;
  const [cname, owner] = await Promise.all([
    readRecord(route53, records.zoneId, records.cname, 'CNAME'),
    readRecord(route53, records.zoneId, records.owner, 'TXT'),
  ]);
  if (!cname && !owner) return { ...resource, status: 'absent' };
  const ours = owner?.ResourceRecords?.some((r) => r.Value === ownerValue(run.runId)) ?? false;
  if (!ours) {
    return {
      ...resource,
      status: 'refused',
      note: owner
        ? `owner record says ${owner.ResourceRecords?.[0]?.Value ?? '?'}, not this run`
        : 'no owner record: not made by lifeboat',
    };
  }
  // DELETE must name each record exactly as it is now (value and TTL), or Route 53 refuses the whole batch.
  const changes = [cname, owner]
    .filter((r): r is ResourceRecordSet => r !== undefined)
    .map((r) => ({ Action: 'DELETE' as const, ResourceRecordSet: r }));
  try {
    await route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: records.zoneId,
        ChangeBatch: { Comment: `lifeboat drill ${run.runId}: clean up`.slice(0, 256), Changes: changes },
      }),
    );
  } catch (error) {
    // Changed or deleted between the read and the delete (e.g. a retry whose first attempt went through): next pass.
    if (awsErrorName(error) === 'InvalidChangeBatch') return { ...resource, status: 'pending' };
    throw toLifeboatError(error, `ChangeResourceRecordSets DELETE ${records.cname}`);
  }
  return { ...resource, status: 'deleted' };
}

/**
 * The drill primary secret (primary Region) and its replica (recovery Region). A primary that still has replicas
 * cannot be deleted and a replica cannot be deleted at all (docs/aws/secrets-manager-replication.md, "Deleting replicated secrets"): an unpromoted replica is removed
 * from the primary with RemoveRegionsFromReplication; a promoted one is a standalone secret and deleted itself.
 */
async function cleanUpSecrets(deps: DrillDeps, run: RunContext, names: DrillNames): Promise<DrillResource[]> {
  const primaryRes = { kind: 'primary-secret' as const, id: names.secretName, region: run.primaryRegion };
  const replicaRes = { kind: 'replica-secret' as const, id: names.secretName, region: run.recoveryRegion };
  const psm = deps.primary.secretsManager;
  const rsm = deps.recovery.secretsManager;

  let primary: DrillResource;
  const found = await findSecret(psm, names.secretName, run.primaryRegion);
  if (!found || found.DeletedDate) {
    primary = { ...primaryRes, status: found ? 'deleting' : 'absent' };
  } else if (tagValue(found.Tags, DRILL_TAG) !== run.runId) {
    primary = { ...primaryRes, status: 'refused', note: 'not tagged by this run' };
  } else {
    const secretId = found.ARN ?? names.secretName;
    if (found.ReplicationStatus?.some((r) => r.Region === run.recoveryRegion)) {
      await call(`RemoveRegionsFromReplication ${names.secretName}`, () =>
        psm.send(
          new RemoveRegionsFromReplicationCommand({
            SecretId: secretId,
            RemoveReplicaRegions: [run.recoveryRegion],
          }),
        ),
      );
    }
    primary = await deleteSecret(psm, secretId, primaryRes, run.primaryRegion);
  }

  let replica: DrillResource;
  const copy = await findSecret(rsm, names.secretName, run.recoveryRegion);
  if (!copy || copy.DeletedDate) {
    replica = { ...replicaRes, status: copy ? 'deleting' : 'absent' };
  } else if (tagValue(copy.Tags, DRILL_TAG) !== run.runId) {
    replica = { ...replicaRes, status: 'refused', note: 'not tagged by this run' };
  } else if (copy.PrimaryRegion && copy.PrimaryRegion !== run.recoveryRegion) {
    if (primary.status === 'absent') {
      // An orphaned replica (its primary is gone): make it standalone so that it can be deleted.
      await call(`StopReplicationToReplica ${names.secretName}`, () =>
        rsm.send(new StopReplicationToReplicaCommand({ SecretId: copy.ARN ?? names.secretName })),
      );
    }
    // Being removed by RemoveRegionsFromReplication (or just made standalone): look again on the next pass.
    replica = { ...replicaRes, status: 'pending', note: 'replica being removed' };
  } else {
    replica = await deleteSecret(rsm, copy.ARN ?? names.secretName, replicaRes, run.recoveryRegion);
  }
  return [primary, replica];
}

async function deleteSecret(
  sm: SecretsManagerClient,
  secretId: string,
  resource: Omit<DrillResource, 'status'>,
  region: string,
): Promise<DrillResource> {
  try {
    await sm.send(new DeleteSecretCommand({ SecretId: secretId, ForceDeleteWithoutRecovery: true }));
    return { ...resource, status: 'deleted' };
  } catch (error) {
    const name = awsErrorName(error);
    if (name === 'ResourceNotFoundException') return { ...resource, status: 'absent' };
    // Replicas still being removed, or a replica not yet standalone: the next pass deletes it.
    if (name === 'InvalidParameterException' || name === 'InvalidRequestException') {
      return { ...resource, status: 'pending', note: `DeleteSecret refused for now (${name})` };
    }
    throw toLifeboatError(error, `DeleteSecret ${secretId} in ${region}`);
  }
}

async function cleanUpInstance(deps: DrillDeps, run: RunContext, names: DrillNames): Promise<DrillResource> {
  const resource = { kind: 'db-instance' as const, id: names.instanceId, region: run.recoveryRegion };
  const rds = deps.recovery.rds;
  const instance = await findInstance(rds, names.instanceId);
  if (!instance) return { ...resource, status: 'absent' };
  const tag = await instanceDrillTag(rds, instance);
  if (tag !== run.runId) {
    return { ...resource, status: 'refused', note: tag ? `tagged by run ${tag}` : 'no drill tag' };
  }
  if (instance.DBInstanceStatus === 'deleting') return { ...resource, status: 'deleting' };
  try {
    await rds.send(
      new DeleteDBInstanceCommand({
        DBInstanceIdentifier: names.instanceId,
        SkipFinalSnapshot: true,
        DeleteAutomatedBackups: true,
      }),
    );
  } catch (error) {
    const name = awsErrorName(error) ?? '';
    if (DB_NOT_FOUND.has(name)) return { ...resource, status: 'absent' };
    // Busy (creating, modifying, backing-up, ...): RDS takes the delete once the instance settles.
    if (DB_INVALID_STATE.has(name)) {
      return { ...resource, status: 'pending', note: `instance is ${instance.DBInstanceStatus}` };
    }
    throw toLifeboatError(error, `DeleteDBInstance ${names.instanceId}`);
  }
  return { ...resource, status: 'deleted' };
}
