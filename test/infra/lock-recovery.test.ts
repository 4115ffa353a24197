import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENDED_RUN_STATUSES } from '../../functions/lib/ended-run.js';
import { LOCK_MARGIN_SECONDS } from '../../functions/lib/lock.js';
import { CLOSER_DESCRIPTION_SUFFIX } from '../../infra/constructs/lock-recovery.js';
import {
  asList,
  examplePlan,
  grantsBySid,
  roleStatements,
  type Statement,
  stepFunction,
  stepStatements,
  synthesize,
} from './support.js';

type Resource = { Type: string; Properties: Record<string, unknown> };

function closer(template: ReturnType<typeof synthesize>['template'], planName: string) {
  const found = Object.entries(template.findResources('AWS::Lambda::Function')).filter(
    ([, r]) => (r as Resource).Properties.Description === `lifeboat ${planName}${CLOSER_DESCRIPTION_SUFFIX}`,
  );
  expect(found).toHaveLength(1);
  const [id, resource] = found[0] as [string, Resource];
  return { id, resource };
}

/** The top-level TimeoutSeconds of the state machine's definition, read from the synthesized template. */
function executionTimeoutSeconds(template: ReturnType<typeof synthesize>['template']): number {
  const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as Resource[];
  const body = machine?.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] };
  // References (function ARNs) sit inside JSON strings: a placeholder keeps the document parseable.
  const text = body['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : 'ref')).join('');
  const timeout = (JSON.parse(text) as { TimeoutSeconds?: unknown }).TimeoutSeconds;
  if (typeof timeout !== 'number') throw new Error('no top-level TimeoutSeconds in the definition');
  return timeout;
}

describe('lock recovery in the stack (issue 9, item 6)', () => {
  const plans = {
    'one unit': examplePlan('plan.json'),
    'three units': examplePlan('plan-three-units.json'),
    'many waves': (() => {
      const plan = examplePlan('plan.json');
      const [unit] = plan.units as Record<string, unknown>[];
      plan.units = Array.from({ length: 40 }, (_, i) => ({
        ...structuredClone(unit),
        name: `u${i}`,
        secret: { id: `u${i}/db` },
        database: {
          ...(unit?.database as object),
          primaryInstanceId: `u${i}-db`,
          replicaInstanceId: `u${i}-r`,
        },
        dns: { ...(unit?.dns as object), recordName: `u${i}.internal.example.com` },
      })) as never;
      plan.maxConcurrency = 2;
      return plan;
    })(),
  };

  it.each(Object.entries(plans))(
    "(d) the lock outlives the state machine's execution timeout, read from the template (%s)",
    (_name, document) => {
      // Prepare
      const { template, plan } = synthesize(document);
      const timeout = executionTimeoutSeconds(template);
      const acquire = stepFunction(template, plan, 'acquireLock').resource;

      // Act
      const lifetime = Number(
        (acquire.Properties.Environment as { Variables: Record<string, string> }).Variables
          .LOCK_LIFETIME_SECONDS,
      );

      // Assess
      expect(timeout).toBeGreaterThan(0);
      expect(lifetime).toBeGreaterThanOrEqual(timeout + LOCK_MARGIN_SECONDS);
    },
  );

  it("(a) a rule on the state machine's TIMED_OUT, ABORTED and FAILED executions invokes the closer, with retries and a dead-letter queue", () => {
    // Prepare
    const { template, plan } = synthesize(examplePlan('plan.json'));
    const fn = closer(template, plan.name);
    const [machineId] = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'));

    // Assess
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: [...ENDED_RUN_STATUSES], stateMachineArn: [{ Ref: machineId }] },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [fn.id, 'Arn'] },
          DeadLetterConfig: { Arn: Match.anyValue() },
          RetryPolicy: { MaximumRetryAttempts: 20, MaximumEventAgeInSeconds: 86_400 },
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fn.id },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
    const environment = (fn.resource.Properties.Environment as { Variables: Record<string, unknown> })
      .Variables;
    expect(Object.keys(environment)).toEqual(
      expect.arrayContaining([
        'STATE_MACHINE_ARN',
        'LOCK_TABLE_NAME',
        'REPORT_BUCKET_NAME',
        'REPORT_TOPIC_ARN',
      ]),
    );
  });

  it("(a) the closer reads only this state machine's executions, deletes only this plan's lock, writes under the plan's report prefix", () => {
    // Prepare
    const { template, plan } = synthesize(examplePlan('plan.json'));
    const fn = closer(template, plan.name);
    const role = (fn.resource.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];

    // Act
    const statements = roleStatements(template, role);
    const grants = grantsBySid(statements);
    const actions = statements.flatMap((s: Statement) => asList(s.Action));

    // Assess
    expect(grants.ReadEndedRuns?.actions).toEqual(['states:DescribeExecution', 'states:GetExecutionHistory']);
    expect(JSON.stringify(grants.ReadEndedRuns?.resources)).toContain(`:execution:lifeboat-${plan.name}:*`);
    const release = statements.find((s) => s.Sid === 'ReleaseEndedRunLock');
    expect(release?.Action).toBe('dynamodb:DeleteItem');
    expect(release?.Condition).toEqual({
      'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [plan.name] },
    });
    expect(JSON.stringify(grants.WriteReports?.resources)).toContain(`/reports/${plan.name}/*`);
    expect(actions).not.toContain('states:StartExecution');
    expect(actions).not.toContain('dynamodb:PutItem');
    expect(actions.filter((a) => a.endsWith('*'))).toEqual([]);
  });

  it("(b, c) AcquireLock may read the holder's execution and stop a drill's, on this state machine's executions only", () => {
    // Prepare
    const { template, plan } = synthesize(examplePlan('plan.json'));

    // Act
    const grants = grantsBySid(stepStatements(template, plan, 'acquireLock'));

    // Assess
    expect(grants.CheckLockHolder?.actions).toEqual(['states:DescribeExecution', 'states:StopExecution']);
    expect(JSON.stringify(grants.CheckLockHolder?.resources)).toContain(`:execution:lifeboat-${plan.name}:*`);
  });
});
