import { FLIP_HEALTH_CHECK, flipAlarmSpec } from '../functions/lib/dns/flip.js';
import type { FailoverPlan, UnitPlan } from '../functions/lib/plan.js';
import type { Emulator } from './emulator/index.js';

/**
 * A `health-check` unit's DNS as production has it before a disaster: the flip alarm and its Route 53 health check,
 * made as lifeboat's stack makes them (functions/lib/dns/flip.ts, infra/constructs/dns-flip.ts), and the user's
 * failover pair: the PRIMARY on the primary instance with that health check, the SECONDARY on the replica.
 */
export function seedFlipRecords(
  emulator: Emulator,
  plan: Pick<FailoverPlan, 'name' | 'recoveryRegion'>,
  unit: UnitPlan,
  zoneId: string,
  endpoints: { primary: string; replica: string },
): { healthCheckId: string; alarmName: string } {
  const spec = flipAlarmSpec(plan, unit);
  emulator.seed.metricAlarm(spec.region, {
    AlarmName: spec.alarmName,
    Namespace: spec.namespace,
    MetricName: spec.metricName,
    Dimensions: spec.dimensions.map((d) => ({ Name: d.name, Value: d.value })),
    Statistic: spec.statistic,
    Period: spec.periodSeconds,
    EvaluationPeriods: spec.evaluationPeriods,
    Threshold: spec.threshold,
    ComparisonOperator: spec.comparisonOperator,
    TreatMissingData: spec.treatMissingData,
  });
  const { id } = emulator.seed.healthCheck({
    callerReference: `lifeboat-${plan.name}-${unit.name}`,
    config: {
      Type: FLIP_HEALTH_CHECK.type,
      AlarmIdentifier: { Region: spec.region, Name: spec.alarmName },
      InsufficientDataHealthStatus: FLIP_HEALTH_CHECK.insufficientDataHealthStatus,
    },
  });
  const pair = (failover: 'PRIMARY' | 'SECONDARY', value: string) =>
    emulator.seed.record(zoneId, {
      name: unit.dns.recordName,
      type: 'CNAME',
      ttl: unit.dns.ttl,
      values: [value],
      setIdentifier: failover.toLowerCase(),
      failover,
      ...(failover === 'PRIMARY' ? { healthCheckId: id } : {}),
    });
  pair('PRIMARY', endpoints.primary);
  pair('SECONDARY', endpoints.replica);
  return { healthCheckId: id, alarmName: spec.alarmName };
}
