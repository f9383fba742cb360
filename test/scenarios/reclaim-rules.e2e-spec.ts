/**
 * Scenario suite, the reclaim rules of RFC 7530 §9.6.3.4 and RFC 8881 §18.51 as SPEC §2 states
 * them, on real gk-node-agent processes: both edge conditions, reclaims after RECLAIM_COMPLETE,
 * non-reclaim state during grace, a second RECLAIM_COMPLETE.
 */
import { distMain, ensureBuilt } from '#testing';
import { clientWithLock, clientWithOpen, coldStart, expectStatus, scenario } from '../sim/scenario-kit';

beforeAll(() => ensureBuilt([distMain('node-agent'), distMain('grace-coordinator')]), 180_000);

const TIMEOUT = 90_000;

describe('reclaim rules', () => {
  it('edge condition 1: A\'s lease expired in a partition, B took and released the lock, the server rebooted: A\'s reclaim is refused, B\'s lock is intact', async () => {
    await scenario('edge-1', {}, async (sim) => {
      await coldStart(sim);
      const a = await clientWithLock(sim, 'a', 'f', { start: 0, end: 10 });
      const b = await clientWithOpen(sim, 'b', 'f');
      // Another client of a, which will keep a's recovery open until it has reclaimed.
      const bystander = await clientWithLock(sim, 'a', 'g', { start: 0, end: 10 });

      sim.partitionClient(a.client);
      await sim.expireClient(a.client); // a's server removes A's record, then frees A's lock
      const first = await b.lock('f', { start: 0, end: 10 }, 'write');
      expect(first.status).toBe('OK');
      expect(await b.unlock(first.lineage!)).toBe('OK');
      // B takes it again and keeps it through the reboot (it is on node b, which does not restart).
      const kept = await b.lock('f', { start: 5, end: 15 }, 'write');
      expect(kept.status).toBe('OK');

      await sim.restartServer('a');
      expect(sim.server('a').reclaimableTotal).toBe(1); // the bystander only: A's record is gone
      sim.healClient(a.client);
      const answers = await a.client.recover();
      expect(answers.map((r) => `${r.op} ${r.status}`)).toEqual([
        'setclientid OK',
        'reclaim-open NFS4ERR_RECLAIM_BAD',
        'reclaim_complete OK',
      ]);
      expect(a.client.locks.size).toBe(0);
      // A's refusal is in the log with its status.
      const rejected = (await sim.log()).flatMap((m) => m.events).filter((e) => e.type === 'ReclaimRejected');
      expect(rejected).toEqual([expect.objectContaining({ node: 'a', rejections: [{ client: a.client.id, status: 'NFS4ERR_RECLAIM_BAD', op: 'reclaim' }] })]);

      // The bystander reclaims; that ends a's recovery and the grace period.
      expect((await bystander.client.recover()).map((r) => r.status)).toEqual(['OK', 'OK', 'OK', 'OK']);
      expect((await sim.waitForGraceEnd()).lastGraceEnd).toMatchObject({ recoveryEpoch: 2, reason: 'all-reclaimed' });
      // B's lock is intact: A cannot take the range, B still releases it normally.
      expect(await a.client.open('f')).toBe('OK');
      expect((await a.client.lock('f', { start: 0, end: 10 }, 'write')).status).toBe('NFS4ERR_DENIED');
      expect(await b.unlock(kept.lineage!)).toBe('OK');
      expect((await a.client.lock('f', { start: 0, end: 10 }, 'write')).status).toBe('OK');
    });
  }, TIMEOUT);

  it('edge condition 2: A could not reclaim before grace ended, B took the lock, the server rebooted again: A\'s reclaim is refused, B\'s lock is intact', async () => {
    await scenario('edge-2', {}, async (sim) => {
      await coldStart(sim);
      const a = await clientWithLock(sim, 'a', 'f', { start: 0, end: 10 });
      const b = await clientWithOpen(sim, 'b', 'f');

      // First reboot: A is cut off for the whole grace period; a ends its own recovery on its timer.
      sim.partitionClient(a.client);
      sim.server('a').options.localGraceMs = 300;
      await sim.restartServer('a');
      const first = await sim.waitForGraceEnd();
      expect(first.lastGraceEnd).toMatchObject({ recoveryEpoch: 2, reason: 'all-reclaimed' });
      await sim.server('a').graceDone;

      // A's record of epoch 2 was dropped with that grace period; its lock was freed.
      const kept = await b.lock('f', { start: 0, end: 10 }, 'write');
      expect(kept.status).toBe('OK');

      // Second reboot, A is back and tries to reclaim the lock it believes it still has. (a has
      // nothing to recover now; it holds its grace_done so that A's reclaim meets grace in force.)
      sim.server('a').options.localGraceMs = 600_000;
      sim.server('a').holdGraceDone = true;
      await sim.restartServer('a');
      expect(sim.server('a').reclaimableTotal).toBe(0);
      expect(await sim.dump()).toBe('cur=4 rec=3\n' + '='.repeat(54) + '\na\tNE\nb\t E\nc\t E\n');
      sim.healClient(a.client);
      const answers = await a.client.recover();
      expect(answers.map((r) => `${r.op} ${r.status}`)).toEqual([
        'setclientid OK',
        'reclaim-open NFS4ERR_RECLAIM_BAD',
        'reclaim_complete OK',
      ]);
      expect(a.client.locks.size).toBe(0);

      // Once that grace period is over too, the same reclaim is refused with NO_GRACE.
      sim.server('a').releaseGraceDone(true);
      await sim.waitForGraceEnd();
      await sim.server('a').graceDone;
      expect(await a.client.reclaimOpen('f')).toBe('NFS4ERR_NO_GRACE');

      // B's lock is intact.
      expect(await a.client.open('f')).toBe('OK');
      expect((await a.client.lock('f', { start: 0, end: 10 }, 'write')).status).toBe('NFS4ERR_DENIED');
      expect(await b.unlock(kept.lineage!)).toBe('OK');
    });
  }, TIMEOUT);

  it('a reclaim after RECLAIM_COMPLETE gets NFS4ERR_NO_GRACE', async () => {
    await scenario('reclaim-after-complete', {}, async (sim) => {
      await coldStart(sim);
      const x = await clientWithLock(sim, 'b', 'f', { start: 0, end: 10 });
      await clientWithLock(sim, 'b', 'g', { start: 0, end: 10 }); // keeps b's grace open
      await sim.restartServer('b');
      expectStatus(await x.client.connect(), 'OK', 'connect');
      expect(await x.client.reclaimOpen('f')).toBe('OK');
      expect(await x.client.reclaimComplete()).toBe('OK');
      expect((await sim.state()).recoveryEpoch).toBe(2);
      expect(await x.client.reclaimLock(x.lineage)).toBe('NFS4ERR_NO_GRACE');
      expect(x.client.locks.size).toBe(0);
    });
  }, TIMEOUT);

  it('a non-reclaim open during grace gets NFS4ERR_GRACE, on the recovering node and on the others', async () => {
    await scenario('open-during-grace', {}, async (sim) => {
      await coldStart(sim);
      await clientWithLock(sim, 'b', 'f', { start: 0, end: 10 });
      await sim.restartServer('b');
      for (const node of ['a', 'b', 'c']) {
        const fresh = sim.addClient(node);
        expectStatus(await fresh.connect(), 'OK', `connect on ${node}`);
        expect(await fresh.open('new-file')).toBe('NFS4ERR_GRACE');
      }
      // The refusals came from may_grant answering NFS4ERR_GRACE, never OK.
      const grants = sim.obs.list.filter((o) => o.kind === 'agent-reply' && o.op === 'may_grant');
      expect(grants.slice(-3).map((o) => (o as { status: string }).status)).toEqual(['NFS4ERR_GRACE', 'NFS4ERR_GRACE', 'NFS4ERR_GRACE']);
    });
  }, TIMEOUT);

  it('a second RECLAIM_COMPLETE gets NFS4ERR_COMPLETE_ALREADY', async () => {
    await scenario('second-complete', {}, async (sim) => {
      await coldStart(sim);
      const x = await clientWithLock(sim, 'c', 'f', { start: 0, end: 10 });
      await clientWithLock(sim, 'c', 'g', { start: 0, end: 10 }); // keeps c's grace open
      await sim.restartServer('c');
      expect((await x.client.recover()).map((r) => `${r.op} ${r.status}`)).toEqual(['setclientid OK', 'reclaim-open OK', 'reclaim-lock OK', 'reclaim_complete OK']);
      expect(await x.client.reclaimComplete()).toBe('NFS4ERR_COMPLETE_ALREADY');
      const rejected = (await sim.log()).flatMap((m) => m.events).filter((e) => e.type === 'ReclaimRejected');
      expect(rejected).toEqual([expect.objectContaining({ node: 'c', rejections: [{ client: x.client.id, status: 'NFS4ERR_COMPLETE_ALREADY', op: 'reclaim_complete' }] })]);
    });
  }, TIMEOUT);
});
