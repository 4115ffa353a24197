/**
 * The local AWS emulator of lifeboat's proving ground: one HTTP server on loopback that speaks the AWS wire
 * protocols of the calls lifeboat makes, so the unmodified SDK v3 clients work with only `endpoint` set (and fake
 * static credentials). Service and Region come from each request's SigV4 credential scope.
 *
 * | service         | protocol                                  | implementation                                 |
 * |-----------------|-------------------------------------------|------------------------------------------------|
 * | Secrets Manager | JSON 1.1                                  | services/secrets-manager.ts (multi-Region)     |
 * | RDS             | Query + XML                               | services/rds.ts (+ a DatabaseBackend)          |
 * | Route 53        | REST-XML, global (logged as `global`)     | services/route53.ts (+ `dns.lookup`), health   |
 * |                 |                                           | checks: services/route53-health-checks.ts      |
 * | DynamoDB        | JSON 1.0                                  | dynalite, one per Region (services/proxied.ts) |
 * | S3              | REST-XML, path-style                      | s3rver (services/proxied.ts)                   |
 * | SNS             | Query + XML                               | services/sns.ts                                |
 * | Lambda          | REST-JSON (GetFunction, GetPolicy)        | services/lambda.ts                             |
 * | CloudWatch      | JSON 1.0, query-compatible errors         | services/cloudwatch.ts, alarms:                |
 * |                 |                                           | services/cloudwatch-alarms.ts                  |
 *
 * Asynchronous AWS behaviour (secret replication, RDS promotion phases, Route 53 change propagation) takes the
 * durations of `timings`, multiplied by `timeFactor`. Faults (latency, throttling, 5xx, the Nth call failing, a
 * lost response after the effect, a whole Region down) are configured per service, Region and action through
 * `emulator.faults`; every call is in `emulator.calls`.
 *
 * ```ts
 * const emulator = await startEmulator({ timeFactor: 0.01, databaseBackend });
 * const sm = new SecretsManagerClient(emulator.clientConfig('us-west-2'));
 * emulator.faults.regionDown('us-east-1');
 * ```
 */
export {
  credentialScope,
  EMULATOR_CREDENTIALS,
  type Emulator,
  type EmulatorSeed,
  startEmulator,
} from './emulator.js';
export { normalizeName as normalizeRecordName } from './services/route53.js';
export type * from './types.js';
