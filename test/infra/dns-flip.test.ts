import { readFileSync } from 'node:fs';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { examplePlan, stepStatements, synthesize } from './support.js';

/**
 * Issue 9, item 7: the stack makes each health-check unit's flip alarm and the Route 53 health check that follows it
 * (docs/design/dns-flip.md), grants the steps what forcing the flip takes, and warns at synthesis when a cname unit
 * depends on Route 53's control plane in the primary Region us-east-1.
 */

const healthCheckPlan = () =>
  JSON.parse(readFileSync(new URL('../../examples/plan-health-check.json', import.meta.url), 'utf8'));
const CONTROL_PLANE = Match.stringLikeRegexp("Route 53's control plane, which is served from us-east-1");
const ALARM = 'lifeboat-orders-hc-orders-dns-failover';

describe('the DNS flip of a health-check unit', () => {
  // Prepare
  const { template, plan, main } = synthesize(healthCheckPlan());

  it('makes the flip alarm in the recovery Region on the Lifeboat metric, standard resolution, missing data ignored', () => {
    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: ALARM,
      Namespace: 'Lifeboat',
      MetricName: 'DnsFailoverForced',
      Dimensions: [
        { Name: 'Plan', Value: 'orders-hc' },
        { Name: 'Unit', Value: 'orders' },
      ],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'ignore',
      ActionsEnabled: false,
    });
    expect(main.region).toBe(plan.recoveryRegion);
  });

  it('makes the health check that follows the alarm, after it, and outputs its id for the PRIMARY record', () => {
    // Act
    const checks = template.findResources('AWS::Route53::HealthCheck');
    const [id, check] = Object.entries(checks)[0] ?? [];
    const alarmId = Object.keys(
      template.findResources('AWS::CloudWatch::Alarm', { Properties: { AlarmName: ALARM } }),
    )[0];

    // Assess
    expect(Object.keys(checks)).toHaveLength(1);
    expect(check?.Properties.HealthCheckConfig).toEqual({
      Type: 'CLOUDWATCH_METRIC',
      AlarmIdentifier: { Name: ALARM, Region: 'us-west-2' },
      InsufficientDataHealthStatus: 'LastKnownStatus',
    });
    expect(check?.DependsOn).toEqual([alarmId]);
    template.hasOutput('DnsFlipHealthCheckOrders', {
      Value: { 'Fn::GetAtt': [id, 'HealthCheckId'] },
      Description: Match.stringLikeRegexp('PRIMARY record of orders-db.internal.example.com'),
    });
  });

  it('grants UpdateDns the alarm read and PutMetricData held to the Lifeboat namespace, the poll and preflight the reads', () => {
    // Act
    const update = stepStatements(template, plan, 'updateDns');
    const poll = stepStatements(template, plan, 'checkDnsChange');
    const preflight = stepStatements(template, plan, 'preflight');
    const alarmArn = `arn:aws:cloudwatch:us-west-2:123456789012:alarm:${ALARM}`;

    // Assess
    expect(update).toContainEqual(
      expect.objectContaining({
        Sid: 'ReadDnsFlipAlarms',
        Action: 'cloudwatch:DescribeAlarms',
        Resource: alarmArn,
      }),
    );
    expect(update).toContainEqual(
      expect.objectContaining({
        Sid: 'ForceDnsFlips',
        Action: 'cloudwatch:PutMetricData',
        Condition: { StringEquals: { 'cloudwatch:namespace': 'Lifeboat' } },
      }),
    );
    expect(poll).toContainEqual(expect.objectContaining({ Sid: 'ReadDnsFlipAlarms', Resource: alarmArn }));
    expect(preflight).toContainEqual(
      expect.objectContaining({ Sid: 'ReadPrimaryHealthChecks', Action: 'route53:GetHealthCheck' }),
    );
    // No record change of production, only of the drill copies: the flip needs none.
    const changes = update.filter((st) => JSON.stringify(st.Action).includes('ChangeResourceRecordSets'));
    expect(changes.every((st) => JSON.stringify(st.Condition).includes('lifeboat-drill-*'))).toBe(true);
  });

  it('passes cdk-nag with every wildcard acknowledged', () => {
    // Act
    const { app } = synthesize(healthCheckPlan());
    const findings = new AwsSolutionsChecks().validateScope(app).violations;

    // Assess
    expect(findings).toEqual([]);
  });

  it('has no control-plane warning', () => {
    // Assess
    Annotations.fromStack(main).hasNoWarning('*', CONTROL_PLANE);
  });
});

describe('cdk synth warnings for cname units', () => {
  it('warns when a cname unit moves its record through the control plane of the primary Region us-east-1', () => {
    // Act
    const { main, template } = synthesize(examplePlan('plan.json'));

    // Assess
    Annotations.fromStack(main).hasWarning('*', CONTROL_PLANE);
    expect(Object.keys(template.findResources('AWS::Route53::HealthCheck'))).toEqual([]);
  });

  it('does not warn when the primary Region is another one', () => {
    // Prepare
    const document = examplePlan('plan.json');
    document.primaryRegion = 'eu-west-1';
    document.alarms = [];

    // Act
    const { main } = synthesize(document);

    // Assess
    Annotations.fromStack(main).hasNoWarning('*', CONTROL_PLANE);
  });
});
