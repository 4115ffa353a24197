import { existsSync } from 'node:fs';
import { basename, extname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetStaging, Duration, Stack } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge, acknowledgeWildcards } from '../nag.js';
import { PropsProblems } from './props.js';
import { RETAINED } from './retention.js';

/**
 * The repository root: `infra/constructs/` is two levels below it. In the installed package the compiled constructs
 * are in `dist/infra/constructs/`, so this is `dist/`, which holds the pre-built bundles (`lambda/`) instead of the
 * handlers' sources.
 */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where the package keeps each handler's pre-built bundle: `lambda/<handler file name>/index.mjs`, below PROJECT_ROOT. */
export const PREBUILT_DIR = 'lambda';

/** The pre-built bundle directory of a handler entry (`functions/load-plan.ts` → `lambda/load-plan`). */
export function prebuiltBundleDir(projectRoot: string, entry: string): string {
  return join(projectRoot, PREBUILT_DIR, basename(entry, extname(entry)));
}

/**
 * Modules every bundle takes in place of a package (esbuild's `alias`; the path is resolved in esbuild's working
 * directory, the project root). Each replaces SDK code that a Lambda step never runs (docs/design/packaging.md,
 * "Bundle size", "What the aliases replace"):
 * - The SDK's default credential chain (`@aws-sdk/credential-provider-node`, which every client's runtime config
 *   imports) becomes lifeboat's own reader of the credentials the Lambda runtime puts in the environment: the chain's
 *   SSO, STS, ini-file, process, web-identity, container and instance-metadata providers, with their nested clients,
 *   are some 140 KiB of every bundle (docs/aws/lambda-credentials.md).
 * - The event-stream codec (`@smithy/core/event-streams`, which the HTTP protocol loads through an `import()` esbuild
 *   inlines) becomes a module that fails with NotSupportedError: no step sends an operation that streams events, and
 *   the codec is some 15 KiB of every bundle.
 */
export const BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-node': './functions/lib/sdk/credentials.ts',
  '@smithy/core/event-streams': './functions/lib/sdk/no-event-streams.ts',
};

/**
 * How every step is bundled: one minified ES module for Node.js 22 with names kept (the error classes' names are
 * what the state machine's `ErrorEquals` matches) and source maps. The package's pre-built bundles
 * (scripts/bundle-functions.ts) are made with these same options (scripts/esbuild-options.ts turns them into
 * esbuild's).
 */
export const BUNDLING = {
  format: nodejs.OutputFormat.ESM,
  target: 'node22',
  platform: 'node',
  mainFields: ['module', 'main'],
  minify: true,
  keepNames: true,
  sourceMap: true,
  sourcesContent: false,
  // pg and mysql2 are CommonJS and require() Node's built-ins; an ES module has no require of its own.
  banner: "import { createRequire } from 'node:module';const require = createRequire(import.meta.url);",
  // Bundle the SDK version the code was tested with, not whatever the runtime ships that day.
  bundleAwsSDK: true,
  // pg loads its optional native binding only when asked to (`pg.native`); lifeboat never asks.
  externalModules: ['pg-native'],
  // NodejsFunction passes `--alias:<package>=<path>` to esbuild for each entry (aws-cdk-lib BundlingOptions
  // `esbuildArgs`); local bundling runs esbuild in the project root, where the alias paths are resolved.
  // `--charset=utf8`: non-ASCII characters as they are (UTF-8, which Node reads a module in) rather than as \uXXXX
  // escapes; the same program, and iconv-lite's character-set tables in the database steps shrink by some 215 KiB
  // (docs/design/packaging.md, "Bundle size"). An esbuild argument because NodejsFunction drops its own `charset`
  // option (aws-cdk issue 32649).
  esbuildArgs: {
    '--alias': Object.entries(BUNDLE_ALIASES).map(([pkg, path]) => `${pkg}=${path}`),
    '--charset': 'utf8',
  },
  // Docker bundling (when esbuild is not installed) runs there too: the project root is mounted as the input directory.
  workingDirectory: AssetStaging.BUNDLING_INPUT_DIR,
} as const satisfies nodejs.BundlingOptions;

/** Where the function runs inside a VPC. Subnets and groups are imported by id: no lookups at synth. */
export interface StepFunctionVpcPlacement {
  readonly vpc: ec2.IVpc;
  readonly subnets: readonly ec2.ISubnet[];
  readonly securityGroup: ec2.ISecurityGroup;
}

export interface StepFunctionProps {
  /** The handler file, relative to `projectRoot` (e.g. `functions/load-plan.ts`); it exports `handler`. */
  readonly entry: string;
  /** What the function does, shown in the Lambda console. */
  readonly description: string;
  /** Environment variables on top of the ones every step gets. @default none */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default 30 seconds */
  readonly timeout?: Duration;
  /** @default 512 MiB (CPU grows with memory; a failover is no time for a slow cold start) */
  readonly memorySize?: number;
  /** How long the function's log group keeps events. @default one year (a failover's record outlives it) */
  readonly logRetention?: logs.RetentionDays;
  /** Run in a VPC (the verify step reaches the database). @default not in a VPC */
  readonly vpcPlacement?: StepFunctionVpcPlacement;
  /** Powertools service name in every log line. @default "lifeboat" */
  readonly serviceName?: string;
  /**
   * Directory holding package.json and package-lock.json (bundling from source), or the pre-built bundles in
   * `lambda/` (the installed package). @default the repository root, or the package's `dist/`
   */
  readonly projectRoot?: string;
}

/**
 * The Lambda function of one state-machine step. Every step is built the same way: Node.js 22 on ARM64, bundled
 * by esbuild as one minified ES module with names kept (the error classes' names are what the state machine's
 * `ErrorEquals` matches) and source maps, its own log group (kept on destroy), X-Ray tracing, and its own role that
 * starts with nothing but writing to that log group — the caller adds only what the step calls.
 *
 * From a checkout the handler's TypeScript source is there and esbuild bundles it at synthesis (NodejsFunction);
 * the installed package ships no sources but the bundles made at `npm pack` with the same options
 * (scripts/bundle-functions.ts), so a team's synthesis needs neither esbuild nor TypeScript
 * (docs/design/packaging.md).
 */
export class StepFunction extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: StepFunctionProps) {
    super(scope, id);
    const problems = new PropsProblems('StepFunction');
    if (!props.entry) problems.add('entry', 'is required');
    else if (!/\.(ts|mts|js|mjs)$/.test(props.entry))
      problems.add('entry', `must be a .ts or .js file, got ${props.entry}`);
    if (!props.description) problems.add('description', 'is required');
    else if (props.description.length > 256) problems.add('description', 'must be at most 256 characters');
    problems.duration('timeout', props.timeout, Duration.seconds(1), Duration.minutes(15));
    problems.integer('memorySize', props.memorySize, 128, 10_240);
    if (props.vpcPlacement && props.vpcPlacement.subnets.length === 0) {
      problems.add('vpcPlacement.subnets', 'must name at least one subnet');
    }
    for (const key of Object.keys(props.environment ?? {})) {
      if (key.startsWith('AWS_')) problems.add(`environment.${key}`, 'AWS_ variables are reserved by Lambda');
    }
    problems.check();

    const projectRoot = props.projectRoot ?? PROJECT_ROOT;
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      // No name: CloudFormation makes a unique one, so the kept group never blocks the next stack.
      removalPolicy: RETAINED,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    // Only the function's own log group: no AWSLambdaBasicExecutionRole (logs on every group in the account).
    this.logGroup.grantWrite(this.role);
    if (props.vpcPlacement) this.allowNetworkInterfaces(props.vpcPlacement);

    const common: Omit<lambda.FunctionProps, 'code' | 'handler'> = {
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName ?? 'lifeboat',
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      ...(props.vpcPlacement
        ? {
            vpc: props.vpcPlacement.vpc,
            vpcSubnets: { subnets: [...props.vpcPlacement.subnets] },
            securityGroups: [props.vpcPlacement.securityGroup],
          }
        : {}),
    };
    const source = isAbsolute(props.entry) ? props.entry : join(projectRoot, props.entry);
    const prebuilt = prebuiltBundleDir(projectRoot, props.entry);
    if (existsSync(source)) {
      this.function = new nodejs.NodejsFunction(this, 'Function', {
        ...common,
        entry: source,
        handler: 'handler',
        projectRoot,
        depsLockFilePath: join(projectRoot, 'package-lock.json'),
        bundling: { ...BUNDLING, externalModules: [...BUNDLING.externalModules] },
      });
    } else if (existsSync(join(prebuilt, 'index.mjs'))) {
      this.function = new lambda.Function(this, 'Function', {
        ...common,
        code: lambda.Code.fromAsset(prebuilt),
        handler: 'index.handler',
      });
    } else {
      throw new TypeError(
        `StepFunction props are invalid:\n  - entry: neither the source ${source} nor a pre-built bundle ${join(prebuilt, 'index.mjs')} exists (in a checkout, the source; in the package, run npm pack's build: npm run build)`,
      );
    }
    // The role's policy (including the network-interface permissions) must exist before Lambda creates ENIs.
    this.function.node.addDependency(this.role);
    acknowledge(
      this,
      'AwsSolutions-L1',
      'lifeboat pins Node.js 22 (supported by Lambda into 2027): bundles target node22 and are tested on it; a newer runtime is a deliberate, tested upgrade, not drift',
    );
    acknowledge(
      this,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords) supports no resource-level permissions',
    );
  }

  /**
   * What Lambda needs to manage the function's network interfaces, scoped as far as EC2 allows
   * (https://docs.aws.amazon.com/lambda/latest/dg/configuring-vpc.html#configuration-vpc-permissions):
   * Describe* works only on `*`, DeleteNetworkInterface must name the interfaces or all of them.
   */
  private allowNetworkInterfaces(placement: StepFunctionVpcPlacement): void {
    const stack = Stack.of(this);
    const ec2Arn = (resource: string) =>
      `arn:${stack.partition}:ec2:${stack.region}:${stack.account}:${resource}`;
    const describe = new iam.PolicyStatement({
      sid: 'DescribeNetworkInterfaces',
      actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
      resources: ['*'],
    });
    const create = new iam.PolicyStatement({
      sid: 'CreateNetworkInterfaces',
      actions: ['ec2:CreateNetworkInterface'],
      resources: [
        ec2Arn('network-interface/*'),
        ...placement.subnets.map((s) => ec2Arn(`subnet/${s.subnetId}`)),
        ec2Arn(`security-group/${placement.securityGroup.securityGroupId}`),
      ],
    });
    const manage = new iam.PolicyStatement({
      sid: 'ManageNetworkInterfaces',
      actions: [
        'ec2:DeleteNetworkInterface',
        'ec2:AssignPrivateIpAddresses',
        'ec2:UnassignPrivateIpAddresses',
      ],
      resources: [ec2Arn('network-interface/*')],
    });
    for (const statement of [describe, create, manage]) this.role.addToPolicy(statement);
    acknowledgeWildcards(this, describe, 'EC2 Describe* actions support no resource-level permissions');
    const why =
      'the network interfaces Lambda creates and deletes for the function get their ids at deploy time; network-interface/* in this account and Region is the narrowest resource (the subnets and security group are named)';
    acknowledgeWildcards(this, create, why);
    acknowledgeWildcards(this, manage, why);
  }
}
