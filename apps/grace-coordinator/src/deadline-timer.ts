import { graceDeadline } from '#domain';
import type { ClusterState } from '#domain';

/** The two clocks the coordinator reads; injectable so the rules below can be tested without waiting. */
export interface Clocks {
  /** Wall clock, ms since the epoch (event times are on this scale). */
  wall(): number;
  /** Monotonic clock, ms (never steps; what timers run on). */
  mono(): number;
}

export const systemClocks: Clocks = { wall: () => Date.now(), mono: () => performance.now() };

/**
 * Where, on the monotonic clock, the deadline of the grace period in force is reached.
 *
 * I7 says a clock may only make grace end later. The deadline is an instant derived from event
 * times (written by other machines' clocks), so some wall clock must be read once to turn it into
 * a wait; after that only the monotonic clock counts, so a later jump of the local wall clock can
 * no longer bring the end forward. When the coordinator saw the event that set the deadline as it
 * happened (`observedEventTime`), the wait is also at least the deadline's distance from that
 * event's own time, measured from the moment it was seen: a local clock running fast then cannot
 * shorten the wait either. The later of the two wins.
 */
export function monotonicTarget(deadline: number, clocks: Clocks, observedEventTime?: number): number {
  const now = clocks.mono();
  const byWall = deadline - clocks.wall();
  const byEvent = observedEventTime === undefined ? -Infinity : deadline - observedEventTime;
  return now + Math.max(0, byWall, byEvent);
}

/** What one attempt to end grace at its deadline came to. */
export type ExpireOutcome =
  | 'ended'          // this replica appended GraceEnded
  | 'not-in-grace'   // already ended (by another replica, a lift, a remove, an admin)
  | 'not-yet'        // the local wall clock says the deadline has not passed (it went back): wait more
  | 'wait-policy'    // deadlinePolicy wait and a member still needs grace: wait for a change
  | 'error';         // the store failed: retry shortly

export interface DeadlineTimerOptions {
  clocks?: Clocks;
  /** The cluster's current state (the live view's). */
  state(): ClusterState | undefined;
  /** Tries `expire` with the given wall-clock time. */
  expire(now: number): Promise<ExpireOutcome>;
  /** For logs and metrics. */
  onOutcome?(outcome: ExpireOutcome, deadline: number): void;
  /** Timers longer than this are re-armed in steps (Node timers overflow past 2^31 ms). */
  maxTimerMs?: number;
  /** Pause before trying again after a store error. */
  retryMs?: number;
}

/**
 * Ends the grace period in force at its deadline: told about every change of the cluster's state
 * (`observe`), it keeps one timer armed for the deadline and tries `expire` when it fires. Several
 * replicas may do this at once: appends are checked against the log's last sequence, so only one
 * `GraceEnded` can be stored and the others' attempts come back `not-in-grace`.
 */
export class DeadlineTimer {
  private readonly clocks: Clocks;
  private deadline?: number;
  private target?: number;
  private timer?: NodeJS.Timeout;
  private firing = false;
  private rearmAfterFiring = false;
  private waitingOnPolicy = false;
  private closed = false;

  constructor(private readonly options: DeadlineTimerOptions) {
    this.clocks = options.clocks ?? systemClocks;
  }

  /**
   * The state changed (or was loaded). `observedEventTime` is the time of the event just applied
   * when it was seen live, undefined for a state loaded from the log.
   */
  observe(observedEventTime?: number): void {
    if (this.closed) return;
    const state = this.options.state();
    const deadline = state ? graceDeadline(state) : undefined;
    if (deadline !== this.deadline) {
      this.deadline = deadline;
      this.target = deadline === undefined ? undefined : monotonicTarget(deadline, this.clocks, observedEventTime);
      this.waitingOnPolicy = false;
    } else if (this.waitingOnPolicy) {
      // Something changed (a lift, a configure to `abandon`): the deadline has passed, look again.
      this.waitingOnPolicy = false;
    }
    this.arm();
  }

  /** Milliseconds until the next attempt, or undefined when none is planned (for status and tests). */
  get nextAttemptInMs(): number | undefined {
    if (this.target === undefined || this.waitingOnPolicy) return undefined;
    return Math.max(0, this.target - this.clocks.mono());
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed || this.target === undefined || this.waitingOnPolicy) return;
    if (this.firing) {
      this.rearmAfterFiring = true;
      return;
    }
    const wait = this.target - this.clocks.mono();
    const step = Math.min(Math.max(0, wait), this.options.maxTimerMs ?? 60_000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.target !== undefined && this.clocks.mono() < this.target) this.arm();
      else void this.fire();
    }, step);
  }

  private async fire(): Promise<void> {
    const deadline = this.deadline;
    if (this.closed || deadline === undefined) return;
    this.firing = true;
    let outcome: ExpireOutcome;
    try {
      outcome = await this.options.expire(this.clocks.wall());
    } catch {
      outcome = 'error';
    }
    this.firing = false;
    if (this.closed) return;
    this.options.onOutcome?.(outcome, deadline);
    if (deadline === this.deadline) {
      if (outcome === 'not-yet') {
        // The wall clock is behind the deadline: wait what it says is left (only ever later).
        this.target = this.clocks.mono() + Math.max(50, deadline - this.clocks.wall());
      } else if (outcome === 'error') {
        this.target = this.clocks.mono() + (this.options.retryMs ?? 1000);
      } else if (outcome === 'wait-policy') {
        this.waitingOnPolicy = !this.rearmAfterFiring;
      } else {
        // Ended, yet the view still shows this deadline: it has not applied the end yet. Look
        // again shortly rather than spin.
        this.target = this.clocks.mono() + (this.options.retryMs ?? 1000);
      }
    }
    this.rearmAfterFiring = false;
    this.arm();
  }
}
