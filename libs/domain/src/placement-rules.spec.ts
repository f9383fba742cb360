import { InMemoryCluster } from '#testing';
import { Command, dumpText, placementOf, summarize, Via } from './index';

const X = 'aa01', Y = 'bb02';

/** A cluster of a, b and c, every command through the services' command handler over the in-memory store. */
async function cluster() {
  const log = new InMemoryCluster('c1', () => Date.parse('2026-01-01T00:00:00Z'));
  const exec = (c: Command) => log.execute(c, 'test');
  const ok = async (c: Command) => {
    const r = await exec(c);
    if (!r.ok) throw new Error(`${c.type} rejected: ${r.rejection.code} ${r.rejection.message}`);
    return r;
  };
  await ok({ type: 'add', nodes: ['a', 'b', 'c'] });
  return {
    exec, ok,
    state: async () => (await log.load()).state,
    events: () => log.events(),
    reclaim: async (node: string, via: Via | undefined, ...clients: string[]) => {
      const r = await exec({ type: 'reclaim', node, clients, via });
      return r.ok ? (r.reply.kind === 'reclaim' ? r.reply.statuses : []) : r.rejection.code;
    },
  };
}

describe('move: failover and failback (SPEC §2 identities, I8)', () => {
  it('puts the identity into recovery as a restart does, placed on the new host at generation 1', async () => {
    const c = await cluster();
    await c.ok({ type: 'create', node: 'b', clients: [{ client: X }] });
    const r = await c.ok({ type: 'move', identity: 'b', host: 'a' });
    expect(r.events.map((e) => e.type)).toEqual(['IdentityMoved', 'GraceStarted']);
    expect(r.events[0]).toMatchObject({ node: 'b', fromHost: 'b', toHost: 'a', generation: 1 });
    const s = await c.state();
    expect(placementOf(s, 'b')).toEqual({ host: 'a', generation: 1 });
    expect(placementOf(s, 'a')).toEqual({ host: 'a', generation: 0 });
    // dump stays ganesha-exact: identities and their flags, nothing about hosts.
    expect(dumpText(s)).toBe(`cur=2 rec=1\n${'='.repeat(54)}\na\t E\nb\tNE\nc\t E\n`);
    expect(summarize(s).placements).toEqual([{ node: 'b', host: 'a', generation: 1 }]);
  });

  it('a move during a grace period in force joins it', async () => {
    const c = await cluster();
    await c.ok({ type: 'start', nodes: ['c'] });
    const r = await c.ok({ type: 'move', identity: 'b', host: 'a' });
    expect(r.events.map((e) => e.type)).toEqual(['IdentityMoved', 'NodeJoinedGrace']);
    expect((await c.state()).recoveryEpoch).toBe(1);
  });

  it("the identity's clients reclaim through the new host and no other; the old host is fenced", async () => {
    const c = await cluster();
    await c.ok({ type: 'create', node: 'b', clients: [{ client: X }, { client: Y }] });
    await c.ok({ type: 'move', identity: 'b', host: 'a' });
    expect(await c.reclaim('b', undefined, X)).toBe('FENCED');
    expect(await c.reclaim('b', { host: 'b', generation: 0 }, X)).toBe('FENCED');
    expect(await c.reclaim('b', { host: 'c', generation: 1 }, X)).toBe('FENCED');
    expect(await c.reclaim('b', { host: 'a', generation: 0 }, X)).toBe('FENCED');
    expect(await c.reclaim('b', { host: 'a', generation: 1 }, X)).toEqual(['OK']);
    const accepted = (await c.events()).filter((e) => e.type === 'ReclaimAccepted');
    expect(accepted).toEqual([expect.objectContaining({ node: 'b', host: 'a', clients: [X] })]);
    // Every write for b from the old placement is refused, not just reclaims.
    for (const cmd of [
      { type: 'create', node: 'b', clients: [{ client: 'cc03' }] },
      { type: 'removeClients', node: 'b', clients: [Y] },
      { type: 'reclaimComplete', node: 'b', clients: [Y] },
      { type: 'mayGrant', node: 'b', now: 0 },
    ] as Command[]) {
      const r = await c.exec(cmd);
      expect([cmd.type, r.ok || r.rejection.code]).toEqual([cmd.type, 'FENCED']);
    }
    const refused = await c.exec({ type: 'start', nodes: ['b'], addMissing: true, via: { host: 'b', generation: 0 } });
    expect(refused.ok || refused.rejection).toEqual({ code: 'FENCED', message: 'fenced: identity b is served by host a at placement generation 1; host b acted at generation 0' });
  });

  it('failback is a move back: a later generation, so the instance from before the failover stays fenced', async () => {
    const c = await cluster();
    await c.ok({ type: 'create', node: 'b', clients: [{ client: X }] });
    await c.ok({ type: 'move', identity: 'b', host: 'a' });
    await c.ok({ type: 'move', identity: 'b', host: 'b' });
    expect(placementOf(await c.state(), 'b')).toEqual({ host: 'b', generation: 2 });
    expect(await c.reclaim('b', undefined, X)).toBe('FENCED');
    expect(await c.reclaim('b', { host: 'a', generation: 1 }, X)).toBe('FENCED');
    expect(await c.reclaim('b', { host: 'b', generation: 2 }, X)).toEqual(['OK']);
  });

  it('refuses an identity that is not a member and a host that is not known, with clear errors; a repeated move changes nothing', async () => {
    const c = await cluster();
    const notMember = await c.exec({ type: 'move', identity: 'z', host: 'a' });
    expect(notMember.ok || notMember.rejection).toEqual({ code: 'NOT_MEMBER', message: 'node z is not a cluster member' });
    const unknown = await c.exec({ type: 'move', identity: 'b', host: 'q' });
    expect(unknown.ok || unknown.rejection).toEqual({ code: 'UNKNOWN_HOST', message: 'host q is not known (known hosts: a, b, c); a host is known as a member or as the host of one' });
    await c.ok({ type: 'move', identity: 'b', host: 'a' });
    const again = await c.ok({ type: 'move', identity: 'b', host: 'a' });
    expect(again.events).toEqual([]);
    // A host stays known while it serves an identity, even after its own identity left.
    await c.ok({ type: 'move', identity: 'c', host: 'a' });
    await c.ok({ type: 'remove', nodes: ['a'] });
    expect((await c.exec({ type: 'move', identity: 'b', host: 'a' })).ok).toBe(true);
  });
});
