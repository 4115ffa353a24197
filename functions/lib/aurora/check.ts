import { ConfigurationError } from '../errors.js';
import { logger } from '../observability.js';
import type { PollResult } from '../types.js';
import {
  CLUSTER_DEAD_ENDS,
  clusterDetail,
  describeCluster,
  describeGlobal,
  failoverDetail,
  memberOf,
  replicationSource,
  sameArn,
} from './cluster.js';
import type { AuroraDeps, AuroraStepInput } from './promote.js';

/**
 * One poll of WaitForDatabasePromotion for an Aurora unit (docs/aws/aurora-global-database.md, "Done for lifeboat
 * means"): a global database unit is done when the global cluster has no FailoverState, the target member is the
 * writer and the target cluster is `available`; a replica cluster unit when it is `available` with no replication
 * source. The loop's attempt bound is the state machine's (statemachine/steps.ts POLL_LOOPS.databasePromotion).
 */

/**
 * Polls that may pass after the call with no FailoverState and the old writer still the writer before lifeboat calls it
 * "did not happen": the state is written with the call's answer, so one look is normally enough; two more allow for a
 * describe answered from a replica of the control plane's data.
 */
export const NO_OPERATION_GRACE_POLLS = 3;

export async function checkAuroraPromotion(
  deps: AuroraDeps,
  input: AuroraStepInput & { attempt: number },
): Promise<PollResult> {
  const { run, unit, attempt } = input;
  const observedAt = (deps.now ?? (() => new Date()))().toISOString();
  if (run.mode === 'dry-run') {
    return { done: true, status: 'planned', waitSeconds: 0, observedAt, detail: { attempt, dryRun: true } };
  }
  const replicaId = unit.database.replicaClusterId;
  const globalId = unit.database.globalClusterId;
  if (globalId === undefined) {
    const cluster = await describeCluster(deps.rds, replicaId);
    const status = cluster.Status ?? 'unknown';
    if (CLUSTER_DEAD_ENDS.has(status)) throw deadEnd(replicaId, status);
    const done = status === 'available' && replicationSource(cluster) === undefined;
    logger.info('replica cluster promotion polled', { unit: unit.name, status, done, attempt });
    return {
      done,
      status,
      waitSeconds: done ? 0 : 4,
      observedAt,
      detail: { ...clusterDetail(cluster), attempt },
    };
  }
  const [cluster, global] = await Promise.all([
    describeCluster(deps.rds, replicaId),
    describeGlobal(deps.rds, globalId),
  ]);
  const status = cluster.Status ?? 'unknown';
  const detail = { ...clusterDetail(cluster), ...failoverDetail(global), attempt };
  if (CLUSTER_DEAD_ENDS.has(status)) throw deadEnd(replicaId, status);
  const member = memberOf(global, cluster.DBClusterArn);
  if (!member) {
    throw new ConfigurationError(
      `DB cluster ${replicaId} is no longer a member of global cluster ${globalId}: it was removed while being promoted`,
    );
  }
  const state = global.FailoverState;
  if (state?.Status === 'cancelling') {
    throw new ConfigurationError(
      `global cluster ${globalId}: the operation toward ${state.ToDbClusterArn ?? replicaId} is being cancelled; both clusters return to their previous roles`,
    );
  }
  if (state?.Status) {
    if (!sameArn(state.ToDbClusterArn, cluster.DBClusterArn)) {
      throw new ConfigurationError(
        `global cluster ${globalId} is ${state.Status} toward ${state.ToDbClusterArn ?? 'another cluster'}, not ${replicaId}`,
      );
    }
    logger.info('global cluster operation polled', { unit: unit.name, status: state.Status, attempt });
    return { done: false, status: state.Status, waitSeconds: 4, observedAt, detail };
  }
  if (member.IsWriter !== true) {
    if (attempt >= NO_OPERATION_GRACE_POLLS) {
      throw new ConfigurationError(
        `global cluster ${globalId} has no operation under way and ${replicaId} is not its writer: the failover or switchover did not happen (cancelled or refused); see the cluster's events`,
      );
    }
    return { done: false, status: 'not-started', waitSeconds: 2, observedAt, detail };
  }
  const done = status === 'available';
  logger.info('global cluster writer polled', { unit: unit.name, status, done, attempt });
  return { done, status, waitSeconds: done ? 0 : 2, observedAt, detail };
}

function deadEnd(clusterId: string, status: string): ConfigurationError {
  return new ConfigurationError(
    `DB cluster ${clusterId} is "${status}", a status Aurora does not leave on its own: the promotion cannot finish`,
  );
}
