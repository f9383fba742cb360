import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { streamNames, subjects } from '#contracts';
import { startNatsServer, uniquePrefix, type NatsServer } from '#infra';
import { emptyCounter, eventually, evolveCounter, increment, incrementCodec, type Increment } from '../test/support';
import { JetStreamEventStore } from './jetstream-event-store';
import { provisionStream } from './provision';
import type { StoredMessage } from './types';

// A private nats-server: this test kills and restarts it, which the shared one must never see.
describe('event store across a nats-server restart', () => {
  let server: NatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  }, 30_000);
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  it('a subscription resumes where it was, appends go on and reads see everything', async () => {
    const names = streamNames(uniquePrefix('es_restart'));
    await provisionStream(await jetstreamManager(nc), names);
    const store = new JetStreamEventStore<Increment>({ nc, names, codec: incrementCodec });
    const subject = subjects.cluster(names, 'restart');

    let version = 0;
    const appendNext = async (n: number) => {
      version = (await store.appendToStream(subject, increment(n, 'r', n), { expectedVersion: version })).nextExpectedVersion;
    };
    for (let n = 0; n < 5; n++) await appendNext(n);

    const got: StoredMessage<Increment>[] = [];
    const statuses: string[] = [];
    const sub = await store.subscribe(subject, { fromSequence: 1 }, (m) => {
      got.push(m);
    }, { onStatus: (s) => statuses.push(s.type) });
    await eventually(() => got.length === 5, 'the first five messages');

    await server.kill('SIGKILL');
    const t0 = Date.now();
    await server.restart();
    const t1 = Date.now();
    // Appends retry transient failures (no responders while JetStream recovers the stream).
    for (let n = 5; n < 10; n++) await appendNext(n);
    const t2 = Date.now();
    await eventually(() => got.length >= 10, 'the five messages after the restart', 20_000);
    console.log(`[event-store] restart ${t1 - t0} ms, appends after it ${t2 - t1} ms, subscription caught up ${Date.now() - t2} ms later`);
    // Nothing extra trickles in.
    await new Promise((r) => setTimeout(r, 200));
    const end = await sub.stop();

    expect(got.map((m) => m.message.n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(end).toEqual({ reason: 'stopped', lastSequence: version });
    const agg = await store.aggregateStream(subject, { initialState: emptyCounter, evolve: evolveCounter });
    expect(agg).toMatchObject({ state: { count: 10, stale: 0 }, version });
    console.log(`[event-store] consumer events across the restart: ${[...new Set(statuses)].join(', ')}`);
  }, 60_000);
});
