/// <reference types="jest" />
// Test-only (imported by specs); the reference keeps `npm run build`, which compiles libs/*/test, typed.
import { ConcurrencyConflict } from '../src/errors';
import type { EventStore } from '../src/event-store';
import { handleCommand, reloadEachAttempt } from '../src/command-handler';
import type { LinkedSubjects } from '../src/chain';
import type { MalformedHandler, MalformedMessage } from '../src/types';
import { emptyCounter, evolveCounter, increment, type Increment } from './support';

/** What the contract needs from an implementation under test. */
export interface ContractFixture {
  /** A store whose malformed messages go to `onMalformed`; `linkedSubjects` as the store option. */
  makeStore(onMalformed: MalformedHandler, linkedSubjects?: LinkedSubjects): EventStore<Increment>;
  /** A fresh subject: tests share the store, never a subject. */
  newSubject(): string;
  /** Stores bytes unchecked into `store`'s stream, as a foreign writer could; returns their sequence. */
  appendRaw(store: EventStore<Increment>, subject: string, data: Uint8Array): Promise<number>;
  close?(): Promise<void>;
}

const utf8 = new TextEncoder();
const counter = { initialState: emptyCounter, evolve: evolveCounter };

/**
 * The event-store contract: every implementation of `EventStore` must pass it. The in-memory store
 * runs it in unit tests, the JetStream store against a real NATS (`event-store.int-spec.ts`).
 */
export function describeEventStoreContract(name: string, fixture: () => Promise<ContractFixture>): void {
  describe(`EventStore contract: ${name}`, () => {
    const reported: MalformedMessage[] = [];
    let f: ContractFixture;
    let store: EventStore<Increment>;
    beforeAll(async () => {
      f = await fixture();
      store = f.makeStore((m) => reported.push(m));
    });
    afterAll(async () => {
      await f?.close?.();
    });
    beforeEach(() => {
      reported.length = 0;
    });

    it('appends with expected version 0 only while the subject is empty, then only at its version', async () => {
      const subject = f.newSubject();
      const first = await store.appendToStream(subject, increment(0), { expectedVersion: 0 });
      expect(first.duplicate).toBe(false);
      const again = store.appendToStream(subject, increment(0), { expectedVersion: 0 });
      await expect(again).rejects.toBeInstanceOf(ConcurrencyConflict);
      await expect(again).rejects.toMatchObject({ subject, expected: 0, actual: first.nextExpectedVersion });
      const second = await store.appendToStream(subject, increment(1), { expectedVersion: first.nextExpectedVersion });
      expect(second.nextExpectedVersion).toBeGreaterThan(first.nextExpectedVersion);
      const unchecked = await store.appendToStream(subject, increment(2), { expectedVersion: 'any' });
      expect(unchecked.nextExpectedVersion).toBeGreaterThan(second.nextExpectedVersion);
      expect(await store.currentVersion(subject)).toBe(unchecked.nextExpectedVersion);
      await expect(store.appendToStream(subject, increment(3), { expectedVersion: -1 })).rejects.toThrow(RangeError);
    });

    it('versions are per subject: an append elsewhere does not conflict', async () => {
      const a = f.newSubject();
      const b = f.newSubject();
      const a1 = await store.appendToStream(a, increment(0), { expectedVersion: 0 });
      await store.appendToStream(b, increment(0), { expectedVersion: 0 });
      const a2 = await store.appendToStream(a, increment(1), { expectedVersion: a1.nextExpectedVersion });
      expect(await store.currentVersion(a)).toBe(a2.nextExpectedVersion);
      expect(await store.currentVersion(f.newSubject())).toBe(0);
    });

    it('a retried message id is a duplicate, stored once, even with a now stale expectation', async () => {
      const subject = f.newSubject();
      const m = increment(0);
      const stored = await store.appendToStream(subject, m, { expectedVersion: 0 });
      expect(await store.appendToStream(subject, m, { expectedVersion: 0 })).toEqual({ nextExpectedVersion: stored.nextExpectedVersion, duplicate: true });
      expect((await store.readStream(subject)).messages.map((x) => x.message.id)).toEqual([m.id]);
    });

    it('reads in order with the store\'s time, from/to bounds, and folds from the start or a snapshot', async () => {
      const subject = f.newSubject();
      const other = f.newSubject();
      const seqs: number[] = [];
      for (let i = 0; i < 6; i++) {
        seqs.push((await store.appendToStream(subject, increment(i, 'r', i), { expectedVersion: seqs.at(-1) ?? 0 })).nextExpectedVersion);
        await store.appendToStream(other, increment(0, 'noise', i), { expectedVersion: 'any' });
      }
      const read = await store.readStream(subject);
      expect(read.messages.map((m) => m.message.n)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(read.messages.every((m) => m.subject === subject && m.time instanceof Date)).toBe(true);
      expect(read).toMatchObject({ version: seqs[5], malformed: [] });

      expect((await store.readStream(subject, { from: seqs[3] })).messages.map((m) => m.sequence)).toEqual(seqs.slice(3));
      const window = await store.readStream(subject, { from: seqs[1], to: seqs[3] });
      expect(window.messages.map((m) => m.sequence)).toEqual(seqs.slice(1, 4));
      expect(window.version).toBe(seqs[5]);
      expect(await store.readStream(subject, { from: seqs[5] + 1000 })).toEqual({ messages: [], malformed: [], version: seqs[5] });

      expect(await store.aggregateStream(subject, counter)).toMatchObject({ state: { count: 6, stale: 0 }, version: seqs[5], applied: 6 });
      const resumed = await store.aggregateStream(subject, { ...counter, from: { state: { count: 3, stale: 0 }, version: seqs[2] } });
      expect(resumed).toMatchObject({ state: { count: 6, stale: 0 }, version: seqs[5], applied: 3 });
      const current = await store.aggregateStream(subject, { ...counter, from: { state: resumed.state, version: seqs[5] } });
      expect(current).toMatchObject({ state: { count: 6 }, version: seqs[5], applied: 0 });
    });

    it('an empty subject reads as nothing at version 0', async () => {
      const subject = f.newSubject();
      expect(await store.readStream(subject)).toEqual({ messages: [], malformed: [], version: 0 });
      expect(await store.aggregateStream(subject, counter)).toMatchObject({ state: emptyCounter, version: 0, applied: 0 });
    });

    it('malformed messages are reported and skipped, never thrown, and count for the version', async () => {
      const subject = f.newSubject();
      const a = await store.appendToStream(subject, increment(0, 'm', 0), { expectedVersion: 0 });
      const garbage = await f.appendRaw(store, subject, utf8.encode('{not json'));
      const wrongShape = await f.appendRaw(store, subject, utf8.encode(JSON.stringify({ type: 'Decremented', id: 'x' })));
      const b = await store.appendToStream(subject, increment(1, 'm', 1), { expectedVersion: wrongShape });
      const read = await store.readStream(subject);
      expect(read.messages.map((m) => m.sequence)).toEqual([a.nextExpectedVersion, b.nextExpectedVersion]);
      expect(read.malformed.map((m) => [m.sequence, m.subject, m.error.kind])).toEqual([[garbage, subject, 'json'], [wrongShape, subject, 'schema']]);
      expect(new TextDecoder().decode(read.malformed[0].raw)).toBe('{not json');
      expect(reported.map((m) => m.sequence)).toEqual([garbage, wrongShape]);
      const agg = await store.aggregateStream(subject, counter);
      expect(agg).toMatchObject({ state: { count: 2, stale: 0 }, version: b.nextExpectedVersion, applied: 2 });
      expect(agg.malformed).toHaveLength(2);
    });

    it('on a linked subject, a message without an expectation is a stale append, and an unconditional append is refused', async () => {
      const linkedSubject = f.newSubject();
      const linked = f.makeStore(() => undefined, (s) => s === linkedSubject);
      const a = await linked.appendToStream(linkedSubject, increment(0, 'l', 0), { expectedVersion: 0 });
      const forged = await f.appendRaw(linked, linkedSubject, utf8.encode(JSON.stringify(increment(1, 'l', 1))));
      const b = await linked.appendToStream(linkedSubject, increment(1, 'l', 2), { expectedVersion: forged });
      const read = await linked.readStream(linkedSubject);
      expect(read.messages.map((m) => m.sequence)).toEqual([a.nextExpectedVersion, b.nextExpectedVersion]);
      expect(read.malformed.map((m) => [m.sequence, m.error.kind])).toEqual([[forged, 'stale-append']]);
      expect(read.version).toBe(b.nextExpectedVersion);
      await expect(linked.appendToStream(linkedSubject, increment(2, 'l', 3), { expectedVersion: 'any' })).rejects.toThrow(/only conditional appends/);
    });

    it('a throwing reporter does not stop a replay', async () => {
      const throwing = f.makeStore(() => {
        throw new Error('reporter down');
      });
      const subject = f.newSubject();
      await f.appendRaw(throwing, subject, utf8.encode('nope'));
      await throwing.appendToStream(subject, increment(0), { expectedVersion: 'any' });
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      try {
        const read = await throwing.readStream(subject);
        expect([read.messages.length, read.malformed.length]).toEqual([1, 1]);
        expect(warn).toHaveBeenCalledWith(expect.stringContaining('reporter down'));
      } finally {
        warn.mockRestore();
      }
    });

    it('the command handler over this store: racing writers never lose an update or decide on a stale count', async () => {
      const subject = f.newSubject();
      const writers = Array.from({ length: 5 }, (_, w) => (async () => {
        for (let n = 0; n < 4; n++) {
          await handleCommand({
            store,
            subject,
            source: reloadEachAttempt(() => store.aggregateStream(subject, counter)),
            decide: (state) => ({ message: increment(state.count, `w${w}`, n), outcome: state.count }),
            maxAttempts: 100,
            maxBackoffMs: 2,
          });
        }
      })());
      await Promise.all(writers);
      expect((await store.aggregateStream(subject, counter)).state).toEqual({ count: 20, stale: 0 });
    });
  });
}
