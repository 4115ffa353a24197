import { Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag acknowledgements, each with its reason, recorded on the narrowest construct that holds the finding
 * (cdk-nag 3 reads CDK's `Validations.acknowledge` metadata on the resource and its ancestors).
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  if (reason.trim().length < 20) throw new TypeError(`acknowledgement of ${id} needs a real reason`);
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * The AwsSolutions-IAM5 finding ids a statement raises, spelled the way cdk-nag spells them (`Resource::<Fn.Arn>:*`,
 * `Action::kms:GenerateDataKey*`), so that a wildcard is acknowledged exactly, never the rule as a whole.
 */
export function wildcardFindings(scope: IConstruct, statement: iam.PolicyStatement): string[] {
  return statementWildcardFindings(Stack.of(scope).resolve(statement.toStatementJson()));
}

function statementWildcardFindings(resolved: unknown): string[] {
  const json = resolved as {
    Action?: unknown;
    Resource?: unknown;
  };
  const list = (value: unknown): unknown[] =>
    value === undefined ? [] : Array.isArray(value) ? value : [value];
  const findings: string[] = [];
  for (const action of list(json.Action)) {
    if (typeof action === 'string' && action.includes('*'))
      findings.push(`AwsSolutions-IAM5[Action::${action}]`);
  }
  for (const resource of list(json.Resource)) {
    const flat = flattenCfnReference(resource);
    if (flat.includes('*')) findings.push(`AwsSolutions-IAM5[Resource::${flat}]`);
  }
  return findings;
}

/** Acknowledges every wildcard of `statement` on `scope` with `reason`; a statement without one needs none. */
export function acknowledgeWildcards(
  scope: IConstruct,
  statement: iam.PolicyStatement,
  reason: string,
): void {
  for (const finding of wildcardFindings(scope, statement)) acknowledge(scope, finding, reason);
}

/**
 * Acknowledges every wildcard of a policy CDK wrote for us (e.g. the Distributed Map's `DistributedMapPolicy`), on that
 * policy, with `reason`. Each finding is named exactly, as for our own statements.
 */
export function acknowledgePolicyWildcards(policy: iam.Policy, reason: string): string[] {
  const document = Stack.of(policy).resolve(policy.document.toJSON()) as
    | { Statement?: unknown[] }
    | undefined;
  const findings = [...new Set((document?.Statement ?? []).flatMap(statementWildcardFindings))];
  for (const finding of findings) acknowledge(policy, finding, reason);
  return findings;
}
