import { randomUUID } from 'node:crypto';
import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { examplePlan, synthesize } from './support.js';

/**
 * deploy → destroy → deploy, and a first deploy that rolled back → deploy. What a stack leaves behind (DeletionPolicy
 * Retain or RetainExceptOnCreate) must never hold a name the next stack of the same name asks for, or the next
 * create fails with "already exists" (docs/aws/cloudformation-retained-names.md). CloudFormation cannot be run here,
 * so the template's names are evaluated for two stacks of the same name, as CloudFormation would evaluate them.
 */

type Json = unknown;
interface Resource {
  Type: string;
  Properties?: Record<string, Json>;
  DeletionPolicy?: string;
}

/**
 * The properties that give a resource of each type its physical name; without them CloudFormation generates a
 * unique one. Every type lifeboat keeps must be listed, so a new kept type is a deliberate decision.
 */
const NAME_PROPERTIES: Record<string, readonly string[]> = {
  'AWS::Logs::LogGroup': ['LogGroupName'],
  'AWS::DynamoDB::Table': ['TableName'],
  'AWS::S3::Bucket': ['BucketName'],
  'AWS::SQS::Queue': ['QueueName'],
  'AWS::SNS::Topic': ['TopicName'],
  'AWS::KMS::Key': [],
  'AWS::KMS::Alias': ['AliasName'],
  'AWS::Lambda::Function': ['FunctionName'],
  'AWS::IAM::Role': ['RoleName'],
  'AWS::StepFunctions::StateMachine': ['StateMachineName'],
  'AWS::CloudWatch::Alarm': ['AlarmName'],
  'AWS::CloudWatch::Dashboard': ['DashboardName'],
  'AWS::Events::Rule': ['Name'],
  'AWS::Scheduler::Schedule': ['Name'],
  'AWS::EC2::SecurityGroup': ['GroupName'],
};

/** Deletion policies under which the resource outlives a destroy. */
const KEPT_ON_DESTROY = new Set(['Retain', 'RetainExceptOnCreate', 'Snapshot']);
/** Deletion policies under which the resource outlives the rollback of the deploy that created it. */
const KEPT_ON_FAILED_CREATE = new Set(['Retain', 'Snapshot']);

interface StackInstance {
  readonly stackId: string;
  readonly stackName: string;
  readonly region: string;
  readonly account: string;
}

/** A new stack of that name, as CloudFormation creates it: same name, new id. */
function newStack(stackName: string, region: string, account: string): StackInstance {
  return {
    stackId: `arn:aws:cloudformation:${region}:${account}:stack/${stackName}/${randomUUID()}`,
    stackName,
    region,
    account,
  };
}

/**
 * Evaluates the intrinsics CDK writes into names. A reference to another resource evaluates to something of this
 * stack only: that resource's own name is checked on its own.
 */
function evaluate(value: Json, stack: StackInstance): string | string[] {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.map((v) => asString(evaluate(v, stack)));
  const [fn, args] = Object.entries(value as Record<string, Json>)[0] ?? [];
  const pseudo: Record<string, string> = {
    'AWS::StackId': stack.stackId,
    'AWS::StackName': stack.stackName,
    'AWS::Region': stack.region,
    'AWS::AccountId': stack.account,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
  };
  switch (fn) {
    case 'Ref':
      return pseudo[args as string] ?? `${stack.stackId}#${args as string}`;
    case 'Fn::GetAtt':
      return `${stack.stackId}#${(args as string[]).join('.')}`;
    case 'Fn::Join': {
      const [separator, parts] = args as [string, Json[]];
      return parts.map((p) => asString(evaluate(p, stack))).join(separator);
    }
    case 'Fn::Split': {
      const [separator, source] = args as [string, Json];
      return asString(evaluate(source, stack)).split(separator);
    }
    case 'Fn::Select': {
      const [index, list] = args as [number | string, Json];
      const items = evaluate(list, stack);
      if (!Array.isArray(items)) throw new Error('Fn::Select of a non-list');
      const item = items[Number(index)];
      if (item === undefined) throw new Error(`Fn::Select index ${index} out of range`);
      return item;
    }
    default:
      throw new Error(`cannot evaluate ${JSON.stringify(value)}`);
  }
}

function asString(value: string | string[]): string {
  if (Array.isArray(value)) throw new Error(`expected a string, got a list ${JSON.stringify(value)}`);
  return value;
}

interface Collision {
  resource: string;
  property: string;
  name: string;
}

/**
 * The names that the next stack of the same name would ask for and that a kept resource of the previous one still
 * holds. A resource type missing from NAME_PROPERTIES is reported too.
 */
function collisions(template: Template, kept: Set<string>, stackName: string, region: string): Collision[] {
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const found: Collision[] = [];
  const before = newStack(stackName, region, '123456789012');
  const after = newStack(stackName, region, '123456789012');
  for (const [id, resource] of Object.entries(resources)) {
    if (!kept.has(resource.DeletionPolicy ?? 'Delete')) continue;
    const properties = NAME_PROPERTIES[resource.Type];
    if (!properties) {
      found.push({
        resource: id,
        property: '?',
        name: `${resource.Type} is not classified in NAME_PROPERTIES`,
      });
      continue;
    }
    for (const property of properties) {
      const value = resource.Properties?.[property];
      if (value === undefined) continue;
      const old = asString(evaluate(value, before));
      if (old === asString(evaluate(value, after))) found.push({ resource: id, property, name: old });
    }
  }
  return found;
}

describe.each([['plan.json'], ['plan-three-units.json']] as const)('redeploying the stacks of %s', (file) => {
  // Prepare
  const { main, alarmForwarder, template } = synthesize(examplePlan(file));
  const stacks = [
    { name: main.stackName, region: main.region, template },
    ...(alarmForwarder
      ? [
          {
            name: alarmForwarder.stackName,
            region: alarmForwarder.region,
            template: Template.fromStack(alarmForwarder),
          },
        ]
      : []),
  ];

  it('keeps nothing after a destroy whose name the next deploy asks for', () => {
    for (const stack of stacks) {
      // Act
      const found = collisions(stack.template, KEPT_ON_DESTROY, stack.name, stack.region);
      // Assess
      expect(found, stack.name).toEqual([]);
    }
  });

  it('keeps nothing after a rolled-back first deploy whose name the next deploy asks for', () => {
    for (const stack of stacks) {
      // Act
      const found = collisions(stack.template, KEPT_ON_FAILED_CREATE, stack.name, stack.region);
      // Assess
      expect(found, stack.name).toEqual([]);
    }
  });

  it('keeps logs, lock table, topic key and start-failure queues on destroy, not after a rolled-back first deploy', () => {
    // Prepare
    const policyOf = (stackTemplate: Template, construct: { node: { defaultChild?: unknown } }) => {
      const id = main.getLogicalId(construct.node.defaultChild as CfnElement);
      return (stackTemplate.toJSON().Resources as Record<string, Resource>)[id]?.DeletionPolicy;
    };
    const resources = Object.values(template.toJSON().Resources as Record<string, Resource>);
    const policies = (type: string) =>
      new Set(resources.filter((r) => r.Type === type).map((r) => r.DeletionPolicy ?? 'Delete'));
    // Assess
    for (const type of ['AWS::Logs::LogGroup', 'AWS::DynamoDB::Table', 'AWS::KMS::Key']) {
      expect(policies(type), type).toEqual(new Set(['RetainExceptOnCreate']));
    }
    expect(policyOf(template, main.startFailures)).toBe('RetainExceptOnCreate');
    if (alarmForwarder) {
      const id = alarmForwarder.getLogicalId(alarmForwarder.forwardFailures.node.defaultChild as CfnElement);
      const forwarder = stacks[1]?.template.toJSON().Resources as Record<string, Resource>;
      expect(forwarder[id]?.DeletionPolicy).toBe('RetainExceptOnCreate');
    }
    // A bucket that holds objects cannot be deleted: the report buckets are kept even then.
    expect(policies('AWS::S3::Bucket')).toEqual(new Set(['Retain']));
  });

  it("names the state machine's log group after the stack", () => {
    // Prepare
    const vended = Object.values(template.toJSON().Resources as Record<string, Resource>).find(
      (r) => r.Type === 'AWS::Logs::LogGroup' && r.Properties?.LogGroupName !== undefined,
    );
    const stack = newStack(main.stackName, main.region, main.account);
    // Act
    const name = asString(evaluate(vended?.Properties?.LogGroupName, stack));
    // Assess
    expect(name).toBe(
      `/aws/vendedlogs/states/lifeboat-${main.stackName.replace(/^Lifeboat-/, '')}-${stack.stackId.split('/')[2]}`,
    );
  });
});

describe('the redeploy check', () => {
  it('finds a kept resource with a fixed name, and one of a type nobody classified', () => {
    // Prepare
    const template = Template.fromJSON({
      Resources: {
        Fixed: {
          Type: 'AWS::Logs::LogGroup',
          DeletionPolicy: 'Retain',
          Properties: { LogGroupName: { 'Fn::Join': ['', ['/lifeboat/', { Ref: 'AWS::StackName' }]] } },
        },
        PerStack: {
          Type: 'AWS::Logs::LogGroup',
          DeletionPolicy: 'Retain',
          Properties: {
            LogGroupName: {
              'Fn::Join': [
                '-',
                ['x', { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] }],
              ],
            },
          },
        },
        Unknown: { Type: 'AWS::Some::Thing', DeletionPolicy: 'RetainExceptOnCreate', Properties: {} },
        Deleted: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: 'fixed' } },
      },
    });
    // Act
    const onDestroy = collisions(template, KEPT_ON_DESTROY, 'S', 'us-west-2');
    const onRollback = collisions(template, KEPT_ON_FAILED_CREATE, 'S', 'us-west-2');
    // Assess
    expect(onDestroy.map((c) => c.resource)).toEqual(['Fixed', 'Unknown']);
    expect(onDestroy[0]?.name).toBe('/lifeboat/S');
    expect(onRollback.map((c) => c.resource)).toEqual(['Fixed']);
  });
});
