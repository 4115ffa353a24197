/**
 * The Secrets Manager events that start the replicator, and where each names its secret
 * (docs/aws/secrets-manager-events.md, with the documented shapes; test/unit/secret-feeds/event-pattern.test.ts matches
 * the patterns against them with EventBridge's matching rules).
 *
 * Two rules, each with one pattern, because the events differ in their top-level fields:
 * - CloudTrail's: `detail-type` "AWS API Call via CloudTrail" (PutSecretValue, UpdateSecret, UpdateSecretVersionStage)
 *   or "AWS Service Event via CloudTrail" (RotationSucceeded). `source` is `aws.secretsmanager`; the service's host
 *   name `secretsmanager.amazonaws.com` is `detail.eventSource`. A pattern with that host name as `source` (the
 *   published sample's mistake) matches none of them. They need a CloudTrail trail that logs management events.
 * - Secrets Manager's own: "Secret Label Updated", sent without CloudTrail when a label other than AWSPENDING and
 *   AWSPREVIOUS moves; the rule keeps the AWSCURRENT moves.
 * One change can arrive more than once (a PutSecretValue and its label move): the copy is idempotent by version id.
 */

export const SECRETS_MANAGER_SOURCE = 'aws.secretsmanager';
export const SECRETS_MANAGER_EVENT_SOURCE = 'secretsmanager.amazonaws.com';
export const API_CALL_DETAIL_TYPE = 'AWS API Call via CloudTrail';
export const SERVICE_EVENT_DETAIL_TYPE = 'AWS Service Event via CloudTrail';
export const LABEL_UPDATED_DETAIL_TYPE = 'Secret Label Updated';

/** API calls after which a secret's AWSCURRENT value may be new. */
export const VALUE_CHANGING_CALLS = ['PutSecretValue', 'UpdateSecret', 'UpdateSecretVersionStage'] as const;
/** Service events of a finished rotation. */
export const ROTATION_EVENTS = ['RotationSucceeded'] as const;

/** An EventBridge event pattern, as EventBridge stores it (`detail-type` spelled so). */
export type EventPatternJson = Record<string, unknown>;

/** The CloudTrail rule's pattern. CloudTrail events name the secret in varying fields, so the handler filters by secret. */
export function cloudTrailPattern(): EventPatternJson {
  return {
    source: [SECRETS_MANAGER_SOURCE],
    'detail-type': [API_CALL_DETAIL_TYPE, SERVICE_EVENT_DETAIL_TYPE],
    detail: {
      eventSource: [SECRETS_MANAGER_EVENT_SOURCE],
      eventName: [...VALUE_CHANGING_CALLS, ...ROTATION_EVENTS],
    },
  };
}

/** The native rule's pattern: AWSCURRENT moved on one of `sourceArns` (the event's `resources` holds the ARN). */
export function labelUpdatedPattern(sourceArns: readonly string[]): EventPatternJson {
  return {
    source: [SECRETS_MANAGER_SOURCE],
    'detail-type': [LABEL_UPDATED_DETAIL_TYPE],
    resources: [...sourceArns],
    detail: { labelUpdated: ['AWSCURRENT'] },
  };
}

/** The same pattern in CDK's `events.EventPattern` spelling (`detailType`). */
export function cdkPattern(pattern: EventPatternJson): Record<string, unknown> {
  const { 'detail-type': detailType, ...rest } = pattern;
  return { ...rest, ...(detailType !== undefined ? { detailType } : {}) };
}

export interface SecretEvent {
  /** What happened: the CloudTrail event name, or `Secret Label Updated`. */
  readonly trigger: string;
  /** Every secret id the event names (ARN or name), most specific first; the handler keeps the configured ones. */
  readonly secretIds: readonly string[];
  readonly region?: string;
  readonly account?: string;
}

/**
 * What an event is about, or a reason it is not one of ours. The secret is named differently by each event:
 * `detail.requestParameters.secretId` (API calls, as the caller gave it: name or ARN), `detail.responseElements.arn`
 * (or `aRN` before February 2024), `detail.additionalEventData.SecretId` (RotationSucceeded), `resources[]` and
 * `detail.name` (Secret Label Updated).
 */
export function readSecretEvent(event: unknown): SecretEvent | { ignored: string } {
  if (typeof event !== 'object' || event === null) return { ignored: 'not an EventBridge event' };
  const e = event as Record<string, unknown>;
  const detail = (typeof e.detail === 'object' && e.detail !== null ? e.detail : {}) as Record<
    string,
    unknown
  >;
  if (e.source !== SECRETS_MANAGER_SOURCE) return { ignored: `source is ${JSON.stringify(e.source)}` };
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const obj = (v: unknown) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});
  const ids: (string | undefined)[] = [];
  let trigger: string;
  if (e['detail-type'] === LABEL_UPDATED_DETAIL_TYPE) {
    trigger = LABEL_UPDATED_DETAIL_TYPE;
    if (detail.labelUpdated !== 'AWSCURRENT')
      return { ignored: `label ${String(detail.labelUpdated)} moved` };
    for (const r of Array.isArray(e.resources) ? e.resources : []) ids.push(str(r));
    ids.push(str(detail.name));
  } else {
    trigger = String(detail.eventName ?? '');
    if (![...VALUE_CHANGING_CALLS, ...ROTATION_EVENTS].includes(trigger as never)) {
      return { ignored: `event ${trigger || '(no name)'} does not change a value` };
    }
    if (detail.errorCode !== undefined) return { ignored: `${trigger} failed (${String(detail.errorCode)})` };
    const response = obj(detail.responseElements);
    ids.push(str(response.arn), str(response.aRN), str(response.ARN));
    ids.push(str(obj(detail.additionalEventData).SecretId), str(obj(detail.serviceEventDetails).secretId));
    ids.push(str(obj(detail.requestParameters).secretId));
    for (const r of Array.isArray(e.resources) ? e.resources : []) ids.push(str(r));
  }
  const secretIds = [...new Set(ids.filter((id): id is string => id !== undefined))];
  if (secretIds.length === 0) return { ignored: `${trigger} names no secret` };
  return {
    trigger,
    secretIds,
    ...(str(e.region) ? { region: e.region as string } : {}),
    ...(str(e.account) ? { account: e.account as string } : {}),
  };
}

/**
 * Whether `id` (a name, a full ARN, or an ARN without the random suffix, as callers pass it) names the secret whose
 * full ARN is `arn`. Secrets Manager's ARNs end in `-` and six random characters.
 */
export function namesSecret(id: string, arn: string): boolean {
  if (id === arn) return true;
  const withoutSuffix = arn.replace(/-[A-Za-z0-9]{6}$/, '');
  if (id === withoutSuffix) return true;
  const name = /:secret:(.+)$/.exec(withoutSuffix)?.[1];
  return !id.startsWith('arn:') && id === name;
}
