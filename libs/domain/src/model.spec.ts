import fc from 'fast-check';
import { DecisionMessage, streamNames, subjects } from '#contracts';
import { executeCommands, loadCluster } from '#cluster-store';
import { InMemoryEventStore, reloadEachAttempt, type StateSource } from '#event-store';
import { Command, Outcome, decide, evolve, placementOf } from './index';
import { checkClient } from './queries';
import type { ClusterState } from './state';
import { InvariantOracle } from './testing/invariant-oracle';

/**
 * Model-based test: random interleavings of NFS-server and operator actions on 2–5 nodes, each
 * node deciding on its own possibly stale view and appending with the store's rule (expected
 * version) through the services' command handler over the in-memory event store, while an
 * independent oracle replays the log and checks
 * invariants I1–I5 (and I7's lower bound on deadline ends) after every step. Identities move
 * between hosts (failover, failback); each identity's commands come from a host (the one serving
 * it, or now and then any host) with the placement generation that host adopted when it last
 * started serving the identity, and the oracle checks I8: a reclaim is answered OK only through
 * the host serving the identity at that point of the log.
 */
/** `h`: the host sending the command; absent, the host serving the identity now. */
type Op =
  | { k: 'restart'; n: number; h?: number } // NFS server (re)start → grace_start
  | { k: 'move'; n: number; h: number }    // failover / failback: identity n to host h
  | { k: 'agentCrash'; n: number }        // the agent loses its view and reloads
  | { k: 'lift'; n: number }
  | { k: 'remove'; n: number }
  | { k: 'add'; n: number }
  | { k: 'enforce'; n: number }
  | { k: 'noenforce'; n: number }
  | { k: 'create'; n: number; x: number }
  | { k: 'removeClient'; n: number; x: number }
  | { k: 'reclaim'; n: number; xs: number[]; h?: number }
  | { k: 'complete'; n: number; x: number }
  | { k: 'mayGrant'; n: number }
  | { k: 'tick'; ms: number }
  | { k: 'expire' }
  | { k: 'duplicate' };

const node = fc.nat({ max: 4 });
const client = fc.nat({ max: 7 });
/** Mostly the serving host; one time in four any host (a stale or partitioned one). */
const sender = fc.option(node, { freq: 3, nil: undefined });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ n: node, h: sender }).map((r) => ({ k: 'restart' as const, ...r })) },
  { weight: 1, arbitrary: fc.record({ n: node, h: node }).map((r) => ({ k: 'move' as const, ...r })) },
  { weight: 1, arbitrary: node.map((n) => ({ k: 'agentCrash' as const, n })) },
  { weight: 1, arbitrary: node.map((n) => ({ k: 'lift' as const, n })) },
  { weight: 1, arbitrary: node.map((n) => ({ k: 'remove' as const, n })) },
  { weight: 1, arbitrary: node.map((n) => ({ k: 'add' as const, n })) },
  { weight: 3, arbitrary: node.map((n) => ({ k: 'enforce' as const, n })) },
  { weight: 1, arbitrary: node.map((n) => ({ k: 'noenforce' as const, n })) },
  { weight: 6, arbitrary: fc.record({ n: node, x: client }).map((r) => ({ k: 'create' as const, ...r })) },
  { weight: 1, arbitrary: fc.record({ n: node, x: client }).map((r) => ({ k: 'removeClient' as const, ...r })) },
  { weight: 12, arbitrary: fc.record({ n: node, xs: fc.array(client, { minLength: 1, maxLength: 4 }), h: sender }).map((r) => ({ k: 'reclaim' as const, ...r })) },
  { weight: 1, arbitrary: fc.record({ n: node, x: client }).map((r) => ({ k: 'complete' as const, ...r })) },
  { weight: 2, arbitrary: node.map((n) => ({ k: 'mayGrant' as const, n })) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 40_000 }).map((ms) => ({ k: 'tick' as const, ms })) },
  { weight: 1, arbitrary: fc.constant({ k: 'expire' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'duplicate' as const }) },
);
const config = fc.record({
  deadlinePolicy: fc.constantFrom('abandon' as const, 'wait' as const),
  exitPolicy: fc.constantFrom('all-clear' as const, 'first-exit' as const),
});

type Decider = (c: Command, s: ClusterState) => Outcome;

/** A node's view: the state it decided on last, refreshed only on conflict or after its own appends. */
interface View { state: ClusterState; version: number }

/** What a run exercised, so the test can show it reached the interesting states. */
const coverage = new Map<string, number>();
const count = (key: string, n = 1) => coverage.set(key, (coverage.get(key) ?? 0) + n);

async function runSchedule(nodeCount: number, cfg: { deadlinePolicy: 'abandon' | 'wait'; exitPolicy: 'all-clear' | 'first-exit' }, ops: Op[], decider: Decider): Promise<number> {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const store = new InMemoryEventStore<DecisionMessage>({ idOf: (m) => m.id, clock: () => now });
  const names = streamNames('model');
  const subject = subjects.cluster(names, 'm');
  const oracle = new InvariantOracle({ graceTimeMs: 60_000 });
  const nodes = Array.from({ length: nodeCount }, (_, i) => `n${i}`);
  const clients = Array.from({ length: 12 }, (_, i) => (0x10 + i).toString(16));
  const views = new Map<string, View>();
  const fresh = (): Promise<View> => loadCluster(store, names, 'm');
  /** A node's view as the handler's state source: it catches up only when the handler says so. */
  const viewSource = (v: View): StateSource<ClusterState> => ({
    current: () => v,
    catchUp: async (version) => {
      const read = await store.readStream(subject, { from: v.version + 1, to: version });
      for (const m of read.messages) for (const e of m.message.events) evolve(v.state, e);
      v.version = Math.min(version ?? read.version, read.version);
    },
  });
  const viewOf = async (n: string) => viewSource(views.get(n) ?? views.set(n, await fresh()).get(n)!);
  const reload = reloadEachAttempt(fresh);
  let lastMessage: DecisionMessage | undefined;
  /** The placement generation each host adopted for an identity (`host/identity`) when it last started serving it. */
  const adopted = new Map<string, number>(nodes.map((n) => [`${n}/${n}`, 0]));
  const hostOf = (n: string, h: number | undefined) => (h === undefined ? oracle.placedAt(n).host : nodes[h % nodeCount]);
  const via = (n: string, host: string) => ({ host, generation: adopted.get(`${host}/${n}`) ?? -1 });

  /** The services' command handler: decide on the view; append with its version; on conflict catch up and decide again. */
  const execute = async (actor: string, command: Command, source: StateSource<ClusterState>) => {
    const [result] = await executeCommands(store, subject, 'm', source, [command], { actor, now: () => now }, {
      decide: decider,
      maxAttempts: 50,
      maxBackoffMs: 0,
      onConflict: () => count('conflict'),
    });
    if (!result.ok && result.rejection.code === 'FENCED') count('fenced');
    if (result.ok && result.sequence !== null) {
      lastMessage = (await store.readStream(subject, { from: result.sequence, to: result.sequence })).messages[0].message;
      oracle.observe(result.events, now);
      for (const e of result.events) count(e.type === 'GraceEnded' ? `GraceEnded:${e.reason}` : e.type, e.type === 'ReclaimAccepted' ? e.clients.length : 1);
      for (const e of result.events) if (e.type === 'ReclaimAccepted' && e.host) count('ReclaimAccepted:moved', e.clients.length);
    }
    return result;
  };

  await execute('admin', { type: 'add', nodes, config: { ...cfg, graceTimeMs: 60_000, leaseTimeMs: 30_000 } }, reload);
  let steps = 0;
  for (const op of ops) {
    steps++;
    const n = 'n' in op ? nodes[op.n % nodeCount] : nodes[0];
    // The host acting for identity n, and the placement it believes.
    const host = hostOf(n, 'h' in op ? op.h : undefined);
    switch (op.k) {
      case 'restart': {
        // grace_start through this host: it serves n from now on at the generation its view shows, if the log agrees.
        const source = await viewOf(host);
        const generation = placementOf((await source.current()).state, n).generation;
        const r = await execute(host, { type: 'start', nodes: [n], addMissing: true, via: { host, generation } }, source);
        if (r.ok) adopted.set(`${host}/${n}`, generation);
        break;
      }
      case 'move': await execute('admin', { type: 'move', identity: n, host: nodes[op.h % nodeCount] }, reload); break;
      case 'agentCrash': views.delete(n); break;
      case 'lift': await execute(host, { type: 'lift', nodes: [n], via: via(n, host) }, await viewOf(host)); break;
      case 'remove': await execute('admin', { type: 'remove', nodes: [n] }, reload); break;
      case 'add': await execute('admin', { type: 'add', nodes: [n] }, reload); break;
      case 'enforce': await execute('admin', { type: 'enforce', nodes: [n] }, reload); break;
      case 'noenforce': await execute('admin', { type: 'noenforce', nodes: [n] }, reload); break;
      case 'create': await execute(host, { type: 'create', node: n, clients: [{ client: clients[op.x] }], via: via(n, host) }, await viewOf(host)); break;
      case 'removeClient': await execute(host, { type: 'removeClients', node: n, clients: [clients[op.x]], via: via(n, host) }, await viewOf(host)); break;
      case 'complete': await execute(host, { type: 'reclaimComplete', node: n, clients: [clients[op.x]], via: via(n, host) }, await viewOf(host)); break;
      case 'reclaim': {
        const xs = op.xs.map((x) => clients[x]);
        const r = await execute(host, { type: 'reclaim', node: n, clients: xs, via: via(n, host) }, await viewOf(host));
        if (r.ok && r.reply.kind === 'reclaim') oracle.checkReclaimReplies(n, xs, r.reply.statuses, host);
        break;
      }
      case 'mayGrant': {
        const r = await execute(host, { type: 'mayGrant', node: n, now, via: via(n, host) }, await viewOf(host));
        if (r.ok && r.reply.kind === 'mayGrant' && r.reply.status === 'OK') oracle.checkGrantAllowed(n);
        break;
      }
      case 'tick': now += op.ms; break;
      case 'expire': await execute('coordinator', { type: 'expire', now }, reload); break;
      case 'duplicate':
        // A retried publish after a lost ack: same msgID, stale expectation; must not be stored twice.
        if (lastMessage) expect(await store.appendToStream(subject, lastMessage, { expectedVersion: 0 })).toMatchObject({ duplicate: true });
        break;
    }
    // Queries on a fresh state agree with the oracle's independent record model (I4: invalid stays invalid).
    const { state } = await fresh();
    oracle.checkState(state.epoch, state.recoveryEpoch);
    for (const nd of nodes) for (const x of clients) oracle.checkQuery(nd, x, checkClient(state, nd, x));
  }
  return steps;
}

const scheduleArb = fc.record({
  nodeCount: fc.integer({ min: 2, max: 5 }),
  cfg: config,
  ops: fc.array(opArb, { minLength: 150, maxLength: 250 }),
});

describe('model-based: invariants I1–I5 over random interleavings', () => {
  it('holds for ≥ 10,000 random steps', async () => {
    let steps = 0;
    await fc.assert(fc.asyncProperty(scheduleArb, async ({ nodeCount, cfg, ops }) => {
      steps += await runSchedule(nodeCount, cfg, ops, decide);
    }), { numRuns: 60 });
    expect(steps).toBeGreaterThanOrEqual(10_000);
    process.stdout.write(`model-based run: ${steps} steps, ${JSON.stringify(Object.fromEntries(coverage))}\n`);
    // The schedules reach every way grace ends, real reclaims and real conflicts between stale views.
    for (const key of ['ReclaimAccepted', 'ReclaimAccepted:moved', 'IdentityMoved', 'fenced', 'conflict', 'FirstNonReclaimGrant', 'GraceEnded:all-reclaimed', 'GraceEnded:deadline', 'GraceEnded:removed', 'GraceEnded:first-non-reclaim-grant']) {
      expect([key, coverage.get(key) ?? 0]).toEqual([key, expect.any(Number)]);
      expect(coverage.get(key) ?? 0).toBeGreaterThan(0);
    }
    expect(coverage.get('ReclaimAccepted')).toBeGreaterThan(200);
  });

  it('catches a seeded bug: a variant that accepts reclaims after the grace period ended', async () => {
    const acceptsAfterGrace: Decider = (c, s) => {
      if (c.type === 'reclaim' && s.recoveryEpoch === 0 && s.epoch > 1) {
        return { ok: true, decision: { events: [{ type: 'ReclaimAccepted', node: c.node, recoveryEpoch: s.epoch - 1, clients: [...new Set(c.clients)] }], needsFreshView: true, reply: { kind: 'reclaim', statuses: c.clients.map(() => 'OK' as const) } } };
      }
      return decide(c, s);
    };
    const result = await fc.check(fc.asyncProperty(scheduleArb, async ({ nodeCount, cfg, ops }) => {
      await runSchedule(nodeCount, cfg, ops, acceptsAfterGrace);
    }), { numRuns: 200 });
    expect(result.failed).toBe(true);
    expect(String(result.errorInstance)).toMatch(/I1|I3/);
  });

  it('catches a seeded bug: a variant that accepts reclaims through any host (no fencing)', async () => {
    // It decides as if the sender were the host serving the identity: the log looks right, the answer went elsewhere.
    const unfenced: Decider = (c, s) => ('via' in c && c.via ? decide({ ...c, via: placementOf(s, 'node' in c ? c.node : c.nodes[0]) } as Command, s) : decide(c, s));
    const result = await fc.check(fc.asyncProperty(scheduleArb, async ({ nodeCount, cfg, ops }) => {
      await runSchedule(nodeCount, cfg, ops, unfenced);
    }), { numRuns: 200 });
    expect(result.failed).toBe(true);
    expect(String(result.errorInstance)).toMatch(/I8/);
  });

  it('catches a seeded bug: a variant that lets a node grant during grace', async () => {
    const grantsInGrace: Decider = (c, s) =>
      c.type === 'mayGrant' ? { ok: true, decision: { events: [], needsFreshView: false, reply: { kind: 'mayGrant', status: 'OK', endsGrace: false } } } : decide(c, s);
    const result = await fc.check(fc.asyncProperty(scheduleArb, async ({ nodeCount, cfg, ops }) => {
      await runSchedule(nodeCount, cfg, ops, grantsInGrace);
    }), { numRuns: 200 });
    expect(result.failed).toBe(true);
    expect(String(result.errorInstance)).toMatch(/I2/);
  });

  it('catches a seeded bug: a variant that forgets to drop unreclaimed records when grace ends', async () => {
    const keepsRecords: Decider = (c, s) => {
      const r = decide(c, s);
      // Sneak the whole recovery set back in as "reclaimed" right before grace ends.
      if (r.ok && r.decision.events.some((e) => e.type === 'GraceEnded')) {
        const extra = [...s.records].flatMap(([n, rec]) => rec.recovery && rec.recovery.size
          ? [{ type: 'ReclaimAccepted' as const, node: n, recoveryEpoch: s.recoveryEpoch, clients: [...rec.recovery.keys()] }] : []);
        return { ok: true, decision: { ...r.decision, events: [...extra, ...r.decision.events] } };
      }
      return r;
    };
    const result = await fc.check(fc.asyncProperty(scheduleArb, async ({ nodeCount, cfg, ops }) => {
      await runSchedule(nodeCount, cfg, ops, keepsRecords);
    }), { numRuns: 200 });
    expect(result.failed).toBe(true);
  });
});
