import { type CloudWatchClient, type MetricDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { awsErrorName } from '../errors.js';
import type { ReportDelivery, RunReport } from './model.js';
import { renderReportHtml } from './render-html.js';
import { renderReportMarkdown } from './render-markdown.js';
import { renderReportText } from './render-text.js';
import { scrubText } from './scrub.js';
import '../sdk/cloudwatch.js';
import '../sdk/s3.js';
import '../sdk/sns.js';

/* ---------------------------------------------------------------------------------------------- */
/* Delivery                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

/**
 * The recovery time as a CloudWatch metric, for every run that measured one (failover and drill; a dry run measures
 * none): `Lifeboat/RecoveryTimeSeconds` with dimensions Plan, Unit and Mode, one datum per verified unit and one for the
 * run with Unit `ALL` (unit names are lower case, so it never names a unit). Published with PutMetricData from the
 * report step rather than as EMF log lines: one call per run is no cost, the delivery result is known and reported
 * like the S3 and SNS ones, and it works the same against the proving ground's emulator, which has no log-to-metric
 * pipeline.
 */
export const METRIC_NAMESPACE = 'Lifeboat';
export const RECOVERY_TIME_METRIC = 'RecoveryTimeSeconds';
export const RUN_METRIC_UNIT = 'ALL';
/** PutMetricData takes at most 1,000 datums per call; lifeboat sends small batches. */
const METRIC_BATCH = 20;

export function recoveryTimeMetrics(report: RunReport): MetricDatum[] {
  if (!report.mode || report.mode === 'dry-run') return [];
  const datum = (unit: string, seconds: number, at: string | null): MetricDatum => ({
    MetricName: RECOVERY_TIME_METRIC,
    Dimensions: [
      { Name: 'Plan', Value: report.planName },
      { Name: 'Unit', Value: unit },
      { Name: 'Mode', Value: report.mode as string },
    ],
    Value: seconds,
    Unit: 'Seconds',
    Timestamp: new Date(at ?? report.endedAt),
  });
  const data = report.units
    .filter((u) => u.recoveryTimeSeconds !== null)
    .map((u) => datum(u.unit, u.recoveryTimeSeconds as number, u.verifiedAt));
  if (report.recoveryTimeSeconds !== null)
    data.push(datum(RUN_METRIC_UNIT, report.recoveryTimeSeconds, null));
  return data;
}

export interface ReportDestinations {
  /** `REPORT_BUCKET_NAME`; no S3 copy when absent. */
  bucket?: string;
  /** `REPORT_TOPIC_ARN`; no notification when absent. */
  topicArn?: string;
}

/** SNS's message limit is 256 KiB (262,144 bytes) including attributes; keep a margin. */
export const SNS_MESSAGE_LIMIT_BYTES = 250_000;
/** SNS subjects: ASCII, no line breaks, at most 100 characters. */
export const SNS_SUBJECT_LIMIT = 100;

/**
 * Where a run's report is stored: the JSON (for machines) and, next to it, the HTML page and the Markdown for
 * people, each under the run's name, plus `latest.json` and `latest.html`. All under `reports/<plan>/`, the prefix
 * the report function may write (infra/permissions/statement.ts, reportPrefix).
 */
export function reportKeys(report: Pick<RunReport, 'planName' | 'runId'>): {
  run: string;
  latest: string;
  html: string;
  markdown: string;
  latestHtml: string;
} {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
  const base = `reports/${safe(report.planName)}`;
  return {
    run: `${base}/${safe(report.runId)}.json`,
    latest: `${base}/latest.json`,
    html: `${base}/${safe(report.runId)}.html`,
    markdown: `${base}/${safe(report.runId)}.md`,
    latestHtml: `${base}/latest.html`,
  };
}

export function reportSubject(report: RunReport): string {
  const what = report.mode === 'dry-run' ? 'dry run' : report.mode === 'drill' ? 'drill' : 'failover';
  const text = `lifeboat ${what} of ${report.planName} ${report.outcome === 'succeeded' ? 'succeeded' : 'FAILED'} (${report.runId})`;
  // ASCII printable only (SNS rejects others in Subject).
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, SNS_SUBJECT_LIMIT);
}

/** Text for people, then the JSON for machines; the JSON is left out (pointing at S3) when it would not fit. */
export function reportMessage(report: RunReport, s3Location?: string): string {
  const text = renderReportText(report);
  // The location comes first: it survives any truncation below.
  const where = s3Location ? `Full report: ${s3Location}\n\n` : '';
  const withJson = `${where}${text}\n\n--- JSON ---\n${JSON.stringify(report)}`;
  if (Buffer.byteLength(withJson, 'utf8') <= SNS_MESSAGE_LIMIT_BYTES) return withJson;
  const textOnly = `${where}${text}\n\n(The JSON report is too large for a notification${s3Location ? '; it is in S3' : ''}.)`;
  if (Buffer.byteLength(textOnly, 'utf8') <= SNS_MESSAGE_LIMIT_BYTES) return textOnly;
  let cut = textOnly;
  while (Buffer.byteLength(cut, 'utf8') > SNS_MESSAGE_LIMIT_BYTES - 100)
    cut = cut.slice(0, Math.floor(cut.length * 0.9));
  return `${cut}\n… (truncated)`;
}

/**
 * Stores the report in S3 (the JSON, HTML and Markdown under the run, `latest.json` and `latest.html`) and publishes it to SNS. A delivery problem never fails
 * the run's report step — the report is also the execution's output, and the lock must still be released — so it
 * is recorded in `delivery` (the SDK has already retried transient errors) and the caller logs it.
 */
export async function deliverReport(
  deps: { s3: S3Client; sns: SNSClient; cloudwatch?: CloudWatchClient },
  report: RunReport,
  to: ReportDestinations,
): Promise<RunReport> {
  const delivery: ReportDelivery = {
    s3: { status: 'skipped' },
    sns: { status: 'skipped' },
    metrics: { status: 'skipped' },
  };
  const metrics = recoveryTimeMetrics(report);
  if (deps.cloudwatch && metrics.length) {
    try {
      for (let i = 0; i < metrics.length; i += METRIC_BATCH) {
        await deps.cloudwatch.send(
          new PutMetricDataCommand({
            Namespace: METRIC_NAMESPACE,
            MetricData: metrics.slice(i, i + METRIC_BATCH),
          }),
        );
      }
      delivery.metrics = { status: 'published', count: metrics.length };
    } catch (error) {
      delivery.metrics = { status: 'failed', error: describeDeliveryError(error) };
    }
  }
  let location: string | undefined;
  if (to.bucket) {
    const keys = reportKeys(report);
    const stored = { ...report, delivery: undefined };
    const json = JSON.stringify(stored, null, 2);
    const html = renderReportHtml(stored);
    const objects: [string, string, string][] = [
      [keys.run, json, 'application/json'],
      [keys.latest, json, 'application/json'],
      [keys.html, html, 'text/html; charset=utf-8'],
      [keys.markdown, renderReportMarkdown(stored), 'text/markdown; charset=utf-8'],
      [keys.latestHtml, html, 'text/html; charset=utf-8'],
    ];
    try {
      for (const [key, body, contentType] of objects) {
        await deps.s3.send(
          new PutObjectCommand({
            Bucket: to.bucket,
            Key: key,
            Body: body,
            ContentType: contentType,
            ServerSideEncryption: 'AES256',
          }),
        );
      }
      delivery.s3 = { status: 'stored', keys: objects.map(([key]) => key) };
      location = `s3://${to.bucket}/${keys.run}`;
    } catch (error) {
      delivery.s3 = { status: 'failed', error: describeDeliveryError(error) };
    }
  }
  if (to.topicArn) {
    try {
      const out = await deps.sns.send(
        new PublishCommand({
          TopicArn: to.topicArn,
          Subject: reportSubject(report),
          Message: reportMessage(report, location),
        }),
      );
      delivery.sns = { status: 'published', ...(out.MessageId ? { messageId: out.MessageId } : {}) };
    } catch (error) {
      delivery.sns = { status: 'failed', error: describeDeliveryError(error) };
    }
  }
  return { ...report, delivery };
}

function describeDeliveryError(error: unknown): string {
  const name = awsErrorName(error) ?? 'Error';
  const message = error instanceof Error ? error.message : String(error);
  return `${name}: ${scrubText(message)}`.slice(0, 500);
}
