import { endReasonText, type GkEvent, type NodeId } from '#contracts';
import { type ClusterState, membersNeeding } from '#domain';

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
  /**
   * The period was in force when this coordinator's view was loaded (from a snapshot): its start
   * was not seen, `nodes` are those still recovering then, and counts start from the state's.
   */
  joinedLate?: boolean;
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

  /**
   * Takes the grace period in force from the state when this fold did not see it start (the view
   * was loaded from a snapshot, or the coordinator started mid-period), so that its reclaims and
   * end are followed from here on. Returns the period when it was new.
   */
  adopt(state: ClusterState): TimelinePeriod | undefined {
    if (!state.grace || state.recoveryEpoch === 0) return undefined;
    if (this.periods.at(-1)?.recoveryEpoch === state.recoveryEpoch) return undefined;
    const period: TimelinePeriod = {
      recoveryEpoch: state.recoveryEpoch, startedAt: new Date(state.grace.startedAt).toISOString(), nodes: membersNeeding(state), joins: [],
      reclaimsAccepted: state.grace.reclaimsAccepted, reclaimsRejected: 0, reclaimsPerSecond: [], joinedLate: true,
    };
    this.push(period);
    return period;
  }

  private push(period: TimelinePeriod): void {
    this.periods.push(period);
    if (this.periods.length > MAX_PERIODS) this.periods.shift();
  }

  private applyOne(e: GkEvent): TimelinePeriod | undefined {
    if (e.type === 'GraceStarted') {
      const period: TimelinePeriod = { recoveryEpoch: e.recoveryEpoch, startedAt: e.time, nodes: [...e.nodes], joins: [], reclaimsAccepted: 0, reclaimsRejected: 0, reclaimsPerSecond: [] };
      this.push(period);
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
