import { type ClientId, endReasonText, type NodeId } from '#contracts';
import {
  type ClusterState, membersNotEnforcing, RECLAIM_COMPLETE_STATUS, RECLAIM_STATUS, reclaimCompleteReason, type ReclaimCompleteReason,
  reclaimReason, type ReclaimReason,
} from '#domain';

/** Kept here too for the projection's users; the text lives in #contracts. */
export { endReasonText } from '#contracts';

/** One sentence on how the last grace period ended, or undefined if none ever did. */
export function lastGraceEndText(s: ClusterState): string | undefined {
  const end = s.lastGraceEnd;
  if (!end) return undefined;
  const abandoned = end.abandonedNodes.length ? `; abandoned ${end.abandonedNodes.join(', ')}` : '';
  return `the grace period of epoch ${end.recoveryEpoch} ended at ${new Date(end.at).toISOString()} because ${endReasonText(end.reason)}${abandoned}`;
}

/**
 * Why a reclaim or RECLAIM_COMPLETE got `status`: the domain says which clause of SPEC §2's rule
 * decided on the state the decision was taken on (`reclaimReason`), and this puts it in words.
 * Used both when the registry projects a ReclaimRejected and when it answers "is X reclaimable
 * on N now?".
 */
export function explainStatus(s: ClusterState, node: NodeId, client: ClientId, status: string, op: 'reclaim' | 'reclaim_complete' = 'reclaim'): string {
  if (op === 'reclaim_complete') {
    const reason = reclaimCompleteReason(s, node, client);
    return RECLAIM_COMPLETE_STATUS[reason] === status ? reclaimCompleteReasonText(reason, node) : unexplained(status, RECLAIM_COMPLETE_STATUS[reason]);
  }
  const reason = reclaimReason(s, node, client);
  return RECLAIM_STATUS[reason] === status ? reclaimReasonText(s, reason, node, client) : unexplained(status, RECLAIM_STATUS[reason]);
}

/** One clause of the reclaim rule in an operator's words, with the facts of the state that bear on it. */
export function reclaimReasonText(s: ClusterState, reason: ReclaimReason, node: NodeId, client: ClientId): string {
  switch (reason) {
    case 'holds-record-of-R':
      return `the client holds a record of epoch ${s.recoveryEpoch} on ${node}, which is recovering, and every member enforces`;
    case 'not-all-enforcing':
      return `not every member enforces the grace period yet (${membersNotEnforcing(s).join(', ') || 'none'} lacking ENFORCING): retry later`;
    case 'no-grace':
      return `no grace period is in force${lastGraceEnd(s)}`;
    case 'already-completed':
      return `the client already sent RECLAIM_COMPLETE on ${node} in the grace period of epoch ${s.recoveryEpoch}: a later reclaim is refused`;
    case 'not-member':
      return `${node} is not a member of the cluster`;
    case 'not-recovering':
      return `${node} is not recovering in the grace period of epoch ${s.recoveryEpoch} (it did not restart, or its NEED was lifted)`;
    case 'recorded-only-in-C': {
      const epoch = s.records.get(node)?.current.get(client)?.epoch;
      return `the client holds no record of epoch ${s.recoveryEpoch} on ${node}: its record is of epoch ${epoch}, written after the grace period began`;
    }
    case 'no-record':
      return `the client holds no valid record of epoch ${s.recoveryEpoch} on ${node} (never recorded there, removed, or invalidated when an earlier grace period ended)`;
  }
}

export function reclaimCompleteReasonText(reason: ReclaimCompleteReason, node: NodeId): string {
  return reason === 'first-completion'
    ? 'first RECLAIM_COMPLETE of this client on this node'
    : `the client already sent RECLAIM_COMPLETE on ${node} since the node last started`;
}

/** A status the state at hand would not give (a log read from mid-history): say so rather than guess. */
function unexplained(status: string, wouldBe: string): string {
  return `${status} (the state this registry holds here would give ${wouldBe})`;
}

function lastGraceEnd(s: ClusterState): string {
  const text = lastGraceEndText(s);
  return text ? `: ${text}` : ' (the cluster has not restarted since the client was recorded)';
}
