import type { ClientRef } from '#contracts';
import type { CommandResult, ViewSupervisor } from '#cluster-store';
import { checkClient, type ClusterState, type Command, inGrace, nothingLeftToReclaim, placementOf, reclaimableClients, recordStanding, reclaimStatus } from '#domain';
import type { AgentReply, AgentStatus, OpRequest } from '#contracts';
import { bootCausation } from './boots';
import { type RequestDeadline, withDeadline } from './deadline';
import { isFenced, Rejected } from './failure-reply';
import { Fenced, type IdentitySeat } from './identity-seats';
import { type AgentLog, errorText } from './log';

/** What the operations need of the agent (agent-service.ts builds it). */
export interface OpContext {
  readonly cluster: string;
  readonly node: string;
  readonly views: ViewSupervisor;
  readonly requestTimeoutMs: number;
  readonly log: AgentLog;
  readonly now: () => number;
  readonly autoJoin: boolean;
  /** Final refusals answered outside grace, which the log does not store (noise), by op. */
  readonly refusalsNotStored: Map<string, number>;
}

/**
 * The agent's operations that go through the log (SPEC §4.1), one method each, for one identity's
 * seat. AgentService routes requests here; the JSON socket, cld and gk-cltrack reach them only
 * through it. Every answer that promises something comes from the log: writes go through the
 * group committer, and when the store does not answer in time the reply is "retry later".
 */
export class AgentOps {
  constructor(private readonly c: OpContext) {}

  private get state(): ClusterState {
    return this.c.views.view.state;
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
      if (placement.host !== this.c.node) seat.via(this.state); // throws Fenced: another host serves it
      const sameBoot = r.graceStart !== undefined && this.state.exists && seat.generation === placement.generation && seat.boots.isSameBoot(r.graceStart, this.state);
      if (!sameBoot) {
        const cause = r.graceStart !== undefined ? bootCausation(r.graceStart) : causation;
        const via = { host: this.c.node, generation: placement.generation };
        this.expectOk(await this.submit(seat, { type: 'start', nodes: [seat.identity], addMissing: this.c.autoJoin ?? false, via }, cause, d));
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
      await this.c.views.view.catchUp();
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
      this.c.log.warn(`grace_done: lift failed, will retry: ${errorText(err)}`);
      void seat.waiter.retryLift();
    });
    if (waiting && !ended()) await waiting;
    return { status: 'OK', ended: recoveryEpoch === 0 || ended(), epoch: this.state.epoch, recoveryEpoch: this.state.recoveryEpoch };
  }

  /** May this node grant non-reclaim state? The domain decides; an OK is confirmed against the log. */
  async mayGrant(seat: IdentitySeat, causation?: string): Promise<AgentReply> {
    try {
      const a = await this.deadline('may_grant', async (d) => {
        const command: Command = { type: 'mayGrant', node: seat.identity, now: this.c.now(), ownGrace: seat.ownGrace.measure(this.state), via: seat.via(this.state) };
        return this.expectOk(await this.submit(seat, command, causation, d));
      });
      if (a.reply.kind !== 'mayGrant') return { status: 'NFS4ERR_GRACE' };
      return a.reply.endsGrace ? { status: a.reply.status, endedGrace: true } : { status: a.reply.status };
    } catch (err) {
      if (isFenced(err)) throw err;
      return { status: 'NFS4ERR_GRACE', error: `retry later: ${errorText(err)}` };
    }
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
    if (status !== 'OK' && status !== 'NFS4ERR_GRACE' && !stored) this.c.refusalsNotStored.set(op, (this.c.refusalsNotStored.get(op) ?? 0) + 1);
  }

  /** Lifts the identity's NEED: the seat's retry while a grace_done waits. */
  lift(seat: IdentitySeat, causation: string): Promise<CommandResult> {
    return this.deadline('grace_done', (d) => this.submit(seat, { type: 'lift', nodes: [seat.identity], via: seat.via(this.state) }, causation, d));
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
    const meta = { actor: this.c.node, causation, now: this.c.now };
    const send = (c: Command) => d.track((admission) => this.c.views.committer.submit(c, meta, admission));
    const answer = await send(command);
    if (answer.ok || command.type === 'lift') return answer;
    if (!this.c.autoJoin && (answer.rejection.code === 'NO_CLUSTER' || answer.rejection.code === 'NOT_MEMBER')) {
      const what = answer.rejection.code === 'NO_CLUSTER' ? `cluster ${this.c.cluster} does not exist` : `node ${seat.identity} is not a member of cluster ${this.c.cluster}`;
      return { ok: false, rejection: { ...answer.rejection, message: `${what}: add it with \`gracectl --cluster ${this.c.cluster} add ${seat.identity}\` (or run the agent with --auto-join)` } };
    }
    if (answer.rejection.code !== 'NO_CLUSTER') return answer;
    this.c.log.info(`cluster ${this.c.cluster} does not exist: creating it with member ${seat.identity}`);
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
    return withDeadline(this.c.requestTimeoutMs, what, work);
  }
}
