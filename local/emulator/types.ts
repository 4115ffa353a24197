/**
 * Public types of the local AWS emulator (see index.ts for the overview).
 */

/* ---------------------------------------------------------------------------------------------- */
/* Real databases behind the emulated RDS instances                                                */
/* ---------------------------------------------------------------------------------------------- */

export interface DatabaseEndpoint {
  /** Loopback address the instance listens on (its endpoint name resolves to it). */
  readonly address: string;
  readonly port: number;
}

/**
 * The real-database side of the emulated RDS. The emulator calls it when an instance changes, so that
 * `PromoteReadReplica` promotes a real standby and `CreateDBInstanceReadReplica` makes a real one.
 * Instance ids are the emulated DBInstanceIdentifiers (lower case). `local/databases/backend.ts` implements it
 * for PostgreSQL; its declaration there must stay equal to this one.
 */
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

/* ---------------------------------------------------------------------------------------------- */
/* Options                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

/**
 * How long the asynchronous parts of AWS take, in milliseconds of AWS time. Each is multiplied by
 * `EmulatorOptions.timeFactor` before it is waited for.
 */
export interface EmulatorTimings {
  /** Secrets Manager: a replica is `InProgress` this long after a new replica or a change of the primary. @default 2000 */
  readonly secretReplicationMs: number;
  /** RDS: the status stays `available` this long after PromoteReadReplica ("not immediate"). @default 5000 */
  readonly promoteStartMs: number;
  /** RDS: `modifying` phase of a promotion (at least as long as the backend's promote). @default 60000 */
  readonly promoteModifyingMs: number;
  /** RDS: `rebooting` phase of a promotion. @default 20000 */
  readonly promoteRebootingMs: number;
  /** RDS: `creating` of a new instance or read replica (at least as long as the backend's createReplica). @default 120000 */
  readonly createInstanceMs: number;
  /** RDS: `deleting` before the instance is gone. @default 30000 */
  readonly deleteInstanceMs: number;
  /** RDS: `renaming` after ModifyDBInstance NewDBInstanceIdentifier with ApplyImmediately. @default 30000 */
  readonly renameInstanceMs: number;
  /** Route 53: a change is `PENDING` this long, then `INSYNC`; DNS answers the new records from then on. @default 20000 */
  readonly route53ChangeMs: number;
  /** CloudWatch: a datapoint reaches the metric alarms this long after PutMetricData. @default 60000 */
  readonly alarmEvaluationMs: number;
  /** Route 53: a health check that follows an alarm reflects the alarm's state this long later. @default 30000 */
  readonly route53HealthCheckMs: number;
}

export interface EmulatorOptions {
  /** Loopback address to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** 0 picks a free port. @default 0 */
  readonly port?: number;
  /**
   * Multiplies every emulated duration and injected latency (0.01 turns a 60 s promotion into 0.6 s).
   * @default 1
   */
  readonly timeFactor?: number;
  /** Emulated durations (AWS time, before `timeFactor`). */
  readonly timings?: Partial<EmulatorTimings>;
  /** The account id in every ARN. @default '123456789012' */
  readonly accountId?: string;
  /** Seed of the random generators (resource ids, fault rates); the same seed and call order give the same run. @default 1 */
  readonly seed?: number;
  /** Real databases behind RDS instances; without one, instances are bookkeeping only (no address). */
  readonly databaseBackend?: DatabaseBackend;
  /**
   * Route 53 rejects a change to a hosted zone with PriorRequestNotComplete while an earlier change to that zone is
   * PENDING (services/route53.ts). @default false
   */
  readonly route53SerializeChanges?: boolean;
  /** Called when a background task fails (e.g. the backend's promote); the instance goes to `failed`. */
  readonly onBackgroundError?: (error: unknown, what: string) => void;
}

/* ---------------------------------------------------------------------------------------------- */
/* Call log                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

/** Service ids of the call log (SigV4 signing names, except `monitoring`, logged as `cloudwatch`). */
export type ServiceName =
  | 'secretsmanager'
  | 'rds'
  | 'route53'
  | 'dynamodb'
  | 's3'
  | 'sns'
  | 'lambda'
  | 'cloudwatch'
  | 'states'
  | 'sts';

export interface CallLogEntry {
  /** 1, 2, 3, ... in arrival order. */
  readonly seq: number;
  /** Arrival time, ISO 8601. */
  readonly time: string;
  readonly service: ServiceName | string;
  /** The SigV4 Region; `global` for Route 53 (the SDK signs it for us-east-1). */
  readonly region: string;
  readonly action: string;
  /** The resource named by the call (secret id, instance id, zone id, table, bucket/key, ...), or null. */
  readonly resource: string | null;
  /** False for Describe*, Get*, List* and the other reads. */
  readonly mutating: boolean;
  /** HTTP status answered; 0 when the connection was destroyed instead (Region down, lost response). */
  readonly status: number;
  /** The AWS error code answered, or `ConnectionReset` when no answer was sent. */
  readonly errorCode?: string;
  /** The fault that shaped this call, if any. */
  readonly fault?:
    | 'throttle'
    | 'server-error'
    | 'unavailable'
    | 'error'
    | 'lose-response'
    | 'connection-reset'
    | 'hang';
  /** Whether the call took effect (false when a fault answered before the service ran, or the service refused it). */
  readonly applied: boolean;
}

/* ---------------------------------------------------------------------------------------------- */
/* Faults                                                                                          */
/* ---------------------------------------------------------------------------------------------- */

/** Which calls a fault applies to; an omitted field matches everything, an array matches any of its values. */
export interface FaultMatch {
  readonly service?: string | readonly string[];
  /** The logged Region: `global` selects Route 53. */
  readonly region?: string | readonly string[];
  readonly action?: string | readonly string[];
  readonly mutating?: boolean;
}

/** What a failing call gets. */
export type FaultFailure =
  /** The service's throttling error (RDS `Throttling`, Secrets Manager `ThrottlingException`, ...). */
  | 'throttle'
  /** The service's 500 (`InternalFailure`, `InternalServiceError`, ...). */
  | 'server-error'
  /** 503 `ServiceUnavailable`. */
  | 'unavailable'
  /** The call takes effect, then the connection is destroyed without an answer (crash-after tests). */
  | 'lose-response'
  /** The connection is destroyed before the call is handled (a Region that is down). */
  | 'connection-reset'
  /**
   * The request is accepted and never answered, nor handled: the connection stays open until the client gives up (its
   * request timeout) or the emulator closes. A control plane that hangs (docs/design/timeouts.md). For an answer that
   * comes late instead, use `latencyMs`.
   */
  | 'hang'
  /** A specific AWS error. */
  | { readonly code: string; readonly status: number; readonly message?: string };

export interface FaultRule {
  readonly match?: FaultMatch;
  /** Added before each matching call is handled, in ms of AWS time (scaled by `timeFactor`). */
  readonly latencyMs?: number;
  /** Fraction (0..1) of matching calls answered with the service's throttling error. */
  readonly throttleRate?: number;
  /** Fraction (0..1) of matching calls answered with the service's 500. */
  readonly serverErrorRate?: number;
  /** Fraction (0..1) of matching calls answered with 503 `ServiceUnavailable`. */
  readonly unavailableRate?: number;
  /** Fraction (0..1) of matching calls that take effect and lose their response. */
  readonly loseResponseRate?: number;
  /** 1-based ordinals, among the calls this rule matches, of the calls that fail with `failWith`. */
  readonly failCalls?: readonly number[];
  /** @default 'server-error' */
  readonly failWith?: FaultFailure;
  /** Every matching call fails this way (e.g. a Region that is down). */
  readonly always?: FaultFailure;
}

export interface FaultHandle {
  readonly rule: FaultRule;
  /** How many calls this rule matched so far. */
  readonly matched: number;
  remove(): void;
}

/* ---------------------------------------------------------------------------------------------- */
/* Seeding                                                                                         */
/* ---------------------------------------------------------------------------------------------- */

export interface SeedSecretInput {
  readonly region: string;
  readonly name: string;
  /** A string, or an object stored as its JSON. */
  readonly value: string | Record<string, unknown>;
  /** Replicas, created `InSync` with the value. */
  readonly replicaRegions?: readonly string[];
  readonly description?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly kmsKeyId?: string;
  /**
   * The six characters after the name in the ARN (AWS picks them at random), e.g. to match a plan that names the
   * secret by ARN. The replicas' ARNs carry the same. @default random
   */
  readonly arnSuffix?: string;
}

export interface SeededSecret {
  readonly arn: string;
  readonly versionId: string;
  /** Region → replica ARN. */
  readonly replicaArns: Readonly<Record<string, string>>;
}

export interface SeedDbInstanceInput {
  readonly region: string;
  readonly id: string;
  /** @default 'postgres' */
  readonly engine?: 'postgres' | 'mysql' | 'mariadb';
  /** @default '16.4' for postgres, '8.0.39' for mysql, '10.11.9' for mariadb */
  readonly engineVersion?: string;
  /** The engine's port by default (5432, 3306). */
  readonly port?: number;
  /** The IP address the endpoint name resolves to (a real server), if any. */
  readonly address?: string;
  /** @default 'available' */
  readonly status?: string;
  /** The source instance: an ARN (cross-Region) or an id in the same Region. */
  readonly replicaOf?: string;
  /** @default 7 for a primary, 0 for a replica */
  readonly backupRetentionPeriod?: number;
  /** @default 'postgres' */
  readonly masterUsername?: string;
  readonly dbName?: string;
  readonly instanceClass?: string;
  readonly tags?: Readonly<Record<string, string>>;
  /** Makes the instance look like one with an RDS-managed master password (for preflight tests). */
  readonly masterUserSecretArn?: string;
  /**
   * RDS publishes `AWS/RDS ReplicaLag` every minute for a replica; when set, GetMetricData answers this value for
   * each minute of the range while the instance is a replica (unless datapoints were seeded for it).
   */
  readonly replicaLagSeconds?: number;
}

export interface SeededDbInstance {
  readonly arn: string;
  /** The endpoint DNS name, `<id>.<random>.<region>.rds.amazonaws.com`. */
  readonly endpointAddress: string;
  readonly port: number;
}

/** An Aurora DB cluster as a world has it before a run (services/rds-aurora.ts). */
export interface SeedDbClusterInput {
  readonly region: string;
  readonly id: string;
  readonly engine: 'aurora-postgresql' | 'aurora-mysql';
  /** @default '16.4' for aurora-postgresql, '8.0.mysql_aurora.3.07.1' for aurora-mysql (or the global cluster's) */
  readonly engineVersion?: string;
  /** The engine's port by default (5432, 3306). */
  readonly port?: number;
  /** The IP address of the real server (named by the cluster id) the cluster's endpoints resolve to, if any. */
  readonly address?: string;
  /** The global cluster it is a member of (seed it first); the first member seeded is the writer. */
  readonly globalClusterId?: string;
  /** The source cluster's ARN, for a cross-Region read replica cluster (aurora-mysql only). */
  readonly replicationSourceArn?: string;
  readonly masterUsername?: string;
  readonly databaseName?: string;
  /** @default 7 */
  readonly backupRetentionPeriod?: number;
  readonly tags?: Readonly<Record<string, string>>;
}

export interface SeededDbCluster {
  readonly arn: string;
  /** The cluster (writer) endpoint, `<id>.cluster-<random>.<region>.rds.amazonaws.com`. */
  readonly endpoint: string;
  readonly readerEndpoint: string;
  readonly port: number;
}

export interface SeedGlobalClusterInput {
  readonly id: string;
  readonly engine: 'aurora-postgresql' | 'aurora-mysql';
  readonly engineVersion?: string;
}

export interface SeededGlobalCluster {
  readonly arn: string;
  /** The global writer endpoint, `<id>.global-<random>.global.rds.amazonaws.com`. */
  readonly endpoint: string;
}

export interface SeedRecordInput {
  readonly name: string;
  readonly type: string;
  readonly ttl?: number;
  readonly values: readonly string[];
  readonly setIdentifier?: string;
  readonly failover?: 'PRIMARY' | 'SECONDARY';
  readonly healthCheckId?: string;
}

export interface SeedHostedZoneInput {
  readonly name: string;
  /** The zone id (e.g. the plan's `dns.hostedZoneId`); random `Z...` by default. */
  readonly id?: string;
  /** @default false */
  readonly privateZone?: boolean;
  /** Records besides the SOA and NS that every zone gets; in sync at once. */
  readonly records?: readonly SeedRecordInput[];
}

export interface SeedLambdaInput {
  readonly region: string;
  readonly name: string;
  /** @default 'nodejs22.x' */
  readonly runtime?: string;
  /** Adds the statement `aws lambda add-permission --principal secretsmanager.amazonaws.com` would. @default true */
  readonly allowSecretsManager?: boolean;
  /** A whole resource policy document instead (takes precedence). */
  readonly policy?: Record<string, unknown>;
  /** @default 'Active' */
  readonly state?: string;
}

export interface SeedMetricInput {
  readonly region: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions?: Readonly<Record<string, string>>;
  readonly datapoints: readonly { readonly timestamp: Date; readonly value: number }[];
}

export interface SeedTableInput {
  readonly region: string;
  readonly name: string;
  readonly partitionKey: string;
  /** @default 'S' */
  readonly partitionKeyType?: 'S' | 'N' | 'B';
}

/* ---------------------------------------------------------------------------------------------- */
/* Read views for tests and the proving ground                                                      */
/* ---------------------------------------------------------------------------------------------- */

export type DnsRecordType = 'A' | 'CNAME';

export interface DnsAnswer {
  readonly type: DnsRecordType;
  readonly value: string;
  readonly ttl: number;
}

export interface PublishedMessage {
  readonly region: string;
  readonly topicArn: string;
  readonly messageId: string;
  readonly subject?: string;
  readonly message: string;
  readonly time: string;
}
