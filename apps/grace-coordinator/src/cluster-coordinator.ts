import type { GkEvent, StreamNames } from '#contracts';
import type { Command, ClusterState } from '#domain';
import { CommandResult, ExecuteMeta, GraceEventStore, LiveClusterView, Snapshots, ViewSupervisor } from '#cluster-store';
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
  /** Load from the latest trusted snapshot and write new ones (periodically and on close). */
  snapshots?: Snapshots;
}

/** The view is being (re)opened; the caller should retry. */
export class ViewUnavailable extends Error {
  override readonly name = 'ViewUnavailable';
}

/**
 * One cluster served by this coordinator: a live view of its aggregate (kept current by a
 * JetStream subscription and reopened by its supervisor, decisions appended with optimistic
 * concurrency) and the timer that ends its grace periods at their deadline.
 */
export class ClusterCoordinator {
  private views?: ViewSupervisor;
  private closed = false;
  readonly timer: DeadlineTimer;
  private readonly clocks: Clocks;

  private constructor(
    readonly cluster: string,
    private readonly options: ClusterCoordinatorOptions,
  ) {
    this.clocks = options.clocks ?? systemClocks;
    this.timer = new DeadlineTimer({
      clocks: this.clocks,
      state: () => this.state,
      expire: (now) => this.expire(now),
      onOutcome: (outcome, deadline) => options.observer?.deadline?.(cluster, outcome, deadline),
    });
  }

  static async open(store: GraceEventStore, names: StreamNames, cluster: string, options: ClusterCoordinatorOptions): Promise<ClusterCoordinator> {
    const c = new ClusterCoordinator(cluster, options);
    c.views = await ViewSupervisor.open({
      store,
      names,
      cluster,
      reopenDelayMs: options.reopenDelayMs,
      snapshots: options.snapshots,
      onApplied: (events, state) => {
        options.observer?.applied?.(cluster, events, state);
        // All events of a decision carry the same time: when it was decided.
        c.timer.observe(events.length > 0 ? Date.parse(events[0]!.time) : undefined);
      },
      onMalformed: (m) => options.observer?.problem?.(cluster, `skipped malformed message at sequence ${m.sequence}: ${m.error.message}`),
      // A reopened view: its state may hold a grace period the timer has not seen.
      onInstalled: (_view, previous) => {
        if (previous) c.timer.observe();
      },
      onProblem: (message) => options.observer?.problem?.(cluster, message),
    });
    c.timer.observe();
    return c;
  }

  get actor(): string {
    return `coordinator:${this.options.replica}`;
  }

  /** The live state, or undefined while the view is being reopened. */
  get state(): ClusterState | undefined {
    return this.liveView?.state;
  }

  get version(): number | undefined {
    return this.liveView?.version;
  }

  get ready(): boolean {
    return this.liveView !== undefined;
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
    await this.views?.close();
  }

  /** One attempt to end the grace period in force because its deadline passed. */
  private async expire(now: number): Promise<ExpireOutcome> {
    const state = this.state;
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

  private get liveView(): LiveClusterView | undefined {
    return this.views?.live && !this.closed ? this.views.view : undefined;
  }

  private requireView(): LiveClusterView {
    const view = this.liveView;
    if (!view) throw new ViewUnavailable(`the view of cluster ${this.cluster} is not open (reconnecting); retry`);
    return view;
  }
}
