import { GetChangeCommand, type Route53Client } from '@aws-sdk/client-route-53';
import {
  AwsCallFailedError,
  awsErrorName,
  InputInvalidError,
  ResourceMissingError,
  toLifeboatError,
} from '../errors.js';
import { logger } from '../observability.js';
import type { UnitPlan } from '../plan.js';
import type { PollResult, UnitStepInput } from '../types.js';
import { checkDnsFlip, type DnsFlipDeps } from './flip.js';
import '../sdk/route53.js';

/**
 * The DNS poll (WaitForDnsInSync): GetChange until the record change is INSYNC. Apart from dns.ts so that the poll's
 * bundle holds the Route 53 client only, not RDS's, which UpdateDns needs (docs/design/packaging.md, "Bundle size").
 */

export interface DnsDeps extends DnsFlipDeps {
  readonly route53: Route53Client;
  /** Clock, for tests. @default () => new Date() */
  readonly now?: () => Date;
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

/** One poll of the record change (WaitForDnsInSync loop): done at once when there was no change, else at INSYNC. */
export async function checkDnsChange(deps: DnsDeps, input: DnsChangePollInput): Promise<PollResult> {
  const { unit, changeId, attempt } = input;
  const observedAt = (deps.now ?? (() => new Date()))().toISOString();
  // A forced flip has no Route 53 change: wait for the alarm its health check follows (functions/lib/dns/flip.ts).
  if (unit.dns.strategy === 'health-check' && changeId === null) return checkDnsFlip(deps, input, observedAt);
  if (changeId === null) {
    return {
      done: true,
      status: 'NO_CHANGE',
      waitSeconds: 0,
      observedAt,
      detail: { changeId: null, attempt },
    };
  }
  let status: string;
  try {
    const out = await deps.route53.send(new GetChangeCommand({ Id: changeId }));
    status = out.ChangeInfo?.Status ?? 'UNKNOWN';
  } catch (error) {
    if (awsErrorName(error) === 'NoSuchChange') {
      throw new ResourceMissingError(`Route 53 change ${changeId} does not exist`, { cause: error });
    }
    throw route53Error(error, `GetChange ${changeId}`, unit);
  }
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
