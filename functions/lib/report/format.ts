import type { DrillResource } from '../drill.js';

/** The detail keys of a dry run's network probe results (functions/lib/verify/dry-run.ts, PROBE_DETAIL_PREFIX). */
export const PROBE_DETAIL_PREFIX = 'probe.';

/** `850ms`, `4.2s`, `3m 05s`, `1h 02m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** A count with its noun in the right number: `1 poll`, `3 polls`, `1 warning`. */
export function countOf(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

export function pad(text: string, width: number): string {
  return text.length >= width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

export function clamp(n: number, lo: number, hi: number): number {
  return Math.min(Math.max(n, lo), hi);
}

export function seconds(ms: number): number {
  return Number.isFinite(ms) ? Math.max(0, Math.round(ms / 100) / 10) : 0;
}

/** A multi-line message (e.g. a list of problems) as one line for the summary, at most 400 characters. */
export function oneLine(text: string): string {
  const flat = text
    .replace(/:\s*\n\s*-\s*/g, ': ')
    .replace(/\s*\n\s*-\s*/g, '; ')
    .replace(/\s*\n\s*/g, ' ')
    .replace(/[.\s]+$/, '');
  return flat.length > 400 ? `${flat.slice(0, 399)}…` : flat;
}

export function describeResources(resources: readonly DrillResource[]): string {
  return resources.length
    ? resources
        .map((r) => `${r.kind} ${r.id} in ${r.region} (${r.status}${r.note ? `: ${r.note}` : ''})`)
        .join('; ')
    : 'none listed';
}

export function cut(text: string, chars: number): string {
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

/** How a report names its run, by mode: `Failover`, `Dry run`, `Drill`, `Switchover`, `Re-protect`. */
export function runSubject(mode: string | null | undefined): string {
  const subjects: Record<string, string> = {
    'dry-run': 'Dry run',
    drill: 'Drill',
    switchover: 'Switchover',
    reprotect: 'Re-protect',
  };
  return (mode ? subjects[mode] : undefined) ?? 'Failover';
}
