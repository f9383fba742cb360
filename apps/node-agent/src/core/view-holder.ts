import type { GkEvent, StreamNames } from '#contracts';
import { GroupCommitter, LiveClusterView, type GraceEventStore } from '#cluster-store';
import type { ClusterState } from '#domain';
import { withDeadline } from './deadline';
import { AgentLog, errorText } from './log';

export interface ViewHolderOptions {
  store: GraceEventStore;
  names: StreamNames;
  cluster: string;
  node: string;
  requestTimeoutMs: number;
  log: AgentLog;
  /** After each stored decision is applied, in log order; after a reload, with no events. */
  onApplied(events: readonly GkEvent[], state: ClusterState, previous?: ClusterState): void;
  /** How often the view's progress is compared with the log. */
  watchdogMs?: number;
}

/**
 * The agent's live view and its group committer, kept alive. The view's subscription is what
 * keeps it current; should that stall (seen after a NATS reconnect that lost a pull request:
 * delivery resumed only ~45 s later), the view would lag the log. Decisions stay safe (appends
 * are checked against the log's sequence) but answers would be "retry later" until it caught
 * up. So a watchdog compares the view with the log's last sequence and, when the view made no
 * progress towards it for a few seconds, loads a fresh view and swaps it in.
 */
export class ViewHolder {
  view!: LiveClusterView;
  committer!: GroupCommitter;
  reloads = 0;
  private batches = 0;
  private batchedRequests = 0;
  private timer?: NodeJS.Timeout;
  private lagging?: { version: number; since: number };
  private reloading = false;

  private constructor(private readonly o: ViewHolderOptions) {}

  static async open(o: ViewHolderOptions): Promise<ViewHolder> {
    const holder = new ViewHolder(o);
    holder.install(await holder.load());
    const every = o.watchdogMs ?? 1000;
    holder.timer = setInterval(() => void holder.watch(every * 3), every);
    holder.timer.unref();
    return holder;
  }

  /** Appends made for batches of several requests, over every committer this holder had. */
  get totalBatches(): number {
    return this.batches + this.committer.batches;
  }

  get totalBatchedRequests(): number {
    return this.batchedRequests + this.committer.batchedRequests;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.view.close();
  }

  private load(): Promise<LiveClusterView> {
    const o = this.o;
    let view: LiveClusterView | undefined;
    return LiveClusterView.open(o.store, o.names, o.cluster, {
      trackedNodes: [o.node],
      catchUpTimeoutMs: o.requestTimeoutMs,
      onMalformed: (m) => o.log.warn(`skipped malformed message seq=${m.sequence}: ${m.error.kind}: ${m.error.message}`),
      // Only the view in use reports; a replaced one may still deliver before it is closed.
      onApplied: (events, state) => {
        if (view === undefined || view === this.view) o.onApplied(events, state);
      },
    }).then((v) => (view = v));
  }

  private install(view: LiveClusterView): void {
    if (this.committer) {
      this.batches += this.committer.batches;
      this.batchedRequests += this.committer.batchedRequests;
    }
    this.view = view;
    this.committer = new GroupCommitter(view);
  }

  private async watch(stallMs: number): Promise<void> {
    if (this.reloading) return;
    let last: number;
    try {
      last = await withDeadline(this.o.store.currentVersion(this.view.subject), this.o.requestTimeoutMs, 'watchdog');
    } catch {
      return; // the store is unreachable: nothing to catch up with
    }
    const version = this.view.version;
    if (version >= last) {
      this.lagging = undefined;
      return;
    }
    if (!this.lagging || this.lagging.version !== version) {
      this.lagging = { version, since: Date.now() };
      return;
    }
    if (Date.now() - this.lagging.since < stallMs) return;
    this.reloading = true;
    try {
      this.o.log.warn(`live view stalled at sequence ${version} while the log is at ${last}: reloading it`);
      const fresh = await this.load();
      const old = this.view;
      this.install(fresh);
      this.reloads++;
      this.lagging = undefined;
      void old.close().catch(() => undefined);
      this.o.onApplied([], fresh.state, old.state);
    } catch (err) {
      this.o.log.error(`reloading the live view failed: ${errorText(err)}`);
    } finally {
      this.reloading = false;
    }
  }
}
