import { describe, expect, it } from 'vitest';
import {
  type AwsService,
  STEP_TIMEOUT_MARGIN_SECONDS,
  sdkCallBudgetMs,
} from '../../functions/lib/clients.js';
import { PREFLIGHT_CHECK_DEADLINE_MS } from '../../functions/lib/preflight.js';
import { STEP_FUNCTIONS } from '../../statemachine/steps.js';
import { asList, examplePlan, stepFunction, stepStatements, synthesize } from './support.js';

/**
 * Issue 9, item 2: every step's Lambda timeout outlasts one call that never answers to each service its role may
 * call (SDK attempts x request timeout + backoff, functions/lib/clients.ts), so a hanging endpoint ends as a retryable
 * TransientAwsError, not as a Lambda timeout that the state machine does not retry. The services come from the IAM
 * grants, so a step that starts calling a new service cannot be forgotten here.
 */

/** IAM service prefix → the SDK client lifeboat calls it with (KMS is only used through Secrets Manager). */
const CLIENT_OF: Record<string, AwsService | null> = {
  secretsmanager: 'secretsManager',
  rds: 'rds',
  route53: 'route53',
  dynamodb: 'dynamodb',
  s3: 's3',
  sns: 'sns',
  lambda: 'lambda',
  cloudwatch: 'cloudwatch',
  states: 'sfn',
  kms: null,
  // The Lambda basics every step has: its own log group and X-Ray.
  logs: null,
  xray: null,
  // The verify function's network interfaces, managed by Lambda.
  ec2: null,
};

describe('step Lambda timeouts against the SDK budgets', () => {
  const { template, plan } = synthesize(examplePlan('plan-three-units.json'));

  it.each(STEP_FUNCTIONS.filter((s) => s !== 'preflight'))(
    '%s outlasts one hung call per service it may call',
    (step) => {
      // Prepare
      const services = new Set<AwsService>();
      for (const statement of stepStatements(template, plan, step)) {
        for (const action of asList(statement.Action)) {
          const prefix = action.split(':')[0] as string;
          expect(CLIENT_OF, `${step}: ${action}`).toHaveProperty(prefix);
          const client = CLIENT_OF[prefix];
          if (client) services.add(client);
        }
      }
      const budget = [...services].reduce((sum, s) => sum + sdkCallBudgetMs(s), 0) / 1000;
      const verifyQueries =
        step === 'verifyConnectivity' ? 3 * Math.max(...plan.units.map((u) => u.verify.timeoutSeconds)) : 0;

      // Act
      const timeout = stepFunction(template, plan, step).resource.Properties.Timeout as number;

      // Assess
      expect(timeout).toBeGreaterThanOrEqual(budget + verifyQueries + STEP_TIMEOUT_MARGIN_SECONDS);
    },
  );

  it('preflight outlasts its per-check deadline (every check of every unit runs concurrently)', () => {
    // Act
    const timeout = stepFunction(template, plan, 'preflight').resource.Properties.Timeout as number;

    // Assess
    expect(timeout).toBeGreaterThanOrEqual(PREFLIGHT_CHECK_DEADLINE_MS / 1000 + STEP_TIMEOUT_MARGIN_SECONDS);
    // And the deadline outlasts one hung Route 53 call, so that the check itself can name the call that hung.
    expect(PREFLIGHT_CHECK_DEADLINE_MS).toBeGreaterThan(sdkCallBudgetMs('route53'));
  });
});
