import { Annotations, CfnOutput, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';
import { controlPlaneWarnings, FLIP_HEALTH_CHECK, flipAlarmSpec } from '../../functions/lib/dns/flip.js';
import type { FailoverPlan } from '../../functions/lib/plan.js';

export interface DnsFlipProps {
  readonly plan: FailoverPlan;
}

/** `orders-db` → `OrdersDb`: output ids are letters and digits only. */
function pascal(name: string): string {
  return name
    .split(/[^a-zA-Z0-9]/)
    .filter(Boolean)
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join('');
}

/**
 * What lets lifeboat force the flip of each `health-check` unit from the recovery Region (docs/design/dns-flip.md):
 * the CloudWatch alarm on the unit's Lifeboat metric, in this stack's Region, and the Route 53 health check that
 * follows it (CLOUDWATCH_METRIC). The stack makes both, so their names and settings are the ones the steps expect;
 * the user attaches the health check (stack output `DnsFlipHealthCheck<Unit>`) to the PRIMARY record of the unit's
 * failover pair, alone or as a child of a CALCULATED check that needs every child healthy. Preflight checks that.
 *
 * Also warns at synthesis when a `cname` unit depends on Route 53's control plane in the primary Region us-east-1.
 */
export class DnsFlip extends Construct {
  /** Health check ids (tokens) by unit name. */
  readonly healthCheckIds: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: DnsFlipProps) {
    super(scope, id);
    const { plan } = props;
    const stack = Stack.of(this);
    for (const warning of controlPlaneWarnings(plan)) {
      Annotations.of(stack).addWarningV2('lifeboat:dns-control-plane', warning);
    }
    const ids: Record<string, string> = {};
    for (const unit of plan.units.filter((u) => u.dns.strategy === 'health-check')) {
      const spec = flipAlarmSpec(plan, unit);
      const alarm = new cloudwatch.CfnAlarm(this, `${pascal(unit.name)}Alarm`, {
        alarmName: spec.alarmName,
        alarmDescription:
          `lifeboat ${plan.name}: in ALARM, the PRIMARY record of ${unit.dns.recordName} is failed over ` +
          `(lifeboat publishes ${spec.namespace}/${spec.metricName} = ${spec.threshold}; publish 0 to fail back)`,
        namespace: spec.namespace,
        metricName: spec.metricName,
        dimensions: spec.dimensions.map((d) => ({ name: d.name, value: d.value })),
        statistic: spec.statistic,
        period: spec.periodSeconds,
        evaluationPeriods: spec.evaluationPeriods,
        threshold: spec.threshold,
        comparisonOperator: spec.comparisonOperator,
        treatMissingData: spec.treatMissingData,
        actionsEnabled: false,
      });
      const healthCheck = new route53.CfnHealthCheck(this, `${pascal(unit.name)}HealthCheck`, {
        healthCheckConfig: {
          type: FLIP_HEALTH_CHECK.type,
          alarmIdentifier: { name: spec.alarmName, region: spec.region },
          insufficientDataHealthStatus: FLIP_HEALTH_CHECK.insufficientDataHealthStatus,
        },
        healthCheckTags: [{ key: 'Name', value: spec.alarmName }],
      });
      // The health check names the alarm: it must exist first.
      healthCheck.node.addDependency(alarm);
      ids[unit.name] = healthCheck.attrHealthCheckId;
      new CfnOutput(stack, `DnsFlipHealthCheck${pascal(unit.name)}`, {
        description: `Attach to the PRIMARY record of ${unit.dns.recordName} (unit ${unit.name}): lifeboat fails it over through alarm ${spec.alarmName}`,
        value: healthCheck.attrHealthCheckId,
      });
    }
    this.healthCheckIds = ids;
  }
}
