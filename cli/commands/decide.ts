import type { ApprovalRecord } from '../../functions/lib/approval.js';
import { callerIdentity, findWaitingApproval, sendDecision } from '../approval.js';
import { UsageError } from '../args.js';
import { executionConsoleUrl, parseExecutionArn } from '../aws.js';
import { awsTarget, type CliIo, EXIT, Printer } from '../io.js';

export interface DecisionOptions {
  readonly executionArn: string | undefined;
  readonly decision: ApprovalRecord['decision'];
  readonly reason: string | undefined;
  readonly yes: boolean;
  readonly region: string | undefined;
  readonly endpoint: string | undefined;
  readonly profile: string | undefined;
}

const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
/** SendTaskFailure's cause holds at most 32,768 characters, with who and when in front. */
const MAX_REASON = 4096;

/**
 * `lifeboat approve` and `lifeboat reject` (docs/design/approval.md): finds the approval the execution waits for in its
 * history, asks the operator to type the plan's name (or takes --yes), records who (STS GetCallerIdentity) and when,
 * and sends the decision with the task token, which is never printed.
 */
export async function decide(options: DecisionOptions, io: CliIo): Promise<number> {
  const out = new Printer(io);
  const err = new Printer(io, 'stderr');
  const verb = options.decision === 'approved' ? 'approve' : 'reject';
  if (options.executionArn === undefined)
    throw new UsageError(`the execution ARN is missing (see lifeboat ${verb} --help)`);
  const arn = parseExecutionArn(options.executionArn);
  if (options.region !== undefined && !REGION.test(options.region)) {
    throw new UsageError(`--region: expected an AWS Region code such as us-west-2, got "${options.region}"`);
  }
  const reason = options.reason?.trim();
  if (options.decision === 'rejected' && !reason) {
    throw new UsageError('--reason is required: the report says why the failover was rejected');
  }
  if (reason !== undefined && reason.length > MAX_REASON) {
    throw new UsageError(`--reason: at most ${MAX_REASON} characters, got ${reason.length}`);
  }
  if (!options.yes && !io.stdin.isTTY) {
    throw new UsageError(
      `stdin is not a terminal to confirm it: add --yes to ${verb} ${arn.arn} (nothing was sent)`,
    );
  }
  const region = options.region ?? arn.region;
  const values = { endpoint: options.endpoint, profile: options.profile };
  const sfn = io.aws.sfn(region, awsTarget('sfn', values, io.env));

  const waiting = await findWaitingApproval(sfn, arn.arn);
  if (!waiting) {
    err.line(
      `lifeboat ${verb}: ${arn.arn} is not waiting for approval (it was not started by an alarm, was answered, timed out or ended); see lifeboat watch ${arn.arn}`,
    );
    return EXIT.unavailable;
  }
  const planName = arn.planName ?? waiting.planName ?? arn.stateMachineName;
  err.line(
    err.bold(
      `${arn.arn} waits for approval to FAIL OVER plan ${planName}${waiting.units.length ? `: ${waiting.units.join(', ')}` : ''}.`,
    ),
  );
  if (waiting.askedAt) err.line(`asked at ${waiting.askedAt.toISOString()}`);
  for (const warning of waiting.preflightWarnings) err.line(err.yellow(`preflight warning: ${warning}`));
  if (!options.yes) {
    const what = options.decision === 'approved' ? 'approve the failover' : 'reject the failover';
    const answer = await io.prompt(`Type the plan name (${planName}) to ${what}: `);
    if (answer.trim() !== planName) {
      err.line('Not confirmed: nothing was sent.');
      return EXIT.runFailed;
    }
  }

  const by = await callerIdentity(io.aws.sts(region, awsTarget('sts', values, io.env)));
  const record: ApprovalRecord = {
    decision: options.decision,
    by,
    at: io.now().toISOString(),
    ...(reason ? { reason } : {}),
  };
  await sendDecision(sfn, arn.arn, waiting.taskToken, record);
  out.line(
    options.decision === 'approved'
      ? `approved by ${by} at ${record.at}: the failover of ${planName} goes on`
      : `rejected by ${by} at ${record.at}: the run ends, reported (${reason})`,
  );
  out.line(`console:   ${executionConsoleUrl(arn.arn)}`);
  out.line(`follow:    lifeboat watch ${arn.arn}`);
  return EXIT.ok;
}
