import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { matchesPattern } from '../../local/event-pattern.js';
import { PATTERN_CASES } from '../fixtures/event-pattern-cases.js';
import { MOTO } from './harness.js';

/**
 * The proving ground's EventBridge matcher (local/event-pattern.ts) against moto's, on every case of
 * test/fixtures/event-pattern-cases.ts, including the replicator's rules on the documented Secrets Manager events.
 * moto 5.2.1's server answers TestEventPattern with an empty body (its handler is a stub), so its matcher is called in
 * Python: `moto.events.models.EventPattern.load(pattern).matches_event(event)`, what its rules use to deliver events.
 */
const PYTHON = process.env.LIFEBOAT_MOTO_PYTHON ?? 'python3';
const SCRIPT = `
import json, sys
from moto.events.models import EventPattern
cases = json.load(sys.stdin)
print(json.dumps([EventPattern.load(json.dumps(c["pattern"])).matches_event(c["event"]) for c in cases]))
`;

function motoVerdicts(): boolean[] {
  const run = spawnSync(PYTHON, ['-c', SCRIPT], {
    input: JSON.stringify(PATTERN_CASES.map((c) => ({ pattern: c.pattern, event: c.event }))),
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`moto's matcher failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as boolean[];
}

if (!MOTO.available) console.warn(`[conformance] EventBridge patterns: skipped — ${MOTO.why}`);

describe.skipIf(!MOTO.available)(
  "EventBridge patterns: the local matcher and moto's agree with EventBridge",
  () => {
    const verdicts = MOTO.available ? motoVerdicts() : [];
    it.each(PATTERN_CASES.map((c, i) => [c.name, c, i] as const))('%s', (_name, c, i) => {
      // Act
      const local = matchesPattern(c.pattern, c.event);
      // Assess
      expect({ local, moto: verdicts[i] }).toEqual({ local: c.matches, moto: c.matches });
    });
  },
);
