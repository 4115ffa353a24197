import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { optionalEnv } from './env.js';

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
}

const cache = new Map<string, AwsClients>();

function clientConfig(region: string) {
  const endpoint = optionalEnv('LIFEBOAT_AWS_ENDPOINT');
  return {
    region,
    // The SDK's standard retry mode backs off on throttling and 5xx; the state machine retries on top, capped.
    maxAttempts: 3,
    ...(endpoint ? { endpoint } : {}),
  };
}

export function clientsFor(region: string): AwsClients {
  const endpoint = optionalEnv('LIFEBOAT_AWS_ENDPOINT');
  // Keyed on the endpoint too: a process that runs against one endpoint, then another (the proving ground starts a
  // new emulator per world; each bundled handler keeps its own copy of this cache), must not reach the old one.
  // In Lambda the variable never changes, so this is one entry per Region.
  const key = `${region}|${endpoint ?? ''}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const config = clientConfig(region);
  let route53: Route53Client | undefined;
  let secretsManager: SecretsManagerClient | undefined;
  let rds: RDSClient | undefined;
  let dynamodb: DynamoDBClient | undefined;
  let sns: SNSClient | undefined;
  let s3: S3Client | undefined;
  let lambda: LambdaClient | undefined;
  let cloudwatch: CloudWatchClient | undefined;
  // Lazy: a cold start builds only the clients its step uses.
  const clients: AwsClients = {
    region,
    get secretsManager() {
      secretsManager ??= new SecretsManagerClient(config);
      return secretsManager;
    },
    get rds() {
      rds ??= new RDSClient(config);
      return rds;
    },
    get route53() {
      // Route 53 is global; the SDK signs for us-east-1 whatever Region it is given.
      route53 ??= new Route53Client(config);
      return route53;
    },
    get dynamodb() {
      dynamodb ??= new DynamoDBClient(config);
      return dynamodb;
    },
    get sns() {
      sns ??= new SNSClient(config);
      return sns;
    },
    get s3() {
      // Path-style addressing lets a single local endpoint serve every bucket.
      s3 ??= new S3Client({ ...config, ...(endpoint ? { forcePathStyle: true } : {}) });
      return s3;
    },
    get lambda() {
      lambda ??= new LambdaClient(config);
      return lambda;
    },
    get cloudwatch() {
      cloudwatch ??= new CloudWatchClient(config);
      return cloudwatch;
    },
  };
  cache.set(key, clients);
  return clients;
}

/** For tests and the local runner: forget every client (e.g. after the endpoint changed). */
export function resetClients(): void {
  cache.clear();
}
