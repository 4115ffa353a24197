import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAuroraUnit } from '../functions/lib/plan-names.js';
import type { RunReport } from '../functions/lib/report/index.js';
import { connectMysql, connectPostgres, type DbSession, sortDbError } from '../functions/lib/verify/db.js';
import {
  parseDnsServers,
  resolveLikeAnApplication,
  systemResolverFactory,
} from '../functions/lib/verify/dns.js';
import type { Fact, Prepared } from './drill-command.js';
import type { ProvingGround, UnitWorld } from './proving-ground.js';

/**
 * The application of a switchover drill (docs/design/switchover.md, "On the proving ground"): per unit, a writer that
 * commits numbered rows through the CNAME, as an application would: it resolves the record through the world's DNS
 * server on every connect, logs in as an application account (not the master user, as AWS advises), inserts one row
 * per statement with autocommit, and on any error drops the connection and tries again with the next number. It
 * records every row the server acknowledged, where it was, and every refusal with its code.
 *
 * Afterwards (`after`): every acknowledged row is on the new primary, the old primary acknowledged no row after the
 * fence, and writes between the fence and the DNS change were refused. An Aurora unit has no lifeboat fence (Aurora's
 * SwitchoverGlobalCluster fences the old writer itself, docs/design/aurora.md, "Promotion"): its old writer must have
 * acknowledged no row once the promotion was seen done, and the writes refused in between are counted, not required.
 */

export const WRITER_TABLE = 'switchover_writes';
const APP_USER = 'lifeboat_app';
const PAUSE_MS = 10;

interface Ack {
  n: number;
  at: number;
  address: string;
}
interface Refusal {
  n: number;
  at: number;
  code: string;
}

export interface UnitWriter {
  readonly unit: UnitWorld;
  readonly acked: Ack[];
  readonly refused: Refusal[];
  stop(): Promise<void>;
}

async function createAppAccount(world: ProvingGround, u: UnitWorld, password: string): Promise<void> {
  // The server behind the primary instance, or the primary cluster of an Aurora unit (local/aurora-world.ts).
  const id = u.primary.id;
  if (u.family === 'postgres') {
    await world.query(
      id,
      `CREATE TABLE ${WRITER_TABLE} (n integer PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now())`,
    );
    // The password is random hex: a literal without quotes to escape.
    await world.query(id, `CREATE ROLE ${APP_USER} LOGIN PASSWORD '${password}'`);
    await world.query(id, `GRANT SELECT, INSERT ON ${WRITER_TABLE} TO ${APP_USER}`);
  } else {
    await world.query(
      id,
      `CREATE TABLE ${WRITER_TABLE} (n INT PRIMARY KEY, written_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)) ENGINE=InnoDB`,
    );
    await world.query(id, `CREATE USER '${APP_USER}'@'%' IDENTIFIED BY '${password}'`);
    await world.query(
      id,
      `GRANT SELECT, INSERT ON \`${u.primary.database}\`.${WRITER_TABLE} TO '${APP_USER}'@'%'`,
    );
  }
}

function startWriter(world: ProvingGround, u: UnitWorld, password: string): UnitWriter {
  const acked: Ack[] = [];
  const refused: Refusal[] = [];
  const ca = [readFileSync(world.caFile, 'utf8')];
  const resolver = systemResolverFactory(parseDnsServers(world.dns.endpoint));
  const family = u.family === 'postgres' ? 'postgres' : 'mysql';
  let stopping = false;
  let session: DbSession | undefined;
  let address = '';
  let n = 0;
  const loop = (async () => {
    while (!stopping) {
      n += 1;
      try {
        if (!session) {
          const resolution = await resolveLikeAnApplication(resolver(2000), u.unit.dns.recordName, 2000);
          address = resolution.addresses[0] as string;
          const connect = family === 'postgres' ? connectPostgres : connectMysql;
          session = await connect({
            address,
            port: u.primary.port,
            user: APP_USER,
            password,
            database: u.primary.database,
            timeoutMs: 2000,
            tls: { endpoint: resolution.chain.at(-1) as string, ca },
          });
        }
        await session.query(`INSERT INTO ${WRITER_TABLE} (n) VALUES (${n})`);
        acked.push({ n, at: Date.now(), address });
      } catch (error) {
        refused.push({ n, at: Date.now(), code: sortDbError(family, error).code ?? (error as Error).name });
        session?.abort();
        session = undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
    }
    await session?.close();
  })();
  return {
    unit: u,
    acked,
    refused,
    async stop() {
      stopping = true;
      await loop;
    },
  };
}

/**
 * Starts a writer per unit (or per unit named in `units`, for a world whose other units run something else); its facts
 * are checked against the run's report once the switchover has ended.
 */
export async function prepareSwitchoverWriters(
  world: ProvingGround,
  options: { units?: readonly string[] } = {},
): Promise<Prepared & { writers: UnitWriter[] }> {
  const writers: UnitWriter[] = [];
  for (const u of world.units.values()) {
    if (options.units && !options.units.includes(u.unit.name)) continue;
    const password = randomBytes(12).toString('hex');
    await createAppAccount(world, u, password);
    writers.push(startWriter(world, u, password));
  }
  // Some rows before the switchover starts.
  const started = Date.now();
  while (writers.some((w) => w.acked.length < 5) && Date.now() - started < 5000) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  let stopped = false;
  const stopAll = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(writers.map((w) => w.stop()));
  };
  return {
    writers,
    facts: [],
    close: stopAll,
    async after(report?: RunReport) {
      // A few more rows on the new primary, then stop.
      const from = Date.now();
      while (Date.now() - from < 500) await new Promise((resolve) => setTimeout(resolve, 20));
      await stopAll();
      return writerFacts(world, writers, report);
    },
  };
}

export async function writerFacts(
  world: ProvingGround,
  writers: readonly UnitWriter[],
  report: RunReport | undefined,
): Promise<Fact[]> {
  const facts: Fact[] = [];
  for (const w of writers) {
    const name = w.unit.unit.name;
    const unitReport = report?.units.find((u) => u.unit === name);
    const fencedAt = unitReport?.switchover?.fencedAt
      ? Date.parse(unitReport.switchover.fencedAt)
      : undefined;
    const dnsAt = unitReport?.dns?.changedAt ? Date.parse(unitReport.dns.changedAt) : undefined;
    const newId = w.unit.replica.id;
    const rows = await world.query(newId, `SELECT n FROM ${WRITER_TABLE}`);
    const onNew = new Set(rows.map((r) => Number(r.n)));
    const missing = w.acked.filter((a) => !onNew.has(a.n)).map((a) => a.n);
    facts.push({
      fact: `${name}: every acknowledged row is on the new primary`,
      ok: w.acked.length > 0 && missing.length === 0,
      detail:
        missing.length === 0
          ? `${w.acked.length} rows acknowledged, all ${w.acked.length} on ${newId}`
          : `missing: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ` and ${missing.length - 10} more` : ''}`,
    });
    const oldAddress = w.unit.primary.address;
    if (isAuroraUnit(w.unit.unit)) {
      facts.push(auroraWindowFact(w, unitReport, dnsAt));
    } else if (fencedAt === undefined || dnsAt === undefined) {
      facts.push({
        fact: `${name}: writes between fence and DNS change were refused`,
        ok: false,
        detail: 'the report has no fence or DNS change time',
      });
      continue;
    } else {
      const lateOnOld = w.acked.filter((a) => a.address === oldAddress && a.at > fencedAt);
      const refusedInWindow = w.refused.filter((r) => r.at >= fencedAt && r.at <= dnsAt);
      const codes = [...new Set(refusedInWindow.map((r) => r.code))].join(', ');
      facts.push({
        fact: `${name}: writes between fence and DNS change were refused, not silently lost`,
        ok: lateOnOld.length === 0 && refusedInWindow.length > 0,
        detail:
          `${refusedInWindow.length} refused in the ${((dnsAt - fencedAt) / 1000).toFixed(2)} s from fence to DNS change (${codes || 'none'}); ` +
          `${lateOnOld.length} acknowledged by the old primary after the fence`,
      });
    }
    const resumed = w.acked.filter((a) => a.address === w.unit.replica.address).length;
    facts.push({
      fact: `${name}: writes resumed on the new primary through the CNAME`,
      ok: resumed > 0,
      detail: `${resumed} rows acknowledged by ${newId} after the switchover`,
    });
  }
  return facts;
}

/**
 * An Aurora unit's window: Aurora fences the old writer inside SwitchoverGlobalCluster, so the report has no fence
 * time. Once lifeboat saw the promotion done (the end of waitForDatabasePromotion: the target is the writer), the old
 * writer is a read-only secondary: it must acknowledge no row after that; the refusals until the DNS change are counted.
 */
function auroraWindowFact(
  w: UnitWriter,
  unitReport: RunReport['units'][number] | undefined,
  dnsAt?: number,
): Fact {
  const name = w.unit.unit.name;
  const ended = unitReport?.steps.find((s) => s.step === 'waitForDatabasePromotion')?.endedAt;
  const promotedAt = ended ? Date.parse(ended) : undefined;
  if (promotedAt === undefined || dnsAt === undefined) {
    return {
      fact: `${name}: the old writer acknowledged no row after the switchover`,
      ok: false,
      detail: 'the report has no promotion end or DNS change time',
    };
  }
  const lateOnOld = w.acked.filter((a) => a.address === w.unit.primary.address && a.at > promotedAt);
  const refused = w.refused.filter((r) => r.at <= dnsAt);
  const codes = [...new Set(refused.map((r) => r.code))].join(', ');
  return {
    fact: `${name}: the old writer acknowledged no row after the switchover`,
    ok: lateOnOld.length === 0,
    detail: `${lateOnOld.length} acknowledged by the old writer after the promotion was seen done; ${refused.length} refused before the DNS change (${codes || 'none'})`,
  };
}
