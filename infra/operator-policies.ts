import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { type FailoverPlan, partitionOf } from '../functions/lib/plan.js';
import type { Lifeboat } from './lifeboat.js';
import { acknowledge } from './nag.js';

/**
 * Least-privilege IAM policies for the people who run lifeboat (docs/operator-iam.md): one per job, each holding
 * exactly the calls the CLI makes for its commands (test/infra/operator-iam.test.ts records them), scoped to one plan's
 * state machine, report bucket and lock table.
 *
 * - `start`: `lifeboat start` (without `--watch`; add `watch` for it) and the console's *Start execution*.
 * - `approve`: `lifeboat approve` / `lifeboat reject`.
 * - `watch`: `lifeboat watch`, `lifeboat report`, `lifeboat status` (read only).
 * - `deploy`: `cdk deploy` of the plan's stacks, through the CDK bootstrap roles.
 */
export type OperatorJob = 'start' | 'approve' | 'watch' | 'deploy';

/** The CLI commands each job's policy is for. */
export const COMMANDS_OF_JOB: Readonly<Record<Exclude<OperatorJob, 'deploy'>, readonly string[]>> = {
  start: ['start'],
  approve: ['approve', 'reject'],
  watch: ['watch', 'report', 'status'],
};

export interface OperatorPolicyTarget {
  readonly plan: Pick<FailoverPlan, 'name' | 'account' | 'primaryRegion' | 'recoveryRegion'>;
  /** The stack output `ReportBucketName`. */
  readonly reportBucketName: string;
  /** The stack output `LockTableName`. */
  readonly lockTableName: string;
  /** The CDK bootstrap qualifier. @default 'hnb659fds' (cdk bootstrap's default) */
  readonly bootstrapQualifier?: string;
}

export interface PolicyStatementJson {
  readonly Sid: string;
  readonly Effect: 'Allow';
  readonly Action: string[];
  readonly Resource: string[];
}

export interface PolicyDocumentJson {
  readonly Version: '2012-10-17';
  readonly Statement: PolicyStatementJson[];
}

/** The ARNs the policies name, derived as the stack names them (infra/constructs/orchestrator.ts: `lifeboat-<plan>`). */
export function operatorResourceArns(target: OperatorPolicyTarget) {
  const { plan } = target;
  const region = plan.recoveryRegion;
  const partition = partitionOf(region);
  const machine = `lifeboat-${plan.name}`;
  const states = `arn:${partition}:states:${region}:${plan.account}`;
  return {
    stateMachine: `${states}:stateMachine:${machine}`,
    /** The plan's own executions. */
    executions: `${states}:execution:${machine}:*`,
    /** The units' child executions, started by the Distributed Map: `execution:<machine>/<map run label>:<name>`. */
    childExecutions: `${states}:execution:${machine}/*`,
    /** The Map Runs of the plan's executions, whose child executions `lifeboat watch` lists. */
    mapRuns: `${states}:mapRun:${machine}/*`,
    /** Reports, readiness evaluations and `latest.*` of this plan (functions/lib/report/deliver.ts). */
    reports: `arn:${partition}:s3:::${target.reportBucketName}/reports/${plan.name}/*`,
    lockTable: `arn:${partition}:dynamodb:${region}:${plan.account}:table/${target.lockTableName}`,
  };
}

/** The CDK bootstrap roles `cdk deploy` assumes in each Region the plan's stacks are deployed to. */
export function bootstrapRoleArns(target: OperatorPolicyTarget): string[] {
  const { plan } = target;
  const qualifier = target.bootstrapQualifier ?? 'hnb659fds';
  const regions = [plan.recoveryRegion, plan.primaryRegion];
  return regions.flatMap((region) =>
    ['deploy', 'file-publishing', 'lookup'].map(
      (role) =>
        `arn:${partitionOf(region)}:iam::${plan.account}:role/cdk-${qualifier}-${role}-role-${plan.account}-${region}`,
    ),
  );
}

/**
 * The four policy documents, as JSON. Actions and resources, and why (docs/operator-iam.md):
 * StartExecution is on the state machine; DescribeExecution and GetExecutionHistory on executions, the units' child
 * executions included; ListExecutions on the state machine and on its Map Runs; SendTaskSuccess/SendTaskFailure
 * support no resource-level permission (the task token is what scopes them); sts:GetCallerIdentity needs no
 * permission (docs/aws/sts-caller-identity.md).
 */
export function operatorPolicyDocuments(
  target: OperatorPolicyTarget,
): Record<OperatorJob, PolicyDocumentJson> {
  const arn = operatorResourceArns(target);
  const doc = (...statements: PolicyStatementJson[]): PolicyDocumentJson => ({
    Version: '2012-10-17',
    Statement: statements,
  });
  const allow = (Sid: string, Action: string[], Resource: string[]): PolicyStatementJson => ({
    Sid,
    Effect: 'Allow',
    Action,
    Resource,
  });
  return {
    start: doc(allow('StartRuns', ['states:StartExecution'], [arn.stateMachine])),
    approve: doc(
      allow('FindTheApprovalRequest', ['states:GetExecutionHistory'], [arn.executions]),
      allow('AnswerTheApprovalRequest', ['states:SendTaskSuccess', 'states:SendTaskFailure'], ['*']),
    ),
    watch: doc(
      allow(
        'ReadRuns',
        ['states:DescribeExecution', 'states:GetExecutionHistory'],
        [arn.executions, arn.childExecutions],
      ),
      allow('ListRuns', ['states:ListExecutions'], [arn.stateMachine, arn.mapRuns]),
      allow('ReadReports', ['s3:GetObject'], [arn.reports]),
      allow('ReadTheLock', ['dynamodb:GetItem'], [arn.lockTable]),
    ),
    deploy: doc(allow('AssumeCdkBootstrapRoles', ['sts:AssumeRole'], bootstrapRoleArns(target))),
  };
}

/** What the policies need of a Lifeboat construct (a `Lifeboat` is one). */
export interface OperatorPolicyScope {
  readonly plan: Lifeboat['plan'];
  readonly reports: { readonly bucket: s3.IBucket };
  readonly lockTable: { readonly table: dynamodb.ITable };
}

export interface OperatorPoliciesProps {
  /** The Lifeboat construct whose plan, bucket and table the policies are scoped to. */
  readonly lifeboat: OperatorPolicyScope;
  /** @default 'hnb659fds' */
  readonly bootstrapQualifier?: string;
}

/**
 * The operator policies as managed policies in the Lifeboat's stack, named `lifeboat-<plan>-<job>`, for a team to attach
 * to its on-call roles or groups.
 */
export class OperatorPolicies extends Construct {
  readonly policies: Readonly<Record<OperatorJob, iam.ManagedPolicy>>;
  constructor(scope: Construct, id: string, props: OperatorPoliciesProps) {
    super(scope, id);
    const documents = operatorPolicyDocuments({
      plan: props.lifeboat.plan,
      reportBucketName: props.lifeboat.reports.bucket.bucketName,
      lockTableName: props.lifeboat.lockTable.table.tableName,
      ...(props.bootstrapQualifier ? { bootstrapQualifier: props.bootstrapQualifier } : {}),
    });
    const policies = {} as Record<OperatorJob, iam.ManagedPolicy>;
    for (const job of Object.keys(documents) as OperatorJob[]) {
      const policy = new iam.ManagedPolicy(this, job, {
        managedPolicyName: `lifeboat-${props.lifeboat.plan.name}-${job}`,
        description: `lifeboat: the ${job} job of plan ${props.lifeboat.plan.name} (docs/operator-iam.md)`,
        document: iam.PolicyDocument.fromJson(documents[job]),
      });
      acknowledge(
        policy,
        'AwsSolutions-IAM5',
        'execution and Map Run names are made at run time, reports have one key per run, SendTaskSuccess/Failure support no resource-level permission, and the CDK bootstrap roles are named per Region: each wildcard is held to this plan (docs/operator-iam.md)',
      );
      policies[job] = policy;
    }
    this.policies = policies;
  }
}
