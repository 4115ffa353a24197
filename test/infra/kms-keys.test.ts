import { describe, expect, it } from 'vitest';
import { parsePlan } from '../../functions/lib/plan.js';
import { examplePlan, stepStatements, synthesize } from './support.js';

const ANY_KEY = 'arn:aws:kms:us-west-2:123456789012:key/*';
const ORDERS_KEY = 'arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const BILLING_KEY = 'arn:aws:kms:us-west-2:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab';
const VIA_SECRETS_MANAGER = { 'kms:ViaService': 'secretsmanager.us-west-2.amazonaws.com' };
/** The steps that use a secret's key, and the Sid of that grant. */
const SECRET_KEY_GRANTS = {
  preflight: 'DecryptReplicaSecrets',
  verifyConnectivity: 'DecryptSecretsToConnect',
  prepareDrill: 'DecryptProductionSecrets',
} as const;

type Unit = { name: string; secret: Record<string, unknown> };

/** plan.json with a second unit, and each unit's secret key as given (undefined: the plan names none). */
function planWithKeys(orders?: string, billing?: string) {
  const document = examplePlan('plan.json');
  const units = document.units as unknown as Unit[];
  const billingUnit = structuredClone(units[0]) as Unit & Record<string, Record<string, unknown>>;
  billingUnit.name = 'billing';
  billingUnit.secret = { id: 'billing/db' };
  billingUnit.database = {
    ...billingUnit.database,
    primaryInstanceId: 'billing-db',
    replicaInstanceId: 'billing-db-replica',
  };
  billingUnit.dns = { ...billingUnit.dns, recordName: 'billing-db.internal.example.com' };
  units.push(billingUnit);
  if (orders) (units[0] as Unit).secret.kmsKeyArn = orders;
  if (billing) billingUnit.secret.kmsKeyArn = billing;
  return document;
}

const secretOf = (name: string) => `arn:aws:secretsmanager:us-west-2:123456789012:secret:${name}/db-??????`;

describe('KMS grants for the plan secrets', () => {
  // Prepare (synthesis is slow on a busy machine: done once per plan, outside the tests' time limit)
  const named = synthesize(planWithKeys(ORDERS_KEY, BILLING_KEY));
  const mixed = synthesize(planWithKeys(ORDERS_KEY, undefined));
  const rewriting = planWithKeys(ORDERS_KEY, BILLING_KEY);
  (rewriting.units[0] as unknown as { rotation: Record<string, unknown> }).rotation.rewriteRegionFields =
    true;
  const rewrite = synthesize(rewriting);

  it('name only the plan keys when every secret names its key', () => {
    const { template, plan } = named;
    for (const [step, sid] of Object.entries(SECRET_KEY_GRANTS)) {
      // Act
      const kms = stepStatements(template, plan, step).filter((s) => s.Sid?.startsWith(sid));
      // Assess
      expect(kms, step).toEqual([
        {
          Sid: sid,
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: [ORDERS_KEY, BILLING_KEY],
          Condition: {
            StringEquals: VIA_SECRETS_MANAGER,
            StringLike: { 'kms:EncryptionContext:SecretARN': [secretOf('orders'), secretOf('billing')] },
          },
        },
      ]);
    }
  });

  it('keep any key of the Region, through Secrets Manager only, for the secrets whose key the plan does not name', () => {
    // Prepare
    const { template, plan } = mixed;
    // Act
    const kms = stepStatements(template, plan, 'preflight').filter((s) =>
      s.Sid?.startsWith('DecryptReplicaSecrets'),
    );
    // Assess
    expect(kms).toEqual([
      {
        Sid: 'DecryptReplicaSecrets',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: ORDERS_KEY,
        Condition: {
          StringEquals: VIA_SECRETS_MANAGER,
          StringLike: { 'kms:EncryptionContext:SecretARN': [secretOf('orders')] },
        },
      },
      {
        Sid: 'DecryptReplicaSecretsUnnamedKeys',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: ANY_KEY,
        Condition: {
          StringEquals: VIA_SECRETS_MANAGER,
          StringLike: { 'kms:EncryptionContext:SecretARN': [secretOf('billing')] },
        },
      },
    ]);
  });

  it('scope the rewrite of region fields to the named key too', () => {
    // Prepare
    const { template, plan } = rewrite;
    // Act
    const statements = stepStatements(template, plan, 'attachRotation').filter((s) =>
      s.Sid?.startsWith('EncryptRewrittenSecrets'),
    );
    // Assess
    expect(statements.map((s) => [s.Sid, s.Resource])).toEqual([['EncryptRewrittenSecrets', ORDERS_KEY]]);
  });
});

describe('units[].secret.kmsKeyArn', () => {
  it('refuses an alias and a key of another Region, naming the field', () => {
    // Prepare
    const alias = planWithKeys('arn:aws:kms:us-west-2:123456789012:alias/orders', undefined);
    const elsewhere = planWithKeys(undefined, BILLING_KEY.replace('us-west-2', 'us-east-1'));
    // Act / Assess
    expect(() => parsePlan(alias)).toThrow(/units\[0\]\.secret\.kmsKeyArn: expected a KMS key ARN/);
    expect(() => parsePlan(elsewhere)).toThrow(
      /units\[1\]\.secret\.kmsKeyArn: must be in the recovery Region us-west-2, not us-east-1/,
    );
  });
});
