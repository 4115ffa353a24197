import { type CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DescribeStateMachineCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { ConfigurationError, toLifeboatError } from '../errors.js';
import { type FailoverPlan, parsePlan } from '../plan.js';
import type { PreflightDeps } from '../preflight.js';
import {
  evaluateUnits,
  metricBatches,
  READINESS_NAMESPACE,
  type ReadinessEvaluation,
  readinessKey,
  readinessMetrics,
  summarize,
} from './evaluate.js';
import { pingFunctions } from './ping.js';
import type { WarmTarget } from './warm.js';
import '../sdk/cloudwatch.js';
import '../sdk/s3.js';
import '../sdk/sfn.js';

/** The readiness function's environment, set by infra/constructs/readiness.ts. */
export const READINESS_ENV = {
  stateMachineArn: 'STATE_MACHINE_ARN',
  reportBucket: 'REPORT_BUCKET_NAME',
  warmTargets: 'READINESS_WARM_TARGETS',
} as const;

export interface ReadinessConfig {
  /** The plan's state machine: its definition carries the validated plan (its first state, "Take the plan"). */
  stateMachineArn: string;
  /** The report bucket; the evaluation goes to `reports/<plan>/readiness/latest.json`. */
  reportBucket: string;
  /** Every function to keep active (docs/design/readiness.md, "Keeping functions active"). */
  warmTargets: readonly WarmTarget[];
}

export interface ReadinessDeps extends PreflightDeps {
  sfn: SFNClient;
  s3: S3Client;
  lambda: LambdaClient;
  cloudwatch: CloudWatchClient;
  now?: () => Date;
}

export interface ReadinessOutcome {
  evaluation: ReadinessEvaluation;
  metrics: number;
  putMetricDataCalls: number;
}

/**
 * The plan as deployed: the definition's Pass state whose Result is `{plan}` (statemachine/failover.ts, "Take the
 * plan"). Reading it from the state machine keeps one source of truth, of any size (a Lambda's environment holds
 * 4 KB), and the evaluation always judges the plan a failover would run.
 */
export async function deployedPlan(sfn: SFNClient, stateMachineArn: string): Promise<FailoverPlan> {
  let definition: string | undefined;
  try {
    definition = (await sfn.send(new DescribeStateMachineCommand({ stateMachineArn }))).definition;
  } catch (error) {
    throw toLifeboatError(error, `DescribeStateMachine ${stateMachineArn}`);
  }
  const states = (
    JSON.parse(definition ?? '{}') as { States?: Record<string, { Type?: string; Result?: unknown }> }
  ).States;
  for (const state of Object.values(states ?? {})) {
    const result = state.Result as { plan?: unknown } | undefined;
    if (state.Type === 'Pass' && result && typeof result === 'object' && 'plan' in result) {
      return parsePlan(result.plan, `the plan in ${stateMachineArn}`);
    }
  }
  throw new ConfigurationError(
    `${stateMachineArn}: its definition carries no plan (a Pass state with Result {plan})`,
  );
}

/**
 * One readiness evaluation: the preflight of every unit, the warm pings, the metrics, the latest evaluation in S3.
 * The metrics are published before the S3 copy (the alarm depends on them); either failing fails the invocation, so
 * that the function's own Errors metric and the missing `Ready` datapoint (the alarm treats it as not ready) show it.
 */
export async function runReadiness(deps: ReadinessDeps, config: ReadinessConfig): Promise<ReadinessOutcome> {
  const now = deps.now ?? (() => new Date());
  const started = now();
  const plan = await deployedPlan(deps.sfn, config.stateMachineArn);
  const [units, warm] = await Promise.all([
    evaluateUnits(deps, plan, { now }),
    pingFunctions(deps.lambda, config.warmTargets),
  ]);
  const evaluation = summarize(plan, units, warm, started, now());
  const data = readinessMetrics(evaluation);
  const batches = metricBatches(data);
  for (const batch of batches) {
    try {
      await deps.cloudwatch.send(
        new PutMetricDataCommand({ Namespace: READINESS_NAMESPACE, MetricData: batch }),
      );
    } catch (error) {
      throw toLifeboatError(error, `PutMetricData (${batch.length} readiness metrics)`);
    }
  }
  const key = readinessKey(plan.name);
  try {
    await deps.s3.send(
      new PutObjectCommand({
        Bucket: config.reportBucket,
        Key: key,
        Body: JSON.stringify(evaluation, null, 2),
        ContentType: 'application/json',
      }),
    );
  } catch (error) {
    throw toLifeboatError(error, `PutObject s3://${config.reportBucket}/${key}`);
  }
  return { evaluation, metrics: data.length, putMetricDataCalls: batches.length };
}

/** `READINESS_WARM_TARGETS`: `name=functionName` pairs separated by commas (infra/constructs/readiness.ts). */
export function parseWarmTargets(text: string, variable: string): WarmTarget[] {
  if (text.trim() === '') return [];
  return text.split(',').map((pair) => {
    const [name, functionName, extra] = pair.split('=');
    if (!name || !functionName || extra !== undefined) {
      throw new TypeError(
        `environment variable ${variable}: expected name=function pairs separated by commas, got "${pair}"`,
      );
    }
    return { name, functionName };
  });
}
