import { RDSClient } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeInstances, IDS_PER_CALL } from '../../functions/lib/rds-fleet.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';

let emulator: Emulator;
let rds: RDSClient;
const REGION = 'us-west-2';

beforeAll(async () => {
  emulator = await startEmulator({ timeFactor: 0.001 });
  rds = new RDSClient({ ...emulator.clientConfig(REGION), maxAttempts: 1 });
  for (let i = 0; i < 250; i += 1) {
    emulator.seed.dbInstance({
      region: REGION,
      id: `unit-${i}-replica`,
      status: i % 2 ? 'modifying' : 'available',
    });
  }
});
afterAll(() => emulator?.close());

describe('describeInstances', () => {
  it('reads 250 instances in 3 calls (a filter of 100 ids each), not 250', async () => {
    // Prepare
    const ids = Array.from({ length: 250 }, (_, i) => `unit-${i}-replica`);
    emulator.clearCalls();
    // Act
    const found = await describeInstances(rds, ids);
    // Assess
    const calls = emulator.calls.filter((c) => c.action === 'DescribeDBInstances');
    expect(calls).toHaveLength(Math.ceil(250 / IDS_PER_CALL));
    expect(found.size).toBe(250);
    expect(found.get('unit-7-replica')?.DBInstanceStatus).toBe('modifying');
    expect(found.get('unit-8-replica')?.DBInstanceStatus).toBe('available');
  });

  it('leaves out an instance that does not exist, keys by the id as given, and asks once per id', async () => {
    // Prepare
    emulator.clearCalls();
    // Act
    const found = await describeInstances(rds, ['UNIT-1-replica', 'unit-1-replica', 'gone-replica']);
    // Assess
    expect([...found.keys()].sort()).toEqual(['unit-1-replica']);
    expect(emulator.calls.filter((c) => c.action === 'DescribeDBInstances')).toHaveLength(1);
  });
});
