import { initialClusterState, type ClusterState } from '#domain';
import { OwnGraceClock } from './own-grace-clock';

function inGraceSince(began: number): ClusterState {
  const s = initialClusterState();
  s.exists = true;
  s.recoveryEpoch = 1;
  s.epoch = 2;
  s.grace = { startedAt: began, lastJoinAt: began, reclaimsAccepted: 0 };
  s.members.set('b', { need: false, enforcing: true, graceStartedAt: began });
  return s;
}

describe('OwnGraceClock', () => {
  it('measures from when the agent first saw the grace start, on the monotonic clock only', () => {
    let mono = 1_000;
    const clock = new OwnGraceClock('b', () => mono);
    const s = inGraceSince(Date.parse('2026-01-01T00:00:00Z'));
    clock.observe(s);
    mono += 5_000;
    expect(clock.measure(s)).toEqual({ began: s.grace!.startedAt, elapsedMs: 5_000 });
    mono += 1;
    expect(clock.measure(s)?.elapsedMs).toBe(5_001);
  });

  it('starts again for a new grace start, and measures nothing outside grace', () => {
    let mono = 0;
    const clock = new OwnGraceClock('b', () => mono);
    clock.observe(inGraceSince(100));
    mono = 50_000;
    expect(clock.measure(inGraceSince(200))).toEqual({ began: 200, elapsedMs: 0 });
    expect(clock.measure(initialClusterState())).toBeUndefined();
  });
});
