import type { AgentReply, AnyRequest, GkEvent } from '#contracts';
import type { ViewSupervisor } from '#cluster-store';
import { type ClusterState, inGrace, reclaimableClients, summarize } from '#domain';
import { AgentOps } from './agent-ops';
import { failureReply, UnknownIdentity } from './failure-reply';
import { IdentitySeat } from './identity-seats';
import { AgentLog, errorText } from './log';

export interface AgentServiceOptions {
  cluster: string;
  /** This host: the agent's node name, which commands name as the host acting for an identity. */
  node: string;
  /** The server identities served here, the first being the one cld and gk-cltrack act for (default: [node]). */
  identities?: readonly string[];
  /** The live view and its group committer (the holder may swap in a reloaded pair). */
  views: ViewSupervisor;
  /** How long a request may wait for the event store before it is answered "retry later". */
  requestTimeoutMs: number;
  log: AgentLog;
  now?: () => number;
  /**
   * Whether this node may make itself a member (grace_start of a non-member adds it; a missing
   * cluster is created with it). Off by default: membership is the operator's (`gracectl add`),
   * so a removed node never comes back through a late or stray grace_start.
   */
  autoJoin?: boolean;
  /** Monotonic milliseconds, for each identity's own grace under `first-exit` (I7). */
  mono?: () => number;
}

/** A client the NFS server may see reclaim, for cld's GraceStart list. */
export interface ReclaimableClient {
  client: string;
  principalHash?: string;
}

/**
 * The agent's one implementation of every operation (SPEC §4.1). The JSON socket, cld and
 * gk-cltrack are thin adapters over it, so all three give the same answers. It routes each
 * request to its identity's seat; the operations that go through the log are in agent-ops.ts.
 *
 * Every answer that promises something comes from the log: writes go through the group
 * committer (one append per batch, checked against the cluster's last sequence), `may_grant`
 * through the view's fresh-view check, and a check that rests on a recovery record is confirmed
 * against the log first. When the store does not answer in time the reply is "retry later"
 * (NFS4ERR_GRACE for reclaims and grants, NFS4ERR_DELAY otherwise), never a success.
 */
export class AgentService {
  readonly node: string;
  readonly cluster: string;
  private readonly views: ViewSupervisor;
  /** The identities served here, the primary (cld, gk-cltrack, requests naming none) first. */
  private readonly seats: Map<string, IdentitySeat>;
  private readonly primary: IdentitySeat;
  readonly counters = new Map<string, number>();
  /** Final refusals answered outside grace, which the log does not store (noise), by op. */
  readonly refusalsNotStored = new Map<string, number>();
  private readonly ops: AgentOps;

  constructor(private readonly options: AgentServiceOptions) {
    this.node = options.node;
    this.cluster = options.cluster;
    this.views = options.views;
    this.ops = new AgentOps({
      cluster: options.cluster, node: options.node, views: options.views, requestTimeoutMs: options.requestTimeoutMs,
      log: options.log, now: options.now ?? Date.now, autoJoin: options.autoJoin ?? false, refusalsNotStored: this.refusalsNotStored,
    });
    const lift = (seat: IdentitySeat, causation: string) => this.ops.lift(seat, causation);
    this.seats = new Map((options.identities?.length ? options.identities : [options.node])
      .map((identity) => [identity, new IdentitySeat(identity, options.node, () => this.state, lift, options.log, options.mono)]));
    this.primary = this.seats.values().next().value!;
  }

  /** The identities served here, the primary first. */
  get identities(): string[] {
    return [...this.seats.keys()];
  }

  get state(): ClusterState {
    return this.views.view.state;
  }

  /** Fed by the live view after each stored decision is applied, in log order. */
  applied(events: readonly GkEvent[], state: ClusterState): void {
    for (const seat of this.seats.values()) seat.applied(events, state);
  }

  /** Runs one request and counts its outcome. Never throws. */
  async handle(request: AnyRequest, causation?: string): Promise<AgentReply> {
    let reply: AgentReply;
    try {
      reply = await this.dispatch(request, causation);
    } catch (err) {
      reply = failureReply(request.op, err);
      this.options.log.warn(`${request.op} failed: ${errorText(err)}`);
    }
    const key = `${request.op} ${reply.status}`;
    this.counters.set(key, (this.counters.get(key) ?? 0) + 1);
    return reply;
  }

  private dispatch(r: AnyRequest, causation?: string): Promise<AgentReply> | AgentReply {
    const seat = this.seatOf(r.identity);
    switch (r.op) {
      case 'hello':
        return this.hello(seat);
      case 'grace_start':
        return this.ops.graceStart(seat, r, causation);
      case 'create':
        return this.ops.create(seat, r, causation);
      case 'remove':
        return this.ops.remove(seat, r.client, causation);
      case 'check':
        return this.ops.check(seat, r, causation);
      case 'reclaim':
        return this.ops.reclaim(seat, r.client, causation);
      case 'reclaim_complete':
        return this.ops.reclaimComplete(seat, r.client, causation);
      case 'grace_done':
        return this.ops.graceDone(seat, r.wait ?? true, causation);
      case 'may_grant':
        return this.ops.mayGrant(seat, causation);
      case 'status':
        return this.status(seat);
    }
  }

  /** The identity a request is for: the one it names, else the primary; one not served here is bad input. */
  private seatOf(identity: string | undefined): IdentitySeat {
    if (identity === undefined) return this.primary;
    const seat = this.seats.get(identity);
    if (!seat) throw new UnknownIdentity(`identity ${identity} is not served by this agent (it serves ${this.identities.join(', ')})`);
    return seat;
  }

  hello(seat = this.primary): AgentReply {
    const s = this.state;
    return { status: 'OK', cluster: this.cluster, node: seat.identity, host: this.node, epoch: s.epoch, recoveryEpoch: s.recoveryEpoch, inGrace: inGrace(s) };
  }

  status(seat = this.primary): AgentReply {
    const s = this.state;
    const records = s.records.get(seat.identity);
    return {
      status: 'OK',
      node: seat.identity,
      host: this.node,
      version: this.views.view.version,
      grace: summarize(s),
      records: {
        current: records?.current.size ?? 0,
        recovery: records?.recovery?.size ?? 0,
        reclaimable: reclaimableClients(s, seat.identity).length,
      },
      identities: [...this.seats.values()].map((x) => ({ identity: x.identity, generation: x.generation ?? null, servedHere: x.servedHere(s) })),
      counters: Object.fromEntries([...this.counters].sort(([a], [b]) => a.localeCompare(b))),
      batches: { appends: this.views.totalBatches, requests: this.views.totalBatchedRequests },
      viewReloads: this.views.reloads,
    };
  }

  /** The clients that may reclaim here now, with their principal hashes (cld GraceStart: the primary identity). */
  reclaimable(): ReclaimableClient[] {
    const identity = this.primary.identity;
    const r = this.state.records.get(identity);
    return reclaimableClients(this.state, identity).map((client) => {
      const ph = r?.recovery?.get(client)?.principalHash;
      return ph ? { client, principalHash: ph } : { client };
    });
  }

}
