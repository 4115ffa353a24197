import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { FailoverPlan, InstanceUnitPlan, UnitPlan } from '../functions/lib/plan.js';
import { instanceUnit, isAuroraUnit } from '../functions/lib/plan-names.js';
import { auroraTlsNames, seedAuroraClusters, seedAuroraGlobal } from './aurora-world.js';
import type { Cleanup } from './cleanup.js';
import type { MariadbCluster } from './databases/mariadb-cluster.js';
import type { PostgresCluster } from './databases/postgres-cluster.js';
import {
  type DatabaseServerInfo,
  defaultDatabase,
  type EngineFamily,
  familyOf,
  type Row,
  type UnitServers,
  WorldDatabases,
} from './databases/world-databases.js';
import { type RunningDnsServer, startDnsServer } from './dns/server.js';
import { seedFlipRecords } from './dns-flip-world.js';
import { type Emulator, startEmulator } from './emulator/index.js';
import type { EmulatorTimings, SeededDbInstance } from './emulator/types.js';
import type { SynthesizedOrchestrator } from './runner.js';

/**
 * The two-Region world of the local proving ground: the AWS emulator, a real primary and replica per unit (PostgreSQL
 * with streaming replication; MySQL and MariaDB units on MariaDB with GTID replication, docs/design/local-mariadb.md),
 * each on its own loopback address with the same port and TLS naming its RDS endpoint, as RDS instances have, and a
 * real DNS server that
 * answers for the emulated hosted zones and RDS endpoint names. Seeded from a plan as production would be before
 * a disaster: a multi-Region secret whose `host` is the CNAME, the CNAME pointing at the primary, the replica
 * replicating, the rotation Lambda allowing Secrets Manager.
 */

export interface ProvingGroundOptions {
  plan: FailoverPlan;
  /** Multiplies every emulated AWS duration (and the runner's waits). @default 0.02 */
  timeFactor?: number;
  /** Emulated AWS durations (before the factor). */
  timings?: Partial<EmulatorTimings>;
  /** Rows written to each primary before the run. @default 3 */
  rows?: number;
  /** The secret's password; random by default. Tests pass a marker to prove it never leaks. */
  password?: string;
  onLog?: (line: string) => void;
  /**
   * A failure in the emulated world's background (for example a drill replica the database backend could not
   * create): always worth showing, since a step will wait on it. @default onLog, else the emulator's stderr line
   */
  onProblem?: (line: string) => void;
  /**
   * Ctrl-C handling (local/cleanup.ts): every server and process of the world is registered here as soon as it
   * exists, so an interrupt at any point of start-up stops them. @default none
   */
  cleanup?: Cleanup;
  /** One line per start-up milestone (`world: ...`), for the drill's progress output. @default none */
  onProgress?: (line: string) => void;
}

export interface UnitWorld {
  unit: UnitPlan;
  primary: DatabaseServerInfo;
  replica: DatabaseServerInfo;
  /** `postgres`, or `mysql` for MySQL and MariaDB units (both run on MariaDB here). */
  family: EngineFamily;
  /** The real server software behind the unit's instances, e.g. `MariaDB 10.11.19-...` for a `mysql` unit. */
  software: string;
  primaryEndpoint: string;
  replicaEndpoint: string;
  secretArn: string;
  replicaSecretArn: string;
  rows: number;
}

export interface ProvingGround {
  plan: FailoverPlan;
  emulator: Emulator;
  /** The PostgreSQL servers. */
  cluster: PostgresCluster;
  /** The MySQL-family servers (MariaDB). */
  mariadb: MariadbCluster;
  /** PEM file of the CA that signed every server's certificate (the verify step trusts it). */
  caFile: string;
  dns: RunningDnsServer;
  timeFactor: number;
  password: string;
  units: Map<string, UnitWorld>;
  /** Variables the step handlers need to reach this world instead of AWS. */
  environment(): Record<string, string>;
  /** Creates the stack's own resources (lock table, report bucket, topic) the synthesized functions name. */
  provision(orchestrator: SynthesizedOrchestrator): Promise<void>;
  /** A pg client to one of the world's PostgreSQL instances (by instance id). */
  connect(instanceId: string, database?: string): Promise<pg.Client>;
  /** One statement as the master user on any instance (`?` placeholders, whatever the engine). */
  query(instanceId: string, sql: string, params?: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

/** The secret name and the six random characters of a secret ARN (`...:secret:<name>-<6>`). */
function secretArnParts(arn: string): { name: string; suffix: string } | undefined {
  const match = /^arn:aws[a-z-]*:secretsmanager:[^:]+:\d{12}:secret:(.+)-([A-Za-z0-9]{6})$/.exec(arn);
  return match ? { name: match[1] as string, suffix: match[2] as string } : undefined;
}

export async function startProvingGround(options: ProvingGroundOptions): Promise<ProvingGround> {
  const { plan } = options;
  const timeFactor = options.timeFactor ?? 0.02;
  const rows = options.rows ?? 3;
  for (const unit of plan.units) {
    const problems: string[] = [];
    if (unit.secret.id.startsWith('arn:') && !secretArnParts(unit.secret.id)) {
      problems.push('a secret ARN without the name and its six-character suffix');
    }
    if (problems.length) {
      throw new TypeError(`unit ${unit.name} cannot run on the local proving ground: ${problems.join('; ')}`);
    }
  }
  const password = options.password ?? randomBytes(18).toString('base64url');
  const progress = options.onProgress ?? (() => undefined);
  const databases = await WorldDatabases.create({
    ...(options.onLog ? { onLog: (id: string, line: string) => options.onLog?.(`[${id}] ${line}`) } : {}),
    ...(options.cleanup ? { cleanup: options.cleanup } : {}),
  });
  const cluster = databases.postgres;
  let emulator: Emulator | undefined;
  let endpointName = (_region: string, id: string): string => {
    throw new Error(`no endpoint name for ${id} before the emulator is up`);
  };
  let dns: RunningDnsServer | undefined;
  // The starts themselves, so a close during start-up also closes what comes up after it.
  let emulatorStart: Promise<Emulator> | undefined;
  let dnsStart: Promise<RunningDnsServer> | undefined;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await Promise.allSettled([
        dnsStart?.then((server) => server.close()),
        emulatorStart?.then((server) => server.close()),
      ]);
      await databases.stopAll();
    })();
    return closing;
  };
  const forget = options.cleanup?.add('proving ground', close);
  try {
    emulatorStart = startEmulator({
      timeFactor,
      ...(options.timings ? { timings: options.timings } : {}),
      accountId: plan.account,
      // Named lazily: the emulator names the endpoints, and exists only once this backend is handed to it.
      databaseBackend: databases.backend((region, id) => endpointName(region, id)),
      ...(options.onProblem || options.onLog
        ? {
            onBackgroundError: (error: unknown, what: string) =>
              (options.onProblem ?? options.onLog)?.(
                `emulator: ${what} failed: ${error instanceof Error ? error.message : String(error)}`,
              ),
          }
        : {}),
    });
    emulator = await emulatorStart;
    const em = emulator;
    endpointName = (region, id) => em.rds.endpointName(region, id);
    dnsStart = startDnsServer({ lookup: (name, type) => em.dns.lookup(name, type) });
    dns = await dnsStart;
    progress(`world: emulator ${em.endpoint}, DNS ${dns.endpoint}`);

    // Fixed addresses: primaries 127.0.0.2.., replicas after them (the two clusters do not see each other's servers).
    // An Aurora unit's servers are named after its clusters (local/aurora-world.ts); its global cluster comes first.
    const n = plan.units.length;
    const globals = new Map(
      plan.units.map((unit) => [unit.name, isAuroraUnit(unit) ? seedAuroraGlobal(em, unit) : undefined]),
    );
    const servers = await Promise.all(
      plan.units.map((unit, i) => {
        const addresses = { primary: `127.0.0.${2 + i}`, replica: `127.0.0.${2 + n + i}` };
        if (isAuroraUnit(unit)) {
          const family = familyOf(unit.database.engine);
          return databases.startPair({
            name: unit.name,
            family,
            primaryId: unit.database.primaryClusterId,
            replicaId: unit.database.replicaClusterId,
            database: unit.verify.database ?? defaultDatabase(family, unit.name),
            addresses,
            password,
            rows,
            tlsNames: auroraTlsNames(em, plan, unit, globals.get(unit.name)),
          });
        }
        return databases.startUnit(
          instanceUnit(unit, 'the proving ground'),
          addresses,
          password,
          rows,
          (side, id) => endpointName(side === 'primary' ? plan.primaryRegion : plan.recoveryRegion, id),
        );
      }),
    );
    progress(
      `world: ${n} primar${n === 1 ? 'y' : 'ies'} and ${n} replica${n === 1 ? '' : 's'} up, rows replicated (${[
        ...new Set(servers.map((s) => s.software)),
      ].join(', ')})`,
    );

    const units = new Map<string, UnitWorld>();
    const zones = new Map<string, string>();
    const rotationFunctions = new Set<string>();
    plan.units.forEach((unit, i) => {
      const unitServers = servers[i] as (typeof servers)[number];
      const { primary, replica } = unitServers;
      const engine = unit.database.engine;
      const aurora = isAuroraUnit(unit)
        ? seedAuroraClusters(em, plan, unit, unitServers, globals.get(unit.name))
        : undefined;
      const instances = aurora
        ? undefined
        : seedInstances(em, plan, instanceUnit(unit, 'the proving ground'), unitServers);
      const primaryEndpoint = aurora?.primaryEndpoint ?? (instances?.primary.endpointAddress as string);
      const replicaEndpoint = aurora?.replicaEndpoint ?? (instances?.replica.endpointAddress as string);
      // A plan may name the secret by its recovery-Region ARN: the world's secret then has that name and suffix.
      const arn = secretArnParts(unit.secret.id);
      const secret = em.seed.secret({
        region: plan.primaryRegion,
        name: arn?.name ?? unit.secret.id,
        ...(arn ? { arnSuffix: arn.suffix } : {}),
        description: `lifeboat proving ground: ${unit.name} database credentials`,
        value: {
          engine,
          host: unit.dns.recordName,
          port: primary.port,
          username: primary.username,
          password,
          dbname: primary.database,
        },
        replicaRegions: [plan.recoveryRegion],
      });
      const zoneId = unit.dns.hostedZoneId.replace(/^\/hostedzone\//, '');
      if (!zones.has(zoneId)) {
        const zoneName = unit.dns.recordName.replace(/\.$/, '').split('.').slice(1).join('.');
        em.seed.hostedZone({ id: zoneId, name: zoneName });
        zones.set(zoneId, zoneName);
      }
      if (unit.dns.strategy === 'health-check') {
        seedFlipRecords(em, plan, unit, zoneId, { primary: primaryEndpoint, replica: replicaEndpoint });
      } else {
        em.seed.record(zoneId, {
          name: unit.dns.recordName,
          type: 'CNAME',
          ttl: unit.dns.ttl,
          values: [aurora?.recordTarget ?? primaryEndpoint],
        });
      }
      const fn = /:function:([^:]+)/.exec(unit.rotation.lambdaArn)?.[1];
      if (fn && !rotationFunctions.has(fn)) {
        em.seed.lambdaFunction({ region: plan.recoveryRegion, name: fn });
        rotationFunctions.add(fn);
      }
      units.set(unit.name, {
        unit,
        primary,
        replica,
        family: unitServers.family,
        software: unitServers.software,
        primaryEndpoint,
        replicaEndpoint,
        secretArn: secret.arn,
        replicaSecretArn: secret.replicaArns[plan.recoveryRegion] ?? '',
        rows: unitServers.rows,
      });
    });

    const dnsEndpoint = dns.endpoint;
    return {
      plan,
      emulator: em,
      cluster,
      mariadb: databases.mariadb,
      caFile: databases.authority.caFile,
      dns,
      timeFactor,
      password,
      units,
      environment: () => ({
        ...worldEnvironment(em, plan.recoveryRegion, dnsEndpoint),
        // The verify step trusts the world's CA as Lambda trusts the RDS CAs: the stack points NODE_EXTRA_CA_CERTS at
        // the runtime's bundle (/var/runtime/ca-cert.pem, absent here); this process started without it, so the CA is
        // also named through LIFEBOAT_DB_CA_FILE (functions/lib/verify/db.ts, databaseTrustStore).
        NODE_EXTRA_CA_CERTS: databases.authority.caFile,
        LIFEBOAT_DB_CA_FILE: databases.authority.caFile,
      }),
      provision: (orchestrator) => provisionStackResources(em, plan.recoveryRegion, orchestrator),
      connect: async (instanceId, database) => {
        const config = cluster.clientConfig(instanceId, database);
        const client = new pg.Client({ ...config, connectionTimeoutMillis: 5000 });
        await client.connect();
        return client;
      },
      query: (instanceId, sql, params) => databases.query(instanceId, sql, params),
      close: async () => {
        forget?.();
        await close();
      },
    };
  } catch (error) {
    await close();
    forget?.();
    throw error;
  }
}

/** An instance unit's primary and its cross-Region read replica, on the unit's servers. */
function seedInstances(
  em: Emulator,
  plan: FailoverPlan,
  unit: InstanceUnitPlan,
  unitServers: UnitServers,
): { primary: SeededDbInstance; replica: SeededDbInstance } {
  const { primary, replica } = unitServers;
  const engine = unit.database.engine;
  // A mariadb instance reports the real server's version; a mysql one keeps RDS's MySQL version (it runs on MariaDB).
  const engineVersion =
    engine === 'mariadb' ? /^MariaDB (\d+\.\d+\.\d+)/.exec(unitServers.software)?.[1] : undefined;
  const seededPrimary = em.seed.dbInstance({
    region: plan.primaryRegion,
    id: unit.database.primaryInstanceId,
    engine,
    ...(engineVersion ? { engineVersion } : {}),
    port: primary.port,
    address: primary.address,
    masterUsername: primary.username,
    dbName: primary.database,
  });
  const seededReplica = em.seed.dbInstance({
    region: plan.recoveryRegion,
    id: unit.database.replicaInstanceId,
    engine,
    ...(engineVersion ? { engineVersion } : {}),
    port: replica.port,
    address: replica.address,
    masterUsername: replica.username,
    dbName: replica.database,
    replicaOf: seededPrimary.arn,
    replicaLagSeconds: 0,
    // Backups on, as preflight advises for a replica (docs/aws/rds-read-replicas.md): the world is a production
    // set up well, so that a drill prints no warning a team would be told to ignore.
    backupRetentionPeriod: 7,
  });
  return { primary: seededPrimary, replica: seededReplica };
}

/** Variables the step handlers need to call `emulator` and resolve through the DNS server at `dnsEndpoint`. */
export function worldEnvironment(
  emulator: Emulator,
  region: string,
  dnsEndpoint: string,
): Record<string, string> {
  return {
    ...emulator.env(),
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    LIFEBOAT_AWS_ENDPOINT: emulator.endpoint,
    LIFEBOAT_DNS_SERVERS: dnsEndpoint,
  };
}

/** Creates in `emulator` the stack's own resources (lock table, report bucket, topic) the functions name. */
export async function provisionStackResources(
  emulator: Emulator,
  region: string,
  orchestrator: SynthesizedOrchestrator,
): Promise<void> {
  for (const resource of orchestrator.resources) {
    if (resource.type === 'AWS::DynamoDB::Table') {
      await emulator.seed.dynamoTable({
        region,
        name: resource.name,
        partitionKey: resource.partitionKey ?? 'planName',
      });
    } else if (resource.type === 'AWS::S3::Bucket') {
      await emulator.seed.s3Bucket({ name: resource.name, region });
    } else {
      emulator.seed.snsTopic({ region, name: resource.name });
    }
  }
}
