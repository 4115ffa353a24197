import { createInterface } from 'node:readline/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { STSClient } from '@aws-sdk/client-sts';
import {
  InputInvalidError,
  LifeboatError,
  NotSupportedError,
  PlanInvalidError,
} from '../functions/lib/errors.js';
import { UsageError } from './args.js';

/** Exit codes of every lifeboat command (listed in each `--help`). */
export const EXIT = {
  /** Done: the plan is valid, the execution started, the run succeeded. */
  ok: 0,
  /** The run failed, timed out or was aborted; or a failover was not confirmed (nothing started). */
  runFailed: 1,
  /** Bad usage, or an invalid plan or execution input: nothing was started. */
  usage: 2,
  /** An AWS call or a file read failed: no such execution or state machine, no credentials, access denied. */
  unavailable: 3,
} as const;

export const EXIT_CODES_HELP = `exit codes:
  0  done (plan valid, execution started, or the run succeeded)
  1  the run failed, timed out or was aborted; or the failover was not confirmed
  2  bad usage, or an invalid plan or execution input (nothing was started)
  3  an AWS call or a file read failed (no such execution, no credentials, access denied)`;

export interface OutputStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** Where and as whom a client calls: an endpoint other than AWS's, a named profile of the shared config files. */
export interface AwsTarget {
  readonly endpoint?: string;
  readonly profile?: string;
}

/** Where AWS clients come from: one per Region, endpoint and profile. Tests inject aws-sdk-client-mock'ed clients. */
export interface AwsClientFactory {
  sfn(region: string, target?: AwsTarget): SFNClient;
  s3(region: string, target?: AwsTarget): S3Client;
  /** `lifeboat approve` and `reject` record who answered (GetCallerIdentity). */
  sts(region: string, target?: AwsTarget): STSClient;
  /** `lifeboat status` reads the lock (GetItem). */
  dynamodb(region: string, target?: AwsTarget): DynamoDBClient;
}

/** Everything a command touches outside itself, so that tests run it in-process. */
export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly stdin: { readonly isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The working directory: relative plan paths and `cdk.json` are read from here. */
  readonly cwd: string;
  /** Asks one question on the terminal and returns the answer. */
  readonly prompt: (question: string) => Promise<string>;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => Date;
  readonly aws: AwsClientFactory;
  /** Loads the local drill command (`local/drill-command.ts`); a test points it elsewhere. */
  readonly importDrill: () => Promise<unknown>;
}

/** The options every command that calls AWS takes (`lifeboat <command> --help` lists them). */
export const AWS_OPTIONS_HELP = `  --region REGION            the Region to call
  --profile NAME             a profile of the shared AWS config files (default: $AWS_PROFILE, else the SDK's chain)
  --endpoint URL             an AWS-compatible endpoint, e.g. LocalStack (default: $LIFEBOAT_AWS_ENDPOINT, else the
                             SDK's $AWS_ENDPOINT_URL_<SERVICE> and $AWS_ENDPOINT_URL)`;

/** The SDK's service ids' environment suffixes (AWS_ENDPOINT_URL_SFN, AWS_ENDPOINT_URL_S3). */
const ENDPOINT_ENV_SUFFIX = { sfn: 'SFN', s3: 'S3', sts: 'STS', dynamodb: 'DYNAMODB' } as const;

/**
 * Where and as whom one service is called. The endpoint: `--endpoint`, else `LIFEBOAT_AWS_ENDPOINT` (as in
 * functions/lib/clients.ts), else the SDK's standard `AWS_ENDPOINT_URL_<SERVICE>` and `AWS_ENDPOINT_URL` (unless
 * `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true), read here rather than left to the SDK so that S3 gets path-style
 * addressing at any endpoint (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html). The profile:
 * `--profile`, else `AWS_PROFILE` (which the SDK reads anyway; named here so that it shows in errors and tests).
 */
export function awsTarget(
  service: keyof typeof ENDPOINT_ENV_SUFFIX,
  values: { readonly endpoint?: string | undefined; readonly profile?: string | undefined },
  env: CliIo['env'],
): AwsTarget {
  const standard =
    env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true'
      ? undefined
      : env[`AWS_ENDPOINT_URL_${ENDPOINT_ENV_SUFFIX[service]}`] || env.AWS_ENDPOINT_URL || undefined;
  const endpoint = values.endpoint ?? (env.LIFEBOAT_AWS_ENDPOINT || standard);
  const profile = values.profile ?? (env.AWS_PROFILE || undefined);
  return { ...(endpoint ? { endpoint } : {}), ...(profile ? { profile } : {}) };
}

/** Client settings: the SDK's standard retries (throttling, 5xx), and the target's endpoint and profile. */
export function clientConfig(region: string, target: AwsTarget = {}) {
  return {
    region,
    maxAttempts: 3,
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    ...(target.profile ? { profile: target.profile } : {}),
  };
}

export function defaultAwsClients(): AwsClientFactory {
  const cache = new Map<string, SFNClient | S3Client | STSClient | DynamoDBClient>();
  const cached = <T extends SFNClient | S3Client | STSClient | DynamoDBClient>(
    key: string,
    make: () => T,
  ): T => {
    const hit = cache.get(key);
    if (hit) return hit as T;
    const made = make();
    cache.set(key, made);
    return made;
  };
  const key = (service: string, region: string, target: AwsTarget = {}) =>
    `${service} ${region} ${target.endpoint ?? ''} ${target.profile ?? ''}`;
  return {
    sfn: (region, target) =>
      cached(key('sfn', region, target), () => new SFNClient(clientConfig(region, target))),
    s3: (region, target) =>
      cached(
        key('s3', region, target),
        // Path-style addressing lets one local endpoint serve every bucket.
        () =>
          new S3Client({
            ...clientConfig(region, target),
            ...(target?.endpoint ? { forcePathStyle: true } : {}),
          }),
      ),
    sts: (region, target) =>
      cached(key('sts', region, target), () => new STSClient(clientConfig(region, target))),
    dynamodb: (region, target) =>
      cached(key('dynamodb', region, target), () => new DynamoDBClient(clientConfig(region, target))),
  };
}

async function promptOnTerminal(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

const DRILL_MODULE: string = '../local/drill-command.js';

export function defaultIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    prompt: promptOnTerminal,
    sleep: (ms) => delay(ms),
    now: () => new Date(),
    aws: defaultAwsClients(),
    // Not a literal: the compiled CLI (tsc, dist/) must not pull the proving ground in; the installed package has
    // none, and `lifeboat drill` says so (cli/commands/drill.ts).
    importDrill: () => import(DRILL_MODULE),
  };
}

/** Writes lines; colours only on a terminal and never when NO_COLOR is set (https://no-color.org). */
export class Printer {
  readonly colour: boolean;
  constructor(
    private readonly io: Pick<CliIo, 'stdout' | 'stderr' | 'env'>,
    private readonly stream: 'stdout' | 'stderr' = 'stdout',
  ) {
    const out = io[stream];
    this.colour = out.isTTY === true && !io.env.NO_COLOR && io.env.TERM !== 'dumb';
  }
  line(text = ''): void {
    this.io[this.stream].write(`${text}\n`);
  }
  red(text: string): string {
    return this.colour ? `\x1b[31m${text}\x1b[39m` : text;
  }
  green(text: string): string {
    return this.colour ? `\x1b[32m${text}\x1b[39m` : text;
  }
  yellow(text: string): string {
    return this.colour ? `\x1b[33m${text}\x1b[39m` : text;
  }
  dim(text: string): string {
    return this.colour ? `\x1b[2m${text}\x1b[22m` : text;
  }
  bold(text: string): string {
    return this.colour ? `\x1b[1m${text}\x1b[22m` : text;
  }
}

/** The exit code for an error a command threw: bad usage and bad plans are 2, everything else that stopped us is 3. */
export function exitCodeFor(error: unknown): number {
  if (
    error instanceof UsageError ||
    error instanceof PlanInvalidError ||
    error instanceof InputInvalidError ||
    error instanceof NotSupportedError
  ) {
    return EXIT.usage;
  }
  return EXIT.unavailable;
}

/** The message to print for an error: ours and usage errors as they are, anything else with its name. */
export function describeError(error: unknown): string {
  if (error instanceof LifeboatError || error instanceof UsageError) return error.message;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
