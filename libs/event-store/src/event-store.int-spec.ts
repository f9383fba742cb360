import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { headers, TimeoutError } from '@nats-io/transport-node';
import { subjects } from '#contracts';
import {
  emptyCounter,
  eventually,
  evolveCounter,
  increment,
  incrementCodec,
  openTestNats,
  type Increment,
  type TestNats,
} from '../test/support';
import { describeEventStoreContract } from '../test/event-store-contract';
import { ConcurrencyConflict } from './errors';
import { JetStreamEventStore } from './jetstream-event-store';
import type { SubscriptionEnd } from './subscription';
import { provisionStream } from './provision';
import type { MalformedMessage, StoredMessage } from './types';

describeEventStoreContract('JetStream', async () => {
  const t = await openTestNats('contract');
  await provisionStream(t.jsm, t.names);
  let seq = 0;
  return {
    makeStore: (onMalformed, linkedSubjects) => new JetStreamEventStore({ nc: t.nc, names: t.names, codec: incrementCodec, onMalformed, linkedSubjects }),
    newSubject: () => subjects.cluster(t.names, `k${++seq}`),
    // Unchecked, as a foreign writer could publish: every store of the test shares the stream.
    appendRaw: async (_store, subject, data) => (await jetstream(t.nc).publish(subject, data)).seq,
    close: () => t.close(),
  };
});

describe('JetStreamEventStore', () => {
  let t: TestNats;
  let store: JetStreamEventStore<Increment>;
  const reported: MalformedMessage[] = [];
  let clusterSeq = 0;
  /** A fresh aggregate subject per test: tests share the stream, never a subject. */
  const newSubject = () => subjects.cluster(t.names, `c${++clusterSeq}`);

  beforeAll(async () => {
    t = await openTestNats('store');
    await provisionStream(t.jsm, t.names);
    store = new JetStreamEventStore({ nc: t.nc, names: t.names, codec: incrementCodec, onMalformed: (m) => reported.push(m) });
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(() => {
    reported.length = 0;
  });

  describe('append (JetStream specifics)', () => {
    it('takes a following reader\'s verdict on its message instead of its own link lookups; unknown falls back to them', async () => {
      const subject = newSubject();
      const asked: number[] = [];
      // A reader that judged the message a stale append: the writer lost, whatever the server said.
      await expect(store.appendToStream(subject, increment(0), { expectedVersion: 0, verdict: (seq) => { asked.push(seq); return Promise.resolve(false); } }))
        .rejects.toBeInstanceOf(ConcurrencyConflict);
      const first = await store.currentVersion(subject);
      expect(asked).toEqual([first]);
      const accepted = await store.appendToStream(subject, increment(1), { expectedVersion: first, verdict: () => Promise.resolve(true) });
      // Unknown (or a reader that failed): the writer checks the link itself, as without a reader.
      const checked = await store.appendToStream(subject, increment(2), { expectedVersion: accepted.nextExpectedVersion, verdict: () => Promise.resolve(undefined) });
      const failing = await store.appendToStream(subject, increment(3), { expectedVersion: checked.nextExpectedVersion, verdict: () => Promise.reject(new Error('view closed')) });
      expect(failing.nextExpectedVersion).toBe(await store.currentVersion(subject));
    });

    it('a publish whose ack was lost is a duplicate when retried', async () => {
      const subject = newSubject();
      const stored = await store.appendToStream(subject, increment(0), { expectedVersion: 0 });
      // The ack really lost: the first publish goes out without anyone waiting for its ack.
      const lost = increment(1);
      const h = headers();
      h.set('Nats-Msg-Id', lost.id);
      h.set('Nats-Expected-Last-Subject-Sequence', String(stored.nextExpectedVersion));
      t.nc.publish(subject, incrementCodec.encode(lost), { headers: h });
      await t.nc.flush();
      const second = await store.appendToStream(subject, lost, { expectedVersion: stored.nextExpectedVersion });
      expect(second.duplicate).toBe(true);
      const { messages } = await store.readStream(subject);
      expect(messages.map((x) => x.sequence)).toEqual([stored.nextExpectedVersion, second.nextExpectedVersion]);
    });

    it('an earlier attempt that was stored after all is found even if the server reports a conflict', async () => {
      // The guard behind the server's own de-duplication: the first attempt is stored but its ack
      // "lost" (a timeout), and the retry is not recognised as a duplicate (as if the msgID had
      // left the window), so the server answers "wrong last sequence".
      const subject = newSubject();
      const lossy = new JetStreamEventStore({ nc: t.nc, names: t.names, codec: incrementCodec });
      const js = (lossy as unknown as { access: { js: JetStreamClient } }).access.js;
      const publish = js.publish.bind(js);
      let calls = 0;
      js.publish = async (subj, data, opts) => {
        calls++;
        if (calls === 1) {
          await publish(subj, data, opts);
          throw new TimeoutError();
        }
        return publish(subj, data, { ...opts, msgID: undefined });
      };
      const m = increment(0);
      const result = await lossy.appendToStream(subject, m, { expectedVersion: 0 });
      expect(calls).toBe(2);
      expect(result.duplicate).toBe(true);
      const { messages } = await store.readStream(subject);
      expect(messages.map((x) => [x.sequence, x.message.id])).toEqual([[result.nextExpectedVersion, m.id]]);

      // Without an earlier doubtful attempt a conflict is a conflict.
      await expect(lossy.appendToStream(subject, m, { expectedVersion: 0 })).rejects.toBeInstanceOf(ConcurrencyConflict);
    });

    it('refuses subjects outside its stream and wildcard aggregates', async () => {
      await expect(store.appendToStream('elsewhere.cluster.x', increment(0), { expectedVersion: 0 })).rejects.toThrow(/outside/);
      await expect(store.readStream(`${t.names.prefix}.cluster.*`)).rejects.toThrow(/literal/);
    });
  });

  describe('malformed messages (JetStream specifics)', () => {
    it('invalid UTF-8 is reported and skipped by readStream and subscribe, which keep going', async () => {
      const subject = newSubject();
      const js = jetstream(t.nc);
      const a = await store.appendToStream(subject, increment(0, 'm', 0), { expectedVersion: 0 });
      const invalidUtf8 = await js.publish(subject, new Uint8Array([0xff, 0xfe, 0x00]));
      const b = await store.appendToStream(subject, increment(1, 'm', 1), { expectedVersion: invalidUtf8.seq });
      const read = await store.readStream(subject);
      expect(read.messages.map((m) => m.sequence)).toEqual([a.nextExpectedVersion, b.nextExpectedVersion]);
      expect(read.malformed.map((m) => [m.sequence, m.error.kind])).toEqual([[invalidUtf8.seq, 'json']]);
      expect(reported.map((m) => m.sequence)).toEqual([invalidUtf8.seq]);

      const seen: number[] = [];
      const subscriptionMalformed: number[] = [];
      const sub = await store.subscribe(subject, { fromSequence: 1 }, (m) => {
        seen.push(m.sequence);
      }, { onMalformed: (m) => subscriptionMalformed.push(m.sequence) });
      await eventually(() => seen.length === 2, 'both valid messages');
      await sub.stop();
      expect(seen).toEqual([a.nextExpectedVersion, b.nextExpectedVersion]);
      expect(subscriptionMalformed).toEqual([invalidUtf8.seq]);
    });
  });

  describe('subscribe', () => {
    it('delivers exactly the messages from a sequence on, in order, then live ones, one handler at a time', async () => {
      const subject = newSubject();
      const seqs: number[] = [];
      for (let i = 0; i < 10; i++) seqs.push((await store.appendToStream(subject, increment(i, 'sub', i), { expectedVersion: seqs.at(-1) ?? 0 })).nextExpectedVersion);

      const got: StoredMessage<Increment>[] = [];
      let active = 0;
      let maxActive = 0;
      const sub = await store.subscribe(subject, { fromSequence: seqs[4] }, async (m) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 2));
        got.push(m);
        active--;
      });
      await eventually(() => got.length === 6, 'the six stored messages');
      for (let i = 10; i < 15; i++) seqs.push((await store.appendToStream(subject, increment(i, 'sub', i), { expectedVersion: seqs.at(-1)! })).nextExpectedVersion);
      await eventually(() => got.length === 11, 'the five live messages');
      const end = await sub.stop();

      expect(got.map((m) => m.sequence)).toEqual(seqs.slice(4));
      expect(got.map((m) => m.message.n)).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
      expect(maxActive).toBe(1);
      expect(end).toEqual({ reason: 'stopped', lastSequence: seqs[14] });
      expect(await sub.done).toBe(end);
    });

    it('a wildcard filter sees every aggregate in stream order', async () => {
      const names = t.names;
      const a = subjects.cluster(names, 'wild_a');
      const b = subjects.cluster(names, 'wild_b');
      const start = (await store.appendToStream(a, increment(0, 'x', 0), { expectedVersion: 'any' })).nextExpectedVersion;
      await store.appendToStream(b, increment(0, 'x', 1), { expectedVersion: 'any' });
      await store.appendToStream(a, increment(1, 'x', 2), { expectedVersion: 'any' });
      const got: string[] = [];
      const sub = await store.subscribe(subjects.allClusters(names), { fromSequence: start }, (m) => {
        if (m.message.writer === 'x') got.push(`${m.subject.split('.').at(-1)}:${m.message.n}`);
      });
      await eventually(() => got.length === 3, 'three messages');
      await sub.stop();
      expect(got).toEqual(['wild_a:0', 'wild_b:1', 'wild_a:2']);
    });

    it('a failing handler ends the subscription with the last handled sequence, without a rejection', async () => {
      const subject = newSubject();
      const s1 = await store.appendToStream(subject, increment(0), { expectedVersion: 0 });
      await store.appendToStream(subject, increment(1), { expectedVersion: s1.nextExpectedVersion });
      const sub = await store.subscribe(subject, { fromSequence: 1 }, (m) => {
        if (m.message.before === 1) throw new Error('database down');
      });
      const end: SubscriptionEnd = await sub.done;
      expect(end).toMatchObject({ reason: 'handler-failed', lastSequence: s1.nextExpectedVersion });
      expect(end.reason === 'handler-failed' && (end.error as Error).message).toBe('database down');
    });

    it('fails at once when the stream does not exist', async () => {
      const missing = await openTestNats('missing');
      try {
        const orphan = new JetStreamEventStore({ nc: missing.nc, names: missing.names, codec: incrementCodec });
        await expect(orphan.subscribe(subjects.allClusters(missing.names), { fromSequence: 1 }, () => undefined)).rejects.toThrow(/stream not found/);
        await expect(orphan.readStream(subjects.cluster(missing.names, 'x'))).rejects.toThrow(/stream not found/);
      } finally {
        await missing.close();
      }
    });

    it('leaves no consumers behind', async () => {
      const subject = newSubject();
      await store.appendToStream(subject, increment(0), { expectedVersion: 'any' });
      await store.readStream(subject);
      const sub = await store.subscribe(subject, { fromSequence: 1 }, () => undefined);
      await sub.stop();
      // Consumer deletes are fire-and-forget: poll.
      let count = -1;
      for (let i = 0; i < 50 && count !== 0; i++) {
        count = (await t.jsm.streams.info(t.names.stream)).state.consumer_count;
        if (count !== 0) await new Promise((r) => setTimeout(r, 20));
      }
      expect(count).toBe(0);
    });
  });
});
