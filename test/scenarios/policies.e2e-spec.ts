/**
 * Scenario suite, deadline and exit policies, with the grace-coordinator process owning the clock:
 * a dead node abandoned at the deadline (`abandon`) or keeping the cluster in grace (`wait`), and
 * `first-exit` ending recovery for everyone at the first non-reclaim grant.
 */
import { graceDeadline } from '#domain';
import { distMain, ensureBuilt } from '#testing';
import { sleep } from '../sim/clock';
import { clientWithLock, clientWithOpen, coldStart, expectStatus, releaseGraceDone, scenario, until } from '../sim/scenario-kit';

beforeAll(() => ensureBuilt([distMain('node-agent'), distMain('grace-coordinator')]), 180_000);

const TIMEOUT = 90_000;
const SHORT = { graceTimeMs: 1500, leaseTimeMs: 500 };

describe('deadline and exit policies', () => {
  it('deadlinePolicy abandon: a node that died while recovering is abandoned at the deadline', async () => {
    await scenario('deadline-abandon', { config: { ...SHORT, deadlinePolicy: 'abandon' } }, async (sim) => {
      await coldStart(sim);
      const onA = await clientWithLock(sim, 'a', 'f', { start: 0, end: 10 });
      const onC = await clientWithLock(sim, 'c', 'f', { start: 10, end: 20 });
      await sim.restartServer('c');
      sim.crashServer('c'); // ... and it never comes back
      expect(await sim.dump()).toBe('cur=3 rec=2\n' + '='.repeat(54) + '\na\t E\nb\t E\nc\tNE\n');

      // Nobody lifts c's NEED: the coordinator ends the grace period at its deadline.
      const s = await sim.waitForGraceEnd();
      expect(s.lastGraceEnd).toMatchObject({ recoveryEpoch: 2, reason: 'deadline', abandonedNodes: ['c'] });
      const ended = (await sim.log()).flatMap((m) => m.events).find((e) => e.type === 'GraceEnded' && e.recoveryEpoch === 2)!;
      expect(ended.actor).toMatch(/^coordinator:/);
      expect(Date.parse(ended.time)).toBeGreaterThanOrEqual(s.lastGraceEnd!.at - 1); // sanity: same event
      expect(await sim.dump()).toBe('cur=3 rec=0\n' + '='.repeat(54) + '\na\t E\nb\t E\nc\t E\n');
      // c's client lost its record for good (I4), as c's agent says.
      expect((await sim.agent('c').api().request('check', { client: onC.client.id })).status).toBe('NFS4ERR_RECLAIM_BAD');
      expect((await sim.agent('a').api().request('check', { client: onA.client.id })).status).toBe('OK');

      // The survivors grant again; once the operator removes c its locks are gone from the DLM too.
      const z = await clientWithOpen(sim, 'a', 'f');
      expect((await z.lock('f', { start: 30, end: 40 }, 'write')).status).toBe('OK');
      await sim.removeNode('c');
      expect((await z.lock('f', { start: 10, end: 20 }, 'write')).status).toBe('OK');
      expect((await z.lock('f', { start: 0, end: 10 }, 'write')).status).toBe('NFS4ERR_DENIED');
    });
  }, TIMEOUT);

  it('deadlinePolicy wait: a node that died while recovering keeps the cluster in grace until the operator removes it', async () => {
    await scenario('deadline-wait', { config: { ...SHORT, deadlinePolicy: 'wait' } }, async (sim) => {
      await coldStart(sim);
      await clientWithLock(sim, 'c', 'f', { start: 10, end: 20 });
      await sim.restartServer('c');
      sim.crashServer('c');
      const inGrace = await sim.state();
      const deadline = graceDeadline(inGrace)!;
      // Well past the deadline and its 2x cap: under `abandon` the coordinator would have ended it.
      await sleep(Math.max(0, inGrace.grace!.startedAt + 2 * SHORT.graceTimeMs - Date.now()) + 1500);
      expect(Date.now()).toBeGreaterThan(deadline);
      expect(await sim.dump()).toBe('cur=3 rec=2\n' + '='.repeat(54) + '\na\t E\nb\t E\nc\tNE\n');
      const z = sim.addClient('a');
      expectStatus(await z.connect(), 'OK', 'connect');
      expect(await z.open('f')).toBe('NFS4ERR_GRACE');

      await sim.removeNode('c');
      const s = await sim.waitForGraceEnd();
      expect(s.lastGraceEnd).toMatchObject({ recoveryEpoch: 2, reason: 'removed', abandonedNodes: ['c'] });
      expect(await z.open('f')).toBe('OK');
      expect((await z.lock('f', { start: 10, end: 20 }, 'write')).status).toBe('OK');
    });
  }, TIMEOUT);

  it('exitPolicy first-exit: the first non-reclaim grant ends recovery for everyone', async () => {
    const graceTimeMs = 4000;
    await scenario('first-exit', { config: { graceTimeMs, leaseTimeMs: 500, exitPolicy: 'first-exit', deadlinePolicy: 'wait' } }, async (sim) => {
      await coldStart(sim);
      const x = await clientWithLock(sim, 'a', 'f', { start: 0, end: 10 });
      const y = await clientWithLock(sim, 'b', 'f', { start: 10, end: 20 });
      for (const s of sim.servers.values()) s.holdGraceDone = true;
      sim.crashServer('a');
      sim.crashServer('b');
      await sim.startServers(['a', 'b']);
      expect(await sim.dump()).toBe('cur=3 rec=2\n' + '='.repeat(54) + '\na\tNE\nb\tNE\nc\t E\n');

      // a's only client reclaims and completes; a is done recovering. b's client is slow.
      expect((await x.client.recover()).map((r) => r.status)).toEqual(['OK', 'OK', 'OK', 'OK']);
      await releaseGraceDone(sim, ['a']);
      await sim.waitForState((s) => !s.members.get('a')!.need, 'a to lift');

      // A new client of a: refused until a's own grace time has passed, then granted, and that grant ends grace.
      const z = sim.addClient('a');
      expectStatus(await z.connect(), 'OK', 'connect');
      const opened = await until(() => z.open('g'), ['NFS4ERR_GRACE'], { timeoutMs: 3 * graceTimeMs, pauseMs: 100 });
      expect(opened.status).toBe('OK');
      expect(opened.attempts[0]).toBe('NFS4ERR_GRACE');
      const events = (await sim.log()).flatMap((m) => m.events);
      const at = events.findIndex((e) => e.type === 'FirstNonReclaimGrant' && e.epoch === 3);
      expect(events[at]).toMatchObject({ node: 'a' });
      expect(events[at + 1]).toMatchObject({ type: 'GraceEnded', recoveryEpoch: 2, reason: 'first-non-reclaim-grant', abandonedNodes: ['b'] });
      expect(await sim.dump()).toBe('cur=3 rec=0\n' + '='.repeat(54) + '\na\t E\nb\t E\nc\t E\n');

      // Recovery is over for b's client too.
      expectStatus(await y.client.connect(), 'OK', 'connect');
      expect(await y.client.reclaimOpen('f')).toBe('NFS4ERR_NO_GRACE');
      sim.server('b').releaseGraceDone(true);
      await sim.server('b').graceDone;
      // y's lock was not reclaimed: b frees it once its own grace is over, and z may take the range.
      expect(await z.open('f')).toBe('OK');
      expect((await z.lock('f', { start: 10, end: 20 }, 'write')).status).toBe('OK');
      expect((await z.lock('f', { start: 0, end: 10 }, 'write')).status).toBe('NFS4ERR_DENIED');
    });
  }, TIMEOUT);
});
