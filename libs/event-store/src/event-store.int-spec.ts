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
import { ConcurrencyConflict } from './errors';
import { JetStreamEventStore, type SubscriptionEnd } from './event-store';
import { provisionStream } from './provision';
import type { MalformedMessage, StoredMessage } from './types';

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

  describe('append', () => {
    it('appends with expected sequence 0 only while the subject is empty, then only at the right sequence', async () => {
      const subject = newSubject();
      const first = await store.append(subject, increment(0), { expectedLastSequence: 0 });
      expect(first.duplicate).toBe(false);

      const again = store.append(subject, increment(0), { expectedLastSequence: 0 });
      await expect(again).rejects.toBeInstanceOf(ConcurrencyConflict);
      await expect(again).rejects.toMatchObject({ subject, expected: 0, actual: first.sequence });

      const second = await store.append(subject, increment(1), { expectedLastSequence: first.sequence });
      expect(second.sequence).toBeGreaterThan(first.sequence);

      const stale = store.append(subject, increment(1), { expectedLastSequence: first.sequence });
      await expect(stale).rejects.toMatchObject({ name: 'ConcurrencyConflict', expected: first.sequence, actual: second.sequence });

      const unchecked = await store.append(subject, increment(2), { expectedLastSequence: 'any' });
      expect(unchecked.sequence).toBeGreaterThan(second.sequence);
      expect(await store.lastSequence(subject)).toBe(unchecked.sequence);
    });

    it('versions are per subject: an append elsewhere does not conflict', async () => {
      const a = newSubject();
      const b = newSubject();
      const a1 = await store.append(a, increment(0), { expectedLastSequence: 0 });
      await store.append(b, increment(0), { expectedLastSequence: 0 });
      const a2 = await store.append(a, increment(1), { expectedLastSequence: a1.sequence });
      expect(await store.lastSequence(a)).toBe(a2.sequence);
      expect(await store.lastSequence(newSubject())).toBe(0);
    });

    it('a retry after a lost ack is a duplicate, stored once, even with a now stale expectation', async () => {
      const subject = newSubject();
      const m = increment(0);
      const stored = await store.append(subject, m, { expectedLastSequence: 0 });
      const retry = await store.append(subject, m, { expectedLastSequence: 0 });
      expect(retry).toEqual({ sequence: stored.sequence, duplicate: true });

      // The ack really lost: the first publish goes out without anyone waiting for its ack.
      const lost = increment(1);
      const h = headers();
      h.set('Nats-Msg-Id', lost.id);
      h.set('Nats-Expected-Last-Subject-Sequence', String(stored.sequence));
      t.nc.publish(subject, incrementCodec.encode(lost), { headers: h });
      await t.nc.flush();
      const second = await store.append(subject, lost, { expectedLastSequence: stored.sequence });
      expect(second.duplicate).toBe(true);

      const { messages } = await store.read(subject);
      expect(messages.map((x) => x.message.id)).toEqual([m.id, lost.id]);
      expect(messages.map((x) => x.sequence)).toEqual([stored.sequence, second.sequence]);
    });

    it('an earlier attempt that was stored after all is found even if the server reports a conflict', async () => {
      // The guard behind the server's own de-duplication: the first attempt is stored but its ack
      // "lost" (a timeout), and the retry is not recognised as a duplicate (as if the msgID had
      // left the window), so the server answers "wrong last sequence".
      const subject = newSubject();
      const lossy = new JetStreamEventStore({ nc: t.nc, names: t.names, codec: incrementCodec });
      const js = (lossy as unknown as { js: JetStreamClient }).js;
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
      const result = await lossy.append(subject, m, { expectedLastSequence: 0 });
      expect(calls).toBe(2);
      expect(result.duplicate).toBe(true);
      const { messages } = await store.read(subject);
      expect(messages.map((x) => [x.sequence, x.message.id])).toEqual([[result.sequence, m.id]]);

      // Without an earlier doubtful attempt a conflict is a conflict.
      await expect(lossy.append(subject, m, { expectedLastSequence: 0 })).rejects.toBeInstanceOf(ConcurrencyConflict);
    });

    it('refuses subjects outside its stream and wildcard aggregates', async () => {
      await expect(store.append('elsewhere.cluster.x', increment(0), { expectedLastSequence: 0 })).rejects.toThrow(/outside/);
      await expect(store.read(`${t.names.prefix}.cluster.*`)).rejects.toThrow(/literal/);
      await expect(store.append(newSubject(), increment(0), { expectedLastSequence: -1 })).rejects.toThrow(RangeError);
    });
  });

  describe('read and aggregate', () => {
    it('returns the subject\'s messages in order, with server time, and folds them', async () => {
      const subject = newSubject();
      const other = newSubject();
      let version = 0;
      for (let i = 0; i < 5; i++) {
        version = (await store.append(subject, increment(i, 'r', i), { expectedLastSequence: version })).sequence;
        await store.append(other, increment(0, 'noise', i), { expectedLastSequence: 'any' });
      }
      const before = Date.now();
      const read = await store.read(subject);
      expect(read.messages.map((m) => m.message.n)).toEqual([0, 1, 2, 3, 4]);
      expect(read.messages.every((m) => m.subject === subject)).toBe(true);
      expect(read.messages.every((m) => m.time instanceof Date && m.time.getTime() <= before + 1000)).toBe(true);
      expect(read.lastSequence).toBe(version);
      expect(read.malformed).toEqual([]);

      const agg = await store.aggregate(subject, { initial: emptyCounter, evolve: evolveCounter });
      expect(agg).toMatchObject({ state: { count: 5, stale: 0 }, version, applied: 5 });
    });

    it('reads from a sequence, and resumes an aggregate from a snapshot', async () => {
      const subject = newSubject();
      const seqs: number[] = [];
      for (let i = 0; i < 6; i++) seqs.push((await store.append(subject, increment(i, 's', i), { expectedLastSequence: seqs.at(-1) ?? 0 })).sequence);

      const tail = await store.read(subject, { fromSequence: seqs[3] });
      expect(tail.messages.map((m) => m.sequence)).toEqual(seqs.slice(3));

      const snapshot = { state: { count: 3, stale: 0 }, sequence: seqs[2] };
      const resumed = await store.aggregate(subject, { initial: emptyCounter, evolve: evolveCounter, from: snapshot });
      expect(resumed).toMatchObject({ state: { count: 6, stale: 0 }, version: seqs[5], applied: 3 });

      // Nothing new since the snapshot: the version is still the subject's last message.
      const current = await store.aggregate(subject, { initial: emptyCounter, evolve: evolveCounter, from: { state: resumed.state, sequence: seqs[5] } });
      expect(current).toMatchObject({ state: { count: 6 }, version: seqs[5], applied: 0 });
      const beyond = await store.read(subject, { fromSequence: seqs[5] + 1000 });
      expect(beyond).toEqual({ messages: [], malformed: [], lastSequence: seqs[5] });
    });

    it('an empty subject reads as nothing at version 0', async () => {
      const subject = newSubject();
      expect(await store.read(subject)).toEqual({ messages: [], malformed: [], lastSequence: 0 });
      expect(await store.aggregate(subject, { initial: emptyCounter, evolve: evolveCounter })).toMatchObject({ state: emptyCounter, version: 0 });
    });
  });

  describe('malformed messages', () => {
    it('are reported and skipped by read, aggregate and subscribe, which keep going', async () => {
      const subject = newSubject();
      const js = jetstream(t.nc);
      const a = await store.append(subject, increment(0, 'm', 0), { expectedLastSequence: 0 });
      const garbage = await js.publish(subject, new TextEncoder().encode('{not json'));
      const wrongShape = await js.publish(subject, new TextEncoder().encode(JSON.stringify({ type: 'Decremented', id: 'x' })));
      const invalidUtf8 = await js.publish(subject, new Uint8Array([0xff, 0xfe, 0x00]));
      // Malformed messages count for the version: the next append expects the real last sequence.
      const b = await store.append(subject, increment(1, 'm', 1), { expectedLastSequence: invalidUtf8.seq });

      const read = await store.read(subject);
      expect(read.messages.map((m) => m.sequence)).toEqual([a.sequence, b.sequence]);
      expect(read.malformed.map((m) => [m.sequence, m.error.kind])).toEqual([
        [garbage.seq, 'json'],
        [wrongShape.seq, 'schema'],
        [invalidUtf8.seq, 'json'],
      ]);
      expect(read.malformed[0].subject).toBe(subject);
      expect(new TextDecoder().decode(read.malformed[0].raw)).toBe('{not json');
      expect(reported.map((m) => m.sequence)).toEqual([garbage.seq, wrongShape.seq, invalidUtf8.seq]);
      expect(read.lastSequence).toBe(b.sequence);

      reported.length = 0;
      const agg = await store.aggregate(subject, { initial: emptyCounter, evolve: evolveCounter });
      expect(agg).toMatchObject({ state: { count: 2, stale: 0 }, version: b.sequence, applied: 2 });
      expect(agg.malformed).toHaveLength(3);
      expect(reported).toHaveLength(3);

      const seen: number[] = [];
      const subscriptionMalformed: number[] = [];
      const sub = await store.subscribe(subject, { fromSequence: 1 }, (m) => {
        seen.push(m.sequence);
      }, { onMalformed: (m) => subscriptionMalformed.push(m.sequence) });
      await eventually(() => seen.length === 2, 'both valid messages');
      await sub.stop();
      expect(seen).toEqual([a.sequence, b.sequence]);
      expect(subscriptionMalformed).toEqual([garbage.seq, wrongShape.seq, invalidUtf8.seq]);
    });

    it('a throwing reporter does not stop a replay', async () => {
      const subject = newSubject();
      const throwing = new JetStreamEventStore({
        nc: t.nc, names: t.names, codec: incrementCodec, onMalformed: () => {
          throw new Error('reporter down');
        },
      });
      await jetstream(t.nc).publish(subject, new TextEncoder().encode('nope'));
      await store.append(subject, increment(0), { expectedLastSequence: 'any' });
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      try {
        const read = await throwing.read(subject);
        expect(read.messages).toHaveLength(1);
        expect(read.malformed).toHaveLength(1);
        expect(warn).toHaveBeenCalledWith(expect.stringContaining('reporter down'));
      } finally {
        warn.mockRestore();
      }
    });
  });

  describe('subscribe', () => {
    it('delivers exactly the messages from a sequence on, in order, then live ones, one handler at a time', async () => {
      const subject = newSubject();
      const seqs: number[] = [];
      for (let i = 0; i < 10; i++) seqs.push((await store.append(subject, increment(i, 'sub', i), { expectedLastSequence: seqs.at(-1) ?? 0 })).sequence);

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
      for (let i = 10; i < 15; i++) seqs.push((await store.append(subject, increment(i, 'sub', i), { expectedLastSequence: seqs.at(-1)! })).sequence);
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
      const start = (await store.append(a, increment(0, 'x', 0), { expectedLastSequence: 'any' })).sequence;
      await store.append(b, increment(0, 'x', 1), { expectedLastSequence: 'any' });
      await store.append(a, increment(1, 'x', 2), { expectedLastSequence: 'any' });
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
      const s1 = await store.append(subject, increment(0), { expectedLastSequence: 0 });
      await store.append(subject, increment(1), { expectedLastSequence: s1.sequence });
      const sub = await store.subscribe(subject, { fromSequence: 1 }, (m) => {
        if (m.message.before === 1) throw new Error('database down');
      });
      const end: SubscriptionEnd = await sub.done;
      expect(end).toMatchObject({ reason: 'handler-failed', lastSequence: s1.sequence });
      expect(end.reason === 'handler-failed' && (end.error as Error).message).toBe('database down');
    });

    it('fails at once when the stream does not exist', async () => {
      const missing = await openTestNats('missing');
      try {
        const orphan = new JetStreamEventStore({ nc: missing.nc, names: missing.names, codec: incrementCodec });
        await expect(orphan.subscribe(subjects.allClusters(missing.names), { fromSequence: 1 }, () => undefined)).rejects.toThrow(/stream not found/);
        await expect(orphan.read(subjects.cluster(missing.names, 'x'))).rejects.toThrow(/stream not found/);
      } finally {
        await missing.close();
      }
    });

    it('leaves no consumers behind', async () => {
      const subject = newSubject();
      await store.append(subject, increment(0), { expectedLastSequence: 'any' });
      await store.read(subject);
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
