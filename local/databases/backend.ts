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
  /** The instance is known by another id from now on (ModifyDBInstance NewDBInstanceIdentifier); it keeps running. */
  rename?(fromId: string, toId: string): Promise<void>;
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
    rename: async (fromId, toId) => cluster.rename(fromId, toId),
  };
}

/** What the emulator needs of a cluster of real servers (PostgresCluster and MariadbCluster both are one). */
export interface ReplicatingCluster {
  has(id: string): boolean;
  createReplica(options: {
    id: string;
    fromId: string;
    tlsNames?: readonly string[];
  }): Promise<{ address: string; port: number }>;
  promote(id: string): Promise<void>;
  remove(id: string): Promise<void>;
  rename(id: string, newId: string): void;
}

/**
 * Backs emulated instances with several clusters, one per engine family (PostgreSQL; MySQL and MariaDB on MariaDB):
 * each call goes to the cluster that holds the instance (a new replica to its source's). `tlsNamesFor` gives the names
 * a new replica's certificate carries (its RDS endpoint), when the servers serve TLS.
 */
export function clusterBackend(
  clusters: readonly ReplicatingCluster[],
  tlsNamesFor?: (instanceId: string, region: string) => string[],
): DatabaseBackend {
  const holder = (id: string) => clusters.find((cluster) => cluster.has(id));
  return {
    async createReplica(sourceId, replicaId, region) {
      const cluster = holder(sourceId);
      if (!cluster) throw new Error(`no local database server backs instance ${sourceId}`);
      const replica = await cluster.createReplica({
        id: replicaId,
        fromId: sourceId,
        ...(tlsNamesFor ? { tlsNames: tlsNamesFor(replicaId, region) } : {}),
      });
      return { address: replica.address, port: replica.port };
    },
    async promote(instanceId) {
      const cluster = holder(instanceId);
      if (!cluster) throw new Error(`no local database server backs instance ${instanceId}`);
      await cluster.promote(instanceId);
    },
    async remove(instanceId) {
      await holder(instanceId)?.remove(instanceId);
    },
    async rename(fromId, toId) {
      holder(fromId)?.rename(fromId, toId);
    },
  };
}
