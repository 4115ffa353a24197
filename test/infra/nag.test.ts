import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePlan } from '../../functions/lib/plan.js';
import { addLifeboatStacks } from '../../infra/lifeboat-app.js';
import { acknowledge } from '../../infra/nag.js';
import { examplePlan, synthesize } from './support.js';

interface Acknowledgement {
  path: string;
  id: string;
  reason: unknown;
}

/** Every acknowledgement recorded in the app, with the construct it sits on. */
function acknowledgements(app: App): Acknowledgement[] {
  return app.node.findAll().flatMap((construct: IConstruct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, unknown>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

/** The findings cdk-nag would report if nothing were acknowledged. */
function unacknowledgedFindings(app: App) {
  const checks = new AwsSolutionsChecks();
  (checks as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
  return checks.validateScope(app).violations;
}

const tmp = mkdtempSync(join(tmpdir(), 'lifeboat-nag-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.each([['plan.json'], ['plan-three-units.json']] as const)('cdk-nag AwsSolutions on %s', (file) => {
  // Prepare
  const { app } = synthesize(examplePlan(file));

  it('finds nothing unacknowledged', () => {
    // Act
    const report = new AwsSolutionsChecks().validateScope(app);
    // Assess
    expect(
      report.violations.map(
        (v) => `${v.ruleName} at ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
      ),
    ).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('acknowledges each finding with a reason, in code, on the construct that raises it', () => {
    // Prepare
    const raw = unacknowledgedFindings(app);
    // Act
    const acks = acknowledgements(app);
    // Assess
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.id, ack.path).toMatch(/^AwsSolutions-/);
      expect(typeof ack.reason, `${ack.id} at ${ack.path}`).toBe('string');
      expect((ack.reason as string).length, `${ack.id} at ${ack.path}`).toBeGreaterThanOrEqual(20);
      // Not stale: without the acknowledgement, that very finding is raised under that construct.
      const raised = raw.some(
        (v) =>
          v.ruleName === ack.id &&
          v.violatingResources.some(
            (r) => r.constructPath === ack.path || r.constructPath?.startsWith(`${ack.path}/`),
          ),
      );
      expect(raised, `${ack.id} at ${ack.path} acknowledges nothing`).toBe(true);
    }
  });

  it('does not acknowledge any rule as a whole for the stack', () => {
    // Act
    const onStacks = acknowledgements(app).filter((a) => !a.path.includes('/'));
    // Assess
    expect(onStacks).toEqual([]);
  });
});

describe('cdk-nag in the app', () => {
  it('lets the lifeboat app synthesize clean', () => {
    // Prepare
    const app = new App({ outdir: join(tmp, 'clean'), context: { 'aws:cdk:bundling-stacks': [] } });
    addLifeboatStacks(app, parsePlan(examplePlan('plan-three-units.json')));
    // Act
    const assembly = app.synth();
    // Assess
    expect(assembly.stacks.map((s) => s.stackName).sort()).toEqual([
      'Lifeboat-shop-dr',
      'Lifeboat-shop-dr-AlarmForwarder',
    ]);
  });

  it('stops synthesis on an unacknowledged finding', () => {
    // Prepare
    const app = new App({ outdir: join(tmp, 'dirty'), context: { 'aws:cdk:bundling-stacks': [] } });
    const { main } = addLifeboatStacks(app, parsePlan(examplePlan('plan.json')));
    new s3.Bucket(main, 'CarelessBucket');
    // Act
    const synth = () => app.synth();
    // Assess
    expect(synth).toThrow(/CarelessBucket\/Resource[\s\S]*AwsSolutions-S1/);
  });

  it('reports a real finding when one is there', () => {
    // Prepare
    const app = new App();
    const stack = new Stack(app, 'Careless');
    new s3.Bucket(stack, 'Bucket');
    // Act
    const report = new AwsSolutionsChecks().validateScope(app);
    // Assess
    expect(report.violations.map((v) => v.ruleName)).toEqual(
      expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10']),
    );
  });

  it('refuses an acknowledgement without a real reason', () => {
    // Prepare
    const stack = new Stack(new App(), 'S');
    // Act
    const act = () => acknowledge(stack, 'AwsSolutions-S1', 'ok');
    // Assess
    expect(act).toThrow(/needs a real reason/);
  });
});
