import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { UnitPlan } from './plan.js';
import type { UnitRunRecord } from './report/model.js';
import './sdk/s3.js';

/**
 * A run's objects in the report bucket: the units the Distributed Map reads (its ItemReader) and the results it
 * writes (its ResultWriter). docs/aws/step-functions-distributed-map.md has the shapes; docs/design/fleet.md, "No
 * ceiling at 100 units", why.
 */

/** Where LoadPlan writes the run's units, a JSON array the Map reads: one object per run. */
export function runUnitsKey(planName: string, runId: string): string {
  return `runs/${planName}/${runId}/units.json`;
}

/** The ResultWriter's prefix: Step Functions writes under `<prefix>/<Map Run id>/`, so one prefix serves every run. */
export function mapResultsPrefix(planName: string): string {
  return `runs/${planName}/results`;
}

/** The least an object store must do for the run's objects: S3, or the tests' in-memory bucket. */
export interface ObjectStore {
  get(bucket: string, key: string): Promise<string>;
  put(bucket: string, key: string, body: string): Promise<void>;
}

export function s3Store(s3: S3Client): ObjectStore {
  return {
    async get(bucket, key) {
      const answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return (await answer.Body?.transformToString('utf-8')) ?? '';
    },
    async put(bucket, key, body) {
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }),
      );
    },
  };
}

export async function writeRunUnits(
  store: ObjectStore,
  bucket: string,
  key: string,
  units: readonly UnitPlan[],
): Promise<void> {
  await store.put(bucket, key, JSON.stringify(units));
}

/** The run's units as LoadPlan wrote them (the preflight reads them so, the state keeps only their names). */
export async function readRunUnits(store: ObjectStore, bucket: string, key: string): Promise<UnitPlan[]> {
  const units = JSON.parse(await store.get(bucket, key)) as unknown;
  if (!Array.isArray(units)) throw new Error(`s3://${bucket}/${key} is not a JSON array of units`);
  return units as UnitPlan[];
}

/** The Distributed Map's output when it writes its results to S3: the Map Run and where its manifest is. */
export interface MapRunResults {
  MapRunArn: string;
  ResultWriterDetails: { Bucket: string; Key: string };
}

/** The manifest Step Functions writes beside the result files (docs/aws/step-functions-distributed-map.md). */
export interface MapRunManifest {
  DestinationBucket: string;
  MapRunArn: string;
  ResultFiles: Partial<Record<'SUCCEEDED' | 'FAILED' | 'PENDING', { Key: string; Size: number }[]>>;
}

/** One child execution in a result file (Transformation NONE, the default with an S3 export). */
export interface MapRunResultEntry {
  ExecutionArn: string;
  Name?: string;
  Input: string;
  Output?: string;
  Status: string;
  Error?: string;
  Cause?: string;
  StartDate?: string;
  StopDate?: string;
  StateMachineArn?: string;
}

/** A child that ended without an outcome (failed, timed out, aborted): the unit it ran, and why it ended. */
export interface UnitWithoutOutcome {
  unit: string;
  status: string;
  error?: string;
  cause?: string;
}

export function isMapRunResults(value: unknown): value is MapRunResults {
  const v = value as Partial<MapRunResults> | null | undefined;
  return (
    typeof v?.MapRunArn === 'string' &&
    typeof v.ResultWriterDetails?.Bucket === 'string' &&
    typeof v.ResultWriterDetails?.Key === 'string'
  );
}

/**
 * Reads the Map Run's results back: every SUCCEEDED child's output is a unit's outcome; a FAILED (or timed out, or
 * aborted) child has none, and is returned with the unit it ran and its error, so that the report counts it failed.
 */
export async function readMapRunResults(
  store: ObjectStore,
  results: MapRunResults,
): Promise<{ outcomes: UnitRunRecord[]; withoutOutcome: UnitWithoutOutcome[] }> {
  const manifest = JSON.parse(
    await store.get(results.ResultWriterDetails.Bucket, results.ResultWriterDetails.Key),
  ) as MapRunManifest;
  const outcomes: UnitRunRecord[] = [];
  const withoutOutcome: UnitWithoutOutcome[] = [];
  for (const [status, files] of Object.entries(manifest.ResultFiles ?? {})) {
    for (const file of files ?? []) {
      const entries = JSON.parse(
        await store.get(manifest.DestinationBucket, file.Key),
      ) as MapRunResultEntry[];
      for (const entry of entries) {
        if (status === 'SUCCEEDED' && entry.Output !== undefined) {
          outcomes.push(JSON.parse(entry.Output) as UnitRunRecord);
          continue;
        }
        const input = JSON.parse(entry.Input) as { unit?: { name?: string } };
        withoutOutcome.push({
          unit: input.unit?.name ?? entry.Name ?? entry.ExecutionArn,
          status: entry.Status,
          ...(entry.Error !== undefined ? { error: entry.Error } : {}),
          ...(entry.Cause !== undefined ? { cause: entry.Cause } : {}),
        });
      }
    }
  }
  return { outcomes, withoutOutcome };
}

/**
 * The report's event with `units` read from the Map Run's results when the Map wrote them to S3 (`mapRun`). A child
 * without an outcome comes in as its error, which the report counts as a failed unit; results that cannot be read
 * make every unit's outcome missing (failed, with why), never "not started": the units did run.
 */
export async function withMapRunOutcomes<E extends { mapRun?: unknown; units?: unknown[] }>(
  store: ObjectStore,
  event: E,
): Promise<E> {
  if (!isMapRunResults(event.mapRun)) return event;
  try {
    const { outcomes, withoutOutcome } = await readMapRunResults(store, event.mapRun);
    const lost = withoutOutcome.map((w) => ({
      Error: w.error ?? `States.${w.status}`,
      Cause: `unit ${w.unit}: ${w.cause ?? `its child execution ended ${w.status}`}`,
    }));
    return { ...event, units: [...outcomes, ...lost] };
  } catch (error) {
    const where = `s3://${event.mapRun.ResultWriterDetails.Bucket}/${event.mapRun.ResultWriterDetails.Key}`;
    const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return {
      ...event,
      units: [
        {
          Error: 'MapRunResultsUnreadable',
          Cause: `the Map Run's results at ${where} could not be read (${why})`,
        },
      ],
    };
  }
}
