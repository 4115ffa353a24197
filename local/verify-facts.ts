import { Resolver } from 'node:dns/promises';

/** Resolves `name` through one DNS server (`host:port`) as an application's resolver would: CNAME, then A. */
export async function resolveVia(
  server: string,
  name: string,
): Promise<{ cname?: string; addresses: string[] }> {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([server]);
  let cname: string | undefined;
  try {
    [cname] = await resolver.resolveCname(name);
  } catch {
    cname = undefined;
  }
  let addresses: string[] = [];
  try {
    addresses = await resolver.resolve4(cname ?? name);
  } catch {
    addresses = [];
  }
  return cname ? { cname, addresses } : { addresses };
}

/** One checked fact, as the drill prints it. */
export interface DatabaseFact {
  fact: string;
  ok: boolean;
  detail: string;
}

/** What the facts need of a unit of the world (local/proving-ground.ts). */
interface FactUnit {
  unit: { name: string; database: { engine: string } };
  replica: { id: string };
  family: 'postgres' | 'mysql';
  software: string;
  rows: number;
}

/**
 * The promoted replica accepts writes and holds the primary's rows, checked on the real server with its engine's own
 * state: `pg_is_in_recovery()` for PostgreSQL, `@@global.read_only` for MySQL and MariaDB (docs/aws/mysql-writability.md),
 * then an INSERT that stays. The detail names the real server software: a `mysql` unit runs on MariaDB here.
 */
export async function replicaDatabaseFacts(
  world: { query(id: string, sql: string, params?: unknown[]): Promise<Record<string, unknown>[]> },
  u: FactUnit,
): Promise<DatabaseFact[]> {
  const name = u.unit.name;
  const served =
    u.unit.database.engine === 'mysql' ? `MySQL unit, served by ${u.software}` : `served by ${u.software}`;
  try {
    const state =
      u.family === 'postgres'
        ? await world.query(u.replica.id, 'SELECT pg_is_in_recovery() AS r')
        : await world.query(u.replica.id, 'SELECT @@global.read_only AS r');
    const readOnly = state[0]?.r;
    const writable = u.family === 'postgres' ? readOnly === false : Number(readOnly) === 0;
    await world.query(u.replica.id, 'INSERT INTO orders (item) VALUES (?)', [
      `${name}-written-after-failover`,
    ]);
    const count = await world.query(u.replica.id, 'SELECT count(*) AS n FROM orders');
    const n = Number(count[0]?.n);
    return [
      {
        fact: `${name}: replica is writable`,
        ok: writable,
        detail: `${u.family === 'postgres' ? 'pg_is_in_recovery()' : '@@global.read_only'} = ${String(readOnly)}; INSERT accepted (${served})`,
      },
      {
        fact: `${name}: replica holds the primary's rows`,
        ok: n === u.rows + 1,
        detail: `${n - 1} of ${u.rows} rows before this check's own insert`,
      },
    ];
  } catch (error) {
    return [
      {
        fact: `${name}: replica is writable`,
        ok: false,
        detail: `${(error as Error).message} (${served})`,
      },
    ];
  }
}
