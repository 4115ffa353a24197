import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { examplePlan, synthesize } from './support.js';

describe('the alarm forwarder target', () => {
  // Prepare
  const { alarmForwarder, template: main } = synthesize(examplePlan('plan.json'));
  if (!alarmForwarder)
    throw new Error('expected an alarm forwarder: the plan alarm is in the primary Region');
  const forwarder = Template.fromStack(alarmForwarder);
  const queues = forwarder.findResources('AWS::SQS::Queue');
  const queue = Object.keys(queues)[0];

  it('retries like the recovery Region alarm rule and then keeps the event in a dead-letter queue', () => {
    // Prepare
    const rules = Object.values(main.findResources('AWS::Events::Rule')) as {
      Properties: { EventPattern: { source: string[] }; Targets: { RetryPolicy: unknown }[] };
    }[];
    const alarmRule = rules.find((r) => r.Properties.EventPattern.source.includes('aws.cloudwatch'));
    const [recoveryTarget] = alarmRule?.Properties.Targets ?? [];
    // Assess
    expect(Object.keys(queues)).toHaveLength(1);
    forwarder.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          Arn: 'arn:aws:events:us-west-2:123456789012:event-bus/default',
          RetryPolicy: recoveryTarget?.RetryPolicy,
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queue, 'Arn'] } },
        }),
      ],
    });
    expect(recoveryTarget?.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 900, MaximumRetryAttempts: 20 });
  });

  it('keeps the dead-letter queue encrypted, TLS only, for 14 days, and lets only this rule write to it', () => {
    // Assess
    forwarder.hasResource('AWS::SQS::Queue', {
      DeletionPolicy: 'RetainExceptOnCreate',
      Properties: { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 },
    });
    forwarder.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queue }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sqs:SendMessage',
            Principal: { Service: 'events.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': Match.anyValue() } },
          }),
        ]),
      },
    });
  });
});
