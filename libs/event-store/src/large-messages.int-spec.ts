import { jetstream } from '@nats-io/jetstream';
import { subjects } from '#contracts';
import { emptyCounter, eventually, evolveCounter, increment, incrementCodec, openTestNats, type Increment, type TestNats } from '../test/support';
import { JetStreamEventStore } from './jetstream-event-store';
import { provisionStream } from './provision';

/**
 * A log of large decisions (group commit and the 10,000,000-event bench history write ~200 KB
 * messages): 4,096 of them asked in one pull is ~1 GB, nats-server dropped the reader as a slow
 * consumer once 64 MiB were pending and the replay stalled ("made no progress"). Pulls are bounded
 * in bytes too (stream-access.ts pullOptions).
 */
const COUNT = 400;
const PAD = 'x'.repeat(250_000);

describe(`a log of ${COUNT} messages of ~250 KB (${Math.round((COUNT * PAD.length) / 2 ** 20)} MiB)`, () => {
  let t: TestNats;
  let store: JetStreamEventStore<Increment>;
  let subject: string;

  beforeAll(async () => {
    t = await openTestNats('large');
    await provisionStream(t.jsm, t.names);
    store = new JetStreamEventStore({ nc: t.nc, names: t.names, codec: incrementCodec, readIdleTimeoutMs: 10_000 });
    subject = subjects.cluster(t.names, 'large');
    const js = jetstream(t.nc);
    let inflight: Promise<unknown>[] = [];
    for (let n = 0; n < COUNT; n++) {
      const m = increment(n, 'large', n);
      inflight.push(js.publish(subject, new TextEncoder().encode(JSON.stringify({ ...m, pad: PAD })), { msgID: m.id, timeout: 60_000 }));
      if (inflight.length >= 20) {
        await Promise.all(inflight);
        inflight = [];
      }
    }
    await Promise.all(inflight);
  }, 300_000);
  afterAll(async () => {
    await t.close();
  });

  it('replays whole (aggregateStream)', async () => {
    const r = await store.aggregateStream(subject, { initialState: emptyCounter, evolve: evolveCounter });
    expect(r.state.count).toBe(COUNT);
  }, 120_000);

  it('catches up whole (subscribe)', async () => {
    let seen = 0;
    const sub = await store.subscribe(subject, { fromSequence: 1 }, () => {
      seen++;
    });
    try {
      await eventually(() => seen === COUNT, `${COUNT} messages through the subscription`, 60_000);
    } finally {
      await sub.stop();
    }
  }, 120_000);
});
