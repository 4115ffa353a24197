import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { Route53Client } from '@aws-sdk/client-route-53';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { checkAuroraReadiness } from './aurora/preflight.js';
import { checkDatabaseReadiness } from './database.js';
import { checkDnsReadiness } from './dns/update.js';
import { type ZoneRecordReader, zoneRecordReader } from './dns/zone-records.js';
import { timeoutScale } from './env.js';
import { isTransientAwsError, PreflightFailedError, TransientAwsError, toLifeboatError } from './errors.js';
import type { UnitPlan } from './plan.js';
import { isAuroraUnit } from './plan-names.js';
import { prefetchFleetReads, readKey } from './preflight-fleet.js';
import { checkReprotectReadiness, reprotectDeps } from './reprotect/reprotect.js';
import { checkRotationReadiness, checkSecretReadiness } from './secret/preflight.js';
import { auroraSwitchoverChecks, checkSwitchoverReadiness, switchoverDeps } from './switchover/preflight.js';
import type { DetailValue, PreflightCheck, PreflightReport, RunContext } from './types.js';

export interface PreflightDeps {
  secretsManager: SecretsManagerClient;
  lambda: LambdaClient;
  rds: RDSClient;
  route53: Route53Client;
  cloudwatch: CloudWatchClient;
}

export interface PreflightEvent {
  run: RunContext;
  units: UnitPlan[];
}

/** What the preflight reads once for every unit, beside the coalesced clients (docs/design/fleet.md, "Preflight"). */
interface SharedReads {
  readonly zoneRecords: ZoneRecordReader;
  /** A replica's lag as read for the whole fleet; undefined when it was not (then the unit reads its own). */
  readonly replicaLag: (instanceId: string) => { readonly lag: number | undefined } | undefined;
}

type Check = (
  deps: PreflightDeps,
  input: { run: RunContext; unit: UnitPlan },
  reads: SharedReads,
) => Promise<PreflightCheck[]>;

/**
 * What a concern's check does when it has not answered by its deadline:
 * - `warning`: a finding of severity warning. For what a disaster causes: Route 53's control plane is served from
 *   us-east-1, which may be the impaired Region (its checks already treat a transient failure the same way);
 * - `retry`: a TransientAwsError, as for a transient failure of the recovery Region's own services (the state machine
 *   retries the preflight, within its bounded policy): the failover's steps need them to answer.
 */
type OnDeadline = 'warning' | 'retry';

interface Concern {
  readonly concern: string;
  readonly check: Check;
  readonly onDeadline: OnDeadline;
  /** What did not answer, for the message. */
  readonly service: string;
}

/** Each concern's read-only checks, owned by the module of the step they protect. */
const CHECKS: readonly Concern[] = [
  { concern: 'secret', check: checkSecretReadiness, onDeadline: 'retry', service: 'Secrets Manager' },
  { concern: 'rotation', check: checkRotationReadiness, onDeadline: 'retry', service: 'Lambda' },
  {
    concern: 'database',
    // An Aurora unit's clusters and global cluster (functions/lib/aurora/preflight.ts).
    check: (deps, input, reads) =>
      isAuroraUnit(input.unit)
        ? checkAuroraReadiness(
            // Named, not spread: the step's clients are made on first use, and a spread would make every one,
            // also those its bundle leaves out (functions/lib/sdk/).
            {
              rds: deps.rds,
              cloudwatch: deps.cloudwatch,
              primaryRds: () => switchoverDeps(input.run).primaryRds,
            },
            { ...input, unit: input.unit },
          )
        : checkDatabaseReadiness(
            new Proxy(deps, {
              get: (target, property, receiver) =>
                property === 'knownReplicaLag' ? reads.replicaLag : Reflect.get(target, property, receiver),
            }) as PreflightDeps & { knownReplicaLag: SharedReads['replicaLag'] },
            input,
          ),
    onDeadline: 'retry',
    service: 'RDS or CloudWatch',
  },
  {
    concern: 'dns',
    // The units' records from one listing of their zone when they share it (functions/lib/dns/zone-records.ts).
    check: (deps, input, reads) =>
      checkDnsReadiness(
        new Proxy(deps, {
          get: (target, property, receiver) =>
            property === 'zoneRecords' ? reads.zoneRecords : Reflect.get(target, property, receiver),
        }) as PreflightDeps & { zoneRecords: ZoneRecordReader },
        input,
      ),
    onDeadline: 'warning',
    service: 'the Route 53 control plane',
  },
  // Mode reprotect only (none otherwise): the old Region must answer, the old primary be renamable (docs/design/reprotect.md).
  {
    concern: 'reprotect',
    check: (_deps, input) => checkReprotectReadiness(reprotectDeps(input.run), input),
    onDeadline: 'retry',
    service: 'RDS in the old Region',
  },
  // Mode switchover only (none otherwise): the primary healthy, reachable and writable (docs/design/switchover.md).
  {
    concern: 'switchover',
    // Aurora: a global database switches over with its own managed call (its checks are the database concern's); a
    // replica cluster unit's switchover is refused (functions/lib/switchover/preflight.ts, auroraSwitchoverChecks).
    check: (_deps, input) =>
      isAuroraUnit(input.unit)
        ? Promise.resolve(auroraSwitchoverChecks(input))
        : checkSwitchoverReadiness(switchoverDeps(input.run), input),
    onDeadline: 'retry',
    service: 'RDS or the database in the primary Region',
  },
];

/**
 * How long one concern's checks of one unit may take, in ms before `LIFEBOAT_TIMEOUT_SCALE`: longer than one SDK call
 * that never answers (the slowest client gives up after sdkCallBudgetMs('route53') = 43 s, and then the check reports
 * it itself, naming the call), short enough that preflight ends well within its 2-minute Lambda timeout
 * (infra/constructs/orchestrator.ts) whatever hangs. docs/design/timeouts.md, "Preflight".
 */
export const PREFLIGHT_CHECK_DEADLINE_MS = 45_000;

/**
 * Units checked at once. Each unit's concerns make about ten calls together; 500 units at once were thousands of
 * requests in flight from one Lambda, queued behind the SDK's sockets (50 per client by default) until their own
 * client timeouts ran out: the bench's 500-unit preflight stopped on TimeoutErrors of DescribeSecret with no call
 * throttled (docs/design/fleet.md, "Preflight"). 25 units keep each client under its sockets; the shared reads
 * (coalescedReads) make the later units' zone and function reads free. A unit's deadline starts when its checks do.
 */
export const PREFLIGHT_UNIT_CONCURRENCY = 25;

/** `work` over `items`, at most `limit` at once, results in the items' order; the first failure rejects. */
async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    // After a failure (the preflight is retried whole) no further unit starts.
    while (next < items.length && !failed) {
      const index = next;
      next += 1;
      try {
        results[index] = await work(items[index] as T);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

class DeadlinePassed extends Error {
  override readonly name = 'DeadlinePassed';
}

/** Runs `check`, giving up after `deadlineMs` (the check's calls then end on their own client timeouts). */
async function withinDeadline<T>(work: Promise<T>, deadlineMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlinePassed()), deadlineMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Checks every unit, every concern, concurrently, and changes nothing. A check that cannot run because of a
 * transient AWS error is thrown (the state machine retries); one that fails for another reason becomes an
 * error-severity finding so that every problem is listed at once. Each concern of each unit has a deadline
 * (PREFLIGHT_CHECK_DEADLINE_MS), so preflight returns in bounded time whatever does not answer (see OnDeadline).
 *
 * Severity policy: configuration problems are errors and block every mode. Conditions that a
 * disaster causes (replication not InSync, lag unknown, Route 53's control plane not answering) are warnings: a
 * failover goes on, a drill — which must not run on a replica that is not healthy — treats them as errors, except the
 * advice informationalInDrill lists.
 */
export async function runPreflight(
  deps: PreflightDeps,
  event: PreflightEvent,
  now: () => Date = () => new Date(),
  deadlineMs: number = PREFLIGHT_CHECK_DEADLINE_MS * timeoutScale(),
): Promise<PreflightReport> {
  const started = now();
  const answers = new Map<string, Promise<unknown>>();
  const shared = coalescedReads(deps, answers);
  // The fleet's replicas and their lags, read together before the units' checks (functions/lib/preflight-fleet.ts).
  const fleet = await prefetchFleetReads(shared, event.units, answers, started);
  const reads: SharedReads = {
    zoneRecords: zoneRecordReader(
      () => shared.route53,
      event.units.map((u) => u.dns.hostedZoneId),
    ),
    replicaLag: fleet.replicaLag,
  };
  const perUnit = await mapBounded(event.units, PREFLIGHT_UNIT_CONCURRENCY, async (unit) => {
    const results = await Promise.all(
      CHECKS.map(async ({ concern, check, onDeadline, service }) => {
        try {
          return await withinDeadline(check(shared, { run: event.run, unit }, reads), deadlineMs);
        } catch (error) {
          if (error instanceof DeadlinePassed) {
            const what = `${service} did not answer within ${formatSeconds(deadlineMs)} s`;
            if (onDeadline === 'retry') {
              throw new TransientAwsError(`preflight ${concern} check of ${unit.name}: ${what}`);
            }
            return [
              {
                unit: unit.name,
                check: `${concern}.deadline`,
                ok: false,
                severity: 'warning',
                message: `${what}; could not check ${concern} (a disaster can cause this: the failover goes on, and the step that needs it retries within a bounded time)`,
              },
            ] satisfies PreflightCheck[];
          }
          if (isTransientAwsError(error))
            throw toLifeboatError(error, `preflight ${concern} check of ${unit.name}`);
          const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          return [
            {
              unit: unit.name,
              check: concern,
              ok: false,
              severity: 'error',
              message: `could not check: ${message}`,
            },
          ] satisfies PreflightCheck[];
        }
      }),
    );
    return results.flat();
  });
  const checks = perUnit.flat();
  const strict = event.run.mode === 'drill';
  const errors: string[] = [];
  const warnings: string[] = [];
  const readiness: Record<string, Record<string, DetailValue>> = {};
  for (const unit of event.units) readiness[unit.name] = {};
  for (const c of checks) {
    if (c.figures) Object.assign(readiness[c.unit] ?? {}, c.figures);
  }
  for (const c of checks) {
    if (c.ok) continue;
    const line = `${c.unit}: ${c.check}: ${c.message}`;
    if (c.severity === 'error') errors.push(line);
    else if (!strict || informationalInDrill(c, readiness[c.unit] ?? {})) warnings.push(line);
    else errors.push(`${line}${ALREADY_FAILED_OVER.has(c.check) ? DRILL_NEEDS_A_REPLICA : ''}`);
  }
  const ended = now();
  return {
    ok: errors.length === 0,
    checkedAt: started.toISOString(),
    durationMs: ended.getTime() - started.getTime(),
    checks,
    errors,
    warnings,
    readiness,
  };
}

/** Warnings that mean production's replica is gone, i.e. the plan has been failed over: a drill has nothing to copy. */
const ALREADY_FAILED_OVER = new Set(['database.replica-source', 'secret.replica']);
const DRILL_NEEDS_A_REPLICA =
  ' (a drill copies the live production replica: the plan looks failed over already, so the drill cannot run)';

/**
 * Warnings that stay warnings in a drill, because they say nothing about whether the drill can run:
 * - the production replica's automated backups: advice for a real failover (its promotion would take a backup
 *   first); a drill promotes a new copy, never the production replica.
 * - the production record's TTL against the target RTO: advice for the operator; a drill measures its own copy.
 * A replication status the replica side does not report is no warning at all (functions/lib/secret/preflight.ts,
 * checkSecretReadiness, reads what the recovery Region shows instead), so a status the replica side does report as
 * not InSync, or a replica holding no current version, stops a drill as any unhealthy replica does.
 */
export function informationalInDrill(check: PreflightCheck, _figures: Record<string, DetailValue>): boolean {
  // The live record's TTL against the RTO (functions/lib/verify/budget.ts, liveTtlCheck): advice; a drill measures it.
  return check.check === 'database.replica-backups' || check.check === 'dns.ttl';
}

/** Throws PreflightFailedError listing every blocking problem; returns the report otherwise. */
export function assertPreflightPassed(report: PreflightReport): PreflightReport {
  if (report.ok) return report;
  throw new PreflightFailedError(
    `preflight found ${report.errors.length} problem(s); nothing was changed:\n  - ${report.errors.join('\n  - ')}`,
    report.errors,
  );
}

/**
 * The preflight report as the state machine keeps it (`$.preflight`), within `budgetBytes` of the 256 KiB state: whole
 * when it fits; else only the failed checks; else no checks and no readiness figures; else the warnings cut short with
 * a count. The
 * preflight function logs every error and warning either way.
 */
export function preflightForState(report: PreflightReport, budgetBytes: number): PreflightReport {
  const size = (r: PreflightReport) => Buffer.byteLength(JSON.stringify(r), 'utf8');
  if (size(report) <= budgetBytes) return report;
  const failedOnly: PreflightReport = {
    ...report,
    checks: report.checks.filter((c) => !c.ok).map(({ figures: _figures, ...check }) => check),
  };
  if (size(failedOnly) <= budgetBytes) return failedOnly;
  const bare: PreflightReport = { ...report, checks: [], readiness: {} };
  if (size(bare) <= budgetBytes) return bare;
  const warnings: string[] = [];
  const kept = { ...bare, warnings };
  for (const [i, warning] of report.warnings.entries()) {
    warnings.push(warning);
    if (size(kept) > budgetBytes - 200) {
      warnings.pop();
      warnings.push(`… and ${report.warnings.length - i} more warnings (see the preflight log)`);
      break;
    }
  }
  return kept;
}

/** The reads of an SDK client: the actions preflight makes, none of which changes anything. */
const READ_ACTION = /^(Get|List|Describe)[A-Za-z]+Command$/;

interface Sender {
  send(command: { readonly input: unknown }, ...rest: unknown[]): Promise<unknown>;
}

/**
 * The preflight's clients, each identical read made once per preflight (docs/design/fleet.md, "Preflight"). The units
 * of a fleet share hosted zones and rotation functions: without this, every unit asked Route 53 for the same zone and
 * Lambda for the same function and policy, and 500 units ran into those services' request rates before anything had
 * changed. Reads only (Get*, List*, Describe*), keyed by the action and its whole input, for the one invocation:
 * a read that failed is forgotten, so the next unit asks again.
 */
export function coalescedReads(
  deps: PreflightDeps,
  answers: Map<string, Promise<unknown>> = new Map(),
): PreflightDeps {
  const wrap = <C extends object>(client: C): C =>
    new Proxy(client, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (property !== 'send' || typeof value !== 'function') return value;
        const send = (value as Sender['send']).bind(target);
        return (command: { readonly input: unknown }, ...rest: unknown[]) => {
          const action = (command as object).constructor.name;
          // A call with options (an abort signal, a callback) is its caller's own: not shared.
          if (!READ_ACTION.test(action) || rest.length > 0) return send(command, ...rest);
          const key = readKey(action, command.input);
          let answer = answers.get(key);
          if (answer === undefined) {
            // A promise whatever the client returns (a stand-in may answer at once, or throw).
            answer = Promise.resolve().then(() => send(command));
            answers.set(key, answer);
            answer.catch(() => answers.delete(key));
          }
          return answer;
        };
      },
    });
  // Made on first use, as the step's own clients are (its bundle holds only the clients it calls: functions/lib/sdk/);
  // whatever else the caller passes (a clock) goes through as it is.
  const made = new Map<PropertyKey, unknown>();
  return new Proxy(deps, {
    get(target, property, receiver) {
      if (!CLIENT_KEYS.has(property)) return Reflect.get(target, property, receiver);
      if (!made.has(property)) made.set(property, wrap(Reflect.get(target, property, receiver) as object));
      return made.get(property);
    },
  });
}

const CLIENT_KEYS: ReadonlySet<PropertyKey> = new Set<keyof PreflightDeps>([
  'secretsManager',
  'lambda',
  'rds',
  'route53',
  'cloudwatch',
]);

function formatSeconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}
