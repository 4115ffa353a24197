import type { DetailValue, PreflightCheck } from './types.js';

/** One unit's preflight findings, and how each concern's check records one (with the figures readiness publishes). */
export function unitFindings(unit: string): {
  checks: PreflightCheck[];
  add: (
    check: string,
    ok: boolean,
    severity: PreflightCheck['severity'],
    message: string,
    figures?: Record<string, DetailValue>,
  ) => void;
} {
  const checks: PreflightCheck[] = [];
  return {
    checks,
    add: (check, ok, severity, message, figures) => {
      checks.push({ unit, check, ok, severity, message, ...(figures ? { figures } : {}) });
    },
  };
}
