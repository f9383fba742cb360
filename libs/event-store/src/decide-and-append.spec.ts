import { decideAndAppend, type Appender } from './decide-and-append';
import { AppendUnavailable, ConcurrencyConflict, ContentionExhausted } from './errors';
import type { AppendResult, ExpectedSequence } from './event-store';

/** An in-memory subject with the same expectation rule as JetStream. */
class FakeSubject implements Appender<string> {
  readonly log: string[] = [];
  /** Messages other writers append right before our next append, to lose races on purpose. */
  readonly interleave: string[] = [];
  append(subject: string, message: string, opts: { expectedLastSequence: ExpectedSequence }): Promise<AppendResult> {
    const sneaky = this.interleave.shift();
    if (sneaky !== undefined) this.log.push(sneaky);
    if (opts.expectedLastSequence !== 'any' && opts.expectedLastSequence !== this.log.length) {
      return Promise.reject(new ConcurrencyConflict(subject, opts.expectedLastSequence, this.log.length));
    }
    this.log.push(message);
    return Promise.resolve({ sequence: this.log.length, duplicate: false });
  }
  load = async () => ({ state: [...this.log], version: this.log.length });
}

describe('decideAndAppend', () => {
  it('appends the decision at the loaded version', async () => {
    const s = new FakeSubject();
    const r = await decideAndAppend({ store: s, subject: 'x', load: s.load, decide: (st) => ({ ok: true, message: `m${st.length}`, reply: 'yes' }) });
    expect(r).toEqual({ decision: { ok: true, message: 'm0', reply: 'yes' }, state: [], sequence: 1, version: 1, duplicate: false, attempts: 1 });
    expect(s.log).toEqual(['m0']);
  });

  it('reloads and decides again after each lost race', async () => {
    const s = new FakeSubject();
    s.interleave.push('other1', 'other2');
    const seen: number[] = [];
    const r = await decideAndAppend({
      store: s,
      subject: 'x',
      load: s.load,
      decide: (st) => ({ ok: true, message: `after-${st.join('+') || 'nothing'}` }),
      onConflict: (c, attempt) => seen.push(attempt * 100 + (c.actual ?? 0)),
    });
    expect(r.attempts).toBe(3);
    expect(seen).toEqual([101, 202]);
    expect(s.log).toEqual(['other1', 'other2', 'after-other1+other2']);
  });

  it('returns rejections and no-ops without appending', async () => {
    const s = new FakeSubject();
    const rejected = await decideAndAppend({ store: s, subject: 'x', load: s.load, decide: () => ({ ok: false, rejection: 'NO' }) });
    expect(rejected).toMatchObject({ decision: { ok: false, rejection: 'NO' }, sequence: null, version: 0, attempts: 1 });
    const noop = await decideAndAppend({ store: s, subject: 'x', load: s.load, decide: () => ({ ok: true, message: null }) });
    expect(noop).toMatchObject({ sequence: null, attempts: 1 });
    expect(s.log).toEqual([]);
  });

  it('a rejection after a conflict is taken on the new state', async () => {
    const s = new FakeSubject();
    s.interleave.push('taken');
    const r = await decideAndAppend({
      store: s,
      subject: 'x',
      load: s.load,
      decide: (st) => (st.includes('taken') ? { ok: false, rejection: 'taken already' } : { ok: true, message: 'take' }),
    });
    expect(r).toMatchObject({ decision: { ok: false, rejection: 'taken already' }, attempts: 2, version: 1 });
    expect(s.log).toEqual(['taken']);
  });

  it('gives up with ContentionExhausted after maxAttempts', async () => {
    const s = new FakeSubject();
    s.interleave.push('a', 'b', 'c', 'd');
    const run = decideAndAppend({ store: s, subject: 'x', load: s.load, decide: () => ({ ok: true, message: 'mine' }), maxAttempts: 3 });
    await expect(run).rejects.toBeInstanceOf(ContentionExhausted);
    await expect(run).rejects.toMatchObject({ attempts: 3, cause: expect.any(ConcurrencyConflict) });
    expect(s.log).toEqual(['a', 'b', 'c']);
  });

  it('does not decide again after a failure that may have stored the message', async () => {
    let decisions = 0;
    const failing: Appender<string> = { append: () => Promise.reject(new AppendUnavailable('x', 5, { cause: new Error('timeout') })) };
    const run = decideAndAppend({ store: failing, subject: 'x', load: async () => ({ state: 0, version: 0 }), decide: () => ({ ok: true, message: `m${decisions++}` }) });
    await expect(run).rejects.toBeInstanceOf(AppendUnavailable);
    expect(decisions).toBe(1);
  });
});
