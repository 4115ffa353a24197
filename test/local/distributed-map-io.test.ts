import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import {
  type MapRunManifest,
  type MapRunResultEntry,
  type MapRunResults,
  withMapRunOutcomes,
} from '../../functions/lib/run-objects.js';
import { emulateMapIo } from '../../local/distributed-map-io.js';
import { memoryBucket } from '../helpers/flow-harness.js';

/*
 * The proving ground's ItemReader and ResultWriter against the shapes Step Functions documents
 * (docs/aws/step-functions-distributed-map.md): the items from one S3 object holding a JSON array, the result files
 * and the manifest under <Prefix>/<Map Run id>/, the Map's output a reference to the manifest, and a failed child
 * kept in FAILED_0.json while the others finish when failures are tolerated.
 */
const STATE_MACHINE_ARN = 'arn:aws:states:us-west-2:123456789012:stateMachine:lifeboat-orders-dr';

function definition(tolerated: boolean): StateMachineDefinition {
  return {
    StartAt: 'Fail over each unit',
    States: {
      'Fail over each unit': {
        Type: 'Map',
        ItemReader: {
          Resource: 'arn:aws:states:::s3:getObject',
          ReaderConfig: { InputType: 'JSON' },
          Parameters: { Bucket: 'reports', 'Key.$': '$.unitsKey' },
        },
        ResultWriter: {
          Resource: 'arn:aws:states:::s3:putObject',
          Parameters: { Bucket: 'reports', Prefix: 'runs/orders-dr/results' },
        },
        ItemSelector: { 'run.$': '$.run', 'unit.$': '$$.Map.Item.Value' },
        ItemProcessor: {
          ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
          StartAt: 'Fail over',
          States: {
            'Fail over': {
              Type: 'Task',
              Resource: 'arn:aws:lambda:us-west-2:123456789012:function:x',
              End: true,
            },
          },
        },
        ...(tolerated ? { ToleratedFailurePercentage: 100 } : {}),
        Label: 'units',
        ResultPath: '$.mapRun',
        End: true,
      },
    },
  } as unknown as StateMachineDefinition;
}

async function run(units: unknown, tolerated = true) {
  const bucket = memoryBucket();
  await bucket.put('reports', 'runs/orders-dr/r1/units.json', JSON.stringify(units));
  const machine = definition(tolerated);
  const rewrite = emulateMapIo(machine.States as Record<string, unknown>, {
    store: bucket,
    stateMachineArn: STATE_MACHINE_ARN,
  });
  const execution = new StateMachine(machine, {
    validationOptions: { checkArn: false, checkPaths: false },
  }).run({ run: { runId: 'r1' }, unitsKey: 'runs/orders-dr/r1/units.json', keep: 'me' } as never, {
    overrides: {
      taskResourceLocalHandlers: {
        ...(rewrite.handlers as Record<string, never>),
        'Fail over': async (raw: unknown) => {
          const input = raw as { unit: { name: string } };
          if (input.unit.name === 'bad') throw Object.assign(new Error('it broke'), { name: 'UnitCrashed' });
          return { unit: input.unit.name, status: 'succeeded' };
        },
      },
    },
  });
  return { bucket, result: execution.result };
}

describe('the emulated Distributed Map ItemReader and ResultWriter', () => {
  it('reads the items from the S3 object, writes SUCCEEDED_0.json and manifest.json under <Prefix>/<Map Run id>/, and outputs the reference', async () => {
    // Act
    const { bucket, result } = await run([{ name: 'a' }, { name: 'b' }]);
    const output = (await result) as unknown as {
      mapRun: MapRunResults;
      keep: string;
      localMapItems?: unknown;
    };

    // Assess
    expect(output.keep).toBe('me');
    expect(output).not.toHaveProperty('localMapItems');
    expect(output).not.toHaveProperty('localMapResults');
    const { MapRunArn, ResultWriterDetails } = output.mapRun;
    expect(MapRunArn).toMatch(
      /^arn:aws:states:us-west-2:123456789012:mapRun:lifeboat-orders-dr\/units:[0-9a-f-]{36}$/,
    );
    const id = MapRunArn.split(':').pop();
    expect(ResultWriterDetails).toEqual({
      Bucket: 'reports',
      Key: `runs/orders-dr/results/${id}/manifest.json`,
    });
    const manifest = JSON.parse(await bucket.get('reports', ResultWriterDetails.Key)) as MapRunManifest;
    expect(Object.keys(manifest).sort()).toEqual(['DestinationBucket', 'MapRunArn', 'ResultFiles']);
    expect(manifest.DestinationBucket).toBe('reports');
    expect(manifest.MapRunArn).toBe(MapRunArn);
    expect(manifest.ResultFiles.FAILED).toEqual([]);
    expect(manifest.ResultFiles.PENDING).toEqual([]);
    const [file] = manifest.ResultFiles.SUCCEEDED ?? [];
    expect(file?.Key).toBe(`runs/orders-dr/results/${id}/SUCCEEDED_0.json`);
    const body = await bucket.get('reports', file?.Key ?? '');
    expect(file?.Size).toBe(Buffer.byteLength(body));
    const entries = JSON.parse(body) as (MapRunResultEntry & Record<string, unknown>)[];
    expect(entries).toHaveLength(2);
    for (const entry of entries) {
      expect(Object.keys(entry).sort()).toEqual(
        [
          'ExecutionArn',
          'Input',
          'InputDetails',
          'Name',
          'Output',
          'OutputDetails',
          'RedriveCount',
          'RedriveStatus',
          'RedriveStatusReason',
          'StartDate',
          'StateMachineArn',
          'Status',
          'StopDate',
        ].sort(),
      );
      expect(entry.Status).toBe('SUCCEEDED');
      expect(entry.InputDetails).toEqual({ Included: true });
      expect(JSON.parse(entry.Input)).toEqual({ run: { runId: 'r1' }, unit: { name: expect.any(String) } });
    }
    expect(entries.map((e) => JSON.parse(e.Output ?? 'null'))).toEqual([
      { unit: 'a', status: 'succeeded' },
      { unit: 'b', status: 'succeeded' },
    ]);
  });

  it('keeps a failed child in FAILED_0.json with its Error and Cause while the others finish, and the report counts it failed', async () => {
    // Act
    const { bucket, result } = await run([{ name: 'a' }, { name: 'bad' }]);
    const output = (await result) as unknown as { mapRun: MapRunResults };
    const read = await withMapRunOutcomes(bucket, { mapRun: output.mapRun, units: [] as unknown[] });

    // Assess
    const manifest = JSON.parse(
      await bucket.get('reports', output.mapRun.ResultWriterDetails.Key),
    ) as MapRunManifest;
    const failed = JSON.parse(
      await bucket.get('reports', manifest.ResultFiles.FAILED?.[0]?.Key ?? ''),
    ) as MapRunResultEntry[];
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      Status: 'FAILED',
      Error: 'UnitCrashed',
      Cause: expect.stringContaining('it broke'),
    });
    expect(failed[0]).not.toHaveProperty('Output');
    expect(read.units).toEqual([
      { unit: 'a', status: 'succeeded' },
      { Error: 'UnitCrashed', Cause: expect.stringMatching(/^unit bad: .*it broke/) },
    ]);
  });

  it('fails the Map with States.ItemReaderFailed when the object is not a JSON array', async () => {
    // Act
    const { result } = await run({ not: 'an array' });

    // Assess
    await expect(result).rejects.toMatchObject({ cause: { name: 'States.ItemReaderFailed' } });
  });
});
