import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
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

/** One unit whose CNAME (in a zone of its own) points at its old primary, and its promoted replica. */
function oneUnit(): UnitStepInput {
  units += 1;
  const name = `t${units}`;
  const zoneName = `table${units}.example.internal`;
  const { id } = emulator.seed.hostedZone({
    name: zoneName,
    records: [{ name: `${name}.${zoneName}`, type: 'CNAME', ttl: 30, values: [`${name}-old.example.com`] }],
  });
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
});
