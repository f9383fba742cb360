/**
 * Scenario suite, failover (SPEC §2 identities, I8): real gk-node-agent processes that may serve
 * every identity (`--identity`), a grace-coordinator process, real NATS. A host dies (or is cut
 * off) and its identity moves to a survivor: `gracectl move`, then the identity's server starts
 * on the new host and its clients reclaim there. Every scenario ends with the simulator's full
 * check, which includes the placement rule (a reclaim is valid only through the serving host).
 */
import { distMain, ensureBuilt } from '#testing';
import { moveIdentity } from '../sim/failover';
import { clientWithLock, coldStart, expectStatus, reclaimedOn, scenario } from '../sim/scenario-kit';

beforeAll(() => ensureBuilt([distMain('node-agent'), distMain('grace-coordinator')]), 180_000);

const TIMEOUT = 120_000;
const SERVE_ALL = { agentsServeAll: true };
const dump = (cur: number, rec: number, lines: string[]) => `cur=${cur} rec=${rec}\n${'='.repeat(54)}\n${lines.join('\n')}\n`;
const steps = (r: { op: string; status: string }[]) => r.map((x) => `${x.op} ${x.status}`);
const RECOVERED = ['setclientid OK', 'reclaim-open OK', 'reclaim-lock OK', 'reclaim_complete OK'];

describe('failover', () => {
  it("host b dies and b moves to a: b's clients reclaim on a, a's clients keep their locks, new locks wait only until b's clients are done", async () => {
    await scenario('failover-basic', SERVE_ALL, async (sim) => {
      await coldStart(sim);
      const onA = await clientWithLock(sim, 'a', 'f', { start: 0, end: 10 });
      const onB1 = await clientWithLock(sim, 'b', 'f', { start: 10, end: 20 });
      const onB2 = await clientWithLock(sim, 'b', 'g', { start: 0, end: 10 });
      const onC = await clientWithLock(sim, 'c', 'g', { start: 20, end: 30 });

      const { server } = await moveIdentity(sim, 'b', 'a');
      expect(await sim.dump()).toBe(dump(3, 2, ['a\t E', 'b\tNE', 'c\t E']));
      expect(server.reclaimableTotal).toBe(2);
      expect((await sim.state()).placements.get('b')).toEqual({ host: 'a', generation: 1 });

      // a's own clients keep what they hold; nobody gets new state while b's clients recover.
      expect(await onA.client.renew()).toBe('OK');
      expect((await onA.client.lock('f', { start: 40, end: 50 }, 'write')).status).toBe('NFS4ERR_GRACE');
      expect(await onC.client.open('h')).toBe('NFS4ERR_GRACE');
      expect(await onA.client.reclaimOpen('f')).toBe('NFS4ERR_NO_GRACE');

      expect(steps(await onB1.client.recover())).toEqual(RECOVERED);
      expect((await sim.state()).recoveryEpoch).toBe(2);
      expect(steps(await onB2.client.recover())).toEqual(RECOVERED);

      // Both done: b (served on a) lifts at once and grace ends for everyone.
      const s = await sim.waitForGraceEnd();
      expect(s.lastGraceEnd).toMatchObject({ recoveryEpoch: 2, reason: 'all-reclaimed', abandonedNodes: [] });
      expect(await sim.dump()).toBe(dump(3, 0, ['a\t E', 'b\t E', 'c\t E']));
      expect([...(await reclaimedOn(sim)).get('b')!].sort()).toEqual([onB1.client.id, onB2.client.id].sort());
      const accepted = (await sim.log()).flatMap((m) => m.events).filter((e) => e.type === 'ReclaimAccepted');
      expect(accepted.every((e) => e.type === 'ReclaimAccepted' && e.host === 'a')).toBe(true);

      expect((await onA.client.lock('f', { start: 40, end: 50 }, 'write')).status).toBe('OK');
      expect((await onC.client.lock('g', { start: 5, end: 6 }, 'write')).status).toBe('NFS4ERR_DENIED');
    });
  }, TIMEOUT);

  it('failback: b moves back to its own host; its clients reclaim there, and a can no longer act for b', async () => {
    await scenario('failover-failback', SERVE_ALL, async (sim) => {
      await coldStart(sim);
      const onB = await clientWithLock(sim, 'b', 'f', { start: 0, end: 10 });
      await moveIdentity(sim, 'b', 'a');
      expect(steps(await onB.client.recover())).toEqual(RECOVERED);
      await sim.waitForGraceEnd();

      const { server } = await moveIdentity(sim, 'b', 'b');
      expect(await sim.dump()).toBe(dump(4, 3, ['a\t E', 'b\tNE', 'c\t E']));
      expect((await sim.state()).placements.get('b')).toEqual({ host: 'b', generation: 2 });
      expect(server.reclaimableTotal).toBe(1);
      // Host a's agent is fenced for b now: "retry later", never a success.
      expect(await sim.agent('a').api().request('reclaim', { identity: 'b', client: onB.client.id })).toMatchObject({ status: 'NFS4ERR_DELAY', fenced: true });
      expect(steps(await onB.client.recover())).toEqual(RECOVERED);
      const s = await sim.waitForGraceEnd();
      expect(s.lastGraceEnd).toMatchObject({ recoveryEpoch: 3, reason: 'all-reclaimed' });
      expect((await onB.client.lock('f', { start: 20, end: 30 }, 'write')).status).toBe('OK');
    });
  }, TIMEOUT);

  it('a move during a grace period already in force joins it; grace ends when both recoveries are done', async () => {
    await scenario('failover-in-grace', SERVE_ALL, async (sim) => {
      await coldStart(sim);
      const onC = await clientWithLock(sim, 'c', 'f', { start: 0, end: 10 });
      const onB = await clientWithLock(sim, 'b', 'f', { start: 10, end: 20 });
      await sim.restartServer('c');
      expect(await sim.dump()).toBe(dump(3, 2, ['a\t E', 'b\t E', 'c\tNE']));
      await moveIdentity(sim, 'b', 'a');
      // Joined, not a new grace period: same epochs.
      expect(await sim.dump()).toBe(dump(3, 2, ['a\t E', 'b\tNE', 'c\tNE']));
      expect(steps(await onB.client.recover())).toEqual(RECOVERED);
      expect((await sim.state()).recoveryEpoch).toBe(2);
      expect(steps(await onC.client.recover())).toEqual(RECOVERED);
      const s = await sim.waitForGraceEnd();
      expect(s.lastGraceEnd).toMatchObject({ recoveryEpoch: 2, reason: 'all-reclaimed', abandonedNodes: [] });
    });
  }, TIMEOUT);

  it('double failure: a dies while serving b; both identities move to c and all their clients reclaim there', async () => {
    await scenario('failover-double', SERVE_ALL, async (sim) => {
      await coldStart(sim);
      const onA = await clientWithLock(sim, 'a', 'f', { start: 0, end: 10 });
      const onB1 = await clientWithLock(sim, 'b', 'f', { start: 10, end: 20 });
      const onB2 = await clientWithLock(sim, 'b', 'g', { start: 0, end: 10 });
      await moveIdentity(sim, 'b', 'a');
      expect(steps(await onB1.client.recover())).toEqual(RECOVERED);

      // Host a dies with b half recovered: its agent goes too.
      await sim.killAgent('a');
      await moveIdentity(sim, 'a', 'c');
      await moveIdentity(sim, 'b', 'c');
      expect(await sim.dump()).toBe(dump(3, 2, ['a\tNE', 'b\tNE', 'c\t E']));
      expect(sim.server('b').reclaimableTotal).toBe(2); // b1 reclaimed on a, which is gone: it reclaims again
      expect(steps(await onA.client.recover())).toEqual(RECOVERED);
      expect(steps(await onB1.client.recover())).toEqual(RECOVERED);
      expect(steps(await onB2.client.recover())).toEqual(RECOVERED);
      const s = await sim.waitForGraceEnd();
      expect(s.lastGraceEnd).toMatchObject({ recoveryEpoch: 2, reason: 'all-reclaimed', abandonedNodes: [] });
      expect([...s.placements].sort()).toEqual([['a', { host: 'c', generation: 1 }], ['b', { host: 'c', generation: 2 }]]);
    });
  }, TIMEOUT);

  it('the old host partitioned but alive after the move: its appends for b are refused and no client of b gets state through it', async () => {
    await scenario('failover-partition', SERVE_ALL, async (sim) => {
      await coldStart(sim);
      const onB = await clientWithLock(sim, 'b', 'f', { start: 0, end: 10 });
      sim.cutNats('b');
      const { previous } = await moveIdentity(sim, 'b', 'a', { oldHostAlive: true });
      expect(previous.state).toBe('up');
      expect(steps(await onB.client.recover())).toEqual(RECOVERED);
      await sim.waitForGraceEnd();
      sim.restoreNats('b');

      // The old host's agent still believes it serves b: the log refuses every write it tries.
      const old = sim.agent('b').api();
      for (const [op, fields] of [['reclaim', { client: onB.client.id }], ['create', { client: 'ab01' }], ['grace_start', {}], ['grace_done', { wait: false }], ['may_grant', {}]] as const) {
        expect([op, await old.request(op, fields)]).toEqual([op, expect.objectContaining({ status: 'NFS4ERR_DELAY', fenced: true })]);
      }
      // A client that still reaches the old server gets no state there: retry later.
      const stray = sim.addClient('b');
      stray.server = previous;
      expectStatus(await stray.connect(), 'NFS4ERR_DELAY', 'connect through the fenced host');
      previous.crash();
      expect([...(await reclaimedOn(sim)).get('b')!]).toEqual([onB.client.id]);
    });
  }, TIMEOUT);

  it('a move to a host that is not a member, or of an identity that is not one, is refused with a clear error', async () => {
    await scenario('failover-refused', SERVE_ALL, async (sim) => {
      await coldStart(sim);
      expect(await sim.adminCommand({ type: 'move', identity: 'b', host: 'z' })).toEqual({
        ok: false, rejection: { code: 'UNKNOWN_HOST', message: 'host z is not known (known hosts: a, b, c); a host is known as a member or as the host of one' },
      });
      expect(await sim.adminCommand({ type: 'move', identity: 'z', host: 'a' })).toEqual({
        ok: false, rejection: { code: 'NOT_MEMBER', message: 'node z is not a cluster member' },
      });
      expect(await sim.dump()).toBe(dump(2, 0, ['a\t E', 'b\t E', 'c\t E']));
    });
  }, TIMEOUT);
});
