import {
  CreateSecretCommand,
  DescribeSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterEach, describe, expect, it } from 'vitest';
import { tokenBucketRule } from '../../bench/rate-limits.js';
import {
  dnsLagSweep,
  fixedScheduleTimeline,
  lifeboatDnsTimeline,
  lifeboatPromotionTimeline,
  promotionLagSweep,
  promotionStatusAt,
} from '../../bench/schedules.js';
import { type Emulator, startEmulator } from '../../local/emulator/index.js';

const PHASES = { startSeconds: 5, modifyingSeconds: 60, rebootingSeconds: 20 };

describe('poll schedules', () => {
  it('follows the emulator status sequence of a promotion', () => {
    // Act
    const seen = [0, 4.9, 5, 64.9, 65, 84.9, 85].map((t) => promotionStatusAt(t, PHASES));
    // Assess
    expect(seen.map((s) => `${s.status}${s.hasSource ? '+source' : ''}`)).toEqual([
      'available+source',
      'available+source',
      'modifying+source',
      'modifying+source',
      'rebooting+source',
      'rebooting+source',
      'available',
    ]);
  });

  it("gives lifeboat's promotion polls: 2 s before the start, 4 s while modifying, 2 s while rebooting", () => {
    // Act
    const timeline = lifeboatPromotionTimeline(PHASES, 0);
    // Assess
    expect(timeline.polls.slice(0, 5)).toEqual([0, 2, 4, 6, 10]);
    expect(timeline.polls.slice(-3)).toEqual([82, 84, 86]);
    expect(timeline.detectedAt).toBe(86);
    expect(timeline.lagSeconds).toBe(1);
  });

  it('adds the per-poll compute to every iteration', () => {
    // Act
    const timeline = lifeboatDnsTimeline(20, 0.5);
    // Assess
    expect(timeline.polls.slice(0, 3)).toEqual([0.5, 3, 5.5]);
    expect(timeline.detectedAt).toBe(20.5);
    expect(timeline.lagSeconds).toBeCloseTo(0.5);
  });

  it('gives the DR Orchestrator Framework schedule a 60 s sleep then 15 s polls', () => {
    // Act
    const promotion = fixedScheduleTimeline(85, 0);
    const dns = fixedScheduleTimeline(20, 0);
    // Assess
    expect(promotion.polls).toEqual([60, 75, 90]);
    expect(promotion.lagSeconds).toBe(5);
    expect(dns.polls).toEqual([60]);
    expect(dns.lagSeconds).toBe(40);
  });

  it('bounds the lag over a range of durations', () => {
    // Act
    const promotion = promotionLagSweep(PHASES, 0, 5, 600);
    const dns = dnsLagSweep(0, 1, 120);
    // Assess
    expect(promotion.cases).toBe(596);
    expect(promotion.lifeboat.max).toBeLessThanOrEqual(2);
    expect(promotion.drf.max).toBe(60 - 30);
    expect(dns.lifeboat.max).toBeLessThanOrEqual(2);
    expect(dns.drf.max).toBe(59);
  });
});

describe('token bucket rate limits on the emulator', () => {
  let emulator: Emulator | undefined;
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
  });

  it('throttles exactly the calls that find the bucket empty, one token per call', async () => {
    // Prepare
    emulator = await startEmulator({ timeFactor: 1 });
    const sm = new SecretsManagerClient({ ...emulator.clientConfig('us-west-2'), maxAttempts: 1 });
    await sm.send(new CreateSecretCommand({ Name: 'bucket/test', SecretString: 'x' }));
    let clock = 0;
    const bucket = tokenBucketRule(
      {
        name: 'test',
        match: { service: 'secretsmanager', action: 'DescribeSecret' },
        capacity: 2,
        refillPerSecond: 1,
        source: 'test',
      },
      1,
      () => clock,
    );
    emulator.faults.add(bucket.rule);
    // Act
    const outcomes: string[] = [];
    const describe = async () => {
      try {
        await sm.send(new DescribeSecretCommand({ SecretId: 'bucket/test' }));
        outcomes.push('ok');
      } catch (error) {
        outcomes.push((error as Error).name);
      }
    };
    await describe();
    await describe();
    await describe();
    clock += 1000; // one emulated second: one token
    await describe();
    await describe();
    sm.destroy();
    // Assess
    expect(outcomes).toEqual(['ok', 'ok', 'ThrottlingException', 'ok', 'ThrottlingException']);
    expect(bucket.stats()).toEqual({ name: 'test', allowed: 3, throttled: 2 });
    const logged = emulator.calls.filter((c) => c.action === 'DescribeSecret').map((c) => c.fault ?? 'none');
    expect(logged).toEqual(['none', 'none', 'throttle', 'none', 'throttle']);
  });
});
