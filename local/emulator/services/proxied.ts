/**
 * Services that well-kept npm emulators already speak; the emulator only routes to them (after the call log and the
 * faults), so their behaviour is theirs, not ours:
 * - DynamoDB → dynalite (in memory, one instance per Region, started on first use; tables are per Region as in AWS).
 * - S3 → s3rver (one instance, files in a temporary directory removed on close; path-style, as the clients use with
 *   an endpoint). s3rver checks that the access key is its own (`S3RVER`) and does not verify SigV4 signatures, so
 *   the proxy rewrites the key id of the credential scope.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dynalite from 'dynalite';
import S3rver from 's3rver';
import {
  AwsError,
  type CallInfo,
  type EmulatorRequest,
  type HttpAnswer,
  isReadAction,
  type ServiceHandler,
} from '../core.js';
import { jsonError, readJsonBody, toXml } from '../wire.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host']);

function forward(port: number, req: EmulatorRequest, headers: Record<string, string>): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const upstream = request(
      {
        host: '127.0.0.1',
        port,
        method: req.method,
        path: req.url,
        headers: { ...headers, 'content-length': String(req.body.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const out: Record<string, string> = {};
          for (const [key, value] of Object.entries(res.headers)) {
            if (value === undefined || HOP_BY_HOP.has(key)) continue;
            out[key] = Array.isArray(value) ? value.join(', ') : value;
          }
          resolve({ status: res.statusCode ?? 500, headers: out, body: Buffer.concat(chunks) });
        });
      },
    );
    upstream.on('error', reject);
    upstream.end(req.body);
  });
}

function requestHeaders(req: EmulatorRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    // The body is forwarded whole, so `expect: 100-continue` has nothing to wait for.
    if (value === undefined || key === 'connection' || key === 'content-length' || key === 'expect') continue;
    out[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/* ---------------------------------------------------------------------------------------------- */
/* DynamoDB                                                                                        */
/* ---------------------------------------------------------------------------------------------- */

const DYNAMO_PREFIX = 'DynamoDB_20120810.';
const DYNAMO_TYPE = 'com.amazonaws.dynamodb.v20120810';
const ITEM_ACTIONS = new Set([
  'PutItem',
  'GetItem',
  'DeleteItem',
  'UpdateItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
]);

export class DynamoDbProxy implements ServiceHandler {
  readonly name = 'dynamodb' as const;
  private readonly servers = new Map<string, Promise<{ server: Server; port: number }>>();

  describe(req: EmulatorRequest): CallInfo {
    const target = String(req.headers['x-amz-target'] ?? '');
    const action = target.startsWith(DYNAMO_PREFIX) ? target.slice(DYNAMO_PREFIX.length) : '';
    if (!action) throw new AwsError('UnknownOperationException', 400, 'Missing or unknown X-Amz-Target');
    let resource: string | null = null;
    try {
      const input = readJsonBody(req.body);
      resource = typeof input.TableName === 'string' ? input.TableName : null;
    } catch {
      resource = null;
    }
    return { action, resource, mutating: !isReadAction(action) };
  }

  /** The dynalite of a Region, started on first use. */
  port(region: string): Promise<number> {
    let started = this.servers.get(region);
    if (!started) {
      started = new Promise((resolve, reject) => {
        const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () =>
          resolve({ server, port: (server.address() as AddressInfo).port }),
        );
      });
      this.servers.set(region, started);
    }
    return started.then((s) => s.port);
  }

  async handle(req: EmulatorRequest): Promise<HttpAnswer> {
    return forward(await this.port(req.region), req, requestHeaders(req));
  }

  errorAnswer(error: AwsError, req: EmulatorRequest): HttpAnswer {
    return jsonError(error, req.requestId, {
      contentType: 'application/x-amz-json-1.0',
      typeNamespace: DYNAMO_TYPE,
      messageKey: 'message',
    });
  }

  throttlingError(call: CallInfo): AwsError {
    return ITEM_ACTIONS.has(call.action)
      ? new AwsError(
          'ProvisionedThroughputExceededException',
          400,
          'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
        )
      : new AwsError('ThrottlingException', 400, 'Rate of requests exceeds the allowed throughput.');
  }

  serverError(): AwsError {
    return new AwsError('InternalServerError', 500, 'Internal server error');
  }

  async close(): Promise<void> {
    const servers = await Promise.all(this.servers.values());
    this.servers.clear();
    await Promise.all(
      servers.map(
        ({ server }) =>
          new Promise<void>((resolve) => {
            server.closeAllConnections?.();
            server.close(() => resolve());
          }),
      ),
    );
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* S3                                                                                              */
/* ---------------------------------------------------------------------------------------------- */

function s3Action(
  method: string,
  bucket: string | undefined,
  key: string,
  query: URLSearchParams,
  headers: EmulatorRequest['headers'],
): string {
  if (!bucket) return method === 'GET' ? 'ListBuckets' : 'Unknown';
  if (!key) {
    if (method === 'PUT') return 'CreateBucket';
    if (method === 'DELETE') return 'DeleteBucket';
    if (method === 'HEAD') return 'HeadBucket';
    if (method === 'POST' && query.has('delete')) return 'DeleteObjects';
    if (method === 'GET') return query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
    return 'Unknown';
  }
  if (method === 'PUT') return headers['x-amz-copy-source'] ? 'CopyObject' : 'PutObject';
  if (method === 'GET') return 'GetObject';
  if (method === 'HEAD') return 'HeadObject';
  if (method === 'DELETE') return 'DeleteObject';
  return 'Unknown';
}

export class S3Proxy implements ServiceHandler {
  readonly name = 's3' as const;
  private started: Promise<{ server: S3rver; port: number; directory: string }> | undefined;

  describe(req: EmulatorRequest): CallInfo {
    const [, bucket, ...rest] = req.path.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const action = s3Action(req.method, bucket || undefined, key, req.query, req.headers);
    return {
      action,
      resource: bucket ? (key ? `${bucket}/${key}` : bucket) : null,
      mutating: !isReadAction(action),
    };
  }

  port(): Promise<number> {
    this.started ??= (async () => {
      const directory = await mkdtemp(join(tmpdir(), 'lifeboat-s3-'));
      const server = new S3rver({
        address: '127.0.0.1',
        port: 0,
        silent: true,
        directory,
        allowMismatchedSignatures: true,
        vhostBuckets: false,
      });
      const { port } = await server.run();
      return { server, port, directory };
    })();
    return this.started.then((s) => s.port);
  }

  async handle(req: EmulatorRequest): Promise<HttpAnswer> {
    const headers = requestHeaders(req);
    if (headers.authorization) {
      headers.authorization = headers.authorization.replace(/Credential=[^/]+\//, 'Credential=S3RVER/');
    }
    return forward(await this.port(), req, headers);
  }

  errorAnswer(error: AwsError, req: EmulatorRequest): HttpAnswer {
    return {
      status: error.status,
      headers: { 'content-type': 'application/xml', 'x-amz-request-id': req.requestId },
      body: toXml('Error', { Code: error.code, Message: error.message, RequestId: req.requestId }),
    };
  }

  throttlingError(): AwsError {
    return new AwsError('SlowDown', 503, 'Please reduce your request rate.');
  }

  serverError(): AwsError {
    return new AwsError('InternalError', 500, 'We encountered an internal error. Please try again.');
  }

  async close(): Promise<void> {
    const started = this.started;
    this.started = undefined;
    if (!started) return;
    const { server, directory } = await started;
    await server.close();
    await rm(directory, { recursive: true, force: true });
  }
}
