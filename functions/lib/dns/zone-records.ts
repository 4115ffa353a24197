import {
  ListResourceRecordSetsCommand,
  type ListResourceRecordSetsCommandOutput,
  type ResourceRecordSet,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { bareZoneId, normalizeDnsName } from './names.js';
import '../sdk/route53.js';

/**
 * A preflight's reads of the units' records, by zone (docs/design/fleet.md, "Preflight"). A fleet's units usually
 * share one hosted zone, and each unit read the record sets at its own name: 500 units were 500
 * ListResourceRecordSets against Route 53's 10 requests per second. ListResourceRecordSets returns up to 300 record
 * sets a page (docs/aws/route53-records.md), so a zone of up to 300 record sets is one call for all of its units.
 *
 * The zone is listed whole only when that costs fewer calls than the units' own reads: its pages
 * (ceil(ResourceRecordSetCount / 300), the count from GetHostedZone) fewer than its units. Otherwise, and when the
 * count is unknown, `recordSetsNamed` answers undefined and the unit reads its own record as before. A listing that
 * failed is forgotten, and its error is each asking unit's own (each gets its own finding); the next asks again.
 */

/** ListResourceRecordSets' largest page (docs/aws/route53-records.md). */
export const RECORD_SETS_PAGE = 300;

export interface ZoneRecordReader {
  /**
   * The record sets named `recordName` (every type) in the zone, from one listing of the whole zone shared by every
   * unit of this preflight; undefined when listing the zone would cost more calls than the units' own reads.
   * Throws what ListResourceRecordSets throws.
   */
  recordSetsNamed(
    zoneId: string,
    recordName: string,
    recordSetCount: number | undefined,
  ): Promise<ResourceRecordSet[] | undefined>;
}

/** `unitsByZone`: how many of the run's units read a record in each zone (ids with or without `/hostedzone/`). */
export function zoneRecordReader(route53: () => Route53Client, zoneIds: readonly string[]): ZoneRecordReader {
  const units = new Map<string, number>();
  for (const id of zoneIds) units.set(bareZoneId(id), (units.get(bareZoneId(id)) ?? 0) + 1);
  const listings = new Map<string, Promise<Map<string, ResourceRecordSet[]>>>();
  return {
    async recordSetsNamed(zoneId, recordName, recordSetCount) {
      const id = bareZoneId(zoneId);
      if (recordSetCount === undefined || !worthListing(recordSetCount, units.get(id) ?? 0)) return undefined;
      let listing = listings.get(id);
      if (listing === undefined) {
        listing = listZone(route53(), zoneId);
        listings.set(id, listing);
        listing.catch(() => listings.delete(id));
      }
      return (await listing).get(normalizeDnsName(recordName)) ?? [];
    },
  };
}

/** Listing the zone whole costs its pages; reading each unit's record costs one call a unit. */
export function worthListing(recordSetCount: number, units: number): boolean {
  return Math.max(1, Math.ceil(recordSetCount / RECORD_SETS_PAGE)) < units;
}

/**
 * Every record set of the zone, in Route 53's order, 300 a page (the SDK has no paginator for ListResourceRecordSets:
 * its next page starts at NextRecordName, NextRecordType and NextRecordIdentifier, docs/aws/route53-records.md). The
 * preflight's zone reader and the batch's sender (functions/lib/dns/shared.ts) both list a zone with it.
 */
export async function listZoneRecords(route53: Route53Client, zoneId: string): Promise<ResourceRecordSet[]> {
  const records: ResourceRecordSet[] = [];
  let next: Pick<
    ListResourceRecordSetsCommandOutput,
    'NextRecordName' | 'NextRecordType' | 'NextRecordIdentifier'
  > = {};
  do {
    const out = await route53.send(
      new ListResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        MaxItems: RECORD_SETS_PAGE,
        ...(next.NextRecordName ? { StartRecordName: next.NextRecordName } : {}),
        ...(next.NextRecordType ? { StartRecordType: next.NextRecordType } : {}),
        ...(next.NextRecordIdentifier ? { StartRecordIdentifier: next.NextRecordIdentifier } : {}),
      }),
    );
    records.push(...(out.ResourceRecordSets ?? []));
    next = out.IsTruncated ? out : {};
  } while (next.NextRecordName);
  return records;
}

/** Every record set of the zone, by name. */
async function listZone(route53: Route53Client, zoneId: string): Promise<Map<string, ResourceRecordSet[]>> {
  const byName = new Map<string, ResourceRecordSet[]>();
  for (const set of await listZoneRecords(route53, zoneId)) {
    const name = normalizeDnsName(set.Name ?? '');
    byName.set(name, [...(byName.get(name) ?? []), set]);
  }
  return byName;
}
