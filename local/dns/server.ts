/**
 * A DNS server on loopback for the proving ground. It answers from an injected lookup (the emulator's
 * Route 53 zones and RDS endpoint names) the way a recursive resolver answers a stub: a CNAME is
 * followed and the answer holds the whole chain (CNAME, then the target's A) with each record's own
 * TTL, as RFC 1034 §3.6.2 and §4.3.2 describe. Nothing is cached, so a changed record is seen by the
 * next query. UDP and TCP listen on the same port, because a stub resolver (c-ares in Node) retries a
 * truncated UDP answer over TCP on the port it was given.
 */
import type { Socket } from 'node:net';
import dns2 from 'dns2';

const { Packet } = dns2;
type DnsPacket = dns2.Packet;
type UdpServer = dns2.UDPServer;
type TcpServer = dns2.TCPServer;

export type DnsRecordType = 'A' | 'CNAME';

export interface DnsRecord {
  readonly type: DnsRecordType;
  /** An IPv4 address for A, a domain name for CNAME (a trailing dot is allowed). */
  readonly value: string;
  /** Seconds. */
  readonly ttl: number;
}

/**
 * The records of one type at one name. `name` is lower-case with no trailing dot. Returning a CNAME
 * for 'A' is not needed: the server asks for 'CNAME' itself when a name has no A records.
 */
export type DnsLookup = (
  name: string,
  type: DnsRecordType,
) => readonly DnsRecord[] | Promise<readonly DnsRecord[]>;

export interface DnsQueryLogEntry {
  readonly name: string;
  readonly type: string;
  readonly rcode: 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL';
  readonly answers: number;
  readonly transport: 'udp' | 'tcp';
}

export interface DnsServerOptions {
  readonly lookup: DnsLookup;
  /** @default '127.0.0.1' */
  readonly address?: string;
  /** 0 picks a free port (the same for UDP and TCP). @default 0 */
  readonly port?: number;
  /** Called after every answer. */
  readonly onQuery?: (entry: DnsQueryLogEntry) => void;
}

export interface RunningDnsServer {
  readonly address: string;
  readonly port: number;
  /** `address:port`, the form of `LIFEBOAT_DNS_SERVERS` and `Resolver.setServers`. */
  readonly endpoint: string;
  close(): Promise<void>;
}

/** Response codes (RFC 1035 §4.1.1); dns2 has them at run time but not in its types. */
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3 } as const;

/** CNAME chains longer than this are answered with SERVFAIL, as resolvers cap them (loops, misconfiguration). */
const MAX_CHAIN = 8;
const TYPE_NAMES: Record<number, string> = { 1: 'A', 5: 'CNAME', 28: 'AAAA', 255: 'ANY' };

function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function checkRecords(name: string, type: DnsRecordType, records: readonly DnsRecord[]): void {
  for (const record of records) {
    if (record.type !== type) {
      throw new TypeError(`lookup(${name}, ${type}) returned a ${record.type} record`);
    }
    if (!Number.isInteger(record.ttl) || record.ttl < 0 || record.ttl > 2_147_483_647) {
      throw new TypeError(`lookup(${name}, ${type}) returned a record with an invalid ttl ${record.ttl}`);
    }
  }
}

interface Resolution {
  readonly rcode: number;
  readonly answers: DnsPacket['answers'];
}

/** Resolves a question by following CNAMEs; the rcode describes the last name in the chain (RFC 6604). */
async function resolveQuestion(lookup: DnsLookup, questionName: string, qtype: number): Promise<Resolution> {
  const answers: DnsPacket['answers'] = [];
  const seen = new Set<string>();
  let owner = questionName; // the name as asked, so the answer matches the question's spelling
  for (let depth = 0; depth <= MAX_CHAIN; depth++) {
    const name = normalize(owner);
    if (seen.has(name)) return { rcode: RCODE.SERVFAIL, answers: [] };
    seen.add(name);
    if (qtype === Packet.TYPE.A || qtype === Packet.TYPE.ANY) {
      const records = await lookup(name, 'A');
      checkRecords(name, 'A', records);
      if (records.length > 0) {
        for (const record of records) {
          answers.push({
            name: owner,
            type: Packet.TYPE.A,
            class: Packet.CLASS.IN,
            ttl: record.ttl,
            address: record.value,
          } as DnsPacket['answers'][number]);
        }
        return { rcode: RCODE.NOERROR, answers };
      }
    }
    const aliases = await lookup(name, 'CNAME');
    checkRecords(name, 'CNAME', aliases);
    const alias = aliases[0];
    if (!alias) {
      if (qtype === Packet.TYPE.A || qtype === Packet.TYPE.ANY) {
        // Neither A nor CNAME: the name does not exist here.
        return { rcode: RCODE.NXDOMAIN, answers };
      }
      // Other types: NXDOMAIN only when the name has no record at all; else an empty answer (NODATA).
      const addresses = await lookup(name, 'A');
      return { rcode: addresses.length > 0 ? RCODE.NOERROR : RCODE.NXDOMAIN, answers };
    }
    const target = normalize(alias.value);
    answers.push({
      name: owner,
      type: Packet.TYPE.CNAME,
      class: Packet.CLASS.IN,
      ttl: alias.ttl,
      domain: target,
    } as DnsPacket['answers'][number]);
    if (qtype === Packet.TYPE.CNAME) return { rcode: RCODE.NOERROR, answers };
    owner = target;
  }
  return { rcode: RCODE.SERVFAIL, answers: [] };
}

function rcodeName(rcode: number): DnsQueryLogEntry['rcode'] {
  if (rcode === RCODE.NXDOMAIN) return 'NXDOMAIN';
  if (rcode === RCODE.SERVFAIL) return 'SERVFAIL';
  return 'NOERROR';
}

/** Starts the server; resolves once both UDP and TCP listen on the same port. */
export async function startDnsServer(options: DnsServerOptions): Promise<RunningDnsServer> {
  if (typeof options.lookup !== 'function')
    throw new TypeError('lookup must be a function (name, type) => records');
  const address = options.address ?? '127.0.0.1';
  const requestedPort = options.port ?? 0;
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
    throw new TypeError(`port must be an integer between 0 and 65535, got ${requestedPort}`);
  }

  const handlerFor =
    (transport: 'udp' | 'tcp'): dns2.DnsHandler =>
    (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      response.header.ra = 1; // we resolve CNAME chains for the client, as a recursive resolver does
      const question = request.questions[0];
      const answer = async (): Promise<Resolution> => {
        if (!question || question.class !== Packet.CLASS.IN) return { rcode: RCODE.FORMERR, answers: [] };
        return resolveQuestion(options.lookup, question.name, question.type);
      };
      answer()
        .catch(() => ({ rcode: RCODE.SERVFAIL, answers: [] }) as Resolution)
        .then((resolution) => {
          response.header.rcode = resolution.rcode;
          response.answers = resolution.answers;
          void Promise.resolve(send(response)).catch(() => undefined);
          options.onQuery?.({
            name: question ? normalize(question.name) : '',
            type: question ? (TYPE_NAMES[question.type] ?? String(question.type)) : '',
            rcode: rcodeName(resolution.rcode),
            answers: resolution.answers.length,
            transport,
          });
        });
    };

  // Port 0: UDP picks the port, TCP takes the same one; if TCP finds it taken, try again.
  for (let attempt = 0; attempt < 10; attempt++) {
    const udp = dns2.createUDPServer(handlerFor('udp'));
    const tcp = dns2.createTCPServer(handlerFor('tcp'));
    const sockets = new Set<Socket>();
    tcp.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    udp.on('requestError', () => undefined);
    tcp.on('requestError', () => undefined);
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(requestedPort, address, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      const port = udp.address().port;
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, address, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      udp.on('error', () => undefined);
      tcp.on('error', () => undefined);
      return {
        address,
        port,
        endpoint: `${address}:${port}`,
        close: () => closeBoth(udp, tcp, sockets),
      };
    } catch (error) {
      await closeBoth(udp, tcp, sockets);
      if (requestedPort !== 0 || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
  throw new Error(`could not bind UDP and TCP on one free port of ${address}`);
}

async function closeBoth(udp: UdpServer, tcp: TcpServer, sockets: Set<Socket>): Promise<void> {
  await Promise.all([
    new Promise<void>((resolve) => {
      try {
        udp.close(() => resolve());
      } catch {
        resolve(); // not bound
      }
    }),
    new Promise<void>((resolve) => {
      if (!tcp.listening) return resolve();
      // TCP clients may hold idle connections open (RFC 7766): end them so close() completes.
      tcp.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    }),
  ]);
}
