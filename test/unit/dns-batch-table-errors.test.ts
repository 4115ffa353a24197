import { CreateTableCommand, DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ZoneBatchConfig } from '../../functions/lib/dns/change.js';
import { updateDns } from '../../functions/lib/dns/update.js';
import { instanceDatabase } from '../../functions/lib/plan-names.js';
import type { UnitStepInput } from '../../functions/lib/types.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';
import { stepInput } from '../fixtures/db-fixtures.js';

/**
 * UpdateDns when the lock table does not take the unit's registration for its zone batch (functions/lib/dns/update.ts,
 * docs/design/fleet.md "DNS: one batch per zone"): a throttled or failing table is the step's retry, never a change
 * sent alone on a zone that takes one change at a time; a table that is not there (a configuration the batch cannot
 * use) still lets the unit send its own change.
 */
const REGION = 'us-west-2';
const TABLE = 'lifeboat-test-lock';
let emulator: Emulator;
let route53: Route53Client;
let rds: RDSClient;
let dynamodb: DynamoDBClient;
let units = 0;

beforeAll(async () => {
  emulator = await startEmulator({ timeFactor: 0.05, route53SerializeChanges: true });
  route53 = new Route53Client({ ...emulator.clientConfig('us-east-1'), maxAttempts: 1 });
  rds = new RDSClient({ ...emulator.clientConfig(REGION), maxAttempts: 1 });
  dynamodb = new DynamoDBClient({ ...emulator.clientConfig(REGION), maxAttempts: 1 });
  await dynamodb.send(
    new CreateTableCommand({
      TableName: TABLE,
      KeySchema: [{ AttributeName: 'planName', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'planName', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
});
afterAll(() => emulator?.close());

/** One unit whose CNAME (in a zone of its own, or `zone`) points at its old primary, and its promoted replica. */
function oneUnit(zone?: { id: string; name: string }): UnitStepInput {
  units += 1;
  const name = `t${units}`;
  const zoneName = zone?.name ?? `table${units}.example.internal`;
  const record = { name: `${name}.${zoneName}`, type: 'CNAME', ttl: 30, values: [`${name}-old.example.com`] };
  if (zone)
    emulator.seed.record(zone.id, { name: record.name, type: 'CNAME', ttl: 30, values: record.values });
  const { id } = zone ?? emulator.seed.hostedZone({ name: zoneName, records: [record] });
  emulator.seed.dbInstance({ region: REGION, id: `${name}-replica` });
  const base = stepInput();
  return {
    run: { ...base.run, runId: `run-${units}` },
    unit: {
      ...base.unit,
      name,
      database: { ...instanceDatabase(base.unit, 'this test'), replicaInstanceId: `${name}-replica` },
      dns: {
        ...base.unit.dns,
        hostedZoneId: id,
        recordName: `${name}.${zoneName}`,
        ttl: 60,
        strategy: 'cname',
      },
    } as UnitStepInput['unit'],
  };
}

const route53Calls = (since: number) =>
  emulator.calls.filter((c) => c.service === 'route53' && c.seq > since).map((c) => c.action);
const lastSeq = () => emulator.calls.at(-1)?.seq ?? 0;

describe('UpdateDns when the lock table does not take the registration', () => {
  it('a throttled table is a TransientAwsError for the step to retry, with no change sent alone', async () => {
    // Prepare
    const input = oneUnit();
    const batch: ZoneBatchConfig = { dynamodb, tableName: TABLE, intervalSeconds: 0.1 };
    const fault = emulator.faults.add({
      match: { service: 'dynamodb', action: 'UpdateItem' },
      always: 'throttle',
    });
    const since = lastSeq();
    // Act
    const failed = await updateDns({ rds, route53, batch }, input).catch((e: Error) => e);
    fault.remove();
    const retried = await updateDns({ rds, route53, batch }, input);
    // Assess
    expect(failed).toMatchObject({ name: 'TransientAwsError' });
    expect((failed as Error).message).toContain('zone batch');
    // Only the retry touched Route 53: its batch's read of the zone and its one change.
    expect(route53Calls(since).filter((a) => a === 'ChangeResourceRecordSets')).toHaveLength(1);
    expect(retried).toMatchObject({ outcome: 'changed', detail: { batch: 'sent', batchSize: 1 } });
  });

  it('a table that is not there lets the unit send its change alone', async () => {
    // Prepare
    const input = oneUnit();
    const batch: ZoneBatchConfig = { dynamodb, tableName: 'no-such-table', intervalSeconds: 0.1 };
    const since = lastSeq();
    // Act
    const result = await updateDns({ rds, route53, batch }, input);
    // Assess: no batch (its detail has none), one change of its own.
    expect(result).toMatchObject({ outcome: 'changed', detail: { previousTtl: 30 } });
    expect(result.detail.batch).toBeUndefined();
    expect(route53Calls(since).filter((a) => a === 'ChangeResourceRecordSets')).toHaveLength(1);
  });

  it('a sender whose lease release is refused twice still gives the zone back: the next unit sends at once', async () => {
    // Prepare: two units of one zone; the table refuses the first two releases of the zone's lease (throttled).
    const first = oneUnit();
    const zone = {
      id: first.unit.dns.hostedZoneId,
      name: first.unit.dns.recordName.split('.').slice(1).join('.'),
    };
    // The same run: a zone's lease is the run's.
    const second = { ...oneUnit(zone), run: first.run };
    let refusals = 2;
    const flaky = new Proxy(dynamodb, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        return async (command: unknown) => {
          const release =
            command instanceof UpdateItemCommand &&
            command.input.ConditionExpression === 'leaseHolder = :holder';
          if (release && refusals > 0) {
            refusals -= 1;
            throw Object.assign(new Error('Rate exceeded'), {
              name: 'ThrottlingException',
              $fault: 'client',
              $metadata: { httpStatusCode: 400 },
            });
          }
          return target.send(command as never);
        };
      },
    }) as DynamoDBClient;
    const batch: ZoneBatchConfig = { dynamodb: flaky, tableName: TABLE, intervalSeconds: 0.1 };
    // Act: the first unit sends its batch of one; the second comes once that change is INSYNC (20 emulated s PENDING,
    // 1 real s: until then the zone takes no other change).
    const sent = await updateDns({ rds, route53, batch }, first);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const next = await updateDns({ rds, route53, batch }, second);
    // Assess: without the release the zone stays leased for UpdateDns's Lambda timeout and the second waits.
    expect(refusals).toBe(0);
    expect(sent).toMatchObject({ outcome: 'changed', detail: { batch: 'sent', batchSize: 1 } });
    expect(next).toMatchObject({ outcome: 'changed', detail: { batch: 'sent', batchSize: 1 } });
  });
});
