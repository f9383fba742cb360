/**
 * Scenario suite, infrastructure faults on real processes: a node-agent killed with kill -9 in the
 * middle of its clients' reclaims, NATS unreachable for one agent, a client whose lease expires in
 * a partition. Plus a few random fault schedules on real agent processes.
 */
import { connect } from '@nats-io/transport-node';
import { distMain, ensureBuilt, cleanupStream, testNatsUrl, testStreamNames } from '#testing';
import { sleep } from '../sim/clock';
import { describeFailure, runRandomSchedule } from '../sim/random-schedule';
import { clientWithLock, clientWithOpen, coldStart, expectStatus, scenario, until } from '../sim/scenario-kit';

beforeAll(() => ensureBuilt([distMain('node-agent'), distMain('grace-coordinator')]), 180_000);

const TIMEOUT = 120_000;

describe('infrastructure faults', () => {
  it('an agent killed with kill -9 while its clients reclaim: restarted, it loses no acknowledged reclaim and recovery completes', async () => {
    await scenario('agent-kill', {}, async (sim) => {
      await coldStart(sim);
      const held = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => clientWithLock(sim, 'b', 'f', { start: i * 10, end: i * 10 + 10 })));
      await sim.restartServer('b');
      expect(sim.server('b').reclaimableTotal).toBe(6);

      // Everyone reclaims at once; the agent dies under them and comes back.
      const recovering = held.map((h) => h.client.recover({ retries: 2000, retryMs: 20 }));
      await sleep(5);
      await sim.killAgent('b');
      await sim.startAgent('b');
      const answers = await Promise.all(recovering);
      for (const a of answers) {
        // Whatever failed while the agent was gone was retried: every reclaim ends OK.
        expect(a.filter((r) => r.op.startsWith('reclaim')).every((r, i, all) => r.status === 'OK' || all.slice(i + 1).some((later) => later.op === r.op))).toBe(true);
        expect(a.at(-1)).toEqual({ op: 'reclaim_complete', status: 'OK' });
      }
      const s = await sim.waitForGraceEnd();
      expect(s.lastGraceEnd).toMatchObject({ recoveryEpoch: 2, reason: 'all-reclaimed' });
      for (const h of held) expect(h.client.locks.get(h.lineage)?.belief).toBe('held');
    });
  }, TIMEOUT);

  it('NATS unreachable for one agent: it never answers OK to a reclaim or a grant it cannot store, and catches up once NATS is back', async () => {
    await scenario('nats-cut', {}, async (sim) => {
      await coldStart(sim);
      const onA = await clientWithOpen(sim, 'a', 'f');
      const onB = await clientWithLock(sim, 'b', 'f', { start: 0, end: 10 });
      await sim.restartServer('b');
      const coldStartedAt = sim.ticker.now;

      // a is cut off: its server's grant requests are answered "retry later", never OK.
      sim.cutNats('a', 'refuse');
      expect((await onA.lock('f', { start: 20, end: 30 }, 'write')).status).toBe('NFS4ERR_GRACE');

      // b is cut off while its client reclaims: NFS4ERR_GRACE (retry later), never OK.
      sim.cutNats('b', 'blackhole');
      expectStatus(await onB.client.connect(), 'NFS4ERR_DELAY', 'connect while b cannot store');
      sim.restoreNats('b');
      const answers = await onB.client.recover({ retries: 500, retryMs: 20 });
      expect(answers.at(-1)).toEqual({ op: 'reclaim_complete', status: 'OK' });
      expect(onB.client.locks.get(onB.lineage)?.belief).toBe('held');
      await sim.waitForGraceEnd();

      // a still cannot store anything, so it cannot confirm that grace is over: still no grant.
      expect((await onA.lock('f', { start: 20, end: 30 }, 'write')).status).toBe('NFS4ERR_GRACE');
      const cutOffUntil = sim.ticker.now;
      const mayGrantOk = () => sim.obs.list.filter((o) => o.kind === 'agent-reply' && o.server === 'a' && o.op === 'may_grant' && o.status === 'OK' && o.sentTick > coldStartedAt);
      expect(mayGrantOk()).toEqual([]);
      sim.restoreNats('a');
      const granted = await until(async () => (await onA.lock('f', { start: 20, end: 30 }, 'write')).status, ['NFS4ERR_GRACE', 'NFS4ERR_DELAY'], { timeoutMs: 30_000, pauseMs: 100 });
      expect(granted.status).toBe('OK');
      // Exactly one grant was allowed on a since b restarted: the one after NATS came back.
      expect(mayGrantOk()).toHaveLength(1);
      expect(mayGrantOk()[0].tick).toBeGreaterThan(cutOffUntil);
    });
  }, TIMEOUT);

  it('a client partitioned until its lease expires loses its record and locks; back, it cannot reclaim them', async () => {
    await scenario('lease-expiry', {}, async (sim) => {
      await coldStart(sim);
      const x = await clientWithLock(sim, 'c', 'f', { start: 0, end: 10 });
      const y = await clientWithOpen(sim, 'a', 'f');
      sim.partitionClient(x.client);
      expect(await x.client.renew()).toBe('UNREACHABLE');
      await sim.expireClient(x.client);
      expect((await sim.agent('c').api().request('check', { client: x.client.id })).status).toBe('NFS4ERR_RECLAIM_BAD');
      const taken = await y.lock('f', { start: 0, end: 10 }, 'write');
      expect(taken.status).toBe('OK');

      sim.healClient(x.client);
      expect(await x.client.renew()).toBe('NFS4ERR_STALE_CLIENTID');
      // No server restarted: there is no grace period to reclaim in.
      const answers = await x.client.recover();
      expect(answers.map((r) => `${r.op} ${r.status}`)).toEqual(['setclientid OK', 'reclaim-open NFS4ERR_NO_GRACE', 'reclaim_complete OK']);
      expect(x.client.locks.size).toBe(0);
      expect(await x.client.open('f')).toBe('OK');
      expect((await x.client.lock('f', { start: 0, end: 10 }, 'write')).status).toBe('NFS4ERR_DENIED');
    });
  }, TIMEOUT);

  it('random fault schedules on real agent processes keep every invariant', async () => {
    const names = testStreamNames('random-proc');
    const count = Number(process.env.GK_SIM_PROCESS_SCHEDULES ?? 3);
    const base = Number(process.env.GK_SIM_BASE_SEED ?? (Date.now() % 1_000_000_000));
    try {
      for (let i = 0; i < count; i++) {
        const r = await runRandomSchedule({ seed: base + i, natsUrl: testNatsUrl(), names, agents: 'process', timeoutMs: 100_000 });
        if (r.violations.length) throw new Error(describeFailure(r));
      }
    } finally {
      const nc = await connect({ servers: testNatsUrl() });
      await cleanupStream(nc, names).finally(() => nc.close());
    }
  }, 400_000);
});
