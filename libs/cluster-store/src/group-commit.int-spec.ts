import { subjects } from '#contracts';
import { TestStream } from '#testing';
import { CommitQueueFull, executeOnce, GroupCommitter, LiveClusterView } from './index';

// Issue 10 items 1 and 6: a request withdrawn while queued (its deadline passed) is never decided,
// one already in a batch is not withdrawn, and the queue is bounded.
const stream = new TestStream('gcommit');
const { names } = stream;
beforeAll(() => stream.open({ store: 'group-commit-test' }));
afterAll(() => stream.close());

it('withdraws queued requests when their signal aborts, never withdraws one in flight, and refuses past its bound', async () => {
  await executeOnce(stream.opened.store, names, 'w', { type: 'add', nodes: ['a'] }, { actor: 't' });
  const view = await LiveClusterView.open(stream.opened.store, names, 'w', { trackedNodes: ['a'] });
  const gc = new GroupCommitter(view, 3);
  try {
    const create = (client: string, admission?: Parameters<GroupCommitter['submit']>[2]) =>
      gc.submit({ type: 'create', node: 'a', clients: [{ client }] }, { actor: 'a' }, admission);
    // The first request goes into a batch at once; the next ones queue behind its append.
    const first = new AbortController();
    let firstStarted = false;
    const inFlight = create('01', { signal: first.signal, onStart: () => { firstStarted = true; } });
    expect(firstStarted).toBe(true);
    const second = new AbortController();
    const withdrawn = create('02', { signal: second.signal });
    const kept = create('03');
    const alsoKept = create('04');
    await expect(create('05')).rejects.toBeInstanceOf(CommitQueueFull);
    first.abort(new Error('too late for the one in flight'));
    second.abort(new Error('deadline passed'));
    await expect(withdrawn).rejects.toThrow('deadline passed');
    expect(gc.queued).toBe(2);
    await expect(inFlight).resolves.toMatchObject({ ok: true });
    await expect(kept).resolves.toMatchObject({ ok: true });
    await expect(alsoKept).resolves.toMatchObject({ ok: true });
    // An already aborted signal never queues.
    const gone = new AbortController();
    gone.abort(new Error('already expired'));
    await expect(create('06', { signal: gone.signal })).rejects.toThrow('already expired');
    // The log: 01, 03, 04 recorded; the withdrawn 02 and the refused 05, 06 never.
    const { messages } = await stream.opened.store.readStream(subjects.cluster(names, 'w'));
    const recorded = messages.flatMap((m) => m.message.events.flatMap((e) => (e.type === 'ClientRecorded' ? e.clients.map((c) => c.client) : [])));
    expect(recorded.sort()).toEqual(['01', '03', '04']);
  } finally {
    await view.close();
  }
});
