import { assertUnitStepInput } from './lib/database.js';
import { InputInvalidError } from './lib/errors.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import { switchoverDeps } from './lib/switchover/preflight.js';
import { fencePrimary, unfence } from './lib/switchover/switchover.js';
import { unfenceIfUnpromoted } from './lib/switchover/unpromoted.js';
import type { StepResult } from './lib/types.js';

const ACTIONS = ['fence', 'unfence', 'lift', 'unfence-if-unpromoted'] as const;

/**
 * FenceWrites (switchover): `fence` the primary's writes, `unfence` the primary (the switchover stopped before
 * promotion), `lift` the fence the promoted replica inherited, or `unfence-if-unpromoted` after a failed promotion:
 * un-fence only when the replica is proven still a replica (docs/design/switchover.md).
 */
export const handler = answersWarmPing(async (event: unknown): Promise<StepResult> => {
  assertUnitStepInput(event, 'fenceWrites');
  const action = (event as { action?: unknown }).action;
  if (!ACTIONS.includes(action as (typeof ACTIONS)[number])) {
    const problem = `action: expected one of ${ACTIONS.join(', ')}, got ${JSON.stringify(action)}`;
    throw new InputInvalidError(`fenceWrites: invalid step input:\n  - ${problem}`, [problem]);
  }
  const deps = switchoverDeps(event.run);
  if (action === 'fence') return fencePrimary(deps, event);
  if (action === 'unfence-if-unpromoted') return unfenceIfUnpromoted(deps, event);
  return unfence(deps, event, action === 'unfence' ? 'primary' : 'replica');
});
