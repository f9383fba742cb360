// Longer than 300 lines on purpose: one schedule's fault steps and its settle phase must be read together to see why each invariant holds (client steps: random-client-step.ts).
import type { GraceConfig, StreamNames } from '#contracts';
import { AgentKind, SimCluster } from './cluster';
import { formatViolations, Violation } from './checker';
import { Rng, sleep } from './clock';
import { moveIdentity } from './failover';
import { clientStep } from './random-client-step';
import { SimNfsClient } from './nfs-client';

/**
 * Seeded random fault schedules: a small cluster, clients taking and releasing byte-range locks,
 * and faults injected while their requests are in flight (node restart, cluster-wide restart, a
 * node that dies for good and is removed, a client partitioned until its lease expires, an agent
 * killed with kill -9, NATS cut for one agent, an identity moved to another host and back:
 * failover and failback, in at least a third of the schedules). Every schedule ends by healing everything, letting
 * every client recover, waiting for the grace period to end, and running every check.
 *
 * The seed fixes every choice; the interleaving of concurrent requests still depends on timing,
 * so a failing seed is re-run with `GK_SIM_SEED=<seed>` and its fault log is printed with it.
 */

export interface RandomRunOptions {
  seed: number;
  natsUrl: string;
  names: StreamNames;
  agents: AgentKind;
  rounds?: number;
  /** Give up on a schedule that has not settled by then (reported as a violation with its phase). */
  timeoutMs?: number;
}

export interface RandomRunResult {
  seed: number;
  violations: Violation[];
  faults: string[];
  stats: { rounds: number; requests: number; graceEnds: string[]; epochs: number; ms: number; moves: number };
}

type Fault =
  | 'restart-node' | 'restart-cluster' | 'crash-node' | 'start-node' | 'kill-node-for-good'
  | 'partition' | 'expire' | 'heal' | 'kill-agent' | 'start-agent' | 'cut-nats' | 'restore-nats' | 'move';

/**
 * One schedule. Whatever goes wrong (an invariant broken, a hang, a failure to set the cluster up
 * or tear it down) is this schedule's result: it never escapes to end a soak's other schedules,
 * whose shared stream the suite deletes once its test ends (soak from 900000: a NATS dial timing
 * out in the set-up under load did that).
 */
export async function runRandomSchedule(o: RandomRunOptions): Promise<RandomRunResult> {
  const startedAt = Date.now();
  try {
    return await runSchedule(o, startedAt);
  } catch (err) {
    const stats = { rounds: 0, requests: 0, graceEnds: [], epochs: 0, ms: Date.now() - startedAt, moves: 0 };
    return { seed: o.seed, violations: [{ check: 'set-up or tear-down', message: (err as Error).stack ?? String(err) }], faults: [], stats };
  }
}

async function runSchedule(o: RandomRunOptions, startedAt: number): Promise<RandomRunResult> {
  const rng = new Rng(o.seed);
  const nodes = ['a', 'b', 'c', 'd'].slice(0, rng.int(2, 4));
  const firstExit = rng.chance(0.25);
  const config: Partial<GraceConfig> = {
    graceTimeMs: 1000,
    leaseTimeMs: 300,
    exitPolicy: firstExit ? 'first-exit' : 'all-clear',
    deadlinePolicy: firstExit || rng.chance(0.8) ? 'abandon' : 'wait',
  };
  const sim = await SimCluster.create({
    natsUrl: o.natsUrl,
    names: o.names,
    cluster: `r${o.seed}`,
    nodes,
    agents: o.agents,
    config,
    localGraceMs: 400,
    agentRequestTimeoutMs: 1000,
    // A cut-off agent holds requests whose append reached NATS until NATS answers: the servers give
    // up on them after a few seconds, as NFS servers do, so a schedule is not held by a partition.
    agentAskTimeoutMs: 3000,
    agentsServeAll: true,
  });
  /** A failover schedule moves an identity away early and (usually) back later, besides the random moves. */
  const failoverRounds = rng.chance(0.45) ? [1, rng.chance(0.75) ? rng.int(3, 5) : -1] : [];
  let moves = 0;
  /**
   * Identities being moved, until their server started on the new host: no other fault starts
   * them meanwhile (a cluster manager starts the server only after the move is in the log; one
   * started earlier is the pre-move instance, and the log rightly fences it).
   */
  const moving = new Map<string, Promise<void>>();
  const dead = new Set<string>();
  const killedAgents = new Set<string>();
  /** Server starts and lease expiries run in the background: they wait for an agent that may be cut off. */
  const starts: Promise<void>[] = [];
  const agentStarts = new Map<string, Promise<void>>();
  const startInBackground = (ns: string[]) => {
    starts.push(sim.startServers(ns));
  };
  const cutNats = new Set<string>();
  let requests = 0;
  const clients: SimNfsClient[] = [];
  let phase = 'start';
  const trace = process.env.GK_SIM_TRACE === '1';
  const at = (p: string) => {
    phase = p;
    if (trace) process.stderr.write(`[seed ${o.seed} +${Date.now() - startedAt}ms] ${p}\n`);
  };
  let watchdog: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    watchdog = setTimeout(() => reject(new Error(`schedule did not finish within ${o.timeoutMs ?? 60_000} ms; stuck in: ${phase}`)), o.timeoutMs ?? 60_000);
  });
  try {
    return await Promise.race([body(), hung]);
  } catch (err) {
    return { seed: o.seed, violations: [{ check: 'run', message: (err as Error).stack ?? String(err) }], faults: faultLog(), stats: { rounds: 0, requests, graceEnds: [], epochs: 0, ms: Date.now() - startedAt, moves } };
  } finally {
    clearTimeout(watchdog);
    await sim.close();
  }

  async function body(): Promise<RandomRunResult> {
    await sim.startServers();
    for (const node of nodes) for (let i = rng.int(1, 3); i > 0; i--) clients.push(sim.addClient(node, { hasSession: rng.chance(0.7) }));
    const rounds = o.rounds ?? rng.int(6, 14);

    for (let round = 0; round < rounds; round++) {
      const actions: (() => Promise<unknown>)[] = [];
      const active = clients.filter((c) => !dead.has(c.server.name) && !c.server.removed);
      for (const c of active) if (rng.chance(0.6)) actions.push(() => clientStep(c, rng.fork(round * 1000 + clients.indexOf(c))));
      requests += actions.length;
      const fault = failoverRounds.includes(round) ? 'move' : rng.chance(0.55) ? pickFault(rng) : undefined;
      const faultDelayMs = rng.int(0, 15);
      await Promise.all([
        ...actions.map((a) => a()),
        fault ? sleep(faultDelayMs).then(() => inject(fault)) : Promise.resolve(),
      ]);
      at(`round ${round} done (${actions.length} client steps${fault ? `, ${fault}` : ''})`);
    }
    await settle();
    const violations = await sim.check();
    violations.push(...leftovers());
    const log = await sim.log();
    const graceEnds = log.flatMap((m) => m.events).flatMap((e) => (e.type === 'GraceEnded' ? [`${e.recoveryEpoch}:${e.reason}`] : []));
    const epochs = (await sim.state()).epoch;
    return { seed: o.seed, violations, faults: faultLog(), stats: { rounds, requests, graceEnds, epochs, ms: Date.now() - startedAt, moves } };
  }

  function faultLog(): string[] {
    return sim.obs.list.flatMap((x) => (x.kind === 'fault' ? [`#${x.tick} ${x.what}`] : []));
  }

  function pickFault(r: Rng): Fault {
    return r.pick<Fault>([
      'restart-node', 'restart-node', 'restart-node', 'restart-cluster', 'crash-node', 'start-node', 'start-node',
      'kill-node-for-good', 'partition', 'partition', 'expire', 'expire', 'heal',
      'kill-agent', 'start-agent', 'start-agent', 'cut-nats', 'restore-nats', 'restore-nats', 'move',
    ]);
  }

  async function inject(fault: Fault): Promise<void> {
    at(`fault ${fault}`);
    const live = nodes.filter((n) => !dead.has(n));
    const up = live.filter((n) => sim.server(n).state === 'up');
    const down = live.filter((n) => sim.server(n).state === 'down' && !moving.has(n));
    switch (fault) {
      case 'restart-node':
        if (up.length) {
          const n = rng.pick(up);
          sim.crashServer(n);
          startInBackground([n]);
        }
        break;
      case 'restart-cluster':
        for (const n of live) if (sim.server(n).state !== 'down') sim.crashServer(n);
        startInBackground(live.filter((n) => !moving.has(n)));
        break;
      case 'crash-node':
        if (up.length) sim.crashServer(rng.pick(up));
        break;
      case 'start-node':
        if (down.length) startInBackground([rng.pick(down)]);
        break;
      case 'kill-node-for-good':
        // Keep at least two nodes, so the cluster lives on.
        if (live.length > 2) {
          const n = rng.pick(live);
          dead.add(n);
          if (sim.server(n).state !== 'down') sim.crashServer(n);
          if (rng.chance(0.5)) await sim.removeNode(n); // else the deadline (or settle) deals with it
        }
        break;
      case 'partition': {
        const c = clients.filter((x) => !x.partitioned && !dead.has(x.server.name));
        if (c.length) sim.partitionClient(rng.pick(c));
        break;
      }
      case 'expire': {
        const c = clients.filter((x) => x.partitioned && x.server.state === 'up' && x.server.knows(x.id));
        // In the background: the record must be removed before the locks go, and the agent may be cut off.
        if (c.length) starts.push(sim.expireClient(rng.pick(c)));
        break;
      }
      case 'heal': {
        const c = clients.filter((x) => x.partitioned);
        if (c.length) sim.healClient(rng.pick(c));
        break;
      }
      case 'kill-agent': {
        const n = nodes.filter((x) => !killedAgents.has(x) && !agentStarts.has(x));
        if (n.length) {
          const node = rng.pick(n);
          killedAgents.add(node);
          await sim.killAgent(node);
        }
        break;
      }
      case 'start-agent':
        if (killedAgents.size) {
          // In the background: an agent cut off from NATS keeps trying until NATS is back.
          const node = rng.pick([...killedAgents]);
          killedAgents.delete(node);
          agentStarts.set(node, sim.startAgent(node).finally(() => agentStarts.delete(node)));
        }
        break;
      case 'cut-nats': {
        const n = nodes.filter((x) => !cutNats.has(x));
        if (n.length) {
          const node = rng.pick(n);
          cutNats.add(node);
          sim.cutNats(node, rng.chance(0.5) ? 'refuse' : 'blackhole');
        }
        break;
      }
      case 'move': {
        // Failover or failback: a live identity to another live host (its own-name host when it is away).
        const movable = live.filter((n) => sim.server(n).state !== 'starting' && !moving.has(n));
        if (!movable.length) break;
        const identity = rng.pick(movable);
        const away = sim.server(identity).options.host;
        const host = away && away !== identity ? identity : rng.pick(live.filter((n) => n !== identity));
        if (!host) break;
        moves++;
        // In the background: the server starts on its new host once that host's agent answers.
        const move = moveIdentity(sim, identity, host).then(() => undefined, (err: unknown) => {
          if (!dead.has(identity) && !dead.has(host)) throw err; // one of them left meanwhile: the move was rightly refused
        }).finally(() => moving.delete(identity));
        moving.set(identity, move.catch(() => undefined));
        starts.push(move);
        break;
      }
      case 'restore-nats':
        if (cutNats.size) {
          const node = rng.pick([...cutNats]);
          cutNats.delete(node);
          sim.restoreNats(node);
        }
        break;
    }
  }

  /** Heal everything, bring every live node back, let every client recover, wait for grace to end. */
  async function settle(): Promise<void> {
    at('settle: healing');
    for (const n of cutNats) sim.restoreNats(n);
    cutNats.clear();
    await Promise.all(agentStarts.values());
    for (const n of killedAgents) await sim.startAgent(n);
    killedAgents.clear();
    for (const c of clients) if (c.partitioned) sim.healClient(c);
    for (const n of dead) if (!sim.server(n).removed) await sim.removeNode(n);
    await Promise.all(moving.values());
    const down = nodes.filter((n) => !dead.has(n) && sim.server(n).state === 'down');
    if (down.length) startInBackground(down);
    await Promise.all(starts);
    // Starting servers may still be waiting on their agents.
    at('settle: waiting for servers');
    await waitFor(() => nodes.every((n) => dead.has(n) || sim.server(n).state === 'up'), 'every live server to be up');
    at('settle: clients recover');
    const live = clients.filter((c) => !dead.has(c.server.name));
    for (let pass = 0; pass < 3; pass++) await Promise.all(live.map((c) => catchUpClient(c)));
    at('settle: waiting for grace to end');
    await sim.waitForGraceEnd(60_000);
    if (trace) {
      const st = await sim.state();
      const where = nodes.map((n) => `${n}: ${sim.server(n).state}${sim.server(n).inGrace ? ' in grace' : ''} on ${sim.server(n).options.host ?? n}`);
      const pending = await Promise.all(nodes.map((n) => Promise.race([Promise.resolve(sim.server(n).graceDone).then(() => ''), sleep(2000).then(() => `${n} grace_done pending (incarnation ${sim.server(n).incarnation})`)])));
      at(`${pending.filter(Boolean).join(', ')}`);
      at(`servers ${where.join('; ')}; log places ${JSON.stringify([...st.placements])}; dump ${JSON.stringify(await sim.dump())}`);
    }
    at('settle: waiting for grace_done');
    await Promise.all(nodes.filter((n) => !dead.has(n)).map((n) => sim.server(n).graceDone));
    at('settle: final renewals');
    await Promise.all(live.map((c) => catchUpClient(c)));
  }

  /** Renew; on STALE_CLIENTID run recovery; afterwards nothing it believes is tentative. */
  async function catchUpClient(c: SimNfsClient): Promise<void> {
    for (let i = 0; i < 5; i++) {
      const r = await c.renew();
      if (r === 'OK' && c.needsRecovery) {
        await c.recover({ retries: 100, retryMs: 20 });
        continue;
      }
      if (r === 'OK') return;
      if (r === 'NFS4ERR_STALE_CLIENTID') {
        await c.recover({ retries: 100, retryMs: 20 });
        continue;
      }
      await sleep(20);
    }
  }

  /** After settling, no live client may still be unsure about what it holds. */
  function leftovers(): Violation[] {
    const out: Violation[] = [];
    for (const c of clients) {
      if (dead.has(c.server.name)) continue;
      const tentative = [...c.locks.values()].filter((l) => l.belief !== 'held');
      if (tentative.length) out.push({ check: 'settle', message: `${c.name} still has ${tentative.length} tentative lock(s) after recovery` });
    }
    return out;
  }

  async function waitFor(pred: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(10);
    }
  }
}

export function describeFailure(r: RandomRunResult): string {
  return [
    `seed ${r.seed} (re-run: GK_SIM_SEED=${r.seed} npx jest test/scenarios/randomized): ${r.violations.length} violation(s)`,
    formatViolations(r.violations),
    'faults:',
    ...r.faults,
  ].join('\n');
}
