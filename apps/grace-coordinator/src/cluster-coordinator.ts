import type { GkEvent, StreamNames } from '#contracts';
import type { Command, ClusterState } from '#domain';
import { ExecuteMeta, CommandResult, GraceEventStore, LiveClusterView } from '#cluster-store';
import { Clocks, DeadlineTimer, ExpireOutcome, systemClocks } from './deadline-timer';

export interface CoordinatorObserver {
  /** A decision stored by anyone was applied to this coordinator's view (live, in log order). */
  applied?(cluster: string, events: GkEvent[], state: ClusterState): void;
  /** An attempt to end grace at its deadline. */
  deadline?(cluster: string, outcome: ExpireOutcome, deadline: number): void;
  /** Something went wrong that an operator should see in the log. */
  problem?(cluster: string, message: string): void;
}

export interface ClusterCoordinatorOptions {
  /** This replica's name, in the actor of the events it writes (`coordinator:<replica>`). */
  replica: string;
  clocks?: Clocks;
  observer?: CoordinatorObserver;
  /** Pause before reopening a view whose subscription failed. */
  reopenDelayMs?: number;
}

/** The view is being (re)opened; the caller should retry. */
export class ViewUnavailable extends Error {
  override readonly name = 'ViewUnavailable';
}

/**
 * One cluster served by this coordinator: a live view of its aggregate (kept current by a
 * JetStream subscription, decisions appended with optimistic concurrency) and the timer that
 * ends its grace periods at their deadline.
 */
export class ClusterCoordinator {
  private view?: LiveClusterView;
  private closed = false;
  readonly timer: DeadlineTimer;
  private readonly clocks: Clocks;

  private constructor(
    private readonly store: GraceEventStore,
    private readonly names: StreamNames,
    readonly cluster: string,
    private readonly options: ClusterCoordinatorOptions,
  ) {
    this.clocks = options.clocks ?? systemClocks;
    this.timer = new DeadlineTimer({
      clocks: this.clocks,
      state: () => this.view?.state,
      expire: (now) => this.expire(now),
      onOutcome: (outcome, deadline) => options.observer?.deadline?.(cluster, outcome, deadline),
    });
  }

  static async open(store: GraceEventStore, names: StreamNames, cluster: string, options: ClusterCoordinatorOptions): Promise<ClusterCoordinator> {
    const c = new ClusterCoordinator(store, names, cluster, options);
    await c.openView();
    return c;
  }

  get actor(): string {
    return `coordinator:${this.options.replica}`;
  }

  /** The live state, or undefined while the view is being reopened. */
  get state(): ClusterState | undefined {
    return this.view?.state;
  }

  get version(): number | undefined {
    return this.view?.version;
  }

  get ready(): boolean {
    return this.view !== undefined && !this.closed;
  }

  /** The state as the log holds it now (one round trip), for reads that must see every write. */
  async read(): Promise<ClusterState> {
    const view = this.requireView();
    await view.catchUp();
    return view.state;
  }

  /** Decides on the live view and appends with optimistic concurrency (see LiveClusterView). */
  execute(command: Command, meta: ExecuteMeta): Promise<CommandResult> {
    return this.requireView().execute(command, meta);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.timer.close();
    await this.view?.close();
  }

  /** One attempt to end the grace period in force because its deadline passed. */
  private async expire(now: number): Promise<ExpireOutcome> {
    const state = this.view?.state;
    if (!state) return 'error';
    const result = await this.execute({ type: 'expire', now }, {
      actor: this.actor,
      causation: `deadline:${this.cluster}:${state.recoveryEpoch}`,
      now: this.clocks.wall,
    });
    if (result.ok) return 'ended';
    switch (result.rejection.code) {
      case 'NOT_YET': return 'not-yet';
      case 'WAIT_POLICY': return 'wait-policy';
      case 'NOT_IN_GRACE': return 'not-in-grace';
      default:
        this.options.observer?.problem?.(this.cluster, `expire refused: ${result.rejection.code}: ${result.rejection.message}`);
        return 'error';
    }
  }

  private requireView(): LiveClusterView {
    if (!this.view || this.closed) throw new ViewUnavailable(`the view of cluster ${this.cluster} is not open (reconnecting); retry`);
    return this.view;
  }

  private async openView(): Promise<void> {
    const view = await LiveClusterView.open(this.store, this.names, this.cluster, {
      onApplied: (events, state) => {
        this.options.observer?.applied?.(this.cluster, events, state);
        // All events of a decision carry the same time: when it was decided.
        this.timer.observe(events.length > 0 ? Date.parse(events[0]!.time) : undefined);
      },
      onMalformed: (m) => this.options.observer?.problem?.(this.cluster, `skipped malformed message at sequence ${m.sequence}: ${m.error.message}`),
    });
    this.view = view;
    this.timer.observe();
    void view.ended?.then((end) => this.viewEnded(view, end));
  }

  /** A subscription that ends on its own (not by close) is reopened: the view must stay live. */
  private async viewEnded(view: LiveClusterView, end: unknown): Promise<void> {
    if (this.closed || this.view !== view) return;
    this.view = undefined;
    this.options.observer?.problem?.(this.cluster, `view subscription ended (${JSON.stringify(end, (_k, v) => (v instanceof Error ? v.message : v))}); reopening`);
    for (let attempt = 1; !this.closed; attempt++) {
      await new Promise((r) => setTimeout(r, Math.min(5000, (this.options.reopenDelayMs ?? 250) * attempt)));
      if (this.closed) return;
      try {
        await this.openView();
        return;
      } catch (err) {
        this.options.observer?.problem?.(this.cluster, `reopening the view failed (attempt ${attempt}): ${(err as Error).message}`);
      }
    }
  }
}
