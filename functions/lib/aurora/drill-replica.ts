import {
  CreateDBClusterCommand,
  type CreateDBClusterCommandInput,
  type DBCluster,
  PromoteReadReplicaDBClusterCommand,
} from '@aws-sdk/client-rds';
import { DEAD_END_STATUSES } from '../database-promotion.js';
import { awsErrorName, ConfigurationError, ResourceMissingError, toLifeboatError } from '../errors.js';
import {
  type AuroraDrillClients,
  type AuroraDrillContext,
  type AuroraDrillProgress,
  type AuroraDrillResource,
  auroraDrillNames,
  cleanUpCluster,
  deadEnd,
  ensureInstance,
  findCluster,
  instanceClassOf,
  networkOf,
  notOurs,
  production,
  tagOf,
} from './drill.js';
import '../sdk/rds.js';

/**
 * The drill copy of a cross-Region replica cluster unit (Aurora MySQL, no global cluster; docs/design/aurora-drill.md,
 * "Cross-Region replica cluster units"): a new read replica cluster of the production primary cluster in the recovery
 * Region, and one DB instance in it. The drill's run then promotes it with PromoteReadReplicaDBCluster, the unit's own
 * promotion path. Production's primary and its replica cluster are only described.
 *
 * `advanceReplicaClusterDrillCopy` makes the next missing piece (the cluster, then once it is `available` its instance:
 * the API makes the cluster first and its instance after, and replication starts when that instance is available) or
 * finds it tagged by this run; `cleanUpReplicaClusterDrillCopy` deletes the instance, then the cluster. Nothing is
 * adopted or deleted unless its `lifeboat:drill` tag is this run's.
 */

/** The drill's identifiers: the same as a global unit's drill secondary (`<base>-dr`, `<base>-dr-1`). */
export interface ReplicaClusterDrillNames {
  readonly clusterId: string;
  readonly instanceId: string;
}

export function replicaClusterDrillNames(base: string): ReplicaClusterDrillNames {
  const names = auroraDrillNames(base);
  return { clusterId: names.secondaryClusterId, instanceId: names.secondaryInstanceId };
}

/**
 * The instance class the copy's instance gets: production's replica cluster's, read when the cluster is made and kept
 * in its tags, so that the later passes (which run on the drill unit, whose replica is the copy) need not read
 * production again.
 */
export const INSTANCE_CLASS_TAG = 'lifeboat:instance-class';

/** What the copy is made from. */
export interface ReplicaClusterDrillSource {
  /** Production's primary cluster, in the primary Region: the copy's replication source. */
  readonly primaryClusterId: string;
  /**
   * Production's replica cluster, in the recovery Region: the copy gets its engine version, subnet group, security
   * groups, KMS key and instance class. PrepareDrill knows it; a later pass that finds no copy has nothing to copy.
   */
  readonly replicaClusterId?: string;
}

const CLUSTER_EXISTS = new Set(['DBClusterAlreadyExistsFault', 'DBClusterAlreadyExists']);

/**
 * CreateDBCluster of the copy (API reference, CreateDBCluster): `ReplicationSourceIdentifier` = the production
 * primary's ARN (in the primary Region: the SDK adds the PreSignedUrl signed there, @aws-sdk/middleware-sdk-rds, so the
 * caller also needs CreateDBCluster on the source); the production replica's engine version, subnet group and
 * security groups (it already replicates from that source, in that VPC); and, when the source is encrypted, a KMS key
 * of the recovery Region, the production replica's: a replica of an encrypted cluster must be encrypted, and a
 * cross-Region one needs a key valid in its own Region (KmsKeyId). No deletion protection: it lives for one drill.
 */
export function replicaClusterDrillParameters(
  ctx: AuroraDrillContext,
  names: ReplicaClusterDrillNames,
  primary: DBCluster,
  replica: DBCluster,
  instanceClass: string,
): CreateDBClusterCommandInput {
  const sourceArn = primary.DBClusterArn;
  if (!sourceArn) {
    throw new ConfigurationError(
      `Aurora DB cluster ${primary.DBClusterIdentifier} in ${ctx.primaryRegion} has no ARN in its description`,
    );
  }
  const network = networkOf(replica);
  if (primary.StorageEncrypted && !network.KmsKeyId) {
    throw new ConfigurationError(
      `Aurora DB cluster ${primary.DBClusterIdentifier} is encrypted and its replica ${replica.DBClusterIdentifier} names no KMS key of ${ctx.recoveryRegion}: the drill copy needs one (a cross-Region replica of an encrypted cluster is encrypted with a key of its own Region)`,
    );
  }
  return {
    DBClusterIdentifier: names.clusterId,
    Engine: replica.Engine ?? primary.Engine,
    ...(replica.EngineVersion ? { EngineVersion: replica.EngineVersion } : {}),
    ReplicationSourceIdentifier: sourceArn,
    ...network,
    ...(primary.StorageEncrypted ? { StorageEncrypted: true } : {}),
    DeletionProtection: false,
    CopyTagsToSnapshot: false,
    Tags: [...ctx.tags, { Key: INSTANCE_CLASS_TAG, Value: instanceClass }],
  };
}

/**
 * One pass over the copy: makes the cluster (after reading that it is missing) or, once it is `available`, its
 * instance, and says what is still being waited for. Idempotent: a copy this run made is reused, one it did not is
 * refused before anything is changed.
 */
export async function advanceReplicaClusterDrillCopy(
  clients: AuroraDrillClients,
  ctx: AuroraDrillContext,
  source: ReplicaClusterDrillSource,
  names: ReplicaClusterDrillNames,
): Promise<AuroraDrillProgress> {
  const { primaryRegion, recoveryRegion } = ctx;
  const resources: AuroraDrillResource[] = [];
  const waiting = (status: string): AuroraDrillProgress => ({
    done: false,
    status,
    resources,
    secondaryEndpoint: null,
  });
  const what = `Aurora DB cluster ${names.clusterId} in ${recoveryRegion}`;
  const clusterRes = { kind: 'db-cluster' as const, id: names.clusterId, region: recoveryRegion };

  let cluster = await findCluster(clients.recovery, names.clusterId);
  if (!cluster) {
    if (source.replicaClusterId === undefined) {
      throw new ResourceMissingError(
        `drill ${what} of this run does not exist (the drill's PrepareDrill makes it)`,
      );
    }
    const [primary, replica] = await Promise.all([
      production(clients.primary, source.primaryClusterId, primaryRegion),
      production(clients.recovery, source.replicaClusterId, recoveryRegion),
    ]);
    if (!replica.ReplicationSourceIdentifier) {
      throw new ConfigurationError(
        `Aurora DB cluster ${source.replicaClusterId} is no longer a read replica cluster: the plan looks failed over already; a drill copies a live production replica and cannot run`,
      );
    }
    const params = replicaClusterDrillParameters(
      ctx,
      names,
      primary,
      replica,
      await instanceClassOf(clients.recovery, replica),
    );
    try {
      await clients.recovery.send(new CreateDBClusterCommand(params));
      resources.push({ ...clusterRes, status: 'created' });
      return waiting('replica cluster creating');
    } catch (error) {
      // A retried call whose first attempt was accepted: it is ours only if the tag says so (read below).
      if (!CLUSTER_EXISTS.has(awsErrorName(error) ?? '')) {
        throw toLifeboatError(
          error,
          `CreateDBCluster ${names.clusterId} from ${params.ReplicationSourceIdentifier}`,
        );
      }
      cluster = await findCluster(clients.recovery, names.clusterId);
      if (!cluster) throw toLifeboatError(error, `CreateDBCluster ${names.clusterId}`);
    }
  }
  const tag = tagOf(cluster.TagList, ctx.drillTag);
  if (tag !== ctx.runId) throw notOurs(ctx, what, tag);
  resources.push({ ...clusterRes, status: 'reused' });
  const status = cluster.Status ?? 'unknown';
  if (DEAD_END_STATUSES.has(status)) throw deadEnd(`drill ${what}`, status);
  if (status !== 'available') return waiting(`replica cluster ${status}`);
  const found = cluster;
  const instance = await ensureInstance(
    clients.recovery,
    ctx,
    found,
    names.instanceId,
    recoveryRegion,
    // A cluster without the tag (made by hand for this run, or by an older lifeboat): the smallest class it allows.
    async () => tagOf(found.TagList, INSTANCE_CLASS_TAG) ?? 'db.r6g.large',
    resources,
  );
  if (instance !== 'available') return waiting(`replica cluster instance ${instance}`);
  return { done: true, status: 'ready', resources, secondaryEndpoint: found.Endpoint ?? null };
}

const INVALID_CLUSTER_STATE = new Set(['InvalidDBClusterStateFault', 'InvalidDBClusterState']);

/**
 * One clean-up pass (docs/design/aurora-drill.md, "Clean-up"): the instance, then the cluster once it has no instance
 * left, each read again and deleted only when tagged by this run. Aurora MySQL does not delete the only instance of a
 * cluster that is still a read replica (docs/aws/aurora-global-database.md, "Deleting a read replica cluster"): a copy
 * the drill did not get to promote (it failed or was stopped before) is promoted here first, which only detaches the
 * copy from production's primary. Works from the run and the unit's name alone, so it never reaches production's
 * replica cluster. What is gone is `absent`; what must wait is `pending`.
 */
export async function cleanUpReplicaClusterDrillCopy(
  clients: AuroraDrillClients,
  ctx: AuroraDrillContext,
  names: ReplicaClusterDrillNames,
): Promise<AuroraDrillResource[]> {
  const region = ctx.recoveryRegion;
  const cluster = await findCluster(clients.recovery, names.clusterId);
  const ours = cluster !== undefined && tagOf(cluster.TagList, ctx.drillTag) === ctx.runId;
  if (cluster && ours && cluster.ReplicationSourceIdentifier && cluster.DBClusterMembers?.length) {
    const clusterRes = { kind: 'db-cluster' as const, id: names.clusterId, region };
    const instanceRes = { kind: 'db-instance' as const, id: names.instanceId, region };
    const waitingForPromotion = {
      ...instanceRes,
      status: 'pending' as const,
      note: 'its cluster is being promoted',
    };
    if (cluster.Status !== 'available') {
      return [
        waitingForPromotion,
        { ...clusterRes, status: 'pending', note: `cluster is ${cluster.Status}` },
      ];
    }
    try {
      await clients.recovery.send(
        new PromoteReadReplicaDBClusterCommand({ DBClusterIdentifier: names.clusterId }),
      );
    } catch (error) {
      if (!INVALID_CLUSTER_STATE.has(awsErrorName(error) ?? '')) {
        throw toLifeboatError(error, `PromoteReadReplicaDBCluster ${names.clusterId}`);
      }
    }
    return [
      waitingForPromotion,
      { ...clusterRes, status: 'pending', note: 'promoted so that its last instance can be deleted' },
    ];
  }
  return cleanUpCluster(
    clients.recovery,
    ctx,
    names.clusterId,
    names.instanceId,
    ctx.recoveryRegion,
    new Set(),
  );
}
