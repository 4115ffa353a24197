import { describe, expect, it } from 'vitest';
import { PARTITIONS, regionProblem } from '../../functions/lib/regions.js';
import { closest, editDistance } from '../../functions/lib/suggest.js';

/** Region names against the SDK's partition data, and "did you mean" (issue 9, item 10; docs/aws/regions.md). */

interface SdkPartition {
  id: string;
  regionRegex: string;
  regions: Record<string, unknown>;
}

async function sdkPartitions(): Promise<SdkPartition[]> {
  // Not an export of @aws-sdk/core (its exports map hides it): read the installed file itself.
  const url = new URL(
    '../../node_modules/@aws-sdk/core/dist-es/submodules/client/util-endpoints/lib/aws/partitions.js',
    import.meta.url,
  );
  const module = (await import(url.href)) as { partitionsInfo: { partitions: SdkPartition[] } };
  return module.partitionsInfo.partitions;
}

describe('PARTITIONS', () => {
  it('lists every Region and the Region pattern of the installed SDK, for aws, aws-cn and aws-us-gov', async () => {
    const sdk = await sdkPartitions();
    for (const ours of PARTITIONS) {
      const theirs = sdk.find((p) => p.id === ours.id);
      expect(theirs, ours.id).toBeDefined();
      const regions = Object.keys(theirs?.regions ?? {})
        .filter((r) => !r.endsWith('-global'))
        .sort();
      // On failure: copy the Regions from the SDK's partitions.js into functions/lib/regions.ts.
      expect([...ours.regions].sort(), ours.id).toEqual(regions);
      expect(ours.regionRegex, ours.id).toBe(theirs?.regionRegex);
    }
  });
});

describe('regionProblem', () => {
  it.each([
    'us-west-2',
    'us-east-1',
    'eu-central-1',
    'ap-southeast-5',
    'cn-north-1',
    'us-gov-west-1',
    'mx-central-1',
  ])('accepts %s', (region) => {
    expect(regionProblem(region)).toBeUndefined();
  });

  it('accepts a Region newer than the SDK in a known geography (us-west-3) or a new geography far from any', () => {
    expect(regionProblem('us-west-3')).toBeUndefined();
    expect(regionProblem('ap-southeast-9')).toBeUndefined();
    expect(regionProblem('sa-north-1')).toBeUndefined();
  });

  it.each([
    ['us-wset-2', '"us-wset-2" is not an AWS Region (did you mean "us-west-2"?)'],
    ['us-west2', '(did you mean "us-west-2"?)'],
    ['eu-centrl-1', '(did you mean "eu-central-1"?)'],
    ['US-WEST-2', '(did you mean "us-west-2"?)'],
    ['us-est-1', '(did you mean "us-east-1" or "us-west-1" or "us-east-2"?)'],
    ['Paris', '"Paris" is not an AWS Region; expected a Region code such as us-west-2'],
    ['us-iso-east-1', 'is not an AWS Region'],
    ['', 'is not an AWS Region'],
  ])('refuses %s: %s', (region, message) => {
    expect(regionProblem(region)).toContain(message);
  });
});

describe('suggestions', () => {
  it('measures typos: a substitution, an insertion, a deletion, a swap of neighbours each cost 1', () => {
    expect(editDistance('maxConcurency', 'maxConcurrency')).toBe(1);
    expect(editDistance('ttl', 'tll')).toBe(1);
    expect(editDistance('recrodName', 'recordName')).toBe(1);
    expect(editDistance('abc', 'abc')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests only a close, unambiguous word', () => {
    const known = ['maxConcurrency', 'targetRtoSeconds', 'units', 'alarms'];
    expect(closest('maxConcurency', known)).toBe('maxConcurrency');
    expect(closest('unit', known)).toBe('units');
    expect(closest('colour', known)).toBeUndefined();
    expect(closest('x', ['a', 'b'])).toBeUndefined(); // a tie
  });
});
