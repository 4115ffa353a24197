import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { optionalEnv, timeoutScale } from './env.js';

/**
 * The one factory for SDK clients. Clients are made once per Region and reused across invocations.
 * `LIFEBOAT_AWS_ENDPOINT` points every client at an AWS-compatible endpoint (the local proving ground,
 * LocalStack, moto) — the same unmodified clients, only `endpoint` set.
 */
export interface AwsClients {
  readonly region: string;
  readonly secretsManager: SecretsManagerClient;
  readonly rds: RDSClient;
  readonly route53: Route53Client;
  readonly dynamodb: DynamoDBClient;
  readonly sns: SNSClient;
  readonly s3: S3Client;
  readonly lambda: LambdaClient;
  readonly cloudwatch: CloudWatchClient;
  /** Step Functions: the lock's holder check and the ended-run handler (docs/design/lock.md). */
  readonly sfn: SFNClient;
}

const cache = new Map<string, AwsClients>();

/** The services lifeboat calls, by the name of their client in `AwsClients`. */
export type AwsService = Exclude<keyof AwsClients, 'region'>;

/** Attempts per SDK call (the first and two retries); the state machine's transient retries come on top. */
export const SDK_MAX_ATTEMPTS = 3;

/**
 * Per-service HTTP timeouts of every SDK client (docs/design/timeouts.md). `connectionTimeoutMs` bounds DNS lookup and
 * TCP connect of one attempt; `requestTimeoutMs` bounds one attempt from start to the whole response, after which
 * the SDK throws `TimeoutError` (retried by the SDK, then TransientAwsError for the state machine). Without them a
 * control plane that accepts the connection and never answers holds the call until the Lambda timeout.
 */
export const SDK_TIMEOUTS: Readonly<
  Record<AwsService, { readonly connectionTimeoutMs: number; readonly requestTimeoutMs: number }>
> = {
  // Control planes: Route 53's is served from us-east-1 (a cross-Region call from the recovery Region) and RDS's
  // mutating calls validate against the instance's state; both answer in well under a second on a normal day.
  route53: { connectionTimeoutMs: 3_000, requestTimeoutMs: 10_000 },
  rds: { connectionTimeoutMs: 3_000, requestTimeoutMs: 10_000 },
  // The report object can be large (100 units); S3 reads the whole body within the attempt.
  s3: { connectionTimeoutMs: 3_000, requestTimeoutMs: 10_000 },
  secretsManager: { connectionTimeoutMs: 3_000, requestTimeoutMs: 5_000 },
  lambda: { connectionTimeoutMs: 3_000, requestTimeoutMs: 5_000 },
  sns: { connectionTimeoutMs: 3_000, requestTimeoutMs: 5_000 },
  cloudwatch: { connectionTimeoutMs: 3_000, requestTimeoutMs: 5_000 },
  // Single-item reads and conditional writes of the lock: milliseconds.
  dynamodb: { connectionTimeoutMs: 3_000, requestTimeoutMs: 3_000 },
  // DescribeExecution, StopExecution and a page of execution history: small answers.
  sfn: { connectionTimeoutMs: 3_000, requestTimeoutMs: 5_000 },
};

/**
 * The most the SDK's standard retry strategy waits between attempts, summed over the retries of one call: throttling
 * backs off from 1 s doubling (1 s, then 2 s), and a `Retry-After` header may add up to 5 s to each wait
 * (@smithy/core retry, StandardRetryStrategy; docs/design/timeouts.md).
 */
export const SDK_BACKOFF_ALLOWANCE_MS = 1_000 + 2_000 + (SDK_MAX_ATTEMPTS - 1) * 5_000;

/** The longest one SDK call to `service` can take before it throws, retries included (unscaled, ms). */
export function sdkCallBudgetMs(service: AwsService): number {
  return SDK_MAX_ATTEMPTS * SDK_TIMEOUTS[service].requestTimeoutMs + SDK_BACKOFF_ALLOWANCE_MS;
}

/** Seconds a step's Lambda timeout allows beyond its SDK budgets: cold start, and the step's other calls answering normally. */
export const STEP_TIMEOUT_MARGIN_SECONDS = 15;

/**
 * The Lambda timeout of a step that calls `services`: one call to each that never answers ends within its SDK budget
 * (they add up: a step may go on after one failed delivery, as the report does, or reach its second service after a
 * slow first), plus the margin; 30 s at least (the default). Then a hanging endpoint surfaces as TransientAwsError,
 * which the state machine retries, never as a Lambda timeout, which it does not (docs/design/timeouts.md).
 */
export function stepTimeoutSeconds(services: readonly AwsService[]): number {
  const budgetMs = [...new Set(services)].reduce((sum, service) => sum + sdkCallBudgetMs(service), 0);
  return Math.max(30, Math.ceil(budgetMs / 1000) + STEP_TIMEOUT_MARGIN_SECONDS);
}

/** The request handler options of `service`'s client, scaled (NodeHttpHandler options, @smithy/node-http-handler). */
export function requestHandlerOptions(service: AwsService, scale = timeoutScale()) {
  const { connectionTimeoutMs, requestTimeoutMs } = SDK_TIMEOUTS[service];
  return {
    connectionTimeout: Math.max(1, Math.round(connectionTimeoutMs * scale)),
    requestTimeout: Math.max(1, Math.round(requestTimeoutMs * scale)),
    // Without it, a breached requestTimeout only logs a warning and the request goes on waiting.
    throwOnRequestTimeout: true,
  };
}

function clientConfig(region: string, service: AwsService, scale: number) {
  const endpoint = optionalEnv('LIFEBOAT_AWS_ENDPOINT');
  return {
    region,
    // The SDK's standard retry mode backs off on throttling, 5xx and timeouts; the state machine retries on top, capped.
    maxAttempts: SDK_MAX_ATTEMPTS,
    requestHandler: requestHandlerOptions(service, scale),
    ...(endpoint ? { endpoint } : {}),
  };
}

export function clientsFor(region: string): AwsClients {
  const endpoint = optionalEnv('LIFEBOAT_AWS_ENDPOINT');
  // Keyed on the endpoint too: a process that runs against one endpoint, then another (the proving ground starts a
  // new emulator per world; each bundled handler keeps its own copy of this cache), must not reach the old one.
  // In Lambda the variable never changes, so this is one entry per Region.
  const scale = timeoutScale();
  const key = `${region}|${endpoint ?? ''}|${scale}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const config = (service: AwsService) => clientConfig(region, service, scale);
  let route53: Route53Client | undefined;
  let secretsManager: SecretsManagerClient | undefined;
  let rds: RDSClient | undefined;
  let dynamodb: DynamoDBClient | undefined;
  let sns: SNSClient | undefined;
  let s3: S3Client | undefined;
  let lambda: LambdaClient | undefined;
  let cloudwatch: CloudWatchClient | undefined;
  let sfn: SFNClient | undefined;
  // Lazy: a cold start builds only the clients its step uses.
  const clients: AwsClients = {
    region,
    get secretsManager() {
      secretsManager ??= new SecretsManagerClient(config('secretsManager'));
      return secretsManager;
    },
    get rds() {
      rds ??= new RDSClient(config('rds'));
      return rds;
    },
    get route53() {
      // Route 53 is global; the SDK signs for us-east-1 whatever Region it is given.
      route53 ??= new Route53Client(config('route53'));
      return route53;
    },
    get dynamodb() {
      dynamodb ??= new DynamoDBClient(config('dynamodb'));
      return dynamodb;
    },
    get sns() {
      sns ??= new SNSClient(config('sns'));
      return sns;
    },
    get s3() {
      // Path-style addressing lets a single local endpoint serve every bucket.
      s3 ??= new S3Client({ ...config('s3'), ...(endpoint ? { forcePathStyle: true } : {}) });
      return s3;
    },
    get lambda() {
      lambda ??= new LambdaClient(config('lambda'));
      return lambda;
    },
    get cloudwatch() {
      cloudwatch ??= new CloudWatchClient(config('cloudwatch'));
      return cloudwatch;
    },
    get sfn() {
      sfn ??= new SFNClient(config('sfn'));
      return sfn;
    },
  };
  cache.set(key, clients);
  return clients;
}

/** For tests and the local runner: forget every client (e.g. after the endpoint changed). */
export function resetClients(): void {
  cache.clear();
}
