import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../functions/lib/report/index.js';
import type { CallLogEntry, FaultFailure, FaultRule } from '../../local/emulator/types.js';
import type { RunResult } from '../../local/runner.js';
import { TRANSIENT_RETRY } from '../../statemachine/steps.js';
import {
  applied,
  type EvidenceWorld,
  faulted,
  plannedUnits,
  productionMutations,
  readReport,
  startWorld,
  stepStatuses,
  unitFacts,
} from './support.js';

/**
 * Crash and re-run (issue 6, docs/design.md, "Targets": a crash injected before and after every mutating call, then a
 * re-run: always converges, no duplicate effect).
 *
 * For every mutating call a failover makes, three faults, each on a fresh unit of a world of ten:
 * - `before`: the call is refused for good (an IAM-style denial: AccessDenied), nothing applied; the run stops there;
 * - `after-once`: the first such call takes effect and its answer is lost (the connection drops), once;
 * - `after-always`: every such call takes effect and loses its answer, through every SDK and state machine retry,
 *   so the step itself fails after its effect — a crash after the call.
 * Then new executions with no fault until one succeeds (at most three): the unit must reach the end state of an
 * uninterrupted run (facts checked on the real database and DNS), with each production change made once.
 *
 * Every unit starts with an interrupted rotation (AWSPENDING on a version that is not AWSCURRENT's, holding the same
 * password, which the database takes) and a secret value whose `masterarn` names the primary Region, and its plan
 * asks for Region fields to be rewritten, so that SettleRotation makes its call, UpdateSecretVersionStage (the
 * current credentials work: it clears the stale label), and AttachRotation its two: PutSecretValue (the rewritten
 * value, with a ClientRequestToken derived from the run and source version) and RotateSecret.
 */

process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

interface MutatingCall {
  service: string;
  action: string;
  /** The step (or run stage) that makes the call. */
  owner: string;
  /** A permanent refusal in the service's own words. */
  denial: FaultFailure;
}

const CALLS: readonly MutatingCall[] = [
  {
    service: 'dynamodb',
    action: 'PutItem',
    owner: 'acquireLock',
    denial: { code: 'AccessDeniedException', status: 400 },
  },
  {
    service: 'secretsmanager',
    action: 'StopReplicationToReplica',
    owner: 'promoteSecret',
    denial: { code: 'AccessDeniedException', status: 400 },
  },
  {
    service: 'rds',
    action: 'PromoteReadReplica',
    owner: 'promoteDatabase',
    denial: { code: 'AccessDenied', status: 403 },
  },
  {
    service: 'route53',
    action: 'ChangeResourceRecordSets',
    owner: 'updateDns',
    denial: { code: 'AccessDenied', status: 403 },
  },
  {
    service: 'secretsmanager',
    action: 'UpdateSecretVersionStage',
    owner: 'settleRotation',
    denial: { code: 'AccessDeniedException', status: 400 },
  },
  {
    service: 'secretsmanager',
    action: 'PutSecretValue',
    owner: 'attachRotation',
    denial: { code: 'AccessDeniedException', status: 400 },
  },
  {
    service: 'secretsmanager',
    action: 'RotateSecret',
    owner: 'attachRotation',
    denial: { code: 'AccessDeniedException', status: 400 },
  },
  // The first PutObject of a run is LoadPlan's units.json (the units Map reads it), before any change.
  { service: 's3', action: 'PutObject', owner: 'loadPlan', denial: { code: 'AccessDenied', status: 403 } },
  { service: 'sns', action: 'Publish', owner: 'report', denial: { code: 'AuthorizationError', status: 403 } },
  {
    service: 'dynamodb',
    action: 'DeleteItem',
    owner: 'releaseLock',
    denial: { code: 'AccessDeniedException', status: 400 },
  },
];

type Mode = 'before' | 'after-once' | 'after-always';

/** The production calls each mutating step makes here (AttachRotation makes two, see above). */
const STEP_CALLS: Record<string, readonly string[]> = {
  promoteSecret: ['StopReplicationToReplica'],
  promoteDatabase: ['PromoteReadReplica'],
  updateDns: ['ChangeResourceRecordSets'],
  settleRotation: ['UpdateSecretVersionStage'],
  attachRotation: ['PutSecretValue', 'RotateSecret'],
};
/**
 * Calls a step makes on every run, also when their effect is already there: UpdateDns resubmits its identical UPSERT
 * to have a change id to wait for (docs/aws/route53-changes.md).
 */
const ALWAYS_CALLED: ReadonlySet<string> = new Set(['ChangeResourceRecordSets']);
const STEPS = Object.keys(STEP_CALLS);

function faultFor(mode: Mode, call: MutatingCall): FaultRule {
  const match = { service: call.service, action: call.action };
  if (mode === 'before') return { match, always: call.denial };
  if (mode === 'after-once') return { match, failCalls: [1], failWith: 'lose-response' };
  return { match, loseResponseRate: 1 };
}

interface Ending {
  status: RunResult['status'];
  /** The execution's error name. */
  error?: string;
  /** For a unit that failed: the step it stopped at and the error there. */
  unitFailure?: { step: string; error: string };
}

const SUCCEEDED: Ending = { status: 'SUCCEEDED' };
const unitFailed = (step: string, error = 'AwsCallFailedError'): Ending => ({
  status: 'FAILED',
  error: 'FailoverIncompleteError',
  unitFailure: { step, error },
});

/**
 * How the faulted run may end, as observed and explained:
 * - `before`: a refused production change fails the unit; a refused lock or a refused write of the run's units
 *   (LoadPlan's PutObject) fails the run before any change; a refused notification is recorded in the report's
 *   `delivery` and does not fail a failover that worked; a
 *   refused lock release is caught (the run succeeded) but leaves the lock behind (see DETOURS).
 * - `after-once`: the SDK's own retry (maxAttempts 3) absorbs the lost answer: every first run succeeds. The retry
 *   finds the effect there (StopReplicationToReplica and DeleteItem are refused, and the step reads the state again)
 *   or repeats an idempotent call (UPSERT of the same record, RotateSecret with the same configuration, PutItem of our
 *   own lock, PutObject of the same key, PromoteReadReplica accepted before the promotion shows, starting nothing).
 * - `after-always`: the state machine's retry calls the step again, which reads the state, finds its effect and
 *   returns already-done, except for the lock (every PutItem answer is lost: the run fails before any change and
 *   releases the lock it did take), the database (see DETOURS) and DNS: UpdateDns always submits its UPSERT to have
 *   a change to wait for, and every answer is lost, so it fails (TransientAwsError) without a change id rather than
 *   let verification run while a change may still be PENDING; the re-run converges.
 */
const FIRST_RUN: Record<Mode, Record<string, readonly Ending[]>> = {
  before: {
    PutItem: [{ status: 'FAILED', error: 'AwsCallFailedError' }],
    StopReplicationToReplica: [unitFailed('promoteSecret')],
    PromoteReadReplica: [unitFailed('promoteDatabase')],
    ChangeResourceRecordSets: [unitFailed('updateDns')],
    // Clearing the label is refused; the step reads again, still finds it, and says what to run by hand.
    UpdateSecretVersionStage: [unitFailed('settleRotation', 'RotationBlockedError')],
    PutSecretValue: [unitFailed('attachRotation')],
    RotateSecret: [unitFailed('attachRotation')],
    // LoadPlan cannot write the run's units: the run stops before any change.
    PutObject: [{ status: 'FAILED', error: 'AwsCallFailedError' }],
    Publish: [SUCCEEDED],
    DeleteItem: [SUCCEEDED],
  },
  'after-once': Object.fromEntries(CALLS.map((c) => [c.action, [SUCCEEDED]])),
  'after-always': {
    PutItem: [{ status: 'FAILED', error: 'TransientAwsError' }],
    StopReplicationToReplica: [SUCCEEDED],
    // Every answer lost: the later calls find the promotion running (ResourceBusyError) and wait it out.
    PromoteReadReplica: [SUCCEEDED, unitFailed('promoteDatabase', 'TransientAwsError')],
    ChangeResourceRecordSets: [unitFailed('updateDns', 'TransientAwsError')],
    UpdateSecretVersionStage: [SUCCEEDED],
    PutSecretValue: [SUCCEEDED],
    RotateSecret: [SUCCEEDED],
    // Every answer of LoadPlan's write lost: retried as transient, then the run stops before any change.
    PutObject: [{ status: 'FAILED', error: 'TransientAwsError' }],
    Publish: [SUCCEEDED],
    DeleteItem: [SUCCEEDED],
  },
};

/**
 * Re-runs that do not converge at once, and why (each is asserted, then resolved the way an operator would):
 * - `stale-lock`: the lock the first run could not release blocks the next execution with FailoverInProgressError
 *   (changing nothing); its message names the item to delete, which the operator does.
 * - `promotion-in-progress`: a re-run started while the interrupted promotion is still going finds the replica busy;
 *   PromoteReadReplica is refused (InvalidDBInstanceState → ResourceBusyError). PromoteDatabase retries that for up
 *   to 20 minutes, so the re-run waits the promotion out and converges; the detour (a third run after the promotion
 *   ended) is only taken if it does not.
 */
type Detour = 'stale-lock' | 'promotion-in-progress';
const DETOURS: Partial<Record<`${Mode}:${string}`, Detour>> = {
  'before:DeleteItem': 'stale-lock',
  'after-always:PromoteReadReplica': 'promotion-in-progress',
};

interface Figures {
  mode: Mode;
  action: string;
  firstRun: string;
  injected: number;
  callsOfAction: number;
  appliedOfAction: number;
  runs: number;
  detour: string;
  secondsToConverge: number;
}
const figures: Figures[] = [];
/** The re-run started right after the `promotion-in-progress` fault, for the known-defect test. */
let immediateRerun: RunResult | undefined;

describe.each<Mode>(['before', 'after-once', 'after-always'])(
  'a fault %s each mutating call, then a re-run',
  (mode) => {
    let w: EvidenceWorld;
    let rds: RDSClient;
    let secrets: SecretsManagerClient;

    beforeAll(async () => {
      const plan = plannedUnits(CALLS.length);
      for (const unit of plan.units) unit.rotation.rewriteRegionFields = true;
      w = await startWorld(plan);
      const config = w.world.emulator.clientConfig(w.plan.recoveryRegion);
      rds = new RDSClient(config);
      secrets = new SecretsManagerClient(config);
      await Promise.all(plan.units.map((u) => interruptRotation(w, u.secret.id)));
    }, 180_000);

    afterAll(async () => {
      rds?.destroy();
      secrets?.destroy();
      await w?.close();
    });

    const versionCount = async (secretId: string) =>
      (await secrets.send(new ListSecretVersionIdsCommand({ SecretId: secretId, IncludeDeprecated: true })))
        .Versions?.length ?? 0;

    /** Waits (bounded) until the replica is a standalone, available instance: the promotion has ended. */
    const promotionEnded = async (instanceId: string) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const out = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: instanceId }));
        const instance = out.DBInstances?.[0];
        if (instance?.DBInstanceStatus === 'available' && !instance.ReadReplicaSourceDBInstanceIdentifier)
          return;
        if (Date.now() > deadline) throw new Error(`${instanceId} did not end its promotion within 60 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    it.each(CALLS.map((call, i) => ({ ...call, index: i })))(
      '$action ($owner): converges with each change made once',
      async (call) => {
        // Prepare
        const unitName = w.plan.units[call.index]?.name as string;
        const replicaId = `${unitName}-db-replica`;
        const started = Date.now();
        const key = `${mode}:${call.action}` as const;
        const detour = DETOURS[key];
        const runs: { result: RunResult; report: RunReport | undefined; calls: CallLogEntry[] }[] = [];
        const secretId = `${unitName}/db`;
        const versionsBefore = await versionCount(secretId);
        const execute = async (n: number) => {
          const from = w.world.emulator.calls.length;
          const name = `${mode}-${call.action}-${n}`;
          const result = await w.run(name, {
            units: [unitName],
            reason: `crash test ${mode} ${call.action}`,
          });
          const calls = w.world.emulator.calls.slice(from);
          runs.push({ result, report: await readReport(w.world, result, name), calls });
          return result;
        };

        // Act: the faulted run, then re-runs without faults
        const fault = w.world.emulator.faults.add(faultFor(mode, call));
        const first = await execute(1);
        fault.remove();
        let last = await execute(2);
        if (detour === 'promotion-in-progress') immediateRerun = last;
        if (detour === 'stale-lock' && last.status === 'FAILED') {
          // Assess the detour: refused at once, nothing changed, told how to clear it
          expect(last.error?.name).toBe('FailoverInProgressError');
          expect(productionMutations(runs[1]?.calls ?? [])).toEqual([]);
          expect(runs[1]?.report?.failure?.cause).toContain(`delete the item planName=${w.plan.name}`);
          expect(await w.lockHolder()).toBe(`${mode}-${call.action}-1`);
          await w.deleteLock();
          last = await execute(3);
        } else if (detour === 'promotion-in-progress' && last.status === 'FAILED') {
          expect(runs[1]?.report?.units[0]?.failure?.error).toBe('ResourceBusyError');
          await promotionEnded(replicaId);
          last = await execute(3);
        }
        const all = runs.flatMap((r) => r.calls);
        const facts = await unitFacts(w.world, [unitName]);
        const firstCalls = runs[0]?.calls ?? [];
        const ofAction = firstCalls.filter((c) => c.action === call.action);
        const stoppedAt = runs[0]?.report?.units.find((u) => u.unit === unitName)?.failure?.step;
        figures.push({
          mode,
          action: call.action,
          firstRun: `${first.status}${first.error ? ` (${first.error.name})` : ''}${
            stoppedAt ? ` at ${stoppedAt}` : ''
          }`,
          injected: faulted(firstCalls).length,
          callsOfAction: ofAction.length,
          appliedOfAction: ofAction.filter((c) => c.applied).length,
          runs: runs.length,
          detour: detour && runs.length > 2 ? detour : '-',
          secondsToConverge: Math.round((Date.now() - started) / 100) / 10,
        });

        // Assess: the fault was injected, and the faulted run ended as expected
        expect(faulted(firstCalls).length).toBeGreaterThan(0);
        expect(faulted(firstCalls).every((c) => c.action === call.action)).toBe(true);
        const failure = runs[0]?.report?.units.find((u) => u.unit === unitName)?.failure;
        const ending: Ending = {
          status: first.status,
          ...(first.error ? { error: first.error.name } : {}),
          ...(failure ? { unitFailure: { step: failure.step ?? '?', error: failure.error } } : {}),
        };
        expect(FIRST_RUN[mode][call.action]).toContainEqual(ending);
        if (mode === 'before') expect(ofAction.some((c) => c.applied)).toBe(false);
        else expect(ofAction[0]?.applied).toBe(true);

        // Assess: the last run converged to the end state of an uninterrupted run
        expect(last.status, JSON.stringify(last.error)).toBe('SUCCEEDED');
        expect(runs.at(-1)?.report?.outcome).toBe('succeeded');
        expect(facts.filter((f) => !f.ok)).toEqual([]);
        expect(facts).toHaveLength(5);
        expect(await w.lockHolder()).toBeUndefined();

        // Assess: no duplicate effect
        expect(applied(all, 'StopReplicationToReplica')).toHaveLength(1);
        expect(w.promotions.get(replicaId)).toBe(1);
        // One new version of the secret (the rewritten value), however often PutSecretValue was sent; masterarn moved.
        expect(await versionCount(secretId)).toBe(versionsBefore + 1);
        const value = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
        expect(
          String((JSON.parse(value.SecretString ?? '{}') as { masterarn?: string }).masterarn).split(':')[3],
        ).toBe(w.plan.recoveryRegion);
        // Repeats of idempotent calls happen only inside the faulted run, through the SDK's retry of a lost answer
        // (3 attempts), and for a call made on every attempt of its step (the identical UPSERT) through the state
        // machine's retries of that step too.
        const stepAttempts = 1 + (TRANSIENT_RETRY.maxAttempts ?? 0);
        for (const action of [
          'ChangeResourceRecordSets',
          'UpdateSecretVersionStage',
          'PutSecretValue',
          'RotateSecret',
        ]) {
          const later = runs.slice(1).flatMap((r) => applied(r.calls, action));
          const bound =
            call.action !== action
              ? 1
              : mode === 'after-always' && ALWAYS_CALLED.has(action)
                ? 3 * stepAttempts
                : 3;
          expect(applied(all, action).length - later.length <= bound).toBe(true);
          expect(applied(all, action).length).toBeGreaterThanOrEqual(1);
        }

        // Assess: the last run did only what had not taken effect before, once each, and says already-done for the rest
        const earlier = runs.slice(0, -1).flatMap((r) => r.calls);
        const lastRun = runs.at(-1) as (typeof runs)[number];
        const statuses = stepStatuses(lastRun.report, unitName);
        const done = (action: string) => applied(earlier, action).length > 0;
        const expected = Object.fromEntries(
          STEPS.map((step) => [step, STEP_CALLS[step]?.every(done) ? 'already-done' : 'changed']),
        );
        expect(Object.fromEntries(STEPS.map((s) => [s, statuses[s]]))).toEqual(expected);
        const changed = STEPS.flatMap((s) => STEP_CALLS[s] ?? [])
          .filter((action) => !done(action) || ALWAYS_CALLED.has(action))
          .sort();
        expect(
          productionMutations(lastRun.calls)
            .filter((c) => c.applied)
            .map((c) => c.action)
            .sort(),
        ).toEqual(changed);
        // Nothing refused, except RDS saying the replica is still busy with the promotion an earlier run started:
        // the re-run waits that out (ResourceBusyError retried for minutes on PromoteDatabase) instead of failing.
        expect(
          productionMutations(lastRun.calls).every(
            (c) => c.applied || c.errorCode === 'InvalidDBInstanceState',
          ),
        ).toBe(true);

        // Assess: a notification sent more than once (SDK retries of a lost answer) is the same message each time
        const runIds = runs.map((_, i) => `${mode}-${call.action}-${i + 1}`);
        for (const runId of runIds) {
          const messages = w.world.emulator.sns.messages.filter((m) => m.subject?.includes(`(${runId})`));
          expect(new Set(messages.map((m) => `${m.subject}\n${m.message}`)).size).toBeLessThanOrEqual(1);
        }
      },
      120_000,
    );
  },
);

describe('a re-run during an interrupted promotion', () => {
  // PromoteDatabase retries ResourceBusyError for up to 20 minutes (statemachine/steps.ts DATABASE_BUSY_RETRY),
  // ahead of the general transient policy (about 51 s): the re-run waits for the running promotion.
  it('converges when started while the promotion is still going', () => {
    // Assess
    expect(immediateRerun?.status).toBe('SUCCEEDED');
  });
});

afterAll(() => {
  // The figures for the evidence report (no secret in them: actions, statuses, counts, seconds).
  const lines = figures.map(
    (f) =>
      `| ${f.mode} | ${f.action} | ${f.firstRun} | ${f.injected} | ${f.appliedOfAction}/${f.callsOfAction} | ${f.runs} | ${f.detour} | ${f.secondsToConverge} |`,
  );
  console.log(
    [
      '| fault | call | faulted run | faults injected | applied/calls of it | runs to converge | detour | seconds |',
      '|---|---|---|---|---|---|---|---|',
      ...lines,
    ].join('\n'),
  );
});

/**
 * An interrupted rotation and a Region-bound field, made where production would have made them: on the primary secret
 * (us-east-1), replicated to the recovery Region. The value keeps every key the steps need; the password is not
 * printed.
 */
async function interruptRotation(w: EvidenceWorld, secretId: string): Promise<void> {
  const { primaryRegion, recoveryRegion, account } = w.plan;
  const primary = new SecretsManagerClient(w.world.emulator.clientConfig(primaryRegion));
  const replica = new SecretsManagerClient(w.world.emulator.clientConfig(recoveryRegion));
  try {
    const current = await primary.send(new GetSecretValueCommand({ SecretId: secretId }));
    const value = JSON.parse(current.SecretString ?? '{}') as Record<string, unknown>;
    value.masterarn = `arn:aws:secretsmanager:${primaryRegion}:${account}:secret:${secretId}-master-AbCdEf`;
    const text = JSON.stringify(value);
    await primary.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: text }));
    await primary.send(
      new PutSecretValueCommand({ SecretId: secretId, SecretString: text, VersionStages: ['AWSPENDING'] }),
    );
    const deadline = Date.now() + 30_000;
    for (;;) {
      const seen = await replica
        .send(new DescribeSecretCommand({ SecretId: secretId }))
        .catch(() => undefined);
      const stages = Object.values(seen?.VersionIdsToStages ?? {});
      if (stages.some((s) => s.includes('AWSPENDING') && !s.includes('AWSCURRENT'))) return;
      if (Date.now() > deadline) throw new Error(`${secretId}: the interrupted rotation did not replicate`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    primary.destroy();
    replica.destroy();
  }
}
