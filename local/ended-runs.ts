import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EndedRunOutcome } from '../functions/lib/ended-run.js';
import { endedRunPattern } from '../infra/constructs/lock-recovery.js';
import type { ExecutionStatusChange, SynthesizedOrchestrator } from './runner.js';

/**
 * EventBridge on the proving ground, for one rule: the runner's "Step Functions Execution Status Change" events that
 * match the ended-run rule (infra/constructs/lock-recovery.ts, `endedRunPattern`) invoke the bundled ended-run
 * handler, as the rule's Lambda target does. Like EventBridge, delivery is asynchronous: `publish` returns at once.
 * With `hold`, matching events wait for `deliver()`, so that a test can act between a run's end and its handler.
 */
export interface EndedRunBus {
  /** The runner's `onStatusChange`. */
  publish(event: ExecutionStatusChange): void;
  /** Delivers every held event; resolves when every delivery so far has ended. */
  deliver(): Promise<void>;
  /** Resolves when every delivery so far has ended. */
  settled(): Promise<void>;
  /** Every delivery: the event, and the handler's outcome or error (Lambda would retry, then dead-letter it). */
  readonly deliveries: readonly Delivery[];
  /** Events published, matching the rule or not. */
  readonly published: readonly ExecutionStatusChange[];
}

export interface Delivery {
  event: ExecutionStatusChange;
  outcome?: EndedRunOutcome;
  error?: { name: string; message: string };
}

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

export function endedRunBus(
  orchestrator: SynthesizedOrchestrator,
  environment: Record<string, string>,
  options: { hold?: boolean } = {},
): EndedRunBus {
  const closer = orchestrator.closer;
  if (!closer) throw new Error('ended-run bus: the synthesized stack has no ended-run handler');
  const { plan } = orchestrator;
  const stateMachineArn = `arn:aws:states:${plan.recoveryRegion}:${plan.account}:stateMachine:lifeboat-${plan.name}`;
  const pattern = endedRunPattern(stateMachineArn);
  const held: ExecutionStatusChange[] = [];
  const running: Promise<void>[] = [];
  const deliveries: Delivery[] = [];
  const published: ExecutionStatusChange[] = [];
  let handler: Promise<Handler> | undefined;

  const invoke = async (event: ExecutionStatusChange) => {
    // Every bundled handler shares this process: the closer's variables agree with the steps' (one stack).
    Object.assign(process.env, environment, closer.environment);
    handler ??= import(pathToFileURL(resolve(closer.bundle)).href).then(
      (m: { handler: Handler }) => m.handler,
    );
    const delivery: Delivery = { event };
    try {
      const started = Date.now();
      delivery.outcome = (await (
        await handler
      )(event, {
        functionName: closer.logicalId,
        invokedFunctionArn: closer.arn,
        awsRequestId: `${event.id}-closer`,
        getRemainingTimeInMillis: () => 120_000 - (Date.now() - started),
      })) as EndedRunOutcome;
    } catch (error) {
      delivery.error = {
        name: error instanceof Error ? error.name : 'Error',
        message: error instanceof Error ? error.message : String(error),
      };
    }
    deliveries.push(delivery);
  };
  const start = (event: ExecutionStatusChange) => {
    running.push(invoke(event));
  };
  const settled = async () => {
    for (let n = 0; n < running.length; n = running.length) await Promise.all(running.slice(n));
  };

  return {
    publish(event) {
      published.push(event);
      if (!matches(pattern as Record<string, unknown>, eventFields(event))) return;
      if (options.hold) held.push(event);
      else start(event);
    },
    async deliver() {
      for (const event of held.splice(0)) start(event);
      await settled();
    },
    settled,
    deliveries,
    published,
  };
}

/** The event as EventBridge patterns name its fields (`detail-type` is `detailType` in CDK's EventPattern). */
function eventFields(event: ExecutionStatusChange): Record<string, unknown> {
  return { ...event, detailType: event['detail-type'] };
}

/** EventBridge matching for the patterns CDK writes here: arrays of allowed values, nested objects. */
function matches(pattern: Record<string, unknown>, value: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([key, wanted]) => {
    const actual = value[key];
    if (Array.isArray(wanted)) return wanted.includes(actual);
    if (wanted && typeof wanted === 'object') {
      return (
        actual !== null &&
        typeof actual === 'object' &&
        matches(wanted as Record<string, unknown>, actual as Record<string, unknown>)
      );
    }
    return wanted === actual;
  });
}
