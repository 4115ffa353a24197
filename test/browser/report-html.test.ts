import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTimeline, type RunReport, renderReportHtml } from '../../functions/lib/report/index.js';
import { drillReport, failedReport, succeededReport } from '../helpers/report-fixtures.js';

/**
 * The HTML report in a real browser: Debian's Chromium, headless, renders each report with no console error and no
 * page error, and the timeline it draws matches the report (rows, RTO line, text alternative).
 */
const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available)
  console.warn(
    `test/browser/report-html.test.ts skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`,
  );

describe.skipIf(!available)('the HTML report in Chromium', () => {
  let browser: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    profile = mkdtempSync(join(tmpdir(), 'lifeboat-chromium-'));
    // A fresh profile per run (Playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  const cases: [string, () => RunReport][] = [
    ['a succeeded failover', succeededReport],
    ['a failed failover', failedReport],
    ['a drill', drillReport],
  ];

  it.each(cases)(
    'renders %s with no error, its timeline rows, RTO line and text alternative matching the report',
    async (_name, make) => {
      // Prepare
      const report = make();
      const timeline = buildTimeline(report);
      const page = await browser.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('request', (r) => requests.push(r.url()));

      try {
        // Act
        await page.setContent(renderReportHtml(report), { waitUntil: 'load' });

        // Assess
        expect(problems).toEqual([]);
        // Self-contained: the page asked for nothing.
        expect(requests.filter((u) => !u.startsWith('data:') && u !== 'about:blank')).toEqual([]);
        const svg = page.locator('svg.timeline');
        await expect(svg.isVisible()).resolves.toBe(true);
        expect(await svg.getAttribute('role')).toBe('img');
        expect(await page.locator('svg.timeline > title').textContent()).toContain(report.runId);
        expect(await page.locator('svg.timeline > desc').textContent()).toContain(report.startedAt);

        const rows = await page
          .locator('svg.timeline g.row')
          .evaluateAll((gs) =>
            gs.map((g) => `${g.getAttribute('data-unit')}/${g.getAttribute('data-step')}`),
          );
        const expected = report.units.flatMap((u) => u.steps.map((s) => `${u.unit}/${s.step}`));
        expect(rows).toEqual(expected);
        expect(rows.length).toBeGreaterThan(0);
        // Each row the browser lays out, below the one before (rendered, not only present).
        const tops = await page
          .locator('svg.timeline g.row')
          .evaluateAll((gs) => gs.map((g) => (g as unknown as { getBBox(): { y: number } }).getBBox().y));
        for (let i = 1; i < tops.length; i++) expect(tops[i]).toBeGreaterThan(tops[i - 1] as number);

        // The RTO line sits where the target RTO falls on the axis.
        const geometry = await svg.evaluate((s) => ({
          t0: Date.parse(s.getAttribute('data-t0') ?? ''),
          t1: Date.parse(s.getAttribute('data-t1') ?? ''),
          left: Number(s.getAttribute('data-plot-left')),
          right: Number(s.getAttribute('data-plot-right')),
        }));
        expect(timeline.rto).not.toBeNull();
        const rtoAt = Date.parse(timeline.rto?.at ?? '');
        const expectedX =
          geometry.left +
          ((rtoAt - geometry.t0) / (geometry.t1 - geometry.t0)) * (geometry.right - geometry.left);
        const line = await page
          .locator('svg.timeline g.rto line')
          .evaluate((l) => Number(l.getAttribute('x1')));
        expect(line).toBeCloseTo(expectedX, 0);
        expect(geometry.t0).toBe(Date.parse(report.startedAt));

        // The text alternative lists every step, with its result.
        const text = await page
          .locator('table.timeline-text tbody tr')
          .evaluateAll((trs) =>
            trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
          );
        expect(text.map((cells) => `${cells[0]}/${cells[2]}`)).toEqual(
          report.units.flatMap((u) => u.steps.map((s) => `${u.unit}/${s.status}`)),
        );
        expect(text.map((cells) => cells[1])).toEqual(
          report.units.flatMap((u) => u.steps.map((s) => s.title)),
        );

        // A user-supplied reason is shown as text, not run.
        expect(await page.locator('table.facts').textContent()).toContain('<script>alert(1)</script>');
        expect(await page.locator('script').count()).toBe(0);
      } finally {
        await page.close();
      }
    },
    60_000,
  );
});
