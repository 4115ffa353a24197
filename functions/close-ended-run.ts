import { clientsFor } from './lib/clients.js';
import { drillDeps } from './lib/drill.js';
import { closeEndedRun, type EndedRunOutcome } from './lib/ended-run.js';
import { currentRegion, optionalEnv, requiredEnv } from './lib/env.js';
import { answersWarmPing } from './lib/readiness/warm.js';

const config = {
  stateMachineArn: requiredEnv('STATE_MACHINE_ARN'),
  lockTableName: requiredEnv('LOCK_TABLE_NAME'),
  reportBucket: optionalEnv('REPORT_BUCKET_NAME'),
  reportTopicArn: optionalEnv('REPORT_TOPIC_ARN'),
};

/** Room left for the report and the lock release after the last cleanup pass. */
const MARGIN_MS = 30_000;

/**
 * Invoked by the EventBridge rule on the state machine's TIMED_OUT, ABORTED and FAILED executions
 * (infra/constructs/run-closer.ts; functions/lib/ended-run.ts).
 */
export const handler = answersWarmPing(
  async (event: unknown, context?: { getRemainingTimeInMillis?: () => number }): Promise<EndedRunOutcome> => {
    const region = currentRegion();
    const clients = clientsFor(region);
    const remaining = context?.getRemainingTimeInMillis?.() ?? 60_000;
    const deadline = Date.now() + Math.max(0, remaining - MARGIN_MS);
    return closeEndedRun(
      {
        sfn: clientsFor(region).sfn,
        dynamodb: clients.dynamodb,
        s3: clients.s3,
        sns: clients.sns,
        cloudwatch: clients.cloudwatch,
        drill: (run) => drillDeps(run),
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        deadline: () => deadline,
      },
      config,
      event,
    );
  },
);
