import { type ExecutionListItem, ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { awsErrorName, ResourceMissingError, toLifeboatError } from '../../functions/lib/errors.js';
import { type RunReport, renderReportText, reportKeys } from '../../functions/lib/report/index.js';
import { loadPlanFile } from '../../infra/plan-file.js';
import { HELP_OPTION, parseCommandArgs, UsageError } from '../args.js';
import { parseExecutionArn, reportFromS3, reportOfExecution, stateMachineArnFor } from '../aws.js';
import { AWS_OPTIONS_HELP, awsTarget, type CliIo, EXIT, Printer } from '../io.js';
import { planPathFor } from '../plan-path.js';

export const help = `usage: lifeboat report <executionArn> [options]
       lifeboat report --latest [--plan FILE] [--bucket NAME] [options]

Prints a run report with its timeline. The report is the execution's output; a failed execution has no output, so
it is read from the execution's history (or, with --bucket, from S3). --latest prints the plan's latest report:
reports/<plan>/latest.json in the report bucket with --bucket, else the newest finished execution's.

options:
  --latest                   the latest report of the plan instead of one execution's
  --plan FILE                with --latest: the plan, JSON or YAML (default: the plan cdk.json names)
  --bucket NAME              the report bucket (the stack output ReportBucketName)
  --json                     print the report as JSON
${AWS_OPTIONS_HELP}
                             (--region default: the execution's, or the plan's recovery Region)
  -h, --help                 this text

exit codes: 0 the report says the run succeeded, 1 it says the run failed (or there is no report yet),
  2 bad usage, 3 an AWS call or a file read failed (no such execution or report, no credentials)`;

const spec = {
  command: 'report',
  options: {
    ...HELP_OPTION,
    latest: { type: 'boolean' },
    plan: { type: 'string' },
    bucket: { type: 'string' },
    json: { type: 'boolean' },
    region: { type: 'string' },
    profile: { type: 'string' },
    endpoint: { type: 'string' },
  },
  positionals: { min: 0, max: 1, name: 'execution ARN' },
} as const;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs(spec, argv);
  const out = new Printer(io);
  if (values.help) {
    out.line(help);
    return EXIT.ok;
  }
  const sfnTarget = awsTarget('sfn', values, io.env);
  const s3Target = awsTarget('s3', values, io.env);
  const given = positionals[0];
  if (given !== undefined && values.latest) {
    throw new UsageError('give an execution ARN or --latest, not both');
  }
  if (given === undefined && !values.latest) {
    throw new UsageError('the execution ARN is missing (or use --latest; see lifeboat report --help)');
  }
  if (values.plan !== undefined && !values.latest) {
    throw new UsageError('--plan goes with --latest (an execution ARN already names its plan)');
  }

  let report: RunReport | undefined;
  let note: string | undefined;
  if (given !== undefined) {
    const arn = parseExecutionArn(given);
    const region = values.region ?? arn.region;
    const found = await reportOfExecution(io.aws.sfn(region, sfnTarget), arn.arn);
    report = found.report;
    if (!report && found.status === 'RUNNING') {
      new Printer(io, 'stderr').line(
        `lifeboat report: ${arn.arn} is still running; follow it with lifeboat watch ${arn.arn}`,
      );
      return EXIT.runFailed;
    }
    if (!report && values.bucket && arn.planName) {
      const key = reportKeys({ planName: arn.planName, runId: arn.name }).run;
      report = await reportFromS3(io.aws.s3(region, s3Target), values.bucket, key);
    }
    if (!report) {
      const e = found.execution;
      new Printer(io, 'stderr').line(
        `lifeboat report: the execution ${found.status} without a report${e.error ? `: ${e.error}` : ''}${
          e.cause ? `: ${e.cause}` : ''
        }`,
      );
      return EXIT.runFailed;
    }
    note = `from ${found.source} of ${arn.arn}`;
  } else {
    const { path: planPath } = planPathFor(values.plan, io.cwd);
    const plan = loadPlanFile(planPath, io.cwd);
    const region = values.region ?? plan.recoveryRegion;
    if (values.bucket) {
      const key = reportKeys({ planName: plan.name, runId: 'latest' }).latest;
      report = await reportFromS3(io.aws.s3(region, s3Target), values.bucket, key);
      note = `from s3://${values.bucket}/${key}`;
    } else {
      const sfn = io.aws.sfn(region, sfnTarget);
      const stateMachineArn = stateMachineArnFor(plan, region);
      const latest = await latestFinishedExecution(sfn, stateMachineArn);
      const found = await reportOfExecution(sfn, latest);
      if (!found.report) {
        throw new ResourceMissingError(
          `the latest finished execution ${latest} (${found.status}) has no report`,
        );
      }
      report = found.report;
      note = `from ${found.source} of ${latest}`;
    }
  }

  if (values.json) {
    out.line(JSON.stringify(report, null, 2));
  } else {
    out.line(out.dim(`(${note})`));
    out.line(renderReportText(report));
  }
  return report.outcome === 'succeeded' ? EXIT.ok : EXIT.runFailed;
}

/** ListExecutions returns the newest first; the first one that has ended is the latest run with a report. */
async function latestFinishedExecution(
  sfn: ReturnType<CliIo['aws']['sfn']>,
  stateMachineArn: string,
): Promise<string> {
  let nextToken: string | undefined;
  let pages = 0;
  do {
    let page: { executions?: ExecutionListItem[]; nextToken?: string };
    try {
      page = await sfn.send(
        new ListExecutionsCommand({ stateMachineArn, maxResults: 100, ...(nextToken ? { nextToken } : {}) }),
      );
    } catch (error) {
      if (awsErrorName(error) === 'StateMachineDoesNotExist') {
        throw new ResourceMissingError(`no state machine ${stateMachineArn}: is the stack deployed?`, {
          cause: error,
        });
      }
      throw toLifeboatError(error, `ListExecutions of ${stateMachineArn}`);
    }
    const finished = (page.executions ?? []).find((e) => e.status !== 'RUNNING' && e.executionArn);
    if (finished?.executionArn) return finished.executionArn;
    nextToken = page.nextToken;
    pages += 1;
  } while (nextToken && pages < 10);
  throw new ResourceMissingError(`${stateMachineArn} has no finished execution yet`);
}
