/**
 * RDS DB instances (Query protocol: form-encoded `Action=...&Version=2014-10-31`, XML answers in the
 * `http://rds.amazonaws.com/doc/2014-10-31/` namespace, errors as `<ErrorResponse><Error><Code>`; the SDK maps the
 * wire codes `DBInstanceNotFound` / `InvalidDBInstanceState` to its `...Fault` classes through their awsQueryError
 * traits).
 *
 * Modelled on the RDS API reference and user guide:
 * - CreateDBInstanceReadReplica across Regions takes the source ARN; the replica's
 *   `ReadReplicaSourceDBInstanceIdentifier` is that ARN and the source lists the replica's ARN in
 *   `ReadReplicaDBInstanceIdentifiers` (same Region: plain ids). The source must be `available` with automated
 *   backups on. The replica is `creating`, then `available`.
 * - PromoteReadReplica is asynchronous: the answer still shows `available`, the status stays `available` for
 *   `promoteStartMs`, then `modifying` (the backend promotes the real database here), `rebooting`, and `available`
 *   with no `ReadReplicaSourceDBInstanceIdentifier`. It is refused with InvalidDBInstanceState when the instance is
 *   not a read replica or not `available` (e.g. `backing-up`, or `modifying` during a promotion). A second call
 *   while the status is still `available` is accepted and starts nothing new (AWS documents nothing for this
 *   window; what matters is that there is no second promotion).
 * - DeleteDBInstance needs SkipFinalSnapshot or a FinalDBSnapshotIdentifier; the instance is `deleting`, then
 *   gone. Its read replicas are promoted ("If you delete a source DB instance ... each read replica is promoted").
 * - `MasterUserSecret` is absent unless seeded.
 * - An Aurora DB instance (CreateDBInstance with DBClusterIdentifier, an aurora-* engine equal to the cluster's) joins
 *   that cluster's DBClusterMembers (services/rds-aurora.ts); the cluster cannot be deleted while it has one.
 */
import {
  AwsError,
  type CallInfo,
  type Clock,
  type EmulatorRequest,
  errorMessage,
  type HttpAnswer,
  isReadAction,
  LOWER_ALNUM,
  type Rng,
  type ServiceHandler,
  UPPER_ALNUM,
} from '../core.js';
import type { DatabaseBackend, SeedDbInstanceInput, SeededDbInstance } from '../types.js';
import {
  parseQueryForm,
  type QueryTree,
  qBool,
  qInt,
  qList,
  qString,
  queryAnswer,
  type XmlObject,
  xmlError,
  xmlList,
} from '../wire.js';
import { AuroraClusters } from './rds-aurora.js';
import { describePage } from './rds-describe.js';

const XMLNS = 'http://rds.amazonaws.com/doc/2014-10-31/';
const ENGINE_DEFAULTS: Record<string, { port: number; version: string; family: string; license: string }> = {
  postgres: { port: 5432, version: '16.4', family: 'postgres16', license: 'postgresql-license' },
  mysql: { port: 3306, version: '8.0.39', family: 'mysql8.0', license: 'general-public-license' },
  mariadb: { port: 3306, version: '10.11.9', family: 'mariadb10.11', license: 'general-public-license' },
  'aurora-postgresql': {
    port: 5432,
    version: '16.4',
    family: 'aurora-postgresql16',
    license: 'postgresql-license',
  },
  'aurora-mysql': {
    port: 3306,
    version: '8.0.mysql_aurora.3.07.1',
    family: 'aurora-mysql8.0',
    license: 'general-public-license',
  },
};

interface Tag {
  Key: string;
  Value: string;
}

interface DbInstance {
  id: string;
  readonly region: string;
  arn: string;
  readonly engine: string;
  readonly engineVersion: string;
  readonly instanceClass: string;
  status: string;
  readonly masterUsername: string;
  readonly dbName?: string;
  port: number;
  endpointAddress: string;
  /** The IP the endpoint name resolves to (a real server), when known. */
  ip?: string;
  readonly allocatedStorage: number;
  created?: number;
  backupRetentionPeriod: number;
  /** Source: its ARN for a cross-Region replica, its id in the same Region. */
  replicaSource?: string;
  /** Replicas: ARNs for cross-Region ones, ids in the same Region. */
  replicas: string[];
  tags: Tag[];
  readonly resourceId: string;
  readonly availabilityZone: string;
  masterUserSecretArn?: string;
  replicaLagSeconds?: number;
  promotionScheduled: boolean;
  gone: boolean;
  /** ModifyDBInstance NewDBInstanceIdentifier not applied yet (PendingModifiedValues.DBInstanceIdentifier). */
  pendingRename?: string;
  /** The Aurora DB cluster this instance belongs to. */
  clusterId?: string;
}

function identifierOk(id: string): boolean {
  return /^[a-zA-Z](?:[a-zA-Z0-9]|-(?!-)){0,62}$/.test(id) && !id.endsWith('-');
}

function parseArn(arn: string): { region: string; id: string } | undefined {
  const match = /^arn:aws[a-z-]*:rds:([a-z0-9-]+):\d{12}:db:(.+)$/.exec(arn);
  return match ? { region: match[1] as string, id: (match[2] as string).toLowerCase() } : undefined;
}

function notFound(id: string): AwsError {
  return new AwsError('DBInstanceNotFound', 404, `DBInstance ${id} not found.`);
}

function required(tree: QueryTree, key: string): string {
  const value = qString(tree, key);
  if (value === undefined || value === '') {
    throw new AwsError('MissingParameter', 400, `The request must contain the parameter ${key}`);
  }
  return value;
}

function tagsOf(tree: QueryTree): Tag[] {
  return qList(tree, 'Tags').map((item) => ({
    Key: qString(item, 'Key') ?? '',
    Value: qString(item, 'Value') ?? '',
  }));
}

export class RdsService implements ServiceHandler {
  readonly name = 'rds' as const;
  private readonly regions = new Map<string, Map<string, DbInstance>>();
  private readonly endpointSuffixes = new Map<string, string>();
  /** Aurora DB clusters and global clusters (services/rds-aurora.ts): the actions this class does not handle. */
  readonly aurora: AuroraClusters;

  constructor(
    private readonly account: string,
    private readonly clock: Clock,
    private readonly rng: Rng,
    private readonly backend: DatabaseBackend | undefined,
    private readonly onBackgroundError: (error: unknown, what: string) => void,
  ) {
    this.aurora = new AuroraClusters(
      account,
      clock,
      rng,
      onBackgroundError,
      (region) => this.endpointSuffix(region),
      backend,
    );
  }

  /* ------------------------------------------------------------------------------------------ */
  /* Dispatch                                                                                   */
  /* ------------------------------------------------------------------------------------------ */

  describe(req: EmulatorRequest): CallInfo {
    const tree = parseQueryForm(req.body);
    const action = qString(tree, 'Action');
    if (!action) throw new AwsError('MissingAction', 400, 'The request must contain the parameter Action');
    const resource =
      qString(tree, 'DBInstanceIdentifier') ??
      qString(tree, 'ResourceName') ??
      qString(tree, 'SourceDBInstanceIdentifier') ??
      qString(tree, 'DBClusterIdentifier') ??
      qString(tree, 'GlobalClusterIdentifier') ??
      null;
    return { action, resource, mutating: !isReadAction(action) };
  }

  async handle(req: EmulatorRequest, call: CallInfo): Promise<HttpAnswer> {
    const tree = parseQueryForm(req.body);
    const op = this.operations[call.action] ?? this.aurora.operations[call.action];
    if (!op) throw new AwsError('InvalidAction', 400, `Could not find operation ${call.action}`);
    return queryAnswer(call.action, XMLNS, op(req.region, tree), req.requestId);
  }

  errorAnswer(error: AwsError, req: EmulatorRequest): HttpAnswer {
    return xmlError(error, req.requestId, XMLNS);
  }

  throttlingError(): AwsError {
    return new AwsError('Throttling', 400, 'Rate exceeded');
  }

  serverError(): AwsError {
    return new AwsError(
      'InternalFailure',
      500,
      'The request processing has failed because of an unknown error, exception or failure.',
    );
  }

  private readonly operations: Record<string, (region: string, tree: QueryTree) => XmlObject | undefined> = {
    CreateDBInstance: (region, tree) => ({ DBInstance: this.render(this.createDbInstance(region, tree)) }),
    CreateDBInstanceReadReplica: (region, tree) => ({
      DBInstance: this.render(this.createReadReplica(region, tree)),
    }),
    DescribeDBInstances: (region, tree) => this.describeDbInstances(region, tree),
    PromoteReadReplica: (region, tree) => ({
      DBInstance: this.render(this.promoteReadReplica(region, tree)),
    }),
    DeleteDBInstance: (region, tree) => ({ DBInstance: this.render(this.deleteDbInstance(region, tree)) }),
    ModifyDBInstance: (region, tree) => ({ DBInstance: this.render(this.modifyDbInstance(region, tree)) }),
    AddTagsToResource: (region, tree) => {
      // A DB cluster's ARN (re-protect tags a retired Aurora primary cluster): services/rds-aurora.ts.
      if (this.aurora.isClusterArn(required(tree, 'ResourceName'))) {
        this.aurora.addTags(region, required(tree, 'ResourceName'), tagsOf(tree));
        return undefined;
      }
      const instance = this.byResourceName(region, required(tree, 'ResourceName'));
      for (const tag of tagsOf(tree)) {
        const existing = instance.tags.find((t) => t.Key === tag.Key);
        if (existing) existing.Value = tag.Value;
        else instance.tags.push(tag);
      }
      return undefined;
    },
    RemoveTagsFromResource: (region, tree) => {
      const instance = this.byResourceName(region, required(tree, 'ResourceName'));
      const keys = new Set(qList(tree, 'TagKeys').filter((k): k is string => typeof k === 'string'));
      instance.tags = instance.tags.filter((t) => !keys.has(t.Key));
      return undefined;
    },
    ListTagsForResource: (region, tree) => {
      const instance = this.byResourceName(region, required(tree, 'ResourceName'));
      return {
        TagList: xmlList(
          'Tag',
          instance.tags.map((t) => ({ ...t })),
        ),
      };
    },
  };

  /* ------------------------------------------------------------------------------------------ */
  /* State helpers                                                                              */
  /* ------------------------------------------------------------------------------------------ */

  private store(region: string): Map<string, DbInstance> {
    let store = this.regions.get(region);
    if (!store) {
      store = new Map();
      this.regions.set(region, store);
    }
    return store;
  }

  private endpointSuffix(region: string): string {
    let suffix = this.endpointSuffixes.get(region);
    if (!suffix) {
      suffix = this.rng.chars(12, LOWER_ALNUM);
      this.endpointSuffixes.set(region, suffix);
    }
    return suffix;
  }

  /** An id or an ARN naming an instance in this Region. */
  private lookup(region: string, idOrArn: string): DbInstance | undefined {
    const arn = parseArn(idOrArn);
    if (arn && arn.region !== region) return undefined;
    return this.store(region).get(arn ? arn.id : idOrArn.toLowerCase());
  }

  private find(region: string, idOrArn: string): DbInstance {
    const instance = this.lookup(region, idOrArn);
    if (!instance) throw notFound(idOrArn);
    return instance;
  }

  private byResourceName(region: string, arn: string): DbInstance {
    const parsed = parseArn(arn);
    if (!parsed) {
      throw new AwsError(
        'InvalidParameterValue',
        400,
        `The specified resource name does not match an RDS resource in this region.`,
      );
    }
    return this.find(region, arn);
  }

  /** The instance a replica's `replicaSource` names (ARN or same-Region id). */
  private sourceOf(replica: DbInstance): DbInstance | undefined {
    if (!replica.replicaSource) return undefined;
    const arn = parseArn(replica.replicaSource);
    return arn ? this.store(arn.region).get(arn.id) : this.store(replica.region).get(replica.replicaSource);
  }

  private newInstance(
    region: string,
    id: string,
    fields: {
      engine: string;
      engineVersion?: string;
      instanceClass?: string;
      status: string;
      masterUsername?: string;
      dbName?: string;
      port?: number;
      allocatedStorage?: number;
      backupRetentionPeriod: number;
      tags: Tag[];
    },
  ): DbInstance {
    const defaults = ENGINE_DEFAULTS[fields.engine];
    if (!defaults) {
      throw new AwsError('InvalidParameterValue', 400, `Invalid DB engine: ${fields.engine}`);
    }
    const lower = id.toLowerCase();
    return {
      id: lower,
      region,
      arn: `arn:aws:rds:${region}:${this.account}:db:${lower}`,
      engine: fields.engine,
      engineVersion: fields.engineVersion ?? defaults.version,
      instanceClass: fields.instanceClass ?? 'db.t4g.medium',
      status: fields.status,
      masterUsername: fields.masterUsername ?? 'postgres',
      ...(fields.dbName !== undefined ? { dbName: fields.dbName } : {}),
      port: fields.port ?? defaults.port,
      endpointAddress: `${lower}.${this.endpointSuffix(region)}.${region}.rds.amazonaws.com`,
      allocatedStorage: fields.allocatedStorage ?? 20,
      backupRetentionPeriod: fields.backupRetentionPeriod,
      replicas: [],
      tags: fields.tags,
      resourceId: `db-${this.rng.chars(26, UPPER_ALNUM)}`,
      availabilityZone: `${region}${'abc'[Math.floor(this.rng.next() * 3)]}`,
      promotionScheduled: false,
      gone: false,
    };
  }

  /** Runs a background task; a failure puts the instance in `failed` and is reported. */
  private background(instance: DbInstance, what: string, task: () => Promise<void>): void {
    task().catch((error: unknown) => {
      if (this.clock.isClosed) return;
      instance.status = 'failed';
      this.onBackgroundError(
        error,
        `${what} of ${instance.id} in ${instance.region}: ${errorMessage(error)}`,
      );
    });
  }

  /* ------------------------------------------------------------------------------------------ */
  /* Operations                                                                                 */
  /* ------------------------------------------------------------------------------------------ */

  private checkNew(region: string, id: string): void {
    if (!identifierOk(id)) {
      throw new AwsError(
        'InvalidParameterValue',
        400,
        'The parameter DBInstanceIdentifier is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.',
      );
    }
    if (this.store(region).has(id.toLowerCase())) {
      throw new AwsError('DBInstanceAlreadyExists', 400, 'DB instance already exists');
    }
  }

  private createDbInstance(region: string, tree: QueryTree): DbInstance {
    const id = required(tree, 'DBInstanceIdentifier');
    this.checkNew(region, id);
    const engine = required(tree, 'Engine');
    const clusterId = qString(tree, 'DBClusterIdentifier');
    if (engine.startsWith('aurora') !== (clusterId !== undefined)) {
      throw new AwsError(
        'InvalidParameterCombination',
        400,
        clusterId === undefined
          ? `An ${engine} DB instance must be created in a DB cluster (DBClusterIdentifier).`
          : `DBClusterIdentifier is for Aurora engines; ${engine} is not one.`,
      );
    }
    // Joins the cluster's members (refused when the cluster is missing or of another engine).
    if (clusterId !== undefined) this.aurora.addMember(region, clusterId, id.toLowerCase(), engine);
    const instance = this.newInstance(region, id, {
      engine,
      instanceClass: required(tree, 'DBInstanceClass'),
      status: 'creating',
      ...(qString(tree, 'EngineVersion') !== undefined
        ? { engineVersion: qString(tree, 'EngineVersion') }
        : {}),
      ...(qString(tree, 'MasterUsername') !== undefined
        ? { masterUsername: qString(tree, 'MasterUsername') }
        : {}),
      ...(qString(tree, 'DBName') !== undefined ? { dbName: qString(tree, 'DBName') } : {}),
      ...(qInt(tree, 'Port') !== undefined ? { port: qInt(tree, 'Port') } : {}),
      ...(qInt(tree, 'AllocatedStorage') !== undefined
        ? { allocatedStorage: qInt(tree, 'AllocatedStorage') }
        : {}),
      backupRetentionPeriod: qInt(tree, 'BackupRetentionPeriod') ?? 1,
      tags: tagsOf(tree),
    });
    if (clusterId !== undefined) instance.clusterId = clusterId.toLowerCase();
    this.store(region).set(instance.id, instance);
    this.background(instance, 'create', async () => {
      await this.clock.sleep(this.clock.timings.createInstanceMs);
      if (instance.gone || this.clock.isClosed) return;
      instance.status = 'available';
      instance.created = this.clock.now();
    });
    return instance;
  }

  private createReadReplica(region: string, tree: QueryTree): DbInstance {
    const id = required(tree, 'DBInstanceIdentifier');
    const sourceId = required(tree, 'SourceDBInstanceIdentifier');
    const sourceArn = parseArn(sourceId);
    const source = sourceArn
      ? this.store(sourceArn.region).get(sourceArn.id)
      : this.store(region).get(sourceId.toLowerCase());
    if (!source || source.gone) throw notFound(sourceId);
    this.checkNew(region, id);
    if (source.status !== 'available') {
      throw new AwsError(
        'InvalidDBInstanceState',
        400,
        `DB Instance ${source.id} is not in available state; it is ${source.status}.`,
      );
    }
    if (source.backupRetentionPeriod === 0) {
      throw new AwsError(
        'InvalidDBInstanceState',
        400,
        'Automated backups are not enabled for this database instance. To enable automated backups, use ModifyDBInstance to set the backup retention period to a non-zero value.',
      );
    }
    const crossRegion = source.region !== region;
    const replica = this.newInstance(region, id, {
      engine: source.engine,
      engineVersion: source.engineVersion,
      instanceClass: qString(tree, 'DBInstanceClass') ?? source.instanceClass,
      status: 'creating',
      masterUsername: source.masterUsername,
      ...(source.dbName !== undefined ? { dbName: source.dbName } : {}),
      port: qInt(tree, 'Port') ?? source.port,
      allocatedStorage: source.allocatedStorage,
      backupRetentionPeriod: 0,
      tags: tagsOf(tree),
    });
    replica.replicaSource = crossRegion ? source.arn : source.id;
    source.replicas.push(crossRegion ? replica.arn : replica.id);
    this.store(region).set(replica.id, replica);
    this.background(replica, 'createReplica', async () => {
      const made = this.backend ? this.backend.createReplica(source.id, replica.id, region) : undefined;
      const [endpoint] = await Promise.all([made, this.clock.sleep(this.clock.timings.createInstanceMs)]);
      if (replica.gone || this.clock.isClosed) return;
      if (endpoint) {
        replica.ip = endpoint.address;
        replica.port = endpoint.port;
      }
      replica.status = 'available';
      replica.created = this.clock.now();
    });
    return replica;
  }

  private describeDbInstances(region: string, tree: QueryTree): XmlObject {
    const id = qString(tree, 'DBInstanceIdentifier');
    return describePage(tree, {
      one: id !== undefined ? this.find(region, id) : undefined,
      all: () => [...this.store(region).values()],
      idFilter: 'db-instance-id',
      list: 'DBInstances',
      member: 'DBInstance',
      render: (i) => this.render(i),
    });
  }

  private promoteReadReplica(region: string, tree: QueryTree): DbInstance {
    const instance = this.find(region, required(tree, 'DBInstanceIdentifier'));
    if (!instance.replicaSource) {
      throw new AwsError('InvalidDBInstanceState', 400, 'DB Instance is not a read replica.');
    }
    if (instance.status !== 'available') {
      throw new AwsError(
        'InvalidDBInstanceState',
        400,
        `DB Instance ${instance.id} is not in available state; it is ${instance.status}.`,
      );
    }
    // Called again before the promotion has visibly started: accepted, nothing new starts.
    if (instance.promotionScheduled) return instance;
    const retention = qInt(tree, 'BackupRetentionPeriod');
    this.startPromotion(instance, retention);
    return instance;
  }

  private startPromotion(instance: DbInstance, retention: number | undefined): void {
    instance.promotionScheduled = true;
    const timings = this.clock.timings;
    this.background(instance, 'promote', async () => {
      await this.clock.sleep(timings.promoteStartMs);
      if (instance.gone || this.clock.isClosed) return;
      instance.status = 'modifying';
      const promoted = this.backend ? this.backend.promote(instance.id) : undefined;
      await Promise.all([promoted, this.clock.sleep(timings.promoteModifyingMs)]);
      if (instance.gone || this.clock.isClosed) return;
      instance.status = 'rebooting';
      await this.clock.sleep(timings.promoteRebootingMs);
      if (instance.gone || this.clock.isClosed) return;
      const source = this.sourceOf(instance);
      if (source) {
        source.replicas = source.replicas.filter((r) => r !== instance.arn && r !== instance.id);
      }
      delete instance.replicaSource;
      // PromoteReadReplica's BackupRetentionPeriod defaults to 1 (API reference).
      instance.backupRetentionPeriod = retention ?? (instance.backupRetentionPeriod || 1);
      instance.status = 'available';
      instance.promotionScheduled = false;
    });
  }

  /**
   * ModifyDBInstance, the rename only (NewDBInstanceIdentifier; docs/aws/rds-rename.md). With ApplyImmediately the
   * instance is `renaming` under its old name (PendingModifiedValues names the new one) for `renameInstanceMs`, then
   * found only under the new name, with a new endpoint, `rebooting` for `promoteRebootingMs`, then `available`. Its
   * tags, resource id and replication links stay. Without ApplyImmediately the rename waits for the maintenance window,
   * which is not emulated: it stays pending. Refused unless `available`, and when the new name is taken.
   */
  private modifyDbInstance(region: string, tree: QueryTree): DbInstance {
    const instance = this.find(region, required(tree, 'DBInstanceIdentifier'));
    const newId = qString(tree, 'NewDBInstanceIdentifier');
    const others = Object.keys(tree).filter(
      (k) =>
        ![
          'Action',
          'Version',
          'DBInstanceIdentifier',
          'NewDBInstanceIdentifier',
          'ApplyImmediately',
        ].includes(k),
    );
    if (others.length) {
      throw new AwsError(
        'InvalidParameterCombination',
        400,
        `The emulator models only the rename: ${others.join(', ')}`,
      );
    }
    if (newId === undefined) return instance;
    if (instance.status !== 'available') {
      throw new AwsError(
        'InvalidDBInstanceState',
        400,
        `DB Instance ${instance.id} is not in available state; it is ${instance.status}.`,
      );
    }
    this.checkNew(region, newId);
    const target = newId.toLowerCase();
    instance.pendingRename = target;
    if (qBool(tree, 'ApplyImmediately') !== true) return instance;
    instance.status = 'renaming';
    const timings = this.clock.timings;
    this.background(instance, 'rename', async () => {
      await this.clock.sleep(timings.renameInstanceMs);
      if (instance.gone || this.clock.isClosed) return;
      const store = this.store(region);
      if (store.has(target)) throw new Error(`rename target ${target} appeared while renaming`);
      const [oldId, oldArn] = [instance.id, instance.arn];
      store.delete(oldId);
      instance.id = target;
      instance.arn = oldArn.replace(/:db:[^:]+$/, `:db:${target}`);
      instance.endpointAddress = this.endpointName(region, target);
      delete instance.pendingRename;
      store.set(target, instance);
      // Read replicas stay associated with a renamed instance (docs/aws/rds-rename.md).
      for (const name of instance.replicas) {
        const arn = parseArn(name);
        const replica = arn ? this.store(arn.region).get(arn.id) : store.get(name);
        if (replica) replica.replicaSource = replica.region === region ? target : instance.arn;
      }
      const source = this.sourceOf(instance);
      if (source) {
        source.replicas = source.replicas.map((r) =>
          r === oldArn ? instance.arn : r === oldId ? target : r,
        );
      }
      if (this.backend?.rename) await this.backend.rename(oldId, target);
      instance.status = 'rebooting';
      await this.clock.sleep(timings.promoteRebootingMs);
      if (instance.gone || this.clock.isClosed) return;
      instance.status = 'available';
    });
    return instance;
  }

  private deleteDbInstance(region: string, tree: QueryTree): DbInstance {
    const instance = this.find(region, required(tree, 'DBInstanceIdentifier'));
    const skip = qBool(tree, 'SkipFinalSnapshot') === true;
    if (!skip && qString(tree, 'FinalDBSnapshotIdentifier') === undefined) {
      throw new AwsError(
        'InvalidParameterCombination',
        400,
        'FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.',
      );
    }
    if (instance.status === 'deleting') {
      throw new AwsError('InvalidDBInstanceState', 400, `Instance ${instance.id} is already being deleted.`);
    }
    if (instance.clusterId !== undefined)
      this.aurora.assertMemberDeletable(region, instance.clusterId, instance.id);
    instance.status = 'deleting';
    this.background(instance, 'delete', async () => {
      await this.clock.sleep(this.clock.timings.deleteInstanceMs);
      if (this.clock.isClosed) return;
      instance.gone = true;
      this.store(region).delete(instance.id);
      if (instance.clusterId !== undefined) this.aurora.removeMember(region, instance.clusterId, instance.id);
      const source = this.sourceOf(instance);
      if (source) source.replicas = source.replicas.filter((r) => r !== instance.arn && r !== instance.id);
      for (const name of instance.replicas) {
        const arn = parseArn(name);
        const replica = arn ? this.store(arn.region).get(arn.id) : this.store(region).get(name);
        if (replica && !replica.promotionScheduled) this.startPromotion(replica, undefined);
      }
      if (this.backend) await this.backend.remove(instance.id);
    });
    return instance;
  }

  /* ------------------------------------------------------------------------------------------ */
  /* Rendering                                                                                  */
  /* ------------------------------------------------------------------------------------------ */

  private render(i: DbInstance): XmlObject {
    const defaults = ENGINE_DEFAULTS[i.engine] as (typeof ENGINE_DEFAULTS)[string];
    const creating = i.status === 'creating';
    return {
      DBInstanceIdentifier: i.id,
      DBInstanceClass: i.instanceClass,
      Engine: i.engine,
      DBInstanceStatus: i.status,
      MasterUsername: i.masterUsername,
      DBName: i.dbName,
      // RDS has no endpoint until the instance is created.
      Endpoint: creating
        ? undefined
        : { Address: i.endpointAddress, Port: i.port, HostedZoneId: 'Z1PVIF0B656C1W' },
      AllocatedStorage: i.allocatedStorage,
      InstanceCreateTime: i.created === undefined ? undefined : new Date(i.created),
      PreferredBackupWindow: '06:30-07:00',
      BackupRetentionPeriod: i.backupRetentionPeriod,
      DBSecurityGroups: '',
      VpcSecurityGroups: xmlList('VpcSecurityGroupMembership', [
        { VpcSecurityGroupId: 'sg-0123456789abcdef0', Status: 'active' },
      ]),
      DBParameterGroups: xmlList('DBParameterGroup', [
        { DBParameterGroupName: `default.${defaults.family}`, ParameterApplyStatus: 'in-sync' },
      ]),
      AvailabilityZone: i.availabilityZone,
      PreferredMaintenanceWindow: 'sun:08:00-sun:08:30',
      PendingModifiedValues: i.pendingRename ? { DBInstanceIdentifier: i.pendingRename } : '',
      MultiAZ: false,
      EngineVersion: i.engineVersion,
      AutoMinorVersionUpgrade: true,
      ReadReplicaSourceDBInstanceIdentifier: i.replicaSource,
      ReadReplicaDBInstanceIdentifiers: xmlList('ReadReplicaDBInstanceIdentifier', i.replicas),
      ReadReplicaDBClusterIdentifiers: '',
      LicenseModel: defaults.license,
      OptionGroupMemberships: xmlList('OptionGroupMembership', [
        { OptionGroupName: `default:${i.engine}-${i.engineVersion.split('.')[0]}`, Status: 'in-sync' },
      ]),
      PubliclyAccessible: false,
      StatusInfos: i.replicaSource
        ? xmlList('DBInstanceStatusInfo', [
            { StatusType: 'read replication', Normal: true, Status: 'replicating' },
          ])
        : undefined,
      StorageType: 'gp3',
      DbInstancePort: 0,
      StorageEncrypted: false,
      DbiResourceId: i.resourceId,
      CACertificateIdentifier: 'rds-ca-rsa2048-g1',
      CopyTagsToSnapshot: false,
      DBInstanceArn: i.arn,
      IAMDatabaseAuthenticationEnabled: false,
      PerformanceInsightsEnabled: false,
      DeletionProtection: false,
      TagList: xmlList(
        'Tag',
        i.tags.map((t) => ({ ...t })),
      ),
      MasterUserSecret: i.masterUserSecretArn
        ? { SecretArn: i.masterUserSecretArn, SecretStatus: 'active', KmsKeyId: 'alias/aws/secretsmanager' }
        : undefined,
      BackupTarget: 'region',
      NetworkType: 'IPV4',
      DBClusterIdentifier: i.clusterId,
    };
  }

  /* ------------------------------------------------------------------------------------------ */
  /* Seeding and views                                                                          */
  /* ------------------------------------------------------------------------------------------ */

  seed(input: SeedDbInstanceInput): SeededDbInstance {
    const engine = input.engine ?? 'postgres';
    const isReplica = input.replicaOf !== undefined;
    this.checkNew(input.region, input.id);
    const instance = this.newInstance(input.region, input.id, {
      engine,
      ...(input.engineVersion !== undefined ? { engineVersion: input.engineVersion } : {}),
      ...(input.instanceClass !== undefined ? { instanceClass: input.instanceClass } : {}),
      status: input.status ?? 'available',
      ...(input.masterUsername !== undefined ? { masterUsername: input.masterUsername } : {}),
      ...(input.dbName !== undefined ? { dbName: input.dbName } : {}),
      ...(input.port !== undefined ? { port: input.port } : {}),
      backupRetentionPeriod: input.backupRetentionPeriod ?? (isReplica ? 0 : 7),
      tags: Object.entries(input.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
    });
    if (input.address !== undefined) instance.ip = input.address;
    if (input.masterUserSecretArn !== undefined) instance.masterUserSecretArn = input.masterUserSecretArn;
    if (input.replicaLagSeconds !== undefined) instance.replicaLagSeconds = input.replicaLagSeconds;
    instance.created = this.clock.now();
    if (input.replicaOf !== undefined) {
      const arn = parseArn(input.replicaOf);
      const source = arn
        ? this.store(arn.region).get(arn.id)
        : this.store(input.region).get(input.replicaOf.toLowerCase());
      if (!source) {
        throw new TypeError(
          `seed.dbInstance: replicaOf ${input.replicaOf} is not a seeded instance (seed it first)`,
        );
      }
      const crossRegion = source.region !== input.region;
      instance.replicaSource = crossRegion ? source.arn : source.id;
      source.replicas.push(crossRegion ? instance.arn : instance.id);
    }
    this.store(input.region).set(instance.id, instance);
    return { arn: instance.arn, endpointAddress: instance.endpointAddress, port: instance.port };
  }

  /** Sets an instance's status (e.g. `backing-up`) for tests; nothing else changes. */
  setStatus(region: string, id: string, status: string): void {
    const instance = this.lookup(region, id);
    if (!instance) throw new TypeError(`rds.setStatus: no instance ${id} in ${region}`);
    instance.status = status;
  }

  /**
   * The endpoint name an instance with this id has, or will have, in `region` (`<id>.<random>.<region>.rds.amazonaws.com`;
   * the random part is the account's per Region). The proving ground issues each server's TLS certificate for it.
   */
  endpointName(region: string, id: string): string {
    return `${id.toLowerCase()}.${this.endpointSuffix(region)}.${region}.rds.amazonaws.com`;
  }

  /** Endpoint names with a known address, for the DNS server (the Aurora clusters' too). */
  endpoints(): { name: string; address: string }[] {
    const out: { name: string; address: string }[] = this.aurora.endpoints();
    for (const store of this.regions.values()) {
      for (const instance of store.values()) {
        if (instance.ip !== undefined && instance.status !== 'creating') {
          out.push({ name: instance.endpointAddress, address: instance.ip });
        }
      }
    }
    return out;
  }

  /** The ReplicaLag RDS would publish now for this instance, when it is a replica with a seeded lag. */
  replicaLag(region: string, id: string): number | undefined {
    const instance = this.store(region).get(id.toLowerCase());
    if (!instance?.replicaSource) return undefined;
    return instance.replicaLagSeconds;
  }
}
