import { createInterface } from 'node:readline/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
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

/** Where AWS clients come from: one per Region (and endpoint). Tests inject aws-sdk-client-mock'ed clients. */
export interface AwsClientFactory {
  sfn(region: string, endpoint?: string): SFNClient;
  s3(region: string, endpoint?: string): S3Client;
}

/** Everything a command touches outside itself, so that tests run it in-process. */
export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly stdin: { readonly isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Asks one question on the terminal and returns the answer. */
  readonly prompt: (question: string) => Promise<string>;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => Date;
  readonly aws: AwsClientFactory;
  /** Loads the local drill command (`local/drill-command.ts`); a test points it elsewhere. */
  readonly importDrill: () => Promise<unknown>;
}

/**
 * Client settings: the SDK's standard retries (throttling, 5xx), and an optional endpoint for AWS-compatible servers
 * (LocalStack, moto) — `--endpoint`, else `LIFEBOAT_AWS_ENDPOINT`, as in functions/lib/clients.ts.
 */
export function clientConfig(region: string, endpoint?: string) {
  return { region, maxAttempts: 3, ...(endpoint ? { endpoint } : {}) };
}

export function defaultAwsClients(): AwsClientFactory {
  const cache = new Map<string, SFNClient | S3Client>();
  const cached = <T extends SFNClient | S3Client>(key: string, make: () => T): T => {
    const hit = cache.get(key);
    if (hit) return hit as T;
    const made = make();
    cache.set(key, made);
    return made;
  };
  return {
    sfn: (region, endpoint) =>
      cached(`sfn ${region} ${endpoint ?? ''}`, () => new SFNClient(clientConfig(region, endpoint))),
    s3: (region, endpoint) =>
      cached(
        `s3 ${region} ${endpoint ?? ''}`,
        // Path-style addressing lets one local endpoint serve every bucket.
        () =>
          new S3Client({ ...clientConfig(region, endpoint), ...(endpoint ? { forcePathStyle: true } : {}) }),
      ),
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

export function defaultIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    prompt: promptOnTerminal,
    sleep: (ms) => delay(ms),
    now: () => new Date(),
    aws: defaultAwsClients(),
    importDrill: () => import('../local/drill-command.js'),
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
