import type { GkEvent } from '#contracts';
import type { ClusterState } from '#domain';

const BOOT_CAUSATION = /^nfsd-boot:(\d+)$/;

/** The causation stamped on a grace_start that carried the NFS server's boot time. */
export const bootCausation = (graceStart: number) => `nfsd-boot:${graceStart}`;

/**
 * Which NFS server boot this node's grace state belongs to. nfsdcltrack's `init` runs once per
 * nfsd start with that start's time; a second `init` with the same time is not a restart (it
 * must not make clients reclaim again). The boot is learnt from this agent's own requests and
 * from the causation of the node's GraceStarted / NodeJoinedGrace events as they are applied.
 */
export class BootTracker {
  private lastBoot: number | undefined;

  constructor(private readonly node: string) {}

  remember(graceStart: number): void {
    this.lastBoot = graceStart;
  }

  observe(events: readonly GkEvent[]): void {
    for (const e of events) {
      const started = (e.type === 'GraceStarted' && e.nodes.includes(this.node)) || (e.type === 'NodeJoinedGrace' && e.node === this.node);
      if (!started) continue;
      const boot = BOOT_CAUSATION.exec(e.causation ?? '');
      this.lastBoot = boot ? Number(boot[1]) : undefined;
    }
  }

  /**
   * True when `graceStart` is the boot whose start is already recorded. After an agent restart
   * the causation is not known; then a boot time (seconds) not after the node's last recorded
   * start means that start was this boot's.
   */
  isSameBoot(graceStart: number, state: ClusterState): boolean {
    if (this.lastBoot !== undefined) return this.lastBoot === graceStart;
    const startedAt = state.members.get(this.node)?.graceStartedAt;
    return startedAt !== undefined && graceStart * 1000 <= startedAt;
  }
}
