import { describe, expect, it } from 'vitest';
import { matchesPattern } from '../../../local/event-pattern.js';
import { PATTERN_CASES } from '../../fixtures/event-pattern-cases.js';

/** The same cases run against moto's TestEventPattern in test/conformance/event-patterns.test.ts. */
describe('EventBridge pattern matcher (local/event-pattern.ts)', () => {
  it.each(PATTERN_CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    // Act
    const matched = matchesPattern(c.pattern, c.event);
    // Assess
    expect(matched).toBe(c.matches);
  });

  it('refuses a malformed pattern instead of guessing', () => {
    expect(() => matchesPattern({ source: 'aws.secretsmanager' }, { source: 'aws.secretsmanager' })).toThrow(
      /expected an array or an object/,
    );
  });
});
