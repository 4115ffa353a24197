import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  CreateGlobalClusterCommand,
  type DBCluster,
  type DBInstance,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DeleteGlobalClusterCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
  type GlobalCluster,
  type RDSClient,
  RemoveFromGlobalClusterCommand,
  RestoreDBClusterToPointInTimeCommand,
} from '@aws-sdk/client-rds';
import { DEAD_END_STATUSES } from '../database-promotion.js';
import { awsErrorName, ConfigurationError, ResourceMissingError, toLifeboatError } from '../errors.js';
import type { AuroraUnitPlan } from '../plan.js';
import '../sdk/rds.js';

/**
 * The drill copy of an Aurora global database unit (docs/design/aurora-drill.md): a drill global database of its own,
 * made from production without changing it, so that the failover steps run FailoverGlobalCluster (or
 * SwitchoverGlobalCluster) for real on disposable clusters. In order, each made once its predecessor is `available`:
 *
 * 1. a copy-on-write clone of the production primary cluster (primary Region) and one DB instance in it;
 * 2. a drill global cluster from the clone;
 * 3. a drill secondary cluster in the recovery Region, in that global cluster, and one DB instance in it.
 *
 * `advanceAuroraDrillCopies` makes the next missing piece (or finds it, tagged by this run) and says whether all are
 * ready; the drill's wait loop calls it again. `cleanUpAuroraDrillCopies` takes them apart in the order AWS requires.
 * Production is only described. Nothing is adopted or deleted unless its `lifeboat:drill` tag is this run's.
 */

export interface AuroraDrillClients {
  /** RDS in the primary Region: production's primary cluster, the clone. */
  readonly primary: RDSClient;
  /** RDS in the recovery Region: production's secondary, the drill secondary, the global clusters. */
  readonly recovery: RDSClient;
}

/** The drill's identifiers for one unit, from the unit's drill base name (`lifeboat-drill-<8 hex>-<unit>`). */
export interface AuroraDrillNames {
  readonly primaryClusterId: string;
  readonly primaryInstanceId: string;
  readonly globalClusterId: string;
  /** Cluster names are unique across all Regions: the secondary's differs from the clone's. */
  readonly secondaryClusterId: string;
  readonly secondaryInstanceId: string;
}

/** RDS identifiers: at most 63 characters, no trailing or double hyphen. */
export function auroraDrillNames(base: string): AuroraDrillNames {
  const head = base.slice(0, 63 - '-dr-1'.length).replace(/-+$/, '');
  return {
    primaryClusterId: head,
    primaryInstanceId: `${head}-1`,
    globalClusterId: `${head}-g`,
    secondaryClusterId: `${head}-dr`,
    secondaryInstanceId: `${head}-dr-1`,
  };
}

export type AuroraDrillKind = 'db-cluster' | 'db-instance' | 'global-cluster';

/** A copy and what happened to it (the statuses of functions/lib/drill.ts, DrillResource). */
export interface AuroraDrillResource {
  kind: AuroraDrillKind;
  id: string;
  region: string;
  status: 'created' | 'reused' | 'deleted' | 'deleting' | 'absent' | 'pending' | 'refused';
  note?: string;
}

export interface AuroraDrillContext {
  readonly runId: string;
  readonly primaryRegion: string;
  readonly recoveryRegion: string;
  /** The tags every copy carries (functions/lib/drill.ts, drillTags): the first is `lifeboat:drill` = runId. */
  readonly tags: { Key: string; Value: string }[];
  readonly drillTag: string;
}

/**
 * The production clusters a drill copies. The clone carries them in its tags (COPY_OF_*), so that the later passes,
 * which run on the drill unit (whose ids are the copies), still know where to read the secondary's network settings.
 */
export interface AuroraDrillSource {
  readonly engine: AuroraUnitPlan['database']['engine'];
  readonly primaryClusterId: string;
  readonly replicaClusterId: string;
}

export const COPY_OF_PRIMARY_TAG = 'lifeboat:copy-of-primary';
export const COPY_OF_SECONDARY_TAG = 'lifeboat:copy-of-secondary';

/** The source of a drill unit's copies, from its clone's tags; undefined while there is no clone of this run. */
export async function auroraDrillSource(
  clients: AuroraDrillClients,
  ctx: AuroraDrillContext,
  drillUnit: AuroraUnitPlan,
): Promise<AuroraDrillSource | undefined> {
  const clone = await findCluster(clients.primary, drillUnit.database.primaryClusterId);
  if (!clone || tagOf(clone.TagList, ctx.drillTag) !== ctx.runId) return undefined;
  const primaryClusterId = tagOf(clone.TagList, COPY_OF_PRIMARY_TAG);
  const replicaClusterId = tagOf(clone.TagList, COPY_OF_SECONDARY_TAG);
  return primaryClusterId && replicaClusterId
    ? { engine: drillUnit.database.engine, primaryClusterId, replicaClusterId }
    : undefined;
}

export interface AuroraDrillProgress {
  /** Every copy is there and `available`, the secondary a member (not the writer) of the drill global cluster. */
  done: boolean;
  /** What is being waited for, e.g. `clone creating`. */
  status: string;
  /** The copies, with what this call did. */
  resources: AuroraDrillResource[];
  /** The drill secondary's cluster endpoint, once it has one. */
  secondaryEndpoint: string | null;
}

const CLUSTER_NOT_FOUND = new Set(['DBClusterNotFoundFault', 'DBClusterNotFound']);
const INSTANCE_NOT_FOUND = new Set(['DBInstanceNotFoundFault', 'DBInstanceNotFound']);
const GLOBAL_NOT_FOUND = new Set(['GlobalClusterNotFoundFault', 'GlobalClusterNotFound']);
const INVALID_STATE = new Set([
  'InvalidDBClusterStateFault',
  'InvalidDBClusterState',
  'InvalidDBInstanceStateFault',
  'InvalidDBInstanceState',
  'InvalidGlobalClusterStateFault',
  'InvalidGlobalClusterState',
]);

export function tagOf(
  tags: readonly { Key?: string; Value?: string }[] | undefined,
  key: string,
): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}

export async function send<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toLifeboatError(error, what);
  }
}

export async function findCluster(rds: RDSClient, id: string): Promise<DBCluster | undefined> {
  try {
    const out = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }));
    return out.DBClusters?.[0];
  } catch (error) {
    if (CLUSTER_NOT_FOUND.has(awsErrorName(error) ?? '')) return undefined;
    throw toLifeboatError(error, `DescribeDBClusters ${id}`);
  }
}

async function findInstance(rds: RDSClient, id: string): Promise<DBInstance | undefined> {
  try {
    const out = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
    return out.DBInstances?.[0];
  } catch (error) {
    if (INSTANCE_NOT_FOUND.has(awsErrorName(error) ?? '')) return undefined;
    throw toLifeboatError(error, `DescribeDBInstances ${id}`);
  }
}

async function findGlobal(rds: RDSClient, id: string): Promise<GlobalCluster | undefined> {
  try {
    const out = await rds.send(new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: id }));
    return out.GlobalClusters?.find((g) => g.GlobalClusterIdentifier === id);
  } catch (error) {
    if (GLOBAL_NOT_FOUND.has(awsErrorName(error) ?? '')) return undefined;
    throw toLifeboatError(error, `DescribeGlobalClusters ${id}`);
  }
}

export function notOurs(
  ctx: AuroraDrillContext,
  what: string,
  found: string | undefined,
): ConfigurationError {
  return new ConfigurationError(
    `${what} already exists and is not tagged ${ctx.drillTag}=${ctx.runId}${found ? ` (it is tagged ${ctx.drillTag}=${found})` : ' (no drill tag)'}; lifeboat never adopts or deletes what it did not make: remove or rename it, then run the drill again`,
  );
}

export function deadEnd(what: string, status: string): ConfigurationError {
  return new ConfigurationError(
    `${what} is "${status}", a status RDS does not leave on its own; the drill cannot go on (see its Recent events)`,
  );
}

/** Production's cluster, which must exist: the drill copies it. */
export async function production(rds: RDSClient, id: string, region: string): Promise<DBCluster> {
  const cluster = await findCluster(rds, id);
  if (!cluster) throw new ResourceMissingError(`Aurora DB cluster ${id} does not exist in ${region}`);
  return cluster;
}

/** The instance class of a production cluster's writer (or first) instance: the copies get the same. */
export async function instanceClassOf(rds: RDSClient, cluster: DBCluster): Promise<string> {
  const members = cluster.DBClusterMembers ?? [];
  const member = members.find((m) => m.IsClusterWriter) ?? members[0];
  const instance = member?.DBInstanceIdentifier
    ? await findInstance(rds, member.DBInstanceIdentifier)
    : undefined;
  // A cluster without instances (a headless secondary) says nothing: the smallest class global databases allow.
  return instance?.DBInstanceClass ?? 'db.r6g.large';
}

export function networkOf(cluster: DBCluster) {
  const groups = (cluster.VpcSecurityGroups ?? [])
    .map((g) => g.VpcSecurityGroupId)
    .filter((id): id is string => Boolean(id));
  return {
    ...(cluster.DBSubnetGroup ? { DBSubnetGroupName: cluster.DBSubnetGroup } : {}),
    ...(groups.length ? { VpcSecurityGroupIds: groups } : {}),
    ...(cluster.StorageEncrypted && cluster.KmsKeyId ? { KmsKeyId: cluster.KmsKeyId } : {}),
  };
}

/**
 * One pass over the copies: makes the next missing one (after reading that it is missing) and reports what is still
 * being waited for. Idempotent: a copy this run made is reused, one it did not is refused with an error before
 * anything is changed.
 */
export async function advanceAuroraDrillCopies(
  clients: AuroraDrillClients,
  ctx: AuroraDrillContext,
  source: AuroraDrillSource,
  names: AuroraDrillNames,
): Promise<AuroraDrillProgress> {
  const unit = { database: source };
  const { primaryRegion, recoveryRegion } = ctx;
  const resources: AuroraDrillResource[] = [];
  const waiting = (status: string): AuroraDrillProgress => ({
    done: false,
    status,
    resources,
    secondaryEndpoint: null,
  });
  const ours = (tags: DBCluster['TagList'], what: string) => {
    const tag = tagOf(tags, ctx.drillTag);
    if (tag !== ctx.runId) throw notOurs(ctx, what, tag);
  };

  // 1. The clone of production's primary, and its instance.
  const clone = await findCluster(clients.primary, names.primaryClusterId);
  const cloneWhat = `Aurora DB cluster ${names.primaryClusterId} in ${primaryRegion}`;
  if (!clone) {
    const prodPrimary = await production(clients.primary, unit.database.primaryClusterId, primaryRegion);
    await send(`RestoreDBClusterToPointInTime ${names.primaryClusterId}`, () =>
      clients.primary.send(
        new RestoreDBClusterToPointInTimeCommand({
          DBClusterIdentifier: names.primaryClusterId,
          SourceDBClusterIdentifier: unit.database.primaryClusterId,
          RestoreType: 'copy-on-write',
          UseLatestRestorableTime: true,
          ...networkOf(prodPrimary),
          DeletionProtection: false,
          CopyTagsToSnapshot: false,
          Tags: [
            ...ctx.tags,
            { Key: COPY_OF_PRIMARY_TAG, Value: source.primaryClusterId },
            { Key: COPY_OF_SECONDARY_TAG, Value: source.replicaClusterId },
          ],
        }),
      ),
    );
    resources.push({
      kind: 'db-cluster',
      id: names.primaryClusterId,
      region: primaryRegion,
      status: 'created',
    });
    return waiting('clone creating');
  }
  ours(clone.TagList, cloneWhat);
  const cloneStatus = clone.Status ?? 'unknown';
  if (DEAD_END_STATUSES.has(cloneStatus)) throw deadEnd(`drill ${cloneWhat}`, cloneStatus);
  if (cloneStatus !== 'available') return waiting(`clone ${cloneStatus}`);
  const cloneInstance = await ensureInstance(
    clients.primary,
    ctx,
    clone,
    names.primaryInstanceId,
    primaryRegion,
    async () =>
      instanceClassOf(
        clients.primary,
        await production(clients.primary, unit.database.primaryClusterId, primaryRegion),
      ),
    resources,
  );
  if (cloneInstance !== 'available') return waiting(`clone instance ${cloneInstance}`);

  // 2. The drill global cluster from the clone.
  const global = await findGlobal(clients.recovery, names.globalClusterId);
  if (!global) {
    await send(`CreateGlobalCluster ${names.globalClusterId}`, () =>
      clients.recovery.send(
        new CreateGlobalClusterCommand({
          GlobalClusterIdentifier: names.globalClusterId,
          SourceDBClusterIdentifier: clone.DBClusterArn,
          Tags: ctx.tags,
        }),
      ),
    );
    resources.push({
      kind: 'global-cluster',
      id: names.globalClusterId,
      region: 'global',
      status: 'created',
    });
    return waiting('global cluster creating');
  }
  ours(global.TagList, `Aurora global cluster ${names.globalClusterId}`);

  // 3. The drill secondary in the recovery Region, and its instance.
  const secondary = await findCluster(clients.recovery, names.secondaryClusterId);
  const secondaryWhat = `Aurora DB cluster ${names.secondaryClusterId} in ${recoveryRegion}`;
  if (!secondary) {
    const prod = await production(clients.recovery, unit.database.replicaClusterId, recoveryRegion);
    await send(`CreateDBCluster ${names.secondaryClusterId}`, () =>
      clients.recovery.send(
        new CreateDBClusterCommand({
          DBClusterIdentifier: names.secondaryClusterId,
          Engine: unit.database.engine,
          ...(clone.EngineVersion ? { EngineVersion: clone.EngineVersion } : {}),
          GlobalClusterIdentifier: names.globalClusterId,
          ...networkOf(prod),
          DeletionProtection: false,
          CopyTagsToSnapshot: false,
          Tags: ctx.tags,
        }),
      ),
    );
    resources.push({
      kind: 'db-cluster',
      id: names.secondaryClusterId,
      region: recoveryRegion,
      status: 'created',
    });
    return waiting('secondary creating');
  }
  ours(secondary.TagList, secondaryWhat);
  const secondaryStatus = secondary.Status ?? 'unknown';
  if (DEAD_END_STATUSES.has(secondaryStatus)) throw deadEnd(`drill ${secondaryWhat}`, secondaryStatus);
  if (secondaryStatus !== 'available') return waiting(`secondary ${secondaryStatus}`);
  const secondaryInstance = await ensureInstance(
    clients.recovery,
    ctx,
    secondary,
    names.secondaryInstanceId,
    recoveryRegion,
    async () =>
      instanceClassOf(
        clients.recovery,
        await production(clients.recovery, unit.database.replicaClusterId, recoveryRegion),
      ),
    resources,
  );
  if (secondaryInstance !== 'available') return waiting(`secondary instance ${secondaryInstance}`);
  const member = global.GlobalClusterMembers?.find((m) => m.DBClusterArn === secondary.DBClusterArn);
  if (!member) return waiting('secondary joining the global cluster');
  return { done: true, status: 'ready', resources, secondaryEndpoint: secondary.Endpoint ?? null };
}

/** The cluster's one drill instance: made when missing; answers its status. */
export async function ensureInstance(
  rds: RDSClient,
  ctx: AuroraDrillContext,
  cluster: DBCluster,
  id: string,
  region: string,
  instanceClass: () => Promise<string>,
  resources: AuroraDrillResource[],
): Promise<string> {
  const instance = await findInstance(rds, id);
  if (instance) {
    const tag = tagOf(instance.TagList, ctx.drillTag);
    if (tag !== ctx.runId) throw notOurs(ctx, `DB instance ${id} in ${region}`, tag);
    const status = instance.DBInstanceStatus ?? 'unknown';
    if (DEAD_END_STATUSES.has(status)) throw deadEnd(`drill DB instance ${id}`, status);
    return status;
  }
  const klass = await instanceClass();
  await send(`CreateDBInstance ${id}`, () =>
    rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: id,
        DBClusterIdentifier: cluster.DBClusterIdentifier,
        Engine: cluster.Engine,
        DBInstanceClass: klass,
        AutoMinorVersionUpgrade: false,
        Tags: ctx.tags,
      }),
    ),
  );
  resources.push({ kind: 'db-instance', id, region, status: 'created' });
  return 'creating';
}

/* ---------------------------------------------------------------------------------------------- */
/* Clean-up                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

/**
 * One clean-up pass (docs/design/aurora-drill.md, "Clean-up"): detaches the drill clusters from the drill global
 * cluster (secondaries first, the writer last), deletes each cluster's instances, then the clusters, then the empty
 * global cluster. Each is read again first and deleted only when tagged by this run; what is gone is fine; what must
 * wait is `pending` (the state machine calls again).
 */
export async function cleanUpAuroraDrillCopies(
  clients: AuroraDrillClients,
  ctx: AuroraDrillContext,
  names: AuroraDrillNames,
): Promise<AuroraDrillResource[]> {
  const out: AuroraDrillResource[] = [];
  const globalRes = { kind: 'global-cluster' as const, id: names.globalClusterId, region: 'global' };
  const global = await findGlobal(clients.recovery, names.globalClusterId);
  const globalTag = tagOf(global?.TagList, ctx.drillTag);
  let members = global?.GlobalClusterMembers ?? [];
  if (global && globalTag !== ctx.runId) {
    out.push({
      ...globalRes,
      status: 'refused',
      note: globalTag ? `tagged by run ${globalTag}` : 'no drill tag',
    });
    members = [];
  } else if (global) {
    // Secondaries first: the writer can leave only as the last member (docs/aws/aurora-global-database.md).
    const secondaries = members.filter((m) => !m.IsWriter);
    const leaving = secondaries.length ? secondaries : members;
    for (const m of leaving) {
      await detach(clients.recovery, names.globalClusterId, m.DBClusterArn as string);
    }
    if (!members.length) {
      await send(`DeleteGlobalCluster ${names.globalClusterId}`, () =>
        clients.recovery.send(
          new DeleteGlobalClusterCommand({ GlobalClusterIdentifier: names.globalClusterId }),
        ),
      );
      out.push({ ...globalRes, status: 'deleted' });
    } else {
      out.push({ ...globalRes, status: 'pending', note: `${members.length} member(s) being removed` });
    }
  } else {
    out.push({ ...globalRes, status: 'absent' });
  }
  const memberArns = new Set(members.map((m) => m.DBClusterArn));
  out.push(
    ...(await cleanUpCluster(
      clients.recovery,
      ctx,
      names.secondaryClusterId,
      names.secondaryInstanceId,
      ctx.recoveryRegion,
      memberArns,
    )),
    ...(await cleanUpCluster(
      clients.primary,
      ctx,
      names.primaryClusterId,
      names.primaryInstanceId,
      ctx.primaryRegion,
      memberArns,
    )),
  );
  return out;
}

async function detach(rds: RDSClient, globalId: string, arn: string): Promise<void> {
  try {
    await rds.send(
      new RemoveFromGlobalClusterCommand({ GlobalClusterIdentifier: globalId, DbClusterIdentifier: arn }),
    );
  } catch (error) {
    const name = awsErrorName(error) ?? '';
    // Already gone, or not removable yet (a failover in progress, the writer with members left): the next pass.
    if (CLUSTER_NOT_FOUND.has(name) || GLOBAL_NOT_FOUND.has(name) || INVALID_STATE.has(name)) return;
    throw toLifeboatError(error, `RemoveFromGlobalCluster ${arn} from ${globalId}`);
  }
}

export async function cleanUpCluster(
  rds: RDSClient,
  ctx: AuroraDrillContext,
  clusterId: string,
  instanceId: string,
  region: string,
  globalMembers: ReadonlySet<string | undefined>,
): Promise<AuroraDrillResource[]> {
  const clusterRes = { kind: 'db-cluster' as const, id: clusterId, region };
  const instanceRes = { kind: 'db-instance' as const, id: instanceId, region };
  const out: AuroraDrillResource[] = [];
  const instance = await findInstance(rds, instanceId);
  const instanceTag = tagOf(instance?.TagList, ctx.drillTag);
  if (!instance) out.push({ ...instanceRes, status: 'absent' });
  else if (instanceTag !== ctx.runId) {
    out.push({
      ...instanceRes,
      status: 'refused',
      note: instanceTag ? `tagged by run ${instanceTag}` : 'no drill tag',
    });
  } else if (instance.DBInstanceStatus === 'deleting') out.push({ ...instanceRes, status: 'deleting' });
  else {
    try {
      await rds.send(
        new DeleteDBInstanceCommand({ DBInstanceIdentifier: instanceId, SkipFinalSnapshot: true }),
      );
      out.push({ ...instanceRes, status: 'deleted' });
    } catch (error) {
      const name = awsErrorName(error) ?? '';
      if (INSTANCE_NOT_FOUND.has(name)) out.push({ ...instanceRes, status: 'absent' });
      else if (INVALID_STATE.has(name)) {
        out.push({ ...instanceRes, status: 'pending', note: `instance is ${instance.DBInstanceStatus}` });
      } else throw toLifeboatError(error, `DeleteDBInstance ${instanceId}`);
    }
  }

  const cluster = await findCluster(rds, clusterId);
  const tag = tagOf(cluster?.TagList, ctx.drillTag);
  if (!cluster) out.push({ ...clusterRes, status: 'absent' });
  else if (tag !== ctx.runId) {
    out.push({ ...clusterRes, status: 'refused', note: tag ? `tagged by run ${tag}` : 'no drill tag' });
  } else if (cluster.Status === 'deleting') out.push({ ...clusterRes, status: 'deleting' });
  else if (globalMembers.has(cluster.DBClusterArn) || cluster.GlobalClusterIdentifier) {
    out.push({ ...clusterRes, status: 'pending', note: 'still in the drill global cluster' });
  } else if (cluster.DBClusterMembers?.length) {
    out.push({ ...clusterRes, status: 'pending', note: 'its DB instances are being deleted' });
  } else {
    try {
      await rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: clusterId, SkipFinalSnapshot: true }));
      out.push({ ...clusterRes, status: 'deleted' });
    } catch (error) {
      const name = awsErrorName(error) ?? '';
      if (CLUSTER_NOT_FOUND.has(name)) out.push({ ...clusterRes, status: 'absent' });
      else if (INVALID_STATE.has(name))
        out.push({ ...clusterRes, status: 'pending', note: `cluster is ${cluster.Status}` });
      else throw toLifeboatError(error, `DeleteDBCluster ${clusterId}`);
    }
  }
  return out;
}
