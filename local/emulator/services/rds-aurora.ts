/**
 * Aurora DB clusters and global clusters, the part of the RDS Query API lifeboat's Aurora units call
 * (docs/aws/aurora-global-database.md). RdsService dispatches the actions it does not know itself to
 * `AuroraClusters.operations`; answers and errors use the same XML namespace and error shape.
 *
 * Modelled:
 * - CreateDBCluster (for seeding a world): `creating`, then `available`. With GlobalClusterIdentifier the cluster
 *   joins that global cluster (the first member is the writer, later ones are secondaries); with
 *   ReplicationSourceIdentifier (a cluster ARN in another Region) it is a cross-Region read replica cluster and the
 *   source lists it in ReadReplicaIdentifiers; only for aurora-mysql (binlog replication; the refusal's code,
 *   InvalidParameterCombination, is the emulator's choice).
 * - DescribeDBClusters by id, ARN or the `db-cluster-id` / `engine` filters; DBClusterNotFoundFault (404).
 * - PromoteReadReplicaDBCluster: refused with InvalidDBClusterStateFault unless the cluster is an `available`
 *   read replica; then `promoting` for `promoteModifyingMs`, and `available` without ReplicationSourceIdentifier.
 * - CreateGlobalCluster (from a source cluster or empty), DescribeGlobalClusters (every Region sees every global
 *   cluster: they are not regional), RemoveFromGlobalCluster (a secondary becomes a standalone cluster at once; the
 *   writer only when it is the last member), DeleteGlobalCluster (refused while it has members).
 * - FailoverGlobalCluster (AllowDataLoss, or Switchover) and SwitchoverGlobalCluster: the global cluster's
 *   FailoverState is `pending` for `promoteStartMs`, then `failing-over` (data loss allowed) or `switching-over`
 *   for `promoteModifyingMs`; the target cluster is `failing-over` in that phase; then FailoverState is gone, the
 *   target is the writer and the old primary is a secondary (after a switchover as documented; after a failover as
 *   AWS does once the old primary's Region is reachable, which in the emulator it always is). A second request
 *   while one is in progress, a target that is not a secondary member, and (for a switchover) members on different
 *   engine versions are refused with InvalidGlobalClusterStateFault.
 *
 * Real databases (docs/design/aurora-drill.md, "The real databases"): with a DatabaseBackend, a cluster seeded with
 * an address (a real server named by the cluster id) is backed by it: its cluster and reader endpoints, and the global
 * writer endpoint while it is the writer, resolve to that server (`endpoints()`). A secondary created into a backed
 * global cluster, or a read replica cluster of a backed source, gets a real replica; PromoteReadReplicaDBCluster and
 * RemoveFromGlobalCluster promote it (the detached cluster is `promoting` until its server accepts writes); a failover
 * promotes the target's server; a switchover fences the old writer's server, waits until the target has replayed
 * everything, then promotes it; after either, the other members' servers are rebuilt as replicas of the new writer
 * (they rejoin as secondaries); DeleteDBCluster removes the server.
 *
 * - DB instances in a cluster (CreateDBInstance with DBClusterIdentifier, services/rds.ts): DBClusterMembers lists
 *   them (the first is the writer); DeleteDBCluster is refused with InvalidDBClusterStateFault while any remains;
 *   DeleteDBInstance of the only instance of an Aurora MySQL read replica cluster is refused (InvalidDBClusterStateFault)
 *   until the cluster is promoted.
 * - RestoreDBClusterToPointInTime (a clone, `RestoreType: copy-on-write`, or a full copy) of a cluster in the same
 *   Region: a new standalone cluster, `creating` then `available`, of the source's engine and version, with no
 *   instances; with a backend, a real copy of the source's server (a replica, then promoted).
 * - Tags on global clusters (CreateGlobalCluster Tags, TagList in the answers), and AddTagsToResource on a DB
 *   cluster's ARN (services/rds.ts sends it here).
 * - ModifyDBCluster, the rename only (NewDBClusterIdentifier with ApplyImmediately): `renaming` under the old id, then
 *   only under the new one with new endpoints; tags, instances and replication links stay; with a backend the real
 *   server follows the new id (re-protect of a replica cluster unit renames the old primary cluster).
 *
 * - A Region's outage as Aurora sees it (`regionOutage` / `regionRecovers`, Emulator.rds): a FailoverGlobalCluster with
 *   AllowDataLoss that completes while the old primary's Region is out leaves the old primary out of the members.
 *   When the Region recovers, Aurora snapshots the old primary's volume at the point of failure
 *   (`rds:unplanned-global-failover-<cluster>-<time>`, listed by DescribeDBClusterSnapshots in its Region) and adds it
 *   back as a secondary: `pending-resync` for `createInstanceMs`, then `connected`; with a backend its server is
 *   rebuilt from the new writer's (docs/aws/aurora-global-database.md, "What happens to the old primary"). The API
 *   calls signed for that Region are the fault controller's (`faults.regionDown`): a test usually sets both.
 *
 * Not modelled: write forwarding (always `disabled`), the instances' own endpoints inside a cluster (they have the
 * instance endpoint name but no real server).
 */
import { AwsError, type Clock, errorMessage, LOWER_ALNUM, type Rng, UPPER_ALNUM } from '../core.js';
import type {
  DatabaseBackend,
  SeedDbClusterInput,
  SeededDbCluster,
  SeededGlobalCluster,
  SeedGlobalClusterInput,
} from '../types.js';
import { type QueryTree, qBool, qInt, qList, qString, type XmlObject, xmlList } from '../wire.js';
import { describePage } from './rds-describe.js';

const ENGINES: Record<string, { port: number; version: string }> = {
  'aurora-postgresql': { port: 5432, version: '16.4' },
  'aurora-mysql': { port: 3306, version: '8.0.mysql_aurora.3.07.1' },
};

interface Tag {
  Key: string;
  Value: string;
}

interface Cluster {
  /** Mutable: ModifyDBCluster renames (NewDBClusterIdentifier). */
  id: string;
  readonly region: string;
  arn: string;
  readonly engine: string;
  readonly engineVersion: string;
  status: string;
  port: number;
  /** The address of the real server behind the cluster's endpoints (named by the cluster id), when backed. */
  ip?: string;
  endpoint: string;
  readerEndpoint: string;
  readonly masterUsername?: string;
  readonly databaseName?: string;
  readonly resourceId: string;
  backupRetentionPeriod: number;
  created?: number;
  /** ARN of the source cluster of a cross-Region read replica cluster. */
  replicationSource?: string;
  /** ARNs of this cluster's read replica clusters. */
  readReplicas: string[];
  /** Identifier of the global cluster this cluster is a member of. */
  globalClusterId?: string;
  /** Its DB instances (ids, in the order they were created; the first is the writer). */
  instances: string[];
  promoting: boolean;
  gone: boolean;
  /** A returning old primary being rebuilt from the new writer: its member's SynchronizationStatus is pending-resync. */
  resyncing?: boolean;
  /** ModifyDBCluster NewDBClusterIdentifier not applied yet (PendingModifiedValues.DBClusterIdentifier). */
  pendingRename?: string;
  readonly tags: Tag[];
}

/** A cluster snapshot Aurora took itself (the old primary's volume after a global failover). */
interface ClusterSnapshot {
  readonly id: string;
  readonly arn: string;
  readonly cluster: Cluster;
  readonly created: number;
}

/** An old primary left out of its global cluster by a failover during its Region's outage. */
interface AwaitingReturn {
  readonly cluster: Cluster;
  readonly globalId: string;
  /** When the failover completed: the snapshot's point in time. */
  readonly failedAt: number;
}

interface FailoverState {
  status: 'pending' | 'failing-over' | 'switching-over';
  readonly from: string;
  readonly to: string;
  readonly dataLossAllowed: boolean;
}

interface GlobalCluster {
  readonly id: string;
  readonly arn: string;
  readonly resourceId: string;
  readonly engine: string;
  readonly engineVersion: string;
  readonly endpoint: string;
  status: string;
  readonly tags: Tag[];
  /** Member cluster ARNs, in the order they joined. */
  members: string[];
  writer?: string;
  failover?: FailoverState;
}

/** `YYYY-MM-DD-HH-MM` in UTC, the time part of an automated snapshot's name (the emulator's choice of format). */
function snapshotTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace(/[T:]/g, '-');
}

function identifierOk(id: string): boolean {
  return /^[a-zA-Z](?:[a-zA-Z0-9]|-(?!-)){0,62}$/.test(id) && !id.endsWith('-');
}

function parseClusterArn(arn: string): { region: string; id: string } | undefined {
  const match = /^arn:aws[a-z-]*:rds:([a-z0-9-]+):\d{12}:cluster:(.+)$/.exec(arn);
  return match ? { region: match[1] as string, id: (match[2] as string).toLowerCase() } : undefined;
}

function required(tree: QueryTree, key: string): string {
  const value = qString(tree, key);
  if (value === undefined || value === '') {
    throw new AwsError('MissingParameter', 400, `The request must contain the parameter ${key}`);
  }
  return value;
}

function clusterNotFound(id: string): AwsError {
  return new AwsError('DBClusterNotFoundFault', 404, `DBCluster ${id} not found.`);
}

function globalNotFound(id: string): AwsError {
  return new AwsError('GlobalClusterNotFoundFault', 404, `Global cluster ${id} not found.`);
}

function invalidGlobal(message: string): AwsError {
  return new AwsError('InvalidGlobalClusterStateFault', 400, message);
}

function invalidCluster(message: string): AwsError {
  return new AwsError('InvalidDBClusterStateFault', 400, message);
}

export class AuroraClusters {
  private readonly clusters = new Map<string, Map<string, Cluster>>();
  private readonly globals = new Map<string, GlobalCluster>();
  /** Regions in an outage as Aurora sees it (regionOutage): an old primary there cannot rejoin after a failover. */
  private readonly outages = new Set<string>();
  private awaitingReturn: AwaitingReturn[] = [];
  private readonly snapshots: ClusterSnapshot[] = [];

  constructor(
    private readonly account: string,
    private readonly clock: Clock,
    private readonly rng: Rng,
    private readonly onBackgroundError: (error: unknown, what: string) => void,
    /** The account's endpoint suffix in a Region, shared with the instances (services/rds.ts). */
    private readonly suffix: (region: string) => string,
    /** Real databases behind backed clusters (the same backend as the instances'). */
    private readonly backend?: DatabaseBackend,
  ) {}

  readonly operations: Record<string, (region: string, tree: QueryTree) => XmlObject | undefined> = {
    CreateDBCluster: (region, tree) => ({ DBCluster: this.render(this.createCluster(region, tree)) }),
    DescribeDBClusters: (region, tree) => this.describeClusters(region, tree),
    PromoteReadReplicaDBCluster: (region, tree) => ({
      DBCluster: this.render(this.promoteReplica(region, tree)),
    }),
    DeleteDBCluster: (region, tree) => ({ DBCluster: this.render(this.deleteCluster(region, tree)) }),
    ModifyDBCluster: (region, tree) => ({ DBCluster: this.render(this.modifyCluster(region, tree)) }),
    CreateGlobalCluster: (region, tree) => ({
      GlobalCluster: this.renderGlobal(this.createGlobal(region, tree)),
    }),
    DescribeGlobalClusters: (_region, tree) => this.describeGlobals(tree),
    DeleteGlobalCluster: (_region, tree) => ({ GlobalCluster: this.renderGlobal(this.deleteGlobal(tree)) }),
    RestoreDBClusterToPointInTime: (region, tree) => ({
      DBCluster: this.render(this.restoreToPointInTime(region, tree)),
    }),
    RemoveFromGlobalCluster: (_region, tree) => ({
      GlobalCluster: this.renderGlobal(this.removeFromGlobal(tree)),
    }),
    FailoverGlobalCluster: (_region, tree) => {
      const allowDataLoss = qBool(tree, 'AllowDataLoss') === true;
      const switchover = qBool(tree, 'Switchover') === true;
      if (allowDataLoss && switchover) {
        throw new AwsError(
          'InvalidParameterCombination',
          400,
          'AllowDataLoss and Switchover cannot be specified together.',
        );
      }
      // Without AllowDataLoss the operation is a switchover (API reference, FailoverGlobalCluster).
      return { GlobalCluster: this.renderGlobal(this.changeWriter(tree, allowDataLoss)) };
    },
    SwitchoverGlobalCluster: (_region, tree) => ({
      GlobalCluster: this.renderGlobal(this.changeWriter(tree, false)),
    }),
    DescribeDBClusterSnapshots: (region, tree) => this.describeSnapshots(region, tree),
  };

  /* ------------------------------------------------------------------------------------------ */
  /* State helpers                                                                              */
  /* ------------------------------------------------------------------------------------------ */

  private store(region: string): Map<string, Cluster> {
    let store = this.clusters.get(region);
    if (!store) {
      store = new Map();
      this.clusters.set(region, store);
    }
    return store;
  }

  /** A cluster by id (in `region`) or by ARN (in the ARN's Region). */
  private lookup(region: string, idOrArn: string): Cluster | undefined {
    const arn = parseClusterArn(idOrArn);
    return arn ? this.store(arn.region).get(arn.id) : this.store(region).get(idOrArn.toLowerCase());
  }

  private find(region: string, idOrArn: string): Cluster {
    const cluster = this.lookup(region, idOrArn);
    if (!cluster || cluster.gone) throw clusterNotFound(idOrArn);
    return cluster;
  }

  private byArn(arn: string): Cluster | undefined {
    const parsed = parseClusterArn(arn);
    return parsed ? this.store(parsed.region).get(parsed.id) : undefined;
  }

  private findGlobal(id: string): GlobalCluster {
    const global = this.globals.get(id.toLowerCase());
    if (!global) throw globalNotFound(id);
    return global;
  }

  private background(cluster: Cluster, what: string, task: () => Promise<void>): void {
    task().catch((error: unknown) => {
      if (this.clock.isClosed) return;
      cluster.status = 'failed';
      this.onBackgroundError(error, `${what} of ${cluster.id} in ${cluster.region}: ${errorMessage(error)}`);
    });
  }

  /* ------------------------------------------------------------------------------------------ */
  /* DB clusters                                                                                */
  /* ------------------------------------------------------------------------------------------ */

  /** `seeded`: the cluster exists already (a world's seeding): `available` at once, on that server if one is named. */
  private createCluster(
    region: string,
    tree: QueryTree,
    seeded?: { address?: string; port?: number },
    /** RestoreDBClusterToPointInTime: the cluster is a standalone copy of this one. */
    cloneOf?: Cluster,
  ): Cluster {
    const id = required(tree, 'DBClusterIdentifier');
    if (!identifierOk(id)) {
      throw new AwsError(
        'InvalidParameterValue',
        400,
        'The parameter DBClusterIdentifier is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.',
      );
    }
    const lower = id.toLowerCase();
    if (this.store(region).get(lower) && !this.store(region).get(lower)?.gone) {
      throw new AwsError('DBClusterAlreadyExistsFault', 400, 'DB Cluster already exists');
    }
    const globalId = qString(tree, 'GlobalClusterIdentifier');
    const global = globalId === undefined ? undefined : this.findGlobal(globalId);
    const sourceArn = qString(tree, 'ReplicationSourceIdentifier');
    const source = sourceArn === undefined ? undefined : this.lookup(region, sourceArn);
    if (sourceArn !== undefined && (!source || source.gone)) throw clusterNotFound(sourceArn);
    if (global?.failover) {
      throw invalidGlobal(
        `Global cluster ${global.id} has a ${global.failover.status} operation in progress.`,
      );
    }
    const engine = qString(tree, 'Engine') ?? global?.engine ?? source?.engine;
    const defaults = engine === undefined ? undefined : ENGINES[engine];
    if (!engine || !defaults) {
      throw new AwsError('InvalidParameterValue', 400, `Invalid DB engine: ${engine ?? '(none)'}`);
    }
    // Cross-Region read replica clusters are binlog replication: Aurora MySQL only (docs/aws/aurora-global-database.md).
    if (source && engine !== 'aurora-mysql') {
      throw new AwsError(
        'InvalidParameterCombination',
        400,
        `Read replica DB clusters (ReplicationSourceIdentifier) are supported for aurora-mysql only, not ${engine}.`,
      );
    }
    if (global && global.engine !== engine) {
      throw new AwsError(
        'InvalidParameterCombination',
        400,
        `The engine ${engine} does not match the global cluster's engine ${global.engine}.`,
      );
    }
    const names = this.endpointNames(region, lower);
    const masterUsername = qString(tree, 'MasterUsername');
    const databaseName = qString(tree, 'DatabaseName');
    const cluster: Cluster = {
      id: lower,
      region,
      arn: `arn:aws:rds:${region}:${this.account}:cluster:${lower}`,
      engine,
      engineVersion: qString(tree, 'EngineVersion') ?? global?.engineVersion ?? defaults.version,
      status: 'creating',
      port: qInt(tree, 'Port') ?? defaults.port,
      endpoint: names.endpoint,
      readerEndpoint: names.readerEndpoint,
      ...(masterUsername !== undefined ? { masterUsername } : {}),
      ...(databaseName !== undefined ? { databaseName } : {}),
      resourceId: `cluster-${this.rng.chars(26, UPPER_ALNUM)}`,
      backupRetentionPeriod: qInt(tree, 'BackupRetentionPeriod') ?? 1,
      readReplicas: [],
      instances: [],
      promoting: false,
      gone: false,
      tags: qList(tree, 'Tags').map((item) => ({
        Key: qString(item, 'Key') ?? '',
        Value: qString(item, 'Value') ?? '',
      })),
    };
    if (source) {
      cluster.replicationSource = source.arn;
      source.readReplicas.push(cluster.arn);
    }
    if (global) {
      cluster.globalClusterId = global.id;
      global.members.push(cluster.arn);
      if (global.writer === undefined) global.writer = cluster.arn;
    }
    // A new secondary replicates from the writer's server, a read replica cluster from its source's.
    const writer = global?.writer === undefined ? undefined : this.byArn(global.writer);
    const from = cloneOf ?? source ?? (writer !== cluster ? writer : undefined);
    const backend = this.backend;
    this.store(region).set(lower, cluster);
    if (seeded) {
      cluster.status = 'available';
      cluster.created = this.clock.now();
      if (seeded.address !== undefined) cluster.ip = seeded.address;
      if (seeded.port !== undefined) cluster.port = seeded.port;
      return cluster;
    }
    this.background(cluster, 'create', async () => {
      // A clone is a copy that accepts writes at once: a replica, promoted.
      const made =
        backend && from?.ip !== undefined
          ? backend
              .createReplica(from.id, cluster.id, region, this.tlsNames(cluster))
              .then(async (server) => {
                if (cloneOf) await backend.promote(cluster.id);
                return server;
              })
          : undefined;
      const [server] = await Promise.all([made, this.clock.sleep(this.clock.timings.createInstanceMs)]);
      if (cluster.gone || this.clock.isClosed) return;
      if (server) {
        cluster.ip = server.address;
        cluster.port = server.port;
      }
      cluster.status = 'available';
      cluster.created = this.clock.now();
    });
    return cluster;
  }

  private describeClusters(region: string, tree: QueryTree): XmlObject {
    const id = qString(tree, 'DBClusterIdentifier');
    return describePage(tree, {
      one: id !== undefined ? this.find(region, id) : undefined,
      all: () => [...this.store(region).values()].filter((c) => !c.gone),
      idFilter: 'db-cluster-id',
      list: 'DBClusters',
      member: 'DBCluster',
      render: (c) => this.render(c),
    });
  }

  private promoteReplica(region: string, tree: QueryTree): Cluster {
    const cluster = this.find(region, required(tree, 'DBClusterIdentifier'));
    if (!cluster.replicationSource) {
      throw invalidCluster(`DB cluster ${cluster.id} is not a read replica.`);
    }
    if (cluster.status !== 'available') {
      throw invalidCluster(`DB cluster ${cluster.id} is not in available state; it is ${cluster.status}.`);
    }
    cluster.status = 'promoting';
    cluster.promoting = true;
    this.background(cluster, 'promote', async () => {
      const promoted =
        this.backend && cluster.ip !== undefined ? this.backend.promote(cluster.id) : undefined;
      await Promise.all([promoted, this.clock.sleep(this.clock.timings.promoteModifyingMs)]);
      if (cluster.gone || this.clock.isClosed) return;
      const source = cluster.replicationSource ? this.byArn(cluster.replicationSource) : undefined;
      if (source) source.readReplicas = source.readReplicas.filter((r) => r !== cluster.arn);
      delete cluster.replicationSource;
      cluster.promoting = false;
      cluster.status = 'available';
    });
    return cluster;
  }

  /**
   * ModifyDBCluster, the rename only (NewDBClusterIdentifier; docs/aws/aurora-global-database.md, "Renaming a DB
   * cluster"). With ApplyImmediately the cluster is `renaming` under its old name (PendingModifiedValues names the new
   * one) for `renameInstanceMs`, then found only under the new name, with new endpoints, and `available`. Its tags,
   * resource id, instances and replication links stay (a read replica cluster of it follows the new ARN); with a
   * backend the real server follows the new name, as a renamed instance's does. Without ApplyImmediately the rename
   * waits for the maintenance window, which is not emulated: it stays pending. Refused unless `available`
   * (InvalidDBClusterStateFault), and when the new name is taken (DBClusterAlreadyExistsFault).
   */
  private modifyCluster(region: string, tree: QueryTree): Cluster {
    const cluster = this.find(region, required(tree, 'DBClusterIdentifier'));
    const known = ['Action', 'Version', 'DBClusterIdentifier', 'NewDBClusterIdentifier', 'ApplyImmediately'];
    const others = Object.keys(tree).filter((k) => !known.includes(k));
    if (others.length) {
      throw new AwsError(
        'InvalidParameterCombination',
        400,
        `The emulator models only the rename: ${others.join(', ')}`,
      );
    }
    const newId = qString(tree, 'NewDBClusterIdentifier');
    if (newId === undefined) return cluster;
    if (!identifierOk(newId)) {
      throw new AwsError(
        'InvalidParameterValue',
        400,
        'The parameter NewDBClusterIdentifier is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.',
      );
    }
    if (cluster.status !== 'available') {
      throw invalidCluster(`DB cluster ${cluster.id} is not in available state; it is ${cluster.status}.`);
    }
    const target = newId.toLowerCase();
    const store = this.store(region);
    if (store.get(target) && !store.get(target)?.gone) {
      throw new AwsError('DBClusterAlreadyExistsFault', 400, 'DB Cluster already exists');
    }
    cluster.pendingRename = target;
    if (qBool(tree, 'ApplyImmediately') !== true) return cluster;
    cluster.status = 'renaming';
    this.background(cluster, 'rename', async () => {
      await this.clock.sleep(this.clock.timings.renameInstanceMs);
      if (cluster.gone || this.clock.isClosed) return;
      if (store.get(target) && !store.get(target)?.gone) {
        throw new Error(`rename target ${target} appeared while renaming`);
      }
      const [oldId, oldArn] = [cluster.id, cluster.arn];
      store.delete(oldId);
      cluster.id = target;
      cluster.arn = oldArn.replace(/:cluster:[^:]+$/, `:cluster:${target}`);
      const names = this.endpointNames(region, target);
      cluster.endpoint = names.endpoint;
      cluster.readerEndpoint = names.readerEndpoint;
      delete cluster.pendingRename;
      store.set(target, cluster);
      const follow = (arn: string) => (arn === oldArn ? cluster.arn : arn);
      for (const arn of cluster.readReplicas) {
        const replica = this.byArn(arn);
        if (replica) replica.replicationSource = cluster.arn;
      }
      const source = cluster.replicationSource ? this.byArn(cluster.replicationSource) : undefined;
      if (source) source.readReplicas = source.readReplicas.map(follow);
      const global = cluster.globalClusterId ? this.globals.get(cluster.globalClusterId) : undefined;
      if (global) {
        global.members = global.members.map(follow);
        if (global.writer === oldArn) global.writer = cluster.arn;
      }
      if (this.backend?.rename && cluster.ip !== undefined) await this.backend.rename(oldId, target);
      if (cluster.gone || this.clock.isClosed) return;
      cluster.status = 'available';
    });
    return cluster;
  }

  private deleteCluster(region: string, tree: QueryTree): Cluster {
    const cluster = this.find(region, required(tree, 'DBClusterIdentifier'));
    if (
      qBool(tree, 'SkipFinalSnapshot') !== true &&
      qString(tree, 'FinalDBSnapshotIdentifier') === undefined
    ) {
      throw new AwsError(
        'InvalidParameterCombination',
        400,
        'FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.',
      );
    }
    if (cluster.globalClusterId !== undefined) {
      throw invalidCluster(
        `DB cluster ${cluster.id} is a member of global cluster ${cluster.globalClusterId}; remove it from the global cluster first.`,
      );
    }
    if (cluster.status === 'deleting')
      throw invalidCluster(`DB cluster ${cluster.id} is already being deleted.`);
    if (cluster.instances.length) {
      throw invalidCluster(
        `Cluster cannot be deleted, it still contains DB instances in non-deleting state (${cluster.instances.join(', ')}).`,
      );
    }
    cluster.status = 'deleting';
    this.background(cluster, 'delete', async () => {
      await this.clock.sleep(this.clock.timings.deleteInstanceMs);
      if (this.clock.isClosed) return;
      cluster.gone = true;
      this.store(region).delete(cluster.id);
      const source = cluster.replicationSource ? this.byArn(cluster.replicationSource) : undefined;
      if (source) source.readReplicas = source.readReplicas.filter((r) => r !== cluster.arn);
      if (this.backend && cluster.ip !== undefined) await this.backend.remove(cluster.id);
    });
    return cluster;
  }

  /**
   * RestoreDBClusterToPointInTime: a clone (`copy-on-write`) or full copy of a cluster in this Region, standalone
   * (no global cluster, no replication source), the source's engine and version, no instances (Aurora restores the
   * cluster only; the API reference). With a backend, the source's server is copied for real.
   */
  private restoreToPointInTime(region: string, tree: QueryTree): Cluster {
    const source = this.find(region, required(tree, 'SourceDBClusterIdentifier'));
    const restoreType = qString(tree, 'RestoreType') ?? 'full-copy';
    if (restoreType !== 'full-copy' && restoreType !== 'copy-on-write') {
      throw new AwsError('InvalidParameterValue', 400, `Invalid RestoreType: ${restoreType}`);
    }
    if (qBool(tree, 'UseLatestRestorableTime') === true && qString(tree, 'RestoreToTime') !== undefined) {
      throw new AwsError(
        'InvalidParameterCombination',
        400,
        'RestoreToTime and UseLatestRestorableTime cannot be specified together.',
      );
    }
    if (source.status !== 'available') {
      throw invalidCluster(`DB cluster ${source.id} is not in available state; it is ${source.status}.`);
    }
    return this.createCluster(
      region,
      {
        DBClusterIdentifier: required(tree, 'DBClusterIdentifier'),
        Engine: source.engine,
        EngineVersion: source.engineVersion,
        ...(source.masterUsername !== undefined ? { MasterUsername: source.masterUsername } : {}),
        ...(source.databaseName !== undefined ? { DatabaseName: source.databaseName } : {}),
        ...(typeof tree.Tags === 'object' ? { Tags: tree.Tags } : {}),
      },
      undefined,
      source,
    );
  }

  isClusterArn(name: string): boolean {
    return parseClusterArn(name) !== undefined;
  }

  /** AddTagsToResource on a DB cluster's ARN (services/rds.ts): a tag of the same key is overwritten. */
  addTags(region: string, arn: string, tags: readonly Tag[]): void {
    const cluster = this.find(region, arn);
    for (const tag of tags) {
      const existing = cluster.tags.find((t) => t.Key === tag.Key);
      if (existing) existing.Value = tag.Value;
      else cluster.tags.push({ ...tag });
    }
  }

  /** CreateDBInstance with DBClusterIdentifier (services/rds.ts): the instance joins the cluster. */
  addMember(region: string, clusterId: string, instanceId: string, engine: string): void {
    const cluster = this.find(region, clusterId);
    if (cluster.engine !== engine) {
      throw new AwsError(
        'InvalidParameterCombination',
        400,
        `The engine name requested for your DB instance (${engine}) doesn't match the engine name of your DB cluster (${cluster.engine}).`,
      );
    }
    if (cluster.status === 'deleting') throw invalidCluster(`DB cluster ${cluster.id} is being deleted.`);
    cluster.instances.push(instanceId);
  }

  /**
   * DeleteDBInstance of a cluster member: Aurora MySQL refuses to delete the only instance of a cluster that is a read
   * replica of another cluster; the cluster must be promoted first (docs/aws/aurora-global-database.md, "Deleting a
   * read replica cluster"). The error code is the emulator's choice (InvalidDBClusterStateFault).
   */
  assertMemberDeletable(region: string, clusterId: string, instanceId: string): void {
    const cluster = this.store(region).get(clusterId.toLowerCase());
    if (
      cluster &&
      !cluster.gone &&
      cluster.engine === 'aurora-mysql' &&
      cluster.replicationSource !== undefined &&
      cluster.instances.length === 1 &&
      cluster.instances[0] === instanceId
    ) {
      throw invalidCluster(
        `Cannot delete the last instance of the read replica DB cluster ${cluster.id}. Promote the DB cluster to a standalone DB cluster in order to delete it.`,
      );
    }
  }

  /** An instance of the cluster is gone (DeleteDBInstance done). */
  removeMember(region: string, clusterId: string, instanceId: string): void {
    const cluster = this.store(region).get(clusterId);
    if (cluster) cluster.instances = cluster.instances.filter((i) => i !== instanceId);
  }

  private isWriter(cluster: Cluster): boolean {
    const global =
      cluster.globalClusterId === undefined ? undefined : this.globals.get(cluster.globalClusterId);
    return global?.writer === cluster.arn;
  }

  /* ------------------------------------------------------------------------------------------ */
  /* Global clusters                                                                            */
  /* ------------------------------------------------------------------------------------------ */

  private createGlobal(region: string, tree: QueryTree): GlobalCluster {
    const id = required(tree, 'GlobalClusterIdentifier');
    if (!identifierOk(id)) {
      throw new AwsError('InvalidParameterValue', 400, `Invalid global cluster identifier: ${id}`);
    }
    const lower = id.toLowerCase();
    if (this.globals.has(lower)) {
      throw new AwsError('GlobalClusterAlreadyExistsFault', 400, `Global cluster ${id} already exists`);
    }
    const sourceId = qString(tree, 'SourceDBClusterIdentifier');
    const source = sourceId === undefined ? undefined : this.find(region, sourceId);
    if (source?.globalClusterId !== undefined) {
      throw invalidCluster(
        `DB cluster ${source.id} is already a member of global cluster ${source.globalClusterId}.`,
      );
    }
    if (source && qString(tree, 'Engine') !== undefined) {
      throw new AwsError(
        'InvalidParameterCombination',
        400,
        'Engine is inherited from the source cluster and must not be specified with SourceDBClusterIdentifier.',
      );
    }
    const engine = source?.engine ?? qString(tree, 'Engine');
    const defaults = engine === undefined ? undefined : ENGINES[engine];
    if (!engine || !defaults) {
      throw new AwsError('InvalidParameterValue', 400, `Invalid DB engine: ${engine ?? '(none)'}`);
    }
    const global: GlobalCluster = {
      id: lower,
      arn: `arn:aws:rds::${this.account}:global-cluster:${lower}`,
      resourceId: `cluster-${this.rng.chars(16, LOWER_ALNUM)}`,
      engine,
      engineVersion: source?.engineVersion ?? qString(tree, 'EngineVersion') ?? defaults.version,
      endpoint: `${lower}.global-${this.rng.chars(8, LOWER_ALNUM)}.global.rds.amazonaws.com`,
      status: 'available',
      tags: qList(tree, 'Tags').map((item) => ({
        Key: qString(item, 'Key') ?? '',
        Value: qString(item, 'Value') ?? '',
      })),
      members: [],
    };
    if (source) {
      source.globalClusterId = lower;
      global.members.push(source.arn);
      global.writer = source.arn;
    }
    this.globals.set(lower, global);
    return global;
  }

  private describeGlobals(tree: QueryTree): XmlObject {
    const id = qString(tree, 'GlobalClusterIdentifier');
    let globals = id !== undefined ? [this.findGlobal(id)] : [...this.globals.values()];
    for (const filter of qList(tree, 'Filters')) {
      const name = qString(filter, 'Name');
      const values = typeof filter === 'object' ? qList(filter, 'Values').map(String) : [];
      if (name === 'db-cluster-id') {
        globals = globals.filter((g) =>
          g.members.some((m) => values.some((v) => v === m || v.toLowerCase() === parseClusterArn(m)?.id)),
        );
      } else {
        throw new AwsError('InvalidParameterValue', 400, `Unrecognized filter name: ${name}`);
      }
    }
    // The list's member element is GlobalClusterMember, not GlobalCluster (the SDK's GlobalClusterList shape).
    return {
      GlobalClusters: xmlList(
        'GlobalClusterMember',
        globals.map((g) => this.renderGlobal(g)),
      ),
    };
  }

  private deleteGlobal(tree: QueryTree): GlobalCluster {
    const global = this.findGlobal(required(tree, 'GlobalClusterIdentifier'));
    if (global.members.length) {
      throw invalidGlobal(`Global cluster ${global.id} is not empty: remove its member clusters first.`);
    }
    this.globals.delete(global.id);
    return global;
  }

  private removeFromGlobal(tree: QueryTree): GlobalCluster {
    const global = this.findGlobal(required(tree, 'GlobalClusterIdentifier'));
    const clusterId = required(tree, 'DbClusterIdentifier');
    const cluster = this.byArn(clusterId);
    if (!cluster || cluster.gone) throw clusterNotFound(clusterId);
    if (!global.members.includes(cluster.arn)) {
      throw invalidGlobal(`DB cluster ${cluster.arn} is not a member of global cluster ${global.id}.`);
    }
    if (global.failover) {
      throw invalidGlobal(
        `Global cluster ${global.id} has a ${global.failover.status} operation in progress.`,
      );
    }
    if (cluster.arn === global.writer && global.members.length > 1) {
      throw invalidGlobal(
        `DB cluster ${cluster.arn} is the primary of global cluster ${global.id}; remove its secondary clusters first.`,
      );
    }
    const wasSecondary = global.writer !== cluster.arn;
    global.members = global.members.filter((m) => m !== cluster.arn);
    if (global.writer === cluster.arn) delete global.writer;
    delete cluster.globalClusterId;
    // A detached secondary is a standalone writable cluster: its server is promoted (an emulator choice: `promoting`
    // until it accepts writes; AWS documents no status for the detach; docs/design/aurora-drill.md).
    const backend = this.backend;
    if (wasSecondary && backend && cluster.ip !== undefined) {
      cluster.status = 'promoting';
      this.background(cluster, 'detach', async () => {
        await backend.promote(cluster.id);
        if (cluster.gone || this.clock.isClosed) return;
        cluster.status = 'available';
      });
    }
    return global;
  }

  /** FailoverGlobalCluster (with or without AllowDataLoss) and SwitchoverGlobalCluster. */
  private changeWriter(tree: QueryTree, allowDataLoss: boolean): GlobalCluster {
    const global = this.findGlobal(required(tree, 'GlobalClusterIdentifier'));
    const targetId = required(tree, 'TargetDbClusterIdentifier');
    const target = this.byArn(targetId);
    if (!target || target.gone) throw clusterNotFound(targetId);
    if (global.failover) {
      throw invalidGlobal(
        `Global cluster ${global.id} has a ${global.failover.status} operation in progress.`,
      );
    }
    if (!global.members.includes(target.arn)) {
      throw invalidGlobal(`DB cluster ${target.arn} is not a member of global cluster ${global.id}.`);
    }
    if (target.arn === global.writer || global.writer === undefined) {
      throw invalidGlobal(
        `DB cluster ${target.arn} is not a secondary cluster of global cluster ${global.id}.`,
      );
    }
    if (target.status !== 'available') {
      throw invalidCluster(`DB cluster ${target.id} is not in available state; it is ${target.status}.`);
    }
    if (!allowDataLoss) {
      const versions = new Set(
        global.members.map((m) => this.byArn(m)?.engineVersion).filter((v): v is string => v !== undefined),
      );
      if (versions.size > 1) {
        throw invalidGlobal(
          `Global cluster ${global.id} cannot switch over: its members run different engine versions (${[...versions].join(', ')}).`,
        );
      }
    }
    const from = global.writer;
    const state: FailoverState = { status: 'pending', from, to: target.arn, dataLossAllowed: allowDataLoss };
    global.failover = state;
    const timings = this.clock.timings;
    this.background(target, allowDataLoss ? 'global failover' : 'global switchover', async () => {
      await this.clock.sleep(timings.promoteStartMs);
      if (this.clock.isClosed) return;
      state.status = allowDataLoss ? 'failing-over' : 'switching-over';
      global.status = state.status;
      target.status = 'failing-over';
      // The real servers: a switchover fences the old writer and promotes the target once it has replayed
      // everything (no data loss); a failover promotes the target as it is.
      const old = this.byArn(from);
      const backend = this.backend;
      const backed = backend !== undefined && target.ip !== undefined;
      const promoted = !backed
        ? undefined
        : !allowDataLoss && old?.ip !== undefined && backend.switchover
          ? backend.switchover(old.id, target.id)
          : backend.promote(target.id);
      await Promise.all([promoted, this.clock.sleep(timings.promoteModifyingMs)]);
      if (this.clock.isClosed) return;
      // The target is the writer; the old primary rejoins as a secondary (docs/aws/aurora-global-database.md), at
      // once, unless a failover finds its Region out: then it leaves the members until the Region recovers.
      global.writer = target.arn;
      target.status = 'available';
      global.status = 'available';
      delete global.failover;
      if (allowDataLoss && old && old !== target && this.outages.has(old.region)) {
        global.members = global.members.filter((m) => m !== old.arn);
        delete old.globalClusterId;
        this.awaitingReturn.push({ cluster: old, globalId: global.id, failedAt: this.clock.now() });
      }
      // The other members' servers replicate from the new writer from now on: rebuilt from it (they rejoin). A member
      // that cannot be rebuilt is `failed` itself; the new writer stays as it is.
      const rejoin = backed ? backend.rejoin?.bind(backend) : undefined;
      if (rejoin) {
        for (const arn of global.members) {
          const member = arn === target.arn ? undefined : this.byArn(arn);
          if (!member || member.gone || member.ip === undefined) continue;
          this.background(member, 'rejoin', async () => {
            const server = await rejoin(member.id, target.id, this.tlsNames(member));
            member.ip = server.address;
            member.port = server.port;
          });
        }
      }
    });
    return global;
  }

  /* ------------------------------------------------------------------------------------------ */
  /* A Region's outage and its recovery                                                         */
  /* ------------------------------------------------------------------------------------------ */

  /** The Region is out for Aurora: a global failover completing now leaves its old primary out of the members. */
  regionOutage(region: string): void {
    this.outages.add(region);
  }

  /**
   * The Region is back: each old primary a failover left out is snapshotted at the point of failure, then added back
   * to its global cluster as a secondary, `pending-resync` while it is rebuilt from the new writer
   * (docs/aws/aurora-global-database.md, "What happens to the old primary").
   */
  regionRecovers(region: string): void {
    this.outages.delete(region);
    const returning = this.awaitingReturn.filter((r) => r.cluster.region === region);
    this.awaitingReturn = this.awaitingReturn.filter((r) => r.cluster.region !== region);
    for (const { cluster, globalId, failedAt } of returning) {
      const global = this.globals.get(globalId);
      if (!global || cluster.gone) continue;
      const id = `rds:unplanned-global-failover-${cluster.id}-${snapshotTime(failedAt)}`;
      this.snapshots.push({
        id,
        arn: `arn:aws:rds:${cluster.region}:${this.account}:cluster-snapshot:${id}`,
        cluster,
        created: failedAt,
      });
      global.members.push(cluster.arn);
      cluster.globalClusterId = global.id;
      cluster.resyncing = true;
      const writer = global.writer === undefined ? undefined : this.byArn(global.writer);
      const backend = this.backend;
      const rejoin =
        backend?.rejoin && cluster.ip !== undefined && writer?.ip !== undefined
          ? backend.rejoin(cluster.id, writer.id, this.tlsNames(cluster))
          : undefined;
      this.background(cluster, 'return', async () => {
        const [server] = await Promise.all([rejoin, this.clock.sleep(this.clock.timings.createInstanceMs)]);
        if (cluster.gone || this.clock.isClosed) return;
        if (server) {
          cluster.ip = server.address;
          cluster.port = server.port;
        }
        cluster.resyncing = false;
      });
    }
  }

  /**
   * DescribeDBClusterSnapshots: the snapshots Aurora took itself, by cluster (id or ARN, in this Region) or snapshot
   * id; a cluster with none (or no such cluster) answers an empty list. `SnapshotType: automated` is the emulator's
   * choice for the failover snapshot (AWS calls it a system snapshot).
   */
  private describeSnapshots(region: string, tree: QueryTree): XmlObject {
    const clusterId = qString(tree, 'DBClusterIdentifier');
    const snapshotId = qString(tree, 'DBClusterSnapshotIdentifier');
    const type = qString(tree, 'SnapshotType');
    const cluster = clusterId === undefined ? undefined : this.lookup(region, clusterId);
    const found = this.snapshots.filter(
      (s) =>
        s.cluster.region === region &&
        (clusterId === undefined || s.cluster === cluster) &&
        (snapshotId === undefined || s.id === snapshotId || s.arn === snapshotId) &&
        (type === undefined || type === 'automated'),
    );
    if (snapshotId !== undefined && found.length === 0) {
      throw new AwsError('DBClusterSnapshotNotFoundFault', 404, `DBClusterSnapshot ${snapshotId} not found.`);
    }
    return {
      DBClusterSnapshots: xmlList(
        'DBClusterSnapshot',
        found.map((s) => ({
          AvailabilityZones: xmlList('AvailabilityZone', [`${region}a`, `${region}b`, `${region}c`]),
          DBClusterSnapshotIdentifier: s.id,
          DBClusterIdentifier: s.cluster.id,
          SnapshotCreateTime: new Date(s.created),
          Engine: s.cluster.engine,
          EngineMode: 'provisioned',
          AllocatedStorage: 1,
          Status: 'available',
          Port: s.cluster.port,
          ClusterCreateTime: s.cluster.created === undefined ? undefined : new Date(s.cluster.created),
          MasterUsername: s.cluster.masterUsername,
          EngineVersion: s.cluster.engineVersion,
          SnapshotType: 'automated',
          PercentProgress: 100,
          StorageEncrypted: false,
          DBClusterSnapshotArn: s.arn,
          IAMDatabaseAuthenticationEnabled: false,
          TagList: '',
        })),
      ),
    };
  }

  /* ------------------------------------------------------------------------------------------ */
  /* Rendering                                                                                  */
  /* ------------------------------------------------------------------------------------------ */

  private render(c: Cluster): XmlObject {
    const creating = c.status === 'creating';
    return {
      AllocatedStorage: 1,
      AvailabilityZones: xmlList('AvailabilityZone', [`${c.region}a`, `${c.region}b`, `${c.region}c`]),
      BackupRetentionPeriod: c.backupRetentionPeriod,
      DatabaseName: c.databaseName,
      DBClusterIdentifier: c.id,
      DBClusterParameterGroup: `default.${c.engine}${c.engineVersion.split('.')[0]}`,
      DBSubnetGroup: 'default',
      Status: c.status,
      PendingModifiedValues:
        c.pendingRename === undefined ? undefined : { DBClusterIdentifier: c.pendingRename },
      // Aurora has no endpoint names to hand out until the cluster is created.
      Endpoint: creating ? undefined : c.endpoint,
      ReaderEndpoint: creating ? undefined : c.readerEndpoint,
      MultiAZ: false,
      Engine: c.engine,
      EngineVersion: c.engineVersion,
      Port: c.port,
      MasterUsername: c.masterUsername,
      PreferredBackupWindow: '06:30-07:00',
      PreferredMaintenanceWindow: 'sun:08:00-sun:08:30',
      ReplicationSourceIdentifier: c.replicationSource,
      ReadReplicaIdentifiers: xmlList('ReadReplicaIdentifier', c.readReplicas),
      DBClusterMembers: xmlList(
        'DBClusterMember',
        c.instances.map((id, i) => ({
          DBInstanceIdentifier: id,
          IsClusterWriter: i === 0 && c.globalClusterId === undefined ? true : i === 0 && this.isWriter(c),
          DBClusterParameterGroupStatus: 'in-sync',
          PromotionTier: 1,
        })),
      ),
      VpcSecurityGroups: xmlList('VpcSecurityGroupMembership', [
        { VpcSecurityGroupId: 'sg-0123456789abcdef0', Status: 'active' },
      ]),
      HostedZoneId: 'Z2R2ITUGPM61AM',
      StorageEncrypted: false,
      DbClusterResourceId: c.resourceId,
      DBClusterArn: c.arn,
      IAMDatabaseAuthenticationEnabled: false,
      ClusterCreateTime: c.created === undefined ? undefined : new Date(c.created),
      EngineMode: 'provisioned',
      DeletionProtection: false,
      HttpEndpointEnabled: false,
      CopyTagsToSnapshot: false,
      CrossAccountClone: false,
      TagList: xmlList(
        'Tag',
        c.tags.map((t) => ({ ...t })),
      ),
      GlobalClusterIdentifier: c.globalClusterId,
      GlobalWriteForwardingStatus: c.globalClusterId === undefined ? undefined : 'disabled',
      NetworkType: 'IPV4',
    };
  }

  private renderGlobal(g: GlobalCluster): XmlObject {
    const secondaries = g.members.filter((m) => m !== g.writer);
    return {
      GlobalClusterIdentifier: g.id,
      GlobalClusterResourceId: g.resourceId,
      GlobalClusterArn: g.arn,
      Status: g.status,
      Engine: g.engine,
      EngineVersion: g.engineVersion,
      StorageEncrypted: false,
      DeletionProtection: false,
      GlobalClusterMembers: xmlList(
        'GlobalClusterMember',
        g.members.map((m) =>
          m === g.writer
            ? { DBClusterArn: m, Readers: xmlList('member', secondaries), IsWriter: true }
            : {
                DBClusterArn: m,
                Readers: '',
                IsWriter: false,
                GlobalWriteForwardingStatus: 'disabled',
                SynchronizationStatus: this.byArn(m)?.resyncing ? 'pending-resync' : 'connected',
              },
        ),
      ),
      Endpoint: g.endpoint,
      FailoverState: g.failover
        ? {
            Status: g.failover.status,
            FromDbClusterArn: g.failover.from,
            ToDbClusterArn: g.failover.to,
            IsDataLossAllowed: g.failover.dataLossAllowed,
          }
        : undefined,
      TagList: xmlList(
        'Tag',
        g.tags.map((t) => ({ ...t })),
      ),
    };
  }

  /** The names a backed cluster's server certificate carries: its endpoints and its global cluster's writer endpoint. */
  private tlsNames(cluster: Cluster): string[] {
    const global =
      cluster.globalClusterId === undefined ? undefined : this.globals.get(cluster.globalClusterId);
    return [cluster.endpoint, cluster.readerEndpoint, ...(global ? [global.endpoint] : [])];
  }

  /**
   * Endpoint names with the address they resolve to, for the DNS server: each backed cluster's cluster and reader
   * endpoints (to its one server), and each global cluster's writer endpoint (to its writer's server).
   */
  endpoints(): { name: string; address: string }[] {
    const out: { name: string; address: string }[] = [];
    for (const store of this.clusters.values()) {
      for (const c of store.values()) {
        if (c.ip === undefined || c.gone || c.status === 'creating') continue;
        out.push({ name: c.endpoint, address: c.ip }, { name: c.readerEndpoint, address: c.ip });
      }
    }
    for (const g of this.globals.values()) {
      const writer = g.writer === undefined ? undefined : this.byArn(g.writer);
      if (writer?.ip !== undefined && !writer.gone) out.push({ name: g.endpoint, address: writer.ip });
    }
    return out;
  }

  /**
   * A cluster as a world has it before a run (emulator.seed.dbCluster): `available`, in its global cluster (the first
   * member is the writer) or replicating from its source cluster, its endpoints resolving to `address` when given.
   */
  seedCluster(input: SeedDbClusterInput): SeededDbCluster {
    const tree: QueryTree = {
      DBClusterIdentifier: input.id,
      Engine: input.engine,
      ...(input.engineVersion !== undefined ? { EngineVersion: input.engineVersion } : {}),
      ...(input.masterUsername !== undefined ? { MasterUsername: input.masterUsername } : {}),
      ...(input.databaseName !== undefined ? { DatabaseName: input.databaseName } : {}),
      ...(input.globalClusterId !== undefined ? { GlobalClusterIdentifier: input.globalClusterId } : {}),
      ...(input.replicationSourceArn !== undefined
        ? { ReplicationSourceIdentifier: input.replicationSourceArn }
        : {}),
      BackupRetentionPeriod: String(input.backupRetentionPeriod ?? 7),
      Tags: {
        Tag: Object.fromEntries(
          Object.entries(input.tags ?? {}).map(([Key, Value], i) => [String(i + 1), { Key, Value }]),
        ),
      },
    };
    const cluster = this.createCluster(input.region, tree, {
      ...(input.address !== undefined ? { address: input.address } : {}),
      ...(input.port !== undefined ? { port: input.port } : {}),
    });
    return {
      arn: cluster.arn,
      endpoint: cluster.endpoint,
      readerEndpoint: cluster.readerEndpoint,
      port: cluster.port,
    };
  }

  /** An empty global cluster (emulator.seed.globalCluster); seeded clusters join it with `globalClusterId`. */
  seedGlobal(input: SeedGlobalClusterInput): SeededGlobalCluster {
    const global = this.createGlobal('us-east-1', {
      GlobalClusterIdentifier: input.id,
      Engine: input.engine,
      ...(input.engineVersion !== undefined ? { EngineVersion: input.engineVersion } : {}),
    });
    return { arn: global.arn, endpoint: global.endpoint };
  }

  /**
   * The names a cluster with this id has, or will have, in `region`, and the writer endpoint of a global cluster
   * (for the certificates of the servers a world starts before it seeds them).
   */
  endpointNames(region: string, id: string): { endpoint: string; readerEndpoint: string } {
    const lower = id.toLowerCase();
    const suffix = this.suffix(region);
    return {
      endpoint: `${lower}.cluster-${suffix}.${region}.rds.amazonaws.com`,
      readerEndpoint: `${lower}.cluster-ro-${suffix}.${region}.rds.amazonaws.com`,
    };
  }

  /** Cluster endpoint names (writer and reader), for tests and a future DNS view. */
  clusterEndpoints(region: string, id: string): { endpoint: string; readerEndpoint: string } | undefined {
    const cluster = this.store(region).get(id.toLowerCase());
    return cluster ? { endpoint: cluster.endpoint, readerEndpoint: cluster.readerEndpoint } : undefined;
  }
}
