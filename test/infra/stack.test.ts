import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { stepTimeoutSeconds } from '../../functions/lib/clients.js';
import { defaultExecutionTimeout } from '../../infra/constructs/orchestrator.js';
import { POLL_LOOPS, STEP_FUNCTIONS } from '../../statemachine/steps.js';
import { examplePlan, stepFunction, synthesize } from './support.js';

const ONE_YEAR = 365;

describe('LifeboatStack on examples/plan.json', () => {
  // Prepare
  const { template, plan, main, alarmForwarder } = synthesize(examplePlan('plan.json'));

  it('lives in the plan account and recovery Region', () => {
    // Assess
    expect(main.account).toBe('123456789012');
    expect(main.region).toBe('us-west-2');
    expect(main.stackName).toBe('Lifeboat-orders-dr');
  });

  it('builds every step as a Node.js 22 ARM64 function, traced, with its own kept log group', () => {
    // Assess
    // Every step, the ended-run handler of lock recovery (infra/constructs/lock-recovery.ts) and the readiness
    // function (infra/constructs/readiness.ts; test/infra/readiness.test.ts).
    template.resourceCountIs('AWS::Lambda::Function', STEP_FUNCTIONS.length + 2);
    for (const step of STEP_FUNCTIONS) {
      const { resource } = stepFunction(template, plan, step);
      expect(resource.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 512,
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: expect.any(String) } },
        Environment: {
          Variables: expect.objectContaining({
            POWERTOOLS_SERVICE_NAME: 'lifeboat',
            NODE_OPTIONS: '--enable-source-maps',
          }),
        },
      });
      const logGroup = (resource.Properties.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      const group = template.toJSON().Resources[logGroup];
      expect(group).toMatchObject({
        Type: 'AWS::Logs::LogGroup',
        Properties: { RetentionInDays: ONE_YEAR },
        DeletionPolicy: 'RetainExceptOnCreate',
        UpdateReplacePolicy: 'Retain',
      });
      // CloudFormation names it: a kept group never blocks the next deploy.
      expect(group.Properties.LogGroupName).toBeUndefined();
    }
  });

  it('gives each function only the environment its step reads', () => {
    // Prepare
    const table = Object.keys(template.findResources('AWS::DynamoDB::Table'))[0];
    const topic = Object.keys(template.findResources('AWS::SNS::Topic'))[0];
    const extra: Record<string, Record<string, unknown>> = {
      // The lock's lifetime: the execution timeout and a margin (infra/constructs/lock-recovery.ts).
      acquireLock: { LOCK_TABLE_NAME: { Ref: table }, LOCK_LIFETIME_SECONDS: expect.stringMatching(/^\d+$/) },
      releaseLock: { LOCK_TABLE_NAME: { Ref: table } },
      // The shared promotion poll's snapshot item (functions/lib/shared-poll.ts).
      checkDatabasePromotion: { LOCK_TABLE_NAME: { Ref: table } },
      // PromoteDatabase reads its replica from the same snapshot.
      promoteDatabase: { LOCK_TABLE_NAME: { Ref: table } },
      // The zone's change batch and the shared GetChange (functions/lib/dns/shared.ts).
      updateDns: { LOCK_TABLE_NAME: { Ref: table } },
      checkDnsChange: { LOCK_TABLE_NAME: { Ref: table } },
      report: { REPORT_BUCKET_NAME: { Ref: expect.any(String) }, REPORT_TOPIC_ARN: { Ref: topic } },
      verifyConnectivity: { NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' },
      // SettleRotation logs in to the promoted database with TLS.
      attachRotation: { NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' },
      // The switchover's fence and catch-up log in to the primary and the replica with TLS.
      fenceWrites: { NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' },
      checkCatchUp: { NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem' },
    };
    for (const step of STEP_FUNCTIONS) {
      // Act
      const variables = (
        stepFunction(template, plan, step).resource.Properties.Environment as {
          Variables: Record<string, unknown>;
        }
      ).Variables;
      // Assess
      expect(variables).toEqual({
        POWERTOOLS_SERVICE_NAME: 'lifeboat',
        NODE_OPTIONS: '--enable-source-maps',
        ...extra[step],
      });
    }
  });

  it('gives the slow steps longer timeouts', () => {
    // Act
    const timeout = (step: string) => stepFunction(template, plan, step).resource.Properties.Timeout;
    // Assess
    // One hung call per service a step calls ends within its SDK budget (test/infra/step-timeouts.test.ts).
    expect(timeout('preflight')).toBe(120);
    expect(timeout('report')).toBe(114);
    expect(timeout('verifyConnectivity')).toBe(101);
    // RDS and DynamoDB (the shared poll's snapshot), and the wait for its lease holder (4.4 s, up to 5).
    expect(timeout('promoteDatabase')).toBe(timeout('checkDatabasePromotion'));
    expect(timeout('promoteDatabase')).toBe(stepTimeoutSeconds(['rds', 'dynamodb']) + 5);
    expect(timeout('loadPlan')).toBe(58); // writes the run's units to S3
    // Several reads and creates in two Regions.
    expect(timeout('prepareDrill')).toBe(129);
    expect(timeout('cleanUpDrill')).toBe(129);
    expect(timeout('checkDrillCopies')).toBe(86);
  });

  it('runs a Standard state machine named after the plan, traced, logging its failures, with a timeout', () => {
    // Assess
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'lifeboat-orders-dr',
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ERROR',
        IncludeExecutionData: true,
        Destinations: [
          { CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] } } },
        ],
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: {
        'Fn::Join': [
          '',
          [
            '/aws/vendedlogs/states/lifeboat-orders-dr-',
            { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] },
          ],
        ],
      },
      RetentionInDays: ONE_YEAR,
    });
    const definition = JSON.stringify(
      Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0]?.Properties
        .DefinitionString,
    );
    expect(definition).toContain(`\\"TimeoutSeconds\\":${defaultExecutionTimeout(plan).toSeconds()}`);
  });

  it('bakes the validated plan into the definition, so a console start with the default input fails it over', () => {
    // Act
    const definition = JSON.stringify(
      Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0]?.Properties
        .DefinitionString,
    );
    // Assess
    for (const fact of [
      'orders-dr',
      'orders-db-replica',
      'Z0LIFEBOAT00EXAMPLE',
      'orders-db.internal.example.com',
    ]) {
      expect(definition).toContain(fact);
    }
  });

  it('keeps the lock in a retained, recoverable, on-demand DynamoDB table keyed by plan name', () => {
    // Assess
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        KeySchema: [{ AttributeName: 'planName', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'planName', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        SSESpecification: { SSEEnabled: true },
      },
    });
  });

  it('keeps reports in an encrypted, private, TLS-only, versioned, retained bucket whose access is logged', () => {
    // Prepare
    const buckets = template.findResources('AWS::S3::Bucket');
    const [logBucket] = Object.entries(buckets).find(([, r]) => !r.Properties.LoggingConfiguration) ?? [];
    // Assess
    template.resourceCountIs('AWS::S3::Bucket', 2);
    for (const logged of [true, false]) {
      template.hasResource('AWS::S3::Bucket', {
        DeletionPolicy: 'Retain',
        Properties: {
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
            ],
          },
          PublicAccessBlockConfiguration: {
            BlockPublicAcls: true,
            BlockPublicPolicy: true,
            IgnorePublicAcls: true,
            RestrictPublicBuckets: true,
          },
          VersioningConfiguration: { Status: 'Enabled' },
          ...(logged
            ? {
                LoggingConfiguration: {
                  DestinationBucketName: { Ref: logBucket },
                  LogFilePrefix: 'reports/',
                },
              }
            : { LoggingConfiguration: Match.absent() }),
        },
      });
    }
    template.resourcePropertiesCountIs(
      'AWS::S3::BucketPolicy',
      {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 's3:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      },
      2,
    );
  });

  it('publishes to an SNS topic encrypted with its own rotated key, TLS only, that CloudWatch alarms may use', () => {
    // Prepare
    const key = Object.keys(template.findResources('AWS::KMS::Key'))[0];
    // Assess
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [key, 'Arn'] } });
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'RetainExceptOnCreate',
      Properties: {
        EnableKeyRotation: true,
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
              Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': '123456789012' } }),
            }),
          ]),
        },
      },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
          }),
        ]),
      },
    });
  });

  it('starts a failover when a plan alarm enters ALARM, with the alarm name as the reason', () => {
    // Prepare
    const stateMachine = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'))[0];
    const queue = Object.keys(template.findResources('AWS::SQS::Queue'))[0];
    // Assess
    // The alarm rule, and the ended-run rule of lock recovery.
    template.resourceCountIs('AWS::Events::Rule', 2);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        resources: ['arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-db-primary-down'],
        detail: { state: { value: ['ALARM'] } },
      },
      Targets: [
        {
          Arn: { Ref: stateMachine },
          Id: Match.anyValue(),
          RoleArn: Match.anyValue(),
          InputTransformer: {
            InputPathsMap: { 'detail-alarmName': '$.detail.alarmName' },
            InputTemplate: '{"mode":"failover","trigger":"alarm","reason":<detail-alarmName>}',
          },
          RetryPolicy: { MaximumEventAgeInSeconds: 900, MaximumRetryAttempts: 20 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queue, 'Arn'] } },
        },
      ],
    });
  });

  it('forwards the primary Region alarms to the recovery Region default event bus', () => {
    // Prepare
    if (!alarmForwarder)
      throw new Error('expected an alarm forwarder: the plan alarm is in the primary Region');
    const forwarder = Template.fromStack(alarmForwarder);
    // Assess
    expect(alarmForwarder.region).toBe('us-east-1');
    expect(alarmForwarder.account).toBe('123456789012');
    forwarder.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        resources: ['arn:aws:cloudwatch:us-east-1:123456789012:alarm:orders-db-primary-down'],
        detail: { state: { value: ['ALARM'] } },
      },
      Targets: [
        Match.objectLike({
          Arn: 'arn:aws:events:us-west-2:123456789012:event-bus/default',
          RoleArn: Match.anyValue(),
        }),
      ],
    });
    forwarder.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: 'events:PutEvents',
            Resource: 'arn:aws:events:us-west-2:123456789012:event-bus/default',
          },
        ],
      },
    });
    forwarder.resourceCountIs('AWS::Lambda::Function', 0);
  });

  it('schedules drills with the plan cron and time zone', () => {
    // Prepare
    const stateMachine = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'))[0];
    // Assess
    // The drill's and the readiness evaluation's (test/infra/readiness.test.ts).
    template.resourceCountIs('AWS::Scheduler::Schedule', 2);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 10 ? * TUE *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: { Ref: stateMachine },
        Input: '{"mode":"drill","trigger":"schedule"}',
        RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 20 },
        DeadLetterConfig: { Arn: Match.anyValue() },
        RoleArn: Match.anyValue(),
      },
    });
  });

  it('alarms on failed, timed-out, aborted and throttled executions and on failed starts, to the topic', () => {
    // Prepare
    const topic = Object.keys(template.findResources('AWS::SNS::Topic'))[0];
    const expected = {
      ExecutionsFailed: 'ExecutionsFailed',
      ExecutionsTimedOut: 'ExecutionsTimedOut',
      ExecutionsAborted: 'ExecutionsAborted',
      ExecutionThrottled: 'ExecutionThrottled',
      StartFailed: 'ApproximateNumberOfMessagesVisible',
    };
    // Assess
    // And the readiness alarm (test/infra/readiness.test.ts).
    template.resourceCountIs('AWS::CloudWatch::Alarm', Object.keys(expected).length + 1);
    for (const [name, metric] of Object.entries(expected)) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `lifeboat-orders-dr-${name}`,
        MetricName: metric,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: topic }],
      });
    }
  });

  it('has a dashboard with the executions and each replica lag in the recovery Region', () => {
    // Act
    const dashboard = Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0];
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    // Assess
    expect(dashboard?.Properties.DashboardName).toBe('lifeboat-orders-dr');
    expect(body).toContain('ExecutionsStarted');
    expect(body).toContain('ReplicaLag');
    expect(body).toContain('orders-db-replica');
    expect(body).toContain('\\"region\\":\\"us-west-2\\"');
  });

  it('puts no function in a VPC when the plan names none', () => {
    // Assess
    template.resourceCountIs('AWS::EC2::SecurityGroup', 0);
    for (const step of STEP_FUNCTIONS) {
      expect(stepFunction(template, plan, step).resource.Properties.VpcConfig).toBeUndefined();
    }
  });

  it('outputs the console one-click URLs, the lock table and the topic', () => {
    // Prepare
    const stateMachine = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'))[0];
    const bucket = Object.entries(template.findResources('AWS::S3::Bucket')).find(
      ([, r]) => r.Properties.LoggingConfiguration,
    )?.[0];
    // Assess
    template.hasOutput('StateMachineArn', { Value: { Ref: stateMachine } });
    template.hasOutput('StateMachineConsoleUrl', {
      Value: {
        'Fn::Join': [
          '',
          [
            'https://us-west-2.console.aws.amazon.com/states/home?region=us-west-2#/statemachines/view/',
            { Ref: stateMachine },
          ],
        ],
      },
    });
    template.hasOutput('LatestReportConsoleUrl', {
      Value: {
        'Fn::Join': [
          '',
          [
            'https://s3.console.aws.amazon.com/s3/object/',
            { Ref: bucket },
            '?region=us-west-2&prefix=reports/orders-dr/latest.json',
          ],
        ],
      },
    });
    template.hasOutput('LockTableName', { Value: { Ref: Match.anyValue() } });
    template.hasOutput('NotificationTopicArn', { Value: { Ref: Match.anyValue() } });
  });
});

describe('LifeboatStack on examples/plan-three-units.json (VPC, approval, alarms in both Regions)', () => {
  // Prepare
  const { template, plan, alarmForwarder } = synthesize(examplePlan('plan-three-units.json'));

  it('runs only the functions that log in to databases (verify, rotation for SettleRotation, the switchover steps) in the plan subnets, with one security group; preflight reads AWS APIs only and stays out', () => {
    // Prepare
    const group = Object.keys(template.findResources('AWS::EC2::SecurityGroup'))[0];
    const inVpc = ['verifyConnectivity', 'attachRotation', 'fenceWrites', 'checkCatchUp'] as const;
    // Assess
    template.resourceCountIs('AWS::EC2::SecurityGroup', 1);
    for (const step of inVpc) {
      expect(stepFunction(template, plan, step).resource.Properties.VpcConfig).toEqual({
        SubnetIds: ['subnet-0a1b2c3d4e5f60718', 'subnet-0f1e2d3c4b5a69788'],
        SecurityGroupIds: [{ 'Fn::GetAtt': [group, 'GroupId'] }],
      });
    }
    for (const step of STEP_FUNCTIONS.filter((s) => !(inVpc as readonly string[]).includes(s))) {
      expect(stepFunction(template, plan, step).resource.Properties.VpcConfig).toBeUndefined();
    }
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      VpcId: 'vpc-0a1b2c3d4e5f60718',
      SecurityGroupEgress: [
        { CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Description: Match.anyValue() },
      ],
    });
  });

  it('lets the verify function into the database security group on the engines ports', () => {
    // Prepare
    const group = Object.keys(template.findResources('AWS::EC2::SecurityGroup'))[0];
    // Assess
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 2);
    for (const port of [5432, 3306]) {
      template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
        GroupId: 'sg-0a1b2c3d4e5f60718',
        SourceSecurityGroupId: { 'Fn::GetAtt': [group, 'GroupId'] },
        IpProtocol: 'tcp',
        FromPort: port,
        ToPort: port,
      });
      template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
        GroupId: { 'Fn::GetAtt': [group, 'GroupId'] },
        DestinationSecurityGroupId: 'sg-0a1b2c3d4e5f60718',
        FromPort: port,
      });
    }
  });

  it('matches alarms of both Regions and forwards only the primary ones', () => {
    // Prepare
    if (!alarmForwarder) throw new Error('expected an alarm forwarder');
    // Assess
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        resources: [
          'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:shop-primary-region-down',
          'arn:aws:cloudwatch:eu-central-1:123456789012:alarm:shop-canary-failing',
        ],
      }),
    });
    Template.fromStack(alarmForwarder).hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        resources: ['arn:aws:cloudwatch:eu-west-1:123456789012:alarm:shop-primary-region-down'],
      }),
    });
  });

  it('lets the approval gate publish to the encrypted topic', () => {
    // Prepare
    const key = Object.keys(template.findResources('AWS::KMS::Key'))[0];
    // Assess
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'EncryptApprovalRequests',
            Effect: 'Allow',
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            Resource: { 'Fn::GetAtt': [key, 'Arn'] },
          },
        ]),
      },
    });
  });

  it('announces the approval request on the topic and waits for its task token', () => {
    // Prepare
    const topic = Object.keys(template.findResources('AWS::SNS::Topic'))[0];
    const definition = JSON.stringify(
      Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0]?.Properties
        .DefinitionString,
    );
    // Assess
    expect(definition).toContain(':states:::sns:publish.waitForTaskToken');
    expect(definition).toContain(`{"Ref":"${topic}"}`);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([{ Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: topic } }]),
      },
    });
  });

  it('sizes the execution timeout from the plan, approval wait included', () => {
    // Act
    const timeout = defaultExecutionTimeout(plan).toSeconds();
    // Assess: three units at a concurrency of 3 are one wave.
    const oneWave = defaultExecutionTimeout({
      ...plan,
      approval: { ...plan.approval, onAlarm: false },
    }).toSeconds();
    expect(timeout - oneWave).toBe(1800);
    expect(
      defaultExecutionTimeout({
        ...plan,
        maxConcurrency: 1,
        approval: { ...plan.approval, onAlarm: false },
      }).toSeconds(),
    ).toBe(3 * oneWave);
    // A wave outlasts every bounded loop of a unit, a drill's included (its copies can take hours to make).
    const loops = Object.values(POLL_LOOPS).reduce((sum, l) => sum + l.maxAttempts * l.maxWaitSeconds, 0);
    expect(oneWave).toBeGreaterThan(loops);
    expect(POLL_LOOPS.drillCopies.maxAttempts * POLL_LOOPS.drillCopies.maxWaitSeconds).toBeGreaterThanOrEqual(
      4 * 3600,
    );
  });

  it('has no drill schedule when the plan has none', () => {
    // Assess
    // Only the readiness evaluation's (test/infra/readiness.test.ts).
    template.resourceCountIs('AWS::Scheduler::Schedule', 1);
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(5 minutes)' });
  });

  it('draws one replica lag line per unit', () => {
    // Act
    const body = JSON.stringify(
      Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties.DashboardBody,
    );
    // Assess
    for (const replica of ['orders-db-dr', 'catalog-db-dr', 'sessions-db-dr'])
      expect(body).toContain(replica);
    expect(body).toContain('\\"region\\":\\"eu-central-1\\"');
  });
});

describe('LifeboatStack variations', () => {
  it('makes no alarm rule and no forwarder when the plan has no alarms', () => {
    // Prepare
    const document = examplePlan('plan.json');
    document.alarms = [];
    // Act
    const { template, alarmForwarder } = synthesize(document);
    // Assess
    // Only the ended-run rule of lock recovery.
    template.resourceCountIs('AWS::Events::Rule', 1);
    expect(alarmForwarder).toBeUndefined();
  });

  it('makes no forwarder when every alarm is in the recovery Region', () => {
    // Prepare
    const document = examplePlan('plan.json');
    document.alarms = [{ arn: 'arn:aws:cloudwatch:us-west-2:123456789012:alarm:canary' }];
    // Act
    const { template, alarmForwarder } = synthesize(document);
    // Assess
    // The alarm rule and the ended-run rule.
    template.resourceCountIs('AWS::Events::Rule', 2);
    expect(alarmForwarder).toBeUndefined();
  });

  it('uses the plan topic instead of making one', () => {
    // Prepare
    const document = examplePlan('plan.json');
    document.notificationTopicArn = 'arn:aws:sns:us-west-2:123456789012:ops-dr';
    // Act
    const { template, plan } = synthesize(document);
    // Assess
    template.resourceCountIs('AWS::SNS::Topic', 0);
    template.resourceCountIs('AWS::KMS::Key', 0);
    expect(
      (
        stepFunction(template, plan, 'report').resource.Properties.Environment as {
          Variables: Record<string, unknown>;
        }
      ).Variables.REPORT_TOPIC_ARN,
    ).toBe('arn:aws:sns:us-west-2:123456789012:ops-dr');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmActions: ['arn:aws:sns:us-west-2:123456789012:ops-dr'],
    });
  });

  it('gives the verify function time for the plan slowest connection', () => {
    // Prepare
    const document = examplePlan('plan.json');
    (document.units[0] as { verify: Record<string, unknown> }).verify.timeoutSeconds = 60;
    // Act
    const { template, plan } = synthesize(document);
    // Assess
    // 3 x 60 s (DNS, connect, queries: functions/lib/verify/connectivity.ts) + the SDK reads' budgets (28 s + 43 s) + 15 s.
    expect(stepFunction(template, plan, 'verifyConnectivity').resource.Properties.Timeout).toBe(266);
  });
});
