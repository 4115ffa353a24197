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
