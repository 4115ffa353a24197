import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetChangeCommand, type Route53Client } from '@aws-sdk/client-route-53';
import type { AwsClients } from '../clients.js';
import { optionalEnv, timeFactor } from '../env.js';
import {
  AwsCallFailedError,
  awsErrorName,
  InputInvalidError,
  LifeboatError,
  ResourceMissingError,
  toLifeboatError,
} from '../errors.js';
import { logger } from '../observability.js';
import type { UnitPlan } from '../plan.js';
import type { PollResult, UnitStepInput } from '../types.js';
import { checkDnsFlip, type DnsFlipDeps } from './flip.js';
import { senderLeaseSeconds, sharedChangeStatus, zoneBatchState } from './shared.js';
import '../sdk/route53.js';

/**
 * The DNS poll (WaitForDnsInSync): GetChange until the record change is INSYNC. Apart from dns.ts so that the poll's
 * bundle holds the Route 53 client only, not RDS's, which UpdateDns needs (docs/design/packaging.md, "Bundle size").
 */

/** The lock table, where the units of a run share their zone's change batch and GetChange (./shared.ts). */
export interface ZoneBatchConfig {
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
  /** Seconds between two batches of a zone, and two GetChange of a change: one DNS poll (scaled locally). */
  readonly intervalSeconds: number;
  /** Seconds a sender holds its zone's lease while it works. @default senderLeaseSeconds() (./shared.ts) */
  readonly leaseSeconds?: number;
}

export interface DnsDeps extends DnsFlipDeps {
  readonly route53: Route53Client;
  /** Clock, for tests. @default () => new Date() */
  readonly now?: () => Date;
  /** With the lock table: changes go in their zone's batch, GetChange is shared (docs/design/fleet.md). */
  readonly batch?: ZoneBatchConfig;
}

export interface DnsChangePollInput extends UnitStepInput {
  changeId: string | null;
  attempt: number;
}

/** `changeId` of the DNS poll: UpdateDns's `detail.changeId`, a string, or null when nothing was changed. */
export function assertChangeId<T extends object>(
  event: T,
  step: string,
): asserts event is T & { changeId: string | null } {
  const changeId = (event as { changeId?: unknown }).changeId;
  if (changeId !== null && (typeof changeId !== 'string' || changeId === '')) {
    throw new InputInvalidError(
      `${step}: changeId: expected a Route 53 change id or null, got ${JSON.stringify(changeId)}`,
      ['changeId'],
    );
  }
}

export function route53Error(error: unknown, what: string, unit: UnitPlan): Error {
  const name = awsErrorName(error);
  if (name === 'NoSuchHostedZone') {
    return new ResourceMissingError(
      `hosted zone ${unit.dns.hostedZoneId} (units "${unit.name}" dns.hostedZoneId) does not exist`,
      { cause: error },
    );
  }
  if (name === 'InvalidChangeBatch') {
    const messages = (error as { messages?: unknown }).messages;
    const listed =
      Array.isArray(messages) && messages.length ? messages.join('; ') : (error as Error).message;
    return new AwsCallFailedError(`${what} was rejected: InvalidChangeBatch: ${listed}`, { cause: error });
  }
  // Throttling and PriorRequestNotComplete become TransientAwsError (retried), anything else AwsCallFailedError.
  return toLifeboatError(error, what);
}

/**
 * Seconds between GetChange polls while PENDING. Route 53 changes typically reach every authoritative server within
 * 60 s (Route 53 API reference, GetChange); a 2 s poll keeps the detection lag at 2 s for about 30 cheap calls.
 */
export const DNS_POLL_SECONDS = 2;

/**
 * The zone batch's configuration when the step has the lock table (LOCK_TABLE_NAME); undefined without it, and the
 * unit sends and polls its own change as before. The interval is one DNS poll, scaled by the proving ground's time
 * factor (functions/lib/env.ts).
 */
export function zoneBatchConfig(clients: Pick<AwsClients, 'dynamodb'>): ZoneBatchConfig | undefined {
  const tableName = optionalEnv('LOCK_TABLE_NAME');
  if (!tableName) return undefined;
  return {
    dynamodb: clients.dynamodb,
    tableName,
    intervalSeconds: DNS_POLL_SECONDS * timeFactor(),
    leaseSeconds: senderLeaseSeconds(),
  };
}

/** One poll of the record change (WaitForDnsInSync loop): done at once when there was no change, else at INSYNC. */
export async function checkDnsChange(deps: DnsDeps, input: DnsChangePollInput): Promise<PollResult> {
  const { unit, changeId, attempt } = input;
  const observedAt = (deps.now ?? (() => new Date()))().toISOString();
  // A forced flip has no Route 53 change: wait for the alarm its health check follows (functions/lib/dns/flip.ts).
  if (unit.dns.strategy === 'health-check' && changeId === null) return checkDnsFlip(deps, input, observedAt);
  // A cname change not sent yet: it waits for its zone's batch (UpdateDns registered it, functions/lib/dns/shared.ts).
  // A record on Aurora's global writer endpoint is never changed, so never batched (functions/lib/promoted-target.ts).
  if (
    changeId === null &&
    deps.batch &&
    unit.dns.strategy === 'cname' &&
    unit.dns.target !== 'global-writer-endpoint' &&
    input.run.mode !== 'dry-run'
  ) {
    return checkBatchedChange(deps, deps.batch, input, observedAt);
  }
  if (changeId === null) {
    return {
      done: true,
      status: 'NO_CHANGE',
      waitSeconds: 0,
      observedAt,
      detail: { changeId: null, attempt },
    };
  }
  const status = await changeStatus(deps, input, changeId);
  const done = status === 'INSYNC';
  logger.info('dns change polled', { unit: unit.name, changeId, status, attempt });
  return {
    done,
    status,
    waitSeconds: done ? 0 : DNS_POLL_SECONDS,
    observedAt,
    detail: { status, changeId, attempt },
  };
}

async function getChange(deps: DnsDeps, unit: UnitPlan, changeId: string): Promise<string> {
  try {
    const out = await deps.route53.send(new GetChangeCommand({ Id: changeId }));
    return out.ChangeInfo?.Status ?? 'UNKNOWN';
  } catch (error) {
    if (awsErrorName(error) === 'NoSuchChange') {
      throw new ResourceMissingError(`Route 53 change ${changeId} does not exist`, { cause: error });
    }
    throw route53Error(error, `GetChange ${changeId}`, unit);
  }
}

function batchDeps(deps: DnsDeps, batch: ZoneBatchConfig) {
  return {
    route53: deps.route53,
    dynamodb: batch.dynamodb,
    tableName: batch.tableName,
    ...(deps.now ? { now: deps.now } : {}),
  };
}

function batchKey(input: UnitStepInput) {
  return { planName: input.run.planName, runId: input.run.runId, zoneId: input.unit.dns.hostedZoneId };
}

/** GetChange, shared by the units of a batch when the table is there; the unit's own call when it fails. */
async function changeStatus(deps: DnsDeps, input: UnitStepInput, changeId: string): Promise<string> {
  const { unit } = input;
  if (!deps.batch) return getChange(deps, unit, changeId);
  try {
    const shared = await sharedChangeStatus(
      batchDeps(deps, deps.batch),
      batchKey(input),
      changeId,
      deps.batch.intervalSeconds,
      (id) => getChange(deps, unit, id),
    );
    return shared.status;
  } catch (error) {
    // Route 53's own errors stand; a table that does not answer costs the unit its own GetChange.
    if (error instanceof LifeboatError) throw error;
    logger.warn('shared GetChange unavailable, reading the change alone', {
      unit: unit.name,
      error: awsErrorName(error) ?? String(error),
    });
    return getChange(deps, unit, changeId);
  }
}

/**
 * A poll of a change that went to its zone's batch: pending until a batch sent it (this poll sends the zone's batch
 * when nobody holds its lease), then the batch's change until INSYNC. Rejected: the record's own problem, the unit
 * fails with it; the other units' records are not held up by it (functions/lib/dns/batch.ts).
 */
async function checkBatchedChange(
  deps: DnsDeps,
  batch: ZoneBatchConfig,
  input: DnsChangePollInput,
  observedAt: string,
): Promise<PollResult> {
  const { unit, attempt } = input;
  let state: Awaited<ReturnType<typeof zoneBatchState>>;
  try {
    state = await zoneBatchState(
      batchDeps(deps, batch),
      batchKey(input),
      unit.name,
      batch.intervalSeconds,
      batch.leaseSeconds,
    );
  } catch (error) {
    // The change is registered in the table only: retried (throttling, a table that does not answer).
    throw route53Error(error, `ChangeResourceRecordSets batch for ${unit.dns.recordName}`, unit);
  }
  if (!state.registered) {
    // UpdateDns did not register a change in this run: nothing to wait for.
    return {
      done: true,
      status: 'NO_CHANGE',
      waitSeconds: 0,
      observedAt,
      detail: { changeId: null, attempt },
    };
  }
  if (state.state === 'rejected') {
    throw new AwsCallFailedError(
      `ChangeResourceRecordSets UPSERT ${unit.dns.recordName} was rejected: ${state.reason}`,
    );
  }
  if (state.state === 'pending') {
    logger.info('dns change waiting for its zone batch', { unit: unit.name, attempt });
    return {
      done: false,
      status: 'BATCH_PENDING',
      waitSeconds: DNS_POLL_SECONDS,
      observedAt,
      detail: { status: 'BATCH_PENDING', changeId: null, attempt, batch: 'pending' },
    };
  }
  const status = await changeStatus(deps, input, state.changeId);
  const done = status === 'INSYNC';
  logger.info('dns change polled', { unit: unit.name, changeId: state.changeId, status, attempt });
  return {
    done,
    status,
    waitSeconds: done ? 0 : DNS_POLL_SECONDS,
    observedAt,
    detail: {
      status,
      changeId: state.changeId,
      attempt,
      batch: 'sent',
      changedAt: state.changedAt,
      batchSize: state.batchSize,
      // What the record held, as the batch's sender read the zone: UpdateDns did not read it (functions/lib/dns/shared.ts).
      ...(state.before
        ? {
            previousTarget: state.before.previousTarget,
            previousTtl: state.before.previousTtl,
            identical: state.before.alreadyThere,
          }
        : {}),
    },
  };
}
