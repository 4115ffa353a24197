/**
 * CloudWatch metrics. The installed @aws-sdk/client-cloudwatch speaks JSON 1.0 with AWS query compatibility
 * (`X-Amz-Target: GraniteServiceVersion20100801.<Op>`, `x-amzn-query-mode: true`; errors carry
 * `x-amzn-query-error: <QueryCode>;Sender`), so this does too.
 *
 * GetMetricData answers MetricStat queries (no math expressions) from PutMetricData and seeded datapoints, bucketed
 * by `Period` on epoch-aligned boundaries with Maximum/Minimum/Average/Sum/SampleCount. `AWS/RDS ReplicaLag` of a
 * replica with a seeded `replicaLagSeconds` and no stored datapoints is answered as RDS publishes it: one datapoint
 * a minute. Metric alarms (PutMetricAlarm, DescribeAlarms, DeleteAlarms) are evaluated from the datapoints:
 * cloudwatch-alarms.ts.
 */
import {
  AwsError,
  type CallInfo,
  type Clock,
  type EmulatorRequest,
  type HttpAnswer,
  isReadAction,
  type ServiceHandler,
} from '../core.js';
import type { SeedMetricInput } from '../types.js';
import { jsonAnswer, jsonError, readJsonBody } from '../wire.js';
import { CloudWatchAlarms } from './cloudwatch-alarms.js';

const CONTENT_TYPE = 'application/x-amz-json-1.0';
const TARGET_PREFIX = 'GraniteServiceVersion20100801.';
const MINUTE_MS = 60_000;

/** Query error codes → the JSON error shape names of client-cloudwatch (their awsQueryError traits). */
const SHAPES: Record<string, string> = {
  InvalidParameterValue: 'InvalidParameterValueException',
  InvalidParameterCombination: 'InvalidParameterCombinationException',
  MissingParameter: 'MissingRequiredParameterException',
  ValidationError: 'ValidationException',
  InternalServiceError: 'InternalServiceFault',
};

interface Datapoint {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly timestamp: number;
  readonly value: number;
  /** When it was put (alarms see it `alarmEvaluationMs` later). */
  readonly receivedAt: number;
}

interface MetricStat {
  Metric?: { Namespace?: string; MetricName?: string; Dimensions?: { Name?: string; Value?: string }[] };
  Period?: number;
  Stat?: string;
}

function sameDimensions(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function aggregate(values: number[], stat: string): number {
  switch (stat) {
    case 'Maximum':
      return Math.max(...values);
    case 'Minimum':
      return Math.min(...values);
    case 'Sum':
      return values.reduce((s, v) => s + v, 0);
    case 'SampleCount':
      return values.length;
    case 'Average':
      return values.reduce((s, v) => s + v, 0) / values.length;
    default:
      throw new AwsError(
        'InvalidParameterValue',
        400,
        `The value ${stat} for parameter Stat is not supported.`,
      );
  }
}

/** JSON timestamps of this protocol are epoch seconds (numbers); strings are accepted too. */
function toMs(value: unknown, field: string): number {
  if (typeof value === 'number') return value * 1000;
  if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return Date.parse(value);
  throw new AwsError('MissingParameter', 400, `The parameter ${field} is required.`);
}

export class CloudWatchService implements ServiceHandler {
  readonly name = 'cloudwatch' as const;
  private readonly datapoints = new Map<string, Datapoint[]>();
  /** Metric alarms, evaluated from the datapoints (cloudwatch-alarms.ts); Route 53 health checks read their state. */
  readonly alarms: CloudWatchAlarms;

  constructor(
    private readonly clock: Clock,
    private readonly replicaLag: (region: string, instanceId: string) => number | undefined,
    accountId = '123456789012',
  ) {
    this.alarms = new CloudWatchAlarms(accountId, clock, (region) => this.store(region));
  }

  describe(req: EmulatorRequest): CallInfo {
    const target = String(req.headers['x-amz-target'] ?? '');
    const action = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    if (!action) throw new AwsError('InvalidAction', 400, 'Missing or unknown X-Amz-Target');
    let resource: string | null = null;
    try {
      const input = readJsonBody(req.body);
      resource = typeof input.Namespace === 'string' ? input.Namespace : null;
    } catch {
      resource = null;
    }
    return { action, resource, mutating: !isReadAction(action) };
  }

  async handle(req: EmulatorRequest, call: CallInfo): Promise<HttpAnswer> {
    const input = readJsonBody(req.body);
    switch (call.action) {
      case 'PutMetricData':
        this.putMetricData(req.region, input);
        return jsonAnswer({}, req.requestId, CONTENT_TYPE);
      case 'GetMetricData':
        return jsonAnswer(this.getMetricData(req.region, input), req.requestId, CONTENT_TYPE);
      case 'PutMetricAlarm':
        this.alarms.putMetricAlarm(req.region, input);
        return jsonAnswer({}, req.requestId, CONTENT_TYPE);
      case 'DescribeAlarms':
        return jsonAnswer(this.alarms.describeAlarms(req.region, input), req.requestId, CONTENT_TYPE);
      case 'DeleteAlarms':
        this.alarms.deleteAlarms(req.region, input);
        return jsonAnswer({}, req.requestId, CONTENT_TYPE);
      default:
        throw new AwsError('InvalidAction', 400, `Could not find operation ${call.action}`);
    }
  }

  errorAnswer(error: AwsError, req: EmulatorRequest): HttpAnswer {
    return jsonError(error, req.requestId, {
      contentType: CONTENT_TYPE,
      queryCompatible: (code) => `com.amazonaws.cloudwatch#${SHAPES[code] ?? code}`,
    });
  }

  throttlingError(): AwsError {
    return new AwsError('Throttling', 400, 'Rate exceeded');
  }

  serverError(): AwsError {
    return new AwsError('InternalServiceError', 500, 'Internal service error');
  }

  private store(region: string): Datapoint[] {
    let list = this.datapoints.get(region);
    if (!list) {
      list = [];
      this.datapoints.set(region, list);
    }
    return list;
  }

  private putMetricData(region: string, input: Record<string, unknown>): void {
    const namespace = input.Namespace;
    if (typeof namespace !== 'string' || namespace === '') {
      throw new AwsError('MissingParameter', 400, 'The parameter Namespace is required.');
    }
    if (namespace.startsWith('AWS/')) {
      throw new AwsError('InvalidParameterValue', 400, 'The value AWS/ for parameter Namespace is invalid.');
    }
    const data = Array.isArray(input.MetricData) ? input.MetricData : [];
    for (const raw of data as Record<string, unknown>[]) {
      const dimensions: Record<string, string> = {};
      for (const d of (raw.Dimensions ?? []) as { Name?: string; Value?: string }[]) {
        if (d.Name) dimensions[d.Name] = d.Value ?? '';
      }
      const receivedAt = this.clock.now();
      const timestamp = raw.Timestamp === undefined ? receivedAt : toMs(raw.Timestamp, 'Timestamp');
      const values =
        typeof raw.Value === 'number'
          ? [raw.Value]
          : Array.isArray(raw.Values)
            ? (raw.Values as number[])
            : [];
      for (const value of values) {
        this.store(region).push({
          namespace,
          metricName: String(raw.MetricName ?? ''),
          dimensions,
          timestamp,
          value,
          receivedAt,
        });
      }
    }
  }

  private getMetricData(region: string, input: Record<string, unknown>): Record<string, unknown> {
    const start = toMs(input.StartTime, 'StartTime');
    const end = toMs(input.EndTime, 'EndTime');
    if (start >= end) {
      throw new AwsError(
        'ValidationError',
        400,
        'The parameter StartTime must be less than the parameter EndTime.',
      );
    }
    const queries = Array.isArray(input.MetricDataQueries)
      ? (input.MetricDataQueries as Record<string, unknown>[])
      : [];
    if (queries.length === 0) {
      throw new AwsError('MissingParameter', 400, 'The parameter MetricDataQueries is required.');
    }
    const descending = input.ScanBy !== 'TimestampAscending';
    const results = queries
      .filter((q) => q.ReturnData !== false)
      .map((q) => {
        const stat = q.MetricStat as MetricStat | undefined;
        if (!stat?.Metric) {
          throw new AwsError(
            'InvalidParameterValue',
            400,
            'Only MetricStat queries are supported by this emulator.',
          );
        }
        const period = (stat.Period ?? 60) * 1000;
        const points = this.pointsFor(region, stat, start, end);
        const buckets = new Map<number, number[]>();
        for (const p of points) {
          const bucket = Math.floor(p.timestamp / period) * period;
          const list = buckets.get(bucket) ?? [];
          list.push(p.value);
          buckets.set(bucket, list);
        }
        const rows = [...buckets.entries()]
          .map(([t, values]) => ({ t, v: aggregate(values, stat.Stat ?? 'Average') }))
          .sort((a, b) => (descending ? b.t - a.t : a.t - b.t));
        return {
          Id: q.Id,
          Label: typeof q.Label === 'string' ? q.Label : stat.Metric.MetricName,
          Timestamps: rows.map((r) => r.t / 1000),
          Values: rows.map((r) => r.v),
          StatusCode: 'Complete',
        };
      });
    return { MetricDataResults: results, Messages: [] };
  }

  private pointsFor(region: string, stat: MetricStat, start: number, end: number): Datapoint[] {
    const metric = stat.Metric ?? {};
    const dimensions: Record<string, string> = {};
    for (const d of metric.Dimensions ?? []) if (d.Name) dimensions[d.Name] = d.Value ?? '';
    const stored = this.store(region).filter(
      (p) =>
        p.namespace === metric.Namespace &&
        p.metricName === metric.MetricName &&
        sameDimensions(p.dimensions, dimensions) &&
        p.timestamp >= start &&
        p.timestamp < end,
    );
    if (stored.length || metric.Namespace !== 'AWS/RDS' || metric.MetricName !== 'ReplicaLag') return stored;
    const instanceId = dimensions.DBInstanceIdentifier;
    const lag =
      instanceId && Object.keys(dimensions).length === 1 ? this.replicaLag(region, instanceId) : undefined;
    if (lag === undefined) return [];
    const synthesized: Datapoint[] = [];
    const last = Math.min(end - 1, this.clock.now());
    for (let t = Math.ceil(start / MINUTE_MS) * MINUTE_MS; t <= last; t += MINUTE_MS) {
      synthesized.push({
        namespace: 'AWS/RDS',
        metricName: 'ReplicaLag',
        dimensions,
        timestamp: t,
        value: lag,
        receivedAt: t,
      });
    }
    return synthesized;
  }

  seed(input: SeedMetricInput): void {
    for (const point of input.datapoints) {
      this.store(input.region).push({
        namespace: input.namespace,
        metricName: input.metricName,
        dimensions: { ...(input.dimensions ?? {}) },
        timestamp: point.timestamp.getTime(),
        value: point.value,
        receivedAt: point.timestamp.getTime(),
      });
    }
  }
}
