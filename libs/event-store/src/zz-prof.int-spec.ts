import { subjects } from '#contracts';
import { emptyCounter, evolveCounter, increment, incrementCodec, openTestNats } from '../test/support';
import { JetStreamEventStore } from './event-store';
import { provisionStream } from './provision';
it('prof', async () => {
  const t = await openTestNats('prof');
  await provisionStream(t.jsm, t.names);
  const store = new JetStreamEventStore({ nc: t.nc, names: t.names, codec: incrementCodec });
  const subject = subjects.cluster(t.names, 'p');
  let v = 0;
  for (let i = 0; i < 200; i++) v = (await store.append(subject, increment(i), { expectedLastSequence: v })).sequence;
  const time = async (label: string, n: number, fn: () => Promise<unknown>) => {
    const s = performance.now();
    for (let i = 0; i < n; i++) await fn();
    console.log(label, ((performance.now() - s) / n).toFixed(2), 'ms');
  };
  await time('lastSequence', 100, () => store.lastSequence(subject));
  await time('aggregate full 200', 50, () => store.aggregate(subject, { initial: emptyCounter, evolve: evolveCounter }));
  await time('aggregate snapshot +0', 100, () => store.aggregate(subject, { initial: emptyCounter, evolve: evolveCounter, from: { state: emptyCounter, sequence: v } }));
  await time('aggregate snapshot +1', 100, () => store.aggregate(subject, { initial: emptyCounter, evolve: evolveCounter, from: { state: emptyCounter, sequence: v - 1 } }));
  await time('aggregate snapshot +10', 50, () => store.aggregate(subject, { initial: emptyCounter, evolve: evolveCounter, from: { state: emptyCounter, sequence: v - 10 } }));
  await time('append', 100, async () => { v = (await store.append(subject, increment(0), { expectedLastSequence: v })).sequence; });
  await t.close();
}, 60000);
