// Longer than 300 lines on purpose: one simulated NFS server's whole protocol with its agent (start, clients, reclaims, grace_done), like a real server's state machine.
import { AgentApi, AgentUnavailable } from '#agent-client';
import type { AgentReply, AgentStatus } from '#contracts';

/** An agent's reply as the simulated server sees it: ERR_AGENT when the agent could not be asked at all. */
type ServerSideReply = Omit<AgentReply, 'status'> & { status: AgentStatus | 'ERR_AGENT' };
import { sleep } from './clock';
import { ByteRange, Dlm, LockType } from './dlm';
import { Observations } from './observations';

/** Statuses a simulated server answers its clients with (NFS4 names; `OK` is NFS4_OK). */
export type NfsStatus =
  | 'OK'
  | 'NFS4ERR_GRACE'
  | 'NFS4ERR_NO_GRACE'
  | 'NFS4ERR_RECLAIM_BAD'
  | 'NFS4ERR_RECLAIM_CONFLICT'
  | 'NFS4ERR_COMPLETE_ALREADY'
  | 'NFS4ERR_DENIED'
  | 'NFS4ERR_STALE_CLIENTID'
  | 'NFS4ERR_DELAY'
  | 'NFS4ERR_BAD_STATEID'
  | 'NFS4ERR_NOTSUPP';

/** The request never reached a serving server, or its reply was lost (crash, partition). */
export class Unreachable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Unreachable';
  }
}

export interface ServerOptions {
  /** This server's own grace time: it calls `grace_done` when it passes even if clients are missing. */
  localGraceMs: number;
  /** Pause before asking an unreachable agent again. */
  agentRetryMs?: number;
  /**
   * How long one agent request may take before this server gives up on it and answers its client
   * NFS4ERR_DELAY (default 20 s). An agent whose append already reached NATS holds the request
   * until NATS answers (issue 10: "retry later" must never take effect afterwards), however long
   * a partition lasts; a server thread has its own patience, and its client retries.
   */
  agentAskTimeoutMs?: number;
  /** Failures of background work (grace_start, grace_done), which no caller awaits. */
  onError?: (message: string) => void;
  /** The host this server runs on, when it serves its identity away from its own-name host (failover). */
  host?: string;
}

interface ClientSession {
  hasSession: boolean;
  /** Held a valid record when it confirmed during grace: counts towards early `grace_done`. */
  reclaimable: boolean;
  reclaimedSomething: boolean;
  completed: boolean;
  opens: Set<string>;
}

/**
 * One simulated NFS server. It keeps client state in memory (lost when it crashes), takes locks
 * in the shared DLM, and asks its node-agent everything that concerns recovery:
 * - on (re)start `grace_start`; while its own recovery runs, reclaims go to `reclaim` and every
 *   non-reclaim OPEN or LOCK first asks `may_grant` (NFS4ERR_GRACE when refused);
 * - a client is recorded with `create` before its confirmation is answered (and, during grace,
 *   `check`ed first so the server knows how many clients may still reclaim);
 * - RECLAIM_COMPLETE (v4.1) goes to `reclaim_complete`; once every reclaimable client completed,
 *   or its own grace time passed, it calls `grace_done` and leaves grace when that returns;
 * - lease expiry removes the record (`remove`) before the client's locks are released.
 */
export class SimNfsServer {
  state: 'down' | 'starting' | 'up' = 'down';
  incarnation = 0;
  /** In its own grace period: between `grace_start` and the return of `grace_done`. */
  inGrace = false;
  recoveryEpoch = 0;
  reclaimableTotal = 0;
  completedReclaimable = 0;
  removed = false;
  private readonly clients = new Map<string, ClientSession>();
  private graceTimer?: NodeJS.Timeout;
  private graceDoneRunning = false;
  /** Resolves when the current incarnation's `grace_done` returned. */
  graceDone?: Promise<void>;
  /** While set, the server does not call `grace_done` on its own (scenarios decide when). */
  holdGraceDone = false;
  private graceDoneWanted = false;
  private started?: Promise<void>;

  constructor(
    readonly name: string,
    private readonly agent: () => AgentApi,
    private readonly dlm: Dlm,
    private readonly obs: Observations,
    readonly options: ServerOptions,
  ) {}

  // ---- lifecycle (fault injection) ----

  /** (Re)starts: a new incarnation that asks its agent to start or join the cluster's grace. */
  start(): Promise<void> {
    if (this.removed) throw new Error(`${this.name} was removed from the cluster`);
    if (this.state !== 'down') throw new Error(`${this.name} is ${this.state}`);
    this.incarnation += 1;
    this.state = 'starting';
    this.graceDoneWanted = false;
    const incarnation = this.incarnation;
    this.started = (async () => {
      const reply = await this.ask('grace_start', {}, { incarnation, retry: true });
      if (!this.current(incarnation)) return;
      if (reply.status !== 'OK') throw new Error(`${this.name}: grace_start answered ${JSON.stringify(reply)}`);
      this.recoveryEpoch = Number(reply.recoveryEpoch ?? 0);
      this.reclaimableTotal = Number(reply.reclaimable ?? 0);
      this.completedReclaimable = 0;
      this.inGrace = true;
      this.state = 'up';
      this.obs.record({ kind: 'grace-start', server: this.name, epoch: Number(reply.epoch), recoveryEpoch: this.recoveryEpoch, reclaimable: this.reclaimableTotal });
      this.graceTimer = setTimeout(() => this.finishGrace(incarnation), this.options.localGraceMs);
      if (this.reclaimableTotal === 0) this.finishGrace(incarnation);
    })().catch((err: unknown) => {
      // Crashed again before its agent answered: that start simply never happened.
      if (!(err instanceof Unreachable)) throw err;
    });
    return this.started;
  }

  /** Crash: memory is gone, in-flight replies are lost, the clients' locks become DLM orphans. */
  crash(): void {
    if (this.state === 'down') return;
    this.state = 'down';
    this.inGrace = false;
    clearTimeout(this.graceTimer);
    this.graceDoneRunning = false;
    this.clients.clear();
    this.dlm.orphanServer(this.name);
  }

  /** The node is gone for good (after the operator removed it): its orphans can be released. */
  markRemoved(): void {
    this.crash();
    this.removed = true;
    this.dlm.releaseServer(this.name);
  }

  /** The client's lease expired (it was partitioned): remove its record, then free its locks. */
  async expireClient(client: string): Promise<void> {
    const incarnation = this.incarnation;
    if (this.state !== 'up') throw new Error(`${this.name} is ${this.state}: cannot expire ${client}`);
    let reply: ServerSideReply;
    try {
      reply = await this.ask('remove', { client }, { incarnation, retry: true });
    } catch (err) {
      if (err instanceof Unreachable) return; // crashed meanwhile: there is no lease left to expire
      throw err;
    }
    if (reply.status !== 'OK') throw new Error(`${this.name}: remove ${client} answered ${JSON.stringify(reply)}`);
    if (!this.current(incarnation)) return; // crashed meanwhile: the record is gone anyway, orphans stay unclaimable
    this.clients.delete(client);
    this.dlm.releaseClient(this.name, client);
  }

  // ---- what clients call ----

  /** SETCLIENTID_CONFIRM / CREATE_SESSION: the client is recorded before it is confirmed. */
  async setClientId(client: string, hasSession: boolean): Promise<NfsStatus> {
    const incarnation = this.serving();
    let reclaimable = false;
    if (this.inGrace) {
      const check = await this.ask('check', { client }, { incarnation });
      if (check.status === 'OK') reclaimable = true;
      else if (check.status !== 'NFS4ERR_RECLAIM_BAD') return 'NFS4ERR_DELAY';
    }
    const reply = await this.ask('create', { client, hasSession }, { incarnation });
    if (reply.status !== 'OK') return 'NFS4ERR_DELAY';
    const previous = this.clients.get(client);
    this.clients.set(client, {
      hasSession,
      reclaimable: previous?.reclaimable || reclaimable,
      reclaimedSomething: previous?.reclaimedSomething ?? false,
      completed: previous?.completed ?? false,
      opens: previous?.opens ?? new Set(),
    });
    return 'OK';
  }

  renew(client: string): NfsStatus {
    this.serving();
    return this.clients.has(client) ? 'OK' : 'NFS4ERR_STALE_CLIENTID';
  }

  async open(client: string, file: string, reclaim: boolean): Promise<NfsStatus> {
    const incarnation = this.serving();
    const session = this.clients.get(client);
    if (!session) return 'NFS4ERR_STALE_CLIENTID';
    const status = await this.permit(client, reclaim, incarnation);
    if (status !== 'OK') return status;
    if (reclaim) session.reclaimedSomething = true;
    session.opens.add(file);
    return 'OK';
  }

  async lock(client: string, request: { file: string; type: LockType } & ByteRange, reclaim: boolean): Promise<{ status: NfsStatus; lockId?: number }> {
    const incarnation = this.serving();
    const session = this.clients.get(client);
    if (!session) return { status: 'NFS4ERR_STALE_CLIENTID' };
    if (!session.opens.has(request.file)) return { status: 'NFS4ERR_BAD_STATEID' };
    const status = await this.permit(client, reclaim, incarnation);
    if (status !== 'OK') return { status };
    const args = { ...request, client, server: this.name, incarnation };
    const got = reclaim ? this.dlm.adopt(args) : this.dlm.acquire(args);
    if (!got.ok) return { status: reclaim ? 'NFS4ERR_RECLAIM_CONFLICT' : 'NFS4ERR_DENIED' };
    if (reclaim) session.reclaimedSomething = true;
    return { status: 'OK', lockId: got.lock.id };
  }

  unlock(client: string, lockId: number): NfsStatus {
    this.serving();
    const lock = this.dlm.get(lockId);
    if (!this.clients.has(client)) return 'NFS4ERR_STALE_CLIENTID';
    if (!lock || lock.client !== client || lock.server !== this.name || lock.orphaned) return 'NFS4ERR_BAD_STATEID';
    this.dlm.release(lockId);
    return 'OK';
  }

  async reclaimComplete(client: string): Promise<NfsStatus> {
    const incarnation = this.serving();
    const session = this.clients.get(client);
    if (!session) return 'NFS4ERR_STALE_CLIENTID';
    if (!session.hasSession) return 'NFS4ERR_NOTSUPP';
    const reply = await this.ask('reclaim_complete', { client }, { incarnation });
    const status = reply.status as NfsStatus;
    if (status === 'OK' && session.reclaimable && !session.completed) {
      session.completed = true;
      this.completedReclaimable += 1;
      if (this.completedReclaimable >= this.reclaimableTotal) this.finishGrace(incarnation);
    }
    return reply.status === 'ERR_AGENT' ? 'NFS4ERR_DELAY' : status;
  }

  /** Whether the client has a session here (for the simulator's bookkeeping). */
  knows(client: string): boolean {
    return this.clients.has(client);
  }

  // ---- internals ----

  /** Reclaims are the agent's call; any other new state needs `may_grant` first. */
  private async permit(client: string, reclaim: boolean, incarnation: number): Promise<NfsStatus> {
    if (reclaim) {
      const reply = await this.ask('reclaim', { client }, { incarnation });
      if (reply.status === 'ERR_AGENT') return 'NFS4ERR_DELAY';
      return reply.status as NfsStatus;
    }
    const sentTick = this.obs.ticker.next();
    const reply = await this.ask('may_grant', {}, { incarnation });
    if (reply.status === 'OK') this.obs.record({ kind: 'grant-allowed', server: this.name, sentTick });
    if (reply.status === 'ERR_AGENT') return 'NFS4ERR_DELAY';
    return reply.status as NfsStatus;
  }

  /** Lets a held server call `grace_done` now (if its recovery is over, or `force`). */
  releaseGraceDone(force = false): void {
    this.holdGraceDone = false;
    if (this.graceDoneWanted || force) this.finishGrace(this.incarnation);
  }

  /** `grace_done`, once per incarnation: leaves grace when the cluster's grace is over. */
  private finishGrace(incarnation: number): void {
    if (!this.current(incarnation) || !this.inGrace || this.graceDoneRunning) return;
    if (this.holdGraceDone) {
      this.graceDoneWanted = true;
      return;
    }
    this.graceDoneWanted = false;
    this.graceDoneRunning = true;
    clearTimeout(this.graceTimer);
    this.graceDone = (async () => {
      const reply = await this.ask('grace_done', {}, { incarnation, retry: true, timeoutMs: 600_000 });
      if (!this.current(incarnation)) return;
      if (reply.status !== 'OK') throw new Error(`${this.name}: grace_done answered ${JSON.stringify(reply)}`);
      this.inGrace = false;
      this.graceDoneRunning = false;
      this.obs.record({ kind: 'grace-done', server: this.name });
      // Whatever was orphaned before this incarnation and not reclaimed now can never be.
      this.dlm.releaseOrphansBefore(this.name, incarnation);
    })().catch((err: unknown) => {
      if (!(err instanceof Unreachable)) this.options.onError?.(`${this.name} grace_done: ${(err as Error).message}`);
    });
  }

  /**
   * One agent request. A transport failure becomes `{status: 'ERR_AGENT'}` (the server answers its
   * client NFS4ERR_DELAY), or with `retry` is tried again until the agent answers or this
   * incarnation ends. A reply reaching a crashed incarnation is dropped: the caller gets
   * `Unreachable`, as its client would.
   */
  private async ask(op: string, fields: Record<string, unknown>, how: { incarnation: number; retry?: boolean; timeoutMs?: number }): Promise<ServerSideReply> {
    for (;;) {
      if (!this.current(how.incarnation)) throw new Unreachable(`${this.name} restarted`);
      const sentTick = this.obs.ticker.next();
      let reply: ServerSideReply;
      try {
        reply = await this.agent().request(op, fields, { timeoutMs: how.timeoutMs ?? this.options.agentAskTimeoutMs });
      } catch (err) {
        if (!(err instanceof AgentUnavailable) && !(err instanceof Error && /closed/.test(err.message))) throw err;
        if (how.retry) {
          await sleep(this.options.agentRetryMs ?? 50);
          continue;
        }
        reply = { status: 'ERR_AGENT', error: (err as Error).message };
      }
      // "Retry later" from an agent whose event store is slow or cut off.
      if (how.retry && reply.status === 'NFS4ERR_DELAY' && this.current(how.incarnation)) {
        await sleep(this.options.agentRetryMs ?? 50);
        continue;
      }
      if (!this.current(how.incarnation)) throw new Unreachable(`${this.name} crashed before answering`);
      const where = this.options.host && this.options.host !== this.name ? { host: this.options.host } : {};
      this.obs.record({ kind: 'agent-reply', sentTick, server: this.name, op, client: fields.client as string | undefined, status: reply.status, ...where, ...(reply.fenced === true ? { fenced: true } : {}) });
      return reply;
    }
  }

  private current(incarnation: number): boolean {
    return this.incarnation === incarnation && this.state !== 'down';
  }

  private serving(): number {
    if (this.state !== 'up') throw new Unreachable(`${this.name} is ${this.state}`);
    return this.incarnation;
  }
}
