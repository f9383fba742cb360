import type { GkEvent } from '#contracts';
import { type ClusterState, placementOf, type Via } from '#domain';
import { BootTracker } from './boots';
import { GraceDoneWaiter } from './grace-done-waiter';
import type { AgentLog } from './log';
import { OwnGraceClock } from './own-grace-clock';

/** A request for an identity this agent acts for no longer (or not yet): answered "retry later", never a success. */
export class Fenced extends Error {
  override readonly name = 'Fenced';
}

/**
 * One server identity this agent serves (SPEC §2, identities): its NFS server's boots, its
 * grace_done waiters, and the placement generation this agent adopted for it. The agent adopts a
 * generation when its NFS server starts serving the identity here (grace_start through this
 * host, accepted at that point of the log), or at agent start when the log already places the
 * identity here (the agent restarted beside a running server). A move away, or away and back,
 * leaves the adopted generation behind: every request for the identity is fenced until the NFS
 * server starts serving it here again.
 */
export class IdentitySeat {
  readonly boots: BootTracker;
  readonly waiter: GraceDoneWaiter;
  /** The identity's own grace on the monotonic clock (I7, `first-exit`). */
  readonly ownGrace: OwnGraceClock;
  generation: number | undefined;

  constructor(readonly identity: string, private readonly host: string, state: () => ClusterState, lift: (seat: IdentitySeat, causation: string) => Promise<unknown>, log: AgentLog, mono?: () => number) {
    this.boots = new BootTracker(identity);
    this.ownGrace = new OwnGraceClock(identity, mono);
    this.waiter = new GraceDoneWaiter({ node: identity, state, lift: (causation) => lift(this, causation), log });
    const placement = placementOf(state(), identity);
    if (placement.host === host) this.generation = placement.generation;
  }

  /** Whether the log, as this view has it, still places the identity here at the adopted generation. */
  servedHere(state: ClusterState): boolean {
    const placement = placementOf(state, this.identity);
    return placement.host === this.host && placement.generation === this.generation;
  }

  /** The placement this agent acts under; a fenced seat throws, without asking the store. */
  via(state: ClusterState): Via {
    if (this.generation === undefined || !this.servedHere(state)) {
      const placement = placementOf(state, this.identity);
      throw new Fenced(`fenced: identity ${this.identity} is served by host ${placement.host} at placement generation ${placement.generation}` +
        `; this host ${this.host} ${this.generation === undefined ? 'has not started serving it' : `served it at generation ${this.generation}`}`);
    }
    return { host: this.host, generation: this.generation };
  }

  applied(events: readonly GkEvent[], state: ClusterState): void {
    this.boots.observe(events);
    this.ownGrace.observe(state);
    this.waiter.applied(state);
  }
}
