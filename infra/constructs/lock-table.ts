import type { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { RETAINED } from './retention.js';

export interface LockTableProps {
  /** What happens to the table when the stack is deleted. @default kept (RETAINED: not when its first deploy rolls back) */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The one-at-a-time lock: one item per plan (partition key `planName`), taken with a conditional write by
 * AcquireLock and removed by ReleaseLock. `expiresAt` (epoch seconds) lets DynamoDB drop a lock that a crashed
 * execution left behind.
 */
export class LockTable extends Construct {
  static readonly PARTITION_KEY = 'planName';
  static readonly TTL_ATTRIBUTE = 'expiresAt';
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: LockTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: LockTable.PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: LockTable.TTL_ATTRIBUTE,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: props.removalPolicy ?? RETAINED,
    });
  }
}
