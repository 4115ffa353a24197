import type { RDSClient } from '@aws-sdk/client-rds';
import { describeCluster, describeGlobal, memberOf, replicationSource, writerOf } from './aurora/cluster.js';
import { describeInstance } from './database.js';
import type { UnitPlan } from './plan.js';
import { instanceDatabase, isAuroraUnit } from './plan-names.js';

/**
 * What the unit's record must lead to once the database is promoted, for UpdateDns, VerifyConnectivity and the
 * rotation step: the promoted instance's endpoint; for an Aurora unit the promoted cluster's cluster (writer)
 * endpoint, or, with `dns.target: "global-writer-endpoint"`, the global database's writer endpoint, which Aurora
 * moves to the new writer itself so lifeboat never changes the record (docs/design/aurora.md, "DNS").
 */
export interface PromotedTarget {
  /** `DB instance orders-replica`, `DB cluster orders-west`: for messages. */
  readonly what: string;
  readonly endpoint: string | undefined;
  readonly port: number | undefined;
  readonly status: string;
  /** Why it is not writable yet (still a replica / a secondary), or undefined once promoted. */
  readonly notPromoted: string | undefined;
  /** True when the record names the global writer endpoint: lifeboat verifies it, never changes it. */
  readonly recordFollowsItself: boolean;
}

export async function promotedTarget(rds: RDSClient, unit: UnitPlan): Promise<PromotedTarget> {
  if (!isAuroraUnit(unit)) {
    const id = instanceDatabase(unit, 'promotedTarget').replicaInstanceId;
    const instance = await describeInstance(rds, id);
    const source = instance.ReadReplicaSourceDBInstanceIdentifier;
    return {
      what: `DB instance ${id}`,
      endpoint: instance.Endpoint?.Address,
      port: instance.Endpoint?.Port,
      status: instance.DBInstanceStatus ?? 'unknown',
      notPromoted: source ? `still a read replica of ${source}` : undefined,
      recordFollowsItself: false,
    };
  }
  const id = unit.database.replicaClusterId;
  const globalId = unit.database.globalClusterId;
  const [cluster, global] = await Promise.all([
    describeCluster(rds, id),
    globalId === undefined ? Promise.resolve(undefined) : describeGlobal(rds, globalId),
  ]);
  let notPromoted: string | undefined;
  if (global) {
    const member = memberOf(global, cluster.DBClusterArn);
    if (member?.IsWriter !== true) {
      notPromoted = `still a secondary of global cluster ${globalId} (writer ${writerOf(global)?.DBClusterArn ?? 'none'})`;
    }
  } else {
    const source = replicationSource(cluster);
    if (source) notPromoted = `still a read replica of ${source}`;
  }
  const followsItself = global !== undefined && unit.dns.target === 'global-writer-endpoint';
  return {
    what: followsItself ? `global cluster ${globalId} writer endpoint` : `DB cluster ${id}`,
    endpoint: followsItself ? global?.Endpoint : cluster.Endpoint,
    port: cluster.Port,
    status: cluster.Status ?? 'unknown',
    notPromoted,
    recordFollowsItself: followsItself,
  };
}
