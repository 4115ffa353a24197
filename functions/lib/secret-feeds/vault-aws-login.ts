import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, SourceData } from '@smithy/types';
import type { AwsIamLoginRequest } from './vault-client.js';

/**
 * The signed `sts:GetCallerIdentity` request that Vault's AWS IAM auth method takes as proof of identity
 * (docs/vault/kv-v2.md, "AWS IAM login"): Vault replays it to STS and binds the caller's ARN to a role. node-vault
 * sends the login but does not sign, so the request is signed with the AWS SDK's own SigV4 signer and the function's
 * own credentials (the Lambda role), never by hand. The credentials go into the signature, never into the request.
 */

/** The body of every GetCallerIdentity login request (STS Query API, version 2011-06-15). */
export const GET_CALLER_IDENTITY_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';

/** The header a Vault role may require, signed, against replaying a login meant for another Vault. */
export const SERVER_ID_HEADER = 'x-vault-aws-iam-server-id';

export interface AwsLoginOptions {
  readonly role: string;
  /** STS Region to sign for. @default us-east-1 (the global endpoint, Vault's default) */
  readonly stsRegion?: string;
  /** @default https://sts.amazonaws.com/ for us-east-1, https://sts.<region>.amazonaws.com/ otherwise */
  readonly stsEndpoint?: string;
  /** Value of X-Vault-AWS-IAM-Server-ID, when the Vault role requires one. */
  readonly serverId?: string;
  /** @default the SDK's default chain (in Lambda: the function's role, from its environment) */
  readonly credentials?: AwsCredentialIdentityProvider | AwsCredentialIdentity;
  readonly now?: Date;
}

export async function awsIamLoginRequest(options: AwsLoginOptions): Promise<AwsIamLoginRequest> {
  const region = options.stsRegion ?? 'us-east-1';
  const url = new URL(
    options.stsEndpoint ??
      (region === 'us-east-1' ? 'https://sts.amazonaws.com/' : `https://sts.${region}.amazonaws.com/`),
  );
  const headers: Record<string, string> = {
    host: url.host,
    'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
    ...(options.serverId ? { [SERVER_ID_HEADER]: options.serverId } : {}),
  };
  const signer = new SignatureV4({
    service: 'sts',
    region,
    credentials: options.credentials ?? defaultProvider(),
    sha256: NodeSha256,
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: {},
      headers,
      body: GET_CALLER_IDENTITY_BODY,
    },
    options.now ? { signingDate: options.now } : {},
  );
  // Vault reads the headers as Go's http.Header: a JSON object of name -> list of values.
  const headerMap: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(signed.headers)) headerMap[name] = [String(value)];
  return {
    role: options.role,
    iam_http_request_method: 'POST',
    iam_request_url: base64(url.toString()),
    iam_request_body: base64(GET_CALLER_IDENTITY_BODY),
    iam_request_headers: base64(JSON.stringify(headerMap)),
  };
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** SHA-256 (and HMAC-SHA-256 with a secret) from node:crypto, in the shape the SigV4 signer takes. */
export class NodeSha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

function bytes(data: SourceData): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}
