/**
 * CloudWatch metric alarms (PutMetricAlarm, DescribeAlarms, DeleteAlarms) evaluated from the datapoints of
 * PutMetricData. Modelled on the CloudWatch User Guide, "Alarm evaluation" and "Configuring how alarms treat missing
 * data" (docs/aws/route53-health-checks.md):
 * - the state is OK, ALARM or INSUFFICIENT_DATA; a new alarm starts in INSUFFICIENT_DATA;
 * - the alarm looks at its last `EvaluationPeriods` periods of `Period` seconds, each aggregated with `Statistic`;
 *   it is in ALARM when at least `DatapointsToAlarm` (default: all of them) breach the threshold;
 * - missing data: `missing` (the default) gives INSUFFICIENT_DATA when every period of the window is missing,
 *   `breaching`/`notBreaching` count them as such, `ignore` keeps the current state.
 * A datapoint reaches the alarm `timings.alarmEvaluationMs` after it was put (CloudWatch evaluates alarms about once a
 * minute); periods, like every emulated duration, are multiplied by the time factor. The state is computed from the datapoints when read, at any time: `stateAt(region, name, time)`, which the
 * Route 53 health checks that follow an alarm read too.
 */
import { AwsError, type Clock } from '../core.js';

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

/** One stored datapoint, as the metrics store keeps it, with the time it was put. */
export interface AlarmDatapoint {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly timestamp: number;
  readonly value: number;
  readonly receivedAt: number;
}

interface Alarm {
  readonly name: string;
  readonly arn: string;
  readonly region: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly statistic: string;
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly threshold: number;
  readonly comparisonOperator: string;
  readonly treatMissingData: string;
  readonly description?: string;
  readonly actionsEnabled: boolean;
  readonly createdAt: number;
  /** The state last reported and since when (StateUpdatedTimestamp). */
  reported: { state: AlarmState; since: number };
}

const COMPARISONS: Record<string, (value: number, threshold: number) => boolean> = {
  GreaterThanOrEqualToThreshold: (v, t) => v >= t,
  GreaterThanThreshold: (v, t) => v > t,
  LessThanThreshold: (v, t) => v < t,
  LessThanOrEqualToThreshold: (v, t) => v <= t,
};
const STATISTICS = ['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum'];
const MISSING = ['breaching', 'notBreaching', 'ignore', 'missing'];

function aggregate(values: number[], stat: string): number {
  if (stat === 'Maximum') return Math.max(...values);
  if (stat === 'Minimum') return Math.min(...values);
  if (stat === 'Sum') return values.reduce((s, v) => s + v, 0);
  if (stat === 'SampleCount') return values.length;
  return values.reduce((s, v) => s + v, 0) / values.length;
}

function dimensionsOf(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of (Array.isArray(raw) ? raw : []) as { Name?: string; Value?: string }[]) {
    if (d.Name) out[d.Name] = d.Value ?? '';
  }
  return out;
}

function sameDimensions(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function required(input: Record<string, unknown>, field: string): unknown {
  const value = input[field];
  if (value === undefined || value === null || value === '') {
    throw new AwsError('MissingParameter', 400, `The parameter ${field} is required.`);
  }
  return value;
}

export class CloudWatchAlarms {
  private readonly alarms = new Map<string, Alarm>();

  constructor(
    private readonly accountId: string,
    private readonly clock: Clock,
    /** Every datapoint put in a Region so far. */
    private readonly datapoints: (region: string) => readonly AlarmDatapoint[],
  ) {}

  private key(region: string, name: string): string {
    return `${region}|${name}`;
  }

  putMetricAlarm(region: string, input: Record<string, unknown>): void {
    const name = String(required(input, 'AlarmName'));
    if (input.Metrics !== undefined) {
      throw new AwsError(
        'InvalidParameterValue',
        400,
        'Metric math alarms are not supported by this emulator.',
      );
    }
    const metricName = String(required(input, 'MetricName'));
    const namespace = String(required(input, 'Namespace'));
    const statistic = String(required(input, 'Statistic'));
    if (!STATISTICS.includes(statistic)) {
      throw new AwsError(
        'InvalidParameterValue',
        400,
        `The value ${statistic} for parameter Statistic is not supported.`,
      );
    }
    const periodSeconds = Number(required(input, 'Period'));
    if (!([10, 20, 30].includes(periodSeconds) || (periodSeconds > 0 && periodSeconds % 60 === 0))) {
      throw new AwsError(
        'InvalidParameterValue',
        400,
        `The value ${periodSeconds} for parameter Period is not a valid period: 10, 20, 30 or a multiple of 60.`,
      );
    }
    const evaluationPeriods = Number(required(input, 'EvaluationPeriods'));
    if (!Number.isInteger(evaluationPeriods) || evaluationPeriods < 1) {
      throw new AwsError('ValidationError', 400, 'EvaluationPeriods must be at least 1.');
    }
    const datapointsToAlarm =
      input.DatapointsToAlarm === undefined ? evaluationPeriods : Number(input.DatapointsToAlarm);
    if (!(datapointsToAlarm >= 1 && datapointsToAlarm <= evaluationPeriods)) {
      throw new AwsError('ValidationError', 400, 'DatapointsToAlarm must be from 1 to EvaluationPeriods.');
    }
    const comparisonOperator = String(required(input, 'ComparisonOperator'));
    if (!COMPARISONS[comparisonOperator]) {
      throw new AwsError(
        'InvalidParameterValue',
        400,
        `The value ${comparisonOperator} for parameter ComparisonOperator is not supported.`,
      );
    }
    const treatMissingData =
      input.TreatMissingData === undefined ? 'missing' : String(input.TreatMissingData);
    if (!MISSING.includes(treatMissingData)) {
      throw new AwsError('ValidationError', 400, `TreatMissingData must be one of ${MISSING.join(', ')}.`);
    }
    const now = this.clock.now();
    const existing = this.alarms.get(this.key(region, name));
    // PutMetricAlarm replaces an alarm of that name; its state is evaluated again from the datapoints.
    this.alarms.set(this.key(region, name), {
      name,
      arn: `arn:aws:cloudwatch:${region}:${this.accountId}:alarm:${name}`,
      region,
      namespace,
      metricName,
      dimensions: dimensionsOf(input.Dimensions),
      statistic,
      periodSeconds,
      evaluationPeriods,
      datapointsToAlarm,
      threshold: Number(required(input, 'Threshold')),
      comparisonOperator,
      treatMissingData,
      ...(typeof input.AlarmDescription === 'string' ? { description: input.AlarmDescription } : {}),
      actionsEnabled: input.ActionsEnabled !== false,
      createdAt: existing?.createdAt ?? now,
      reported: existing?.reported ?? { state: 'INSUFFICIENT_DATA', since: now },
    });
  }

  deleteAlarms(region: string, input: Record<string, unknown>): void {
    const names = Array.isArray(input.AlarmNames) ? (input.AlarmNames as string[]) : [];
    const missing = names.filter((n) => !this.alarms.has(this.key(region, n)));
    if (missing.length) {
      throw new AwsError('ResourceNotFound', 404, `Alarm ${missing.join(', ')} not found`);
    }
    for (const n of names) this.alarms.delete(this.key(region, n));
  }

  describeAlarms(region: string, input: Record<string, unknown>): Record<string, unknown> {
    const names = Array.isArray(input.AlarmNames) ? new Set(input.AlarmNames as string[]) : undefined;
    const prefix = typeof input.AlarmNamePrefix === 'string' ? input.AlarmNamePrefix : undefined;
    const types = Array.isArray(input.AlarmTypes) ? (input.AlarmTypes as string[]) : ['MetricAlarm'];
    const wantedState = typeof input.StateValue === 'string' ? input.StateValue : undefined;
    const now = this.clock.now();
    const alarms = types.includes('MetricAlarm')
      ? [...this.alarms.values()]
          .filter((a) => a.region === region)
          .filter((a) => (!names || names.has(a.name)) && (!prefix || a.name.startsWith(prefix)))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      : [];
    const rendered = alarms
      .map((a) => {
        const state = this.stateAt(a.region, a.name, now) ?? 'INSUFFICIENT_DATA';
        if (state !== a.reported.state) a.reported = { state, since: now };
        return { alarm: a, state };
      })
      .filter((r) => !wantedState || r.state === wantedState)
      .map(({ alarm: a, state }) => ({
        AlarmName: a.name,
        AlarmArn: a.arn,
        ...(a.description !== undefined ? { AlarmDescription: a.description } : {}),
        AlarmConfigurationUpdatedTimestamp: a.createdAt / 1000,
        ActionsEnabled: a.actionsEnabled,
        OKActions: [],
        AlarmActions: [],
        InsufficientDataActions: [],
        StateValue: state,
        StateReason: this.reason(a, state),
        StateUpdatedTimestamp: a.reported.since / 1000,
        MetricName: a.metricName,
        Namespace: a.namespace,
        Statistic: a.statistic,
        Dimensions: Object.entries(a.dimensions).map(([Name, Value]) => ({ Name, Value })),
        Period: a.periodSeconds,
        EvaluationPeriods: a.evaluationPeriods,
        DatapointsToAlarm: a.datapointsToAlarm,
        Threshold: a.threshold,
        ComparisonOperator: a.comparisonOperator,
        TreatMissingData: a.treatMissingData,
        StateTransitionedTimestamp: a.reported.since / 1000,
      }));
    return { MetricAlarms: rendered, CompositeAlarms: [] };
  }

  private reason(alarm: Alarm, state: AlarmState): string {
    if (state === 'INSUFFICIENT_DATA') return 'Unchecked: Initial alarm creation or no datapoints';
    const verb = state === 'ALARM' ? 'was' : 'was not';
    return `Threshold Crossed: ${alarm.datapointsToAlarm} out of the last ${alarm.evaluationPeriods} datapoints ${verb} ${alarm.comparisonOperator} the threshold (${alarm.threshold}).`;
  }

  /** The alarm's state at `time` (ms), from the datapoints that had reached it by then; undefined: no such alarm. */
  stateAt(region: string, name: string, time: number): AlarmState | undefined {
    const alarm = this.alarms.get(this.key(region, name));
    if (!alarm) return undefined;
    return this.evaluate(alarm, time, 0);
  }

  private evaluate(alarm: Alarm, time: number, depth: number): AlarmState {
    const delay = this.clock.scaled(this.clock.timings.alarmEvaluationMs);
    // Periods are AWS time like every emulated duration: a one-minute period lasts 60 s x the time factor.
    const period = Math.max(1, this.clock.scaled(alarm.periodSeconds * 1000));
    const visible = this.datapoints(alarm.region).filter(
      (p) =>
        p.namespace === alarm.namespace &&
        p.metricName === alarm.metricName &&
        sameDimensions(p.dimensions, alarm.dimensions) &&
        p.receivedAt + delay <= time,
    );
    const breaches = COMPARISONS[alarm.comparisonOperator] as (v: number, t: number) => boolean;
    let present = 0;
    let breaching = 0;
    // The window ends `delay` before `time`: the periods whose data has reached the alarm.
    for (let k = 0; k < alarm.evaluationPeriods; k++) {
      const end = time - delay - k * period;
      const values = visible
        .filter((p) => p.timestamp > end - period && p.timestamp <= end)
        .map((p) => p.value);
      if (values.length === 0) {
        if (alarm.treatMissingData === 'breaching') breaching += 1;
        continue;
      }
      present += 1;
      if (breaches(aggregate(values, alarm.statistic), alarm.threshold)) breaching += 1;
    }
    if (present === 0) {
      if (alarm.treatMissingData === 'breaching') return 'ALARM';
      if (alarm.treatMissingData === 'notBreaching') return 'OK';
      if (alarm.treatMissingData === 'ignore' && depth === 0) {
        // The state stays what it was when the latest datapoint reached the alarm.
        const latest = visible
          .filter((p) => p.timestamp <= time - delay)
          .sort((a, b) => b.timestamp - a.timestamp)[0];
        return latest
          ? this.evaluate(alarm, Math.max(latest.timestamp, latest.receivedAt) + delay, 1)
          : 'INSUFFICIENT_DATA';
      }
      return 'INSUFFICIENT_DATA';
    }
    return breaching >= alarm.datapointsToAlarm ? 'ALARM' : 'OK';
  }
}
