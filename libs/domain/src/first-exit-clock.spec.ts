import fc from 'fast-check';
import { InMemoryCluster } from '#testing';
import { Command, ownGraceBegan } from './index';

/**
 * I7 under `first-exit` (issue 10 item 9): a node's own grace is measured on the agent's
 * monotonic clock. Whatever its wall clock does (jumps forward, goes back), `mayGrant` is OK
 * only once the monotonic measure of this very grace start reached the grace time: grace never
 * ends earlier than it would with a right clock.
 */
const GRACE_MS = 60_000;

async function finishedNodeInGrace() {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const log = new InMemoryCluster('c1', () => t0);
  const ok = async (c: Command) => {
    const r = await log.execute(c, 'test');
    if (!r.ok) throw new Error(`${c.type} rejected: ${r.rejection.message}`);
    return r;
  };
  await ok({ type: 'add', nodes: ['a', 'b'], config: { exitPolicy: 'first-exit', graceTimeMs: GRACE_MS } });
  await ok({ type: 'create', node: 'a', clients: [{ client: 'aa01' }] });
  await ok({ type: 'start', nodes: ['a', 'b'] });
  await ok({ type: 'lift', nodes: ['b'] }); // b has nothing left to recover: only its grace time holds it
  const began = ownGraceBegan((await log.load()).state, 'b')!;
  return { log, ok, began, t0 };
}

describe('first-exit on the monotonic clock (I7)', () => {
  it('a wall clock stepped forward or back never ends a node\'s grace before its monotonic grace time', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Monotonic time elapsed since the agent saw b's grace start, and the wall clock's error
        // (from hours behind to hours ahead: a step either way).
        fc.integer({ min: 0, max: 3 * GRACE_MS }),
        fc.integer({ min: -6 * 3_600_000, max: 6 * 3_600_000 }),
        async (elapsedMs, wallError) => {
          const c = await finishedNodeInGrace();
          const wall = c.t0 + elapsedMs + wallError;
          const r = await c.ok({ type: 'mayGrant', node: 'b', now: wall, ownGrace: { began: c.began, elapsedMs } });
          const granted = r.reply.kind === 'mayGrant' && r.reply.status === 'OK';
          // Never earlier: OK implies the monotonic grace time passed (and the wall clock agreed).
          if (granted) expect(elapsedMs).toBeGreaterThanOrEqual(GRACE_MS);
          // A right or slow wall clock is no reason to wait past the monotonic grace time... only a
          // wall clock behind the event time may delay (later is allowed).
          if (elapsedMs >= GRACE_MS && wallError >= 0) expect(granted).toBe(true);
          if (granted) expect(r.events.map((e) => e.type)).toEqual(['FirstNonReclaimGrant', 'GraceEnded']);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a measure of another grace start (the node restarted since) does not count', async () => {
    const c = await finishedNodeInGrace();
    const r = await c.ok({ type: 'mayGrant', node: 'b', now: c.t0 + 10 * GRACE_MS, ownGrace: { began: c.began - 1, elapsedMs: 10 * GRACE_MS } });
    expect(r.reply).toMatchObject({ kind: 'mayGrant', status: 'NFS4ERR_GRACE' });
  });

  it('the same wall-clock jump that used to end grace at once is refused (the old rule compared the wall clock only)', async () => {
    const c = await finishedNodeInGrace();
    const r = await c.ok({ type: 'mayGrant', node: 'b', now: c.t0 + 2 * GRACE_MS, ownGrace: { began: c.began, elapsedMs: 1_000 } });
    expect(r.reply).toMatchObject({ kind: 'mayGrant', status: 'NFS4ERR_GRACE' });
    expect(r.events).toEqual([]);
  });
});
