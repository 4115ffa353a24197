import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  type ExecutionListItem,
  ListExecutionsCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { describeApproval } from '../../functions/lib/approval.js';
import { awsErrorName, ResourceMissingError, toLifeboatError } from '../../functions/lib/errors.js';
import { type LockHolder, readLock } from '../../functions/lib/lock.js';
import type { FailoverPlan, Mode } from '../../functions/lib/plan.js';
import {
  READINESS_CHECKS,
  type ReadinessEvaluation,
  readinessKey,
} from '../../functions/lib/readiness/evaluate.js';
import { READINESS_OFF, rateSeconds } from '../../functions/lib/readiness/schedule.js';
import { formatDuration, type RunReport } from '../../functions/lib/report/index.js';
import { loadPlanFile } from '../../infra/plan-file.js';
import { HELP_OPTION, parseCommandArgs, UsageError } from '../args.js';
import { parseJson, reportOfExecution, stateMachineArnFor } from '../aws.js';
import { AWS_OPTIONS_HELP, awsTarget, type CliIo, EXIT, Printer } from '../io.js';
import { planPathFor } from '../plan-path.js';

export const help = `usage: lifeboat status [options]

Shows whether the plan could fail over now, and what happened last:
  - readiness: the latest evaluation per unit and check (secret, rotation, database, dns), the replica lag and the
    secret's replication status, from reports/<plan>/readiness/latest.json in the report bucket (--bucket);
  - the last drill and its recovery time, and the last failover, from the state machine's executions;
  - who holds the failover lock (--lock-table).

options:
  --plan FILE                the plan (default: the one cdk.json names)
  --bucket NAME              the report bucket (stack output ReportBucketName); without it, no readiness
  --lock-table NAME          the lock table (stack output LockTableName); without it, no lock
  --json                     print it as JSON
${AWS_OPTIONS_HELP}
  -h, --help                 this text

exit codes: 0 ready (or readiness not asked for), 1 the latest evaluation says not ready, or it is stale,
  2 bad usage or an invalid plan, 3 an AWS call or a file read failed`;

const spec = {
  command: 'status',
  options: {
    ...HELP_OPTION,
    plan: { type: 'string' },
    bucket: { type: 'string' },
    'lock-table': { type: 'string' },
    json: { type: 'boolean' },
    region: { type: 'string' },
    endpoint: { type: 'string' },
    profile: { type: 'string' },
  },
  positionals: { min: 0, max: 0, name: '' },
} as const;

const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
/** Executions looked at for the last drill and failover: DescribeExecution each, newest first. */
export const EXECUTIONS_LOOKED_AT = 20;

export interface RunSummary {
  executionArn: string;
  name: string;
  status: string;
  mode: Mode;
  startedAt: string | null;
  endedAt: string | null;
  outcome: RunReport['outcome'] | null;
  recoveryTimeSeconds: number | null;
  targetRtoSeconds: number | null;
  rtoMet: boolean | null;
  approval: string | null;
}

export interface PlanStatus {
  planName: string;
  readiness:
    | { state: 'evaluated'; stale: boolean; evaluation: ReadinessEvaluation }
    | { state: 'not-asked' | 'off' | 'none-yet'; note: string };
  lastDrill: RunSummary | null;
  lastFailover: RunSummary | null;
  lock: { state: 'free' } | { state: 'held'; holder: LockHolder } | { state: 'not-asked'; note: string };
}

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs(spec, argv);
  const out = new Printer(io);
  if (values.help) {
    out.line(help);
    return EXIT.ok;
  }
  if (values.region !== undefined && !REGION.test(values.region)) {
    throw new UsageError(`--region: expected an AWS Region code such as us-west-2, got "${values.region}"`);
  }
  const { path: planPath } = planPathFor(values.plan, io.cwd);
  const plan = loadPlanFile(planPath, io.cwd);
  const region = values.region ?? plan.recoveryRegion;
  const sfn = io.aws.sfn(region, awsTarget('sfn', values, io.env));

  const status: PlanStatus = {
    planName: plan.name,
    readiness: await readinessOf(
      plan,
      values.bucket,
      () => io.aws.s3(region, awsTarget('s3', values, io.env)),
      io.now(),
    ),
    ...(await lastRuns(sfn, stateMachineArnFor(plan, region))),
    lock: values['lock-table']
      ? await lockOf(io, region, values, values['lock-table'], plan.name)
      : {
          state: 'not-asked',
          note: 'give --lock-table (stack output LockTableName) to see who holds the lock',
        },
  };
  if (values.json) out.line(JSON.stringify(status, null, 2));
  else printStatus(out, plan, status);
  const r = status.readiness;
  return r.state === 'evaluated' && (!r.evaluation.ready || r.stale) ? EXIT.runFailed : EXIT.ok;
}

async function readinessOf(
  plan: FailoverPlan,
  bucket: string | undefined,
  s3: () => S3Client,
  now: Date,
): Promise<PlanStatus['readiness']> {
  if (plan.readiness.schedule === READINESS_OFF) {
    return { state: 'off', note: 'the plan has readiness.schedule "off": nothing evaluates it between runs' };
  }
  if (!bucket) {
    return {
      state: 'not-asked',
      note: 'give --bucket (stack output ReportBucketName) to see the latest readiness evaluation',
    };
  }
  const key = readinessKey(plan.name);
  let text: string;
  try {
    const got = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    text = (await got.Body?.transformToString('utf8')) ?? '';
  } catch (error) {
    const name = awsErrorName(error);
    if (name === 'NoSuchKey' || name === 'NotFound') {
      return {
        state: 'none-yet',
        note: `no evaluation at s3://${bucket}/${key} yet (the schedule runs ${plan.readiness.schedule})`,
      };
    }
    if (name === 'NoSuchBucket') {
      throw new ResourceMissingError(`no bucket ${bucket} (see the stack output ReportBucketName)`, {
        cause: error,
      });
    }
    throw toLifeboatError(error, `GetObject s3://${bucket}/${key}`);
  }
  const evaluation = parseJson(text) as ReadinessEvaluation | undefined;
  if (evaluation?.readinessVersion !== 1 || !Array.isArray(evaluation.units)) {
    throw new ResourceMissingError(`s3://${bucket}/${key} is not a lifeboat readiness evaluation`);
  }
  // Three evaluations missed: the schedule or the function is not running, and the figures are old news.
  const age = now.getTime() - Date.parse(evaluation.evaluatedAt);
  const stale = age > 3 * rateSeconds(plan.readiness.schedule) * 1000;
  return { state: 'evaluated', stale, evaluation };
}

async function lastRuns(
  sfn: SFNClient,
  stateMachineArn: string,
): Promise<{ lastDrill: RunSummary | null; lastFailover: RunSummary | null }> {
  let executions: ExecutionListItem[];
  try {
    // Newest first (API_ListExecutions).
    executions =
      (await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: EXECUTIONS_LOOKED_AT })))
        .executions ?? [];
  } catch (error) {
    if (awsErrorName(error) === 'StateMachineDoesNotExist') {
      throw new ResourceMissingError(`no state machine ${stateMachineArn}: is the stack deployed?`, {
        cause: error,
      });
    }
    throw toLifeboatError(error, `ListExecutions of ${stateMachineArn}`);
  }
  let lastDrill: RunSummary | null = null;
  let lastFailover: RunSummary | null = null;
  for (const item of executions) {
    if (lastDrill && lastFailover) break;
    const arn = item.executionArn ?? '';
    let input: unknown;
    try {
      input = parseJson((await sfn.send(new DescribeExecutionCommand({ executionArn: arn }))).input);
    } catch (error) {
      throw toLifeboatError(error, `DescribeExecution of ${arn}`);
    }
    const mode = modeOf(input);
    if (mode === 'dry-run' || (mode === 'drill' && lastDrill) || (mode === 'failover' && lastFailover))
      continue;
    const summary = await summarize(sfn, item, mode);
    if (mode === 'drill') lastDrill = summary;
    else lastFailover = summary;
  }
  return { lastDrill, lastFailover };
}

/** The execution input's mode as LoadPlan reads it: `failover` unless it says otherwise. */
function modeOf(input: unknown): Mode {
  const mode = (input as { mode?: unknown } | undefined)?.mode;
  return mode === 'drill' || mode === 'dry-run' ? mode : 'failover';
}

async function summarize(sfn: SFNClient, item: ExecutionListItem, mode: Mode): Promise<RunSummary> {
  const arn = item.executionArn ?? '';
  const { report, status } = await reportOfExecution(sfn, arn);
  return {
    executionArn: arn,
    name: item.name ?? arn.split(':').at(-1) ?? '',
    status,
    mode,
    startedAt: item.startDate?.toISOString() ?? null,
    endedAt: item.stopDate?.toISOString() ?? null,
    outcome: report?.outcome ?? null,
    recoveryTimeSeconds: report?.recoveryTimeSeconds ?? null,
    targetRtoSeconds: report?.targetRtoSeconds ?? null,
    rtoMet: report?.rtoMet ?? null,
    approval: report?.approval ? describeApproval(report.approval) : null,
  };
}

async function lockOf(
  io: CliIo,
  region: string,
  values: { endpoint?: string | undefined; profile?: string | undefined },
  tableName: string,
  planName: string,
): Promise<PlanStatus['lock']> {
  const dynamodb = io.aws.dynamodb(region, awsTarget('dynamodb', values, io.env));
  const holder = await readLock({ dynamodb }, tableName, planName);
  return holder ? { state: 'held', holder } : { state: 'free' };
}

const pad = (text: string, width: number) => (text.length >= width ? `${text} ` : text.padEnd(width));

function printStatus(out: Printer, plan: FailoverPlan, status: PlanStatus): void {
  out.line(
    `lifeboat status: plan ${plan.name} (${plan.primaryRegion} -> ${plan.recoveryRegion}), target RTO ${formatDuration(plan.targetRtoSeconds * 1000)}`,
  );
  const r = status.readiness;
  if (r.state !== 'evaluated') out.line(`readiness: ${r.note}`);
  else {
    const e = r.evaluation;
    const verdict = e.ready ? out.green('READY') : out.red('NOT READY');
    out.line(
      `readiness: ${verdict} (evaluated ${e.evaluatedAt} in ${formatDuration(e.durationMs)}${r.stale ? `; ${out.yellow('STALE: no evaluation since, is the schedule running?')}` : ''})`,
    );
    out.line(
      `  ${pad('unit', 16)}${READINESS_CHECKS.map((c) => pad(c, 10)).join('')}${pad('lag', 8)}secret replication`,
    );
    for (const u of e.units) {
      const cells = READINESS_CHECKS.map((c) => {
        const ready = u.checks[c].ready;
        return pad(ready === null ? '?' : ready ? 'ok' : 'NOT', 10);
      });
      out.line(
        `  ${pad(u.unit, 16)}${cells.join('')}${pad(u.replicaLagSeconds === null ? '-' : `${u.replicaLagSeconds}s`, 8)}${u.secretReplicationStatus ?? '-'}`,
      );
      if (u.error) out.line(`    ${u.error}`);
      for (const c of READINESS_CHECKS) {
        for (const p of u.checks[c].problems) out.line(`    ${p.check}: ${p.message}`);
      }
    }
    const silent = e.functions.notAnswering;
    out.line(
      silent.length === 0
        ? `  functions: all ${e.functions.pinged} answered the warm ping`
        : `  functions not answering the warm ping: ${silent.map((f) => `${f.name} (${f.error ?? 'no answer'}${f.wasNotReady ? ', was not ready: re-activating' : ''})`).join(', ')}`,
    );
  }
  out.line(`last drill:    ${describeRun(status.lastDrill, 'drill')}`);
  out.line(`last failover: ${describeRun(status.lastFailover, 'failover')}`);
  const lock = status.lock;
  out.line(
    `lock:          ${
      lock.state === 'free'
        ? 'free'
        : lock.state === 'held'
          ? `held by ${lock.holder.holder}${lock.holder.mode ? ` (${lock.holder.mode})` : ''}${lock.holder.acquiredAt ? ` since ${lock.holder.acquiredAt}` : ''}${lock.holder.executionArn ? `, execution ${lock.holder.executionArn}` : ''}`
          : lock.note
    }`,
  );
}

function describeRun(run: RunSummary | null, what: string): string {
  if (!run) return `none among the last ${EXECUTIONS_LOOKED_AT} executions`;
  const parts = [`${run.name} ${run.status}`];
  if (run.endedAt) parts.push(`ended ${run.endedAt}`);
  else if (run.startedAt) parts.push(`started ${run.startedAt}`);
  if (run.recoveryTimeSeconds !== null) {
    const target =
      run.targetRtoSeconds !== null
        ? ` against ${formatDuration(run.targetRtoSeconds * 1000)}: ${run.rtoMet ? 'met' : 'NOT met'}`
        : '';
    parts.push(`recovery time ${formatDuration(run.recoveryTimeSeconds * 1000)}${target}`);
  } else if (run.status !== 'RUNNING') parts.push(`no recovery time (the ${what} did not verify every unit)`);
  if (run.approval) parts.push(run.approval);
  return parts.join(', ');
}
