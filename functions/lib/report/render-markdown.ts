import { describeApproval } from '../approval.js';
import { describeDataLoss, describeDns } from './describe.js';
import { countOf, formatDuration } from './format.js';
import type { RunReport } from './model.js';
import { buildTimeline, rerunCommand } from './timeline.js';

/**
 * The report as Markdown for a postmortem: headings, the facts with absolute times (UTC), a table per unit, the
 * timeline as a table, and on failure the command that re-runs the failed units. Every string from the report is
 * escaped so that a reason or an error message cannot add markup, links or HTML.
 */
export function renderReportMarkdown(report: RunReport): string {
  const t = buildTimeline(report);
  const what = report.mode === 'dry-run' ? 'Dry run' : report.mode === 'drill' ? 'Drill' : 'Failover';
  const out: string[] = [];
  out.push(`# ${md(`${what} of ${report.planName}: ${report.outcome} (${report.runId})`)}`, '');
  out.push(para(report.summary), '');
  out.push('## Facts', '', '| | |', '|---|---|');
  const facts: [string, string][] = [
    ['Plan', report.planName],
    ['Run', report.runId],
    ['Execution', report.executionArn ?? '-'],
    ['Mode', report.mode ?? '-'],
    ['Outcome', `${report.outcome}${report.error ? ` (${report.error})` : ''}`],
    ['Triggered by', report.trigger ?? '-'],
    ['Reason', report.reason ?? '-'],
    ['Approval', report.approval ? describeApproval(report.approval) : 'none asked'],
    ['Started (UTC)', report.startedAt],
    ['Ended (UTC)', report.endedAt],
    ['Took', formatDuration(report.durationSeconds * 1000)],
    [
      'Recovery time',
      report.recoveryTimeSeconds !== null
        ? formatDuration(report.recoveryTimeSeconds * 1000)
        : 'not measured',
    ],
    [
      'Target RTO',
      report.targetRtoSeconds !== null
        ? `${formatDuration(report.targetRtoSeconds * 1000)}${report.rtoMet === null ? '' : report.rtoMet ? ': met' : ': NOT met'}${t.rto ? ` (at ${t.rto.at})` : ''}`
        : '-',
    ],
  ];
  for (const [k, v] of facts) out.push(`| ${md(k)} | ${cell(v)} |`);
  out.push('');
  const rerun = rerunCommand(report);
  if (rerun) {
    // A fence longer than any run of backticks in the command: the command is shown exactly as it is.
    const fence = '`'.repeat(Math.max(3, ...(rerun.match(/`+/g) ?? []).map((r) => r.length + 1)));
    out.push('## Re-run', '', 'Re-runs the units that did not finish:', '', `${fence}sh`, rerun, fence, '');
  }
  if (report.failure) {
    out.push(
      '## Stopped',
      '',
      para(`At ${report.failure.stage}: ${report.failure.error}: ${report.failure.cause}`),
      '',
    );
  }
  if (report.preflight) {
    const p = report.preflight;
    out.push(
      '## Preflight',
      '',
      para(
        `${p.ok ? 'Passed' : 'FAILED'}: ${countOf(p.errors.length, 'error')}, ${countOf(p.warnings.length, 'warning')}.`,
      ),
      '',
    );
    for (const e of p.errors) out.push(`- error: ${md(e)}`);
    for (const w of p.warnings) out.push(`- warning: ${md(w)}`);
    if (p.errors.length || p.warnings.length) out.push('');
  }
  if (report.units.length) {
    out.push('## Units', '');
    out.push(
      '| Unit | Engine | Status | Verified (UTC) | Recovery time | Data-loss exposure | DNS | Failure |',
    );
    out.push('|---|---|---|---|---|---|---|---|');
    for (const u of report.units) {
      out.push(
        `| ${[
          u.unit,
          u.engine ?? '-',
          u.status,
          u.verifiedAt ?? '-',
          u.recoveryTimeSeconds !== null ? formatDuration(u.recoveryTimeSeconds * 1000) : '-',
          describeDataLoss(u),
          describeDns(u),
          u.failure
            ? `${u.failure.error} at ${u.failure.step ?? 'an unknown step'}: ${u.failure.cause}`
            : '-',
        ]
          .map(cell)
          .join(' | ')} |`,
      );
    }
    out.push('');
    out.push(
      '## Timeline',
      '',
      '| Unit | Step | Result | Started (UTC) | Ended (UTC) | Took | Polls |',
      '|---|---|---|---|---|---|---|',
    );
    for (const r of t.rows) {
      out.push(
        `| ${[
          r.unit,
          r.title,
          r.status,
          r.startedAt ?? '-',
          r.endedAt ?? '-',
          r.durationMs !== null ? formatDuration(r.durationMs) : '-',
          r.attempts !== null ? String(r.attempts) : '-',
        ]
          .map(cell)
          .join(' | ')} |`,
      );
    }
    out.push('');
    for (const w of t.dnsWindows) {
      out.push(
        `- ${md(`DNS cache window of ${w.unit} (${w.recordName}): from ${w.from}, TTL ${w.ttlSeconds ?? '?'} s${w.previousTtlSeconds !== null ? `; clients that cached the old answer may keep it up to the previous TTL, ${w.previousTtlSeconds} s` : ''}`)}`,
      );
    }
    if (t.dnsWindows.length) out.push('');
  }
  if (report.drill) {
    const d = report.drill;
    out.push('## Drill copies', '');
    out.push(
      md(
        d.cleanup === 'clean'
          ? `Cleanup: every copy deleted (${d.cleanedUp.length}).`
          : 'Cleanup INCOMPLETE.',
      ),
    );
    for (const r of d.leftBehind)
      out.push(`- left behind: ${md(`${r.kind} ${r.id} in ${r.region} (${r.status})`)}`);
    out.push('');
  }
  if (report.plannedCalls?.length) {
    out.push('## Planned calls (dry run)', '', '| Unit | Step | Call | Parameters |', '|---|---|---|---|');
    for (const c of report.plannedCalls) {
      const params = Object.entries(c.parameters)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' ');
      out.push(`| ${[c.unit, c.title, c.call ?? '-', params].map(cell).join(' | ')} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** Inline text: characters Markdown gives meaning to inline are backslash-escaped; `<`, `>` and `&` become entities (no HTML). */
export function md(text: string): string {
  return text
    .replace(/\r?\n/g, ' ')
    .replace(/[\\`*_[\]|~]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** A line of its own: also what would make it a heading, a list item or a quote. */
function para(text: string): string {
  return md(text).replace(/^(\s*)([#+-]|\d+[.)])/, '$1\\$2');
}

/** A table cell: escaped, and never empty. */
function cell(text: string): string {
  return text ? md(text) : '-';
}
