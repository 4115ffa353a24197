import { Fn } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import type { Engine } from '../../functions/lib/plan.js';
import { DEFAULT_DATABASE_PORTS, unique } from '../arns.js';
import { PropsProblems } from './props.js';
import type { StepFunctionVpcPlacement } from './step-function.js';

export interface VerifyNetworkProps {
  readonly vpcId: string;
  /** Subnets the verify function runs in; they need a route to the databases and to AWS APIs (NAT or endpoints). */
  readonly subnetIds: readonly string[];
  /** The databases' security groups; each lets the verify function in on the database ports. */
  readonly databaseSecurityGroupIds: readonly string[];
  /** Engines of the plan's units, which give the ports. */
  readonly engines: readonly Engine[];
  /** Database ports to open. @default each engine's default port (postgres 5432, mysql and mariadb 3306) */
  readonly databasePorts?: readonly number[];
}

/**
 * The verify function's place in the plan's VPC: the VPC and subnets imported by id (no lookups, so `cdk synth`
 * needs no credentials), its own security group, and ingress rules on the databases' groups for the database
 * ports. Egress is only what verification needs: the database ports and HTTPS to AWS APIs.
 */
export class VerifyNetwork extends Construct implements StepFunctionVpcPlacement {
  readonly vpc: ec2.IVpc;
  readonly subnets: readonly ec2.ISubnet[];
  readonly securityGroup: ec2.SecurityGroup;
  readonly ports: readonly number[];

  constructor(scope: Construct, id: string, props: VerifyNetworkProps) {
    super(scope, id);
    const problems = new PropsProblems('VerifyNetwork');
    if (!/^vpc-[0-9a-f]{8,17}$/.test(props.vpcId))
      problems.add('vpcId', `expected a VPC id, got ${props.vpcId}`);
    if (props.subnetIds.length === 0) problems.add('subnetIds', 'must name at least one subnet');
    props.subnetIds.forEach((s, i) => {
      if (!/^subnet-[0-9a-f]{8,17}$/.test(s))
        problems.add(`subnetIds[${i}]`, `expected a subnet id, got ${s}`);
    });
    props.databaseSecurityGroupIds.forEach((g, i) => {
      if (!/^sg-[0-9a-f]{8,17}$/.test(g)) {
        problems.add(`databaseSecurityGroupIds[${i}]`, `expected a security group id, got ${g}`);
      }
    });
    if (!props.databasePorts && props.engines.length === 0)
      problems.add('engines', 'must name at least one engine');
    for (const [i, port] of (props.databasePorts ?? []).entries()) {
      problems.integer(`databasePorts[${i}]`, port, 1, 65_535);
    }
    problems.check();

    this.ports = unique(props.databasePorts ?? props.engines.map((e) => DEFAULT_DATABASE_PORTS[e])).sort(
      (a, b) => a - b,
    );
    // Only the VPC id is used (security group): the subnets are given explicitly, so no subnet, AZ or route-table
    // facts are needed; the Region's AZ list (a token) only satisfies fromVpcAttributes.
    this.vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', { vpcId: props.vpcId, availabilityZones: Fn.getAzs() });
    this.subnets = props.subnetIds.map((subnetId, i) =>
      ec2.Subnet.fromSubnetId(this, `Subnet${i}`, subnetId),
    );
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: this.vpc,
      description: 'lifeboat verify step: connects to the databases',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'HTTPS to AWS APIs (Secrets Manager, RDS) through NAT or VPC endpoints',
    );
    if (props.databaseSecurityGroupIds.length === 0) {
      // The plan names no database groups: their own ingress rules decide who gets in.
      for (const port of this.ports) {
        this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(port), `databases, port ${port}`);
      }
    }
    props.databaseSecurityGroupIds.forEach((groupId, i) => {
      const database = ec2.SecurityGroup.fromSecurityGroupId(this, `Database${i}`, groupId, {
        allowAllOutbound: false,
        mutable: true,
      });
      for (const port of this.ports) {
        database.addIngressRule(this.securityGroup, ec2.Port.tcp(port), `lifeboat verify step, port ${port}`);
        this.securityGroup.addEgressRule(database, ec2.Port.tcp(port), `database ${groupId}, port ${port}`);
      }
    });
  }
}
