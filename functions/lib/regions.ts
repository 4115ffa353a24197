import { closest, nearby } from './suggest.js';

/**
 * The Regions of the partitions lifeboat supports (its ARNs say aws, aws-cn or aws-us-gov), copied from the AWS SDK
 * for JavaScript's partition data (@aws-sdk/core 3.981.0, util-endpoints partitions.js, the `*-global` pseudo-Regions
 * left out). test/unit/regions.test.ts fails when the installed SDK knows a Region this table lacks: copy it again.
 * docs/aws/regions.md says how a Region name is checked.
 */
export const PARTITIONS: readonly { id: string; regionRegex: string; regions: readonly string[] }[] = [
  {
    id: 'aws',
    regionRegex: '^(us|eu|ap|sa|ca|me|af|il|mx)\\-\\w+\\-\\d+$',
    regions: [
      'af-south-1',
      'ap-east-1',
      'ap-east-2',
      'ap-northeast-1',
      'ap-northeast-2',
      'ap-northeast-3',
      'ap-south-1',
      'ap-south-2',
      'ap-southeast-1',
      'ap-southeast-2',
      'ap-southeast-3',
      'ap-southeast-4',
      'ap-southeast-5',
      'ap-southeast-6',
      'ap-southeast-7',
      'ca-central-1',
      'ca-west-1',
      'eu-central-1',
      'eu-central-2',
      'eu-north-1',
      'eu-south-1',
      'eu-south-2',
      'eu-west-1',
      'eu-west-2',
      'eu-west-3',
      'il-central-1',
      'me-central-1',
      'me-south-1',
      'me-west-1',
      'mx-central-1',
      'sa-east-1',
      'sa-west-1',
      'us-east-1',
      'us-east-2',
      'us-west-1',
      'us-west-2',
    ],
  },
  {
    id: 'aws-cn',
    regionRegex: '^cn\\-\\w+\\-\\d+$',
    regions: ['cn-north-1', 'cn-northwest-1'],
  },
  {
    id: 'aws-us-gov',
    regionRegex: '^us\\-gov\\-\\w+\\-\\d+$',
    regions: ['us-gov-east-1', 'us-gov-west-1'],
  },
];

const KNOWN = new Set(PARTITIONS.flatMap((p) => p.regions));
/** `us-west` of `us-west-2`: the geography, without the number that tells a Region from its neighbours. */
const geography = (name: string) => name.replace(/-\d+$/, '');
const GEOGRAPHIES = new Set([...KNOWN].map(geography));

/**
 * Why `name` is not a Region lifeboat can use, or undefined when it is. A Region the SDK lists is fine. A name whose
 * geography (`us-west` of `us-west-2`) is one edit from a listed one (a typo: `us-wset`, `us-est`) is refused, with a
 * suggestion when one is clearly meant. A name that fits a partition's Region pattern otherwise is accepted: it may be
 * a Region newer than this SDK (`us-west-3`, or a new geography), which the SDK resolves the same way.
 */
export function regionProblem(name: string): string | undefined {
  if (KNOWN.has(name)) return undefined;
  const fitsPattern = PARTITIONS.some((p) => new RegExp(p.regionRegex).test(name));
  const place = geography(name);
  if (fitsPattern && GEOGRAPHIES.has(place)) return undefined;
  const closeGeography = closest(place, GEOGRAPHIES, 1);
  if (nearby(place, GEOGRAPHIES, 1).length > 0 || !fitsPattern) {
    const number = /-(\d+)$/.exec(name)?.[1];
    const meant =
      closeGeography !== undefined && KNOWN.has(`${closeGeography}-${number}`)
        ? `${closeGeography}-${number}`
        : closest(name, KNOWN);
    const candidates = meant === undefined ? nearby(name, KNOWN).slice(0, 3) : [meant];
    const hint = candidates.length ? ` (did you mean ${candidates.map((c) => `"${c}"`).join(' or ')}?)` : '';
    return `${JSON.stringify(name)} is not an AWS Region${hint}; expected a Region code such as us-west-2`;
  }
  return undefined;
}
