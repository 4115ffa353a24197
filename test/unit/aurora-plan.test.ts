import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NotSupportedError, PlanInvalidError } from '../../functions/lib/errors.js';
import { parsePlan, type UnitPlan } from '../../functions/lib/plan.js';
import {
  instanceDatabase,
  instanceUnit,
  isAuroraUnit,
  isGlobalAuroraUnit,
} from '../../functions/lib/plan-names.js';

/**
 * The Aurora plan shape (issue 15, docs/design/aurora.md): a unit's database is an RDS instance pair or an Aurora
 * global database / cross-Region replica cluster; `dns.target` says whether the CNAME follows the promoted cluster's
 * endpoint or names the global writer endpoint.
 */

// biome-ignore lint/suspicious/noExplicitAny: a plan document the tests change freely, field by field
type Doc = Record<string, any>;
const example = (): Doc =>
  JSON.parse(readFileSync(new URL('../../examples/plan.json', import.meta.url), 'utf8')) as Doc;

const GLOBAL = {
  engine: 'aurora-postgresql',
  globalClusterId: 'orders-global',
  primaryClusterId: 'orders-east',
  replicaClusterId: 'orders-west',
};

function auroraPlan(database: Doc = GLOBAL, dns: Doc = {}): Doc {
  const plan = example();
  plan.units = [plan.units[0]];
  plan.units[0].database = { ...database };
  Object.assign(plan.units[0].dns, dns);
  return plan;
}

function issuesOf(plan: Doc): string[] {
  try {
    parsePlan(plan);
  } catch (error) {
    expect(error).toBeInstanceOf(PlanInvalidError);
    return (error as PlanInvalidError).issues as string[];
  }
  throw new Error('the plan was accepted');
}

describe('Aurora units in the plan', () => {
  it('accepts a global database unit, with the lag default and no DNS target given', () => {
    const unit = parsePlan(auroraPlan()).units[0] as UnitPlan;
    expect(unit.database).toEqual({ ...GLOBAL, maxReplicaLagSeconds: 300 });
    expect(unit.dns.target).toBeUndefined();
    expect(isAuroraUnit(unit)).toBe(true);
    expect(isGlobalAuroraUnit(unit)).toBe(true);
  });

  it('accepts an Aurora MySQL replica cluster unit (no globalClusterId) and the global writer endpoint on a global unit', () => {
    const { globalClusterId: _, ...replicaCluster } = GLOBAL;
    const unit = parsePlan(auroraPlan({ ...replicaCluster, engine: 'aurora-mysql' })).units[0] as UnitPlan;
    expect(isAuroraUnit(unit)).toBe(true);
    expect(isGlobalAuroraUnit(unit)).toBe(false);
    const global = parsePlan(auroraPlan(GLOBAL, { target: 'global-writer-endpoint' })).units[0] as UnitPlan;
    expect(global.dns.target).toBe('global-writer-endpoint');
  });

  it('refuses an aurora-postgresql unit without a global cluster: replica clusters are Aurora MySQL only', () => {
    const { globalClusterId: _, ...replicaCluster } = GLOBAL;
    expect(issuesOf(auroraPlan(replicaCluster))).toEqual([
      'units[0].database.globalClusterId: cross-Region replica clusters exist for Aurora MySQL only; use a global database (globalClusterId) for aurora-postgresql',
    ]);
  });

  it('refuses the global writer endpoint on a replica cluster unit, and any target on an instance unit', () => {
    const { globalClusterId: _, ...replicaCluster } = GLOBAL;
    expect(
      issuesOf(
        auroraPlan({ ...replicaCluster, engine: 'aurora-mysql' }, { target: 'global-writer-endpoint' }),
      ),
    ).toEqual([
      'units[0].dns.target: "global-writer-endpoint" needs a global database unit (database.globalClusterId); a replica cluster unit uses "cluster-endpoint"',
    ]);
    const instance = example();
    instance.units[0].dns.target = 'cluster-endpoint';
    expect(issuesOf(instance)).toEqual([
      'units[0].dns.target: applies to Aurora units only (database.engine is postgres)',
    ]);
  });

  it('refuses identical primary and replica cluster ids', () => {
    expect(issuesOf(auroraPlan({ ...GLOBAL, replicaClusterId: 'orders-east' }))).toEqual([
      'units[0].database.replicaClusterId: must differ from primaryClusterId',
    ]);
  });

  it('does not mix the shapes: instance fields on an Aurora unit are unknown, with the field meant', () => {
    const issues = issuesOf(auroraPlan({ ...GLOBAL, replicaInstanceId: 'orders-west' }));
    expect(issues).toEqual(['units[0].database: unknown field "replicaInstanceId"']);
    // The suggestion comes from the shape the object was matched to, not from the instance shape.
    const { primaryClusterId, ...rest } = GLOBAL;
    expect(issuesOf(auroraPlan({ ...rest, primaryClustrId: primaryClusterId }))).toEqual(
      expect.arrayContaining([
        'units[0].database: unknown field "primaryClustrId" (did you mean "primaryClusterId"?)',
      ]),
    );
    const missing = issuesOf(auroraPlan({ engine: 'aurora-mysql', primaryClusterId: 'orders-east' }));
    expect(missing).toEqual([expect.stringMatching(/^units\[0\]\.database\.replicaClusterId: /)]);
  });

  it('names the engines it knows when the engine is none of them', () => {
    const issues = issuesOf(auroraPlan({ ...GLOBAL, engine: 'aurora' }));
    expect(issues).toEqual([
      'units[0].database.engine: expected one of "postgres", "mysql", "mariadb", "aurora-postgresql", "aurora-mysql"',
    ]);
  });

  it('refuses an Aurora unit in a step that handles instance units only, naming the unit and the step', () => {
    const unit = parsePlan(auroraPlan()).units[0] as UnitPlan;
    expect(() => instanceUnit(unit, 'the drill copy')).toThrow(NotSupportedError);
    expect(() => instanceDatabase(unit, 'the drill copy')).toThrow(
      /unit orders: the drill copy handles RDS DB instance units only, not aurora-postgresql/,
    );
    const instance = parsePlan(example()).units[0] as UnitPlan;
    expect(instanceDatabase(instance, 'x').replicaInstanceId).toBe(
      (example().units[0].database as Doc).replicaInstanceId,
    );
  });
});
