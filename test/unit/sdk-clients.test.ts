import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * clients.ts imports no SDK client: a module that sends a service's commands imports functions/lib/sdk/<service>.ts,
 * which provides `clientsFor(...).<service>` to the bundles that hold that module (docs/design/packaging.md, "Bundle
 * size"). Without the import, the step would fail at its first call with "no <service> client in this bundle".
 */
const ROOT = join(import.meta.dirname, '../..');
const PROVIDER: Record<string, string> = {
  cloudwatch: 'cloudwatch',
  dynamodb: 'dynamodb',
  lambda: 'lambda',
  rds: 'rds',
  'route-53': 'route53',
  s3: 's3',
  'secrets-manager': 'secrets-manager',
  sfn: 'sfn',
  sns: 'sns',
};
/** Modules that make their own clients (the secret feeds, with assumed credentials) or are the providers. */
const OWN_CLIENTS = new Set(['functions/lib/clients.ts', 'functions/lib/secret-feeds/clients.ts']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Services whose values (commands, not only types) a module imports. */
function servicesSent(source: string): string[] {
  const services = new Set<string>();
  for (const m of source.matchAll(/^import (type )?\{([^}]*)\} from '@aws-sdk\/client-([a-z0-9-]+)';/gm)) {
    const [, typeOnly, names = '', service = ''] = m;
    if (typeOnly || !(service in PROVIDER)) continue;
    const values = names
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n && !n.startsWith('type '));
    if (values.length) services.add(service);
  }
  return [...services];
}

describe('SDK clients are provided by the modules that send their commands', () => {
  it('finds the value imports of a module and ignores type-only ones', () => {
    const source = [
      "import { GetChangeCommand, type Route53Client } from '@aws-sdk/client-route-53';",
      "import type { RDSClient } from '@aws-sdk/client-rds';",
      "import { type DBInstance } from '@aws-sdk/client-rds';",
    ].join('\n');
    expect(servicesSent(source)).toEqual(['route-53']);
  });

  it('every module under functions/ that sends a service its commands imports that service provider', () => {
    const missing: string[] = [];
    for (const file of sources(join(ROOT, 'functions'))) {
      const path = relative(ROOT, file);
      if (OWN_CLIENTS.has(path) || path.startsWith('functions/lib/sdk/')) continue;
      const source = readFileSync(file, 'utf8');
      for (const service of servicesSent(source)) {
        const provider = new RegExp(`^import '[./]*(lib/)?sdk/${PROVIDER[service]}\\.js';`, 'm');
        if (!provider.test(source)) missing.push(`${path}: import '…/sdk/${PROVIDER[service]}.js'`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('a client nobody provided', () => {
  it('fails its first use naming the provider to import, and builds nothing before', async () => {
    // Prepare: this file imports no provider, so clients.ts has none.
    const { clientsFor } = await import('../../functions/lib/clients.js');
    const clients = clientsFor('us-west-2');
    // Act, Assess
    expect(clients.region).toBe('us-west-2');
    expect(() => clients.rds).toThrow(
      'no rds client in this bundle: the module that sends its commands must import functions/lib/sdk/rds.js',
    );
    expect(() => clients.secretsManager).toThrow(/functions\/lib\/sdk\/secrets-manager\.js/);
  });
});
