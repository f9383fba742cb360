// Longer than 300 lines on purpose: every operation of SPEC §4.1 in one class, so the JSON, cld and gk-cltrack paths share one implementation (waiter, seats, deadlines and failure replies live beside it).
import type { ClientRef, GkEvent } from '#contracts';
import type { CommandResult, ViewSupervisor } from '#cluster-store';
import { checkClient, type ClusterState, type Command, inGrace, nothingLeftToReclaim, placementOf, reclaimableClients, recordStanding, reclaimStatus, summarize } from '#domain';
import { bootCausation } from './boots';
import { type RequestDeadline, withDeadline } from './deadline';
import { failureReply, isFenced, Rejected, UnknownIdentity } from './failure-reply';
import { Fenced, IdentitySeat } from './identity-seats';
import { AgentLog, errorText } from './log';
import type { AgentReply, AgentStatus, AnyRequest, OpRequest } from '#contracts';

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
 * gk-cltrack are thin adapters over it, so all three give the same answers.
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
  private readonly now: () => number;
  /** The identities served here, the primary (cld, gk-cltrack, requests naming none) first. */
  private readonly seats: Map<string, IdentitySeat>;
  private readonly primary: IdentitySeat;
  readonly counters = new Map<string, number>();
  /** Final refusals answered outside grace, which the log does not store (noise), by op. */
  readonly refusalsNotStored = new Map<string, number>();

  constructor(private readonly options: AgentServiceOptions) {
    this.node = options.node;
    this.cluster = options.cluster;
    this.views = options.views;
    this.now = options.now ?? Date.now;
    const lift = (seat: IdentitySeat, causation: string) =>
      this.deadline('grace_done', (d) => this.submit(seat, { type: 'lift', nodes: [seat.identity], via: seat.via(this.state) }, causation, d));
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
        return this.graceStart(seat, r, causation);
      case 'create':
        return this.create(seat, r, causation);
      case 'remove':
        return this.remove(seat, r.client, causation);
      case 'check':
        return this.check(seat, r, causation);
      case 'reclaim':
        return this.reclaim(seat, r.client, causation);
      case 'reclaim_complete':
        return this.reclaimComplete(seat, r.client, causation);
      case 'grace_done':
        return this.graceDone(seat, r.wait ?? true, causation);
      case 'may_grant':
        return this.mayGrant(seat, causation);
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

  /**
   * The NFS server (re)started: `start [identity]`, which begins a grace period or joins the one
   * in force (SPEC §2); an identity that is not a member is refused unless the agent may auto-join. A repeated grace_start with the same boot time is the same
   * boot and changes nothing. Through this host it is accepted only while the log places the
   * identity here; the agent then serves the identity at that placement generation.
   */
  async graceStart(seat: IdentitySeat, r: OpRequest<'grace_start'>, causation?: string): Promise<AgentReply> {
    return this.deadline('grace_start', async (d) => {
      const placement = placementOf(this.state, seat.identity);
      if (placement.host !== this.node) seat.via(this.state); // throws Fenced: another host serves it
      const sameBoot = r.graceStart !== undefined && this.state.exists && seat.generation === placement.generation && seat.boots.isSameBoot(r.graceStart, this.state);
      if (!sameBoot) {
        const cause = r.graceStart !== undefined ? bootCausation(r.graceStart) : causation;
        const via = { host: this.node, generation: placement.generation };
        this.expectOk(await this.submit(seat, { type: 'start', nodes: [seat.identity], addMissing: this.options.autoJoin ?? false, via }, cause, d));
        seat.generation = via.generation;
        if (r.graceStart !== undefined) seat.boots.remember(r.graceStart);
      }
      if (r.liftIfDone) await this.liftIfDone(seat, causation, d);
      const s = this.state;
      return { status: 'OK', epoch: s.epoch, recoveryEpoch: s.recoveryEpoch, inGrace: inGrace(s), reclaimable: reclaimableClients(s, seat.identity).length };
    });
  }

  /** Records a confirmed client; answers only once the record is stored. */
  async create(seat: IdentitySeat, r: OpRequest<'create'>, causation?: string): Promise<AgentReply> {
    return this.deadline('create', async (d) => {
      const ref: ClientRef = { client: r.client };
      if (r.principalHash !== undefined) ref.principalHash = r.principalHash;
      if (r.hasSession !== undefined) ref.hasSession = r.hasSession;
      this.expectOk(await this.submit(seat, { type: 'create', node: seat.identity, clients: [ref], via: seat.via(this.state) }, causation, d));
      if (r.liftIfDone && r.hasSession) await this.liftIfDone(seat, causation, d);
      return { status: 'OK' };
    });
  }

  async remove(seat: IdentitySeat, client: string, causation?: string): Promise<AgentReply> {
    return this.deadline('remove', async (d) => {
      this.expectOk(await this.submit(seat, { type: 'removeClients', node: seat.identity, clients: [client], via: seat.via(this.state) }, causation, d));
      return { status: 'OK' };
    });
  }

  /**
   * Does the client hold a valid record (of R or C)? Records of C change only by this node's own
   * writes, which the view has applied before they were acknowledged; a record of R alone is
   * valid only while grace lasts, so that answer is confirmed against the log. With `reclaim`
   * (nfsdcltrack: a v4.0 client's check), a reclaimable client's check is its reclaim.
   */
  async check(seat: IdentitySeat, r: OpRequest<'check'>, causation?: string): Promise<AgentReply> {
    return this.deadline('check', async (d) => {
      seat.via(this.state);
      if (r.reclaim && reclaimStatus(this.state, seat.identity, r.client) === 'OK') {
        await this.reclaimStatusOf(seat, r.client, causation, d);
      }
      const standing = recordStanding(this.state, seat.identity, r.client);
      if (standing === 'current') return { status: 'OK' };
      if (standing === 'none') return { status: 'NFS4ERR_RECLAIM_BAD' };
      await this.views.view.catchUp();
      seat.via(this.state);
      return { status: checkClient(this.state, seat.identity, r.client) };
    });
  }

  /** One reclaim, group-committed: OK only once its ReclaimAccepted is in the log (I1). */
  async reclaim(seat: IdentitySeat, client: string, causation?: string): Promise<AgentReply> {
    try {
      return { status: await this.deadline('reclaim', (d) => this.reclaimStatusOf(seat, client, causation, d)) };
    } catch (err) {
      if (isFenced(err)) throw err;
      return { status: 'NFS4ERR_GRACE', error: `retry later: ${errorText(err)}` };
    }
  }

  async reclaimComplete(seat: IdentitySeat, client: string, causation?: string): Promise<AgentReply> {
    return this.deadline('reclaim_complete', async (d) => {
      const a = this.expectOk(await this.submit(seat, { type: 'reclaimComplete', node: seat.identity, clients: [client], via: seat.via(this.state) }, causation, d));
      const status = a.reply.kind === 'reclaimComplete' ? a.reply.statuses[0]! : 'NFS4ERR_DELAY';
      this.countIfNotStored('reclaim_complete', client, status, a);
      return { status };
    });
  }

  /**
   * This server's own recovery is over: lift its NEED. With `wait`, answers once the cluster's
   * grace period has ended (so nfsd leaves grace no earlier than the cluster); without, at once
   * with `ended`.
   */
  async graceDone(seat: IdentitySeat, wait: boolean, causation?: string): Promise<AgentReply> {
    const via = seat.via(this.state);
    const recoveryEpoch = this.state.recoveryEpoch;
    const ended = () => this.state.recoveryEpoch !== recoveryEpoch;
    const waiting = wait && recoveryEpoch !== 0 ? seat.waiter.wait(recoveryEpoch) : undefined;
    await this.deadline('grace_done', async (d) => {
      if (recoveryEpoch !== 0 && this.state.members.has(seat.identity)) await this.submit(seat, { type: 'lift', nodes: [seat.identity], via }, causation, d);
    }).catch((err: unknown) => {
      if (!waiting) throw err;
      // The lift is retried while waiting; a store outage only delays the answer.
      this.options.log.warn(`grace_done: lift failed, will retry: ${errorText(err)}`);
      void seat.waiter.retryLift();
    });
    if (waiting && !ended()) await waiting;
    return { status: 'OK', ended: recoveryEpoch === 0 || ended(), epoch: this.state.epoch, recoveryEpoch: this.state.recoveryEpoch };
  }

  /** May this node grant non-reclaim state? The domain decides; an OK is confirmed against the log. */
  async mayGrant(seat: IdentitySeat, causation?: string): Promise<AgentReply> {
    try {
      const a = await this.deadline('may_grant', async (d) => {
        const command: Command = { type: 'mayGrant', node: seat.identity, now: this.now(), ownGrace: seat.ownGrace.measure(this.state), via: seat.via(this.state) };
        return this.expectOk(await this.submit(seat, command, causation, d));
      });
      if (a.reply.kind !== 'mayGrant') return { status: 'NFS4ERR_GRACE' };
      return a.reply.endsGrace ? { status: a.reply.status, endedGrace: true } : { status: a.reply.status };
    } catch (err) {
      if (isFenced(err)) throw err;
      return { status: 'NFS4ERR_GRACE', error: `retry later: ${errorText(err)}` };
    }
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

  private async reclaimStatusOf(seat: IdentitySeat, client: string, causation: string | undefined, d: RequestDeadline): Promise<AgentStatus> {
    const a = this.expectOk(await this.submit(seat, { type: 'reclaim', node: seat.identity, clients: [client], via: seat.via(this.state) }, causation, d));
    // Without a cluster there is no grace period to reclaim in.
    const status = a.reply.kind === 'reclaim' ? a.reply.statuses[0]! : 'NFS4ERR_NO_GRACE';
    this.countIfNotStored('reclaim', client, status, a);
    return status;
  }

  private countIfNotStored(op: string, client: string, status: AgentStatus, a: Extract<CommandResult, { ok: true }>): void {
    const stored = a.events.some((e) => e.type === 'ReclaimRejected' && e.rejections.some((r) => r.client === client));
    if (status !== 'OK' && status !== 'NFS4ERR_GRACE' && !stored) this.refusalsNotStored.set(op, (this.refusalsNotStored.get(op) ?? 0) + 1);
  }

  private async liftIfDone(seat: IdentitySeat, causation: string | undefined, d: RequestDeadline): Promise<void> {
    if (nothingLeftToReclaim(this.state, seat.identity)) await this.submit(seat, { type: 'lift', nodes: [seat.identity], via: seat.via(this.state) }, causation, d);
  }

  /**
   * Submits through the group committer. With auto-join, a cluster that does not exist yet is
   * created by adding the identity (what `start` with addMissing would do, had there been a
   * cluster to start in); without, the refusal says how to create it. Every command carries its
   * request's deadline: withdrawn while queued once it passed.
   */
  private async submit(seat: IdentitySeat, command: Command, causation: string | undefined, d: RequestDeadline): Promise<CommandResult> {
    const meta = { actor: this.node, causation, now: this.now };
    const send = (c: Command) => d.track((admission) => this.views.committer.submit(c, meta, admission));
    const answer = await send(command);
    if (answer.ok || command.type === 'lift') return answer;
    if (!this.options.autoJoin && (answer.rejection.code === 'NO_CLUSTER' || answer.rejection.code === 'NOT_MEMBER')) {
      const what = answer.rejection.code === 'NO_CLUSTER' ? `cluster ${this.cluster} does not exist` : `node ${seat.identity} is not a member of cluster ${this.cluster}`;
      return { ok: false, rejection: { ...answer.rejection, message: `${what}: add it with \`gracectl --cluster ${this.cluster} add ${seat.identity}\` (or run the agent with --auto-join)` } };
    }
    if (answer.rejection.code !== 'NO_CLUSTER') return answer;
    this.options.log.info(`cluster ${this.cluster} does not exist: creating it with member ${seat.identity}`);
    await send({ type: 'add', nodes: [seat.identity] });
    return send(command);
  }

  private expectOk(answer: CommandResult): Extract<CommandResult, { ok: true }> {
    if (!answer.ok) {
      if (answer.rejection.code === 'FENCED') throw new Fenced(answer.rejection.message);
      throw new Rejected(answer.rejection.code, `${answer.rejection.code}: ${answer.rejection.message}`);
    }
    return answer;
  }

  private deadline<T>(what: string, work: (d: RequestDeadline) => Promise<T>): Promise<T> {
    return withDeadline(this.options.requestTimeoutMs, what, work);
  }
}
