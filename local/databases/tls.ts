/**
 * A throw-away certificate authority for the local proving ground's database servers. RDS serves TLS with a
 * certificate that names the instance endpoint and chains to an RDS CA the client trusts; here each server gets a
 * certificate naming its emulated endpoint, signed by this CA, and the verify step trusts the CA through
 * `LIFEBOAT_DB_CA_FILE` (functions/lib/verify/db.ts). Keys are P-256, valid two days: nothing outlives a run.
 *
 * Certificates are made with the `openssl` command (Node has no API that writes X.509): one `openssl req -x509`
 * per certificate (OpenSSL 3's `-CA`/`-CAkey` sign it in the same process), about 20 ms each.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export class CertificateAuthorityError extends Error {
  override readonly name = 'CertificateAuthorityError' as const;
}

export interface IssuedCertificate {
  /** PEM server certificate. */
  readonly cert: string;
  /** PEM private key (unencrypted). */
  readonly key: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const DNS_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new CertificateAuthorityError(
        'the openssl command is missing: install openssl (the local databases serve TLS with certificates it makes)',
        { cause: error },
      );
    }
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new CertificateAuthorityError(
      `openssl ${args[0]} failed: ${stderr.split('\n').slice(-2).join(' ')}`,
      {
        cause: error,
      },
    );
  }
}

export class LocalCertificateAuthority {
  private constructor(
    /** The directory holding the CA's key and certificate (removed by `dispose`). */
    readonly dir: string,
    /** PEM file of the CA certificate: what a client trusts. */
    readonly caFile: string,
    /** The CA certificate itself. */
    readonly caPem: string,
  ) {}

  /** A new CA in a fresh directory under `parent` (made 0755: servers running as another OS user read the CA). */
  static async create(parent: string): Promise<LocalCertificateAuthority> {
    const dir = await mkdtemp(path.join(parent, 'lifeboat-ca-'));
    try {
      await openssl(
        [
          'req',
          '-x509',
          ...EC,
          '-keyout',
          'ca.key',
          '-out',
          'ca.pem',
          '-days',
          '2',
          '-subj',
          '/CN=lifeboat proving ground CA',
        ],
        dir,
      );
      const caFile = path.join(dir, 'ca.pem');
      return new LocalCertificateAuthority(dir, caFile, await readFile(caFile, 'utf8'));
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** A server certificate for `names` (the first is also the subject CN), signed by this CA. */
  async issue(names: readonly string[]): Promise<IssuedCertificate> {
    if (names.length === 0) throw new TypeError('names must hold at least one DNS name');
    for (const name of names) {
      if (!DNS_NAME.test(name)) throw new TypeError(`names: ${JSON.stringify(name)} is not a DNS name`);
    }
    const work = path.join(this.dir, `issue-${randomBytes(6).toString('hex')}`);
    await mkdir(work, { mode: 0o700 });
    try {
      // A whole config: `req -x509` would otherwise add the default config's CA extensions.
      await writeFile(
        path.join(work, 'req.cnf'),
        [
          '[req]',
          'prompt = no',
          'distinguished_name = dn',
          'x509_extensions = server',
          '[dn]',
          // X.509 caps a CN at 64 characters (a drill copy's endpoint is longer); clients check the SAN anyway.
          `CN = ${commonName(names[0])}`,
          '[server]',
          `subjectAltName = ${names.map((n) => `DNS:${n}`).join(',')}`,
          'basicConstraints = critical,CA:FALSE',
          'keyUsage = critical,digitalSignature',
          'extendedKeyUsage = serverAuth',
          '',
        ].join('\n'),
      );
      await openssl(
        [
          'req',
          '-x509',
          '-config',
          'req.cnf',
          ...EC,
          '-keyout',
          'server.key',
          '-out',
          'server.pem',
          '-days',
          '2',
          '-CA',
          path.join(this.dir, 'ca.pem'),
          '-CAkey',
          path.join(this.dir, 'ca.key'),
          // A random serial: concurrent issues would race on a serial file.
          '-set_serial',
          `0x${randomBytes(12).toString('hex')}`,
        ],
        work,
      );
      const [cert, key] = await Promise.all([
        readFile(path.join(work, 'server.pem'), 'utf8'),
        readFile(path.join(work, 'server.key'), 'utf8'),
      ]);
      return { cert, key };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** Removes the CA's directory (its key included). Idempotent. */
  dispose(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** The certificate's CN: the first name when it fits X.509's 64-character limit, else its first label. */
function commonName(name: string | undefined): string {
  const first = name ?? 'localhost';
  return first.length <= 64 ? first : (first.split('.')[0] ?? first).slice(0, 64);
}
