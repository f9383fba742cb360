import { handleCommand, reloadEachAttempt, type StateSource } from './command-handler';
import { AppendUnavailable, ConcurrencyConflict, ContentionExhausted } from './errors';
import type { EventStore } from './event-store';
import { InMemoryEventStore } from './in-memory-event-store';

interface Note { id: string; text: string }
let ids = 0;
const note = (text: string): Note => ({ id: `n${++ids}`, text });
const S = 'gk.cluster.x';

/** An in-memory store where other writers append right before our next append, to lose races on purpose. */
function racyStore() {
  const store = new InMemoryEventStore<Note>({ idOf: (n) => n.id });
  const interleave: string[] = [];
  const racy: EventStore<Note> = {
    readStream: (s, o) => store.readStream(s, o),
    aggregateStream: (s, o) => store.aggregateStream(s, o),
    currentVersion: (s) => store.currentVersion(s),
    appendToStream: async (s, m, o) => {
      const sneaky = interleave.shift();
      if (sneaky !== undefined) await store.appendToStream(s, note(sneaky), { expectedVersion: 'any' });
      return store.appendToStream(s, m, o);
    },
  };
  const texts = async () => (await store.readStream(S)).messages.map((m) => m.message.text);
  const reload = reloadEachAttempt(() => store.aggregateStream<string[]>(S, { initialState: [], evolve: (st, m) => [...st, m.message.text] }));
  return { store: racy, interleave, texts, reload };
}

describe('handleCommand', () => {
  it('appends the decision at the version it was taken on', async () => {
    const s = racyStore();
    const r = await handleCommand({ store: s.store, subject: S, source: s.reload, decide: (st) => ({ message: note(`m${st.length}`), outcome: 'yes' }) });
    expect(r).toMatchObject({ outcome: 'yes', message: { text: 'm0' }, sequence: 1, version: 1, duplicate: false, attempts: 1 });
    expect(await s.texts()).toEqual(['m0']);
  });

  it('reloads and decides again after each lost race', async () => {
    const s = racyStore();
    s.interleave.push('other1', 'other2');
    const seen: number[] = [];
    const r = await handleCommand({
      store: s.store,
      subject: S,
      source: s.reload,
      decide: (st) => ({ message: note(`after-${st.join('+') || 'nothing'}`), outcome: undefined }),
      maxBackoffMs: 0,
      onConflict: (c, attempt) => seen.push(attempt * 100 + (c.actual ?? 0)),
    });
    expect(r.attempts).toBe(3);
    expect(seen).toEqual([101, 202]);
    expect(await s.texts()).toEqual(['other1', 'other2', 'after-other1+other2']);
  });

  it('returns rejections and no-ops without appending', async () => {
    const s = racyStore();
    const rejected = await handleCommand({ store: s.store, subject: S, source: s.reload, decide: () => ({ message: null, outcome: 'NO' }) });
    expect(rejected).toEqual({ outcome: 'NO', message: null, sequence: null, version: 0, duplicate: false, attempts: 1 });
    expect(await s.texts()).toEqual([]);
  });

  it('a rejection after a conflict is taken on the new state', async () => {
    const s = racyStore();
    s.interleave.push('taken');
    const r = await handleCommand({
      store: s.store,
      subject: S,
      source: s.reload,
      decide: (st) => (st.includes('taken') ? { message: null, outcome: 'taken already' } : { message: note('take'), outcome: 'took' }),
    });
    expect(r).toMatchObject({ outcome: 'taken already', attempts: 2, version: 1 });
    expect(await s.texts()).toEqual(['taken']);
  });

  it('a no-op that needs a current state is confirmed against the store, and decided again if the state was behind', async () => {
    const s = racyStore();
    await s.store.appendToStream(S, note('news'), { expectedVersion: 0 });
    // A cached view from before the news; it catches up when told the store's version.
    const view = { state: [] as string[], version: 0 };
    const source: StateSource<string[]> = {
      current: () => view,
      catchUp: async (version) => {
        const read = await s.store.readStream(S, { from: view.version + 1, to: version });
        view.state = [...view.state, ...read.messages.map((m) => m.message.text)];
        view.version = Math.min(version ?? read.version, read.version);
      },
    };
    const r = await handleCommand({ store: s.store, subject: S, source, decide: (st) => ({ message: null, outcome: st.length, needsCurrentState: true }) });
    expect(r).toMatchObject({ outcome: 1, version: 1, attempts: 2 });
  });

  it('gives up with ContentionExhausted after maxAttempts', async () => {
    const s = racyStore();
    s.interleave.push('a', 'b', 'c', 'd');
    const run = handleCommand({ store: s.store, subject: S, source: s.reload, decide: () => ({ message: note('mine'), outcome: undefined }), maxAttempts: 3, maxBackoffMs: 0 });
    await expect(run).rejects.toBeInstanceOf(ContentionExhausted);
    await expect(run).rejects.toMatchObject({ attempts: 3, cause: expect.any(ConcurrencyConflict) });
    expect(await s.texts()).toEqual(['a', 'b', 'c']);
  });

  it('does not decide again after a failure that may have stored the message', async () => {
    let decisions = 0;
    const s = racyStore();
    const failing = { ...s.store, appendToStream: () => Promise.reject(new AppendUnavailable(S, 5, { cause: new Error('timeout') })) };
    const run = handleCommand({ store: failing, subject: S, source: s.reload, decide: () => ({ message: note(`m${decisions++}`), outcome: undefined }) });
    await expect(run).rejects.toBeInstanceOf(AppendUnavailable);
    expect(decisions).toBe(1);
  });
});
