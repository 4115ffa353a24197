/**
 * Route 53 hosted zones and records (REST-XML under `/2013-04-01/`). Global: the call log records it as Region
 * `global`, whatever Region the SDK signed for.
 *
 * Modelled on the Route 53 API reference:
 * - Names are stored and returned lower case with the trailing dot, `*` as `\052`.
 * - ChangeResourceRecordSets is atomic: every change is checked in order against the records as the earlier
 *   changes of the batch leave them; any problem fails the whole batch with InvalidChangeBatch, whose message lists
 *   every problem as `[msg1, msg2]` (the form Route 53 answers today, see aws/aws-sdk-kotlin#1435). Problems: CREATE
 *   of an existing record set, DELETE of a missing one or with other values, a CNAME at the zone apex, a CNAME
 *   beside other types at the same name, a name outside the zone.
 * - A change is `PENDING` for `timings.route53ChangeMs`, then `INSYNC`. ListResourceRecordSets shows a change at
 *   once; the DNS view (`lookup`, served by the proving ground's DNS server) shows it once it is INSYNC, as the
 *   authoritative servers would.
 * - With `serializeChanges` on, a ChangeResourceRecordSets to a zone that still has a PENDING change is rejected
 *   with `PriorRequestNotComplete` (HTTP 400) and changes nothing, the way Route 53 rejects a request for a zone
 *   whose prior request it is still processing (docs/aws/route53-changes.md, "PriorRequestNotComplete"). AWS does not
 *   say how long that lasts; the emulator takes the pessimistic reading, the whole PENDING period. Off by default:
 *   the proving ground's multi-unit worlds turn it on where they measure it (the bench).
 * - ListResourceRecordSets sorts by name with the labels reversed, then type, then set identifier, and pages with
 *   NextRecordName/NextRecordType/NextRecordIdentifier.
 */
import {
  AwsError,
  type CallInfo,
  type Clock,
  type EmulatorRequest,
  type HttpAnswer,
  isReadAction,
  type Rng,
  type ServiceHandler,
  UPPER_ALNUM,
} from '../core.js';
import type { DnsAnswer, DnsRecordType, SeedHostedZoneInput, SeedRecordInput } from '../types.js';
import { parseXml, toXml, type XmlObject, xmlList } from '../wire.js';
import type { AlarmState } from './cloudwatch-alarms.js';
import { Route53HealthChecks } from './route53-health-checks.js';

const XMLNS = 'https://route53.amazonaws.com/doc/2013-04-01/';
const PREFIX = '/2013-04-01';
const TYPES = new Set([
  'A',
  'AAAA',
  'CAA',
  'CNAME',
  'DS',
  'HTTPS',
  'MX',
  'NAPTR',
  'NS',
  'PTR',
  'SOA',
  'SPF',
  'SRV',
  'SSHFP',
  'SVCB',
  'TLSA',
  'TXT',
]);
const XML_ARRAYS = new Set(['Change', 'ResourceRecord']);

interface AliasTarget {
  [key: string]: string | boolean;
  HostedZoneId: string;
  DNSName: string;
  EvaluateTargetHealth: boolean;
}

interface RecordSet {
  name: string;
  type: string;
  ttl?: number;
  values: string[];
  setIdentifier?: string;
  weight?: number;
  region?: string;
  failover?: string;
  multiValueAnswer?: boolean;
  healthCheckId?: string;
  alias?: AliasTarget;
}

interface Zone {
  readonly id: string;
  readonly name: string;
  readonly callerReference: string;
  readonly comment?: string;
  readonly privateZone: boolean;
  readonly nameServers: string[];
  records: RecordSet[];
  /** What the DNS servers answer: the records as of the last INSYNC change. */
  published: RecordSet[];
}

interface Change {
  readonly id: string;
  status: 'PENDING' | 'INSYNC';
  readonly submittedAt: number;
  readonly comment?: string;
  readonly dueAt: number;
  readonly zoneId?: string;
  readonly snapshot?: RecordSet[];
}

/**
 * A name as Route 53 stores and returns it: lower case ("Route 53 stores alphabetic characters as lowercase
 * letters ... or the corresponding letters in escape codes"), with the trailing dot, and every character other than
 * a-z, 0-9, `-` and `_` as a `\ooo` octal escape (e.g. `*` as `\052`), per the DNS domain name format page.
 */
export function normalizeName(name: string): string {
  const text = name.trim().replace(/\.$/, '');
  let out = '';
  for (let i = 0; i < text.length; ) {
    const escaped = text[i] === '\\' && /^\d{3}$/.test(text.slice(i + 1, i + 4));
    const ch = escaped
      ? String.fromCharCode(Number.parseInt(text.slice(i + 1, i + 4), 8))
      : (text[i] as string);
    i += escaped ? 4 : 1;
    if (ch === '.' && !escaped) {
      out += '.';
      continue;
    }
    const lower = ch.toLowerCase();
    out += /^[a-z0-9_-]$/.test(lower) ? lower : `\\${ch.charCodeAt(0).toString(8).padStart(3, '0')}`;
  }
  return `${out}.`;
}

/** Reversed names by name: a listing sorts the zone's records each time (500 records in the scale bench). */
const reversedKeys = new Map<string, string>();

function reversedKey(name: string): string {
  let key = reversedKeys.get(name);
  if (key === undefined) {
    key = name.replace(/\.$/, '').split('.').reverse().join('.');
    if (reversedKeys.size > 100_000) reversedKeys.clear();
    reversedKeys.set(name, key);
  }
  return key;
}

/** Code-unit order (Route 53 sorts by the ASCII values of the reversed names). */
function ascii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareRecords(a: RecordSet, b: RecordSet): number {
  return (
    ascii(reversedKey(a.name), reversedKey(b.name)) ||
    ascii(a.type, b.type) ||
    ascii(a.setIdentifier ?? '', b.setIdentifier ?? '')
  );
}

function sameSet(a: RecordSet, b: { name: string; type: string; setIdentifier?: string }): boolean {
  return a.name === b.name && a.type === b.type && (a.setIdentifier ?? '') === (b.setIdentifier ?? '');
}

function sameValues(a: RecordSet, b: RecordSet): boolean {
  const norm = (r: RecordSet) =>
    JSON.stringify({
      ttl: r.ttl,
      values: [...r.values].sort(),
      alias: r.alias ? { ...r.alias, DNSName: normalizeName(r.alias.DNSName) } : undefined,
      weight: r.weight,
      region: r.region,
      failover: r.failover,
      healthCheckId: r.healthCheckId,
      multiValueAnswer: r.multiValueAnswer,
    });
  return norm(a) === norm(b);
}

function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return String(value);
}

function cloneRecords(records: RecordSet[]): RecordSet[] {
  return records.map((r) => ({
    ...r,
    values: [...r.values],
    ...(r.alias ? { alias: { ...r.alias } } : {}),
  }));
}

export class Route53Service implements ServiceHandler {
  readonly name = 'route53' as const;
  private readonly zones = new Map<string, Zone>();
  private readonly changes = new Map<string, Change>();
  /** Health checks; failover records answer by their status (route53-health-checks.ts). */
  readonly healthChecks: Route53HealthChecks;
  /** Rejects a change to a zone while an earlier change to it is PENDING (PriorRequestNotComplete). */
  serializeChanges = false;

  constructor(
    private readonly clock: Clock,
    private readonly rng: Rng,
    alarmState: (region: string, name: string, time: number) => AlarmState | undefined = () => undefined,
  ) {
    this.healthChecks = new Route53HealthChecks(clock, rng, alarmState);
  }

  /* ------------------------------------------------------------------------------------------ */
  /* Dispatch                                                                                   */
  /* ------------------------------------------------------------------------------------------ */

  private route(req: EmulatorRequest): { action: string; id?: string } {
    const path = decodeURIComponent(req.path);
    if (!path.startsWith(`${PREFIX}/`)) return { action: '' };
    const parts = path
      .slice(PREFIX.length + 1)
      .split('/')
      .filter(Boolean);
    const [kind, id, sub] = parts;
    const get = req.method === 'GET';
    if (kind === 'hostedzone' && parts.length === 1) {
      return { action: req.method === 'POST' ? 'CreateHostedZone' : get ? 'ListHostedZones' : '' };
    }
    if (kind === 'hostedzonesbyname' && get) return { action: 'ListHostedZonesByName' };
    if (kind === 'hostedzone' && id !== undefined && sub === undefined) {
      if (get) return { action: 'GetHostedZone', id };
      if (req.method === 'DELETE') return { action: 'DeleteHostedZone', id };
    }
    if (kind === 'hostedzone' && id !== undefined && sub === 'rrset') {
      return { action: get ? 'ListResourceRecordSets' : 'ChangeResourceRecordSets', id };
    }
    if (kind === 'change' && id !== undefined && get) return { action: 'GetChange', id };
    if (kind === 'healthcheck' && parts.length === 1 && req.method === 'POST')
      return { action: 'CreateHealthCheck' };
    if (kind === 'healthcheck' && id !== undefined && sub === undefined) {
      if (get) return { action: 'GetHealthCheck', id };
      if (req.method === 'DELETE') return { action: 'DeleteHealthCheck', id };
    }
    return { action: '' };
  }

  describe(req: EmulatorRequest): CallInfo {
    const { action, id } = this.route(req);
    if (!action) throw new AwsError('InvalidInput', 400, `Unsupported request ${req.method} ${req.path}`);
    return { action, resource: id ?? null, mutating: !isReadAction(action) };
  }

  async handle(req: EmulatorRequest, call: CallInfo): Promise<HttpAnswer> {
    this.settle();
    const { id } = this.route(req);
    const answer = (root: string, body: XmlObject, status = 200, headers: Record<string, string> = {}) => ({
      status,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': req.requestId, ...headers },
      body: toXml(root, body, XMLNS),
    });
    switch (call.action) {
      case 'CreateHostedZone': {
        const { zone, change } = this.createHostedZone(req.body);
        return answer(
          'CreateHostedZoneResponse',
          {
            HostedZone: this.renderZone(zone),
            ChangeInfo: this.renderChange(change),
            ...this.delegationOrVpc(zone),
          },
          201,
          { location: `https://route53.amazonaws.com${PREFIX}/hostedzone/${zone.id}` },
        );
      }
      case 'GetHostedZone': {
        const zone = this.zone(id as string);
        return answer('GetHostedZoneResponse', {
          HostedZone: this.renderZone(zone),
          ...this.delegationOrVpc(zone),
        });
      }
      case 'ListHostedZones':
        return answer('ListHostedZonesResponse', this.listZones(req.query, false));
      case 'ListHostedZonesByName':
        return answer('ListHostedZonesByNameResponse', this.listZones(req.query, true));
      case 'DeleteHostedZone': {
        const zone = this.zone(id as string);
        if (zone.records.some((r) => r.type !== 'SOA' && !(r.type === 'NS' && r.name === zone.name))) {
          throw new AwsError(
            'HostedZoneNotEmpty',
            400,
            'The specified hosted zone contains non-required resource record sets and so cannot be deleted.',
          );
        }
        this.zones.delete(zone.id);
        return answer('DeleteHostedZoneResponse', { ChangeInfo: this.renderChange(this.newChange()) });
      }
      case 'ListResourceRecordSets':
        return answer('ListResourceRecordSetsResponse', this.listRecords(this.zone(id as string), req.query));
      case 'ChangeResourceRecordSets':
        return answer('ChangeResourceRecordSetsResponse', {
          ChangeInfo: this.renderChange(this.changeRecords(this.zone(id as string), req.body)),
        });
      case 'CreateHealthCheck': {
        const { check, created } = this.healthChecks.create(req.body);
        return answer(
          'CreateHealthCheckResponse',
          { HealthCheck: this.healthChecks.render(check) },
          created ? 201 : 200,
          {
            location: `https://route53.amazonaws.com${PREFIX}/healthcheck/${check.id}`,
          },
        );
      }
      case 'GetHealthCheck':
        return answer('GetHealthCheckResponse', {
          HealthCheck: this.healthChecks.render(this.healthChecks.get(id as string)),
        });
      case 'DeleteHealthCheck':
        this.healthChecks.delete(id as string, (hc) =>
          [...this.zones.values()].some((z) => z.records.some((r) => r.healthCheckId === hc)),
        );
        return answer('DeleteHealthCheckResponse', {});
      case 'GetChange': {
        const change = this.changes.get(String(id).replace(/^\/?change\//, ''));
        if (!change) {
          throw new AwsError('NoSuchChange', 404, 'A change with the specified change ID does not exist.');
        }
        return answer('GetChangeResponse', { ChangeInfo: this.renderChange(change) });
      }
      default:
        throw new AwsError('InvalidInput', 400, `Unsupported action ${call.action}`);
    }
  }

  errorAnswer(error: AwsError, req: EmulatorRequest): HttpAnswer {
    return {
      status: error.status,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': req.requestId },
      body: toXml(
        'ErrorResponse',
        { Error: { Type: error.fault, Code: error.code, Message: error.message }, RequestId: req.requestId },
        XMLNS,
      ),
    };
  }

  throttlingError(): AwsError {
    return new AwsError('Throttling', 400, 'Rate exceeded');
  }

  serverError(): AwsError {
    return new AwsError('InternalFailure', 500, 'An internal error occurred.');
  }

  /* ------------------------------------------------------------------------------------------ */
  /* State                                                                                      */
  /* ------------------------------------------------------------------------------------------ */

  /** Marks due changes INSYNC and publishes their records to the DNS view. */
  settle(): void {
    const now = this.clock.now();
    for (const change of this.changes.values()) {
      if (change.status !== 'PENDING' || change.dueAt > now) continue;
      change.status = 'INSYNC';
      const zone = change.zoneId ? this.zones.get(change.zoneId) : undefined;
      if (zone && change.snapshot) zone.published = change.snapshot;
    }
  }

  private pendingChangeOf(zone: Zone): Change | undefined {
    this.settle();
    for (const change of this.changes.values()) {
      if (change.zoneId === zone.id && change.status === 'PENDING') return change;
    }
    return undefined;
  }

  private zone(id: string): Zone {
    const zone = this.zones.get(id.replace(/^\/?hostedzone\//, ''));
    if (!zone) throw new AwsError('NoSuchHostedZone', 404, `No hosted zone found with ID: ${id}`);
    return zone;
  }

  private newChange(zone?: Zone, comment?: string, delayMs = this.clock.timings.route53ChangeMs): Change {
    const now = this.clock.now();
    const change: Change = {
      id: `C${this.rng.chars(20, UPPER_ALNUM)}`,
      status: 'PENDING',
      submittedAt: now,
      ...(comment !== undefined ? { comment } : {}),
      dueAt: now + this.clock.scaled(delayMs),
      ...(zone ? { zoneId: zone.id, snapshot: cloneRecords(zone.records) } : {}),
    };
    this.changes.set(change.id, change);
    return change;
  }

  private makeZone(
    name: string,
    callerReference: string,
    privateZone: boolean,
    comment?: string,
    id = `Z${this.rng.chars(20, UPPER_ALNUM)}`,
  ): Zone {
    if ([...this.zones.values()].some((z) => z.callerReference === callerReference)) {
      throw new AwsError(
        'HostedZoneAlreadyExists',
        409,
        `A hosted zone has already been created with the specified caller reference.`,
      );
    }
    const zoneName = normalizeName(name);
    if (!/^((?:[a-z0-9_-]|\\\d{3})+\.)+$/.test(zoneName)) {
      throw new AwsError('InvalidDomainName', 400, `${name} is not a valid domain name.`);
    }
    const n = Math.floor(this.rng.next() * 2000);
    const nameServers = [
      `ns-${n}.awsdns-${n % 64}.com`,
      `ns-${n + 512}.awsdns-${(n + 1) % 64}.net`,
      `ns-${n + 1024}.awsdns-${(n + 2) % 64}.org`,
      `ns-${n + 1536}.awsdns-${(n + 3) % 64}.co.uk`,
    ];
    const records: RecordSet[] = [
      { name: zoneName, type: 'NS', ttl: 172800, values: nameServers.map((ns) => `${ns}.`) },
      {
        name: zoneName,
        type: 'SOA',
        ttl: 900,
        values: [`${nameServers[0]}. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400`],
      },
    ];
    const zone: Zone = {
      id,
      name: zoneName,
      callerReference,
      ...(comment !== undefined ? { comment } : {}),
      privateZone,
      nameServers,
      records,
      published: cloneRecords(records),
    };
    this.zones.set(zone.id, zone);
    return zone;
  }

  /* ------------------------------------------------------------------------------------------ */
  /* Operations                                                                                 */
  /* ------------------------------------------------------------------------------------------ */

  private createHostedZone(body: Buffer): { zone: Zone; change: Change } {
    const doc = parseXml(body.toString('utf8'), XML_ARRAYS).CreateHostedZoneRequest as
      | Record<string, unknown>
      | undefined;
    const name = text(doc?.Name);
    const callerReference = text(doc?.CallerReference);
    if (!name || !callerReference) {
      throw new AwsError('InvalidInput', 400, 'Invalid request: Name and CallerReference are required.');
    }
    const config = (doc?.HostedZoneConfig ?? {}) as Record<string, unknown>;
    const privateZone = text(config.PrivateZone) === 'true' || doc?.VPC !== undefined;
    const zone = this.makeZone(name, callerReference, privateZone, text(config.Comment));
    return { zone, change: this.newChange() };
  }

  private renderZone(zone: Zone): XmlObject {
    return {
      Id: `/hostedzone/${zone.id}`,
      Name: zone.name,
      CallerReference: zone.callerReference,
      Config: {
        ...(zone.comment !== undefined ? { Comment: zone.comment } : {}),
        PrivateZone: zone.privateZone,
      },
      ResourceRecordSetCount: zone.records.length,
    };
  }

  private delegationOrVpc(zone: Zone): XmlObject {
    return zone.privateZone
      ? { VPCs: xmlList('VPC', [{ VPCRegion: 'us-east-1', VPCId: 'vpc-0123456789abcdef0' }]) }
      : { DelegationSet: { NameServers: xmlList('NameServer', zone.nameServers) } };
  }

  private renderChange(change: Change): XmlObject {
    return {
      Id: `/change/${change.id}`,
      Status: change.status,
      SubmittedAt: new Date(change.submittedAt),
      ...(change.comment !== undefined ? { Comment: change.comment } : {}),
    };
  }

  private maxItems(query: URLSearchParams, fallback: number): number {
    const raw = query.get('maxitems');
    if (raw === null) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new AwsError('InvalidInput', 400, `Invalid maxitems: ${raw}`);
    return Math.min(n, fallback);
  }

  private listZones(query: URLSearchParams, byName: boolean): XmlObject {
    const max = this.maxItems(query, 100);
    const zones = [...this.zones.values()].sort(
      (a, b) => ascii(reversedKey(a.name), reversedKey(b.name)) || ascii(a.id, b.id),
    );
    let start = 0;
    const dnsName = query.get('dnsname');
    const zoneId = query.get('hostedzoneid');
    if (byName && dnsName) {
      const key = reversedKey(normalizeName(dnsName));
      start = zones.findIndex((z) => {
        const cmp = ascii(reversedKey(z.name), key);
        return cmp > 0 || (cmp === 0 && (!zoneId || z.id >= zoneId));
      });
      if (start < 0) start = zones.length;
    } else if (!byName && query.get('marker')) {
      start = Math.max(
        0,
        zones.findIndex((z) => z.id === query.get('marker')),
      );
    }
    const page = zones.slice(start, start + max);
    const next = zones[start + max];
    const common: XmlObject = {
      HostedZones: xmlList(
        'HostedZone',
        page.map((z) => this.renderZone(z)),
      ),
      IsTruncated: next !== undefined,
      MaxItems: max,
    };
    if (byName) {
      return {
        ...common,
        ...(dnsName ? { DNSName: dnsName } : {}),
        ...(zoneId ? { HostedZoneId: zoneId } : {}),
        ...(next ? { NextDNSName: next.name, NextHostedZoneId: next.id } : {}),
      };
    }
    return { Marker: query.get('marker') ?? '', ...common, ...(next ? { NextMarker: next.id } : {}) };
  }

  private renderRecord(r: RecordSet): XmlObject {
    return {
      Name: r.name,
      Type: r.type,
      SetIdentifier: r.setIdentifier,
      Weight: r.weight,
      Region: r.region,
      Failover: r.failover,
      MultiValueAnswer: r.multiValueAnswer,
      TTL: r.ttl,
      ResourceRecords: r.alias
        ? undefined
        : xmlList(
            'ResourceRecord',
            r.values.map((Value) => ({ Value })),
          ),
      AliasTarget: r.alias ? { ...r.alias } : undefined,
      HealthCheckId: r.healthCheckId,
    };
  }

  private listRecords(zone: Zone, query: URLSearchParams): XmlObject {
    const max = this.maxItems(query, 300);
    const name = query.get('name');
    const type = query.get('type');
    const identifier = query.get('identifier');
    if (type && !name) {
      throw new AwsError('InvalidInput', 400, 'The input is not valid: type requires name to be specified.');
    }
    if (type && !TYPES.has(type)) throw new AwsError('InvalidInput', 400, `Invalid type: ${type}`);
    const records = [...zone.records].sort(compareRecords);
    let start = 0;
    if (name) {
      const probe: RecordSet = {
        name: normalizeName(name),
        type: type ?? '',
        values: [],
        ...(identifier ? { setIdentifier: identifier } : {}),
      };
      start = records.findIndex((r) => compareRecords(r, probe) >= 0);
      if (start < 0) start = records.length;
    }
    const page = records.slice(start, start + max);
    const next = records[start + max];
    return {
      ResourceRecordSets: xmlList(
        'ResourceRecordSet',
        page.map((r) => this.renderRecord(r)),
      ),
      IsTruncated: next !== undefined,
      ...(next
        ? {
            NextRecordName: next.name,
            NextRecordType: next.type,
            ...(next.setIdentifier !== undefined ? { NextRecordIdentifier: next.setIdentifier } : {}),
          }
        : {}),
      MaxItems: max,
    };
  }

  private parseRecord(raw: Record<string, unknown>, action: string): RecordSet {
    const name = text(raw.Name);
    const type = text(raw.Type);
    if (!name || !type)
      throw new AwsError('InvalidInput', 400, 'Invalid request: Name and Type are required.');
    if (!TYPES.has(type)) {
      throw new AwsError(
        'InvalidInput',
        400,
        `1 validation error detected: Value '${type}' at 'changeBatch.changes.1.member.resourceRecordSet.type' failed to satisfy constraint: Member must satisfy enum value set: [${[...TYPES].join(', ')}]`,
      );
    }
    const ttl = text(raw.TTL);
    const recordsNode = raw.ResourceRecords as { ResourceRecord?: { Value?: unknown }[] } | undefined;
    const values = (recordsNode?.ResourceRecord ?? []).map((r) => text(r.Value) ?? '');
    const aliasNode = raw.AliasTarget as Record<string, unknown> | undefined;
    const setIdentifier = text(raw.SetIdentifier);
    const hasRecords = ttl !== undefined && values.length > 0;
    if (!aliasNode === !hasRecords) {
      throw new AwsError(
        'InvalidInput',
        400,
        `Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found ${aliasNode ? 'more than one' : 'none'} in Change with [Action=${action}, Name=${name}, Type=${type}, SetIdentifier=${setIdentifier ?? 'null'}]`,
      );
    }
    const weight = text(raw.Weight);
    const record: RecordSet = {
      name: normalizeName(name),
      type,
      values,
      ...(ttl !== undefined ? { ttl: Number(ttl) } : {}),
      ...(setIdentifier !== undefined ? { setIdentifier } : {}),
      ...(weight !== undefined ? { weight: Number(weight) } : {}),
      ...(text(raw.Region) !== undefined ? { region: text(raw.Region) } : {}),
      ...(text(raw.Failover) !== undefined ? { failover: text(raw.Failover) } : {}),
      ...(text(raw.MultiValueAnswer) !== undefined
        ? { multiValueAnswer: text(raw.MultiValueAnswer) === 'true' }
        : {}),
      ...(text(raw.HealthCheckId) !== undefined ? { healthCheckId: text(raw.HealthCheckId) } : {}),
    };
    if (aliasNode) {
      record.alias = {
        HostedZoneId: text(aliasNode.HostedZoneId) ?? '',
        DNSName: normalizeName(text(aliasNode.DNSName) ?? ''),
        EvaluateTargetHealth: text(aliasNode.EvaluateTargetHealth) === 'true',
      };
    }
    return record;
  }

  /** Problems of one change against the working records, in Route 53's words; applies it when there are none. */
  private applyChange(zone: Zone, working: RecordSet[], action: string, record: RecordSet): string[] {
    const label = `[name='${record.name}', type='${record.type}'${record.setIdentifier !== undefined ? `, set-identifier='${record.setIdentifier}'` : ''}]`;
    if (record.name !== zone.name && !record.name.endsWith(`.${zone.name}`)) {
      return [`RRSet with DNS name ${record.name} is not permitted in zone ${zone.name}`];
    }
    const index = working.findIndex((r) => sameSet(r, record));
    if (action === 'DELETE') {
      const existing = working[index];
      if (!existing) return [`Tried to delete resource record set ${label} but it was not found`];
      if (!sameValues(existing, record)) {
        return [
          `Tried to delete resource record set ${label} but the values provided do not match the current values`,
        ];
      }
      working.splice(index, 1);
      return [];
    }
    if (action === 'CREATE' && index >= 0) {
      return [`Tried to create resource record set ${label} but it already exists`];
    }
    if (record.type === 'CNAME' && record.name === zone.name) {
      return [
        `RRSet of type CNAME with DNS name ${record.name} is not permitted at apex in zone ${zone.name}`,
      ];
    }
    const conflicting = working.some(
      (r) =>
        r.name === record.name && r.type !== record.type && (r.type === 'CNAME' || record.type === 'CNAME'),
    );
    if (conflicting) {
      return [
        `RRSet of type ${record.type} with DNS name ${record.name} is not permitted as it conflicts with other records with the same DNS name in zone ${zone.name}`,
      ];
    }
    if (index >= 0) working[index] = record;
    else working.push(record);
    return [];
  }

  private changeRecords(zone: Zone, body: Buffer): Change {
    const doc = parseXml(body.toString('utf8'), XML_ARRAYS).ChangeResourceRecordSetsRequest as
      | { ChangeBatch?: { Comment?: unknown; Changes?: { Change?: Record<string, unknown>[] } } }
      | undefined;
    const changes = doc?.ChangeBatch?.Changes?.Change ?? [];
    if (changes.length === 0) {
      throw new AwsError(
        'InvalidInput',
        400,
        'Invalid request: ChangeBatch must contain at least one change.',
      );
    }
    if (this.serializeChanges && this.pendingChangeOf(zone)) {
      // Checked after the request's own validation: Route 53 reads the request before it looks at the zone.
      throw new AwsError(
        'PriorRequestNotComplete',
        400,
        'The request was rejected because Route 53 was still processing a prior request.',
      );
    }
    const working = cloneRecords(zone.records);
    const problems: string[] = [];
    for (const change of changes) {
      const action = text(change.Action) ?? '';
      if (!['CREATE', 'DELETE', 'UPSERT'].includes(action)) {
        throw new AwsError('InvalidInput', 400, `Invalid request: invalid Action ${action}`);
      }
      const record = this.parseRecord((change.ResourceRecordSet ?? {}) as Record<string, unknown>, action);
      problems.push(...this.applyChange(zone, working, action, record));
    }
    if (problems.length) throw new AwsError('InvalidChangeBatch', 400, `[${problems.join(', ')}]`);
    zone.records = working;
    return this.newChange(zone, text(doc?.ChangeBatch?.Comment));
  }

  /* ------------------------------------------------------------------------------------------ */
  /* Seeding and the DNS view                                                                   */
  /* ------------------------------------------------------------------------------------------ */

  seedZone(input: SeedHostedZoneInput): { id: string; name: string } {
    const id = input.id?.replace(/^\/?hostedzone\//, '');
    if (id !== undefined && (!/^[A-Z0-9]{1,32}$/.test(id) || this.zones.has(id))) {
      throw new TypeError(
        `seed.hostedZone: id must be 1-32 upper-case letters and digits, not used yet; got ${input.id}`,
      );
    }
    const zone = this.makeZone(
      input.name,
      `seed-${this.rng.uuid()}`,
      input.privateZone ?? false,
      undefined,
      id,
    );
    for (const record of input.records ?? []) this.seedRecord(zone.id, record);
    return { id: zone.id, name: zone.name };
  }

  /** UPSERTs a record and publishes it at once (no pending change). */
  seedRecord(zoneId: string, input: SeedRecordInput): void {
    const zone = this.zone(zoneId);
    const record: RecordSet = {
      name: normalizeName(input.name),
      type: input.type,
      ttl: input.ttl ?? 300,
      values: [...input.values],
      ...(input.setIdentifier !== undefined ? { setIdentifier: input.setIdentifier } : {}),
      ...(input.failover !== undefined ? { failover: input.failover } : {}),
      ...(input.healthCheckId !== undefined ? { healthCheckId: input.healthCheckId } : {}),
    };
    const problems = this.applyChange(zone, zone.records, 'UPSERT', record);
    if (problems.length) throw new TypeError(`seed.record: ${problems.join('; ')}`);
    zone.published = cloneRecords(zone.records);
  }

  /**
   * The records DNS servers answer now for `name` (any case, trailing dot optional), from the most specific zone
   * that holds the name. Failover pairs answer by health (failoverAnswer); alias records answer their target's
   * records.
   */
  lookup(name: string, type: DnsRecordType, depth = 0): DnsAnswer[] {
    this.settle();
    const wanted = normalizeName(name);
    const zones = [...this.zones.values()]
      .filter((z) => wanted === z.name || wanted.endsWith(`.${z.name}`))
      .sort((a, b) => b.name.length - a.name.length);
    const zone = zones[0];
    if (!zone) return [];
    let records = zone.published.filter((r) => r.name === wanted && r.type === type);
    if (!zone.published.some((r) => r.name === wanted) && wanted !== zone.name) {
      // A wildcard record answers for names that have no records of their own (RFC 4592).
      const wildcard = `\\052.${wanted.slice(wanted.indexOf('.') + 1)}`;
      records = zone.published.filter((r) => r.name === wildcard && r.type === type);
    }
    if (records.some((r) => r.failover !== undefined)) records = this.failoverAnswer(records);
    const out: DnsAnswer[] = [];
    for (const record of records) {
      if (record.alias) {
        if (depth < 8) out.push(...this.lookup(record.alias.DNSName, type, depth + 1));
        continue;
      }
      for (const value of record.values) out.push({ type, value, ttl: record.ttl ?? 300 });
    }
    return out;
  }

  /**
   * A failover pair's answer (Route 53 Developer Guide, "Failover routing"): the PRIMARY while it is healthy (a record
   * without a health check counts as healthy), else the SECONDARY when that one is healthy; when both are unhealthy,
   * Route 53 answers the PRIMARY.
   */
  private failoverAnswer(records: RecordSet[]): RecordSet[] {
    const healthy = (r: RecordSet) =>
      r.healthCheckId === undefined || this.healthChecks.healthy(r.healthCheckId);
    const primary = records.filter((r) => r.failover === 'PRIMARY');
    const secondary = records.filter((r) => r.failover === 'SECONDARY');
    if (primary.length && primary.every(healthy)) return primary;
    if (secondary.length && secondary.every(healthy)) return secondary;
    return primary.length ? primary : secondary;
  }
}
