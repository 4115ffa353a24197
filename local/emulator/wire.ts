/**
 * Encoders and decoders of the AWS wire protocols the emulated services speak. Error shapes follow what the SDK's
 * protocol code reads (node_modules/@aws-sdk/core/dist-cjs/submodules/protocols): JSON reads the `x-amzn-errortype`
 * header or `__type`; query-compatible JSON (CloudWatch) reads `x-amzn-query-error: Code;Type`; the Query protocol
 * and REST-XML read `<ErrorResponse><Error><Code>`.
 */
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { AwsError, type HttpAnswer } from './core.js';

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_' });

/** XML documents as plain objects: arrays repeat their element, Dates become ISO 8601, undefined is left out. */
export type XmlValue = string | number | boolean | Date | undefined | null | XmlObject | XmlValue[];
export interface XmlObject {
  [key: string]: XmlValue;
}

function prepare(value: XmlValue): unknown {
  if (value === undefined || value === null) return undefined;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'boolean' || typeof value === 'number') return String(value);
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(prepare).filter((v) => v !== undefined);
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const prepared = prepare(child);
    if (prepared !== undefined) out[key] = prepared;
  }
  return out;
}

export function toXml(root: string, body: XmlObject, xmlns?: string): string {
  const content = prepare(body) as Record<string, unknown>;
  return builder.build({
    '?xml': { '@_version': '1.0', '@_encoding': 'UTF-8' },
    [root]: xmlns ? { '@_xmlns': xmlns, ...content } : content,
  });
}

/** A list element: `<Name><Member/>...</Name>`, or an empty `<Name></Name>` for no items. */
export function xmlList(member: string, items: readonly XmlValue[]): XmlObject | string {
  return items.length ? { [member]: [...items] } : '';
}

export function parseXml(text: string, arrays: ReadonlySet<string>): Record<string, unknown> {
  const parser = new XMLParser({
    ignoreAttributes: true,
    parseTagValue: false,
    trimValues: true,
    isArray: (name) => arrays.has(name),
  });
  return parser.parse(text) as Record<string, unknown>;
}

/* ---------------------------------------------------------------------------------------------- */
/* JSON 1.0 / 1.1 and REST-JSON                                                                    */
/* ---------------------------------------------------------------------------------------------- */

export function jsonAnswer(
  body: unknown,
  requestId: string,
  contentType = 'application/x-amz-json-1.1',
  status = 200,
): HttpAnswer {
  return {
    status,
    headers: { 'content-type': contentType, 'x-amzn-requestid': requestId },
    body: JSON.stringify(body ?? {}),
  };
}

export interface JsonErrorOptions {
  readonly contentType: string;
  /** `__type` carries `namespace#Code` (DynamoDB); otherwise the bare code. */
  readonly typeNamespace?: string;
  /** Lambda's REST-JSON errors carry `Type: User|Service` and `Message`. */
  readonly restJson?: boolean;
  /** awsQueryCompatible services: the shape name for `__type` per query error code. */
  readonly queryCompatible?: (code: string) => string;
  /** Secrets Manager answers `Message`, DynamoDB `message`. @default 'Message' */
  readonly messageKey?: 'Message' | 'message';
}

export function jsonError(error: AwsError, requestId: string, options: JsonErrorOptions): HttpAnswer {
  const headers: Record<string, string> = {
    'content-type': options.contentType,
    'x-amzn-requestid': requestId,
    'x-amzn-errortype': error.code,
  };
  let body: Record<string, unknown>;
  if (options.restJson) {
    body = { Type: error.status >= 500 ? 'Service' : 'User', Message: error.message, ...error.fields };
  } else if (options.queryCompatible) {
    headers['x-amzn-query-error'] = `${error.code};${error.fault}`;
    body = { __type: options.queryCompatible(error.code), message: error.message, ...error.fields };
  } else {
    const type = options.typeNamespace ? `${options.typeNamespace}#${error.code}` : error.code;
    body = { __type: type, [options.messageKey ?? 'Message']: error.message, ...error.fields };
  }
  return { status: error.status, headers, body: JSON.stringify(body) };
}

/** The JSON body of a request; a body that is not a JSON object is the protocol's SerializationException. */
export function readJsonBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new AwsError('SerializationException', 400, 'Start of structure or map found where not expected.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AwsError('SerializationException', 400, 'Start of structure or map found where not expected.');
  }
  return parsed as Record<string, unknown>;
}

/* ---------------------------------------------------------------------------------------------- */
/* Query protocol (form-encoded requests, XML answers)                                             */
/* ---------------------------------------------------------------------------------------------- */

/** A form body as a tree: `Tags.Tag.1.Key=k` becomes `{ Tags: { Tag: { '1': { Key: 'k' } } } }`. */
export type QueryTree = { [key: string]: string | QueryTree };

export function parseQueryForm(body: Buffer): QueryTree {
  const params = new URLSearchParams(body.toString('utf8'));
  const root: QueryTree = {};
  for (const [key, value] of params) {
    const parts = key.split('.');
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i] as string;
      const next = node[part];
      if (typeof next === 'object') node = next;
      else {
        const created: QueryTree = {};
        node[part] = created;
        node = created;
      }
    }
    node[parts[parts.length - 1] as string] = value;
  }
  return root;
}

export function qString(tree: QueryTree | string | undefined, key: string): string | undefined {
  if (typeof tree !== 'object') return undefined;
  const value = tree[key];
  return typeof value === 'string' ? value : undefined;
}

export function qInt(tree: QueryTree, key: string): number | undefined {
  const value = qString(tree, key);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) {
    throw new AwsError('InvalidParameterValue', 400, `Invalid value for parameter ${key}: ${value}`);
  }
  return n;
}

export function qBool(tree: QueryTree, key: string): boolean | undefined {
  const value = qString(tree, key);
  return value === undefined ? undefined : value === 'true';
}

/**
 * The items of a list parameter: `Name.<Member>.N` (`Tags.Tag.1`, `Tags.member.1`, `Attributes.entry.1`), in
 * index order, whatever the member name.
 */
export function qList(tree: QueryTree, key: string): (string | QueryTree)[] {
  const list = tree[key];
  if (typeof list !== 'object') return [];
  const members = Object.values(list)[0];
  if (typeof members !== 'object') return [];
  return Object.entries(members)
    .filter(([index]) => /^\d+$/.test(index))
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([, item]) => item);
}

export function queryAnswer(
  action: string,
  xmlns: string,
  result: XmlObject | undefined,
  requestId: string,
): HttpAnswer {
  const body: XmlObject = {};
  if (result) body[`${action}Result`] = result;
  body.ResponseMetadata = { RequestId: requestId };
  return {
    status: 200,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body: toXml(`${action}Response`, body, xmlns),
  };
}

export function xmlError(error: AwsError, requestId: string, xmlns: string): HttpAnswer {
  return {
    status: error.status,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body: toXml(
      'ErrorResponse',
      { Error: { Type: error.fault, Code: error.code, Message: error.message }, RequestId: requestId },
      xmlns,
    ),
  };
}
