import {
  CreateStateMachineCommand,
  DescribeStateMachineCommand,
  InvalidToken,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import {
  conformance,
  type DivergenceTable,
  needsEmulator,
  rejection,
  type Suite,
  unique,
} from './harness.js';

/**
 * The calls of lifeboat's operator console (cli/commands/status.ts, approve.ts, reject.ts) as the emulator answers
 * them and as moto does (docs/aws/step-functions-task-tokens.md, docs/aws/sts-caller-identity.md).
 */

const REGION = 'us-west-2';
const ACCOUNT = '123456789012';

const MOTO_DIVERGENCES: DivergenceTable = {
  'a token no task issued is InvalidToken':
    'moto accepts SendTaskSuccess and SendTaskFailure with any token (no-ops)',
};

/** Two executions of one state machine, started a moment apart; the machine's ARN and theirs, oldest first. */
async function twoExecutions(
  suite: Suite,
  sfn: SFNClient,
): Promise<{ machine: string; executions: string[] }> {
  const target = suite.target();
  const name = unique('lifeboat-console');
  if (target.emulator) {
    const machine = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`;
    const executions = ['first', 'second'].map((run, i) => {
      const executionArn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${name}:${run}`;
      target.emulator?.stepFunctions.register({
        executionArn,
        stateMachineArn: machine,
        name: run,
        input: '{}',
        startDate: Date.now() + i * 1000,
        status: 'RUNNING',
        history: [],
      });
      return executionArn;
    });
    return { machine, executions };
  }
  const created = await sfn.send(
    new CreateStateMachineCommand({
      name,
      roleArn: `arn:aws:iam::${ACCOUNT}:role/conformance`,
      definition: JSON.stringify({
        StartAt: 'Wait',
        States: { Wait: { Type: 'Wait', Seconds: 3600, End: true } },
      }),
    }),
  );
  const machine = created.stateMachineArn as string;
  const executions: string[] = [];
  for (const run of ['first', 'second']) {
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: machine, name: run, input: '{}' }),
    );
    executions.push(started.executionArn as string);
    await new Promise((resolve) => setTimeout(resolve, 1100));
  }
  return { machine, executions };
}

conformance('Operator console (Step Functions, STS)', MOTO_DIVERGENCES, (suite) => {
  describe('STS GetCallerIdentity', () => {
    it('names the caller: the account, an IAM or STS ARN in it, and a user id', async () => {
      // Prepare
      const sts = new STSClient(suite.target().config(REGION));
      // Act
      const who = await sts.send(new GetCallerIdentityCommand({}));
      // Assess
      expect(who.Account).toBe(ACCOUNT);
      expect(who.Arn).toMatch(new RegExp(`^arn:aws:(iam|sts)::${ACCOUNT}:(user|assumed-role)/.+`));
      expect(who.UserId).toMatch(/^\w+/);
    });
  });

  describe('DescribeStateMachine', () => {
    it('gives the definition as deployed; an unknown state machine is StateMachineDoesNotExist', async () => {
      // Prepare
      const sfn = new SFNClient(suite.target().config(REGION));
      const name = unique('lifeboat-console');
      const definition = JSON.stringify({
        StartAt: 'Take the plan',
        States: { 'Take the plan': { Type: 'Pass', Result: { plan: { name: 'orders-dr' } }, End: true } },
      });
      let machine = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`;
      const emulator = suite.target().emulator;
      if (emulator) {
        emulator.stepFunctions.registerStateMachine({
          stateMachineArn: machine,
          name,
          definition,
          creationDate: Date.now(),
        });
      } else {
        const created = await sfn.send(
          new CreateStateMachineCommand({
            name,
            roleArn: `arn:aws:iam::${ACCOUNT}:role/conformance`,
            definition,
          }),
        );
        machine = created.stateMachineArn as string;
      }
      // Act
      const out = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: machine }));
      const missing = await rejection(
        sfn.send(new DescribeStateMachineCommand({ stateMachineArn: `${machine}-missing` })),
      );
      // Assess
      expect(out.stateMachineArn).toBe(machine);
      expect(out.status).toBe('ACTIVE');
      expect(JSON.parse(out.definition ?? '{}')).toEqual(JSON.parse(definition));
      expect(missing).toBeInstanceOf(StateMachineDoesNotExist);
    });
  });

  describe('ListExecutions', () => {
    it("lists one state machine's executions, newest first", async () => {
      // Prepare
      const sfn = new SFNClient(suite.target().config(REGION));
      const { machine, executions } = await twoExecutions(suite, sfn);
      // Act
      const out = await sfn.send(new ListExecutionsCommand({ stateMachineArn: machine, maxResults: 20 }));
      // Assess
      expect(out.executions?.map((e) => e.executionArn)).toEqual([...executions].reverse());
      expect(out.executions?.every((e) => e.status === 'RUNNING' && e.startDate instanceof Date)).toBe(true);
    });
  });

  describe('SendTaskSuccess / SendTaskFailure', () => {
    it('a token no task issued is InvalidToken', async () => {
      // Prepare
      const sfn = new SFNClient(suite.target().config(REGION));
      const token = `not-issued-${unique('token')}`;
      const success = () => sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' }));
      const failure = () =>
        sfn.send(
          new SendTaskFailureCommand({ taskToken: token, error: 'ApprovalRejectedError', cause: 'no' }),
        );
      // Act, Assess
      await suite.behaves('a token no task issued is InvalidToken', {
        aws: async () => {
          expect(await rejection(success())).toBeInstanceOf(InvalidToken);
          expect(await rejection(failure())).toBeInstanceOf(InvalidToken);
        },
        moto: async () => {
          await expect(success()).resolves.toBeDefined();
          await expect(failure()).resolves.toBeDefined();
        },
      });
    });

    it('answers a waiting task once; a second answer is TaskTimedOut (the task is closed)', async () => {
      if (needsEmulator(suite.name, 'SendTaskSuccess twice', 'moto runs no callback task to answer')) return;
      // Prepare
      const sfn = new SFNClient(suite.target().config(REGION));
      const name = unique('lifeboat-console');
      const received: string[] = [];
      const token = `issued-${unique('token')}`;
      suite.target().emulator?.stepFunctions.register({
        executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:${name}:run`,
        stateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`,
        name: 'run',
        input: '{}',
        startDate: Date.now(),
        status: 'RUNNING',
        history: [],
        issuedTokens: new Set([token]),
        waitingTasks: new Map([
          [
            token,
            { succeed: (output) => received.push(output), fail: (error) => received.push(`failed ${error}`) },
          ],
        ]),
      });
      // Act
      await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"decision":"approved"}' }));
      const again = await rejection(
        sfn.send(new SendTaskFailureCommand({ taskToken: token, error: 'ApprovalRejectedError' })),
      );
      // Assess
      expect(received).toEqual(['{"decision":"approved"}']);
      expect((again as { name?: string } | undefined)?.name).toBe('TaskTimedOut');
    });
  });
});
