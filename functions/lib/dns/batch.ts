import {
  type Change,
  ChangeResourceRecordSetsCommand,
  type ResourceRecordSet,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { awsErrorName } from '../errors.js';
import { normalizeDnsName } from './names.js';
import '../sdk/route53.js';

/**
 * One change batch per hosted zone for the units that are ready (docs/design/fleet.md, "DNS: one batch per zone").
 * Route 53 rejects a change to a zone while it is still processing a prior one (PriorRequestNotComplete,
 * docs/aws/route53-changes.md), so a fleet that shares a zone cannot send a change per unit; one batch carries them
 * all. A batch is transactional: one bad record fails the whole batch with InvalidChangeBatch. So the records are
 * checked first against the zone as read (the causes lifeboat can see: a name outside the zone, the apex, a CNAME
 * beside other record types), and a batch that Route 53 still rejects is split in halves until each bad record is
 * alone: the good ones are changed, or deferred to the next poll when the zone is busy with the half just sent.
 */

/** One unit's record change: the CNAME UPSERT that UpdateDns would send on its own. */
export interface RecordChange {
  /** The unit's name, to report the outcome to. */
  readonly key: string;
  readonly change: Change;
}

export type RecordOutcome =
  /** Sent in a batch that Route 53 accepted: poll `changeId` until INSYNC. */
  | { readonly key: string; readonly outcome: 'changed'; readonly changeId: string }
  /** Rejected, alone or by the check before sending: it will be rejected again; the unit fails with `reason`. */
  | { readonly key: string; readonly outcome: 'rejected'; readonly reason: string }
  /** Not sent: the zone was busy with a prior change (PriorRequestNotComplete). Send it again at the next poll. */
  | { readonly key: string; readonly outcome: 'deferred' };

/**
 * Problems Route 53 would reject the change for, found from the zone's record sets as read (`existing`): a name
 * outside the zone or at its apex (no CNAME there), a CNAME where another type exists at the same name, a change
 * that is not a CNAME UPSERT with one value. Empty when none.
 */
export function recordProblems(
  zoneName: string,
  existing: readonly ResourceRecordSet[],
  change: Change,
): string[] {
  const record = change.ResourceRecordSet;
  const zone = normalizeDnsName(zoneName);
  const problems: string[] = [];
  if (change.Action !== 'UPSERT' || record?.Type !== 'CNAME') {
    return [`only CNAME UPSERTs are batched, got ${change.Action} ${record?.Type}`];
  }
  const name = normalizeDnsName(record.Name ?? '');
  if (name === zone) problems.push(`${name} is the zone apex, where a CNAME is not allowed`);
  else if (!name.endsWith(`.${zone}`)) problems.push(`${name} is not in zone ${zone}`);
  if ((record.ResourceRecords ?? []).length !== 1 || !record.ResourceRecords?.[0]?.Value) {
    problems.push(`${name}: a CNAME has exactly one value`);
  }
  const others = existing.filter(
    (r) => normalizeDnsName(r.Name ?? '') === name && r.Type !== 'CNAME' && !r.SetIdentifier,
  );
  if (others.length) problems.push(`${name} already has ${others.map((r) => r.Type).join(', ')} records`);
  return problems;
}

function invalidBatchMessage(error: unknown): string {
  const messages = (error as { messages?: unknown }).messages;
  if (Array.isArray(messages) && messages.length) return messages.join('; ');
  return error instanceof Error ? error.message : String(error);
}

/**
 * Sends `items` to the zone as few batches as Route 53 lets it: one when every record is good. Throws what is not
 * about the batch (throttling, a zone that does not exist, a control plane that does not answer): the caller's
 * step fails and its retry sends the batch again, which is safe, every change being an UPSERT.
 */
export async function changeZoneRecords(
  route53: Route53Client,
  zone: { readonly id: string; readonly name: string; readonly records: readonly ResourceRecordSet[] },
  items: readonly RecordChange[],
  comment: string,
): Promise<RecordOutcome[]> {
  const outcomes: RecordOutcome[] = [];
  const good: RecordChange[] = [];
  for (const item of items) {
    const problems = recordProblems(zone.name, zone.records, item.change);
    if (problems.length) outcomes.push({ key: item.key, outcome: 'rejected', reason: problems.join('; ') });
    else good.push(item);
  }
  if (good.length) outcomes.push(...(await send(route53, zone.id, good, comment.slice(0, 256))));
  const order = new Map(items.map((item, index) => [item.key, index]));
  return outcomes.sort((a, b) => (order.get(a.key) ?? 0) - (order.get(b.key) ?? 0));
}

async function send(
  route53: Route53Client,
  zoneId: string,
  items: readonly RecordChange[],
  comment: string,
): Promise<RecordOutcome[]> {
  try {
    const out = await route53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: { Comment: comment, Changes: items.map((item) => item.change) },
      }),
    );
    const changeId = out.ChangeInfo?.Id ?? '';
    return items.map((item) => ({ key: item.key, outcome: 'changed', changeId }));
  } catch (error) {
    const name = awsErrorName(error);
    if (name === 'PriorRequestNotComplete')
      return items.map((item) => ({ key: item.key, outcome: 'deferred' }));
    if (name !== 'InvalidChangeBatch') throw error;
    if (items.length === 1) {
      const [item] = items as [RecordChange];
      return [
        { key: item.key, outcome: 'rejected', reason: `InvalidChangeBatch: ${invalidBatchMessage(error)}` },
      ];
    }
    // Transactional: nothing of this batch was changed. Halve it until each bad record is alone.
    const middle = Math.ceil(items.length / 2);
    const first = await send(route53, zoneId, items.slice(0, middle), comment);
    const second = await send(route53, zoneId, items.slice(middle), comment);
    return [...first, ...second];
  }
}
