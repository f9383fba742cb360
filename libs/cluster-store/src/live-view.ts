import { GkEvent, StreamNames, subjects } from '#contracts';
import { MalformedMessage, STALE_APPEND, StateSource, Subscription } from '#event-store';
import { ClusterState, Command, evolve } from '#domain';
import type { GraceEventStore } from './connect';
import { CommandResult, executeCommands, ExecuteMeta } from './execute';
import { loadCluster } from './one-shot';
import { SnapshotPolicy, SnapshotWriter } from './snapshot-writer';
import type { Snapshots } from './snapshots';

export interface LiveViewOptions {
  trackedNodes?: string[];
  /** Called after each stored decision is applied, in log order. */
  onApplied?: (events: GkEvent[], state: ClusterState, sequence: number) => void;
  /** Where malformed messages on the subject are reported (they are skipped, never fatal). */
  onMalformed?: (m: MalformedMessage) => void;
  /** How long to wait for the view to reach a sequence the log is known to have. */
  catchUpTimeoutMs?: number;
  /** Load from the latest trusted snapshot, and write new ones by `snapshotPolicy` and on close. */
  snapshots?: Snapshots;
  snapshotPolicy?: SnapshotPolicy;
}

/**
 * A process's live copy of one cluster aggregate: loaded once, then kept current by an ordered
 * consumer on the cluster's subject, which is the only thing that ever applies events to it.
 * Decisions are taken on it and appended with its version as the expectation, so a stale view
 * loses the race, catches up and decides again; it never answers from a state the log has left.
 */
export class LiveClusterView {
  state!: ClusterState;
  version = 0;
  private subscription?: Subscription;
  private snapshotWriter?: SnapshotWriter;
  /** The version the initial load's snapshot had (0: it replayed the whole log). */
  loadedFromSnapshot = 0;
  /** The version the initial load reached: later messages are all judged by the subscription. */
  private loadedVersion = 0;
  private waiters: { sequence: number; resolve: () => void }[] = [];
  /** Recent sequences its subscription judged stale appends (chain.ts): what its verdicts are made of. */
  private readonly refused = new Set<number>();
  readonly subject: string;

  private constructor(
    readonly store: GraceEventStore,
    readonly names: StreamNames,
    readonly cluster: string,
    private readonly options: LiveViewOptions,
  ) {
    this.subject = subjects.cluster(names, cluster);
  }

  static async open(store: GraceEventStore, names: StreamNames, cluster: string, options: LiveViewOptions = {}): Promise<LiveClusterView> {
    const view = new LiveClusterView(store, names, cluster, options);
    const loaded = await loadCluster(store, names, cluster, { trackedNodes: options.trackedNodes, snapshots: options.snapshots });
    view.state = loaded.state;
    view.version = loaded.version;
    view.loadedFromSnapshot = loaded.fromSnapshot;
    view.loadedVersion = loaded.version;
    if (options.snapshots) view.snapshotWriter = new SnapshotWriter(options.snapshots, cluster, options.trackedNodes, loaded.fromSnapshot, options.snapshotPolicy ?? options.snapshots.policy);
    view.subscription = await store.subscribe(view.subject, { fromSequence: loaded.version + 1 }, (stored) => view.apply(stored.message.events, stored.sequence), {
      // A malformed message is reported and skipped, but it still moved the subject's version.
      onMalformed: (m) => {
        options.onMalformed?.(m);
        if (m.error.kind === STALE_APPEND) view.remember(m.sequence);
        view.apply([], m.sequence);
      },
    });
    return view;
  }

  /** Resolves once the view has applied the subject's message at `sequence` (or a later one). */
  waitFor(sequence: number, timeoutMs = this.options.catchUpTimeoutMs ?? 10_000): Promise<void> {
    if (this.version >= sequence) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`view of ${this.cluster} did not reach sequence ${sequence} within ${timeoutMs} ms (at ${this.version})`));
      }, timeoutMs);
      const done = () => { clearTimeout(timer); resolve(); };
      this.waiters.push({ sequence, resolve: done });
    });
  }

  /** Brings the view up to what the log holds right now (one round trip, then the consumer). */
  async catchUp(): Promise<void> {
    await this.waitFor(await this.store.currentVersion(this.subject));
  }

  /**
   * Decides `command` on the view and appends it with the view's version as the expectation. On a
   * conflict the view catches up and decides again. Returns once the decision is stored and the
   * view has applied it, so the caller's next request sees its own write.
   */
  async execute(command: Command, meta: ExecuteMeta, maxAttempts = 100): Promise<CommandResult> {
    const [only] = await this.executeMany([command], meta, maxAttempts);
    return only;
  }

  /**
   * Several commands decided on the same state and stored as one decision (one message, one
   * expectation). Only for commands that do not depend on each other (the group committer
   * guarantees it: no client appears in two of them); each gets its own result.
   */
  executeMany(commands: Command[], meta: ExecuteMeta, maxAttempts = 100): Promise<CommandResult[]> {
    // No pause after a lost race: waiting for the view to apply the winner's message is the pause.
    // untilKnown: a service answers a decision it offered with its real outcome, never "retry
    // later" while the decision may still stand (issue 10 item 6; requests not yet offered are
    // withdrawn by their deadline in the group committer instead).
    return executeCommands(this.store, this.subject, this.cluster, this.source, commands, meta, { maxAttempts, maxBackoffMs: 0, untilKnown: true });
  }

  /** The view as the command handler's state source: its state at once, catching up by waiting. */
  private readonly source: StateSource<ClusterState> = {
    current: () => ({ state: this.state, version: this.version }),
    catchUp: (version) => (version === undefined ? this.catchUp() : this.waitFor(version)),
    // The subscription judges every message after the load by the reader rule, and the caller
    // waits for the view to apply its own message anyway: the append needs no lookups of its own.
    verdict: async (sequence) => {
      if (sequence <= this.loadedVersion) return undefined;
      await this.waitFor(sequence);
      return !this.refused.has(sequence);
    },
  };

  private remember(staleSequence: number): void {
    this.refused.add(staleSequence);
    if (this.refused.size > 1024) this.refused.delete(this.refused.values().next().value!);
  }

  /** Stops the subscription; with snapshots, a clean close also writes one at the view's version. */
  async close(options: { snapshot?: boolean } = {}): Promise<void> {
    await this.subscription?.stop();
    if (options.snapshot ?? true) await this.snapshotWriter?.flush(this.state, this.version);
  }

  /** Why the subscription ended, if it did (for health checks). */
  get ended(): Promise<unknown> | undefined {
    return this.subscription?.done;
  }

  private apply(events: GkEvent[], sequence: number): void {
    if (sequence <= this.version) return; // already folded in by the initial load
    for (const e of events) evolve(this.state, e);
    this.version = sequence;
    this.options.onApplied?.(events, this.state, sequence);
    this.snapshotWriter?.applied(this.state, sequence);
    if (this.waiters.length) {
      const ready = this.waiters.filter((w) => w.sequence <= sequence);
      this.waiters = this.waiters.filter((w) => w.sequence > sequence);
      for (const w of ready) w.resolve();
    }
  }
}
