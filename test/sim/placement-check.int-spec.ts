/**
 * The checker's placement rule (SPEC I8): first on hand-made observations and logs, then end to
 * end, where a broken agent on the old host that ignores fencing must be reported.
 */
import { connect } from '@nats-io/transport-node';
import type { AgentApi } from '#agent-client';
import type { DecisionMessage, EventBody } from '#contracts';
import { cleanupStream, testNatsUrl, testStreamNames } from '#testing';
import { Ticker } from './clock';
import { SimCluster } from './cluster';
import { moveIdentity } from './failover';
import { Observations } from './observations';
import { checkReclaimsThroughServingHost } from './placement-check';
import { coldStart, clientWithLock } from './scenario-kit';

const X = Buffer.from('client-x').toString('hex');
const meta = { v: 1 as const, cluster: 'c', epoch: 3, time: '2026-01-01T00:00:00.000Z', actor: 't' };
const message = (id: string, events: EventBody[]): DecisionMessage =>
  ({ id, events: events.map((e, i) => ({ ...meta, id: `${id}.${i}`, ...e })) } as unknown as DecisionMessage);

function replies(...hosts: (string | undefined)[]) {
  const o = new Observations(new Ticker());
  for (const host of hosts) o.record({ kind: 'agent-reply', sentTick: 0, server: 'b', op: 'reclaim', client: X, status: 'OK', ...(host ? { host } : {}) });
  return o.list;
}

describe('placement check (pure)', () => {
  const moved = message('m1', [{ type: 'IdentityMoved', node: 'b', fromHost: 'b', toHost: 'a', generation: 1 }]);
  const acceptedThroughA = message('m2', [{ type: 'ReclaimAccepted', node: 'b', recoveryEpoch: 2, clients: [X], host: 'a' }]);

  it('accepts a reclaim answered through the host the log placed the identity on', () => {
    expect(checkReclaimsThroughServingHost(replies('a'), [moved, acceptedThroughA])).toEqual([]);
  });

  it('reports a reclaim answered OK through the old host after the move', () => {
    expect(checkReclaimsThroughServingHost(replies(undefined), [moved, acceptedThroughA]).map((v) => v.check)).toEqual(['I8']);
  });

  it("judges by the log's order, not the event's own host field: an acceptance before the move was through the own-name host", () => {
    const early = message('m0', [{ type: 'ReclaimAccepted', node: 'b', recoveryEpoch: 2, clients: [X], host: 'a' }]);
    expect(checkReclaimsThroughServingHost(replies('a'), [early, moved]).map((v) => v.check)).toEqual(['I8']);
  });
});

describe('placement check (end to end, seeded bug)', () => {
  it('reports an old host whose agent ignores fencing and answers a reclaim for the moved identity', async () => {
    const names = testStreamNames('placementbug');
    let broken = false;
    // The bug: host b's agent answers every request for b OK itself, as if no move had happened.
    const ignoresFencing = (node: string, api: AgentApi): AgentApi => (node !== 'b' ? api : {
      request: (op, fields, options) => {
        if (!broken) return api.request(op, fields, options);
        if (op === 'grace_start') return Promise.resolve({ status: 'OK', epoch: 3, recoveryEpoch: 2, inGrace: true, reclaimable: 1 });
        return Promise.resolve({ status: 'OK' });
      },
      close: () => api.close(),
    });
    const sim = await SimCluster.create({
      natsUrl: testNatsUrl(), names, cluster: 'placementbug', nodes: ['a', 'b'], agents: 'in-process', coordinator: 'none',
      config: { graceTimeMs: 600_000, leaseTimeMs: 600_000 }, localGraceMs: 600_000, agentsServeAll: true, wrapAgent: ignoresFencing,
    });
    try {
      await coldStart(sim);
      const onB = await clientWithLock(sim, 'b', 'f', { start: 0, end: 10 });
      const { previous } = await moveIdentity(sim, 'b', 'a', { oldHostAlive: true, holdGraceDone: true });
      expect(await sim.check()).toEqual([]);

      // The old server restarts on the old host and its broken agent lets a client of b reclaim there.
      broken = true;
      previous.crash();
      await previous.start();
      const stray = sim.addClient('a', { id: onB.client.id });
      stray.server = previous;
      expect(await stray.connect()).toBe('OK');
      expect(await stray.reclaimOpen('f')).toBe('OK');
      const violations = await sim.check();
      expect(violations.map((v) => v.check)).toContain('I8');
      expect(violations.find((v) => v.check === 'I8')!.message).toMatch(/accepted through host b, but the log accepted it only through no host/);
    } finally {
      await sim.close();
      const nc = await connect({ servers: testNatsUrl() });
      await cleanupStream(nc, names).finally(() => nc.close());
    }
  }, 60_000);
});
