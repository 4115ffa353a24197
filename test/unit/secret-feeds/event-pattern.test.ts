import { describe, expect, it } from 'vitest';
import {
  cloudTrailPattern,
  labelUpdatedPattern,
  namesSecret,
  readSecretEvent,
} from '../../../functions/lib/secret-feeds/event.js';
import { matchesPattern } from '../../../local/event-pattern.js';
import {
  OTHER_EVENTS,
  putSecretValueEvent,
  SOURCE_ARN,
  SOURCE_NAME,
  SOURCE_REGION,
  VALUE_EVENTS,
  WRONG_SOURCE_PATTERN,
} from '../../fixtures/secrets-manager-events.js';

/** The replicator's rules match an event when either pattern does (two rules, one target). */
const replicatorMatches = (event: unknown) =>
  matchesPattern(cloudTrailPattern(), event) || matchesPattern(labelUpdatedPattern([SOURCE_ARN]), event);

describe("the replicator's rule patterns against AWS's documented events", () => {
  it.each(Object.entries(VALUE_EVENTS))('match %s', (_name, event) => {
    // Act
    const matched = replicatorMatches(event);
    // Assess
    expect(matched).toBe(true);
  });

  it.each(Object.entries(OTHER_EVENTS))('do not match %s', (_name, event) => {
    // Act
    const matched = replicatorMatches(event);
    // Assess
    expect(matched).toBe(false);
  });

  it("the native rule matches only its sources' label moves", () => {
    // Prepare
    const other = { ...VALUE_EVENTS['Secret Label Updated (AWSCURRENT)'], resources: [`${SOURCE_ARN}x`] };
    // Act
    const matched = matchesPattern(labelUpdatedPattern([SOURCE_ARN]), other);
    // Assess
    expect(matched).toBe(false);
  });

  it("the published sample's pattern (the host name as source) matches none of them", () => {
    // Act
    const matched = Object.values(VALUE_EVENTS).filter((e) => matchesPattern(WRONG_SOURCE_PATTERN, e));
    // Assess
    expect(matched).toEqual([]);
    // ...and moving the host name to detail.eventSource, where CloudTrail puts it, makes it match.
    const fixed = {
      ...WRONG_SOURCE_PATTERN,
      source: ['aws.secretsmanager'],
      detail: { ...WRONG_SOURCE_PATTERN.detail, eventSource: ['secretsmanager.amazonaws.com'] },
    };
    expect(matchesPattern(fixed, VALUE_EVENTS.PutSecretValue)).toBe(true);
  });
});

describe('readSecretEvent', () => {
  it.each(Object.entries(VALUE_EVENTS))('finds the secret of %s', (_name, event) => {
    // Act
    const read = readSecretEvent(event);
    // Assess
    expect('ignored' in read).toBe(false);
    if ('ignored' in read) return;
    expect(read.secretIds.some((id) => namesSecret(id, SOURCE_ARN))).toBe(true);
    expect(read.region).toBe(SOURCE_REGION);
  });

  it.each(Object.entries(OTHER_EVENTS))('ignores %s', (_name, event) => {
    // Act
    const read = readSecretEvent(event);
    // Assess
    expect(read).toHaveProperty('ignored');
  });

  it('ignores a failed call and an event of another service', () => {
    // Prepare
    const failed = putSecretValueEvent();
    (failed.detail as Record<string, unknown>).errorCode = 'AccessDenied';
    // Act / Assess
    expect(readSecretEvent(failed)).toEqual({ ignored: 'PutSecretValue failed (AccessDenied)' });
    expect(readSecretEvent({ source: 'aws.kms', detail: {} })).toHaveProperty('ignored');
    expect(readSecretEvent('nonsense')).toHaveProperty('ignored');
  });

  it('a name as the caller gave it names the secret; another name or a longer one does not', () => {
    expect(namesSecret(SOURCE_NAME, SOURCE_ARN)).toBe(true);
    expect(namesSecret(SOURCE_ARN.slice(0, -7), SOURCE_ARN)).toBe(true);
    expect(namesSecret(`${SOURCE_NAME}2`, SOURCE_ARN)).toBe(false);
    expect(namesSecret(SOURCE_ARN.replace('us-west-2', 'eu-west-1'), SOURCE_ARN)).toBe(false);
  });
});
