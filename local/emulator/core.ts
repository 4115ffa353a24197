/**
 * Pieces every emulated service shares: the AWS error thrown by handlers, the seeded random generator, the scaled
 * clock, and the request/answer shapes of the dispatcher.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { EmulatorTimings, ServiceName } from './types.js';

/** An error answered with the AWS error code and HTTP status; each protocol encodes it its own way. */
export class AwsError extends Error {
  override readonly name = 'AwsError';
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    /** Extra fields of the error shape, where a protocol carries them. */
    readonly fields: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }

  get fault(): 'Sender' | 'Receiver' {
    return this.status >= 500 ? 'Receiver' : 'Sender';
  }
}

/** mulberry32: small, fast, and the same sequence for the same seed. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  chars(length: number, alphabet: string): string {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(this.next() * alphabet.length)];
    return out;
  }

  /** A version-4-shaped UUID. */
  uuid(): string {
    const hex = this.chars(32, '0123456789abcdef');
    const variant = '89ab'[Math.floor(this.next() * 4)];
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20)}`;
  }
}

export const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
export const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/**
 * Wall-clock time and timers scaled by the time factor. Timers are tracked so that close() stops them all.
 */
export class Clock {
  /** Pending sleeps: their timers and how to end them early. */
  private readonly sleeps = new Map<NodeJS.Timeout, () => void>();
  private closed = false;

  constructor(
    readonly timeFactor: number,
    readonly timings: EmulatorTimings,
  ) {}

  now(): number {
    return Date.now();
  }

  /** Real milliseconds for an AWS duration. */
  scaled(ms: number): number {
    return Math.max(0, ms * this.timeFactor);
  }

  /** Resolves after the scaled duration, or at once when the clock is (or gets) closed. */
  sleep(ms: number): Promise<void> {
    const real = this.scaled(ms);
    if (real <= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleeps.delete(timer);
        resolve();
      }, real);
      this.sleeps.set(timer, resolve);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Stops every timer; pending sleeps resolve, and the tasks waiting on them see `isClosed` and end. */
  close(): void {
    this.closed = true;
    for (const [timer, resolve] of this.sleeps) {
      clearTimeout(timer);
      resolve();
    }
    this.sleeps.clear();
  }
}

export const DEFAULT_TIMINGS: EmulatorTimings = {
  secretReplicationMs: 2_000,
  promoteStartMs: 5_000,
  promoteModifyingMs: 60_000,
  promoteRebootingMs: 20_000,
  createInstanceMs: 120_000,
  deleteInstanceMs: 30_000,
  renameInstanceMs: 30_000,
  route53ChangeMs: 20_000,
  alarmEvaluationMs: 60_000,
  route53HealthCheckMs: 30_000,
};

/** One HTTP request, with the SigV4 scope already read. */
export interface EmulatorRequest {
  readonly method: string;
  /** Path without the query string, percent-decoding left to the service. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The raw path and query, for proxies. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The Region of the SigV4 credential scope. */
  readonly region: string;
  readonly service: ServiceName;
  readonly requestId: string;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string | Buffer;
}

/** What the dispatcher needs to know before it runs a call (for the call log and the faults). */
export interface CallInfo {
  readonly action: string;
  readonly resource: string | null;
  readonly mutating: boolean;
}

export interface ServiceHandler {
  readonly name: ServiceName;
  /** Reads the action and resource; throws AwsError for a request it cannot read. */
  describe(req: EmulatorRequest): CallInfo;
  /** Runs the call. Throws AwsError for an AWS error answer. */
  handle(req: EmulatorRequest, call: CallInfo): Promise<HttpAnswer>;
  /** Encodes an error the way this service's protocol does. */
  errorAnswer(error: AwsError, req: EmulatorRequest): HttpAnswer;
  /** The error this service answers when throttled, and when it fails internally. */
  throttlingError(call: CallInfo): AwsError;
  serverError(call: CallInfo): AwsError;
  close?(): Promise<void>;
}

/** Reads are not mutating: Describe*, Get*, List*, Head*, and the item reads of DynamoDB. */
export function isReadAction(action: string): boolean {
  return /^(Describe|Get|List|Head|Query$|Scan$|BatchGet|TransactGet)/.test(action);
}

export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
