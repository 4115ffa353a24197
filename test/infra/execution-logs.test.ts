import { describe, expect, it } from 'vitest';
import { examplePlan, synthesize } from './support.js';

describe.each([['plan.json'], ['plan-three-units.json']] as const)(
  "the state machine's log on %s",
  (file) => {
    // Prepare
    const { template } = synthesize(examplePlan(file));
    const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0] as {
      Properties: { LoggingConfiguration: { Level: string; IncludeExecutionData: boolean } };
    };

    it('logs failures with their data, never TaskScheduled (which holds the approval task token)', () => {
      // Assess: the ERROR level does not log TaskScheduled (Step Functions "Log levels"; docs/design/execution-logs.md)
      expect(machine.Properties.LoggingConfiguration).toMatchObject({
        Level: 'ERROR',
        IncludeExecutionData: true,
      });
    });

    it('names its log group in an output, for the operators who look for it', () => {
      // Prepare
      const group = Object.entries(template.findResources('AWS::Logs::LogGroup')).find(
        ([, r]) => (r as { Properties: Record<string, unknown> }).Properties.LogGroupName,
      )?.[0];
      // Assess
      template.hasOutput('ExecutionLogGroupName', { Value: { Ref: group } });
    });
  },
);
