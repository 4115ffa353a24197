import type { DBCluster } from '@aws-sdk/client-rds';
import { describe, expect, it } from 'vitest';
import type { AuroraDrillContext } from '../../functions/lib/aurora/drill.js';
import {
  INSTANCE_CLASS_TAG,
  replicaClusterDrillNames,
  replicaClusterDrillParameters,
} from '../../functions/lib/aurora/drill-replica.js';
import { ConfigurationError } from '../../functions/lib/errors.js';

/**
 * The CreateDBCluster request of a replica cluster unit's drill copy (docs/design/aurora-drill.md, "Cross-Region
 * replica cluster units"): the source by ARN, the production replica's network and version, and for an encrypted
 * source the production replica's KMS key (one of the recovery Region); refused before any call when there is none.
 */

const ctx: AuroraDrillContext = {
  runId: 'drill-2030-05-15-1000',
  primaryRegion: 'us-east-1',
  recoveryRegion: 'us-west-2',
  drillTag: 'lifeboat:drill',
  tags: [
    { Key: 'lifeboat:drill', Value: 'drill-2030-05-15-1000' },
    { Key: 'lifeboat:plan', Value: 'sessions-dr' },
  ],
};
const names = replicaClusterDrillNames('lifeboat-drill-cd63a691-sessions');
const SOURCE_ARN = 'arn:aws:rds:us-east-1:123456789012:cluster:sessions-aurora';

function clusters(encrypted: boolean, replicaKey?: string): { primary: DBCluster; replica: DBCluster } {
  return {
    primary: {
      DBClusterIdentifier: 'sessions-aurora',
      DBClusterArn: SOURCE_ARN,
      Engine: 'aurora-mysql',
      StorageEncrypted: encrypted,
      ...(encrypted ? { KmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/primary-key' } : {}),
    },
    replica: {
      DBClusterIdentifier: 'sessions-aurora-dr',
      Engine: 'aurora-mysql',
      EngineVersion: '8.0.mysql_aurora.3.07.1',
      DBSubnetGroup: 'sessions-west',
      VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-0west' }],
      ReplicationSourceIdentifier: SOURCE_ARN,
      StorageEncrypted: encrypted,
      ...(replicaKey ? { KmsKeyId: replicaKey } : {}),
    },
  };
}

describe('the drill copy of a replica cluster unit', () => {
  it('is named like a global drill secondary and stays an RDS identifier', () => {
    expect(names).toEqual({
      clusterId: 'lifeboat-drill-cd63a691-sessions-dr',
      instanceId: 'lifeboat-drill-cd63a691-sessions-dr-1',
    });
  });

  it('replicates from the primary by ARN, in the production replica’s network and version, tagged by the run', () => {
    const { primary, replica } = clusters(false);
    const params = replicaClusterDrillParameters(ctx, names, primary, replica, 'db.r6g.xlarge');
    expect(params).toEqual({
      DBClusterIdentifier: names.clusterId,
      Engine: 'aurora-mysql',
      EngineVersion: '8.0.mysql_aurora.3.07.1',
      ReplicationSourceIdentifier: SOURCE_ARN,
      DBSubnetGroupName: 'sessions-west',
      VpcSecurityGroupIds: ['sg-0west'],
      DeletionProtection: false,
      CopyTagsToSnapshot: false,
      Tags: [...ctx.tags, { Key: INSTANCE_CLASS_TAG, Value: 'db.r6g.xlarge' }],
    });
  });

  it('an encrypted source: encrypted with the production replica’s key of the recovery Region, never the source’s', () => {
    const key = 'arn:aws:kms:us-west-2:123456789012:key/replica-key';
    const { primary, replica } = clusters(true, key);
    const params = replicaClusterDrillParameters(ctx, names, primary, replica, 'db.r6g.large');
    expect(params.KmsKeyId).toBe(key);
    expect(params.StorageEncrypted).toBe(true);
  });

  it('an encrypted source whose replica names no key is refused before any call, naming both clusters', () => {
    const { primary, replica } = clusters(true);
    expect(() => replicaClusterDrillParameters(ctx, names, primary, replica, 'db.r6g.large')).toThrow(
      ConfigurationError,
    );
    expect(() => replicaClusterDrillParameters(ctx, names, primary, replica, 'db.r6g.large')).toThrow(
      /sessions-aurora is encrypted and its replica sessions-aurora-dr names no KMS key of us-west-2/,
    );
  });
});
