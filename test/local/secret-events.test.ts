import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cloudTrailPattern,
  labelUpdatedPattern,
  namesSecret,
  readSecretEvent,
} from '../../functions/lib/secret-feeds/event.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';
import { eventBus } from '../../local/event-bus.js';
import { matchesPattern } from '../../local/event-pattern.js';

/**
 * The emulated Secrets Manager's events (local/emulator/services/secrets-manager.ts, "Events"), delivered through the
 * proving ground's bus to the replicator's rule patterns. The value never travels in an event.
 */

const REGION = 'us-east-1';
const VALUE = 'pw-MARKER-secret-events-never-in-an-event';
const V1 = '11111111-1111-4111-8111-111111111111';
const V2 = '22222222-2222-4222-8222-222222222222';

let emulator: Emulator;
let sm: SecretsManagerClient;
let events: Record<string, unknown>[];
let stop: () => void;

beforeEach(async () => {
  emulator = await startEmulator({ timeFactor: 0.001 });
  sm = new SecretsManagerClient(emulator.clientConfig(REGION));
  events = [];
  stop = emulator.secretsManager.onEvent((e) => events.push(e));
});

afterEach(async () => {
  stop();
  sm.destroy();
  await emulator.close();
});

const kinds = () =>
  events.map((e) =>
    e['detail-type'] === 'Secret Label Updated'
      ? `label ${(e.detail as { labelUpdated: string; versionId: string }).labelUpdated} ${(e.detail as { versionId: string }).versionId}`
      : String((e.detail as { eventName: string }).eventName),
  );

describe('events of the emulated Secrets Manager', () => {
  it('PutSecretValue, a rotation finished by UpdateSecretVersionStage, UpdateSecret: each event the replicator rules match names the secret', async () => {
    // Prepare
    const created = await sm.send(
      new CreateSecretCommand({ Name: 'orders/db', SecretString: 'first', ClientRequestToken: V1 }),
    );
    const arn = created.ARN as string;
    // Act
    await sm.send(
      new PutSecretValueCommand({
        SecretId: 'orders/db',
        SecretString: VALUE,
        ClientRequestToken: V2,
        VersionStages: ['AWSPENDING'],
      }),
    );
    await sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: arn,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: V2,
        RemoveFromVersionId: V1,
      }),
    );
    await sm.send(new UpdateSecretCommand({ SecretId: arn, Description: 'orders' }));
    // Assess
    expect(kinds()).toEqual([
      'PutSecretValue',
      'UpdateSecretVersionStage',
      `label AWSCURRENT ${V2}`,
      'RotationSucceeded',
      'UpdateSecret',
    ]);
    for (const event of events) {
      expect(matchesEither(event, arn), `${String(event['detail-type'])} matches a replicator rule`).toBe(
        true,
      );
      const read = readSecretEvent(event);
      expect('ignored' in read ? read.ignored : read.secretIds.some((id) => namesSecret(id, arn))).toBe(true);
      expect(event.account).toBe(emulator.accountId);
      expect(event.region).toBe(REGION);
    }
    expect(JSON.stringify(events)).not.toContain(VALUE);
    expect(
      (events[0]?.detail as { responseElements?: { versionId?: string } } | undefined)?.responseElements
        ?.versionId,
    ).toBe(V2);
  });

  it('a PutSecretValue that makes a new current version also sends Secret Label Updated; a failed call sends nothing; a read sends nothing', async () => {
    // Prepare
    await sm.send(new CreateSecretCommand({ Name: 'orders/db', SecretString: 'first' }));
    // Act
    await sm.send(
      new PutSecretValueCommand({ SecretId: 'orders/db', SecretString: VALUE, ClientRequestToken: V2 }),
    );
    await sm.send(new GetSecretValueCommand({ SecretId: 'orders/db' }));
    await expect(
      sm.send(
        new PutSecretValueCommand({ SecretId: 'orders/db', SecretString: 'other', ClientRequestToken: V2 }),
      ),
    ).rejects.toMatchObject({ name: 'ResourceExistsException' });
    // Assess
    expect(kinds()).toEqual(['PutSecretValue', `label AWSCURRENT ${V2}`]);
  });

  it('the bus delivers to every rule whose pattern matches, and to none other', async () => {
    // Prepare
    const created = await sm.send(new CreateSecretCommand({ Name: 'orders/db', SecretString: 'first' }));
    const other = await sm.send(new CreateSecretCommand({ Name: 'billing/db', SecretString: 'first' }));
    const bus = eventBus<Record<string, unknown>, string>();
    bus.rule('cloudtrail', cloudTrailPattern(), async (e) =>
      String((e.detail as { eventName: string }).eventName),
    );
    bus.rule('label', labelUpdatedPattern([created.ARN as string]), async () => 'label');
    stop();
    stop = emulator.secretsManager.onEvent((e) => bus.publish(e));
    // Act
    await sm.send(new PutSecretValueCommand({ SecretId: 'orders/db', SecretString: VALUE }));
    await sm.send(new PutSecretValueCommand({ SecretId: other.ARN, SecretString: VALUE }));
    await bus.settled();
    // Assess
    expect(bus.published).toHaveLength(4);
    expect(bus.deliveries.map((d) => `${d.rule}:${d.outcome}`).sort()).toEqual([
      'cloudtrail:PutSecretValue',
      'cloudtrail:PutSecretValue',
      'label:label',
    ]);
  });
});

function matchesEither(event: unknown, arn: string): boolean {
  return matchesPattern(cloudTrailPattern(), event) || matchesPattern(labelUpdatedPattern([arn]), event);
}
