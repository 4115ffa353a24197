import { promotionPollSeconds } from '../functions/lib/database.js';
import { DNS_POLL_SECONDS } from '../functions/lib/dns/update.js';

/**
 * Poll schedules in emulated (AWS) seconds, and the detection lag each gives for an asynchronous operation of known
 * duration: the time between the operation's true completion and the poll that sees it.
 *
 * - lifeboat: the poll functions' own `waitSeconds` (functions/lib/database.ts `promotionPollSeconds`,
 *   functions/lib/dns/update.ts `DNS_POLL_SECONDS`), the first poll right after the call.
 * - DR Orchestrator Framework (docs/design.md, "Comparison points": a fixed 60 s sleep after the call, then an
 *   unbounded 15 s polling loop): first poll 60 s after the call, then every 15 s. It promotes databases only;
 *   for the DNS change the same schedule is applied to compare like with like.
 *
 * Every poll iteration also costs `stepSeconds` (Lambda invocation, the API call, the state transitions): the
 * schedule drifts by that much per poll. The lag is measured from the completion to the poll's own time.
 */

/** The emulator's RDS promotion phases (local/emulator/services/rds.ts): `available` (still a replica), `modifying`, `rebooting`, then `available` and standalone. */
export interface PromotionPhases {
  readonly startSeconds: number;
  readonly modifyingSeconds: number;
  readonly rebootingSeconds: number;
}

export function promotionSeconds(p: PromotionPhases): number {
  return p.startSeconds + p.modifyingSeconds + p.rebootingSeconds;
}

/** What DescribeDBInstances shows `t` seconds after PromoteReadReplica. */
export function promotionStatusAt(t: number, p: PromotionPhases): { status: string; hasSource: boolean } {
  if (t < p.startSeconds) return { status: 'available', hasSource: true };
  if (t < p.startSeconds + p.modifyingSeconds) return { status: 'modifying', hasSource: true };
  if (t < promotionSeconds(p)) return { status: 'rebooting', hasSource: true };
  return { status: 'available', hasSource: false };
}

export interface PollTimeline {
  /** Seconds after the call at which each poll looked. */
  readonly polls: number[];
  /** The poll that saw the operation done. */
  readonly detectedAt: number;
  readonly completedAt: number;
  readonly lagSeconds: number;
}

const MAX_POLLS = 10_000;

/** lifeboat's database promotion polls (WaitForDatabasePromotion loop). */
export function lifeboatPromotionTimeline(p: PromotionPhases, stepSeconds: number): PollTimeline {
  const completedAt = promotionSeconds(p);
  const polls: number[] = [];
  let t = stepSeconds;
  for (let i = 0; i < MAX_POLLS; i += 1) {
    polls.push(t);
    const { status, hasSource } = promotionStatusAt(t, p);
    if (status === 'available' && !hasSource)
      return { polls, detectedAt: t, completedAt, lagSeconds: t - completedAt };
    t += promotionPollSeconds(status, hasSource) + stepSeconds;
  }
  throw new Error('lifeboatPromotionTimeline: no detection within the poll bound');
}

/** lifeboat's Route 53 change polls (WaitForDnsInSync loop): INSYNC once `changeSeconds` have passed. */
export function lifeboatDnsTimeline(changeSeconds: number, stepSeconds: number): PollTimeline {
  const polls: number[] = [];
  let t = stepSeconds;
  for (let i = 0; i < MAX_POLLS; i += 1) {
    polls.push(t);
    if (t >= changeSeconds)
      return { polls, detectedAt: t, completedAt: changeSeconds, lagSeconds: t - changeSeconds };
    t += DNS_POLL_SECONDS + stepSeconds;
  }
  throw new Error('lifeboatDnsTimeline: no detection within the poll bound');
}

export const DRF_SCHEDULE = { initialSleepSeconds: 60, pollSeconds: 15 } as const;

/** The DR Orchestrator Framework's schedule: a fixed sleep, then polls at a fixed interval. */
export function fixedScheduleTimeline(
  completedAt: number,
  stepSeconds: number,
  schedule: { initialSleepSeconds: number; pollSeconds: number } = DRF_SCHEDULE,
): PollTimeline {
  const polls: number[] = [];
  let t = schedule.initialSleepSeconds + stepSeconds;
  for (let i = 0; i < MAX_POLLS; i += 1) {
    polls.push(t);
    if (t >= completedAt) return { polls, detectedAt: t, completedAt, lagSeconds: t - completedAt };
    t += schedule.pollSeconds + stepSeconds;
  }
  throw new Error('fixedScheduleTimeline: no detection within the poll bound');
}

export interface LagSweep {
  /** What was varied, e.g. "modifying phase 5..1800 s". */
  readonly range: string;
  readonly cases: number;
  readonly lifeboat: { max: number; mean: number };
  readonly drf: { max: number; mean: number };
}

function summary(values: number[]): { max: number; mean: number } {
  return { max: Math.max(...values), mean: values.reduce((a, b) => a + b, 0) / values.length };
}

/**
 * Lags over a range of durations, so that the comparison does not hinge on one lucky duration: the promotion's
 * `modifying` phase from `fromSeconds` to `toSeconds` (start and rebooting phases as given), every second.
 */
export function promotionLagSweep(
  base: PromotionPhases,
  stepSeconds: number,
  fromSeconds = 5,
  toSeconds = 1800,
): LagSweep {
  const lifeboat: number[] = [];
  const drf: number[] = [];
  for (let m = fromSeconds; m <= toSeconds; m += 1) {
    const phases = { ...base, modifyingSeconds: m };
    lifeboat.push(lifeboatPromotionTimeline(phases, stepSeconds).lagSeconds);
    drf.push(fixedScheduleTimeline(promotionSeconds(phases), stepSeconds).lagSeconds);
  }
  return {
    range: `modifying phase ${fromSeconds}..${toSeconds} s (start ${base.startSeconds} s, rebooting ${base.rebootingSeconds} s)`,
    cases: lifeboat.length,
    lifeboat: summary(lifeboat),
    drf: summary(drf),
  };
}

/** Lags of a Route 53 change taking `fromSeconds`..`toSeconds` to be INSYNC, every second. */
export function dnsLagSweep(stepSeconds: number, fromSeconds = 1, toSeconds = 120): LagSweep {
  const lifeboat: number[] = [];
  const drf: number[] = [];
  for (let c = fromSeconds; c <= toSeconds; c += 1) {
    lifeboat.push(lifeboatDnsTimeline(c, stepSeconds).lagSeconds);
    drf.push(fixedScheduleTimeline(c, stepSeconds).lagSeconds);
  }
  return {
    range: `change INSYNC after ${fromSeconds}..${toSeconds} s`,
    cases: lifeboat.length,
    lifeboat: summary(lifeboat),
    drf: summary(drf),
  };
}
