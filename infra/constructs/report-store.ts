import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { PropsProblems } from './props.js';

export interface ReportStoreProps {
  /** How long S3 keeps a report's older versions (a re-run overwrites `latest.json`). @default 365 days */
  readonly noncurrentVersionExpiration?: Duration;
  /** How long S3 keeps the server access logs. @default 365 days */
  readonly accessLogExpiration?: Duration;
  /** What happens to both buckets when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Where reports are kept: encrypted, private, TLS only, versioned, retained; every request logged to a second
 * bucket. Reports hold identifiers, statuses and timings, never secret material.
 */
export class ReportStore extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: ReportStoreProps = {}) {
    super(scope, id);
    const problems = new PropsProblems('ReportStore');
    problems.duration(
      'noncurrentVersionExpiration',
      props.noncurrentVersionExpiration,
      Duration.days(1),
      Duration.days(3650),
    );
    problems.duration(
      'accessLogExpiration',
      props.accessLogExpiration,
      Duration.days(1),
      Duration.days(3650),
    );
    problems.check();

    // Grant S3 log delivery through a bucket policy, not the legacy LogDeliveryWrite ACL (ACLs stay disabled).
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const common = {
      // S3 server access logs can only be delivered to a bucket encrypted with SSE-S3.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      removalPolicy,
    } as const;
    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      ...common,
      lifecycleRules: [
        {
          expiration: props.accessLogExpiration ?? Duration.days(365),
          noncurrentVersionExpiration: Duration.days(30),
        },
      ],
    });
    this.bucket = new s3.Bucket(this, 'Reports', {
      ...common,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'reports/',
      lifecycleRules: [
        { noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(365) },
      ],
    });
  }
}
