import { controlPlaneWarnings, flipAlarmSpec } from '../functions/lib/dns/flip.js';
import type { FailoverPlan, UnitPlan } from '../functions/lib/plan.js';
import { instanceDatabase, isAuroraUnit, isGlobalAuroraUnit } from '../functions/lib/plan-names.js';
import { countOf, formatDuration, reportKeys } from '../functions/lib/report/index.js';
import { INTERRUPTED_ROTATION_PLAN } from '../functions/lib/secret/rotation.js';
import { rotationRulesFor } from '../functions/lib/secret/state.js';
import { connectivityRetryAttempts, POLL_LOOPS } from '../statemachine/steps.js';
import { stateMachineArnFor, stateMachineName } from './aws.js';

/**
 * What a failover of a plan would do, call by call, from the plan alone (no AWS call): what `lifeboat plan` prints.
 * Parameters are identifiers and settings from the plan; the plan holds no secret values, and none are shown.
 */

export type ParameterValue = string | number | boolean;

export interface PlannedCall {
  /** `secretsmanager:StopReplicationToReplica` */
  readonly api: string;
  readonly parameters: Readonly<Record<string, ParameterValue>>;
  /** When the call is made only in some cases. */
  readonly when?: string;
}

export interface PlannedStep {
  /** The state name, as the console and `lifeboat watch` show it. */
  readonly title: string;
  /** Mutating calls, in order. */
  readonly calls: readonly PlannedCall[];
  /** Read-only calls the step makes first (to find out whether its effect is already there). */
  readonly reads: readonly string[];
  readonly notes: readonly string[];
  /** Another step of the unit that runs at the same time. */
  readonly alongside?: string;
}

export interface UnitFailover {
  readonly unit: string;
  readonly engine: string;
  readonly steps: readonly PlannedStep[];
}

export interface FailoverDescription {
  readonly planName: string;
  readonly source: string;
  readonly account: string;
  readonly primaryRegion: string;
  readonly recoveryRegion: string;
  readonly stateMachineName: string;
  readonly stateMachineArn: string;
  readonly targetRtoSeconds: number;
  readonly maxConcurrency: number;
  readonly triggers: {
    readonly console: true;
    readonly cli: true;
    readonly alarms: readonly string[];
    readonly approvalOnAlarm: boolean;
    readonly approvalTimeoutSeconds: number;
    readonly drill: { readonly schedule: string; readonly timezone: string } | null;
  };
  readonly notificationTopic: string;
  /** What could stop this plan in the disaster it is for (functions/lib/dns/flip.ts, controlPlaneWarnings). */
  readonly warnings: readonly string[];
  readonly before: readonly PlannedStep[];
  readonly units: readonly UnitFailover[];
  readonly after: readonly PlannedStep[];
}

const step = (title: string, rest: Partial<Omit<PlannedStep, 'title'>> = {}): PlannedStep => ({
  title,
  calls: rest.calls ?? [],
  reads: rest.reads ?? [],
  notes: rest.notes ?? [],
  ...(rest.alongside ? { alongside: rest.alongside } : {}),
});

export function describeFailover(plan: FailoverPlan, source: string): FailoverDescription {
  const keys = reportKeys({ planName: plan.name, runId: 'run' });
  const runKey = keys.latest.replace(/latest\.json$/, '<run id>.json');
  const before = [
    step('Load plan', { notes: ['validates the deployed plan and the execution input; selects the units'] }),
    step('Run preflight checks', {
      reads: [
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue (host only; the value is never kept)',
        'lambda:GetFunction',
        'lambda:GetPolicy',
        'rds:DescribeDBInstances',
        'cloudwatch:GetMetricData (ReplicaLag)',
        'route53:GetHostedZone',
        'route53:ListResourceRecordSets',
      ],
      notes: [
        'read-only, every unit at once; a configuration error stops the run before any change',
        'conditions a disaster causes (replication not InSync, lag unknown) are warnings: a failover goes on',
      ],
    }),
    ...(plan.approval.onAlarm
      ? [
          step('Ask for approval', {
            calls: [
              {
                api: 'sns:Publish',
                parameters: { TopicArn: '<notification topic>' },
                when: 'alarm-started runs',
              },
            ],
            notes: [
              `an alarm-started run waits up to ${formatDuration(plan.approval.timeoutSeconds * 1000)} for send-task-success`,
            ],
          }),
        ]
      : []),
    step('Acquire failover lock', {
      calls: [
        {
          api: 'dynamodb:PutItem',
          parameters: {
            TableName: '<lock table>',
            planName: plan.name,
            Condition: 'no other run holds the lock',
          },
          when: 'not in a dry run',
        },
      ],
      notes: ['a second execution of this plan stops here with FailoverInProgressError'],
    }),
  ];
  const after = [
    step('Write failover report', {
      calls: [
        { api: 's3:PutObject', parameters: { Bucket: '<report bucket>', Key: runKey } },
        { api: 's3:PutObject', parameters: { Bucket: '<report bucket>', Key: keys.latest } },
        { api: 'sns:Publish', parameters: { TopicArn: plan.notificationTopicArn ?? '<notification topic>' } },
      ],
      notes: ['also when the run fails: the report says where each unit stopped'],
    }),
    step('Release failover lock', {
      calls: [
        {
          api: 'dynamodb:DeleteItem',
          parameters: { TableName: '<lock table>', planName: plan.name, Condition: 'held by this run' },
        },
      ],
    }),
  ];
  return {
    planName: plan.name,
    source,
    account: plan.account,
    primaryRegion: plan.primaryRegion,
    recoveryRegion: plan.recoveryRegion,
    stateMachineName: stateMachineName(plan.name),
    stateMachineArn: stateMachineArnFor(plan),
    targetRtoSeconds: plan.targetRtoSeconds,
    maxConcurrency: plan.maxConcurrency,
    triggers: {
      console: true,
      cli: true,
      alarms: plan.alarms.map((a) => a.arn),
      approvalOnAlarm: plan.approval.onAlarm,
      approvalTimeoutSeconds: plan.approval.timeoutSeconds,
      drill: plan.drill ? { schedule: plan.drill.schedule, timezone: plan.drill.timezone } : null,
    },
    notificationTopic: plan.notificationTopicArn ?? 'created by the stack',
    warnings: controlPlaneWarnings(plan),
    before,
    units: plan.units.map((unit) => describeUnit(plan, unit)),
    after,
  };
}

function describeUnit(plan: FailoverPlan, unit: UnitPlan): UnitFailover {
  const { secret, dns, rotation, verify } = unit;
  const promotion = promotionOf(plan, unit);
  const database = { engine: unit.database.engine };
  const dbPolls = POLL_LOOPS.databasePromotion.maxAttempts;
  const dnsPolls = POLL_LOOPS.dnsChange.maxAttempts;
  const flip = flipAlarmSpec(plan, unit);
  const updateDns = promotion.recordFollowsWriter
    ? step('Point DNS at promoted database', {
        reads: ['rds:DescribeGlobalClusters', 'route53:ListResourceRecordSets'],
        notes: [
          `no Route 53 call: ${dns.recordName} names the global database's writer endpoint, which Aurora moves to the new writer itself; the step checks the record names it`,
        ],
      })
    : dns.strategy === 'health-check'
      ? step('Point DNS at promoted database', {
          reads: [promotion.describe, `cloudwatch:DescribeAlarms (${flip.alarmName})`],
          calls: [
            {
              api: 'cloudwatch:PutMetricData',
              parameters: {
                Region: flip.region,
                Namespace: flip.namespace,
                MetricName: flip.metricName,
                Dimensions: flip.dimensions.map((d) => `${d.name}=${d.value}`).join(','),
                Value: flip.threshold,
              },
              when: `alarm ${flip.alarmName} is not in ALARM yet`,
            },
          ],
          notes: [
            `no Route 53 call: ${dns.recordName} is a failover record pair; the alarm puts its PRIMARY's health check ` +
              `down, so Route 53 answers the SECONDARY (data plane only)`,
            `then polls cloudwatch:DescribeAlarms in ${flip.region} until the alarm is in ALARM`,
          ],
        })
      : step('Point DNS at promoted database', {
          reads: [promotion.describe, 'route53:ListResourceRecordSets'],
          calls: [
            {
              api: 'route53:ChangeResourceRecordSets',
              parameters: {
                HostedZoneId: dns.hostedZoneId,
                Action: 'UPSERT',
                Name: dns.recordName,
                Type: 'CNAME',
                TTL: dns.ttl,
                Value: `<endpoint of ${promotion.target}>`,
              },
            },
          ],
          notes: [
            `then polls route53:GetChange until INSYNC (at most ${countOf(dnsPolls, 'poll')})`,
            'the UPSERT is sent also when the record already points at the promoted instance: identical values give a change id to wait for',
          ],
        });
  const settleCalls: PlannedCall[] = [
    {
      api: 'secretsmanager:UpdateSecretVersionStage',
      parameters: {
        SecretId: secret.id,
        VersionStage: 'AWSPENDING',
        RemoveFromVersionId: '<pending version>',
      },
      when: 'an interrupted rotation left AWSPENDING on another version, and the current credentials work',
    },
    {
      api: 'secretsmanager:UpdateSecretVersionStage',
      parameters: {
        SecretId: secret.id,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: '<pending version>',
        RemoveFromVersionId: '<current version>',
      },
      when: 'an interrupted rotation left AWSPENDING on another version, and only its credentials work',
    },
  ];
  const rotationCalls: PlannedCall[] = [
    ...(rotation.rewriteRegionFields
      ? [
          {
            api: 'secretsmanager:PutSecretValue',
            parameters: {
              SecretId: secret.id,
              SecretString: `<same value, region-bound fields moved to ${plan.recoveryRegion}>`,
            },
            when: 'a field such as masterarn names another Region',
          },
        ]
      : []),
    {
      api: 'secretsmanager:RotateSecret',
      parameters: {
        SecretId: secret.id,
        RotationLambdaARN: rotation.lambdaArn,
        RotationRules: JSON.stringify(rotationRulesFor(rotation.schedule)),
        RotateImmediately: false,
      },
    },
  ];
  return {
    unit: unit.name,
    engine: database.engine,
    steps: [
      step('Promote replica secret', {
        reads: ['secretsmanager:DescribeSecret'],
        calls: [{ api: 'secretsmanager:StopReplicationToReplica', parameters: { SecretId: secret.id } }],
        notes: ['no call when the secret is already standalone'],
        alongside: 'Promote database replica',
      }),
      step('Promote database replica', {
        reads: promotion.reads,
        calls: promotion.calls,
        // The last note is the poll's.
        notes: promotion.notes.map((note, i, all) =>
          i === all.length - 1 ? `${note} (at most ${countOf(dbPolls, 'poll')})` : note,
        ),
        alongside: 'Promote replica secret',
      }),
      updateDns,
      step('Settle an interrupted rotation', {
        reads: [
          'secretsmanager:DescribeSecret',
          'secretsmanager:GetSecretValue of the pending and current versions (to log in; never printed or kept)',
          'rds:DescribeDBInstances',
        ],
        calls: settleCalls,
        notes: [
          INTERRUPTED_ROTATION_PLAN,
          'no call without an interrupted rotation, or when rotation is already attached',
        ],
      }),
      step('Verify connectivity', {
        reads: [
          'secretsmanager:GetSecretValue (used to connect; never printed or kept)',
          'rds:DescribeDBInstances',
        ],
        notes: [
          `resolves ${dns.recordName} like an application, checks it leads to ${promotion.target}, connects to database ${verify.database ?? "<the secret's dbname>"} (TLS ${verify.requireTls ? 'required' : 'not required'})`,
          `runs ${JSON.stringify(verify.query)} and a write that is rolled back; ${verify.timeoutSeconds} s per attempt`,
          `retried while DNS caches expire: until the larger of the record's previous TTL and ${dns.ttl} s, plus a margin, has passed since the change was in sync (at most ${countOf(connectivityRetryAttempts(plan), 'retry', 'retries')})`,
        ],
      }),
      step('Attach secret rotation', {
        reads: ['secretsmanager:DescribeSecret'],
        calls: rotationCalls,
        notes: [
          'only after verification: RotateSecret runs the rotation function testSecret, which logs in to the database',
          'no call when rotation is already attached with this Lambda and schedule',
        ],
      }),
    ],
  };
}

/** How a failover promotes a unit's database: an RDS instance pair, or an Aurora unit (docs/design/aurora.md). */
function promotionOf(
  plan: FailoverPlan,
  unit: UnitPlan,
): {
  target: string;
  /** The read that finds the promoted database's endpoint. */
  describe: string;
  reads: string[];
  calls: PlannedCall[];
  notes: string[];
  recordFollowsWriter: boolean;
} {
  if (!isAuroraUnit(unit)) {
    const { primaryInstanceId, replicaInstanceId } = instanceDatabase(unit, 'describe-plan');
    return {
      target: replicaInstanceId,
      describe: 'rds:DescribeDBInstances',
      reads: ['rds:DescribeDBInstances'],
      calls: [
        {
          api: 'rds:PromoteReadReplica',
          parameters: {
            DBInstanceIdentifier: replicaInstanceId,
            BackupRetentionPeriod: "<the replica's, when above 0>",
          },
        },
      ],
      notes: [
        `must be a replica of ${primaryInstanceId} in ${plan.primaryRegion}; no call when already standalone`,
        'then polls rds:DescribeDBInstances until available and no longer a replica',
      ],
      recordFollowsWriter: false,
    };
  }
  const { primaryClusterId, replicaClusterId } = unit.database;
  const target = `cluster ${replicaClusterId}`;
  if (isGlobalAuroraUnit(unit)) {
    const { globalClusterId } = unit.database;
    return {
      target,
      describe: 'rds:DescribeDBClusters',
      reads: ['rds:DescribeGlobalClusters', 'rds:DescribeDBClusters'],
      calls: [
        {
          api: 'rds:FailoverGlobalCluster',
          parameters: {
            GlobalClusterIdentifier: globalClusterId,
            TargetDbClusterIdentifier: `<ARN of ${replicaClusterId} in ${plan.recoveryRegion}>`,
            AllowDataLoss: true,
          },
        },
      ],
      notes: [
        `${replicaClusterId} must be a secondary of global database ${globalClusterId}; no call when it is already the writer or a failover to it is under way`,
        'a switchover calls rds:SwitchoverGlobalCluster instead (Aurora synchronizes the secondary first: no data lost)',
        'then polls rds:DescribeGlobalClusters and rds:DescribeDBClusters until no failover is under way, the target is the writer and available',
      ],
      recordFollowsWriter: unit.dns.target === 'global-writer-endpoint',
    };
  }
  return {
    target,
    describe: 'rds:DescribeDBClusters',
    reads: ['rds:DescribeDBClusters'],
    calls: [
      { api: 'rds:PromoteReadReplicaDBCluster', parameters: { DBClusterIdentifier: replicaClusterId } },
    ],
    notes: [
      `must be a replica cluster of ${primaryClusterId} in ${plan.primaryRegion}; no call when already standalone`,
      'then polls rds:DescribeDBClusters until available and no longer a replica',
    ],
    recordFollowsWriter: false,
  };
}

/** The description as text: what runs, in order, with the calls and their parameters. */
export function renderFailoverDescription(d: FailoverDescription): string {
  const lines: string[] = [];
  const t = d.triggers;
  lines.push(`plan ${d.planName} (${d.source}) is valid`);
  lines.push(`  fails over from ${d.primaryRegion} to ${d.recoveryRegion}, account ${d.account}`);
  lines.push(`  state machine: ${d.stateMachineName}`);
  lines.push(`    ${d.stateMachineArn}`);
  lines.push(
    `  target RTO: ${formatDuration(d.targetRtoSeconds * 1000)}; units failed over at once: up to ${d.maxConcurrency}`,
  );
  lines.push('  started by: the console ("Start execution"), lifeboat start');
  if (t.alarms.length) {
    lines.push(
      `    and ${countOf(t.alarms.length, 'alarm')} (approval before alarm-started runs: ${
        t.approvalOnAlarm ? `on, waits up to ${formatDuration(t.approvalTimeoutSeconds * 1000)}` : 'off'
      }):`,
    );
    for (const arn of t.alarms) lines.push(`      ${arn}`);
  } else {
    lines.push('    no alarm starts it');
  }
  lines.push(
    t.drill ? `  drill schedule: ${t.drill.schedule} (${t.drill.timezone})` : '  drill schedule: none',
  );
  lines.push(`  reports: S3 (report bucket) and SNS (${d.notificationTopic})`);
  for (const warning of d.warnings) lines.push(`  warning: ${warning}`);
  lines.push('');
  lines.push(`A failover runs in ${d.recoveryRegion} (mutating calls marked "*"):`);
  let n = 0;
  for (const s of d.before) renderStep(lines, `${++n}.`, s, '  ');
  lines.push(`  ${++n}. Fail over each unit (up to ${d.maxConcurrency} at once):`);
  for (const unit of d.units) {
    lines.push(`     unit ${unit.unit} (${unit.engine})`);
    unit.steps.forEach((s, i) => {
      renderStep(lines, `${String.fromCharCode(97 + i)}.`, s, '       ');
    });
  }
  for (const s of d.after) renderStep(lines, `${++n}.`, s, '  ');
  lines.push('');
  lines.push(
    'Every step reads first and makes no call when its effect is already there; a re-run converges.',
  );
  lines.push(
    'A dry run (lifeboat start --mode dry-run) makes none of the "*" calls to the units\' resources.',
  );
  return lines.join('\n');
}

function renderStep(lines: string[], label: string, s: PlannedStep, indent: string): void {
  const side = s.alongside ? ` (beside "${s.alongside}")` : '';
  lines.push(`${indent}${label} ${s.title}${side}`);
  const inner = `${indent}${' '.repeat(label.length + 1)}`;
  if (s.reads.length) lines.push(`${inner}reads ${s.reads.join(', ')}`);
  for (const call of s.calls) {
    const params = Object.entries(call.parameters)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    lines.push(`${inner}* ${call.api} ${params}${call.when ? `   [only when ${call.when}]` : ''}`);
  }
  for (const note of s.notes) lines.push(`${inner}${note}`);
}
