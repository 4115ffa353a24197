import {
  type DBCluster,
  DescribeDBClustersCommand,
  DescribeGlobalClustersCommand,
  type GlobalCluster,
  type GlobalClusterMember,
  type RDSClient,
} from '@aws-sdk/client-rds';
import { awsErrorName, ResourceMissingError, toLifeboatError } from '../errors.js';
import type { AuroraUnitPlan, FailoverPlan } from '../plan.js';
import { partitionOf } from '../plan-names.js';
import '../sdk/rds.js';

/**
 * Reading Aurora clusters and global clusters (docs/aws/aurora-global-database.md). Global cluster calls are sent in
 * the recovery Region: a global cluster answers from every Region, and the primary Region may be down.
 */

// SDK v3 names the errors after their shapes; other AWS-compatible servers use the short form. Accept both.
export const CLUSTER_NOT_FOUND = new Set(['DBClusterNotFoundFault', 'DBClusterNotFound']);
export const GLOBAL_NOT_FOUND = new Set(['GlobalClusterNotFoundFault', 'GlobalClusterNotFound']);
export const INVALID_CLUSTER_STATE = new Set(['InvalidDBClusterStateFault', 'InvalidDBClusterState']);
export const INVALID_GLOBAL_STATE = new Set(['InvalidGlobalClusterStateFault', 'InvalidGlobalClusterState']);

/** Cluster statuses that do not pass on their own: waiting on them is pointless (docs/aws/aurora-global-database.md). */
export const CLUSTER_DEAD_ENDS: ReadonlySet<string> = new Set([
  'deleting',
  'stopped',
  'stopping',
  'inaccessible-encryption-credentials',
  'inaccessible-encryption-credentials-recoverable',
  'failed',
]);

export async function describeCluster(rds: RDSClient, clusterId: string): Promise<DBCluster> {
  let cluster: DBCluster | undefined;
  try {
    const out = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: clusterId }));
    cluster = out.DBClusters?.[0];
  } catch (error) {
    if (CLUSTER_NOT_FOUND.has(awsErrorName(error) ?? '')) {
      throw new ResourceMissingError(`DB cluster ${clusterId} does not exist in this Region`, {
        cause: error,
      });
    }
    throw toLifeboatError(error, `DescribeDBClusters on ${clusterId}`);
  }
  if (!cluster) throw new ResourceMissingError(`DB cluster ${clusterId} does not exist in this Region`);
  return cluster;
}

export async function describeGlobal(rds: RDSClient, globalClusterId: string): Promise<GlobalCluster> {
  let global: GlobalCluster | undefined;
  try {
    const out = await rds.send(
      new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: globalClusterId }),
    );
    global = out.GlobalClusters?.find(
      (g) => g.GlobalClusterIdentifier?.toLowerCase() === globalClusterId.toLowerCase(),
    );
  } catch (error) {
    if (GLOBAL_NOT_FOUND.has(awsErrorName(error) ?? '')) {
      throw new ResourceMissingError(`global cluster ${globalClusterId} does not exist`, { cause: error });
    }
    throw toLifeboatError(error, `DescribeGlobalClusters on ${globalClusterId}`);
  }
  if (!global) throw new ResourceMissingError(`global cluster ${globalClusterId} does not exist`);
  return global;
}

/** RDS stores identifiers in lower case, and a plan may not; ARNs are compared without case. */
export function sameArn(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
}

export function memberOf(
  global: GlobalCluster,
  clusterArn: string | undefined,
): GlobalClusterMember | undefined {
  return global.GlobalClusterMembers?.find((m) => sameArn(m.DBClusterArn, clusterArn));
}

export function writerOf(global: GlobalCluster): GlobalClusterMember | undefined {
  return global.GlobalClusterMembers?.find((m) => m.IsWriter === true);
}

/** ARN of the primary cluster, as a replica cluster names it in ReplicationSourceIdentifier. */
export function primaryClusterArn(
  plan: Pick<FailoverPlan, 'account' | 'primaryRegion'>,
  unit: AuroraUnitPlan,
): string {
  return `arn:${partitionOf(plan.primaryRegion)}:rds:${plan.primaryRegion}:${plan.account}:cluster:${unit.database.primaryClusterId}`;
}

export function replicationSource(cluster: DBCluster): string | undefined {
  const source = cluster.ReplicationSourceIdentifier;
  return source === undefined || source === '' ? undefined : source;
}

/** The cluster's facts for the report (never secret values). */
export function clusterDetail(cluster: DBCluster): Record<string, string | boolean | null> {
  return {
    dbClusterIdentifier: cluster.DBClusterIdentifier ?? null,
    dbClusterArn: cluster.DBClusterArn ?? null,
    status: cluster.Status ?? null,
    engine: cluster.Engine ?? null,
    engineVersion: cluster.EngineVersion ?? null,
    endpoint: cluster.Endpoint ?? null,
    replicationSource: replicationSource(cluster) ?? null,
  };
}

/** The global cluster's operation, flattened for the report. */
export function failoverDetail(global: GlobalCluster): Record<string, string | boolean | null> {
  const state = global.FailoverState;
  return {
    globalClusterIdentifier: global.GlobalClusterIdentifier ?? null,
    globalWriterEndpoint: global.Endpoint ?? null,
    writer: writerOf(global)?.DBClusterArn ?? null,
    failoverStatus: state?.Status ?? null,
    failoverFrom: state?.FromDbClusterArn ?? null,
    failoverTo: state?.ToDbClusterArn ?? null,
    dataLossAllowed: state?.IsDataLossAllowed ?? null,
  };
}
