/**
 * Route 53 health checks (CreateHealthCheck, GetHealthCheck, DeleteHealthCheck) and the status the DNS view reads.
 * Modelled on the Route 53 API reference and Developer Guide (docs/aws/route53-health-checks.md):
 * - CLOUDWATCH_METRIC: healthy while its alarm is OK, unhealthy while it is in ALARM; with INSUFFICIENT_DATA, what
 *   `InsufficientDataHealthStatus` says (`Healthy`, `Unhealthy`, or `LastKnownStatus`, the default, healthy for a new
 *   check). The status follows the alarm `timings.route53HealthCheckMs` later.
 * - CALCULATED: healthy when at least `HealthThreshold` of its children are.
 * - `Inverted` turns the status round; a `Disabled` check is healthy.
 * - Endpoint checks (HTTP, HTTPS, TCP, ...) are not probed: they are healthy here.
 * - A CallerReference used again with the same configuration answers the existing check; with another one,
 *   HealthCheckAlreadyExists.
 */
import { AwsError, type Clock, type Rng } from '../core.js';
import { parseXml, type XmlObject, xmlList } from '../wire.js';
import type { AlarmState } from './cloudwatch-alarms.js';

const TYPES = new Set([
  'HTTP',
  'HTTPS',
  'HTTP_STR_MATCH',
  'HTTPS_STR_MATCH',
  'TCP',
  'CALCULATED',
  'CLOUDWATCH_METRIC',
  'RECOVERY_CONTROL',
]);
const INSUFFICIENT = new Set(['Healthy', 'Unhealthy', 'LastKnownStatus']);

/** The configuration as the API carries it (strings from the XML, kept in document order for GetHealthCheck). */
export interface HealthCheckConfig {
  readonly Type: string;
  readonly IPAddress?: string;
  readonly Port?: number;
  readonly ResourcePath?: string;
  readonly FullyQualifiedDomainName?: string;
  readonly SearchString?: string;
  readonly RequestInterval?: number;
  readonly FailureThreshold?: number;
  readonly MeasureLatency?: boolean;
  readonly Inverted?: boolean;
  readonly Disabled?: boolean;
  readonly HealthThreshold?: number;
  readonly ChildHealthChecks?: readonly string[];
  readonly EnableSNI?: boolean;
  readonly AlarmIdentifier?: { readonly Region: string; readonly Name: string };
  readonly InsufficientDataHealthStatus?: string;
}

interface HealthCheck {
  readonly id: string;
  readonly callerReference: string;
  readonly config: HealthCheckConfig;
  readonly version: number;
  /** The last status decided from OK or ALARM (LastKnownStatus); healthy until then. */
  lastKnownHealthy: boolean;
}

function text(value: unknown): string | undefined {
  return value === undefined || value === null || value === '' ? undefined : String(value);
}

function num(value: unknown): number | undefined {
  const t = text(value);
  return t === undefined ? undefined : Number(t);
}

function bool(value: unknown): boolean | undefined {
  const t = text(value);
  return t === undefined ? undefined : t === 'true';
}

export class Route53HealthChecks {
  private readonly checks = new Map<string, HealthCheck>();

  constructor(
    private readonly clock: Clock,
    private readonly rng: Rng,
    /** The state of a CloudWatch alarm at a time, or undefined when there is no such alarm. */
    private readonly alarmState: (region: string, name: string, time: number) => AlarmState | undefined,
  ) {}

  create(body: Buffer): { check: HealthCheck; created: boolean } {
    const doc = parseXml(body.toString('utf8'), new Set(['ChildHealthCheck'])).CreateHealthCheckRequest as
      | Record<string, unknown>
      | undefined;
    const callerReference = text(doc?.CallerReference);
    const raw = (doc?.HealthCheckConfig ?? undefined) as Record<string, unknown> | undefined;
    if (!callerReference || !raw) {
      throw new AwsError(
        'InvalidInput',
        400,
        'Invalid request: CallerReference and HealthCheckConfig are required.',
      );
    }
    const config = this.parseConfig(raw);
    const existing = [...this.checks.values()].find((c) => c.callerReference === callerReference);
    if (existing) {
      if (JSON.stringify(existing.config) === JSON.stringify(config))
        return { check: existing, created: false };
      throw new AwsError(
        'HealthCheckAlreadyExists',
        409,
        `A health check with the same CallerReference (${callerReference}) but a different configuration already exists.`,
      );
    }
    const check: HealthCheck = {
      id: this.rng.uuid(),
      callerReference,
      config,
      version: 1,
      lastKnownHealthy: true,
    };
    this.checks.set(check.id, check);
    return { check, created: true };
  }

  /** Creates a check directly (the proving ground's stand-in for lifeboat's stack). */
  seed(callerReference: string, config: HealthCheckConfig): string {
    const check: HealthCheck = {
      id: this.rng.uuid(),
      callerReference,
      config: this.parseConfig(config as unknown as Record<string, unknown>),
      version: 1,
      lastKnownHealthy: true,
    };
    this.checks.set(check.id, check);
    return check.id;
  }

  private parseConfig(raw: Record<string, unknown>): HealthCheckConfig {
    const type = text(raw.Type);
    if (!type || !TYPES.has(type)) {
      throw new AwsError(
        'InvalidInput',
        400,
        `Invalid request: Type must be one of ${[...TYPES].join(', ')}.`,
      );
    }
    const alarmNode = raw.AlarmIdentifier as Record<string, unknown> | undefined;
    const childNode = raw.ChildHealthChecks as { ChildHealthCheck?: unknown } | readonly string[] | undefined;
    const children = Array.isArray(childNode)
      ? (childNode as string[])
      : ((childNode as { ChildHealthCheck?: unknown[] } | undefined)?.ChildHealthCheck ?? []).map(String);
    const insufficient = text(raw.InsufficientDataHealthStatus);
    if (type === 'CLOUDWATCH_METRIC') {
      if (!text(alarmNode?.Name) || !text(alarmNode?.Region)) {
        throw new AwsError(
          'InvalidInput',
          400,
          'Invalid request: AlarmIdentifier (Region and Name) is required for a CLOUDWATCH_METRIC health check.',
        );
      }
      if (insufficient !== undefined && !INSUFFICIENT.has(insufficient)) {
        throw new AwsError('InvalidInput', 400, `Invalid InsufficientDataHealthStatus: ${insufficient}`);
      }
    }
    if (type === 'CALCULATED') {
      for (const child of children) {
        if (!this.checks.has(child)) {
          throw new AwsError('NoSuchHealthCheck', 404, `A health check with id ${child} does not exist.`);
        }
      }
    }
    const config: Record<string, unknown> = {
      Type: type,
      IPAddress: text(raw.IPAddress),
      Port: num(raw.Port),
      ResourcePath: text(raw.ResourcePath),
      FullyQualifiedDomainName: text(raw.FullyQualifiedDomainName),
      SearchString: text(raw.SearchString),
      RequestInterval: num(raw.RequestInterval),
      FailureThreshold: num(raw.FailureThreshold),
      MeasureLatency: bool(raw.MeasureLatency),
      Inverted: bool(raw.Inverted) ?? false,
      Disabled: bool(raw.Disabled) ?? false,
      HealthThreshold: type === 'CALCULATED' ? (num(raw.HealthThreshold) ?? 0) : undefined,
      ChildHealthChecks: type === 'CALCULATED' ? children : undefined,
      EnableSNI: bool(raw.EnableSNI),
      AlarmIdentifier:
        type === 'CLOUDWATCH_METRIC'
          ? { Region: text(alarmNode?.Region) as string, Name: text(alarmNode?.Name) as string }
          : undefined,
      InsufficientDataHealthStatus:
        type === 'CLOUDWATCH_METRIC' ? (insufficient ?? 'LastKnownStatus') : undefined,
    };
    for (const key of Object.keys(config)) if (config[key] === undefined) delete config[key];
    return config as unknown as HealthCheckConfig;
  }

  get(id: string): HealthCheck {
    const check = this.checks.get(id);
    if (!check) throw new AwsError('NoSuchHealthCheck', 404, `A health check with id ${id} does not exist.`);
    return check;
  }

  delete(id: string, inUse: (id: string) => boolean): void {
    this.get(id);
    if (inUse(id)) {
      throw new AwsError(
        'HealthCheckInUse',
        400,
        `The health check ${id} is still referenced from a resource record set.`,
      );
    }
    const parent = [...this.checks.values()].find((c) => c.config.ChildHealthChecks?.includes(id));
    if (parent) {
      throw new AwsError(
        'HealthCheckInUse',
        400,
        `The health check ${id} is a child of health check ${parent.id}.`,
      );
    }
    this.checks.delete(id);
  }

  render(check: HealthCheck): XmlObject {
    const c = check.config;
    return {
      Id: check.id,
      CallerReference: check.callerReference,
      HealthCheckConfig: {
        IPAddress: c.IPAddress,
        Port: c.Port,
        Type: c.Type,
        ResourcePath: c.ResourcePath,
        FullyQualifiedDomainName: c.FullyQualifiedDomainName,
        SearchString: c.SearchString,
        RequestInterval: c.RequestInterval,
        FailureThreshold: c.FailureThreshold,
        MeasureLatency: c.MeasureLatency,
        Inverted: c.Inverted,
        Disabled: c.Disabled,
        HealthThreshold: c.HealthThreshold,
        ChildHealthChecks: c.ChildHealthChecks
          ? xmlList('ChildHealthCheck', [...c.ChildHealthChecks])
          : undefined,
        EnableSNI: c.EnableSNI,
        AlarmIdentifier: c.AlarmIdentifier
          ? { Region: c.AlarmIdentifier.Region, Name: c.AlarmIdentifier.Name }
          : undefined,
        InsufficientDataHealthStatus: c.InsufficientDataHealthStatus,
      },
      HealthCheckVersion: check.version,
    };
  }

  /** Whether Route 53 considers the check healthy now (an unknown id: healthy, as nothing marks it down). */
  healthy(id: string, depth = 0): boolean {
    const check = this.checks.get(id);
    if (!check) return true;
    const c = check.config;
    if (c.Disabled) return true;
    let healthy = true;
    if (c.Type === 'CLOUDWATCH_METRIC' && c.AlarmIdentifier) {
      const at = this.clock.now() - this.clock.scaled(this.clock.timings.route53HealthCheckMs);
      const state =
        this.alarmState(c.AlarmIdentifier.Region, c.AlarmIdentifier.Name, at) ?? 'INSUFFICIENT_DATA';
      if (state === 'OK' || state === 'ALARM') {
        healthy = state === 'OK';
        check.lastKnownHealthy = healthy;
      } else if (c.InsufficientDataHealthStatus === 'Healthy') healthy = true;
      else if (c.InsufficientDataHealthStatus === 'Unhealthy') healthy = false;
      else healthy = check.lastKnownHealthy;
    } else if (c.Type === 'CALCULATED') {
      const children = c.ChildHealthChecks ?? [];
      const up =
        depth < 8 ? children.filter((child) => this.healthy(child, depth + 1)).length : children.length;
      healthy = up >= (c.HealthThreshold ?? 0);
    }
    return c.Inverted ? !healthy : healthy;
  }
}
