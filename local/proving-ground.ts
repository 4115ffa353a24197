import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { FailoverPlan, UnitPlan } from '../functions/lib/plan.js';
import type { Cleanup } from './cleanup.js';
import { postgresBackend } from './databases/backend.js';
import { PostgresCluster, type PostgresServerInfo } from './databases/postgres-cluster.js';
import { seedFlipRecords } from './dns-flip-world.js';
import { type RunningDnsServer, startDnsServer } from './dns/server.js';
import { type Emulator, startEmulator } from './emulator/index.js';
import type { EmulatorTimings } from './emulator/types.js';
import type { SynthesizedOrchestrator } from './runner.js';

/**
 * The two-Region world of the local proving ground: the AWS emulator, a real PostgreSQL primary and streaming
 * replica per unit (on their own loopback addresses, same port, as RDS instances have), and a real DNS server that
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
   * Ctrl-C handling (local/cleanup.ts): every server and process of the world is registered here as soon as it
   * exists, so an interrupt at any point of start-up stops them. @default none
   */
  cleanup?: Cleanup;
  /** One line per start-up milestone (`world: ...`), for the drill's progress output. @default none */
  onProgress?: (line: string) => void;
}

export interface UnitWorld {
  unit: UnitPlan;
  primary: PostgresServerInfo;
  replica: PostgresServerInfo;
  primaryEndpoint: string;
  replicaEndpoint: string;
  secretArn: string;
  replicaSecretArn: string;
  rows: number;
}

export interface ProvingGround {
  plan: FailoverPlan;
  emulator: Emulator;
  cluster: PostgresCluster;
  dns: RunningDnsServer;
  timeFactor: number;
  password: string;
  units: Map<string, UnitWorld>;
  /** Variables the step handlers need to reach this world instead of AWS. */
  environment(): Record<string, string>;
  /** Creates the stack's own resources (lock table, report bucket, topic) the synthesized functions name. */
  provision(orchestrator: SynthesizedOrchestrator): Promise<void>;
  /** A pg client to one of the world's instances (by instance id). */
  connect(instanceId: string, database?: string): Promise<pg.Client>;
  close(): Promise<void>;
}

const POSTGRES_DEFAULT_DB = 'postgres';

export async function startProvingGround(options: ProvingGroundOptions): Promise<ProvingGround> {
  const { plan } = options;
  const timeFactor = options.timeFactor ?? 0.02;
  const rows = options.rows ?? 3;
  for (const unit of plan.units) {
    const problems: string[] = [];
    if (unit.database.engine !== 'postgres')
      problems.push(`engine ${unit.database.engine} (only postgres runs locally)`);
    if (unit.secret.id.startsWith('arn:'))
      problems.push('a secret ARN (the local world needs a secret name)');
    if (problems.length) {
      throw new TypeError(`unit ${unit.name} cannot run on the local proving ground: ${problems.join('; ')}`);
    }
  }
  const password = options.password ?? randomBytes(18).toString('base64url');
  const progress = options.onProgress ?? (() => undefined);
  const cluster = new PostgresCluster({
    ...(options.onLog ? { onLog: (id: string, line: string) => options.onLog?.(`[${id}] ${line}`) } : {}),
    ...(options.cleanup ? { cleanup: options.cleanup } : {}),
  });
  let emulator: Emulator | undefined;
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
      await cluster.stopAll();
    })();
    return closing;
  };
  const forget = options.cleanup?.add('proving ground', close);
  try {
    emulatorStart = startEmulator({
      timeFactor,
      ...(options.timings ? { timings: options.timings } : {}),
      accountId: plan.account,
      databaseBackend: postgresBackend(cluster),
      onBackgroundError: (error, what) =>
        options.onLog?.(
          `emulator: ${what} failed: ${error instanceof Error ? error.message : String(error)}`,
        ),
    });
    emulator = await emulatorStart;
    const em = emulator;
    dnsStart = startDnsServer({ lookup: (name, type) => em.dns.lookup(name, type) });
    dns = await dnsStart;
    progress(`world: emulator ${em.endpoint}, DNS ${dns.endpoint}`);

    // Every primary first (fixed addresses), then the replicas (the cluster picks the next free addresses).
    const primaries = await Promise.all(
      plan.units.map((unit, i) =>
        cluster.startPrimary({
          id: unit.database.primaryInstanceId,
          address: `127.0.0.${2 + i}`,
          port: 0,
          password,
          database: unit.verify.database ?? POSTGRES_DEFAULT_DB,
        }),
      ),
    );
    progress(`world: ${primaries.length} PostgreSQL primar${primaries.length === 1 ? 'y' : 'ies'} up`);
    await Promise.all(
      plan.units.map((unit, i) => seedRows(cluster, unit, primaries[i] as PostgresServerInfo, rows)),
    );
    const replicas = await Promise.all(
      plan.units.map((unit) =>
        cluster.createReplica({
          id: unit.database.replicaInstanceId,
          fromId: unit.database.primaryInstanceId,
        }),
      ),
    );
    progress(`world: ${replicas.length} PostgreSQL replica${replicas.length === 1 ? '' : 's'} up`);

    // One more row after the base backup: it reaches the replica only by streaming replication.
    await Promise.all(
      plan.units.map(async (unit, i) => {
        const primary = primaries[i] as PostgresServerInfo;
        await insertRow(cluster, primary, `${unit.name}-streamed`);
        await waitForRows(cluster, (replicas[i] as PostgresServerInfo).id, primary.database, rows + 1);
      }),
    );

    const units = new Map<string, UnitWorld>();
    const zones = new Map<string, string>();
    const rotationFunctions = new Set<string>();
    plan.units.forEach((unit, i) => {
      const primary = primaries[i] as PostgresServerInfo;
      const replica = replicas[i] as PostgresServerInfo;
      const seededPrimary = em.seed.dbInstance({
        region: plan.primaryRegion,
        id: unit.database.primaryInstanceId,
        engine: 'postgres',
        port: primary.port,
        address: primary.address,
        masterUsername: primary.username,
        dbName: primary.database,
      });
      const seededReplica = em.seed.dbInstance({
        region: plan.recoveryRegion,
        id: unit.database.replicaInstanceId,
        engine: 'postgres',
        port: replica.port,
        address: replica.address,
        masterUsername: replica.username,
        dbName: replica.database,
        replicaOf: seededPrimary.arn,
        replicaLagSeconds: 0,
      });
      const secret = em.seed.secret({
        region: plan.primaryRegion,
        name: unit.secret.id,
        description: `lifeboat proving ground: ${unit.name} database credentials`,
        value: {
          engine: 'postgres',
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
        seedFlipRecords(em, plan, unit, zoneId, {
          primary: seededPrimary.endpointAddress,
          replica: seededReplica.endpointAddress,
        });
      } else {
        em.seed.record(zoneId, {
          name: unit.dns.recordName,
          type: 'CNAME',
          ttl: unit.dns.ttl,
          values: [seededPrimary.endpointAddress],
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
        primaryEndpoint: seededPrimary.endpointAddress,
        replicaEndpoint: seededReplica.endpointAddress,
        secretArn: secret.arn,
        replicaSecretArn: secret.replicaArns[plan.recoveryRegion] ?? '',
        rows: rows + 1,
      });
    });

    const dnsEndpoint = dns.endpoint;
    return {
      plan,
      emulator: em,
      cluster,
      dns,
      timeFactor,
      password,
      units,
      environment: () => worldEnvironment(em, plan.recoveryRegion, dnsEndpoint),
      provision: (orchestrator) => provisionStackResources(em, plan.recoveryRegion, orchestrator),
      connect: async (instanceId, database) => {
        const config = cluster.clientConfig(instanceId, database);
        const client = new pg.Client({ ...config, connectionTimeoutMillis: 5000 });
        await client.connect();
        return client;
      },
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

/** The application's data on the primary: what the replica must hold after promotion. */
async function seedRows(cluster: PostgresCluster, unit: UnitPlan, primary: PostgresServerInfo, rows: number) {
  const client = new pg.Client({
    ...cluster.clientConfig(primary.id, primary.database),
    connectionTimeoutMillis: 5000,
  });
  await client.connect();
  try {
    await client.query(
      'CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, item text NOT NULL, placed_at timestamptz DEFAULT now())',
    );
    for (let i = 1; i <= rows; i += 1) {
      await client.query('INSERT INTO orders (item) VALUES ($1)', [`${unit.name}-item-${i}`]);
    }
  } finally {
    await client.end();
  }
}

async function insertRow(cluster: PostgresCluster, primary: PostgresServerInfo, item: string) {
  const client = new pg.Client({
    ...cluster.clientConfig(primary.id, primary.database),
    connectionTimeoutMillis: 5000,
  });
  await client.connect();
  try {
    await client.query('INSERT INTO orders (item) VALUES ($1)', [item]);
  } finally {
    await client.end();
  }
}

/** Waits (bounded) until the replica has replayed `count` rows. */
async function waitForRows(cluster: PostgresCluster, replicaId: string, database: string, count: number) {
  const deadline = Date.now() + 15_000;
  const client = new pg.Client({
    ...cluster.clientConfig(replicaId, database),
    connectionTimeoutMillis: 5000,
  });
  await client.connect();
  try {
    for (;;) {
      const result = await client.query<{ n: string }>('SELECT count(*) AS n FROM orders');
      if (Number(result.rows[0]?.n) >= count) return;
      if (Date.now() > deadline)
        throw new Error(`replica ${replicaId} did not replay ${count} rows within 15 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await client.end();
  }
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
