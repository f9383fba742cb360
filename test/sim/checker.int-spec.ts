/**
 * The checker must catch what it is there to catch. First on hand-made observations and logs
 * (pure), then end to end: the simulator with a deliberately broken agent in front of a real one
 * must report the violation the breakage causes.
 */
import type { DecisionMessage } from '#contracts';
import { InMemoryCluster, testNatsUrl, TestStream } from '#testing';
import type { AgentApi } from '#agent-client';
import {
  checkAcknowledgedInLog,
  checkAgentReplyStatuses,
  checkBeliefs,
  checkLogInvariants,
  checkNoReclaimAfterObservedGrant,
  checkRefusalStatuses,
  checkRefusalsInLog,
} from './checker';
import { Ticker } from './clock';
import { SimCluster } from './cluster';
import { Observation, Observations } from './observations';

const hex = (s: string) => Buffer.from(s).toString('hex');
const A = hex('client-a');
const B = hex('client-b');

function observe(build: (o: Observations) => void): Observation[] {
  const o = new Observations(new Ticker());
  build(o);
  return o.list;
}

describe('belief check', () => {
  const lockOf = (o: Observations, lineage: number, client: string, start: number, end: number, type: 'read' | 'write' = 'write') =>
    o.record({ kind: 'lineage-start', lineage, client, file: 'f', type, range: { start, end } });

  it('reports two clients holding overlapping write locks at the same time', () => {
    const obs = observe((o) => {
      lockOf(o, 1, A, 0, 10);
      lockOf(o, 2, B, 5, 15);
    });
    expect(checkBeliefs(obs).map((v) => v.check)).toEqual(['conflicting-beliefs']);
  });

  it('accepts a lock taken after the other was released, shared read locks, and disjoint ranges', () => {
    const obs = observe((o) => {
      lockOf(o, 1, A, 0, 10);
      o.record({ kind: 'lineage-released', lineage: 1 });
      lockOf(o, 2, B, 5, 15);
      lockOf(o, 3, A, 20, 30, 'read');
      lockOf(o, 4, B, 20, 30, 'read');
      lockOf(o, 5, A, 40, 50);
      lockOf(o, 6, B, 50, 60);
    });
    expect(checkBeliefs(obs)).toEqual([]);
  });

  it('accepts a conflicting lock taken while the first holder had lost contact and then learned its lock was gone', () => {
    const obs = observe((o) => {
      lockOf(o, 1, A, 0, 10);
      o.record({ kind: 'contact-lost', client: A });
      lockOf(o, 2, B, 0, 10);
      o.record({ kind: 'lineage-released', lineage: 2 });
      o.record({ kind: 'lineage-lost', lineage: 1, why: 'lock reclaim NFS4ERR_RECLAIM_BAD' });
    });
    expect(checkBeliefs(obs)).toEqual([]);
  });

  it('reports an accepted reclaim of a lock someone else held in between (the RFC edge conditions)', () => {
    const obs = observe((o) => {
      lockOf(o, 1, A, 0, 10);
      o.record({ kind: 'contact-lost', client: A });
      lockOf(o, 2, B, 0, 10);
      o.record({ kind: 'lineage-released', lineage: 2 });
      o.record({ kind: 'lineage-reclaimed', lineage: 1 });
    });
    expect(checkBeliefs(obs).map((v) => v.check)).toEqual(['conflicting-beliefs']);
  });

  it('reports a renewal that confirms a belief over a gap in which another client held the lock', () => {
    const obs = observe((o) => {
      lockOf(o, 1, A, 0, 10);
      o.record({ kind: 'contact-lost', client: A });
      lockOf(o, 2, B, 0, 10);
      o.record({ kind: 'lineage-released', lineage: 2 });
      o.record({ kind: 'confirmed', client: A, lineages: [1] });
    });
    expect(checkBeliefs(obs).map((v) => v.check)).toEqual(['conflicting-beliefs']);
  });
});

describe('log checks', () => {
  /** A cluster a, b; a restarts with clients A (valid record) while B never had one. */
  async function recoveringLog(): Promise<InMemoryCluster> {
    const log = new InMemoryCluster('c1');
    await log.execute({ type: 'add', nodes: ['a', 'b'] });
    await log.execute({ type: 'create', node: 'a', clients: [{ client: A }] });
    await log.execute({ type: 'start', nodes: ['a'] });
    return log;
  }

  it('accepts the deciders\' own refusals', async () => {
    const log = await recoveringLog();
    await log.execute({ type: 'reclaim', node: 'a', clients: [A, B] });
    await log.execute({ type: 'reclaimComplete', node: 'a', clients: [A, A] });
    await log.execute({ type: 'reclaim', node: 'a', clients: [A] });
    await log.execute({ type: 'lift', nodes: ['a'] });
    await log.execute({ type: 'reclaim', node: 'b', clients: [A] });
    expect(checkRefusalStatuses((await log.messages()))).toEqual([]);
    expect(checkLogInvariants((await log.messages()), 90_000)).toEqual([]);
    const statuses = (await log.events()).flatMap((e) => (e.type === 'ReclaimRejected' ? e.rejections.map((r) => r.status) : []));
    // The last reclaim (on b, after the lift ended grace) is refused outside grace: not stored.
    expect(statuses).toEqual(['NFS4ERR_RECLAIM_BAD', 'NFS4ERR_COMPLETE_ALREADY', 'NFS4ERR_NO_GRACE']);
  });

  it('reports a refusal with the wrong status', async () => {
    const log = await recoveringLog();
    await log.execute({ type: 'reclaim', node: 'a', clients: [B] });
    const tampered = structuredClone((await log.messages())) as DecisionMessage[];
    const rejected = tampered.at(-1)!.events.find((e) => e.type === 'ReclaimRejected')!;
    if (rejected.type !== 'ReclaimRejected') throw new Error('unreachable');
    rejected.rejections[0].status = 'NFS4ERR_NO_GRACE';
    expect(checkRefusalStatuses(tampered).map((v) => v.message)).toEqual([expect.stringContaining('refused NFS4ERR_NO_GRACE, SPEC §2 gives NFS4ERR_RECLAIM_BAD')]);
  });

  it('reports a reclaim accepted after the grace period ended (I1) through the domain oracle', async () => {
    const log = await recoveringLog();
    await log.execute({ type: 'lift', nodes: ['a'] });
    const accepted = { ...(await log.messages())[2].events[0], type: 'ReclaimAccepted', node: 'a', recoveryEpoch: 1, clients: [A], id: 'forged/0', epoch: 2 };
    const forged = [...(await log.messages()), { kind: 'gk.decision', v: 1, id: 'forged', events: [accepted] } as unknown as DecisionMessage];
    expect(checkLogInvariants(forged, 90_000)).toEqual([expect.objectContaining({ check: 'log-invariant', message: expect.stringContaining('I1') })]);
  });

  it('reports a grace-only refusal that the log does not record; outside-grace answers need no record', async () => {
    const log = await recoveringLog();
    await log.execute({ type: 'reclaim', node: 'a', clients: [B] });
    const obs = observe((o) => {
      o.record({ kind: 'agent-reply', sentTick: 0, server: 'a', op: 'reclaim', client: B, status: 'NFS4ERR_RECLAIM_BAD' });
      o.record({ kind: 'agent-reply', sentTick: 0, server: 'b', op: 'reclaim', client: B, status: 'NFS4ERR_RECLAIM_BAD' });
      o.record({ kind: 'agent-reply', sentTick: 0, server: 'a', op: 'reclaim', client: A, status: 'NFS4ERR_NO_GRACE' });
      o.record({ kind: 'agent-reply', sentTick: 0, server: 'a', op: 'reclaim_complete', client: A, status: 'NFS4ERR_COMPLETE_ALREADY' });
      o.record({ kind: 'agent-reply', sentTick: 0, server: 'a', op: 'reclaim', client: A, status: 'NFS4ERR_GRACE' });
    });
    expect(checkRefusalsInLog(obs, (await log.messages())).map((v) => v.message)).toEqual([expect.stringContaining(`b refused reclaim by ${B} with NFS4ERR_RECLAIM_BAD`)]);
  });

  it('reports an acknowledged create or reclaim that the log does not hold (I6)', async () => {
    const log = await recoveringLog();
    const obs = observe((o) => {
      o.record({ kind: 'agent-reply', sentTick: 0, server: 'a', op: 'create', client: A, status: 'OK' });
      o.record({ kind: 'agent-reply', sentTick: 0, server: 'b', op: 'create', client: B, status: 'OK' });
      o.record({ kind: 'agent-reply', sentTick: 0, server: 'a', op: 'reclaim', client: A, status: 'OK' });
    });
    expect(checkAcknowledgedInLog(obs, (await log.messages())).map((v) => v.message)).toEqual([
      expect.stringContaining(`b acknowledged create of ${B}`),
      expect.stringContaining(`a acknowledged a reclaim by ${A}`),
    ]);
  });
});

describe('observation checks', () => {
  it('reports a status an op may not answer', () => {
    const obs = observe((o) => {
      o.record({ kind: 'agent-reply', sentTick: 0, server: 'a', op: 'reclaim', client: A, status: 'NFS4ERR_COMPLETE_ALREADY' });
      o.record({ kind: 'agent-reply', sentTick: 0, server: 'a', op: 'may_grant', status: 'NFS4ERR_GRACE' });
      o.record({ kind: 'agent-reply', sentTick: 0, server: 'a', op: 'reclaim', client: A, status: 'ERR_AGENT' });
    });
    expect(checkAgentReplyStatuses(obs).map((v) => v.check)).toEqual(['agent-status']);
  });

  it('reports a reclaim sent after a grant was allowed in the same grace period (I1 as observed)', () => {
    const obs = observe((o) => {
      o.record({ kind: 'grace-start', server: 'b', epoch: 3, recoveryEpoch: 2, reclaimable: 1 });
      const sent = o.ticker.next();
      o.record({ kind: 'grant-allowed', server: 'a', sentTick: sent });
      const reclaimSent = o.ticker.next();
      o.record({ kind: 'agent-reply', sentTick: reclaimSent, server: 'b', op: 'reclaim', client: A, status: 'OK' });
    });
    expect(checkNoReclaimAfterObservedGrant(obs).map((v) => v.check)).toEqual(['I1-observed']);
  });

  it('accepts a grant from before the grace period was heard of', () => {
    const obs = observe((o) => {
      const sent = o.ticker.next();
      o.record({ kind: 'grace-start', server: 'b', epoch: 3, recoveryEpoch: 2, reclaimable: 1 });
      o.record({ kind: 'grant-allowed', server: 'a', sentTick: sent });
      const reclaimSent = o.ticker.next();
      o.record({ kind: 'agent-reply', sentTick: reclaimSent, server: 'b', op: 'reclaim', client: A, status: 'OK' });
    });
    expect(checkNoReclaimAfterObservedGrant(obs)).toEqual([]);
  });
});

describe('seeded bugs, end to end (in-process agents on real NATS)', () => {
  const stream = new TestStream('checker');
  const { names } = stream;
  beforeAll(() => stream.open());
  afterAll(() => stream.close());

  /** An agent that says OK to `op` without asking anyone. */
  const lyingAbout = (op: string, onNode: string) => (node: string, api: AgentApi): AgentApi =>
    node !== onNode ? api : { request: (o, f, opt) => (o === op ? Promise.resolve({ status: 'OK' }) : api.request(o, f, opt)), close: () => api.close() };

  async function run(cluster: string, wrapAgent: (node: string, api: AgentApi) => AgentApi, body: (sim: SimCluster) => Promise<void>) {
    const sim = await SimCluster.create({ natsUrl: testNatsUrl(), names, cluster, nodes: ['a', 'b'], agents: 'in-process', coordinator: 'none', config: { graceTimeMs: 600_000, leaseTimeMs: 600_000 }, wrapAgent });
    try {
      await sim.startServers();
      await sim.waitForGraceEnd();
      await Promise.all([...sim.servers.values()].map((s) => s.graceDone));
      await body(sim);
      return await sim.check();
    } finally {
      await sim.close();
    }
  }

  it('an agent that accepts every reclaim lets edge condition 1 through: the checker reports it', async () => {
    const violations = await run('lying-reclaim', lyingAbout('reclaim', 'a'), async (sim) => {
      const a = sim.addClient('a');
      const b = sim.addClient('b');
      await a.connect();
      await a.open('f');
      await a.lock('f', { start: 0, end: 10 }, 'write');
      await b.connect();
      await b.open('f');
      sim.partitionClient(a);
      await sim.expireClient(a);
      const taken = await b.lock('f', { start: 0, end: 10 }, 'write');
      await b.unlock(taken.lineage!);
      await sim.restartServer('a');
      sim.healClient(a);
      expect((await a.recover()).map((r) => r.status)).toEqual(['OK', 'OK', 'OK', 'OK']);
    });
    const kinds = new Set(violations.map((v) => v.check));
    expect(kinds).toContain('conflicting-beliefs');
    expect(kinds).toContain('I6');
  }, 60_000);

  it('an agent that allows every grant breaks I1 in a grace period: the checker reports it', async () => {
    const violations = await run('lying-grant', lyingAbout('may_grant', 'a'), async (sim) => {
      const x = sim.addClient('b');
      await x.connect();
      await x.open('f');
      await x.lock('f', { start: 0, end: 10 }, 'write');
      sim.server('b').holdGraceDone = true;
      await sim.restartServer('b');
      const y = sim.addClient('a');
      await y.connect();
      expect(await y.open('g')).toBe('OK'); // granted during grace: the bug
      expect((await x.recover()).map((r) => r.status)).toEqual(['OK', 'OK', 'OK', 'OK']);
    });
    expect(violations.map((v) => v.check)).toContain('I1-observed');
  }, 60_000);
});
