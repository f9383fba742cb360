import type { GkEvent, StreamNames } from '#contracts';
import type { MalformedMessage } from '#event-store';
import type { ClusterState } from '#domain';
import type { GraceEventStore } from './connect';
import { GroupCommitter } from './group-commit';
import { LiveClusterView } from './live-view';
import type { SnapshotPolicy } from './snapshot-writer';
import type { Snapshots } from './snapshots';

export interface ViewSupervisorOptions {
  store: GraceEventStore;
  names: StreamNames;
  cluster: string;
  trackedNodes?: string[];
  /** How long a request waits for the view to reach a sequence, and a watchdog lookup may take. */
  catchUpTimeoutMs?: number;
  /** After each stored decision is applied, in log order, by the view in use only. */
  onApplied?(events: GkEvent[], state: ClusterState, sequence: number): void;
  onMalformed?(m: MalformedMessage): void;
  /** A view was put in use: the first one (no `previous`), or one replacing a stalled or ended view. */
  onInstalled?(view: LiveClusterView, previous?: LiveClusterView): void;
  /** What an operator should see in the log. */
  onProblem?(message: string, severity: 'warn' | 'error'): void;
  /**
   * Compare the view with the log this often and replace it when it made no progress towards the
   * log for three periods. Default: no watchdog.
   */
  watchdogMs?: number;
  /** Pause before reopening a view whose subscription ended, times the attempt, at most 5 s. Default 250 ms. */
  reopenDelayMs?: number;
  /** Views load from the latest trusted snapshot and write new ones (see LiveClusterView). */
  snapshots?: Snapshots;
  snapshotPolicy?: SnapshotPolicy;
}

/**
 * Keeps a process's live view of one cluster alive, for the node-agent and the coordinator alike.
 * A view whose subscription ends on its own is reopened (with a growing pause), and `live` is
 * false meanwhile. Optionally a watchdog replaces a view whose subscription stalled (seen after a
 * NATS reconnect that lost a pull request: delivery resumed only ~45 s later): decisions stay safe
 * (appends are checked against the log's version) but answers would be "retry later" until it
 * caught up. One group committer serves whichever view is in use.
 */
export class ViewSupervisor {
  view!: LiveClusterView;
  readonly committer = new GroupCommitter(() => this.view);
  /** Views replaced because they stalled or their subscription ended. */
  reloads = 0;
  private ended = false;
  private closed = false;
  private timer?: NodeJS.Timeout;
  private lagging?: { version: number; since: number };
  private replacing = false;

  private constructor(private readonly o: ViewSupervisorOptions) {}

  static async open(o: ViewSupervisorOptions): Promise<ViewSupervisor> {
    const supervisor = new ViewSupervisor(o);
    supervisor.install(await supervisor.load());
    if (o.watchdogMs !== undefined) {
      const every = o.watchdogMs;
      supervisor.timer = setInterval(() => void supervisor.watch(every * 3), every);
      supervisor.timer.unref();
    }
    return supervisor;
  }

  /** False while a view whose subscription ended is being reopened (its state may be stale). */
  get live(): boolean {
    return !this.ended && !this.closed;
  }

  get totalBatches(): number {
    return this.committer.batches;
  }

  get totalBatchedRequests(): number {
    return this.committer.batchedRequests;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.view.close();
  }

  private load(): Promise<LiveClusterView> {
    const o = this.o;
    let view: LiveClusterView | undefined;
    return LiveClusterView.open(o.store, o.names, o.cluster, {
      trackedNodes: o.trackedNodes,
      catchUpTimeoutMs: o.catchUpTimeoutMs,
      onMalformed: o.onMalformed,
      snapshots: o.snapshots,
      snapshotPolicy: o.snapshotPolicy,
      // Only the view in use reports; a replaced one may still deliver before it is closed.
      onApplied: (events, state, sequence) => {
        if (view === undefined || view === this.view) o.onApplied?.(events, state, sequence);
      },
    }).then((v) => (view = v));
  }

  private install(view: LiveClusterView): void {
    const previous = this.view;
    this.view = view;
    this.ended = false;
    this.lagging = undefined;
    if (previous) {
      this.reloads++;
      // A replaced view (stalled or ended) may be behind: its state is not worth a snapshot.
      void previous.close({ snapshot: false }).catch(() => undefined);
    }
    this.o.onInstalled?.(view, previous);
    void view.ended?.then((end) => this.viewEnded(view, end));
  }

  /** A subscription that ends on its own (not by close or replacement) is reopened: the view must stay live. */
  private async viewEnded(view: LiveClusterView, end: unknown): Promise<void> {
    if (this.closed || this.view !== view) return;
    this.ended = true;
    this.o.onProblem?.(`view subscription ended (${JSON.stringify(end, (_k, v) => (v instanceof Error ? v.message : v))}); reopening`, 'warn');
    for (let attempt = 1; !this.closed && this.view === view; attempt++) {
      await new Promise((r) => setTimeout(r, Math.min(5000, (this.o.reopenDelayMs ?? 250) * attempt)));
      if (this.closed || this.view !== view) return;
      if (await this.replace(`reopening the view failed (attempt ${attempt})`)) return;
    }
  }

  private async watch(stallMs: number): Promise<void> {
    if (this.replacing || this.closed) return;
    let last: number;
    try {
      last = await withTimeout(this.o.store.currentVersion(this.view.subject), this.o.catchUpTimeoutMs ?? 10_000);
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
    this.o.onProblem?.(`live view stalled at sequence ${version} while the log is at ${last}: reloading it`, 'warn');
    await this.replace('reloading the live view failed');
  }

  /** Loads a fresh view and puts it in use; false (reported) if that failed. */
  private async replace(failure: string): Promise<boolean> {
    if (this.replacing) return false;
    this.replacing = true;
    try {
      const fresh = await this.load();
      if (this.closed) {
        await fresh.close();
        return true;
      }
      this.install(fresh);
      return true;
    } catch (err) {
      this.o.onProblem?.(`${failure}: ${(err as Error).message}`, 'error');
      return false;
    } finally {
      this.replacing = false;
    }
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
