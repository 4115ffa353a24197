import { ConfigurationError, ResourceMissingError } from '../errors.js';
import type { AuroraUnitPlan } from '../plan.js';
import { recoverySecretId } from '../plan.js';
import { instanceDatabase, isAuroraUnit } from '../plan-names.js';
import type { DetailValue, UnitStepInput } from '../types.js';
import { missingOldPrimary, readGlobalReturn } from './aurora.js';
import { plannedCall, readReplicaClusterReturn } from './aurora-replica.js';
import {
  currentPrimary,
  DEFAULT_SECRET_KEY,
  findInstance,
  findSecret,
  instanceArn,
  OLD_PRIMARY_TAG,
  owner,
  REPROTECT_TAG,
  RETIRED_TAG,
  type ReprotectDeps,
  type ReprotectPass,
  type ReprotectPollInput,
  replicaParameters,
  retiredName,
  sameArn,
} from './reprotect.js';

/**
 * A dry run of a re-protect (`{"mode": "dry-run", "of": "reprotect"}`, docs/design/reprotect.md, "Dry run"): the reads
 * of a pass, then the calls the passes would make from here, in order, changing nothing. They go in the detail as
 * `planned.<n>.call` and `planned.<n>.<Parameter>`, which the report lists as the run's planned calls
 * (functions/lib/report/build.ts, numberedCalls), as it lists a failover's. A problem a pass would refuse on (an
 * instance lifeboat did not make in the way, an encrypted primary with no key of the old Region) fails the same way.
 */
export async function planReprotect(deps: ReprotectDeps, input: ReprotectPollInput): Promise<ReprotectPass> {
  const { run, unit, attempt } = input;
  const observedAt = (deps.now ?? (() => new Date()))().toISOString();
  if (isAuroraUnit(unit)) return planAuroraReprotect(deps, { ...input, unit });
  const ids = instanceDatabase(unit, 're-protect');
  const warnings: string[] = [];
  const detail: Record<string, DetailValue> = {
    currentRegion: run.recoveryRegion,
    oldRegion: run.primaryRegion,
    currentPrimary: ids.replicaInstanceId,
    secret: recoverySecretId(unit),
    attempt,
  };
  const plan = plannerInto(detail);

  const primary = await currentPrimary(deps, run, unit);
  await planSecret(deps, input, plan);

  // The old primary (renamed, never deleted) and the new replica under its name.
  const oldRegion = run.primaryRegion;
  const originalId = ids.primaryInstanceId;
  const currentArn =
    primary.DBInstanceArn ?? instanceArn(run.recoveryRegion, run.account, ids.replicaInstanceId);
  const retiredId = retiredName(originalId, primary.DbiResourceId ?? currentArn);
  const [atOriginal, atRetired] = await Promise.all([
    findInstance(deps.old.rds, originalId, oldRegion),
    findInstance(deps.old.rds, retiredId, oldRegion),
  ]);
  const source = atOriginal?.ReadReplicaSourceDBInstanceIdentifier;
  if (atOriginal && source && sameArn(source, currentArn)) {
    plan(
      null,
      { DBInstanceIdentifier: originalId },
      'the replica exists: the passes wait until it replicates',
    );
    return { done: true, status: 'planned', waitSeconds: 0, observedAt, detail, warnings };
  }
  if (source) {
    throw new ConfigurationError(
      `DB instance ${originalId} in ${oldRegion} is a read replica of ${source}, not the old primary and not a replica of ${currentArn}; nothing was changed`,
    );
  }
  let template = atRetired;
  if (atOriginal) {
    if (atRetired) {
      throw new ConfigurationError(
        `cannot rename the old primary ${originalId} in ${oldRegion} to ${retiredId}: an instance has that name already`,
      );
    }
    plan('AddTagsToResource', {
      ResourceName: atOriginal.DBInstanceArn ?? instanceArn(oldRegion, run.account, originalId),
      Tags: `${RETIRED_TAG}=${owner(run, unit)}`,
    });
    plan(
      'ModifyDBInstance',
      { DBInstanceIdentifier: originalId, NewDBInstanceIdentifier: retiredId, ApplyImmediately: true },
      'the old primary is renamed, never deleted: it may hold writes the replica never received',
    );
    template = atOriginal;
  } else if (!atRetired) {
    warnings.push(
      `the old primary ${originalId} is not in ${oldRegion} under its name nor as ${retiredId}: nothing would be renamed`,
    );
  }
  const params = replicaParameters(run, unit, primary, currentArn, template, template ? retiredId : 'none');
  plan('CreateDBInstanceReadReplica', {
    DBInstanceIdentifier: params.DBInstanceIdentifier ?? originalId,
    SourceDBInstanceIdentifier: params.SourceDBInstanceIdentifier ?? currentArn,
    SourceRegion: run.recoveryRegion,
    DBInstanceClass: params.DBInstanceClass ?? null,
    KmsKeyId: params.KmsKeyId ?? null,
    DBSubnetGroupName: params.DBSubnetGroupName ?? null,
    Port: params.Port ?? null,
    Tags: `${REPROTECT_TAG}=${owner(run, unit)}, ${OLD_PRIMARY_TAG}=${template ? retiredId : 'none'}`,
  });
  return { done: true, status: 'planned', waitSeconds: 0, observedAt, detail, warnings };
}

type Planner = (call: string | null, parameters: Record<string, DetailValue>, note?: string) => void;

/** A planner that numbers each planned call into `detail` (`planned.<n>.call`, its parameters, its note). */
function plannerInto(detail: Record<string, DetailValue>): Planner {
  let n = 0;
  return (call, parameters, note) => {
    n += 1;
    detail[`planned.${n}.call`] = call;
    for (const [k, v] of Object.entries(parameters)) detail[`planned.${n}.${k}`] = v;
    if (note) detail[`planned.${n}.note`] = note;
  };
}

/** The secret: replicated back over the stale one (docs/aws/secrets-manager-replication.md). */
async function planSecret(deps: ReprotectDeps, input: UnitStepInput, plan: Planner): Promise<void> {
  const { run, unit } = input;
  const secretId = recoverySecretId(unit);
  const current = await findSecret(deps.current.secretsManager, secretId, run.recoveryRegion);
  if (!current || current.DeletedDate) {
    throw new ResourceMissingError(`secret ${secretId} does not exist in ${run.recoveryRegion} (secret.id)`);
  }
  if (current.PrimaryRegion && current.PrimaryRegion !== run.recoveryRegion) {
    throw new ConfigurationError(
      `secret ${secretId} in ${run.recoveryRegion} is still a replica of ${current.PrimaryRegion}: re-protect runs after the failover promoted it; nothing was changed`,
    );
  }
  const link = current.ReplicationStatus?.find((r) => r.Region === run.primaryRegion);
  if (link) {
    plan(
      null,
      { SecretId: current.ARN ?? secretId, Region: run.primaryRegion },
      `already replicated (${link.Status})`,
    );
  } else {
    const name = current.Name ?? secretId;
    const stale = await findSecret(deps.old.secretsManager, name, run.primaryRegion);
    if (stale?.PrimaryRegion && stale.PrimaryRegion !== run.recoveryRegion) {
      throw new ConfigurationError(
        `secret ${name} in ${run.primaryRegion} is a replica of ${stale.PrimaryRegion}, not the plan's: lifeboat does not overwrite it`,
      );
    }
    const key = stale?.KmsKeyId && stale.KmsKeyId !== DEFAULT_SECRET_KEY ? stale.KmsKeyId : null;
    plan(
      'ReplicateSecretToRegions',
      {
        SecretId: current.ARN ?? secretId,
        'AddReplicaRegions.Region': run.primaryRegion,
        'AddReplicaRegions.KmsKeyId': key,
        ForceOverwriteReplicaSecret: true,
      },
      stale ? `overwrites the stale secret ${name} in ${run.primaryRegion}` : undefined,
    );
  }
}

/**
 * A dry run of an Aurora unit's re-protect (docs/design/aurora.md, "Re-protect"): the secret, then no call for the
 * database: Aurora adds the old primary back itself. Refused as a pass would refuse (a replica cluster unit, the
 * promoted cluster not the writer, the old primary not a member).
 */
async function planAuroraReprotect(
  deps: ReprotectDeps,
  input: ReprotectPollInput & { unit: AuroraUnitPlan },
): Promise<ReprotectPass> {
  const { run, unit, attempt } = input;
  const observedAt = (deps.now ?? (() => new Date()))().toISOString();
  const db = unit.database;
  if (db.globalClusterId === undefined) return planReplicaClusterReprotect(deps, input);
  const global = unit as AuroraUnitPlan & { database: { globalClusterId: string } };
  const seen = await readGlobalReturn(deps.current.rds, run, global);
  if (!seen.operation && !seen.member)
    throw missingOldPrimary(run, global, `${run.primaryRegion} not read by a dry run`);
  const detail: Record<string, DetailValue> = {
    currentRegion: run.recoveryRegion,
    oldRegion: run.primaryRegion,
    globalClusterIdentifier: db.globalClusterId,
    currentPrimary: db.replicaClusterId,
    secret: recoverySecretId(unit),
    attempt,
  };
  const plan = plannerInto(detail);
  await planSecret(deps, input, plan);
  plan(
    null,
    { GlobalClusterIdentifier: db.globalClusterId, DBClusterIdentifier: db.primaryClusterId },
    seen.member
      ? `the old primary is a member (${seen.member.SynchronizationStatus ?? 'no synchronization status'}): the passes wait until it is connected; nothing is created or deleted`
      : `the operation toward ${db.replicaClusterId} is ${seen.operation}: the passes wait for it and for the old primary to rejoin`,
  );
  return { done: true, status: 'planned', waitSeconds: 0, observedAt, detail, warnings: [] };
}

/**
 * A dry run of a replica cluster unit's re-protect (docs/design/aurora.md, "Re-protect of a replica cluster unit"): the
 * secret, then the calls the passes would make from what the old Region shows now (the rename, the replica cluster,
 * its instance). Refused as a pass would refuse.
 */
async function planReplicaClusterReprotect(
  deps: ReprotectDeps,
  input: ReprotectPollInput & { unit: AuroraUnitPlan },
): Promise<ReprotectPass> {
  const { run, unit, attempt } = input;
  const observedAt = (deps.now ?? (() => new Date()))().toISOString();
  const seen = await readReplicaClusterReturn(deps, run, unit);
  const detail: Record<string, DetailValue> = {
    currentRegion: run.recoveryRegion,
    oldRegion: run.primaryRegion,
    currentPrimary: unit.database.replicaClusterId,
    secret: recoverySecretId(unit),
    attempt,
  };
  const plan = plannerInto(detail);
  await planSecret(deps, input, plan);
  for (const p of plannedCall(seen, unit)) plan(p.call, p.parameters, p.note);
  return { done: true, status: 'planned', waitSeconds: 0, observedAt, detail, warnings: seen.warnings };
}
