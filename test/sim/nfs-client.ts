import { sleep } from './clock';
import { ByteRange, LockType } from './dlm';
import { NfsStatus, SimNfsServer, Unreachable } from './nfs-server';
import { ClientOp, Observations } from './observations';

export interface HeldLock extends ByteRange {
  lineage: number;
  file: string;
  type: LockType;
  lockId?: number;
  /**
   * `held`: confirmed. `tentative`: contact was lost; a renewal (the server kept the state) or a
   * reclaim confirms it. `reclaim`: the server's state is gone (STALE_CLIENTID, or a new client id
   * was established); only a reclaim can confirm it now.
   */
  belief: 'held' | 'tentative' | 'reclaim';
}

/** What a client op returns: the server's status, or `UNREACHABLE` when nothing came back. */
export type ClientStatus = NfsStatus | 'UNREACHABLE';

/**
 * A simulated NFSv4 client (v4.0 without sessions or v4.1 with them) of one server. It remembers
 * its opens and locks as it believes them to be and records every reply; on a server restart it
 * re-establishes its client id and reclaims what it believes it held (then RECLAIM_COMPLETE on
 * v4.1). It never lies about what it was granted; it only believes what it was told.
 */
export class SimNfsClient {
  partitioned = false;
  readonly opens = new Map<string, 'held' | 'tentative' | 'reclaim'>();
  readonly locks = new Map<number, HeldLock>();
  /** Has a confirmed client id at its server's current incarnation (as far as it knows). */
  established = false;
  private contactLost = false;

  constructor(
    readonly id: string,
    readonly hasSession: boolean,
    public server: SimNfsServer,
    private readonly obs: Observations,
  ) {}

  get name(): string {
    return `${this.id.slice(0, 12)}@${this.server.name}`;
  }

  // ---- normal operation ----

  async connect(): Promise<ClientStatus> {
    const status = await this.call('setclientid', false, undefined, () => this.server.setClientId(this.id, this.hasSession));
    if (status === 'OK') {
      this.established = true;
      this.contactLost = false;
      // A new client id at the server: whatever it had before can come back only by reclaim.
      this.needReclaim();
    }
    return status;
  }

  async open(file: string): Promise<ClientStatus> {
    const status = await this.call('open', false, undefined, () => this.server.open(this.id, file, false));
    if (status === 'OK') this.opens.set(file, 'held');
    return status;
  }

  async lock(file: string, range: ByteRange, type: LockType): Promise<{ status: ClientStatus; lineage?: number }> {
    let lockId: number | undefined;
    const status = await this.call('lock', false, undefined, async () => {
      const r = await this.server.lock(this.id, { file, type, ...range }, false);
      lockId = r.lockId;
      return r.status;
    });
    if (status !== 'OK') return { status };
    const lineage = this.obs.newLineage();
    this.locks.set(lineage, { lineage, file, type, ...range, lockId, belief: 'held' });
    // Recorded at the reply's tick (the lineage starts when the grant was heard).
    this.obs.record({ kind: 'lineage-start', tick: this.obs.ticker.now, lineage, client: this.id, file, type, range });
    return { status, lineage };
  }

  async unlock(lineage: number): Promise<ClientStatus> {
    const lock = this.locks.get(lineage);
    if (!lock || lock.belief !== 'held' || lock.lockId === undefined) throw new Error(`${this.name} holds no lock ${lineage}`);
    // The belief ends when the unlock is sent, before the lock is actually released.
    this.obs.record({ kind: 'lineage-released', lineage });
    this.locks.delete(lineage);
    return this.call('unlock', false, lineage, async () => this.server.unlock(this.id, lock.lockId!));
  }

  /** RENEW / SEQUENCE: a success confirms every tentative belief; STALE_CLIENTID means state is gone. */
  async renew(): Promise<ClientStatus> {
    const status = await this.call('renew', false, undefined, async () => this.server.renew(this.id));
    if (status === 'OK' && this.contactLost) {
      // The server kept this client's state through the gap: what was tentative is confirmed.
      this.contactLost = false;
      const lineages = [...this.locks.values()].filter((l) => l.belief === 'tentative').map((l) => l.lineage);
      this.obs.record({ kind: 'confirmed', client: this.id, lineages });
      for (const l of this.locks.values()) if (l.belief === 'tentative') l.belief = 'held';
      for (const [f, b] of this.opens) if (b === 'tentative') this.opens.set(f, 'held');
    }
    if (status === 'NFS4ERR_STALE_CLIENTID') {
      this.established = false;
      this.needReclaim();
    }
    return status;
  }

  private needReclaim(): void {
    for (const l of this.locks.values()) if (l.belief !== 'held') l.belief = 'reclaim';
    for (const [f, b] of this.opens) if (b !== 'held') this.opens.set(f, 'reclaim');
  }

  // ---- recovery ----

  /**
   * After its server restarted: re-establish the client id, reclaim every open and lock it believes
   * it had, then RECLAIM_COMPLETE (v4.1). NFS4ERR_GRACE and NFS4ERR_DELAY are retried (up to
   * `retries` times); a refusal ends that belief. Returns the status of every reclaim it sent.
   */
  async recover(options: { retries?: number; retryMs?: number; complete?: boolean } = {}): Promise<{ op: string; status: ClientStatus }[]> {
    const retries = options.retries ?? 50;
    const retryMs = options.retryMs ?? 30;
    const answers: { op: string; status: ClientStatus }[] = [];
    const persist = async (op: string, fn: () => Promise<ClientStatus>): Promise<ClientStatus> => {
      for (let i = 0; ; i++) {
        const status = await fn();
        answers.push({ op, status });
        if (!['NFS4ERR_GRACE', 'NFS4ERR_DELAY', 'UNREACHABLE'].includes(status) || i >= retries) return status;
        await sleep(retryMs);
      }
    };
    if ((await persist('setclientid', () => this.connect())) !== 'OK') return answers;
    for (const file of [...this.opens.keys()]) {
      const status = await persist('reclaim-open', () => this.reclaimOpen(file));
      if (status === 'UNREACHABLE') return answers;
    }
    for (const lock of [...this.locks.values()]) {
      if (!this.opens.has(lock.file)) continue;
      const status = await persist('reclaim-lock', () => this.reclaimLock(lock.lineage));
      if (status === 'UNREACHABLE') return answers;
    }
    if (this.hasSession && (options.complete ?? true)) await persist('reclaim_complete', () => this.reclaimComplete());
    return answers;
  }

  /** OPEN with CLAIM_PREVIOUS. A refusal loses the open and every lock on that file. */
  async reclaimOpen(file: string): Promise<ClientStatus> {
    const status = await this.call('open', true, undefined, () => this.server.open(this.id, file, true));
    if (status === 'OK') this.opens.set(file, 'held');
    else if (isLoss(status)) {
      this.opens.delete(file);
      for (const l of [...this.locks.values()]) if (l.file === file) this.lose(l.lineage, `open reclaim ${status}`);
    }
    return status;
  }

  /** LOCK with reclaim=true for a lineage it believes it still has. */
  async reclaimLock(lineage: number): Promise<ClientStatus> {
    const lock = this.locks.get(lineage);
    if (!lock) throw new Error(`${this.name} has no lock ${lineage} to reclaim`);
    let lockId: number | undefined;
    const status = await this.call('lock', true, lineage, async () => {
      const r = await this.server.lock(this.id, { file: lock.file, type: lock.type, start: lock.start, end: lock.end }, true);
      lockId = r.lockId;
      return r.status;
    });
    if (status === 'OK') {
      lock.lockId = lockId;
      lock.belief = 'held';
      this.obs.record({ kind: 'lineage-reclaimed', tick: this.obs.ticker.now, lineage });
    } else if (isLoss(status)) {
      this.lose(lineage, `lock reclaim ${status}`);
    }
    return status;
  }

  async reclaimComplete(): Promise<ClientStatus> {
    return this.call('reclaim_complete', false, undefined, () => this.server.reclaimComplete(this.id));
  }

  // ---- faults ----

  /** The server went away or the network was cut: every belief becomes tentative. */
  loseContact(): void {
    if (this.contactLost) return;
    this.contactLost = true;
    this.established = false;
    this.obs.record({ kind: 'contact-lost', client: this.id });
    for (const l of this.locks.values()) if (l.belief === 'held') l.belief = 'tentative';
    for (const [f, b] of this.opens) if (b === 'held') this.opens.set(f, 'tentative');
  }

  partition(): void {
    this.partitioned = true;
    this.loseContact();
  }

  heal(): void {
    this.partitioned = false;
  }

  /** The client learned its state is gone (e.g. STALE_CLIENTID on renew without a server restart). */
  forgetAll(why: string): void {
    for (const lineage of [...this.locks.keys()]) this.lose(lineage, why);
    this.opens.clear();
  }

  /** It re-established its client id but has not finished reclaiming (an interrupted recovery). */
  get needsRecovery(): boolean {
    return [...this.locks.values()].some((l) => l.belief === 'reclaim') || [...this.opens.values()].some((b) => b === 'reclaim');
  }

  /** Whether it still believes (held or tentative) anything. */
  get hasState(): boolean {
    return this.locks.size > 0 || this.opens.size > 0;
  }

  private lose(lineage: number, why: string): void {
    if (!this.locks.delete(lineage)) return;
    this.obs.record({ kind: 'lineage-lost', lineage, why });
  }

  private async call(op: ClientOp, reclaim: boolean, lineage: number | undefined, fn: () => Promise<NfsStatus>): Promise<ClientStatus> {
    const sentTick = this.obs.ticker.next();
    let status: ClientStatus;
    if (this.partitioned) {
      status = 'UNREACHABLE';
    } else {
      try {
        status = await fn();
        // A reply that arrives after the network was cut is lost on the way back.
        if (this.partitioned) status = 'UNREACHABLE';
      } catch (err) {
        if (!(err instanceof Unreachable)) throw err;
        status = 'UNREACHABLE';
      }
    }
    this.obs.record({ kind: 'reply', sentTick, client: this.id, server: this.server.name, op, reclaim, status, lineage });
    return status;
  }
}

/** Refusals that mean the state is gone for good (STALE_CLIENTID only means: start recovery again). */
const isLoss = (s: ClientStatus) => s === 'NFS4ERR_NO_GRACE' || s === 'NFS4ERR_RECLAIM_BAD' || s === 'NFS4ERR_RECLAIM_CONFLICT' || s === 'NFS4ERR_BAD_STATEID';
