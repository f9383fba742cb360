import { ClusterState, initialClusterState } from '#domain';
import { Clocks, DeadlineTimer, ExpireOutcome, monotonicTarget } from './deadline-timer';

/** Hand-driven clocks: the wall clock can be set anywhere, the monotonic one follows jest's timers. */
class TestClocks implements Clocks {
  wallOffset = 0;
  constructor(private readonly start = Date.now()) {}
  mono = () => Date.now() - this.start;
  wall = () => Date.now() + this.wallOffset;
}

/** A cluster in grace whose deadline is `deadline` (grace time 10 s after `startedAt`). */
function inGrace(startedAt: number, graceTimeMs = 10_000): ClusterState {
  const s = initialClusterState();
  s.exists = true;
  s.epoch = 2;
  s.recoveryEpoch = 1;
  s.config = { ...s.config, graceTimeMs };
  s.members.set('a', { need: true, enforcing: true });
  s.grace = { startedAt, lastJoinAt: startedAt, reclaimsAccepted: 0 };
  return s;
}

describe('monotonicTarget', () => {
  const clocks = (wall: number, mono: number): Clocks => ({ wall: () => wall, mono: () => mono });

  it('turns the remaining wall-clock time into a monotonic instant', () => {
    expect(monotonicTarget(10_000, clocks(4_000, 500))).toBe(6_500);
  });

  it('never waits less than the deadline is away from the event seen live, whatever the local wall clock says', () => {
    // The local clock runs 5 s fast: by it only 1 s would be left, but the event that set the
    // deadline was written 6 s before it, and was seen just now.
    expect(monotonicTarget(10_000, clocks(9_000, 500), 4_000)).toBe(6_500);
    // A local clock that is slow only makes the wait longer.
    expect(monotonicTarget(10_000, clocks(1_000, 500), 4_000)).toBe(9_500);
  });

  it('a deadline already past fires now', () => {
    expect(monotonicTarget(10_000, clocks(20_000, 500))).toBe(500);
  });
});

describe('DeadlineTimer', () => {
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  function setup(state: ClusterState, outcomes: ExpireOutcome[] = []) {
    const clocks = new TestClocks();
    const calls: number[] = [];
    const seen: ExpireOutcome[] = [];
    const timer = new DeadlineTimer({
      clocks,
      state: () => state,
      expire: async (now) => {
        calls.push(now);
        return outcomes.shift() ?? 'ended';
      },
      onOutcome: (o) => seen.push(o),
      maxTimerMs: 3_000,
    });
    return { clocks, calls, seen, timer };
  }

  it('tries expire once the deadline is reached on the monotonic clock, not before', async () => {
    const state = inGrace(Date.now() - 4_000); // 6 s left
    const { calls, seen, timer } = setup(state);
    timer.observe();
    await jest.advanceTimersByTimeAsync(5_999);
    expect(calls).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls).toEqual([Date.now()]);
    expect(seen).toEqual(['ended']);
    timer.close();
  });

  it('a wall clock jumping forward after the load does not bring the end forward', async () => {
    const state = inGrace(Date.now() - 4_000); // 6 s left
    const { clocks, calls, timer } = setup(state);
    timer.observe();
    clocks.wallOffset = 60_000; // someone sets the clock a minute ahead
    await jest.advanceTimersByTimeAsync(5_999);
    expect(calls).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(1);
    timer.close();
  });

  it('when the wall clock went back, the decider says not yet and the timer waits what is left by it', async () => {
    const state = inGrace(Date.now() - 4_000);
    const { clocks, calls, seen, timer } = setup(state, ['not-yet']);
    timer.observe();
    clocks.wallOffset = -2_000;
    await jest.advanceTimersByTimeAsync(6_000);
    expect(seen).toEqual(['not-yet']);
    await jest.advanceTimersByTimeAsync(1_999);
    expect(calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    timer.close();
  });

  it('under deadlinePolicy wait, it waits for the next change before trying again', async () => {
    const state = inGrace(Date.now() - 10_000);
    const { calls, seen, timer } = setup(state, ['wait-policy']);
    timer.observe();
    await jest.advanceTimersByTimeAsync(0);
    expect(seen).toEqual(['wait-policy']);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(calls).toHaveLength(1);
    expect(timer.nextAttemptInMs).toBeUndefined();
    timer.observe(); // e.g. configure --deadline-policy abandon
    await jest.advanceTimersByTimeAsync(0);
    expect(seen).toEqual(['wait-policy', 'ended']);
    timer.close();
  });

  it('a deadline moved by a change re-arms the timer; no grace, no timer', async () => {
    const state = inGrace(Date.now()); // 10 s left
    const { calls, timer } = setup(state);
    timer.observe();
    expect(timer.nextAttemptInMs).toBe(10_000);
    state.grace!.lastJoinAt = Date.now() + 5_000; // a node joined later: deadline 15 s from now
    await jest.advanceTimersByTimeAsync(5_000);
    timer.observe(Date.now());
    expect(timer.nextAttemptInMs).toBe(10_000);
    await jest.advanceTimersByTimeAsync(9_999);
    expect(calls).toEqual([]);
    state.recoveryEpoch = 0;
    state.grace = undefined;
    timer.observe(Date.now());
    await jest.advanceTimersByTimeAsync(60_000);
    expect(calls).toEqual([]);
    timer.close();
  });

  it('retries after a store error, and never spins while the view lags behind an end', async () => {
    const state = inGrace(Date.now() - 10_000);
    const { calls, seen, timer } = setup(state, ['error', 'not-in-grace']);
    timer.observe();
    await jest.advanceTimersByTimeAsync(0);
    expect(seen).toEqual(['error']);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(seen).toEqual(['error', 'not-in-grace']);
    await jest.advanceTimersByTimeAsync(999);
    expect(calls).toHaveLength(2);
    timer.close();
  });
});
