import {
  type DBCluster,
  FailoverGlobalClusterCommand,
  type GlobalCluster,
  PromoteReadReplicaDBClusterCommand,
  type RDSClient,
  SwitchoverGlobalClusterCommand,
} from '@aws-sdk/client-rds';
import {
  awsErrorName,
  ConfigurationError,
  ResourceBusyError,
  ResourceMissingError,
  toLifeboatError,
} from '../errors.js';
import { exercised } from '../exercised.js';
import { logger } from '../observability.js';
import type { AuroraUnitPlan } from '../plan.js';
import { timedStep } from '../step.js';
import type { RunContext, StepResult, UnitStepInput } from '../types.js';
import {
  CLUSTER_DEAD_ENDS,
  CLUSTER_NOT_FOUND,
  clusterDetail,
  describeCluster,
  describeGlobal,
  failoverDetail,
  GLOBAL_NOT_FOUND,
  INVALID_CLUSTER_STATE,
  INVALID_GLOBAL_STATE,
  memberOf,
  primaryClusterArn,
  replicationSource,
  sameArn,
} from './cluster.js';
import '../sdk/rds.js';

/**
 * PromoteDatabase for an Aurora unit (docs/design/aurora.md, "Promotion"):
 * - a global database unit: FailoverGlobalCluster with AllowDataLoss (mode failover, drill), or
 *   SwitchoverGlobalCluster (mode switchover: Aurora's own zero-loss switchover, so lifeboat's fence and catch-up are
 *   not used), targeting the recovery Region's secondary cluster by ARN;
 * - a cross-Region replica cluster unit (Aurora MySQL): PromoteReadReplicaDBCluster.
 * Idempotent: a target that is already the writer, or toward which an operation is already under way, is
 * `already-done` (the WaitForDatabasePromotion loop waits for it); nothing is called twice.
 */

export interface AuroraDeps {
  readonly rds: RDSClient;
  /** Clock, for tests. @default () => new Date() */
  readonly now?: () => Date;
}

export type AuroraStepInput = UnitStepInput & { unit: AuroraUnitPlan };

export function promoteAurora(deps: AuroraDeps, input: AuroraStepInput): Promise<StepResult> {
  const { unit } = input;
  return timedStep(
    'promoteDatabase',
    unit.name,
    () =>
      unit.database.globalClusterId === undefined
        ? promoteReplicaCluster(deps, input)
        : promoteGlobal(deps, input, unit.database.globalClusterId),
    deps.now,
  );
}

/** The managed call a mode makes on a global database (docs/aws/aurora-global-database.md). */
export function globalCall(run: RunContext): 'SwitchoverGlobalCluster' | 'FailoverGlobalCluster' {
  return exercised(run) === 'switchover' ? 'SwitchoverGlobalCluster' : 'FailoverGlobalCluster';
}

async function promoteGlobal(deps: AuroraDeps, input: AuroraStepInput, globalId: string) {
  const { run, unit } = input;
  const replicaId = unit.database.replicaClusterId;
  const [replica, global] = await Promise.all([
    describeCluster(deps.rds, replicaId),
    describeGlobal(deps.rds, globalId),
  ]);
  const targetArn = replica.DBClusterArn;
  const member = memberOf(global, targetArn);
  const detail = { ...clusterDetail(replica), ...failoverDetail(global) };
  if (!targetArn || !member) {
    throw new ConfigurationError(
      `DB cluster ${replicaId} is not a member of global cluster ${globalId} (units "${unit.name}" database.replicaClusterId); nothing was changed`,
    );
  }
  const state = global.FailoverState;
  if (state?.Status && state.Status !== 'cancelling') {
    if (sameArn(state.ToDbClusterArn, targetArn)) {
      logger.info('global cluster operation already under way', { unit: unit.name, status: state.Status });
      return { outcome: 'already-done' as const, detail: { ...detail, call: null } };
    }
    throw new ConfigurationError(
      `global cluster ${globalId} is ${state.Status} toward ${state.ToDbClusterArn ?? 'another cluster'}, not ${targetArn}: another operation is under way; nothing was changed`,
    );
  }
  if (member.IsWriter === true) {
    logger.info('replica cluster already the writer', { unit: unit.name, cluster: replicaId });
    return { outcome: 'already-done' as const, detail: { ...detail, call: null } };
  }
  const status = replica.Status ?? 'unknown';
  if (CLUSTER_DEAD_ENDS.has(status)) throw deadEnd(unit, replicaId, status);
  const call = globalCall(run);
  const planned = {
    call,
    globalClusterIdentifier: globalId,
    targetDbClusterIdentifier: targetArn,
    allowDataLoss: call === 'FailoverGlobalCluster',
  };
  if (run.mode === 'dry-run') {
    const warnings =
      status === 'available'
        ? []
        : [
            `DB cluster ${replicaId} is "${status}": Aurora refuses ${call} until it is available; the step would retry`,
          ];
    return { outcome: 'planned' as const, detail: { ...detail, ...planned }, warnings };
  }
  let answer: GlobalCluster | undefined;
  try {
    answer =
      call === 'SwitchoverGlobalCluster'
        ? (
            await deps.rds.send(
              new SwitchoverGlobalClusterCommand({
                GlobalClusterIdentifier: globalId,
                TargetDbClusterIdentifier: targetArn,
              }),
            )
          ).GlobalCluster
        : (
            await deps.rds.send(
              new FailoverGlobalClusterCommand({
                GlobalClusterIdentifier: globalId,
                TargetDbClusterIdentifier: targetArn,
                AllowDataLoss: true,
              }),
            )
          ).GlobalCluster;
  } catch (error) {
    throw callError(error, call, globalId, replicaId, status);
  }
  logger.info('global cluster operation started', { unit: unit.name, call, runId: run.runId });
  return {
    outcome: 'changed' as const,
    detail: { ...detail, ...(answer ? failoverDetail(answer) : {}), ...planned },
  };
}

async function promoteReplicaCluster(deps: AuroraDeps, input: AuroraStepInput) {
  const { run, unit } = input;
  const replicaId = unit.database.replicaClusterId;
  const replica = await describeCluster(deps.rds, replicaId);
  const source = replicationSource(replica);
  const status = replica.Status ?? 'unknown';
  if (source === undefined) {
    logger.info('replica cluster already promoted', { unit: unit.name, cluster: replicaId, status });
    return { outcome: 'already-done' as const, detail: { ...clusterDetail(replica), call: null } };
  }
  const expected = primaryClusterArn(run, unit);
  if (!sameArn(source, expected)) {
    throw new ConfigurationError(
      `DB cluster ${replicaId} is a read replica of ${source}, not of the plan's primary ${expected} (units "${unit.name}" database.primaryClusterId); nothing was changed`,
    );
  }
  if (CLUSTER_DEAD_ENDS.has(status)) throw deadEnd(unit, replicaId, status);
  const planned = { call: 'PromoteReadReplicaDBCluster', dbClusterIdentifier: replicaId };
  // A cluster `promoting` is being promoted: an earlier attempt whose answer was lost (or a re-run) started it. Calling
  // again only earns a refusal per retry (the crash matrix counted 10 to 24); the poll waits for the end instead.
  // `promoting` is the emulator's reading (docs/aws/aurora-global-database.md); another status is refused and retried.
  if (status === 'promoting' && run.mode !== 'dry-run') {
    logger.info('replica cluster promotion already under way', { unit: unit.name, cluster: replicaId });
    return { outcome: 'already-done' as const, detail: { ...clusterDetail(replica), call: null } };
  }
  if (run.mode === 'dry-run') {
    const warnings =
      status === 'available'
        ? []
        : [
            `DB cluster ${replicaId} is "${status}": Aurora refuses the promotion until it is available; the step would retry`,
          ];
    return { outcome: 'planned' as const, detail: { ...clusterDetail(replica), ...planned }, warnings };
  }
  let promoted: DBCluster | undefined;
  try {
    promoted = (
      await deps.rds.send(new PromoteReadReplicaDBClusterCommand({ DBClusterIdentifier: replicaId }))
    ).DBCluster;
  } catch (error) {
    throw callError(error, 'PromoteReadReplicaDBCluster', undefined, replicaId, status);
  }
  logger.info('replica cluster promotion started', { unit: unit.name, cluster: replicaId, runId: run.runId });
  return {
    outcome: 'changed' as const,
    detail: { ...clusterDetail(promoted ?? replica), ...planned, previousReplicationSource: source },
  };
}

function deadEnd(unit: AuroraUnitPlan, clusterId: string, status: string): ConfigurationError {
  return new ConfigurationError(
    `DB cluster ${clusterId} (unit "${unit.name}") is "${status}", a status Aurora does not leave on its own: it cannot be promoted; nothing was changed`,
  );
}

/**
 * A refused call. A state refusal is retried (ResourceBusyError): the retry describes again, so a run that crashed
 * after its call, or raced another, finds the operation under way or done and converges without a second call.
 */
function callError(
  error: unknown,
  call: string,
  globalId: string | undefined,
  clusterId: string,
  status: string,
): Error {
  const name = awsErrorName(error) ?? '';
  if (INVALID_CLUSTER_STATE.has(name) || INVALID_GLOBAL_STATE.has(name)) {
    return new ResourceBusyError(
      `${call} on ${globalId ?? clusterId} refused while DB cluster ${clusterId} is "${status}" (${name}); retried once the state allows it`,
      { cause: error },
    );
  }
  if (CLUSTER_NOT_FOUND.has(name)) {
    return new ResourceMissingError(`DB cluster ${clusterId} does not exist in this Region`, {
      cause: error,
    });
  }
  if (GLOBAL_NOT_FOUND.has(name) && globalId) {
    return new ResourceMissingError(`global cluster ${globalId} does not exist`, { cause: error });
  }
  return toLifeboatError(error, `${call} on ${globalId ?? clusterId}`);
}
