import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WARM_PING } from '../../functions/lib/readiness/warm.js';
import { CLOSER_ENTRY } from '../../infra/constructs/lock-recovery.js';
import { PROJECT_ROOT } from '../../infra/constructs/step-function.js';
import { HANDLER_ENTRIES } from '../../statemachine/steps.js';

/**
 * Every function the readiness evaluation keeps active answers its warm ping without doing anything
 * (docs/design/readiness.md, "Keeping functions active"). The handlers run with no endpoint and no credentials: one
 * that went on to its work would fail (or name a missing field) instead of answering.
 */
describe('every function answers the warm ping', () => {
  const entries = { ...HANDLER_ENTRIES, closeEndedRun: CLOSER_ENTRY };
  // What the handlers read at cold start, as the stack sets it.
  Object.assign(process.env, {
    AWS_REGION: 'us-west-2',
    LOCK_TABLE_NAME: 'lock',
    STATE_MACHINE_ARN: 'arn:aws:states:us-west-2:123456789012:stateMachine:lifeboat-orders-dr',
    AWS_ACCESS_KEY_ID: 'none',
    AWS_SECRET_ACCESS_KEY: 'none',
    LIFEBOAT_AWS_ENDPOINT: 'http://127.0.0.1:9',
  });

  it.each(Object.entries(entries))('%s (%s)', async (_name, entry) => {
    // Prepare
    const module = (await import(pathToFileURL(`${PROJECT_ROOT}${entry}`).href)) as {
      handler: (event: unknown) => Promise<unknown>;
    };
    // Act
    const reply = await module.handler({ ...WARM_PING });
    // Assess
    expect(reply).toEqual({ lifeboatWarmPing: 'ok' });
  });
});
