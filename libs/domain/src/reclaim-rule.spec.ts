import type { GkEvent } from '#contracts';
import { evolve } from './evolve';
import { checkClient, liftTakesEffect, recordStanding } from './queries';
import { RECLAIM_STATUS, reclaimCompleteReason, reclaimReason, reclaimStatus } from './reclaim-rule';
import { initialClusterState } from './state';

const base = { v: 1 as const, cluster: 'c', time: '2026-01-01T00:00:00.000Z', actor: 't' };

function cluster() {
  const s = initialClusterState();
  let n = 0;
  const ev = (e: object) => evolve(s, { ...base, id: `e${n++}`, epoch: s.epoch, ...e } as GkEvent);
  ev({ type: 'MemberAdded', node: 'a' });
  ev({ type: 'MemberAdded', node: 'b' });
  ev({ type: 'ClientRecorded', node: 'a', clients: [{ client: '01' }, { client: '02' }] });
  return { s, ev };
}

describe('the reclaim rule says which clause decided', () => {
  it('names each clause, in the order SPEC §2 reads them', () => {
    const { s, ev } = cluster();
    expect(reclaimReason(s, 'a', '01')).toBe('no-grace');
    ev({ type: 'GraceStarted', recoveryEpoch: 1, nodes: ['a'], epoch: 2 });
    ev({ type: 'ClientRecorded', node: 'a', clients: [{ client: '03' }] });
    expect(reclaimReason(s, 'a', '01')).toBe('holds-record-of-R');
    expect(reclaimReason(s, 'a', '03')).toBe('recorded-only-in-C');
    expect(reclaimReason(s, 'a', '09')).toBe('no-record');
    expect(reclaimReason(s, 'b', '01')).toBe('not-recovering');
    expect(reclaimReason(s, 'z', '01')).toBe('not-member');
    ev({ type: 'ReclaimCompleted', node: 'a', clients: ['02'] });
    expect(reclaimReason(s, 'a', '02')).toBe('already-completed');
    expect(reclaimCompleteReason(s, 'a', '02')).toBe('already-completed');
    expect(reclaimCompleteReason(s, 'a', '01')).toBe('first-completion');
    ev({ type: 'NodeEnforcementLifted', node: 'b' });
    expect(reclaimReason(s, 'a', '01')).toBe('not-all-enforcing');
    expect(reclaimStatus(s, 'a', '01')).toBe('NFS4ERR_GRACE');
  });

  it('maps every clause to the status SPEC §2 gives it', () => {
    expect(RECLAIM_STATUS).toEqual({
      'no-grace': 'NFS4ERR_NO_GRACE', 'not-all-enforcing': 'NFS4ERR_GRACE', 'already-completed': 'NFS4ERR_NO_GRACE',
      'not-member': 'NFS4ERR_NO_GRACE', 'not-recovering': 'NFS4ERR_NO_GRACE', 'recorded-only-in-C': 'NFS4ERR_RECLAIM_BAD',
      'no-record': 'NFS4ERR_RECLAIM_BAD', 'holds-record-of-R': 'OK',
    });
  });
});

describe('record and lift queries', () => {
  it('recordStanding / checkClient: a record of C, a record of R only, or none', () => {
    const { s, ev } = cluster();
    ev({ type: 'GraceStarted', recoveryEpoch: 1, nodes: ['a'], epoch: 2 });
    ev({ type: 'ReclaimAccepted', node: 'a', recoveryEpoch: 1, clients: ['01'] });
    expect([recordStanding(s, 'a', '01'), recordStanding(s, 'a', '02'), recordStanding(s, 'a', '09')]).toEqual(['current', 'recovery', 'none']);
    expect([checkClient(s, 'a', '02'), checkClient(s, 'a', '09')]).toEqual(['OK', 'NFS4ERR_RECLAIM_BAD']);
  });

  it('liftTakesEffect: only for a node with NEED while every member enforces', () => {
    const { s, ev } = cluster();
    expect(liftTakesEffect(s, 'a')).toBe(false);
    ev({ type: 'GraceStarted', recoveryEpoch: 1, nodes: ['a'], epoch: 2 });
    expect([liftTakesEffect(s, 'a'), liftTakesEffect(s, 'b')]).toEqual([true, false]);
    ev({ type: 'NodeEnforcementLifted', node: 'b' });
    expect(liftTakesEffect(s, 'a')).toBe(false);
  });
});
