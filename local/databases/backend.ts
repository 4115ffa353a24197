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
  /**
   * A real streaming replica of `sourceId`, on the next free loopback address and the source's port. `tlsNames`: the
   * names its certificate carries, when the caller knows them (an Aurora cluster's endpoints); else the backend's own.
   */
  createReplica(
    sourceId: string,
    replicaId: string,
    region: string,
    tlsNames?: readonly string[],
  ): Promise<DatabaseEndpoint>;
  /** Ends recovery; resolves once the instance accepts writes. */
  promote(instanceId: string): Promise<void>;
  /** Stops the instance and deletes its data; unknown ids are ignored (already gone). */
  remove(instanceId: string): Promise<void>;
  /** The instance is known by another id from now on (ModifyDBInstance NewDBInstanceIdentifier); it keeps running. */
  rename?(fromId: string, toId: string): Promise<void>;
  /**
   * A switchover without data loss (Aurora's SwitchoverGlobalCluster): `fromId` refuses writes, `toId` replays
   * everything `fromId` wrote, then `toId` is promoted. `fromId` is left fenced; `rejoin` makes it a replica.
   */
  switchover?(fromId: string, toId: string): Promise<void>;
  /**
   * `id` becomes a replica of `sourceId` on its own address and port (an old Aurora primary rejoining its global
   * cluster as a secondary): rebuilt from `sourceId`, so what only `id` held is gone (docs/design/aurora-drill.md).
   */
  rejoin?(id: string, sourceId: string, tlsNames?: readonly string[]): Promise<DatabaseEndpoint>;
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
  get(id: string): { address: string; port: number };
  createReplica(options: {
    id: string;
    fromId: string;
    address?: string;
    port?: number;
    tlsNames?: readonly string[];
  }): Promise<{ address: string; port: number }>;
  promote(id: string): Promise<void>;
  remove(id: string): Promise<void>;
  rename(id: string, newId: string): void;
  /** The primary refuses writes; answers its log position after the fence. */
  fence(id: string): Promise<string>;
  /** Waits until the replica has applied its source's log up to `position`. */
  waitForCatchUp(replicaId: string, position: string): Promise<void>;
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
  const holding = (id: string) => {
    const cluster = holder(id);
    if (!cluster) throw new Error(`no local database server backs instance ${id}`);
    return cluster;
  };
  return {
    async createReplica(sourceId, replicaId, region, tlsNames) {
      const names = tlsNames ?? tlsNamesFor?.(replicaId, region);
      const replica = await holding(sourceId).createReplica({
        id: replicaId,
        fromId: sourceId,
        ...(names ? { tlsNames: names } : {}),
      });
      return { address: replica.address, port: replica.port };
    },
    async promote(instanceId) {
      await holding(instanceId).promote(instanceId);
    },
    async switchover(fromId, toId) {
      const cluster = holding(fromId);
      if (!cluster.has(toId)) throw new Error(`${toId} is not on the same engine's servers as ${fromId}`);
      const position = await cluster.fence(fromId);
      await cluster.waitForCatchUp(toId, position);
      await cluster.promote(toId);
    },
    async rejoin(id, sourceId, tlsNames) {
      const cluster = holding(id);
      if (!cluster.has(sourceId)) throw new Error(`${sourceId} is not on the same engine's servers as ${id}`);
      // Same address and port: the endpoint names keep resolving to it (docs/design/aurora-drill.md).
      const { address, port } = cluster.get(id);
      await cluster.remove(id);
      const replica = await cluster.createReplica({
        id,
        fromId: sourceId,
        address,
        port,
        ...(tlsNames ? { tlsNames } : {}),
      });
      return { address: replica.address, port: replica.port };
    },
    async remove(instanceId) {
      await holder(instanceId)?.remove(instanceId);
    },
    async rename(fromId, toId) {
      holder(fromId)?.rename(fromId, toId);
    },
  };
}
