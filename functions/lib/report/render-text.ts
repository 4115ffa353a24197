import { describeApproval } from '../approval.js';
import { describeSwitchover } from './describe.js';
import { clamp, countOf, describeResources, formatDuration, PROBE_DETAIL_PREFIX, pad } from './format.js';
import type { RunReport, StepReport } from './model.js';

const BAR_WIDTH = 32;

export interface RenderTextOptions {
  /**
   * The run's times are scaled (the local proving ground's `--time-factor`): what the scale was, e.g. "time factor
   * 0.02: emulated AWS durations ran 50x faster". The recovery time is then marked as scaled time.
   */
  scaledTime?: string;
}

/** The report as text: a header, the preflight, then per unit a table of steps with a timeline bar each. */
export function renderReportText(report: RunReport, options: RenderTextOptions = {}): string {
  const lines: string[] = [];
  const runStart = Date.parse(report.startedAt);
  const runEnd = Math.max(Date.parse(report.endedAt), runStart + 1);
  lines.push(`lifeboat report: plan ${report.planName}, run ${report.runId}`);
  lines.push(
    `${report.outcome === 'succeeded' ? 'SUCCEEDED' : `FAILED${report.error ? ` (${report.error})` : ''}`}: ${report.summary}`,
  );
  lines.push(
    `mode ${report.mode ?? '-'} | trigger ${report.trigger ?? '-'} | reason ${report.reason ?? '-'} | ` +
      `started ${report.startedAt} | ended ${report.endedAt} | took ${formatDuration(report.durationSeconds * 1000)}`,
  );
  if (report.approval) lines.push(`approval: ${describeApproval(report.approval)}`);
  if (options.scaledTime) {
    lines.push(
      `scaled time (${options.scaledTime}): the durations below are local ones, not durations at AWS speed`,
    );
  }
  if (report.recoveryTimeSeconds !== null) {
    lines.push(
      `recovery time ${formatDuration(report.recoveryTimeSeconds * 1000)}${options.scaledTime ? ' in scaled time' : ''}` +
        (report.targetRtoSeconds !== null
          ? ` against a target RTO of ${formatDuration(report.targetRtoSeconds * 1000)}: ${report.rtoMet ? 'met' : 'NOT met'}`
          : ''),
    );
  } else if (report.targetRtoSeconds !== null) {
    const why = report.mode === 'dry-run' ? 'a dry run changes nothing' : 'not every unit was verified';
    lines.push(
      `recovery time: not measured (${why}); target RTO ${formatDuration(report.targetRtoSeconds * 1000)}`,
    );
  }
  if (report.drill) {
    const d = report.drill;
    lines.push(
      'drill: disposable copies in the recovery Region; production was only read. Recovery time runs from the start of promotion to verified.',
    );
    if (d.copiesSeconds !== null) {
      lines.push(
        `  making the copies took ${formatDuration(d.copiesSeconds * 1000)} (not part of the recovery time)`,
      );
    }
    lines.push(
      d.cleanup === 'clean'
        ? `  cleanup: every copy deleted (${d.cleanedUp.length}): ${d.cleanedUp.join(', ') || '-'}`
        : `  cleanup INCOMPLETE, left behind: ${d.leftBehind.map((r) => `${r.kind} ${r.id} in ${r.region} (${r.status}${r.note ? `: ${r.note}` : ''})`).join(', ') || 'see the units'}`,
    );
  }
  if (report.plannedCalls) {
    lines.push('planned calls (dry run: nothing was changed):');
    for (const c of report.plannedCalls) {
      const params = Object.entries(c.parameters)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      lines.push(
        `  ${pad(c.unit, 12)} ${pad(c.title, 31)} ${c.call ?? '-'}${params ? ` ${params}` : ''}${c.note ? ` (${c.note})` : ''}`,
      );
    }
  }
  if (report.preflight) {
    lines.push(
      `preflight: ${report.preflight.ok ? 'passed' : 'FAILED'} (${countOf(report.preflight.errors.length, 'error')}, ${countOf(report.preflight.warnings.length, 'warning')})`,
    );
    for (const e of report.preflight.errors) lines.push(`  x ${e}`);
    for (const w of report.preflight.warnings) lines.push(`  ! ${w}`);
  }
  if (report.failure) {
    lines.push(`stopped at ${report.failure.stage}: ${report.failure.error}: ${report.failure.cause}`);
  }
  for (const unit of report.units) {
    lines.push('');
    const head = `unit ${unit.unit}${unit.engine ? ` (${unit.engine})` : ''}: ${unit.status}`;
    const rt =
      unit.recoveryTimeSeconds !== null
        ? `, verified ${formatDuration(unit.recoveryTimeSeconds * 1000)} after ${unit.drill ? 'the promotions started' : 'the run started'}`
        : '';
    lines.push(head + rt);
    if (unit.drill) {
      const d = unit.drill;
      if (d.copiesSeconds !== null)
        lines.push(`  drill copies ready in ${formatDuration(d.copiesSeconds * 1000)} (not counted)`);
      lines.push(
        `  drill copies: ${d.cleanedUp.map((r) => `${r.kind} ${r.id} ${r.status}`).join(', ') || (d.made.length ? d.made.map((r) => `${r.kind} ${r.id} ${r.status}`).join(', ') : 'none made')}`,
      );
      if (d.cleanup === 'incomplete') {
        lines.push(
          `  cleanup INCOMPLETE${d.cleanupError ? ` (${d.cleanupError.error}: ${d.cleanupError.cause})` : ''}; left behind: ${describeResources(d.leftBehind)}`,
        );
      }
    }
    if (unit.failure) {
      lines.push(
        `  stopped at ${unit.stoppedAt ?? 'an unknown step'}: ${unit.failure.error}: ${unit.failure.cause}`,
      );
    }
    if (unit.steps.length > 0) {
      lines.push(`  ${pad('step', 31)} ${pad('result', 13)} ${pad('start', 9)} ${pad('took', 9)} timeline`);
      let lastEnd: string | null = null;
      for (const s of unit.steps) {
        const start = s.startedAt ? `+${formatDuration(Date.parse(s.startedAt) - runStart)}` : '-';
        const took = s.durationMs !== null ? formatDuration(s.durationMs) : '-';
        const attempts = s.attempts !== undefined ? ` (${countOf(s.attempts, 'poll')})` : '';
        // A step that failed has no result of its own: mark where the unit had got to.
        const shown =
          s.status === 'failed' && !s.endedAt && lastEnd ? { ...s, startedAt: lastEnd, endedAt: lastEnd } : s;
        if (s.endedAt && (!lastEnd || s.endedAt > lastEnd)) lastEnd = s.endedAt;
        lines.push(
          `  ${pad(s.title, 31)} ${pad(s.status, 13)} ${pad(start, 9)} ${pad(took, 9)} ${timelineBar(shown, runStart, runEnd)}${attempts}`,
        );
        for (const w of s.warnings) lines.push(`      ! ${w}`);
        // A dry run's network probes (functions/lib/verify/dry-run.ts): every result, not only the failures.
        for (const [key, value] of Object.entries(s.detail)) {
          if (key.startsWith(PROBE_DETAIL_PREFIX))
            lines.push(`      probe ${key.slice(PROBE_DETAIL_PREFIX.length)}: ${value}`);
        }
      }
    }
    if (unit.dns?.recordName) {
      const d = unit.dns;
      const changed = d.alreadyInPlace
        ? 'already in place (its value did not change)'
        : d.changedAt
          ? `changed at ${d.changedAt}`
          : 'not changed';
      const insync = d.inSyncAt ? `, in sync at ${d.inSyncAt}` : '';
      // Without a change there is no old answer for a client to keep.
      const cache =
        d.clientsMayCacheUntil !== null && !d.alreadyInPlace
          ? `; clients that cached the old answer may use it until ${d.clientsMayCacheUntil}`
          : '';
      lines.push(`  DNS ${d.recordName}: ${changed}${insync}, TTL ${d.ttlSeconds ?? '?'} s${cache}`);
    }
    // A switchover's window and its data-loss proof (functions/lib/report/switchover.ts).
    const switchover = describeSwitchover(unit);
    if (switchover) lines.push(`  switchover: ${switchover}`);
    // A drill of a switchover: what was rehearsed and what was not (never a data-loss figure).
    if (unit.switchoverRehearsal) lines.push(`  ${unit.switchoverRehearsal}`);
  }
  return lines.join('\n');
}

function timelineBar(step: StepReport, runStart: number, runEnd: number): string {
  if (!step.startedAt || !step.endedAt) return `|${' '.repeat(BAR_WIDTH)}|`;
  const span = runEnd - runStart;
  const from = clamp(
    Math.floor(((Date.parse(step.startedAt) - runStart) / span) * BAR_WIDTH),
    0,
    BAR_WIDTH - 1,
  );
  const to = clamp(
    Math.ceil(((Date.parse(step.endedAt) - runStart) / span) * BAR_WIDTH),
    from + 1,
    BAR_WIDTH,
  );
  const mark = step.status === 'failed' ? 'x' : '#';
  return `|${' '.repeat(from)}${mark.repeat(to - from)}${' '.repeat(BAR_WIDTH - to)}|`;
}
