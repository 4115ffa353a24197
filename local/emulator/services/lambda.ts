/**
 * Lambda function metadata (REST-JSON): GetFunction `GET /2015-03-31/functions/{name}` and GetPolicy
 * `GET /2015-03-31/functions/{name}/policy`, for functions registered with `seed.lambdaFunction`. The name may be a
 * name, a full or partial ARN, with an optional `:qualifier`. A missing function, or a function without a resource
 * policy (GetPolicy), is ResourceNotFoundException 404. No code runs.
 */
import {
  AwsError,
  type CallInfo,
  type Clock,
  type EmulatorRequest,
  type HttpAnswer,
  isReadAction,
  type Rng,
  type ServiceHandler,
} from '../core.js';
import type { SeedLambdaInput } from '../types.js';
import { jsonAnswer, jsonError } from '../wire.js';

const CONTENT_TYPE = 'application/json';
const SECRETS_MANAGER = 'secretsmanager.amazonaws.com';

interface LambdaFunction {
  readonly name: string;
  readonly region: string;
  readonly arn: string;
  readonly runtime: string;
  readonly state: string;
  readonly policy?: Record<string, unknown>;
  readonly revisionId: string;
  readonly lastModified: string;
  readonly codeSha256: string;
}

/** Lambda's LastModified format: `2026-11-23T10:15:54.000+0000`. */
function lambdaTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

export class LambdaService implements ServiceHandler {
  readonly name = 'lambda' as const;
  /** Region → name → function. */
  private readonly functions = new Map<string, Map<string, LambdaFunction>>();

  constructor(
    private readonly account: string,
    private readonly clock: Clock,
    private readonly rng: Rng,
  ) {}

  private route(req: EmulatorRequest): { action: string; name?: string } {
    const match = /^\/2015-03-31\/functions\/([^/]+)(\/policy)?\/?$/.exec(req.path);
    if (!match || req.method !== 'GET') return { action: '' };
    const name = decodeURIComponent(match[1] as string);
    return { action: match[2] ? 'GetPolicy' : 'GetFunction', name };
  }

  describe(req: EmulatorRequest): CallInfo {
    const { action, name } = this.route(req);
    if (!action) {
      throw new AwsError('ResourceNotFoundException', 404, `Unsupported request ${req.method} ${req.path}`);
    }
    return { action, resource: name ?? null, mutating: !isReadAction(action) };
  }

  async handle(req: EmulatorRequest, call: CallInfo): Promise<HttpAnswer> {
    const fn = this.find(req.region, call.resource ?? '');
    if (call.action === 'GetFunction') {
      return jsonAnswer(
        {
          Configuration: {
            FunctionName: fn.name,
            FunctionArn: fn.arn,
            Runtime: fn.runtime,
            Role: `arn:aws:iam::${this.account}:role/${fn.name}-role`,
            Handler: 'index.handler',
            CodeSize: 1024,
            Description: '',
            Timeout: 30,
            MemorySize: 256,
            LastModified: fn.lastModified,
            CodeSha256: fn.codeSha256,
            Version: '$LATEST',
            TracingConfig: { Mode: 'PassThrough' },
            RevisionId: fn.revisionId,
            State: fn.state,
            LastUpdateStatus: 'Successful',
            PackageType: 'Zip',
            Architectures: ['arm64'],
            EphemeralStorage: { Size: 512 },
          },
          Code: {
            RepositoryType: 'S3',
            Location: `https://awslambda-${fn.region}-tasks.s3.${fn.region}.amazonaws.com/snapshots/${this.account}/${fn.name}`,
          },
        },
        req.requestId,
        CONTENT_TYPE,
      );
    }
    if (!fn.policy) {
      throw new AwsError('ResourceNotFoundException', 404, 'The resource you requested does not exist.');
    }
    return jsonAnswer(
      { Policy: JSON.stringify(fn.policy), RevisionId: fn.revisionId },
      req.requestId,
      CONTENT_TYPE,
    );
  }

  errorAnswer(error: AwsError, req: EmulatorRequest): HttpAnswer {
    return jsonError(error, req.requestId, { contentType: CONTENT_TYPE, restJson: true });
  }

  throttlingError(): AwsError {
    return new AwsError('TooManyRequestsException', 429, 'Rate exceeded', {
      Reason: 'CallerRateLimitExceeded',
    });
  }

  serverError(): AwsError {
    return new AwsError('ServiceException', 500, 'The Lambda service encountered an internal error.');
  }

  private regionFunctions(region: string): Map<string, LambdaFunction> {
    let map = this.functions.get(region);
    if (!map) {
      map = new Map();
      this.functions.set(region, map);
    }
    return map;
  }

  /** A name, `account:function:name`, or a full ARN, each with an optional `:qualifier`. */
  private resolve(region: string, nameOrArn: string): LambdaFunction | undefined {
    const full = /^arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):function:([^:]+)(:.+)?$/.exec(nameOrArn);
    if (full) {
      if (full[1] !== region || full[2] !== this.account) return undefined;
      return this.regionFunctions(region).get(full[3] as string);
    }
    const partial = /^(\d{12}):function:([^:]+)(:.+)?$/.exec(nameOrArn);
    if (partial) {
      return partial[1] === this.account ? this.regionFunctions(region).get(partial[2] as string) : undefined;
    }
    return this.regionFunctions(region).get(nameOrArn.split(':')[0] as string);
  }

  private find(region: string, nameOrArn: string): LambdaFunction {
    const fn = this.resolve(region, nameOrArn);
    if (!fn) {
      const arn = nameOrArn.startsWith('arn:')
        ? nameOrArn
        : `arn:aws:lambda:${region}:${this.account}:function:${nameOrArn}`;
      throw new AwsError('ResourceNotFoundException', 404, `Function not found: ${arn}`);
    }
    return fn;
  }

  seed(input: SeedLambdaInput): { arn: string } {
    const arn = `arn:aws:lambda:${input.region}:${this.account}:function:${input.name}`;
    const allow = input.allowSecretsManager ?? true;
    const policy =
      input.policy ??
      (allow
        ? {
            Version: '2012-10-17',
            Id: 'default',
            Statement: [
              {
                Sid: 'SecretsManagerAccess',
                Effect: 'Allow',
                Principal: { Service: SECRETS_MANAGER },
                Action: 'lambda:InvokeFunction',
                Resource: arn,
                Condition: { StringEquals: { 'AWS:SourceAccount': this.account } },
              },
            ],
          }
        : undefined);
    this.regionFunctions(input.region).set(input.name, {
      name: input.name,
      region: input.region,
      arn,
      runtime: input.runtime ?? 'nodejs22.x',
      state: input.state ?? 'Active',
      ...(policy ? { policy } : {}),
      revisionId: this.rng.uuid(),
      lastModified: lambdaTimestamp(this.clock.now()),
      codeSha256: Buffer.from(this.rng.chars(32, 'abcdef0123456789')).toString('base64'),
    });
    return { arn };
  }

  /**
   * What Secrets Manager finds when it invokes a rotation function: whether it exists (in the ARN's Region) and
   * whether its policy has an Allow statement for secretsmanager.amazonaws.com on lambda:InvokeFunction.
   */
  rotationView(arn: string): { exists: boolean; allowsSecretsManager: boolean } {
    const region = /^arn:aws[a-z-]*:lambda:([a-z0-9-]+):/.exec(arn)?.[1];
    const fn = region ? this.resolve(region, arn) : undefined;
    if (!fn) return { exists: false, allowsSecretsManager: false };
    const statements = asList(fn.policy?.Statement) as {
      Effect?: unknown;
      Principal?: unknown;
      Action?: unknown;
    }[];
    const allows = statements.some((s) => {
      if (s.Effect !== 'Allow') return false;
      const principal = s.Principal as { Service?: unknown } | string | undefined;
      const principalOk =
        principal === '*' ||
        (typeof principal === 'object' && asList(principal?.Service).includes(SECRETS_MANAGER));
      const actionOk = asList(s.Action).some(
        (a) => typeof a === 'string' && ['lambda:invokefunction', 'lambda:*', '*'].includes(a.toLowerCase()),
      );
      return principalOk && actionOk;
    });
    return { exists: true, allowsSecretsManager: allows };
  }
}
