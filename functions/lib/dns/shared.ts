import {
  type AttributeValue,
  BatchGetItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  type Change,
  GetChangeCommand,
  type ResourceRecordSet,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import { stepTimeoutSeconds } from '../clients.js';
import { timeoutScale } from '../env.js';
import { awsErrorName } from '../errors.js';
import { logger } from '../observability.js';
import { changeZoneRecords, type RecordChange } from './batch.js';
import { bareZoneId, normalizeDnsName } from './names.js';
import { listZoneRecords } from './zone-records.js';
import '../sdk/dynamodb.js';
import '../sdk/route53.js';

/**
 * The units of a run that share a hosted zone send their record changes as one batch, and share GetChange
 * (docs/design/fleet.md, "DNS: one batch per zone"). Route 53 rejects a change to a zone while it is still processing a
 * prior one (PriorRequestNotComplete, docs/aws/route53-changes.md): one change per unit queues the units behind each
 * other, one batch for the units that are ready does not.
 *
 * Items in the lock table (partition key `planName`, TTL `expiresAt`), all small so that many units reading them
 * at once stay far below a partition's throughput (DynamoDB charges a read by the whole item's size):
 * - `dns#<plan>#<run>#<zone>`: the zone's lease (`leaseUntil`) and the set of units whose change is not sent yet;
 * - `dns#<plan>#<run>#<zone>#unit#<unit>`: the unit's change (`change`, `nonce`) and, once sent, its `outcome`;
 * - `dns#<plan>#<run>#change#<change id>`: the last GetChange status of a change the units of a batch share.
 *
 * A unit registers its change, then whoever takes the zone's lease (the unit itself, at once, when it is alone)
 * sends every registered change that has no outcome in one `changeZoneRecords` and writes each unit's outcome. A
 * unit re-registered since (a re-run, a retry) has a new nonce: an outcome for the old one does not count, and its
 * new change goes in the next batch.
 */

export interface ZoneBatchDeps {
  readonly route53: Route53Client;
  readonly dynamodb: DynamoDBClient;
  /** The lock table (infra/constructs/lock-table.ts). */
  readonly tableName: string;
  /** Clock, for tests. @default () => new Date() */
  readonly now?: () => Date;
}

export interface ZoneBatchKey {
  readonly planName: string;
  readonly runId: string;
  /** The hosted zone, with or without `/hostedzone/`. */
  readonly zoneId: string;
}

/** Where a unit's change is. `changed` and `rejected` are final for its registration; `pending` is not sent yet. */
export type BatchState =
  | {
      readonly state: 'changed';
      readonly changeId: string;
      readonly changedAt: string;
      readonly batchSize: number;
      /** What the record held before the run's first change of it, as the batch's sender read the zone. */
      readonly before?: RecordBefore;
    }
  | { readonly state: 'rejected'; readonly reason: string }
  | { readonly state: 'pending' };

/** How long the items are kept after their last write (the lock table's TTL): a day, well past any run. */
const ITEM_TTL_SECONDS = 24 * 60 * 60;
/** BatchGetItem reads at most 100 items a call. */
const BATCH_GET_MAX = 100;
/** Tries of the lease's release (each with the SDK's own attempts), and the first pause between them. */
const RELEASE_ATTEMPTS = 4;
const RELEASE_PAUSE_MS = 50;
/** Outcome writes in flight at once by the lease holder. */
const WRITE_CONCURRENCY = 25;

/**
 * How long a sender holds its zone's lease (docs/design/fleet.md, "DNS: one batch per zone"): the Lambda timeout of
 * UpdateDns, the longer of the two steps that send (infra/constructs/orchestrator.ts: one call to each of RDS, Route 53
 * and DynamoDB that never answers, each within the SDK's 3 attempts and back-off, plus 15 s; 123 s). The sender cannot
 * live longer than its Lambda, so a live sender never outlasts its lease, however long Route 53 throttles it; it
 * gives the lease back as soon as the outcomes are written, and one that dies loses it at this expiry. Scaled as the
 * SDK timeouts are (LIFEBOAT_TIMEOUT_SCALE, functions/lib/env.ts).
 */
export function senderLeaseSeconds(scale = timeoutScale()): number {
  return stepTimeoutSeconds(['rds', 'route53', 'dynamodb']) * scale;
}

export function zoneItemKey(key: ZoneBatchKey): string {
  return `dns#${key.planName}#${key.runId}#${bareZoneId(key.zoneId)}`;
}

export function unitItemKey(key: ZoneBatchKey, unit: string): string {
  return `${zoneItemKey(key)}#unit#${unit}`;
}

export function changeItemKey(key: ZoneBatchKey, changeId: string): string {
  return `dns#${key.planName}#${key.runId}#change#${changeId.replace(/^\/change\//, '')}`;
}

interface Outcome {
  nonce: string;
  outcome: 'changed' | 'rejected';
  changeId?: string;
  reason?: string;
  at: string;
  batchSize?: number;
  before?: RecordBefore;
}

const keyOf = (planName: string) => ({ planName: { S: planName } });

function clock(deps: { now?: () => Date }): number {
  return (deps.now ?? (() => new Date()))().getTime();
}

function expires(now: number): AttributeValue {
  return { N: String(Math.floor(now / 1000) + ITEM_TTL_SECONDS) };
}

/** What the record held before the run's first registration of the unit (UpdateDns's report of its change). */
export interface RecordBefore {
  readonly previousTarget: string | null;
  readonly previousTtl: number | null;
  readonly alreadyThere: boolean;
}

/**
 * Registers the unit's change for the zone's next batch. A registration replaces the unit's earlier one and its
 * outcome: a re-run sends its UPSERT again and waits for the new change id (docs/aws/route53-changes.md). Returns
 * what the record held before the first registration of this run: a retry of the step may find the record already
 * changed by another unit's batch, and must still report the change this run made. Throws what DynamoDB throws: the
 * caller then sends the change on its own.
 *
 * `before` undefined: the caller did not read the record (UpdateDns with the table: 500 units reading their own
 * record were 500 ListResourceRecordSets against Route 53's 10 per second). The batch's sender reads the zone anyway
 * before it sends, and keeps what it found as the unit's `before` (sendZoneBatch); undefined is returned until then.
 */
export async function registerChange(
  deps: ZoneBatchDeps,
  key: ZoneBatchKey,
  unit: string,
  change: Change,
  before: RecordBefore | undefined,
): Promise<RecordBefore | undefined> {
  const now = clock(deps);
  const nonce = `${now}-${Math.random().toString(36).slice(2, 10)}`;
  const out = await deps.dynamodb.send(
    new UpdateItemCommand({
      TableName: deps.tableName,
      Key: keyOf(unitItemKey(key, unit)),
      UpdateExpression: `SET #change = :change, nonce = :nonce, expiresAt = :expires${
        before ? ', #before = if_not_exists(#before, :before)' : ''
      } REMOVE outcome`,
      ExpressionAttributeNames: { '#change': 'change', ...(before ? { '#before': 'before' } : {}) },
      ExpressionAttributeValues: {
        ':change': { S: JSON.stringify(change) },
        ':nonce': { S: nonce },
        ':expires': expires(now),
        ...(before ? { ':before': { S: JSON.stringify(before) } } : {}),
      },
      ReturnValues: 'ALL_NEW',
    }),
  );
  await addPending(deps, key, [unit], now);
  return parseBefore(out.Attributes) ?? before;
}

function parseBefore(item: Record<string, AttributeValue> | undefined): RecordBefore | undefined {
  try {
    return item?.before?.S ? (JSON.parse(item.before.S) as RecordBefore) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What the zone's records, as the batch's sender read them, say the unit's record held: its CNAME's target and TTL,
 * and whether it already points where the change points it (docs/design/fleet.md, "DNS: one batch per zone").
 */
export function recordBeforeIn(records: readonly ResourceRecordSet[], change: Change): RecordBefore {
  const name = normalizeDnsName(change.ResourceRecordSet?.Name ?? '');
  const current = records.find(
    (r) => r.Type === 'CNAME' && !r.SetIdentifier && normalizeDnsName(r.Name ?? '') === name,
  );
  const value = current?.ResourceRecords?.[0]?.Value ?? current?.AliasTarget?.DNSName;
  const previousTarget = value === undefined ? null : normalizeDnsName(value);
  const previousTtl = current?.TTL ?? null;
  const target = change.ResourceRecordSet?.ResourceRecords?.[0]?.Value;
  return {
    previousTarget,
    previousTtl,
    alreadyThere:
      target !== undefined &&
      previousTarget === normalizeDnsName(target) &&
      previousTtl === (change.ResourceRecordSet?.TTL ?? null) &&
      !current?.AliasTarget,
  };
}

/** A CNAME with a routing policy at the change's name: a simple CNAME cannot replace it (strategy "health-check"). */
function routedRecord(records: readonly ResourceRecordSet[], change: Change): ResourceRecordSet | undefined {
  const name = normalizeDnsName(change.ResourceRecordSet?.Name ?? '');
  return records.find(
    (r) => r.Type === 'CNAME' && r.SetIdentifier !== undefined && normalizeDnsName(r.Name ?? '') === name,
  );
}

async function addPending(deps: ZoneBatchDeps, key: ZoneBatchKey, units: string[], now: number) {
  await deps.dynamodb.send(
    new UpdateItemCommand({
      TableName: deps.tableName,
      Key: keyOf(zoneItemKey(key)),
      UpdateExpression: 'SET expiresAt = :expires ADD pending :units',
      ExpressionAttributeValues: { ':units': { SS: units }, ':expires': expires(now) },
    }),
  );
}

function parseOutcome(item: Record<string, AttributeValue> | undefined): Outcome | undefined {
  const nonce = item?.nonce?.S;
  const text = item?.outcome?.S;
  if (!nonce || !text) return undefined;
  try {
    const outcome = JSON.parse(text) as Outcome;
    // An outcome answers one registration: a later one (a re-run) waits for its own.
    return outcome.nonce === nonce ? outcome : undefined;
  } catch {
    return undefined;
  }
}

function stateOf(outcome: Outcome | undefined): BatchState {
  if (outcome?.outcome === 'changed' && outcome.changeId) {
    return {
      state: 'changed',
      changeId: outcome.changeId,
      changedAt: outcome.at,
      batchSize: outcome.batchSize ?? 1,
      ...(outcome.before ? { before: outcome.before } : {}),
    };
  }
  if (outcome?.outcome === 'rejected') return { state: 'rejected', reason: outcome.reason ?? 'rejected' };
  return { state: 'pending' };
}

/**
 * The unit's batch state; when its change is not sent yet and nobody holds the zone's lease, takes it and sends the
 * zone's batch. Batches of a zone are `intervalSeconds` apart at least; the lease lasts `leaseSeconds` while the
 * sender works (senderLeaseSeconds). `registered` is false when the unit has no registration in this run (nothing to wait for). Throws
 * what DynamoDB throws, and what Route 53 throws that is not about a record (throttling, a missing zone): the step's
 * retry asks again, and sending the batch again is safe, every change being an UPSERT.
 */
export async function zoneBatchState(
  deps: ZoneBatchDeps,
  key: ZoneBatchKey,
  unit: string,
  intervalSeconds: number,
  leaseSeconds: number = senderLeaseSeconds(),
): Promise<BatchState & { registered: boolean }> {
  const own = await deps.dynamodb.send(
    new GetItemCommand({
      TableName: deps.tableName,
      Key: keyOf(unitItemKey(key, unit)),
      ConsistentRead: true,
    }),
  );
  if (!own.Item?.nonce?.S) return { state: 'pending', registered: false };
  const known = stateOf(parseOutcome(own.Item));
  if (known.state !== 'pending') return { ...known, registered: true };

  const now = clock(deps);
  const zone = await deps.dynamodb.send(
    new GetItemCommand({ TableName: deps.tableName, Key: keyOf(zoneItemKey(key)), ConsistentRead: true }),
  );
  const pending = new Set(zone.Item?.pending?.SS ?? []);
  // Taken off the set by a batch that read its earlier registration: put it back for the next one.
  if (!pending.has(unit)) await addPending(deps, key, [unit], now);
  const leaseUntil = Number(zone.Item?.leaseUntil?.N ?? 0);
  if (leaseUntil >= now) return { state: 'pending', registered: true };
  const sent = await sendZoneBatch(
    deps,
    key,
    intervalSeconds * 1000,
    Math.max(leaseSeconds, intervalSeconds) * 1000,
    now,
  );
  return { ...stateOf(sent?.get(unit)), registered: true };
}

interface Registration {
  nonce: string;
  change: Change;
  outcome: Outcome | undefined;
  /** Kept from the run's first registration or batch (undefined until then). */
  before: RecordBefore | undefined;
}

/** The units' changes as registered: one consistent BatchGetItem per 100 units. */
async function readRegistrations(
  deps: ZoneBatchDeps,
  key: ZoneBatchKey,
  units: readonly string[],
): Promise<Map<string, Registration>> {
  const found = new Map<string, Registration>();
  const byKey = new Map(units.map((u) => [unitItemKey(key, u), u]));
  for (let start = 0; start < units.length; start += BATCH_GET_MAX) {
    let keys: Record<string, AttributeValue>[] = units
      .slice(start, start + BATCH_GET_MAX)
      .map((u) => keyOf(unitItemKey(key, u)));
    for (let round = 0; keys.length && round < 5; round += 1) {
      const out = await deps.dynamodb.send(
        new BatchGetItemCommand({
          RequestItems: { [deps.tableName]: { Keys: keys, ConsistentRead: true } },
        }),
      );
      for (const item of out.Responses?.[deps.tableName] ?? []) {
        const unit = byKey.get(item.planName?.S ?? '');
        const nonce = item.nonce?.S;
        if (!unit || !nonce || !item.change?.S) continue;
        found.set(unit, {
          nonce,
          change: JSON.parse(item.change.S) as Change,
          outcome: parseOutcome(item),
          before: parseBefore(item),
        });
      }
      // Unprocessed keys (throttled) are asked again; those left after a few rounds wait for the next batch.
      keys = out.UnprocessedKeys?.[deps.tableName]?.Keys ?? [];
    }
  }
  return found;
}

/** Every record set of the zone (paged), and its name (the apex, where its SOA is). */
async function readZone(
  route53: Route53Client,
  zoneId: string,
): Promise<{ id: string; name: string; records: ResourceRecordSet[] }> {
  const records = await listZoneRecords(route53, zoneId);
  const apex = records.find((r) => r.Type === 'SOA')?.Name ?? records[0]?.Name ?? '';
  return { id: zoneId, name: normalizeDnsName(apex), records };
}

/**
 * Takes the zone's lease (when free) for the sender's whole work (`leaseMs`), sends the changes of every pending unit
 * as one batch and writes each unit's outcome (changed with the batch's change id, or rejected with the reason);
 * deferred ones (the zone busy) stay pending. Then gives the lease back, only if it is still its own (`leaseHolder`):
 * free at one interval after it was taken, so that a zone gets one batch an interval at most; free at once when the
 * work failed, so that the step's retry sends at once. Undefined when another poll holds the lease.
 */
async function sendZoneBatch(
  deps: ZoneBatchDeps,
  key: ZoneBatchKey,
  intervalMs: number,
  leaseMs: number,
  now: number,
): Promise<Map<string, Outcome> | undefined> {
  const holder = `${now}-${Math.random().toString(36).slice(2, 10)}`;
  let lease: Record<string, AttributeValue> | undefined;
  try {
    lease = (
      await deps.dynamodb.send(
        new UpdateItemCommand({
          TableName: deps.tableName,
          Key: keyOf(zoneItemKey(key)),
          UpdateExpression: 'SET leaseUntil = :until, leaseHolder = :holder, expiresAt = :expires',
          ConditionExpression: 'attribute_not_exists(leaseUntil) OR leaseUntil < :now',
          ExpressionAttributeValues: {
            ':until': { N: String(now + leaseMs) },
            ':holder': { S: holder },
            ':now': { N: String(now) },
            ':expires': expires(now),
          },
          ReturnValues: 'ALL_NEW',
        }),
      )
    ).Attributes;
  } catch (error) {
    if (awsErrorName(error) === 'ConditionalCheckFailedException') return undefined;
    throw error;
  }
  let outcomes: Map<string, Outcome>;
  try {
    outcomes = await sendLeased(deps, key, lease?.pending?.SS ?? [], now);
  } catch (error) {
    // The step's retry (or the next poll) reads and sends at once instead of waiting out the lease.
    await releaseLease(deps, key, holder, 0);
    throw error;
  }
  await releaseLease(deps, key, holder, now + intervalMs);
  return outcomes;
}

/** The lease holder's work: the registrations read, the zone read, the batch sent, the outcomes written. */
async function sendLeased(
  deps: ZoneBatchDeps,
  key: ZoneBatchKey,
  units: readonly string[],
  now: number,
): Promise<Map<string, Outcome>> {
  if (units.length === 0) return new Map();
  const registered = await readRegistrations(deps, key, units);
  const waiting = [...registered].filter(([, r]) => !r.outcome);
  const outcomes = new Map<string, Outcome>();
  if (waiting.length) {
    // A read that fails gives the lease back as a failed send does (sendZoneBatch).
    const zone = await readZone(deps.route53, bareZoneId(key.zoneId));
    // What each record held before this run changed it: the run's first reading, else the zone as read now.
    const before = await keepBefore(deps, key, waiting, zone.records);
    const at0 = new Date(now).toISOString();
    const sendable = waiting.filter(([unit, r]) => {
      const routed = routedRecord(zone.records, r.change);
      if (!routed) return true;
      outcomes.set(unit, {
        nonce: r.nonce,
        outcome: 'rejected',
        reason: `${normalizeDnsName(routed.Name ?? '')} is a routing-policy record set (SetIdentifier ${routed.SetIdentifier}); dns.strategy "cname" needs a simple CNAME (use "health-check" for a failover pair)`,
        at: at0,
      });
      return false;
    });
    const items: RecordChange[] = sendable.map(([unit, r]) => ({ key: unit, change: r.change }));
    const results = await changeZoneRecords(
      deps.route53,
      zone,
      items,
      `lifeboat run ${key.runId}: fail over ${items.length} unit(s) in one batch`,
    );
    const at = new Date(now).toISOString();
    const sentTogether = new Map<string, number>();
    for (const r of results)
      if (r.outcome === 'changed') sentTogether.set(r.changeId, (sentTogether.get(r.changeId) ?? 0) + 1);
    for (const r of results) {
      const nonce = registered.get(r.key)?.nonce ?? '';
      if (r.outcome === 'changed') {
        const was = before.get(r.key);
        outcomes.set(r.key, {
          nonce,
          outcome: 'changed',
          changeId: r.changeId,
          at,
          batchSize: sentTogether.get(r.changeId) ?? 1,
          ...(was ? { before: was } : {}),
        });
      } else if (r.outcome === 'rejected') {
        outcomes.set(r.key, { nonce, outcome: 'rejected', reason: r.reason, at });
      }
    }
    logger.info('zone batch sent', {
      zone: key.zoneId,
      units: items.length,
      changed: [...outcomes.values()].filter((o) => o.outcome === 'changed').length,
      rejected: [...outcomes.values()].filter((o) => o.outcome === 'rejected').length,
      deferred: items.length - outcomes.size,
    });
  }
  await writeOutcomes(deps, key, outcomes, now);
  // Off the pending set: the units with an outcome now, and those whose outcome an earlier holder wrote.
  const done = [...registered].filter(([unit, r]) => r.outcome || outcomes.has(unit)).map(([unit]) => unit);
  if (done.length) {
    await deps.dynamodb.send(
      new UpdateItemCommand({
        TableName: deps.tableName,
        Key: keyOf(zoneItemKey(key)),
        UpdateExpression: 'DELETE pending :units',
        ExpressionAttributeValues: { ':units': { SS: done } },
      }),
    );
  }
  return outcomes;
}

/**
 * What each waiting unit's record held before this run changed it, kept on the unit's item before the batch is sent
 * (`if_not_exists`: the first reading wins). A sender that outlasts its lease can overlap the next one, whose read of
 * the zone may already show this batch's change; since this write comes before the change is sent, the later sender's
 * reading never replaces it. The item's value is the answer (ReturnValues).
 */
async function keepBefore(
  deps: ZoneBatchDeps,
  key: ZoneBatchKey,
  waiting: readonly [string, Registration][],
  records: readonly ResourceRecordSet[],
): Promise<Map<string, RecordBefore>> {
  const kept = new Map<string, RecordBefore>();
  const unread: [string, RecordBefore][] = [];
  for (const [unit, r] of waiting) {
    if (r.before) kept.set(unit, r.before);
    else unread.push([unit, recordBeforeIn(records, r.change)]);
  }
  for (let start = 0; start < unread.length; start += WRITE_CONCURRENCY) {
    await Promise.all(
      unread.slice(start, start + WRITE_CONCURRENCY).map(async ([unit, read]) => {
        const out = await deps.dynamodb.send(
          new UpdateItemCommand({
            TableName: deps.tableName,
            Key: keyOf(unitItemKey(key, unit)),
            UpdateExpression: 'SET #before = if_not_exists(#before, :before)',
            ExpressionAttributeNames: { '#before': 'before' },
            ExpressionAttributeValues: { ':before': { S: JSON.stringify(read) } },
            ReturnValues: 'ALL_NEW',
          }),
        );
        kept.set(unit, parseBefore(out.Attributes) ?? read);
      }),
    );
  }
  return kept;
}

/**
 * Gives the zone's lease back, free from `freeAt` on, if it is still the one this sender took (its `holder`: a sender
 * whose lease ran out never frees its successor's). Best effort: else it runs out at its expiry.
 */
async function releaseLease(
  deps: ZoneBatchDeps,
  key: ZoneBatchKey,
  holder: string,
  freeAt: number,
  pauseMs: (attempt: number) => Promise<void> = (attempt) =>
    new Promise((resolve) => setTimeout(resolve, RELEASE_PAUSE_MS * 2 ** attempt)),
): Promise<void> {
  // A lease not given back holds the zone until it expires (senderLeaseSeconds, 123 s): every unit of the zone waits
  // that long. So the small conditional write is asked again a few times when the table refuses it (throttled, 5xx),
  // on top of the SDK's own attempts; it is never the step's error (test/unit/dns-shared.test.ts).
  for (let attempt = 0; attempt < RELEASE_ATTEMPTS; attempt += 1) {
    try {
      await deps.dynamodb.send(
        new UpdateItemCommand({
          TableName: deps.tableName,
          Key: keyOf(zoneItemKey(key)),
          UpdateExpression: 'SET leaseUntil = :free',
          ConditionExpression: 'leaseHolder = :holder',
          ExpressionAttributeValues: { ':free': { N: String(freeAt) }, ':holder': { S: holder } },
        }),
      );
      return;
    } catch (error) {
      // Taken again by another sender: nothing of ours to give back.
      if (awsErrorName(error) === 'ConditionalCheckFailedException') return;
      if (attempt + 1 < RELEASE_ATTEMPTS) await pauseMs(attempt);
    }
  }
  logger.warn('zone lease not given back; it runs out at its expiry', { zone: key.zoneId });
}

/** Each outcome on its unit's item, only while the unit's registration is the one sent (same nonce). */
async function writeOutcomes(
  deps: ZoneBatchDeps,
  key: ZoneBatchKey,
  outcomes: Map<string, Outcome>,
  now: number,
): Promise<void> {
  const entries = [...outcomes];
  for (let start = 0; start < entries.length; start += WRITE_CONCURRENCY) {
    await Promise.all(
      entries.slice(start, start + WRITE_CONCURRENCY).map(async ([unit, outcome]) => {
        try {
          await deps.dynamodb.send(
            new UpdateItemCommand({
              TableName: deps.tableName,
              Key: keyOf(unitItemKey(key, unit)),
              UpdateExpression: 'SET outcome = :outcome, expiresAt = :expires',
              ConditionExpression: 'nonce = :nonce',
              ExpressionAttributeValues: {
                ':outcome': { S: JSON.stringify(outcome) },
                ':nonce': { S: outcome.nonce },
                ':expires': expires(now),
              },
            }),
          );
        } catch (error) {
          // Registered again meanwhile: its new change goes in the next batch.
          if (awsErrorName(error) !== 'ConditionalCheckFailedException') throw error;
        }
      }),
    );
  }
}

/**
 * The status of a change that several units wait for: one GetChange per change id per interval, by whoever takes
 * the change's lease; the others use the status it wrote (PENDING until the first is written). INSYNC is final.
 * Throws what DynamoDB or GetChange throws.
 */
export async function sharedChangeStatus(
  deps: ZoneBatchDeps,
  key: ZoneBatchKey,
  changeId: string,
  intervalSeconds: number,
  getChange: (changeId: string) => Promise<string> = async (id) =>
    (await deps.route53.send(new GetChangeCommand({ Id: id }))).ChangeInfo?.Status ?? 'UNKNOWN',
): Promise<{ status: string; source: 'shared' | 'lease' }> {
  const now = clock(deps);
  const intervalMs = intervalSeconds * 1000;
  const Key = keyOf(changeItemKey(key, changeId));
  const item = (
    await deps.dynamodb.send(new GetItemCommand({ TableName: deps.tableName, Key, ConsistentRead: true }))
  ).Item;
  const known = item?.changeStatus?.S;
  const polledAt = Number(item?.polledAt?.N ?? 0);
  if (known === 'INSYNC' || (known && polledAt >= now - intervalMs))
    return { status: known, source: 'shared' };
  try {
    await deps.dynamodb.send(
      new UpdateItemCommand({
        TableName: deps.tableName,
        Key,
        UpdateExpression: 'SET leaseUntil = :until, expiresAt = :expires',
        ConditionExpression: 'attribute_not_exists(leaseUntil) OR leaseUntil < :now',
        ExpressionAttributeValues: {
          ':until': { N: String(now + intervalMs) },
          ':now': { N: String(now) },
          ':expires': expires(now),
        },
      }),
    );
  } catch (error) {
    if (awsErrorName(error) === 'ConditionalCheckFailedException') {
      return { status: known ?? 'PENDING', source: 'shared' };
    }
    throw error;
  }
  const status = await getChange(changeId);
  await deps.dynamodb.send(
    new UpdateItemCommand({
      TableName: deps.tableName,
      Key,
      UpdateExpression: 'SET changeStatus = :status, polledAt = :now',
      ExpressionAttributeValues: { ':status': { S: status }, ':now': { N: String(now) } },
    }),
  );
  return { status, source: 'lease' };
}
