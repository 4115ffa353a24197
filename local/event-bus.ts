import { matchesPattern, type Pattern } from './event-pattern.js';

/**
 * EventBridge on the proving ground: one bus, rules with event patterns (in EventBridge's JSON spelling, as the
 * synthesized stack's AWS::Events::Rule holds them) matched by local/event-pattern.ts, each rule's target a function
 * invoked with the event as the rule's Lambda target would be. Used for the Step Functions status changes of the
 * ended-run rule (local/ended-runs.ts) and the Secrets Manager events of the replicator (local/replicator-scenario.ts).
 * Like EventBridge, delivery is asynchronous: `publish` returns at once. With `hold`, matching events wait for
 * `deliver()`, so that a test can act between an event and its handler. Every matching rule gets the event.
 */
export interface EventBus<E, R = unknown> {
  /** A rule: events matching `pattern` are delivered to `target`. */
  rule(name: string, pattern: Pattern, target: (event: E) => Promise<R>): void;
  publish(event: E): void;
  /** Delivers every held event; resolves when every delivery so far has ended. */
  deliver(): Promise<void>;
  /** Resolves when every delivery so far, and every delivery those caused, has ended. */
  settled(): Promise<void>;
  /** Every delivery: the rule, the event, and the target's result or error (Lambda would retry, then dead-letter it). */
  readonly deliveries: readonly BusDelivery<E, R>[];
  /** Events published, matching a rule or not. */
  readonly published: readonly E[];
}

export interface BusDelivery<E, R> {
  rule: string;
  event: E;
  outcome?: R;
  error?: { name: string; message: string };
}

export function eventBus<E, R = unknown>(options: { hold?: boolean } = {}): EventBus<E, R> {
  const rules: { name: string; pattern: Pattern; target: (event: E) => Promise<R> }[] = [];
  const held: (() => void)[] = [];
  const running: Promise<void>[] = [];
  const deliveries: BusDelivery<E, R>[] = [];
  const published: E[] = [];

  const invoke = async (rule: (typeof rules)[number], event: E) => {
    const delivery: BusDelivery<E, R> = { rule: rule.name, event };
    try {
      delivery.outcome = await rule.target(event);
    } catch (error) {
      delivery.error = {
        name: error instanceof Error ? error.name : 'Error',
        message: error instanceof Error ? error.message : String(error),
      };
    }
    deliveries.push(delivery);
  };
  const settled = async () => {
    for (let n = 0; n < running.length; n = running.length) await Promise.all(running.slice(n));
  };
  return {
    rule(name, pattern, target) {
      rules.push({ name, pattern, target });
    },
    publish(event) {
      published.push(event);
      for (const rule of rules) {
        if (!matchesPattern(rule.pattern, event)) continue;
        const start = () => {
          running.push(invoke(rule, event));
        };
        if (options.hold) held.push(start);
        else start();
      }
    },
    async deliver() {
      for (const start of held.splice(0)) start();
      await settled();
    },
    settled,
    deliveries,
    published,
  };
}

/** A pattern in CDK's `events.EventPattern` spelling (`detailType`) in EventBridge's (`detail-type`). */
export function eventBridgePattern(pattern: Record<string, unknown>): Pattern {
  const { detailType, ...rest } = pattern;
  return { ...rest, ...(detailType !== undefined ? { 'detail-type': detailType } : {}) };
}
