import {
  type Change,
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  GetChangeCommand,
  GetHostedZoneCommand,
  InvalidChangeBatch,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  NoSuchHostedZone,
  PriorRequestNotComplete,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { describe, expect, it } from 'vitest';
import {
  conformance,
  type DivergenceTable,
  needsEmulator,
  pollUntil,
  rejection,
  type Target,
  transitions,
  unique,
} from './harness.js';

/** What moto 5 does instead of what AWS documents (asserted by each test's moto branch). */
const MOTO_DIVERGENCES: DivergenceTable = {
  'CreateHostedZone answers a PENDING change': 'moto answers the change INSYNC at once',
  'ChangeResourceRecordSets answers PENDING, then GetChange says INSYNC':
    'moto answers INSYNC at once, and GetChange answers INSYNC for any change id',
  'DELETE of a missing record set is InvalidChangeBatch':
    'moto answers InvalidInput ("Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords] ...")',
  'a CNAME at the zone apex is InvalidChangeBatch': 'moto creates the CNAME at the apex',
  'an UPSERT of identical values is accepted with a new change id':
    'moto accepts it but answers the same change id again (its change ids are not per batch)',
  'a CNAME beside another type at the same name is InvalidChangeBatch': 'moto creates both record sets',
  'hosted zone and record names are stored lower case with the trailing dot':
    'moto keeps names as given: `Zone.Example` stays `Zone.Example.`, for hosted zones and records',
};

function route53(target: Target): Route53Client {
  // Route 53 is global; the SDK signs it for us-east-1 whatever the Region.
  return new Route53Client(target.config('us-west-2'));
}

async function newZone(target: Target): Promise<{ id: string; name: string }> {
  const name = `${unique('zone')}.example.internal`;
  const out = await route53(target).send(
    new CreateHostedZoneCommand({ Name: name, CallerReference: unique('ref') }),
  );
  return { id: out.HostedZone?.Id as string, name };
}

function cname(action: 'CREATE' | 'UPSERT' | 'DELETE', name: string, value: string, ttl = 60): Change {
  return {
    Action: action,
    ResourceRecordSet: { Name: name, Type: 'CNAME', TTL: ttl, ResourceRecords: [{ Value: value }] },
  };
}

function aRecord(action: 'CREATE' | 'UPSERT' | 'DELETE', name: string, value: string): Change {
  return {
    Action: action,
    ResourceRecordSet: { Name: name, Type: 'A', TTL: 60, ResourceRecords: [{ Value: value }] },
  };
}

async function change(target: Target, zoneId: string, ...changes: Change[]) {
  return route53(target).send(
    new ChangeResourceRecordSetsCommand({ HostedZoneId: zoneId, ChangeBatch: { Changes: changes } }),
  );
}

async function recordsAt(target: Target, zoneId: string, name: string) {
  const out = await route53(target).send(
    new ListResourceRecordSetsCommand({ HostedZoneId: zoneId, StartRecordName: name, MaxItems: 10 }),
  );
  return (out.ResourceRecordSets ?? []).filter((r) => r.Name === `${name}.`);
}

conformance('Route 53', MOTO_DIVERGENCES, (suite) => {
  describe('hosted zones', () => {
    it('CreateHostedZone answers a PENDING change', async () => {
      // Prepare
      const client = route53(suite.target());
      const name = `${unique('zone')}.example.internal`;

      // Act
      const out = await client.send(
        new CreateHostedZoneCommand({ Name: name, CallerReference: unique('ref') }),
      );

      // Assess
      expect(out.HostedZone?.Name).toBe(`${name}.`);
      expect(out.HostedZone?.Id).toMatch(/^\/hostedzone\/[A-Z0-9]+$/);
      expect(out.DelegationSet?.NameServers).toHaveLength(4);
      await suite.behaves('CreateHostedZone answers a PENDING change', {
        aws: async () => expect(out.ChangeInfo?.Status).toBe('PENDING'),
        moto: async () => expect(out.ChangeInfo?.Status).toBe('INSYNC'),
      });
    });

    it('GetHostedZone of a missing zone is NoSuchHostedZone (404)', async () => {
      // Prepare
      const client = route53(suite.target());

      // Act
      const error = await rejection(client.send(new GetHostedZoneCommand({ Id: 'Z0000000000000000000' })));

      // Assess
      expect(error).toBeInstanceOf(NoSuchHostedZone);
      expect((error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(404);
    });

    it('ListHostedZonesByName starts at the name', async () => {
      // Prepare
      const target = suite.target();
      const zone = await newZone(target);

      // Act
      const out = await route53(target).send(
        new ListHostedZonesByNameCommand({ DNSName: zone.name, MaxItems: 1 }),
      );

      // Assess
      expect(out.HostedZones?.[0]?.Name).toBe(`${zone.name}.`);
      expect(out.HostedZones?.[0]?.Id).toBe(zone.id);
    });
  });

  describe('record changes', () => {
    it('ChangeResourceRecordSets answers PENDING, then GetChange says INSYNC', async () => {
      // Prepare
      const target = suite.target();
      const zone = await newZone(target);

      // Act
      const out = await change(target, zone.id, cname('UPSERT', `db.${zone.name}`, 'replica.example.com'));
      const statuses = await pollUntil(
        target,
        async () =>
          (await route53(target).send(new GetChangeCommand({ Id: out.ChangeInfo?.Id }))).ChangeInfo?.Status,
        (s) => s === 'INSYNC',
      );

      // Assess
      expect(out.ChangeInfo?.Id).toMatch(/^\/change\/C[A-Z0-9]+$/);
      await suite.behaves('ChangeResourceRecordSets answers PENDING, then GetChange says INSYNC', {
        aws: async () => {
          expect(out.ChangeInfo?.Status).toBe('PENDING');
          expect(transitions(statuses)).toEqual(['PENDING', 'INSYNC']);
          const unknown = await rejection(
            route53(target).send(new GetChangeCommand({ Id: 'C0000000000000000000' })),
          );
          expect(unknown.name).toBe('NoSuchChange');
        },
        moto: async () => {
          expect(out.ChangeInfo?.Status).toBe('INSYNC');
          const unknown = await route53(target).send(new GetChangeCommand({ Id: 'C0000000000000000000' }));
          expect(unknown.ChangeInfo?.Status).toBe('INSYNC');
        },
      });
    });

    it('hosted zone and record names are stored lower case with the trailing dot', async () => {
      // Prepare
      const target = suite.target();
      const name = `${unique('zone')}.Example.Internal`;

      // Act
      const zone = await route53(target).send(
        new CreateHostedZoneCommand({ Name: name, CallerReference: unique('ref') }),
      );
      const zoneId = zone.HostedZone?.Id as string;
      await change(target, zoneId, cname('CREATE', `DB.${name}`, 'Replica.Example.com'));
      const listed = await route53(target).send(new ListResourceRecordSetsCommand({ HostedZoneId: zoneId }));
      const record = listed.ResourceRecordSets?.find((r) => r.Type === 'CNAME');

      // Assess
      // Values are kept as given; only names are normalized.
      expect(record?.ResourceRecords).toEqual([{ Value: 'Replica.Example.com' }]);
      await suite.behaves('hosted zone and record names are stored lower case with the trailing dot', {
        aws: async () => {
          expect(zone.HostedZone?.Name).toBe(`${name.toLowerCase()}.`);
          expect(record?.Name).toBe(`db.${name.toLowerCase()}.`);
        },
        moto: async () => {
          expect(zone.HostedZone?.Name).toBe(`${name}.`);
          expect(record?.Name).toBe(`DB.${name}.`);
        },
      });
    });

    it('UPSERT replaces the record set', async () => {
      // Prepare
      const target = suite.target();
      const zone = await newZone(target);
      await change(target, zone.id, cname('CREATE', `db.${zone.name}`, 'old.example.com'));

      // Act
      await change(target, zone.id, cname('UPSERT', `db.${zone.name}`, 'new.example.com', 30));
      const records = await recordsAt(target, zone.id, `db.${zone.name}`);

      // Assess
      expect(records).toEqual([
        { Name: `db.${zone.name}.`, Type: 'CNAME', TTL: 30, ResourceRecords: [{ Value: 'new.example.com' }] },
      ]);
    });

    it('an UPSERT of identical values is accepted with a new change id', async () => {
      // Prepare: docs/aws/route53-changes.md (UpdateDns resubmits it to have a change to wait for)
      const target = suite.target();
      const zone = await newZone(target);
      const first = await change(
        target,
        zone.id,
        cname('UPSERT', `db.${zone.name}`, 'replica.example.com', 30),
      );

      // Act
      const again = await change(
        target,
        zone.id,
        cname('UPSERT', `db.${zone.name}`, 'replica.example.com', 30),
      );
      const statuses = await pollUntil(
        target,
        async () =>
          (await route53(target).send(new GetChangeCommand({ Id: again.ChangeInfo?.Id }))).ChangeInfo?.Status,
        (s) => s === 'INSYNC',
      );
      const records = await recordsAt(target, zone.id, `db.${zone.name}`);

      // Assess
      expect(again.ChangeInfo?.Id).toMatch(/^\/change\/C[A-Z0-9]+$/);
      expect(statuses.at(-1)).toBe('INSYNC');
      await suite.behaves('an UPSERT of identical values is accepted with a new change id', {
        aws: async () => {
          expect(again.ChangeInfo?.Status).toBe('PENDING');
          expect(again.ChangeInfo?.Id).not.toBe(first.ChangeInfo?.Id);
        },
        moto: async () => {
          expect(again.ChangeInfo?.Id).toBe(first.ChangeInfo?.Id);
        },
      });
      expect(records).toEqual([
        {
          Name: `db.${zone.name}.`,
          Type: 'CNAME',
          TTL: 30,
          ResourceRecords: [{ Value: 'replica.example.com' }],
        },
      ]);
    });

    it('ListResourceRecordSets pages with NextRecordName and NextRecordType', async () => {
      // Prepare
      const target = suite.target();
      const zone = await newZone(target);
      await change(
        target,
        zone.id,
        aRecord('CREATE', `a.${zone.name}`, '10.0.0.1'),
        cname('CREATE', `b.${zone.name}`, 'x.example.com'),
        cname('CREATE', `c.${zone.name}`, 'y.example.com'),
      );

      // Act
      const first = await route53(target).send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: zone.id,
          StartRecordName: `b.${zone.name}`,
          StartRecordType: 'CNAME',
          MaxItems: 1,
        }),
      );
      const next = await route53(target).send(
        new ListResourceRecordSetsCommand({
          HostedZoneId: zone.id,
          StartRecordName: first.NextRecordName,
          StartRecordType: first.NextRecordType,
          MaxItems: 1,
        }),
      );

      // Assess
      expect(first.ResourceRecordSets?.map((r) => r.Name)).toEqual([`b.${zone.name}.`]);
      expect(first.IsTruncated).toBe(true);
      expect(first.NextRecordName).toBe(`c.${zone.name}.`);
      expect(first.NextRecordType).toBe('CNAME');
      expect(next.ResourceRecordSets?.map((r) => r.Name)).toEqual([`c.${zone.name}.`]);
      expect(next.IsTruncated).toBe(false);
    });
  });

  describe('InvalidChangeBatch', () => {
    it('CREATE of an existing record set is InvalidChangeBatch', async () => {
      // Prepare
      const target = suite.target();
      const zone = await newZone(target);
      await change(target, zone.id, cname('CREATE', `db.${zone.name}`, 'x.example.com'));

      // Act
      const error = await rejection(
        change(target, zone.id, cname('CREATE', `db.${zone.name}`, 'x.example.com')),
      );

      // Assess
      expect(error).toBeInstanceOf(InvalidChangeBatch);
      expect(error.message).toContain(
        `Tried to create resource record set [name='db.${zone.name}.', type='CNAME'] but it already exists`,
      );
    });

    it('DELETE of a missing record set is InvalidChangeBatch', async () => {
      // Prepare
      const target = suite.target();
      const zone = await newZone(target);

      // Act
      const error = await rejection(
        change(target, zone.id, cname('DELETE', `gone.${zone.name}`, 'x.example.com')),
      );

      // Assess
      await suite.behaves('DELETE of a missing record set is InvalidChangeBatch', {
        aws: async () => {
          expect(error).toBeInstanceOf(InvalidChangeBatch);
          expect(error.message).toContain('but it was not found');
        },
        moto: async () => expect(error.name).toBe('InvalidInput'),
      });
    });

    it('a CNAME at the zone apex is InvalidChangeBatch', async () => {
      // Prepare
      const target = suite.target();
      const zone = await newZone(target);

      // Act
      const attempt = change(target, zone.id, cname('CREATE', zone.name, 'x.example.com'));

      // Assess
      await suite.behaves('a CNAME at the zone apex is InvalidChangeBatch', {
        aws: async () => {
          const error = await rejection(attempt);
          expect(error).toBeInstanceOf(InvalidChangeBatch);
          expect(error.message).toContain('is not permitted at apex');
        },
        moto: async () => {
          await attempt;
          expect(await recordsAt(target, zone.id, zone.name)).toContainEqual(
            expect.objectContaining({ Type: 'CNAME' }),
          );
        },
      });
    });

    it('a CNAME beside another type at the same name is InvalidChangeBatch', async () => {
      // Prepare
      const target = suite.target();
      const zone = await newZone(target);
      await change(target, zone.id, aRecord('CREATE', `db.${zone.name}`, '10.0.0.1'));

      // Act
      const attempt = change(target, zone.id, cname('CREATE', `db.${zone.name}`, 'x.example.com'));

      // Assess
      await suite.behaves('a CNAME beside another type at the same name is InvalidChangeBatch', {
        aws: async () => {
          const error = await rejection(attempt);
          expect(error).toBeInstanceOf(InvalidChangeBatch);
          expect(error.message).toContain('conflicts with other records with the same DNS name');
        },
        moto: async () => {
          await attempt;
          expect((await recordsAt(target, zone.id, `db.${zone.name}`)).map((r) => r.Type).sort()).toEqual([
            'A',
            'CNAME',
          ]);
        },
      });
    });

    it('a batch with one bad change changes nothing', async () => {
      // Prepare
      const target = suite.target();
      const zone = await newZone(target);
      await change(target, zone.id, cname('CREATE', `taken.${zone.name}`, 'x.example.com'));

      // Act
      const error = await rejection(
        change(
          target,
          zone.id,
          cname('CREATE', `fresh.${zone.name}`, 'y.example.com'),
          cname('CREATE', `taken.${zone.name}`, 'x.example.com'),
        ),
      );
      const fresh = await recordsAt(target, zone.id, `fresh.${zone.name}`);

      // Assess
      expect(error).toBeInstanceOf(InvalidChangeBatch);
      expect(fresh).toEqual([]);
    });
  });

  /**
   * Route 53 rejects a request for a hosted zone while it is still processing a prior one (docs/aws/route53-changes.md,
   * "PriorRequestNotComplete"). moto does not model it (every change is INSYNC at once there), so these run on the
   * emulator only, with its serialization turned on for the test.
   */
  describe('PriorRequestNotComplete', () => {
    const why = 'moto does not model per-zone serialization: its changes are INSYNC at once';

    it('a change to a zone with a PENDING change is PriorRequestNotComplete (400) and changes nothing', async (context) => {
      if (needsEmulator(suite.name, context.task.name, why)) return;
      // Prepare
      const target = suite.target();
      target.emulator?.route53.serializeChanges(true);
      try {
        const zone = await newZone(target);
        const other = await newZone(target);
        const first = await change(target, zone.id, cname('UPSERT', `a.${zone.name}`, 'one.example.com'));
        expect(first.ChangeInfo?.Status).toBe('PENDING');

        // Act
        const error = await rejection(
          change(target, zone.id, cname('UPSERT', `b.${zone.name}`, 'two.example.com')),
        );
        const elsewhere = await change(
          target,
          other.id,
          cname('UPSERT', `b.${other.name}`, 'two.example.com'),
        );

        // Assess: the shape Route 53 answers (HTTP 400, code and message), nothing written; another zone is free.
        expect(error).toBeInstanceOf(PriorRequestNotComplete);
        expect(error.name).toBe('PriorRequestNotComplete');
        expect((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(400);
        expect(error.message).toBe(
          'The request was rejected because Route 53 was still processing a prior request.',
        );
        expect(await recordsAt(target, zone.id, `b.${zone.name}`)).toEqual([]);
        expect(elsewhere.ChangeInfo?.Status).toBe('PENDING');
      } finally {
        target.emulator?.route53.serializeChanges(false);
      }
    });

    it('once the prior change is INSYNC the zone takes the next change', async (context) => {
      if (needsEmulator(suite.name, context.task.name, why)) return;
      // Prepare
      const target = suite.target();
      target.emulator?.route53.serializeChanges(true);
      try {
        const zone = await newZone(target);
        const first = await change(target, zone.id, cname('UPSERT', `a.${zone.name}`, 'one.example.com'));
        await pollUntil(
          target,
          async () =>
            (await route53(target).send(new GetChangeCommand({ Id: first.ChangeInfo?.Id }))).ChangeInfo
              ?.Status,
          (status) => status === 'INSYNC',
        );

        // Act
        const next = await change(target, zone.id, cname('UPSERT', `b.${zone.name}`, 'two.example.com'));

        // Assess
        expect(next.ChangeInfo?.Status).toBe('PENDING');
        expect(await recordsAt(target, zone.id, `b.${zone.name}`)).toHaveLength(1);
      } finally {
        target.emulator?.route53.serializeChanges(false);
      }
    });

    it('an invalid batch is InvalidChangeBatch, not PriorRequestNotComplete, and leaves the zone free', async (context) => {
      if (needsEmulator(suite.name, context.task.name, why)) return;
      // Prepare
      const target = suite.target();
      target.emulator?.route53.serializeChanges(true);
      try {
        const zone = await newZone(target);

        // Act: a rejected batch is no change, so the zone has nothing PENDING.
        const bad = await rejection(
          change(target, zone.id, cname('DELETE', `gone.${zone.name}`, 'x.example.com')),
        );
        const good = await change(target, zone.id, cname('UPSERT', `a.${zone.name}`, 'one.example.com'));

        // Assess
        expect(bad).toBeInstanceOf(InvalidChangeBatch);
        expect(good.ChangeInfo?.Status).toBe('PENDING');
      } finally {
        target.emulator?.route53.serializeChanges(false);
      }
    });
  });
});
