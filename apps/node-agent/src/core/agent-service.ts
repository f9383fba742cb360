import type { ClientRef, GkEvent } from '#contracts';
import type { CommandResult, ViewSupervisor } from '#cluster-store';
import { checkClient, type ClusterState, type Command, inGrace, nothingLeftToReclaim, reclaimableClients, recordStanding, reclaimStatus, summarize } from '#domain';
import { BootTracker, bootCausation } from './boots';
import { type RequestDeadline, withDeadline } from './deadline';
import { GraceDoneWaiter } from './grace-done-waiter';
import { AgentLog, errorText } from './log';
import { OwnGraceClock } from './own-grace-clock';
import type { AgentReply, AgentStatus, AnyRequest, OpRequest } from '#contracts';

export interface AgentServiceOptions {
  cluster: string;
  node: string;
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
  /** Monotonic milliseconds, for this node's own grace under `first-exit` (I7). */
  mono?: () => number;
}

/** A client the NFS server may see reclaim, for cld's GraceStart list. */
export interface ReclaimableClient {
  client: string;
  principalHash?: string;
}

class Rejected extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
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
  private readonly boots: BootTracker;
  private readonly now: () => number;
  private readonly graceDoneWaiter: GraceDoneWaiter;
  private readonly ownGrace: OwnGraceClock;
  readonly counters = new Map<string, number>();
  /** Final refusals answered outside grace, which the log does not store (noise), by op. */
  readonly refusalsNotStored = new Map<string, number>();

  constructor(private readonly options: AgentServiceOptions) {
    this.node = options.node;
    this.cluster = options.cluster;
    this.views = options.views;
    this.boots = new BootTracker(options.node);
    this.now = options.now ?? Date.now;
    this.ownGrace = new OwnGraceClock(options.node, options.mono);
    this.graceDoneWaiter = new GraceDoneWaiter({
      node: options.node,
      state: () => this.state,
      lift: (causation) => this.deadline('grace_done', (d) => this.submit({ type: 'lift', nodes: [this.node] }, causation, d)),
      log: options.log,
    });
  }

  get state(): ClusterState {
    return this.views.view.state;
  }

  /** Fed by the live view after each stored decision is applied, in log order. */
  applied(events: readonly GkEvent[], state: ClusterState): void {
    this.boots.observe(events);
    this.ownGrace.observe(state);
    this.graceDoneWaiter.applied(state);
  }

  /** Runs one request and counts its outcome. Never throws. */
  async handle(request: AnyRequest, causation?: string): Promise<AgentReply> {
    let reply: AgentReply;
    try {
      reply = await this.dispatch(request, causation);
    } catch (err) {
      reply = { status: failureStatus(request.op), error: errorText(err) };
      this.options.log.warn(`${request.op} failed: ${errorText(err)}`);
    }
    const key = `${request.op} ${reply.status}`;
    this.counters.set(key, (this.counters.get(key) ?? 0) + 1);
    return reply;
  }

  private dispatch(r: AnyRequest, causation?: string): Promise<AgentReply> | AgentReply {
    switch (r.op) {
      case 'hello':
        return this.hello();
      case 'grace_start':
        return this.graceStart(r, causation);
      case 'create':
        return this.create(r, causation);
      case 'remove':
        return this.remove(r.client, causation);
      case 'check':
        return this.check(r, causation);
      case 'reclaim':
        return this.reclaim(r.client, causation);
      case 'reclaim_complete':
        return this.reclaimComplete(r.client, causation);
      case 'grace_done':
        return this.graceDone(r.wait ?? true, causation);
      case 'may_grant':
        return this.mayGrant(causation);
      case 'status':
        return this.status();
    }
  }

  hello(): AgentReply {
    const s = this.state;
    return { status: 'OK', cluster: this.cluster, node: this.node, epoch: s.epoch, recoveryEpoch: s.recoveryEpoch, inGrace: inGrace(s) };
  }

  /**
   * The NFS server (re)started: `start [node]`, which begins a grace period or joins the one in
   * force (SPEC §2); a node that is not a member is refused unless the agent may auto-join. A repeated grace_start with the same boot time is the same
   * boot and changes nothing.
   */
  async graceStart(r: OpRequest<'grace_start'>, causation?: string): Promise<AgentReply> {
    return this.deadline('grace_start', async (d) => {
      const sameBoot = r.graceStart !== undefined && this.state.exists && this.boots.isSameBoot(r.graceStart, this.state);
      if (!sameBoot) {
        const cause = r.graceStart !== undefined ? bootCausation(r.graceStart) : causation;
        this.expectOk(await this.submit({ type: 'start', nodes: [this.node], addMissing: this.options.autoJoin ?? false }, cause, d));
        if (r.graceStart !== undefined) this.boots.remember(r.graceStart);
      }
      if (r.liftIfDone) await this.liftIfDone(causation, d);
      const s = this.state;
      return { status: 'OK', epoch: s.epoch, recoveryEpoch: s.recoveryEpoch, inGrace: inGrace(s), reclaimable: reclaimableClients(s, this.node).length };
    });
  }

  /** Records a confirmed client; answers only once the record is stored. */
  async create(r: OpRequest<'create'>, causation?: string): Promise<AgentReply> {
    return this.deadline('create', async (d) => {
      const ref: ClientRef = { client: r.client };
      if (r.principalHash !== undefined) ref.principalHash = r.principalHash;
      if (r.hasSession !== undefined) ref.hasSession = r.hasSession;
      this.expectOk(await this.submit({ type: 'create', node: this.node, clients: [ref] }, causation, d));
      if (r.liftIfDone && r.hasSession) await this.liftIfDone(causation, d);
      return { status: 'OK' };
    });
  }

  async remove(client: string, causation?: string): Promise<AgentReply> {
    return this.deadline('remove', async (d) => {
      this.expectOk(await this.submit({ type: 'removeClients', node: this.node, clients: [client] }, causation, d));
      return { status: 'OK' };
    });
  }

  /**
   * Does the client hold a valid record (of R or C)? Records of C change only by this node's own
   * writes, which the view has applied before they were acknowledged; a record of R alone is
   * valid only while grace lasts, so that answer is confirmed against the log. With `reclaim`
   * (nfsdcltrack: a v4.0 client's check), a reclaimable client's check is its reclaim.
   */
  async check(r: OpRequest<'check'>, causation?: string): Promise<AgentReply> {
    return this.deadline('check', async (d) => {
      if (r.reclaim && reclaimStatus(this.state, this.node, r.client) === 'OK') {
        await this.reclaimStatusOf(r.client, causation, d);
      }
      const standing = recordStanding(this.state, this.node, r.client);
      if (standing === 'current') return { status: 'OK' };
      if (standing === 'none') return { status: 'NFS4ERR_RECLAIM_BAD' };
      await this.views.view.catchUp();
      return { status: checkClient(this.state, this.node, r.client) };
    });
  }

  /** One reclaim, group-committed: OK only once its ReclaimAccepted is in the log (I1). */
  async reclaim(client: string, causation?: string): Promise<AgentReply> {
    try {
      return { status: await this.deadline('reclaim', (d) => this.reclaimStatusOf(client, causation, d)) };
    } catch (err) {
      return { status: 'NFS4ERR_GRACE', error: `retry later: ${errorText(err)}` };
    }
  }

  async reclaimComplete(client: string, causation?: string): Promise<AgentReply> {
    return this.deadline('reclaim_complete', async (d) => {
      const a = this.expectOk(await this.submit({ type: 'reclaimComplete', node: this.node, clients: [client] }, causation, d));
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
  async graceDone(wait: boolean, causation?: string): Promise<AgentReply> {
    const recoveryEpoch = this.state.recoveryEpoch;
    const ended = () => this.state.recoveryEpoch !== recoveryEpoch;
    const waiting = wait && recoveryEpoch !== 0 ? this.graceDoneWaiter.wait(recoveryEpoch) : undefined;
    await this.deadline('grace_done', async (d) => {
      if (recoveryEpoch !== 0 && this.state.members.has(this.node)) await this.submit({ type: 'lift', nodes: [this.node] }, causation, d);
    }).catch((err: unknown) => {
      if (!waiting) throw err;
      // The lift is retried while waiting; a store outage only delays the answer.
      this.options.log.warn(`grace_done: lift failed, will retry: ${errorText(err)}`);
      void this.graceDoneWaiter.retryLift();
    });
    if (waiting && !ended()) await waiting;
    return { status: 'OK', ended: recoveryEpoch === 0 || ended(), epoch: this.state.epoch, recoveryEpoch: this.state.recoveryEpoch };
  }

  /** May this node grant non-reclaim state? The domain decides; an OK is confirmed against the log. */
  async mayGrant(causation?: string): Promise<AgentReply> {
    try {
      const a = await this.deadline('may_grant', async (d) => {
        const command: Command = { type: 'mayGrant', node: this.node, now: this.now(), ownGrace: this.ownGrace.measure(this.state) };
        return this.expectOk(await this.submit(command, causation, d));
      });
      if (a.reply.kind !== 'mayGrant') return { status: 'NFS4ERR_GRACE' };
      return a.reply.endsGrace ? { status: a.reply.status, endedGrace: true } : { status: a.reply.status };
    } catch (err) {
      return { status: 'NFS4ERR_GRACE', error: `retry later: ${errorText(err)}` };
    }
  }

  status(): AgentReply {
    const s = this.state;
    const records = s.records.get(this.node);
    return {
      status: 'OK',
      node: this.node,
      version: this.views.view.version,
      grace: summarize(s),
      records: {
        current: records?.current.size ?? 0,
        recovery: records?.recovery?.size ?? 0,
        reclaimable: reclaimableClients(s, this.node).length,
      },
      counters: Object.fromEntries([...this.counters].sort(([a], [b]) => a.localeCompare(b))),
      batches: { appends: this.views.totalBatches, requests: this.views.totalBatchedRequests },
      viewReloads: this.views.reloads,
    };
  }

  /** The clients that may reclaim here now, with their principal hashes (cld GraceStart). */
  reclaimable(): ReclaimableClient[] {
    const r = this.state.records.get(this.node);
    return reclaimableClients(this.state, this.node).map((client) => {
      const ph = r?.recovery?.get(client)?.principalHash;
      return ph ? { client, principalHash: ph } : { client };
    });
  }

  private async reclaimStatusOf(client: string, causation: string | undefined, d: RequestDeadline): Promise<AgentStatus> {
    const a = this.expectOk(await this.submit({ type: 'reclaim', node: this.node, clients: [client] }, causation, d));
    // Without a cluster there is no grace period to reclaim in.
    const status = a.reply.kind === 'reclaim' ? a.reply.statuses[0]! : 'NFS4ERR_NO_GRACE';
    this.countIfNotStored('reclaim', client, status, a);
    return status;
  }

  private countIfNotStored(op: string, client: string, status: AgentStatus, a: Extract<CommandResult, { ok: true }>): void {
    const stored = a.events.some((e) => e.type === 'ReclaimRejected' && e.rejections.some((r) => r.client === client));
    if (status !== 'OK' && status !== 'NFS4ERR_GRACE' && !stored) this.refusalsNotStored.set(op, (this.refusalsNotStored.get(op) ?? 0) + 1);
  }

  private async liftIfDone(causation: string | undefined, d: RequestDeadline): Promise<void> {
    if (nothingLeftToReclaim(this.state, this.node)) await this.submit({ type: 'lift', nodes: [this.node] }, causation, d);
  }

  /**
   * Submits through the group committer. With auto-join, a cluster that does not exist yet is
   * created by adding this node (what `start` with addMissing would do, had there been a cluster
   * to start in); without, the refusal says how to create it. Every command carries its request's
   * deadline: withdrawn while queued once it passed.
   */
  private async submit(command: Command, causation: string | undefined, d: RequestDeadline): Promise<CommandResult> {
    const meta = { actor: this.node, causation, now: this.now };
    const send = (c: Command) => d.track((admission) => this.views.committer.submit(c, meta, admission));
    const answer = await send(command);
    if (answer.ok || command.type === 'lift') return answer;
    if (!this.options.autoJoin && (answer.rejection.code === 'NO_CLUSTER' || answer.rejection.code === 'NOT_MEMBER')) {
      const what = answer.rejection.code === 'NO_CLUSTER' ? `cluster ${this.cluster} does not exist` : `node ${this.node} is not a member of cluster ${this.cluster}`;
      return { ok: false, rejection: { ...answer.rejection, message: `${what}: add it with \`gracectl --cluster ${this.cluster} add ${this.node}\` (or run the agent with --auto-join)` } };
    }
    if (answer.rejection.code !== 'NO_CLUSTER') return answer;
    this.options.log.info(`cluster ${this.cluster} does not exist: creating it with member ${this.node}`);
    await send({ type: 'add', nodes: [this.node] });
    return send(command);
  }

  private expectOk(answer: CommandResult): Extract<CommandResult, { ok: true }> {
    if (!answer.ok) throw new Rejected(answer.rejection.code, `${answer.rejection.code}: ${answer.rejection.message}`);
    return answer;
  }

  private deadline<T>(what: string, work: (d: RequestDeadline) => Promise<T>): Promise<T> {
    return withDeadline(this.options.requestTimeoutMs, what, work);
  }
}

/** What an operation answers when the store failed it: "retry later" in its own vocabulary. */
function failureStatus(op: AnyRequest['op']): AgentStatus {
  return op === 'reclaim' || op === 'may_grant' ? 'NFS4ERR_GRACE' : 'NFS4ERR_DELAY';
}
