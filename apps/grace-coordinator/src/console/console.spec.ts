import { PassThrough } from 'node:stream';
import type { ServerResponse } from 'node:http';
import type { GkEvent } from '#contracts';
import { evolve, initialClusterState, type ClusterState } from '#domain';
import { clusterNow } from './cluster-now';
import { ConsoleHub } from './console-hub';
import { GraceTimeline, MAX_PERIODS } from './grace-timeline';
import { auditRequest, ConsoleQueryError } from './registry-queries';

const T = Date.parse('2026-12-01T10:00:00.000Z');
let n = 0;
const ev = (body: Record<string, unknown>, seconds = 0, epoch = 2): GkEvent =>
  ({ v: 1, id: `e${++n}`, cluster: 'c', epoch, time: new Date(T + seconds * 1000).toISOString(), actor: 'test', ...body }) as GkEvent;

const cycle = (r: number): GkEvent[] => [
  ev({ type: 'GraceStarted', recoveryEpoch: r, nodes: ['b'] }, 0, r + 1),
  ev({ type: 'NodeJoinedGrace', node: 'a', recoveryEpoch: r }, 1, r + 1),
  ev({ type: 'ReclaimAccepted', node: 'b', recoveryEpoch: r, clients: ['0a01', '0a02'] }, 2.1, r + 1),
  ev({ type: 'ReclaimAccepted', node: 'b', recoveryEpoch: r, clients: ['0a03'] }, 2.9, r + 1),
  ev({ type: 'ReclaimAccepted', node: 'b', recoveryEpoch: r, clients: ['0a04'] }, 3.5, r + 1),
  ev({ type: 'ReclaimRejected', node: 'b', rejections: [{ client: '0a09', status: 'NFS4ERR_RECLAIM_BAD', op: 'reclaim' }] }, 4, r + 1),
  ev({ type: 'GraceEnded', recoveryEpoch: r, reason: 'deadline', abandonedNodes: ['a'] }, 9, r + 1),
];

describe('GraceTimeline', () => {
  it('folds a grace period: start, joins, reclaims per second, refusals, how and why it ended', () => {
    const t = new GraceTimeline();
    const changed = t.apply(cycle(1));
    expect(changed).toHaveLength(1);
    expect(t.all).toEqual([{
      recoveryEpoch: 1, startedAt: new Date(T).toISOString(), nodes: ['b'],
      joins: [{ node: 'a', at: new Date(T + 1000).toISOString() }],
      reclaimsAccepted: 4, reclaimsRejected: 1,
      reclaimsPerSecond: [{ second: new Date(T + 2000).toISOString(), count: 3 }, { second: new Date(T + 3000).toISOString(), count: 1 }],
      endedAt: new Date(T + 9000).toISOString(), reason: 'deadline', why: 'its deadline passed', abandonedNodes: ['a'],
    }]);
  });

  it('ignores what happens outside a grace period and keeps only the latest periods', () => {
    const t = new GraceTimeline();
    expect(t.apply([ev({ type: 'ReclaimAccepted', node: 'b', recoveryEpoch: 1, clients: ['0a01'] })])).toEqual([]);
    for (let r = 1; r <= MAX_PERIODS + 5; r++) t.apply(cycle(r));
    expect(t.all).toHaveLength(MAX_PERIODS);
    expect(t.all[0]!.recoveryEpoch).toBe(6);
  });
});

describe('GraceTimeline.adopt', () => {
  it('follows a grace period whose start it did not see (a view loaded from a snapshot) from the state on', () => {
    const s = initialClusterState();
    for (const e of [ev({ type: 'MemberAdded', node: 'b' }, 0, 1), ev({ type: 'GraceStarted', recoveryEpoch: 1, nodes: ['b'] }, 0, 2)]) evolve(s, e);
    const t = new GraceTimeline();
    expect(t.adopt(s)).toMatchObject({ recoveryEpoch: 1, nodes: ['b'], startedAt: new Date(T).toISOString(), joinedLate: true });
    expect(t.adopt(s)).toBeUndefined();
    t.apply([ev({ type: 'GraceEnded', recoveryEpoch: 1, reason: 'admin', abandonedNodes: ['b'] }, 5)]);
    expect(t.all).toHaveLength(1);
    expect(t.all[0]).toMatchObject({ why: 'an administrator ended it', abandonedNodes: ['b'] });
    expect(new GraceTimeline().adopt(initialClusterState())).toBeUndefined();
  });
});

describe('clusterNow', () => {
  it('counts each recovering node\'s reclaimed clients out of those it may reclaim', () => {
    const s: ClusterState = initialClusterState();
    const events: GkEvent[] = [
      ev({ type: 'ClusterConfigured', config: s.config }, 0, 1),
      ev({ type: 'MemberAdded', node: 'a' }, 0, 1), ev({ type: 'MemberAdded', node: 'b' }, 0, 1),
      ev({ type: 'ClientRecorded', node: 'b', clients: [{ client: '0a01' }, { client: '0a02' }, { client: '0a03' }] }, 0, 1),
      ev({ type: 'GraceStarted', recoveryEpoch: 1, nodes: ['b'] }, 1, 2),
      ev({ type: 'ReclaimAccepted', node: 'b', recoveryEpoch: 1, clients: ['0a01'] }, 2, 2),
    ];
    for (const e of events) evolve(s, e);
    const now = clusterNow(s, 7, T + 5000);
    expect(now.progress).toEqual([
      { node: 'a', need: false, enforcing: expect.any(Boolean), reclaimable: 0, reclaimed: 0 },
      { node: 'b', need: true, enforcing: expect.any(Boolean), reclaimable: 3, reclaimed: 1 },
    ]);
    expect(now).toMatchObject({ version: 7, inGrace: true, recoveryEpoch: 1, needing: ['b'], serverTime: new Date(T + 5000).toISOString() });
    evolve(s, ev({ type: 'GraceEnded', recoveryEpoch: 1, reason: 'admin', abandonedNodes: ['b'] }, 3, 2));
    expect(clusterNow(s, 8, T).lastGraceEndWhy).toBe('an administrator ended it');
  });
});

/** A response stand-in that records what was written and can pretend to be slow. */
function response(buffered = 0) {
  const sink = new PassThrough();
  let text = '';
  const res = Object.assign(sink, {
    writeHead: () => res,
    write: (chunk: string) => { text += chunk; return true; },
  });
  Object.defineProperty(res, 'writableLength', { get: () => buffered });
  return { res: res as unknown as ServerResponse, text: () => text, destroyed: () => sink.destroyed };
}

describe('ConsoleHub', () => {
  it('sends the state and timeline on follow, then coalesced changes to the cluster\'s followers only', () => {
    jest.useFakeTimers();
    const hub = new ConsoleHub({ flushMs: 100, heartbeatMs: 1000 });
    try {
      const s = initialClusterState();
      const a = response();
      const b = response();
      expect(hub.follow('c', a.res, s, 1)).toBe(true);
      expect(hub.follow('other', b.res, s, 1)).toBe(true);
      expect(a.text()).toMatch(/^retry: 2000\n\nevent: now\ndata: \{.*\}\n\nevent: timeline\ndata: \[\]\n\n$/s);
      const before = a.text().length;
      for (const e of cycle(1)) hub.applied('c', [e], s, 2);
      expect(a.text().length).toBe(before);
      jest.advanceTimersByTime(100);
      const sent = a.text().slice(before);
      expect(sent.match(/event: now/g)).toHaveLength(1);
      expect(sent.match(/event: period/g)).toHaveLength(1);
      expect(b.text()).not.toContain('event: period');
      jest.advanceTimersByTime(1000);
      expect(a.text()).toContain(': keep-alive\n\n');
    } finally {
      hub.close();
      jest.useRealTimers();
    }
  });

  it('refuses followers beyond its bound and cuts off one that does not read', () => {
    const hub = new ConsoleHub({ maxClients: 2, maxBufferedBytes: 10, heartbeatMs: 60_000 });
    try {
      const s = initialClusterState();
      const slow = response(11);
      expect(hub.follow('c', response().res, s, 1)).toBe(true);
      expect(hub.follow('c', slow.res, s, 1)).toBe(true);
      expect(slow.destroyed()).toBe(true);
      expect(hub.clientCount).toBe(1);
      expect(hub.follow('c', response().res, s, 1)).toBe(true);
      expect(hub.follow('c', response().res, s, 1)).toBe(false);
    } finally {
      hub.close();
    }
  });
});

describe('audit requests', () => {
  it('turns an owner typed as text into its client id, and says what is wrong with bad input', () => {
    expect(auditRequest({ owner: 'Linux NFS' })).toMatchObject({ op: 'audit', client: Buffer.from('Linux NFS').toString('hex') });
    expect(auditRequest({ epoch: '3' })).toMatchObject({ op: 'audit', epoch: 3 });
    for (const q of [{}, { owner: 'x', node: 'a' }, { client: 'XYZ' }, { epoch: '-1' }, { node: 'a b' }, { owner: 'x'.repeat(1025) }, { owner: ['a', 'b'] as unknown as string }]) {
      expect(() => auditRequest(q)).toThrow(ConsoleQueryError);
    }
  });

});
