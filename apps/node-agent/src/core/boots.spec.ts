import type { GkEvent } from '#contracts';
import { decide, evolve, initialClusterState, nothingLeftToReclaim, seal, type ClusterState, type Command } from '#domain';
import { bootCausation, BootTracker } from './boots';

/** A one-node cluster driven through the real deciders. */
function cluster() {
  const s = initialClusterState();
  let n = 0;
  const run = (c: Command, causation?: string): GkEvent[] => {
    const r = decide(c, s);
    if (!r.ok) throw new Error(r.rejection.message);
    const m = seal(s, r.decision.events, { cluster: 'c', decisionId: `d${n++}`, actor: 'a', time: new Date(1_000_000 + n * 1000), causation });
    for (const e of m.events) evolve(s, e);
    return m.events;
  };
  run({ type: 'add', nodes: ['a'] });
  return { s, run };
}

describe('BootTracker', () => {
  it('knows the boot of the last start from its causation, and only that boot', () => {
    const { s, run } = cluster();
    const boots = new BootTracker('a');
    boots.observe(run({ type: 'start', nodes: ['a'], addMissing: true }, bootCausation(1234)));
    expect(boots.isSameBoot(1234, s)).toBe(true);
    expect(boots.isSameBoot(1235, s)).toBe(false);
    boots.observe(run({ type: 'start', nodes: ['a'] }, 'json:1'));
    expect(boots.isSameBoot(1234, s)).toBe(false);
  });

  it('without a known boot, a boot time not after the recorded start is the same boot', () => {
    const { s, run } = cluster();
    run({ type: 'start', nodes: ['a'] });
    const startedAt = s.members.get('a')!.graceStartedAt!;
    const fresh = new BootTracker('a');
    expect(fresh.isSameBoot(Math.floor(startedAt / 1000), s)).toBe(true);
    expect(fresh.isSameBoot(Math.floor(startedAt / 1000) + 1, s)).toBe(false);
  });
});

describe('nothingLeftToReclaim (nfsdcltrack early end of grace)', () => {
  const X = '0a01';
  const Y = '0a02';
  const state = (setup: (run: (c: Command) => void) => void): ClusterState => {
    const { s, run } = cluster();
    setup((c) => void run(c));
    return s;
  };

  it('is false out of grace and true in a grace with nothing recorded', () => {
    expect(nothingLeftToReclaim(state(() => undefined), 'a')).toBe(false);
    expect(nothingLeftToReclaim(state((run) => run({ type: 'start', nodes: ['a'] })), 'a')).toBe(true);
  });

  it('waits for every old record to come back, and for v4.1 clients only', () => {
    const v41 = (client: string) => ({ type: 'create' as const, node: 'a', clients: [{ client, hasSession: true }] });
    expect(nothingLeftToReclaim(state((run) => { run(v41(X)); run({ type: 'start', nodes: ['a'] }); }), 'a')).toBe(false);
    expect(nothingLeftToReclaim(state((run) => { run(v41(X)); run({ type: 'start', nodes: ['a'] }); run(v41(X)); }), 'a')).toBe(true);
    expect(nothingLeftToReclaim(state((run) => {
      run(v41(X));
      run({ type: 'start', nodes: ['a'] });
      run(v41(X));
      run({ type: 'create', node: 'a', clients: [{ client: Y, hasSession: false }] });
    }), 'a')).toBe(false);
  });
});
