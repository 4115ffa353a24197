import type { EventStreamMarshaller, EventStreamSerdeProvider } from '@smithy/types';
import { NotSupportedError } from '../errors.js';

/**
 * What every bundled step has in place of `@smithy/core/event-streams` (BUNDLE_ALIASES in
 * infra/constructs/step-function.ts). Event streams are the SDK's framing for the few operations that stream typed
 * events (S3 SelectObjectContent, Lambda InvokeWithResponseStream among lifeboat's clients;
 * docs/aws/sdk-event-streams.md); lifeboat sends none of them. Yet the SDK's HTTP protocol loads the codec through an `import()` that esbuild inlines, and the S3 and Lambda
 * clients import their default marshaller: about 15 KiB of every bundle that no step runs
 * (docs/design/packaging.md, "Bundle size").
 *
 * This module exports only the names the bundled SDK code imports (esbuild fails the build on any other), and each
 * fails with a NotSupportedError the moment an event stream would be read or written. Unbundled code (the tests, the
 * CLI) keeps the SDK's codec.
 */

const NOT_BUNDLED =
  "event streams are not in lifeboat's Lambda bundles (@smithy/core/event-streams is replaced by " +
  'functions/lib/sdk/no-event-streams.ts): no step sends an operation that streams events';

function notBundled(): never {
  throw new NotSupportedError(NOT_BUNDLED);
}

/** A marshaller whose every use fails: what a client's config holds as its `eventStreamMarshaller`. */
const unavailableMarshaller: EventStreamMarshaller = {
  serialize: notBundled,
  deserialize: notBundled,
};

/** The S3 and Lambda clients' default `eventStreamSerdeProvider` (their runtime config imports it). */
export const eventStreamSerdeProvider: EventStreamSerdeProvider = () => unavailableMarshaller;

/**
 * The client's config resolver, as the SDK's: the marshaller comes from the config's provider, so a caller that passes
 * its own provider still gets it.
 */
export const resolveEventStreamSerdeConfig = <
  T extends { eventStreamSerdeProvider: EventStreamSerdeProvider },
>(
  input: T,
): T & { eventStreamMarshaller: EventStreamMarshaller } =>
  Object.assign(input, { eventStreamMarshaller: input.eventStreamSerdeProvider(input) });

/** What the HTTP protocol constructs when an operation's input or output is an event stream. */
export class EventStreamSerde {
  constructor(..._args: unknown[]) {
    notBundled();
  }
}
