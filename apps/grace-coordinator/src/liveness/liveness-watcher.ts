import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { decodeHeartbeat, type NodeId, type StreamNames, subjects } from '#contracts';
import { type HeardAt, type LivenessCommand, reportedSilent, silentFor, watchedHost } from '#domain';
import type { ClusterCoordinator } from '../cluster-coordinator';
import { type Clocks, systemClocks } from '../deadline-timer';

/** When the host serving an identity was last heard, or first watched (`heard` false: nothing yet). */
interface Watched {
  host: NodeId;
  at: HeardAt;
  heard: boolean;
}

export interface LivenessWatcherOptions {
  clocks?: Clocks;
  /** Something an operator should see (a refused report, malformed heartbeats). */
  problem?(message: string): void;
  /** Longest pause between two checks (the next one is normally timed to the first possible silence). */
  maxCheckIntervalMs?: number;
}

/**
 * Dead-host detection for one cluster (SPEC §2 liveness): follows the agents' heartbeats (core
 * NATS, never stored) and keeps, per member identity, when the host the log places it on was last
 * heard, on this replica's clocks. When that host is silent past the cluster's `deadAfter`
 * (liveness-rule `silentFor`) it reports `silent` through the cluster's command loop, and `heard`
 * when a heartbeat comes again; the decider records transitions only and applies the policy.
 *
 * Every replica may watch: they report the same transitions and the append's concurrency check
 * keeps one. A replica that starts (or sees a move) begins watching from that moment, so a
 * restart can only make it report later (I7).
 */
export class LivenessWatcher {
  private readonly watched = new Map<NodeId, Watched>();
  private readonly reporting = new Set<NodeId>();
  private readonly clocks: Clocks;
  private subscription?: Subscription;
  private timer?: NodeJS.Timeout;
  private closed = false;
  /** Heartbeats dropped as malformed or for another cluster since start. */
  dropped = 0;

  constructor(private readonly nc: NatsConnection, private readonly names: StreamNames, private readonly c: ClusterCoordinator, private readonly options: LivenessWatcherOptions = {}) {
    this.clocks = options.clocks ?? systemClocks;
  }

  start(): this {
    this.subscription = this.nc.subscribe(subjects.heartbeats(this.names, this.c.cluster), {
      callback: (err, msg) => {
        if (err || this.closed) return;
        const decoded = decodeHeartbeat(msg.data);
        if (!decoded.ok || decoded.value.cluster !== this.c.cluster) {
          // Counted, and said once: anyone allowed to publish there could flood the log otherwise.
          if (this.dropped++ === 0) this.options.problem?.(`dropped a heartbeat: ${decoded.ok ? `for cluster ${decoded.value.cluster}` : decoded.error}`);
          return;
        }
        this.heard(decoded.value.host, decoded.value.identities);
      },
    });
    this.check();
    return this;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.subscription?.unsubscribe();
  }

  /** A heartbeat from `host`: alive, for the identities the log places there. */
  private heard(host: NodeId, identities: readonly NodeId[]): void {
    const state = this.c.state;
    if (!state) return;
    const at = this.now();
    let wasSilent = false;
    for (const identity of identities) {
      if (!state.members.has(identity) || watchedHost(state, identity) !== host) continue;
      this.watched.set(identity, { host, at, heard: true });
      wasSilent ||= reportedSilent(state, identity, host);
    }
    if (wasSilent) this.check();
  }

  /** Reports every transition the clocks show now, then sleeps until the first possible next one. */
  private check(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    const state = this.c.state;
    const deadAfterMs = state?.config.liveness?.deadAfterMs;
    const maxWait = this.options.maxCheckIntervalMs ?? 1000;
    let nextMs = maxWait;
    if (state?.exists && deadAfterMs !== undefined) {
      const now = this.now();
      for (const identity of state.members.keys()) {
        const host = watchedHost(state, identity);
        let w = this.watched.get(identity);
        if (w?.host !== host) this.watched.set(identity, (w = { host, at: now, heard: false }));
        const silence = silentFor(w.at, now, deadAfterMs);
        const reported = reportedSilent(state, identity, host);
        if (silence !== undefined && !reported) this.report({ type: 'silent', identity, host, silentForMs: silence });
        else if (silence === undefined && reported && w.heard) this.report({ type: 'heard', identity, host });
        else if (silence === undefined) nextMs = Math.min(nextMs, w.at.mono + deadAfterMs + 1 - now.mono);
      }
      for (const identity of [...this.watched.keys()]) if (!state.members.has(identity)) this.watched.delete(identity);
    }
    this.timer = setTimeout(() => this.check(), Math.max(1, Math.ceil(nextMs)));
    this.timer.unref();
  }

  private report(command: LivenessCommand): void {
    if (this.reporting.has(command.identity)) return;
    this.reporting.add(command.identity);
    let retryMs = 20;
    void this.c.execute(command, { actor: this.c.actor, causation: `liveness:${this.c.cluster}:${command.identity}:${command.host}`, now: this.clocks.wall })
      .then((result) => {
        if (result.ok) return;
        retryMs = 1000;
        this.options.problem?.(`${command.type} ${command.identity} on ${command.host} refused: ${result.rejection.code}: ${result.rejection.message}`);
      })
      .catch((err: unknown) => {
        retryMs = 1000;
        this.options.problem?.(`${command.type} ${command.identity} on ${command.host} not recorded (will retry): ${(err as Error).message ?? String(err)}`);
      })
      .finally(() => {
        this.reporting.delete(command.identity);
        // The view holds the outcome now (or the store failed: not too often).
        if (!this.closed) setTimeout(() => this.check(), retryMs).unref();
      });
  }

  private now(): HeardAt {
    return { wall: this.clocks.wall(), mono: this.clocks.mono() };
  }
}
