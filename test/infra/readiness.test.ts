import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { STEP_FUNCTIONS } from '../../statemachine/steps.js';
import { asList, examplePlan, roleStatements, type Statement, stepFunction, synthesize } from './support.js';

type Resource = { Type: string; Properties: Record<string, unknown> };

function readinessFunction(template: ReturnType<typeof synthesize>['template']) {
  const found = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([, r]) =>
    String((r as Resource).Properties.Description).endsWith(': readiness evaluation'),
  );
  if (found.length !== 1) throw new Error(`expected one readiness function, found ${found.length}`);
  const [id, resource] = found[0] as [string, Resource];
  const role = (resource.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return { id, resource, statements: roleStatements(template, role) };
}

const bySid = (statements: Statement[], sid: string) => {
  const found = statements.filter((s) => s.Sid === sid);
  if (found.length !== 1) throw new Error(`expected one statement ${sid}, found ${found.length}`);
  return found[0] as Statement;
};

describe('continuous readiness in the stack (examples/plan.json: defaults)', () => {
  const { template, plan } = synthesize(examplePlan('plan.json'));

  it('schedules the readiness function every 5 minutes, in UTC, without retries', () => {
    // Assess
    const { id } = readinessFunction(template);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Target: {
        Arn: { 'Fn::GetAtt': [id, 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 300 },
      },
    });
  });

  it('gives the function the state machine, the report bucket and every function to keep active', () => {
    // Assess
    const { resource } = readinessFunction(template);
    const variables = (resource.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(JSON.stringify(variables.STATE_MACHINE_ARN)).toContain(
      ':states:us-west-2:123456789012:stateMachine:lifeboat-orders-dr',
    );
    expect(variables.REPORT_BUCKET_NAME).toEqual({ Ref: expect.stringMatching(/^Reports/) });
    const warm = JSON.stringify(variables.READINESS_WARM_TARGETS);
    for (const step of STEP_FUNCTIONS) {
      expect(warm).toContain(`${step}=`);
      expect(warm).toContain(stepFunction(template, plan, step).id);
    }
    expect(warm).toContain('closeEndedRun=');
    expect(resource.Properties.Timeout).toBe(300);
  });

  it('may read what preflight reads, the deployed plan, write only its own object, publish only Lifeboat metrics and invoke exactly the functions it keeps active', () => {
    // Prepare
    const { statements } = readinessFunction(template);
    const preflight = statements.map((s) => s.Sid);
    // Assess
    for (const sid of [
      'ReadReplicaSecrets',
      'ReadRotationFunctions',
      'DescribeReplicaInstances',
      'ReadReplicaLag',
      'ReadHostedZones',
    ]) {
      expect(preflight).toContain(sid);
    }
    const readPlan = bySid(statements, 'ReadDeployedPlan');
    expect(readPlan.Action).toBe('states:DescribeStateMachine');
    expect(JSON.stringify(readPlan.Resource)).toMatch(
      /^\{"Fn::Join":\["",\["arn:",\{"Ref":"AWS::Partition"\},":states:us-west-2:123456789012:stateMachine:lifeboat-orders-dr"\]\]\}$/,
    );
    expect(JSON.stringify(bySid(statements, 'WriteReadiness'))).toContain(
      '/reports/orders-dr/readiness/latest.json',
    );
    expect(bySid(statements, 'WriteReadiness').Action).toBe('s3:PutObject');
    expect(bySid(statements, 'PublishReadiness')).toMatchObject({
      Action: 'cloudwatch:PutMetricData',
      Resource: '*',
      Condition: { StringEquals: { 'cloudwatch:namespace': 'Lifeboat' } },
    });
    const invoke = bySid(statements, 'KeepFunctionsActive');
    expect(invoke.Action).toBe('lambda:InvokeFunction');
    const targets = asList(invoke.Resource) as { 'Fn::GetAtt': [string, string] }[];
    expect(targets).toHaveLength(STEP_FUNCTIONS.length + 1);
    expect(targets.every((t) => t['Fn::GetAtt']?.[1] === 'Arn')).toBe(true);
    const ids = new Set(targets.map((t) => t['Fn::GetAtt'][0]));
    for (const step of STEP_FUNCTIONS) expect(ids.has(stepFunction(template, plan, step).id)).toBe(true);
    // Nothing mutating beyond its own object and metrics (besides its own log stream and traces).
    const actions = statements
      .flatMap((s) => asList(s.Action))
      .filter((a) => !a.startsWith('logs:') && !a.startsWith('xray:'));
    expect(
      actions.filter((a) => /:(Put|Update|Delete|Create|Promote|Stop|Start|Change|Rotate)/.test(a)),
    ).toEqual(['s3:PutObject', 'cloudwatch:PutMetricData']);
  });

  it('alarms to the topic after 3 evaluations in a row not ready, a missing evaluation counting as not ready', () => {
    // Prepare
    const topic = Object.keys(template.findResources('AWS::SNS::Topic'))[0];
    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'lifeboat-orders-dr-NotReady',
      Namespace: 'Lifeboat',
      MetricName: 'Ready',
      Dimensions: [{ Name: 'Plan', Value: 'orders-dr' }],
      Statistic: 'Minimum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: topic }],
      OKActions: [{ Ref: topic }],
    });
  });

  it("keeps the readiness object's old versions a day, not the report bucket's year", () => {
    // Assess
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Id: 'ReadinessHistory',
            Prefix: 'reports/orders-dr/readiness/latest.json',
            NoncurrentVersionExpiration: { NoncurrentDays: 1 },
            Status: 'Enabled',
          }),
        ]),
      },
    });
  });

  it('shows readiness per unit and check on the dashboard, the replica lag, drill recovery times against the RTO and the last runs', () => {
    // Prepare
    const dashboard = Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0];
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    // Assess
    expect(body).toContain('Ready for a failover');
    expect(body).toContain('\\"Lifeboat\\",\\"Ready\\",\\"Plan\\",\\"orders-dr\\",\\"Unit\\",\\"orders\\"');
    expect(body).toContain(
      '\\"Lifeboat\\",\\"ReplicaLagSeconds\\",\\"Plan\\",\\"orders-dr\\",\\"Unit\\",\\"orders\\"',
    );
    expect(body).toContain(
      '\\"Lifeboat\\",\\"RecoveryTimeSeconds\\",\\"Mode\\",\\"drill\\",\\"Plan\\",\\"orders-dr\\",\\"Unit\\",\\"ALL\\"',
    );
    expect(body).toMatch(
      /Drill recovery time against the target RTO.*\\"value\\":900,\\"label\\":\\"target RTO\\"/,
    );
    expect(body).toContain('Readiness alarm');
    expect(body).toContain('## Last runs');
    expect(body).toContain(
      'https://us-west-2.console.aws.amazon.com/states/home?region=us-west-2#/statemachines/view/',
    );
    expect(body).toContain('reports/orders-dr/latest.json');
  });
});

describe('readiness as the plan configures it', () => {
  it('an hourly schedule with the alarm after 2: the alarm period is the schedule', () => {
    // Prepare
    const document = {
      ...examplePlan('plan.json'),
      readiness: { schedule: 'rate(1 hour)', alarmAfterFailedEvaluations: 2 },
    };
    // Act
    const { template } = synthesize(document);
    // Assess
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(1 hour)' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'lifeboat-orders-dr-NotReady',
      Period: 3600,
      EvaluationPeriods: 2,
    });
  });

  it('"off": no schedule, no readiness function, no alarm, no readiness widgets', () => {
    // Act
    const { template } = synthesize({ ...examplePlan('plan.json'), readiness: { schedule: 'off' } });
    // Assess
    const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule')).map(
      (s) => (s as Resource).Properties.ScheduleExpression,
    );
    expect(schedules).toEqual(['cron(0 10 ? * TUE *)']);
    expect(() => readinessFunction(template)).toThrow(/found 0/);
    expect(
      Object.keys(template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'Ready' } })),
    ).toEqual([]);
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]);
    expect(body).not.toContain('Ready for a failover');
    expect(body).toContain('Drill recovery time against the target RTO');
  });
});
