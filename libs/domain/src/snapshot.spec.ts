import { initialClusterState } from './state';
import { narrowToNodes, snapshotOf, SnapshotShapeError, stateFromSnapshot } from './snapshot';

// The round trip over random histories is the property test in libs/cluster-store/src/snapshots.spec.ts.
describe('state snapshot codec', () => {
  it('carries Maps and Sets wherever they stand, and undefined fields stay absent', () => {
    const s = initialClusterState({ trackedNodes: ['a'] });
    s.exists = true;
    s.members.set('a', { need: true, enforcing: true, graceStartedAt: 5 });
    s.records.set('a', { current: new Map([['0a', { epoch: 2, hasSession: true }]]), recovery: new Map([['0b', { epoch: 1 }]]), completed: new Set(['0a']) });
    expect(stateFromSnapshot(snapshotOf(s))).toEqual(s);
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    ['not an object', '3', /bad shape/],
    ['records not a Map', JSON.stringify({ ...JSON.parse(snapshotOf(initialClusterState())), records: [] }), /field records/],
    ['a Map of non-pairs', snapshotOf(initialClusterState()).replace('"records":{"$map":[]}', '"records":{"$map":[1]}'), /bad shape/],
  ])('refuses %s', (_what, text, why) => {
    expect(() => stateFromSnapshot(text)).toThrow(SnapshotShapeError);
    expect(() => stateFromSnapshot(text)).toThrow(why);
  });

  it('narrows a whole-cluster state to one node\'s view', () => {
    const s = initialClusterState();
    for (const n of ['a', 'b']) s.records.set(n, { current: new Map(), completed: new Set() });
    const narrowed = narrowToNodes(s, ['b']);
    expect([...narrowed.records.keys()]).toEqual(['b']);
    expect(narrowed.trackedNodes).toEqual(new Set(['b']));
  });
});
