import { App, Duration, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { describe, expect, it } from 'vitest';
import { parsePlan } from '../../functions/lib/plan.js';
import { MAX_UNITS_PER_RUN } from '../../functions/lib/state-limits.js';
import { AlarmForwarderStack } from '../../infra/alarm-forwarder-stack.js';
import { alarmName, alarmsByRegion, rotationLambdaArns, secretResourceArns } from '../../infra/arns.js';
import { DrillSchedule, isTimeZone } from '../../infra/constructs/drill-schedule.js';
import { Orchestrator } from '../../infra/constructs/orchestrator.js';
import { StepFunction } from '../../infra/constructs/step-function.js';
import { Triggers } from '../../infra/constructs/triggers.js';
import { VerifyNetwork } from '../../infra/constructs/verify-network.js';
import { objectConsoleUrl, stateMachineConsoleUrl } from '../../infra/lifeboat-stack.js';
import { examplePlan } from './support.js';

const env = { account: '123456789012', region: 'us-west-2' };
const newStack = () => new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test', { env });
const stateMachineIn = (stack: Stack) =>
  new sfn.StateMachine(stack, 'Machine', {
    definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'P')),
  });

/** The TypeError a construct throws, so that a test can read every problem it lists. */
function problemsOf(build: () => unknown): string {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError);
    return (error as Error).message;
  }
  throw new Error('expected the construct to refuse its props');
}

describe('StepFunction props', () => {
  it('reports every bad prop in one error, naming each', () => {
    // Prepare
    const stack = newStack();
    // Act
    const message = problemsOf(
      () =>
        new StepFunction(stack, 'Fn', {
          entry: 'functions/load-plan.py',
          description: '',
          timeout: Duration.minutes(20),
          memorySize: 64,
          environment: { AWS_REGION: 'us-east-1' },
        }),
    );
    // Assess
    expect(message).toMatch(/^StepFunction props are invalid:/);
    expect(message).toContain('entry: must be a .ts or .js file');
    expect(message).toContain('description: is required');
    expect(message).toContain('timeout: must be between 1 second and 15 minutes');
    expect(message).toContain('memorySize: must be an integer between 128 and 10240, got 64');
    expect(message).toContain('environment.AWS_REGION: AWS_ variables are reserved');
  });
});

describe('Triggers props', () => {
  it('needs an alarm, and EventBridge bounds on age and retries', () => {
    // Prepare
    const stack = newStack();
    // Act
    const message = problemsOf(
      () =>
        new Triggers(stack, 'T', {
          stateMachine: stateMachineIn(stack),
          alarmArns: [],
          maxEventAge: Duration.days(2),
          retryAttempts: 500,
        }),
    );
    // Assess
    expect(message).toContain('alarmArns: must name at least one alarm');
    expect(message).toContain('maxEventAge: must be between 1 minute and 1 day');
    expect(message).toContain('retryAttempts: must be an integer between 0 and 185, got 500');
  });
});

describe('DrillSchedule props', () => {
  it('refuses a malformed expression and an unknown time zone', () => {
    // Prepare
    const stack = newStack();
    // Act
    const message = problemsOf(
      () =>
        new DrillSchedule(stack, 'D', {
          stateMachine: stateMachineIn(stack),
          expression: 'cron(0 10 * * TUE)',
          timezone: 'Europe/Atlantis',
        }),
    );
    // Assess
    expect(message).toContain(
      'expression: cron() takes six fields (minutes hours day-of-month month day-of-week year), got 5',
    );
    expect(message).toContain('timezone: "Europe/Atlantis" is not an IANA time zone such as Europe/Paris');
  });

  it('knows IANA time zones', () => {
    // Assess
    expect(isTimeZone('Europe/Paris')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
  });
});

describe('VerifyNetwork props', () => {
  it('names each malformed id and port', () => {
    // Prepare
    const stack = newStack();
    // Act
    const message = problemsOf(
      () =>
        new VerifyNetwork(stack, 'V', {
          vpcId: 'vpc-x',
          subnetIds: ['subnet-0a1b2c3d4e5f60718', 'subnet-nope'],
          databaseSecurityGroupIds: ['sg-bad'],
          engines: ['postgres'],
          databasePorts: [0],
        }),
    );
    // Assess
    expect(message).toContain('vpcId: expected a VPC id, got vpc-x');
    expect(message).toContain('subnetIds[1]: expected a subnet id, got subnet-nope');
    expect(message).toContain('databaseSecurityGroupIds[0]: expected a security group id, got sg-bad');
    expect(message).toContain('databasePorts[0]: must be an integer between 1 and 65535, got 0');
  });

  it('opens the database ports to anywhere in egress when the plan names no database group', () => {
    // Prepare
    const stack = newStack();
    // Act
    const network = new VerifyNetwork(stack, 'V', {
      vpcId: 'vpc-0a1b2c3d4e5f60718',
      subnetIds: ['subnet-0a1b2c3d4e5f60718'],
      databaseSecurityGroupIds: [],
      engines: ['mysql', 'mariadb'],
    });
    // Assess
    expect(network.ports).toEqual([3306]);
  });
});

describe('Orchestrator props', () => {
  it('needs the approval topic when the plan holds alarm starts for approval, and a sane timeout', () => {
    // Prepare
    const stack = newStack();
    const document = examplePlan('plan.json');
    document.approval = { onAlarm: true, timeoutSeconds: 600 };
    // Act
    const message = problemsOf(
      () =>
        new Orchestrator(stack, 'O', {
          plan: parsePlan(document),
          lockTable: new dynamodb.Table(stack, 'T', {
            partitionKey: { name: 'planName', type: dynamodb.AttributeType.STRING },
          }),
          reportBucket: new s3.Bucket(stack, 'B'),
          reportTopic: new sns.Topic(stack, 'N'),
          timeout: Duration.seconds(30),
        }),
    );
    // Assess
    expect(message).toContain('approvalTopic: is required');
    expect(message).toContain('timeout: must be between 5 minutes and 365 days');
  });
});

describe('Orchestrator and the state limit', () => {
  it(`refuses a plan whose ${MAX_UNITS_PER_RUN} units would not fit the first state's 256 KiB`, () => {
    // Prepare: the plan is baked into the definition and is its first state's output (functions/lib/state-limits.ts).
    const stack = newStack();
    const document = examplePlan('plan.json');
    const [unit] = document.units;
    const long = 'a'.repeat(60);
    (document as Record<string, unknown>).units = Array.from({ length: MAX_UNITS_PER_RUN }, (_, i) => ({
      ...structuredClone(unit),
      name: `unit-${i}`,
      dns: {
        hostedZoneId: 'Z0LIFEBOAT00EXAMPLE',
        recordName: `unit-${i}.${long}.${long}.internal.example.com`,
      },
    }));
    // Act
    const message = problemsOf(
      () =>
        new Orchestrator(stack, 'O', {
          plan: parsePlan(document),
          lockTable: new dynamodb.Table(stack, 'T', {
            partitionKey: { name: 'planName', type: dynamodb.AttributeType.STRING },
          }),
          reportBucket: new s3.Bucket(stack, 'B'),
          reportTopic: new sns.Topic(stack, 'N'),
        }),
    );
    // Assess
    expect(message).toContain(`plan.units: has ${MAX_UNITS_PER_RUN} units taking`);
    expect(message).toContain('256 KiB state limit');
    expect(message).toContain('split the plan');
  });
});

describe('AlarmForwarderStack', () => {
  it('refuses a plan with no alarm in the primary Region', () => {
    // Prepare
    const document = examplePlan('plan.json');
    document.alarms = [{ arn: 'arn:aws:cloudwatch:us-west-2:123456789012:alarm:canary' }];
    // Act & Assess
    expect(() => new AlarmForwarderStack(new App(), 'F', { plan: parsePlan(document) })).toThrow(
      /plan.alarms: none is in us-east-1/,
    );
  });
});

describe('plan ARNs', () => {
  it('matches a secret name with the six-character suffix Secrets Manager adds', () => {
    // Prepare
    const plan = parsePlan(examplePlan('plan-three-units.json'));
    const at = { partition: 'aws', region: plan.recoveryRegion, account: plan.account };
    // Act & Assess
    expect(secretResourceArns(at, plan.units[1] as (typeof plan.units)[number])).toEqual([
      'arn:aws:secretsmanager:eu-central-1:123456789012:secret:shop/catalog-db-??????',
    ]);
  });

  it('grants both a qualified rotation Lambda ARN and its function', () => {
    // Prepare
    const plan = parsePlan(examplePlan('plan.json'));
    const unit = { ...(plan.units[0] as (typeof plan.units)[number]) };
    unit.rotation = { ...unit.rotation, lambdaArn: `${unit.rotation.lambdaArn}:live` };
    // Act & Assess
    expect(rotationLambdaArns(unit)).toEqual([
      'arn:aws:lambda:us-west-2:123456789012:function:orders-db-rotation:live',
      'arn:aws:lambda:us-west-2:123456789012:function:orders-db-rotation',
    ]);
  });

  it('splits alarms by Region and reads names with colons', () => {
    // Prepare
    const plan = parsePlan(examplePlan('plan-three-units.json'));
    // Act
    const split = alarmsByRegion(plan);
    // Assess
    expect(split.primary).toEqual([
      'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:shop-primary-region-down',
    ]);
    expect(split.recovery).toEqual([
      'arn:aws:cloudwatch:eu-central-1:123456789012:alarm:shop-canary-failing',
    ]);
    expect(alarmName('arn:aws:cloudwatch:eu-west-1:123456789012:alarm:a:b')).toBe('a:b');
  });

  it('builds console URLs for each partition', () => {
    // Assess
    expect(stateMachineConsoleUrl('cn-north-1', 'arn:aws-cn:states:cn-north-1:1:stateMachine:x')).toBe(
      'https://cn-north-1.console.amazonaws.cn/states/home?region=cn-north-1#/statemachines/view/arn:aws-cn:states:cn-north-1:1:stateMachine:x',
    );
    expect(objectConsoleUrl('us-gov-west-1', 'b', 'k')).toBe(
      'https://console.amazonaws-us-gov.com/s3/object/b?region=us-gov-west-1&prefix=k',
    );
  });
});
