import { afterEach, describe, expect, it } from 'vitest';
import {
  type AwsService,
  clientsFor,
  requestHandlerOptions,
  resetClients,
  SDK_MAX_ATTEMPTS,
  SDK_TIMEOUTS,
  sdkCallBudgetMs,
} from '../../functions/lib/clients.js';
import { TIMEOUT_SCALE_ENV } from '../../functions/lib/env.js';
import { toLifeboatError } from '../../functions/lib/errors.js';
import { awsError } from '../fixtures/aws-error.js';
import '../fixtures/all-sdk-clients.js';

/** Issue 9, item 2: every SDK client has connection and request timeouts, and running out of time is transient. */

const SERVICES = Object.keys(SDK_TIMEOUTS) as AwsService[];

interface HandlerConfig {
  connectionTimeout?: number;
  requestTimeout?: number;
  throwOnRequestTimeout?: boolean;
}

/** The options the client's NodeHttpHandler resolved (it keeps them behind a promise until its first request). */
async function handlerConfig(service: AwsService): Promise<HandlerConfig> {
  const client = clientsFor('us-west-2')[service] as unknown as {
    config: { requestHandler: { configProvider: Promise<HandlerConfig> } };
  };
  return client.config.requestHandler.configProvider;
}

afterEach(() => {
  delete process.env[TIMEOUT_SCALE_ENV];
  resetClients();
});

describe('SDK client timeouts', () => {
  it.each(SERVICES)(
    '%s: the deployed client has its connection and request timeouts, and a breach throws',
    async (service) => {
      // Act
      const config = await handlerConfig(service);

      // Assess
      expect(config.connectionTimeout).toBe(SDK_TIMEOUTS[service].connectionTimeoutMs);
      expect(config.requestTimeout).toBe(SDK_TIMEOUTS[service].requestTimeoutMs);
      expect(config.throwOnRequestTimeout).toBe(true);
    },
  );

  it('uses the deployed values: 10 s per attempt for Route 53, RDS and S3, 5 s for the others, 3 s for DynamoDB', () => {
    // Assess
    expect(Object.fromEntries(SERVICES.map((s) => [s, SDK_TIMEOUTS[s].requestTimeoutMs]))).toEqual({
      route53: 10_000,
      rds: 10_000,
      s3: 10_000,
      secretsManager: 5_000,
      lambda: 5_000,
      sns: 5_000,
      cloudwatch: 5_000,
      sfn: 5_000,
      dynamodb: 3_000,
    });
    expect(SERVICES.every((s) => SDK_TIMEOUTS[s].connectionTimeoutMs === 3_000)).toBe(true);
    // 3 attempts of 10 s, and at most 13 s of backoff (throttling 1 s + 2 s, Retry-After up to 5 s more each).
    expect(SDK_MAX_ATTEMPTS).toBe(3);
    expect(sdkCallBudgetMs('route53')).toBe(43_000);
    expect(sdkCallBudgetMs('dynamodb')).toBe(22_000);
  });

  it('scales the timeouts with LIFEBOAT_TIMEOUT_SCALE, with a client cache per scale', async () => {
    // Prepare
    const deployed = clientsFor('us-west-2').route53;
    process.env[TIMEOUT_SCALE_ENV] = '0.1';

    // Act
    const scaled = clientsFor('us-west-2').route53;
    const config = await handlerConfig('route53');

    // Assess
    expect(scaled).not.toBe(deployed);
    expect(config).toMatchObject({ connectionTimeout: 300, requestTimeout: 1_000 });
    expect(requestHandlerOptions('dynamodb', 0.01)).toEqual({
      connectionTimeout: 30,
      requestTimeout: 30,
      throwOnRequestTimeout: true,
    });
  });

  it('refuses a scale that is not a number in (0, 1], naming the variable', () => {
    for (const bad of ['0', '-1', '1.5', 'fast']) {
      // Prepare
      process.env[TIMEOUT_SCALE_ENV] = bad;
      // Act / Assess
      expect(() => clientsFor('us-west-2')).toThrow(`environment variable ${TIMEOUT_SCALE_ENV} must be`);
    }
  });
});

describe('running out of time is a transient error, by name', () => {
  it.each([
    // The SDK's own: node-http-handler names connection, request and socket timeouts TimeoutError.
    ['TimeoutError', awsError('TimeoutError', { status: 0 })],
    // The services' answers (S3 RequestTimeout is a 400).
    ['RequestTimeout', awsError('RequestTimeout', { status: 400 })],
    ['RequestTimeoutException', awsError('RequestTimeoutException', { status: 400 })],
  ])('%s becomes TransientAwsError (the state machine retries it)', (_name, error) => {
    // Act
    const ours = toLifeboatError(error, 'ListResourceRecordSets on Z1');

    // Assess
    expect(ours.name).toBe('TransientAwsError');
    expect(ours.retryable).toBe(true);
  });

  it('a message that merely mentions a timeout is not read', () => {
    // Act
    const ours = toLifeboatError(
      awsError('InvalidParameterValue', { message: 'TimeoutError RequestTimeout' }),
      'x',
    );

    // Assess
    expect(ours.name).toBe('AwsCallFailedError');
  });
});
