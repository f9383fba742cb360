import { InMemoryCluster } from '#testing';
import { checkClient, Command, graceDeadline, reclaimableClients } from './index';

const X = 'aa01', Y = 'bb02', Z = 'cc03';

/** A cluster of a and b; every command goes through the services' command handler over the in-memory event store. */
async function cluster(config: Record<string, unknown> = {}) {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const log = new InMemoryCluster('c1', () => now);
  const exec = (c: Command) => log.execute(c, 'test');
  const ok = async (c: Command) => {
    const r = await exec(c);
    if (!r.ok) throw new Error(`${c.type} rejected: ${r.rejection.message}`);
    return r;
  };
  await ok({ type: 'add', nodes: ['a', 'b'], config });
  return {
    log, exec, ok,
    advance: (ms: number) => { now += ms; },
    now: () => now,
    state: async () => (await log.load()).state,
    events: () => log.events(),
    create: (node: string, ...clients: string[]) => ok({ type: 'create', node, clients: clients.map((client) => ({ client })) }),
    reclaim: async (node: string, ...clients: string[]) => {
      const r = await ok({ type: 'reclaim', node, clients });
      return r.reply.kind === 'reclaim' ? r.reply.statuses : [];
    },
    complete: async (node: string, ...clients: string[]) => {
      const r = await ok({ type: 'reclaimComplete', node, clients });
      return r.reply.kind === 'reclaimComplete' ? r.reply.statuses : [];
    },
    mayGrant: async (node: string) => {
      const r = await ok({ type: 'mayGrant', node, now });
      return r.reply.kind === 'mayGrant' ? r.reply.status : undefined;
    },
  };
}

describe('reclaims', () => {
  it('no grace in force: NO_GRACE', async () => {
    const c = await cluster();
    await c.create('a', X);
    expect(await c.reclaim('a', X)).toEqual(['NFS4ERR_NO_GRACE']);
  });

  it('refusals outside grace are not stored (noise); inside grace they are (audits need them)', async () => {
    const c = await cluster();
    await c.create('a', X);
    await c.complete('a', X);
    const before = (await c.log.messages()).length;
    expect(await c.reclaim('a', X, Y)).toEqual(['NFS4ERR_NO_GRACE', 'NFS4ERR_NO_GRACE']);
    expect(await c.complete('a', X)).toEqual(['NFS4ERR_COMPLETE_ALREADY']);
    expect((await c.log.messages()).length).toBe(before);
    await c.ok({ type: 'start', nodes: ['b'] });
    expect(await c.reclaim('a', X)).toEqual(['NFS4ERR_NO_GRACE']);
    expect(await c.complete('a', X)).toEqual(['NFS4ERR_COMPLETE_ALREADY']);
    expect((await c.events()).filter((e) => e.type === 'ReclaimRejected')).toMatchObject([
      { node: 'a', rejections: [{ client: X, status: 'NFS4ERR_NO_GRACE', op: 'reclaim' }] },
      { node: 'a', rejections: [{ client: X, status: 'NFS4ERR_COMPLETE_ALREADY', op: 'reclaim_complete' }] },
    ]);
  });

  it('a client with a record of epoch R on a recovering node reclaims; one without gets RECLAIM_BAD', async () => {
    const c = await cluster();
    await c.create('a', X);
    await c.ok({ type: 'start', nodes: ['a'] });
    expect(await c.reclaim('a', X, Y, X)).toEqual(['OK', 'NFS4ERR_RECLAIM_BAD', 'OK']);
    const accepted = (await c.events()).filter((e) => e.type === 'ReclaimAccepted');
    expect(accepted).toMatchObject([{ node: 'a', recoveryEpoch: 1, clients: [X], epoch: 2 }]);
    expect((await c.events()).at(-1)).toMatchObject({ type: 'ReclaimRejected', rejections: [{ client: Y, status: 'NFS4ERR_RECLAIM_BAD', op: 'reclaim' }] });
  });

  it('GRACE while some member does not enforce yet (retry later)', async () => {
    const c = await cluster();
    await c.create('a', X);
    await c.ok({ type: 'noenforce', nodes: ['b'] });
    await c.ok({ type: 'start', nodes: ['a'] });
    expect(await c.reclaim('a', X)).toEqual(['NFS4ERR_GRACE']);
    await c.ok({ type: 'enforce', nodes: ['b'] });
    expect(await c.reclaim('a', X)).toEqual(['OK']);
  });

  it('a node without NEED accepts no reclaim (its clients lost nothing)', async () => {
    const c = await cluster();
    await c.create('b', X);
    await c.ok({ type: 'start', nodes: ['a'] });
    expect(await c.reclaim('b', X)).toEqual(['NFS4ERR_NO_GRACE']);
  });

  it('after RECLAIM_COMPLETE: reclaim gets NO_GRACE, a second RECLAIM_COMPLETE gets COMPLETE_ALREADY', async () => {
    const c = await cluster();
    await c.create('a', X);
    await c.ok({ type: 'start', nodes: ['a'] });
    expect(await c.complete('a', X)).toEqual(['OK']);
    expect(await c.reclaim('a', X)).toEqual(['NFS4ERR_NO_GRACE']);
    expect(await c.complete('a', X)).toEqual(['NFS4ERR_COMPLETE_ALREADY']);
  });

  it('records of nodes without NEED carry over; a node with NEED starts the new epoch empty', async () => {
    const c = await cluster();
    await c.create('a', X);
    await c.create('b', Y);
    await c.ok({ type: 'start', nodes: ['a'] });
    const s = await c.state();
    expect([...s.records.get('a')!.current.keys()]).toEqual([]);
    expect([...s.records.get('a')!.recovery!.keys()]).toEqual([X]);
    expect([...s.records.get('b')!.current.keys()]).toEqual([Y]);
    expect(reclaimableClients(s, 'a')).toEqual([X]);
    expect(checkClient(s, 'a', X)).toBe('OK');
    expect(checkClient(s, 'b', Y)).toBe('OK');
  });

  it('grace end invalidates every unreclaimed record of epoch R (I4); reclaimed ones live on in C', async () => {
    const c = await cluster();
    await c.create('a', X, Y);
    await c.ok({ type: 'start', nodes: ['a'] });
    await c.reclaim('a', X);
    await c.ok({ type: 'lift', nodes: ['a'] });
    const s = await c.state();
    expect(checkClient(s, 'a', X)).toBe('OK');
    expect(checkClient(s, 'a', Y)).toBe('NFS4ERR_RECLAIM_BAD');
    await c.ok({ type: 'start', nodes: ['a'] });
    expect(await c.reclaim('a', X, Y)).toEqual(['OK', 'NFS4ERR_RECLAIM_BAD']);
  });

  it('RFC 7530 edge condition 1: a client whose record was removed (lease expired) cannot reclaim after a reboot', async () => {
    const c = await cluster();
    await c.create('a', X);
    await c.ok({ type: 'removeClients', node: 'a', clients: [X] }); // A's lease expired during a partition
    await c.create('a', Y); // B takes and releases the conflicting lock
    await c.ok({ type: 'start', nodes: ['a'] }); // reboot
    expect(await c.reclaim('a', X)).toEqual(['NFS4ERR_RECLAIM_BAD']);
  });

  it('RFC 7530 edge condition 2: a client that missed one grace period cannot reclaim in the next', async () => {
    const c = await cluster();
    await c.create('a', X);
    await c.ok({ type: 'start', nodes: ['a'] }); // reboot: A cannot reclaim before grace ends
    await c.create('a', Y);
    await c.reclaim('a', Y); // RECLAIM_BAD: Y is new; irrelevant
    await c.ok({ type: 'lift', nodes: ['a'] }); // grace ends; B takes and releases the lock
    await c.ok({ type: 'start', nodes: ['a'] }); // second reboot
    expect(await c.reclaim('a', X)).toEqual(['NFS4ERR_RECLAIM_BAD']);
  });

  it('restart during grace (same epoch): records of R are re-read, reclaims and completions start over', async () => {
    const c = await cluster();
    await c.create('a', X, Y);
    await c.ok({ type: 'start', nodes: ['a'] });
    expect(await c.reclaim('a', X)).toEqual(['OK']);
    expect(await c.complete('a', X)).toEqual(['OK']);
    await c.ok({ type: 'start', nodes: ['a'] }); // a crashes and restarts before grace ends
    expect(await c.state()).toMatchObject({ epoch: 2, recoveryEpoch: 1 });
    expect(reclaimableClients(await c.state(), 'a').sort()).toEqual([X, Y]);
    expect(await c.reclaim('a', X, Y)).toEqual(['OK', 'OK']);
  });

  it('a client created during grace survives a restart in the same grace period (I6), and must reclaim again (as nfsdcltrack)', async () => {
    const c = await cluster();
    await c.create('a', X);
    await c.ok({ type: 'start', nodes: ['a'] });
    await c.create('a', Y); // a new client confirmed during grace: its create was acknowledged
    await c.ok({ type: 'start', nodes: ['a'] }); // a restarts before grace ends
    expect(checkClient(await c.state(), 'a', Y)).toBe('OK');
    expect(reclaimableClients(await c.state(), 'a').sort()).toEqual([X, Y].sort());
    expect(await c.reclaim('a', Y)).toEqual(['OK']);
    await c.ok({ type: 'lift', nodes: ['a'] });
    expect(checkClient(await c.state(), 'a', Y)).toBe('OK');
    expect(checkClient(await c.state(), 'a', X)).toBe('NFS4ERR_RECLAIM_BAD');
  });

  it('a survivor that joins grace later must have every client it held reclaim, including those created during grace', async () => {
    const c = await cluster();
    await c.create('b', X);
    await c.ok({ type: 'start', nodes: ['a'] });
    await c.create('b', Y); // created in epoch C while b was not recovering
    await c.ok({ type: 'start', nodes: ['b'] });
    expect(reclaimableClients(await c.state(), 'b').sort()).toEqual([X, Y].sort());
    expect(await c.reclaim('b', X, Z)).toEqual(['OK', 'NFS4ERR_RECLAIM_BAD']);
    await c.ok({ type: 'lift', nodes: ['a', 'b'] });
    expect(checkClient(await c.state(), 'b', Y)).toBe('NFS4ERR_RECLAIM_BAD'); // not reclaimed: dropped (I4)
  });

  it('a create during grace keeps a client that did not need to reclaim', async () => {
    const c = await cluster();
    await c.create('a', X);
    await c.ok({ type: 'start', nodes: ['a'] });
    await c.complete('a', X);
    await c.create('a', X); // v4.1: RECLAIM_COMPLETE with nothing to reclaim, then the record is written
    await c.ok({ type: 'lift', nodes: ['a'] });
    expect(checkClient(await c.state(), 'a', X)).toBe('OK');
  });

  it('removing an unknown client appends nothing', async () => {
    const c = await cluster();
    const before = (await c.log.version());
    await c.ok({ type: 'removeClients', node: 'a', clients: [Z] });
    expect((await c.log.version())).toBe(before);
  });

  it('an unchanged create appends nothing (already durable), a new principal hash is recorded', async () => {
    const c = await cluster();
    await c.create('a', X);
    const v = (await c.log.version());
    await c.create('a', X);
    expect((await c.log.version())).toBe(v);
    await c.ok({ type: 'create', node: 'a', clients: [{ client: X, principalHash: 'ff' }] });
    expect((await c.log.version())).toBe(v + 1);
    expect((await c.state()).records.get('a')!.current.get(X)).toMatchObject({ principalHash: 'ff', epoch: 1 });
  });
});

describe('grants (I1, I2)', () => {
  it('all-clear: no grant while R ≠ 0; the first grant of an epoch is recorded once', async () => {
    const c = await cluster();
    expect(await c.mayGrant('a')).toBe('OK');
    expect(await c.mayGrant('b')).toBe('OK');
    expect((await c.events()).filter((e) => e.type === 'FirstNonReclaimGrant')).toHaveLength(1);
    await c.ok({ type: 'start', nodes: ['a'] });
    expect(await c.mayGrant('b')).toBe('NFS4ERR_GRACE');
    c.advance(10 * 90_000);
    expect(await c.mayGrant('b')).toBe('NFS4ERR_GRACE');
    await c.ok({ type: 'lift', nodes: ['a'] });
    expect(await c.mayGrant('b')).toBe('OK');
    expect((await c.events()).filter((e) => e.type === 'FirstNonReclaimGrant')).toHaveLength(2);
  });

  it('first-exit: a finished node whose grace time passed may grant, and that ends recovery for all', async () => {
    const c = await cluster({ exitPolicy: 'first-exit', graceTimeMs: 1000 });
    await c.create('a', X);
    await c.ok({ type: 'start', nodes: ['a', 'b'] });
    await c.ok({ type: 'lift', nodes: ['b'] });
    expect(await c.mayGrant('b')).toBe('NFS4ERR_GRACE'); // its own grace time has not passed
    c.advance(1000);
    expect(await c.mayGrant('a')).toBe('NFS4ERR_GRACE'); // a still has clients to recover
    expect(await c.mayGrant('b')).toBe('OK');
    expect((await c.events()).slice(-2)).toMatchObject([
      { type: 'FirstNonReclaimGrant', node: 'b' },
      { type: 'GraceEnded', reason: 'first-non-reclaim-grant', abandonedNodes: ['a'] },
    ]);
    expect(await c.reclaim('a', X)).toEqual(['NFS4ERR_NO_GRACE']);
  });
});

describe('deadline', () => {
  it('is one grace time after start, extended by reclaims, never beyond 2 × grace time', async () => {
    const c = await cluster({ graceTimeMs: 10_000, leaseTimeMs: 4_000 });
    await c.create('a', X, Y, Z);
    const t0 = c.now();
    await c.ok({ type: 'start', nodes: ['a'] });
    expect(graceDeadline(await c.state())).toBe(t0 + 10_000);
    c.advance(8_000);
    await c.reclaim('a', X);
    expect(graceDeadline(await c.state())).toBe(t0 + 12_000);
    c.advance(10_000);
    await c.reclaim('a', Y);
    expect(graceDeadline(await c.state())).toBe(t0 + 20_000);
  });

  it('abandon: at the deadline members still needing grace are abandoned; not a moment before', async () => {
    const c = await cluster({ graceTimeMs: 10_000 });
    await c.create('a', X);
    const t0 = c.now();
    await c.ok({ type: 'start', nodes: ['a'] });
    expect(await c.exec({ type: 'expire', now: t0 + 9_999 })).toMatchObject({ ok: false, rejection: { code: 'NOT_YET' } });
    await c.ok({ type: 'expire', now: t0 + 10_000 });
    expect((await c.events()).at(-1)).toMatchObject({ type: 'GraceEnded', reason: 'deadline', abandonedNodes: ['a'] });
    expect(checkClient(await c.state(), 'a', X)).toBe('NFS4ERR_RECLAIM_BAD');
  });

  it('wait: the deadline never ends grace while a member needs it', async () => {
    const c = await cluster({ graceTimeMs: 10_000, deadlinePolicy: 'wait' });
    await c.ok({ type: 'start', nodes: ['a'] });
    expect(await c.exec({ type: 'expire', now: c.now() + 1e9 })).toMatchObject({ ok: false, rejection: { code: 'WAIT_POLICY' } });
    expect((await c.state()).recoveryEpoch).toBe(1);
  });
});
