import { AwsError } from '../core.js';
import { type QueryTree, qInt, qList, qString, type XmlObject, xmlList } from '../wire.js';

/** What DescribeDBInstances and DescribeDBClusters filter on. */
interface Described {
  readonly id: string;
  readonly arn: string;
  readonly engine: string;
}

/**
 * One page of a DescribeDBInstances / DescribeDBClusters answer: the `Filters` both take (`db-instance-id` or
 * `db-cluster-id` by id or ARN, `engine`; any other name is InvalidParameterValue), `MaxRecords` 20-100 (default 100)
 * and the `Marker` of the next page. `one` is the item the identifier parameter names, when it is given.
 */
export function describePage<T extends Described>(
  tree: QueryTree,
  spec: {
    readonly one: T | undefined;
    readonly all: () => T[];
    readonly idFilter: string;
    readonly list: string;
    readonly member: string;
    readonly render: (item: T) => XmlObject;
  },
): XmlObject {
  let items: T[];
  if (spec.one !== undefined) {
    items = [spec.one];
  } else {
    items = spec.all();
    for (const filter of qList(tree, 'Filters')) {
      const name = qString(filter, 'Name');
      const values = typeof filter === 'object' ? qList(filter, 'Values').map(String) : [];
      if (name === spec.idFilter) {
        items = items.filter((i) => values.some((v) => v.toLowerCase() === i.id || v === i.arn));
      } else if (name === 'engine') {
        items = items.filter((i) => values.includes(i.engine));
      } else {
        throw new AwsError('InvalidParameterValue', 400, `Unrecognized filter name: ${name}`);
      }
    }
  }
  const max = qInt(tree, 'MaxRecords') ?? 100;
  if (max < 20 || max > 100) {
    throw new AwsError(
      'InvalidParameterValue',
      400,
      `Invalid value ${max} for MaxRecords. Must be between 20 and 100`,
    );
  }
  const start = Number(qString(tree, 'Marker') ?? 0) || 0;
  return {
    [spec.list]: xmlList(spec.member, items.slice(start, start + max).map(spec.render)),
    ...(start + max < items.length ? { Marker: String(start + max) } : {}),
  };
}
