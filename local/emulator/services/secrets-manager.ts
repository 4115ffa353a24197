/**
 * Secrets Manager (JSON 1.1, `X-Amz-Target: secretsmanager.<Op>`), multi-Region.
 *
 * Modelled as the API reference and the user guide describe it:
 * - A primary lists its replicas in `ReplicationStatus[]`; each replica is `InProgress` for
 *   `timings.secretReplicationMs` after it is added or after any change of the primary (new version, stage move,
 *   description, tags), then `InSync`. The replica's copy (versions, stages, description, tags) is taken when it
 *   becomes `InSync`, so a failover during `InProgress` sees the older value, as it would in AWS. A replica secret
 *   does not exist in its Region until its first copy is made.
 * - A replica answers `PrimaryRegion` and is read-only: PutSecretValue, UpdateSecret, UpdateSecretVersionStage,
 *   RotateSecret, TagResource, UntagResource, DeleteSecret and ReplicateSecretToRegions on it fail with
 *   InvalidParameterException "Operation not permitted on a replica secret. Call must be made in primary secret's
 *   region." (the code and text AWS answers; code written against AWS matches them, e.g. the AWS DR samples).
 * - StopReplicationToReplica is called in the replica's Region and makes it a standalone secret; on a secret that is
 *   not a replica it is refused (InvalidRequestException: AWS documents no specific error for this case).
 * - A primary that still has replicas cannot be deleted (InvalidParameterException).
 * - ClientRequestToken is the version id: the same token with the same value is ignored, with another value it is
 *   ResourceExistsException (API_PutSecretValue).
 * - RotateSecret needs a rotation Lambda that exists in the emulator and lets secretsmanager.amazonaws.com invoke it
 *   (Secrets Manager runs the function's testSecret step even with RotateImmediately=false, and fails with
 *   AccessDeniedException when it cannot invoke it). RotateImmediately=false only configures rotation.
 *   RotateImmediately=true (simplified: no Lambda runs) adds a version labelled AWSPENDING holding a copy of the
 *   current value and returns its id — the state after the function's createSecret step; a test that wants a
 *   finished rotation moves AWSCURRENT with UpdateSecretVersionStage. While AWSPENDING sits on a version other than
 *   AWSCURRENT's, RotateSecret fails (InvalidRequestException), as API_RotateSecret says.
 * - Events (for EventBridge on the proving ground, `onEvent`): a successful PutSecretValue, UpdateSecret or
 *   UpdateSecretVersionStage emits its CloudTrail "AWS API Call via CloudTrail" entry (request parameters without the
 *   value); a change that moves AWSCURRENT also emits "Secret Label Updated"; moving AWSCURRENT onto the version that
 *   held AWSPENDING (a rotation function's finishSecret step) also emits RotationSucceeded, which AWS sends when the
 *   function's last step has returned (docs/aws/secrets-manager-events.md). Shapes: ../secret-events.ts.
 */
import { randomUUID } from 'node:crypto';
import {
  ALNUM,
  AwsError,
  type CallInfo,
  type Clock,
  type EmulatorRequest,
  type HttpAnswer,
  isReadAction,
  type Rng,
  type ServiceHandler,
} from '../core.js';
import { apiCallEvent, eventTime, labelUpdatedEvent, rotationSucceededEvent } from '../secret-events.js';
import type { SeededSecret, SeedSecretInput } from '../types.js';
import { jsonAnswer, jsonError, readJsonBody } from '../wire.js';

const CONTENT_TYPE = 'application/x-amz-json-1.1';
const AWSCURRENT = 'AWSCURRENT';
const AWSPREVIOUS = 'AWSPREVIOUS';
const AWSPENDING = 'AWSPENDING';
const DEFAULT_KMS = 'alias/aws/secretsmanager';
const DAY_MS = 86_400_000;

const NOT_FOUND = "Secrets Manager can't find the specified secret.";
const REPLICA_READ_ONLY =
  "Operation not permitted on a replica secret. Call must be made in primary secret's region.";
const MARKED_FOR_DELETION =
  "You can't perform this operation on the secret because it was marked for deletion.";

interface SecretVersion {
  readonly id: string;
  readonly secretString?: string;
  /** Base64, as the JSON protocol carries blobs. */
  readonly secretBinary?: string;
  readonly stages: Set<string>;
  readonly created: number;
  lastAccessed?: number;
}

interface ReplicaLink {
  readonly region: string;
  kmsKeyId: string;
  status: 'InProgress' | 'InSync' | 'Failed';
  statusMessage?: string;
  /** InProgress until then. */
  dueAt: number;
  /** Overwrite a secret of the same name in the Region (ForceOverwriteReplicaSecret). */
  force: boolean;
}

interface RotationRules {
  AutomaticallyAfterDays?: number;
  Duration?: string;
  ScheduleExpression?: string;
}

interface Secret {
  arn: string;
  readonly name: string;
  readonly region: string;
  description?: string;
  kmsKeyId?: string;
  tags: { Key: string; Value: string }[];
  readonly created: number;
  lastChanged: number;
  lastAccessed?: number;
  deleted?: number;
  deletionDate?: number;
  versions: Map<string, SecretVersion>;
  rotationEnabled: boolean;
  rotationLambdaArn?: string;
  rotationRules?: RotationRules;
  lastRotated?: number;
  nextRotation?: number;
  /** Set on a replica: the primary's Region. */
  primaryRegion?: string;
  /** On a primary: its replicas by Region. */
  replicas: Map<string, ReplicaLink>;
}

/** What RotateSecret needs to know about a rotation function. */
export interface RotationFunctionView {
  readonly exists: boolean;
  readonly allowsSecretsManager: boolean;
}

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);
const dayOf = (ms: number) => Math.floor(ms / DAY_MS) * DAY_MS;

function str(input: Record<string, unknown>, key: string): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new AwsError('SerializationException', 400, `${key}: expected a string`);
  }
  return value;
}

function required(input: Record<string, unknown>, key: string): string {
  const value = str(input, key);
  if (value === undefined || value === '') {
    throw new AwsError(
      'ValidationException',
      400,
      `1 validation error detected: Value null at '${key.charAt(0).toLowerCase()}${key.slice(1)}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return value;
}

function stringList(input: Record<string, unknown>, key: string): string[] | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new AwsError('SerializationException', 400, `${key}: expected a list of strings`);
  }
  return value as string[];
}

function tagList(input: Record<string, unknown>, key: string): { Key: string; Value: string }[] {
  const value = input[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new AwsError('SerializationException', 400, `${key}: expected a list`);
  return value.map((tag) => {
    const t = tag as { Key?: unknown; Value?: unknown };
    if (typeof t.Key !== 'string')
      throw new AwsError('InvalidParameterException', 400, 'Tag keys are required.');
    return { Key: t.Key, Value: typeof t.Value === 'string' ? t.Value : '' };
  });
}

function checkToken(token: string): void {
  if (token.length < 32 || token.length > 64) {
    throw new AwsError(
      'ValidationException',
      400,
      "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64",
    );
  }
}

function sameValue(version: SecretVersion, secretString?: string, secretBinary?: string): boolean {
  return version.secretString === secretString && version.secretBinary === secretBinary;
}

function copyVersions(versions: Map<string, SecretVersion>): Map<string, SecretVersion> {
  const copy = new Map<string, SecretVersion>();
  for (const [id, v] of versions) copy.set(id, { ...v, stages: new Set(v.stages) });
  return copy;
}

/** Next rotation for `AutomaticallyAfterDays` or `rate(N days|hours)`; cron schedules are not computed. */
function nextRotation(rules: RotationRules | undefined, from: number): number | undefined {
  if (!rules) return undefined;
  if (rules.AutomaticallyAfterDays !== undefined) return from + rules.AutomaticallyAfterDays * DAY_MS;
  const rate = /^rate\((\d+) (day|days|hour|hours)\)$/.exec(rules.ScheduleExpression?.trim() ?? '');
  if (rate) return from + Number(rate[1]) * (rate[2]?.startsWith('hour') ? 3_600_000 : DAY_MS);
  return undefined;
}

/** The actions whose success Secrets Manager reports to EventBridge here (see the header). */
const EMITTING_ACTIONS = new Set(['PutSecretValue', 'UpdateSecret', 'UpdateSecretVersionStage']);

export class SecretsManagerService implements ServiceHandler {
  readonly name = 'secretsmanager' as const;
  /** Region → name → secret. */
  private readonly regions = new Map<string, Map<string, Secret>>();
  private readonly listeners: ((event: Record<string, unknown>) => void)[] = [];

  constructor(
    private readonly account: string,
    private readonly clock: Clock,
    private readonly rng: Rng,
    private readonly rotationFunction: (arn: string) => RotationFunctionView,
  ) {}

  /* ------------------------------------------------------------------------------------------ */
  /* Dispatch                                                                                   */
  /* ------------------------------------------------------------------------------------------ */

  describe(req: EmulatorRequest): CallInfo {
    const target = String(req.headers['x-amz-target'] ?? '');
    const action = target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : '';
    if (!action) throw new AwsError('UnknownOperationException', 400, 'Missing or unknown X-Amz-Target');
    let resource: string | null = null;
    try {
      const input = readJsonBody(req.body);
      const id = input.SecretId ?? input.Name;
      resource = typeof id === 'string' ? id : null;
    } catch {
      resource = null;
    }
    return { action, resource, mutating: !isReadAction(action) };
  }

  async handle(req: EmulatorRequest, call: CallInfo): Promise<HttpAnswer> {
    const input = readJsonBody(req.body);
    this.settle();
    const op = this.operations[call.action];
    if (!op) throw new AwsError('UnknownOperationException', 400, `Unknown operation ${call.action}`);
    const watched = EMITTING_ACTIONS.has(call.action) && this.listeners.length > 0;
    const before = watched ? this.stagesOf(req.region, input.SecretId) : undefined;
    const output = op(req.region, input);
    if (watched) this.emitEvents(req, call.action, input, output, before);
    return jsonAnswer(output, req.requestId, CONTENT_TYPE);
  }

  /** Receives every event this Secrets Manager sends to EventBridge (see the header). */
  onEvent(listener: (event: Record<string, unknown>) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** The versions holding AWSCURRENT and AWSPENDING now. */
  private stagesOf(region: string, secretId: unknown): { current?: string; pending?: string } {
    const secret = typeof secretId === 'string' ? this.lookup(region, secretId) : undefined;
    const holder = (stage: string) =>
      secret ? [...secret.versions.values()].find((v) => v.stages.has(stage))?.id : undefined;
    const current = holder(AWSCURRENT);
    const pending = holder(AWSPENDING);
    return { ...(current ? { current } : {}), ...(pending ? { pending } : {}) };
  }

  private emitEvents(
    req: EmulatorRequest,
    action: string,
    input: Record<string, unknown>,
    output: Record<string, unknown>,
    before: { current?: string; pending?: string } | undefined,
  ): void {
    const secret = this.lookup(req.region, String(input.SecretId));
    if (!secret) return;
    const envelope = { account: this.account, region: req.region, time: eventTime(this.clock.now()) };
    // CloudTrail's request parameters: the caller's names, never SecretString or SecretBinary.
    const requestParameters: Record<string, unknown> = { secretId: input.SecretId };
    for (const key of [
      'ClientRequestToken',
      'VersionStages',
      'VersionStage',
      'MoveToVersionId',
      'RemoveFromVersionId',
      'Description',
      'KmsKeyId',
    ]) {
      if (input[key] !== undefined)
        requestParameters[key.charAt(0).toLowerCase() + key.slice(1)] = input[key];
    }
    const responseElements: Record<string, unknown> = { arn: secret.arn };
    if (typeof output.VersionId === 'string') responseElements.versionId = output.VersionId;
    if (Array.isArray(output.VersionStages)) responseElements.versionStages = output.VersionStages;
    const events: Record<string, unknown>[] = [
      apiCallEvent({
        ...envelope,
        id: randomUUID(),
        eventName: action,
        userIdentity: {
          type: 'IAMUser',
          principalId: 'AIDALIFEBOATLOCAL0000',
          arn: `arn:aws:iam::${this.account}:user/lifeboat-local`,
          accountId: this.account,
        },
        requestId: req.requestId,
        eventId: randomUUID(),
        requestParameters,
        responseElements,
      }),
    ];
    const after = this.stagesOf(req.region, secret.arn);
    if (after.current && after.current !== before?.current) {
      events.push(
        labelUpdatedEvent({
          ...envelope,
          id: randomUUID(),
          secretArn: secret.arn,
          name: secret.name,
          label: AWSCURRENT,
          versionId: after.current,
        }),
      );
      if (before?.pending !== undefined && after.current === before.pending) {
        events.push(
          rotationSucceededEvent({
            ...envelope,
            id: randomUUID(),
            secretArn: secret.arn,
            eventId: randomUUID(),
          }),
        );
      }
    }
    for (const event of events) for (const listener of [...this.listeners]) listener(event);
  }

  errorAnswer(error: AwsError, req: EmulatorRequest): HttpAnswer {
    return jsonError(error, req.requestId, { contentType: CONTENT_TYPE });
  }

  throttlingError(): AwsError {
    return new AwsError('ThrottlingException', 400, 'Rate exceeded');
  }

  serverError(): AwsError {
    return new AwsError('InternalServiceError', 500, 'An error occurred on the server side.');
  }

  private readonly operations: Record<
    string,
    (region: string, input: Record<string, unknown>) => Record<string, unknown>
  > = {
    CreateSecret: (region, input) => this.createSecret(region, input),
    DescribeSecret: (region, input) => this.describeSecret(this.find(region, required(input, 'SecretId'))),
    GetSecretValue: (region, input) => this.getSecretValue(region, input),
    PutSecretValue: (region, input) => this.putSecretValue(region, input),
    UpdateSecret: (region, input) => this.updateSecret(region, input),
    UpdateSecretVersionStage: (region, input) => this.updateSecretVersionStage(region, input),
    RotateSecret: (region, input) => this.rotateSecret(region, input),
    ReplicateSecretToRegions: (region, input) => this.replicateSecretToRegions(region, input),
    RemoveRegionsFromReplication: (region, input) => this.removeRegionsFromReplication(region, input),
    StopReplicationToReplica: (region, input) => this.stopReplicationToReplica(region, input),
    DeleteSecret: (region, input) => this.deleteSecret(region, input),
    RestoreSecret: (region, input) => this.restoreSecret(region, input),
    TagResource: (region, input) => this.tagResource(region, input),
    UntagResource: (region, input) => this.untagResource(region, input),
    ListSecrets: (region, input) => this.listSecrets(region, input),
    ListSecretVersionIds: (region, input) => this.listSecretVersionIds(region, input),
  };

  /* ------------------------------------------------------------------------------------------ */
  /* State helpers                                                                              */
  /* ------------------------------------------------------------------------------------------ */

  private store(region: string): Map<string, Secret> {
    let store = this.regions.get(region);
    if (!store) {
      store = new Map();
      this.regions.set(region, store);
    }
    return store;
  }

  /** A name, a full ARN, or a partial ARN (without the random suffix), in this Region. */
  private lookup(region: string, secretId: string): Secret | undefined {
    const store = this.store(region);
    if (!secretId.startsWith('arn:')) return store.get(secretId);
    for (const secret of store.values()) {
      if (secret.arn === secretId || secret.arn.slice(0, -7) === secretId) return secret;
    }
    return undefined;
  }

  private find(region: string, secretId: string): Secret {
    const secret = this.lookup(region, secretId);
    if (!secret) throw new AwsError('ResourceNotFoundException', 400, NOT_FOUND);
    return secret;
  }

  /** A secret that may be changed: not scheduled for deletion, not a replica. */
  private writable(region: string, secretId: string): Secret {
    const secret = this.find(region, secretId);
    if (secret.primaryRegion !== undefined) {
      throw new AwsError('InvalidParameterException', 400, REPLICA_READ_ONLY);
    }
    if (secret.deleted !== undefined) throw new AwsError('InvalidRequestException', 400, MARKED_FOR_DELETION);
    return secret;
  }

  private replicaArn(primary: Secret, region: string): string {
    return primary.arn.replace(`:secretsmanager:${primary.region}:`, `:secretsmanager:${region}:`);
  }

  /** The primary changed: every replica is InProgress again until the change reaches it. */
  private changed(secret: Secret): void {
    const now = this.clock.now();
    secret.lastChanged = now;
    for (const link of secret.replicas.values()) {
      if (link.status === 'Failed') continue;
      link.status = 'InProgress';
      link.dueAt = now + this.clock.scaled(this.clock.timings.secretReplicationMs);
    }
  }

  /** Completes every replication whose time has come (called before each request and each read of the state). */
  settle(): void {
    const now = this.clock.now();
    for (const store of this.regions.values()) {
      for (const primary of store.values()) {
        for (const link of primary.replicas.values()) {
          if (link.status === 'InProgress' && link.dueAt <= now) {
            this.copyToReplica(primary, link);
          }
        }
      }
    }
  }

  private copyToReplica(primary: Secret, link: ReplicaLink): void {
    const target = this.store(link.region);
    const existing = target.get(primary.name);
    if (existing && existing.primaryRegion !== primary.region && !link.force) {
      link.status = 'Failed';
      link.statusMessage = `Replication failed: Secret name ${primary.name} already exists in region ${link.region}.`;
      return;
    }
    const now = this.clock.now();
    const replica: Secret = {
      arn: this.replicaArn(primary, link.region),
      name: primary.name,
      region: link.region,
      ...(primary.description !== undefined ? { description: primary.description } : {}),
      kmsKeyId: link.kmsKeyId,
      tags: primary.tags.map((t) => ({ ...t })),
      created: existing?.primaryRegion === primary.region ? existing.created : now,
      lastChanged: primary.lastChanged,
      versions: copyVersions(primary.versions),
      rotationEnabled: false,
      primaryRegion: primary.region,
      replicas: new Map(),
    };
    if (existing?.lastAccessed !== undefined) replica.lastAccessed = existing.lastAccessed;
    target.set(primary.name, replica);
    link.status = 'InSync';
    link.statusMessage = 'Replication succeeded';
  }

  private newVersion(
    secret: Secret,
    token: string | undefined,
    secretString: string | undefined,
    secretBinary: string | undefined,
    stages: readonly string[],
  ): { version: SecretVersion; created: boolean } {
    const id = token ?? this.rng.uuid();
    if (token !== undefined) checkToken(token);
    const existing = secret.versions.get(id);
    if (existing) {
      if (sameValue(existing, secretString, secretBinary)) return { version: existing, created: false };
      throw new AwsError(
        'ResourceExistsException',
        400,
        `You can't use ClientRequestToken ${id} because that value is already in use for a version of secret ${secret.arn}.`,
      );
    }
    const version: SecretVersion = {
      id,
      ...(secretString !== undefined ? { secretString } : {}),
      ...(secretBinary !== undefined ? { secretBinary } : {}),
      stages: new Set(),
      created: this.clock.now(),
    };
    const first = secret.versions.size === 0;
    secret.versions.set(id, version);
    const wanted = new Set(stages);
    if (first) wanted.add(AWSCURRENT);
    for (const stage of wanted) this.attachStage(secret, stage, version);
    this.pruneDeprecated(secret);
    return { version, created: true };
  }

  /** Moves `stage` to `version`; moving AWSCURRENT gives AWSPREVIOUS to the version that had it. */
  private attachStage(secret: Secret, stage: string, version: SecretVersion): void {
    let previousCurrent: SecretVersion | undefined;
    for (const other of secret.versions.values()) {
      if (other === version) continue;
      if (other.stages.delete(stage) && stage === AWSCURRENT) previousCurrent = other;
    }
    version.stages.add(stage);
    if (previousCurrent) {
      for (const other of secret.versions.values()) other.stages.delete(AWSPREVIOUS);
      previousCurrent.stages.add(AWSPREVIOUS);
    }
  }

  /** Secrets Manager keeps at most 100 versions without a label (API_PutSecretValue). */
  private pruneDeprecated(secret: Secret): void {
    const deprecated = [...secret.versions.values()].filter((v) => v.stages.size === 0);
    for (const version of deprecated.slice(0, Math.max(0, deprecated.length - 100))) {
      secret.versions.delete(version.id);
    }
  }

  private valueOf(input: Record<string, unknown>): {
    secretString: string | undefined;
    secretBinary: string | undefined;
  } {
    const secretString = str(input, 'SecretString');
    const secretBinary = str(input, 'SecretBinary');
    if (secretString !== undefined && secretBinary !== undefined) {
      throw new AwsError(
        'InvalidParameterException',
        400,
        "You can't specify both a binary secret value and a string secret value in the same secret.",
      );
    }
    return { secretString, secretBinary };
  }

  private replicationStatus(secret: Secret): Record<string, unknown>[] {
    return [...secret.replicas.values()].map((link) => ({
      Region: link.region,
      KmsKeyId: link.kmsKeyId,
      Status: link.status,
      ...(link.statusMessage !== undefined ? { StatusMessage: link.statusMessage } : {}),
    }));
  }

  private addReplicas(secret: Secret, input: Record<string, unknown>, key: string): void {
    const value = input[key];
    if (value === undefined || value === null) return;
    if (!Array.isArray(value)) throw new AwsError('SerializationException', 400, `${key}: expected a list`);
    const force = input.ForceOverwriteReplicaSecret === true;
    const now = this.clock.now();
    for (const item of value) {
      const region = (item as { Region?: unknown }).Region;
      const kms = (item as { KmsKeyId?: unknown }).KmsKeyId;
      if (typeof region !== 'string' || !/^([a-z]+-)+\d+$/.test(region)) {
        throw new AwsError('InvalidParameterException', 400, 'Invalid replica region.');
      }
      if (region === secret.region) {
        throw new AwsError('InvalidParameterException', 400, 'Invalid replica region.');
      }
      if (secret.replicas.has(region)) continue;
      secret.replicas.set(region, {
        region,
        kmsKeyId: typeof kms === 'string' ? kms : DEFAULT_KMS,
        status: 'InProgress',
        dueAt: now + this.clock.scaled(this.clock.timings.secretReplicationMs),
        force,
      });
    }
  }

  /* ------------------------------------------------------------------------------------------ */
  /* Operations                                                                                 */
  /* ------------------------------------------------------------------------------------------ */

  private createSecret(
    region: string,
    input: Record<string, unknown>,
    arnSuffix?: string,
  ): Record<string, unknown> {
    const name = required(input, 'Name');
    if (!/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name)) {
      throw new AwsError(
        'ValidationException',
        400,
        'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!',
      );
    }
    const store = this.store(region);
    const existing = store.get(name);
    if (existing?.deleted !== undefined) {
      throw new AwsError(
        'InvalidRequestException',
        400,
        "You can't create this secret because a secret with this name is already scheduled for deletion.",
      );
    }
    if (existing) {
      throw new AwsError(
        'ResourceExistsException',
        400,
        `The operation failed because the secret ${name} already exists.`,
      );
    }
    const { secretString, secretBinary } = this.valueOf(input);
    const now = this.clock.now();
    const description = str(input, 'Description');
    const kmsKeyId = str(input, 'KmsKeyId');
    const secret: Secret = {
      arn: `arn:aws:secretsmanager:${region}:${this.account}:secret:${name}-${arnSuffix ?? this.rng.chars(6, ALNUM)}`,
      name,
      region,
      ...(description !== undefined ? { description } : {}),
      ...(kmsKeyId !== undefined ? { kmsKeyId } : {}),
      tags: tagList(input, 'Tags'),
      created: now,
      lastChanged: now,
      versions: new Map(),
      rotationEnabled: false,
      replicas: new Map(),
    };
    this.addReplicas(secret, input, 'AddReplicaRegions');
    let versionId: string | undefined;
    if (secretString !== undefined || secretBinary !== undefined) {
      versionId = this.newVersion(secret, str(input, 'ClientRequestToken'), secretString, secretBinary, [
        AWSCURRENT,
      ]).version.id;
    }
    store.set(name, secret);
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...(versionId !== undefined ? { VersionId: versionId } : {}),
      ...(secret.replicas.size ? { ReplicationStatus: this.replicationStatus(secret) } : {}),
    };
  }

  private describeSecret(secret: Secret): Record<string, unknown> {
    const versionsToStages: Record<string, string[]> = {};
    for (const version of secret.versions.values()) {
      if (version.stages.size) versionsToStages[version.id] = [...version.stages];
    }
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...(secret.description !== undefined ? { Description: secret.description } : {}),
      ...(secret.kmsKeyId !== undefined ? { KmsKeyId: secret.kmsKeyId } : {}),
      ...(secret.rotationEnabled ? { RotationEnabled: true } : {}),
      ...(secret.rotationLambdaArn !== undefined ? { RotationLambdaARN: secret.rotationLambdaArn } : {}),
      ...(secret.rotationRules !== undefined ? { RotationRules: secret.rotationRules } : {}),
      ...(secret.lastRotated !== undefined ? { LastRotatedDate: seconds(secret.lastRotated) } : {}),
      LastChangedDate: seconds(secret.lastChanged),
      ...(secret.lastAccessed !== undefined ? { LastAccessedDate: seconds(secret.lastAccessed) } : {}),
      ...(secret.deleted !== undefined ? { DeletedDate: seconds(secret.deletionDate) } : {}),
      ...(secret.nextRotation !== undefined && secret.rotationEnabled
        ? { NextRotationDate: seconds(secret.nextRotation) }
        : {}),
      ...(secret.tags.length ? { Tags: secret.tags } : {}),
      VersionIdsToStages: versionsToStages,
      CreatedDate: seconds(secret.created),
      ...(secret.primaryRegion !== undefined ? { PrimaryRegion: secret.primaryRegion } : {}),
      ...(secret.replicas.size ? { ReplicationStatus: this.replicationStatus(secret) } : {}),
    };
  }

  private getSecretValue(region: string, input: Record<string, unknown>): Record<string, unknown> {
    const secret = this.find(region, required(input, 'SecretId'));
    if (secret.deleted !== undefined) throw new AwsError('InvalidRequestException', 400, MARKED_FOR_DELETION);
    const versionId = str(input, 'VersionId');
    const stage = str(input, 'VersionStage') ?? (versionId === undefined ? AWSCURRENT : undefined);
    let version: SecretVersion | undefined;
    if (versionId !== undefined) {
      version = secret.versions.get(versionId);
      if (!version) {
        throw new AwsError(
          'ResourceNotFoundException',
          400,
          `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`,
        );
      }
      if (stage !== undefined && !version.stages.has(stage)) {
        throw new AwsError(
          'InvalidRequestException',
          400,
          'You provided a VersionStage that is not associated to the provided VersionId.',
        );
      }
    } else {
      version = [...secret.versions.values()].find((v) => v.stages.has(stage as string));
      if (!version) {
        throw new AwsError(
          'ResourceNotFoundException',
          400,
          `Secrets Manager can't find the specified secret value for staging label: ${stage}`,
        );
      }
    }
    const today = dayOf(this.clock.now());
    secret.lastAccessed = today;
    version.lastAccessed = today;
    return {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: version.id,
      ...(version.secretString !== undefined ? { SecretString: version.secretString } : {}),
      ...(version.secretBinary !== undefined ? { SecretBinary: version.secretBinary } : {}),
      VersionStages: [...version.stages],
      CreatedDate: seconds(version.created),
    };
  }

  private putSecretValue(region: string, input: Record<string, unknown>): Record<string, unknown> {
    const secret = this.writable(region, required(input, 'SecretId'));
    const { secretString, secretBinary } = this.valueOf(input);
    if (secretString === undefined && secretBinary === undefined) {
      throw new AwsError(
        'InvalidRequestException',
        400,
        'You must provide either SecretString or SecretBinary.',
      );
    }
    const stages = stringList(input, 'VersionStages') ?? [AWSCURRENT];
    const { version, created } = this.newVersion(
      secret,
      str(input, 'ClientRequestToken'),
      secretString,
      secretBinary,
      stages,
    );
    if (created) this.changed(secret);
    return { ARN: secret.arn, Name: secret.name, VersionId: version.id, VersionStages: [...version.stages] };
  }

  private updateSecret(region: string, input: Record<string, unknown>): Record<string, unknown> {
    const secret = this.writable(region, required(input, 'SecretId'));
    const { secretString, secretBinary } = this.valueOf(input);
    const description = str(input, 'Description');
    const kmsKeyId = str(input, 'KmsKeyId');
    let versionId: string | undefined;
    let changed = false;
    if (description !== undefined) {
      secret.description = description;
      changed = true;
    }
    if (kmsKeyId !== undefined) {
      secret.kmsKeyId = kmsKeyId;
      changed = true;
    }
    if (secretString !== undefined || secretBinary !== undefined) {
      const result = this.newVersion(secret, str(input, 'ClientRequestToken'), secretString, secretBinary, [
        AWSCURRENT,
      ]);
      versionId = result.version.id;
      changed ||= result.created;
    }
    if (changed) this.changed(secret);
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...(versionId !== undefined ? { VersionId: versionId } : {}),
    };
  }

  private updateSecretVersionStage(region: string, input: Record<string, unknown>): Record<string, unknown> {
    const secret = this.writable(region, required(input, 'SecretId'));
    const stage = required(input, 'VersionStage');
    const removeFrom = str(input, 'RemoveFromVersionId');
    const moveTo = str(input, 'MoveToVersionId');
    const versionById = (id: string) => {
      const version = secret.versions.get(id);
      if (!version) {
        throw new AwsError(
          'ResourceNotFoundException',
          400,
          `Secrets Manager can't find the specified secret value for VersionId: ${id}`,
        );
      }
      return version;
    };
    const holder = [...secret.versions.values()].find((v) => v.stages.has(stage));
    if (moveTo !== undefined) {
      const target = versionById(moveTo);
      if (holder && holder !== target && removeFrom !== holder.id) {
        throw new AwsError(
          'InvalidParameterException',
          400,
          `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder.id}, so you must explicitly reference that version in RemoveFromVersionId.`,
        );
      }
      this.attachStage(secret, stage, target);
    } else if (removeFrom !== undefined) {
      const source = versionById(removeFrom);
      if (!source.stages.has(stage)) {
        throw new AwsError(
          'InvalidParameterException',
          400,
          `The staging label ${stage} is not attached to version ${removeFrom}.`,
        );
      }
      if (stage === AWSCURRENT) {
        throw new AwsError(
          'InvalidParameterException',
          400,
          'You can only move the staging label AWSCURRENT to another version; you cannot remove it.',
        );
      }
      source.stages.delete(stage);
      this.pruneDeprecated(secret);
    } else {
      throw new AwsError(
        'InvalidParameterException',
        400,
        'You must specify MoveToVersionId, RemoveFromVersionId, or both.',
      );
    }
    this.changed(secret);
    return { ARN: secret.arn, Name: secret.name };
  }

  private rotateSecret(region: string, input: Record<string, unknown>): Record<string, unknown> {
    const secret = this.writable(region, required(input, 'SecretId'));
    const lambdaArn = str(input, 'RotationLambdaARN') ?? secret.rotationLambdaArn;
    if (lambdaArn === undefined) {
      throw new AwsError(
        'InvalidRequestException',
        400,
        'No Lambda rotation function ARN is associated with this secret.',
      );
    }
    const rules = this.rotationRules(input) ?? secret.rotationRules;
    const current = [...secret.versions.values()].find((v) => v.stages.has(AWSCURRENT));
    const pending = [...secret.versions.values()].find((v) => v.stages.has(AWSPENDING));
    if (pending && pending !== current) {
      throw new AwsError(
        'InvalidRequestException',
        400,
        "A previous rotation isn't complete. That rotation will be reattempted.",
      );
    }
    const fn = this.rotationFunction(lambdaArn);
    if (!fn.exists || !fn.allowsSecretsManager) {
      throw new AwsError(
        'AccessDeniedException',
        400,
        'Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.',
      );
    }
    const now = this.clock.now();
    secret.rotationEnabled = true;
    secret.rotationLambdaArn = lambdaArn;
    if (rules) secret.rotationRules = rules;
    const nextFrom = secret.lastRotated ?? now;
    const next = nextRotation(secret.rotationRules, nextFrom);
    if (next !== undefined) secret.nextRotation = next;
    else delete secret.nextRotation;
    let versionId: string | undefined;
    if (input.RotateImmediately !== false && current) {
      // Simplified (see the header): the version the Lambda's createSecret step would add, with the current value.
      const token = str(input, 'ClientRequestToken');
      const { version } = this.newVersion(secret, token, current.secretString, current.secretBinary, [
        AWSPENDING,
      ]);
      versionId = version.id;
    }
    this.changed(secret);
    return {
      ARN: secret.arn,
      Name: secret.name,
      ...(versionId !== undefined ? { VersionId: versionId } : {}),
    };
  }

  private rotationRules(input: Record<string, unknown>): RotationRules | undefined {
    const value = input.RotationRules;
    if (value === undefined || value === null) return undefined;
    const rules = value as RotationRules;
    const days = rules.AutomaticallyAfterDays;
    if (days !== undefined && rules.ScheduleExpression !== undefined) {
      throw new AwsError(
        'InvalidParameterException',
        400,
        'You cannot specify both rotation frequency and schedule expression together.',
      );
    }
    if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 1000)) {
      throw new AwsError(
        'InvalidParameterException',
        400,
        'RotationRules.AutomaticallyAfterDays must be within 1-1000.',
      );
    }
    const expression = rules.ScheduleExpression;
    if (expression !== undefined && !/^(rate\(.+\)|cron\(.+\))$/.test(expression.trim())) {
      throw new AwsError('InvalidParameterException', 400, 'Invalid ScheduleExpression format.');
    }
    return {
      ...(days !== undefined ? { AutomaticallyAfterDays: days } : {}),
      ...(rules.Duration !== undefined ? { Duration: rules.Duration } : {}),
      ...(expression !== undefined ? { ScheduleExpression: expression } : {}),
    };
  }

  private replicateSecretToRegions(region: string, input: Record<string, unknown>): Record<string, unknown> {
    const secret = this.writable(region, required(input, 'SecretId'));
    this.addReplicas(secret, input, 'AddReplicaRegions');
    return { ARN: secret.arn, ReplicationStatus: this.replicationStatus(secret) };
  }

  /** Deletes the replicas in those Regions at once ("When you delete a replica, it is deleted immediately"). */
  private removeRegionsFromReplication(
    region: string,
    input: Record<string, unknown>,
  ): Record<string, unknown> {
    const secret = this.writable(region, required(input, 'SecretId'));
    for (const target of stringList(input, 'RemoveReplicaRegions') ?? []) {
      const link = secret.replicas.get(target);
      if (!link) continue;
      secret.replicas.delete(target);
      const replica = this.store(target).get(secret.name);
      if (replica?.primaryRegion === secret.region) this.store(target).delete(secret.name);
    }
    return { ARN: secret.arn, ReplicationStatus: this.replicationStatus(secret) };
  }

  private stopReplicationToReplica(region: string, input: Record<string, unknown>): Record<string, unknown> {
    const secret = this.find(region, required(input, 'SecretId'));
    if (secret.primaryRegion === undefined) {
      throw new AwsError(
        'InvalidRequestException',
        400,
        `Secret ${secret.name} in ${region} is not a replica secret; call StopReplicationToReplica in the replica's Region.`,
      );
    }
    const primary = this.store(secret.primaryRegion).get(secret.name);
    if (primary && primary.arn === this.primaryArnOf(secret)) primary.replicas.delete(region);
    delete secret.primaryRegion;
    secret.lastChanged = this.clock.now();
    return { ARN: secret.arn };
  }

  private primaryArnOf(replica: Secret): string {
    return replica.arn.replace(
      `:secretsmanager:${replica.region}:`,
      `:secretsmanager:${replica.primaryRegion}:`,
    );
  }

  private deleteSecret(region: string, input: Record<string, unknown>): Record<string, unknown> {
    const secret = this.find(region, required(input, 'SecretId'));
    if (secret.primaryRegion !== undefined) {
      throw new AwsError('InvalidParameterException', 400, REPLICA_READ_ONLY);
    }
    if (secret.replicas.size) {
      throw new AwsError(
        'InvalidParameterException',
        400,
        `You can't delete secret ${secret.name} that still has replica regions [${[...secret.replicas.keys()].join(',')}]`,
      );
    }
    const force = input.ForceDeleteWithoutRecovery === true;
    const window = input.RecoveryWindowInDays;
    if (force && window !== undefined && window !== null) {
      throw new AwsError(
        'InvalidParameterException',
        400,
        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
      );
    }
    if (
      window !== undefined &&
      window !== null &&
      !(Number.isInteger(window) && Number(window) >= 7 && Number(window) <= 30)
    ) {
      throw new AwsError(
        'InvalidParameterException',
        400,
        'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).',
      );
    }
    const now = this.clock.now();
    if (force) {
      this.store(region).delete(secret.name);
      return { ARN: secret.arn, Name: secret.name, DeletionDate: seconds(now) };
    }
    if (secret.deleted !== undefined) throw new AwsError('InvalidRequestException', 400, MARKED_FOR_DELETION);
    secret.deleted = now;
    secret.deletionDate = now + (typeof window === 'number' ? window : 30) * DAY_MS;
    return { ARN: secret.arn, Name: secret.name, DeletionDate: seconds(secret.deletionDate) };
  }

  private restoreSecret(region: string, input: Record<string, unknown>): Record<string, unknown> {
    const secret = this.find(region, required(input, 'SecretId'));
    if (secret.primaryRegion !== undefined) {
      throw new AwsError('InvalidParameterException', 400, REPLICA_READ_ONLY);
    }
    delete secret.deleted;
    delete secret.deletionDate;
    return { ARN: secret.arn, Name: secret.name };
  }

  private tagResource(region: string, input: Record<string, unknown>): Record<string, unknown> {
    const secret = this.writable(region, required(input, 'SecretId'));
    for (const tag of tagList(input, 'Tags')) {
      const existing = secret.tags.find((t) => t.Key === tag.Key);
      if (existing) existing.Value = tag.Value;
      else secret.tags.push(tag);
    }
    this.changed(secret);
    return {};
  }

  private untagResource(region: string, input: Record<string, unknown>): Record<string, unknown> {
    const secret = this.writable(region, required(input, 'SecretId'));
    const keys = new Set(stringList(input, 'TagKeys') ?? []);
    secret.tags = secret.tags.filter((t) => !keys.has(t.Key));
    this.changed(secret);
    return {};
  }

  /**
   * Filters per API_Filter: `name`, `description`, `tag-key`, `tag-value`, `primary-region`, `all`; values are
   * case-sensitive prefixes, a leading `!` negates.
   */
  private listSecrets(region: string, input: Record<string, unknown>): Record<string, unknown> {
    const includeDeleted = input.IncludePlannedDeletion === true;
    const filters = Array.isArray(input.Filters)
      ? (input.Filters as { Key?: string; Values?: string[] }[])
      : [];
    const prefixMatch = (candidates: (string | undefined)[], value: string) => {
      const negate = value.startsWith('!');
      const prefix = negate ? value.slice(1) : value;
      const hit = candidates.some((c) => c?.startsWith(prefix));
      return negate ? !hit : hit;
    };
    const candidatesFor = (secret: Secret, key: string): (string | undefined)[] => {
      switch (key) {
        case 'name':
          return [secret.name];
        case 'description':
          return [secret.description];
        case 'tag-key':
          return secret.tags.map((t) => t.Key);
        case 'tag-value':
          return secret.tags.map((t) => t.Value);
        case 'primary-region':
          return [secret.primaryRegion ?? (secret.replicas.size ? secret.region : undefined)];
        case 'all':
          return [secret.name, secret.description, ...secret.tags.flatMap((t) => [t.Key, t.Value])];
        default:
          throw new AwsError('InvalidParameterException', 400, `Invalid filter key: ${key}`);
      }
    };
    let secrets = [...this.store(region).values()].filter((s) => includeDeleted || s.deleted === undefined);
    for (const filter of filters) {
      const key = filter.Key ?? '';
      const values = filter.Values ?? [];
      secrets = secrets.filter((s) => values.some((v) => prefixMatch(candidatesFor(s, key), v)));
    }
    const ascending = input.SortOrder === 'asc';
    secrets.sort((a, b) => (ascending ? a.created - b.created : b.created - a.created));
    const start = typeof input.NextToken === 'string' ? Number(input.NextToken) || 0 : 0;
    const max = typeof input.MaxResults === 'number' ? input.MaxResults : 100;
    const page = secrets.slice(start, start + max);
    return {
      SecretList: page.map((s) => {
        const { VersionIdsToStages, ...rest } = this.describeSecret(s);
        return { ...rest, SecretVersionsToStages: VersionIdsToStages };
      }),
      ...(start + max < secrets.length ? { NextToken: String(start + max) } : {}),
    };
  }

  private listSecretVersionIds(region: string, input: Record<string, unknown>): Record<string, unknown> {
    const secret = this.find(region, required(input, 'SecretId'));
    const includeDeprecated = input.IncludeDeprecated === true;
    return {
      ARN: secret.arn,
      Name: secret.name,
      Versions: [...secret.versions.values()]
        .filter((v) => includeDeprecated || v.stages.size > 0)
        .map((v) => ({
          VersionId: v.id,
          VersionStages: [...v.stages],
          CreatedDate: seconds(v.created),
          ...(v.lastAccessed !== undefined ? { LastAccessedDate: seconds(v.lastAccessed) } : {}),
        })),
    };
  }

  /* ------------------------------------------------------------------------------------------ */
  /* Seeding                                                                                    */
  /* ------------------------------------------------------------------------------------------ */

  /** A secret with one AWSCURRENT version and replicas that are already InSync. */
  seed(input: SeedSecretInput): SeededSecret {
    const value = typeof input.value === 'string' ? input.value : JSON.stringify(input.value);
    if (input.arnSuffix !== undefined && !/^[A-Za-z0-9]{6}$/.test(input.arnSuffix)) {
      throw new TypeError(
        `seed.secret: arnSuffix must be 6 letters or digits, got ${JSON.stringify(input.arnSuffix)}`,
      );
    }
    const created = this.createSecret(
      input.region,
      {
        Name: input.name,
        SecretString: value,
        ...(input.description !== undefined ? { Description: input.description } : {}),
        ...(input.kmsKeyId !== undefined ? { KmsKeyId: input.kmsKeyId } : {}),
        Tags: Object.entries(input.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
        AddReplicaRegions: (input.replicaRegions ?? []).map((Region) => ({ Region })),
      },
      input.arnSuffix,
    );
    const secret = this.find(input.region, input.name);
    const replicaArns: Record<string, string> = {};
    for (const link of secret.replicas.values()) {
      this.copyToReplica(secret, link);
      replicaArns[link.region] = this.replicaArn(secret, link.region);
    }
    return { arn: secret.arn, versionId: String(created.VersionId), replicaArns };
  }
}
