import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { latestReplicaLags } from './database.js';
import { timeoutScale } from './env.js';
import { awsErrorName } from './errors.js';
import { logger } from './observability.js';
import type { UnitPlan } from './plan.js';
import { instanceDatabase, isAuroraUnit } from './plan-names.js';
import type { PreflightDeps } from './preflight.js';
import { describeInstances } from './rds-fleet.js';
import './sdk/rds.js';

/**
 * The preflight's reads of a fleet's replicas, made together before the units' checks (docs/design/fleet.md,
 * "Preflight"). Each unit's database check describes its replica and reads its ReplicaLag: 500 units made 500
 * DescribeDBInstances against RDS's 12 requests a second (shared by the account and Region) and 500 GetMetricData
 * against CloudWatch's 50, and the throttled preflight was retried whole until its retries ran out. Here the replicas
 * are described 100 a call (functions/lib/rds-fleet.ts) and their lags read 500 a call (latestReplicaLags); each unit's
 * check then finds its replica among the coalesced reads and its lag in `replicaLag`.
 *
 * Nothing depends on it: a prefetch that fails or does not answer within PREFETCH_DEADLINE_MS is forgotten, and each
 * unit reads its own as before. An instance the describe did not find is not primed, so the unit's own describe gets
 * RDS's own DBInstanceNotFound and reports it as today.
 */

/** Below this many instance units a fleet read costs as many calls as the units' own. */
export const FLEET_READ_MIN_UNITS = 2;

/**
 * How long the fleet reads may take (before LIFEBOAT_TIMEOUT_SCALE): about one SDK call's timeout. A control plane
 * that does not answer then costs the preflight this much before the units' checks, each with its own deadline
 * (PREFLIGHT_CHECK_DEADLINE_MS), all within the step's Lambda timeout (docs/design/timeouts.md, "Preflight").
 */
export const PREFETCH_DEADLINE_MS = 15_000;

/** The key of a coalesced read (functions/lib/preflight.ts, coalescedReads): the command's class name and whole input. */
export function readKey(action: string, input: unknown): string {
  return `${action} ${JSON.stringify(input)}`;
}

export interface FleetReads {
  /** The replica's lag as read for the fleet (`lag` undefined: no datapoint); undefined when it was not read. */
  readonly replicaLag: (instanceId: string) => { readonly lag: number | undefined } | undefined;
}

const NONE: FleetReads = { replicaLag: () => undefined };

/**
 * Describes the instance units' replicas and reads their lags, and primes `answers` (the coalesced reads of
 * `shared`, functions/lib/preflight.ts) with each found replica's DescribeDBInstances answer.
 */
export async function prefetchFleetReads(
  shared: PreflightDeps,
  units: readonly UnitPlan[],
  answers: Map<string, Promise<unknown>>,
  now: Date,
  deadlineMs: number = PREFETCH_DEADLINE_MS * timeoutScale(),
): Promise<FleetReads> {
  const replicas = units.flatMap((u) =>
    isAuroraUnit(u) ? [] : [instanceDatabase(u, 'preflight').replicaInstanceId],
  );
  if (replicas.length < FLEET_READ_MIN_UNITS) return NONE;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), deadlineMs);
  });
  const forgotten = (what: string) => (error: unknown) => {
    logger.warn(`fleet ${what} read failed; each unit reads its own`, {
      instances: replicas.length,
      error: awsErrorName(error) ?? String(error),
    });
    return undefined;
  };
  try {
    const [instances, lags] = await Promise.all([
      Promise.race([describeInstances(shared.rds, replicas).catch(forgotten('replica')), deadline]),
      Promise.race([
        latestReplicaLags(shared.cloudwatch, replicas, now).catch(forgotten('ReplicaLag')),
        deadline,
      ]),
    ]);
    if (instances instanceof Map) {
      for (const [id, instance] of instances) {
        // The answer a unit's own describe would get: the same command, one instance.
        answers.set(
          readKey(DescribeDBInstancesCommand.name, { DBInstanceIdentifier: id }),
          Promise.resolve({ $metadata: {}, DBInstances: [instance] }),
        );
      }
    }
    logger.info('fleet preflight reads', {
      instances: replicas.length,
      described: instances instanceof Map ? instances.size : null,
      lags: lags instanceof Map ? lags.size : null,
    });
    if (!(lags instanceof Map)) return NONE;
    return { replicaLag: (id) => (lags.has(id) ? { lag: lags.get(id) } : undefined) };
  } finally {
    clearTimeout(timer);
  }
}
