import { clientsFor } from './lib/clients.js';
import { currentRegion, optionalEnv } from './lib/env.js';
import { logger } from './lib/observability.js';
import { answersWarmPing } from './lib/readiness/warm.js';
import {
  buildRunReport,
  deliverReport,
  type ReportEvent,
  type RunReport,
  reportForExecutionOutput,
} from './lib/report/index.js';
import { s3Store, withMapRunOutcomes } from './lib/run-objects.js';

export const handler = answersWarmPing(async (input: ReportEvent): Promise<RunReport> => {
  const clients = clientsFor(input?.run?.recoveryRegion ?? currentRegion());
  // The units' outcomes are in the Map Run's result files, not in the state (docs/design/fleet.md).
  const event = await withMapRunOutcomes(s3Store(clients.s3), input);
  const report = buildRunReport(event, new Date());
  const delivered = await deliverReport(
    { s3: clients.s3, sns: clients.sns, cloudwatch: clients.cloudwatch },
    report,
    {
      bucket: optionalEnv('REPORT_BUCKET_NAME'),
      topicArn: optionalEnv('REPORT_TOPIC_ARN'),
    },
  );
  const log =
    delivered.delivery?.s3.status === 'failed' ||
    delivered.delivery?.sns.status === 'failed' ||
    delivered.delivery?.metrics?.status === 'failed'
      ? 'error'
      : 'info';
  logger[log]('run reported', {
    runId: delivered.runId,
    outcome: delivered.outcome,
    summary: delivered.summary,
    delivery: delivered.delivery,
  });
  // The execution's output is limited to 256 KiB; the S3 copy and the notification carry the whole report.
  return reportForExecutionOutput(delivered);
});
