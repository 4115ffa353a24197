import { describe, expect, it } from 'vitest';
import { InputInvalidError } from '../../functions/lib/errors.js';
import { loadRun } from '../../functions/lib/load-plan.js';
import { MAX_UNITS_PER_RUN } from '../../functions/lib/state-limits.js';
import { planWith } from '../helpers/flow-harness.js';

const execution = {
  id: 'arn:aws:states:us-west-2:123456789012:execution:lifeboat-orders-dr:run-1',
  name: 'run-1',
  startTime: '2030-05-01T10:00:00.000Z',
};

function caught(act: () => unknown): Error {
  try {
    act();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('loadRun', () => {
  it('makes the run context and lists the planned units by name', () => {
    // Act
    const loaded = loadRun({ plan: planWith(3), input: { units: ['billing', 'orders'] }, execution });

    // Assess
    expect(loaded.run).toMatchObject({ runId: 'run-1', planName: 'orders-dr', mode: 'failover' });
    expect(loaded.units.map((u) => u.name)).toEqual(['orders', 'billing']);
    expect(loaded.plannedUnits).toEqual(['orders', 'billing']);
    expect(loaded.maxConcurrency).toBe(10);
  });

  it(`refuses a run of more than ${MAX_UNITS_PER_RUN} units, naming input.units, before any change`, () => {
    // Prepare
    const plan = planWith(MAX_UNITS_PER_RUN + 1);

    // Act
    const error = caught(() => loadRun({ plan, input: {}, execution }));
    const subset = loadRun({
      plan,
      input: { units: plan.units.slice(0, MAX_UNITS_PER_RUN).map((u) => u.name) },
      execution,
    });

    // Assess
    expect(error).toBeInstanceOf(InputInvalidError);
    expect(error.message).toContain('input.units');
    expect(error.message).toContain(`at most ${MAX_UNITS_PER_RUN}`);
    expect(subset.units).toHaveLength(MAX_UNITS_PER_RUN);
  });
});
