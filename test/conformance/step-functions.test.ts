import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  InvalidArn,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { conformance, type DivergenceTable, rejection, type Suite, unique } from './harness.js';

/**
 * The Step Functions calls lifeboat makes on its lock's holder and on ended runs (functions/lib/lock.ts,
 * functions/lib/ended-run.ts), as the emulator answers them and as moto does
 * (docs/aws/step-functions-execution-events.md). The emulator runs no state machine of its own: on it, the running
 * execution is registered the way the proving ground's runner registers its executions; on moto it is started.
 */

const REGION = 'us-west-2';
const ACCOUNT = '123456789012';

/** What moto 5.2.1 does instead of what AWS documents (asserted by each test's moto branch). */
const MOTO_DIVERGENCES: DivergenceTable = {
  'StopExecution ends a running execution ABORTED; DescribeExecution then gives the error and cause':
    'moto ends it ABORTED with a stopDate but drops the error and cause',
  'the history starts with ExecutionStarted and, once stopped, ends with ExecutionAborted':
    'moto returns a fixed sample history (ExecutionStarted ... ExecutionSucceeded/Failed), whatever happened',
};

/** A RUNNING execution of a state machine named like lifeboat's; its ARN. */
async function runningExecution(suite: Suite, sfn: SFNClient): Promise<string> {
  const target = suite.target();
  const machine = unique('lifeboat-conformance');
  const name = unique('run');
  if (target.emulator) {
    const executionArn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${machine}:${name}`;
    target.emulator.stepFunctions.register({
      executionArn,
      stateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${machine}`,
      name,
      input: '{}',
      startDate: Date.now(),
      status: 'RUNNING',
      history: [
        {
          id: 1,
          previousEventId: 0,
          timestamp: Date.now(),
          type: 'ExecutionStarted',
          executionStartedEventDetails: { input: '{}' },
        },
      ],
    });
    return executionArn;
  }
  const created = await sfn.send(
    new CreateStateMachineCommand({
      name: machine,
      roleArn: `arn:aws:iam::${ACCOUNT}:role/conformance`,
      definition: JSON.stringify({
        StartAt: 'Wait',
        States: { Wait: { Type: 'Wait', Seconds: 3600, End: true } },
      }),
    }),
  );
  const started = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: created.stateMachineArn, name, input: '{}' }),
  );
  return started.executionArn as string;
}

conformance('Step Functions', MOTO_DIVERGENCES, (suite) => {
  const client = () => new SFNClient(suite.target().config(REGION));

  describe('DescribeExecution', () => {
    it('a running execution is RUNNING, with its start date and no stop date or output', async () => {
      // Prepare
      const sfn = client();
      const executionArn = await runningExecution(suite, sfn);

      // Act
      const out = await sfn.send(new DescribeExecutionCommand({ executionArn }));

      // Assess
      expect(out.status).toBe('RUNNING');
      expect(out.executionArn).toBe(executionArn);
      expect(out.startDate).toBeInstanceOf(Date);
      expect(out.stopDate).toBeUndefined();
      expect(out.output).toBeUndefined();
    });

    it('an execution that does not exist is ExecutionDoesNotExist; a malformed ARN is InvalidArn', async () => {
      // Prepare
      const sfn = client();
      const missing = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${unique('lifeboat-none')}:${unique('run')}`;

      // Act
      const notThere = await rejection(sfn.send(new DescribeExecutionCommand({ executionArn: missing })));
      const malformed = await rejection(
        sfn.send(new DescribeExecutionCommand({ executionArn: 'not-an-arn' })),
      );

      // Assess
      expect(notThere).toBeInstanceOf(ExecutionDoesNotExist);
      expect(malformed).toBeInstanceOf(InvalidArn);
    });
  });

  describe('StopExecution', () => {
    it('StopExecution ends a running execution ABORTED; DescribeExecution then gives the error and cause', async () => {
      // Prepare
      const sfn = client();
      const executionArn = await runningExecution(suite, sfn);

      // Act
      const stop = await sfn.send(
        new StopExecutionCommand({
          executionArn,
          error: 'DrillPreemptedByFailover',
          cause: 'failover run r-1',
        }),
      );
      const after = await sfn.send(new DescribeExecutionCommand({ executionArn }));

      // Assess
      expect(stop.stopDate).toBeInstanceOf(Date);
      expect(after.status).toBe('ABORTED');
      expect(after.stopDate).toBeInstanceOf(Date);
      await suite.behaves(
        'StopExecution ends a running execution ABORTED; DescribeExecution then gives the error and cause',
        {
          aws: async () => {
            expect(after.error).toBe('DrillPreemptedByFailover');
            expect(after.cause).toBe('failover run r-1');
          },
          moto: async () => {
            expect(after.error ?? '').toBe('');
            expect(after.cause ?? '').toBe('');
          },
        },
      );
    });

    it('stopping an execution that does not exist is ExecutionDoesNotExist', async () => {
      // Prepare
      const sfn = client();
      const missing = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${unique('lifeboat-none')}:${unique('run')}`;

      // Act
      const error = await rejection(sfn.send(new StopExecutionCommand({ executionArn: missing })));

      // Assess
      expect(error).toBeInstanceOf(ExecutionDoesNotExist);
    });
  });

  describe('GetExecutionHistory', () => {
    it('the history starts with ExecutionStarted and, once stopped, ends with ExecutionAborted', async () => {
      // Prepare
      const sfn = client();
      const executionArn = await runningExecution(suite, sfn);
      await sfn.send(new StopExecutionCommand({ executionArn, error: 'E', cause: 'c' }));

      // Act
      const forward = await sfn.send(
        new GetExecutionHistoryCommand({ executionArn, includeExecutionData: true }),
      );
      const backward = await sfn.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true }));

      // Assess
      const events = forward.events ?? [];
      expect(events[0]?.type).toBe('ExecutionStarted');
      expect(events[0]?.id).toBe(1);
      expect(events[0]?.timestamp).toBeInstanceOf(Date);
      await suite.behaves(
        'the history starts with ExecutionStarted and, once stopped, ends with ExecutionAborted',
        {
          aws: async () => {
            expect(events.at(-1)?.type).toBe('ExecutionAborted');
            expect(events.at(-1)?.executionAbortedEventDetails).toEqual({ error: 'E', cause: 'c' });
            expect(backward.events?.[0]?.type).toBe('ExecutionAborted');
          },
          moto: async () => {
            expect(['ExecutionSucceeded', 'ExecutionFailed']).toContain(events.at(-1)?.type);
          },
        },
      );
    });
  });
});
