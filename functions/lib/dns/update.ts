import type { RDSClient } from '@aws-sdk/client-rds';
import {
  type Change,
  ChangeResourceRecordSetsCommand,
  GetHostedZoneCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import {
  AwsCallFailedError,
  awsErrorName,
  ConfigurationError,
  isTransientAwsError,
  ResourceBusyError,
  ResourceMissingError,
  toLifeboatError,
} from '../errors.js';
import { logger } from '../observability.js';
import type { UnitPlan } from '../plan.js';
import { promotedTarget } from '../promoted-target.js';
import { type SnapshotReaderDeps, snapshotTarget } from '../promotion-snapshot.js';
import { timedStep } from '../step.js';
import type { PreflightCheck, StepResult, UnitStepInput } from '../types.js';
import { liveTtlCheck } from '../verify/budget.js';
import { type DnsDeps, route53Error, type ZoneBatchConfig } from './change.js';
import { checkFlipReadiness, forceDnsFlip } from './flip.js';
import { bareZoneId, normalizeDnsName } from './names.js';
import { type BatchState, type RecordBefore, registerChange, zoneBatchState } from './shared.js';
import type { ZoneRecordReader } from './zone-records.js';
import '../sdk/route53.js';

/**
 * The Route 53 steps: point the unit's CNAME (the `host` of its secret) at the promoted instance and wait until the
 * change is INSYNC, plus the read-only preflight checks of the zone and record. Route 53 is global: its control plane
 * (every call here) is served from us-east-1. With `dns.strategy: "health-check"` lifeboat makes no Route 53 call on
 * the failover path: a PRIMARY/SECONDARY failover pair flips on the data plane when its health check fails, and
 * lifeboat forces that by putting the health check's alarm in ALARM from the recovery Region (functions/lib/dns/flip.ts),
 * so a failed us-east-1 cannot block the failover.
 */

// The DNS poll lives in dns-change.ts, without the RDS client that UpdateDns needs (docs/design/packaging.md,
// "Bundle size").
export {
  assertChangeId,
  checkDnsChange,
  DNS_POLL_SECONDS,
  type DnsChangePollInput,
  type DnsDeps,
} from './change.js';

export interface UpdateDnsDeps extends DnsDeps {
  readonly rds: RDSClient;
  /**
   * The run's promotion snapshot (functions/lib/promotion-snapshot.ts): an instance unit whose item there is fresh and
   * shows the promotion done takes the endpoint from it instead of describing its instance.
   */
  readonly snapshot?: SnapshotReaderDeps;
}

export interface DnsReadinessDeps extends DnsDeps {
  /** When given, the health-check strategy also checks that the SECONDARY record names the replica's endpoint. */
  readonly rds?: RDSClient;
  /** The preflight's reads of the units' records by zone (functions/lib/dns/zone-records.ts); else each unit reads its own. */
  readonly zoneRecords?: ZoneRecordReader;
}

/** Route 53's `Comment` on a change batch is at most 256 characters. */
const COMMENT_MAX = 256;

// Re-exported for the modules that import them from here (functions/lib/drill.ts, the tests).
export { bareZoneId, normalizeDnsName };

function recordValue(record: ResourceRecordSet): string | undefined {
  const value = record.ResourceRecords?.[0]?.Value ?? record.AliasTarget?.DNSName;
  return value === undefined ? undefined : normalizeDnsName(value);
}

/** The CNAME record set named by the plan, or undefined. Reads one record (names sort first, then types). */
async function readCname(route53: Route53Client, unit: UnitPlan): Promise<ResourceRecordSet | undefined> {
  const wanted = normalizeDnsName(unit.dns.recordName);
  try {
    const out = await route53.send(
      new ListResourceRecordSetsCommand({
        HostedZoneId: unit.dns.hostedZoneId,
        StartRecordName: unit.dns.recordName,
        StartRecordType: 'CNAME',
        MaxItems: 1,
      }),
    );
    // The list starts AT the name and type, or at the next record after it when there is none: check both.
    return out.ResourceRecordSets?.find(
      (r) => r.Type === 'CNAME' && normalizeDnsName(r.Name ?? '') === wanted,
    );
  } catch (error) {
    throw route53Error(
      error,
      `ListResourceRecordSets ${unit.dns.recordName} in ${unit.dns.hostedZoneId}`,
      unit,
    );
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* UpdateDns                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

/**
 * Points the unit's CNAME at the promoted instance (UpdateDns step). The target is the instance's own endpoint,
 * which is the replica's endpoint kept through promotion. Always one UPSERT with the plan's TTL, also when the record
 * already points there (`already-done`): Route 53 accepts an UPSERT of identical values and answers a new change id
 * (docs/aws/route53-changes.md), so there is always a change to wait for, and a re-run never verifies while an
 * earlier run's change is still PENDING. The record's TTL is read before the change and kept (`previousTtl`):
 * resolvers keep the old answer for up to that TTL, and the verify budget waits out the larger of the two.
 */
export async function updateDns(deps: UpdateDnsDeps, input: UnitStepInput): Promise<StepResult> {
  const { run, unit } = input;
  const now = deps.now ?? (() => new Date());
  return timedStep(
    'updateDns',
    unit.name,
    async () => {
      // The promoted instance, or an Aurora unit's promoted cluster or global writer endpoint. An instance unit reads the
      // shared poll's snapshot first (docs/design/fleet.md, "Polls by instance, not by unit"): 500 units describing
      // their own instance here were 500 DescribeDBInstances against RDS's 12 a second.
      const promoted =
        (deps.snapshot ? await snapshotTarget(deps.snapshot, unit) : undefined) ??
        (await promotedTarget(deps.rds, unit));
      const target = promoted.endpoint;
      if (!target) {
        throw new ResourceBusyError(`${promoted.what} has no endpoint yet (status ${promoted.status})`);
      }
      const base = {
        strategy: unit.dns.strategy,
        hostedZoneId: bareZoneId(unit.dns.hostedZoneId),
        recordName: normalizeDnsName(unit.dns.recordName),
        target: normalizeDnsName(target),
      };

      if (promoted.recordFollowsItself) {
        // Aurora moves its global writer endpoint to the new writer itself: the record is checked, never changed
        // (docs/design/aurora.md, "DNS"). VerifyConnectivity then proves it leads to a writable database.
        const current = await readCname(deps.route53, unit);
        const named = current ? recordValue(current) : undefined;
        if (named !== base.target) {
          throw new ConfigurationError(
            `${unit.dns.recordName} names ${named ?? 'nothing'}, not the global writer endpoint ${base.target}: ` +
              'dns.target "global-writer-endpoint" means the record names it (or use "cluster-endpoint"); nothing was changed',
          );
        }
        return {
          outcome: run.mode === 'dry-run' ? 'planned' : 'already-done',
          detail: {
            ...base,
            dnsTarget: 'global-writer-endpoint',
            call: null,
            changeId: null,
            previousTarget: named,
            previousTtl: current?.TTL ?? null,
            changedAt: null,
            note: 'the record names the global writer endpoint, which Aurora moves to the new writer: not changed, only verified',
          },
        };
      }

      if (unit.dns.strategy === 'health-check') {
        // No Route 53 call: its control plane is served from us-east-1, which may be the failed Region. The flip is
        // forced through the recovery Region's CloudWatch (functions/lib/dns/flip.ts, docs/design/dns-flip.md).
        if (run.mode !== 'dry-run' && promoted.notPromoted) {
          throw new ConfigurationError(
            `${promoted.what} is ${promoted.notPromoted}; the record is failed over only to a promoted database`,
          );
        }
        const flip = await forceDnsFlip(deps, input);
        return {
          outcome: flip.outcome,
          detail: {
            ...base,
            ...flip.detail,
            changeId: null,
            previousTarget: null,
            ttl: null,
            changedAt: flip.outcome === 'changed' ? now().toISOString() : null,
            note: 'the failover pair answers the SECONDARY once the PRIMARY health check sees its alarm in ALARM',
          },
        };
      }

      // Moving writers to an instance that is still a read replica would send them to a read-only database.
      if (run.mode !== 'dry-run' && promoted.notPromoted) {
        throw new ConfigurationError(
          `${promoted.what} is ${promoted.notPromoted}; the record is moved only to a promoted database`,
        );
      }

      // The record as it is now, read by the unit itself: in a dry run, and when its change is sent alone. With the
      // zone batch the unit does not read it: the batch's sender reads the zone anyway and keeps what each record
      // held (functions/lib/dns/shared.ts; 500 units reading their own were 500 ListResourceRecordSets against
      // Route 53's 10 per second, docs/design/fleet.md).
      const readBefore = async (): Promise<RecordBefore> => {
        const current = await readCname(deps.route53, unit);
        if (current?.SetIdentifier !== undefined) {
          throw new ConfigurationError(
            `${unit.dns.recordName} is a routing-policy record set (SetIdentifier ${current.SetIdentifier}); ` +
              'dns.strategy "cname" needs a simple CNAME (use "health-check" for a failover pair)',
          );
        }
        const previousTarget = current ? (recordValue(current) ?? null) : null;
        const previousTtl = current?.TTL ?? null;
        const alreadyThere =
          previousTarget === base.target && previousTtl === unit.dns.ttl && !current?.AliasTarget;
        if (alreadyThere) {
          // Submitted anyway: an earlier run's change may still be PENDING (docs/aws/route53-changes.md).
          logger.info('record already points at the target; resubmitting it for a change id', {
            unit: unit.name,
            record: base.recordName,
          });
        }
        return { previousTarget, previousTtl, alreadyThere };
      };

      const change: Change = {
        Action: 'UPSERT',
        ResourceRecordSet: {
          Name: unit.dns.recordName,
          Type: 'CNAME',
          TTL: unit.dns.ttl,
          ResourceRecords: [{ Value: target }],
        },
      };
      const comment = `lifeboat run ${run.runId}: fail over unit ${unit.name} to ${target}`.slice(
        0,
        COMMENT_MAX,
      );
      const planned = {
        call: 'ChangeResourceRecordSets',
        action: 'UPSERT',
        type: 'CNAME',
        ttl: unit.dns.ttl,
      };
      if (run.mode === 'dry-run') {
        const { previousTarget, previousTtl, alreadyThere } = await readBefore();
        return {
          outcome: 'planned',
          detail: {
            ...base,
            ...planned,
            identical: alreadyThere,
            previousTarget,
            previousTtl,
            changeId: null,
            changedAt: null,
          },
        };
      }

      if (deps.batch) {
        const via = await viaZoneBatch(deps, deps.batch, input, change);
        if (via) {
          const { state: batched } = via;
          if (batched.state === 'rejected') {
            throw new AwsCallFailedError(
              `ChangeResourceRecordSets UPSERT ${unit.dns.recordName} was rejected: ${batched.reason}`,
            );
          }
          const sent = batched.state === 'changed';
          // As the run's first batch found the record: a retry may find it changed by another unit's batch. Not
          // known yet while the change waits for its batch: WaitForDnsInSync's detail then has it.
          const before = (sent ? batched.before : undefined) ?? via.before;
          logger.info(sent ? 'record changed' : 'record change registered for its zone batch', {
            unit: unit.name,
            record: base.recordName,
            changeId: sent ? batched.changeId : null,
            runId: run.runId,
          });
          return {
            outcome: before?.alreadyThere ? 'already-done' : 'changed',
            detail: {
              ...base,
              ...planned,
              identical: before?.alreadyThere ?? null,
              previousTarget: before?.previousTarget ?? null,
              previousTtl: before?.previousTtl ?? null,
              changeId: sent ? batched.changeId : null,
              changedAt: sent ? batched.changedAt : null,
              // Pending: WaitForDnsInSync sends it with the zone's next batch (functions/lib/dns/shared.ts).
              batch: sent ? 'sent' : 'pending',
              batchSize: sent ? batched.batchSize : null,
            },
          };
        }
      }

      const { previousTarget, previousTtl, alreadyThere } = await readBefore();
      let changeId: string | undefined;
      let submittedAt: Date | undefined;
      try {
        const out = await deps.route53.send(
          new ChangeResourceRecordSetsCommand({
            HostedZoneId: unit.dns.hostedZoneId,
            ChangeBatch: { Comment: comment, Changes: [change] },
          }),
        );
        changeId = out.ChangeInfo?.Id;
        submittedAt = out.ChangeInfo?.SubmittedAt;
      } catch (error) {
        throw route53Error(error, `ChangeResourceRecordSets UPSERT ${unit.dns.recordName}`, unit);
      }
      if (!changeId) {
        throw new AwsCallFailedError(
          `ChangeResourceRecordSets for ${unit.dns.recordName} returned no change id`,
        );
      }
      const changedAt = (submittedAt ?? now()).toISOString();
      logger.info('record changed', { unit: unit.name, record: base.recordName, changeId, runId: run.runId });
      return {
        outcome: alreadyThere ? 'already-done' : 'changed',
        detail: {
          ...base,
          ...planned,
          identical: alreadyThere,
          previousTarget,
          previousTtl,
          changeId,
          changedAt,
        },
      };
    },
    now,
  );
}

/**
 * The change through its zone's batch (functions/lib/dns/shared.ts): registered, then sent at once when no other
 * unit holds the zone's lease (a unit alone sends its batch of one, as before). Undefined when the table does not
 * take the registration: the caller sends the change on its own, as without the table.
 */
async function viaZoneBatch(
  deps: UpdateDnsDeps,
  batch: ZoneBatchConfig,
  input: UnitStepInput,
  change: Change,
): Promise<{ state: BatchState; before: RecordBefore | undefined } | undefined> {
  const { run, unit } = input;
  const shared = {
    route53: deps.route53,
    dynamodb: batch.dynamodb,
    tableName: batch.tableName,
    ...(deps.now ? { now: deps.now } : {}),
  };
  const key = { planName: run.planName, runId: run.runId, zoneId: unit.dns.hostedZoneId };
  let before: RecordBefore | undefined;
  try {
    before = await registerChange(shared, key, unit.name, change, undefined);
  } catch (error) {
    // Throttled or slow (a timeout, a 5xx): the step's retry registers again. Sending alone instead puts one more
    // change on a zone that takes one at a time (PriorRequestNotComplete), and at 500 units such sends kept the zone
    // busy for every batch (docs/design/fleet.md, "DNS: one batch per zone"). The table is the lock's, which the run
    // could not have started without.
    if (isTransientAwsError(error)) {
      throw toLifeboatError(error, `registering the change of ${unit.dns.recordName} for its zone batch`);
    }
    logger.warn('zone batch unavailable, sending the change alone', {
      unit: unit.name,
      error: awsErrorName(error) ?? String(error),
    });
    return undefined;
  }
  try {
    const state = await zoneBatchState(shared, key, unit.name, batch.intervalSeconds, batch.leaseSeconds);
    return { state, before };
  } catch (error) {
    // Registered: the next poll (WaitForDnsInSync) or the step's retry finds it; throttling is retried.
    throw route53Error(error, `ChangeResourceRecordSets batch for ${unit.dns.recordName}`, unit);
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* WaitForDnsInSync                                                                                */
/* ---------------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------------- */
/* Preflight                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

/**
 * Read-only checks of the unit's zone and record. `error`: the zone or record is not what the plan says. A Route 53
 * control plane that does not answer (throttled, 5xx, unreachable) is a `warning`: it is what a us-east-1 outage
 * looks like, and it must not block promoting the database; the DNS step will say if it still cannot change the
 * record.
 *
 * Strategy `health-check`: the record must be a PRIMARY/SECONDARY failover pair of CNAMEs, and the PRIMARY must have a
 * health check (or be an alias that evaluates its target's health): without those Route 53 never answers with the
 * SECONDARY, and the run would end with clients on the failed Region. Both are errors. When an RDS client is given,
 * the SECONDARY must name the replica's endpoint (error otherwise).
 */
export async function checkDnsReadiness(
  deps: DnsReadinessDeps,
  input: UnitStepInput,
): Promise<PreflightCheck[]> {
  const { unit } = input;
  const checks: PreflightCheck[] = [];
  const add = (check: string, ok: boolean, severity: 'error' | 'warning', message: string) =>
    checks.push({ unit: unit.name, check, ok, severity, message });
  const zoneId = unit.dns.hostedZoneId;
  const record = normalizeDnsName(unit.dns.recordName);
  const unreachable = (check: string, call: string, error: unknown) => {
    const name = awsErrorName(error) ?? 'Error';
    if (isTransientAwsError(error)) {
      add(
        check,
        false,
        'warning',
        `Route 53 control plane did not answer ${call} (${name}); could not check ${record}`,
      );
    } else {
      add(check, false, 'error', `${call} failed (${name}): ${(error as Error).message}`);
    }
  };

  let zoneName: string;
  let recordSetCount: number | undefined;
  try {
    const out = await deps.route53.send(new GetHostedZoneCommand({ Id: zoneId }));
    zoneName = normalizeDnsName(out.HostedZone?.Name ?? '');
    recordSetCount = out.HostedZone?.ResourceRecordSetCount;
  } catch (error) {
    if (awsErrorName(error) === 'NoSuchHostedZone') {
      add('dns.zone', false, 'error', `hosted zone ${zoneId} (dns.hostedZoneId) does not exist`);
    } else unreachable('dns.zone', `GetHostedZone ${zoneId}`, error);
    return checks;
  }
  if (record !== zoneName && !record.endsWith(`.${zoneName}`)) {
    add(
      'dns.zone',
      false,
      'error',
      `${record} (dns.recordName) is not in hosted zone ${zoneId} (${zoneName})`,
    );
    return checks;
  }
  add('dns.zone', true, 'error', `hosted zone ${zoneId} (${zoneName}) exists`);

  let sets: ResourceRecordSet[];
  try {
    // Every type under the name: an A record where the plan expects a CNAME must show up too. From the zone's one
    // listing when its units share it (fewer calls than one a unit), else from the unit's own read.
    const listed = await deps.zoneRecords?.recordSetsNamed(zoneId, unit.dns.recordName, recordSetCount);
    const own = async () =>
      (
        await deps.route53.send(
          new ListResourceRecordSetsCommand({
            HostedZoneId: zoneId,
            StartRecordName: unit.dns.recordName,
            MaxItems: 20,
          }),
        )
      ).ResourceRecordSets ?? [];
    sets = (listed ?? (await own())).filter((r) => normalizeDnsName(r.Name ?? '') === record);
  } catch (error) {
    unreachable('dns.record', `ListResourceRecordSets ${record}`, error);
    return checks;
  }
  const cnames = sets.filter((r) => r.Type === 'CNAME');
  if (cnames.length === 0) {
    const types = [...new Set(sets.map((r) => r.Type))].join(', ');
    add(
      'dns.record',
      false,
      'error',
      types
        ? `${record} (dns.recordName) is a ${types} record, not a CNAME`
        : `${record} (dns.recordName) has no record in zone ${zoneId}`,
    );
    return checks;
  }

  if (unit.dns.strategy === 'cname') {
    const routed = cnames.find((r) => r.SetIdentifier !== undefined);
    if (routed) {
      add(
        'dns.record',
        false,
        'error',
        `${record} is a routing-policy record set (SetIdentifier ${routed.SetIdentifier}); dns.strategy "cname" ` +
          'needs a simple CNAME (use "health-check" for a failover pair)',
      );
    } else {
      const cname = cnames[0] as ResourceRecordSet;
      add(
        'dns.record',
        true,
        'error',
        `${record} is a CNAME to ${recordValue(cname) ?? '?'} (TTL ${cname.TTL ?? '-'})`,
      );
      // Clients keep the old answer for up to this TTL: can the target RTO be met (docs/design/verify-budget.md)?
      checks.push({ unit: unit.name, ...liveTtlCheck(unit, input.run.targetRtoSeconds, cname.TTL) });
    }
    return checks;
  }

  add('dns.record', true, 'error', `${record} is a CNAME`);
  const primary = cnames.find((r) => r.Failover === 'PRIMARY');
  const secondary = cnames.find((r) => r.Failover === 'SECONDARY');
  if (!primary || !secondary) {
    add(
      'dns.failover-pair',
      false,
      'error',
      `dns.strategy "health-check" needs a PRIMARY and a SECONDARY failover CNAME at ${record}; found ` +
        `${primary ? 'PRIMARY' : 'no PRIMARY'} and ${secondary ? 'SECONDARY' : 'no SECONDARY'}`,
    );
    return checks;
  }
  if (!primary.HealthCheckId && !primary.AliasTarget?.EvaluateTargetHealth) {
    add(
      'dns.failover-pair',
      false,
      'error',
      `the PRIMARY record of ${record} has no health check: Route 53 would never answer with the SECONDARY`,
    );
    return checks;
  }
  add(
    'dns.failover-pair',
    true,
    'error',
    `${record} is a failover pair with health check ${primary.HealthCheckId ?? '(alias)'}`,
  );

  if (deps.rds) {
    let endpoint: string | undefined;
    try {
      endpoint = (await promotedTarget(deps.rds, unit)).endpoint;
    } catch (error) {
      // The database checks report a missing replica; here it only means the target cannot be compared.
      if (!(error instanceof ResourceMissingError)) throw error;
    }
    if (endpoint) {
      const wanted = normalizeDnsName(endpoint);
      const actual = recordValue(secondary);
      add(
        'dns.failover-target',
        actual === wanted,
        'error',
        actual === wanted
          ? `the SECONDARY record names the replica ${wanted}`
          : `the SECONDARY record of ${record} names ${actual ?? '?'}, not the replica's endpoint ${wanted}`,
      );
    }
  }
  // lifeboat must be able to force the flip: the PRIMARY's health check follows the stack's alarm.
  await checkFlipReadiness(deps, input, primary.HealthCheckId, add);
  return checks;
}
