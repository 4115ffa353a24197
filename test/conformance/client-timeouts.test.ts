import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ListResourceRecordSetsCommand } from '@aws-sdk/client-route-53';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clientsFor, resetClients, SDK_MAX_ATTEMPTS, SDK_TIMEOUTS } from '../../functions/lib/clients.js';
import { TIMEOUT_SCALE_ENV } from '../../functions/lib/env.js';
import { toLifeboatError } from '../../functions/lib/errors.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';
import '../fixtures/all-sdk-clients.js';

/**
 * Issue 9, item 2: the emulator's `hang` fault accepts a request and never answers, like a control plane in an
 * impaired Region; lifeboat's clients (functions/lib/clients.ts) give up within their bound and the error is
 * transient. Not an AWS behaviour moto models, so it runs against the emulator only. docs/design/timeouts.md.
 */

const REGION = 'us-west-2';
/** The SDK's transient backoff between attempts is at most 50 ms, then 100 ms; allow for a loaded machine. */
const SLACK_MS = 1_500;

let emulator: Emulator;
const saved = { ...process.env };

beforeAll(async () => {
  // timeFactor 1: `latencyMs` below is real milliseconds.
  emulator = await startEmulator({ timeFactor: 1, seed: 3 });
  Object.assign(process.env, emulator.env());
  await emulator.seed.dynamoTable({ region: REGION, name: 'locks', partitionKey: 'planName' });
});

afterAll(async () => {
  process.env = saved;
  resetClients();
  await emulator?.close();
});

afterEach(() => {
  emulator.faults.clear();
  delete process.env[TIMEOUT_SCALE_ENV];
  resetClients();
});

async function timed<T>(call: () => Promise<T>): Promise<{ ms: number; error?: unknown; value?: T }> {
  const started = Date.now();
  try {
    const value = await call();
    return { ms: Date.now() - started, value };
  } catch (error) {
    return { ms: Date.now() - started, error };
  }
}

const listRecords = () =>
  clientsFor(REGION).route53.send(new ListResourceRecordSetsCommand({ HostedZoneId: 'ZNONE' }));

describe('clients against a hanging endpoint', () => {
  it('Route 53 that never answers: 3 attempts of the request timeout, then TimeoutError, sorted transient', async () => {
    // Prepare: the deployed timeouts x 0.02 (a 10 s attempt becomes 200 ms)
    process.env[TIMEOUT_SCALE_ENV] = '0.02';
    const hang = emulator.faults.route53Down('hang');
    const from = emulator.calls.length;

    // Act
    const { ms, error } = await timed(listRecords);

    // Assess
    const attemptMs = SDK_TIMEOUTS.route53.requestTimeoutMs * 0.02;
    expect((error as Error)?.name).toBe('TimeoutError');
    expect(ms).toBeGreaterThanOrEqual(SDK_MAX_ATTEMPTS * attemptMs);
    expect(ms).toBeLessThan(SDK_MAX_ATTEMPTS * attemptMs + SLACK_MS);
    expect(hang.matched).toBe(SDK_MAX_ATTEMPTS);
    const calls = emulator.calls.slice(from);
    expect(calls.map((c) => [c.action, c.fault, c.status, c.applied])).toEqual(
      Array(SDK_MAX_ATTEMPTS).fill(['ListResourceRecordSets', 'hang', 0, false]),
    );
    const ours = toLifeboatError(error, 'ListResourceRecordSets on ZNONE');
    expect(ours.name).toBe('TransientAwsError');
    expect(ours.message).toContain('TimeoutError');
  });

  it('an answer later than the request timeout is a timeout too; one within it is a normal answer', async () => {
    // Prepare
    process.env[TIMEOUT_SCALE_ENV] = '0.02';
    const late = emulator.faults.add({ match: { service: 'route53' }, latencyMs: 1_000 });

    // Act
    const slow = await timed(listRecords);
    late.remove();
    emulator.faults.add({ match: { service: 'route53' }, latencyMs: 50 });
    const inTime = await timed(listRecords);

    // Assess: 1 s is past the 200 ms attempt; 50 ms is not (the zone does not exist: the service's own answer)
    expect((slow.error as Error)?.name).toBe('TimeoutError');
    expect((inTime.error as Error)?.name).toBe('NoSuchHostedZone');
  });

  it('with the deployed values unscaled, a hung DynamoDB call gives up after 3 x 3 s', async () => {
    // Prepare
    emulator.faults.add({ match: { service: 'dynamodb' }, always: 'hang' });

    // Act
    const { ms, error } = await timed(() =>
      clientsFor(REGION).dynamodb.send(
        new GetItemCommand({ TableName: 'locks', Key: { planName: { S: 'p' } }, ConsistentRead: true }),
      ),
    );

    // Assess
    expect((error as Error)?.name).toBe('TimeoutError');
    expect(ms).toBeGreaterThanOrEqual(9_000);
    expect(ms).toBeLessThan(9_000 + SLACK_MS);
  }, 20_000);

  it('closing the emulator ends the connections it left unanswered', async () => {
    // Prepare
    process.env[TIMEOUT_SCALE_ENV] = '1';
    const other = await startEmulator({ timeFactor: 1 });
    other.faults.route53Down('hang');
    process.env.LIFEBOAT_AWS_ENDPOINT = other.endpoint;
    const pending = timed(listRecords);
    while (other.calls.length === 0) await new Promise((r) => setTimeout(r, 10));

    // Act
    await other.close();
    const { ms, error } = await pending;
    process.env.LIFEBOAT_AWS_ENDPOINT = emulator.endpoint;

    // Assess: the socket is destroyed (then the retries find nothing listening), long before a 10 s attempt ends
    expect(error).toBeDefined();
    expect(ms).toBeLessThan(5_000);
  });
});
