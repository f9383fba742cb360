import { endReasonText, type NodeId } from '#contracts';
import { type ClusterState, type GraceSummary, summarize } from '#domain';

/** How far one recovering node is with its reclaims. */
export interface NodeProgress {
  node: NodeId;
  need: boolean;
  enforcing: boolean;
  /** Clients with a record of the recovery epoch on this node (may reclaim). */
  reclaimable: number;
  /** Of those, the ones that reclaimed (or finished with RECLAIM_COMPLETE). */
  reclaimed: number;
}

/** The cluster now, as the console shows it: the status summary, per-node progress, and the server's clock. */
export interface ClusterNow extends GraceSummary {
  version?: number;
  serverTime: string;
  progress: NodeProgress[];
  /** Why the last grace period ended, in words. */
  lastGraceEndWhy?: string;
}

export function clusterNow(state: ClusterState, version: number | undefined, now: number): ClusterNow {
  const summary = summarize(state);
  const progress = summary.members.map(({ node, need, enforcing }) => {
    const records = state.records.get(node);
    const recovery = need ? records?.recovery : undefined;
    let reclaimed = 0;
    for (const client of recovery?.keys() ?? []) {
      if (records!.current.has(client) || records!.completed.has(client)) reclaimed++;
    }
    return { node, need, enforcing, reclaimable: recovery?.size ?? 0, reclaimed };
  });
  const why = summary.lastGraceEnd ? { lastGraceEndWhy: endReasonText(summary.lastGraceEnd.reason) } : {};
  return { ...summary, version, serverTime: new Date(now).toISOString(), progress, ...why };
}
