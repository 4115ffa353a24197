import { describe, expect, it } from 'vitest';
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

  it(`takes a run of ${MAX_UNITS_PER_RUN} units (the plan's most), naming where their plans go for the Map`, () => {
    // Prepare
    const plan = planWith(MAX_UNITS_PER_RUN, { maxConcurrency: MAX_UNITS_PER_RUN });

    // Act
    const loaded = loadRun({ plan, input: {}, execution });

    // Assess
    expect(loaded.units).toHaveLength(MAX_UNITS_PER_RUN);
    expect(loaded.maxConcurrency).toBe(MAX_UNITS_PER_RUN);
    expect(loaded.unitsKey).toBe('runs/orders-dr/run-1/units.json');
  });

  it('refuses maxConcurrency above the most units a plan holds, naming it, before any change', () => {
    // Act
    const error = caught(() =>
      loadRun({ plan: planWith(3, { maxConcurrency: MAX_UNITS_PER_RUN + 1 }), input: {}, execution }),
    );

    // Assess
    expect(error.message).toContain('maxConcurrency');
  });
});
