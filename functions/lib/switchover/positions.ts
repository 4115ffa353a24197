/**
 * Replication positions, compared (docs/design/switchover.md, "Catch-up"). Pure: the SQL that reads them is in
 * engines.ts. The comparison is the switchover's data-loss proof, so every malformed position is an error, never a
 * guess.
 */

/** How long the replica may take after the fence when the input does not say. */
export const DEFAULT_CATCH_UP_TIMEOUT_SECONDS = 300;

/** What a position is: a PostgreSQL WAL location, or a MariaDB or MySQL GTID set. */
export type PositionKind = 'pg-lsn' | 'mariadb-gtid' | 'mysql-gtid';

/** A PostgreSQL LSN (`16/B374D848`) as a number: high 32 bits, low 32 bits. */
export function parseLsn(lsn: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn.trim());
  if (!match) throw new TypeError(`not a PostgreSQL LSN: ${JSON.stringify(lsn)}`);
  return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}

/** True when `replayed` is at or past `target`. */
export function lsnReached(replayed: string, target: string): boolean {
  return parseLsn(replayed) >= parseLsn(target);
}

/**
 * A MariaDB GTID position (`0-1-42,1-2-7`): one `domain-server-sequence` per replication domain, the last GTID applied
 * in that domain. An empty string is an empty position.
 */
export function parseMariadbGtidPos(pos: string): Map<number, { server: number; seq: bigint }> {
  const out = new Map<number, { server: number; seq: bigint }>();
  const text = pos.trim();
  if (text === '') return out;
  for (const part of text.split(',')) {
    const match = /^(\d+)-(\d+)-(\d+)$/.exec(part.trim());
    if (!match) throw new TypeError(`not a MariaDB GTID position: ${JSON.stringify(pos)}`);
    const domain = Number(match[1]);
    if (out.has(domain)) throw new TypeError(`MariaDB GTID position names domain ${domain} twice: ${pos}`);
    out.set(domain, { server: Number(match[2]), seq: BigInt(match[3] as string) });
  }
  return out;
}

/**
 * True when the replica's `gtid_slave_pos` covers the primary's `gtid_binlog_pos`: in every domain the primary has
 * written, the replica has applied a sequence number at least as high. Sequence numbers grow within a domain whatever
 * server wrote them (MariaDB, "Global Transaction ID": `gtid_strict_mode`), so the server id is not compared.
 */
export function mariadbGtidCovers(replicaPos: string, primaryPos: string): boolean {
  const replica = parseMariadbGtidPos(replicaPos);
  for (const [domain, { seq }] of parseMariadbGtidPos(primaryPos)) {
    const applied = replica.get(domain);
    if (!applied || applied.seq < seq) return false;
  }
  return true;
}

/** Whether `replicaPos` covers `primaryPos` for positions of `kind` read by SQL (MySQL compares on the server). */
export function positionReached(
  kind: Exclude<PositionKind, 'mysql-gtid'>,
  replicaPos: string,
  primaryPos: string,
): boolean {
  return kind === 'pg-lsn' ? lsnReached(replicaPos, primaryPos) : mariadbGtidCovers(replicaPos, primaryPos);
}
