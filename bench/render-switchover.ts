import { spread } from './stats.js';
import type { SwitchoverBench, SwitchoverRun } from './switchover.js';

/** The switchover section of bench/results.md (bench/switchover.ts measures it). */
export function renderSwitchover(b: SwitchoverBench, heading: string): string[] {
  const out: string[] = [];
  const p = (text = '') => out.push(text);
  const of = (runs: readonly SwitchoverRun[], pick: (r: SwitchoverRun) => number | null) =>
    runs.map(pick).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  const cell = (values: number[]) => spread(values, 2, ' s');
  const emulated = (values: number[]) =>
    spread(
      values.map((x) => x / b.timeFactor),
      0,
      ' s',
    );
  p(heading);
  p();
  p(
    `Measured ${b.measuredAt.slice(0, 16).replace('T', ' ')} UTC, load average ${b.loadAverage.start.toFixed(2)} at start and ${b.loadAverage.end.toFixed(2)} at end. One world per run (a fresh process) with two units of one engine on real database pairs: after a warm-up (a dry run, every bundle loaded), unit \`fo\` fails over, then unit \`so\` switches over, while an application (local/switchover-writer.ts) commits one row at a time to each unit through its CNAME as an application account. f = ${b.timeFactor}; ${b.runsPerEngine} run(s) per engine, medians (min–max, n). The window is the report's \`writeUnavailableSeconds\`, from the fence (sessions gone, position read) to the unit verified; the failover's recovery time is the report's \`recoveryTimeSeconds\`, from the run's start to the unit verified. "As the application saw it": its last acknowledged row on the old primary before the fence to its first on the new primary. Emulated seconds are real seconds / f: the AWS operations (promotion, DNS change) scale, local compute (handlers, SQL, the catch-up on the real servers) counts 1/f times.`,
  );
  p();
  const head = [
    'engine',
    'failover recovery time (real s)',
    'switchover window (real s)',
    'as the application saw it (real s)',
    'switchover start to verified (real s)',
    'failover / window (emulated s)',
    'lost / acknowledged rows kept',
  ];
  const rows = b.engines.map((engine) => {
    const runs = b.runs.filter((r) => r.engine === engine);
    const rto = of(runs, (r) => r.failoverRecoverySeconds);
    const window = of(runs, (r) => r.switchoverWindowSeconds);
    const lossless = runs.filter((r) => r.dataLossTransactions === 0 && r.everyAcknowledgedRowKept).length;
    return [
      engine,
      cell(rto),
      cell(window),
      cell(of(runs, (r) => r.applicationWindowSeconds)),
      cell(of(runs, (r) => r.switchoverRecoverySeconds)),
      `${emulated(rto)} / ${emulated(window)}`,
      `0 lost in ${lossless} of ${runs.length} runs (${runs.map((r) => r.acknowledgedRows).join(', ')} rows acknowledged, ${runs.map((r) => r.refusedWrites).join(', ')} writes refused)`,
    ];
  });
  const line = (cells: (string | number)[]) =>
    `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  p([line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n'));
  p();
  const failed = b.runs.filter((r) => r.failoverStatus !== 'SUCCEEDED' || r.switchoverStatus !== 'SUCCEEDED');
  if (failed.length) {
    p(
      `Runs that did not succeed: ${failed.map((r) => `${r.engine} failover ${r.failoverStatus}, switchover ${r.switchoverStatus}`).join('; ')}.`,
    );
    p();
  }
  return out;
}
