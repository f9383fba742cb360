import { jetstreamManager } from '@nats-io/jetstream';
import { subjects } from '#contracts';
import { checkClient, reclaimableClients } from '#domain';
import { TestStream } from '#testing';
import { executeOnce, GroupCommitter, LiveClusterView, loadCluster } from './index';

const stream = new TestStream('cstore');
const { names } = stream;
const cluster = 'c1';
beforeAll(() => stream.open({ store: 'cluster-store-test' }));
afterAll(() => stream.close());

const hex = (i: number) => i.toString(16).padStart(8, '0');

describe('cluster store over JetStream', () => {
  it('executeOnce: concurrent gracectl-like writers never lose an update', async () => {
    await executeOnce(stream.opened.store, names, cluster, { type: 'add', nodes: ['a'] }, { actor: 't' });
    const nodes = Array.from({ length: 8 }, (_, i) => `n${i}`);
    await Promise.all(nodes.map((n) => executeOnce(stream.opened.store, names, cluster, { type: 'add', nodes: [n] }, { actor: n })));
    const { state } = await loadCluster(stream.opened.store, names, cluster);
    expect([...state.members.keys()].sort()).toEqual(['a', ...nodes].sort());
  });

  it('live views: 8 agents racing reclaims and creates, group-committed; the log decides every answer', async () => {
    const c2 = 'c2';
    const agents = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    await executeOnce(stream.opened.store, names, c2, { type: 'add', nodes: agents }, { actor: 't' });
    const views = await Promise.all(agents.map((n) => LiveClusterView.open(stream.opened.store, names, c2, { trackedNodes: [n] })));
    const committers = views.map((v) => new GroupCommitter(v));
    // 50 clients per node, created concurrently.
    await Promise.all(committers.flatMap((gc, i) => Array.from({ length: 50 }, (_, k) =>
      gc.submit({ type: 'create', node: agents[i], clients: [{ client: hex(i * 1000 + k) }] }, { actor: agents[i] }))));
    // Every node restarts at once: one grace period, everyone else joins it.
    await Promise.all(views.map((v, i) => v.execute({ type: 'start', nodes: [agents[i]] }, { actor: agents[i] })));
    for (const v of views) await v.catchUp();
    expect(reclaimableClients(views[0].state, 'a')).toHaveLength(50);
    // Every client reclaims twice, concurrently, plus some unknown clients.
    const answers = await Promise.all(committers.flatMap((gc, i) => Array.from({ length: 110 }, (_, k) =>
      gc.submit({ type: 'reclaim', node: agents[i], clients: [hex(i * 1000 + (k % 55))] }, { actor: agents[i] })
        .then((a) => ({ node: agents[i], k: k % 55, a })))));
    for (const { k, a } of answers) {
      expect(a.ok).toBe(true);
      const status = a.ok && a.reply.kind === 'reclaim' ? a.reply.statuses[0] : undefined;
      expect(status).toBe(k < 50 ? 'OK' : 'NFS4ERR_RECLAIM_BAD');
    }
    expect(committers.reduce((s, gc) => s + gc.batches, 0)).toBeGreaterThan(0);
    // Lift all: the last one ends grace; every record reclaimed survives.
    await Promise.all(views.map((v, i) => v.execute({ type: 'lift', nodes: [agents[i]] }, { actor: agents[i] })));
    const { state } = await loadCluster(stream.opened.store, names, c2);
    expect(state.recoveryEpoch).toBe(0);
    expect(state.lastGraceEnd?.reason).toBe('all-reclaimed');
    for (let i = 0; i < agents.length; i++) expect(checkClient(state, agents[i], hex(i * 1000 + 7))).toBe('OK');
    // Once grace ended, a stale reclaim is refused by every view.
    for (const v of views) await v.catchUp();
    const late = await committers[0].submit({ type: 'reclaim', node: 'a', clients: [hex(1)] }, { actor: 'a' });
    expect(late).toMatchObject({ ok: true, reply: { kind: 'reclaim', statuses: ['NFS4ERR_NO_GRACE'] } });
    await Promise.all(views.map((v) => v.close()));
  }, 60_000);

  it('group commit batches interleaved kinds (reclaim then RECLAIM_COMPLETE per client) and keeps each client\'s order', async () => {
    const c4 = 'c4';
    await executeOnce(stream.opened.store, names, c4, { type: 'add', nodes: ['a'] }, { actor: 't' });
    const view = await LiveClusterView.open(stream.opened.store, names, c4, { trackedNodes: ['a'] });
    const gc = new GroupCommitter(view);
    const clients = Array.from({ length: 400 }, (_, i) => hex(50_000 + i));
    await Promise.all(clients.map((client) => gc.submit({ type: 'create', node: 'a', clients: [{ client, hasSession: true }] }, { actor: 'a' })));
    await view.execute({ type: 'start', nodes: ['a'] }, { actor: 'a' });
    const [early, late] = [clients.slice(0, 200), clients.slice(200)];
    await Promise.all(early.map((client) => gc.submit({ type: 'reclaim', node: 'a', clients: [client] }, { actor: 'a' })));
    const before = { batches: gc.batches, requests: gc.batchedRequests };
    // The queue alternates kinds, as when v4.1 clients reclaim and complete at their own pace:
    // RECLAIM_COMPLETE of an early client, reclaim of a late one, RECLAIM_COMPLETE, reclaim, ...
    const statusOf = (a: Awaited<ReturnType<GroupCommitter['submit']>>) => (a.ok && 'statuses' in a.reply ? a.reply.statuses[0] : a);
    const interleaved = early.flatMap((client, i) => [
      gc.submit({ type: 'reclaimComplete', node: 'a', clients: [client] }, { actor: 'a' }).then(statusOf),
      gc.submit({ type: 'reclaim', node: 'a', clients: [late[i]] }, { actor: 'a' }).then(statusOf),
    ]);
    expect(await Promise.all(interleaved)).toEqual(early.flatMap(() => ['OK', 'OK']));
    // Interleaved kinds still share appends.
    expect(gc.batchedRequests - before.requests).toBe(400);
    expect(gc.batches - before.batches).toBeLessThan(10);
    // A client's own later request sees its earlier one: reclaim after RECLAIM_COMPLETE in one queue.
    const [done, again] = await Promise.all([
      gc.submit({ type: 'reclaimComplete', node: 'a', clients: [late[0]] }, { actor: 'a' }).then(statusOf),
      gc.submit({ type: 'reclaim', node: 'a', clients: [late[0]] }, { actor: 'a' }).then(statusOf),
    ]);
    expect([done, again]).toEqual(['OK', 'NFS4ERR_NO_GRACE']);
    await view.close();
  });

  it('a malformed message on the cluster subject is skipped by views and loads, which keep going', async () => {
    const c3 = 'c3';
    await executeOnce(stream.opened.store, names, c3, { type: 'add', nodes: ['a'] }, { actor: 't' });
    const malformed: number[] = [];
    const view = await LiveClusterView.open(stream.opened.store, names, c3, { onMalformed: (m) => malformed.push(m.sequence) });
    const js = (await jetstreamManager(stream.nc)).jetstream();
    const ack = await js.publish(subjects.cluster(names, c3), new TextEncoder().encode('{"garbage":true}'));
    await view.waitFor(ack.seq);
    expect(malformed).toEqual([ack.seq]);
    const r = await view.execute({ type: 'add', nodes: ['b'] }, { actor: 't' });
    expect(r.ok).toBe(true);
    const loaded = await loadCluster(stream.opened.store, names, c3);
    expect([...loaded.state.members.keys()].sort()).toEqual(['a', 'b']);
    expect(loaded.malformed).toHaveLength(1);
    await view.close();
  });
});
