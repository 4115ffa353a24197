import { StopReplicationToReplicaCommand } from '@aws-sdk/client-secrets-manager';
import { awsErrorName, ConfigurationError, isTransientAwsError } from '../errors.js';
import type { UnitPlan } from '../plan.js';
import { recoverySecretId } from '../plan-names.js';
import { type StepBody, timedStep } from '../step.js';
import type { DetailValue, RunContext, StepResult, UnitStepInput } from '../types.js';
import { describeSecret, replicationView, type SecretDeps, secretCallError, where } from './state.js';
import '../sdk/secrets-manager.js';

/**
 * Makes the replica secret in the recovery Region a standalone primary with StopReplicationToReplica, called in
 * that Region (the only promote API; replicas are read-only until then).
 */
export async function promoteReplicaSecret(
  deps: SecretDeps,
  { run, unit }: UnitStepInput,
  now?: () => Date,
): Promise<StepResult> {
  return timedStep('promoteSecret', unit.name, () => promoteBody(deps, run, unit), now);
}

async function promoteBody(deps: SecretDeps, run: RunContext, unit: UnitPlan): Promise<StepBody> {
  const secret = await describeSecret(deps, unit, run);
  const view = replicationView(secret, run.recoveryRegion);
  const secretId = secret.ARN ?? recoverySecretId(unit);
  const detail: Record<string, DetailValue> = {
    secretArn: secret.ARN ?? null,
    region: run.recoveryRegion,
    previousPrimaryRegion: view.role === 'replica' ? (view.primaryRegion ?? null) : null,
    replicationStatus: view.status ?? null,
  };
  if (view.role === 'standalone') {
    return { outcome: 'already-done', detail };
  }
  if (view.primaryRegion !== run.primaryRegion) {
    throw new ConfigurationError(
      `${where(unit, run)} is a replica of a secret in ${view.primaryRegion}, not in the plan's primary Region ${run.primaryRegion}; refusing to detach it`,
    );
  }
  const warnings: string[] = [];
  if (view.status !== undefined && view.status !== 'InSync') {
    warnings.push(
      `replication to ${run.recoveryRegion} was ${view.status}${view.statusMessage ? ` (${view.statusMessage})` : ''} when promoted: the replica may hold an older value`,
    );
  }
  detail.call = 'StopReplicationToReplica';
  if (run.mode === 'dry-run') {
    return { outcome: 'planned', detail, warnings };
  }
  try {
    await deps.secretsManager.send(new StopReplicationToReplicaCommand({ SecretId: secretId }));
  } catch (error) {
    // The SDK retries a call whose answer was lost (5xx, timeout); if the first attempt did promote the secret,
    // the retry is refused because it is no longer a replica. Read again rather than fail a failover over that.
    if (isTransientAwsError(error) || awsErrorName(error) === 'ResourceNotFoundException') {
      throw secretCallError(error, 'StopReplicationToReplica', unit, run);
    }
    const again = await describeSecret(deps, unit, run);
    if (replicationView(again, run.recoveryRegion).role !== 'standalone') {
      throw secretCallError(error, 'StopReplicationToReplica', unit, run);
    }
    warnings.push(
      `StopReplicationToReplica answered ${awsErrorName(error) ?? 'an error'}, but the secret is now standalone`,
    );
  }
  return { outcome: 'changed', detail, warnings };
}
