import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import dns2 from 'dns2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DnsQueryLogEntry,
  type DnsRecord,
  type DnsRecordType,
  type RunningDnsServer,
  startDnsServer,
} from '../../local/dns/server.js';

const RECORD = 'orders-db.internal.example.com';
const REPLICA_ENDPOINT = 'orders-db-replica.c0ffee.us-west-2.rds.amazonaws.com';
const PRIMARY_ENDPOINT = 'orders-db.c0ffee.us-east-1.rds.amazonaws.com';

describe('startDnsServer', () => {
  const zone = new Map<string, DnsRecord[]>();
  const queries: DnsQueryLogEntry[] = [];
  let failLookups = false;
  let server: RunningDnsServer;
  let resolver: Resolver;

  const set = (name: string, type: DnsRecordType, value: string, ttl: number) =>
    zone.set(`${name}|${type}`, [{ type, value, ttl }]);

  beforeAll(async () => {
    server = await startDnsServer({
      lookup: (name, type) => {
        if (failLookups) throw new Error('zone store unavailable');
        return zone.get(`${name}|${type}`) ?? [];
      },
      onQuery: (entry) => queries.push(entry),
    });
    resolver = new Resolver({ timeout: 2_000, tries: 1 });
    resolver.setServers([server.endpoint]);
  });

  afterAll(async () => {
    await server.close();
  });

  it('answers a CNAME query with the target, as Node resolveCname sees it', async () => {
    // Prepare
    set(RECORD, 'CNAME', `${PRIMARY_ENDPOINT}.`, 5);
    set(PRIMARY_ENDPOINT, 'A', '127.0.0.2', 60);

    // Act
    const targets = await resolver.resolveCname(RECORD);

    // Assess
    expect(server.port).toBeGreaterThan(0);
    expect(server.endpoint).toBe(`127.0.0.1:${server.port}`);
    expect(targets).toEqual([PRIMARY_ENDPOINT]);
  });

  it('follows the CNAME chain to the A record for resolve4', async () => {
    // Act
    const addresses = await resolver.resolve4(RECORD, { ttl: true });

    // Assess: c-ares caps the address TTL by the CNAME's
    expect(addresses).toEqual([{ address: '127.0.0.2', ttl: 5 }]);
  });

  it('puts each record of the chain with its own TTL in one answer, over UDP and TCP', async () => {
    // Prepare
    const overUdp = dns2.UDPClient({ dns: '127.0.0.1', port: server.port });
    const overTcp = dns2.TCPClient({ dns: '127.0.0.1', port: server.port });

    // Act
    const udp = await overUdp(RECORD, 'A');
    const tcp = await overTcp(RECORD, 'A');

    // Assess
    for (const response of [udp, tcp]) {
      expect(
        response.answers.map(({ name, type, ttl, domain, address }) => ({
          name,
          type,
          ttl,
          domain,
          address,
        })),
      ).toEqual([
        { name: RECORD, type: 5, ttl: 5, domain: PRIMARY_ENDPOINT, address: undefined },
        { name: PRIMARY_ENDPOINT, type: 1, ttl: 60, domain: undefined, address: '127.0.0.2' },
      ]);
      expect(response.header.rcode).toBe(0);
    }
    expect(queries.filter((entry) => entry.transport === 'tcp').length).toBeGreaterThan(0);
  });

  it('answers NXDOMAIN for an unknown name', async () => {
    // Prepare
    const raw = dns2.UDPClient({ dns: '127.0.0.1', port: server.port });

    // Act
    const resolving = resolver.resolve4('unknown.internal.example.com');
    const response = await raw('unknown.internal.example.com', 'A');

    // Assess
    await expect(resolving).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(response.header.rcode).toBe(3);
    expect(response.answers).toEqual([]);
  });

  it('sees a changed record on the next query', async () => {
    // Prepare
    set(REPLICA_ENDPOINT, 'A', '127.0.0.3', 60);
    await expect(resolver.resolve4(RECORD)).resolves.toEqual(['127.0.0.2']);

    // Act
    set(RECORD, 'CNAME', REPLICA_ENDPOINT, 5);

    // Assess
    await expect(resolver.resolveCname(RECORD)).resolves.toEqual([REPLICA_ENDPOINT]);
    await expect(resolver.resolve4(RECORD)).resolves.toEqual(['127.0.0.3']);
  });

  it('answers the CNAME with NXDOMAIN when its target does not exist', async () => {
    // Prepare
    set('dangling.internal.example.com', 'CNAME', 'gone.example.com', 30);
    const raw = dns2.UDPClient({ dns: '127.0.0.1', port: server.port });

    // Act
    const response = await raw('dangling.internal.example.com', 'A');

    // Assess
    expect(response.header.rcode).toBe(3);
    expect(response.answers.map((answer) => answer.domain)).toEqual(['gone.example.com']);
    await expect(resolver.resolve4('dangling.internal.example.com')).rejects.toMatchObject({
      code: 'ENOTFOUND',
    });
  });

  it('answers SERVFAIL for a CNAME loop and for a failing lookup', async () => {
    // Prepare
    set('loop-a.example.com', 'CNAME', 'loop-b.example.com', 30);
    set('loop-b.example.com', 'CNAME', 'loop-a.example.com', 30);

    // Act
    const loop = resolver.resolve4('loop-a.example.com');
    await expect(loop).rejects.toMatchObject({ code: 'ESERVFAIL' });
    failLookups = true;
    const broken = resolver.resolve4(RECORD);

    // Assess
    await expect(broken).rejects.toMatchObject({ code: 'ESERVFAIL' });
    failLookups = false;
  });

  it('answers a type it does not hold with an empty answer for an existing name', async () => {
    // Act
    const aaaa = resolver.resolve6(REPLICA_ENDPOINT);

    // Assess
    await expect(aaaa).rejects.toMatchObject({ code: 'ENODATA' });
  });

  it('closes both transports, also with an idle TCP connection open', async () => {
    // Prepare
    const other = await startDnsServer({ lookup: () => [] });
    const idle = net.connect(other.port, '127.0.0.1');
    await new Promise((resolve) => idle.once('connect', resolve));

    // Act
    await other.close();

    // Assess
    const rebind = net.createServer();
    await new Promise<void>((resolve, reject) => {
      rebind.once('error', reject);
      rebind.listen(other.port, '127.0.0.1', () => resolve());
    });
    await new Promise((resolve) => rebind.close(resolve));
    idle.destroy();
  });

  it('names a bad option', async () => {
    // Act + Assess
    await expect(startDnsServer({ lookup: undefined as never })).rejects.toThrow(
      /^lookup must be a function/,
    );
    await expect(startDnsServer({ lookup: () => [], port: 70_000 })).rejects.toThrow(
      /^port must be an integer/,
    );
  });
});
