import { type DBInstance, DescribeDBInstancesCommand, type RDSClient } from '@aws-sdk/client-rds';
import './sdk/rds.js';

/**
 * Reading many DB instances with few calls (docs/design/fleet.md, "Polls by instance, not by unit"): RDS's API bucket
 * is shared by the account (12 requests per second sustained, docs/aws/rds-read-replicas.md), so a fleet whose every
 * unit polls its own instance runs out of it at a few dozen units. DescribeDBInstances with a `db-instance-id`
 * filter takes a list of identifiers or ARNs and answers every instance it names, in pages of at most 100.
 */

/** Identifiers per filter: one full page each, so that a call usually needs no second page. */
export const IDS_PER_CALL = 100;

/**
 * The instances named by `ids` (identifiers; RDS compares them case-insensitively), keyed by the identifier as given.
 * An instance that does not exist is missing from the map: the filter answers what exists, where DBInstanceIdentifier
 * would fail the whole call with DBInstanceNotFound. Errors of the calls (throttling, 5xx) are thrown as the SDK gives
 * them.
 */
export async function describeInstances(
  rds: RDSClient,
  ids: readonly string[],
): Promise<Map<string, DBInstance>> {
  const wanted = new Map<string, string>();
  for (const id of ids) wanted.set(id.toLowerCase(), id);
  const unique = [...new Set(ids.map((id) => id.toLowerCase()))];
  const found = new Map<string, DBInstance>();
  for (let start = 0; start < unique.length; start += IDS_PER_CALL) {
    const chunk = unique.slice(start, start + IDS_PER_CALL);
    let marker: string | undefined;
    do {
      const out = await rds.send(
        new DescribeDBInstancesCommand({
          Filters: [{ Name: 'db-instance-id', Values: chunk }],
          MaxRecords: 100,
          ...(marker ? { Marker: marker } : {}),
        }),
      );
      for (const instance of out.DBInstances ?? []) {
        const key = instance.DBInstanceIdentifier?.toLowerCase();
        const asGiven = key === undefined ? undefined : wanted.get(key);
        if (asGiven !== undefined) found.set(asGiven, instance);
      }
      marker = out.Marker;
    } while (marker);
  }
  return found;
}
