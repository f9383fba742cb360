import type { GkEvent } from '#contracts';
import { InvariantOracle } from './invariant-oracle';

/**
 * The oracle's own reading of the restart rule (f2c4571, 8b8e78c), written from SPEC §2 and not
 * from the deciders: a (re)start inside grace makes every record the node holds reclaimable,
 * including those created fresh in that grace period; a record created after the last restart
 * is not one of epoch R.
 */
describe('InvariantOracle and restarts inside grace', () => {
  const base = { v: 1 as const, cluster: 'c', time: '2026-01-01T00:00:00.000Z', actor: 't' };
  function log() {
    const oracle = new InvariantOracle({ graceTimeMs: 90_000 });
    let C = 1;
    let n = 0;
    const ev = (e: object) => {
      const event = { ...base, id: `e${n++}`, epoch: C, ...e } as GkEvent;
      if (event.type === 'GraceStarted') C = event.epoch;
      oracle.observe([event], Date.parse(base.time));
    };
    ev({ type: 'MemberAdded', node: 'a' });
    ev({ type: 'ClientRecorded', node: 'a', clients: [{ client: 'old' }] });
    ev({ type: 'GraceStarted', recoveryEpoch: 1, nodes: ['a'], epoch: 2 });
    ev({ type: 'ClientRecorded', node: 'a', clients: [{ client: 'fresh' }] });
    ev({ type: 'ReclaimAccepted', node: 'a', recoveryEpoch: 1, clients: ['old'] });
    ev({ type: 'NodeJoinedGrace', node: 'a', recoveryEpoch: 1 });
    return { oracle, ev };
  }

  it('accepts reclaims, after the restart, of a reclaimed client and of one created fresh in the grace period', () => {
    const { oracle, ev } = log();
    expect(() => ev({ type: 'ReclaimAccepted', node: 'a', recoveryEpoch: 1, clients: ['old', 'fresh'] })).not.toThrow();
    expect(() => oracle.checkQuery('a', 'fresh', 'OK')).not.toThrow();
  });

  it('refuses (I3) a reclaim by a client recorded only after the last restart', () => {
    const { ev } = log();
    ev({ type: 'ClientRecorded', node: 'a', clients: [{ client: 'later' }] });
    expect(() => ev({ type: 'ReclaimAccepted', node: 'a', recoveryEpoch: 1, clients: ['later'] })).toThrow(/^I3: /);
  });

  it('counts a fresh record not reclaimed again after the restart as invalid once grace ends (I4)', () => {
    const { oracle, ev } = log();
    ev({ type: 'ReclaimAccepted', node: 'a', recoveryEpoch: 1, clients: ['old'] });
    ev({ type: 'GraceEnded', recoveryEpoch: 1, reason: 'admin', abandonedNodes: [] });
    expect(() => oracle.checkQuery('a', 'old', 'OK')).not.toThrow();
    expect(() => oracle.checkQuery('a', 'fresh', 'OK')).toThrow(/^I4: /);
  });
});
