import aslValidator from 'asl-validator';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { describe, expect, it } from 'vitest';
import { promotionPollSeconds } from '../../functions/lib/database.js';
import { DNS_POLL_SECONDS } from '../../functions/lib/dns/update.js';
import * as errors from '../../functions/lib/errors.js';
import { parsePlan } from '../../functions/lib/plan.js';
import { MAX_UNIT_OUTCOME_BYTES } from '../../functions/lib/report/index.js';
import { buildFailoverDefinition, STATE_NAMES, UNIT_MAP_RUN_LABEL } from '../../statemachine/failover.js';
import {
  APPROVAL_RETRYABLE_ERRORS,
  CONNECTIVITY_RETRY,
  connectivityBudgetSeconds,
  connectivityRetryAttempts,
  connectivityRetryDelay,
  HANDLER_ENTRIES,
  MAX_WAIT_SECONDS,
  POLL_LOOPS,
  STEP_FUNCTIONS,
} from '../../statemachine/steps.js';
import { planWith } from '../helpers/flow-harness.js';
import { allStates, functionArn, RUN_BUCKET, synthDefinition } from '../helpers/synth-definition.js';

type State = Record<string, unknown>;
interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: string;
}

const gatedPlan = planWith(3, { approval: { onAlarm: true, timeoutSeconds: 900 } });
const { definition } = synthDefinition(gatedPlan, { approvalTopic: true });
const states = allStates(definition);
const tasks = [...states].filter(([, s]) => s.Type === 'Task');
const lambdaTasks = tasks.filter(([, s]) => String(s.Resource).includes(':lambda:'));

/** Every error class of our family, with the name the state machine sees and whether it is transient. */
type ErrorClass = new (message: string) => errors.LifeboatError;
const FAMILY = (Object.values(errors) as unknown[])
  .filter((v): v is ErrorClass => typeof v === 'function' && v.prototype instanceof errors.LifeboatError)
  .map((Class) => new Class('probe'));
const PERMANENT = FAMILY.filter((e) => !e.retryable).map((e) => e.name);
const TRANSIENT = FAMILY.filter((e) => e.retryable).map((e) => e.name);

describe('the synthesized definition', () => {
  it('is valid Amazon States Language, with and without the approval gate', () => {
    // Act
    // asl-validator writes a default QueryLanguage into the document it checks: give it copies.
    const gated = aslValidator(structuredClone(definition));
    const plain = aslValidator(synthDefinition(planWith(1)).definition);

    // Assess
    expect(gated.errorsText('\n')).toBe('');
    expect(gated.isValid).toBe(true);
    expect(plain.isValid).toBe(true);
  });

  it('uses JSONPath only and never JSONata or variables', () => {
    // Act
    const text = JSON.stringify(definition);

    // Assess
    expect(definition).not.toHaveProperty('QueryLanguage');
    expect(text).not.toMatch(/"(Assign|Arguments|Output|QueryLanguage)"/);
    expect(text).not.toContain('{%');
  });

  it('calls each of the step functions, by its ARN, with the response payload as output', () => {
    // Act
    const resources = new Set(lambdaTasks.map(([, s]) => s.Resource));

    // Assess
    expect(resources).toEqual(new Set(STEP_FUNCTIONS.map(functionArn)));
    for (const [, state] of lambdaTasks) expect(state).not.toHaveProperty('ResultSelector');
  });

  it('names states as sentences, with every name in STATE_NAMES and every STATE_NAMES entry used', () => {
    // Act
    const names = [...states.keys()];

    // Assess
    expect(new Set(names)).toEqual(new Set(Object.values(STATE_NAMES)));
    for (const name of names) expect(name).toMatch(/^[A-Z][A-Za-z-]+( [\w()?-]+)+$/); // 'Re-protect unit'
  });

  it('keeps handler entries as kebab-case files under functions/', () => {
    // Assess
    expect(Object.keys(HANDLER_ENTRIES).sort()).toEqual([...STEP_FUNCTIONS].sort());
    for (const entry of Object.values(HANDLER_ENTRIES))
      expect(entry).toMatch(/^functions\/[a-z]+(-[a-z]+)*\.ts$/);
  });

  it("runs the units in a Map over the run's units.json in S3, as concurrent as the plan allows, each starting with no results", () => {
    // Act
    const map = states.get(STATE_NAMES.failOverUnits) as State;

    // Assess
    expect(map.Type).toBe('Map');
    expect(map).not.toHaveProperty('ItemsPath');
    expect(map.ItemReader).toEqual({
      Resource: 'arn:aws:states:::s3:getObject',
      ReaderConfig: { InputType: 'JSON' },
      Parameters: { Bucket: RUN_BUCKET, 'Key.$': '$.unitsKey' },
    });
    expect(map.MaxConcurrency).toBe(10);
    expect(map.ItemSelector).toEqual({ 'run.$': '$.run', 'unit.$': '$$.Map.Item.Value', results: {} });
  });

  it('runs each unit as its own Standard child execution (Distributed Map), results to S3, no failure ending the others', () => {
    // Act
    const map = states.get(STATE_NAMES.failOverUnits) as State;

    // Assess
    expect((map.ItemProcessor as State).ProcessorConfig).toEqual({
      Mode: 'DISTRIBUTED',
      ExecutionType: 'STANDARD',
    });
    expect(map.Label).toBe(UNIT_MAP_RUN_LABEL);
    // A child that fails outright does not fail the Map: the others' outcomes still reach the report.
    expect(map.ToleratedFailurePercentage).toBe(100);
    // The outcomes go to S3 under the plan's results prefix; the state keeps only where (docs/design/fleet.md).
    expect(map.ResultWriter).toEqual({
      Resource: 'arn:aws:states:::s3:putObject',
      Parameters: { Bucket: RUN_BUCKET, Prefix: 'runs/orders-dr/results' },
    });
    expect(map.ResultPath).toBe('$.mapRun');
  });

  it('ends every unit with its whole outcome (a runaway detail bounded), at 3 units as at 500, or kept whole if that step fails', () => {
    // Prepare
    const big = synthDefinition(planWith(500)).definition;

    // Act
    const summarize = states.get(STATE_NAMES.summarizeUnit) as State;
    const bigSummarize = allStates(big).get(STATE_NAMES.summarizeUnit) as State;

    // Assess
    expect(summarize.End).toBe(true);
    expect(summarize.Parameters).toEqual({ 'outcome.$': '$', budgetBytes: MAX_UNIT_OUTCOME_BYTES });
    expect((bigSummarize.Parameters as { budgetBytes: number }).budgetBytes).toBe(MAX_UNIT_OUTCOME_BYTES);
    expect(summarize.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: null, Next: STATE_NAMES.unitKeptWhole },
    ]);
    expect(states.get(STATE_NAMES.unitKeptWhole)?.Type).toBe('Succeed');
    for (const record of [STATE_NAMES.unitSucceeded, STATE_NAMES.unitFailed]) {
      expect(states.get(record)?.Next).toBe(STATE_NAMES.summarizeUnit);
    }
  });

  it('bakes the plan into the first state so that a start with {} has everything', () => {
    // Act
    const first = definition.States[definition.StartAt] as unknown as State;

    // Assess
    expect(definition.StartAt).toBe(STATE_NAMES.takePlan);
    expect(first.Type).toBe('Pass');
    expect(first.Result).toEqual({ plan: parsePlan(gatedPlan) });
  });

  it('synthesizes inside a real StateMachine construct with bundled-less Lambda functions', () => {
    // Prepare
    const stack = new Stack(new App(), 'SynthCheck');
    const functions = Object.fromEntries(
      STEP_FUNCTIONS.map((name) => [
        name,
        new lambda.Function(stack, `Fn${name}`, {
          runtime: lambda.Runtime.NODEJS_22_X,
          architecture: lambda.Architecture.ARM_64,
          handler: 'index.handler',
          code: lambda.Code.fromInline('exports.handler = async () => ({})'),
        }),
      ]),
    ) as never;
    const chain = buildFailoverDefinition(stack, {
      plan: parsePlan(gatedPlan),
      functions,
      runBucket: new s3.Bucket(stack, 'Reports'),
      approvalTopic: new sns.Topic(stack, 'Approvals'),
    });

    // Act
    new sfn.StateMachine(stack, 'Failover', { definitionBody: sfn.DefinitionBody.fromChainable(chain) });
    const template = Template.fromStack(stack);

    // Assess
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine'));
    const rendered = JSON.stringify(machine?.Properties?.DefinitionString);
    expect(rendered).toContain(STATE_NAMES.verifyConnectivity);
    expect(rendered).toContain('waitForTaskToken');
  });
});

describe('retries', () => {
  it('retries every Task on the transient errors only, with backoff, a cap and full jitter', () => {
    for (const [name, state] of tasks) {
      // Act
      const retry = state.Retry as Retrier[] | undefined;

      // Assess
      expect(retry, name).toBeDefined();
      const general =
        name === STATE_NAMES.askApproval ? APPROVAL_RETRYABLE_ERRORS : errors.RETRYABLE_ERROR_NAMES;
      // The general retrier leaves out the names a step's own retrier takes first (ResourceBusyError on promotion).
      const first = (retry ?? []).find((r) => r.ErrorEquals.includes(general[0]));
      const others = (retry ?? []).filter((r) => r !== first).flatMap((r) => r.ErrorEquals);
      expect(first, `${name} has the general retrier`).toBeDefined();
      expect([...(first?.ErrorEquals ?? []), ...others]).toEqual(expect.arrayContaining([...general]));
      expect(first?.IntervalSeconds).toBeGreaterThanOrEqual(1);
      expect(first?.IntervalSeconds).toBeLessThanOrEqual(2);
      expect(first?.BackoffRate).toBe(2);
      expect(first?.MaxAttempts).toBeGreaterThanOrEqual(4);
      expect(first?.MaxAttempts).toBeLessThanOrEqual(10);
      expect(first?.MaxDelaySeconds).toBeLessThanOrEqual(20);
      expect(first?.JitterStrategy).toBe('FULL');
    }
  });

  it('gives a busy replica a whole promotion to finish, ahead of the general retrier', () => {
    // Act
    const retry = (tasks.find(([name]) => name === STATE_NAMES.promoteDatabase)?.[1].Retry ??
      []) as Retrier[];
    // Assess: Step Functions takes the first retrier that matches, so the busy one must come first.
    const busy = retry.findIndex(
      (r) => JSON.stringify(r.ErrorEquals) === JSON.stringify(['ResourceBusyError']),
    );
    const general = retry.findIndex((r) => r.ErrorEquals.includes('TransientAwsError'));
    expect(busy).toBeGreaterThanOrEqual(0);
    expect(busy).toBeLessThan(general);
    const budget = (retry[busy]?.IntervalSeconds ?? 0) * (retry[busy]?.MaxAttempts ?? 0);
    expect(budget).toBeGreaterThanOrEqual(10 * 60);
  });

  it('never retries a permanent error, nor States.ALL, and retries our transient errors everywhere', () => {
    // Prepare
    expect(PERMANENT).toContain('PreflightFailedError');
    expect(TRANSIENT).toEqual(expect.arrayContaining(['TransientAwsError', 'ResourceBusyError']));

    for (const [name, state] of tasks) {
      // Act
      const retried = ((state.Retry as Retrier[] | undefined) ?? []).flatMap((r) => r.ErrorEquals);

      // Assess
      for (const error of retried) {
        expect(PERMANENT, `${name} retries ${error}`).not.toContain(error);
        expect(error).not.toMatch(/^States\.(ALL|TaskFailed|Runtime)$/);
      }
    }
    for (const [, state] of lambdaTasks) {
      const retried = (state.Retry as Retrier[]).flatMap((r) => r.ErrorEquals);
      // ConnectivityNotReadyError is verify's own (its own retrier); SecretFeedError is raised by the secret feeds'
      // functions, which Lambda retries on their own, never by a step of the state machine.
      for (const error of TRANSIENT.filter(
        (e) => e !== 'ConnectivityNotReadyError' && e !== 'SecretFeedError',
      ))
        expect(retried).toContain(error);
    }
  });

  it.each([
    // The record's TTL before the change is read at run time: the retrier covers the largest one the verify budget
    // waits out (functions/lib/verify/budget.ts), or a larger plan TTL.
    ['a previous TTL up to the ceiling', 120, CONNECTIVITY_RETRY.previousTtlCeilingSeconds],
    ['a plan TTL above the ceiling', 7200, 7200],
  ])(
    'retries ConnectivityNotReadyError only on the connectivity check, long enough to outlive %s',
    (_, ttl, cached) => {
      // Prepare
      const plan = parsePlan(planWith(2));
      const [, second] = plan.units;
      if (second) second.dns.ttl = ttl;
      const { definition: withTtl } = synthDefinition(plan);

      // Act
      const verify = allStates(withTtl).get(STATE_NAMES.verifyConnectivity) as State;
      const retriers = verify.Retry as Retrier[];
      const connectivity = retriers.find((r) => r.ErrorEquals.includes(CONNECTIVITY_RETRY.error));
      const attempts = connectivity?.MaxAttempts ?? 0;
      const covered = Array.from({ length: attempts }, (_, i) => connectivityRetryDelay(i)).reduce(
        (a, b) => a + b,
        0,
      );

      // Assess
      expect(connectivity).toMatchObject({
        IntervalSeconds: 2,
        BackoffRate: 1.5,
        MaxDelaySeconds: 10,
        JitterStrategy: 'NONE',
      });
      expect(connectivity?.ErrorEquals).toEqual(['ConnectivityNotReadyError']);
      expect(covered).toBeGreaterThanOrEqual(cached + CONNECTIVITY_RETRY.marginSeconds);
      expect(covered - connectivityRetryDelay(attempts - 1)).toBeLessThan(
        cached + CONNECTIVITY_RETRY.marginSeconds,
      );
      for (const [name, state] of allStates(withTtl)) {
        if (name === STATE_NAMES.verifyConnectivity) continue;
        expect(JSON.stringify(state.Retry ?? [])).not.toContain('ConnectivityNotReadyError');
      }
    },
  );

  it('waits longer for a health-check unit, whose record flips only when health checkers see the primary fail', () => {
    // Prepare
    const plain = parsePlan(planWith(1));
    const healthCheck = parsePlan(planWith(1));
    for (const unit of healthCheck.units) unit.dns.strategy = 'health-check';

    // Act
    const extra = connectivityBudgetSeconds(healthCheck) - connectivityBudgetSeconds(plain);

    // Assess
    expect(extra).toBe(CONNECTIVITY_RETRY.healthCheckFlipSeconds);
    expect(connectivityRetryAttempts(healthCheck)).toBeGreaterThan(connectivityRetryAttempts(plain));
  });
});

describe('waits and loops', () => {
  it('never waits more than 30 s in one Wait state', () => {
    for (const [name, state] of states) {
      if (state.Type !== 'Wait') continue;
      // Assess
      expect(state.Timestamp ?? state.TimestampPath, name).toBeUndefined();
      if (state.Seconds !== undefined) {
        expect(state.Seconds, name).toBeLessThanOrEqual(MAX_WAIT_SECONDS);
        continue;
      }
      expect(state.SecondsPath, name).toBe('$.poll.waitSeconds');
      // A SecondsPath wait is only reached through a Choice rule that bounds the value.
      const guards = [...states.values()].flatMap((s) =>
        ((s.Choices as { Next: string; And?: Record<string, unknown>[] }[] | undefined) ?? []).filter(
          (c) => c.Next === name,
        ),
      );
      expect(guards, name).toHaveLength(1);
      expect(guards[0]?.And).toEqual(
        expect.arrayContaining([
          { Variable: '$.poll.waitSeconds', IsNumeric: true },
          { Variable: '$.poll.waitSeconds', NumericLessThanEquals: MAX_WAIT_SECONDS },
          { Variable: '$.poll.waitSeconds', NumericGreaterThanEquals: 1 },
        ]),
      );
    }
  });

  it("bounds both poll loops: 20+ minutes for a database promotion and 5 for a DNS change, at the polls' own pace", () => {
    // Act
    const bound = (choice: string) =>
      ((states.get(choice)?.Choices as Record<string, unknown>[]) ?? []).find(
        (c) => c.Variable === '$.polling.attempt',
      );
    // The slowest pace each poll function asks for while the operation is under way.
    const databasePace = Math.max(
      ...['modifying', 'backing-up', 'rebooting', 'available'].map((s) =>
        promotionPollSeconds(s, s === 'available'),
      ),
    );

    // Assess
    expect(bound(STATE_NAMES.isDatabasePromoted)).toMatchObject({
      NumericGreaterThanEquals: POLL_LOOPS.databasePromotion.maxAttempts,
      Next: STATE_NAMES.databasePromotionTimedOut,
    });
    expect(bound(STATE_NAMES.isDnsInSync)).toMatchObject({
      NumericGreaterThanEquals: POLL_LOOPS.dnsChange.maxAttempts,
      Next: STATE_NAMES.dnsChangeTimedOut,
    });
    expect(POLL_LOOPS.databasePromotion.maxAttempts * databasePace).toBeGreaterThanOrEqual(20 * 60);
    expect(POLL_LOOPS.dnsChange.maxAttempts * DNS_POLL_SECONDS).toBeGreaterThanOrEqual(5 * 60);
    expect(JSON.stringify(states.get(STATE_NAMES.databasePromotionTimedOut))).toContain(
      errors.POLL_TIMEOUT_ERRORS.databasePromotion,
    );
    expect(JSON.stringify(states.get(STATE_NAMES.dnsChangeTimedOut))).toContain(
      errors.POLL_TIMEOUT_ERRORS.dnsChange,
    );
  });

  it('gets from the poll functions whole seconds within the bounds the Waits accept', () => {
    // Prepare
    const statuses = [
      'creating',
      'modifying',
      'backing-up',
      'rebooting',
      'available',
      'storage-optimization',
    ];

    // Act
    const asked = [
      ...statuses.flatMap((s) => [promotionPollSeconds(s, true), promotionPollSeconds(s, false)]),
      DNS_POLL_SECONDS,
    ];

    // Assess
    for (const seconds of asked) {
      expect(Number.isInteger(seconds)).toBe(true);
      expect(seconds).toBeGreaterThanOrEqual(POLL_LOOPS.databasePromotion.minWaitSeconds);
      expect(seconds).toBeLessThanOrEqual(MAX_WAIT_SECONDS);
    }
  });
});

describe('catches', () => {
  it('catches every Task, Parallel and Map into $.failure (or a named field), never letting an error end the run unreported', () => {
    for (const [name, state] of states) {
      if (!['Task', 'Parallel', 'Map'].includes(String(state.Type))) continue;
      // Act
      const catches = (state.Catch as { ErrorEquals: string[]; ResultPath: string }[] | undefined) ?? [];

      // Assess
      expect(catches, name).toHaveLength(1);
      expect(catches[0]?.ErrorEquals).toEqual(['States.ALL']);
      if (name === STATE_NAMES.summarizeUnit) {
        // Its input, the unit's outcome, goes on unchanged.
        expect(catches[0]?.ResultPath).toBeNull();
        continue;
      }
      if (name === STATE_NAMES.cleanUpDrill) {
        // Beside the unit's own failure, never in its place.
        expect(catches[0]?.ResultPath).toBe('$.results.cleanUpDrillFailure');
        continue;
      }
      if (name === STATE_NAMES.unfencePrimary || name === STATE_NAMES.unfenceIfUnpromoted) {
        // A switchover's un-fence runs after the unit failed: its own failure is kept beside that one
        // (docs/design/switchover.md, "Stopping before promotion", "Stopping at the promotion").
        expect(catches[0]?.ResultPath).toBe('$.results.unfencePrimaryFailure');
        continue;
      }
      expect(catches[0]?.ResultPath).toMatch(/^\$\.(failure|reportFailure|lockReleaseFailure)$/);
    }
  });
});
