/**
 * SNS topics (Query protocol, `http://sns.amazonaws.com/doc/2010-03-31/`): CreateTopic (idempotent for the same
 * name, as in SNS), Publish to an existing topic (`NotFound` 404 otherwise), and the published messages for tests.
 * No subscriptions or deliveries.
 */
import {
  AwsError,
  type CallInfo,
  type Clock,
  type EmulatorRequest,
  type HttpAnswer,
  isReadAction,
  type Rng,
  type ServiceHandler,
} from '../core.js';
import type { PublishedMessage } from '../types.js';
import {
  parseQueryForm,
  type QueryTree,
  qList,
  qString,
  queryAnswer,
  type XmlObject,
  xmlError,
  xmlList,
} from '../wire.js';

const XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/';

export class SnsService implements ServiceHandler {
  readonly name = 'sns' as const;
  /** Region → topic ARNs. */
  private readonly topics = new Map<string, Set<string>>();
  readonly messages: PublishedMessage[] = [];

  constructor(
    private readonly account: string,
    private readonly clock: Clock,
    private readonly rng: Rng,
  ) {}

  describe(req: EmulatorRequest): CallInfo {
    const tree = parseQueryForm(req.body);
    const action = qString(tree, 'Action');
    if (!action) throw new AwsError('MissingAction', 400, 'The request must contain the parameter Action');
    const resource = qString(tree, 'TopicArn') ?? qString(tree, 'Name') ?? null;
    return { action, resource, mutating: !isReadAction(action) };
  }

  async handle(req: EmulatorRequest, call: CallInfo): Promise<HttpAnswer> {
    const tree = parseQueryForm(req.body);
    let result: XmlObject | undefined;
    switch (call.action) {
      case 'CreateTopic':
        result = { TopicArn: this.createTopic(req.region, tree) };
        break;
      case 'Publish':
        result = { MessageId: this.publish(req.region, tree) };
        break;
      case 'ListTopics':
        result = {
          Topics: xmlList(
            'member',
            [...(this.topics.get(req.region) ?? [])].map((TopicArn) => ({ TopicArn })),
          ),
        };
        break;
      default:
        throw new AwsError('InvalidAction', 400, `Could not find operation ${call.action}`);
    }
    return queryAnswer(call.action, XMLNS, result, req.requestId);
  }

  errorAnswer(error: AwsError, req: EmulatorRequest): HttpAnswer {
    return xmlError(error, req.requestId, XMLNS);
  }

  throttlingError(): AwsError {
    return new AwsError('Throttled', 429, 'Rate exceeded');
  }

  serverError(): AwsError {
    return new AwsError('InternalError', 500, 'Internal error');
  }

  private regionTopics(region: string): Set<string> {
    let set = this.topics.get(region);
    if (!set) {
      set = new Set();
      this.topics.set(region, set);
    }
    return set;
  }

  createTopic(region: string, tree: QueryTree): string {
    const name = qString(tree, 'Name') ?? '';
    if (!/^[A-Za-z0-9_-]{1,256}(\.fifo)?$/.test(name)) {
      throw new AwsError('InvalidParameter', 400, 'Invalid parameter: Topic Name');
    }
    const arn = `arn:aws:sns:${region}:${this.account}:${name}`;
    this.regionTopics(region).add(arn);
    return arn;
  }

  private publish(region: string, tree: QueryTree): string {
    const topicArn = qString(tree, 'TopicArn') ?? qString(tree, 'TargetArn');
    const message = qString(tree, 'Message');
    if (message === undefined) {
      throw new AwsError('InvalidParameter', 400, 'Invalid parameter: Empty message');
    }
    if (!topicArn || !this.regionTopics(region).has(topicArn)) {
      throw new AwsError('NotFound', 404, 'Topic does not exist');
    }
    if (qList(tree, 'MessageAttributes').length > 10) {
      throw new AwsError('InvalidParameter', 400, 'Invalid parameter: Too many message attributes');
    }
    const messageId = this.rng.uuid();
    const subject = qString(tree, 'Subject');
    this.messages.push({
      region,
      topicArn,
      messageId,
      ...(subject !== undefined ? { subject } : {}),
      message,
      time: new Date(this.clock.now()).toISOString(),
    });
    return messageId;
  }
}
