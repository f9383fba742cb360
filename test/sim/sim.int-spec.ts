import { connect, NatsConnection } from '@nats-io/transport-node';
import { distMain, ensureBuilt, cleanupStream, testNatsUrl, testStreamNames } from '#testing';
import { AgentKind, SimCluster } from './cluster';

const names = testStreamNames('sim');
let nc: NatsConnection;
beforeAll(async () => {
  nc = await connect({ servers: testNatsUrl() });
  await ensureBuilt([distMain('node-agent'), distMain('grace-coordinator')]);
}, 120_000);
afterAll(async () => {
  await cleanupStream(nc, names);
  await nc.close();
});

describe.each<AgentKind>(['in-process', 'process'])('simulator with %s agents', (agents) => {
  it('cold start, locks, one node restarts, its clients reclaim, grace ends', async () => {
    const sim = await SimCluster.create({ natsUrl: testNatsUrl(), names, cluster: `smoke-${agents}`, nodes: ['a', 'b', 'c'], agents, config: { graceTimeMs: 60_000, leaseTimeMs: 60_000 } });
    try {
      await sim.startServers();
      await sim.waitForGraceEnd();
      const x = sim.addClient('b');
      const y = sim.addClient('a');
      expect(await x.connect()).toBe('OK');
      expect(await y.connect()).toBe('OK');
      expect(await x.open('f1')).toBe('OK');
      expect(await y.open('f1')).toBe('OK');
      expect((await x.lock('f1', { start: 0, end: 10 }, 'write')).status).toBe('OK');
      expect((await y.lock('f1', { start: 5, end: 15 }, 'write')).status).toBe('NFS4ERR_DENIED');
      await sim.restartServer('b');
      expect((await y.lock('f1', { start: 20, end: 30 }, 'write')).status).toBe('NFS4ERR_GRACE');
      const answers = await x.recover();
      expect(answers.map((a) => `${a.op} ${a.status}`)).toEqual(['setclientid OK', 'reclaim-open OK', 'reclaim-lock OK', 'reclaim_complete OK']);
      const s = await sim.waitForGraceEnd();
      expect(s.lastGraceEnd?.reason).toBe('all-reclaimed');
      expect((await y.lock('f1', { start: 5, end: 15 }, 'write')).status).toBe('NFS4ERR_DENIED');
      expect((await y.lock('f1', { start: 20, end: 30 }, 'write')).status).toBe('OK');
      await sim.assertClean();
    } finally {
      await sim.close();
    }
  }, 60_000);
});

it('a client that re-established its id after a restart believes its old locks only once reclaimed, not on renewal', async () => {
  const sim = await SimCluster.create({ natsUrl: testNatsUrl(), names, cluster: 'renewal', nodes: ['a'], agents: 'in-process', config: { graceTimeMs: 60_000, leaseTimeMs: 60_000 } });
  try {
    await sim.startServers();
    await sim.waitForGraceEnd();
    const x = sim.addClient('a');
    await x.connect();
    await x.open('f');
    const { lineage } = await x.lock('f', { start: 0, end: 10 }, 'write');
    await sim.restartServer('a');
    expect(await x.renew()).toBe('NFS4ERR_STALE_CLIENTID');
    expect(await x.connect()).toBe('OK');
    sim.partitionClient(x);
    sim.healClient(x);
    expect(await x.renew()).toBe('OK');
    expect(x.locks.get(lineage!)?.belief).toBe('reclaim');
    expect(await x.reclaimOpen('f')).toBe('OK');
    expect(await x.reclaimLock(lineage!)).toBe('OK');
    expect(x.locks.get(lineage!)?.belief).toBe('held');
    await sim.assertClean();
  } finally {
    await sim.close();
  }
}, 60_000);
