import {
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from '../../cli/lifeboat.js';
import { STATE_NAMES as N } from '../../statemachine/failover.js';
import { ACCOUNT, EXECUTION_ARN, HistoryBuilder, iso, PLAN_NAME, REGION, START } from './history-fixture.js';
import { captureIo } from './support.js';

const sfn = mockClient(SFNClient);
const sts = mockClient(STSClient);
afterEach(() => {
  sfn.reset();
  sts.reset();
});

const TOKEN = 'AQCEAAAAKgAAAAMAAAAA-approval-token-of-this-run';
const SECOND_TOKEN = 'AQCEAAAAKgAAAAMAAAAB-after-a-retry';
const SRE = `arn:aws:sts::${ACCOUNT}:assumed-role/oncall/alice`;
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:lifeboat-${PLAN_NAME}`;

/** The approval request's TaskScheduled as Step Functions records it for the SNS waitForTaskToken integration. */
function scheduled(token: string): Partial<HistoryEvent> {
  return {
    taskScheduledEventDetails: {
      resourceType: 'sns',
      resource: 'publish.waitForTaskToken',
      region: REGION,
      parameters: JSON.stringify({
        TopicArn: TOPIC,
        Subject: `lifeboat: approve the failover of ${PLAN_NAME}?`,
        Message: {
          taskToken: token,
          planName: PLAN_NAME,
          runId: 'alarm-run',
          executionArn: EXECUTION_ARN,
          units: ['orders', 'billing'],
          preflightWarnings: ['orders: database.replica-lag: replica lag 12 s'],
          howToApprove: 'aws stepfunctions send-task-success --task-token <taskToken> --task-output "{}"',
        },
      }),
    },
  };
}

/**
 * A recorded-style history of an alarm-started run up to the approval gate: LoadPlan, Preflight, the choice, then the
 * request (optionally refused once by SNS and retried), and `after` it.
 */
function history(
  options: { retried?: boolean; after?: (b: HistoryBuilder, last: number) => void } = {},
): HistoryEvent[] {
  const b = new HistoryBuilder();
  let last = b.add('ExecutionStarted', 0, undefined, {
    executionStartedEventDetails: { input: JSON.stringify({ mode: 'failover', trigger: 'alarm' }) },
  });
  for (const [i, state] of [N.loadPlan, N.preflight].entries()) {
    last = b.add('TaskStateEntered', 1 + i * 2, last, {
      stateEnteredEventDetails: { name: state, input: '{}' },
    });
    last = b.add('LambdaFunctionScheduled', 1 + i * 2, last);
    last = b.add('LambdaFunctionSucceeded', 2 + i * 2, last, {
      lambdaFunctionSucceededEventDetails: { output: '{}' },
    });
    last = b.add('TaskStateExited', 2 + i * 2, last, {
      stateExitedEventDetails: { name: state, output: '{}' },
    });
  }
  last = b.add('ChoiceStateEntered', 5, last, {
    stateEnteredEventDetails: { name: N.needsApproval, input: '{}' },
  });
  last = b.add('ChoiceStateExited', 5, last, {
    stateExitedEventDetails: { name: N.needsApproval, output: '{}' },
  });
  last = b.add('TaskStateEntered', 6, last, {
    stateEnteredEventDetails: { name: N.askApproval, input: '{}' },
  });
  if (options.retried) {
    last = b.add('TaskScheduled', 6, last, scheduled(TOKEN));
    last = b.add('TaskStarted', 6, last);
    last = b.add('TaskFailed', 6, last, {
      taskFailedEventDetails: {
        resourceType: 'sns',
        resource: 'publish.waitForTaskToken',
        error: 'SNS.ThrottledException',
        cause: 'Rate exceeded',
      },
    });
  }
  last = b.add('TaskScheduled', 7, last, scheduled(options.retried ? SECOND_TOKEN : TOKEN));
  last = b.add('TaskStarted', 7, last);
  last = b.add('TaskSubmitted', 7, last, {
    taskSubmittedEventDetails: {
      resourceType: 'sns',
      resource: 'publish.waitForTaskToken',
      output: '{"MessageId":"m-1"}',
    },
  });
  options.after?.(b, last);
  return b.build();
}

function serveHistory(events: HistoryEvent[]): void {
  sfn.on(GetExecutionHistoryCommand, { executionArn: EXECUTION_ARN }).callsFake(() => ({ events }));
}

describe('lifeboat approve', () => {
  it('finds the waiting request, records who approves and when, and sends it with the token (never printed)', async () => {
    // Prepare
    serveHistory(history());
    sts.on(GetCallerIdentityCommand).resolves({ Arn: SRE, Account: ACCOUNT, UserId: 'AROA:alice' });
    sfn.on(SendTaskSuccessCommand).resolves({});
    const cli = captureIo();

    // Act
    const code = await run(['approve', EXECUTION_ARN, '--yes'], cli.io);

    // Assess
    expect(cli.stderr()).not.toContain('lifeboat approve:');
    expect(code).toBe(0);
    const sent = sfn.commandCalls(SendTaskSuccessCommand).map((c) => c.args[0].input);
    expect(sent).toEqual([
      { taskToken: TOKEN, output: JSON.stringify({ decision: 'approved', by: SRE, at: iso(0) }) },
    ]);
    expect(cli.stdout()).toContain(`approved by ${SRE} at ${iso(0)}: the failover of ${PLAN_NAME} goes on`);
    expect(cli.stderr()).toContain(`waits for approval to FAIL OVER plan ${PLAN_NAME}: orders, billing`);
    expect(cli.stderr()).toContain('preflight warning: orders: database.replica-lag: replica lag 12 s');
    expect(cli.stdout() + cli.stderr()).not.toContain(TOKEN);
    expect(cli.clients.map((c) => `${c.service} ${c.region}`)).toEqual([`sfn ${REGION}`, `sts ${REGION}`]);
  });

  it('asks for the plan name on a terminal; a wrong answer sends nothing (exit 1)', async () => {
    // Prepare
    serveHistory(history());
    const cli = captureIo({ tty: true, answer: 'orders' });

    // Act
    const code = await run(['approve', EXECUTION_ARN], cli.io);

    // Assess
    expect(code).toBe(1);
    expect(cli.prompts).toEqual([`Type the plan name (${PLAN_NAME}) to approve the failover: `]);
    expect(cli.stderr()).toContain('Not confirmed: nothing was sent.');
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toEqual([]);
    expect(sts.commandCalls(GetCallerIdentityCommand)).toEqual([]);
  });

  it('with the right answer on a terminal, approves', async () => {
    // Prepare
    serveHistory(history());
    sts.on(GetCallerIdentityCommand).resolves({ Arn: SRE });
    sfn.on(SendTaskSuccessCommand).resolves({});
    const cli = captureIo({ tty: true, answer: ` ${PLAN_NAME} ` });
    // Act
    const code = await run(['approve', EXECUTION_ARN, '--reason', 'primary Region is down'], cli.io);
    // Assess
    expect(code).toBe(0);
    expect(JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input.output ?? '')).toEqual({
      decision: 'approved',
      by: SRE,
      at: iso(0),
      reason: 'primary Region is down',
    });
  });

  it('takes the token of the latest request when SNS refused the first one and the gate retried', async () => {
    // Prepare
    serveHistory(history({ retried: true }));
    sts.on(GetCallerIdentityCommand).resolves({ Arn: SRE });
    sfn.on(SendTaskSuccessCommand).resolves({});
    // Act
    const code = await run(['approve', EXECUTION_ARN, '-y'], captureIo().io);
    // Assess
    expect(code).toBe(0);
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input.taskToken).toBe(SECOND_TOKEN);
  });

  it.each([
    [
      'answered already',
      (b: HistoryBuilder, last: number) => {
        const done = b.add('TaskSucceeded', 8, last, {
          taskSucceededEventDetails: {
            resourceType: 'sns',
            resource: 'publish.waitForTaskToken',
            output: '{}',
          },
        });
        b.add('TaskStateExited', 8, done, { stateExitedEventDetails: { name: N.askApproval, output: '{}' } });
      },
    ],
    [
      'timed out',
      (b: HistoryBuilder, last: number) => {
        b.add('TaskTimedOut', 9, last, {
          taskTimedOutEventDetails: {
            resourceType: 'sns',
            resource: 'publish.waitForTaskToken',
            error: 'States.Timeout',
          },
        });
      },
    ],
    [
      'ended',
      (b: HistoryBuilder, last: number) => {
        b.add('ExecutionAborted', 9, last, {});
      },
    ],
  ])('an execution whose approval was %s is not waiting: exit 3, nothing sent', async (_what, after) => {
    // Prepare
    serveHistory(history({ after }));
    const cli = captureIo();
    // Act
    const code = await run(['approve', EXECUTION_ARN, '--yes'], cli.io);
    // Assess
    expect(code).toBe(3);
    expect(cli.stderr()).toContain(`${EXECUTION_ARN} is not waiting for approval`);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toEqual([]);
  });

  it('a token that timed out between reading and answering is said plainly (exit 3)', async () => {
    // Prepare
    serveHistory(history());
    sts.on(GetCallerIdentityCommand).resolves({ Arn: SRE });
    sfn.on(SendTaskSuccessCommand).rejects(
      Object.assign(new Error('Task Timed Out'), {
        name: 'TaskTimedOut',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const cli = captureIo();
    // Act
    const code = await run(['approve', EXECUTION_ARN, '--yes'], cli.io);
    // Assess
    expect(code).toBe(3);
    expect(cli.stderr()).toContain(
      'no longer waits for approval (TaskTimedOut: it timed out, or someone answered first)',
    );
    expect(cli.stderr()).not.toContain(TOKEN);
  });

  it('refuses to go on without a terminal or --yes, and a malformed ARN, before any call (exit 2)', async () => {
    // Act
    const noTty = captureIo();
    const a = await run(['approve', EXECUTION_ARN], noTty.io);
    const bad = captureIo();
    const b = await run(['approve', 'not-an-arn', '--yes'], bad.io);
    const none = captureIo();
    const c = await run(['approve'], none.io);
    // Assess
    expect([a, b, c]).toEqual([2, 2, 2]);
    expect(noTty.stderr()).toContain('add --yes to approve');
    expect(bad.stderr()).toContain('expected an execution ARN');
    expect(none.stderr()).toContain('the execution ARN is missing');
    expect(sfn.calls()).toEqual([]);
  });
});

describe('lifeboat reject', () => {
  it('needs a reason (exit 2, nothing sent)', async () => {
    // Act
    const cli = captureIo();
    const code = await run(['reject', EXECUTION_ARN, '--yes'], cli.io);
    // Assess
    expect(code).toBe(2);
    expect(cli.stderr()).toContain('--reason is required');
    expect(sfn.calls()).toEqual([]);
  });

  it('sends ApprovalRejectedError with who, when and why as the cause', async () => {
    // Prepare
    serveHistory(history());
    sts.on(GetCallerIdentityCommand).resolves({ Arn: SRE });
    sfn.on(SendTaskFailureCommand).resolves({});
    const cli = captureIo({ tty: true, answer: PLAN_NAME });
    // Act
    const code = await run(['reject', EXECUTION_ARN, '--reason', 'the primary is back'], cli.io);
    // Assess
    expect(code).toBe(0);
    expect(cli.prompts).toEqual([`Type the plan name (${PLAN_NAME}) to reject the failover: `]);
    expect(sfn.commandCalls(SendTaskFailureCommand).map((c) => c.args[0].input)).toEqual([
      {
        taskToken: TOKEN,
        error: 'ApprovalRejectedError',
        cause: `rejected by ${SRE} at ${new Date(START).toISOString()}: the primary is back`,
      },
    ]);
    expect(cli.stdout()).toContain(`rejected by ${SRE}`);
  });
});
