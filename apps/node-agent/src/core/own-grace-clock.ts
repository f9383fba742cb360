import { type ClusterState, type OwnGraceMeasure, ownGraceBegan } from '#domain';

/**
 * Measures this node's own grace period on the monotonic clock (I7, `first-exit`): the domain
 * compares `graceTimeMs` with the time since the agent first saw the node's current grace start,
 * not with the distance between the agent's wall clock and an event time. A grace start seen only
 * when the view was loaded (an agent restarted mid-grace) is measured from then: later, never
 * earlier, which is the only way I7 lets a clock move the end.
 */
export class OwnGraceClock {
  private seen?: { began: number; at: number };

  constructor(
    private readonly node: string,
    /** Monotonic milliseconds (performance.now in production). */
    private readonly mono: () => number = () => performance.now(),
  ) {}

  /** Called with every state the agent sees (each applied decision, and before each grant). */
  observe(state: ClusterState): void {
    const began = ownGraceBegan(state, this.node);
    if (began === undefined) this.seen = undefined;
    else if (this.seen?.began !== began) this.seen = { began, at: this.mono() };
  }

  /** The measure to send with `mayGrant`; undefined outside grace. */
  measure(state: ClusterState): OwnGraceMeasure | undefined {
    this.observe(state);
    return this.seen && { began: this.seen.began, elapsedMs: this.mono() - this.seen.at };
  }
}
