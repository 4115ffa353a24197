import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../functions/lib/errors.js';
import { credentialsFromEnvironment, defaultProvider } from '../../functions/lib/sdk/credentials.js';

/**
 * The credential provider every bundle uses in place of the SDK's default chain (docs/aws/lambda-credentials.md): the
 * execution role's credentials from the variables the Lambda runtime sets, and a named error, without a value, when
 * they are missing. The bundles' wiring is proved in test/infra/bundle.test.ts.
 */
describe('credentials from the environment', () => {
  it('reads the access key, the secret key and the session token', async () => {
    // Prepare
    const env = {
      AWS_ACCESS_KEY_ID: 'AKID1',
      AWS_SECRET_ACCESS_KEY: 'secret-1',
      AWS_SESSION_TOKEN: 'token-1',
    };
    // Act
    const credentials = credentialsFromEnvironment(env);
    // Assess
    expect(credentials).toEqual({
      accessKeyId: 'AKID1',
      secretAccessKey: 'secret-1',
      sessionToken: 'token-1',
    });
    expect(credentialsFromEnvironment({ AWS_ACCESS_KEY_ID: 'AKID1', AWS_SECRET_ACCESS_KEY: 's' })).toEqual({
      accessKeyId: 'AKID1',
      secretAccessKey: 's',
    });
  });

  it('fails with a ConfigurationError naming each missing variable and no value', () => {
    // Act
    const onlyKey = () =>
      credentialsFromEnvironment({ AWS_ACCESS_KEY_ID: 'AKIDVISIBLE', AWS_SESSION_TOKEN: 'tok-x' });
    const none = () => credentialsFromEnvironment({ AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' });
    // Assess
    expect(onlyKey).toThrow(ConfigurationError);
    expect(onlyKey).toThrow(/^no AWS credentials in the environment: AWS_SECRET_ACCESS_KEY is not set/);
    expect(onlyKey).not.toThrow(/AKIDVISIBLE|tok-x/);
    expect(none).toThrow(/AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set/);
  });

  it('is the SDK default provider shape, reading the environment at each call', async () => {
    // Prepare: a function of the client's configuration that returns a provider.
    const provider = defaultProvider({ region: 'us-west-2' });
    const saved = { ...process.env };
    try {
      process.env.AWS_ACCESS_KEY_ID = 'AKID-A';
      process.env.AWS_SECRET_ACCESS_KEY = 'secret-a';
      delete process.env.AWS_SESSION_TOKEN;
      // Act
      const first = await provider();
      process.env.AWS_ACCESS_KEY_ID = 'AKID-B';
      const second = await provider();
      delete process.env.AWS_SECRET_ACCESS_KEY;
      const missing = provider();
      // Assess
      expect(first.accessKeyId).toBe('AKID-A');
      expect(second.accessKeyId).toBe('AKID-B');
      await expect(missing).rejects.toMatchObject({ name: 'ConfigurationError' });
    } finally {
      for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  });
});
