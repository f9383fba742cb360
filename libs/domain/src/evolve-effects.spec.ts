import type { GkEvent } from '#contracts';
import { evolve, evolveWithEffects } from './evolve';
import { initialClusterState } from './state';

const base = { v: 1 as const, cluster: 'c', time: '2026-01-01T00:00:00.000Z', actor: 't' };

/** A state built event by event; `ev` returns what evolve reported for that event. */
function cluster() {
  const s = initialClusterState();
  let n = 0;
  const ev = (e: object) => evolveWithEffects(s, { ...base, id: `e${n++}`, epoch: s.epoch, ...e } as GkEvent);
  ev({ type: 'MemberAdded', node: 'a' });
  ev({ type: 'MemberAdded', node: 'b' });
  return { s, ev };
}

describe('evolve reports its effects', () => {
  it('a grace end drops, per node in order, the records of R that were not reclaimed, and closes every recovery set', () => {
    const { ev } = cluster();
    ev({ type: 'ClientRecorded', node: 'b', clients: [{ client: '04' }] });
    ev({ type: 'ClientRecorded', node: 'a', clients: [{ client: '03' }, { client: '01' }, { client: '02' }] });
    ev({ type: 'GraceStarted', recoveryEpoch: 1, nodes: ['b', 'a'], epoch: 2 });
    ev({ type: 'ReclaimAccepted', node: 'a', recoveryEpoch: 1, clients: ['02'] });
    ev({ type: 'ReclaimAccepted', node: 'b', recoveryEpoch: 1, clients: ['04'] });
    const effects = ev({ type: 'GraceEnded', recoveryEpoch: 1, reason: 'deadline', abandonedNodes: ['a'], epoch: 2 });
    expect(effects.map((fx) => [fx.type, fx.node])).toEqual([['RecoveryClosed', 'a'], ['RecordsDropped', 'a'], ['RecoveryClosed', 'b']]);
    expect(effects[1]).toEqual({ type: 'RecordsDropped', node: 'a', reason: 'deadline', records: [{ client: '01', epoch: 1 }, { client: '03', epoch: 1 }] });
    const closed = effects[0];
    expect(closed?.type === 'RecoveryClosed' && [...closed.records.keys()].sort()).toEqual(['01', '02', '03']);
  });

  it('a restart reports the records it moved to be reclaimed and the completions it forgot; a restart inside grace keeps fresh records', () => {
    const { s, ev } = cluster();
    ev({ type: 'ClientRecorded', node: 'a', clients: [{ client: '01' }] });
    ev({ type: 'GraceStarted', recoveryEpoch: 1, nodes: ['a'], epoch: 2 });
    ev({ type: 'ReclaimAccepted', node: 'a', recoveryEpoch: 1, clients: ['01'] });
    ev({ type: 'ClientRecorded', node: 'a', clients: [{ client: '02' }] });
    ev({ type: 'ReclaimCompleted', node: 'a', clients: ['01'] });
    const effects = ev({ type: 'NodeJoinedGrace', node: 'a', recoveryEpoch: 1 });
    expect(effects).toHaveLength(1);
    const [restart] = effects;
    if (restart?.type !== 'NodeRestarted') throw new Error(`expected NodeRestarted, got ${restart?.type}`);
    expect([...restart.moved.keys()].sort()).toEqual(['01', '02']);
    expect([...restart.completedForgotten]).toEqual(['01']);
    expect(restart.recoveryEpoch).toBe(1);
    // The fresh record (02) is now one to reclaim, not lost (I6).
    expect([...s.records.get('a')!.recovery!.keys()].sort()).toEqual(['01', '02']);
  });

  it('a removal reports the records it dropped, with their epochs, and nothing for unknown clients', () => {
    const { ev } = cluster();
    ev({ type: 'ClientRecorded', node: 'a', clients: [{ client: '01' }] });
    expect(ev({ type: 'ClientRemoved', node: 'a', clients: ['01', '09'] })).toEqual([
      { type: 'RecordsDropped', node: 'a', reason: 'removed', records: [{ client: '01', epoch: 1 }] },
    ]);
    expect(ev({ type: 'ClientRemoved', node: 'a', clients: ['09'] })).toEqual([]);
  });

  it('the plain evolve of a fold builds the same state', () => {
    const events = [
      { type: 'ClientRecorded', node: 'a', clients: [{ client: '01' }, { client: '02' }] },
      { type: 'GraceStarted', recoveryEpoch: 1, nodes: ['a'], epoch: 2 },
      { type: 'ReclaimAccepted', node: 'a', recoveryEpoch: 1, clients: ['01'] },
      { type: 'GraceEnded', recoveryEpoch: 1, reason: 'all-reclaimed', abandonedNodes: [], epoch: 2 },
    ];
    const { s, ev } = cluster();
    const plain = initialClusterState();
    let n = 0;
    for (const e of [{ type: 'MemberAdded', node: 'a' }, { type: 'MemberAdded', node: 'b' }, ...events]) {
      evolve(plain, { ...base, id: `p${n++}`, epoch: plain.epoch, ...e } as GkEvent);
    }
    for (const e of events) ev(e);
    expect(plain.records).toEqual(s.records);
    expect([...s.records.get('a')!.current.keys()]).toEqual(['01']);
  });
});
