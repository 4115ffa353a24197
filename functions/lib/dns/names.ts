/**
 * DNS names and zone ids as Route 53 compares them. Apart from update.ts so that the DNS poll and the zone batch
 * (change.ts, batch.ts, shared.ts) do not bundle the RDS client that UpdateDns needs (docs/design/packaging.md,
 * "Bundle size").
 */

/**
 * A DNS name as Route 53 compares it: lower case, no trailing dot, and the `\ooo` octal escapes that Route 53 returns
 * for characters other than a-z, 0-9, hyphen and underscore decoded (Route 53 Developer Guide, "DNS domain name
 * format"), so `\052.example.com.` and `*.example.com` are the same name.
 */
export function normalizeDnsName(name: string): string {
  return name
    .replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)))
    .toLowerCase()
    .replace(/\.$/, '');
}

/** The zone id without the `/hostedzone/` prefix that some APIs return. */
export function bareZoneId(zoneId: string): string {
  return zoneId.replace(/^\/hostedzone\//, '');
}
