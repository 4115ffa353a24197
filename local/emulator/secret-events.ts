/**
 * The Secrets Manager events EventBridge delivers, in the shapes AWS documents (docs/aws/secrets-manager-events.md):
 * CloudTrail's "AWS API Call via CloudTrail" entries of PutSecretValue, UpdateSecret and UpdateSecretVersionStage, the
 * RotationSucceeded "AWS Service Event via CloudTrail" (the secret in `additionalEventData.SecretId`), and Secrets
 * Manager's own "Secret Label Updated". The emulated Secrets Manager emits them (services/secrets-manager.ts), and the
 * unit tests' fixtures (test/fixtures/secrets-manager-events.ts) are built with the same functions, so the events the
 * proving ground delivers are the ones the rule patterns were tested against. CloudTrail never records a value.
 */

export interface EventEnvelope {
  readonly account: string;
  readonly region: string;
  /** ISO 8601 without milliseconds, as EventBridge writes `time`. */
  readonly time: string;
  /** The event's `id`. */
  readonly id: string;
}

export interface ApiCallInput extends EventEnvelope {
  readonly eventName: string;
  readonly requestParameters: Record<string, unknown> | null;
  readonly responseElements: Record<string, unknown> | null;
  /** The caller, as CloudTrail's `userIdentity` shows it. */
  readonly userIdentity: Record<string, unknown>;
  readonly requestId: string;
  readonly eventId: string;
  readonly readOnly?: boolean;
  readonly errorCode?: string;
}

/** "AWS API Call via CloudTrail" of a Secrets Manager action. */
export function apiCallEvent(input: ApiCallInput) {
  return {
    version: '0',
    id: input.id,
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.secretsmanager',
    account: input.account,
    time: input.time,
    region: input.region,
    resources: [] as string[],
    detail: {
      eventVersion: '1.08',
      userIdentity: input.userIdentity,
      eventTime: input.time,
      eventSource: 'secretsmanager.amazonaws.com',
      eventName: input.eventName,
      awsRegion: input.region,
      sourceIPAddress: '198.51.100.7',
      userAgent: 'aws-cli/2.15',
      ...(input.errorCode !== undefined ? { errorCode: input.errorCode } : {}),
      requestParameters: input.requestParameters,
      responseElements: input.responseElements,
      requestID: input.requestId,
      eventID: input.eventId,
      readOnly: input.readOnly ?? false,
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: input.account,
      eventCategory: 'Management',
    },
  };
}

/** "AWS Service Event via CloudTrail" RotationSucceeded: Secrets Manager names the secret in `additionalEventData`. */
export function rotationSucceededEvent(
  input: EventEnvelope & {
    readonly secretArn: string;
    readonly eventId: string;
    readonly eventName?: string;
  },
) {
  return {
    version: '0',
    id: input.id,
    'detail-type': 'AWS Service Event via CloudTrail',
    source: 'aws.secretsmanager',
    account: input.account,
    time: input.time,
    region: input.region,
    resources: [] as string[],
    detail: {
      eventVersion: '1.08',
      userIdentity: { accountId: input.account, invokedBy: 'secretsmanager.amazonaws.com' },
      eventTime: input.time,
      eventSource: 'secretsmanager.amazonaws.com',
      eventName: input.eventName ?? 'RotationSucceeded',
      awsRegion: input.region,
      sourceIPAddress: 'secretsmanager.amazonaws.com',
      userAgent: 'secretsmanager.amazonaws.com',
      requestParameters: null,
      responseElements: null,
      additionalEventData: { SecretId: input.secretArn },
      requestID: `Rotation-${input.secretArn}-${input.eventId}`,
      eventID: input.eventId,
      readOnly: false,
      eventType: 'AwsServiceEvent',
      managementEvent: true,
      recipientAccountId: input.account,
      eventCategory: 'Management',
    },
  };
}

/** Secrets Manager's own "Secret Label Updated" (sent without CloudTrail). */
export function labelUpdatedEvent(
  input: EventEnvelope & {
    readonly secretArn: string;
    readonly name: string;
    readonly label: string;
    readonly versionId: string;
  },
) {
  return {
    version: '0',
    id: input.id,
    'detail-type': 'Secret Label Updated',
    source: 'aws.secretsmanager',
    account: input.account,
    time: input.time,
    region: input.region,
    resources: [input.secretArn],
    detail: { name: input.name, labelUpdated: input.label, versionId: input.versionId },
  };
}

/** EventBridge's `time`: ISO 8601 to the second. */
export function eventTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
