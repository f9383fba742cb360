import type { GkEvent } from '#contracts';

/**
 * An independent model of SPEC §2, written without the deciders' state or code, that replays the
 * log in order and throws `I<n>: …` the moment an invariant breaks. It keeps plain sets: the
 * clients recorded in epoch C per node (`cur`) and those holding a valid record of epoch R
 * (`validR`: a snapshot taken when the grace period started, plus what a node recorded before
 * it restarted inside that grace period, minus removals).
 */
export class InvariantOracle {
  private C = 1;
  private R = 0;
  private exitPolicy = 'all-clear';
  private graceStartedAt = 0;
  private readonly members = new Map<string, { need: boolean; enforcing: boolean }>();
  private readonly cur = new Map<string, Set<string>>();
  private validR = new Map<string, Set<string>>();
  private readonly completed = new Map<string, Set<string>>();
  private readonly grantedEpochs = new Set<number>();
  private readonly invalidated = new Set<string>();
  /** Where each identity is served (its own-name host until moved) and its placement generation. */
  private readonly placement = new Map<string, { host: string; generation: number }>();

  constructor(private readonly options: { graceTimeMs: number }) {}

  observe(events: GkEvent[], now: number): void {
    events.forEach((e, i) => this.apply(e, events[i + 1], now));
  }

  private apply(e: GkEvent, next: GkEvent | undefined, now: number): void {
    if (e.type === 'GraceStarted') {
      if (this.R !== 0) fail('I5', `grace started while grace ${this.R} in force`);
      if (e.recoveryEpoch !== this.C || e.epoch !== this.C + 1) fail('I5', `GraceStarted R=${e.recoveryEpoch} C=${e.epoch} after C=${this.C}`);
    } else if (e.epoch !== this.C) {
      fail('I5', `${e.type} carries epoch ${e.epoch}, current is ${this.C}`);
    }
    const set = (m: Map<string, Set<string>>, n: string) => m.get(n) ?? m.set(n, new Set()).get(n)!;
    switch (e.type) {
      case 'ClusterConfigured': this.exitPolicy = e.config.exitPolicy; break;
      case 'MemberAdded': if (!this.members.has(e.node)) this.members.set(e.node, { need: false, enforcing: true }); break;
      case 'MemberRemoved': this.members.delete(e.node); break;
      case 'NodeEnforcing': this.flag(e.node, 'enforcing', true); break;
      case 'NodeEnforcementLifted':
        if (this.R !== 0) fail('rule', 'noenforce during grace');
        this.flag(e.node, 'enforcing', false);
        break;
      case 'GraceStarted':
        this.R = this.C;
        this.C += 1;
        this.graceStartedAt = Date.parse(e.time);
        this.validR = new Map([...this.cur].map(([n, s]) => [n, new Set(s)]));
        for (const n of e.nodes) this.restart(n);
        break;
      case 'NodeJoinedGrace':
        if (this.R === 0 || e.recoveryEpoch !== this.R) fail('I5', `join of grace ${e.recoveryEpoch} while R=${this.R}`);
        this.restart(e.node);
        break;
      case 'NeedLifted': this.flag(e.node, 'need', false); break;
      case 'GraceEnded':
        if (this.R === 0 || e.recoveryEpoch !== this.R) fail('I5', `end of grace ${e.recoveryEpoch} while R=${this.R}`);
        if (e.reason === 'deadline' && now < this.graceStartedAt + this.options.graceTimeMs) fail('I7', 'grace ended by deadline before one grace time passed');
        for (const [n, valid] of this.validR) for (const x of valid) if (!set(this.cur, n).has(x)) this.invalidated.add(`${n}/${x}/${this.R}`);
        this.validR = new Map();
        this.R = 0;
        for (const m of this.members.values()) m.need = false;
        break;
      case 'ClientRecorded': for (const r of e.clients) set(this.cur, e.node).add(r.client); break;
      case 'ClientRemoved':
        for (const x of e.clients) { set(this.cur, e.node).delete(x); this.validR.get(e.node)?.delete(x); set(this.completed, e.node).delete(x); }
        break;
      case 'IdentityMoved': {
        const from = this.placedAt(e.node);
        if (e.fromHost !== from.host || e.generation !== from.generation + 1) fail('I8', `move of ${e.node} from ${e.fromHost} at generation ${e.generation}, placed on ${from.host} at ${from.generation}`);
        if (!this.members.has(e.node)) fail('rule', `move of ${e.node}, not a member`);
        this.placement.set(e.node, { host: e.toHost, generation: e.generation });
        break;
      }
      case 'ReclaimAccepted':
        if ((e.host ?? e.node) !== this.placedAt(e.node).host) fail('I8', `reclaim for ${e.node} accepted through ${e.host ?? e.node}, which does not serve it (${this.placedAt(e.node).host} does)`);
        for (const x of e.clients) {
          if (this.R === 0) fail('I1', `reclaim by ${x} on ${e.node} accepted with no grace in force`);
          if (this.grantedEpochs.has(this.C)) fail('I1', `reclaim by ${x} on ${e.node} after a non-reclaim grant in epoch ${this.C}`);
          if (e.recoveryEpoch !== this.R) fail('I1', `reclaim for grace ${e.recoveryEpoch} while R=${this.R}`);
          if (!this.validR.get(e.node)?.has(x)) fail('I3', `reclaim by ${x} on ${e.node} without a valid record of epoch ${this.R}`);
          if (![...this.members.values()].every((m) => m.enforcing)) fail('rule', 'reclaim while a member does not enforce');
          if (!this.members.get(e.node)?.need) fail('rule', `reclaim on ${e.node} which does not need grace`);
          if (this.completed.get(e.node)?.has(x)) fail('rule', `reclaim by ${x} after RECLAIM_COMPLETE`);
          set(this.cur, e.node).add(x);
        }
        break;
      case 'ReclaimCompleted': for (const x of e.clients) set(this.completed, e.node).add(x); break;
      case 'FirstNonReclaimGrant':
        if (this.R !== 0 && !(this.exitPolicy === 'first-exit' && next?.type === 'GraceEnded' && next.reason === 'first-non-reclaim-grant')) {
          fail('I2', `${e.node} allowed to grant non-reclaim state while R=${this.R}`);
        }
        this.grantedEpochs.add(this.C);
        break;
      case 'ReclaimRejected':
      case 'ClientRecordsInvalidated':
        break;
    }
  }

  /** A `may_grant` OK was given: nothing may be in grace at this point of the log. */
  checkGrantAllowed(node: string): void {
    if (this.R !== 0) fail('I2', `${node} told it may grant while R=${this.R}`);
    this.grantedEpochs.add(this.C);
  }

  /**
   * Every reclaim answered OK is in the log (I6), and was answered through the host serving the
   * identity at that point of the log (I8); `host` defaults to the identity's own-name host.
   */
  checkReclaimReplies(node: string, clients: string[], statuses: string[], host = node): void {
    clients.forEach((x, i) => {
      if (statuses[i] !== 'OK') return;
      if (!this.cur.get(node)?.has(x)) fail('I6', `reclaim by ${x} on ${node} answered OK but not recorded`);
      if (this.placedAt(node).host !== host) fail('I8', `reclaim by ${x} for ${node} answered OK through ${host}, but ${this.placedAt(node).host} serves it`);
    });
  }

  /** Where the identity is served now, as the log says. */
  placedAt(identity: string): { host: string; generation: number } {
    return this.placement.get(identity) ?? { host: identity, generation: 0 };
  }

  checkState(C: number, R: number): void {
    if (C !== this.C || R !== this.R) fail('I5', `state says C=${C} R=${R}, log says C=${this.C} R=${this.R}`);
    if (R !== 0 && R !== C - 1) fail('I5', `R=${R} with C=${C}`);
  }

  /** `check` agrees with the model: valid iff recorded in C or holding a valid record of R (I4). */
  checkQuery(node: string, client: string, status: string): void {
    const valid = !!this.cur.get(node)?.has(client) || !!this.validR.get(node)?.has(client);
    if (valid !== (status === 'OK')) {
      const wasInvalidated = [...this.invalidated].some((k) => k.startsWith(`${node}/${client}/`));
      fail(wasInvalidated && status === 'OK' ? 'I4' : 'query', `check ${client} on ${node}: ${status}, model says ${valid ? 'valid' : 'invalid'}`);
    }
  }

  private restart(n: string): void {
    const m = this.members.get(n);
    if (m) { m.need = true; m.enforcing = true; }
    // A (re)started node must have every client it held reclaim again: what it recorded since
    // the grace period began joins its records of R (nothing acknowledged is lost, I6).
    const validR = this.validR.get(n) ?? new Set<string>();
    for (const x of this.cur.get(n) ?? []) validR.add(x);
    this.validR.set(n, validR);
    this.cur.set(n, new Set());
    this.completed.set(n, new Set());
  }

  private flag(n: string, f: 'need' | 'enforcing', v: boolean): void {
    const m = this.members.get(n);
    if (m) m[f] = v;
  }
}

function fail(invariant: string, message: string): never {
  throw new Error(`${invariant}: ${message}`);
}
