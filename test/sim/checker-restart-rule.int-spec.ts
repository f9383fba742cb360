/**
 * The checker knows SPEC §2's restart rule (f2c4571, 8b8e78c): a (re)start inside grace makes
 * every record the node holds reclaimable, including records created fresh in that grace period.
 * A RECLAIM_BAD for such a client (what the rule said before those commits) is a wrong refusal,
 * and the checker must report it: first on a log from the real deciders with the decision
 * tampered, then end to end, with an agent that records that wrong refusal in the real stream.
 */
import { subjects, type DecisionMessage, type EventBody } from '#contracts';
import { decide, evolve, initialClusterState, seal, type Command } from '#domain';
import { testNatsUrl, TestStream } from '#testing';
import type { AgentApi } from '#agent-client';
import { checkLogInvariants, checkRefusalStatuses, checkRun } from './checker';
import { Ticker } from './clock';
import { SimCluster } from './cluster';
import { Observations } from './observations';

const hex = (s: string) => Buffer.from(s).toString('hex');
const FRESH = hex('created-during-grace');
const OLD = hex('recorded-before-grace');

/** A log written by the real deciders, one decision per command. */
function logOf(commands: Command[]): DecisionMessage[] {
  const s = initialClusterState();
  return commands.map((c, i) => {
    const r = decide(c, s);
    if (!r.ok) throw new Error(`${c.type}: ${r.rejection.message}`);
    const m = seal(s, r.decision.events, { cluster: 'c1', decisionId: `d${i}`, actor: 'test', time: new Date(1_000_000 + i * 1000) });
    for (const e of m.events) evolve(s, e);
    return m;
  });
}

/** a restarts, FRESH is created during that grace period, a restarts again inside it, then FRESH and OLD reclaim. */
function restartInsideGrace(): DecisionMessage[] {
  return logOf([
    { type: 'add', nodes: ['a', 'b'] },
    { type: 'create', node: 'a', clients: [{ client: OLD }] },
    { type: 'start', nodes: ['a'] },
    { type: 'create', node: 'a', clients: [{ client: FRESH }] },
    { type: 'reclaim', node: 'a', clients: [OLD] },
    { type: 'start', nodes: ['a'] }, // a restart inside the grace period: NodeJoinedGrace
    { type: 'reclaim', node: 'a', clients: [FRESH] },
    { type: 'reclaim', node: 'a', clients: [OLD] },
  ]);
}

/** The decision's ReclaimAccepted for `client` replaced by a ReclaimRejected with `status`. */
function refused(log: DecisionMessage[], index: number, client: string, status: 'NFS4ERR_RECLAIM_BAD' | 'NFS4ERR_NO_GRACE'): DecisionMessage[] {
  const tampered = structuredClone(log);
  const m = tampered[index]!;
  const accepted = m.events[0]!;
  if (accepted.type !== 'ReclaimAccepted' || !accepted.clients.includes(client)) throw new Error(`decision ${index} does not accept ${client}`);
  m.events = [{ ...accepted, type: 'ReclaimRejected', rejections: [{ client, status, op: 'reclaim' }] } as never];
  return tampered;
}

describe('the checker and the restart rule (log level)', () => {
  it('accepts the deciders\' log: after a restart inside grace, a client created fresh in it reclaims again', () => {
    const log = restartInsideGrace();
    expect(log[6]!.events.map((e) => e.type)).toEqual(['ReclaimAccepted']);
    expect(log[7]!.events.map((e) => e.type)).toEqual(['ReclaimAccepted']);
    expect(checkRefusalStatuses(log)).toEqual([]);
    expect(checkLogInvariants(log, 90_000)).toEqual([]);
  });

  it('reports a RECLAIM_BAD for a client created fresh in the grace period, after a restart inside it', () => {
    const tampered = refused(restartInsideGrace(), 6, FRESH, 'NFS4ERR_RECLAIM_BAD');
    const violations = checkRun({ observations: new Observations(new Ticker()), log: tampered, graceTimeMs: 90_000 });
    expect(violations.map((v) => v.message)).toEqual([expect.stringContaining(`decision 7: reclaim by ${FRESH} on a refused NFS4ERR_RECLAIM_BAD, SPEC §2 gives OK`)]);
  });

  it('still reports a RECLAIM_BAD for a client whose record of R it reclaimed before the restart', () => {
    const tampered = refused(restartInsideGrace(), 7, OLD, 'NFS4ERR_RECLAIM_BAD');
    expect(checkRefusalStatuses(tampered).map((v) => v.message)).toEqual([expect.stringContaining(`reclaim by ${OLD} on a refused NFS4ERR_RECLAIM_BAD, SPEC §2 gives OK`)]);
  });
});

describe('the checker and the restart rule (seeded bug, in-process agents on real NATS)', () => {
  const stream = new TestStream('checker-restart');
  const { names } = stream;
  beforeAll(() => stream.open());
  afterAll(() => stream.close());

  /**
   * An agent with the restart rule of before 8b8e78c: it refuses, as RECLAIM_BAD, the reclaim of a
   * client it saw created while a grace period was in force, and records that refusal in the log
   * (appended like any decision, after the real agent's last one), so the log itself is wrong.
   */
  const refusingFreshClients = (onNode: string, sim: () => SimCluster) => {
    const freshInGrace = new Set<string>();
    return (node: string, api: AgentApi): AgentApi => (node !== onNode ? api : {
      request: async (op, fields = {}, options) => {
        const client = typeof fields.client === 'string' ? fields.client : undefined;
        if (op === 'reclaim' && client && freshInGrace.has(client)) {
          await appendRefusal(sim(), node, client);
          return { status: 'NFS4ERR_RECLAIM_BAD' };
        }
        const reply = await api.request(op, fields, options);
        if (op === 'create' && client && reply.status === 'OK' && (await api.request('hello')).inGrace === true) freshInGrace.add(client);
        return reply;
      },
      close: () => api.close(),
    });
  };

  async function appendRefusal(sim: SimCluster, node: string, client: string): Promise<void> {
    const subject = subjects.cluster(names, sim.options.cluster);
    const version = await sim.admin.store.currentVersion(subject);
    const body: EventBody = { type: 'ReclaimRejected', node, rejections: [{ client, status: 'NFS4ERR_RECLAIM_BAD', op: 'reclaim' }] };
    const message = seal(await sim.state(), [body], { cluster: sim.options.cluster, decisionId: `seeded-bug/${client}`, actor: node, time: new Date() });
    await sim.admin.store.appendToStream(subject, message, { expectedVersion: version });
  }

  it('an agent that refuses a fresh client\'s reclaim after a restart inside grace: the checker reports the wrong RECLAIM_BAD', async () => {
    let sim: SimCluster | undefined;
    const wrap = refusingFreshClients('a', () => sim!);
    sim = await SimCluster.create({
      natsUrl: testNatsUrl(), names, cluster: 'fresh-refused', nodes: ['a', 'b'], agents: 'in-process', coordinator: 'none',
      config: { graceTimeMs: 600_000, leaseTimeMs: 600_000 }, wrapAgent: wrap,
    });
    try {
      const a = wrap('a', sim.agent('a').api());
      const ask = async (op: string, fields: Record<string, unknown> = {}) => (await a.request(op, fields, { timeoutMs: 10_000 })).status;
      expect(await ask('create', { client: OLD })).toBe('OK');
      expect(await ask('grace_start')).toBe('OK');
      expect(await ask('create', { client: FRESH })).toBe('OK');
      expect(await ask('grace_start')).toBe('OK'); // restart inside the grace period
      expect((await sim.state()).recoveryEpoch).not.toBe(0);
      expect(await ask('reclaim', { client: OLD })).toBe('OK'); // the real rule, for comparison
      expect(await ask('reclaim', { client: FRESH })).toBe('NFS4ERR_RECLAIM_BAD'); // the seeded bug
      await a.close();
      const violations = await sim.check();
      expect(violations.map((v) => `[${v.check}] ${v.message}`)).toEqual([
        expect.stringMatching(new RegExp(`^\\[refusal-status\\] decision \\d+: reclaim by ${FRESH} on a refused NFS4ERR_RECLAIM_BAD, SPEC §2 gives OK$`)),
      ]);
    } finally {
      await sim.close();
    }
  }, 60_000);
});
