import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { FailoverPlan } from '../functions/lib/plan.js';
import { instanceDatabase } from '../functions/lib/plan-names.js';
import { PostgresCluster } from '../local/databases/postgres-cluster.js';
import { type RunningDnsServer, startDnsServer } from '../local/dns/server.js';
import { type Emulator, startEmulator } from '../local/emulator/index.js';
import { provisionStackResources, worldEnvironment } from '../local/proving-ground.js';
import type { SynthesizedOrchestrator } from '../local/runner.js';

/**
 * The reduced world of the scale runs. A real PostgreSQL primary and replica per unit (the proving ground's world)
 * does not fit 100 units on a 2-core machine, so:
 *
 * - RDS instances are the emulator's bookkeeping only (no `databaseBackend`): PromoteReadReplica goes through the
 *   same emulated phases and timings, without a real `pg_promote()` behind it;
 * - ONE real PostgreSQL server answers for every unit: each unit's replica endpoint name resolves (through the real
 *   DNS server) to it, and each unit's secret holds its credentials. VerifyConnectivity therefore does its whole
 *   job for every unit — resolve the secret's CNAME through DNS after the change, connect, prove writability with a
 *   rolled-back write, run the plan's query — against a server that was always writable (it cannot prove that a
 *   promotion made it writable: the 1-unit runs on the proving ground do that).
 *
 * Everything else (secrets, replication, hosted zone, records, rotation Lambda, lock table, report bucket, topic) is
 * seeded exactly as the proving ground seeds it.
 */

export interface ScaleWorld {
  emulator: Emulator;
  dns: RunningDnsServer;
  cluster: PostgresCluster;
  environment(): Record<string, string>;
  provision(orchestrator: SynthesizedOrchestrator): Promise<void>;
  close(): Promise<void>;
}

const SHARED_ID = 'shared-db';

export async function startScaleWorld(plan: FailoverPlan, timeFactor: number): Promise<ScaleWorld> {
  const password = randomBytes(18).toString('base64url');
  const cluster = new PostgresCluster();
  let emulator: Emulator | undefined;
  let dns: RunningDnsServer | undefined;
  const close = async () => {
    await Promise.allSettled([dns?.close(), emulator?.close()]);
    await cluster.stopAll();
  };
  try {
    const databases = new Set(plan.units.map((u) => u.verify.database ?? 'postgres'));
    const [first, ...others] = [...databases];
    const server = await cluster.startPrimary({
      id: SHARED_ID,
      address: '127.0.0.2',
      port: 0,
      password,
      database: first ?? 'postgres',
    });
    const admin = new pg.Client({
      ...cluster.clientConfig(SHARED_ID, 'postgres'),
      connectionTimeoutMillis: 5000,
    });
    await admin.connect();
    try {
      for (const name of others) await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    } finally {
      await admin.end();
    }
    // The plans' verify queries read `orders`, as the proving ground's do.
    for (const name of databases) {
      const client = new pg.Client({
        ...cluster.clientConfig(SHARED_ID, name),
        connectionTimeoutMillis: 5000,
      });
      await client.connect();
      try {
        await client.query('CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, item text NOT NULL)');
        await client.query('INSERT INTO orders (item) VALUES ($1)', ['seeded']);
      } finally {
        await client.end();
      }
    }

    // Every unit shares one hosted zone: Route 53 takes one change at a time there (docs/aws/route53-changes.md).
    emulator = await startEmulator({ timeFactor, accountId: plan.account, route53SerializeChanges: true });
    const em = emulator;
    dns = await startDnsServer({ lookup: (name, type) => em.dns.lookup(name, type) });

    const zones = new Set<string>();
    const functions = new Set<string>();
    for (const unit of plan.units) {
      const primary = em.seed.dbInstance({
        region: plan.primaryRegion,
        id: instanceDatabase(unit, 'the bench').primaryInstanceId,
        engine: 'postgres',
        port: server.port,
        address: server.address,
        masterUsername: server.username,
        dbName: unit.verify.database ?? 'postgres',
      });
      em.seed.dbInstance({
        region: plan.recoveryRegion,
        id: instanceDatabase(unit, 'the bench').replicaInstanceId,
        engine: 'postgres',
        port: server.port,
        address: server.address,
        masterUsername: server.username,
        dbName: unit.verify.database ?? 'postgres',
        replicaOf: primary.arn,
        replicaLagSeconds: 0,
      });
      em.seed.secret({
        region: plan.primaryRegion,
        name: unit.secret.id,
        description: `lifeboat bench: ${unit.name} database credentials`,
        value: {
          engine: 'postgres',
          host: unit.dns.recordName,
          port: server.port,
          username: server.username,
          password,
          dbname: unit.verify.database ?? 'postgres',
        },
        replicaRegions: [plan.recoveryRegion],
      });
      const zoneId = unit.dns.hostedZoneId.replace(/^\/hostedzone\//, '');
      if (!zones.has(zoneId)) {
        em.seed.hostedZone({
          id: zoneId,
          name: unit.dns.recordName.replace(/\.$/, '').split('.').slice(1).join('.'),
        });
        zones.add(zoneId);
      }
      em.seed.record(zoneId, {
        name: unit.dns.recordName,
        type: 'CNAME',
        ttl: unit.dns.ttl,
        values: [primary.endpointAddress],
      });
      const fn = /:function:([^:]+)/.exec(unit.rotation.lambdaArn)?.[1];
      if (fn && !functions.has(fn)) {
        em.seed.lambdaFunction({ region: plan.recoveryRegion, name: fn });
        functions.add(fn);
      }
    }
    const dnsEndpoint = dns.endpoint;
    return {
      emulator: em,
      dns,
      cluster,
      environment: () => worldEnvironment(em, plan.recoveryRegion, dnsEndpoint),
      provision: (orchestrator) => provisionStackResources(em, plan.recoveryRegion, orchestrator),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A plan of `count` units like the example plan's one, all in one hosted zone, at the schema's largest concurrency. */
export function scalePlan(example: FailoverPlan, count: number, maxConcurrency: number): FailoverPlan {
  const template = example.units[0];
  if (!template) throw new Error('scalePlan: the example plan has no unit');
  // Short names: the plan is baked into the definition and is its first state's output, within 256 KiB
  // (functions/lib/state-limits.ts, MAX_UNITS_PER_RUN); 500 units named unit-001-db-replica and so on take 274,455
  // bytes and are refused at synthesis, named u001-db-r they take about 260,000.
  const units = Array.from({ length: count }, (_, i) => {
    const n = `u${String(i + 1).padStart(3, '0')}`;
    return {
      ...template,
      name: n,
      secret: { id: `${n}/db` },
      database: {
        ...template.database,
        primaryInstanceId: `${n}-db`,
        replicaInstanceId: `${n}-db-r`,
      },
      dns: { ...template.dns, recordName: `${n}.internal.example.com` },
    };
  });
  return { ...example, name: 'bench-scale', maxConcurrency, units };
}
