import { jetstream } from '@nats-io/jetstream';
import { subjects } from '#contracts';
import { emptyCounter, eventually, evolveCounter, increment, incrementCodec, openTestNats, type Increment, type TestNats } from '../test/support';
import { JetStreamEventStore } from './jetstream-event-store';
import { provisionStream } from './provision';

// A measurement, not a timed assertion: it logs how fast a cold aggregate replays, for the report
// and for spotting regressions by eye. GK_REPLAY_COUNT overrides the size.
const COUNT = Number(process.env.GK_REPLAY_COUNT ?? 100_000);

describe(`replaying ${COUNT} small messages`, () => {
  let t: TestNats;
  let store: JetStreamEventStore<Increment>;
  let subject: string;
  let lastSequence = 0;

  beforeAll(async () => {
    t = await openTestNats('replay');
    await provisionStream(t.jsm, t.names);
    store = new JetStreamEventStore({ nc: t.nc, names: t.names, codec: incrementCodec });
    subject = subjects.cluster(t.names, 'replay');
    // Pipelined publishes: fast to set up, and the same bytes as appends would store.
    const js = jetstream(t.nc);
    const noise = subjects.cluster(t.names, 'noise');
    // Set-up, not the measurement: a generous ack timeout, so that a busy shared server (CI runs
    // suites in parallel) slows the set-up down instead of failing it.
    const timeout = 120_000;
    let inflight: Promise<unknown>[] = [];
    for (let n = 0; n < COUNT; n++) {
      const m = increment(n, 'replay', n);
      inflight.push(js.publish(subject, incrementCodec.encode(m), { msgID: m.id, timeout }));
      // Another aggregate interleaved, so that the filter has something to skip.
      if (n % 10 === 0) inflight.push(js.publish(noise, incrementCodec.encode(increment(0)), { timeout }));
      if (inflight.length >= 1000) {
        await Promise.all(inflight);
        inflight = [];
      }
    }
    await Promise.all(inflight);
    lastSequence = await store.currentVersion(subject);
  }, 300_000);
  afterAll(async () => {
    await t.close();
  });

  const rate = (count: number, ms: number) => `${Math.round((count / ms) * 1000).toLocaleString('en-US')} msg/s`;
  /** Wall time and this process's CPU time: on a busy machine the second shows what the client costs. */
  const measure = async <T>(work: () => Promise<T>) => {
    const cpu = process.cpuUsage();
    const started = performance.now();
    const result = await work();
    const ms = performance.now() - started;
    const used = process.cpuUsage(cpu);
    const cpuMs = (used.user + used.system) / 1000;
    return { result, ms, text: `${ms.toFixed(0)} ms, ${rate(COUNT, ms)} (client CPU ${cpuMs.toFixed(0)} ms: ${rate(COUNT, cpuMs)} per client core)` };
  };

  it('readStream()', async () => {
    const { result, text } = await measure(() => store.readStream(subject));
    expect(result.messages).toHaveLength(COUNT);
    expect(result.version).toBe(lastSequence);
    console.log(`[event-store] readStream() of ${COUNT} messages: ${text}`);
  }, 120_000);

  it('aggregateStream()', async () => {
    const { result, text } = await measure(() => store.aggregateStream(subject, { initialState: emptyCounter, evolve: evolveCounter }));
    expect(result.state).toEqual({ count: COUNT, stale: 0 });
    expect(result.version).toBe(lastSequence);
    console.log(`[event-store] aggregateStream() of ${COUNT} messages: ${text}`);
  }, 120_000);

  it('subscribe() catching up', async () => {
    let seen = 0;
    const { result: sub, text } = await measure(async () => {
      const subscription = await store.subscribe(subject, { fromSequence: 1 }, () => {
        seen++;
      });
      await eventually(() => seen === COUNT, 'every message', 120_000);
      return subscription;
    });
    await sub.stop();
    console.log(`[event-store] subscribe() caught up on ${COUNT} messages: ${text}`);
  }, 120_000);
});
