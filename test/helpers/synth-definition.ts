import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { type FailoverPlan, type PlanDocument, parsePlan } from '../../functions/lib/plan.js';
import { buildFailoverDefinition } from '../../statemachine/failover.js';
import { STEP_FUNCTIONS, type StepFunctionName } from '../../statemachine/steps.js';

export const TEST_ACCOUNT = '123456789012';
export const TEST_REGION = 'us-west-2';
/** The report bucket the definition reads the run's units from and writes the units' outcomes to. */
export const RUN_BUCKET = 'lifeboat-reports-flow';
export const APPROVAL_TOPIC_ARN = `arn:aws:sns:${TEST_REGION}:${TEST_ACCOUNT}:lifeboat-approval`;

export function functionArn(name: StepFunctionName): string {
  return `arn:aws:lambda:${TEST_REGION}:${TEST_ACCOUNT}:function:lifeboat-${name}`;
}

export interface SynthOptions {
  /** Give the definition an approval topic (the gate exists only if the plan also asks for approval on alarms). */
  readonly approvalTopic?: boolean;
}

export interface SynthesizedDefinition {
  /** The Amazon States Language document, every token resolved (function ARNs are literal). */
  readonly definition: StateMachineDefinition;
  readonly plan: FailoverPlan;
}

/**
 * Renders the definition exactly as CDK would put it in the state machine, without a whole stack synthesis:
 * the functions are imported by literal ARN, so the rendered graph carries no CloudFormation tokens and can be
 * fed to asl-validator and aws-local-stepfunctions as is.
 */
export function synthDefinition(
  document: PlanDocument | FailoverPlan,
  options: SynthOptions = {},
): SynthesizedDefinition {
  const plan = parsePlan(document);
  const app = new App();
  const stack = new Stack(app, 'FlowTest', { env: { account: TEST_ACCOUNT, region: TEST_REGION } });
  const functions = Object.fromEntries(
    STEP_FUNCTIONS.map((name) => [
      name,
      lambda.Function.fromFunctionArn(stack, `Fn-${name}`, functionArn(name)),
    ]),
  ) as Record<StepFunctionName, lambda.IFunction>;
  const chain = buildFailoverDefinition(stack, {
    plan,
    functions,
    runBucket: s3.Bucket.fromBucketName(stack, 'Reports', RUN_BUCKET),
    ...(options.approvalTopic
      ? { approvalTopic: sns.Topic.fromTopicArn(stack, 'Approval', APPROVAL_TOPIC_ARN) }
      : {}),
  });
  const graph = new sfn.StateGraph(chain.startState, 'lifeboat failover');
  const definition = resolvePseudoParameters(stack.resolve(graph.toGraphJson())) as StateMachineDefinition;
  return { definition, plan };
}

/**
 * CDK leaves service-integration ARNs as `{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ...]]}` for
 * CloudFormation to finish; do what CloudFormation would, for the test account and Region.
 */
function resolvePseudoParameters(value: unknown): unknown {
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': TEST_REGION,
    'AWS::AccountId': TEST_ACCOUNT,
    'AWS::URLSuffix': 'amazonaws.com',
  };
  if (Array.isArray(value)) return value.map(resolvePseudoParameters);
  if (!value || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  const ref = object.Ref;
  if (typeof ref === 'string' && Object.keys(object).length === 1) {
    const resolved = pseudo[ref];
    if (resolved === undefined) throw new Error(`cannot resolve {"Ref": "${ref}"} in the test definition`);
    return resolved;
  }
  const join = object['Fn::Join'] as [string, unknown[]] | undefined;
  if (join && Object.keys(object).length === 1) {
    return join[1].map((part) => resolvePseudoParameters(part)).join(join[0]);
  }
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, resolvePseudoParameters(v)]));
}

/** Every state of a definition, nested ones included, by name. */
export function allStates(definition: {
  States: Record<string, unknown>;
}): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  const visit = (states: Record<string, unknown>) => {
    for (const [name, raw] of Object.entries(states)) {
      const state = raw as Record<string, unknown>;
      if (out.has(name)) throw new Error(`state name "${name}" is used twice`);
      out.set(name, state);
      for (const branch of (state.Branches as { States: Record<string, unknown> }[] | undefined) ?? []) {
        visit(branch.States);
      }
      const processor = (state.ItemProcessor ?? state.Iterator) as
        | { States: Record<string, unknown> }
        | undefined;
      if (processor) visit(processor.States);
    }
  };
  visit(definition.States);
  return out;
}
