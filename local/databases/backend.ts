/**
 * The real-database side of the emulated RDS: the emulator calls this when an instance changes, so
 * that `PromoteReadReplica` promotes a real standby and `CreateDBInstanceReadReplica` makes a real one.
 *
 * The interface is declared here until `local/emulator/types.ts` owns it; the shapes must stay equal.
 */
import type { PostgresCluster } from './postgres-cluster.js';

export interface DatabaseEndpoint {
  /** Loopback address the instance listens on (its endpoint name resolves to it). */
  readonly address: string;
  readonly port: number;
}

export interface DatabaseBackend {
  /** A real streaming replica of `sourceId`, on the next free loopback address and the source's port. */
  createReplica(sourceId: string, replicaId: string, region: string): Promise<DatabaseEndpoint>;
  /** Ends recovery; resolves once the instance accepts writes. */
  promote(instanceId: string): Promise<void>;
  /** Stops the instance and deletes its data; unknown ids are ignored (already gone). */
  remove(instanceId: string): Promise<void>;
}

/**
 * Backs emulated instances with the servers of a PostgresCluster; instance ids are the cluster's ids.
 * The Region is not needed to place a server (every Region is on this machine's loopback).
 */
export function postgresBackend(cluster: PostgresCluster): DatabaseBackend {
  return {
    async createReplica(sourceId, replicaId, _region) {
      const replica = await cluster.createReplica({ id: replicaId, fromId: sourceId });
      return { address: replica.address, port: replica.port };
    },
    promote: (instanceId) => cluster.promote(instanceId),
    remove: (instanceId) => cluster.remove(instanceId),
  };
}
