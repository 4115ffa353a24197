/**
 * Strings that only the SDK's event-stream codec (`@smithy/core/event-streams`) brings into a bundle: its codec's and
 * header marshaller's class names (bundles keep names) and the header its messages are typed by. Every bundle resolves
 * the codec to functions/lib/sdk/no-event-streams.ts instead (BUNDLE_ALIASES in infra/constructs/step-function.ts;
 * docs/design/packaging.md, "What the aliases replace"). test/infra/bundle.test.ts shows each of them in a bundle made
 * without the alias, so that their absence means something.
 */
export const EVENT_STREAM_MARKERS = ['EventStreamCodec', 'HeaderMarshaller', ':message-type'] as const;

/** The markers found in a bundle's text. */
export function eventStreamMarkers(code: string): string[] {
  return EVENT_STREAM_MARKERS.filter((marker) => code.includes(marker));
}
