import type { BundleMeasure } from './bundles.js';
import type { DrillRun } from './drill.js';
import type { Machine } from './machine.js';
import { renderSwitchover } from './render-switchover.js';
import type { LagSweep, PromotionPhases } from './schedules.js';
import { max, median, min, round, spread } from './stats.js';
import type { SwitchoverBench } from './switchover.js';

/** The benchmark's results (bench/results.json) and their rendering as bench/results.md. */

export interface Target {
  target: string;
  met: string;
  figure: string;
  why: string;
}

export interface ScaleRow {
  units: number;
  maxConcurrency: number;
  whatIf: boolean;
  runs: number;
  wallMs: number[];
  /** Whether every selected unit failed over, per run. */
  complete: boolean[];
  /** Each run's wall time over the 1-unit median. */
  ratios: number[];
  /** Median over the complete runs (NaN when none was). */
  ratioToOneUnit: number;
  statuses: string[];
  /** The executions' errors, shortened. */
  errors: string[];
  unitsFailed: number[];
  failures: string[];
  throttledCalls: number[];
  throttledByAction: Record<string, number>;
  /** API calls per unit by service:action, the median over the runs (absent in results written before it). */
  callsPerUnitByAction?: Record<string, number>;
  stepErrors: number[];
  stepErrorsByKind: Record<string, number>;
  totalCalls: number[];
  transitions: number[];
  invocations: number[];
  unitRecoveryMedianSeconds: number[];
  unitRecoveryMaxSeconds: number[];
  eventLoopUtilization: number[];
  /** API calls of the run over its units, per run. */
  callsPerUnit: number[];
  /** Per asynchronous operation, over every unit of every run: emulated seconds (bench/scenario.ts). */
  detectionLag: { promotion: LagFigures; dns: LagFigures; dnsQueue?: LagFigures };
}

export interface LagFigures {
  max: number;
  p95: number;
  n: number;
}

interface OpDetection {
  lifeboatScheduleLag: number;
  lifeboatPolls: number;
  lifeboatMeasuredLag: number[];
  drfLag: number;
  drfPolls: number;
}

export interface BenchResults {
  machine: Machine;
  /** Sections measured again alone (`--only`) after the full run: section → when, at which commit and load. */
  remeasured?: Record<string, string>;
  settings: {
    plan: string;
    oneUnitTimeFactor: number;
    scaleTimeFactor: number;
    slowSecretSeconds: number;
    reps: number;
    scaleReps: number;
    scale100Reps: number;
    drillRuns: number;
    uncachedDrillRuns: number;
    importRuns: number;
    planMaxConcurrency: number;
  };
  benchSeconds?: number;
  targets: Target[];
  bundles?: BundleMeasure[];
  overhead?: {
    emulated: { phases: PromotionPhases; databaseSeconds: number; dnsSeconds: number };
    pollStepSeconds: number;
    /** Compute outside the poll loops (the part not hidden behind an AWS operation), per run. */
    warmComputeMs: number[];
    /** All compute on the critical path, poll loops included, per run. */
    warmComputeAllMs: number[];
    loopsMs: { database: number; dns: number }[];
    coldComputeEstimateMs: number;
    importOnPathMs: number;
    importOnPathMinMs: number;
    detection: { database: OpDetection; dns: OpDetection };
    sweeps: { database: LagSweep; dns: LagSweep };
    totals: { lifeboatWarm: number; lifeboatCold: number; drfWarm: number };
    transitions: number[];
    invocations: number[];
    wallMs: number[];
    stepMs: Record<string, { count: number; totalMs: number }>;
    eventLoopUtilization: number[];
  };
  criticalPath?: {
    secretSeconds: number;
    databaseSeconds: number;
    timeFactor: number;
    parallelPhaseMs: number[];
    sequentialPhaseMs: number[];
    secretStepMs: number[];
    ratios: number[];
    differencesEmulatedSeconds: number[];
  };
  scale?: {
    timeFactor: number;
    rows: ScaleRow[];
    /** The machine's 1-minute load average when the scale section started and ended (other work included). */
    loadAverage?: { start: number; end: number };
    limits: { name: string; capacity: number; refillPerSecond: number; source: string }[];
    synthesisSeconds: number;
  };
  drill?: { cached: DrillRun[]; uncached: DrillRun[] };
  /** bench/switchover.ts */
  switchover?: SwitchoverBench;
}

const s = (ms: number, digits = 2) => (ms / 1000).toFixed(digits);
const kib = (bytes: number) => (bytes / 1024).toFixed(0);

function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) =>
    `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

export function renderMarkdown(r: BenchResults): string {
  const m = r.machine;
  const out: string[] = [];
  const p = (text = '') => out.push(text);
  p('# lifeboat benchmark results');
  p();
  p(
    `Written by \`npm run bench\` (\`tsx bench/run.ts\`) on ${m.date}, in ${r.benchSeconds ?? '?'} s. Figures are as measured on this machine, met or not; timings on a shared 2-core machine are noisy, so each is the median of repeated runs (min–max and n beside it) and ratios are taken within one benchmark run.`,
  );
  if (r.remeasured && Object.keys(r.remeasured).length) {
    p();
    p(
      `Measured again alone since (\`--only\`), the other sections as the full run wrote them: ${Object.entries(
        r.remeasured,
      )
        .map(([section, when]) => `${section} (${when})`)
        .join('; ')}.`,
    );
  }
  p();
  p(
    table(
      ['machine', 'versions'],
      [
        [`CPU: ${m.cpuModel}, ${m.cores} cores`, `node ${m.node} (Lambda runs Node 22 ARM64)`],
        [`memory: ${m.memoryGiB} GiB, ${m.platform}`, `aws-cdk-lib ${m.awsCdkLib}, esbuild ${m.esbuild}`],
        [
          `load average (1 min): ${m.loadAverage.start.toFixed(2)} at start, ${m.loadAverage.end?.toFixed(2) ?? '?'} at end`,
          `aws-local-stepfunctions ${m.awsLocalStepFunctions}`,
        ],
        [
          `commit ${m.gitCommit}${m.gitDirty ? ' (with uncommitted changes to the product code)' : ''}`,
          m.postgres,
        ],
      ],
    ),
  );
  p();
  p('## How to read these figures');
  p();
  p(
    `- **Emulated time.** The proving ground runs AWS's asynchronous work at a time factor f: an operation of d emulated (AWS) seconds takes d·f real seconds, and the state machine's Wait states and retry pauses are scaled the same way. One-unit runs use f = ${r.settings.oneUnitTimeFactor}, scale runs f = ${r.settings.scaleTimeFactor}. Emulated durations: RDS promotion ${r.overhead ? `${r.overhead.emulated.phases.startSeconds} s before it starts + ${r.overhead.emulated.phases.modifyingSeconds} s modifying + ${r.overhead.emulated.phases.rebootingSeconds} s rebooting = ${r.overhead.emulated.databaseSeconds} s` : '(not run)'}, Route 53 change ${r.overhead?.emulated.dnsSeconds ?? '?'} s to INSYNC (the emulator's defaults).`,
  );
  p(
    '- **Compute** is real local time that is not an emulated wait: the bundled handlers (as deployed), their calls to the in-process emulator (DynamoDB and S3 are dynalite and s3rver, slower than the services they stand for), and the aws-local-stepfunctions engine. The overhead counts the compute outside the two poll loops: wall time minus the loops (from the step that starts the operation to the poll that sees it done) and minus retry pauses. In a deployed run each loop lasts the AWS operation plus its detection lag, and the compute of the polls runs while AWS is still working; it enters the overhead through the per-poll drift of the schedule. A deployed run adds what the emulator does not have: AWS API round trips, Step Functions transition latency and Lambda INIT beyond module loading.',
  );
  p(
    '- **Detection lag** (emulated seconds) is the time from an asynchronous operation\'s true completion to the poll that sees it. "Schedule" derives it from the poll schedule (each poll\'s requested wait plus the measured per-poll compute) for the emulated durations; "measured" is (the done poll\'s API call − the true completion in the emulator) / f from the call log, where local compute between polls counts 1/f times.',
  );
  p(
    '- **DR Orchestrator Framework schedule**: a fixed 60 s sleep after the call, then a poll every 15 s (docs/design.md, "Comparison points"). It polls databases only; for DNS the same schedule is applied so that like is compared with like.',
  );
  p();

  p('## Targets');
  p();
  p(
    table(
      ['target', 'result', 'figure', 'why'],
      r.targets.map((t) => [t.target, `**${t.met}**`, t.figure, t.why]),
    ),
  );
  p();

  const o = r.overhead;
  if (o) {
    p('## 1. Orchestration overhead for one unit');
    p();
    p(
      `Plan \`${r.settings.plan}\` (one unit) on the proving ground: real PostgreSQL primary and streaming replica, real DNS server, the synthesized definition and the bundled handlers. Functions warm: a dry run first calls every step but the lock's (loading its handler and making its clients), then every bundle is imported, as warm Lambdas would be. ${o.warmComputeMs.length} runs.`,
    );
    p();
    const d = o.detection;
    p(
      table(
        [
          'asynchronous operation',
          'emulated duration',
          'lifeboat lag (schedule)',
          'lifeboat lag (measured; local compute counts 1/f times)',
          'lifeboat polls',
          'DRF schedule lag',
          'DRF polls',
        ],
        [
          [
            'RDS promotion (PromoteReadReplica → available, standalone)',
            `${o.emulated.databaseSeconds} s`,
            `${d.database.lifeboatScheduleLag} s`,
            spread(d.database.lifeboatMeasuredLag, 1, ' s'),
            d.database.lifeboatPolls,
            `${d.database.drfLag} s`,
            d.database.drfPolls,
          ],
          [
            'Route 53 change (ChangeResourceRecordSets → INSYNC)',
            `${o.emulated.dnsSeconds} s`,
            `${d.dns.lifeboatScheduleLag} s`,
            spread(d.dns.lifeboatMeasuredLag, 1, ' s'),
            d.dns.lifeboatPolls,
            `${d.dns.drfLag} s`,
            d.dns.drfPolls,
          ],
        ],
      ),
    );
    p();
    p(
      `Per-poll compute used by the schedule: ${o.pollStepSeconds} s (median measured poll iteration minus its wait).`,
    );
    p();
    p('Lag over a range of durations (every second of the range):');
    p();
    p(
      table(
        ['sweep', 'cases', 'lifeboat max', 'lifeboat mean', 'DRF max', 'DRF mean'],
        [o.sweeps.database, o.sweeps.dns].map((sw) => [
          sw.range,
          sw.cases,
          `${round(sw.lifeboat.max, 2)} s`,
          `${round(sw.lifeboat.mean, 2)} s`,
          `${round(sw.drf.max, 2)} s`,
          `${round(sw.drf.mean, 2)} s`,
        ]),
      ),
    );
    p();
    const computeS = median(o.warmComputeMs) / 1000;
    const lagsL = d.database.lifeboatScheduleLag + d.dns.lifeboatScheduleLag;
    const lagsD = d.database.drfLag + d.dns.drfLag;
    p(
      'Total time of one unit minus the emulated AWS latencies on its critical path (promotion + DNS change):',
    );
    p();
    p(
      table(
        [
          '',
          'compute outside the poll loops (real s)',
          'detection lags (emulated s)',
          'overhead',
          'total with AWS latencies',
        ],
        [
          [
            'lifeboat, warm functions',
            spread(
              o.warmComputeMs.map((x) => x / 1000),
              2,
            ),
            round(lagsL, 2),
            `**${o.totals.lifeboatWarm} s**`,
            `${round(o.emulated.databaseSeconds + o.emulated.dnsSeconds + o.totals.lifeboatWarm, 1)} s`,
          ],
          [
            'lifeboat, cold functions (estimate: + the cold imports of the steps outside the loops, section 3)',
            `${round(o.coldComputeEstimateMs / 1000, 2)} (${s(o.importOnPathMs)} of imports; ${s(o.importOnPathMinMs)} with the fastest import of each)`,
            round(lagsL, 2),
            `**${o.totals.lifeboatCold} s**`,
            `${round(o.emulated.databaseSeconds + o.emulated.dnsSeconds + o.totals.lifeboatCold, 1)} s`,
          ],
          [
            'DR Orchestrator Framework schedule (same compute)',
            round(computeS, 2),
            round(lagsD, 2),
            `**${o.totals.drfWarm} s**`,
            `${round(o.emulated.databaseSeconds + o.emulated.dnsSeconds + o.totals.drfWarm, 1)} s`,
          ],
        ],
      ),
    );
    p();
    p(
      `All compute on the critical path, poll loops included: ${spread(
        o.warmComputeAllMs.map((x) => x / 1000),
        2,
        ' s',
      )}; the loops took ${spread(
        o.loopsMs.map((x) => x.database),
        0,
        ' ms',
      )} (promotion) and ${spread(
        o.loopsMs.map((x) => x.dns),
        0,
        ' ms',
      )} (DNS) real.`,
    );
    p();
    p(
      `Execution wall time (real, f = ${r.settings.oneUnitTimeFactor}): ${spread(
        o.wallMs.map((x) => x / 1000),
        2,
        ' s',
      )}; state transitions ${spread(o.transitions, 0)}; Lambda invocations ${spread(o.invocations, 0)}; event loop busy ${spread(
        o.eventLoopUtilization.map((x) => x * 100),
        0,
        '%',
      )} of the run.`,
    );
    p();
    p(
      `Handler time per step in the first run (warm; PromoteSecret includes the injected ${r.settings.slowSecretSeconds} s secret-promotion latency, ${(r.settings.slowSecretSeconds * r.settings.oneUnitTimeFactor * 1000).toFixed(0)} ms real, off the critical path):`,
    );
    p();
    p(
      table(
        ['step', 'invocations', 'total ms', 'ms per invocation'],
        Object.entries(o.stepMs).map(([step, t]) => [
          step,
          t.count,
          t.totalMs,
          round(t.totalMs / t.count, 1),
        ]),
      ),
    );
    p();
  }

  const c = r.criticalPath;
  if (c) {
    p("### Critical path: parallel promotions vs the seed's sequential order");
    p();
    p(
      `The same world and definition, with the secret promotion made slow: every StopReplicationToReplica takes ${c.secretSeconds} emulated s (an emulator latency fault). "Sequential" holds PromoteDatabase until PromoteSecret has ended (the seed's order: secret, then database). The promotion phase runs from the first promote step's start to the DNS step's start. Each pair ran back to back; ${c.parallelPhaseMs.length} pairs.`,
    );
    p();
    const f = c.timeFactor;
    p(
      table(
        ['', `promotion phase, real ms (f = ${f})`, 'in emulated s (real / f)', 'expected from the model'],
        [
          [
            'lifeboat: secret ‖ database',
            spread(c.parallelPhaseMs, 0),
            spread(
              c.parallelPhaseMs.map((x) => x / 1000 / f),
              1,
            ),
            `max(${c.secretSeconds}, ${c.databaseSeconds}) = ${Math.max(c.secretSeconds, c.databaseSeconds)} s + lag + compute/f`,
          ],
          [
            'seed order: secret, then database',
            spread(c.sequentialPhaseMs, 0),
            spread(
              c.sequentialPhaseMs.map((x) => x / 1000 / f),
              1,
            ),
            `${c.secretSeconds} + ${c.databaseSeconds} = ${c.secretSeconds + c.databaseSeconds} s + lag + compute/f`,
          ],
        ],
      ),
    );
    p();
    p(
      `Sequential / parallel: ${spread(c.ratios, 2)}; sequential − parallel: ${spread(c.differencesEmulatedSeconds, 1, ' emulated s')} (the secret promotion is ${c.secretSeconds} s). PromoteSecret step in the parallel runs: ${spread(c.secretStepMs, 0, ' ms')} real.`,
    );
    p();
  }

  const sc = r.scale;
  if (sc) {
    p(`## 2. Scale: ${sc.rows.map((x) => x.units).join(', ')} units`);
    p();
    p(
      `**Reduction.** 100 real PostgreSQL primary/replica pairs do not fit this machine, so the scale runs use a reduced world (bench/scale-world.ts): RDS instances are the emulator's bookkeeping (same PromoteReadReplica phases and timings, no real \`pg_promote()\` behind them), and ONE real PostgreSQL server answers for every unit — each unit's replica endpoint resolves to it through the real DNS server and each unit's secret holds its credentials. VerifyConnectivity therefore does its whole job for every unit (resolve the secret's CNAME after the change, connect, rolled-back write, the plan's query) against a server that was always writable; the one-unit runs above are the ones that prove a promotion makes a replica writable. Everything else is seeded as the proving ground seeds it. All units share one hosted zone. One ${Math.max(...sc.rows.map((x) => x.units))}-unit plan is synthesized (Map MaxConcurrency ${r.settings.planMaxConcurrency}, the run's size and the plan schema's maximum; the Map reads the units from S3 and writes the outcomes to S3; synthesis ${sc.synthesisSeconds} s, 0 when cached) and the execution input selects the first ${sc.rows.map((x) => x.units).join(', ')} units. Every bundle is imported before the run (warm), f = ${sc.timeFactor}.`,
    );
    p();
    p(
      `**Rate limits** are modelled as token buckets in emulated time on the emulator's fault rules (bench/rate-limits.ts): a call that finds its bucket empty gets the service's throttling error. Limits without a documented burst get one second of tokens. Route 53's per-zone serialization is modelled too: a change to a hosted zone that still has a PENDING change is rejected with PriorRequestNotComplete (docs/aws/route53-changes.md; AWS does not say how long a zone stays busy, the emulator takes the whole PENDING period, the pessimistic reading). Not modelled: Route 53's per-account change-throughput bucket (its size is not in the page), S3 and SNS (a few calls a run), and DynamoDB's per-partition throughput (the lock table's shared items: the promotion snapshot and the zone batch keep each unit's reads to small items of its own, docs/design/fleet.md; the emulator's DynamoDB answers every call). ${
        sc.timeFactor < 1
          ? `One approximation remains: the SDK's own retry backoff and request timeouts run in real time, so at f = ${sc.timeFactor} they last ${round(1 / sc.timeFactor, 0)} times longer in emulated time than in AWS (SDK retries find fuller buckets than they would).`
          : "At f = 1 nothing is compressed: the SDK's retry back-off and request timeouts, the buckets and the state machine's retries keep their AWS proportions."
      } The state machine's retries are as in AWS: the local runner scales each retrier's interval and cap by f and keeps its backoff and full jitter (local/runner.ts, scaleRetrier).`,
    );
    p();
    p(
      table(
        ['limit', 'burst', 'per second', 'source'],
        sc.limits.map((l) => [l.name, l.capacity, l.refillPerSecond, l.source]),
      ),
    );
    p();
    p(
      table(
        [
          'units',
          'MaxConcurrency',
          'wall time (real s), each run',
          'ratio to 1 unit (complete runs)',
          'units failed, each run',
          'throttled calls',
          'step retries',
          'API calls',
          'transitions',
          'unit recovery median / max (real s)',
          'event loop busy',
          'API calls per unit',
          'detection lag max / p95 (emulated s): promotion; DNS',
          'DNS wait for the zone max / p95 (emulated s)',
        ],
        sc.rows.map((row) => [
          `${row.units}${row.whatIf ? ' (what-if)' : ''}`,
          row.maxConcurrency,
          row.wallMs
            .map((x, i) => `${(x / 1000).toFixed(1)}${row.complete[i] ? '' : ' (FAILED)'}`)
            .join(', '),
          Number.isNaN(row.ratioToOneUnit)
            ? `no complete run (${row.ratios.join(', ')}x)`
            : `**${row.ratioToOneUnit}x**`,
          row.unitsFailed
            .map((n, i) =>
              row.statuses[i] === 'SUCCEEDED' || n > 0 ? n : `${row.units} (${row.statuses[i]})`,
            )
            .join(', '),
          spread(row.throttledCalls, 0),
          spread(row.stepErrors, 0),
          spread(row.totalCalls, 0),
          spread(row.transitions, 0),
          `${spread(row.unitRecoveryMedianSeconds, 1)} / ${spread(row.unitRecoveryMaxSeconds, 1)}`,
          spread(
            row.eventLoopUtilization.map((x) => x * 100),
            0,
            '%',
          ),
          spread(row.callsPerUnit ?? [], 1),
          row.detectionLag
            ? `${row.detectionLag.promotion.max} / ${row.detectionLag.promotion.p95}; ${row.detectionLag.dns.max} / ${row.detectionLag.dns.p95}`
            : 'n/a',
          row.detectionLag?.dnsQueue
            ? `${row.detectionLag.dnsQueue.max} / ${row.detectionLag.dnsQueue.p95}`
            : 'n/a',
        ]),
      ),
    );
    p();
    p(
      "\"Throttled calls\" are call-log entries answered with a throttling error; the SDK retried each (standard mode, 3 attempts) and a call that failed 3 times surfaced as TransientAwsError, which the state machine retried (\"step retries\"). \"API calls per unit\" counts every call the emulator answered (AWS APIs, the lock table, the report bucket) over the run's units. \"Detection lag\" is, per unit, the emulated seconds from the operation's completion in the emulator to the end of the poll step that returned it done (the runner's step event: when the state machine knows it), max and 95th percentile over every unit of every run. The promotion completes at the arrival of the PromoteReadReplica call that started it plus the emulated promotion; the record change at its change's SubmittedAt plus the emulated PENDING period (the change id the unit's last poll saw, GetChange after the run). The emulator's timers fire no earlier, so the lag is never below the truth; local compute between polls counts 1/f times. \"DNS wait for the zone\" is from UpdateDns's end to the SubmittedAt of the batch that carried the unit's record: the zone takes one change at a time, so units that were ready while a batch was PENDING go in the next one. (Before this run the lags came from the report: PromoteDatabase's end plus the duration, and the poll's `observedAt`, which is taken before its read; PromoteDatabase ends after its call, by a throttled retry's seconds at 100 units, so the figures went negative.)",
    );
    p();
    const largest = sc.rows.filter((x) => !x.whatIf).at(-1);
    if (largest && (Number.isNaN(largest.ratioToOneUnit) || largest.ratioToOneUnit > 1.5)) {
      const throttled = Object.values(largest.throttledByAction).reduce((a, b) => a + b, 0);
      const retries = Object.values(largest.stepErrorsByKind).reduce((a, b) => a + b, 0);
      const failedRuns = largest.unitsFailed.filter((n) => n > 0).length;
      const topError = Object.entries(largest.stepErrorsByKind).sort((a, b) => b[1] - a[1])[0];
      // The least time the documented buckets allow for one call a unit past their burst (bench/rate-limits.ts).
      const drain = (burst: number, perSecond: number) =>
        Math.max(0, round((largest.units - burst) / perSecond, 1));
      const reasons = [
        `Every unit's handlers, the emulator (its DynamoDB is dynalite), the Step Functions engine, the DNS server and PostgreSQL share one 2-core machine${sc.loadAverage ? ` (load average ${sc.loadAverage.start.toFixed(1)} at the section's start, ${sc.loadAverage.end.toFixed(1)} at its end)` : ''}; the event loop of the process that runs the handlers was ${spread(
          largest.eventLoopUtilization.map((x) => x * 100),
          0,
          '%',
        )} busy`,
        sc.timeFactor < 1
          ? `at f = ${sc.timeFactor} a real second is ${round(1 / sc.timeFactor, 0)} emulated seconds, so that compute counts ${round(1 / sc.timeFactor, 0)} times against AWS's durations, and the SDK's real-time timeouts end calls a busy event loop has not answered`
          : "at f = 1 it counts once, as in AWS, but on one process: a deployed run gives each unit's steps their own Lambda environment, where the units' compute overlaps instead of queueing",
        `the documented rate limits set a floor of their own: one PromoteReadReplica a unit takes at least ${drain(300, 12)} s past RDS's burst of 300 at 12 a second, one StopReplicationToReplica a unit ${drain(50, 50)} s past Secrets Manager's 50 a second, and the zone's batches wait for each other's PENDING period ("DNS wait for the zone")`,
        failedRuns
          ? `units failed in ${failedRuns} of ${largest.runs} run(s) (${largest.unitsFailed.join(', ')}), most often ${topError ? `${topError[0]} (${topError[1]} step retries)` : 'with no step error recorded'}; over the runs, ${retries} step retries against ${throttled} throttled calls`
          : `no unit failed; over its ${largest.runs} run(s), ${throttled} calls were throttled and retried (${retries} step retries)`,
      ];
      p(
        `**Why ${largest.units} units miss 1.5x here.** ${reasons.map((x) => `${x[0]?.toUpperCase()}${x.slice(1)}.`).join(' ')}`,
      );
      p();
    }
    for (const row of sc.rows) {
      const actions = Object.entries(row.throttledByAction)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      const errors = Object.entries(row.stepErrorsByKind)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      const calls = Object.entries(row.callsPerUnitByAction ?? {})
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      p(
        `- ${row.units} unit${row.units === 1 ? '' : 's'}${row.whatIf ? ' (what-if)' : ''}, all runs: ${calls ? `calls per unit ${calls}; ` : ''}throttled ${actions || 'none'}; step errors ${errors || 'none'}${row.failures.length ? `; failures: ${row.failures.join('; ')}` : ''}${row.errors.length ? `; execution errors: ${row.errors.join('; ')}` : ''}.`,
      );
    }
    p();
  }

  if (r.bundles) {
    p('## 3. Lambda bundles');
    p();
    p(
      `Each function's bundle as synthesized for deployment (\`steps[].bundle\`, esbuild, ESM). Import time: a fresh \`node\` process per run imports the bundle (timed inside the process, so process start-up is excluded; the Lambda runtime's own start and INIT overhead come on top), median of ${r.settings.importRuns} runs, with the function's environment.`,
    );
    p();
    p(
      table(
        ['function', 'index.mjs KiB', 'gzip KiB', 'asset dir KiB', 'cold import ms (median, min–max)'],
        r.bundles.map((b) => [
          b.step,
          kib(b.bytes),
          kib(b.gzipBytes),
          kib(b.assetBytes),
          `${b.medianImportMs.toFixed(0)} (${min(b.importMs).toFixed(0)}–${max(b.importMs).toFixed(0)})`,
        ]),
      ),
    );
    p();
  }

  p('## 4. State transitions and the drill');
  p();
  if (o) {
    p(
      `- One unit, one execution (warm, f = ${r.settings.oneUnitTimeFactor}): ${spread(o.transitions, 0)} state transitions, ${spread(o.invocations, 0)} Lambda invocations. Most are the poll loops: each poll is 4 transitions (Check, Choice, Wait, Count).`,
    );
  }
  if (sc) {
    for (const row of sc.rows.filter((x) => !x.whatIf)) {
      p(
        `- ${row.units} unit(s) (scale world, f = ${sc.timeFactor}): ${spread(row.transitions, 0)} transitions, ${round(median(row.transitions) / row.units, 0)} per unit.`,
      );
    }
  }
  const dr = r.drill;
  if (dr) {
    const rows = (label: string, runs: DrillRun[]) =>
      runs.map((x, i) => [
        `${label} ${i + 1}`,
        x.wallSeconds.toFixed(1),
        x.exitCode ?? 'killed',
        ['world', 'synthesis', 'execution', 'facts'].map((k) => `${k} ${x.breakdown[k] ?? '?'}`).join(', '),
        x.transitions ?? '?',
      ]);
    p(
      `- \`npm run drill\` (a child process; wall time from spawn to exit): cached ${spread(
        dr.cached.map((x) => x.wallSeconds),
        1,
        ' s',
      )}; uncached (a fresh copy of the sources: synthesis and bundling run) ${spread(
        dr.uncached.map((x) => x.wallSeconds),
        1,
        ' s',
      )}.`,
    );
    p();
    p(
      table(
        ['run', 'wall s', 'exit', "the drill's own breakdown (s)", 'transitions'],
        [...rows('cached', dr.cached), ...rows('uncached', dr.uncached)],
      ),
    );
    p();
  }
  if (r.switchover)
    out.push(...renderSwitchover(r.switchover, '## 5. Switchover window and failover recovery time'));
  return `${out.join('\n')}\n`;
}
