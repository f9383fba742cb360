import type { DecisionMessage, GraceConfig } from '#contracts';
import { type Command, decide, evolve, inGrace, initialClusterState, seal, type ClusterState } from '#domain';

/**
 * A deterministic random workload of real decisions (the domain's `decide` on the writer's own
 * state, sealed as the services seal them): clients created and removed, nodes restarting,
 * reclaims good and bad, RECLAIM_COMPLETE, lifts, deadline ends, grants, members leaving and
 * joining. Used by the projection tests (random kills over ≥ 10,000 events) and by
 * bench/replay.ts. It is not a test of the rules; it is traffic the rules accept.
 */
export interface WorkloadOptions {
  cluster: string;
  seed: number;
  nodes?: number;
  /** Distinct client ids per node. */
  clientsPerNode?: number;
  /** Most clients per create / reclaim command (a group commit merges 1 to this many). */
  batch?: number;
  startTime?: number;
  config?: Partial<GraceConfig>;
  /** Chance that an idle-time command picked to restart nodes really does (default 0.3). */
  restartOdds?: number;
}

export class Workload {
  readonly state: ClusterState = initialClusterState();
  now: number;
  decisions = 0;
  events = 0;
  private rng: () => number;
  private readonly nodes: string[];
  private readonly clientsPerNode: number;
  private readonly batch: number;

  constructor(private readonly options: WorkloadOptions) {
    this.rng = mulberry32(options.seed);
    this.nodes = Array.from({ length: options.nodes ?? 4 }, (_, i) => `node-${i}`);
    this.clientsPerNode = options.clientsPerNode ?? 200;
    this.batch = options.batch ?? 4;
    this.now = options.startTime ?? Date.parse('2026-01-01T00:00:00Z');
  }

  /** The next decision with at least one event (commands the rules refuse or that store nothing are skipped). */
  next(): DecisionMessage {
    for (;;) {
      const command = this.state.exists ? this.randomCommand() : ({ type: 'add', nodes: this.nodes, config: this.options.config } as Command);
      this.now += 1 + Math.floor(this.rng() * 50);
      const result = decide(command, this.state);
      if (!result.ok || result.decision.events.length === 0) continue;
      const message = seal(this.state, result.decision.events, {
        cluster: this.options.cluster,
        decisionId: `${this.options.cluster}-${this.options.seed}-${this.decisions}`,
        actor: 'node' in command ? command.node : 'gracectl:workload',
        causation: `workload:${this.decisions}`,
        time: new Date(this.now),
      });
      for (const e of message.events) evolve(this.state, e);
      this.decisions += 1;
      this.events += message.events.length;
      return message;
    }
  }

  private pick<T>(xs: T[]): T {
    return xs[Math.floor(this.rng() * xs.length)]!;
  }

  private client(node: string): string {
    const i = this.nodes.indexOf(node) * 100_000 + Math.floor(this.rng() * this.clientsPerNode);
    return i.toString(16).padStart(12, '0');
  }

  private clients(node: string, n: number): string[] {
    return Array.from({ length: n }, () => this.client(node));
  }

  private randomCommand(): Command {
    const s = this.state;
    const node = this.pick(this.nodes);
    const r = this.rng() * 100;
    if (inGrace(s)) {
      if (r < 45) return { type: 'reclaim', node, clients: this.reclaimCandidates(node) };
      if (r < 55) return { type: 'reclaimComplete', node, clients: this.clients(node, 1) };
      if (r < 63) return { type: 'create', node, clients: this.clients(node, this.groupSize()).map((client) => ({ client })) };
      if (r < 78) return { type: 'lift', nodes: [node] };
      if (r < 84) return { type: 'enforce', nodes: [node] };
      if (r < 89) return { type: 'join', nodes: [node] };
      if (r < 95) return { type: 'expire', now: this.now + 10 * 60_000 };
      if (r < 97) return { type: 'mayGrant', node, now: this.now + 10 * 60_000 };
      if (r < 98) return { type: 'remove', nodes: [node] };
      return { type: 'add', nodes: [node] };
    }
    if (r < 62) return { type: 'create', node, clients: this.clients(node, this.groupSize()).map((client) => ({ client, ...(this.rng() < 0.3 ? { principalHash: 'ab'.repeat(8) } : {}) })) };
    if (r < 70) return { type: 'removeClients', node, clients: this.clients(node, 1) };
    if (r < 75) return { type: 'mayGrant', node, now: this.now };
    if (r < 80) return { type: 'reclaim', node, clients: this.clients(node, 1) };
    if (r < 85) return { type: 'noenforce', nodes: [node] };
    if (r < 94) return { type: 'enforce', nodes: [node] };
    if (r < 95) return { type: 'remove', nodes: [node] };
    if (r < 97) return { type: 'add', nodes: [node] };
    // Restarts are rare next to client traffic, as in a real cluster (each rewrites a node's records).
    if (this.rng() < (this.options.restartOdds ?? 0.3)) return { type: 'start', nodes: this.rng() < 0.7 ? [node] : this.nodes.filter(() => this.rng() < 0.5).concat(node) };
    return { type: 'create', node, clients: this.clients(node, this.groupSize()).map((client) => ({ client })) };
  }

  /** How many requests one group commit merged: 1 when idle, up to `batch` under load. */
  private groupSize(): number {
    return 1 + Math.floor(this.rng() * this.batch);
  }

  /** Mostly clients that may reclaim, some that may not (RECLAIM_BAD, NO_GRACE after completion). */
  private reclaimCandidates(node: string): string[] {
    const rec = this.state.records.get(node)?.recovery;
    const out: string[] = [];
    const n = 1 + Math.floor(this.rng() * this.batch);
    const known = rec ? [...rec.keys()] : [];
    for (let i = 0; i < n; i++) out.push(known.length && this.rng() < 0.85 ? this.pick(known) : this.client(node));
    return out;
  }
}

/** Small, fast, seedable PRNG (deterministic workloads). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
