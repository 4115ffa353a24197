import { RDSClient } from '@aws-sdk/client-rds';
import { GetChangeCommand, Route53Client } from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateDns } from '../../functions/lib/dns/update.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';
import {
  ACCOUNT,
  caught,
  RECORD_NAME,
  RECOVERY,
  REPLICA_ID,
  stepInput,
  ZONE_ID,
  ZONE_NAME,
} from '../fixtures/db-fixtures.js';

/**
 * Two units whose records share a hosted zone, changed one right after the other, with Route 53's per-zone
 * serialization on in the emulator (docs/aws/route53-changes.md, "PriorRequestNotComplete"): the second UpdateDns
 * fails as TransientAwsError, which the state machine retries (TRANSIENT_RETRY), and succeeds once the zone is free.
 */
let emulator: Emulator;
let route53: Route53Client;
let rds: RDSClient;
const OTHER_RECORD = `reports-db.${ZONE_NAME}`;

beforeAll(async () => {
  // A change is PENDING 20 emulated s = 2 real s: longer than the second UpdateDns's reads on a loaded machine.
  emulator = await startEmulator({ timeFactor: 0.1, accountId: ACCOUNT, route53SerializeChanges: true });
  // No SDK retries: the step's own error is what the state machine sees once the SDK's attempts are spent.
  route53 = new Route53Client({ ...emulator.clientConfig('us-east-1'), maxAttempts: 1 });
  rds = new RDSClient({ ...emulator.clientConfig(RECOVERY), maxAttempts: 1 });
  emulator.seed.dbInstance({ region: RECOVERY, id: REPLICA_ID });
  emulator.seed.hostedZone({
    id: ZONE_ID,
    name: ZONE_NAME,
    records: [
      { name: RECORD_NAME, type: 'CNAME', ttl: 5, values: ['orders-db.primary.example.com'] },
      { name: OTHER_RECORD, type: 'CNAME', ttl: 5, values: ['reports-db.primary.example.com'] },
    ],
  });
});
afterAll(() => emulator?.close());

describe('UpdateDns in a zone that is busy with another unit’s change', () => {
  it('is a TransientAwsError naming PriorRequestNotComplete, and succeeds once the prior change is INSYNC', async () => {
    // Prepare
    const first = await updateDns({ rds, route53 }, stepInput());
    const changeId = String(first.detail?.changeId);
    const other = stepInput({ dns: { recordName: OTHER_RECORD } });

    // Act
    const error = (await caught(updateDns({ rds, route53 }, other))) as Error;
    for (;;) {
      const out = await route53.send(new GetChangeCommand({ Id: changeId }));
      if (out.ChangeInfo?.Status === 'INSYNC') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const retried = await updateDns({ rds, route53 }, other);

    // Assess
    expect(first.outcome).toBe('changed');
    expect(error.name).toBe('TransientAwsError');
    expect(error.message).toMatch(/PriorRequestNotComplete/);
    expect(retried.outcome).toBe('changed');
    expect(retried.detail?.changeId).toMatch(/^(\/change\/)?C/);
  });
});
