import { type ClusterState, liftTakesEffect } from '#domain';
import { AgentLog, errorText } from './log';

export interface GraceDoneWaiterOptions {
  node: string;
  /** The agent's current view of the cluster. */
  state: () => ClusterState;
  /** Appends `lift [node]` within the request deadline; rejects when the store failed it. */
  lift: (causation: string) => Promise<unknown>;
  log: AgentLog;
  /** Back-off after a failed lift (the store is unreachable), before the next try. */
  retryAfterFailureMs?: number;
}

/**
 * The grace_done waiters: each waits until the grace period it was asked in has ended (so nfsd
 * leaves grace no earlier than the cluster). While any wait, this node's NEED must be lifted;
 * a lift that changed nothing (SPEC §2: some member did not enforce yet) is tried again as soon
 * as the view shows the lift rule would now take effect, and one the store failed is tried again
 * after a back-off.
 */
export class GraceDoneWaiter {
  private waiters: { recoveryEpoch: number; resolve: () => void }[] = [];
  private liftInFlight = false;

  constructor(private readonly options: GraceDoneWaiterOptions) {}

  /** A promise that resolves once the grace period `recoveryEpoch` is no longer in force. */
  wait(recoveryEpoch: number): Promise<void> {
    return new Promise<void>((resolve) => this.waiters.push({ recoveryEpoch, resolve }));
  }

  /** Fed by the live view after each stored decision is applied, in log order. */
  applied(state: ClusterState): void {
    if (!this.waiters.length) return;
    const ended = this.waiters.filter((w) => state.recoveryEpoch !== w.recoveryEpoch);
    this.waiters = this.waiters.filter((w) => state.recoveryEpoch === w.recoveryEpoch);
    for (const w of ended) w.resolve();
    if (this.waiters.length && liftTakesEffect(state, this.options.node)) void this.retryLift();
  }

  /** Lifts this node's NEED until it is lifted, no one waits any more, or the lift rule blocks it. */
  async retryLift(): Promise<void> {
    if (this.liftInFlight) return;
    this.liftInFlight = true;
    try {
      while (this.waiters.length && this.options.state().members.get(this.options.node)?.need) {
        try {
          await this.options.lift('grace_done retry');
          // Blocked by the lift rule: applied() calls again once the view shows it would take effect.
          if (!liftTakesEffect(this.options.state(), this.options.node)) return;
        } catch (err) {
          this.options.log.warn(`grace_done: lift retry failed: ${errorText(err)}`);
          await new Promise((r) => setTimeout(r, this.options.retryAfterFailureMs ?? 500));
        }
      }
    } finally {
      this.liftInFlight = false;
    }
  }
}
