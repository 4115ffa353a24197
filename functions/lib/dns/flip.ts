import {
  type CloudWatchClient,
  DescribeAlarmsCommand,
  type MetricAlarm,
  PutMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import { GetHealthCheckCommand, type HealthCheck, type Route53Client } from '@aws-sdk/client-route-53';
import {
  AwsCallFailedError,
  awsErrorName,
  ConfigurationError,
  isTransientAwsError,
  ResourceMissingError,
  toLifeboatError,
} from '../errors.js';
import { logger } from '../observability.js';
import type { FailoverPlan, UnitPlan } from '../plan.js';
import type { PollResult, RunContext } from '../types.js';
import '../sdk/cloudwatch.js';
import '../sdk/route53.js';

/**
 * The forced flip of a `health-check` unit (docs/design/dns-flip.md). Its record is a PRIMARY/SECONDARY failover pair;
 * the PRIMARY's Route 53 health check (type CLOUDWATCH_METRIC) follows a CloudWatch alarm that lifeboat's stack makes
 * in the recovery Region, on a metric that only lifeboat publishes. To fail the record over, lifeboat publishes the
 * value that puts the alarm in ALARM: one PutMetricData in the recovery Region. Route 53's health checkers read the
 * alarm and its DNS servers answer the SECONDARY: no Route 53 control-plane call (served from us-east-1) anywhere on
 * the failover path. lifeboat only ever publishes "forced" (1); failing back is the operator's (publish 0).
 */

/** The namespace of every metric lifeboat publishes (the report's RecoveryTimeSeconds too). */
export const FLIP_NAMESPACE = 'Lifeboat';
export const FLIP_METRIC_NAME = 'DnsFailoverForced';
/** The value lifeboat publishes to force the flip; the alarm is in ALARM at or above it. */
export const FLIP_FORCED_VALUE = 1;

/**
 * The alarm the stack makes for a health-check unit (infra/constructs/dns-flip.ts) and the proving ground seeds alike.
 * Standard resolution, a supported statistic (docs/aws/route53-health-checks.md, "Alarms Route 53 can follow"); missing
 * data keeps the state, so a forced flip stays forced after lifeboat stops publishing, and an alarm that never saw a
 * datapoint stays INSUFFICIENT_DATA, which the health check reads as its last known status (healthy when new).
 */
export interface FlipAlarmSpec {
  readonly alarmName: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: readonly { readonly name: string; readonly value: string }[];
  readonly statistic: 'Maximum';
  readonly periodSeconds: 60;
  readonly evaluationPeriods: 1;
  readonly threshold: number;
  readonly comparisonOperator: 'GreaterThanOrEqualToThreshold';
  readonly treatMissingData: 'ignore';
  readonly region: string;
}

export function flipAlarmName(planName: string, unitName: string): string {
  return `lifeboat-${planName}-${unitName}-dns-failover`;
}

export function flipAlarmSpec(
  plan: Pick<FailoverPlan, 'name' | 'recoveryRegion'>,
  unit: Pick<UnitPlan, 'name'>,
): FlipAlarmSpec {
  return {
    alarmName: flipAlarmName(plan.name, unit.name),
    namespace: FLIP_NAMESPACE,
    metricName: FLIP_METRIC_NAME,
    dimensions: [
      { name: 'Plan', value: plan.name },
      { name: 'Unit', value: unit.name },
    ],
    statistic: 'Maximum',
    periodSeconds: 60,
    evaluationPeriods: 1,
    threshold: FLIP_FORCED_VALUE,
    comparisonOperator: 'GreaterThanOrEqualToThreshold',
    treatMissingData: 'ignore',
    region: plan.recoveryRegion,
  };
}

/** The health check the stack makes beside the alarm: Route 53 reads the alarm; no data keeps the last status. */
export const FLIP_HEALTH_CHECK = {
  type: 'CLOUDWATCH_METRIC',
  insufficientDataHealthStatus: 'LastKnownStatus',
} as const;

/* ---------------------------------------------------------------------------------------------- */
/* Plan warnings                                                                                   */
/* ---------------------------------------------------------------------------------------------- */

/** Route 53's control plane (ChangeResourceRecordSets, GetChange) is served from this Region. */
export const ROUTE53_CONTROL_PLANE_REGION = 'us-east-1';

/**
 * Warnings for `lifeboat plan` and `cdk synth`: a `cname` unit moves its record with Route 53's control plane, which
 * runs in us-east-1. When us-east-1 is also the primary Region, the outage lifeboat is for can take the control plane
 * with it, and those units would stop at DNS with the database promoted.
 */
export function controlPlaneWarnings(plan: Pick<FailoverPlan, 'primaryRegion' | 'units'>): string[] {
  if (plan.primaryRegion !== ROUTE53_CONTROL_PLANE_REGION) return [];
  return plan.units
    .filter((u) => u.dns.strategy === 'cname')
    .map(
      (u) =>
        `unit ${u.name}: dns.strategy "cname" changes ${u.dns.recordName} through Route 53's control plane, which is ` +
        `served from ${ROUTE53_CONTROL_PLANE_REGION}, the primary Region: an outage there can stop this unit at DNS ` +
        'after its database is promoted. Use dns.strategy "health-check" (a failover pair lifeboat flips from the ' +
        'recovery Region; docs/design/dns-flip.md).',
    );
}

/* ---------------------------------------------------------------------------------------------- */
/* Forcing the flip (UpdateDns)                                                                    */
/* ---------------------------------------------------------------------------------------------- */

export interface DnsFlipDeps {
  /** CloudWatch in the recovery Region. */
  readonly cloudwatch?: CloudWatchClient;
}

function cloudwatchOf(deps: DnsFlipDeps): CloudWatchClient {
  if (!deps.cloudwatch) {
    throw new ConfigurationError(
      'the health-check strategy needs a CloudWatch client of the recovery Region',
    );
  }
  return deps.cloudwatch;
}

/** The stack's flip alarm, read in the recovery Region (data plane of CloudWatch there). */
export async function readFlipAlarm(
  cloudwatch: CloudWatchClient,
  spec: FlipAlarmSpec,
): Promise<MetricAlarm | undefined> {
  try {
    const out = await cloudwatch.send(
      new DescribeAlarmsCommand({ AlarmNames: [spec.alarmName], AlarmTypes: ['MetricAlarm'] }),
    );
    return out.MetricAlarms?.find((a) => a.AlarmName === spec.alarmName);
  } catch (error) {
    throw toLifeboatError(error, `DescribeAlarms ${spec.alarmName} in ${spec.region}`);
  }
}

export interface ForcedFlip {
  outcome: 'changed' | 'already-done' | 'planned';
  detail: {
    call: string | null;
    alarmName: string;
    alarmState: string;
    namespace: string;
    metricName: string;
    value: number;
  };
}

/**
 * Forces the unit's failover record pair to answer the SECONDARY: publishes FLIP_FORCED_VALUE unless the alarm is
 * already in ALARM (a re-run publishes nothing). A dry run reads the alarm and plans the call. A drill never forces
 * production's flip: its record is a simple CNAME copy (functions/lib/drill.ts), so this is refused if reached.
 */
export async function forceDnsFlip(
  deps: DnsFlipDeps,
  input: { run: RunContext; unit: UnitPlan },
): Promise<ForcedFlip> {
  const { run, unit } = input;
  if (run.mode === 'drill') {
    throw new ConfigurationError(
      `unit ${unit.name}: a drill never forces the flip of production's record ${unit.dns.recordName}; ` +
        'a drill unit fails over its own CNAME copy',
    );
  }
  const cloudwatch = cloudwatchOf(deps);
  const spec = flipAlarmSpec({ name: run.planName, recoveryRegion: run.recoveryRegion }, unit);
  const alarm = await readFlipAlarm(cloudwatch, spec);
  if (!alarm) {
    throw new ResourceMissingError(
      `CloudWatch alarm ${spec.alarmName} does not exist in ${spec.region}: lifeboat's stack makes it for a ` +
        `health-check unit (deploy the stack of plan ${run.planName})`,
    );
  }
  const base = {
    alarmName: spec.alarmName,
    namespace: spec.namespace,
    metricName: spec.metricName,
    value: FLIP_FORCED_VALUE,
  };
  const state = alarm.StateValue ?? 'UNKNOWN';
  if (state === 'ALARM') {
    logger.info('dns flip already forced', { unit: unit.name, alarm: spec.alarmName });
    return { outcome: 'already-done', detail: { ...base, call: null, alarmState: state } };
  }
  if (run.mode === 'dry-run') {
    return { outcome: 'planned', detail: { ...base, call: 'PutMetricData', alarmState: state } };
  }
  try {
    await cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: spec.namespace,
        MetricData: [
          {
            MetricName: spec.metricName,
            Dimensions: spec.dimensions.map((d) => ({ Name: d.name, Value: d.value })),
            Value: FLIP_FORCED_VALUE,
            Unit: 'Count',
          },
        ],
      }),
    );
  } catch (error) {
    throw toLifeboatError(error, `PutMetricData ${spec.namespace}/${spec.metricName} in ${spec.region}`);
  }
  logger.info('dns flip forced', { unit: unit.name, alarm: spec.alarmName, runId: run.runId });
  return { outcome: 'changed', detail: { ...base, call: 'PutMetricData', alarmState: state } };
}

/* ---------------------------------------------------------------------------------------------- */
/* Waiting for it (WaitForDnsInSync)                                                               */
/* ---------------------------------------------------------------------------------------------- */

/** Seconds between polls of the alarm: it evaluates once a minute, Route 53 follows it within seconds after. */
export const FLIP_POLL_SECONDS = 5;

/**
 * One poll of a forced flip: done when the flip alarm is in ALARM, the state Route 53's health checker reads. Its DNS
 * answer is then checked by VerifyConnectivity, which resolves the record as an application does and is retried
 * through the health-check flip and the TTL. Nothing here calls Route 53: GetHealthCheckStatus is its control plane.
 */
export async function checkDnsFlip(
  deps: DnsFlipDeps,
  input: { run: RunContext; unit: UnitPlan; attempt: number },
  observedAt: string,
): Promise<PollResult> {
  const { run, unit, attempt } = input;
  if (run.mode === 'dry-run') {
    return {
      done: true,
      status: 'NO_CHANGE',
      waitSeconds: 0,
      observedAt,
      detail: { changeId: null, attempt },
    };
  }
  const spec = flipAlarmSpec({ name: run.planName, recoveryRegion: run.recoveryRegion }, unit);
  const alarm = await readFlipAlarm(cloudwatchOf(deps), spec);
  if (!alarm) {
    throw new ResourceMissingError(`CloudWatch alarm ${spec.alarmName} does not exist in ${spec.region}`);
  }
  const status = alarm.StateValue ?? 'UNKNOWN';
  const done = status === 'ALARM';
  logger.info('dns flip polled', { unit: unit.name, alarm: spec.alarmName, status, attempt });
  return {
    done,
    status,
    waitSeconds: done ? 0 : FLIP_POLL_SECONDS,
    observedAt,
    detail: { changeId: null, alarmName: spec.alarmName, status, attempt },
  };
}

/* ---------------------------------------------------------------------------------------------- */
/* Preflight                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

export interface FlipReadinessDeps extends DnsFlipDeps {
  readonly route53: Route53Client;
}

type Add = (check: string, ok: boolean, severity: 'error' | 'warning', message: string) => void;

async function getHealthCheck(route53: Route53Client, id: string): Promise<HealthCheck | undefined> {
  try {
    return (await route53.send(new GetHealthCheckCommand({ HealthCheckId: id }))).HealthCheck;
  } catch (error) {
    if (awsErrorName(error) === 'NoSuchHealthCheck') return undefined;
    throw error;
  }
}

function followsAlarm(check: HealthCheck | undefined, spec: FlipAlarmSpec): boolean {
  const config = check?.HealthCheckConfig;
  const alarm = config?.AlarmIdentifier;
  return (
    config?.Type === 'CLOUDWATCH_METRIC' &&
    alarm?.Name === spec.alarmName &&
    alarm.Region === spec.region &&
    !config.Inverted &&
    !config.Disabled
  );
}

/**
 * Checks that forcing the flip works: the PRIMARY record's health check follows the stack's flip alarm, directly or
 * as a child of a CALCULATED health check that needs every child healthy (an AND), and the alarm exists. A Route 53
 * control plane that does not answer is a warning, as for the record checks (functions/lib/dns/update.ts).
 */
export async function checkFlipReadiness(
  deps: FlipReadinessDeps,
  input: { run: RunContext; unit: UnitPlan },
  primaryHealthCheckId: string | undefined,
  add: Add,
): Promise<void> {
  const { run, unit } = input;
  const spec = flipAlarmSpec({ name: run.planName, recoveryRegion: run.recoveryRegion }, unit);
  const record = unit.dns.recordName;
  if (!primaryHealthCheckId) {
    add(
      'dns.flip',
      false,
      'error',
      `the PRIMARY record of ${record} has no health check: lifeboat cannot make Route 53 answer the SECONDARY ` +
        `(attach the health check that follows alarm ${spec.alarmName}, a stack output)`,
    );
    return;
  }
  try {
    const check = await getHealthCheck(deps.route53, primaryHealthCheckId);
    if (!check) {
      add(
        'dns.flip',
        false,
        'error',
        `health check ${primaryHealthCheckId} of the PRIMARY record of ${record} does not exist`,
      );
      return;
    }
    let follows = followsAlarm(check, spec);
    const config = check.HealthCheckConfig;
    if (!follows && config?.Type === 'CALCULATED' && !config.Inverted && !config.Disabled) {
      // An AND of the children: the check is unhealthy as soon as the flip alarm's child is.
      const children = config.ChildHealthChecks ?? [];
      if (children.length > 0 && (config.HealthThreshold ?? 0) >= children.length) {
        const read = await Promise.all(children.map((id) => getHealthCheck(deps.route53, id)));
        follows = read.some((c) => followsAlarm(c, spec));
      }
    }
    if (!follows) {
      add(
        'dns.flip',
        false,
        'error',
        `health check ${primaryHealthCheckId} of the PRIMARY record of ${record} does not follow alarm ` +
          `${spec.alarmName} in ${spec.region} (directly, or as a child of a CALCULATED check that needs every ` +
          'child healthy): lifeboat could not force the flip',
      );
      return;
    }
  } catch (error) {
    const name = awsErrorName(error) ?? 'Error';
    if (isTransientAwsError(error)) {
      add(
        'dns.flip',
        false,
        'warning',
        `Route 53 control plane did not answer GetHealthCheck ${primaryHealthCheckId} (${name}); could not check that it follows ${spec.alarmName}`,
      );
    } else {
      add(
        'dns.flip',
        false,
        'error',
        `GetHealthCheck ${primaryHealthCheckId} failed (${name}): ${(error as Error).message}`,
      );
    }
    return;
  }
  let alarm: MetricAlarm | undefined;
  try {
    alarm = await readFlipAlarm(cloudwatchOf(deps), spec);
  } catch (error) {
    if (error instanceof AwsCallFailedError || error instanceof ConfigurationError) {
      add('dns.flip', false, 'error', error.message);
      return;
    }
    throw error;
  }
  if (!alarm) {
    add(
      'dns.flip',
      false,
      'error',
      `alarm ${spec.alarmName} does not exist in ${spec.region}: lifeboat's stack makes it; deploy the stack`,
    );
    return;
  }
  add(
    'dns.flip',
    true,
    'error',
    `health check ${primaryHealthCheckId} follows alarm ${spec.alarmName} (${alarm.StateValue ?? 'unknown'}): ` +
      'lifeboat can force the flip from the recovery Region',
  );
}
