import type { RunReport, StepReport, StepStatus } from './model.js';

/**
 * The timeline the HTML and Markdown renderers draw: one row per unit and step with absolute times, the polls of the
 * wait steps, the DNS cache windows after each change and where the target RTO falls. Pure: derived from the report.
 */
export interface TimelineRow {
  unit: string;
  step: StepReport['step'];
  title: string;
  status: StepStatus;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  /** Wait steps: polls made (the state keeps their count and the last one's time, not each poll's time). */
  attempts: number | null;
}

export interface DnsCacheWindow {
  unit: string;
  recordName: string;
  /** When the change was in sync (or, without that, accepted): the window starts here. */
  from: string;
  /** The record's new TTL: a client resolving after the change may keep the new answer this long. */
  ttlSeconds: number | null;
  /** The TTL the record had before the change: a client that cached the old answer may keep it this long. */
  previousTtlSeconds: number | null;
}

export interface Timeline {
  /** Where the axis starts and ends (epoch ms). */
  t0: number;
  t1: number;
  rows: TimelineRow[];
  dnsWindows: DnsCacheWindow[];
  /** Where the target RTO falls, when the run has one; a drill measures from the first promotion. */
  rto: { at: string; seconds: number; from: string } | null;
}

export function buildTimeline(report: RunReport): Timeline {
  const t0 = Date.parse(report.startedAt);
  const rows: TimelineRow[] = report.units.flatMap((u) =>
    u.steps.map((s) => ({
      unit: u.unit,
      step: s.step,
      title: s.title,
      status: s.status,
      startedAt: s.startedAt,
      endedAt: s.endedAt,
      durationMs: s.durationMs,
      attempts: s.attempts ?? null,
    })),
  );
  const dnsWindows: DnsCacheWindow[] = [];
  for (const u of report.units) {
    const from = u.dns?.inSyncAt ?? u.dns?.changedAt;
    // A record already in place gave no client a new answer: no cache window follows.
    if (!u.dns?.recordName || !from || u.dns.alreadyInPlace) continue;
    // A change sent in its zone's batch: the previous TTL is in the DNS poll's detail (functions/lib/dns/change.ts).
    const previous =
      u.steps.find((s) => s.step === 'updateDns')?.detail.previousTtl ??
      u.steps.find((s) => s.step === 'waitForDnsInSync')?.detail.previousTtl;
    dnsWindows.push({
      unit: u.unit,
      recordName: u.dns.recordName,
      from,
      ttlSeconds: u.dns.ttlSeconds,
      previousTtlSeconds: typeof previous === 'number' ? previous : null,
    });
  }
  const rto = rtoMark(report);
  const ends = [
    Date.parse(report.endedAt),
    ...rows.flatMap((r) => [r.startedAt, r.endedAt]).map((t) => (t ? Date.parse(t) : Number.NaN)),
    ...dnsWindows.map(
      (w) => Date.parse(w.from) + Math.max(w.ttlSeconds ?? 0, w.previousTtlSeconds ?? 0) * 1000,
    ),
    rto ? Date.parse(rto.at) : Number.NaN,
  ].filter(Number.isFinite);
  return { t0, t1: Math.max(t0 + 1000, ...ends), rows, dnsWindows, rto };
}

function rtoMark(report: RunReport): Timeline['rto'] {
  if (report.targetRtoSeconds === null || report.mode === 'dry-run') return null;
  const drillStarts = report.units
    .map((u) => u.drill?.promotionStartedAt)
    .filter((t): t is string => typeof t === 'string')
    .sort();
  const from = report.mode === 'drill' ? drillStarts[0] : report.startedAt;
  if (!from) return null;
  return {
    from,
    seconds: report.targetRtoSeconds,
    at: new Date(Date.parse(from) + report.targetRtoSeconds * 1000).toISOString(),
  };
}

/** The units a re-run should cover: the failed ones, or every unit when the run stopped before or around them. */
export function unitsToRerun(report: RunReport): string[] {
  if (report.outcome !== 'failed' || report.mode === 'dry-run') return [];
  const failed = report.units.filter((u) => u.status === 'failed').map((u) => u.unit);
  if (failed.length) return failed;
  return report.units.filter((u) => u.status === 'not-started').map((u) => u.unit);
}

/**
 * The command that re-runs a failed run's units (cli/commands/start.ts), or null for a run that needs none. A drill
 * re-runs as a drill; the reason names the run it repeats.
 */
export function rerunCommand(report: RunReport): string | null {
  if (report.outcome !== 'failed' || report.mode === 'dry-run') return null;
  const units = unitsToRerun(report);
  const parts = ['lifeboat start'];
  if (report.mode === 'drill') parts.push('--mode drill');
  if (units.length) parts.push(`--units ${shellWord(units.join(','))}`);
  parts.push(`--reason ${shellWord(`re-run of ${report.runId}`)}`);
  return parts.join(' ');
}

/** A word the shell takes as it is: double quotes when only safe characters, else single quotes. */
function shellWord(text: string): string {
  if (/^[A-Za-z0-9,._:@/+=-]+$/.test(text)) return text;
  if (/^[A-Za-z0-9 ,._:@/+=-]+$/.test(text)) return `"${text}"`;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
