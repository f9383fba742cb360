/**
 * The JSON socket API (SPEC §4.1) of an in-process agent on real NATS: every op and status,
 * bad input, pipelining, grace_done waiting for the cluster, restart from the log.
 */
import { readFileSync } from 'node:fs';
import { loadCluster } from '#cluster-store';
import { waitUntil } from '#testing';
import { agentsOnNats } from '../test/agents-on-nats';

jest.setTimeout(60_000);
const bed = agentsOnNats('agentjson');
const { names, started } = bed;
const agent = (cluster: string, node: string) => bed.agent(cluster, node);

const X = '0a01';
const Y = '0a02';
const Z = '0a03';

describe('JSON API ops', () => {
  it('answers every op with the statuses of SPEC §4.1 through a restart and its grace period', async () => {
    const { a, c } = await agent('ops', 'n1');
    expect(await c.send({ op: 'hello' })).toMatchObject({ status: 'OK', cluster: 'ops', node: 'n1', epoch: 1, recoveryEpoch: 0, inGrace: false });
    expect(await c.send({ op: 'create', client: X, hasSession: true })).toEqual({ id: expect.any(Number), status: 'OK' });
    expect(await c.send({ op: 'create', client: Y, principalHash: 'abcd' })).toMatchObject({ status: 'OK' });
    expect(await c.send({ op: 'check', client: X })).toMatchObject({ status: 'OK' });
    expect(await c.send({ op: 'check', client: Z })).toMatchObject({ status: 'NFS4ERR_RECLAIM_BAD' });
    expect(await c.send({ op: 'remove', client: Z })).toMatchObject({ status: 'OK' });
    expect(await c.send({ op: 'reclaim', client: X })).toMatchObject({ status: 'NFS4ERR_NO_GRACE' });
    expect(await c.send({ op: 'may_grant' })).toMatchObject({ status: 'OK' });

    expect(await c.send({ op: 'grace_start' })).toMatchObject({ status: 'OK', epoch: 2, recoveryEpoch: 1, inGrace: true, reclaimable: 2 });
    expect(await c.send({ op: 'may_grant' })).toMatchObject({ status: 'NFS4ERR_GRACE' });
    expect(await c.send({ op: 'check', client: Y })).toMatchObject({ status: 'OK' });
    expect(await c.send({ op: 'reclaim', client: X })).toMatchObject({ status: 'OK' });
    expect(await c.send({ op: 'reclaim', client: Z })).toMatchObject({ status: 'NFS4ERR_RECLAIM_BAD' });
    expect(await c.send({ op: 'reclaim_complete', client: X })).toMatchObject({ status: 'OK' });
    expect(await c.send({ op: 'reclaim_complete', client: X })).toMatchObject({ status: 'NFS4ERR_COMPLETE_ALREADY' });
    expect(await c.send({ op: 'reclaim', client: X })).toMatchObject({ status: 'NFS4ERR_NO_GRACE' });
    const status = await c.send({ op: 'status' });
    expect(status).toMatchObject({ status: 'OK', node: 'n1', records: { current: 1, recovery: 2, reclaimable: 1 }, grace: { recoveryEpoch: 1, needing: ['n1'] } });

    expect(await c.send({ op: 'grace_done', wait: false })).toMatchObject({ status: 'OK', ended: true, epoch: 2, recoveryEpoch: 0 });
    await waitUntil(() => readFileSync(a.endGraceFile, 'utf8') === 'Y');
    expect(await c.send({ op: 'check', client: X })).toMatchObject({ status: 'OK' });
    expect(await c.send({ op: 'check', client: Y })).toMatchObject({ status: 'NFS4ERR_RECLAIM_BAD' });
    expect(await c.send({ op: 'reclaim', client: Y })).toMatchObject({ status: 'NFS4ERR_NO_GRACE' });
    expect(await c.send({ op: 'grace_done' })).toMatchObject({ status: 'OK', ended: true });
    expect(await c.send({ op: 'may_grant' })).toMatchObject({ status: 'OK' });
    // The two NO_GRACE reclaims outside grace were counted, not stored; the ones inside grace were stored.
    expect(Object.fromEntries(a.core.service.refusalsNotStored)).toEqual({ reclaim: 2 });

    const { state } = await loadCluster(bed.opened.store, names, 'ops');
    expect(state.nonReclaimGranted).toBe(true);
    expect(state.lastGraceEnd).toMatchObject({ recoveryEpoch: 1, reason: 'all-reclaimed' });
  });

  it('grace_start with the same boot time twice is one boot; a newer one restarts during grace', async () => {
    const { c } = await agent('boots', 'n1');
    await c.send({ op: 'create', client: X });
    await c.send({ op: 'create', client: Y });
    expect(await c.send({ op: 'grace_start', graceStart: 1000 })).toMatchObject({ epoch: 2, recoveryEpoch: 1, reclaimable: 2 });
    expect(await c.send({ op: 'check', client: X, reclaim: true })).toMatchObject({ status: 'OK' });
    expect(await c.send({ op: 'grace_start', graceStart: 1000 })).toMatchObject({ epoch: 2, recoveryEpoch: 1, reclaimable: 1 });
    expect(await c.send({ op: 'grace_start', graceStart: 1001 })).toMatchObject({ epoch: 2, recoveryEpoch: 1, reclaimable: 2 });
  });

  it('grace_start with liftIfDone ends grace at once when nothing is left to reclaim', async () => {
    const { c } = await agent('lift', 'n1');
    await c.send({ op: 'create', client: X, hasSession: true });
    expect(await c.send({ op: 'grace_start', graceStart: 5, liftIfDone: true })).toMatchObject({ recoveryEpoch: 1, inGrace: true });
    expect(await c.send({ op: 'create', client: X, hasSession: true, liftIfDone: true })).toMatchObject({ status: 'OK' });
    expect(await c.send({ op: 'hello' })).toMatchObject({ recoveryEpoch: 0, inGrace: false });
    expect(await c.send({ op: 'grace_start', graceStart: 6, liftIfDone: true })).toMatchObject({ epoch: 3, recoveryEpoch: 2, inGrace: true });
    expect(await c.send({ op: 'create', client: Y, hasSession: false })).toMatchObject({ status: 'OK' });
    expect(await c.send({ op: 'create', client: X, hasSession: true, liftIfDone: true })).toMatchObject({ status: 'OK' });
    // A v4.0 client never says it is done: grace stays until gracedone.
    expect(await c.send({ op: 'hello' })).toMatchObject({ recoveryEpoch: 2, inGrace: true });
  });

  it('grace_done waits for the cluster: it answers only once the last node lifted', async () => {
    const { c: ca } = await agent('wait', 'a');
    const { c: cb } = await agent('wait', 'b');
    await ca.send({ op: 'grace_start' });
    expect(await cb.send({ op: 'grace_start' })).toMatchObject({ recoveryEpoch: 1 });
    let answered = false;
    const waiting = ca.send({ op: 'grace_done' }).then((r) => ((answered = true), r));
    // Requests on one connection run concurrently, so the log tells when a's lift is stored:
    // from then on, a must still be waiting while b needs grace.
    await waitUntil(async () => (await loadCluster(bed.opened.store, names, 'wait')).state.members.get('a')?.need === false);
    expect(await ca.send({ op: 'hello' })).toMatchObject({ inGrace: true });
    expect(answered).toBe(false);
    expect(await cb.send({ op: 'grace_done', wait: false })).toMatchObject({ status: 'OK', ended: true });
    expect(await waiting).toMatchObject({ status: 'OK', ended: true, recoveryEpoch: 0 });
  });

  it('a restarted agent resumes from the log', async () => {
    const first = await agent('resume', 'n1');
    for (const client of [X, Y]) await first.c.send({ op: 'create', client });
    await first.c.send({ op: 'grace_start' });
    await first.c.send({ op: 'reclaim', client: X });
    first.c.close();
    await first.a.stop();
    started.splice(started.indexOf(first.a), 1);
    const { a: second, c } = await agent('resume', 'n1');
    // The clean stop wrote a snapshot of the agent's view; the restart started from it.
    expect(second.core.view.loadedFromSnapshot).toBeGreaterThan(0);
    expect(await c.send({ op: 'status' })).toMatchObject({ records: { current: 1, recovery: 2, reclaimable: 1 }, grace: { recoveryEpoch: 1 } });
    expect(await c.send({ op: 'reclaim', client: X })).toMatchObject({ status: 'OK' });
    expect(await c.send({ op: 'reclaim', client: Y })).toMatchObject({ status: 'OK' });
  });
});

describe('JSON API input handling', () => {
  it('answers bad input with ERR_BAD_REQUEST and keeps the connection usable', async () => {
    const { c } = await agent('bad', 'n1');
    const bad = async (line: string) => (await c.raw(`${line}\n`))[0]!;
    expect(await bad('this is not json')).toMatchObject({ id: null, status: 'ERR_BAD_REQUEST', error: expect.stringContaining('not JSON') });
    expect(await bad('[1,2]')).toMatchObject({ id: null, status: 'ERR_BAD_REQUEST' });
    expect(await bad('{"op":"hello"}')).toMatchObject({ id: null, status: 'OK' });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ id: 'u', op: 'frobnicate' }, /unknown op/],
      [{ id: 'n', op: 42 }, /"op" must be a string/],
      [{ id: 'm', op: 'create' }, /client/],
      [{ id: 't', op: 'create', client: 42 }, /client/],
      [{ id: 'h', op: 'create', client: 'ABCD' }, /lowercase hex/],
      [{ id: 'o', op: 'check', client: 'abc' }, /lowercase hex/],
      [{ id: 'l', op: 'create', client: 'ab'.repeat(1025) }, /1024 bytes/],
      [{ id: 's', op: 'create', client: 'ab', hasSession: 'yes' }, /hasSession/],
      [{ id: 'p', op: 'create', client: 'ab', principalHash: 'xyz' }, /principal hash/],
      [{ id: 'w', op: 'grace_done', wait: 1 }, /wait/],
      [{ id: 'g', op: 'grace_start', graceStart: 'soon' }, /graceStart/],
      [{ id: 'r', op: 'reclaim' }, /client/],
    ];
    for (const [body, error] of cases) {
      const reply = await c.send(body);
      expect(reply).toMatchObject({ id: body.id, status: 'ERR_BAD_REQUEST' });
      expect(reply.error).toMatch(error);
    }
    expect(await c.send({ op: 'create', client: 'ab'.repeat(1024) })).toMatchObject({ status: 'OK' });
    // A huge line is cut off (bounded buffering), answered once, and the next line is read normally.
    const [huge] = await c.raw(`{"id":"big","op":"create","client":"${'ab'.repeat(100_000)}"}\n`);
    expect(huge).toMatchObject({ id: null, status: 'ERR_BAD_REQUEST', error: expect.stringContaining('longer than') });
    expect(await c.send({ op: 'hello' })).toMatchObject({ status: 'OK' });
  });

  it('refuses an id it could not echo (a 5,000-deep array) with id null, and goes on answering', async () => {
    const { c } = await agent('deepid', 'n1');
    const deep = `${'['.repeat(5000)}5${']'.repeat(5000)}`;
    const [reply] = await c.raw(`{"id": ${deep}, "op": "hello"}\n`);
    expect(reply).toMatchObject({ id: null, status: 'ERR_BAD_REQUEST', error: expect.stringContaining('"id" must be') });
    const [objectId] = await c.raw('{"id": {"a": 1}, "op": "hello"}\n');
    expect(objectId).toMatchObject({ id: null, status: 'ERR_BAD_REQUEST' });
    expect(await c.send({ op: 'hello' })).toMatchObject({ status: 'OK' });
  });

  it('answers pipelined requests, each once with its own id, possibly out of order', async () => {
    const { a, c } = await agent('pipe', 'n1');
    const ids = Array.from({ length: 300 }, (_, i) => `p${i}`);
    const lines = ids.map((id, i) => JSON.stringify({ id, op: i % 3 === 2 ? 'check' : 'create', client: (1000 + i).toString(16).padStart(4, '0') })).join('\n');
    const replies = await c.raw(`${lines}\n`, ids.length);
    expect(replies.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(replies.every((r) => r.status === 'OK' || r.status === 'NFS4ERR_RECLAIM_BAD')).toBe(true);
    const { state } = await loadCluster(bed.opened.store, names, 'pipe');
    const created = ids.filter((_, i) => i % 3 !== 2).map((_, k) => k);
    expect(state.records.get('n1')?.current.size).toBe(created.length);
    // Concurrent creates shared appends.
    expect(a.core.committer.batchedRequests).toBeGreaterThan(a.core.committer.batches);
  });
});
