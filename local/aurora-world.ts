import type { AuroraUnitPlan, FailoverPlan } from '../functions/lib/plan.js';
import type { UnitServers } from './databases/world-databases.js';
import type { Emulator } from './emulator/index.js';

/**
 * An Aurora unit in the proving ground (docs/design/aurora-drill.md, "The real databases"): the real primary and
 * replica servers are named after the clusters, their certificates carry the clusters' endpoints (and the global
 * writer endpoint), and the emulated clusters are seeded on them, so that the steps' Aurora calls move real databases.
 */

/** The global cluster of a global database unit, seeded first: its writer endpoint goes into every certificate. */
export function seedAuroraGlobal(em: Emulator, unit: AuroraUnitPlan): { endpoint: string } | undefined {
  const id = unit.database.globalClusterId;
  return id === undefined ? undefined : em.seed.globalCluster({ id, engine: unit.database.engine });
}

/** The names each server's certificate carries: its cluster's endpoints, and the global writer endpoint if any. */
export function auroraTlsNames(
  em: Emulator,
  plan: Pick<FailoverPlan, 'primaryRegion' | 'recoveryRegion'>,
  unit: AuroraUnitPlan,
  global: { endpoint: string } | undefined,
): { primary: string[]; replica: string[] } {
  const names = (region: string, id: string) => {
    const n = em.rds.clusterEndpointNames(region, id);
    return [n.endpoint, n.readerEndpoint, ...(global ? [global.endpoint] : [])];
  };
  return {
    primary: names(plan.primaryRegion, unit.database.primaryClusterId),
    replica: names(plan.recoveryRegion, unit.database.replicaClusterId),
  };
}

/**
 * The unit's clusters on its servers: the primary (the global cluster's writer, or a replica cluster's source), then
 * the secondary (a member of the global cluster) or the cross-Region read replica cluster. Returns the cluster
 * endpoints, and what the unit's CNAME points at before a failover: the global writer endpoint when the plan's
 * `dns.target` says so, else the primary's cluster endpoint.
 */
export function seedAuroraClusters(
  em: Emulator,
  plan: Pick<FailoverPlan, 'primaryRegion' | 'recoveryRegion'>,
  unit: AuroraUnitPlan,
  servers: UnitServers,
  global: { endpoint: string } | undefined,
): { primaryEndpoint: string; replicaEndpoint: string; recordTarget: string } {
  const { engine, globalClusterId } = unit.database;
  const primary = em.seed.dbCluster({
    region: plan.primaryRegion,
    id: unit.database.primaryClusterId,
    engine,
    ...(globalClusterId !== undefined ? { globalClusterId } : {}),
    address: servers.primary.address,
    port: servers.primary.port,
    masterUsername: servers.primary.username,
    databaseName: servers.primary.database,
  });
  const replica = em.seed.dbCluster({
    region: plan.recoveryRegion,
    id: unit.database.replicaClusterId,
    engine,
    ...(globalClusterId !== undefined ? { globalClusterId } : { replicationSourceArn: primary.arn }),
    address: servers.replica.address,
    port: servers.replica.port,
    masterUsername: servers.replica.username,
    databaseName: servers.replica.database,
  });
  // The secondary's lag as Aurora publishes it, a datapoint a minute for the last quarter hour, so that preflight
  // sees a healthy replica (docs/aws/aurora-global-database.md, "Lag"): a global secondary's
  // AuroraGlobalDBReplicationLag in milliseconds, a replica cluster's AuroraBinlogReplicaLag in seconds.
  const now = Date.now();
  em.seed.metric({
    region: plan.recoveryRegion,
    namespace: 'AWS/RDS',
    metricName: globalClusterId !== undefined ? 'AuroraGlobalDBReplicationLag' : 'AuroraBinlogReplicaLag',
    dimensions: { DBClusterIdentifier: unit.database.replicaClusterId },
    datapoints: Array.from({ length: 15 }, (_, i) => ({
      timestamp: new Date(now - (14 - i) * 60_000),
      value: globalClusterId !== undefined ? 20 : 0,
    })),
  });
  const recordTarget =
    unit.dns.target === 'global-writer-endpoint' && global ? global.endpoint : primary.endpoint;
  return { primaryEndpoint: primary.endpoint, replicaEndpoint: replica.endpoint, recordTarget };
}
