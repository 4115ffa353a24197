import { clientsFor } from './lib/clients.js';
import { currentRegion, requiredEnv } from './lib/env.js';
import { logger } from './lib/observability.js';
import { parseWarmTargets, READINESS_ENV, type ReadinessOutcome, runReadiness } from './lib/readiness/run.js';

// Read at cold start: a missing variable fails every invocation, naming it.
const config = {
  stateMachineArn: requiredEnv(READINESS_ENV.stateMachineArn),
  reportBucket: requiredEnv(READINESS_ENV.reportBucket),
  warmTargets: parseWarmTargets(process.env[READINESS_ENV.warmTargets] ?? '', READINESS_ENV.warmTargets),
};

/**
 * Invoked by the readiness schedule (infra/constructs/readiness.ts): evaluates the plan's readiness, publishes it as
 * metrics and keeps every function active (functions/lib/readiness/run.ts). It changes nothing.
 */
export const handler = async (): Promise<ReadinessOutcome['evaluation'] & { metrics: number }> => {
  const clients = clientsFor(currentRegion());
  const outcome = await runReadiness(clients, config);
  const { evaluation } = outcome;
  logger.info('readiness evaluated', {
    planName: evaluation.planName,
    ready: evaluation.ready,
    notReady: evaluation.units.filter((u) => !u.ready).map((u) => u.unit),
    functionsNotAnswering: evaluation.functions.notAnswering,
    metrics: outcome.metrics,
    putMetricDataCalls: outcome.putMetricDataCalls,
    durationMs: evaluation.durationMs,
  });
  return { ...evaluation, metrics: outcome.metrics };
};
