/**
 * STS (Query protocol, `https://sts.amazonaws.com/doc/2011-06-15/`): GetCallerIdentity, which `lifeboat approve` and
 * `reject` call to record who answered an approval. The emulator does not check signatures, so every caller is the
 * one identity of its credentials: an IAM user named after the access key's owner, in the emulator's account
 * (docs/aws/sts-caller-identity.md).
 */
import {
  AwsError,
  type CallInfo,
  type EmulatorRequest,
  type HttpAnswer,
  isReadAction,
  type ServiceHandler,
} from '../core.js';
import { parseQueryForm, qString, queryAnswer, xmlError } from '../wire.js';

const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** The user every call of the emulator's credentials is made as. */
export const EMULATOR_USER = 'lifeboat-local';

export class StsService implements ServiceHandler {
  readonly name = 'sts' as const;

  constructor(private readonly account: string) {}

  /** The ARN GetCallerIdentity answers. */
  callerArn(): string {
    return `arn:aws:iam::${this.account}:user/${EMULATOR_USER}`;
  }

  describe(req: EmulatorRequest): CallInfo {
    const action = qString(parseQueryForm(req.body), 'Action');
    if (!action) throw new AwsError('MissingAction', 400, 'The request must contain the parameter Action');
    return { action, resource: null, mutating: !isReadAction(action) };
  }

  async handle(req: EmulatorRequest, call: CallInfo): Promise<HttpAnswer> {
    if (call.action !== 'GetCallerIdentity') {
      throw new AwsError('InvalidAction', 400, `Could not find operation ${call.action}`);
    }
    return queryAnswer(
      call.action,
      XMLNS,
      // The user id of an IAM user starts AIDA (IAM identifiers, "Unique identifiers").
      { UserId: 'AIDALIFEBOATLOCAL0000', Account: this.account, Arn: this.callerArn() },
      req.requestId,
    );
  }

  errorAnswer(error: AwsError, req: EmulatorRequest): HttpAnswer {
    return xmlError(error, req.requestId, XMLNS);
  }

  throttlingError(): AwsError {
    return new AwsError('Throttling', 400, 'Rate exceeded');
  }

  serverError(): AwsError {
    return new AwsError('InternalFailure', 500, 'An internal error occurred');
  }
}
