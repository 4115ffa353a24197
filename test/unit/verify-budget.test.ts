import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  ConnectivityNotReadyError,
  ConnectivityTimeoutError,
  VerificationFailedError,
} from '../../functions/lib/errors.js';
import {
  assertDnsSettlement,
  DNS_PROPAGATION_SECONDS,
  HEALTH_CHECK_FLIP_SECONDS,
  PREVIOUS_TTL_CEILING_SECONDS,
  RESOLVER_MARGIN_SECONDS,
  verifyBudget,
  withinBudget,
} from '../../functions/lib/verify/budget.js';
import { verifyConnectivity } from '../../functions/lib/verify/connectivity.js';
import type { DnsResolver } from '../../functions/lib/verify/dns.js';
import { handler } from '../../functions/verify-connectivity.js';
import { PRIMARY_ENDPOINT, RECORD_NAME, standalone, stepInput } from '../fixtures/db-fixtures.js';
import { MARKER_PASSWORD } from '../fixtures/secret.js';

const IN_SYNC = '2025-01-01T00:00:00.000Z';
const at = (seconds: number) => new Date(Date.parse(IN_SYNC) + seconds * 1000);

/** A unit whose plan TTL is `ttl` (the fixture plan's is 5 s). */
function unitWith(ttl = 5, strategy: 'cname' | 'health-check' = 'cname') {
  const { unit } = stepInput();
  return { ...unit, dns: { ...unit.dns, ttl, strategy } };
}

const settled = (previousTtl: number | null, inSync = IN_SYNC) => ({
  change: { changeId: '/change/C1', changedAt: '2024-12-31T23:59:40.000Z', previousTtl },
  inSync: { done: true, status: 'INSYNC', observedAt: inSync, attempts: 3 },
});

describe('verifyBudget', () => {
  it('waits out the record previous TTL when it is larger than the plan TTL, from the change in sync', () => {
    // Act
    const budget = verifyBudget(unitWith(5), settled(300));

    // Assess
    expect(budget).toEqual({
      from: IN_SYNC,
      cacheSeconds: 300,
      allowanceSeconds: RESOLVER_MARGIN_SECONDS,
      deadline: at(300 + RESOLVER_MARGIN_SECONDS).toISOString(),
    });
  });

  it('waits out the plan TTL when the previous one was smaller or unknown', () => {
    // Act
    const smaller = verifyBudget(unitWith(60), settled(10));
    const unknown = verifyBudget(unitWith(60), settled(null));

    // Assess
    expect(smaller?.cacheSeconds).toBe(60);
    expect(unknown?.cacheSeconds).toBe(60);
  });

  it('counts a previous TTL only up to the ceiling the static retrier covers, but always the plan TTL', () => {
    // Act
    const huge = verifyBudget(unitWith(5), settled(86_400));
    const planAbove = verifyBudget(unitWith(7200), settled(86_400));

    // Assess
    expect(huge?.cacheSeconds).toBe(PREVIOUS_TTL_CEILING_SECONDS);
    expect(planAbove?.cacheSeconds).toBe(7200);
  });

  it('adds the health-check flip for a health-check unit', () => {
    // Act
    const budget = verifyBudget(unitWith(60, 'health-check'), settled(null));

    // Assess
    expect(budget?.allowanceSeconds).toBe(RESOLVER_MARGIN_SECONDS + HEALTH_CHECK_FLIP_SECONDS);
  });

  it('starts at the change submission when no poll saw it in sync, and has no budget without any time', () => {
    // Act
    const submitted = verifyBudget(unitWith(5), { change: { changedAt: IN_SYNC, previousTtl: 60 } });
    const none = verifyBudget(unitWith(5), undefined);
    const dryRun = verifyBudget(unitWith(5), { change: { changedAt: null }, inSync: { done: true } });

    // Assess
    expect(submitted?.from).toBe(IN_SYNC);
    expect(none).toBeUndefined();
    expect(dryRun).toBeUndefined();
  });

  it('keeps the documented propagation figure apart from the resolver margin', () => {
    // Assess: preflight adds the time to INSYNC; verify starts its clock at INSYNC.
    expect(DNS_PROPAGATION_SECONDS).toBe(60);
    expect(RESOLVER_MARGIN_SECONDS).toBeLessThan(DNS_PROPAGATION_SECONDS);
  });
});

describe('withinBudget', () => {
  const budget = verifyBudget(unitWith(5), settled(300));

  it('keeps a not-ready attempt retryable before the deadline', () => {
    // Prepare
    const error = new ConnectivityNotReadyError('still resolves to the old primary');

    // Act
    const out = withinBudget(error, budget, at(300));

    // Assess
    expect(out).toBe(error);
  });

  it('makes a not-ready attempt past the deadline a ConnectivityTimeoutError that says what the budget was', () => {
    // Act
    const out = withinBudget(
      new ConnectivityNotReadyError('still resolves to the old primary'),
      budget,
      at(300 + RESOLVER_MARGIN_SECONDS),
    );

    // Assess
    expect(out).toBeInstanceOf(ConnectivityTimeoutError);
    expect((out as Error).message).toBe(
      `still resolves to the old primary; still not ready 330 s after the DNS change was in sync (${IN_SYNC}), past ` +
        "the verify budget of 330 s (the larger of the record's previous TTL and its new one, 300 s, plus 30 s for resolvers)",
    );
  });

  it('passes other errors, and not-ready attempts without a budget, through unchanged', () => {
    // Prepare
    const failed = new VerificationFailedError('read-only');
    const notReady = new ConnectivityNotReadyError('refused');

    // Act + Assess
    expect(withinBudget(failed, budget, at(10_000))).toBe(failed);
    expect(withinBudget(notReady, undefined, at(10_000))).toBe(notReady);
  });
});

describe('verifyConnectivity with a budget', () => {
  const smMock = mockClient(SecretsManagerClient);
  const rdsMock = mockClient(RDSClient);
  /** DNS still leads to the old primary. */
  const stale: DnsResolver = {
    resolveCname: async (name) => (name === RECORD_NAME ? [PRIMARY_ENDPOINT] : []),
    resolve4: async () => ['10.9.9.9'],
    resolve6: async () => [],
  };

  beforeEach(() => {
    smMock.reset();
    rdsMock.reset();
    smMock.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        engine: 'postgres',
        host: RECORD_NAME,
        port: 5432,
        username: 'app',
        password: MARKER_PASSWORD,
        dbname: 'orders',
      }),
    });
    rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [standalone()] });
  });

  const attempt = (seconds: number) =>
    verifyConnectivity(
      {
        secretsManager: smMock as unknown as SecretsManagerClient,
        rds: rdsMock as unknown as RDSClient,
        resolver: () => stale,
        connectors: {
          postgres: async () => {
            throw new Error('no connection expected');
          },
          mysql: async () => {
            throw new Error('no connection expected');
          },
        },
        now: () => at(seconds),
      },
      { ...stepInput(), dns: settled(300) },
    ).then(
      () => undefined,
      (error: Error) => error,
    );

  it('is not ready (retried) within the previous TTL, and fails for good once it has passed', async () => {
    // Act
    const early = await attempt(120);
    const late = await attempt(400);

    // Assess
    expect(early?.name).toBe('ConnectivityNotReadyError');
    expect(late?.name).toBe('ConnectivityTimeoutError');
    expect(late?.message).toContain('not to the promoted instance');
    expect(late?.message).toContain('past the verify budget of 330 s');
    expect(late?.message).not.toContain(MARKER_PASSWORD);
  });

  it('refuses a dns field of the wrong shape before any call, naming it', async () => {
    // Act
    const error = await handler({ ...stepInput(), dns: { change: 'yesterday' } }).catch((e: Error) => e);

    // Assess
    expect((error as Error).name).toBe('InputInvalidError');
    expect((error as Error).message).toContain('dns.change: expected an object');
    expect(smMock.calls()).toHaveLength(0);
    expect(() => assertDnsSettlement(undefined, 'x')).not.toThrow();
  });
});
