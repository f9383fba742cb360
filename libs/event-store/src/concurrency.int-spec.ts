import { connect } from '@nats-io/transport-node';
import { subjects } from '#contracts';
import {
  emptyCounter,
  evolveCounter,
  increment,
  incrementCodec,
  openTestNats,
  type Counter,
  type Increment,
  type TestNats,
} from '../test/support';
import { handleCommand, reloadEachAttempt } from './command-handler';
import { ContentionExhausted } from './errors';
import { JetStreamEventStore } from './jetstream-event-store';
import { provisionStream } from './provision';

describe('handleCommand against a real JetStream', () => {
  let t: TestNats;
  let store: JetStreamEventStore<Increment>;

  beforeAll(async () => {
    t = await openTestNats('race');
    await provisionStream(t.jsm, t.names);
    store = new JetStreamEventStore({ nc: t.nc, names: t.names, codec: incrementCodec });
  });
  afterAll(async () => {
    await t.close();
  });

  it('8 writers racing on one counter lose no decision and duplicate none', async () => {
    const WRITERS = 8;
    const PER_WRITER = 25;
    const subject = subjects.cluster(t.names, 'race');
    // Each writer has its own connection, as separate node-agents would.
    const connections = await Promise.all(Array.from({ length: WRITERS }, () => connect({ servers: t.url })));
    try {
      const attempts: number[] = [];
      const appended: number[] = [];
      const writers = connections.map(async (nc, w) => {
        const own = new JetStreamEventStore({ nc, names: t.names, codec: incrementCodec });
        // Half the writers reload from scratch, half keep a snapshot and read only what is new.
        let cache: { state: Counter; version: number } | undefined;
        const load = async () => {
          const agg = await own.aggregateStream(subject, { initialState: emptyCounter, evolve: evolveCounter, from: w % 2 ? cache : undefined });
          cache = { state: agg.state, version: agg.version };
          return agg;
        };
        for (let n = 0; n < PER_WRITER; n++) {
          const result = await handleCommand({
            store: own,
            subject,
            source: reloadEachAttempt(load),
            decide: (state: Counter) => ({ message: increment(state.count, `w${w}`, n), outcome: undefined }),
            maxAttempts: 200,
          });
          attempts.push(result.attempts);
          appended.push(result.sequence!);
        }
      });
      const started = Date.now();
      await Promise.all(writers);
      const elapsed = Date.now() - started;

      const total = WRITERS * PER_WRITER;
      const { messages, malformed, version: lastSequence } = await store.readStream(subject);
      expect(malformed).toEqual([]);
      expect(messages).toHaveLength(total);
      // Every decision exactly once.
      const decisions = new Set(messages.map((m) => `${m.message.writer}/${m.message.n}`));
      expect(decisions.size).toBe(total);
      // Stream order, and each acknowledged append is one stored message.
      const seqs = messages.map((m) => m.sequence);
      expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1])).toBe(true);
      expect([...appended].sort((a, b) => a - b)).toEqual(seqs);
      expect(lastSequence).toBe(seqs.at(-1));
      // Serial replay: every decision was taken on the state right before it (no lost update).
      const serial = messages.reduce(evolveCounter, emptyCounter);
      expect(serial).toEqual({ count: total, stale: 0 });
      expect(messages.map((m) => m.message.before)).toEqual(Array.from({ length: total }, (_, i) => i));
      const agg = await store.aggregateStream(subject, { initialState: emptyCounter, evolve: evolveCounter });
      expect(agg.state).toEqual(serial);
      expect(agg.version).toBe(lastSequence);

      const conflicts = attempts.reduce((a, b) => a + b, 0) - total;
      console.log(`[event-store] ${WRITERS} writers x ${PER_WRITER} decisions: ${conflicts} conflicts retried, max ${Math.max(...attempts)} attempts for one decision, ${elapsed} ms`);
      expect(conflicts).toBeGreaterThan(0);
    } finally {
      await Promise.all(connections.map((nc) => nc.close()));
    }
  }, 60_000);

  it('reloads after a conflict and decides again on the new state', async () => {
    const subject = subjects.cluster(t.names, 'reload');
    const first = await store.appendToStream(subject, increment(0, 'a'), { expectedVersion: 0 });
    const stale = { state: emptyCounter, version: 0 };
    let loads = 0;
    const conflicts: number[] = [];
    const result = await handleCommand({
      store,
      subject,
      // The first load is a view from before writer a appended.
      source: reloadEachAttempt(async () => (loads++ === 0 ? stale : store.aggregateStream(subject, { initialState: emptyCounter, evolve: evolveCounter }))),
      decide: (s: Counter) => ({ message: increment(s.count, 'b'), outcome: s.count }),
      onConflict: (c) => conflicts.push(c.actual ?? -1),
    });
    expect(result.attempts).toBe(2);
    expect(conflicts).toEqual([first.nextExpectedVersion]);
    expect(result).toMatchObject({ outcome: 1, message: { before: 1 } });
    expect(result.version).toBe(result.sequence);
    const agg = await store.aggregateStream(subject, { initialState: emptyCounter, evolve: evolveCounter });
    expect(agg).toMatchObject({ state: { count: 2, stale: 0 }, version: result.sequence });
  });

  it('appends nothing for a no-op or a rejection', async () => {
    const subject = subjects.cluster(t.names, 'noop');
    const source = reloadEachAttempt(() => store.aggregateStream(subject, { initialState: emptyCounter, evolve: evolveCounter }));
    const noop = await handleCommand({ store, subject, source, decide: () => ({ message: null, outcome: 'already' }) });
    expect(noop).toMatchObject({ sequence: null, version: 0, attempts: 1, outcome: 'already', message: null });
    const rejected = await handleCommand({ store, subject, source, decide: () => ({ message: null, outcome: 'NFS4ERR_NO_GRACE' }) });
    expect(rejected).toMatchObject({ sequence: null, attempts: 1, outcome: 'NFS4ERR_NO_GRACE' });
    expect(await store.currentVersion(subject)).toBe(0);
  });

  it('gives up after maxAttempts conflicts', async () => {
    const subject = subjects.cluster(t.names, 'hopeless');
    await store.appendToStream(subject, increment(0), { expectedVersion: 0 });
    const attempt = handleCommand({
      store,
      subject,
      source: reloadEachAttempt(async () => ({ state: emptyCounter, version: 0 })), // always stale
      decide: (s: Counter) => ({ message: increment(s.count), outcome: undefined }),
      maxAttempts: 3,
    });
    await expect(attempt).rejects.toBeInstanceOf(ContentionExhausted);
    await expect(attempt).rejects.toMatchObject({ attempts: 3, cause: { name: 'ConcurrencyConflict' } });
    expect((await store.readStream(subject)).messages).toHaveLength(1);
  });
});
