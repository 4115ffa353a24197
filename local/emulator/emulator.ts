import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import {
  AwsError,
  type CallInfo,
  Clock,
  DEFAULT_TIMINGS,
  type EmulatorRequest,
  errorMessage,
  type HttpAnswer,
  Rng,
  type ServiceHandler,
} from './core.js';
import { FaultController } from './faults.js';
import { CloudWatchService } from './services/cloudwatch.js';
import { LambdaService } from './services/lambda.js';
import { DynamoDbProxy, S3Proxy } from './services/proxied.js';
import { RdsService } from './services/rds.js';
import { Route53Service } from './services/route53.js';
import type { HealthCheckConfig } from './services/route53-health-checks.js';
import { SecretsManagerService } from './services/secrets-manager.js';
import { SnsService } from './services/sns.js';
import {
  type EmulatedExecution,
  type EmulatedStateMachine,
  StepFunctionsService,
} from './services/step-functions.js';
import { StsService } from './services/sts.js';
import type {
  CallLogEntry,
  DnsAnswer,
  DnsRecordType,
  EmulatorOptions,
  EmulatorTimings,
  FaultFailure,
  PublishedMessage,
  SeedDbClusterInput,
  SeedDbInstanceInput,
  SeededDbCluster,
  SeededDbInstance,
  SeededGlobalCluster,
  SeededSecret,
  SeedGlobalClusterInput,
  SeedHostedZoneInput,
  SeedLambdaInput,
  SeedMetricInput,
  SeedRecordInput,
  SeedSecretInput,
  SeedTableInput,
  ServiceName,
} from './types.js';

/** Fake static credentials: the emulator reads the SigV4 scope, never checks the signature. */
export const EMULATOR_CREDENTIALS = {
  accessKeyId: 'AKIALIFEBOATLOCAL000',
  secretAccessKey: 'lifeboat-local-secret-access-key',
} as const;

/** SigV4 signing names → the service ids of the call log. */
const SIGNING_NAMES: Record<string, ServiceName> = {
  secretsmanager: 'secretsmanager',
  rds: 'rds',
  route53: 'route53',
  dynamodb: 'dynamodb',
  s3: 's3',
  sns: 'sns',
  lambda: 'lambda',
  monitoring: 'cloudwatch',
  states: 'states',
  sts: 'sts',
};

/** RDS instance endpoints are published with a 5-second TTL. */
const RDS_ENDPOINT_TTL = 5;

export interface Emulator {
  /** `http://127.0.0.1:<port>`: the `endpoint` of every SDK client (and `LIFEBOAT_AWS_ENDPOINT`). */
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  readonly accountId: string;
  readonly timeFactor: number;
  readonly timings: EmulatorTimings;
  /** Every call so far, in arrival order (a copy). */
  readonly calls: readonly CallLogEntry[];
  clearCalls(): void;
  readonly faults: Pick<FaultController, 'add' | 'regionDown' | 'route53Down' | 'clear' | 'rules'>;
  readonly seed: EmulatorSeed;
  readonly dns: {
    /**
     * What DNS answers now for `name` (any case, trailing dot optional): RDS endpoint names (A, TTL 5) and the
     * records of the hosted zones that are INSYNC. The proving ground's DNS server answers from this.
     */
    lookup(name: string, type: DnsRecordType): DnsAnswer[];
  };
  readonly rds: {
    /** Sets an instance's status (e.g. `backing-up`) without anything else changing. */
    setStatus(region: string, id: string, status: string): void;
    /** Endpoint names with the address they resolve to. */
    endpoints(): { name: string; address: string }[];
    /** The endpoint name an instance with this id has, or will have, in `region` (for its TLS certificate). */
    endpointName(region: string, id: string): string;
    /** The endpoint names an Aurora cluster with this id has, or will have, in `region` (for its TLS certificate). */
    clusterEndpointNames(region: string, id: string): { endpoint: string; readerEndpoint: string };
    /**
     * Aurora's view of a Region's outage (services/rds-aurora.ts): a global failover that completes meanwhile leaves
     * the old primary there out of its global cluster. Calls to the Region are `faults.regionDown`'s.
     */
    regionOutage(region: string): void;
    /** The Region is back for Aurora: each old primary left out is snapshotted and rejoins as a secondary. */
    regionRecovers(region: string): void;
  };
  readonly sns: { readonly messages: readonly PublishedMessage[] };
  /**
   * Step Functions executions run elsewhere (the runner) and answered here: DescribeExecution, StopExecution,
   * GetExecutionHistory (services/step-functions.ts).
   */
  readonly stepFunctions: {
    register(execution: EmulatedExecution): void;
    execution(executionArn: string): EmulatedExecution | undefined;
    /** A deployed state machine, for DescribeStateMachine. */
    registerStateMachine(machine: EmulatedStateMachine): void;
  };
  /** The events Secrets Manager sends to EventBridge (services/secrets-manager.ts); returns the unsubscribe. */
  readonly secretsManager: {
    onEvent(listener: (event: Record<string, unknown>) => void): () => void;
  };
  readonly route53: {
    /** Whether Route 53 considers a health check healthy now (what failover records answer by). */
    healthy(healthCheckId: string): boolean;
    /**
     * Turns Route 53's per-zone serialization on or off: a change to a zone that still has a PENDING change fails
     * with PriorRequestNotComplete (services/route53.ts). Off unless `EmulatorOptions.route53SerializeChanges`.
     */
    serializeChanges(on: boolean): void;
  };
  readonly cloudwatch: {
    /** A metric alarm's state now, as DescribeAlarms would answer; undefined when there is no such alarm. */
    alarmState(region: string, name: string): string | undefined;
  };
  /** `{ region, endpoint, credentials }` for an SDK client (S3 clients also need `forcePathStyle: true`). */
  clientConfig(region: string): {
    region: string;
    endpoint: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  /** Environment for a process whose SDK clients must use the emulator (lifeboat's clients.ts reads it). */
  env(): Record<string, string>;
  /** Stops the server, every timer and the dynalite/s3rver instances; removes their files. */
  close(): Promise<void>;
}

export interface EmulatorSeed {
  secret(input: SeedSecretInput): SeededSecret;
  dbInstance(input: SeedDbInstanceInput): SeededDbInstance;
  /** An Aurora DB cluster, `available` (services/rds-aurora.ts); join a global cluster seeded before. */
  dbCluster(input: SeedDbClusterInput): SeededDbCluster;
  /** An empty Aurora global cluster; the first cluster seeded into it is its writer. */
  globalCluster(input: SeedGlobalClusterInput): SeededGlobalCluster;
  hostedZone(input: SeedHostedZoneInput): { id: string; name: string };
  record(zoneId: string, input: SeedRecordInput): void;
  lambdaFunction(input: SeedLambdaInput): { arn: string };
  metric(input: SeedMetricInput): void;
  /** A metric alarm, as PutMetricAlarm's input (what a stack would have made). */
  metricAlarm(region: string, input: Record<string, unknown>): void;
  /** A Route 53 health check, as CreateHealthCheck's HealthCheckConfig; returns its id. */
  healthCheck(input: { callerReference: string; config: HealthCheckConfig }): { id: string };
  snsTopic(input: { region: string; name: string }): { arn: string };
  dynamoTable(input: SeedTableInput): Promise<void>;
  s3Bucket(input: { name: string; region?: string }): Promise<void>;
}

interface Scope {
  readonly service: string;
  readonly region: string;
}

/** The credential scope of a SigV4 Authorization header or presigned query: `AKID/date/region/service/aws4_request`. */
export function credentialScope(
  authorization: string | undefined,
  query: URLSearchParams,
): Scope | undefined {
  const credential =
    /Credential=([^,\s]+)/.exec(authorization ?? '')?.[1] ?? query.get('X-Amz-Credential') ?? undefined;
  const parts = credential?.split('/');
  if (!parts || parts.length < 5) return undefined;
  return { region: parts[2] as string, service: parts[3] as string };
}

function validateOptions(options: EmulatorOptions): void {
  const { timeFactor, port } = options;
  if (timeFactor !== undefined && !(Number.isFinite(timeFactor) && timeFactor >= 0)) {
    throw new TypeError(`startEmulator: timeFactor must be a number >= 0, got ${String(timeFactor)}`);
  }
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
    throw new TypeError(`startEmulator: port must be a whole number from 0 to 65535, got ${String(port)}`);
  }
  for (const [key, value] of Object.entries(options.timings ?? {})) {
    if (!(key in DEFAULT_TIMINGS)) throw new TypeError(`startEmulator: timings.${key} is not a known timing`);
    if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
      throw new TypeError(`startEmulator: timings.${key} must be a number >= 0, got ${String(value)}`);
    }
  }
  if (options.accountId !== undefined && !/^\d{12}$/.test(options.accountId)) {
    throw new TypeError(`startEmulator: accountId must be 12 digits, got ${options.accountId}`);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, answer: HttpAnswer): void {
  const body = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : answer.body;
  res.writeHead(answer.status, { ...answer.headers, 'content-length': String(body.length) });
  res.end(body);
}

function failureError(
  failure: Exclude<FaultFailure, 'lose-response' | 'connection-reset' | 'hang'>,
  handler: ServiceHandler,
  call: CallInfo,
): AwsError {
  if (failure === 'throttle') return handler.throttlingError(call);
  if (failure === 'server-error') return handler.serverError(call);
  if (failure === 'unavailable') return new AwsError('ServiceUnavailable', 503, 'Service Unavailable');
  return new AwsError(failure.code, failure.status, failure.message ?? failure.code);
}

function faultName(failure: FaultFailure): NonNullable<CallLogEntry['fault']> {
  return typeof failure === 'object' ? 'error' : failure;
}

/**
 * Starts the local AWS emulator: one HTTP server on loopback that the unmodified SDK v3 clients use with only
 * `endpoint` set. The service and Region of each call come from its SigV4 credential scope.
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  validateOptions(options);
  const host = options.host ?? '127.0.0.1';
  const accountId = options.accountId ?? '123456789012';
  const timings: EmulatorTimings = { ...DEFAULT_TIMINGS, ...(options.timings ?? {}) };
  const clock = new Clock(options.timeFactor ?? 1, timings);
  const seed = options.seed ?? 1;
  const ids = new Rng(seed);
  const faults = new FaultController(new Rng(seed ^ 0x5bd1e995));
  const onBackgroundError =
    options.onBackgroundError ??
    ((error: unknown, what: string) => console.error(`[emulator] ${what}`, errorMessage(error)));

  const lambda = new LambdaService(accountId, clock, ids);
  const secrets = new SecretsManagerService(accountId, clock, ids, (arn) => lambda.rotationView(arn));
  const rds = new RdsService(accountId, clock, ids, options.databaseBackend, onBackgroundError);
  const cloudwatch = new CloudWatchService(clock, (region, id) => rds.replicaLag(region, id), accountId);
  const route53 = new Route53Service(clock, ids, (region, name, time) =>
    cloudwatch.alarms.stateAt(region, name, time),
  );
  route53.serializeChanges = options.route53SerializeChanges ?? false;
  const sns = new SnsService(accountId, clock, ids);
  const dynamodb = new DynamoDbProxy();
  const s3 = new S3Proxy();
  const stepFunctions = new StepFunctionsService();
  const sts = new StsService(accountId);
  const handlers: Record<ServiceName, ServiceHandler> = {
    secretsmanager: secrets,
    rds,
    route53,
    dynamodb,
    s3,
    sns,
    lambda,
    cloudwatch,
    states: stepFunctions,
    sts,
  };

  const calls: CallLogEntry[] = [];
  let seq = 0;

  async function dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = clock.now();
    const number = ++seq;
    const url = new URL(req.url ?? '/', 'http://emulator');
    let body = await readBody(req);
    const scope = credentialScope(req.headers.authorization, url.searchParams);
    const service = scope ? SIGNING_NAMES[scope.service] : undefined;
    const requestId = randomUUID();
    const log = (entry: Omit<CallLogEntry, 'seq' | 'time'>) =>
      calls.push(Object.freeze({ seq: number, time: new Date(arrived).toISOString(), ...entry }));

    if (!scope || !service) {
      const code = scope ? 'UnrecognizedClientException' : 'MissingAuthenticationTokenException';
      const message = scope ? `The emulator does not serve ${scope.service}` : 'Missing Authentication Token';
      log({
        service: scope?.service ?? 'unknown',
        region: scope?.region ?? 'unknown',
        action: 'Unknown',
        resource: null,
        mutating: false,
        status: 403,
        errorCode: code,
        applied: false,
      });
      send(res, {
        status: 403,
        headers: {
          'content-type': 'application/json',
          'x-amzn-errortype': code,
          'x-amzn-requestid': requestId,
        },
        body: JSON.stringify({ __type: code, message }),
      });
      return;
    }
    if (service !== 's3' && req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    const handler = handlers[service];
    const ereq: EmulatorRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      url: req.url ?? '/',
      headers: req.headers,
      body,
      region: scope.region,
      service,
      requestId,
    };
    // Route 53 is global; the SDK signs it for us-east-1, which must not count as a call to that Region.
    const region = service === 'route53' ? 'global' : scope.region;

    let call: CallInfo;
    try {
      call = handler.describe(ereq);
    } catch (error) {
      const aws =
        error instanceof AwsError
          ? error
          : handler.serverError({ action: 'Unknown', resource: null, mutating: false });
      log({
        service,
        region,
        action: 'Unknown',
        resource: null,
        mutating: false,
        status: aws.status,
        errorCode: aws.code,
        applied: false,
      });
      send(res, handler.errorAnswer(aws, ereq));
      return;
    }
    const base = { service, region, action: call.action, resource: call.resource, mutating: call.mutating };
    const decision = faults.decide(base);
    if (decision.latencyMs > 0) await clock.sleep(decision.latencyMs);

    const failure = decision.failure;
    if (failure === 'connection-reset') {
      log({ ...base, status: 0, errorCode: 'ConnectionReset', fault: 'connection-reset', applied: false });
      req.socket.destroy();
      return;
    }
    if (failure === 'hang') {
      // Never answered: the client's own timeout ends the call (docs/design/timeouts.md); close() ends the socket.
      log({ ...base, status: 0, errorCode: 'NoAnswer', fault: 'hang', applied: false });
      return;
    }
    if (failure !== undefined && failure !== 'lose-response') {
      const aws = failureError(failure, handler, call);
      log({ ...base, status: aws.status, errorCode: aws.code, fault: faultName(failure), applied: false });
      send(res, handler.errorAnswer(aws, ereq));
      return;
    }

    let answer: HttpAnswer;
    let errorCode: string | undefined;
    try {
      answer = await handler.handle(ereq, call);
    } catch (error) {
      let aws: AwsError;
      if (error instanceof AwsError) aws = error;
      else {
        aws = handler.serverError(call);
        onBackgroundError(error, `${service} ${call.action}`);
      }
      errorCode = aws.code;
      answer = handler.errorAnswer(aws, ereq);
    }
    // A proxied service answers its own errors; read the code for the log.
    if (answer.status >= 300 && errorCode === undefined) errorCode = proxiedErrorCode(answer);
    const applied = answer.status < 300;
    if (failure === 'lose-response') {
      log({ ...base, status: 0, errorCode: 'ConnectionReset', fault: 'lose-response', applied });
      req.socket.destroy();
      return;
    }
    log({ ...base, status: answer.status, ...(errorCode !== undefined ? { errorCode } : {}), applied });
    send(res, answer);
  }

  const server = createServer((req, res) => {
    dispatch(req, res).catch((error: unknown) => {
      onBackgroundError(error, 'request');
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('emulator error');
      } else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://${host}:${port}`;
  const clientConfig = (region: string) => ({ region, endpoint, credentials: { ...EMULATOR_CREDENTIALS } });

  const seedApi: EmulatorSeed = {
    secret: (input) => secrets.seed(input),
    dbInstance: (input) => rds.seed(input),
    dbCluster: (input) => rds.aurora.seedCluster(input),
    globalCluster: (input) => rds.aurora.seedGlobal(input),
    hostedZone: (input) => route53.seedZone(input),
    record: (zoneId, input) => route53.seedRecord(zoneId, input),
    lambdaFunction: (input) => lambda.seed(input),
    metric: (input) => cloudwatch.seed(input),
    metricAlarm: (region, input) => cloudwatch.alarms.putMetricAlarm(region, input),
    healthCheck: (input) => ({ id: route53.healthChecks.seed(input.callerReference, input.config) }),
    snsTopic: (input) => ({ arn: sns.createTopic(input.region, { Name: input.name }) }),
    async dynamoTable(input) {
      const client = new DynamoDBClient({
        region: input.region,
        endpoint: `http://127.0.0.1:${await dynamodb.port(input.region)}`,
        credentials: { ...EMULATOR_CREDENTIALS },
      });
      try {
        await client.send(
          new CreateTableCommand({
            TableName: input.name,
            BillingMode: 'PAY_PER_REQUEST',
            AttributeDefinitions: [
              { AttributeName: input.partitionKey, AttributeType: input.partitionKeyType ?? 'S' },
            ],
            KeySchema: [{ AttributeName: input.partitionKey, KeyType: 'HASH' }],
          }),
        );
      } finally {
        client.destroy();
      }
    },
    async s3Bucket(input) {
      const client = new S3Client({
        region: input.region ?? 'us-east-1',
        endpoint: `http://127.0.0.1:${await s3.port()}`,
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      });
      try {
        await client.send(new CreateBucketCommand({ Bucket: input.name }));
      } finally {
        client.destroy();
      }
    },
  };

  let closed: Promise<void> | undefined;
  return {
    endpoint,
    host,
    port,
    accountId,
    timeFactor: clock.timeFactor,
    timings,
    get calls() {
      return [...calls];
    },
    clearCalls() {
      calls.length = 0;
    },
    faults,
    seed: seedApi,
    dns: {
      lookup(name, type) {
        const wanted = name.toLowerCase().replace(/\.$/, '');
        if (type === 'A') {
          const hit = rds.endpoints().filter((e) => e.name === wanted);
          if (hit.length)
            return hit.map((e) => ({ type: 'A' as const, value: e.address, ttl: RDS_ENDPOINT_TTL }));
        }
        return route53.lookup(wanted, type);
      },
    },
    rds: {
      setStatus: (region, id, status) => rds.setStatus(region, id, status),
      endpoints: () => rds.endpoints(),
      endpointName: (region, id) => rds.endpointName(region, id),
      clusterEndpointNames: (region, id) => rds.aurora.endpointNames(region, id),
      regionOutage: (region) => rds.aurora.regionOutage(region),
      regionRecovers: (region) => rds.aurora.regionRecovers(region),
    },
    sns: {
      get messages() {
        return [...sns.messages];
      },
    },
    route53: {
      healthy: (id) => route53.healthChecks.healthy(id),
      serializeChanges: (on) => {
        route53.serializeChanges = on;
      },
    },
    secretsManager: { onEvent: (listener) => secrets.onEvent(listener) },
    cloudwatch: { alarmState: (region, name) => cloudwatch.alarms.stateAt(region, name, clock.now()) },
    stepFunctions: {
      register: (execution) => stepFunctions.register(execution),
      execution: (executionArn) => stepFunctions.execution(executionArn),
      registerStateMachine: (machine) => stepFunctions.registerStateMachine(machine),
    },
    clientConfig,
    env: () => ({
      LIFEBOAT_AWS_ENDPOINT: endpoint,
      AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
    }),
    close() {
      closed ??= (async () => {
        clock.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await Promise.all([dynamodb.close(), s3.close()]);
      })();
      return closed;
    },
  };
}

/** The error code in a proxied answer (DynamoDB `__type`, S3 `<Code>`), for the call log. */
function proxiedErrorCode(answer: HttpAnswer): string | undefined {
  const text = answer.body.toString();
  const type = /"__type"\s*:\s*"(?:[^"#]*#)?([^"]+)"/.exec(text)?.[1];
  if (type) return type;
  return /<Code>([^<]+)<\/Code>/.exec(text)?.[1];
}
