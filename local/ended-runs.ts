import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EndedRunOutcome } from '../functions/lib/ended-run.js';
import { endedRunPattern } from '../infra/constructs/lock-recovery.js';
import { eventBridgePattern, eventBus } from './event-bus.js';
import type { ExecutionStatusChange, SynthesizedOrchestrator } from './runner.js';

/**
 * The ended-run rule on the proving ground's event bus (local/event-bus.ts): the runner's "Step Functions Execution Status Change" events that
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
  const bus = eventBus<ExecutionStatusChange, EndedRunOutcome>(options);
  let handler: Promise<Handler> | undefined;
  bus.rule(
    'ended-run',
    eventBridgePattern(endedRunPattern(stateMachineArn) as Record<string, unknown>),
    async (event) => {
      // Every bundled handler shares this process: the closer's variables agree with the steps' (one stack).
      Object.assign(process.env, environment, closer.environment);
      handler ??= import(pathToFileURL(resolve(closer.bundle)).href).then(
        (m: { handler: Handler }) => m.handler,
      );
      const started = Date.now();
      return (await (
        await handler
      )(event, {
        functionName: closer.logicalId,
        invokedFunctionArn: closer.arn,
        awsRequestId: `${event.id}-closer`,
        getRemainingTimeInMillis: () => 120_000 - (Date.now() - started),
      })) as EndedRunOutcome;
    },
  );
  return {
    publish: (event) => bus.publish(event),
    deliver: () => bus.deliver(),
    settled: () => bus.settled(),
    get deliveries() {
      return bus.deliveries;
    },
    published: bus.published,
  };
}
