import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { run } from '../../cli/lifeboat.js';
import { PlanInvalidError } from '../../functions/lib/errors.js';
import { type FailoverPlan, parsePlan } from '../../functions/lib/plan.js';
import { reversePlan } from '../../functions/lib/reprotect/reverse-plan.js';
import { captureIo } from '../cli/support.js';

const example = () => parsePlan(JSON.parse(readFileSync('examples/plan.json', 'utf8')));
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-reverse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('reversePlan', () => {
  it('swaps the Regions and the instances, moves the rotation function to the other Region, keeps the rest', () => {
    const { document, notes } = reversePlan(example());
    const plan = parsePlan(document);
    expect(plan).toMatchObject({
      name: 'orders-dr',
      primaryRegion: 'us-west-2',
      recoveryRegion: 'us-east-1',
    });
    expect(plan.units[0]).toMatchObject({
      secret: { id: 'orders/db' },
      database: {
        primaryInstanceId: 'orders-db-replica',
        replicaInstanceId: 'orders-db',
        engine: 'postgres',
      },
      dns: { hostedZoneId: 'Z0LIFEBOAT00EXAMPLE', recordName: 'orders-db.internal.example.com', ttl: 5 },
      rotation: {
        lambdaArn: 'arn:aws:lambda:us-east-1:123456789012:function:orders-db-rotation',
        schedule: 30,
      },
    });
    expect(notes.join('\n')).toMatch(
      /rotation\.lambdaArn: assumes a rotation function of the same name in us-east-1/,
    );
  });

  it('reversed twice is the plan again', () => {
    const original = example();
    const back = parsePlan(reversePlan(parsePlan(reversePlan(original).document)).document);
    expect(back).toEqual(original);
  });

  it('moves secret ARNs and multi-Region keys to the other Region; asks for a single-Region key and a VPC', () => {
    const base = example();
    const unit = base.units[0] as FailoverPlan['units'][number];
    const withArn: FailoverPlan = {
      ...base,
      units: [
        {
          ...unit,
          secret: {
            id: 'arn:aws:secretsmanager:us-west-2:123456789012:secret:orders/db-AbCdEf',
            kmsKeyArn: 'arn:aws:kms:us-west-2:123456789012:key/mrk-0123456789abcdef0123456789abcdef',
          },
        },
      ],
    };
    expect(parsePlan(reversePlan(withArn).document).units[0]?.secret).toEqual({
      id: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:orders/db-AbCdEf',
      kmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef',
    });
    const single: FailoverPlan = {
      ...base,
      units: [
        {
          ...unit,
          secret: {
            id: 'orders/db',
            kmsKeyArn: 'arn:aws:kms:us-west-2:123456789012:key/01234567-89ab-cdef-0123-456789abcdef',
          },
        },
      ],
      vpc: {
        vpcId: 'vpc-0123456789abcdef0',
        subnetIds: ['subnet-0123456789abcdef0'],
        databaseSecurityGroupIds: [],
      },
    };
    let error: unknown;
    try {
      reversePlan(single);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PlanInvalidError);
    expect((error as PlanInvalidError).issues).toEqual([
      expect.stringMatching(
        /^units\.orders\.secret\.kmsKeyArn: .* single-Region key .*--set units\.orders\.secret\.kmsKeyArn=/,
      ),
      expect.stringMatching(/^vpc: vpc-0123456789abcdef0 is a VPC of us-west-2.*--set vpc=/),
    ]);
    const given = reversePlan(single, {
      'units.orders.secret.kmsKeyArn':
        'arn:aws:kms:us-east-1:123456789012:key/11111111-89ab-cdef-0123-456789abcdef',
      vpc: { vpcId: 'vpc-1111111111abcdef0', subnetIds: ['subnet-1111111111abcdef0'] },
    });
    expect(parsePlan(given.document).vpc?.vpcId).toBe('vpc-1111111111abcdef0');
  });

  it('refuses an override it does not know and a value the schema refuses, naming them', () => {
    expect(() => reversePlan(example(), { 'units.nope.rotation.lambdaArn': 'x' })).toThrow(
      /units\.nope\.rotation\.lambdaArn: cannot be set/,
    );
    expect(() =>
      reversePlan(example(), {
        'units.orders.rotation.lambdaArn': 'arn:aws:lambda:us-west-2:123456789012:function:wrong-region',
      }),
    ).toThrow(/units\[0\]\.rotation\.lambdaArn: must be in the recovery Region us-east-1, not us-west-2/);
  });
});

describe('lifeboat plan --reverse', () => {
  it('writes the reversed plan as YAML to --out and prints the assumptions on stderr', async () => {
    const cli = captureIo();
    const out = join(dir, 'reverse.yaml');
    const code = await run(
      [
        'plan',
        '--plan',
        'examples/plan.json',
        '--reverse',
        '--out',
        out,
        '--set',
        'units.orders.rotation.lambdaArn=arn:aws:lambda:us-east-1:123456789012:function:rotate-east',
      ],
      cli.io,
    );
    expect(code).toBe(0);
    const written = parsePlan(parseYaml(readFileSync(out, 'utf8')));
    expect(written.primaryRegion).toBe('us-west-2');
    expect(written.units[0]?.rotation.lambdaArn).toBe(
      'arn:aws:lambda:us-east-1:123456789012:function:rotate-east',
    );
    expect(cli.stderr()).toMatch(/wrote the reversed plan of orders-dr \(us-west-2 -> us-east-1\)/);
    expect(cli.stderr()).toMatch(/note: alarms: kept as they are/);
  });

  it('prints JSON without --out; --set without --reverse is a usage error', async () => {
    const cli = captureIo();
    expect(await run(['plan', '--plan', 'examples/plan.json', '--reverse'], cli.io)).toBe(0);
    expect(JSON.parse(cli.stdout()).recoveryRegion).toBe('us-east-1');
    const bad = captureIo();
    expect(await run(['plan', '--plan', 'examples/plan.json', '--set', 'vpc={}'], bad.io)).toBe(2);
    expect(bad.stderr()).toMatch(/--out and --set go with --reverse/);
  });
});
