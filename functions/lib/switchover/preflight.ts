import type { DBInstance } from '@aws-sdk/client-rds';
import { clientsFor } from '../clients.js';
import { describeInstance } from '../database.js';
import { isTransientAwsError, ResourceMissingError, toLifeboatError } from '../errors.js';
import { exercised } from '../exercised.js';
import { instanceDatabase, isAuroraUnit } from '../plan-names.js';
import type { PreflightCheck, UnitStepInput } from '../types.js';
import type { SwitchoverDeps } from './switchover.js';

/**
 * Preflight of a switchover (docs/design/switchover.md, "Preflight"): besides every failover check, the primary must
 * be healthy, as RDS reports it in the primary Region (`available`), and the replica replicating; the login to the
 * primary database is the fence step's (it runs in the database network, preflight does not). Each is an error: a switchover with a sick primary is refused, and
 * the message says to run a failover instead. Nothing here changes anything. Other modes: no check.
 */

const ADVICE =
  'a switchover needs a healthy primary; if the primary Region is impaired, run a failover instead (mode "failover")';

export function switchoverDeps(run: UnitStepInput['run']): SwitchoverDeps {
  const recovery = clientsFor(run.recoveryRegion);
  return {
    secretsManager: recovery.secretsManager,
    rds: recovery.rds,
    primaryRds: clientsFor(run.primaryRegion).rds,
  };
}

function replicationStatus(instance: DBInstance): string | undefined {
  return instance.StatusInfos?.find((s) => s.StatusType === 'read replication')?.Status;
}

/**
 * The switchover checks of an Aurora unit (docs/design/switchover.md, "Preflight"). A global database switches over
 * with Aurora's own SwitchoverGlobalCluster: its checks are the database concern's (functions/lib/aurora/preflight.ts).
 * A cross-Region read replica cluster has no managed switchover, and lifeboat's fence is built for RDS instances: its
 * promotion (PromoteReadReplicaDBCluster) would leave the primary taking writes beside the promoted cluster and lose
 * what it had not replicated yet, so the switchover is refused, before any change.
 */
export function auroraSwitchoverChecks(input: UnitStepInput): PreflightCheck[] {
  const { run, unit } = input;
  if (exercised(run) !== 'switchover' || !isAuroraUnit(unit) || unit.database.globalClusterId !== undefined)
    return [];
  return [
    {
      unit: unit.name,
      check: 'switchover.aurora-replica-cluster',
      ok: false,
      severity: 'error',
      message: `DB cluster ${unit.database.replicaClusterId} is a cross-Region read replica cluster: Aurora has no zero-loss switchover for it (SwitchoverGlobalCluster is for global databases) and promoting it would leave ${unit.database.primaryClusterId} taking writes; run a failover (mode "failover") once writes to the primary have stopped, or make the unit a global database (database.globalClusterId)`,
    },
  ];
}

export async function checkSwitchoverReadiness(
  deps: SwitchoverDeps,
  input: UnitStepInput,
): Promise<PreflightCheck[]> {
  const { run, unit } = input;
  if (exercised(run) !== 'switchover') return [];
  const checks: PreflightCheck[] = [];
  const add = (check: string, ok: boolean, message: string) =>
    checks.push({ unit: unit.name, check, ok, severity: 'error', message });
  const primaryId = instanceDatabase(unit, 'the switchover preflight').primaryInstanceId;
  const replicaId = instanceDatabase(unit, 'the switchover preflight').replicaInstanceId;

  let primary: DBInstance | undefined;
  try {
    primary = await describeInstance(deps.primaryRds, primaryId);
  } catch (error) {
    if (error instanceof ResourceMissingError) {
      add(
        'switchover.primary',
        false,
        `primary ${primaryId} does not exist in ${run.primaryRegion}; ${ADVICE}`,
      );
    } else {
      // The primary Region does not answer: that is what a failover is for.
      const name = error instanceof Error ? error.name : 'Error';
      add(
        'switchover.primary',
        false,
        `RDS in ${run.primaryRegion} did not answer for ${primaryId} (${name}); ${ADVICE}`,
      );
    }
    return checks;
  }
  const status = primary.DBInstanceStatus ?? 'unknown';
  add(
    'switchover.primary',
    status === 'available',
    status === 'available'
      ? `primary ${primaryId} is available in ${run.primaryRegion}`
      : `primary ${primaryId} is "${status}" in ${run.primaryRegion}, not available; ${ADVICE}`,
  );

  try {
    const replica = await describeInstance(deps.rds, replicaId);
    const replication = replicationStatus(replica);
    add(
      'switchover.replication',
      replication === undefined || replication === 'replicating',
      replication === undefined
        ? `${replicaId} reports no replication status; the catch-up after the fence will prove it`
        : replication === 'replicating'
          ? `${replicaId} is replicating from ${primaryId}`
          : `replication to ${replicaId} is "${replication}", not replicating: the replica could not catch up after the fence; ${ADVICE}`,
    );
  } catch (error) {
    if (isTransientAwsError(error)) throw toLifeboatError(error, `DescribeDBInstances on ${replicaId}`);
    // The failover checks report a missing replica.
  }

  // The login to the primary database is the fence step's first act, from the database network (docs/design/switchover.md,
  // "Preflight"): preflight runs outside any VPC, so that a failover's preflight needs no route to the AWS APIs from it.
  return checks;
}
