import fc from 'fast-check';
import { InMemoryCluster } from '#testing';
import { Command, fenceReason, placementOf, silentFor, summarize, Via } from './index';

const X = 'aa01';
const DEAD_MS = 5_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');

/** A cluster of a, b and c with liveness configured, every command through the command handler. */
async function cluster(liveness?: Record<string, unknown> | null) {
  const log = new InMemoryCluster('c1', () => T0);
  const exec = (c: Command) => log.execute(c);
  const ok = (c: Command) => log.executeOk(c);
  await ok({ type: 'add', nodes: ['a', 'b', 'c'] });
  if (liveness !== null) await ok({ type: 'configure', config: { liveness: { deadAfterMs: DEAD_MS, ...liveness } } });
  return { exec, ok, state: async () => (await log.load()).state };
}

const silent = (identity: string, host = identity, silentForMs = DEAD_MS + 1): Command => ({ type: 'silent', identity, host, silentForMs });
const types = (r: { events: { type: string }[] }) => r.events.map((e) => e.type);

describe('silentFor: is the host silent? (I7)', () => {
  it('silent only past deadAfter on both clocks', () => {
    const last = { wall: T0, mono: 100 };
    expect(silentFor(last, { wall: T0 + DEAD_MS, mono: 100 + DEAD_MS }, DEAD_MS)).toBeUndefined();
    expect(silentFor(last, { wall: T0 + DEAD_MS + 7, mono: 100 + DEAD_MS + 7 }, DEAD_MS)).toBe(DEAD_MS + 7);
    // A wall clock stepped an hour forward does not make it silent; one stepped back delays it.
    expect(silentFor(last, { wall: T0 + 3_600_000, mono: 100 + 10 }, DEAD_MS)).toBeUndefined();
    expect(silentFor(last, { wall: T0 - 1000 + DEAD_MS + 7, mono: 100 + DEAD_MS + 7 }, DEAD_MS)).toBeUndefined();
  });

  it('property: a wall clock stepped or skewed either way can only report a host later, never earlier', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 4 * DEAD_MS }),              // true time since the host was last heard
      fc.integer({ min: -6 * 3_600_000, max: 6 * 3_600_000 }), // the wall clock's error (a step either way)
      fc.integer({ min: 100, max: 3 * DEAD_MS }),            // deadAfter
      (elapsed, wallError, deadAfter) => {
        const last = { wall: T0, mono: 1_000 };
        const measured = silentFor(last, { wall: T0 + elapsed + wallError, mono: 1_000 + elapsed }, deadAfter);
        const truth = silentFor(last, { wall: T0 + elapsed, mono: 1_000 + elapsed }, deadAfter);
        if (measured !== undefined) expect(elapsed).toBeGreaterThan(deadAfter);   // never early
        if (measured !== undefined) expect(measured).toBeLessThanOrEqual(elapsed); // never longer than it was
        expect(truth !== undefined).toBe(elapsed > deadAfter);                     // not vacuous: right clocks act on time
        if (wallError >= 0) expect(measured).toEqual(truth);                       // a fast wall clock changes nothing
      },
    ), { numRuns: 500 });
  });
});

describe('liveness configuration (configure, recorded in the log)', () => {
  it('merges field by field, defaults to policy wait, and null turns it off', async () => {
    const c = await cluster(null);
    await c.ok({ type: 'configure', config: { liveness: { deadAfterMs: 3000 } } });
    expect((await c.state()).config.liveness).toEqual({ deadAfterMs: 3000, policy: 'wait' });
    await c.ok({ type: 'configure', config: { liveness: { policy: 'move', standby: 'c' } } });
    expect((await c.state()).config.liveness).toEqual({ deadAfterMs: 3000, policy: 'move', standby: 'c' });
    await c.ok({ type: 'configure', config: { liveness: null } });
    expect((await c.state()).config.liveness).toBeUndefined();
  });

  it('refuses a move policy without a standby, a standby that is not a member, and a silly deadAfter', async () => {
    const c = await cluster(null);
    expect(await c.exec({ type: 'configure', config: { liveness: { deadAfterMs: 3000, policy: 'move' } } })).toMatchObject({ ok: false, rejection: { code: 'INVALID', message: expect.stringMatching(/needs a standby/) } });
    expect(await c.exec({ type: 'configure', config: { liveness: { deadAfterMs: 3000, policy: 'move', standby: 'z' } } })).toMatchObject({ ok: false, rejection: { code: 'NOT_MEMBER', message: expect.stringMatching(/standby host z is not a cluster member/) } });
    expect(await c.exec({ type: 'configure', config: { liveness: { deadAfterMs: 5 } } })).toMatchObject({ ok: false, rejection: { code: 'INVALID' } });
  });
});

describe('MemberSilent / MemberHeard: transitions only', () => {
  it('records silence once, then heard again once; status shows it with how long', async () => {
    const c = await cluster({ policy: 'wait' });
    const r = await c.ok(silent('b', 'b', 5_250));
    expect(r.events).toEqual([expect.objectContaining({ type: 'MemberSilent', node: 'b', host: 'b', silentForMs: 5_250, deadAfterMs: DEAD_MS, policy: 'wait' })]);
    expect(summarize(await c.state()).silent).toEqual([{ node: 'b', host: 'b', since: new Date(T0 - 5_250).toISOString(), reportedAt: new Date(T0).toISOString(), silentForMs: 5_250 }]);
    expect((await c.ok(silent('b', 'b', 9_000))).events).toEqual([]);
    expect(types(await c.ok({ type: 'heard', identity: 'b', host: 'b' }))).toEqual(['MemberHeard']);
    expect((await c.ok({ type: 'heard', identity: 'b', host: 'b' })).events).toEqual([]);
    expect(summarize(await c.state()).silent).toBeUndefined();
  });

  it('refuses a report not past deadAfter, for a non-member, or with detection off; ignores a host that no longer serves it', async () => {
    const c = await cluster({ policy: 'wait' });
    expect(await c.exec(silent('b', 'b', DEAD_MS))).toMatchObject({ ok: false, rejection: { code: 'NOT_YET' } });
    expect(await c.exec(silent('z'))).toMatchObject({ ok: false, rejection: { code: 'NOT_MEMBER' } });
    expect((await c.ok(silent('b', 'a'))).events).toEqual([]);
    const off = await cluster(null);
    expect(await off.exec(silent('b'))).toMatchObject({ ok: false, rejection: { code: 'INVALID', message: expect.stringMatching(/off/) } });
  });

  it('a move forgets the silence: the new host is watched afresh', async () => {
    const c = await cluster({ policy: 'wait' });
    await c.ok(silent('b'));
    await c.ok({ type: 'move', identity: 'b', host: 'a' });
    expect((await c.state()).silent.size).toBe(0);
    expect(types(await c.ok(silent('b', 'a')))).toEqual(['MemberSilent']);
  });
});

describe('liveness policies', () => {
  it('start-grace: the identity restarts in the log at once (grace starts; every member refuses new state)', async () => {
    const c = await cluster({ policy: 'start-grace' });
    await c.ok({ type: 'create', node: 'b', clients: [{ client: X }] });
    const r = await c.ok(silent('b'));
    expect(types(r)).toEqual(['MemberSilent', 'GraceStarted']);
    const s = await c.state();
    expect(s.recoveryEpoch).toBe(1);
    expect(s.members.get('b')).toMatchObject({ need: true, enforcing: true });
    const grant = await c.ok({ type: 'mayGrant', node: 'a', now: T0 });
    expect(grant.reply).toMatchObject({ status: 'NFS4ERR_GRACE' });
    // b's clients reclaim when b restarts on its host (its agent acts for it again) ...
    expect((await c.ok({ type: 'reclaim', node: 'b', clients: [X] })).reply).toMatchObject({ statuses: ['OK'] });
  });

  it('start-grace during a grace period in force joins it', async () => {
    const c = await cluster({ policy: 'start-grace' });
    await c.ok({ type: 'start', nodes: ['c'] });
    expect(types(await c.ok(silent('b')))).toEqual(['MemberSilent', 'NodeJoinedGrace']);
  });

  it('move: the identity moves to the standby through the move decision, and reclaims go through the standby only', async () => {
    const c = await cluster({ policy: 'move', standby: 'a' });
    await c.ok({ type: 'create', node: 'b', clients: [{ client: X }] });
    const r = await c.ok(silent('b'));
    expect(types(r)).toEqual(['MemberSilent', 'IdentityMoved', 'GraceStarted']);
    expect(r.events[1]).toMatchObject({ node: 'b', fromHost: 'b', toHost: 'a', generation: 1 });
    expect(await c.exec({ type: 'reclaim', node: 'b', clients: [X] })).toMatchObject({ ok: false, rejection: { code: 'FENCED' } });
    expect((await c.ok({ type: 'reclaim', node: 'b', clients: [X], via: { host: 'a', generation: 1 } })).reply).toMatchObject({ statuses: ['OK'] });
  });

  it('move refuses clearly: standby removed since, standby is the silent host, standby silent too (double failure)', async () => {
    const gone = await cluster({ policy: 'move', standby: 'c' });
    await gone.ok({ type: 'remove', nodes: ['c'] });
    expect((await gone.ok(silent('b'))).events).toEqual([expect.objectContaining({ type: 'MemberSilent', policyRefused: expect.stringMatching(/standby host c is not a cluster member/) })]);

    const self = await cluster({ policy: 'move', standby: 'a' });
    expect((await self.ok(silent('a'))).events).toEqual([expect.objectContaining({ type: 'MemberSilent', policyRefused: 'standby host a is the silent host itself' })]);

    const both = await cluster({ policy: 'move', standby: 'a' });
    await both.ok(silent('a'));
    const r = await both.ok(silent('b'));
    expect(r.events).toEqual([expect.objectContaining({ type: 'MemberSilent', node: 'b', policyRefused: expect.stringMatching(/standby host a is silent too .*double failure/) })]);
    expect(placementOf(await both.state(), 'b')).toEqual({ host: 'b', generation: 0 });
  });
});

describe('no reclaim through a host the log does not allow, whatever liveness does (I8 with liveness)', () => {
  const hosts = ['a', 'b', 'c'];
  const host = fc.constantFrom(...hosts);
  const command: fc.Arbitrary<Command> = fc.oneof(
    fc.record({ identity: host, host, silentForMs: fc.integer({ min: 0, max: 2 * DEAD_MS }) }).map((x) => ({ type: 'silent' as const, ...x })),
    fc.record({ identity: host, host }).map((x) => ({ type: 'heard' as const, ...x })),
    fc.record({ identity: host, host }).map((x) => ({ type: 'move' as const, ...x })),
    fc.constantFrom('wait', 'start-grace', 'move').chain((policy) => host.map((standby) => ({ type: 'configure' as const, config: { liveness: { policy: policy as 'wait', standby } } }))),
    // Through the identity's own host (right until it moves), or any host at any early generation.
    { weight: 4, arbitrary: host.chain((node) => fc.oneof(fc.constant({ host: node, generation: 0 }), fc.record({ host, generation: fc.integer({ min: 0, max: 2 }) }))
      .map((via) => ({ type: 'reclaim' as const, node, clients: [X], via }))) },
    { weight: 2, arbitrary: host.map((node) => ({ type: 'create' as const, node, clients: [{ client: X }] })) },
    { weight: 2, arbitrary: host.map((node) => ({ type: 'start' as const, nodes: [node] })) },
  );

  it('property: every accepted reclaim came through the identity\'s host and generation at that point of the log', async () => {
    const seen = { accepted: 0, fenced: 0 };
    await fc.assert(fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 40 }), async (commands) => {
      const c = await cluster({ policy: 'start-grace' });
      for (const cmd of commands) {
        const before = await c.state();
        const r = await c.exec(cmd);
        if (cmd.type !== 'reclaim') continue;
        const accepted = r.ok && r.reply.kind === 'reclaim' && r.reply.statuses.includes('OK');
        const fence = fenceReason(before, cmd.node, cmd.via as Via);
        if (accepted) expect(fence).toBeUndefined();
        if (fence) expect(r).toMatchObject({ ok: false, rejection: { code: 'FENCED' } });
        if (accepted) seen.accepted++;
        if (fence) seen.fenced++;
      }
    }), { numRuns: 150 });
    // Not vacuous: the schedules do get reclaims accepted, and fenced.
    expect(seen.accepted).toBeGreaterThan(0);
    expect(seen.fenced).toBeGreaterThan(0);
  });
});
