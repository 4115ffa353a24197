import { describeApproval } from '../approval.js';
import { describeDataLoss, describeDns } from './describe.js';
import { countOf, formatDuration, PROBE_DETAIL_PREFIX, runSubject } from './format.js';
import type { RunReport } from './model.js';
import { buildTimeline, rerunCommand, type Timeline, type TimelineRow } from './timeline.js';

/**
 * The report as one self-contained HTML page for people: the facts a postmortem needs, an inline SVG timeline (one
 * row per unit and step, the polls of the wait steps, the DNS cache window after each change, the target RTO as a
 * line) and the same timeline as a table. No script, no external asset: it renders from S3, a mail attachment or a
 * file. Every string from the report is escaped; the report itself never holds secret material (build.ts scrubs it).
 */
export function renderReportHtml(report: RunReport): string {
  const timeline = buildTimeline(report);
  const title = `lifeboat ${modeWord(report)} of ${report.planName}: ${report.outcome} (${report.runId})`;
  const rerun = rerunCommand(report);
  const body = [
    `<h1>${esc(title)}</h1>`,
    `<p class="summary ${report.outcome}">${esc(report.summary)}</p>`,
    factsTable(report),
    rerun
      ? `<section><h2>Re-run</h2><p>Re-runs the units that did not finish:</p><pre><code>${esc(rerun)}</code></pre></section>`
      : '',
    report.failure
      ? `<section><h2>Stopped</h2><p>At ${esc(report.failure.stage)}: <strong>${esc(report.failure.error)}</strong>: ${esc(report.failure.cause)}</p></section>`
      : '',
    preflightSection(report),
    unitsSection(report),
    `<section><h2 id="timeline">Timeline</h2>${timelineSvg(report, timeline)}${timelineTable(report, timeline)}</section>`,
    drillSection(report),
    plannedSection(report),
  ].join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem;color:#1b1f24;max-width:1100px}
h1{font-size:1.35rem}h2{font-size:1.1rem;margin-top:1.6rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}.summary{padding:.5rem .75rem;border-left:4px solid #1a7f37;background:#f0fff4}
.summary.failed{border-color:#cf222e;background:#fff5f5}pre{background:#f6f8fa;padding:.5rem;overflow-x:auto}
svg{max-width:100%;height:auto;border:1px solid #d0d7de}.warn{color:#9a6700}.err{color:#cf222e}
`;

function modeWord(report: RunReport): string {
  return runSubject(report.mode).toLowerCase();
}

function factsTable(report: RunReport): string {
  const rows: [string, string][] = [
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
        ? `${formatDuration(report.recoveryTimeSeconds * 1000)}${report.mode === 'drill' ? ' (from the start of the promotions)' : ''}`
        : 'not measured',
    ],
    [
      'Target RTO',
      report.targetRtoSeconds !== null
        ? `${formatDuration(report.targetRtoSeconds * 1000)}${report.rtoMet === null ? '' : report.rtoMet ? ': met' : ': NOT met'}`
        : '-',
    ],
  ];
  return `<table class="facts"><tbody>${rows.map(([k, v]) => `<tr><th scope="row">${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</tbody></table>`;
}

function preflightSection(report: RunReport): string {
  const p = report.preflight;
  if (!p) return '';
  const items = [
    ...p.errors.map((e) => `<li class="err">${esc(e)}</li>`),
    ...p.warnings.map((w) => `<li class="warn">${esc(w)}</li>`),
  ];
  return `<section><h2>Preflight</h2><p>${p.ok ? 'Passed' : 'FAILED'}: ${p.errors.length} error${p.errors.length === 1 ? '' : 's'}, ${p.warnings.length} warning${p.warnings.length === 1 ? '' : 's'}, in ${esc(formatDuration(p.durationMs))}.</p>${items.length ? `<ul>${items.join('')}</ul>` : ''}</section>`;
}

function unitsSection(report: RunReport): string {
  if (!report.units.length) return '';
  const head = [
    'Unit',
    'Engine',
    'Status',
    'Verified (UTC)',
    'Recovery time',
    'Data-loss exposure',
    'DNS',
    'Failure',
  ];
  const rows = report.units.map((u) =>
    [
      u.unit,
      u.engine ?? '-',
      u.status,
      u.verifiedAt ?? '-',
      u.recoveryTimeSeconds !== null ? formatDuration(u.recoveryTimeSeconds * 1000) : '-',
      describeDataLoss(u),
      describeDns(u),
      u.failure ? `${u.failure.error} at ${u.failure.step ?? 'an unknown step'}: ${u.failure.cause}` : '-',
    ]
      .map((c) => `<td>${esc(c)}</td>`)
      .join(''),
  );
  const warnings = report.units.flatMap((u) =>
    u.steps.flatMap((s) => [
      ...s.warnings.map((w) => `${u.unit}, ${s.title}: ${w}`),
      ...Object.entries(s.detail)
        .filter(([k]) => k.startsWith(PROBE_DETAIL_PREFIX))
        .map(([k, v]) => `${u.unit}, probe ${k.slice(PROBE_DETAIL_PREFIX.length)}: ${String(v)}`),
    ]),
  );
  return `<section><h2>Units</h2><table class="units"><thead><tr>${head.map((h) => `<th scope="col">${h}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r}</tr>`).join('')}</tbody></table>${warnings.length ? `<h3>Step warnings</h3><ul>${warnings.map((w) => `<li class="warn">${esc(w)}</li>`).join('')}</ul>` : ''}</section>`;
}

function drillSection(report: RunReport): string {
  const d = report.drill;
  if (!d) return '';
  const left = d.leftBehind.map(
    (r) => `${r.kind} ${r.id} in ${r.region} (${r.status}${r.note ? `: ${r.note}` : ''})`,
  );
  return `<section><h2>Drill copies</h2><p>Disposable copies in the recovery Region; production was only read.${d.copiesSeconds !== null ? ` Making the copies took ${esc(formatDuration(d.copiesSeconds * 1000))} (not part of the recovery time).` : ''}</p><p>Cleanup: ${d.cleanup === 'clean' ? `every copy deleted (${d.cleanedUp.length})` : 'INCOMPLETE'}.</p>${left.length ? `<p>Left behind (delete by hand):</p><ul>${left.map((l) => `<li class="err">${esc(l)}</li>`).join('')}</ul>` : ''}</section>`;
}

function plannedSection(report: RunReport): string {
  if (!report.plannedCalls?.length) return '';
  const rows = report.plannedCalls.map((c) =>
    [
      c.unit,
      c.title,
      c.call ?? '-',
      Object.entries(c.parameters)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' '),
      c.note ?? '',
    ]
      .map((v) => `<td>${esc(v)}</td>`)
      .join(''),
  );
  return `<section><h2>Planned calls (dry run: nothing was changed)</h2><table><thead><tr><th scope="col">Unit</th><th scope="col">Step</th><th scope="col">Call</th><th scope="col">Parameters</th><th scope="col">Note</th></tr></thead><tbody>${rows.map((r) => `<tr>${r}</tr>`).join('')}</tbody></table></section>`;
}

/* ---------------------------------------------------------------------------------------------- */
/* The SVG timeline                                                                                */
/* ---------------------------------------------------------------------------------------------- */

/** Geometry of the chart, in SVG user units; the test reads the same numbers from the svg's data attributes. */
const WIDTH = 1000;
const LABEL_WIDTH = 300;
const PLOT_RIGHT = WIDTH - 20;
const ROW_HEIGHT = 22;
const TOP = 34;

const STATUS_COLOUR: Record<string, string> = {
  failed: '#cf222e',
  'not-reached': '#d0d7de',
  planned: '#8250df',
};

function timelineSvg(report: RunReport, t: Timeline): string {
  const x = (iso: string) =>
    LABEL_WIDTH + ((Date.parse(iso) - t.t0) / (t.t1 - t.t0)) * (PLOT_RIGHT - LABEL_WIDTH);
  const rowsOut: string[] = [];
  let y = TOP;
  for (const unit of report.units) {
    const rows = t.rows.filter((r) => r.unit === unit.unit);
    rowsOut.push(
      `<text class="unit" x="4" y="${y + 15}" font-weight="bold">${esc(`${unit.unit}${unit.engine ? ` (${unit.engine})` : ''}: ${unit.status}`)}</text>`,
    );
    y += ROW_HEIGHT;
    for (const row of rows) {
      rowsOut.push(stepRow(row, y, x));
      y += ROW_HEIGHT;
    }
    const w = t.dnsWindows.find((d) => d.unit === unit.unit);
    if (w) {
      rowsOut.push(dnsRow(w, y, x));
      y += ROW_HEIGHT;
    }
  }
  const height = y + 24;
  const ticks = axisTicks(t)
    .map(
      (ms) =>
        `<g class="tick"><line x1="${num(x(new Date(t.t0 + ms).toISOString()))}" y1="${TOP - 6}" x2="${num(x(new Date(t.t0 + ms).toISOString()))}" y2="${height - 20}" stroke="#eaeef2"/><text x="${num(x(new Date(t.t0 + ms).toISOString()))}" y="${TOP - 10}" font-size="11" text-anchor="middle">+${esc(formatDuration(ms))}</text></g>`,
    )
    .join('');
  const rto = t.rto
    ? `<g class="rto" data-at="${esc(t.rto.at)}"><line x1="${num(x(t.rto.at))}" y1="${TOP - 6}" x2="${num(x(t.rto.at))}" y2="${height - 20}" stroke="#cf222e" stroke-width="2" stroke-dasharray="6 3"><title>${esc(`target RTO ${formatDuration(t.rto.seconds * 1000)} after ${t.rto.from}: ${t.rto.at}`)}</title></line><text x="${num(x(t.rto.at) - 4)}" y="${height - 6}" font-size="11" fill="#cf222e" text-anchor="end">target RTO ${esc(formatDuration(t.rto.seconds * 1000))}</text></g>`
    : '';
  const desc = `Run ${report.runId} of plan ${report.planName} from ${report.startedAt} to ${report.endedAt}: ${countOf(t.rows.length, 'step')} in ${countOf(report.units.length, 'unit')}${t.rto ? `; the target RTO falls at ${t.rto.at}` : ''}. The table below lists every step with its times.`;
  return `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" aria-labelledby="timeline-title timeline-desc" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" data-t0="${new Date(t.t0).toISOString()}" data-t1="${new Date(t.t1).toISOString()}" data-plot-left="${LABEL_WIDTH}" data-plot-right="${PLOT_RIGHT}" font-family="system-ui, sans-serif" font-size="12"><title id="timeline-title">${esc(`Timeline of ${report.runId}`)}</title><desc id="timeline-desc">${esc(desc)}</desc>${ticks}${rowsOut.join('')}${rto}</svg>`;
}

function stepRow(row: TimelineRow, y: number, x: (iso: string) => number): string {
  const label = `<text x="16" y="${y + 15}">${esc(row.title)}</text>`;
  const colour = STATUS_COLOUR[row.status] ?? '#1a7f37';
  const tip = `${row.title}: ${row.status}${row.startedAt ? `, ${row.startedAt}` : ''}${row.endedAt ? ` to ${row.endedAt}` : ''}${row.durationMs !== null ? ` (${formatDuration(row.durationMs)})` : ''}${row.attempts !== null ? `, ${countOf(row.attempts, 'poll')}` : ''}`;
  let bar = '';
  if (row.startedAt && row.endedAt) {
    const x0 = x(row.startedAt);
    const width = Math.max(2, x(row.endedAt) - x0);
    const waiting = row.attempts !== null;
    bar = `<rect class="bar" x="${num(x0)}" y="${y + 4}" width="${num(width)}" height="14" fill="${colour}" fill-opacity="${waiting ? 0.35 : 0.9}"><title>${esc(tip)}</title></rect>`;
    if (waiting && row.attempts && row.attempts > 0) {
      // The state keeps how many polls a wait made and when the last one was, not each poll's time: the marks are
      // spread over the wait, the last at the time it ended; the bar between them is the waiting.
      const marks: string[] = [];
      for (let i = 1; i <= row.attempts; i++) {
        const px = x0 + (width * i) / row.attempts;
        marks.push(
          `<line class="poll" x1="${num(px)}" y1="${y + 2}" x2="${num(px)}" y2="${y + 20}" stroke="${colour}" stroke-width="2"><title>${esc(`poll ${i} of ${row.attempts}${i === row.attempts ? ` at ${row.endedAt}` : ''}`)}</title></line>`,
        );
      }
      bar += marks.join('');
    }
  } else {
    bar = `<text x="${LABEL_WIDTH + 4}" y="${y + 15}" fill="#57606a" font-size="11">${esc(row.status)}</text>`;
  }
  return `<g class="row" data-unit="${esc(row.unit)}" data-step="${esc(row.step)}" data-status="${esc(row.status)}">${label}${bar}</g>`;
}

function dnsRow(w: Timeline['dnsWindows'][number], y: number, x: (iso: string) => number): string {
  const from = x(w.from);
  const band = (seconds: number, cls: string, fill: string, what: string) => {
    const until = new Date(Date.parse(w.from) + seconds * 1000).toISOString();
    return `<rect class="${cls}" x="${num(from)}" y="${y + 4}" width="${num(Math.max(2, x(until) - from))}" height="14" fill="${fill}" fill-opacity="0.35" data-until="${until}"><title>${esc(`${what}: ${w.from} to ${until} (${seconds} s)`)}</title></rect>`;
  };
  const bands = [
    w.previousTtlSeconds !== null && w.previousTtlSeconds !== w.ttlSeconds
      ? band(
          w.previousTtlSeconds,
          'dns-previous-ttl',
          '#bf8700',
          'clients that cached the old answer may keep it (previous TTL)',
        )
      : '',
    w.ttlSeconds !== null
      ? band(w.ttlSeconds, 'dns-ttl', '#0969da', 'DNS cache window (the record TTL)')
      : '',
  ].join('');
  return `<g class="dns-cache" data-unit="${esc(w.unit)}"><text x="16" y="${y + 15}" fill="#0969da">${esc(`DNS cache window (${w.recordName})`)}</text>${bands}</g>`;
}

/** About six round tick marks along the axis (ms after the start). */
function axisTicks(t: Timeline): number[] {
  const span = t.t1 - t.t0;
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200].map((s) => s * 1000);
  const step = steps.find((s) => span / s <= 8) ?? span / 6;
  const out: number[] = [];
  for (let ms = 0; ms <= span; ms += step) out.push(ms);
  return out;
}

function timelineTable(report: RunReport, t: Timeline): string {
  const rows = t.rows.map(
    (r) =>
      `<tr data-unit="${esc(r.unit)}" data-step="${esc(r.step)}">${[
        r.unit,
        r.title,
        r.status,
        r.startedAt ?? '-',
        r.endedAt ?? '-',
        r.durationMs !== null ? formatDuration(r.durationMs) : '-',
        r.attempts !== null ? String(r.attempts) : '-',
      ]
        .map((c) => `<td>${esc(c)}</td>`)
        .join('')}</tr>`,
  );
  const dns = t.dnsWindows.map(
    (w) =>
      `<li>${esc(`${w.unit}: ${w.recordName} from ${w.from}: TTL ${w.ttlSeconds ?? '?'} s${w.previousTtlSeconds !== null ? `, previous TTL ${w.previousTtlSeconds} s` : ''}`)}</li>`,
  );
  return `<table class="timeline-text"><caption>The timeline as a table (times in UTC)${t.rto ? `; target RTO at ${esc(t.rto.at)}` : ''}</caption><thead><tr><th scope="col">Unit</th><th scope="col">Step</th><th scope="col">Result</th><th scope="col">Started</th><th scope="col">Ended</th><th scope="col">Took</th><th scope="col">Polls</th></tr></thead><tbody>${rows.join('')}</tbody></table>${dns.length ? `<p>DNS cache windows after the change:</p><ul>${dns.join('')}</ul>` : ''}${report.units.length ? '' : '<p>No unit ran.</p>'}`;
}

function num(n: number): string {
  return Number.isFinite(n) ? String(Math.round(n * 10) / 10) : '0';
}

/** Text and attribute values: the five characters HTML gives meaning to. */
export function esc(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
