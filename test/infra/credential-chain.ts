/**
 * Strings that only the SDK's default credential chain brings into a bundle, one per part of it: the SSO client nested
 * in the SSO provider (its GetRoleCredentials operation), the STS client nested in the web-identity provider, the
 * ini-file provider's SSO settings, the process provider's setting and the container (HTTP) provider's variable. Every
 * bundle resolves the chain to lifeboat's environment reader instead (BUNDLE_ALIASES in
 * infra/constructs/step-function.ts; docs/aws/lambda-credentials.md). test/infra/bundle.test.ts shows each of them in
 * a bundle made without the alias, so that their absence means something.
 */
export const CREDENTIAL_CHAIN_MARKERS = [
  'GetRoleCredentials',
  'AssumeRoleWithWebIdentity',
  'sso_start_url',
  'credential_process',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
] as const;

/** The markers found in a bundle's text. */
export function credentialChainMarkers(code: string): string[] {
  return CREDENTIAL_CHAIN_MARKERS.filter((marker) => code.includes(marker));
}
