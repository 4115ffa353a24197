import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { awsErrorName, LAMBDA_NOT_READY_ERROR_NAMES } from '../errors.js';
import '../sdk/lambda.js';
import { WARM_PING, WARM_PING_FIELD, type WarmResult, type WarmTarget } from './warm.js';

/** Pings every target at once, synchronously (a refused invocation is the news: it was Inactive). */
export async function pingFunctions(
  lambda: LambdaClient,
  targets: readonly WarmTarget[],
): Promise<WarmResult[]> {
  const payload = new TextEncoder().encode(JSON.stringify(WARM_PING));
  return Promise.all(
    targets.map(async ({ name, functionName }): Promise<WarmResult> => {
      try {
        const out = await lambda.send(
          new InvokeCommand({
            FunctionName: functionName,
            InvocationType: 'RequestResponse',
            Payload: payload,
          }),
        );
        if (out.FunctionError) return { name, answered: false, error: `FunctionError ${out.FunctionError}` };
        const reply = out.Payload
          ? (JSON.parse(new TextDecoder().decode(out.Payload)) as unknown)
          : undefined;
        if ((reply as Record<string, unknown> | undefined)?.[WARM_PING_FIELD] !== 'ok') {
          return { name, answered: false, error: 'the function did not answer the warm ping' };
        }
        return { name, answered: true };
      } catch (error) {
        const errorName = awsErrorName(error) ?? (error instanceof Error ? error.name : 'Error');
        const notReady = (LAMBDA_NOT_READY_ERROR_NAMES as readonly string[]).includes(`Lambda.${errorName}`);
        return { name, answered: false, error: errorName, ...(notReady ? { wasNotReady: true } : {}) };
      }
    }),
  );
}
