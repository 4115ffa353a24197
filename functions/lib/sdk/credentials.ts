import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { ConfigurationError } from '../errors.js';

/**
 * The credentials of every bundled step: the execution role's, which the Lambda runtime puts in the environment
 * (docs/aws/lambda-credentials.md). Every bundle resolves `@aws-sdk/credential-provider-node` to this module
 * (BUNDLE_ALIASES in infra/constructs/step-function.ts), so the SDK's default chain, with its SSO, STS, ini-file,
 * process, web-identity, container and instance-metadata providers and their nested clients, is not in the bundle
 * (about 140 KiB minified; docs/design/packaging.md, "Bundle size"). Unbundled code (the tests, the CLI) keeps the
 * SDK's own chain.
 */

/** The variables the runtime sets from the execution role; the first two are required, the token comes with a role. */
export const CREDENTIAL_VARIABLES = {
  accessKeyId: 'AWS_ACCESS_KEY_ID',
  secretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  sessionToken: 'AWS_SESSION_TOKEN',
} as const;

/**
 * The environment's credentials, read at each call (they are the same for the life of a Lambda sandbox, and the
 * proving ground may change them between worlds). Missing ones fail with a ConfigurationError that names the
 * variables, never a value.
 */
export function credentialsFromEnvironment(env: NodeJS.ProcessEnv = process.env): AwsCredentialIdentity {
  const accessKeyId = env[CREDENTIAL_VARIABLES.accessKeyId];
  const secretAccessKey = env[CREDENTIAL_VARIABLES.secretAccessKey];
  const sessionToken = env[CREDENTIAL_VARIABLES.sessionToken];
  const missing = [
    ...(accessKeyId ? [] : [CREDENTIAL_VARIABLES.accessKeyId]),
    ...(secretAccessKey ? [] : [CREDENTIAL_VARIABLES.secretAccessKey]),
  ];
  if (!accessKeyId || !secretAccessKey) {
    throw new ConfigurationError(
      `no AWS credentials in the environment: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set ` +
        `(the Lambda runtime sets ${CREDENTIAL_VARIABLES.accessKeyId}, ${CREDENTIAL_VARIABLES.secretAccessKey} and ` +
        `${CREDENTIAL_VARIABLES.sessionToken} from the function's execution role; this bundle reads no other source)`,
    );
  }
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

/**
 * What the SDK's clients call as `credentialDefaultProvider` (each client's runtime config imports
 * `defaultProvider` from `@aws-sdk/credential-provider-node`), and what functions/lib/secret-feeds/vault-aws-login.ts
 * calls for its signer: the same shape, a function of the client's configuration that returns a provider.
 */
export const defaultProvider =
  (_init?: unknown): AwsCredentialIdentityProvider =>
  async () =>
    credentialsFromEnvironment();
