/**
 * Scenario suite with the client-registry process on real PostgreSQL: when edge condition 2's
 * first grace period ends, the registry publishes the invalidation of A's record (I4), and its
 * projected answer to "may A reclaim on a?" agrees with what the node-agent answered A.
 */
import { subjects } from '#contracts';
import { lastEventSequence } from '#projection';
import { startRegistry, type RegistryProcess } from '../../apps/client-registry/test/process';
import { distMain, ensureBuilt, testDatabaseUrl } from '#testing';
import { clientWithLock, coldStart, scenario } from '../sim/scenario-kit';
import { SimCluster } from '../sim/cluster';

beforeAll(() => ensureBuilt([distMain('node-agent'), distMain('grace-coordinator'), distMain('client-registry')]), 180_000);

async function ask(sim: SimCluster, request: Record<string, unknown>): Promise<any> {
  const atLeast = await lastEventSequence(sim.admin.nc, sim.options.names);
  const reply = await sim.admin.nc.request(subjects.registryRequests(sim.options.names, sim.options.cluster), JSON.stringify({ ...request, atLeast, waitMs: 20_000 }), { timeout: 30_000 });
  return reply.json();
}

async function invalidations(sim: SimCluster) {
  const read = await sim.admin.store.readStream(subjects.registry(sim.options.names, sim.options.cluster));
  return read.messages.flatMap((m) => m.message.events).filter((e) => e.type === 'ClientRecordsInvalidated');
}

it('the client-registry invalidates the record edge condition 2 drops, and agrees with the agent that A may not reclaim', async () => {
  await scenario('registry-edge-2', {}, async (sim) => {
    let registry: RegistryProcess | undefined;
    try {
      registry = await startRegistry({ replica: 'sim-registry', names: sim.options.names, natsUrl: sim.options.natsUrl, databaseUrl: testDatabaseUrl(), token: 'sim-registry-token' });
      await coldStart(sim);
      const a = await clientWithLock(sim, 'a', 'f', { start: 0, end: 10 });
      const other = await clientWithLock(sim, 'a', 'g', { start: 0, end: 10 });

      // First reboot of a: A is cut off for the whole grace period, the other client reclaims.
      sim.partitionClient(a.client);
      sim.server('a').holdGraceDone = true;
      await sim.restartServer('a');
      expect((await other.client.recover()).map((r) => r.status)).toEqual(['OK', 'OK', 'OK', 'OK']);
      // a's own grace time passes without A (as if its timer ran out).
      sim.server('a').releaseGraceDone(true);
      const ended = await sim.waitForGraceEnd();
      expect(ended.lastGraceEnd).toMatchObject({ recoveryEpoch: 2, reason: 'all-reclaimed' });

      // The registry publishes the invalidation of A's record of epoch 2, and only A's.
      let published: Awaited<ReturnType<typeof invalidations>> = [];
      for (let i = 0; i < 200 && published.length === 0; i++) {
        published = await invalidations(sim);
        if (!published.length) await new Promise((r) => setTimeout(r, 100));
      }
      expect(published).toEqual([expect.objectContaining({ recoveryEpoch: 2, reason: 'all-reclaimed', node: 'a', clients: [a.client.id] })]);

      // Second reboot: A is back and tries to reclaim. The agent refuses; the registry agrees.
      await sim.server('a').graceDone;
      await sim.restartServer('a');
      sim.healClient(a.client);
      const answers = await a.client.recover({ complete: false });
      expect(answers.map((r) => `${r.op} ${r.status}`)).toEqual(['setclientid OK', 'reclaim-open NFS4ERR_RECLAIM_BAD']);
      const forA = await ask(sim, { op: 'reclaimable', node: 'a', client: a.client.id });
      const forOther = await ask(sim, { op: 'reclaimable', node: 'a', client: other.client.id });
      expect(JSON.stringify(forA)).toContain('"reclaimable":false');
      expect(JSON.stringify(forA)).toContain('NFS4ERR_RECLAIM_BAD');
      expect(JSON.stringify(forOther)).toContain('"reclaimable":true');
      expect(await a.client.reclaimComplete()).toBe('OK');
      expect((await other.client.recover()).map((r) => r.status)).toEqual(['OK', 'OK', 'OK', 'OK']);
      await sim.waitForGraceEnd();
    } catch (err) {
      if (registry && err instanceof Error) err.message += `\n--- registry ---\n${registry.output().slice(-3000)}`;
      throw err;
    } finally {
      await registry?.stop();
    }
  });
}, 150_000);
