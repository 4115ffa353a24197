import { Aws, Fn, RemovalPolicy } from 'aws-cdk-lib';

/**
 * What happens to lifeboat's kept resources (log groups, the lock table, queues, the topic's key) with their stack:
 * kept when the stack is destroyed and when an update rolls back, deleted only when the deploy that created them
 * rolls back, before they hold anything (CloudFormation's RetainExceptOnCreate). The report buckets stay RETAIN: a
 * bucket that holds objects cannot be deleted, and a failed delete would stall the rollback.
 * docs/aws/cloudformation-retained-names.md
 */
export const RETAINED = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE;

/**
 * The stack's own id, the UUID at the end of `AWS::StackId`: new for every stack CloudFormation creates, the same
 * across that stack's updates. A kept resource that needs a fixed name ends its name with it, so that the next stack
 * (after a destroy, or after a first deploy that rolled back) never meets the old one: "already exists" cannot
 * happen. docs/aws/cloudformation-retained-names.md
 */
export function stackInstanceId(): string {
  return Fn.select(2, Fn.split('/', Aws.STACK_ID));
}
