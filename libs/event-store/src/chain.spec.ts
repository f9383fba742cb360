import { Chain, linkHolds, TruncatedHistory, type LinkLookup, type RawMessage } from './chain';

/** A stream as a list of [sequence, subject]. */
function lookupOf(stream: Array<[number, string]>): LinkLookup {
  return {
    subjectAt: async (seq) => stream.find(([s]) => s === seq)?.[1],
    nextOf: async (subject, seq) => stream.find(([s, subj]) => s >= seq && subj === subject)?.[0],
  };
}

const raw = (seq: number, subject: string, expectedLast?: number): RawMessage => ({ seq, subject, data: new Uint8Array(), time: new Date(0), expectedLast });

describe('the stale-append rule', () => {
  // a: 1 (expects 0), 3 (expects 1), 4 (expects 1: accepted by a racy server), 6 (expects 4)
  // b: 2 (expects 0), 5 (no expectation)
  const stream: Array<[number, string]> = [[1, 'a'], [2, 'b'], [3, 'a'], [4, 'a'], [5, 'b'], [6, 'a']];
  const lookup = lookupOf(stream);

  it('reading from the start, judges every message without asking the stream', async () => {
    const asked: string[] = [];
    const chain = new Chain({
      subjectAt: (s) => (asked.push(`at ${s}`), lookup.subjectAt(s)),
      nextOf: (subj, s) => (asked.push(`next ${subj} ${s}`), lookup.nextOf(subj, s)),
    }, true);
    const verdicts = [raw(1, 'a', 0), raw(2, 'b', 0), raw(3, 'a', 1), raw(4, 'a', 1), raw(5, 'b'), raw(6, 'a', 4)].map((m) => chain.judge(m));
    expect(verdicts).toEqual([true, true, true, false, true, true]);
    expect(asked).toEqual([]);
  });

  it('a stale append still counts as the predecessor of the next message', () => {
    // 6 expects 4, the stale one: its writer loaded everything up to 4 and skipped 4 as readers do.
    const chain = new Chain(lookup, true);
    for (const m of [raw(1, 'a', 0), raw(3, 'a', 1), raw(4, 'a', 1)]) chain.judge(m);
    expect(chain.judge(raw(6, 'a', 3))).toBe(false);
  });

  it('reading from the middle, asks the stream once per subject', async () => {
    const chain = new Chain(lookup, false);
    await expect(chain.judge(raw(4, 'a', 1))).resolves.toBe(false);
    expect(chain.judge(raw(5, 'b'))).toBe(true);
    expect(chain.judge(raw(6, 'a', 4))).toBe(true);
    const fresh = new Chain(lookup, false);
    await expect(fresh.judge(raw(3, 'a', 1))).resolves.toBe(true);
  });

  it('linkHolds needs the expectation to be a message of the same subject right before', async () => {
    await expect(linkHolds(lookup, 'a', 3, 1)).resolves.toBe(true);
    await expect(linkHolds(lookup, 'a', 4, 1)).resolves.toBe(false); // 3 is in between
    await expect(linkHolds(lookup, 'a', 3, 2)).resolves.toBe(false); // 2 belongs to b
    await expect(linkHolds(lookup, 'b', 2, 0)).resolves.toBe(true);
    await expect(linkHolds(lookup, 'a', 3, 0)).resolves.toBe(false); // 1 came first
    await expect(linkHolds(lookup, 'a', 3, -1)).resolves.toBe(false); // unparsable header
    await expect(linkHolds(lookup, 'a', 3, 3)).resolves.toBe(false);
  });

  it('on a linked subject, a message without an expectation is stale, yet still the next one\'s predecessor', () => {
    const linked = (subject: string) => subject === 'a';
    const chain = new Chain(lookup, true, linked);
    // 2 on b has no expectation and counts (b is not linked); 5 on a has none: forged, skipped.
    expect([raw(1, 'a', 0), raw(2, 'b'), raw(5, 'a'), raw(6, 'a', 5)].map((m) => chain.judge(m))).toEqual([true, true, false, true]);
    expect(new Chain(lookup, true).judge(raw(5, 'a'))).toBe(true);
  });

  it('reading from the start, a first message that expects a predecessor means the history was truncated', () => {
    const chain = new Chain(lookup, true);
    expect(() => chain.judge(raw(3, 'a', 1))).toThrow(TruncatedHistory);
    expect(() => new Chain(lookup, true).judge(raw(3, 'a', 1))).toThrow(/history of a was truncated.*sequence 3.*follows sequence 1/);
    // From the middle the predecessor is looked up instead; a first message expecting 0 is whole.
    expect(new Chain(lookup, true).judge(raw(1, 'a', 0))).toBe(true);
  });
});

