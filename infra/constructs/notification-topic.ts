import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { RETAINED } from './retention.js';

export interface NotificationTopicProps {
  /**
   * An existing topic (the plan's `notificationTopicArn`). Its owner grants publishing and its key.
   * @default a new topic encrypted with a new customer managed key
   */
  readonly existingTopicArn?: string;
  /** Name shown in e-mail and SMS notifications. @default "lifeboat" */
  readonly displayName?: string;
}

/**
 * The topic for reports, alarms and approval requests. A new topic is encrypted with its own rotated key — not
 * `alias/aws/sns`, whose key policy cannot let CloudWatch alarms publish
 * (https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns) — and refuses plain HTTP.
 */
export class NotificationTopic extends Construct {
  readonly topic: sns.ITopic;
  /** The topic's key when this construct made the topic. */
  readonly key?: kms.Key;

  constructor(scope: Construct, id: string, props: NotificationTopicProps = {}) {
    super(scope, id);
    if (props.existingTopicArn) {
      this.topic = sns.Topic.fromTopicArn(this, 'Topic', props.existingTopicArn);
      return;
    }
    const stack = Stack.of(this);
    const key = new kms.Key(this, 'Key', {
      description: 'lifeboat notification topic',
      enableKeyRotation: true,
      // Kept: notifications encrypted with it may still sit in subscribers' queues after a destroy.
      removalPolicy: RETAINED,
    });
    const fromThisAccountsAlarms = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*`,
      },
    };
    // CloudWatch publishes alarm notifications as its service principal: it needs the key and the topic.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromThisAccountsAlarms,
      }),
    );
    const topic = new sns.Topic(this, 'Topic', {
      displayName: props.displayName ?? 'lifeboat',
      masterKey: key,
      enforceSSL: true,
    });
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: fromThisAccountsAlarms,
      }),
    );
    this.topic = topic;
    this.key = key;
  }
}
