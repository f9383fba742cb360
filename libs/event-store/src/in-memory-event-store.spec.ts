import { describeEventStoreContract } from '../test/event-store-contract';
import { incrementCodec, increment, type Increment } from '../test/support';
import type { EventStore } from './event-store';
import { InMemoryEventStore } from './in-memory-event-store';

let subjects = 0;

describeEventStoreContract('in memory', async () => ({
  makeStore: (onMalformed, linkedSubjects) => new InMemoryEventStore<Increment>({ idOf: incrementCodec.idOf, decode: incrementCodec.decode, onMalformed, linkedSubjects }),
  newSubject: () => `gk.cluster.m${++subjects}`,
  appendRaw: (store: EventStore<Increment>, subject, data) => Promise.resolve((store as InMemoryEventStore<Increment>).appendRaw(subject, data)),
}));

describe('InMemoryEventStore', () => {
  it('without a decoder, raw bytes are malformed', async () => {
    const store = new InMemoryEventStore<Increment>({ idOf: (m) => m.id, onMalformed: () => undefined });
    const seq = store.appendRaw('s', new Uint8Array([1]));
    await store.appendToStream('s', increment(0), { expectedVersion: seq });
    const read = await store.readStream('s');
    expect(read.malformed.map((m) => m.error.kind)).toEqual(['no-decoder']);
    expect(read.messages).toHaveLength(1);
  });
});
