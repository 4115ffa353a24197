import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { Route53Client } from '@aws-sdk/client-route-53';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SNSClient } from '@aws-sdk/client-sns';
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

/** The configuration every client is made with (the same for each service but its timeouts). */
export interface ClientConfig {
  readonly region: string;
  readonly maxAttempts: number;
  readonly requestHandler: ReturnType<typeof requestHandlerOptions>;
  readonly endpoint?: string;
  /** S3 only, on a local endpoint: path-style addressing lets one endpoint serve every bucket. */
  readonly forcePathStyle?: boolean;
}

/**
 * How each service's client is made, provided by `functions/lib/sdk/<service>.ts` when a module that sends that
 * service's commands imports it. clients.ts imports no SDK client itself: a bundle then holds only the clients its
 * step calls, instead of all nine (about 1 MiB minified; docs/design/packaging.md, "Bundle size").
 */
type ClientFactories = { [S in AwsService]?: (config: ClientConfig) => AwsClients[S] };
const factories: ClientFactories = {};

/** Called by `functions/lib/sdk/<service>.ts` at import. */
export function provideClient<S extends AwsService>(
  service: S,
  make: (config: ClientConfig) => AwsClients[S],
): void {
  (factories as Record<S, (config: ClientConfig) => AwsClients[S]>)[service] = make;
}

/** The module whose import provides each service's client (for the error that names what is missing). */
const SDK_MODULE: Readonly<Record<AwsService, string>> = {
  secretsManager: 'secrets-manager',
  rds: 'rds',
  route53: 'route53',
  dynamodb: 'dynamodb',
  sns: 'sns',
  s3: 's3',
  lambda: 'lambda',
  cloudwatch: 'cloudwatch',
  sfn: 'sfn',
};

function clientConfig(region: string, service: AwsService, scale: number): ClientConfig {
  const endpoint = optionalEnv('LIFEBOAT_AWS_ENDPOINT');
  return {
    region,
    // The SDK's standard retry mode backs off on throttling, 5xx and timeouts; the state machine retries on top, capped.
    maxAttempts: SDK_MAX_ATTEMPTS,
    requestHandler: requestHandlerOptions(service, scale),
    ...(endpoint ? { endpoint } : {}),
    ...(endpoint && service === 's3' ? { forcePathStyle: true } : {}),
  };
}

function makeClient<S extends AwsService>(service: S, region: string, scale: number): AwsClients[S] {
  const make = factories[service] as ((config: ClientConfig) => AwsClients[S]) | undefined;
  if (!make) {
    // A programming error, caught by test/unit/sdk-clients.test.ts: the module that sends the commands must import
    // the service's provider.
    throw new Error(
      `no ${service} client in this bundle: the module that sends its commands must import functions/lib/sdk/${SDK_MODULE[service]}.js`,
    );
  }
  return make(clientConfig(region, service, scale));
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
  const made: { -readonly [S in AwsService]?: AwsClients[S] } = {};
  // Lazy: a cold start builds only the clients its step uses. Route 53 is global; the SDK signs for us-east-1
  // whatever Region it is given.
  const get = <S extends AwsService>(service: S): AwsClients[S] => {
    made[service] ??= makeClient(service, region, scale);
    return made[service] as AwsClients[S];
  };
  const clients: AwsClients = {
    region,
    get secretsManager() {
      return get('secretsManager');
    },
    get rds() {
      return get('rds');
    },
    get route53() {
      return get('route53');
    },
    get dynamodb() {
      return get('dynamodb');
    },
    get sns() {
      return get('sns');
    },
    get s3() {
      return get('s3');
    },
    get lambda() {
      return get('lambda');
    },
    get cloudwatch() {
      return get('cloudwatch');
    },
    get sfn() {
      return get('sfn');
    },
  };
  cache.set(key, clients);
  return clients;
}

/** For tests and the local runner: forget every client (e.g. after the endpoint changed). */
export function resetClients(): void {
  cache.clear();
}
