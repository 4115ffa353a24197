import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  type RunReport,
  renderReportHtml,
  renderReportMarkdown,
  reportKeys,
} from '../functions/lib/report/index.js';

/** Where `npm run drill` keeps the reports it writes: under the drill's own folder, kept between runs. */
export const DRILL_REPORTS_DIR = resolve('.drill');

/**
 * Writes the run's HTML page and Markdown under `.drill/reports/<plan>/`, named as in S3 (reportKeys), and returns
 * their paths so the drill can print them.
 */
export function writeReportFiles(
  report: RunReport,
  root = DRILL_REPORTS_DIR,
): { html: string; markdown: string } {
  const keys = reportKeys(report);
  const html = resolve(root, keys.html);
  const markdown = resolve(root, keys.markdown);
  mkdirSync(dirname(html), { recursive: true });
  writeFileSync(html, renderReportHtml(report));
  writeFileSync(markdown, renderReportMarkdown(report));
  return { html, markdown };
}
