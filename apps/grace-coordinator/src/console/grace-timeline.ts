import { endReasonText, type GkEvent, type NodeId } from '#contracts';

/** One grace period as the console's timeline shows it. */
export interface TimelinePeriod {
  recoveryEpoch: number;
  startedAt: string;
  /** The nodes that restarted and started it. */
  nodes: NodeId[];
  /** Nodes that restarted (or were moved) while it was in force. */
  joins: { node: NodeId; at: string }[];
  reclaimsAccepted: number;
  reclaimsRejected: number;
  /** Accepted reclaims per second of event time, oldest first, the last MAX_SECONDS seconds only. */
  reclaimsPerSecond: { second: string; count: number }[];
  endedAt?: string;
  reason?: string;
  /** Why it ended, in an operator's words. */
  why?: string;
  abandonedNodes?: NodeId[];
}

/** Grace periods kept per cluster, and seconds of reclaim rate kept per period: memory stays bounded. */
export const MAX_PERIODS = 20;
export const MAX_SECONDS = 600;

/**
 * The timeline of one cluster's grace periods, folded from the events as the coordinator's live
 * view applies them (in log order). `apply` returns the periods that changed, for the live feed.
 */
export class GraceTimeline {
  private readonly periods: TimelinePeriod[] = [];

  get all(): readonly TimelinePeriod[] {
    return this.periods;
  }

  apply(events: readonly GkEvent[]): TimelinePeriod[] {
    const changed = new Set<TimelinePeriod>();
    for (const e of events) {
      const period = this.applyOne(e);
      if (period) changed.add(period);
    }
    return [...changed];
  }

  private applyOne(e: GkEvent): TimelinePeriod | undefined {
    if (e.type === 'GraceStarted') {
      const period: TimelinePeriod = { recoveryEpoch: e.recoveryEpoch, startedAt: e.time, nodes: [...e.nodes], joins: [], reclaimsAccepted: 0, reclaimsRejected: 0, reclaimsPerSecond: [] };
      this.periods.push(period);
      if (this.periods.length > MAX_PERIODS) this.periods.shift();
      return period;
    }
    const open = this.periods.at(-1);
    if (!open || open.endedAt !== undefined) return undefined;
    switch (e.type) {
      case 'NodeJoinedGrace':
        if (e.recoveryEpoch !== open.recoveryEpoch) return undefined;
        open.joins.push({ node: e.node, at: e.time });
        return open;
      case 'ReclaimAccepted':
        if (e.recoveryEpoch !== open.recoveryEpoch) return undefined;
        open.reclaimsAccepted += e.clients.length;
        countSecond(open, e.time, e.clients.length);
        return open;
      case 'ReclaimRejected':
        open.reclaimsRejected += e.rejections.length;
        return open;
      case 'GraceEnded':
        if (e.recoveryEpoch !== open.recoveryEpoch) return undefined;
        open.endedAt = e.time;
        open.reason = e.reason;
        open.why = endReasonText(e.reason);
        open.abandonedNodes = [...e.abandonedNodes];
        return open;
      default:
        return undefined;
    }
  }
}

function countSecond(period: TimelinePeriod, time: string, count: number): void {
  const second = new Date(Math.floor(Date.parse(time) / 1000) * 1000).toISOString();
  const last = period.reclaimsPerSecond.at(-1);
  if (last?.second === second) last.count += count;
  else period.reclaimsPerSecond.push({ second, count });
  if (period.reclaimsPerSecond.length > MAX_SECONDS) period.reclaimsPerSecond.shift();
}
