/**
 * Scenario suite, restarts: three real gk-node-agent processes (one per simulated NFS server) and
 * a grace-coordinator process on real NATS, each scenario on its own stream. Every scenario ends
 * with the simulator's full check (beliefs, I1-I7 over the log, refusal statuses).
 */
import { distMain, ensureBuilt } from '#testing';
import { clientWithLock, coldStart, expectStatus, reclaimedOn, releaseGraceDone, scenario } from '../sim/scenario-kit';

beforeAll(() => ensureBuilt([distMain('node-agent'), distMain('grace-coordinator')]), 180_000);

const TIMEOUT = 90_000;

describe('restarts', () => {
  it('cold start of a 3-node cluster: one grace period, everyone joins it, it ends when all are done', async () => {
    await scenario('cold-start', {}, async (sim) => {
      for (const s of sim.servers.values()) s.holdGraceDone = true;
      await sim.startServers();
      // The first start began grace period 1 (C=2); the other two joined it.
      expect(await sim.dump()).toBe('cur=2 rec=1\n' + '='.repeat(54) + '\na\tNE\nb\tNE\nc\tNE\n');
      for (const s of sim.servers.values()) expect(s.reclaimableTotal).toBe(0);

      // During grace: no new state anywhere, and nobody has anything to reclaim.
      const x = sim.addClient('a');
      expectStatus(await x.connect(), 'OK', 'connect during grace');
      expect(await x.open('f')).toBe('NFS4ERR_GRACE');
      expect(await x.reclaimOpen('f')).toBe('NFS4ERR_RECLAIM_BAD');

      await releaseGraceDone(sim);
      const s = await sim.waitForGraceEnd();
      expect(s.lastGraceEnd).toMatchObject({ recoveryEpoch: 1, reason: 'all-reclaimed', abandonedNodes: [] });
      expect(await sim.dump()).toBe('cur=2 rec=0\n' + '='.repeat(54) + '\na\t E\nb\t E\nc\t E\n');
      await Promise.all([...sim.servers.values()].map((srv) => srv.graceDone));

      expect(await x.open('f')).toBe('OK');
      expect((await x.lock('f', { start: 0, end: 10 }, 'write')).status).toBe('OK');
      expect(await x.reclaimOpen('g')).toBe('NFS4ERR_NO_GRACE');
    });
  }, TIMEOUT);

  it('clean restart of one node: survivors enforce, only its clients reclaim, grace lifts early when they are done', async () => {
    await scenario('one-node-restart', {}, async (sim) => {
      await coldStart(sim);
      const onA = await clientWithLock(sim, 'a', 'f', { start: 0, end: 10 });
      const onB1 = await clientWithLock(sim, 'b', 'f', { start: 10, end: 20 });
      const onB2 = await clientWithLock(sim, 'b', 'g', { start: 0, end: 10 }, { type: 'read' });
      const onC = await clientWithLock(sim, 'c', 'g', { start: 20, end: 30 });

      await sim.restartServer('b');
      expect(await sim.dump()).toBe('cur=3 rec=2\n' + '='.repeat(54) + '\na\t E\nb\tNE\nc\t E\n');
      expect(sim.server('b').reclaimableTotal).toBe(2);

      // The survivors enforce: no new state on a or c, but what they hold is untouched.
      expect((await onA.client.lock('f', { start: 40, end: 50 }, 'write')).status).toBe('NFS4ERR_GRACE');
      expect(await onC.client.open('h')).toBe('NFS4ERR_GRACE');
      expect(await onA.client.renew()).toBe('OK');
      // A survivor's client has nothing to reclaim: its node is not recovering.
      expect(await onA.client.reclaimOpen('f')).toBe('NFS4ERR_NO_GRACE');
      // b's locks stay in the DLM while b recovers: nobody else can take them.
      expect((await onC.client.lock('g', { start: 0, end: 5 }, 'write')).status).toBe('NFS4ERR_GRACE');

      const r1 = await onB1.client.recover();
      expect(r1.map((r) => `${r.op} ${r.status}`)).toEqual(['setclientid OK', 'reclaim-open OK', 'reclaim-lock OK', 'reclaim_complete OK']);
      expect((await sim.state()).recoveryEpoch).toBe(2); // one client of b is still to come
      const r2 = await onB2.client.recover();
      expect(r2.map((r) => `${r.op} ${r.status}`)).toEqual(['setclientid OK', 'reclaim-open OK', 'reclaim-lock OK', 'reclaim_complete OK']);

      // Both completed: b lifts long before its own grace time (10 min) and grace ends for all.
      const s = await sim.waitForGraceEnd();
      expect(s.lastGraceEnd).toMatchObject({ recoveryEpoch: 2, reason: 'all-reclaimed', abandonedNodes: [] });
      expect(await sim.dump()).toBe('cur=3 rec=0\n' + '='.repeat(54) + '\na\t E\nb\t E\nc\t E\n');
      expect([...(await reclaimedOn(sim)).keys()]).toEqual(['b']);
      expect([...(await reclaimedOn(sim)).get('b')!].sort()).toEqual([onB1.client.id, onB2.client.id].sort());

      // The reclaimed locks are held again; everything else may be granted now.
      expect((await onA.client.lock('f', { start: 15, end: 16 }, 'write')).status).toBe('NFS4ERR_DENIED');
      expect((await onC.client.lock('g', { start: 0, end: 5 }, 'write')).status).toBe('NFS4ERR_DENIED');
      expect((await onA.client.lock('f', { start: 40, end: 50 }, 'write')).status).toBe('OK');
      expect(await onB1.client.unlock(onB1.lineage)).toBe('OK');
      expect((await onA.client.lock('f', { start: 15, end: 16 }, 'write')).status).toBe('OK');
    });
  }, TIMEOUT);

  it('cluster-wide restart: every node recovers in one grace period, every lock is reclaimed', async () => {
    await scenario('cluster-restart', {}, async (sim) => {
      await coldStart(sim);
      const held = [
        await clientWithLock(sim, 'a', 'f', { start: 0, end: 10 }),
        await clientWithLock(sim, 'b', 'f', { start: 10, end: 20 }, { hasSession: false }),
        await clientWithLock(sim, 'c', 'f', { start: 20, end: 30 }),
        await clientWithLock(sim, 'c', 'g', { start: 0, end: 100 }, { type: 'read' }),
      ];
      // b has a v4.0 client (no RECLAIM_COMPLETE): b ends its own recovery on its own timer.
      sim.server('b').options.localGraceMs = 500;
      for (const s of sim.servers.values()) s.holdGraceDone = true;
      await sim.restartCluster();
      expect(await sim.dump()).toBe('cur=3 rec=2\n' + '='.repeat(54) + '\na\tNE\nb\tNE\nc\tNE\n');
      expect([...sim.servers.values()].map((s) => s.reclaimableTotal)).toEqual([1, 1, 2]);

      const answers = await Promise.all(held.map((h) => h.client.recover()));
      expect(answers.map((a) => a.map((r) => `${r.op} ${r.status}`).join(', '))).toEqual([
        'setclientid OK, reclaim-open OK, reclaim-lock OK, reclaim_complete OK',
        'setclientid OK, reclaim-open OK, reclaim-lock OK',
        'setclientid OK, reclaim-open OK, reclaim-lock OK, reclaim_complete OK',
        'setclientid OK, reclaim-open OK, reclaim-lock OK, reclaim_complete OK',
      ]);
      await releaseGraceDone(sim);
      const s = await sim.waitForGraceEnd();
      expect(s.lastGraceEnd).toMatchObject({ recoveryEpoch: 2, reason: 'all-reclaimed', abandonedNodes: [] });

      // Every lock survived the restart: a newcomer conflicts with each of them.
      const newcomer = sim.addClient('a');
      expectStatus(await newcomer.connect(), 'OK', 'connect');
      expect(await newcomer.open('f')).toBe('OK');
      expect(await newcomer.open('g')).toBe('OK');
      for (const range of [{ start: 5, end: 6 }, { start: 15, end: 16 }, { start: 25, end: 26 }]) {
        expect((await newcomer.lock('f', range, 'write')).status).toBe('NFS4ERR_DENIED');
      }
      expect((await newcomer.lock('g', { start: 50, end: 51 }, 'write')).status).toBe('NFS4ERR_DENIED');
      expect((await newcomer.lock('g', { start: 50, end: 51 }, 'read')).status).toBe('OK');
    });
  }, TIMEOUT);

  it('restart during grace: the node rejoins the same grace period and its clients reclaim from the records of R again', async () => {
    await scenario('restart-during-grace', {}, async (sim) => {
      await coldStart(sim);
      const x = await clientWithLock(sim, 'b', 'f', { start: 0, end: 10 });
      const y = await clientWithLock(sim, 'b', 'f', { start: 10, end: 20 });
      await sim.restartServer('b');
      expect(await sim.dump()).toBe('cur=3 rec=2\n' + '='.repeat(54) + '\na\t E\nb\tNE\nc\t E\n');
      expect(sim.server('b').reclaimableTotal).toBe(2);
      // x reclaims everything; y has not started when b crashes again.
      expect((await x.client.recover()).map((r) => r.status)).toEqual(['OK', 'OK', 'OK', 'OK']);

      await sim.restartServer('b');
      // Same grace period, same epoch: b joined it again.
      expect(await sim.dump()).toBe('cur=3 rec=2\n' + '='.repeat(54) + '\na\t E\nb\tNE\nc\t E\n');
      const joins = (await sim.log()).flatMap((m) => m.events).filter((e) => e.type === 'NodeJoinedGrace' && e.recoveryEpoch === 2);
      expect(joins).toEqual([expect.objectContaining({ node: 'b', recoveryEpoch: 2, epoch: 3 })]);
      // The records of R were re-read: both clients may reclaim again (x's earlier reclaim died with b's memory).
      expect(sim.server('b').reclaimableTotal).toBe(2);
      expect((await x.client.recover()).map((r) => r.status)).toEqual(['OK', 'OK', 'OK', 'OK']);
      expect((await y.client.recover()).map((r) => r.status)).toEqual(['OK', 'OK', 'OK', 'OK']);
      const s = await sim.waitForGraceEnd();
      expect(s.lastGraceEnd).toMatchObject({ recoveryEpoch: 2, reason: 'all-reclaimed' });
      expect(s.epoch).toBe(3);
    });
  }, TIMEOUT);

  it('a node removed during grace: its clients are abandoned, grace ends when no remaining member needs it', async () => {
    await scenario('removed-during-grace', {}, async (sim) => {
      await coldStart(sim);
      const onA = await clientWithLock(sim, 'a', 'f', { start: 0, end: 10 });
      const onC = await clientWithLock(sim, 'c', 'f', { start: 10, end: 20 });
      for (const s of sim.servers.values()) s.holdGraceDone = true;
      await sim.restartCluster();
      // c dies for good right after it started recovering.
      sim.crashServer('c');
      expect((await onA.client.recover()).map((r) => r.status)).toEqual(['OK', 'OK', 'OK', 'OK']);
      await releaseGraceDone(sim, ['a', 'b']);
      // a and b are done but c still needs grace: the cluster stays in it.
      await sim.waitForState((s) => !s.members.get('a')!.need && !s.members.get('b')!.need, 'a and b to lift');
      expect(await sim.dump()).toBe('cur=3 rec=2\n' + '='.repeat(54) + '\na\t E\nb\t E\nc\tNE\n');
      const newcomer = sim.addClient('b');
      expectStatus(await newcomer.connect(), 'OK', 'connect');
      expect(await newcomer.open('f')).toBe('NFS4ERR_GRACE');

      await sim.removeNode('c');
      const s = await sim.waitForGraceEnd();
      expect(s.lastGraceEnd).toMatchObject({ recoveryEpoch: 2, reason: 'removed', abandonedNodes: ['c'] });
      expect(await sim.dump()).toBe('cur=3 rec=0\n' + '='.repeat(54) + '\na\t E\nb\t E\n');
      const removed = (await sim.log()).flatMap((m) => m.events).find((e) => e.type === 'MemberRemoved');
      expect(removed).toMatchObject({ node: 'c', abandoned: true });

      // c's client lost its lock (c is gone); a's client kept its own.
      expect(await newcomer.open('f')).toBe('OK');
      expect((await newcomer.lock('f', { start: 10, end: 20 }, 'write')).status).toBe('OK');
      expect((await newcomer.lock('f', { start: 0, end: 10 }, 'write')).status).toBe('NFS4ERR_DENIED');
      expect(onC.client.partitioned).toBe(false);
    });
  }, TIMEOUT);
});
