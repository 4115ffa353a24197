import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildTimeline,
  type RunReport,
  renderReportHtml,
  renderReportMarkdown,
  rerunCommand,
} from '../../functions/lib/report/index.js';
import { writeReportFiles } from '../../local/report-files.js';
import { at, drillReport, failedReport, MARKER, succeededReport } from '../helpers/report-fixtures.js';

/** Every string the report takes from outside (plan input, AWS answers, approvers), each with markup in it. */
function hostile(report: RunReport): RunReport {
  const r = structuredClone(report);
  r.summary = `<img src=x onerror=alert(2)> ${r.summary}`;
  for (const u of r.units) {
    if (u.failure) u.failure.cause = `<iframe src="x"></iframe> ${u.failure.cause}`;
    if (u.dns) u.dns.recordName = `<svg onload=alert(3)>.example.com`;
    for (const s of u.steps) s.title = `${s.title} <i>`;
  }
  return r;
}

describe('renderReportHtml', () => {
  it('escapes every user-supplied string: no tag from the report reaches the page', () => {
    // Act
    const html = renderReportHtml(hostile(succeededReport()));
    const failed = renderReportHtml(hostile(failedReport()));

    // Assess
    for (const page of [html, failed]) {
      expect(page).not.toContain('<script');
      expect(page).not.toContain('<img');
      expect(page).not.toContain('<iframe');
      expect(page).not.toContain('<svg onload');
      expect(page).not.toContain('<i>');
      expect(page).not.toContain('<b>');
    }
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &quot;db&quot; &amp; &#39;down&#39;');
    expect(html).toContain('user/&lt;alice&gt;');
    expect(failed).toContain('&lt;iframe src=&quot;x&quot;&gt;');
  });

  it('holds no secret material', () => {
    for (const report of [succeededReport(), failedReport(), drillReport()]) {
      expect(renderReportHtml(report)).not.toContain(MARKER);
      expect(renderReportMarkdown(report)).not.toContain(MARKER);
    }
  });

  it('is self-contained: no script, no external asset', () => {
    // Act
    const html = renderReportHtml({ ...succeededReport(), reason: 'orders-db-primary-down ALARM' });

    // Assess
    expect(html).not.toMatch(/<script|<link(?![^>]*href="data:)|<img|src=|@import|url\(/i);
    expect(html.match(/https?:\/\/[^"\s<]*/g) ?? []).toEqual(['http://www.w3.org/2000/svg']);
  });

  it('has a timeline row per unit and step, the RTO line, the DNS windows and the text alternative', () => {
    // Act
    const report = succeededReport();
    const html = renderReportHtml(report);

    // Assess
    const rows = [...html.matchAll(/<g class="row" data-unit="([^"]+)" data-step="([^"]+)"/g)].map(
      (m) => `${m[1]}/${m[2]}`,
    );
    expect(rows).toEqual(report.units.flatMap((u) => u.steps.map((s) => `${u.unit}/${s.step}`)));
    expect(html).toContain(`<g class="rto" data-at="${at(300)}"`);
    // New TTL 30 s and previous 120 s, from in sync at 180 s.
    expect(html).toContain(`class="dns-ttl"`);
    expect(html).toContain(`data-until="${at(210)}"`);
    expect(html).toContain(`data-until="${at(300)}"`);
    // The polls of the wait steps: 6 + 3 per unit.
    expect(html.match(/class="poll"/g)).toHaveLength(18);
    expect(html).toContain('role="img" aria-labelledby="timeline-title timeline-desc"');
    const textRows = [...html.matchAll(/<tr data-unit="([^"]+)" data-step="([^"]+)">/g)].map(
      (m) => `${m[1]}/${m[2]}`,
    );
    expect(textRows).toEqual(rows);
  });

  it('shows the approval, the data-loss exposure and absolute times', () => {
    // Act
    const html = renderReportHtml(succeededReport());

    // Assess
    expect(html).toContain(
      'approved by arn:aws:iam::123456789012:user/&lt;alice&gt; at 2030-05-01T10:00:01.000Z',
    );
    expect(html).toContain('up to 4 s of writes (replica lag at 2030-05-01T10:00:02.000Z)');
    expect(html).toContain('<td>2030-05-01T10:00:00.000Z</td>');
  });
});

describe('renderReportMarkdown', () => {
  it('escapes markup in every user-supplied string', () => {
    // Act
    const text = renderReportMarkdown(hostile(failedReport()));

    // Assess
    expect(text).not.toMatch(/<script|<img|<iframe|<svg|<i>|<b>/);
    expect(text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    // A pipe cannot end a table cell early, a bracket cannot make a link, a star cannot make bold.
    expect(text).toContain("'down' \\| \\*\\*bold\\*\\* \\[x\\](http://evil) \\`tick\\`");
    // Every row of a table has as many cells as its header: no pipe in a value splits a cell.
    const cells = (line: string) => line.split(/(?<!\\)\|/).length;
    for (const table of text.split('\n\n').filter((b) => b.startsWith('|'))) {
      const [head, ...rows] = table.split('\n');
      for (const row of rows) expect(cells(row)).toBe(cells(head ?? ''));
    }
  });

  it('has headings, a row per unit, the timeline as a table and the re-run command', () => {
    // Act
    const report = failedReport();
    const text = renderReportMarkdown(report);

    // Assess
    expect(text).toMatch(/^# Failover of orders-dr: failed \(run-1\)/);
    expect(text).toContain('## Units');
    expect(text).toContain('## Timeline');
    expect(text).toContain('| orders | postgres | failed | - | - | up to 4 s of writes');
    const timelineRows = text
      .split('## Timeline')[1]
      ?.split('\n')
      .filter((l) => /^\| (orders|billing) \|/.test(l));
    expect(timelineRows).toHaveLength(report.units.reduce((n, u) => n + u.steps.length, 0));
    expect(text).toContain('```sh\nlifeboat start --units orders --reason "re-run of run-1"\n```');
  });
});

describe('rerunCommand', () => {
  it('names the failed units, keeps a drill a drill, and has none for a success', () => {
    expect(rerunCommand(failedReport())).toBe('lifeboat start --units orders --reason "re-run of run-1"');
    const drill = drillReport();
    expect(rerunCommand(drill)).toBeNull();
    expect(
      rerunCommand({
        ...drill,
        outcome: 'failed',
        units: drill.units.map((u) => ({ ...u, status: 'failed' })),
      }),
    ).toBe('lifeboat start --mode drill --units orders --reason "re-run of drill-1"');
    expect(rerunCommand({ ...failedReport(), runId: "it's" })).toBe(
      `lifeboat start --units orders --reason 're-run of it'\\''s'`,
    );
  });
});

describe('buildTimeline', () => {
  it('puts a drill’s RTO after the first promotion, not after the copies', () => {
    expect(buildTimeline(drillReport()).rto).toEqual({ from: at(130), seconds: 300, at: at(430) });
  });
});

describe('writeReportFiles (npm run drill)', () => {
  it('writes the HTML and Markdown under reports/<plan>/ and returns their paths', () => {
    const root = mkdtempSync(join(tmpdir(), 'lifeboat-report-'));
    try {
      const files = writeReportFiles(succeededReport(), root);
      expect(files.html).toBe(join(root, 'reports/orders-dr/run-1.html'));
      expect(files.markdown).toBe(join(root, 'reports/orders-dr/run-1.md'));
      expect(readFileSync(files.html, 'utf8')).toBe(renderReportHtml(succeededReport()));
      expect(readFileSync(files.markdown, 'utf8')).toBe(renderReportMarkdown(succeededReport()));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
