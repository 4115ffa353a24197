import * as codec from '@smithy/core/event-streams';
import type { EventStreamMarshaller } from '@smithy/types';
import { describe, expect, it } from 'vitest';
import { NotSupportedError } from '../../functions/lib/errors.js';
import * as stand from '../../functions/lib/sdk/no-event-streams.js';

/**
 * What every bundle has in place of the SDK's event-stream codec (BUNDLE_ALIASES in infra/constructs/step-function.ts):
 * the names the bundled SDK code imports, each failing with a NotSupportedError when an event stream would be read or
 * written. The bundles' wiring, and a bundled S3 client that still sends, are proved in test/infra/bundle.test.ts.
 */
describe('the event-stream codec left out of the bundles', () => {
  it('exports only names the SDK codec exports, so that the alias replaces like for like', () => {
    // Assess
    const names = Object.keys(stand);
    expect(names.sort()).toEqual([
      'EventStreamSerde',
      'eventStreamSerdeProvider',
      'resolveEventStreamSerdeConfig',
    ]);
    for (const name of names) expect(Object.keys(codec), name).toContain(name);
  });

  it("resolves a client's config to a marshaller that fails with NotSupportedError when used", () => {
    // Prepare
    const config = { eventStreamSerdeProvider: stand.eventStreamSerdeProvider, region: 'us-west-2' };
    // Act
    const resolved = stand.resolveEventStreamSerdeConfig(config);
    // Assess: the config is the same object, as the SDK's resolver leaves it, with the marshaller added.
    expect(resolved).toBe(config);
    expect(resolved.region).toBe('us-west-2');
    const read = () => resolved.eventStreamMarshaller.deserialize(new Uint8Array(), async () => ({}));
    const write = () =>
      resolved.eventStreamMarshaller.serialize((async function* () {})(), () => ({}) as never);
    for (const use of [read, write]) {
      expect(use).toThrow(NotSupportedError);
      expect(use).toThrow(/^event streams are not in lifeboat's Lambda bundles/);
    }
  });

  it("keeps a caller's own provider, as the SDK's resolver does", () => {
    // Prepare
    const own: EventStreamMarshaller = {
      serialize: () => new Uint8Array(),
      deserialize: async function* () {},
    };
    // Act
    const resolved = stand.resolveEventStreamSerdeConfig({ eventStreamSerdeProvider: () => own });
    // Assess
    expect(resolved.eventStreamMarshaller).toBe(own);
  });

  it('fails with NotSupportedError where the HTTP protocol builds its event-stream serde', () => {
    // Assess
    expect(() => new stand.EventStreamSerde({})).toThrow(NotSupportedError);
  });
});
