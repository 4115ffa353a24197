import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cdkDynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as cdkS3 from 'aws-cdk-lib/aws-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../cli/lifeboat.js';
import { parsePlan } from '../../functions/lib/plan.js';
import type { Lifeboat } from '../../infra/lifeboat.js';
import {
  COMMANDS_OF_JOB,
  type OperatorJob,
  OperatorPolicies,
  type OperatorPoliciesProps,
  operatorPolicyDocuments,
  type PolicyDocumentJson,
} from '../../infra/operator-policies.js';
import { STATE_NAMES as N } from '../../statemachine/failover.js';
import {
  ACCOUNT,
  EXECUTION_ARN,
  failoverScenario,
  HistoryBuilder,
  PLAN_NAME,
  REGION,
} from '../cli/history-fixture.js';
import { captureIo, serveExecution } from '../cli/support.js';
import { examplePlan } from './support.js';

/*
 * Every AWS call a CLI command makes, recorded through aws-sdk-client-mock while the real command runs, must be allowed
 * by the policy of its job, and every action of that policy must be used by some command of the job: a command that
 * gains a call the policy lacks, or a policy that grants more than the commands use, fails here. docs/operator-iam.md.
 */

const PLAN_FILE = 'examples/plan-three-units.json';
const PLAN = ['--plan', PLAN_FILE];
const BUCKET = 'lifeboat-shop-dr-reports-1a2b3c';
const TABLE = 'Lifeboat-shop-dr-LockTable-9Z8Y';
const plan = parsePlan(JSON.parse(readFileSync(PLAN_FILE, 'utf8')));
const documents = operatorPolicyDocuments({ plan, reportBucketName: BUCKET, lockTableName: TABLE });

const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);
const sts = mockClient(STSClient);
const dynamodb = mockClient(DynamoDBClient);
beforeEach(() => {
  sfn.reset();
  s3.reset();
  sts.reset();
  dynamodb.reset();
});
afterEach(() => {
  sfn.reset();
  s3.reset();
  sts.reset();
  dynamodb.reset();
});

interface Call {
  readonly action: string;
  readonly resource: string;
}

/** The IAM action and resource of one recorded SDK call (Service Authorization Reference, per service). */
function authorizationOf(service: 'states' | 's3' | 'sts' | 'dynamodb', command: unknown): Call | undefined {
  const name = (command as { constructor: { name: string } }).constructor.name.replace(/Command$/, '');
  const input = (command as { input: Record<string, unknown> }).input;
  switch (service) {
    case 'states': {
      const resource =
        (input.stateMachineArn as string | undefined) ??
        (input.mapRunArn as string | undefined) ??
        (input.executionArn as string | undefined) ??
        // SendTaskSuccess/SendTaskFailure name no resource: only "*" can grant them.
        '*';
      return { action: `states:${name}`, resource };
    }
    case 's3':
      return { action: `s3:${name}`, resource: `arn:aws:s3:::${input.Bucket}/${input.Key}` };
    case 'dynamodb':
      return {
        action: `dynamodb:${name}`,
        resource: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${input.TableName}`,
      };
    case 'sts':
      // GetCallerIdentity needs no permission, even under an explicit deny (docs/aws/sts-caller-identity.md).
      return name === 'GetCallerIdentity' ? undefined : { action: `sts:${name}`, resource: '*' };
  }
}

function recordedCalls(): Call[] {
  const of = (service: 'states' | 's3' | 'sts' | 'dynamodb', calls: { args: unknown[] }[]) =>
    calls.map((c) => authorizationOf(service, c.args[0])).filter((c): c is Call => c !== undefined);
  return [
    ...of('states', sfn.calls()),
    ...of('s3', s3.calls()),
    ...of('sts', sts.calls()),
    ...of('dynamodb', dynamodb.calls()),
  ];
}

/** IAM's wildcard match: `*` any run of characters, `?` one. */
function matches(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('')
      .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
      .join('')}$`,
  );
  return re.test(value);
}

function allowedBy(docs: PolicyDocumentJson[], call: Call): boolean {
  return docs.some((doc) =>
    doc.Statement.some(
      (s) =>
        s.Action.some((a) => matches(a, call.action)) && s.Resource.some((r) => matches(r, call.resource)),
    ),
  );
}

/** Runs one command as the CLI does and returns what it called. */
async function callsOf(args: string[], expectCode: number): Promise<Call[]> {
  const cli = captureIo();
  const code = await run(args, cli.io);
  expect(code, `${args.join(' ')}: ${cli.stderr()}`).toBe(expectCode);
  return recordedCalls();
}

/** An alarm-started run waiting at the approval gate (the request's TaskScheduled carries the token). */
function waitingForApproval(): HistoryEvent[] {
  const b = new HistoryBuilder();
  let last = b.add('ExecutionStarted', 0, undefined, {
    executionStartedEventDetails: { input: JSON.stringify({ mode: 'failover', trigger: 'alarm' }) },
  });
  last = b.add('TaskStateEntered', 6, last, {
    stateEnteredEventDetails: { name: N.askApproval, input: '{}' },
  });
  last = b.add('TaskScheduled', 7, last, {
    taskScheduledEventDetails: {
      resourceType: 'sns',
      resource: 'publish.waitForTaskToken',
      region: REGION,
      parameters: JSON.stringify({
        TopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:lifeboat-${PLAN_NAME}`,
        Message: {
          taskToken: 'token-of-this-run',
          planName: PLAN_NAME,
          executionArn: EXECUTION_ARN,
          units: [],
        },
      }),
    },
  });
  b.add('TaskStarted', 7, last);
  return b.build();
}

/** Each job's commands, run the ways that reach every call they make. */
const scenarios: Record<Exclude<OperatorJob, 'deploy'>, { name: string; calls: () => Promise<Call[]> }[]> = {
  start: [
    {
      name: 'lifeboat start --yes',
      calls: async () => {
        sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION_ARN, startDate: new Date() });
        return callsOf(['start', ...PLAN, '--yes'], 0);
      },
    },
  ],
  approve: [
    {
      name: 'lifeboat approve',
      calls: async () => {
        sfn.on(GetExecutionHistoryCommand).resolves({ events: waitingForApproval() });
        sts
          .on(GetCallerIdentityCommand)
          .resolves({ Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/oncall/alice` });
        sfn.on(SendTaskSuccessCommand).resolves({});
        return callsOf(['approve', EXECUTION_ARN, '--yes'], 0);
      },
    },
    {
      name: 'lifeboat reject',
      calls: async () => {
        sfn.on(GetExecutionHistoryCommand).resolves({ events: waitingForApproval() });
        sts
          .on(GetCallerIdentityCommand)
          .resolves({ Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/oncall/alice` });
        sfn.on(SendTaskFailureCommand).resolves({});
        return callsOf(['reject', EXECUTION_ARN, '--reason', 'the primary is back', '--yes'], 0);
      },
    },
  ],
  watch: [
    {
      name: 'lifeboat watch (units as child executions of the Distributed Map)',
      calls: async () => {
        serveExecution(sfn, failoverScenario({ distributed: true }), EXECUTION_ARN, { polls: 4 });
        return callsOf(['watch', EXECUTION_ARN, '--interval', '1'], 0);
      },
    },
    {
      name: 'lifeboat report <failed execution> (the report from the history)',
      calls: async () => {
        serveExecution(sfn, failoverScenario({ failCatalogDns: true }), EXECUTION_ARN, { polls: 1 });
        return callsOf(['report', EXECUTION_ARN], 1);
      },
    },
    {
      name: 'lifeboat report --latest (the newest finished execution)',
      calls: async () => {
        const scenario = failoverScenario();
        serveExecution(sfn, scenario, EXECUTION_ARN, { polls: 1 });
        sfn.on(ListExecutionsCommand).resolves({
          executions: [
            {
              executionArn: EXECUTION_ARN,
              stateMachineArn: documents.start.Statement[0]?.Resource[0],
              name: 'x',
              status: 'SUCCEEDED',
              startDate: new Date(),
            },
          ],
        });
        return callsOf(['report', '--latest', ...PLAN], 0);
      },
    },
    {
      name: 'lifeboat report --latest --bucket',
      calls: async () => {
        const report = failoverScenario().report;
        s3.on(GetObjectCommand).resolves({
          Body: { transformToString: async () => JSON.stringify(report) },
        } as never);
        return callsOf(['report', '--latest', ...PLAN, '--bucket', BUCKET], 0);
      },
    },
    {
      name: 'lifeboat status --bucket --lock-table',
      calls: async () => {
        s3.on(GetObjectCommand).rejects(Object.assign(new Error('no such key'), { name: 'NoSuchKey' }));
        sfn.on(ListExecutionsCommand).resolves({ executions: [] });
        dynamodb.on(GetItemCommand).resolves({});
        return callsOf(['status', ...PLAN, '--bucket', BUCKET, '--lock-table', TABLE], 0);
      },
    },
  ],
};

describe('operator policies: every call the CLI makes is allowed, nothing beyond', () => {
  for (const [job, runs] of Object.entries(scenarios) as [
    Exclude<OperatorJob, 'deploy'>,
    typeof scenarios.start,
  ][]) {
    it(`${job} (${COMMANDS_OF_JOB[job].join(', ')})`, async () => {
      // Prepare
      const used = new Set<string>();
      // Act
      for (const scenario of runs) {
        sfn.reset();
        s3.reset();
        sts.reset();
        dynamodb.reset();
        const calls = await scenario.calls();
        // Assess: each call is allowed by this job's policy alone
        expect(calls.length, scenario.name).toBeGreaterThan(0);
        for (const call of calls) {
          expect(
            allowedBy([documents[job]], call),
            `${scenario.name}: ${call.action} on ${call.resource}`,
          ).toBe(true);
          for (const statement of documents[job].Statement) {
            if (
              statement.Action.includes(call.action) &&
              statement.Resource.some((r) => matches(r, call.resource))
            ) {
              used.add(`${statement.Sid} ${call.action}`);
            }
          }
        }
      }
      // Assess: every action the policy grants is used by some command of the job
      const granted = documents[job].Statement.flatMap((s) => s.Action.map((a) => `${s.Sid} ${a}`));
      expect([...used].sort()).toEqual([...granted].sort());
    });
  }

  it('start --watch needs start and watch together', async () => {
    // Prepare
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION_ARN, startDate: new Date() });
    serveExecution(sfn, failoverScenario(), EXECUTION_ARN, { polls: 2 });
    // Act
    const calls = await callsOf(['start', ...PLAN, '--yes', '--watch'], 0);
    // Assess
    expect(calls.filter((c) => !allowedBy([documents.start, documents.watch], c))).toEqual([]);
    expect(calls.filter((c) => !allowedBy([documents.start], c)).length).toBeGreaterThan(0);
  });

  it('a call outside the plan is refused: another plan, another bucket prefix, another table', () => {
    // Assess
    const other = 'arn:aws:states:eu-central-1:123456789012:execution:lifeboat-shop-dr2:run';
    expect(allowedBy([documents.watch], { action: 'states:DescribeExecution', resource: other })).toBe(false);
    expect(
      allowedBy([documents.watch], {
        action: 's3:GetObject',
        resource: `arn:aws:s3:::${BUCKET}/reports/other-plan/latest.json`,
      }),
    ).toBe(false);
    expect(
      allowedBy([documents.watch], {
        action: 'dynamodb:GetItem',
        resource: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/other`,
      }),
    ).toBe(false);
    expect(
      allowedBy([documents.start], {
        action: 'states:StartExecution',
        resource: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:lifeboat-${PLAN_NAME}-2`,
      }),
    ).toBe(false);
  });
});

describe('the CLI calls no AWS API the policies do not name', () => {
  it('every SDK command constructed in cli/ is granted to some job (or needs no permission)', () => {
    // Prepare: the commands the CLI's own files construct, and the lock read it borrows (functions/lib/lock.ts readLock)
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
      );
    const constructed = new Set<string>(['GetItem']);
    for (const file of files('cli')) {
      for (const m of readFileSync(file, 'utf8').matchAll(/new (\w+)Command\(/g))
        constructed.add(m[1] as string);
    }
    const granted = new Set(
      Object.values(documents).flatMap((d) =>
        d.Statement.flatMap((s) => s.Action.map((a) => a.split(':')[1])),
      ),
    );
    // Act
    const missing = [...constructed].filter((c) => !granted.has(c) && c !== 'GetCallerIdentity');
    // Assess
    expect(missing).toEqual([]);
    expect(constructed.size).toBeGreaterThan(5);
  });
});

describe('OperatorPolicies construct', () => {
  it('makes one managed policy per job, scoped to the stack’s own bucket and table', () => {
    // Prepare: what a Lifeboat construct exposes (Lifeboat itself is checked to fit by the type), without its synthesis
    const app = new App();
    const p = parsePlan(examplePlan('plan.json'));
    const stack = new Stack(app, 'Dr', { env: { account: p.account, region: p.recoveryRegion } });
    const bucket = new cdkS3.Bucket(stack, 'Reports');
    const table = new cdkDynamodb.Table(stack, 'LockTable', {
      partitionKey: { name: 'planName', type: cdkDynamodb.AttributeType.STRING },
    });
    const lifeboat: OperatorPoliciesProps['lifeboat'] = {
      plan: p,
      reports: { bucket },
      lockTable: { table },
    };
    // Act
    new OperatorPolicies(stack, 'Operators', { lifeboat });
    // Assess
    const template = Template.fromStack(stack);
    const policies = template.findResources('AWS::IAM::ManagedPolicy');
    const names = Object.values(policies).map(
      (r) => (r as { Properties: { ManagedPolicyName: string } }).Properties.ManagedPolicyName,
    );
    expect(names.sort()).toEqual(
      ['approve', 'deploy', 'start', 'watch'].map((job) => `lifeboat-${p.name}-${job}`).sort(),
    );
    const text = JSON.stringify(policies);
    expect(text).toContain(`stateMachine:lifeboat-${p.name}`);
    // The bucket and table are the stack's own (references, not names typed by hand).
    expect(text).toMatch(/"Ref":"Reports[A-Za-z0-9]*"/);
    expect(text).toMatch(/"Ref":"LockTable[A-Za-z0-9]*"/);
  });

  it('a Lifeboat construct is a scope for the policies', () => {
    // Assess (typecheck): the construct exposes what OperatorPolicies reads
    const fits = (l: Lifeboat): OperatorPoliciesProps['lifeboat'] => l;
    expect(typeof fits).toBe('function');
  });
});

describe('docs/operator-iam.md prints the policies as built', () => {
  it('each JSON block of the doc is the policy operatorPolicyDocuments builds for examples/plan.json', () => {
    // Prepare
    const doc = readFileSync('docs/operator-iam.md', 'utf8');
    const p = parsePlan(examplePlan('plan.json'));
    const built = operatorPolicyDocuments({
      plan: p,
      reportBucketName: '<ReportBucketName>',
      lockTableName: '<LockTableName>',
    });
    // Act
    for (const job of ['start', 'approve', 'watch', 'deploy'] as const) {
      const block = new RegExp(`<!-- policy:${job} -->\\s*\`\`\`json\\n([\\s\\S]*?)\`\`\``).exec(doc);
      // Assess
      expect(block, `docs/operator-iam.md has no block <!-- policy:${job} -->`).not.toBeNull();
      expect(JSON.parse(block?.[1] ?? 'null')).toEqual(built[job]);
    }
  });
});
