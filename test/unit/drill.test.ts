import { describe, expect, it, vi } from 'vitest';
import {
  checkDrillCopies,
  cleanUpDrillCopies,
  DRILL_TAG,
  drillNames,
  ownerValue,
  prepareDrillCopies,
} from '../../functions/lib/drill.js';
import { AwsCallFailedError, ConfigurationError, InputInvalidError } from '../../functions/lib/errors.js';
import { parsePlan, type UnitPlan } from '../../functions/lib/plan.js';
import { instanceDatabase } from '../../functions/lib/plan-names.js';
import type { RunContext } from '../../functions/lib/types.js';
import {
  ACCOUNT,
  drillWorld,
  type LoggedCall,
  MARKER,
  MUTATING,
  PRIMARY,
  PRIMARY_ARN,
  PRIMARY_ENDPOINT,
  RECOVERY,
  ZONE,
  ZONE_ID,
} from '../helpers/drill-world.js';

const RUN_ID = 'drill-2030-05-01-1000';
const run: RunContext = {
  runId: RUN_ID,
  executionArn: `arn:aws:states:${RECOVERY}:${ACCOUNT}:execution:lifeboat-orders-dr:${RUN_ID}`,
  planName: 'orders-dr',
  mode: 'drill',
  trigger: 'schedule',
  startedAt: '2030-05-01T10:00:00.000Z',
  account: ACCOUNT,
  primaryRegion: PRIMARY,
  recoveryRegion: RECOVERY,
  targetRtoSeconds: 900,
};
const unit = parsePlan({
  name: 'orders-dr',
  account: ACCOUNT,
  primaryRegion: PRIMARY,
  recoveryRegion: RECOVERY,
  targetRtoSeconds: 900,
  units: [
    {
      name: 'orders',
      secret: { id: 'orders/db' },
      database: {
        engine: 'postgres',
        primaryInstanceId: 'orders-db',
        replicaInstanceId: 'orders-db-replica',
      },
      dns: { hostedZoneId: ZONE_ID, recordName: `orders-db.${ZONE}`, ttl: 5 },
      rotation: { lambdaArn: `arn:aws:lambda:${RECOVERY}:${ACCOUNT}:function:orders-rotation`, schedule: 30 },
    },
  ],
}).units[0] as UnitPlan;
const names = drillNames(RUN_ID, 'orders');
const drillRecord = `${names.instanceId}.${ZONE}`;
const ownerRecord = `${names.ownerLabel}.${ZONE}`;

/** Production's identifiers: no mutating call may name one (the replica's source is the one sanctioned reference). */
const PRODUCTION_IDS = ['orders-db-replica', 'orders/db', `orders-db.${ZONE}`, 'orders-db'];

function mutatingCalls(calls: readonly LoggedCall[]) {
  return calls.filter((c) => MUTATING.test(c.command));
}

/** Every identifier a call names as its target (never its source). */
function targets(call: LoggedCall): string[] {
  const i = call.input as Record<string, unknown>;
  const out: string[] = [];
  for (const key of ['DBInstanceIdentifier', 'SecretId', 'Name', 'ResourceName']) {
    if (typeof i[key] === 'string') out.push(i[key] as string);
  }
  const batch = i.ChangeBatch as { Changes?: { ResourceRecordSet?: { Name?: string } }[] } | undefined;
  for (const change of batch?.Changes ?? []) out.push(String(change.ResourceRecordSet?.Name ?? ''));
  return out;
}

function assertProductionUntouched(calls: readonly LoggedCall[]) {
  for (const call of mutatingCalls(calls)) {
    for (const target of targets(call)) {
      const bare = target.replace(/\.$/, '').replace(/^arn:.*:secret:/, '');
      expect(PRODUCTION_IDS, `${call.command} names ${target}`).not.toContain(bare);
      expect(bare.startsWith('lifeboat-drill'), `${call.command} names ${target}`).toBe(true);
    }
    if (call.command === 'CreateDBInstanceReadReplica') {
      expect(call.input.SourceDBInstanceIdentifier).toBe(PRIMARY_ARN);
    }
  }
}

async function caught(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('drillNames', () => {
  it('names every copy after the run and the unit, within the 63 characters RDS and DNS allow', () => {
    // Act
    const long = drillNames('x'.repeat(80), `a${'b'.repeat(39)}`);
    const alike = drillNames(RUN_ID, `${'a'.repeat(38)}-1`);
    const other = drillNames(RUN_ID, `${'a'.repeat(38)}-2`);
    const odd = drillNames(RUN_ID, 'orders--eu-');

    // Assess
    expect(names.instanceId).toMatch(/^lifeboat-drill-[0-9a-f]{8}-orders$/);
    expect(names.secretName).toMatch(/^lifeboat-drill\/[0-9a-f]{8}-orders$/);
    expect(names.ownerLabel).toMatch(/^lifeboat-drill-owner-[0-9a-f]{8}-orders$/);
    for (const n of [names, long, alike, other, odd]) {
      for (const id of [n.instanceId, n.ownerLabel]) {
        expect(id.length).toBeLessThanOrEqual(63);
        // RDS: a letter first, letters, digits and hyphens, no double or trailing hyphen.
        expect(id).toMatch(/^[a-z](?!.*--)[a-z0-9-]*[a-z0-9]$/);
      }
    }
    expect(alike.instanceId).not.toBe(other.instanceId);
    expect(drillNames('another-run', 'orders').instanceId).not.toBe(names.instanceId);
    expect(drillNames(RUN_ID, 'orders')).toEqual(names);
  });
});

describe('prepareDrillCopies', () => {
  it('makes a replica of the primary, a drill secret replicated to the recovery Region and a drill CNAME, all tagged with the run', async () => {
    // Prepare
    const world = drillWorld();

    // Act
    const result = await prepareDrillCopies(world.deps, { run, unit });

    // Assess
    expect(result.outcome).toBe('changed');
    expect(result.resources.map((r) => [r.kind, r.status])).toEqual([
      ['db-instance', 'created'],
      ['dns-records', 'created'],
      ['primary-secret', 'created'],
      ['replica-secret', 'created'],
    ]);
    const create = world.calls.find((c) => c.command === 'CreateDBInstanceReadReplica');
    expect(create?.region).toBe(RECOVERY);
    expect(create?.input).toMatchObject({
      DBInstanceIdentifier: names.instanceId,
      SourceDBInstanceIdentifier: PRIMARY_ARN,
      DBInstanceClass: 'db.r6g.large',
      DBSubnetGroupName: 'orders-db-subnets',
      VpcSecurityGroupIds: ['sg-0123456789abcdef0'],
      KmsKeyId: expect.stringContaining(`:kms:${RECOVERY}:`),
      MultiAZ: false,
      DeletionProtection: false,
      Tags: [
        { Key: DRILL_TAG, Value: RUN_ID },
        { Key: 'lifeboat:plan', Value: 'orders-dr' },
        { Key: 'lifeboat:unit', Value: 'orders' },
      ],
    });
    const secret = world.calls.find((c) => c.command === 'CreateSecret');
    expect(secret?.region).toBe(PRIMARY);
    expect(secret?.input).toMatchObject({
      Name: names.secretName,
      AddReplicaRegions: [{ Region: RECOVERY }],
      Tags: expect.arrayContaining([{ Key: DRILL_TAG, Value: RUN_ID }]),
    });
    // Production's credentials, pointed at the drill record.
    expect(JSON.parse(String(secret?.input.SecretString))).toEqual({
      ...JSON.parse(world.productionValue),
      host: drillRecord,
    });
    expect(world.records.find((r) => r.Name === `${drillRecord}.`)?.ResourceRecords).toEqual([
      { Value: PRIMARY_ENDPOINT },
    ]);
    expect(world.records.find((r) => r.Name === `${ownerRecord}.`)?.ResourceRecords).toEqual([
      { Value: ownerValue(RUN_ID) },
    ]);
    expect(result.drillUnit).toEqual({
      ...unit,
      secret: { id: names.secretName },
      database: { ...unit.database, replicaInstanceId: names.instanceId },
      dns: { ...unit.dns, recordName: drillRecord, strategy: 'cname' },
    });
    assertProductionUntouched(world.calls);
  });

  it('keeps the secret value inside the function: not in the result, not in the log', async () => {
    // Prepare
    const world = drillWorld();
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });

    // Act
    let result: Awaited<ReturnType<typeof prepareDrillCopies>>;
    try {
      result = await prepareDrillCopies(world.deps, { run, unit });
    } finally {
      spy.mockRestore();
    }

    // Assess
    expect(JSON.stringify(result)).not.toContain(MARKER);
    expect(out.join('')).toContain('drill copies ready');
    expect(out.join('')).not.toContain(MARKER);
  });

  it('finds its own copies on a second call and makes nothing new', async () => {
    // Prepare
    const world = drillWorld();
    await prepareDrillCopies(world.deps, { run, unit });
    const before = mutatingCalls(world.calls).length;

    // Act
    const again = await prepareDrillCopies(world.deps, { run, unit });

    // Assess
    expect(again.outcome).toBe('already-done');
    expect(again.resources.every((r) => r.status === 'reused')).toBe(true);
    expect(mutatingCalls(world.calls)).toHaveLength(before);
    expect(instanceDatabase(again.drillUnit, 'this test').replicaInstanceId).toBe(names.instanceId);
  });

  it.each([
    [
      'a DB instance',
      (w: ReturnType<typeof drillWorld>) =>
        w.instances[RECOVERY].set(names.instanceId, {
          DBInstanceIdentifier: names.instanceId,
          DBInstanceStatus: 'available',
          TagList: [{ Key: 'team', Value: 'payments' }],
        }),
    ],
    [
      'a secret of another run',
      (w: ReturnType<typeof drillWorld>) =>
        w.secrets[PRIMARY].set(names.secretName, {
          name: names.secretName,
          arn: `arn:aws:secretsmanager:${PRIMARY}:${ACCOUNT}:secret:${names.secretName}-AAAAAA`,
          tags: [{ Key: DRILL_TAG, Value: 'another-run' }],
          replicas: new Map(),
        }),
    ],
    [
      'a CNAME without an owner record',
      (w: ReturnType<typeof drillWorld>) =>
        w.records.push({
          Name: `${drillRecord}.`,
          Type: 'CNAME',
          TTL: 60,
          ResourceRecords: [{ Value: 'x.example.com' }],
        }),
    ],
  ])('refuses to adopt %s it did not make', async (_, plant) => {
    // Prepare
    const world = drillWorld();
    plant(world);

    // Act
    const error = await caught(prepareDrillCopies(world.deps, { run, unit }));

    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain('never adopts');
    expect(mutatingCalls(world.calls).filter((c) => c.command.startsWith('Delete'))).toEqual([]);
  });

  it('refuses to run when the production replica is no longer a replica (the plan is failed over)', async () => {
    // Prepare
    const world = drillWorld();
    const replica = world.instances[RECOVERY].get('orders-db-replica');
    if (replica) replica.ReadReplicaSourceDBInstanceIdentifier = undefined;

    // Act
    const error = await caught(prepareDrillCopies(world.deps, { run, unit }));

    // Assess
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error.message).toContain('failed over already');
    expect(mutatingCalls(world.calls)).toEqual([]);
  });

  it('says only the error name when CreateSecret fails: nothing of the value rides along', async () => {
    // Prepare
    const world = drillWorld();
    world.failures.set('CreateSecret', 'AccessDeniedException');

    // Act
    const error = await caught(prepareDrillCopies(world.deps, { run, unit }));

    // Assess
    expect(error).toBeInstanceOf(AwsCallFailedError);
    expect(error.message).toContain('AccessDeniedException');
    expect(error.cause).toBeUndefined();
    expect(JSON.stringify({ message: error.message, stack: error.stack })).not.toContain(MARKER);
  });

  it('refuses outside drill mode', async () => {
    // Prepare
    const world = drillWorld();

    // Act
    const error = await caught(prepareDrillCopies(world.deps, { run: { ...run, mode: 'failover' }, unit }));

    // Assess
    expect(error).toBeInstanceOf(InputInvalidError);
    expect(world.calls).toEqual([]);
  });
});

describe('checkDrillCopies', () => {
  async function prepared(status = 'creating', replication: 'InSync' | 'InProgress' | 'Failed' = 'InSync') {
    const world = drillWorld();
    world.settings.newInstanceStatus = status;
    world.settings.replicaStatus = replication;
    const { drillUnit } = await prepareDrillCopies(world.deps, { run, unit });
    return { world, drillUnit };
  }

  it('waits 30 s while the replica is created, 2 s for the secret, and is done when both are ready', async () => {
    // Prepare
    const creating = await prepared('creating', 'InProgress');
    const secretOnly = await prepared('available', 'InProgress');
    const ready = await prepared('available', 'InSync');

    // Act
    const [a, b, c] = await Promise.all([
      checkDrillCopies(creating.world.deps, { run, unit: creating.drillUnit, attempt: 1 }),
      checkDrillCopies(secretOnly.world.deps, { run, unit: secretOnly.drillUnit, attempt: 1 }),
      checkDrillCopies(ready.world.deps, { run, unit: ready.drillUnit, attempt: 3 }),
    ]);

    // Assess
    expect(a).toMatchObject({ done: false, status: 'creating/InProgress', waitSeconds: 30 });
    expect(b).toMatchObject({ done: false, status: 'available/InProgress', waitSeconds: 2 });
    expect(c).toMatchObject({
      done: true,
      waitSeconds: 0,
      detail: { instance: names.instanceId, attempt: 3 },
    });
    // The secret's status comes from its primary, in the primary Region.
    expect(ready.world.calls.filter((x) => x.command === 'DescribeSecret').at(-2)?.region).toBe(PRIMARY);
    expect(
      mutatingCalls(ready.world.calls).filter(
        (x) =>
          x.command !== 'CreateDBInstanceReadReplica' &&
          x.command !== 'ChangeResourceRecordSets' &&
          x.command !== 'CreateSecret',
      ),
    ).toEqual([]);
  });

  it('stops the drill when the secret replication failed or the replica is in a dead-end status', async () => {
    // Prepare
    const failed = await prepared('available', 'Failed');
    const dead = await prepared('incompatible-parameters', 'InSync');

    // Act
    const [e1, e2] = await Promise.all([
      caught(checkDrillCopies(failed.world.deps, { run, unit: failed.drillUnit, attempt: 1 })),
      caught(checkDrillCopies(dead.world.deps, { run, unit: dead.drillUnit, attempt: 1 })),
    ]);

    // Assess
    expect(e1).toBeInstanceOf(ConfigurationError);
    expect(e1.message).toContain('replication of drill secret');
    expect(e2).toBeInstanceOf(ConfigurationError);
    expect(e2.message).toContain('incompatible-parameters');
  });
});

describe('cleanUpDrillCopies', () => {
  /** The resource a call is about: a DB instance id, a secret name (from a name or an ARN), or a drill record name. */
  function resourceKey(call: LoggedCall): string {
    const i = call.input as Record<string, unknown>;
    if (typeof i.DBInstanceIdentifier === 'string') return i.DBInstanceIdentifier;
    if (typeof i.SecretId === 'string') {
      // A secret's ARN is its name and six random characters.
      return i.SecretId.startsWith('arn:')
        ? i.SecretId.replace(/^arn:.*:secret:/, '').slice(0, -7)
        : i.SecretId;
    }
    if (call.service === 'route53') return 'records';
    return '';
  }

  /** Each delete, and whether the same resource was read earlier in the same pass (where the tag is checked). */
  function deletesWithCheck(calls: readonly LoggedCall[]) {
    return calls.flatMap((call, i) => {
      const deleting =
        call.command.startsWith('Delete') ||
        call.command === 'RemoveRegionsFromReplication' ||
        (call.command === 'ChangeResourceRecordSets' &&
          (call.input.ChangeBatch as { Changes: { Action: string }[] }).Changes.some(
            (c) => c.Action === 'DELETE',
          ));
      if (!deleting) return [];
      const before = calls.slice(0, i);
      const pass = before.slice(before.map((c) => c.command).lastIndexOf('GetHostedZone'));
      const checked = pass.some((c) =>
        call.service === 'route53'
          ? c.command === 'ListResourceRecordSets' && c.input.StartRecordType === 'TXT'
          : c.region === call.region &&
            ['DescribeDBInstances', 'DescribeSecret'].includes(c.command) &&
            resourceKey(c) === resourceKey(call),
      );
      return [{ command: call.command, target: resourceKey(call), region: call.region, checked }];
    });
  }

  it('deletes every copy after a drill, each only after reading its tag, and never a production resource', async () => {
    // Prepare
    const world = drillWorld();
    world.settings.newInstanceStatus = 'available';
    const { drillUnit } = await prepareDrillCopies(world.deps, { run, unit });
    // The failover steps promoted the drill secret's replica.
    const replica = world.secrets[RECOVERY].get(names.secretName);
    if (replica) replica.primaryRegion = undefined;
    world.secrets[PRIMARY].get(names.secretName)?.replicas.delete(RECOVERY);
    const start = world.calls.length;

    // Act
    const result = await cleanUpDrillCopies(world.deps, { run, unit: drillUnit, attempt: 1 });

    // Assess
    expect(result.done).toBe(true);
    expect(result.status).toBe('clean');
    expect(result.resources.map((r) => [r.kind, r.status])).toEqual([
      ['db-instance', 'deleted'],
      ['dns-records', 'deleted'],
      ['primary-secret', 'deleted'],
      ['replica-secret', 'deleted'],
    ]);
    expect(result.remaining).toEqual([]);
    const passCalls = world.calls.slice(start);
    const deletes = deletesWithCheck(passCalls);
    expect(deletes.map((d) => d.command).sort()).toEqual([
      'ChangeResourceRecordSets',
      'DeleteDBInstance',
      'DeleteSecret',
      'DeleteSecret',
    ]);
    console.log(
      'DELETES',
      JSON.stringify(deletes),
      JSON.stringify(
        passCalls.map((c) => [c.command, c.region, c.input.SecretId ?? c.input.DBInstanceIdentifier]),
      ),
    );
    expect(deletes.every((d) => d.checked)).toBe(true);
    expect(passCalls.find((c) => c.command === 'DeleteDBInstance')?.input).toEqual({
      DBInstanceIdentifier: names.instanceId,
      SkipFinalSnapshot: true,
      DeleteAutomatedBackups: true,
    });
    expect(
      passCalls.filter((c) => c.command === 'DeleteSecret').map((c) => c.input.ForceDeleteWithoutRecovery),
    ).toEqual([true, true]);
    // The drill records are gone, production's record is as it was.
    expect(world.records.map((r) => r.Name)).toEqual([`orders-db.${ZONE}.`]);
    expect(world.records[0]?.ResourceRecords).toEqual([{ Value: PRIMARY_ENDPOINT }]);
    expect(world.instances[RECOVERY].get('orders-db-replica')?.ReadReplicaSourceDBInstanceIdentifier).toBe(
      PRIMARY_ARN,
    );
    assertProductionUntouched(world.calls);
  });

  it('removes an unpromoted replica from its primary first (a primary with replicas cannot be deleted), then finishes on the next pass', async () => {
    // Prepare
    const world = drillWorld();
    await prepareDrillCopies(world.deps, { run, unit });

    // Act
    const first = await cleanUpDrillCopies(world.deps, { run, unit, attempt: 1 });
    const second = await cleanUpDrillCopies(world.deps, { run, unit, attempt: 2 });

    // Assess
    const remove = world.calls.find((c) => c.command === 'RemoveRegionsFromReplication');
    expect(remove).toMatchObject({ region: PRIMARY, input: { RemoveReplicaRegions: [RECOVERY] } });
    const order = world.calls.map((c) => c.command);
    expect(order.indexOf('RemoveRegionsFromReplication')).toBeLessThan(order.indexOf('DeleteSecret'));
    expect([first.done, second.done]).toEqual([true, true]);
    expect(world.secrets[PRIMARY].has(names.secretName)).toBe(false);
    expect(world.secrets[RECOVERY].has(names.secretName)).toBe(false);
    expect(second.resources.every((r) => r.status === 'absent' || r.status === 'deleting')).toBe(true);
  });

  it('cleans up what a prepare that failed half-way made, from the run and the unit name alone', async () => {
    // Prepare
    const world = drillWorld();
    world.failures.set('CreateSecret', 'AccessDeniedException');
    await caught(prepareDrillCopies(world.deps, { run, unit }));

    // Act
    const result = await cleanUpDrillCopies(world.deps, { run, unit, attempt: 1 });

    // Assess
    expect(result.done).toBe(true);
    expect(Object.fromEntries(result.resources.map((r) => [r.kind, r.status]))).toEqual({
      'db-instance': 'deleted',
      'dns-records': 'deleted',
      'primary-secret': 'absent',
      'replica-secret': 'absent',
    });
    expect(world.instances[RECOVERY].get(names.instanceId)?.DBInstanceStatus).toBe('deleting');
    assertProductionUntouched(world.calls);
  });

  it('finishes the job when run again after a crash, and a run with nothing left makes no mutating call', async () => {
    // Prepare
    const world = drillWorld();
    world.settings.newInstanceStatus = 'available';
    await prepareDrillCopies(world.deps, { run, unit });
    // A first cleanup that crashed after deleting the records.
    world.failures.set('DescribeSecret', 'ServiceUnavailable');
    await caught(cleanUpDrillCopies(world.deps, { run, unit, attempt: 1 }));

    // Act
    await cleanUpDrillCopies(world.deps, { run, unit, attempt: 1 });
    await cleanUpDrillCopies(world.deps, { run, unit, attempt: 2 });
    const before = mutatingCalls(world.calls).length;
    const last = await cleanUpDrillCopies(world.deps, { run, unit, attempt: 3 });

    // Assess
    expect(last.done).toBe(true);
    expect(last.status).toBe('clean');
    expect(mutatingCalls(world.calls)).toHaveLength(before);
    expect(world.secrets[PRIMARY].has(names.secretName)).toBe(false);
    expect(world.records.map((r) => r.Name)).toEqual([`orders-db.${ZONE}.`]);
    expect(world.instances[RECOVERY].get(names.instanceId)?.DBInstanceStatus).toBe('deleting');
  });

  it('leaves alone a copy whose tag is not this run, and says so', async () => {
    // Prepare
    const world = drillWorld();
    await prepareDrillCopies(world.deps, { run, unit });
    const instance = world.instances[RECOVERY].get(names.instanceId);
    if (instance) instance.TagList = [{ Key: DRILL_TAG, Value: 'another-run' }];
    const owner = world.records.find((r) => r.Name === `${ownerRecord}.`);
    if (owner) owner.ResourceRecords = [{ Value: ownerValue('another-run') }];

    // Act
    const result = await cleanUpDrillCopies(world.deps, { run, unit, attempt: 1 });

    // Assess
    expect(world.calls.some((c) => c.command === 'DeleteDBInstance')).toBe(false);
    expect(
      world.calls.some(
        (c) => c.command === 'ChangeResourceRecordSets' && JSON.stringify(c.input).includes('"DELETE"'),
      ),
    ).toBe(false);
    expect(result.remaining.map((r) => [r.kind, r.status])).toEqual([
      ['db-instance', 'refused'],
      ['dns-records', 'refused'],
    ]);
    expect(result.done).toBe(true);
    expect(result.status).toBe('refused-some');
  });

  it('waits for a busy instance instead of failing, and deletes it on a later pass', async () => {
    // Prepare
    const world = drillWorld();
    await prepareDrillCopies(world.deps, { run, unit });
    const instance = world.instances[RECOVERY].get(names.instanceId);
    if (instance) instance.DBInstanceStatus = 'modifying';

    // Act
    const busy = await cleanUpDrillCopies(world.deps, { run, unit, attempt: 1 });
    if (instance) instance.DBInstanceStatus = 'available';
    const later = await cleanUpDrillCopies(world.deps, { run, unit, attempt: 2 });

    // Assess
    expect(busy.done).toBe(false);
    expect(busy.waitSeconds).toBe(10);
    expect(busy.remaining.map((r) => r.kind)).toEqual(['db-instance']);
    expect(later.done).toBe(true);
    expect(later.resources[0]?.status).toBe('deleted');
  });

  it('refuses outside drill mode, before any call', async () => {
    // Prepare
    const world = drillWorld();

    // Act
    const error = await caught(
      cleanUpDrillCopies(world.deps, { run: { ...run, mode: 'failover' }, unit, attempt: 1 }),
    );

    // Assess
    expect(error).toBeInstanceOf(InputInvalidError);
    expect(world.calls).toEqual([]);
  });
});
